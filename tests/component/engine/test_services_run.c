/* Unit tests for component/services runs with hooks on a real loop and a real store: a hook
 * script in the test's directory logs every call and fails (or hangs) for the calls listed in
 * files beside it. Covered: a failed stop that the status hook says still runs (state kept, no
 * "stopped by us" mark, the rest of that node skipped, the other node goes on), a failed start
 * the status hook says is down, a hook that cannot be started, a hook that times out, a second
 * run while one waits for a hook, start-stopped restarting a network service someone started
 * by hand, the presence-engine listener, hook settings that do not parse, and a stop the store
 * cannot record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "component/app.h"
#include "component/config.h"
#include "component/engine/services.h"
#include "store/store_topo.h"
#include "tests/lib/store_fault.h"
#include "tests/lib/tmpstore.h"
#include "util/log.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#define NODE_A "imp1.example.test"
#define NODE_B "imp2.example.test"

/* Logs "$*" to calls; exits 3 when "$*" is a line of fail, sleeps when it is a line of hang. */
static const char script[] = "#!/bin/sh\n"
                             "d=$(dirname \"$0\")\n"
                             "echo \"$*\" >> \"$d/calls\"\n"
                             "if grep -qxF \"$*\" \"$d/hang\" 2>/dev/null; then exec sleep 30; fi\n"
                             "if grep -qxF \"$*\" \"$d/fail\" 2>/dev/null; then exit 3; fi\n"
                             "exit 0\n";

struct fixture {
    char dir[64], path[96], hook[128], hook_cmd[192], status_cmd[192];
    uv_loop_t loop;
    struct config cfg;
    struct app app;
    /* the last run's outcome, copied */
    bool ran;
    size_t n;
    char lines[32][160];
    int engine_calls;
};

static void write_file(struct fixture *f, const char *name, const char *text)
{
    char p[160];
    FILE *fp;

    snprintf(p, sizeof(p), "%s/%s", f->dir, name);
    fp = fopen(p, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

/* The hook's log, one call a line ("" when it never ran). Static buffer. */
static const char *calls(struct fixture *f)
{
    static char buf[4096];
    char p[160];
    size_t len;
    FILE *fp;

    snprintf(p, sizeof(p), "%s/calls", f->dir);
    buf[0] = '\0';
    if ((fp = fopen(p, "r")) == NULL)
        return buf;
    len = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[len] = '\0';
    fclose(fp);
    return buf;
}

static void remove_file(struct fixture *f, const char *name)
{
    char p[160];

    snprintf(p, sizeof(p), "%s/%s", f->dir, name);
    remove(p);
}

/* The control center with the given hook templates (NULL: none). */
static void use_hooks(struct fixture *f, char *stop, char *start, char *status)
{
    services_free(f->app.services);
    f->cfg.stop_hook = stop;
    f->cfg.start_hook = start;
    f->cfg.status_hook = status;
    f->app.services = services_new(&f->app);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char *err = NULL;

    log_set_level(LOG_LEVEL_ERROR);
    if (store_fault_install() != 0 ||
        tmpstore_make(f->dir, sizeof(f->dir), f->path, sizeof(f->path), "svrun") != 0)
        return -1;
    snprintf(f->hook, sizeof(f->hook), "%s/hook.sh", f->dir);
    write_file(f, "hook.sh", script);
    assert_int_equal(chmod(f->hook, 0755), 0);
    snprintf(f->hook_cmd, sizeof(f->hook_cmd), "%s {operation} {node} {service}", f->hook);
    snprintf(f->status_cmd, sizeof(f->status_cmd), "%s status {node} {service}", f->hook);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->app.loop = &f->loop;
    f->cfg.service_hook_timeout = 30;
    f->app.cfg = &f->cfg;
    f->app.store = store_open(f->path, &err);
    if (f->app.store == NULL)
        fail_msg("store_open: %s", err);
    assert_int_equal(store_group_insert(f->app.store, "dg1", false), STORE_OK);
    assert_int_equal(store_node_insert(f->app.store, NODE_A, STORE_NODE_PUBLISHER, "15.0", "dg1"),
                     STORE_OK);
    assert_int_equal(store_node_insert(f->app.store, NODE_B, STORE_NODE_SUBSCRIBER, "15.0", "dg1"),
                     STORE_OK);
    assert_int_equal(services_init_node(&f->app, NODE_A), 0);
    assert_int_equal(services_init_node(&f->app, NODE_B), 0);
    use_hooks(f, f->hook_cmd, f->hook_cmd, f->status_cmd);
    assert_null(services_config_problem(f->app.services));
    assert_true(services_has_hooks(f->app.services));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    store_fault_disarm();
    services_free(f->app.services);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    assert_int_equal(store_close(f->app.store), 0);
    remove_file(f, "hook.sh");
    remove_file(f, "calls");
    remove_file(f, "fail");
    remove_file(f, "hang");
    tmpstore_remove(f->dir, f->path);
    free(f);
    return 0;
}

static void on_done(void *arg, const struct service_outcome *out, size_t n)
{
    struct fixture *f = arg;

    f->ran = true;
    f->n = n;
    assert_true(n <= 32);
    for (size_t i = 0; i < n; i++)
        snprintf(f->lines[i], sizeof(f->lines[i]), "%s %s %s: %s", out[i].ok ? "ok" : "FAIL",
                 out[i].node, out[i].service, out[i].detail);
}

static void on_engine(void *ud)
{
    ((struct fixture *)ud)->engine_calls++;
}

/* Runs `op` on both nodes (or node A only) and the loop until the run has ended. */
static void run(struct fixture *f, enum service_op op, const char *const *sel, size_t nsel,
                bool both)
{
    const char *nodes[] = {NODE_A, NODE_B};
    const char *why = NULL;

    f->ran = false;
    if (services_run(f->app.services, nodes, both ? 2 : 1, op, sel, nsel, NULL, on_done, f, &why) !=
        0)
        fail_msg("services_run refused: %s", why);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_true(f->ran);
}

static const char *state_of(struct fixture *f, const char *node, const char *service)
{
    static char buf[64];
    struct store_service s = {0};

    buf[0] = '\0';
    if (store_service_get(f->app.store, node, service, &s) == STORE_OK)
        snprintf(buf, sizeof(buf), "%s", s.state);
    else
        snprintf(buf, sizeof(buf), "(none)");
    store_service_clear(&s);
    return buf;
}

static bool marked(struct fixture *f, const char *node, const char *service)
{
    char mark[96];

    snprintf(mark, sizeof(mark), SERVICES_MARK_PREFIX "%s", service);
    return strcmp(state_of(f, node, mark), "(none)") != 0;
}

/* Every service of `node` is recorded up or down, with the "stopped by us" mark or without. */
static void assert_node_recorded(struct fixture *f, const char *node, bool up, bool mark)
{
    for (int i = 0; i < SERVICES_N; i++) {
        const char *s = services_stop_order[i];
        assert_string_equal(state_of(f, node, s), services_state_word(s, up));
        assert_int_equal(marked(f, node, s), mark);
    }
}

static void assert_prefix(struct fixture *f, size_t i, const char *want)
{
    assert_true(i < f->n);
    if (strncmp(f->lines[i], want, strlen(want)) != 0)
        fail_msg("outcome %zu: '%s', expected it to start with '%s'", i, f->lines[i], want);
}

static void assert_line(struct fixture *f, size_t i, const char *want)
{
    assert_true(i < f->n);
    if (strcmp(f->lines[i], want) != 0)
        fail_msg("outcome %zu: '%s', expected '%s'", i, f->lines[i], want);
}

/* ---- tests ---- */

/* Stop-all where stopping the router fails on node A and the status hook says it still runs:
 * A's router stays "running" without a mark, A's feature services are skipped (the guide's
 * order: nothing after a failure on that node), node B stops completely. */
static void test_stop_fails_status_running(void **state)
{
    struct fixture *f = *state;

    write_file(f, "fail", "stop " NODE_A " xcp-router\n");
    services_on_engine_changed(f->app.services, on_engine, f);
    run(f, SERVICE_OP_STOP_ALL, NULL, 0, true);
    assert_int_equal(f->n, 10);
    assert_line(f, 0, "ok " NODE_A " client-profile-agent: stopped");
    assert_line(f, 1, "ok " NODE_A " sync-agent: stopped");
    assert_line(f, 2, "FAIL " NODE_A " xcp-router: failed: stop hook exited with status 3");
    assert_line(f, 3, "FAIL " NODE_A " sip-proxy: skipped: an earlier step failed on this node");
    assert_line(f, 4,
                "FAIL " NODE_A " presence-engine: skipped: an earlier step failed on this node");
    assert_line(f, 9, "ok " NODE_B " presence-engine: deactivated");
    assert_string_equal(calls(f), "stop " NODE_A " client-profile-agent\n"
                                  "stop " NODE_A " sync-agent\n"
                                  "stop " NODE_A " xcp-router\n"
                                  "status " NODE_A " xcp-router\n"
                                  "stop " NODE_B " client-profile-agent\n"
                                  "stop " NODE_B " sync-agent\n"
                                  "stop " NODE_B " xcp-router\n"
                                  "deactivate " NODE_B " sip-proxy\n"
                                  "deactivate " NODE_B " presence-engine\n");
    assert_string_equal(state_of(f, NODE_A, "xcp-router"), "running");
    assert_false(marked(f, NODE_A, "xcp-router"));
    assert_string_equal(state_of(f, NODE_A, "sync-agent"), "stopped");
    assert_true(marked(f, NODE_A, "sync-agent"));
    assert_string_equal(state_of(f, NODE_A, "presence-engine"), "activated");
    assert_string_equal(state_of(f, NODE_B, "presence-engine"), "deactivated");
    assert_true(marked(f, NODE_B, "presence-engine"));
    assert_false(services_up_everywhere(&f->app, "presence-engine"));
    assert_true(services_up_everywhere(&f->app, "no-such-service"));
    assert_int_equal(f->engine_calls, 1); /* presence-engine was touched */
}

/* The hooks stop the services and the store cannot record it (a full disk): each action is a
 * failure that says so, and nothing of it is written (neither the state nor the "stopped by
 * us" mark: one without the other kept step 5 of a domain change from starting the service
 * again). The node's plan goes on, as the actions themselves went through. Before, the
 * outcome said "stopped" and the store still said running. Run again on a working disk, the
 * services are stopped again and recorded with their marks. */
static void test_stopped_not_recorded(void **state)
{
    struct fixture *f = *state;

    store_fault_arm(STORE_FAULT_WRITE, STORE_FAULT_WAL, 0, -1, SQLITE_FULL);
    run(f, SERVICE_OP_STOP_ALL, NULL, 0, false);
    assert_true(store_fault_hits() > 0);
    store_fault_disarm();
    assert_int_equal(f->n, 5);
    for (size_t i = 0; i < 5; i++) {
        const char *s = services_stop_order[i];
        char want[160];
        snprintf(want, sizeof(want), "FAIL " NODE_A " %s: %s, but the store could not record it (",
                 s, services_state_word(s, false));
        assert_prefix(f, i, want);
        if (strstr(f->lines[i], "disk is full") == NULL)
            fail_msg("outcome %zu does not give sqlite's reason: %s", i, f->lines[i]);
    }
    assert_string_equal(calls(f), "stop " NODE_A " client-profile-agent\n"
                                  "stop " NODE_A " sync-agent\n"
                                  "stop " NODE_A " xcp-router\n"
                                  "deactivate " NODE_A " sip-proxy\n"
                                  "deactivate " NODE_A " presence-engine\n");
    assert_node_recorded(f, NODE_A, true, false);

    remove_file(f, "calls");
    run(f, SERVICE_OP_STOP_ALL, NULL, 0, false);
    assert_line(f, 0, "ok " NODE_A " client-profile-agent: stopped");
    assert_line(f, 4, "ok " NODE_A " presence-engine: deactivated");
    assert_node_recorded(f, NODE_A, false, true);
}

/* A start that fails, and the status hook (failing too) says the service is down: recorded
 * stopped, and the start of what depends on it is skipped. */
static void test_start_fails_status_down(void **state)
{
    struct fixture *f = *state;
    const char *sel[] = {"sync-agent"};

    services_on_engine_changed(f->app.services, on_engine, f);
    run(f, SERVICE_OP_STOP_ALL, NULL, 0, false);
    assert_int_equal(f->engine_calls, 1);
    remove_file(f, "calls");
    write_file(f, "fail", "start " NODE_A " xcp-router\nstatus " NODE_A " xcp-router\n");
    run(f, SERVICE_OP_START, sel, 1, false);
    assert_int_equal(f->n, 2);
    assert_line(f, 0, "FAIL " NODE_A " xcp-router: failed: start hook exited with status 3");
    assert_line(f, 1, "FAIL " NODE_A " sync-agent: skipped: an earlier step failed on this node");
    assert_string_equal(calls(f), "start " NODE_A " xcp-router\nstatus " NODE_A " xcp-router\n");
    assert_string_equal(state_of(f, NODE_A, "xcp-router"), "stopped");
    assert_true(marked(f, NODE_A, "xcp-router")); /* still ours to start again */
    assert_int_equal(f->engine_calls, 1);         /* a network-only run */
}

/* Without a status hook, a start that fails leaves the service recorded down; a hook program
 * that does not exist fails the action at once, with the reason in the outcome. */
static void test_hook_cannot_start(void **state)
{
    struct fixture *f = *state;
    const char *sel[] = {"client-profile-agent"};
    char missing[160];

    run(f, SERVICE_OP_STOP, sel, 1, false);
    assert_string_equal(state_of(f, NODE_A, "client-profile-agent"), "stopped");
    snprintf(missing, sizeof(missing), "%s/no-such-hook {node}", f->dir);
    use_hooks(f, f->hook_cmd, missing, NULL);
    run(f, SERVICE_OP_START, sel, 1, false);
    assert_int_equal(f->n, 2); /* the router it needs runs already */
    assert_line(f, 0, "ok " NODE_A " xcp-router: already running");
    assert_prefix(f, 1, "FAIL " NODE_A " client-profile-agent: failed: ");
    assert_string_equal(state_of(f, NODE_A, "client-profile-agent"), "stopped");
    assert_true(marked(f, NODE_A, "client-profile-agent"));
}

/* A hook that does not end is killed at [services] hook_timeout; the status hook then says
 * the service still runs. Another run asked for while a hook is out is refused. */
static void test_hook_times_out_and_one_run_at_a_time(void **state)
{
    struct fixture *f = *state;
    const char *sel[] = {"sip-proxy"}, *nodes[] = {NODE_B}, *why = NULL;

    f->cfg.service_hook_timeout = 1;
    use_hooks(f, f->hook_cmd, f->hook_cmd, f->status_cmd);
    write_file(f, "hang", "deactivate " NODE_A " sip-proxy\n");
    f->ran = false;
    assert_int_equal(services_run(f->app.services, (const char *[]){NODE_A}, 1,
                                  SERVICE_OP_DEACTIVATE, sel, 1, NULL, on_done, f, &why),
                     0);
    assert_false(f->ran);
    assert_int_equal(services_run(f->app.services, nodes, 1, SERVICE_OP_DEACTIVATE, sel, 1, "ko",
                                  on_done, f, &why),
                     -1);
    assert_non_null(strstr(why, "다른 서비스 작업이 진행 중"));
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_true(f->ran);
    assert_int_equal(f->n, 1);
    assert_prefix(f, 0, "FAIL " NODE_A " sip-proxy: failed: deactivate hook timed out");
    assert_string_equal(state_of(f, NODE_A, "sip-proxy"), "activated");
    assert_false(marked(f, NODE_A, "sip-proxy"));
    assert_string_equal(state_of(f, NODE_B, "sip-proxy"), "activated"); /* never run */
}

/* start-stopped after a stop-all, with client-profile-agent started by hand meanwhile on node
 * A: the guide's restart of the network services (the running one stopped first), then the
 * feature services activated; node B, where imdomaind stopped nothing, is left alone. */
static void test_start_stopped_restarts(void **state)
{
    struct fixture *f = *state;

    run(f, SERVICE_OP_STOP_ALL, NULL, 0, false);
    assert_int_equal(store_service_set(f->app.store, NODE_A, "client-profile-agent", "running"),
                     STORE_OK);
    remove_file(f, "calls");
    run(f, SERVICE_OP_START_STOPPED, NULL, 0, true);
    assert_string_equal(calls(f), "stop " NODE_A " client-profile-agent\n"
                                  "start " NODE_A " xcp-router\n"
                                  "start " NODE_A " client-profile-agent\n"
                                  "start " NODE_A " sync-agent\n"
                                  "activate " NODE_A " sip-proxy\n"
                                  "activate " NODE_A " presence-engine\n");
    assert_int_equal(f->n, 6);
    assert_line(f, 0, "ok " NODE_A " client-profile-agent: stopped");
    assert_line(f, 5, "ok " NODE_A " presence-engine: activated");
    assert_node_recorded(f, NODE_A, true, false);
    assert_true(services_up_everywhere(&f->app, "xcp-router"));
}

/* A stop or status hook that does not parse: the problem is named and that hook is not used
 * (the state is only recorded). */
static void test_hook_config_problem(void **state)
{
    struct fixture *f = *state;
    const char *sel[] = {"sync-agent"};

    use_hooks(f, "\"/bin/false {node}", NULL, NULL);
    assert_string_equal(services_config_problem(f->app.services), "stop_hook does not parse");
    assert_false(services_has_hooks(f->app.services));
    run(f, SERVICE_OP_STOP, sel, 1, false);
    assert_line(f, 0, "ok " NODE_A " sync-agent: stopped");
    use_hooks(f, NULL, NULL, "   ");
    assert_string_equal(services_config_problem(f->app.services), "status_hook does not parse");
    assert_string_equal(calls(f), "");
}

/* A status hook that cannot be started (a wrong path): the failed action is reported as is,
 * a failed start leaves the service recorded down, and the next node's actions are run and
 * recorded as themselves (the first of them was taken for the status answer: no outcome, and
 * a stopped service recorded running). */
static void test_status_hook_cannot_start(void **state)
{
    struct fixture *f = *state;
    char missing[160];

    snprintf(missing, sizeof(missing), "%s/no-such-status {node}", f->dir);
    use_hooks(f, f->hook_cmd, f->hook_cmd, missing);
    write_file(f, "fail", "stop " NODE_A " client-profile-agent\n");
    run(f, SERVICE_OP_STOP_ALL, NULL, 0, true);
    assert_int_equal(f->n, 10);
    assert_line(f, 0,
                "FAIL " NODE_A " client-profile-agent: failed: stop hook exited with status 3");
    assert_line(f, 1, "FAIL " NODE_A " sync-agent: skipped: an earlier step failed on this node");
    assert_line(f, 5, "ok " NODE_B " client-profile-agent: stopped");
    assert_line(f, 9, "ok " NODE_B " presence-engine: deactivated");
    assert_string_equal(state_of(f, NODE_A, "client-profile-agent"), "running");
    for (int i = 0; i < SERVICES_N; i++) {
        const char *sv = services_stop_order[i];
        assert_string_equal(state_of(f, NODE_B, sv), services_state_word(sv, false));
        assert_true(marked(f, NODE_B, sv));
    }
    /* a failed start, no status answer: recorded down */
    remove_file(f, "fail");
    write_file(f, "fail", "start " NODE_B " xcp-router\n");
    run(f, SERVICE_OP_START_STOPPED, NULL, 0, true);
    assert_string_equal(state_of(f, NODE_B, "xcp-router"), "stopped");
    assert_true(marked(f, NODE_B, "xcp-router"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stop_fails_status_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stopped_not_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_fails_status_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_cannot_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_times_out_and_one_run_at_a_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_stopped_restarts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_config_problem, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_hook_cannot_start, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
