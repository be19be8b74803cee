/* Unit tests for component/engine/peer_answer: paging over domains then URI hashes,
 * "unchanged", peer-only rows never echoed, bad cursors; who counts as a peer. */
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

static struct peer_page answer_page(struct fx *fx, const char *known, const char *after)
{
    char *err = NULL, *xml = answer(fx, known, after, &err);
    struct peer_page p;

    assert_non_null(xml);
    assert_null(parse(fx, xml, &p));
    free(xml);
    return p;
}

static void test_answer_paging(void **state)
{
    struct fx *fx = *state;
    struct peer_page p;
    char *err = NULL, *version, name[64];
    size_t domains = 0;

    for (int i = 0; i < PEER_PAGE_DOMAINS + 5; i++) {
        snprintf(name, sizeof(name), "d%03d.example", i);
        assert_int_equal(store_domain_insert(fx->app.store, name, STORE_MANAGED_ADMIN, true),
                         STORE_OK);
    }
    assert_int_equal(
        store_domain_insert(fx->app.store, "peer.example", STORE_MANAGED_SYSTEM, false), STORE_OK);
    assert_int_equal(store_user_upsert(fx->app.store, "u1", "U1@Used.Example", NULL, NULL),
                     STORE_OK);
    assert_int_equal(store_user_upsert(fx->app.store, "u2", "", NULL, NULL), STORE_OK);
    /* first page: 200 domains, then a cursor into the domains */
    p = answer_page(fx, NULL, NULL);
    assert_int_equal(p.n_domains, PEER_PAGE_DOMAINS);
    assert_string_equal(p.next, "d:d199.example");
    assert_string_equal(p.default_domain, "DOMAIN.NOT.SET");
    domains += p.n_domains;
    version = xstrdup(p.version);
    peer_page_clear(&p);
    /* second page: the rest; the peer-only row is not echoed; the used domain is */
    p = answer_page(fx, NULL, "d:d199.example");
    domains += p.n_domains;
    assert_int_equal(domains, PEER_PAGE_DOMAINS + 6);
    assert_string_equal(p.domains[p.n_domains - 1].name, "used.example");
    assert_false(p.domains[p.n_domains - 1].configured);
    assert_int_equal(p.domains[p.n_domains - 1].users, 1);
    for (size_t i = 0; i < p.n_domains; i++)
        assert_string_not_equal(p.domains[i].name, "peer.example");
    assert_string_equal(p.next, "u:0:0");
    peer_page_clear(&p);
    /* the URI page: one hash (users without a URI are skipped), no next */
    p = answer_page(fx, NULL, "u:0:0");
    assert_int_equal(p.n_hashes, 1);
    {
        char h[PEER_HASH_HEX + 1];
        peer_uri_hash("u1@used.example", h);
        assert_string_equal(p.hashes[0], h);
    }
    assert_null(p.next);
    peer_page_clear(&p);
    /* unchanged while nothing changes; a change moves the marker */
    p = answer_page(fx, version, NULL);
    assert_true(p.unchanged);
    peer_page_clear(&p);
    assert_int_equal(store_domain_delete(fx->app.store, "d000.example"), STORE_OK);
    p = answer_page(fx, version, NULL);
    assert_false(p.unchanged);
    peer_page_clear(&p);
    free(version);
    /* cursors we never issue */
    assert_null(answer(fx, NULL, "x:1", &err));
    assert_non_null(strstr(err, "unknown paging cursor"));
    free(err);
    assert_null(answer(fx, NULL, "u:1:999999999", &err));
    free(err);
}

/* Follows the URI pages from `cursor`; returns the hashes seen; *partial: the last page said
 * that more exist than the protocol carries. */
static size_t follow_uri_pages(struct fx *fx, const char *cursor, char (*seen)[PEER_HASH_HEX + 1],
                               size_t max, bool *partial)
{
    char *after = xstrdup(cursor);
    size_t n = 0, pages = 0;

    *partial = false;
    while (after != NULL) {
        struct peer_page p = answer_page(fx, NULL, after);

        assert_true(++pages < 10);
        assert_int_equal(p.n_domains, 0);
        assert_true(p.n_hashes <= PEER_PAGE_URIS);
        for (size_t i = 0; i < p.n_hashes; i++) {
            assert_true(n < max);
            memcpy(seen[n++], p.hashes[i], PEER_HASH_HEX + 1);
        }
        free(after);
        after = p.next ? xstrdup(p.next) : NULL;
        *partial = p.uris_partial;
        assert_false(p.uris_partial && p.next); /* partial only on the last page */
        peer_page_clear(&p);
    }
    return n;
}

/* The URI hashes over several pages: every local URI once; at the protocol's limit of
 * PEER_MAX_URIS (a cursor that says that many minus a page were sent) the last page says
 * whether more exist, and only when they do. */
static void test_answer_uri_pages(void **state)
{
    struct fx *fx = *state;
    enum { USERS = PEER_PAGE_URIS + PEER_PAGE_URIS / 2 };
    char(*seen)[PEER_HASH_HEX + 1] = xcalloc(USERS + 1, sizeof(*seen));
    char userid[32], uri[64], h[PEER_HASH_HEX + 1], *cursor;
    bool partial;
    size_t n;

    assert_int_equal(store_begin(fx->app.store), STORE_OK);
    for (int i = 0; i < USERS; i++) {
        snprintf(userid, sizeof(userid), "u%04d", i);
        snprintf(uri, sizeof(uri), "U%04d@Corp.Example", i);
        assert_int_equal(store_user_upsert(fx->app.store, userid, uri, NULL, NULL), STORE_OK);
    }
    assert_int_equal(store_commit(fx->app.store), STORE_OK);

    n = follow_uri_pages(fx, "u:0:0", seen, USERS + 1, &partial);
    assert_int_equal(n, USERS);
    assert_false(partial);
    for (int i = 0; i < USERS; i++) { /* each URI once, as its lower-cased hash */
        size_t found = 0;
        snprintf(uri, sizeof(uri), "u%04d@corp.example", i);
        peer_uri_hash(uri, h);
        for (size_t j = 0; j < n; j++)
            found += strcmp(seen[j], h) == 0;
        assert_int_equal(found, 1);
    }

    /* one page short of the limit: a full page, then nothing more may be sent */
    cursor = xasprintf("u:0:%d", PEER_MAX_URIS - PEER_PAGE_URIS);
    n = follow_uri_pages(fx, cursor, seen, USERS + 1, &partial);
    free(cursor);
    assert_int_equal(n, PEER_PAGE_URIS);
    assert_true(partial);
    /* half a page short: the page is cut to what the limit leaves */
    cursor = xasprintf("u:0:%d", PEER_MAX_URIS - PEER_PAGE_URIS / 2);
    n = follow_uri_pages(fx, cursor, seen, USERS + 1, &partial);
    free(cursor);
    assert_int_equal(n, PEER_PAGE_URIS / 2);
    assert_true(partial);
    /* the limit reached with nothing left over: not partial */
    cursor = xasprintf("u:%d:%d", PEER_PAGE_URIS / 2, PEER_MAX_URIS - PEER_PAGE_URIS);
    n = follow_uri_pages(fx, cursor, seen, USERS + 1, &partial);
    free(cursor);
    assert_int_equal(n, PEER_PAGE_URIS);
    assert_false(partial);
    /* the limit already reached: an empty last page that says more exist */
    cursor = xasprintf("u:0:%d", PEER_MAX_URIS);
    n = follow_uri_pages(fx, cursor, seen, USERS + 1, &partial);
    free(cursor);
    assert_int_equal(n, 0);
    assert_true(partial);
    free(seen);
}

static void test_is_peer(void **state)
{
    struct fx *fx = *state;

    fx->cfg.peers[0] = xstrdup("b.example.test");
    fx->cfg.n_peers = 1;
    assert_true(peers_is_peer(&fx->app, "B.Example.Test"));
    assert_true(peers_is_peer(&fx->app, "b.example.test/res"));
    assert_false(peers_is_peer(&fx->app, "admin@b.example.test"));
    assert_false(peers_is_peer(&fx->app, "c.example.test"));
    assert_false(peers_is_peer(&fx->app, NULL));
    assert_int_equal(store_peer_add(fx->app.store, "c.example.test", false), STORE_OK);
    assert_true(peers_is_peer(&fx->app, "c.example.test"));
}

/* ---- the audit's peer rules ---- */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_answer_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_uri_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_is_peer, setup, teardown),
    };
    log_set_level(LOG_LEVEL_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
