/* Unit tests for reading forms off the wire (xmpp/form_parse.c): a rendering read back, the
 * kinds, the limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/lib/form_fixture.h"
#include "util/log.h"
#include "xmpp/form.h"
#include "xmpp/form_check.h"
#include "xmpp/form_error.h"
#include "xmpp/form_parse.h"
#include "xmpp/form_render.h"
#include "xmpp/i18n.h"
#include "xmpp/stanza.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int setup(void **state)
{
    *state = xmpp_ctx_new(NULL, NULL);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    xmpp_ctx_free(*state);
    return 0;
}

/* Rendering, then parsing the rendering, keeps what a client needs. */
static void test_round_trip(void **state)
{
    form_t *f = sample_form();
    xmpp_stanza_t *x = form_to_stanza(*state, f, "ko");
    struct form_errors errs = {0};
    form_t *back = form_from_stanza(x, &errs);

    assert_non_null(back);
    assert_int_equal(form_get_kind(back), FORM_FORM);
    assert_string_equal(form_get_form_type(back), "urn:imdomaind:test/all");
    assert_string_equal(form_get_title(back, NULL), "도메인 추가");
    assert_int_equal(form_field_count(back), form_field_count(f));
    const form_field_t *days = form_field(back, "days");
    assert_int_equal(form_field_type(days), FIELD_TEXT_SINGLE);
    assert_string_equal(form_field_value(days, 0), "365");
    assert_true(form_field_required(form_field(back, "domain")));
    assert_int_equal(form_field_option_count(form_field(back, "key_type")), 2);
    assert_string_equal(form_field_option_value(form_field(back, "key_type"), 1), "ec-p256");
    assert_string_equal(form_field_label(form_field(back, "domain"), NULL), "도메인");
    assert_string_equal(form_field_type_name(form_field_type(form_field(back, "peers"))),
                        "jid-multi");
    /* The parsed range is checked like ours. */
    xmpp_stanza_t *y =
        parse(state, "<x xmlns='jabber:x:data' type='submit'>" OK_DOMAIN F("days", "4000") "</x>");
    form_t *sub = form_from_stanza(y, &errs);
    assert_null(form_check(back, sub, &errs));
    assert_int_equal(errs.v[0].code, FORM_ERR_RANGE);
    form_errors_clear(&errs);
    form_free(sub);
    xmpp_stanza_release(y);
    form_free(back);
    xmpp_stanza_release(x);
    form_free(f);
}

static void test_check_kind(void **state)
{
    struct form_errors errs = {0};
    form_t *shown = sample_form();
    xmpp_stanza_t *x = parse(state, "<x xmlns='jabber:x:data' type='result'>" OK_DOMAIN "</x>");
    form_t *sub = form_from_stanza(x, &errs);
    form_t *f = form_check(shown, sub, &errs);

    assert_null(f);
    char *why = form_errors_text(&errs, shown, NULL);
    assert_string_equal(why, "the form's type must be 'submit'");
    free(why);
    form_errors_clear(&errs);
    form_free(sub);
    xmpp_stanza_release(x);
    /* Not a data form at all, and an unknown type. */
    x = parse(state, "<x xmlns='jabber:x:oob'/>");
    assert_null(form_from_stanza(x, &errs));
    assert_int_equal(errs.v[0].code, FORM_ERR_NOT_A_FORM);
    xmpp_stanza_release(x);
    x = parse(state, "<x xmlns='jabber:x:data' type='bogus'/>");
    assert_null(form_from_stanza(x, &errs));
    assert_int_equal(errs.v[1].code, FORM_ERR_KIND);
    xmpp_stanza_release(x);
    assert_null(form_from_stanza(NULL, &errs));
    form_errors_clear(&errs);
    form_free(shown);
}

static void test_limits(void **state)
{
    /* Too many fields, too many values, a value too long: refused as a whole. */
    size_t cap = 64 + (FORM_MAX_FIELDS + 1) * 40 + FORM_MAX_VALUE_LEN + 200;
    char *xml = malloc(cap);
    size_t n = (size_t)snprintf(xml, cap, "<x xmlns='jabber:x:data' type='submit'>");
    struct form_errors errs = {0};

    for (int i = 0; i <= FORM_MAX_FIELDS; i++)
        n += (size_t)snprintf(xml + n, cap - n, "<field var='f%d'/>", i);
    snprintf(xml + n, cap - n, "</x>");
    xmpp_stanza_t *x = parse(state, xml);
    assert_null(form_from_stanza(x, &errs));
    assert_int_equal(errs.v[0].code, FORM_ERR_TOO_BIG);
    xmpp_stanza_release(x);
    n = (size_t)snprintf(xml, cap,
                         "<x xmlns='jabber:x:data' type='submit'><field var='a'>"
                         "<value>");
    memset(xml + n, 'v', FORM_MAX_VALUE_LEN + 1);
    n += FORM_MAX_VALUE_LEN + 1;
    snprintf(xml + n, cap - n, "</value></field></x>");
    x = parse(state, xml);
    assert_null(form_from_stanza(x, &errs));
    assert_int_equal(errs.v[1].code, FORM_ERR_TOO_BIG);
    char *why = form_errors_text(&errs, NULL, NULL);
    assert_contains(why, "the form is too large");
    free(why);
    xmpp_stanza_release(x);
    form_errors_clear(&errs);
    free(xml);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_check_kind),
        cmocka_unit_test(test_limits),
    };
    log_set_level(LOG_LEVEL_ERROR); /* a duplicate field is logged */
    return cmocka_run_group_tests(tests, setup, teardown);
}
