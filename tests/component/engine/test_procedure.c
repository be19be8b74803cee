/* Unit tests for component/procedure: the step machine of the guided domain change on a real
 * store (two nodes in one redundancy group, services without hooks, no presence tracking so
 * every count is 0): each step's guard, the transitions, resume after a simulated restart (the
 * store closed and opened again), and cancel with what it leaves behind. */
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
#include "store/store_settings.h"
#include "store/store_topo.h"
#include "tests/lib/tmpstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define NODE_A "imp1.example.test"
#define NODE_B "imp2.example.test"

struct fixture {
    char dir[64];
    char path[96];
    struct config cfg;
    struct app app;
    struct store_procedure p;
    /* the last services run */
    bool ran, ok;
    size_t actions;
};

static void open_store(struct fixture *f)
{
    char *err = NULL;

    f->app.store = store_open(f->path, &err);
    if (f->app.store == NULL)
        fail_msg("store_open: %s", err);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (tmpstore_make(f->dir, sizeof(f->dir), f->path, sizeof(f->path), "proc") != 0)
        return -1;
    f->cfg.settle_time = 120;
    f->app.cfg = &f->cfg;
    open_store(f);
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

    store_procedure_clear(&f->p);
    services_free(f->app.services);
    assert_int_equal(store_close(f->app.store), 0);
    tmpstore_remove(f->dir, f->path);
    free(f);
    return 0;
}

/* ---- helpers ---- */

static void assert_contains(char *text, const char *needle)
{
    if (text == NULL)
        fail_msg("no refusal, expected one with '%s'", needle);
    if (strstr(text, needle) == NULL)
        fail_msg("'%s' not in: %s", needle, text);
    free(text);
}

static void assert_guard_ok(struct fixture *f, int step)
{
    char *why = procedure_guard(&f->app, f->p.id ? &f->p : NULL, step, NULL);
    if (why != NULL)
        fail_msg("step %d refused: %s", step, why);
}

static void on_services(void *arg, bool ok, const char *unrecorded,
                        const struct service_outcome *out, size_t n)
{
    struct fixture *f = arg;

    (void)out;
    assert_null(unrecorded); /* this file's store never fails */
    f->ran = true;
    f->ok = ok;
    f->actions = n;
}

static void reload(struct fixture *f)
{
    store_procedure_clear(&f->p);
    assert_int_equal(procedure_load(&f->app, &f->p), STORE_OK);
}

/* The settle period has passed: HA was turned off long ago. */
static void settle(struct fixture *f)
{
    assert_int_equal(store_group_set_ha(f->app.store, "dg1", false, time(NULL) - 600), STORE_OK);
}

static void run_services(struct fixture *f, bool up)
{
    const char *why = NULL;

    f->ran = false;
    assert_int_equal(procedure_run_services(&f->app, &f->p, up, NULL, on_services, f, NULL, &why),
                     0);
    assert_true(f->ran); /* no hooks: the run ends before the call returns */
    assert_true(f->ok);
    reload(f);
}

static const char *state_of(struct fixture *f, const char *node, const char *service)
{
    static char buf[32];
    struct store_service s;

    assert_int_equal(store_service_get(f->app.store, node, service, &s), STORE_OK);
    snprintf(buf, sizeof(buf), "%s", s.state);
    store_service_clear(&s);
    return buf;
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

/* Steps 1 and 2, with the settle period over: the run is at step 3. */
static void through_step2(struct fixture *f)
{
    assert_int_equal(procedure_disable_ha(&f->app, "admin@example.test", &f->p), STORE_OK);
    settle(f);
    run_services(f, false);
    assert_int_equal(f->p.step, PROC_DOMAINS);
}

/* The control center again, now with `hook` as stop and start hook on `loop`: the runs of
 * steps 2 and 5 then end on the loop, as in the daemon. */
static void use_hook(struct fixture *f, uv_loop_t *loop, char *hook)
{
    assert_int_equal(uv_loop_init(loop), 0);
    f->app.loop = loop;
    f->cfg.stop_hook = hook;
    f->cfg.start_hook = hook;
    f->cfg.service_hook_timeout = 30;
    services_free(f->app.services);
    f->app.services = services_new(&f->app);
    assert_null(services_config_problem(f->app.services));
}

/* Runs the loop until the services run has ended and every hook's handles are closed. */
static void run_loop(struct fixture *f, uv_loop_t *loop)
{
    assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
    assert_true(f->ran);
    assert_int_equal(uv_loop_close(loop), 0);
    f->app.loop = NULL;
}

/* ---- tests ---- */

static void test_step1_guard_needs_topology(void **state)
{
    struct fixture *f = *state;

    assert_guard_ok(f, PROC_HA_OFF);
    assert_int_equal(store_node_delete(f->app.store, NODE_A), STORE_OK);
    assert_int_equal(store_node_delete(f->app.store, NODE_B), STORE_OK);
    assert_contains(procedure_guard(&f->app, NULL, PROC_HA_OFF, NULL), "topology/edit");
    assert_contains(procedure_guard(&f->app, NULL, PROC_HA_OFF, "ko"), "topology/edit로");
}

static void test_step1_disables_and_records(void **state)
{
    struct fixture *f = *state;
    struct store_recorded *rec = NULL;
    size_t n = 0;

    assert_int_equal(procedure_load(&f->app, &f->p), STORE_NOTFOUND);
    assert_int_equal(procedure_disable_ha(&f->app, "admin@example.test", &f->p), STORE_OK);
    assert_true(f->p.id > 0);
    assert_int_equal(f->p.step, PROC_STOP);
    assert_string_equal(f->p.ha_groups, "dg1");
    assert_string_equal(f->p.actor, "admin@example.test");
    assert_false(ha_on(f));
    assert_int_equal(store_recorded_list(f->app.store, NULL, &rec, &n), STORE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(rec[0].active_users, 0);
    store_recorded_list_free(rec, n);
    /* A second run cannot start while this one is active. */
    struct store_procedure other = {0};
    assert_int_equal(procedure_disable_ha(&f->app, "other@example.test", &other), STORE_CONFLICT);
    assert_int_equal(other.id, 0);
    store_procedure_clear(&other);
}

static void test_step2_guard_settle_and_ha(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(procedure_disable_ha(&f->app, "admin@example.test", &f->p), STORE_OK);
    assert_contains(procedure_guard(&f->app, &f->p, PROC_STOP, NULL), "wait");
    assert_contains(procedure_guard(&f->app, &f->p, PROC_STOP, "ko"), "기다린 뒤");
    settle(f);
    assert_guard_ok(f, PROC_STOP);
    /* Someone turned HA on again behind the procedure's back. */
    assert_int_equal(store_group_set_ha(f->app.store, "dg1", true, 0), STORE_OK);
    assert_contains(procedure_guard(&f->app, &f->p, PROC_STOP, NULL), "HA is enabled on group dg1");
}

static void test_step2_stops_in_order(void **state)
{
    struct fixture *f = *state;

    /* Before step 2 the domain change is refused: the services run. */
    assert_int_equal(procedure_disable_ha(&f->app, "admin@example.test", &f->p), STORE_OK);
    settle(f);
    assert_contains(procedure_guard(&f->app, &f->p, PROC_DOMAINS, NULL), "still running");
    run_services(f, false);
    assert_int_equal(f->actions, 2 * SERVICES_N);
    assert_int_equal(f->p.step, PROC_DOMAINS);
    for (int k = 0; k < SERVICES_N; k++) {
        const char *svc = services_stop_order[k];
        assert_string_equal(state_of(f, NODE_A, svc), services_state_word(svc, false));
        assert_string_equal(state_of(f, NODE_B, svc), services_state_word(svc, false));
    }
    assert_guard_ok(f, PROC_DOMAINS);
}

/* A stop hook that fails: the run stays at step 2 (the daemon used to free an unread run here
 * and crash), and a retry with a working hook moves it on. */
static void test_step2_hook_fails_run_stays(void **state)
{
    struct fixture *f = *state;
    const char *why = NULL;
    uv_loop_t loop;

    use_hook(f, &loop, "/bin/false {node} {service} {operation}");
    assert_int_equal(procedure_disable_ha(&f->app, "admin@example.test", &f->p), STORE_OK);
    settle(f);
    f->ran = false;
    assert_int_equal(
        procedure_run_services(&f->app, &f->p, false, NULL, on_services, f, NULL, &why), 0);
    assert_false(f->ran); /* the hooks run on the loop */
    run_loop(f, &loop);
    assert_false(f->ok);
    reload(f);
    assert_int_equal(f->p.step, PROC_STOP);
    assert_contains(procedure_guard(&f->app, &f->p, PROC_DOMAINS, NULL), "still running");

    use_hook(f, &loop, "/bin/true {node} {service} {operation}");
    f->ran = false;
    assert_int_equal(
        procedure_run_services(&f->app, &f->p, false, NULL, on_services, f, NULL, &why), 0);
    run_loop(f, &loop);
    assert_true(f->ok);
    assert_int_equal(f->actions, 2 * SERVICES_N);
    reload(f);
    assert_int_equal(f->p.step, PROC_DOMAINS);
}

/* A services run that ends after the run was moved on elsewhere (another administrator, or a
 * cancel and a new run) moves nothing: only the run that asked, at that step, goes on. */
static void test_services_end_after_run_moved(void **state)
{
    struct fixture *f = *state;
    struct store_procedure other = {0};
    const char *why = NULL;
    uv_loop_t loop;

    through_step2(f);
    use_hook(f, &loop, "/bin/true {node}");
    assert_int_equal(procedure_advance(&f->app, &f->p, PROC_START, -1), STORE_OK);
    f->ran = false;
    assert_int_equal(procedure_run_services(&f->app, &f->p, true, NULL, on_services, f, NULL, &why),
                     0);
    /* Meanwhile the run is canceled and a new one reaches step 5 too. */
    assert_int_equal(procedure_end(&f->app, &f->p, STORE_PROC_CANCELED), STORE_OK);
    assert_int_equal(procedure_disable_ha(&f->app, "other@example.test", &other), STORE_OK);
    assert_int_equal(procedure_advance(&f->app, &other, PROC_START, -1), STORE_OK);
    run_loop(f, &loop);
    assert_true(f->ok);
    store_procedure_clear(&other);
    assert_int_equal(procedure_load(&f->app, &other), STORE_OK);
    assert_int_equal(other.step, PROC_START); /* not moved on by the old run's services */
    store_procedure_clear(&other);
}

static void count_given_up(void *arg)
{
    (*(int *)arg)++;
}

static void never_called(void *arg, bool ok, const char *unrecorded,
                         const struct service_outcome *out, size_t n)
{
    (void)arg, (void)ok, (void)unrecorded, (void)out, (void)n;
    fail_msg("the services run ended after it was given up");
}

/* The daemon stops while step 5's hook runs: the run is given up (its argument freed, no
 * outcome), and the procedure stays at step 5 for the next start. Without a control center
 * nothing starts at all. */
static void test_services_given_up_at_stop(void **state)
{
    struct fixture *f = *state;
    const char *why = NULL;
    int given_up = 0;
    uv_loop_t loop;

    through_step2(f);
    assert_int_equal(procedure_advance(&f->app, &f->p, PROC_START, -1), STORE_OK);
    use_hook(f, &loop, "/bin/sleep 30 {node}");
    assert_int_equal(procedure_run_services(&f->app, &f->p, true, NULL, never_called, &given_up,
                                            count_given_up, &why),
                     0);
    services_free(f->app.services); /* what the daemon does when it stops */
    f->app.services = NULL;
    assert_int_equal(given_up, 1);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    f->app.loop = NULL;
    reload(f);
    assert_int_equal(f->p.step, PROC_START);
    assert_int_equal(
        procedure_run_services(&f->app, &f->p, true, "ko", never_called, NULL, NULL, &why), -1);
    assert_string_equal(why, "컨트롤 센터가 실행 중이 아닙니다");
    assert_int_equal(
        procedure_run_services(&f->app, &f->p, true, NULL, never_called, NULL, NULL, &why), -1);
    assert_string_equal(why, "the control center is not running");
}

/* Two groups with HA on: step 1 remembers both; a cancel names those still off, and once HA
 * is back on them only the stopped services are left to say. */
static void test_two_groups_and_what_cancel_leaves(void **state)
{
    struct fixture *f = *state;
    char *left;

    assert_int_equal(store_group_insert(f->app.store, "dg2", true), STORE_OK);
    assert_int_equal(
        store_node_insert(f->app.store, "imp3.example.test", STORE_NODE_SUBSCRIBER, "15.0", "dg2"),
        STORE_OK);
    assert_int_equal(services_init_node(&f->app, "imp3.example.test"), 0);
    assert_int_equal(procedure_disable_ha(&f->app, "admin@example.test", &f->p), STORE_OK);
    assert_string_equal(f->p.ha_groups, "dg1,dg2");
    assert_int_equal(store_group_set_ha(f->app.store, "dg1", false, time(NULL) - 600), STORE_OK);
    assert_int_equal(store_group_set_ha(f->app.store, "dg2", false, time(NULL) - 600), STORE_OK);
    run_services(f, false);
    assert_int_equal(f->actions, 3 * SERVICES_N);
    assert_int_equal(procedure_end(&f->app, &f->p, STORE_PROC_CANCELED), STORE_OK);
    left = procedure_leftovers(&f->app, &f->p, NULL);
    assert_non_null(strstr(left, "imp3.example.test (client-profile-agent"));
    assert_contains(left, "HA is still off on group dg1, dg2");
    assert_int_equal(store_group_set_ha(f->app.store, "dg1", true, 0), STORE_OK);
    assert_int_equal(store_group_set_ha(f->app.store, "dg2", true, 0), STORE_OK);
    left = procedure_leftovers(&f->app, &f->p, "ko");
    assert_null(strstr(left, "HA가"));
    assert_contains(left, "start-stopped로 시작하세요");
}

/* A default domain that is the default already starts no job: the run goes straight to 4. */
static void test_step3_same_default_no_job(void **state)
{
    struct fixture *f = *state;
    struct store_settings s;
    struct proc_changes c = {0};
    char *why = NULL;
    int64_t job = -1;

    through_step2(f);
    assert_int_equal(store_settings_get(f->app.store, &s), STORE_OK);
    free(s.default_domain);
    s.default_domain = strdup("im.example.test");
    assert_int_equal(store_settings_set(f->app.store, &s), STORE_OK);
    store_settings_clear(&s);
    strcpy(c.default_domain, "im.example.test");
    assert_int_equal(procedure_change_domains(&f->app, &f->p, &c, NULL, &why, &job),
                     DOMAINS_WORK_DONE);
    assert_null(why);
    assert_int_equal(job, 0);
    assert_int_equal(f->p.step, PROC_CERT);
}

static void test_step3_domains_and_job(void **state)
{
    struct fixture *f = *state;
    struct proc_changes c = {0};
    struct store_job j;
    char *why = NULL;
    int64_t job = 0;

    through_step2(f);
    assert_int_equal(store_domain_insert(f->app.store, "old.example", STORE_MANAGED_ADMIN, true),
                     STORE_OK);
    assert_int_equal(store_domain_insert(f->app.store, "gone.example", STORE_MANAGED_ADMIN, true),
                     STORE_OK);
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
    assert_false(procedure_changes_empty(&c));
    assert_int_equal(procedure_change_domains(&f->app, &f->p, &c, NULL, &why, &job),
                     DOMAINS_WORK_DONE);
    procedure_changes_clear(&c);
    assert_null(why);
    assert_true(job > 0);
    assert_int_equal(f->p.step, PROC_DOMAINS); /* waits for the job */
    assert_int_equal(f->p.job_id, job);
    assert_int_equal(store_domain_exists(f->app.store, "new.example"), STORE_OK);
    assert_int_equal(store_domain_exists(f->app.store, "renamed.example"), STORE_OK);
    assert_int_equal(store_domain_exists(f->app.store, "old.example"), STORE_NOTFOUND);
    assert_int_equal(store_domain_exists(f->app.store, "gone.example"), STORE_NOTFOUND);

    /* While the job runs, step 3 waits and the services may not start. */
    assert_int_equal(procedure_job_wait(&f->app, &f->p, &j), 1);
    assert_int_equal(j.id, job);
    store_job_clear(&j);
    assert_contains(procedure_guard(&f->app, &f->p, PROC_START, NULL), "jobs/status");
    assert_contains(procedure_guard(&f->app, &f->p, PROC_CERT, NULL), "has not ended");
    assert_int_equal(store_job_set_state(f->app.store, job, STORE_JOB_COMPLETED, NULL), STORE_OK);
    assert_int_equal(procedure_job_wait(&f->app, &f->p, &j), 0);
    assert_int_equal(f->p.step, PROC_CERT);
    assert_guard_ok(f, PROC_CERT);
    assert_guard_ok(f, PROC_START);
}

static void test_step3_refusal_changes_nothing(void **state)
{
    struct fixture *f = *state;
    struct proc_changes c = {0};
    char *why = NULL;
    int64_t job = 0;

    through_step2(f);
    assert_int_equal(store_domain_insert(f->app.store, "used.example", STORE_MANAGED_SYSTEM, true),
                     STORE_OK);
    c.add = calloc(1, sizeof(*c.add));
    strcpy(c.add[0], "fresh.example");
    c.nadd = 1;
    c.del = calloc(1, sizeof(*c.del));
    strcpy(c.del[0], "used.example");
    c.ndel = 1;
    strcpy(c.default_domain, "fresh.example");
    assert_int_equal(procedure_change_domains(&f->app, &f->p, &c, NULL, &why, &job),
                     DOMAINS_WORK_REFUSED);
    procedure_changes_clear(&c);
    assert_contains(why, "system-managed");
    assert_int_equal(job, 0);
    assert_int_equal(store_domain_exists(f->app.store, "fresh.example"), STORE_NOTFOUND);
    reload(f);
    assert_int_equal(f->p.step, PROC_DOMAINS);
    assert_int_equal(f->p.job_id, 0);

    /* HA back on: the preconditions refuse the whole step. */
    assert_int_equal(store_group_set_ha(f->app.store, "dg1", true, 0), STORE_OK);
    c.add = calloc(1, sizeof(*c.add));
    strcpy(c.add[0], "fresh.example");
    c.nadd = 1;
    assert_int_equal(procedure_change_domains(&f->app, &f->p, &c, NULL, &why, &job),
                     DOMAINS_WORK_REFUSED);
    procedure_changes_clear(&c);
    assert_contains(why, "ha/disable");
    assert_int_equal(store_domain_exists(f->app.store, "fresh.example"), STORE_NOTFOUND);
}

static void test_resume_after_restart(void **state)
{
    struct fixture *f = *state;
    struct proc_changes c = {0};
    char *why = NULL;
    int64_t id, job = 0;

    through_step2(f);
    id = f->p.id;
    /* The daemon stops and starts again: a new store connection, a new control center. */
    services_free(f->app.services);
    assert_int_equal(store_close(f->app.store), 0);
    store_procedure_clear(&f->p);
    open_store(f);
    f->app.services = services_new(&f->app);
    reload(f);
    assert_int_equal(f->p.id, id);
    assert_int_equal(f->p.step, PROC_DOMAINS);
    assert_string_equal(f->p.ha_groups, "dg1");
    assert_guard_ok(f, PROC_DOMAINS);
    /* Running step 2 again after a restart is harmless: everything is already stopped. */
    assert_int_equal(procedure_change_domains(&f->app, &f->p, &c, NULL, &why, &job),
                     DOMAINS_WORK_DONE);
    assert_int_equal(f->p.step, PROC_CERT); /* no default domain: no job to wait for */
    assert_int_equal(procedure_advance(&f->app, &f->p, PROC_START, -1), STORE_OK);
    run_services(f, true);
    assert_int_equal(f->p.step, PROC_SESSIONS);
    for (int k = 0; k < SERVICES_N; k++)
        assert_string_equal(state_of(f, NODE_B, services_stop_order[k]),
                            services_state_word(services_stop_order[k], true));
}

static void test_step7_guards_and_done(void **state)
{
    struct fixture *f = *state;
    struct proc_changes c = {0};
    char *why = NULL;
    int64_t job = 0;

    through_step2(f);
    assert_int_equal(procedure_change_domains(&f->app, &f->p, &c, NULL, &why, &job),
                     DOMAINS_WORK_DONE);
    assert_int_equal(procedure_advance(&f->app, &f->p, PROC_START, -1), STORE_OK);
    run_services(f, true);
    assert_int_equal(procedure_advance(&f->app, &f->p, PROC_HA_ON, -1), STORE_OK);
    /* One service down again: HA may not come back. */
    assert_int_equal(store_service_set(f->app.store, NODE_B, SERVICE_SIP_PROXY, "deactivated"),
                     STORE_OK);
    assert_contains(procedure_enable_ha(&f->app, &f->p, NULL), "sip-proxy deactivated");
    assert_false(ha_on(f));
    assert_int_equal(store_service_set(f->app.store, NODE_B, SERVICE_SIP_PROXY, "activated"),
                     STORE_OK);
    /* Sessions short of the recorded count within 30 minutes of the restart. */
    assert_int_equal(store_recorded_set(f->app.store, NODE_A, 3, 0), STORE_OK);
    assert_contains(procedure_enable_ha(&f->app, &f->p, NULL), "0 sessions, 3 recorded");
    assert_int_equal(store_recorded_set(f->app.store, NODE_A, 0, 0), STORE_OK);
    size_t n;
    char **lines = procedure_session_lines(&f->app, &n);
    assert_int_equal(n, 2);
    assert_string_equal(lines[0], "node " NODE_A ": 0 sessions, 0 recorded");
    procedure_lines_free(lines, n);
    assert_null(procedure_enable_ha(&f->app, &f->p, NULL));
    assert_true(ha_on(f));
    assert_int_equal(f->p.state, STORE_PROC_DONE);
    store_procedure_clear(&f->p);
    assert_int_equal(procedure_load(&f->app, &f->p), STORE_NOTFOUND);
}

static void test_cancel_leaves_state_and_says_so(void **state)
{
    struct fixture *f = *state;
    struct store_procedure again = {0};

    through_step2(f);
    assert_int_equal(procedure_end(&f->app, &f->p, STORE_PROC_CANCELED), STORE_OK);
    assert_int_equal(f->p.state, STORE_PROC_CANCELED);
    char *left = procedure_leftovers(&f->app, &f->p, NULL);
    assert_non_null(strstr(left, NODE_A " (client-profile-agent"));
    assert_non_null(strstr(left, "start-stopped"));
    assert_contains(left, "HA is still off on group dg1");
    assert_contains(procedure_leftovers(&f->app, &f->p, "ko"), "ha/enable로");
    /* Nothing is undone, and a new run may start. */
    assert_string_equal(state_of(f, NODE_A, SERVICE_XCP_ROUTER), "stopped");
    assert_int_equal(procedure_load(&f->app, &again), STORE_NOTFOUND);
    assert_int_equal(store_procedure_set_step(f->app.store, f->p.id, PROC_START, 0, NULL),
                     STORE_NOTFOUND);
    assert_int_equal(procedure_disable_ha(&f->app, "admin@example.test", &again), STORE_OK);
    assert_int_equal(again.step, PROC_STOP);
    assert_string_equal(again.ha_groups, ""); /* HA was off already */
    store_procedure_clear(&again);
}

/* A redundancy group whose HA step 1 turned off is removed from the topology before step 7
 * (its nodes decommissioned; topology/edit drops an empty group): step 7 turns HA back on
 * where the group still exists and ends the run, instead of failing on the missing group at
 * every try with a store error. */
static void test_step7_group_removed_meanwhile(void **state)
{
    struct fixture *f = *state;
    struct proc_changes c = {0};
    char *why = NULL;
    int64_t job = 0;

    assert_int_equal(store_group_insert(f->app.store, "dg2", true), STORE_OK);
    assert_int_equal(
        store_node_insert(f->app.store, "imp3.example.test", STORE_NODE_SUBSCRIBER, "15.0", "dg2"),
        STORE_OK);
    assert_int_equal(services_init_node(&f->app, "imp3.example.test"), 0);
    assert_int_equal(procedure_disable_ha(&f->app, "admin@example.test", &f->p), STORE_OK);
    assert_string_equal(f->p.ha_groups, "dg1,dg2");
    assert_int_equal(store_group_set_ha(f->app.store, "dg1", false, time(NULL) - 600), STORE_OK);
    assert_int_equal(store_group_set_ha(f->app.store, "dg2", false, time(NULL) - 600), STORE_OK);
    run_services(f, false);
    assert_int_equal(procedure_change_domains(&f->app, &f->p, &c, NULL, &why, &job),
                     DOMAINS_WORK_DONE);
    assert_int_equal(procedure_advance(&f->app, &f->p, PROC_START, -1), STORE_OK);
    run_services(f, true);
    assert_int_equal(procedure_advance(&f->app, &f->p, PROC_HA_ON, -1), STORE_OK);
    /* node imp3 leaves the cluster, and its group with it */
    assert_int_equal(store_node_delete(f->app.store, "imp3.example.test"), STORE_OK);
    assert_int_equal(store_group_delete(f->app.store, "dg2"), STORE_OK);
    why = procedure_enable_ha(&f->app, &f->p, NULL);
    if (why != NULL)
        fail_msg("step 7 refused: %s", why);
    assert_true(ha_on(f));
    assert_int_equal(f->p.state, STORE_PROC_DONE);
    assert_int_equal(store_group_get(f->app.store, "dg2", NULL), STORE_NOTFOUND);
}

/* What a canceled run leaves, as the services come back and HA is turned on by hand: the
 * stopped services and the groups, then only the groups (in both languages), then nothing. */
static void test_leftovers_shrink(void **state)
{
    struct fixture *f = *state;
    char *left;

    through_step2(f);
    assert_int_equal(procedure_end(&f->app, &f->p, STORE_PROC_CANCELED), STORE_OK);
    left = procedure_leftovers(&f->app, &f->p, "ko");
    assert_non_null(strstr(left, "start-stopped로 시작하세요"));
    assert_contains(left, "HA가 아직 꺼져 있는 그룹: dg1");
    for (int k = 0; k < SERVICES_N; k++) {
        char mark[96];
        snprintf(mark, sizeof(mark), SERVICES_MARK_PREFIX "%s", services_stop_order[k]);
        assert_int_equal(store_service_delete(f->app.store, NODE_A, mark), STORE_OK);
        assert_int_equal(store_service_delete(f->app.store, NODE_B, mark), STORE_OK);
    }
    left = procedure_leftovers(&f->app, &f->p, NULL);
    assert_string_equal(left, "HA is still off on group dg1; enable it with ha/enable.");
    free(left);
    left = procedure_leftovers(&f->app, &f->p, "ko");
    assert_string_equal(left, "HA가 아직 꺼져 있는 그룹: dg1. ha/enable로 켜세요.");
    free(left);
    assert_int_equal(store_group_set_ha(f->app.store, "dg1", true, 0), STORE_OK);
    assert_null(procedure_leftovers(&f->app, &f->p, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_step1_guard_needs_topology, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step1_disables_and_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step2_guard_settle_and_ha, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step2_stops_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step2_hook_fails_run_stays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_services_end_after_run_moved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_services_given_up_at_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_groups_and_what_cancel_leaves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step3_same_default_no_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step3_domains_and_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step3_refusal_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_after_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step7_guards_and_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_leaves_state_and_says_so, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step7_group_removed_meanwhile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leftovers_shrink, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
