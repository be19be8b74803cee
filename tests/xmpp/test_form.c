/* Unit tests for the XEP-0004 model: building and rendering, parsing, the checks of every field
 * type (XEP-0122 ranges included), paging of tables, Korean texts and error sentences. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/log.h"
#include "xmpp/form.h"
#include "xmpp/i18n.h"
#include "xmpp/stanza.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct text T_TITLE = {"Add a domain", "도메인 추가"};
static const struct text T_DOMAIN = {"Domain", "도메인"};
static const struct text T_DAYS = {"Validity in days", "유효 기간(일)"};

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

struct out {
    char *s;
    size_t len;
};

static void put(struct out *o, const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c);
    o->s = realloc(o->s, o->len + n + 1);
    assert_non_null(o->s);
    o->len += (size_t)sprintf(o->s + o->len, "%s%s%s", a, b, c);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Serialises with attributes sorted by name (libstrophe's order is its hash order), so that
 * tests can compare text. Texts are not escaped. */
static void canon_into(struct out *o, xmpp_stanza_t *st)
{
    const char *attrs[64];
    int n;

    if (xmpp_stanza_is_text(st)) {
        put(o, xmpp_stanza_get_text_ptr(st), "", "");
        return;
    }
    n = xmpp_stanza_get_attributes(st, attrs, 64);
    qsort(attrs, (size_t)n / 2, 2 * sizeof(*attrs), by_name);
    put(o, "<", xmpp_stanza_get_name(st), "");
    for (int i = 0; i < n; i += 2) {
        put(o, " ", attrs[i], "=\"");
        put(o, attrs[i + 1], "\"", "");
    }
    if (xmpp_stanza_get_children(st) == NULL) {
        put(o, "/>", "", "");
        return;
    }
    put(o, ">", "", "");
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(st); c; c = xmpp_stanza_get_next(c))
        canon_into(o, c);
    put(o, "</", xmpp_stanza_get_name(st), ">");
}

static char *text_of(xmpp_stanza_t *st)
{
    struct out o = {calloc(1, 1), 0};
    canon_into(&o, st);
    return o.s;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL)
        fail_msg("'%s' not found in: %s", needle, hay);
}

/* A form with one field of each type, as commands build them. */
static form_t *sample_form(void)
{
    form_t *f = form_new(FORM_FORM);
    form_field_t *fl;

    form_set_form_type(f, FORM_TYPE_PREFIX "test/all");
    form_set_title(f, &T_TITLE);
    form_add_instructions(f, &(struct text){"Fill it in.", "입력하세요."});
    form_add_fixed(f, &(struct text){"A line of text.", "설명 한 줄."});
    fl = form_add_field(f, "domain", FIELD_TEXT_SINGLE, &T_DOMAIN);
    form_field_set_required(fl, true);
    form_field_set_desc(fl, &(struct text){"The new domain", "새 도메인"});
    fl = form_add_field(f, "days", FIELD_TEXT_SINGLE, &T_DAYS);
    form_field_set_range(fl, true, 1, true, 3650);
    form_field_add_int(fl, 365);
    fl = form_add_field(f, "xmpp_addr", FIELD_BOOLEAN, NULL);
    form_field_add_bool(fl, false);
    fl = form_add_field(f, "key_type", FIELD_LIST_SINGLE, NULL);
    form_field_add_option(fl, "rsa-2048", &(struct text){"RSA 2048", "RSA 2048비트"});
    form_field_add_option(fl, "ec-p256", NULL);
    fl = form_add_field(f, "domains", FIELD_LIST_MULTI, NULL);
    form_field_add_option(fl, "a.example", NULL);
    form_field_add_option(fl, "b.example", NULL);
    form_add_field(f, "admin", FIELD_JID_SINGLE, NULL);
    form_add_field(f, "peers", FIELD_JID_MULTI, NULL);
    form_add_field(f, "users", FIELD_TEXT_MULTI, NULL);
    form_add_field(f, "secret", FIELD_TEXT_PRIVATE, NULL);
    fl = form_add_field(f, "since", FIELD_TEXT_SINGLE, NULL);
    form_field_set_datatype(fl, FORM_DT_DATETIME);
    fl = form_add_field(f, "day", FIELD_TEXT_SINGLE, NULL);
    form_field_set_datatype(fl, FORM_DT_DATE);
    fl = form_add_field(f, "state", FIELD_HIDDEN, NULL);
    form_field_add_value(fl, "s1");
    return f;
}

static void test_render(void **state)
{
    form_t *f = sample_form();
    xmpp_stanza_t *x = form_to_stanza(*state, f, NULL);
    char *s = text_of(x);

    assert_contains(s, "<x type=\"form\" xmlns=\"jabber:x:data\">");
    assert_contains(s, "<title>Add a domain</title>");
    assert_contains(s, "<instructions>Fill it in.</instructions>");
    assert_contains(s, "<field type=\"hidden\" var=\"FORM_TYPE\"><value>urn:imdomaind:test/all"
                       "</value></field>");
    /* A fixed field gets a var of its own (poezio keys fields by var). */
    assert_contains(s, "<field type=\"fixed\" var=\"fixed-1\"><value>A line of text.</value>"
                       "</field>");
    assert_contains(s, "<field label=\"Domain\" type=\"text-single\" var=\"domain\"><desc>The new "
                       "domain</desc><required/></field>");
    assert_contains(s, "<validate datatype=\"xs:integer\" "
                       "xmlns=\"http://jabber.org/protocol/xdata-validate\"><range max=\"3650\" "
                       "min=\"1\"/></validate>"
                       "<value>365</value>");
    assert_contains(s, "<option label=\"RSA 2048\"><value>rsa-2048</value></option>");
    /* An option without a label carries its value as the label. */
    assert_contains(s, "<option label=\"ec-p256\"><value>ec-p256</value></option>");
    assert_contains(s, "datatype=\"xs:dateTime\"");
    assert_contains(s, "datatype=\"xs:date\"");
    assert_contains(s, "<field type=\"boolean\" var=\"xmpp_addr\"><value>0</value></field>");
    /* FORM_TYPE comes first among the fields (XEP-0068). */
    assert_true(strstr(s, "FORM_TYPE") < strstr(s, "fixed"));
    free(s);
    xmpp_stanza_release(x);
    form_free(f);
}

static void test_render_korean(void **state)
{
    form_t *f = sample_form();
    xmpp_stanza_t *x = form_to_stanza(*state, f, "ko-KR");
    char *s = text_of(x);

    assert_contains(s, "<title>도메인 추가</title>");
    assert_contains(s, "<instructions>입력하세요.</instructions>");
    assert_contains(s, "label=\"도메인\"");
    assert_contains(s, "<desc>새 도메인</desc>");
    assert_contains(s, "<value>설명 한 줄.</value>");
    assert_contains(s, "label=\"RSA 2048비트\"");
    free(s);
    xmpp_stanza_release(x);
    /* Anything that is not Korean is English. */
    x = form_to_stanza(*state, f, "fr");
    s = text_of(x);
    assert_contains(s, "<title>Add a domain</title>");
    free(s);
    xmpp_stanza_release(x);
    form_free(f);
}

static void test_i18n(void **state)
{
    static const struct text only_en = {"Hello", NULL};

    assert_true(i18n_is_korean("ko"));
    assert_true(i18n_is_korean("KO-kr"));
    assert_true(i18n_is_korean("ko-Kore-KR"));
    assert_true(i18n_is_korean("ko_KR"));
    assert_false(i18n_is_korean("kok"));
    assert_false(i18n_is_korean("en"));
    assert_false(i18n_is_korean(""));
    assert_false(i18n_is_korean(NULL));
    assert_string_equal(text_get(&T_DOMAIN, "ko"), "도메인");
    assert_string_equal(text_get(&T_DOMAIN, "en-GB"), "Domain");
    assert_string_equal(text_get(&only_en, "ko"), "Hello");
    assert_null(text_get(NULL, "ko"));
    assert_string_equal(i18n_tag("ko-KR"), "ko");
    assert_string_equal(i18n_tag(NULL), "en");
}

static xmpp_stanza_t *parse(void **state, const char *xml)
{
    xmpp_stanza_t *st = xmpp_stanza_new_from_string(*state, xml);
    assert_non_null(st);
    return st;
}

/* Parses `xml` and checks it against the sample form; returns the checked form or NULL, with
 * the error text in `why` (may be NULL). */
static form_t *submit(void **state, const char *fields, char **why, const char *lang)
{
    char *xml = NULL;
    struct form_errors errs = {0};
    form_t *shown = sample_form(), *sub, *checked = NULL;

    assert_true(asprintf(&xml, "<x xmlns='jabber:x:data' type='submit'>%s</x>", fields) > 0);
    xmpp_stanza_t *x = parse(state, xml);
    sub = form_from_stanza(x, &errs);
    if (sub)
        checked = form_check(shown, sub, &errs);
    if (why)
        *why = checked ? NULL : form_errors_text(&errs, shown, lang);
    assert_true(checked ? errs.n == 0 : errs.n > 0);
    form_errors_clear(&errs);
    form_free(sub);
    form_free(shown);
    xmpp_stanza_release(x);
    free(xml);
    return checked;
}

#define F(var, v) "<field var='" var "'><value>" v "</value></field>"
#define OK_DOMAIN F("domain", "example.com")

static void expect_error(void **state, const char *fields, const char *needle)
{
    char *why = NULL;
    form_t *f = submit(state, fields, &why, NULL);

    if (f != NULL)
        fail_msg("accepted: %s", fields);
    assert_contains(why, needle);
    free(why);
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

static void test_errors_korean(void **state)
{
    char *why = NULL;

    assert_null(submit(state, F("days", "0"), &why, "ko"));
    assert_string_equal(why,
                        "필드 'domain'(도메인): 필수 항목입니다; 필드 'days'(유효 기간(일)): 1 "
                        "이상 3650 이하의 정수여야 합니다");
    free(why);
    assert_null(submit(state, OK_DOMAIN F("admin", "x@@y"), &why, "ko-KR"));
    assert_string_equal(why, "필드 'admin': 'x@@y'은(는) 올바른 JID가 아닙니다");
    free(why);
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

static void test_submit_render(void **state)
{
    form_t *f = submit(state, OK_DOMAIN F("days", "12"), NULL, NULL);
    xmpp_stanza_t *x = form_to_stanza(*state, f, NULL);
    char *s = text_of(x);

    assert_contains(s, "<x type=\"submit\" xmlns=\"jabber:x:data\"><field type=\"hidden\" "
                       "var=\"FORM_TYPE\">");
    assert_contains(s, "<field var=\"domain\"><value>example.com</value></field>");
    assert_contains(s, "<field var=\"days\"><value>12</value></field>");
    assert_null(strstr(s, "label="));
    free(s);
    xmpp_stanza_release(x);
    form_free(f);
}

static form_t *table(size_t rows)
{
    form_t *t = form_new(FORM_RESULT);
    char name[32], users[32];

    form_set_title(t, &(struct text){"Domains", "도메인 목록"});
    form_add_column(t, "domain", FIELD_TEXT_SINGLE, &T_DOMAIN);
    form_add_column(t, "users", FIELD_TEXT_SINGLE, &(struct text){"Users", "사용자"});
    for (size_t i = 0; i < rows; i++) {
        snprintf(name, sizeof(name), "d%zu.example", i);
        snprintf(users, sizeof(users), "%zu", i * 10);
        form_add_row(t, (const char *const[]){name, i == 3 ? NULL : users});
    }
    return t;
}

static void test_table(void **state)
{
    form_t *t = table(5);
    xmpp_stanza_t *x = form_to_stanza(*state, t, "ko");
    char *s = text_of(x);

    assert_contains(s, "<x type=\"result\" xmlns=\"jabber:x:data\"><title>도메인 목록</title>"
                       "<reported><field label=\"도메인\" type=\"text-single\" var=\"domain\"/>"
                       "<field label=\"사용자\" type=\"text-single\" var=\"users\"/></reported>"
                       "<item><field var=\"domain\"><value>d0.example</value></field>"
                       "<field var=\"users\"><value>0</value></field></item>");
    assert_contains(s, "<item><field var=\"domain\"><value>d3.example</value></field>"
                       "<field var=\"users\"><value></value></field></item>");
    assert_null(strstr(s, "FORM_TYPE"));
    free(s);
    assert_int_equal(form_row_count(t), 5);
    assert_int_equal(form_column_count(t), 2);
    assert_string_equal(form_column_var(t, 1), "users");
    assert_string_equal(form_cell(t, 4, 0), "d4.example");
    assert_null(form_cell(t, 3, 1));
    assert_null(form_cell(t, 5, 0));
    /* Parse it back. */
    struct form_errors errs = {0};
    form_t *back = form_from_stanza(x, &errs);
    assert_non_null(back);
    assert_int_equal(form_row_count(back), 5);
    assert_string_equal(form_cell(back, 2, 1), "20");
    form_free(back);
    xmpp_stanza_release(x);
    form_free(t);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_paging(void **state)
{
    form_t *t = table(250);
    xmpp_stanza_t *x;
    char *s;

    assert_int_equal(form_page_count(t, 100), 3);
    assert_int_equal(form_page_count(t, 250), 1);
    assert_int_equal(form_page_count(t, 0), 1);
    x = form_to_stanza_rows(*state, t, NULL, 200, 100);
    s = text_of(x);
    assert_int_equal(count(s, "<item>"), 50);
    assert_contains(s, "d200.example");
    assert_null(strstr(s, "d199.example"));
    free(s);
    xmpp_stanza_release(x);
    x = form_to_stanza_rows(*state, t, NULL, 100, 100);
    s = text_of(x);
    assert_int_equal(count(s, "<item>"), 100);
    assert_contains(s, "<reported>");
    free(s);
    xmpp_stanza_release(x);
    x = form_to_stanza_rows(*state, t, NULL, 900, 100);
    s = text_of(x);
    assert_int_equal(count(s, "<item>"), 0);
    free(s);
    xmpp_stanza_release(x);
    form_t *empty = table(0);
    assert_int_equal(form_page_count(empty, 100), 1);
    form_free(empty);
    form_free(t);
}

static void test_prefill_copy(void **state)
{
    form_t *shown = sample_form();
    form_t *vals = submit(state, OK_DOMAIN F("days", "9"), NULL, NULL);
    form_t *again = form_prefill(shown, vals);

    assert_string_equal(form_value(again, "domain"), "example.com");
    assert_string_equal(form_value(again, "days"), "9");
    assert_string_equal(form_value(again, "state"), "s1");
    assert_int_equal(form_field_option_count(form_field(again, "key_type")), 2);
    assert_true(form_wants_input(again));
    assert_string_equal(form_value(shown, "days"), "365"); /* the original is untouched */
    form_free(again);
    form_free(vals);
    /* A form of fixed and hidden fields asks for nothing. */
    form_t *info = form_new(FORM_FORM);
    form_add_fixed(info, &T_TITLE);
    form_add_field(info, "h", FIELD_HIDDEN, NULL);
    assert_false(form_wants_input(info));
    form_free(info);
    /* A duplicate var while building is reported and the first field reused. */
    form_field_t *d1 = form_field_mut(shown, "domain");
    assert_ptr_equal(form_add_field(shown, "domain", FIELD_BOOLEAN, NULL), d1);
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

static void test_long_value_in_error(void **state)
{
    char fields[512], *why = NULL;
    char longv[200];

    memset(longv, 'z', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = '\0';
    snprintf(fields, sizeof(fields), OK_DOMAIN "<field var='days'><value>%s</value></field>",
             longv);
    assert_null(submit(state, fields, &why, NULL));
    assert_contains(why, "zzz...' is not a whole number");
    assert_true(strlen(why) < 150);
    free(why);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_render_korean),
        cmocka_unit_test(test_i18n),
        cmocka_unit_test(test_check_ok),
        cmocka_unit_test(test_check_defaults),
        cmocka_unit_test(test_check_errors),
        cmocka_unit_test(test_check_kind),
        cmocka_unit_test(test_errors_korean),
        cmocka_unit_test(test_one_sided_range),
        cmocka_unit_test(test_open_list),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_submit_render),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_paging),
        cmocka_unit_test(test_prefill_copy),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_long_value_in_error),
    };
    log_set_level(LOG_LEVEL_ERROR); /* a duplicate field is logged */
    return cmocka_run_group_tests(tests, setup, teardown);
}
