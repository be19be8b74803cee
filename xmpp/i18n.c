/* Language choice for the two languages imdomaind speaks. */
#include "xmpp/i18n.h"

#include <stddef.h>
#include <strings.h>

bool i18n_is_korean(const char *lang)
{
    if (lang == NULL || strncasecmp(lang, "ko", 2) != 0)
        return false;
    /* "ko", "ko-KR", "ko-Kore-KR"; '_' too, for POSIX-style tags some tools send. */
    return lang[2] == '\0' || lang[2] == '-' || lang[2] == '_';
}

const char *i18n_tag(const char *lang)
{
    return i18n_is_korean(lang) ? "ko" : "en";
}

const char *i18n_s(unsigned long long n)
{
    return n == 1 ? "" : "s";
}

const char *text_get(const struct text *t, const char *lang)
{
    if (t == NULL)
        return NULL;
    if (t->ko != NULL && i18n_is_korean(lang))
        return t->ko;
    return t->en;
}
