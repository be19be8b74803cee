/* Unit tests for xmpp/stanza.c's stanza_scrub_xml(): what XML 1.0 allows stays byte for byte
 * (ASCII, tab/newline/CR, Korean, 4-byte characters, markup), everything else becomes '?' one
 * byte each (controls, stray continuation bytes, overlong forms, surrogates, U+FFFE/U+FFFF,
 * past U+10FFFF, a sequence cut at the end), and a stanza with such text serialises to XML
 * that the project's own parser accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "xmpp/parser.h"
#include "xmpp/stanza.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void scrubs_to(const char *in, size_t len, const char *want, size_t replaced)
{
    char *buf = malloc(len + 1);

    assert_non_null(buf);
    memcpy(buf, in, len + 1);
    assert_int_equal(stanza_scrub_xml(buf, len), replaced);
    assert_memory_equal(buf, want, len);
    free(buf);
}

#define SCRUB(in, want, n) scrubs_to(in, sizeof(in) - 1, want, n)

static void test_allowed_text_stays(void **state)
{
    (void)state;
    SCRUB("<note type='error'>bad &amp; wrong</note>", "<note type='error'>bad &amp; wrong</note>",
          0);
    SCRUB("tab\tnewline\ncr\r", "tab\tnewline\ncr\r", 0);
    SCRUB("디렉터리 é ü", "디렉터리 é ü", 0);
    SCRUB("\xf0\x9f\x98\x80 \xef\xbf\xbd \xed\x9f\xbf",
          "\xf0\x9f\x98\x80 \xef\xbf\xbd \xed\x9f\xbf", 0); /* U+1F600, U+FFFD, U+D7FF */
    SCRUB("", "", 0);
}

static void test_forbidden_bytes_replaced(void **state)
{
    (void)state;
    SCRUB("a\x01"
          "b\x1b[31mc\x7f",
          "a?b?[31mc\x7f", 2); /* DEL is allowed in XML 1.0 */
    SCRUB("latin-1 \xe9t\xe9", "latin-1 ?t?", 2);
    SCRUB("\x80\xbf", "??", 2);                     /* continuation bytes alone */
    SCRUB("\xc0\xaf\xc1\xbf", "????", 4);           /* overlong 2-byte forms */
    SCRUB("\xe0\x80\xaf", "???", 3);                /* overlong 3-byte form */
    SCRUB("\xf0\x80\x80\xaf", "????", 4);           /* overlong 4-byte form */
    SCRUB("\xed\xa0\x80", "???", 3);                /* U+D800, a surrogate */
    SCRUB("\xef\xbf\xbe\xef\xbf\xbf", "??????", 6); /* U+FFFE, U+FFFF */
    SCRUB("\xf4\x90\x80\x80\xf5\x80", "??????", 6); /* past U+10FFFF */
    SCRUB("ok \xe4\xb8", "ok ??", 2);               /* cut at the end */
    SCRUB("\xe4x\xb8", "?x?", 2);                   /* cut in the middle */
}

static void count_stanza(void *ud, xmpp_stanza_t *st)
{
    (void)st;
    (*(int *)ud)++;
}

/* End to end: libstrophe passes the control byte through; after scrubbing, a parser takes it. */
static void test_serialised_stanza_parses(void **state)
{
    xmpp_ctx_t *ctx = xmpp_ctx_new(NULL, NULL);
    xmpp_stanza_t *msg = xmpp_message_new(ctx, "normal", "a@example.test", NULL);
    char *text = NULL, *stream;
    size_t len = 0;
    int stanzas = 0;
    const struct parser_callbacks cb = {.stanza = count_stanza};
    const struct parser_limits lim = {.max_stanza_size = 65536, .max_depth = 16};
    parser_t *p;

    (void)state;
    stanza_add_text_element(msg, "body", "refused: \x01\xff bye");
    assert_int_equal(xmpp_stanza_to_text(msg, &text, &len), XMPP_EOK);
    assert_non_null(memchr(text, '\x01', len));
    assert_int_equal(stanza_scrub_xml(text, len), 2);
    assert_non_null(strstr(text, "refused: ?? bye"));
    stream = malloc(len + 128);
    assert_non_null(stream);
    len = (size_t)snprintf(stream, len + 128, "<stream:stream xmlns:stream='%s' xmlns='%s'>%s",
                           PARSER_NS_STREAMS, "jabber:component:accept", text);
    p = parser_new(ctx, &lim, &cb, &stanzas);
    assert_non_null(p);
    assert_int_equal(parser_feed(p, stream, len), PARSER_OK);
    assert_int_equal(stanzas, 1);
    parser_free(p);
    free(stream);
    xmpp_free(ctx, text);
    xmpp_stanza_release(msg);
    xmpp_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowed_text_stays),
        cmocka_unit_test(test_forbidden_bytes_replaced),
        cmocka_unit_test(test_serialised_stanza_parses),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
