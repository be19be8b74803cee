/* Unit tests for component/procedure on a store whose disk fails (tests/lib/store_fault): the
 * transitions of steps 1, 2, 3, 5 and 7 with the first, second, ... write failing in turn. Each
 * failure leaves the run where it was (no run at all for step 1, no domain changed and no job
 * for step 3) with the store's failure named, and the same step succeeds once the disk works;
 * step 7 that failed half-way (HA on, the run not yet ended) finishes on the retry. The guards
 * name an unreadable store instead of letting a step run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "component/config.h"
#include "component/engine/procedure.h"
#include "component/engine/services.h"
#include "store/store_domain.h"
#include "store/store_job.h"
#include "store/store_topo.h"
#include "tests/lib/store_fault.h"
#include "tests/lib/tmpstore.h"
#include "util/log.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NODE_A "imp1.example.test"
#define NODE_B "imp2.example.test"

struct fixture {
    char dir[64], path[96];
    struct config cfg;
    struct app app;
    struct store_procedure p;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char *err = NULL;

    log_set_level(LOG_LEVEL_ERROR);
    if (f == NULL || store_fault_install() != 0 ||
        tmpstore_make(f->dir, sizeof(f->dir), f->path, sizeof(f->path), "procfault") != 0)
        return -1;
    f->cfg.settle_time = 120;
    f->app.cfg = &f->cfg;
    if ((f->app.store = store_open(f->path, &err)) == NULL)
        fail_msg("store_open: %s", err);
    f->app.services = services_new(&f->app);
    assert_int_equal(store_group_insert(f->app.store, "dg1", true), STORE_OK);
    assert_int_equal(store_node_insert(f->app.store, NODE_A, STORE_NODE_PUBLISHER, "15.0", "dg1"),
                     STORE_OK);
    assert_int_equal(store_node_insert(f->app.store, NODE_B, STORE_NODE_SUBSCRIBER, "15.0", "dg1"),
                     STORE_OK);
    assert_int_equal(services_init_node(&f->app, NODE_A), 0);
    assert_int_equal(services_init_node(&f->app, NODE_B), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    store_fault_disarm();
    store_procedure_clear(&f->p);
    services_free(f->app.services);
    assert_int_equal(store_close(f->app.store), 0);
    assert_int_equal(tmpstore_remove(f->dir, f->path), 0);
    free(f);
    return 0;
}

static bool ha_on(struct fixture *f)
{
    struct store_group g;
    bool on;

    assert_int_equal(store_group_get(f->app.store, "dg1", &g), STORE_OK);
    on = g.ha_enabled;
    store_group_clear(&g);
    return on;
}

/* The active run's step (0: none). */
static int step_now(struct fixture *f)
{
    struct store_procedure p;
    int step = 0;

    if (procedure_load(&f->app, &p) == STORE_OK)
        step = p.step;
    store_procedure_clear(&p);
    return step;
}

static void on_services(void *arg, bool ok, const char *unrecorded,
                        const struct service_outcome *out, size_t n)
{
    (void)out;
    (void)n;
    assert_null(unrecorded);
    *(bool *)arg = ok;
}

/* What a services run of steps 2 and 5 reported. */
struct services_end {
    bool ran, ok, actions_ok;
    char *unrecorded; /* malloc'd copy */
};

static void on_services_end(void *arg, bool ok, const char *unrecorded,
                            const struct service_outcome *out, size_t n)
{
    struct services_end *e = arg;

    e->ran = true;
    e->ok = ok;
    e->actions_ok = true;
    for (size_t i = 0; i < n; i++)
        e->actions_ok &= out[i].ok;
    e->unrecorded = unrecorded ? strdup(unrecorded) : NULL;
}

/* Runs step 2 or 5 (no hooks: it ends before the call returns) and reloads the run. */
static void run_services(struct fixture *f, bool up)
{
    const char *why = NULL;
    bool ok = false;

    assert_int_equal(procedure_run_services(&f->app, &f->p, up, NULL, on_services, &ok, NULL, &why),
                     0);
    assert_true(ok);
    store_procedure_clear(&f->p);
    assert_int_equal(procedure_load(&f->app, &f->p), STORE_OK);
}

/* Arms the round-th WAL write (and every later one) to fail as on a full disk. */
static void disk_full_from(int round)
{
    store_fault_arm(STORE_FAULT_WRITE, STORE_FAULT_WAL, round, -1, SQLITE_FULL);
}

/* Step 1 with each write failing in turn: no run is left behind and HA stays on. */
static void test_step1_disk_full(void **state)
{
    struct fixture *f = *state;
    int round = 0;

    for (;; round++) {
        assert_true(round < 50);
        disk_full_from(round);
        enum store_rc rc = procedure_disable_ha(&f->app, "admin@example.test", &f->p);
        int hit = store_fault_hits();
        store_fault_disarm();
        if (rc == STORE_OK)
            break;
        assert_true(hit > 0);
        assert_int_equal(f->p.id, 0); /* the run was not created after all */
        assert_int_equal(step_now(f), 0);
        assert_true(ha_on(f));
    }
    assert_true(round > 0);
    assert_int_equal(f->p.step, PROC_STOP);
    assert_int_equal(step_now(f), PROC_STOP);
    assert_false(ha_on(f));
}

/* Step 3 (an add, a rename, a delete and a new default domain) with each write failing in turn:
 * DOMAINS_WORK_FAILED, the domains as they were, no job, the run still at step 3. */
static void test_step3_disk_full(void **state)
{
    struct fixture *f = *state;
    struct store_job j;
    char *why = NULL;
    int64_t job = 0;
    int round = 0;

    assert_int_equal(procedure_disable_ha(&f->app, "admin@example.test", &f->p), STORE_OK);
    assert_int_equal(store_group_set_ha(f->app.store, "dg1", false, time(NULL) - 600), STORE_OK);
    run_services(f, false);
    assert_int_equal(f->p.step, PROC_DOMAINS);
    assert_int_equal(store_domain_insert(f->app.store, "old.example", STORE_MANAGED_ADMIN, true),
                     STORE_OK);
    assert_int_equal(store_domain_insert(f->app.store, "gone.example", STORE_MANAGED_ADMIN, true),
                     STORE_OK);
    for (;; round++) {
        struct proc_changes c = {0};
        assert_true(round < 80);
        c.add = calloc(1, sizeof(*c.add));
        strcpy(c.add[0], "new.example");
        c.nadd = 1;
        c.rename = calloc(1, sizeof(*c.rename));
        strcpy(c.rename[0].from, "old.example");
        strcpy(c.rename[0].to, "renamed.example");
        c.nrename = 1;
        c.del = calloc(1, sizeof(*c.del));
        strcpy(c.del[0], "gone.example");
        c.ndel = 1;
        strcpy(c.default_domain, "new.example");
        disk_full_from(round);
        enum domains_work w = procedure_change_domains(&f->app, &f->p, &c, NULL, &why, &job);
        int hit = store_fault_hits();
        store_fault_disarm();
        procedure_changes_clear(&c);
        if (w == DOMAINS_WORK_DONE)
            break;
        assert_int_equal(w, DOMAINS_WORK_FAILED);
        assert_true(hit > 0);
        free(why);
        why = NULL;
        assert_int_equal(job, 0);
        assert_int_equal(store_domain_exists(f->app.store, "new.example"), STORE_NOTFOUND);
        assert_int_equal(store_domain_exists(f->app.store, "old.example"), STORE_OK);
        assert_int_equal(store_domain_exists(f->app.store, "gone.example"), STORE_OK);
        assert_int_equal(store_job_get_active(f->app.store, &j), STORE_NOTFOUND);
        assert_int_equal(step_now(f), PROC_DOMAINS);
    }
    assert_true(round > 0);
    assert_null(why);
    assert_true(job > 0);
    assert_int_equal(f->p.job_id, job);
    assert_int_equal(store_domain_exists(f->app.store, "renamed.example"), STORE_OK);
    assert_int_equal(store_domain_exists(f->app.store, "gone.example"), STORE_NOTFOUND);
    print_message("# step 3: %d writes failed in turn\n", round);
}

/* Every service on both nodes as step 2 finds them (`up`: running, no mark) or as step 5 does
 * (stopped by us: the mark set). */
static void services_as_before(struct fixture *f, bool up)
{
    const char *nodes[] = {NODE_A, NODE_B};
    char mark[96];

    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < SERVICES_N; k++) {
            const char *s = services_stop_order[k];
            snprintf(mark, sizeof(mark), SERVICES_MARK_PREFIX "%s", s);
            assert_int_equal(
                store_service_set(f->app.store, nodes[i], s, services_state_word(s, up)), STORE_OK);
            if (up)
                assert_int_not_equal(store_service_delete(f->app.store, nodes[i], mark), STORE_ERR);
            else
                assert_int_equal(store_service_set(f->app.store, nodes[i], mark, "1"), STORE_OK);
        }
    }
}

/* Each service is marked as stopped by us exactly when it is recorded down: a state written
 * without its mark (two statements, the second failing) kept step 5 from starting a service
 * step 2 had stopped. */
static void assert_marks_agree(struct fixture *f)
{
    const char *nodes[] = {NODE_A, NODE_B};
    struct store_service v;
    char mark[96];

    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < SERVICES_N; k++) {
            const char *s = services_stop_order[k];
            snprintf(mark, sizeof(mark), SERVICES_MARK_PREFIX "%s", s);
            assert_int_equal(store_service_get(f->app.store, nodes[i], s, &v), STORE_OK);
            bool up = services_state_is_up(v.state);
            store_service_clear(&v);
            enum store_rc rc = store_service_get(f->app.store, nodes[i], mark, &v);
            store_service_clear(&v);
            if (up == (rc == STORE_OK))
                fail_msg("%s %s: %s, %s", nodes[i], s, up ? "up" : "down",
                         rc == STORE_OK ? "marked" : "not marked");
        }
    }
}

/* Step 2 or 5 with each write failing in turn, the services as the step finds them each time.
 * The run moved on exactly when the callback says ok; a service's state and its mark are
 * written together or not at all, and an action whose state could not be written is a failed
 * action. When every action went through but the store could not record the next step, the
 * callback says so in the admin's words (a full disk was reported as "done" before, and the
 * admin got the same step again with no word of the store); then a retry moves on. */
static void services_disk_full(struct fixture *f, bool up)
{
    int step = up ? PROC_START : PROC_STOP, round = 0, unrecorded = 0, failed = 0;
    const char *why = NULL;

    for (;; round++) {
        struct services_end e = {0};
        assert_true(round < 80);
        services_as_before(f, !up);
        disk_full_from(round);
        assert_int_equal(
            procedure_run_services(&f->app, &f->p, up, NULL, on_services_end, &e, NULL, &why), 0);
        int hit = store_fault_hits();
        store_fault_disarm();
        assert_true(e.ran);
        assert_int_equal(step_now(f), e.ok ? step + 1 : step);
        assert_marks_agree(f);
        if (e.ok) {
            assert_null(e.unrecorded);
            break;
        }
        assert_true(hit > 0);
        if (e.actions_ok) {
            if (e.unrecorded == NULL || strstr(e.unrecorded, "could not be recorded") == NULL ||
                strstr(e.unrecorded, "disk is full") == NULL)
                fail_msg("step %d, write %d failing: every action went through, the step was "
                         "not recorded, and the callback says: %s",
                         step, round, e.unrecorded ? e.unrecorded : "(nothing)");
            unrecorded++;
        } else {
            assert_null(e.unrecorded);
            failed++;
        }
        free(e.unrecorded);
    }
    assert_true(unrecorded > 0 && failed > 0); /* the cases this is for did happen */
    store_procedure_clear(&f->p);
    assert_int_equal(procedure_load(&f->app, &f->p), STORE_OK);
    print_message("# step %d: %d writes failed in turn: %d failed an action, %d only the step's "
                  "record\n",
                  step, round, failed, unrecorded);
}

/* Steps 1 to 6, with `sweep` running step 2 and step 5 (each leaves the run at the next). */
static void through_steps(struct fixture *f, void (*sweep)(struct fixture *f, bool up))
{
    struct proc_changes c = {0};
    char *why = NULL;
    int64_t job = 0;

    assert_int_equal(procedure_disable_ha(&f->app, "admin@example.test", &f->p), STORE_OK);
    assert_int_equal(store_group_set_ha(f->app.store, "dg1", false, time(NULL) - 600), STORE_OK);
    sweep(f, false);
    assert_int_equal(f->p.step, PROC_DOMAINS);
    assert_int_equal(procedure_change_domains(&f->app, &f->p, &c, NULL, &why, &job),
                     DOMAINS_WORK_DONE);
    assert_int_equal(procedure_advance(&f->app, &f->p, PROC_START, -1), STORE_OK);
    sweep(f, true);
    assert_int_equal(f->p.step, PROC_SESSIONS);
}

static void test_step2_step5_disk_full(void **state)
{
    through_steps(*state, services_disk_full);
}

/* Every service on both nodes is recorded `up` (running or activated) or not. */
static void assert_all_recorded(struct fixture *f, bool up)
{
    const char *nodes[] = {NODE_A, NODE_B};
    struct store_service v;

    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < SERVICES_N; k++) {
            assert_int_equal(store_service_get(f->app.store, nodes[i], services_stop_order[k], &v),
                             STORE_OK);
            if (services_state_is_up(v.state) != up)
                fail_msg("%s %s is %s after the step went through", nodes[i],
                         services_stop_order[k], v.state);
            store_service_clear(&v);
        }
    }
}

/* Step 2 or 5 (hooks: none, so every action is a record) with each read failing once in turn,
 * the services as the step finds them each time. Whatever the read, the run moves on only
 * when every service is recorded as the step wants it, with the marks that say so: step 5
 * that could not read what step 2 had stopped planned nothing for that node and moved on
 * with its services down; step 2 that could not read a service's state recorded it stopped
 * without the mark. A run that cannot begin is refused with the reason and the step stays. */
static void services_unreadable(struct fixture *f, bool up)
{
    int step = up ? PROC_START : PROC_STOP, refused = 0, failed = 0, survived = 0;
    const char *why;
    char sql[80];

    for (int round = 0;; round++) {
        struct services_end e = {0};
        assert_true(round < 200);
        services_as_before(f, !up);
        /* a change behind the store's back: its page cache is stale and it must read */
        snprintf(sql, sizeof(sql), "UPDATE settings SET audit_time = '%02d:%02d'", round / 60 % 24,
                 round % 60);
        assert_int_equal(store_fault_sql(f->path, sql), 0);
        why = NULL;
        store_fault_arm(STORE_FAULT_READ, STORE_FAULT_ANY, round, 1, SQLITE_IOERR_READ);
        int rc = procedure_run_services(&f->app, &f->p, up, NULL, on_services_end, &e, NULL, &why);
        int hit = store_fault_hits();
        store_fault_disarm();
        assert_marks_agree(f);
        if (rc < 0) {
            assert_non_null(why);
            assert_false(e.ran);
            assert_int_equal(step_now(f), step);
            refused++;
            continue;
        }
        assert_true(e.ran);
        free(e.unrecorded);
        if (!e.ok) {
            assert_int_equal(step_now(f), step);
            failed++;
            continue;
        }
        assert_int_equal(step_now(f), step + 1);
        assert_all_recorded(f, up);
        if (hit == 0)
            break;
        survived++; /* a read it does without: back to the step for the next round */
        store_procedure_clear(&f->p);
        assert_int_equal(procedure_load(&f->app, &f->p), STORE_OK);
        assert_int_equal(procedure_advance(&f->app, &f->p, step, -1), STORE_OK);
    }
    assert_true(refused + failed > 0);
    store_procedure_clear(&f->p);
    assert_int_equal(procedure_load(&f->app, &f->p), STORE_OK);
    print_message("# step %d: reads failing in turn: %d runs refused, %d failed, %d went through "
                  "regardless\n",
                  step, refused, failed, survived);
}

static void test_step2_step5_unreadable(void **state)
{
    through_steps(*state, services_unreadable);
}

/* Steps 1 to 6 done, the run at step 7. */
static void at_step7(struct fixture *f)
{
    struct proc_changes c = {0};
    char *why = NULL;
    int64_t job = 0;

    assert_int_equal(procedure_disable_ha(&f->app, "admin@example.test", &f->p), STORE_OK);
    assert_int_equal(store_group_set_ha(f->app.store, "dg1", false, time(NULL) - 600), STORE_OK);
    run_services(f, false);
    assert_int_equal(procedure_change_domains(&f->app, &f->p, &c, NULL, &why, &job),
                     DOMAINS_WORK_DONE);
    assert_int_equal(procedure_advance(&f->app, &f->p, PROC_START, -1), STORE_OK);
    run_services(f, true);
    assert_int_equal(procedure_advance(&f->app, &f->p, PROC_HA_ON, -1), STORE_OK);
}

/* Step 7 with each write failing in turn: the refusal says the change could not be recorded
 * (not that the store could not be read: it was read), the run stays at step 7 (HA may
 * already be back on when only ending the run failed) and a retry finishes it. */
static void test_step7_disk_full_then_retry(void **state)
{
    struct fixture *f = *state;
    int round = 0, half_way = 0;

    at_step7(f);
    for (;; round++) {
        assert_true(round < 50);
        disk_full_from(round);
        char *why = procedure_enable_ha(&f->app, &f->p, NULL);
        int hit = store_fault_hits();
        store_fault_disarm();
        if (why == NULL)
            break;
        assert_true(hit > 0);
        if (strstr(why, "The change could not be recorded in the store (") == NULL ||
            strstr(why, "disk is full") == NULL)
            fail_msg("unexpected refusal: %s", why);
        free(why);
        assert_int_equal(step_now(f), PROC_HA_ON);
        half_way += ha_on(f);
        store_procedure_clear(&f->p);
        assert_int_equal(procedure_load(&f->app, &f->p), STORE_OK);
    }
    assert_true(round > 0);
    assert_true(half_way > 0); /* the case the retry is for did happen */
    assert_true(ha_on(f));
    assert_int_equal(f->p.state, STORE_PROC_DONE);
    assert_int_equal(step_now(f), 0);
}

/* The store cannot be read: every guard names it (with the remedy), none lets its step run,
 * and the session lines are not made up. */
static void test_guards_unreadable(void **state)
{
    struct fixture *f = *state;
    size_t n = 99;

    at_step7(f);
    for (int step = PROC_HA_OFF; step <= PROC_HA_ON; step++) {
        char sql[80];
        if (step == PROC_SESSIONS)
            continue; /* step 6 has no guard: it only waits */
        /* a change behind the store's back: its page cache is stale and it must read */
        snprintf(sql, sizeof(sql), "UPDATE settings SET audit_time = '0%d:00'", step);
        assert_int_equal(store_fault_sql(f->path, sql), 0);
        store_fault_arm(STORE_FAULT_READ, STORE_FAULT_ANY, 0, -1, SQLITE_IOERR_READ);
        char *why = procedure_guard(&f->app, &f->p, step, "ko");
        assert_true(store_fault_hits() > 0);
        store_fault_disarm();
        if (why == NULL)
            fail_msg("step %d's guard let it run on an unreadable store", step);
        if (strstr(why, "저장소를 읽을 수 없습니다") == NULL &&
            strstr(why, "disk I/O error") == NULL)
            fail_msg("step %d: %s", step, why);
        free(why);
    }
    assert_int_equal(store_fault_sql(f->path, "UPDATE settings SET audit_time = '09:00'"), 0);
    store_fault_arm(STORE_FAULT_READ, STORE_FAULT_ANY, 0, -1, SQLITE_IOERR_READ);
    assert_null(procedure_session_lines(&f->app, &n));
    store_fault_disarm();
    assert_int_equal(n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_step1_disk_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step2_step5_disk_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step2_step5_unreadable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step3_disk_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step7_disk_full_then_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guards_unreadable, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
