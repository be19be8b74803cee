/* Shared by the unit tests of xmpp/form*.c: a sample form with one field of each type, a result
 * table, a canonical text of a stanza to compare, and a submission parsed and checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/lib/form_fixture.h"
#include "xmpp/form_check.h"
#include "xmpp/form_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct text T_TITLE = {"Add a domain", "도메인 추가"};
const struct text T_DOMAIN = {"Domain", "도메인"};
const struct text T_DAYS = {"Validity in days", "유효 기간(일)"};

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

char *text_of(xmpp_stanza_t *st)
{
    struct out o = {calloc(1, 1), 0};
    canon_into(&o, st);
    return o.s;
}

void assert_contains(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL)
        fail_msg("'%s' not found in: %s", needle, hay);
}

/* A form with one field of each type, as commands build them. */
form_t *sample_form(void)
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

xmpp_stanza_t *parse(void **state, const char *xml)
{
    xmpp_stanza_t *st = xmpp_stanza_new_from_string(*state, xml);
    assert_non_null(st);
    return st;
}

/* Parses `xml` and checks it against the sample form; returns the checked form or NULL, with
 * the error text in `why` (may be NULL). */
form_t *submit(void **state, const char *fields, char **why, const char *lang)
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

void expect_error(void **state, const char *fields, const char *needle)
{
    char *why = NULL;
    form_t *f = submit(state, fields, &why, NULL);

    if (f != NULL)
        fail_msg("accepted: %s", fields);
    assert_contains(why, needle);
    free(why);
}

form_t *table(size_t rows)
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
