/* English and Korean texts for labels, instructions, notes and errors, chosen by xml:lang:
 * "ko" and "ko-*" (any case) get Korean, anything else English. */
#ifndef IMD_I18N_H
#define IMD_I18N_H

#include <stdbool.h>

/* A text in both languages; usually a static constant, so both pointers are borrowed. `ko`
 * may be NULL (English is used then); `en` should never be NULL. */
struct text {
    const char *en;
    const char *ko;
};

/* True when `lang` (an xml:lang value, may be NULL) asks for Korean. */
bool i18n_is_korean(const char *lang);

/* The language tag replies carry for `lang`: "ko" or "en" (static). */
const char *i18n_tag(const char *lang);

/* English plurals: "" for 1, "s" otherwise ("%zu domain%s"). Korean counts need none. */
const char *i18n_s(unsigned long long n);

/* The text of `t` in `lang`; English when `t` has no Korean or `lang` is not Korean. NULL when
 * `t` is NULL. Borrowed from `t`. */
const char *text_get(const struct text *t, const char *lang);

#endif
