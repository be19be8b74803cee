/* Unit tests for default-domain and jobs/status (component/cmd/cmd_default.c) on a store whose
 * disk fails (tests/lib/store_fault): a full disk at each write of starting the job in turn
 * answers internal-server-error with nothing changed (no job, no half-written one) until the
 * job starts whole; an unreadable store answers internal-server-error on both commands and
 * each works again once it reads. The preconditions refuse the change while HA is on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "component/cmd/commands.h"
#include "store/store_job.h"
#include "store/store_settings.h"
#include "store/store_topo.h"
#include "tests/lib/cmd_fixture.h"
#include "tests/lib/reply.h"
#include "tests/lib/store_fault.h"
#include "util/log.h"
#include "xmpp/stanza.h"

static int setup(void **state)
{
    if (store_fault_install() != 0)
        return -1;
    return cmd_fx_setup(state, "ddfault", NULL, cmd_default_register);
}

static int teardown(void **state)
{
    store_fault_disarm();
    return cmd_fx_teardown(state);
}

/* One request, answered at once: `action` on `node`, with a one-field submission when `var` is
 * given. */
static xmpp_stanza_t *run(struct cmd_fx *fx, const char *node, const char *action, const char *var,
                          const char *value)
{
    xmpp_stanza_t *reply = req_field(fx, NULL, node, NULL, action, var, value);

    assert_false(fx->deferred);
    return reply;
}

static bool is_error(xmpp_stanza_t *reply, const char *cond)
{
    xmpp_stanza_t *e = stanza_child(reply, "error", NULL);

    return strcmp(xmpp_stanza_get_type(reply), "error") == 0 && e && stanza_child(e, cond, NULL);
}

static size_t count_jobs(struct cmd_fx *fx)
{
    struct store_job *list = NULL;
    size_t n = 0;

    assert_int_equal(store_job_list(fx->app.store, 100, &list, &n), STORE_OK);
    store_job_list_free(list, n);
    return n;
}

/* The disk fills up at the first, second, ... write of the change: each time the answer is
 * internal-server-error naming the store and no job exists; then the change goes through and
 * exactly one job, for the new domain, is recorded. */
static void test_disk_full_while_starting(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r;
    struct store_job j;
    int round = 0;

    for (;; round++) {
        assert_true(round < 50);
        store_fault_arm(STORE_FAULT_WRITE, STORE_FAULT_WAL, round, -1, SQLITE_FULL);
        r = run(fx, "default-domain", "complete", "domain", "new.example");
        int hit = store_fault_hits();
        store_fault_disarm();
        if (!is_error(r, "internal-server-error")) {
            assert_string_equal(reply_status(r), "completed");
            assert_true(reply_has_note(r, "info", "started job"));
            assert_int_equal(hit, 0);
            xmpp_stanza_release(r);
            break;
        }
        assert_true(hit > 0);
        xmpp_stanza_release(r);
        assert_int_equal(count_jobs(fx), 0);
    }
    assert_true(round > 0);
    assert_int_equal(count_jobs(fx), 1);
    assert_int_equal(store_job_get_active(fx->app.store, &j), STORE_OK);
    assert_string_equal(j.new_value, "new.example");
    assert_int_equal(j.kind, STORE_JOB_DEFAULT_DOMAIN);
    store_job_clear(&j);
    print_message("# %d writes failed in turn\n", round);
}

/* The store cannot be read: default-domain's form and jobs/status's list both answer
 * internal-server-error (not an empty or made-up view), and both work once it reads. */
static void test_store_unreadable(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r;

    assert_int_equal(
        store_job_create(fx->app.store, STORE_JOB_DEFAULT_DOMAIN, NULL, "b.example", 10, NULL),
        STORE_OK);
    /* a change behind the store's back, so that its page cache is stale and it must read */
    assert_int_equal(store_fault_sql(fx->db, "UPDATE settings SET audit_time = '03:00'"), 0);
    store_fault_arm(STORE_FAULT_READ, STORE_FAULT_ANY, 0, -1, SQLITE_IOERR_READ);
    r = run(fx, "default-domain", "execute", NULL, NULL);
    assert_true(store_fault_hits() > 0);
    store_fault_disarm();
    assert_true(is_error(r, "internal-server-error"));
    xmpp_stanza_release(r);

    assert_int_equal(store_fault_sql(fx->db, "UPDATE settings SET audit_time = '04:00'"), 0);
    store_fault_arm(STORE_FAULT_READ, STORE_FAULT_ANY, 0, -1, SQLITE_IOERR_READ);
    r = run(fx, "jobs/status", "execute", NULL, NULL);
    assert_true(store_fault_hits() > 0);
    store_fault_disarm();
    assert_true(is_error(r, "internal-server-error"));
    xmpp_stanza_release(r);

    assert_int_equal(store_fault_sql(fx->db, "UPDATE settings SET audit_time = '05:00'"), 0);
    store_fault_arm(STORE_FAULT_READ, STORE_FAULT_ANY, 0, -1, SQLITE_IOERR_READ);
    r = run(fx, "jobs/status", "complete", "job", "1");
    assert_true(store_fault_hits() > 0);
    store_fault_disarm();
    assert_true(is_error(r, "internal-server-error"));
    xmpp_stanza_release(r);

    r = run(fx, "default-domain", "execute", NULL, NULL);
    assert_string_equal(reply_status(r), "executing");
    xmpp_stanza_release(r);
    r = run(fx, "jobs/status", "execute", NULL, NULL);
    assert_string_equal(reply_status(r), "executing");
    xmpp_stanza_release(r);
}

/* HA on a redundancy group: the form says the preconditions are not met, and a submission is
 * refused with the guide's rule; no job. */
static void test_refused_with_ha_on(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r;

    assert_int_equal(store_group_insert(fx->app.store, "dg1", true), STORE_OK);
    r = run(fx, "default-domain", "execute", NULL, NULL);
    assert_string_equal(reply_status(r), "executing");
    xmpp_stanza_release(r);
    r = run(fx, "default-domain", "complete", "domain", "new.example");
    assert_string_equal(reply_status(r), "completed");
    assert_true(reply_has_note(r, "error", "dg1"));
    xmpp_stanza_release(r);
    assert_int_equal(count_jobs(fx), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_disk_full_while_starting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_unreadable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_with_ha_on, setup, teardown),
    };
    log_set_level(LOG_LEVEL_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
