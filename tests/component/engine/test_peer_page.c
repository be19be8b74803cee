/* Unit tests for component/engine/peer_page: the URI hash and the checks on a peer's answer
 * page (each limit and each kind of garbage). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/lib/peers_fixture.h"
#include "component/app.h"
#include "component/config.h"
#include "component/engine/peer_answer.h"
#include "component/engine/peer_findings.h"
#include "component/engine/peer_page.h"
#include "component/engine/peers_window.h"
#include "component/engine/sync.h"
#include "store/store_domain.h"
#include "store/store_peer.h"
#include "store/store_settings.h"
#include "store/store_user.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void test_uri_hash(void **state)
{
    char a[PEER_HASH_HEX + 1], b[PEER_HASH_HEX + 1], c[PEER_HASH_HEX + 1];

    (void)state;
    peer_uri_hash("Carol@Dup.Example", a);
    peer_uri_hash("carol@dup.example", b);
    peer_uri_hash("carol@dup.example2", c);
    assert_int_equal(strlen(a), PEER_HASH_HEX);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
}

/* ---- parsing answers ---- */

#define HDR "<peer xmlns='urn:imdomaind:peer:0' version='e-1' default-domain='x.example' "

static void expect_error(struct fx *fx, const char *xml, const char *words)
{
    struct peer_page p;
    char *err = parse(fx, xml, &p);

    assert_non_null(err);
    if (strstr(err, words) == NULL)
        fail_msg("error '%s' lacks '%s'", err, words);
    free(err);
}

static void test_parse_good(void **state)
{
    struct fx *fx = *state;
    struct peer_page p;

    assert_null(parse(fx,
                      HDR "scheme='directory-uri' next='u:0:0'>"
                          "<domain name='A.Example' configured='true' users='0'/>"
                          "<domain name='b.example' configured='false' users='12'/>"
                          "<uri hash='0123456789abcdef'/></peer>",
                      &p));
    assert_string_equal(p.version, "e-1");
    assert_false(p.unchanged);
    assert_string_equal(p.im_address_scheme, "directory-uri");
    assert_string_equal(p.next, "u:0:0");
    assert_int_equal(p.n_domains, 2);
    assert_string_equal(p.domains[0].name, "A.Example");
    assert_true(p.domains[0].configured);
    assert_int_equal(p.domains[1].users, 12);
    assert_int_equal(p.n_hashes, 1);
    peer_page_clear(&p);
    assert_null(
        parse(fx, "<peer xmlns='urn:imdomaind:peer:0' version='e-1' unchanged='true'/>", &p));
    assert_true(p.unchanged);
    peer_page_clear(&p);
    /* the placeholder default domain is a valid answer */
    assert_null(parse(fx,
                      "<peer xmlns='urn:imdomaind:peer:0' version='v' "
                      "default-domain='DOMAIN.NOT.SET' scheme='userid@default'/>",
                      &p));
    peer_page_clear(&p);
}

static void test_parse_garbage(void **state)
{
    struct fx *fx = *state;

    expect_error(fx, "<peer xmlns='urn:other' version='1'/>", "no <peer xmlns");
    expect_error(fx, "<query xmlns='urn:imdomaind:peer:0' version='1'/>", "no <peer xmlns");
    expect_error(fx, "<peer xmlns='urn:imdomaind:peer:0'/>", "no version marker");
    expect_error(fx, "<peer xmlns='urn:imdomaind:peer:0' version='a b'/>", "no version marker");
    expect_error(fx, HDR "scheme='email'/>", "address scheme");
    expect_error(fx,
                 "<peer xmlns='urn:imdomaind:peer:0' version='1' default-domain='bad..x' "
                 "scheme='userid@default'/>",
                 "default domain");
    expect_error(fx,
                 HDR "scheme='userid@default'><domain name='Abc.1om' configured='true' "
                     "users='0'/></peer>",
                 "breaks the domain rules");
    expect_error(fx,
                 HDR "scheme='userid@default'><domain name='a.example' configured='yes' "
                     "users='0'/></peer>",
                 "'configured' must be");
    expect_error(fx,
                 HDR "scheme='userid@default'><domain name='a.example' configured='true' "
                     "users='1234567890'/></peer>",
                 "'users' a count");
    expect_error(fx, HDR "scheme='userid@default'><uri hash='0123456789ABCDEF'/></peer>",
                 "lower-case hex");
    expect_error(fx, HDR "scheme='userid@default'><script/></peer>", "unexpected element");
}

/* A pretty-printed answer (text between the elements) is the same answer; 'unchanged' and
 * 'uris-partial' mean yes only when they say "true". */
static void test_parse_layout_and_flags(void **state)
{
    struct fx *fx = *state;
    struct peer_page p;

    assert_null(parse(fx,
                      HDR "scheme='userid@default' unchanged='false' uris-partial='yes'>\n"
                          "  <domain name='a.example' configured='true' users='0'/>\n"
                          "  <uri hash='0123456789abcdef'/>\n</peer>",
                      &p));
    assert_false(p.unchanged);
    assert_false(p.uris_partial);
    assert_int_equal(p.n_domains, 1);
    assert_int_equal(p.n_hashes, 1);
    assert_null(p.next);
    peer_page_clear(&p);
}

/* What a hostile or broken peer may send in the attributes, each refused with its reason. */
static void test_parse_hostile_attributes(void **state)
{
    struct fx *fx = *state;
    char *xml, *long_name = malloc(301);

    /* the version marker: a control character, or longer than the protocol allows */
    expect_error(fx, "<peer xmlns='urn:imdomaind:peer:0' version='a&#9;b'/>", "no version marker");
    memset(long_name, 'v', 300);
    long_name[300] = '\0';
    xml = xasprintf("<peer xmlns='urn:imdomaind:peer:0' version='%s'/>", long_name);
    expect_error(fx, xml, "no version marker");
    free(xml);
    /* the paging cursor: empty, or too long */
    expect_error(fx, HDR "scheme='userid@default' next=''/>", "the paging cursor is empty");
    xml = xasprintf(HDR "scheme='userid@default' next='%s'/>", long_name);
    expect_error(fx, xml, "longer than 255 characters");
    free(xml);
    /* no scheme, no default domain */
    expect_error(fx, HDR "/>", "address scheme");
    expect_error(fx, "<peer xmlns='urn:imdomaind:peer:0' version='1' scheme='userid@default'/>",
                 "the default domain is missing");
    /* a domain without a name, or with a long bad one (quoted cut short) */
    expect_error(fx, HDR "scheme='userid@default'><domain configured='true' users='0'/></peer>",
                 "breaks the domain rules ()");
    memset(long_name, 'x', 300);
    memcpy(long_name + 100, "..", 2);
    xml = xasprintf(HDR "scheme='userid@default'><domain name='%s' configured='true' "
                        "users='0'/></peer>",
                    long_name);
    expect_error(fx, xml, "breaks the domain rules (xxxxxxxxxxxxxxxx");
    expect_error(fx, xml, "...)");
    free(xml);
    /* counts: missing, empty, signed */
    expect_error(fx,
                 HDR "scheme='userid@default'><domain name='a.example' configured='true'/></peer>",
                 "'users' a count");
    expect_error(fx,
                 HDR "scheme='userid@default'><domain name='a.example' configured='true' "
                     "users=''/></peer>",
                 "'users' a count");
    expect_error(fx,
                 HDR "scheme='userid@default'><domain name='a.example' configured='true' "
                     "users='+5'/></peer>",
                 "'users' a count");
    expect_error(fx, HDR "scheme='userid@default'><domain name='a.example' users='1'/></peer>",
                 "'configured' must be");
    /* hashes: missing, short, not hex */
    expect_error(fx, HDR "scheme='userid@default'><uri/></peer>", "lower-case hex");
    expect_error(fx, HDR "scheme='userid@default'><uri hash='0123456789abcde'/></peer>",
                 "lower-case hex");
    expect_error(fx, HDR "scheme='userid@default'><uri hash='0123456789abcdeg'/></peer>",
                 "lower-case hex");
    free(long_name);
}

static void test_parse_limits(void **state)
{
    struct fx *fx = *state;
    size_t cap = 64 * 1024;
    char *xml = malloc(cap);
    size_t len = (size_t)snprintf(xml, cap, HDR "scheme='userid@default'>");

    for (int i = 0; i <= PEER_PAGE_DOMAINS; i++)
        len += (size_t)snprintf(xml + len, cap - len,
                                "<domain name='d%d.example' configured='true' users='1'/>", i);
    snprintf(xml + len, cap - len, "</peer>");
    expect_error(fx, xml, "more than 200 domains in one page");
    len = (size_t)snprintf(xml, cap, HDR "scheme='userid@default'>");
    for (int i = 0; i <= PEER_PAGE_URIS; i++)
        len += (size_t)snprintf(xml + len, cap - len, "<uri hash='%016x'/>", i);
    snprintf(xml + len, cap - len, "</peer>");
    expect_error(fx, xml, "more than 1000 directory URI hashes");
    free(xml);
}

/* ---- answering ---- */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uri_hash),
        cmocka_unit_test_setup_teardown(test_parse_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_layout_and_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_hostile_attributes, setup, teardown),
    };
    log_set_level(LOG_LEVEL_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
