/* Unit tests for procedure/domain-change (component/cmd/cmd_procedure.c) on a store whose disk
 * fails (tests/lib/store_fault): at each of the seven steps, the admin's "next" that runs the
 * step is sent with the first, second, ... read failing (once), and again with the first,
 * second, ... write failing (a full disk from then on). Whatever fails, the answer and the
 * store agree: a step reported done has moved the run on, a step not reported done has left
 * it where it was, and a write failing is never reported as a read; then the step goes
 * through on a working disk. Services have no hooks and presence is not tracked (every count
 * is 0). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "component/app.h"
#include "component/cmd/commands.h"
#include "component/config.h"
#include "component/engine/procedure.h"
#include "component/engine/services.h"
#include "store/store_procedure.h"
#include "store/store_topo.h"
#include "tests/lib/cmd_fixture.h"
#include "tests/lib/store_fault.h"
#include "util/log.h"
#include "xmpp/stanza.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NODE_A "imp1.example.test"
#define NODE_B "imp2.example.test"

static int setup(void **state)
{
    struct cmd_fx *fx;

    log_set_level(LOG_LEVEL_ERROR);
    if (store_fault_install() != 0 || (fx = cmd_fx_open("procfx", NULL)) == NULL)
        return -1;
    fx->cfg.settle_time = 0;
    fx->app.cfg = &fx->cfg;
    fx->at_once = true; /* as from a caller that cannot wait */
    fx->app.services = services_new(&fx->app);
    assert_int_equal(cmd_procedure_register(&fx->app), 0);
    assert_int_equal(store_group_insert(fx->app.store, "g1", true), STORE_OK);
    assert_int_equal(store_node_insert(fx->app.store, NODE_A, STORE_NODE_PUBLISHER, "15.0", "g1"),
                     STORE_OK);
    assert_int_equal(store_node_insert(fx->app.store, NODE_B, STORE_NODE_SUBSCRIBER, "15.0", "g1"),
                     STORE_OK);
    assert_int_equal(services_init_node(&fx->app, NODE_A), 0);
    assert_int_equal(services_init_node(&fx->app, NODE_B), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    store_fault_disarm();
    cmd_fx_close(*state);
    return 0;
}

/* One request (no deferred answers here: no hooks); the reply as text, malloc'd. */
static char *ask(struct cmd_fx *fx, const char *sid, const char *action, const char *fields,
                 char sid_out[64])
{
    xmpp_stanza_t *r = req(fx, NULL, "procedure/domain-change", sid, action, fields);
    char *text;

    if (sid_out != NULL) {
        xmpp_stanza_t *cmd = stanza_child(r, "command", NS_COMMANDS);
        snprintf(sid_out, 64, "%s", cmd ? xmpp_stanza_get_attribute(cmd, "sessionid") : "");
    }
    text = text_of(r);
    xmpp_stanza_release(r);
    return text;
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

static void on_services(void *arg, bool ok, const char *unrecorded,
                        const struct service_outcome *out, size_t n)
{
    (void)unrecorded;
    (void)out;
    (void)n;
    assert_true(ok);
    *(bool *)arg = true;
}

/* The run moved to `step` with the engine's own transitions, as earlier sessions left it. */
static void run_to(struct cmd_fx *fx, int step)
{
    struct store_procedure p = {0};
    struct proc_changes c = {0};
    const char *why = NULL;
    char *no = NULL;
    int64_t job = 0;
    bool ran = false;

    for (int at = 1; at < step; at++) {
        switch (at) {
        case PROC_HA_OFF:
            assert_int_equal(procedure_disable_ha(&fx->app, "admin@example.com", &p), STORE_OK);
            break;
        case PROC_STOP:
        case PROC_START:
            ran = false;
            assert_int_equal(procedure_run_services(&fx->app, &p, at == PROC_START, NULL,
                                                    on_services, &ran, NULL, &why),
                             0);
            assert_true(ran);
            break;
        case PROC_DOMAINS:
            assert_int_equal(procedure_change_domains(&fx->app, &p, &c, NULL, &no, &job),
                             DOMAINS_WORK_DONE);
            break;
        default:
            assert_int_equal(procedure_advance(&fx->app, &p, at + 1, -1), STORE_OK);
            break;
        }
        store_procedure_clear(&p);
        assert_int_equal(procedure_load(&fx->app, &p), STORE_OK);
        assert_int_equal(p.step, at + 1);
    }
    store_procedure_clear(&p);
}

/* Opens the command at the run's step `step`: the step's form, its session id in sid. */
static void open_at(struct cmd_fx *fx, int step, char sid[64])
{
    char *r;

    if (step == PROC_HA_OFF) {
        r = ask(fx, NULL, "execute", NULL, sid);
    } else {
        r = ask(fx, NULL, "execute", NULL, sid);
        assert_non_null(strstr(r, "Resume at step"));
        free(r);
        r = ask(fx, sid, "next", "<field var='action'><value>resume</value></field>", NULL);
    }
    if (strstr(r, "status=\"executing\"") == NULL)
        fail_msg("step %d: no form: %s", step, r);
    free(r);
}

/* The answer says the step went through: the next step's form, or for the last the end. */
static bool says_done(const char *r, int step)
{
    char next[64];

    if (step == PROC_HA_ON)
        return strstr(r, "HA is on again: the domain change is complete.") != NULL;
    snprintf(next, sizeof(next), "Domain change, step %d of 7", step + 1);
    return strstr(r, "status=\"executing\"") != NULL && strstr(r, next) != NULL;
}

/* A write failed and the step did not go through: the answer never says the store could not
 * be read (step 7 built one text for reads and writes; it had read the store fine). At step 7,
 * and at steps 2 and 5 when every services action went through, it says the change was not
 * recorded, with sqlite's reason. */
static void assert_write_failure_said(const char *r, int step, int round)
{
    const char *want = "The change could not be recorded in the store (";

    if (strstr(r, "could not be read") != NULL)
        fail_msg("step %d, write %d failing: the answer blames a read: %s", step, round, r);
    /* steps 2 and 5: the actions went through but the next step was not recorded */
    if (strstr(r, "services actions done.") != NULL &&
        (strstr(r, want) == NULL || strstr(r, "disk is full") == NULL))
        fail_msg("step %d, write %d failing: the answer says the actions are done and not that "
                 "the step was not recorded: %s",
                 step, round, r);
    if (step == PROC_HA_ON && (strstr(r, want) == NULL || strstr(r, "disk is full") == NULL))
        fail_msg("step 7, write %d failing: the answer does not say '%s' with sqlite's "
                 "reason: %s",
                 round, want, r);
}

/* Runs step `step` with each read, then each write failing in turn; see the file's comment. */
static void sweep(struct cmd_fx *fx, int step)
{
    const char *body = step == PROC_DOMAINS ? "" : NULL; /* step 3: no changes submitted */
    int kinds[2] = {STORE_FAULT_READ, STORE_FAULT_WRITE}, failed[2] = {0, 0};
    char sid[64];

    run_to(fx, step);
    for (int kind = 0; kind < 2; kind++) {
        for (int round = 0;; round++) {
            assert_true(round < 200);
            open_at(fx, step, sid);
            int before = step_of(fx); /* step, or 0 before step 1: no run yet */
            /* a change behind the store's back, so that its page cache is stale and it reads */
            char sql[80];
            snprintf(sql, sizeof(sql), "UPDATE settings SET audit_time = '%02d:%02d'",
                     round / 60 % 24, round % 60);
            assert_int_equal(store_fault_sql(fx->db, sql), 0);
            if (kinds[kind] == STORE_FAULT_READ)
                store_fault_arm(STORE_FAULT_READ, STORE_FAULT_ANY, round, 1, SQLITE_IOERR_READ);
            else
                store_fault_arm(STORE_FAULT_WRITE, STORE_FAULT_WAL, round, -1, SQLITE_FULL);
            char *r = ask(fx, sid, step == PROC_HA_ON ? "complete" : "next", body, NULL);
            int hit = store_fault_hits();
            store_fault_disarm();
            int now = step_of(fx);
            bool done = says_done(r, step), moved = now != before;
            if (done != moved)
                fail_msg("step %d, %s %d failing: the run is at %d, the answer: %s", step,
                         kind ? "write" : "read", round, now, r);
            if (hit > 0 && !moved && kinds[kind] == STORE_FAULT_WRITE)
                assert_write_failure_said(r, step, round);
            free(r);
            if (hit == 0) {
                assert_true(done); /* nothing failed: the step went through */
                break;
            }
            if (moved)
                break; /* a failure the step survived (a read it does without) */
            failed[kind]++;
        }
        if (kind == 0 && step_of(fx) != step) {
            /* the read sweep ended with the step done: start again from a fresh run */
            struct store_procedure p;
            if (procedure_load(&fx->app, &p) == STORE_OK) {
                assert_int_equal(procedure_end(&fx->app, &p, STORE_PROC_CANCELED), STORE_OK);
            }
            store_procedure_clear(&p);
            assert_int_equal(store_group_set_ha(fx->app.store, "g1", true, 0), STORE_OK);
            for (int k = 0; k < SERVICES_N; k++) {
                assert_int_equal(
                    store_service_set(fx->app.store, NODE_A, services_stop_order[k],
                                      services_state_word(services_stop_order[k], true)),
                    STORE_OK);
                assert_int_equal(
                    store_service_set(fx->app.store, NODE_B, services_stop_order[k],
                                      services_state_word(services_stop_order[k], true)),
                    STORE_OK);
            }
            run_to(fx, step);
        }
    }
    assert_true(failed[0] > 0 && failed[1] > 0);
    print_message("# step %d: %d runs with a read failing, %d with a write failing; each time "
                  "answer and store agree\n",
                  step, failed[0], failed[1]);
}

static void test_step1(void **state)
{
    sweep(*state, PROC_HA_OFF);
}

static void test_step2(void **state)
{
    sweep(*state, PROC_STOP);
}

static void test_step3(void **state)
{
    sweep(*state, PROC_DOMAINS);
}

static void test_step4(void **state)
{
    sweep(*state, PROC_CERT);
}

static void test_step5(void **state)
{
    sweep(*state, PROC_START);
}

static void test_step7(void **state)
{
    sweep(*state, PROC_HA_ON);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_step1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step5, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step7, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
