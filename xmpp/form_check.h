/* A submission checked against the form that was shown, and that form shown again with what
 * was entered. */
#ifndef IMD_FORM_CHECK_H
#define IMD_FORM_CHECK_H

#include "xmpp/form.h"
#include "xmpp/form_error.h"

/* Checks a submission against the form that was shown: type 'submit' (or none), FORM_TYPE
 * (a missing one is accepted), and per declared field: duplicates, required, single value,
 * boolean, XEP-0122 datatype and range, JIDs, list options. Undeclared fields are ignored;
 * hidden fields, and fields the submission leaves out, keep the shown values. Returns a new SUBMIT
 * form holding every declared input field with its normalised values, or NULL with one error per
 * failing field in `errs`. */
form_t *form_check(const form_t *shown, const form_t *submitted, struct form_errors *errs);

/* A copy of `shown` whose input fields carry the values of `values` (a checked submission)
 * where it has any: re-showing a stage with what the user entered. */
form_t *form_prefill(const form_t *shown, const form_t *values);

#endif
