/* Unit tests for component/engine/peer_findings: the consistency findings and the age of an
 * expired peer, in both languages. */
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

static bool has_finding(struct fx *fx, const char *words)
{
    struct peer_finding *v = NULL;
    size_t n = 0;
    bool found = false;

    assert_int_equal(peer_findings(&fx->app, &v, &n), STORE_OK);
    for (size_t i = 0; i < n; i++)
        found = found || strstr(v[i].en, words) != NULL;
    peer_findings_free(v, n);
    return found;
}

static void test_findings(void **state)
{
    struct fx *fx = *state;
    struct store_peer_domain said[] = {{"shared.example", "Shared.EXAMPLE", true, 0},
                                       {"other.example", "Other.Example", true, 0}};
    struct store_peer_data d = {"v",   "b.example", "directory-uri",    said, 2, 10,
                                false, 3,           "carol@dup.example"};

    assert_false(has_finding(fx, "differs"));
    assert_int_equal(
        store_domain_insert(fx->app.store, "shared.example", STORE_MANAGED_ADMIN, true), STORE_OK);
    assert_int_equal(store_peer_add(fx->app.store, "b.example.test", false), STORE_OK);
    assert_int_equal(store_peer_mark_failed(fx->app.store, "b.example.test", "timed out", 5),
                     STORE_OK);
    assert_true(has_finding(fx, "Peer b.example.test has never answered (timed out)"));
    assert_int_equal(store_peer_replace(fx->app.store, "b.example.test", &d, 100), STORE_OK);
    assert_true(has_finding(fx, "default domain differs: DOMAIN.NOT.SET here, b.example"));
    assert_true(has_finding(fx, "IM address scheme differs: userid@default here, directory-uri"));
    assert_true(has_finding(fx, "3 directory URI(s) exist both here and on peer b.example.test "
                                "(for example carol@dup.example)"));
    assert_true(has_finding(fx, "Domain shared.example is configured here and on peer "
                                "b.example.test as Shared.EXAMPLE"));
    /* only domains configured on both count */
    assert_false(has_finding(fx, "Other.Example"));
    assert_false(has_finding(fx, "stale"));
    assert_int_equal(store_peer_mark_failed(fx->app.store, "b.example.test", "gone", 200),
                     STORE_OK);
    /* an answer of 1970 is stale, still counted, only while nothing expires */
    fx->cfg.peer_forget_after = 0;
    assert_true(has_finding(fx, "Peer b.example.test is stale: its last refresh failed (gone); "
                                "the peer data shown is from 1970-01-01 00:01:40 UTC and still "
                                "counts."));
    assert_false(has_finding(fx, "expired"));
    fx->cfg.peer_forget_after = 7 * 86400;
    assert_false(has_finding(fx, "is stale"));
    assert_true(has_finding(fx, "Peer b.example.test is expired: no good answer for "));
    assert_true(has_finding(fx, "(since 1970-01-01 00:01:40 UTC; its last refresh failed: gone), "
                                "longer than [peers] forget_after (604800 s). Its data is kept "
                                "and shown but no longer counts"));
    assert_true(has_finding(fx, "or remove it (peers remove, or from [peers] jids)."));
}

/* The age in an expired peer's finding, in both languages. */
static void test_expired_age(void **state)
{
    struct fx *fx = *state;
    struct store_peer_data d = {"v", "DOMAIN.NOT.SET", "userid@default", NULL, 0, 0, false, 0,
                                NULL};
    int64_t now = (int64_t)time(NULL);
    struct peer_finding *v = NULL;
    size_t n = 0;

    fx->cfg.peer_forget_after = 3600;
    assert_int_equal(store_peer_add(fx->app.store, "b.example.test", false), STORE_OK);
    /* 8 days and 2 hours ago: far from any boundary, whatever second the test runs in */
    assert_int_equal(
        store_peer_replace(fx->app.store, "b.example.test", &d, now - 8 * 86400 - 7200 - 30),
        STORE_OK);
    assert_int_equal(peer_findings(&fx->app, &v, &n), STORE_OK);
    assert_int_equal(n, 1);
    assert_non_null(strstr(v[0].en, "no good answer for 8d 2h (since "));
    assert_non_null(strstr(v[0].ko, "8일 2시간 동안 정상 응답이 없었습니다"));
    assert_null(strstr(v[0].en, "last refresh failed")); /* no failure recorded */
    peer_findings_free(v, n);
    /* fresh again: no finding */
    assert_int_equal(store_peer_mark_fresh(fx->app.store, "b.example.test", now), STORE_OK);
    assert_int_equal(peer_findings(&fx->app, &v, &n), STORE_OK);
    assert_int_equal(n, 0);
    peer_findings_free(v, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_findings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_age, setup, teardown),
    };
    log_set_level(LOG_LEVEL_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
