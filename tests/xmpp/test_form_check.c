/* Unit tests for checking submissions (xmpp/form_check.c): every field type, XEP-0122 ranges
 * and datatypes, JIDs, open lists, defaults kept for fields left out. */
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

static void test_check_ok(void **state)
{
    form_t *f = submit(
        state,
        "<field var='FORM_TYPE' type='hidden'><value>urn:imdomaind:test/all</value>"
        "</field>" OK_DOMAIN F("days", " +30 ") F("xmpp_addr", "true") F(
            "key_type",
            "ec-p256") "<field var='domains'><value>a.example</value>"
                       "<value>b.example</value></field>" F(
                           "admin",
                           "Admin@Example.com/Res 1") "<field "
                                                      "var='peers'><value>peer.example</"
                                                      "value><value>[::1]</value></field>"
                                                      "<field "
                                                      "var='users'><value>u1,a@b</value><value></"
                                                      "value>"
                                                      "<value>u2,c@d</value></field>" F("secret",
                                                                                        " s p ")
                                                          F("since", "2024-02-29T12:00:00.5+09:00")
                                                              F("day", "2000-02-29")
                                                                  F("state", "forged")
                                                                      F("unknown", "ignored"),
        NULL, NULL);
    const char *const *vals;

    assert_non_null(f);
    assert_int_equal(form_get_kind(f), FORM_SUBMIT);
    assert_string_equal(form_get_form_type(f), "urn:imdomaind:test/all");
    assert_string_equal(form_value(f, "domain"), "example.com");
    assert_int_equal(form_int(f, "days", 0), 30);
    assert_string_equal(form_value(f, "days"), "30");
    assert_true(form_bool(f, "xmpp_addr", false));
    assert_string_equal(form_value(f, "xmpp_addr"), "1");
    assert_int_equal(form_values(f, "domains", &vals), 2);
    assert_string_equal(vals[1], "b.example");
    assert_int_equal(form_values(f, "users", &vals), 3);
    assert_string_equal(vals[1], "");
    assert_string_equal(form_value(f, "secret"), " s p ");
    assert_string_equal(form_value(f, "state"), "s1"); /* hidden: what we sent, not theirs */
    assert_null(form_field(f, "unknown"));
    assert_non_null(form_field(f, "admin"));
    assert_int_equal(form_field_type(form_field(f, "admin")), FIELD_JID_SINGLE);
    form_free(f);
}

static void test_check_defaults(void **state)
{
    /* Only the required field: the others are present but empty; empty values are absent. */
    form_t *f = submit(state, OK_DOMAIN F("days", "") "<field var='xmpp_addr'/>", NULL, NULL);

    assert_non_null(f);
    assert_int_equal(form_int(f, "days", 7), 7);
    assert_false(form_bool(f, "xmpp_addr", false));
    assert_true(form_bool(f, "xmpp_addr", true));
    assert_null(form_value(f, "key_type"));
    assert_int_equal(form_field_value_count(form_field(f, "domains")), 0);
    form_free(f);
    /* A submission without a type attribute and without FORM_TYPE is accepted (lenient); the
     * fields it leaves out keep the values shown. */
    xmpp_stanza_t *x = parse(state, "<x xmlns='jabber:x:data'>" OK_DOMAIN "</x>");
    struct form_errors errs = {0};
    form_t *sub = form_from_stanza(x, &errs), *shown = sample_form();
    f = form_check(shown, sub, &errs);
    assert_non_null(f);
    assert_int_equal(form_int(f, "days", 7), 365);
    assert_false(form_bool(f, "xmpp_addr", true));
    form_free(f);
    form_free(sub);
    form_free(shown);
    xmpp_stanza_release(x);
}

static void test_check_errors(void **state)
{
    expect_error(state, F("days", "30"), "field 'domain' (Domain): a value is required");
    expect_error(state, F("domain", "  "), "a value is required");
    expect_error(state, OK_DOMAIN F("days", "0"),
                 "field 'days' (Validity in days): must be a whole number from 1 to 3650");
    expect_error(state, OK_DOMAIN F("days", "3651"), "from 1 to 3650");
    expect_error(state, OK_DOMAIN F("days", "ten"), "'ten' is not a whole number");
    expect_error(state, OK_DOMAIN F("days", "99999999999999999999"), "is not a whole number");
    expect_error(state, OK_DOMAIN F("xmpp_addr", "yes"), "'yes' is not a boolean");
    expect_error(state, OK_DOMAIN F("key_type", "dsa"), "'dsa' is not one of the offered");
    expect_error(state,
                 OK_DOMAIN "<field var='domains'><value>a.example</value><value>c.example</value>"
                           "</field>",
                 "'c.example' is not one of the offered");
    expect_error(state, OK_DOMAIN F("admin", "a@b@c"), "'a@b@c' is not a valid JID");
    expect_error(state, OK_DOMAIN F("admin", "@example.com"), "not a valid JID");
    expect_error(state, OK_DOMAIN F("admin", "a@example..com"), "not a valid JID");
    expect_error(state, OK_DOMAIN F("admin", "a b@example.com"), "not a valid JID");
    expect_error(state, OK_DOMAIN F("admin", "example.com/"), "not a valid JID");
    expect_error(state, OK_DOMAIN "<field var='peers'><value>ok</value><value>bad/</value></field>",
                 "'bad/'");
    expect_error(state,
                 OK_DOMAIN "<field var='admin'><value>a@b</value><value>c@d</value>"
                           "</field>",
                 "only one value is allowed");
    expect_error(state, OK_DOMAIN F("since", "2024-02-30T00:00:00Z"), "not a date and time");
    expect_error(state, OK_DOMAIN F("since", "2024-01-01T00:00:00"), "not a date and time");
    expect_error(state, OK_DOMAIN F("day", "2023-02-29"), "is not a date like");
    expect_error(state, OK_DOMAIN F("domain", "again"), "the field is given twice");
    expect_error(state,
                 OK_DOMAIN "<field var='FORM_TYPE'><value>urn:imdomaind:other</value></field>",
                 "the FORM_TYPE is 'urn:imdomaind:other' but this stage expects "
                 "'urn:imdomaind:test/all'");
    /* Every failing field is reported, joined with "; ". */
    expect_error(state, F("days", "x") F("xmpp_addr", "2"),
                 "field 'domain' (Domain): a value is required; field 'days'");
}

static void test_one_sided_range(void **state)
{
    form_t *shown = form_new(FORM_FORM);
    form_field_t *fl = form_add_field(shown, "n", FIELD_TEXT_SINGLE, NULL);
    form_field_set_range(fl, true, 5, false, 0);
    form_field_t *m = form_add_field(shown, "m", FIELD_TEXT_SINGLE, NULL);
    form_field_set_range(m, false, 0, true, -1);
    xmpp_stanza_t *x =
        parse(state, "<x xmlns='jabber:x:data' type='submit'>" F("n", "4") F("m", "0") "</x>");
    struct form_errors errs = {0};
    form_t *sub = form_from_stanza(x, &errs);

    assert_null(form_check(shown, sub, &errs));
    char *why = form_errors_text(&errs, shown, NULL);
    assert_string_equal(why, "field 'n': must be a whole number of at least 5; field 'm': must be "
                             "a whole number of at most -1");
    free(why);
    form_errors_clear(&errs);
    form_free(sub);
    form_free(shown);
    xmpp_stanza_release(x);
}

static void test_open_list(void **state)
{
    form_t *shown = form_new(FORM_FORM);
    form_field_t *fl = form_add_field(shown, "peer", FIELD_LIST_SINGLE, NULL);
    form_field_add_option(fl, "a", NULL);
    form_field_set_open(fl, true);
    xmpp_stanza_t *x = form_to_stanza(*state, shown, NULL);
    char *s = text_of(x);
    assert_contains(s, "<validate datatype=\"xs:string\" "
                       "xmlns=\"http://jabber.org/protocol/xdata-validate\"><open/></validate>");
    free(s);
    xmpp_stanza_release(x);
    x = parse(state, "<x xmlns='jabber:x:data' type='submit'>" F("peer", " zzz ") "</x>");
    struct form_errors errs = {0};
    form_t *sub = form_from_stanza(x, &errs);
    form_t *f = form_check(shown, sub, &errs);
    assert_non_null(f);
    assert_string_equal(form_value(f, "peer"), "zzz");
    form_free(f);
    form_free(sub);
    form_free(shown);
    xmpp_stanza_release(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_ok),     cmocka_unit_test(test_check_defaults),
        cmocka_unit_test(test_check_errors), cmocka_unit_test(test_one_sided_range),
        cmocka_unit_test(test_open_list),
    };
    log_set_level(LOG_LEVEL_ERROR); /* a duplicate field is logged */
    return cmocka_run_group_tests(tests, setup, teardown);
}
