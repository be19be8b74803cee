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
    };
    log_set_level(LOG_LEVEL_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
