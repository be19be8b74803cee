/* Unit tests for the stream parser: every byte split, namespaces, limits, restricted XML. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "xmpp/parser.h"
#include "xmpp/stanza_list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER                                                                                     \
    "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "                         \
    "xmlns:stream='http://etherx.jabber.org/streams' from='c.example' id='abc123'>"

struct seen {
    int starts, ends, stanzas;
    char id[64];
    char last[4096];
};

static void on_start(void *ud, const char *id, const char *from)
{
    struct seen *s = ud;
    s->starts++;
    snprintf(s->id, sizeof(s->id), "%s", id ? id : "");
}

static void on_stanza(void *ud, xmpp_stanza_t *st)
{
    struct seen *s = ud;
    char *text = NULL;
    size_t len = 0;

    s->stanzas++;
    assert_int_equal(xmpp_stanza_to_text(st, &text, &len), XMPP_EOK);
    snprintf(s->last, sizeof(s->last), "%s", text);
    xmpp_free(xmpp_stanza_get_context(st), text);
}

static void on_end(void *ud)
{
    ((struct seen *)ud)->ends++;
}

static const struct parser_callbacks cbs = {on_start, on_stanza, on_end};

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

static parser_t *new_parser(void **state, struct seen *s, size_t max, int depth)
{
    struct parser_limits lim = {.max_stanza_size = max, .max_depth = depth};
    memset(s, 0, sizeof(*s));
    parser_t *p = parser_new(*state, &lim, &cbs, s);
    assert_non_null(p);
    return p;
}

static void test_every_split(void **state)
{
    static const char stream[] =
        HEADER "<iq type='get' id='1' from='a@b/c' to='c.example'>"
               "<query xmlns='http://jabber.org/protocol/disco#info' node='x'/></iq> \n"
               "<message to='c.example'><body>h&amp;llo &#x263A; w\xc3\xb6rld</body></message>"
               "</stream:stream>";
    size_t len = strlen(stream);
    struct seen whole;
    parser_t *p = new_parser(state, &whole, 65536, 16);

    assert_int_equal(parser_feed(p, stream, len), PARSER_OK);
    assert_int_equal(whole.stanzas, 2);
    assert_int_equal(whole.ends, 1);
    assert_string_equal(whole.id, "abc123");
    parser_free(p);

    for (size_t cut = 1; cut < len; cut++) {
        struct seen s;
        p = new_parser(state, &s, 65536, 16);
        assert_int_equal(parser_feed(p, stream, cut), PARSER_OK);
        assert_int_equal(parser_feed(p, stream + cut, len - cut), PARSER_OK);
        assert_int_equal(s.stanzas, 2);
        assert_int_equal(s.starts, 1);
        assert_int_equal(s.ends, 1);
        assert_string_equal(s.last, whole.last);
        parser_free(p);
    }
    /* One byte at a time as well. */
    struct seen s;
    p = new_parser(state, &s, 65536, 16);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(parser_feed(p, stream + i, 1), PARSER_OK);
    assert_string_equal(s.last, whole.last);
    parser_free(p);
}

static void test_namespaces_kept(void **state)
{
    struct seen s;
    parser_t *p = new_parser(state, &s, 65536, 16);
    const char *in = HEADER "<iq type='set' id='7' xml:lang='ko'>"
                            "<command xmlns='http://jabber.org/protocol/commands' node='n'>"
                            "<x xmlns='jabber:x:data' type='submit'><field var='a'>"
                            "<value>1</value></field></x></command></iq>";

    assert_int_equal(parser_feed(p, in, strlen(in)), PARSER_OK);
    assert_int_equal(s.stanzas, 1);
    assert_non_null(strstr(s.last, "xmlns=\"http://jabber.org/protocol/commands\""));
    assert_non_null(strstr(s.last, "xmlns=\"jabber:x:data\""));
    assert_non_null(strstr(s.last, "xml:lang=\"ko\""));
    /* children inherit: <field> carries no xmlns of its own */
    assert_null(strstr(s.last, "<field xmlns"));
    parser_free(p);
}

static void test_prefixed_stream_error(void **state)
{
    struct seen s;
    parser_t *p = new_parser(state, &s, 65536, 16);
    const char *in = HEADER "<stream:error><conflict "
                            "xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>";

    assert_int_equal(parser_feed(p, in, strlen(in)), PARSER_OK);
    assert_non_null(strstr(s.last, "<stream:error>"));
    parser_free(p);
}

static void test_too_large(void **state)
{
    struct seen s;
    parser_t *p = new_parser(state, &s, 4096, 16);
    char *big = malloc(10000);

    memset(big, 'a', 9999);
    big[9999] = '\0';
    assert_int_equal(parser_feed(p, HEADER, strlen(HEADER)), PARSER_OK);
    assert_int_equal(parser_feed(p, "<message><body>", 15), PARSER_OK);
    assert_int_equal(parser_feed(p, big, strlen(big)), PARSER_TOO_LARGE);
    assert_string_equal(parser_error_condition(PARSER_TOO_LARGE), "policy-violation");
    parser_free(p);

    /* a huge start tag, which expat buffers without telling us */
    p = new_parser(state, &s, 4096, 16);
    assert_int_equal(parser_feed(p, HEADER, strlen(HEADER)), PARSER_OK);
    assert_int_equal(parser_feed(p, "<message to='", 13), PARSER_OK);
    assert_int_equal(parser_feed(p, big, strlen(big)), PARSER_TOO_LARGE);
    parser_free(p);

    /* many small stanzas in total far above the limit are fine */
    p = new_parser(state, &s, 4096, 16);
    assert_int_equal(parser_feed(p, HEADER, strlen(HEADER)), PARSER_OK);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(parser_feed(p, "<presence/> ", 12), PARSER_OK);
    assert_int_equal(s.stanzas, 1000);
    parser_free(p);
    free(big);
}

static void test_too_deep(void **state)
{
    struct seen s;
    parser_t *p = new_parser(state, &s, 65536, 4);

    assert_int_equal(parser_feed(p, HEADER, strlen(HEADER)), PARSER_OK);
    assert_int_equal(parser_feed(p, "<a><b><c><d></d></c></b></a>", 28), PARSER_OK);
    assert_int_equal(s.stanzas, 1);
    assert_int_equal(parser_feed(p, "<a><b><c><d><e>", 15), PARSER_TOO_DEEP);
    parser_free(p);
}

static void test_restricted(void **state)
{
    static const char *const bad[] = {
        "<!DOCTYPE x [<!ENTITY a 'b'>]>",
        "<?foo bar?>",
        "<!-- hi -->",
    };
    for (size_t i = 0; i < 3; i++) {
        struct seen s;
        parser_t *p = new_parser(state, &s, 65536, 16);
        enum parser_error e = PARSER_OK;
        if (i == 0) {
            e = parser_feed(p, bad[i], strlen(bad[i]));
        } else {
            assert_int_equal(parser_feed(p, HEADER, strlen(HEADER)), PARSER_OK);
            e = parser_feed(p, bad[i], strlen(bad[i]));
        }
        assert_int_equal(e, PARSER_RESTRICTED_XML);
        assert_string_equal(parser_error_condition(e), "restricted-xml");
        parser_free(p);
    }
}

static void test_malformed_and_reset(void **state)
{
    struct seen s;
    parser_t *p = new_parser(state, &s, 65536, 16);

    assert_int_equal(parser_feed(p, HEADER, strlen(HEADER)), PARSER_OK);
    assert_int_equal(parser_feed(p, "<a></b>", 7), PARSER_NOT_WELL_FORMED);
    assert_true(strlen(parser_error_detail(p)) > 0);
    /* stays failed until reset */
    assert_int_equal(parser_feed(p, "<a/>", 4), PARSER_NOT_WELL_FORMED);
    assert_int_equal(parser_reset(p), 0);
    assert_int_equal(parser_feed(p, HEADER "<a/>", strlen(HEADER) + 4), PARSER_OK);
    assert_int_equal(s.starts, 2);
    assert_int_equal(s.stanzas, 1);
    parser_free(p);
}

static void test_bad_root(void **state)
{
    struct seen s;
    parser_t *p = new_parser(state, &s, 65536, 16);

    assert_int_equal(parser_feed(p, "<html>", 6), PARSER_BAD_STREAM);
    parser_free(p);
}

static void stop_on_stanza(void *ud, xmpp_stanza_t *st)
{
    parser_t **pp = ud;
    parser_stop(*pp);
}

static void test_stop_from_callback(void **state)
{
    struct parser_callbacks cb = {NULL, stop_on_stanza, NULL};
    struct parser_limits lim = {.max_stanza_size = 65536, .max_depth = 16};
    parser_t *p = NULL;
    p = parser_new(*state, &lim, &cb, &p);
    const char *in = HEADER "<a/><b/><c/>";

    assert_int_equal(parser_feed(p, in, strlen(in)), PARSER_OK);
    assert_int_equal(parser_feed(p, "garbage<<<", 10), PARSER_OK);
    assert_int_equal(parser_reset(p), 0);
    parser_free(p);
}

/* A buffer of `n` repetitions of `unit` between `head` and `tail` (caller frees). */
static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *buf = malloc(hl + ul * n + tl + 1), *w = buf;

    assert_non_null(buf);
    memcpy(w, head, hl);
    w += hl;
    for (size_t i = 0; i < n; i++, w += ul)
        memcpy(w, unit, ul);
    memcpy(w, tail, tl + 1);
    return buf;
}

static void count_children(void *ud, xmpp_stanza_t *st)
{
    struct seen *s = ud;
    size_t n = 0;
    xmpp_stanza_t *prev = NULL;

    s->stanzas++;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(st); c; c = xmpp_stanza_get_next(c)) {
        n++;
        prev = c;
    }
    snprintf(s->last, sizeof(s->last), "%zu %s %s", n,
             xmpp_stanza_get_name(xmpp_stanza_get_children(st)),
             prev ? xmpp_stanza_get_name(prev) : "-");
}

/* 60,000 empty children (256 KiB, what any XMPP user can send) are built in order, each child
 * linked to its siblings; one more than max_children is a policy violation. */
static void test_many_children(void **state)
{
    struct parser_callbacks cb = {NULL, count_children, NULL};
    struct parser_limits lim = {256 * 1024, 16, 60000, 0};
    struct seen s;
    char *in = repeat(HEADER "<message><first/>", "<a/>", 59998, "<last/></message>");
    parser_t *p = parser_new(*state, &lim, &cb, &s);

    memset(&s, 0, sizeof(s));
    assert_true(stanza_append_is_fast(*state)); /* the libstrophe this was built with */
    assert_int_equal(parser_feed(p, in, strlen(in)), PARSER_OK);
    assert_int_equal(s.stanzas, 1);
    assert_string_equal(s.last, "60000 first last");
    parser_free(p);
    free(in);

    in = repeat(HEADER "<message>", "<a/>", 60001, "</message>");
    p = parser_new(*state, &lim, &cb, &s);
    assert_int_equal(parser_feed(p, in, strlen(in)), PARSER_TOO_MANY);
    assert_string_equal(parser_error_condition(PARSER_TOO_MANY), "policy-violation");
    assert_non_null(strstr(parser_error_detail(p), "60000"));
    parser_free(p);
    free(in);
}

/* Text nodes count as children too, and an element's children are still in order after text. */
static void test_text_children_in_order(void **state)
{
    struct seen s;
    parser_t *p = new_parser(state, &s, 65536, 16);
    const char *in = HEADER "<message>a<b/>c<d>e</d>f</message>";

    assert_int_equal(parser_feed(p, in, strlen(in)), PARSER_OK);
    assert_string_equal(s.last, "<message>a<b/>c<d>e</d>f</message>");
    parser_free(p);
}

static void test_too_many_attributes(void **state)
{
    struct parser_limits lim = {256 * 1024, 16, 0, 8};
    struct seen s;
    parser_t *p = parser_new(*state, &lim, &cbs, &s);
    const char *ok = HEADER "<message a='1' b='2' c='3' d='4' e='5' f='6' g='7' h='8'/>";
    const char *bad = "<message a='1' b='2' c='3' d='4' e='5' f='6' g='7' h='8' i='9'/>";

    memset(&s, 0, sizeof(s));
    assert_int_equal(parser_feed(p, ok, strlen(ok)), PARSER_OK);
    assert_int_equal(s.stanzas, 1);
    assert_int_equal(parser_feed(p, bad, strlen(bad)), PARSER_TOO_MANY);
    parser_free(p);
}

/* An element in the reserved xml namespace serialises with its predeclared prefix, never as a
 * default namespace declaration (which expat, and every parser, rejects), and parses back the
 * same. */
static void test_xml_namespace_element(void **state)
{
    struct seen s, again;
    parser_t *p = new_parser(state, &s, 65536, 16);
    const char *in = HEADER "<message><xml:note xml:lang='en'><body>x</body></xml:note></message>";
    char round[8192];

    assert_int_equal(parser_feed(p, in, strlen(in)), PARSER_OK);
    assert_int_equal(s.stanzas, 1);
    assert_null(strstr(s.last, "XML/1998/namespace"));
    parser_free(p);
    p = new_parser(state, &again, 65536, 16);
    snprintf(round, sizeof(round), HEADER "%s", s.last);
    assert_int_equal(parser_feed(p, round, strlen(round)), PARSER_OK);
    assert_int_equal(again.stanzas, 1);
    assert_string_equal(again.last, s.last);
    parser_free(p);
}

/* One element from a buffer, as the control socket reads a frame. */
static void test_parse_element(void **state)
{
    struct parser_limits lim = {1024 * 1024, 64, 0, 0};
    xmpp_stanza_t *st = NULL;
    char detail[160];

    assert_int_equal(parser_parse_element(*state, &lim, "<iq type='get' id='1'><q xmlns='x'/></iq>",
                                          41, &st, detail, sizeof(detail)),
                     PARSER_OK);
    assert_non_null(st);
    assert_string_equal(xmpp_stanza_get_name(st), "iq");
    assert_string_equal(xmpp_stanza_get_ns(xmpp_stanza_get_children(st)), "x");
    xmpp_stanza_release(st);
    /* xml:lang is kept under its own name */
    const char *lang = "<iq xml:lang='ko' type='get'/>";
    assert_int_equal(parser_parse_element(*state, &lim, lang, strlen(lang), &st, NULL, 0),
                     PARSER_OK);
    assert_string_equal(xmpp_stanza_get_attribute(st, "xml:lang"), "ko");
    xmpp_stanza_release(st);
    /* not one element */
    static const char *const bad[] = {"",         "<iq/><iq/>",      "<iq>",         "text",
                                      "<iq></x>", "<!-- c --><iq/>", "<?pi x?><iq/>"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        st = (xmpp_stanza_t *)1;
        assert_int_not_equal(
            parser_parse_element(*state, &lim, bad[i], strlen(bad[i]), &st, detail, sizeof(detail)),
            PARSER_OK);
        assert_null(st);
        assert_true(detail[0] != '\0');
    }
    /* 1 MiB of unclosed elements: refused at max_depth, no recursion anywhere */
    char *deep = repeat("<iq>", "<a>", (1024 * 1024 - 4) / 3, "");
    assert_int_equal(
        parser_parse_element(*state, &lim, deep, strlen(deep), &st, detail, sizeof(detail)),
        PARSER_TOO_DEEP);
    assert_null(st);
    free(deep);
    /* above the size limit */
    char *big = repeat("<iq>", "<a/>", 300000, "</iq>");
    assert_int_equal(parser_parse_element(*state, &lim, big, strlen(big), &st, NULL, 0),
                     PARSER_TOO_LARGE);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_namespaces_kept),
        cmocka_unit_test(test_prefixed_stream_error),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_too_deep),
        cmocka_unit_test(test_restricted),
        cmocka_unit_test(test_malformed_and_reset),
        cmocka_unit_test(test_bad_root),
        cmocka_unit_test(test_stop_from_callback),
        cmocka_unit_test(test_many_children),
        cmocka_unit_test(test_text_children_in_order),
        cmocka_unit_test(test_too_many_attributes),
        cmocka_unit_test(test_xml_namespace_element),
        cmocka_unit_test(test_parse_element),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
