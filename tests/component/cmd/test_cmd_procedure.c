/* Unit tests for procedure/domain-change (component/cmd/cmd_procedure.c) through the ad-hoc
 * framework on a real store: the seven steps in Korean with renames and the refusals of step 3's
 * lines, a guard refusing step 1 and step 7, "complete" closing the job and sessions views, and
 * the answers when another connection holds the store's write lock (the step stays). Services
 * have no hooks (their runs end at once), presence is not tracked (every count is 0). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "component/app.h"
#include "component/cmd/commands.h"
#include "component/config.h"
#include "component/engine/services.h"
#include "store/store_domain.h"
#include "store/store_job.h"
#include "store/store_procedure.h"
#include "store/store_settings.h"
#include "store/store_topo.h"
#include "xmpp/stanza.h"
#include "tests/lib/cmd_fixture.h"
#include "tests/lib/tmpstore.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NODE "procedure/domain-change"
#define NODE_A "imp1.example.test"
#define NODE_B "imp2.example.test"
#define F(var, v) "<field var='" var "'><value>" v "</value></field>"

static int setup(void **state)
{
    struct cmd_fx *fx = cmd_fx_open("cmd-proc", NULL);

    if (fx == NULL)
        return -1;
    fx->cfg.settle_time = 0;
    fx->app.cfg = &fx->cfg;
    fx->app.services = services_new(&fx->app);
    assert_int_equal(cmd_procedure_register(&fx->app), 0);
    *state = fx;
    return 0;
}

/* fx->data: another connection, holding the write lock while set (lock_store). */
static int teardown(void **state)
{
    struct cmd_fx *fx = *state;

    if (fx->data)
        sqlite3_close(fx->data);
    cmd_fx_stop(fx);
    tmpstore_remove(fx->dir, fx->db);
    free(fx);
    return 0;
}

/* Two nodes in group g1 with HA on, every service up. */
static void topology(struct cmd_fx *fx)
{
    assert_int_equal(store_group_insert(fx->app.store, "g1", true), STORE_OK);
    assert_int_equal(store_node_insert(fx->app.store, NODE_A, STORE_NODE_PUBLISHER, "15.0", "g1"),
                     STORE_OK);
    assert_int_equal(store_node_insert(fx->app.store, NODE_B, STORE_NODE_SUBSCRIBER, "15.0", "g1"),
                     STORE_OK);
    assert_int_equal(services_init_node(&fx->app, NODE_A), 0);
    assert_int_equal(services_init_node(&fx->app, NODE_B), 0);
}

/* ---- talking to the command ---- */

/* One request as ADMIN on NODE (lang NULL: "en"); see req. */
static xmpp_stanza_t *ask(struct cmd_fx *fx, const char *lang, const char *sid, const char *action,
                          const char *fields)
{
    return req(fx, lang ? lang : "en", NODE, sid, action, fields);
}

/* Asserts status `want` and `needle` in the reply, keeps its session id in sid (may be NULL),
 * and releases it. */
static void expect(xmpp_stanza_t *reply, const char *want, const char *needle, char sid[64])
{
    expect_status(reply, want, sid);
    if (needle)
        assert_has(reply, needle);
    xmpp_stanza_release(reply);
}

/* An iq error `cond` whose text holds `needle`; released. */
static void expect_error_text(xmpp_stanza_t *reply, const char *cond, const char *needle)
{
    expect_error(reply, cond, NULL);
    assert_has(reply, needle);
    xmpp_stanza_release(reply);
}

static int step_of(struct cmd_fx *fx)
{
    struct store_procedure p;
    int step = 0;

    if (store_procedure_get_active(fx->app.store, &p) == STORE_OK)
        step = p.step;
    store_procedure_clear(&p);
    return step;
}

/* Another connection takes the store's write lock (or gives it back). */
static void lock_store(struct cmd_fx *fx, bool on)
{
    sqlite3 *other = fx->data;

    if (other == NULL) {
        assert_int_equal(sqlite3_open(fx->db, &other), SQLITE_OK);
        fx->data = other;
    }
    assert_int_equal(sqlite3_exec(other, on ? "BEGIN IMMEDIATE" : "ROLLBACK", NULL, NULL, NULL),
                     SQLITE_OK);
}

/* ---- tests ---- */

/* The whole run in Korean: each step's title, note and refusal in the request's language. */
static void test_seven_steps_in_korean(void **state)
{
    struct cmd_fx *fx = *state;
    char sid[64];

    /* No topology yet: step 1 is refused with the remedy. */
    expect(ask(fx, "ko", NULL, "execute", NULL), "executing", "도메인 변경 1/7단계", sid);
    expect(ask(fx, "ko", sid, "next", NULL), "completed", "1단계를 진행할 수 없습니다", NULL);
    assert_int_equal(step_of(fx), 0);

    topology(fx);
    assert_int_equal(
        store_domain_insert(fx->app.store, "old.example.test", STORE_MANAGED_ADMIN, true),
        STORE_OK);
    expect(ask(fx, "ko", NULL, "execute", NULL), "executing", "진행할 수 있음", sid);
    expect(ask(fx, "ko", sid, "next", NULL), "executing", "HA를 끄고 노드별 활성 세션 수를", NULL);
    assert_int_equal(step_of(fx), 2);
    expect(ask(fx, "ko", sid, "next", NULL), "executing", "서비스 작업 10개를 마쳤습니다", NULL);
    assert_int_equal(step_of(fx), 3);

    /* Step 3: a blank rename line is skipped; a bad new name and a bad default domain are
     * refused with the stage kept. */
    expect(ask(fx, "ko", sid, "next",
               "<field var='rename'><value> </value><value>old.example.test "
               "-bad.example.test</value></field>"),
           "executing", "type=\"error\"", NULL);
    expect(ask(fx, "ko", sid, "next", F("default_domain", "bad_name")), "executing",
           "type=\"error\"", NULL);
    assert_int_equal(step_of(fx), 3);
    expect(ask(fx, "ko", sid, "next",
               "<field var='rename'><value> </value><value>old.example.test -> "
               "new.example.test</value></field>"),
           "executing", "라우터를 갱신했습니다", NULL);
    assert_int_equal(store_domain_exists(fx->app.store, "new.example.test"), STORE_OK);
    assert_int_equal(store_domain_exists(fx->app.store, "old.example.test"), STORE_NOTFOUND);
    assert_int_equal(step_of(fx), 4);

    expect(ask(fx, "ko", sid, "next", NULL), "executing", "TLS 페더레이션이 꺼져 있으므로", NULL);
    assert_int_equal(step_of(fx), 5);
    expect(ask(fx, "ko", sid, "next", NULL), "executing", "도메인 변경 6/7단계", NULL);
    /* Complete on the sessions view only closes it. */
    expect(ask(fx, "ko", sid, "complete", NULL), "completed", "닫았습니다", NULL);
    assert_int_equal(step_of(fx), 6);
    expect(ask(fx, "ko", NULL, "execute", NULL), "executing", "6단계에서 이어 가기", sid);
    expect(ask(fx, "ko", sid, "next", F("action", "resume")), "executing", "도메인 변경 6/7단계",
           NULL);
    expect(ask(fx, "ko", sid, "next", NULL), "executing", "세션이 돌아왔습니다", NULL);
    assert_int_equal(step_of(fx), 7);

    /* A service went down again: step 7 refuses, and the run stays. */
    assert_int_equal(store_service_set(fx->app.store, NODE_B, SERVICE_SIP_PROXY, "deactivated"),
                     STORE_OK);
    expect(ask(fx, "ko", sid, "complete", NULL), "completed", "7단계를 진행할 수 없습니다", NULL);
    assert_int_equal(step_of(fx), 7);
    assert_int_equal(store_service_set(fx->app.store, NODE_B, SERVICE_SIP_PROXY, "activated"),
                     STORE_OK);
    expect(ask(fx, "ko", NULL, "execute", NULL), "executing", "7단계에서 이어 가기", sid);
    expect(ask(fx, "ko", sid, "next", F("action", "resume")), "executing", "도메인 변경 7/7단계",
           NULL);
    expect(ask(fx, "ko", sid, "complete", NULL), "completed", "HA를 다시 켰습니다", NULL);
    assert_int_equal(step_of(fx), 0);
}

/* Step 3 with a new default domain waits for its job; complete closes that view, and the run
 * goes on once the job has ended. */
static void test_job_view_closes_and_resumes(void **state)
{
    struct cmd_fx *fx = *state;
    struct store_procedure p;
    char sid[64];

    topology(fx);
    expect(ask(fx, NULL, NULL, "execute", NULL), "executing", "step 1 of 7", sid);
    expect(ask(fx, NULL, sid, "next", NULL), "executing", "step 2 of 7", NULL);
    expect(ask(fx, NULL, sid, "next", NULL), "executing", "step 3 of 7", NULL);
    expect(ask(fx, NULL, sid, "next", F("default_domain", "Fresh.Example.Test")), "executing",
           "the default-domain job", NULL);
    expect(ask(fx, NULL, sid, "next", NULL), "executing", "the default-domain job", NULL);
    expect(ask(fx, NULL, sid, "complete", NULL), "completed", "Closed; the procedure stays", NULL);
    assert_int_equal(store_procedure_get_active(fx->app.store, &p), STORE_OK);
    assert_int_equal(p.step, 3);
    assert_true(p.job_id > 0);
    assert_int_equal(store_job_set_state(fx->app.store, p.job_id, STORE_JOB_COMPLETED, NULL),
                     STORE_OK);
    store_procedure_clear(&p);
    expect(ask(fx, NULL, NULL, "execute", NULL), "executing", "at step 3 of 7", sid);
    expect(ask(fx, NULL, sid, "next", F("action", "resume")), "executing", "step 4 of 7", NULL);
    assert_int_equal(step_of(fx), 4);
    expect(ask(fx, NULL, sid, "cancel", NULL), "canceled", NULL, NULL);
}

/* Another connection holds the write lock: the step cannot be recorded, the admin is told the
 * store failed (with SQLite's words) and the run stays; once the lock is gone it goes on. Each
 * refusal waits out the store's busy timeout. */
static void test_store_locked_by_another_connection(void **state)
{
    struct cmd_fx *fx = *state;
    char sid[64];

    topology(fx);
    expect(ask(fx, NULL, NULL, "execute", NULL), "executing", "step 1 of 7", sid);
    lock_store(fx, true);
    expect_error_text(ask(fx, NULL, sid, "next", NULL), "internal-server-error",
                      "the store failed: begin: database is locked");
    lock_store(fx, false);
    assert_int_equal(step_of(fx), 0);
    expect(ask(fx, NULL, sid, "next", NULL), "executing", "step 2 of 7", NULL);
    expect(ask(fx, NULL, sid, "next", NULL), "executing", "step 3 of 7", NULL);
    expect(ask(fx, NULL, sid, "next", ""), "executing", "step 4 of 7", NULL);
    expect(ask(fx, NULL, sid, "next", NULL), "executing", "step 5 of 7", NULL);
    expect(ask(fx, NULL, sid, "next", NULL), "executing", "step 6 of 7", NULL);
    /* Step 6 would move on: the lock refuses it. */
    lock_store(fx, true);
    expect_error_text(ask(fx, NULL, sid, "next", NULL), "internal-server-error",
                      "database is locked");
    lock_store(fx, false);
    assert_int_equal(step_of(fx), 6);
    /* Cancel from the resume offer: refused under the lock, done after it. */
    expect(ask(fx, NULL, NULL, "execute", NULL), "executing", "at step 6 of 7", sid);
    lock_store(fx, true);
    expect_error_text(ask(fx, NULL, sid, "next", F("action", "cancel")), "internal-server-error",
                      "database is locked");
    lock_store(fx, false);
    assert_int_equal(step_of(fx), 6);
    expect(ask(fx, NULL, sid, "next", F("action", "cancel")), "completed",
           "The procedure is canceled", NULL);
    assert_int_equal(step_of(fx), 0);
}

static void never_called(void *arg, const struct service_outcome *out, size_t n)
{
    (void)arg;
    (void)out;
    (void)n;
    fail_msg("the services run given up must not answer");
}

/* Step 2 while another services run (the services command, its stop hook still out) holds the
 * control center: the step is refused with the reason, nothing is stopped and the run stays at
 * step 2; once that run is over, step 2 goes through. */
static void test_step2_while_services_busy(void **state)
{
    struct cmd_fx *fx = *state;
    const char *nodes[] = {NODE_A}, *sel[] = {SERVICE_SYNC_AGENT}, *why = NULL;
    struct store_service sv;
    char sid[64];

    topology(fx);
    expect(ask(fx, NULL, NULL, "execute", NULL), "executing", "step 1 of 7", sid);
    expect(ask(fx, NULL, sid, "next", NULL), "executing", "step 2 of 7", NULL);
    services_free(fx->app.services);
    fx->cfg.stop_hook = "/bin/sleep 30";
    fx->app.services = services_new(&fx->app);
    assert_int_equal(services_run(fx->app.services, nodes, 1, SERVICE_OP_STOP, sel, 1, NULL,
                                  never_called, NULL, &why),
                     0);
    expect(ask(fx, NULL, sid, "next", NULL), "completed",
           "Step 2 cannot run: another services run is in progress", NULL);
    assert_int_equal(step_of(fx), 2);
    assert_int_equal(store_service_get(fx->app.store, NODE_B, SERVICE_XCP_ROUTER, &sv), STORE_OK);
    assert_string_equal(sv.state, "running");
    store_service_clear(&sv);
    /* The daemon restarts without the hook: that run is given up, step 2 resumes. */
    services_free(fx->app.services);
    fx->cfg.stop_hook = NULL;
    fx->app.services = services_new(&fx->app);
    expect(ask(fx, NULL, NULL, "execute", NULL), "executing", "at step 2 of 7", sid);
    expect(ask(fx, NULL, sid, "next", F("action", "resume")), "executing", "step 2 of 7", NULL);
    expect(ask(fx, NULL, sid, "next", NULL), "executing", "step 3 of 7", NULL);
    assert_int_equal(store_service_get(fx->app.store, NODE_B, SERVICE_XCP_ROUTER, &sv), STORE_OK);
    assert_string_equal(sv.state, "stopped");
    store_service_clear(&sv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_seven_steps_in_korean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_view_closes_and_resumes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_locked_by_another_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step2_while_services_busy, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
