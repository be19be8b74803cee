/* Why a received form, or one of its fields, was refused (form_parse.h, form_check.h), and the
 * sentences that say so in English or Korean. */
#ifndef IMD_FORM_ERROR_H
#define IMD_FORM_ERROR_H

#include <stdbool.h>
#include <stddef.h>

#include "xmpp/form.h"

enum form_err {
    FORM_ERR_NONE,
    FORM_ERR_NOT_A_FORM, /* not a jabber:x:data <x/> */
    FORM_ERR_KIND,       /* type is not 'submit' */
    FORM_ERR_FORM_TYPE,  /* FORM_TYPE differs from the shown form's */
    FORM_ERR_TOO_BIG,    /* over one of the FORM_MAX_* limits */
    FORM_ERR_DUPLICATE,  /* the field appears twice */
    FORM_ERR_MISSING,    /* required and empty */
    FORM_ERR_MULTIPLE,   /* several values for a single-value field */
    FORM_ERR_BOOLEAN,
    FORM_ERR_INTEGER,
    FORM_ERR_RANGE,
    FORM_ERR_DATE,
    FORM_ERR_DATETIME,
    FORM_ERR_JID,
    FORM_ERR_OPTION, /* not among the options of a list field */
};

struct form_error {
    char *var; /* owned; NULL when about the whole form */
    enum form_err code;
    char *value; /* owned, may be NULL: the offending value (shortened) */
    bool has_min, has_max;
    long long min, max; /* FORM_ERR_RANGE */
    char *expected;     /* owned, may be NULL: the FORM_TYPE expected */
};

/* A list of errors; zero-initialise (`struct form_errors e = {0};`), free with
 * form_errors_clear. */
struct form_errors {
    struct form_error *v;
    size_t n;
};
void form_errors_clear(struct form_errors *errs);
/* One sentence per error, joined with "; ", naming each field by var and by its label in
 * `shown` (may be NULL) and saying why, in `lang`. The caller frees the result (free). */
char *form_errors_text(const struct form_errors *errs, const form_t *shown, const char *lang);

/* True when one of `errs` is about the request's shape (not a form, wrong type or FORM_TYPE,
 * too big, a field given twice) rather than about a value a person entered. */
bool form_errors_malformed(const struct form_errors *errs);
/* For people: one sentence per error, "Label [var]: reason", joined with "; ", in `lang`;
 * `shown` (may be NULL) gives the labels. The caller frees the result. */
char *form_errors_text_people(const struct form_errors *errs, const form_t *shown,
                              const char *lang);
/* "Label [var]: why" for the field `var` of `shown` (either may be NULL: then just what is
 * there). The caller frees the result. */
char *form_field_problem(const form_t *shown, const char *var, const char *why, const char *lang);

#endif
