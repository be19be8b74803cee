/* Shared by the unit tests of xmpp/form*.c (form_fixture.c). Every returned form, stanza and
 * string is the caller's to free. */
#ifndef IMD_TEST_FORM_FIXTURE_H
#define IMD_TEST_FORM_FIXTURE_H

#include <stddef.h>
#include <strophe.h>

#include "xmpp/form.h"
#include "xmpp/i18n.h"

extern const struct text T_TITLE, T_DOMAIN, T_DAYS;

/* A submitted field with one value, and the one required field of the sample form. */
#define F(var, v) "<field var='" var "'><value>" v "</value></field>"
#define OK_DOMAIN F("domain", "example.com")

/* Serialises with attributes sorted by name, so that tests can compare text (free()). */
char *text_of(xmpp_stanza_t *st);
void assert_contains(const char *hay, const char *needle);
/* A form with one field of each type, as commands build them. */
form_t *sample_form(void);
/* `xml` parsed with libstrophe (`state` holds the xmpp_ctx_t). */
xmpp_stanza_t *parse(void **state, const char *xml);
/* The fields `fields` submitted against the sample form: the checked form, or NULL with the
 * error text in `why` (may be NULL). */
form_t *submit(void **state, const char *fields, char **why, const char *lang);
/* Fails the test unless submitting `fields` is refused with a text holding `needle`. */
void expect_error(void **state, const char *fields, const char *needle);
/* A result table of two columns and `rows` rows (row 3 has an empty cell). */
form_t *table(size_t rows);

#endif
