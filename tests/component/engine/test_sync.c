/* Unit tests for component/sync: each rule of the audit (added, admin->system, system->admin,
 * the peer-only cases of DOMAIN.md, invalid names skipped), idempotence, joining a caller's
 * transaction, the report's forms, the audit-time arithmetic and the nightly timer's life. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "component/engine/services.h"
#include "component/engine/sync.h"
#include "store/store_audit.h"
#include "store/store_domain.h"
#include "store/store_settings.h"
#include "store/store_topo.h"
#include "store/store_user.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fx {
    struct store *st;
    struct sync_report r;
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    char *err = NULL;

    fx->st = store_open(":memory:", &err);
    if (fx->st == NULL) {
        free(err);
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    sync_report_clear(&fx->r);
    store_close(fx->st);
    free(fx);
    return 0;
}

static void user(struct fx *fx, const char *userid, const char *uri)
{
    assert_int_equal(store_user_upsert(fx->st, userid, uri, NULL, NULL), STORE_OK);
}

static void domain(struct fx *fx, const char *name, enum store_managed_by by, bool local)
{
    assert_int_equal(store_domain_insert(fx->st, name, by, local), STORE_OK);
}

/* Runs the audit into fx->r (cleared first). */
static void run(struct fx *fx)
{
    char *err = NULL;

    sync_report_clear(&fx->r);
    assert_int_equal(sync_run(fx->st, 0, &fx->r, &err), 0);
    assert_null(err);
}

static void assert_domain(struct fx *fx, const char *name, enum store_managed_by by, bool local)
{
    struct store_domain d;

    assert_int_equal(store_domain_get(fx->st, name, &d), STORE_OK);
    assert_int_equal(d.managed_by, by);
    assert_int_equal(d.configured_local, local);
    store_domain_clear(&d);
}

static void assert_names(const struct sync_names *names, const char *first, size_t n)
{
    assert_int_equal(names->n, n);
    if (n > 0)
        assert_string_equal(names->v[0], first);
}

static void test_adds_missing(void **state)
{
    struct fx *fx = *state;

    user(fx, "alice", "alice@Sales.Example.COM");
    user(fx, "bob", "bob@sales.example.com");
    user(fx, "carol", "carol@eng.example.com");
    user(fx, "dave", ""); /* no directory URI: counts nowhere */
    run(fx);
    assert_names(&fx->r.added, "eng.example.com", 2);
    assert_string_equal(fx->r.added.v[1], "sales.example.com");
    assert_int_equal(fx->r.users_scanned, 3);
    assert_int_equal(fx->r.domains_in_use, 2);
    assert_true(sync_report_changed(&fx->r));
    assert_true(sync_report_local_changed(&fx->r));
    assert_domain(fx, "sales.example.com", STORE_MANAGED_SYSTEM, true);
    assert_domain(fx, "eng.example.com", STORE_MANAGED_SYSTEM, true);
}

static void test_admin_to_system(void **state)
{
    struct fx *fx = *state;

    domain(fx, "a.example", STORE_MANAGED_ADMIN, true);
    domain(fx, "idle.example", STORE_MANAGED_ADMIN, true);
    user(fx, "u1", "u1@a.example");
    run(fx);
    assert_names(&fx->r.to_system, "a.example", 1);
    assert_names(&fx->r.added, NULL, 0);
    assert_names(&fx->r.to_admin, NULL, 0);
    assert_false(sync_report_local_changed(&fx->r)); /* a flip is no router change */
    assert_domain(fx, "a.example", STORE_MANAGED_SYSTEM, true);
    assert_domain(fx, "idle.example", STORE_MANAGED_ADMIN, true); /* unused admin: untouched */
}

static void test_system_to_admin(void **state)
{
    struct fx *fx = *state;

    user(fx, "u1", "u1@a.example");
    user(fx, "u2", "u2@a.example");
    run(fx);
    assert_int_equal(store_user_delete(fx->st, "u1"), STORE_OK);
    run(fx);
    assert_false(sync_report_changed(&fx->r)); /* one user is left */
    assert_int_equal(store_user_upsert(fx->st, "u2", "u2@b.example", NULL, NULL), STORE_OK);
    run(fx);
    assert_names(&fx->r.to_admin, "a.example", 1);
    assert_names(&fx->r.added, "b.example", 1);
    assert_domain(fx, "a.example", STORE_MANAGED_ADMIN, true); /* still listed: admin may delete */
    assert_domain(fx, "b.example", STORE_MANAGED_SYSTEM, true);
}

/* DOMAIN.md: a domain used only on a peer shows system-managed and "peer only"; the local
 * audit has no say over it, whether it is system- or admin-managed. */
static void test_peer_only_untouched(void **state)
{
    struct fx *fx = *state;

    domain(fx, "peer.example", STORE_MANAGED_SYSTEM, false);
    domain(fx, "peer-admin.example", STORE_MANAGED_ADMIN, false);
    run(fx);
    assert_false(sync_report_changed(&fx->r));
    assert_domain(fx, "peer.example", STORE_MANAGED_SYSTEM, false);
    assert_domain(fx, "peer-admin.example", STORE_MANAGED_ADMIN, false);
}

/* A peer-only domain that local users start to use is local too (local+peer), and
 * system-managed. When the local users go, it flips back to admin but stays listed. */
static void test_peer_only_used_locally(void **state)
{
    struct fx *fx = *state;

    domain(fx, "shared.example", STORE_MANAGED_ADMIN, false);
    domain(fx, "peer.example", STORE_MANAGED_SYSTEM, false);
    user(fx, "u1", "u1@shared.example");
    user(fx, "u2", "u2@peer.example");
    run(fx);
    assert_names(&fx->r.made_local, "peer.example", 2);
    assert_string_equal(fx->r.made_local.v[1], "shared.example");
    assert_names(&fx->r.to_system, "shared.example", 1);
    assert_names(&fx->r.added, NULL, 0);
    assert_true(sync_report_local_changed(&fx->r));
    assert_domain(fx, "shared.example", STORE_MANAGED_SYSTEM, true);
    assert_domain(fx, "peer.example", STORE_MANAGED_SYSTEM, true);
    assert_int_equal(store_user_delete(fx->st, "u1"), STORE_OK);
    run(fx);
    assert_names(&fx->r.to_admin, "shared.example", 1);
    assert_domain(fx, "shared.example", STORE_MANAGED_ADMIN, true);
}

static void test_idempotent(void **state)
{
    struct fx *fx = *state;

    domain(fx, "a.example", STORE_MANAGED_ADMIN, true);
    domain(fx, "old.example", STORE_MANAGED_SYSTEM, true);
    user(fx, "u1", "u1@a.example");
    user(fx, "u2", "u2@new.example");
    run(fx);
    assert_true(sync_report_changed(&fx->r));
    run(fx);
    assert_false(sync_report_changed(&fx->r));
    assert_int_equal(fx->r.users_scanned, 2);
    assert_null(sync_report_table(&fx->r, NULL));
}

static void test_invalid_names_skipped(void **state)
{
    struct fx *fx = *state;
    int64_t count = -1;

    user(fx, "u1", "u1@abc.1om");        /* the guide's example of an invalid name */
    user(fx, "u2", "u2@domain.not.set"); /* the placeholder is reserved */
    user(fx, "u3", "u3@good.example");
    run(fx);
    assert_names(&fx->r.skipped, "abc.1om", 2);
    assert_names(&fx->r.added, "good.example", 1);
    assert_int_equal(store_domain_count(fx->st, NULL, &count), STORE_OK);
    assert_int_equal(count, 1);
    form_t *t = sync_report_table(&fx->r, "en");
    assert_non_null(t);
    assert_int_equal(form_row_count(t), 3);
    assert_string_equal(form_cell(t, 1, 1), "skipped");
    assert_string_equal(form_cell(t, 1, 2), "the last label must not start with a digit");
    form_free(t);
}

/* Inside the caller's transaction the audit joins it: a rollback undoes it too. */
static void test_joins_transaction(void **state)
{
    struct fx *fx = *state;
    int64_t count = -1;

    user(fx, "u1", "u1@a.example");
    assert_int_equal(store_begin(fx->st), STORE_OK);
    run(fx);
    assert_true(store_in_transaction(fx->st));
    assert_int_equal(store_rollback(fx->st), STORE_OK);
    assert_int_equal(store_domain_count(fx->st, NULL, &count), STORE_OK);
    assert_int_equal(count, 0);
    run(fx); /* on its own: commits */
    assert_false(store_in_transaction(fx->st));
    assert_int_equal(store_domain_count(fx->st, NULL, &count), STORE_OK);
    assert_int_equal(count, 1);
}

static void test_report_forms(void **state)
{
    struct fx *fx = *state;
    form_t *f, *t;

    domain(fx, "flip.example", STORE_MANAGED_ADMIN, true);
    user(fx, "u1", "u1@flip.example");
    user(fx, "u2", "u2@new.example");
    run(fx);
    f = sync_report_form(&fx->r);
    assert_string_equal(form_value(f, "users_scanned"), "2");
    assert_string_equal(form_value(f, "added"), "1");
    assert_string_equal(form_value(f, "admin_to_system"), "1");
    assert_string_equal(form_value(f, "system_to_admin"), "0");
    assert_string_equal(form_field_label(form_field(f, "added"), "ko"), "추가된 도메인");
    form_free(f);
    t = sync_report_table(&fx->r, "ko");
    assert_int_equal(form_row_count(t), 2);
    assert_string_equal(form_cell(t, 0, 0), "new.example");
    assert_string_equal(form_cell(t, 0, 1), "added");
    assert_string_equal(form_cell(t, 1, 1), "admin-to-system");
    form_free(t);
    char *line = sync_report_summary_line(&fx->r);
    assert_string_equal(line, "users=2 domains=2 added=1 made_local=0 to_system=1 to_admin=0 "
                              "skipped=0");
    free(line);
}

/* ---- the audit time ---- */

static time_t utc(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s,
                    .tm_isdst = 0};
    return timegm(&tm);
}

static void test_next_occurrence(void **state)
{
    (void)state;
    setenv("TZ", "UTC", 1);
    tzset();
    time_t base = utc(2026, 1, 31, 10, 0, 0);

    assert_int_equal(sync_next_occurrence(base, "10:30"), utc(2026, 1, 31, 10, 30, 0));
    assert_int_equal(sync_next_occurrence(base, "10:00"), utc(2026, 2, 1, 10, 0, 0));
    assert_int_equal(sync_next_occurrence(base, "02:00"), utc(2026, 2, 1, 2, 0, 0));
    assert_int_equal(sync_next_occurrence(utc(2026, 12, 31, 23, 59, 59), "00:00"),
                     utc(2027, 1, 1, 0, 0, 0));
    static const char *const bad[] = {"24:00", "9:00", "09:60", "ab:cd", "09-00", "", "09:000"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sync_next_occurrence(base, bad[i]), -1);
    assert_int_equal(sync_next_occurrence(base, NULL), -1);
}

static void test_due(void **state)
{
    (void)state;
    setenv("TZ", "UTC", 1);
    tzset();
    time_t t0 = utc(2026, 1, 31, 1, 59, 30);

    assert_false(sync_due(t0, t0 + 29, "02:00"));
    assert_true(sync_due(t0, t0 + 30, "02:00"));
    assert_true(sync_due(t0, t0 + 3600, "02:00"));       /* the loop slept through it */
    assert_false(sync_due(t0 + 30, t0 + 3600, "02:00")); /* checked at 02:00 already: ran */
    assert_true(sync_due(t0, t0 + 60, "02:00"));
    assert_false(sync_due(t0, t0 + 60, "bad"));
}

/* A zone with daylight saving (POSIX rule, no tzdata needed): 02:30 does not exist on the
 * spring-forward day, and the audit still gets one moment that day. */
static void test_dst(void **state)
{
    (void)state;
    setenv("TZ", "EST5EDT,M3.2.0,M11.1.0", 1);
    tzset();
    time_t midnight = utc(2026, 3, 8, 5, 0, 0); /* 00:00 EST on the change day */
    time_t t = sync_next_occurrence(midnight, "02:30");

    assert_true(t > midnight);
    assert_true(t <= midnight + 4 * 3600);
    assert_int_equal(sync_next_occurrence(midnight, "12:00"), utc(2026, 3, 8, 16, 0, 0));
    setenv("TZ", "UTC", 1);
    tzset();
}

/* ---- the nightly timer ---- */

/* The nightly run waits while sync-agent is stopped on any node, and audits once it runs. */
static void test_nightly_needs_sync_agent(void **state)
{
    struct fx *fx = *state;
    struct app app = {.store = fx->st};
    struct store_audit *log = NULL;
    size_t n = 0;

    user(fx, "ann", "ann@new.example");
    assert_int_equal(store_node_insert(fx->st, "pub", STORE_NODE_PUBLISHER, "15.0", NULL),
                     STORE_OK);
    assert_int_equal(store_node_insert(fx->st, "sub", STORE_NODE_SUBSCRIBER, "15.0", NULL),
                     STORE_OK);
    assert_int_equal(services_init_node(&app, "pub"), 0);
    assert_int_equal(services_init_node(&app, "sub"), 0);
    assert_int_equal(store_service_set(fx->st, "sub", SERVICE_SYNC_AGENT, "stopped"), STORE_OK);

    assert_int_equal(sync_nightly(&app), 1);
    assert_int_equal(store_domain_exists(fx->st, "new.example"), STORE_NOTFOUND);
    assert_int_equal(store_audit_list(fx->st, 0, SYNC_ACTOR, 0, &log, &n), STORE_OK);
    assert_int_equal(n, 0);
    store_audit_list_free(log, n);

    assert_int_equal(store_service_set(fx->st, "sub", SERVICE_SYNC_AGENT, "running"), STORE_OK);
    assert_int_equal(sync_nightly(&app), 0);
    assert_domain(fx, "new.example", STORE_MANAGED_SYSTEM, true);
    assert_int_equal(store_audit_list(fx->st, 0, SYNC_ACTOR, 0, &log, &n), STORE_OK);
    assert_int_equal(n, 1);
    store_audit_list_free(log, n);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void test_sched_lifecycle(void **state)
{
    struct fx *fx = *state;
    uv_loop_t loop;
    struct app app = {0};

    assert_int_equal(uv_loop_init(&loop), 0);
    app.loop = &loop;
    app.store = fx->st;
    /* Stopped, then freed before the loop closed it: the close callback frees. */
    struct sync_sched *s = sync_sched_start(&app);
    assert_non_null(s);
    assert_int_equal(uv_run(&loop, UV_RUN_NOWAIT), 1); /* the first look ran; it waits again */
    sync_sched_stop(s);
    sync_sched_free(s);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    /* Closed by someone else's walk first (as the daemon does), then freed. */
    s = sync_sched_start(&app);
    assert_non_null(s);
    sync_sched_stop(s);
    uv_walk(&loop, close_walk, NULL);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    sync_sched_free(s);
    assert_int_equal(uv_loop_close(&loop), 0);
    sync_sched_stop(NULL);
    sync_sched_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_adds_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_to_system, setup, teardown),
        cmocka_unit_test_setup_teardown(test_system_to_admin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_only_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_only_used_locally, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_names_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_joins_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_forms, setup, teardown),
        cmocka_unit_test(test_next_occurrence),
        cmocka_unit_test(test_due),
        cmocka_unit_test(test_dst),
        cmocka_unit_test_setup_teardown(test_sched_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nightly_needs_sync_agent, setup, teardown),
    };
    log_set_level(LOG_LEVEL_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
