/* Unit tests for rendering forms (xmpp/form_render.c): every field type, Korean texts, result
 * tables and their pages, submissions. */
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

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),        cmocka_unit_test(test_render_korean),
        cmocka_unit_test(test_submit_render), cmocka_unit_test(test_table),
        cmocka_unit_test(test_paging),
    };
    log_set_level(LOG_LEVEL_ERROR); /* a duplicate field is logged */
    return cmocka_run_group_tests(tests, setup, teardown);
}
