/* Private to xmpp/form*.c: the data-forms model's structs and the helpers the parts of the
 * module share (form.c the model, form_render.c, form_parse.c, form_error.c, form_check.c).
 * Nothing outside xmpp/form*.c includes this; everyone else uses form.h and its siblings.
 * Ownership: a form owns its fields, columns, cells and every string in them. */
#ifndef IMD_FORM_INTERNAL_H
#define IMD_FORM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "xmpp/form.h"
#include "xmpp/form_error.h"

/* A text in both languages, owned (either may be NULL). */
struct otext {
    char *en, *ko;
};

struct strv {
    char **v;
    size_t n, cap;
};

struct form_option {
    char *value;
    struct otext label;
};

struct form_field {
    char *var;
    enum field_type type;
    struct otext label, desc, fixed;
    bool required, open;
    struct strv values;
    struct form_option *options;
    size_t n_options;
    enum form_datatype dt;
    bool has_min, has_max;
    long long min, max;
};

struct form_column {
    char *var;
    enum field_type type;
    struct otext label;
    struct form_option *shown; /* value labels for people (form_column_value_label) */
    size_t n_shown;
};

struct form {
    enum form_kind kind;
    char *form_type;
    struct otext title;
    struct otext *instr;
    size_t n_instr;
    form_field_t **fields;
    size_t n_fields;
    struct form_column *cols;
    size_t n_cols;
    char **cells; /* n_rows * n_cols, row-major; NULL cells allowed */
    size_t n_rows;
};

/* The wire names of enum form_kind ("form", "submit", ...). */
extern const char *const form_kind_names[4];

/* ---- helpers (form.c) ---- */

char *form_strdup_or_null(const char *s);
/* The setters copy `t` (NULL clears); form_otext_get borrows. */
void form_otext_set(struct otext *o, const struct text *t);
void form_otext_copy(struct otext *dst, const struct otext *src);
void form_otext_free(struct otext *o);
const char *form_otext_get(const struct otext *o, const char *lang);
/* Appends `str`, which the vector takes. */
void form_strv_push(struct strv *s, char *str);
void form_strv_clear(struct strv *s);
/* Appends copies of the strings of `src`. */
void form_strv_copy(struct strv *dst, const struct strv *src);
/* A decimal long long, the whole string, no leading space. */
bool form_parse_ll(const char *s, long long *out);
/* Appends a field without looking for an existing var (the parser keeps duplicates so that the
 * check can name them). Owned by `form`. */
form_field_t *form_append_field(form_t *form, const char *var, enum field_type type);
/* Frees a field that is not in a form (or that its form no longer lists). */
void form_field_free(form_field_t *f);

/* ---- errors (form_error.c) ---- */

/* Appends an error about `var` (may be NULL: the whole form) quoting `value` (may be NULL,
 * shortened); returns it, owned by `errs`, for the caller to fill in the range or the
 * expected FORM_TYPE. */
struct form_error *form_add_error(struct form_errors *errs, const char *var, enum form_err code,
                                  const char *value);

#endif
