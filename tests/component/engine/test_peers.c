/* Unit tests for component/engine/peers and peers_window: the [peers] configuration, the
 * cutoff of peers that count, and the sync audit's peer rules. */
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

static int load(struct config *cfg, const char *text)
{
    char path[] = "/tmp/imd-peers-conf-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    FILE *errs = fopen("/dev/null", "w");
    int n;

    fputs(text, f);
    fclose(f);
    config_defaults(cfg);
    n = config_load(cfg, path, errs);
    fclose(errs);
    unlink(path);
    return n;
}

static void test_config(void **state)
{
    struct config cfg;

    (void)state;
    assert_int_equal(load(&cfg, "[peers]\njids = B.Example.Test , c.example.test\nrefresh = 60\n"),
                     0);
    assert_int_equal(cfg.n_peers, 2);
    assert_string_equal(cfg.peers[0], "b.example.test");
    assert_int_equal(cfg.peer_refresh, 60);
    assert_int_equal(cfg.peer_timeout, 10);
    assert_int_equal(cfg.peer_forget_after, 7 * 86400);
    config_free(&cfg);
    /* a user JID is not a component; refresh 0 is out of range */
    assert_int_equal(load(&cfg, "[peers]\njids = admin@example.test\nrefresh = 0\n"), 2);
    assert_int_equal(cfg.n_peers, 0);
    config_free(&cfg);
}

/* [peers] forget_after: 0 (never) or longer than refresh; negative is out of range. */
static void test_config_forget_after(void **state)
{
    static const char base[] = "[component]\njid = a.example.test\nsecret = s\n"
                               "[peers]\nrefresh = 60\n";
    struct config cfg;
    FILE *errs = fopen("/dev/null", "w");
    char *text;

    (void)state;
    text = xasprintf("%sforget_after = 61\n", base);
    assert_int_equal(load(&cfg, text) + config_finish(&cfg, "t", errs), 0);
    assert_int_equal(cfg.peer_forget_after, 61);
    config_free(&cfg);
    free(text);
    text = xasprintf("%sforget_after = 0\n", base);
    assert_int_equal(load(&cfg, text) + config_finish(&cfg, "t", errs), 0);
    assert_int_equal(cfg.peer_forget_after, 0);
    config_free(&cfg);
    free(text);
    /* a peer would expire between two refreshes */
    text = xasprintf("%sforget_after = 60\n", base);
    assert_int_equal(load(&cfg, text) + config_finish(&cfg, "t", errs), 1);
    config_free(&cfg);
    free(text);
    text = xasprintf("%sforget_after = -1\n", base);
    assert_int_equal(load(&cfg, text), 1);
    config_free(&cfg);
    free(text);
    fclose(errs);
}

/* ---- the hash ---- */

static void assert_domain(struct fx *fx, const char *name, enum store_managed_by by, bool local)
{
    struct store_domain d;

    assert_int_equal(store_domain_get(fx->app.store, name, &d), STORE_OK);
    assert_int_equal(d.managed_by, by);
    assert_int_equal(d.configured_local, local);
    store_domain_clear(&d);
}

/* What peer b says in the audit tests: one domain its users use, one it configures, one it
 * configures and uses that is also local here (add_local_both()). */
#define PEER_SAYS_THREE                                                                            \
    {                                                                                              \
        {"used.example", NULL, false, 4}, {"conf.example", NULL, true, 0},                         \
        {                                                                                          \
            "both.example", NULL, true, 2                                                          \
        }                                                                                          \
    }

static void add_local_both(struct fx *fx)
{
    assert_int_equal(store_domain_insert(fx->app.store, "both.example", STORE_MANAGED_ADMIN, true),
                     STORE_OK);
}

static void test_sync_peer_rules(void **state)
{
    struct fx *fx = *state;
    struct store_peer_domain said[] = PEER_SAYS_THREE;
    struct sync_report r;

    add_local_both(fx);
    assert_int_equal(store_domain_insert(fx->app.store, "old.example", STORE_MANAGED_SYSTEM, false),
                     STORE_OK);
    /* a peer that never answered: peer-only rows are left alone */
    assert_int_equal(store_peer_add(fx->app.store, "c.example.test", false), STORE_OK);
    peer_says(fx, "b.example.test", said, 3);
    audit(fx, &r);
    assert_int_equal(r.peer_added.n, 2);
    assert_int_equal(r.removed.n, 0);
    assert_int_equal(r.to_system.n, 1); /* both.example: peer users use it */
    sync_report_clear(&r);
    assert_domain(fx, "used.example", STORE_MANAGED_SYSTEM, false);
    assert_domain(fx, "conf.example", STORE_MANAGED_ADMIN, false);
    assert_domain(fx, "both.example", STORE_MANAGED_SYSTEM, true);
    assert_domain(fx, "old.example", STORE_MANAGED_SYSTEM, false);
    /* every peer has answered: old.example is gone everywhere; the peer drops its users */
    assert_int_equal(store_peer_remove(fx->app.store, "c.example.test"), STORE_OK);
    said[0].users = 0;
    said[2].users = 0;
    peer_says(fx, "b.example.test", said, 3);
    audit(fx, &r);
    assert_int_equal(r.removed.n, 2);
    assert_string_equal(r.removed.v[0], "old.example");
    assert_string_equal(r.removed.v[1], "used.example");
    sync_report_clear(&r);
    assert_domain(fx, "both.example", STORE_MANAGED_ADMIN, true);
    /* used.example: no users, not configured by the peer: gone */
    assert_int_equal(store_domain_exists(fx->app.store, "used.example"), STORE_NOTFOUND);
    assert_domain(fx, "conf.example", STORE_MANAGED_ADMIN, false);
    /* the peer removed: its configured-only domain goes; the local one stays */
    assert_int_equal(store_peer_remove(fx->app.store, "b.example.test"), STORE_OK);
    audit(fx, &r);
    sync_report_clear(&r);
    assert_int_equal(store_domain_exists(fx->app.store, "conf.example"), STORE_NOTFOUND);
    assert_domain(fx, "both.example", STORE_MANAGED_ADMIN, true);
}

/* The cutoff itself: forget_after before now; 0 counts every peer; never-answered peers are
 * not expired (they have nothing to forget). */
static void test_cutoff(void **state)
{
    struct fx *fx = *state;

    fx->cfg.peer_forget_after = 50;
    assert_int_equal(peers_counted_since(&fx->cfg, 1000), 950);
    assert_false(peers_expired(950, 950)); /* exactly forget_after old: still counts */
    assert_true(peers_expired(949, 950));
    assert_false(peers_expired(0, 950)); /* never answered */
    fx->cfg.peer_forget_after = 0;
    assert_int_equal(peers_counted_since(&fx->cfg, 1000), 0);
    assert_false(peers_expired(1, 0));
}

/* What the audit does with an expired peer: its peer-only domains are no longer on any peer
 * (gone once every peer that is not expired has answered), a domain also configured locally
 * stays local, and the peer answering again brings them back. */
static void test_sync_expired_peer(void **state)
{
    struct fx *fx = *state;
    struct store_peer_domain said[] = PEER_SAYS_THREE;
    struct sync_report r;

    add_local_both(fx);
    peer_says(fx, "b.example.test", said, 3); /* answered at 100 */
    audit_since(fx, 100, &r);                 /* fresh */
    assert_int_equal(r.peer_added.n, 2);
    sync_report_clear(&r);
    /* stale but counted: the refresh fails, the answer of 100 still counts */
    assert_int_equal(store_peer_mark_failed(fx->app.store, "b.example.test", "gone", 150),
                     STORE_OK);
    audit_since(fx, 90, &r);
    assert_false(sync_report_changed(&r));
    sync_report_clear(&r);
    assert_domain(fx, "used.example", STORE_MANAGED_SYSTEM, false);
    /* expired, but a peer that never answered holds peer-only domains back */
    assert_int_equal(store_peer_add(fx->app.store, "c.example.test", false), STORE_OK);
    audit_since(fx, 101, &r);
    assert_int_equal(r.removed.n, 0);
    assert_int_equal(r.to_admin.n, 1); /* both.example: local, no counted users */
    sync_report_clear(&r);
    assert_domain(fx, "used.example", STORE_MANAGED_SYSTEM, false);
    assert_domain(fx, "both.example", STORE_MANAGED_ADMIN, true);
    /* every peer not expired has answered: the expired peer's peer-only domains go */
    assert_int_equal(store_peer_remove(fx->app.store, "c.example.test"), STORE_OK);
    audit_since(fx, 101, &r);
    assert_int_equal(r.removed.n, 2);
    sync_report_clear(&r);
    assert_int_equal(store_domain_exists(fx->app.store, "used.example"), STORE_NOTFOUND);
    assert_int_equal(store_domain_exists(fx->app.store, "conf.example"), STORE_NOTFOUND);
    assert_domain(fx, "both.example", STORE_MANAGED_ADMIN, true);
    /* its data is kept; answering again (the data counts again) brings the domains back */
    assert_int_equal(store_peer_mark_fresh(fx->app.store, "b.example.test", 200), STORE_OK);
    audit_since(fx, 101, &r);
    assert_int_equal(r.peer_added.n, 2);
    assert_int_equal(r.to_system.n, 1);
    sync_report_clear(&r);
    assert_domain(fx, "used.example", STORE_MANAGED_SYSTEM, false);
    assert_domain(fx, "conf.example", STORE_MANAGED_ADMIN, false);
    assert_domain(fx, "both.example", STORE_MANAGED_SYSTEM, true);
}

/* ---- findings ---- */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_config_forget_after),
        cmocka_unit_test_setup_teardown(test_sync_peer_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cutoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_expired_peer, setup, teardown),
    };
    log_set_level(LOG_LEVEL_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
