/* Unit tests for the domains commands (component/cmd/cmd_domains*.c) on a store whose disk
 * fails (tests/lib/store_fault): a full disk at each write of domains/add, a rename and a delete
 * in turn answers internal-server-error "nothing was changed" and the domains are as before,
 * until the change goes through whole; an unreadable store fails the choice forms of update and
 * delete with internal-server-error instead of offering an empty or made-up list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "component/app.h"
#include "component/cmd/commands.h"
#include "store/store_domain.h"
#include "tests/lib/cmd_fixture.h"
#include "tests/lib/store_fault.h"
#include "util/log.h"
#include "xmpp/stanza.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD(var, v) "<field var='" var "'><value>" v "</value></field>"

static int setup(void **state)
{
    log_set_level(LOG_LEVEL_ERROR);
    if (store_fault_install() != 0)
        return -1;
    return cmd_fx_setup(state, "domfault", NULL, cmd_domains_register);
}

static int teardown(void **state)
{
    store_fault_disarm();
    return cmd_fx_teardown(state);
}

static bool is_store_error(xmpp_stanza_t *reply)
{
    xmpp_stanza_t *e = stanza_child(reply, "error", NULL);
    char *text;
    bool named;

    if (strcmp(xmpp_stanza_get_type(reply), "error") != 0 || e == NULL ||
        stanza_child(e, "internal-server-error", NULL) == NULL)
        return false;
    text = xmpp_stanza_get_text(stanza_child(e, "text", NULL));
    named = text && strstr(text, "nothing was changed: the store failed: ") != NULL;
    if (text != NULL)
        xmpp_free(xmpp_stanza_get_context(reply), text);
    return named;
}

/* Starts `node` and returns its session id in sid (the first stage must be a form). */
static void open_session(struct cmd_fx *fx, const char *node, char sid[64])
{
    xmpp_stanza_t *r = req(fx, NULL, node, NULL, "execute", NULL);

    assert_string_equal(status_of(r), "executing");
    snprintf(sid, 64, "%s",
             xmpp_stanza_get_attribute(stanza_child(r, "command", NS_COMMANDS), "sessionid"));
    xmpp_stanza_release(r);
}

static char *dump(xmpp_stanza_t *st)
{
    static char out[4096];
    char *buf = NULL;
    size_t len = 0;

    out[0] = '\0';
    if (xmpp_stanza_to_text(st, &buf, &len) == XMPP_EOK) {
        snprintf(out, sizeof(out), "%s", buf);
        xmpp_free(xmpp_stanza_get_context(st), buf);
    }
    return out;
}

static bool exists(struct cmd_fx *fx, const char *name)
{
    return store_domain_exists(fx->app.store, name) == STORE_OK;
}

/* The last stage of a change, built by `submit`, with the round-th WAL write and every later
 * one failing, for round = 0, 1, ...: each failing round must leave `unchanged` true; returns
 * the number of rounds that failed before the change went through. */
static int fail_each_write(struct cmd_fx *fx, xmpp_stanza_t *(*submit)(struct cmd_fx *fx),
                           bool (*unchanged)(struct cmd_fx *fx))
{
    int round = 0;

    for (;; round++) {
        assert_true(round < 50);
        store_fault_arm(STORE_FAULT_WRITE, STORE_FAULT_WAL, round, -1, SQLITE_FULL);
        xmpp_stanza_t *r = submit(fx);
        int hit = store_fault_hits();
        store_fault_disarm();
        if (!is_store_error(r)) {
            assert_string_equal(status_of(r), "completed");
            xmpp_stanza_release(r);
            break;
        }
        assert_true(hit > 0);
        xmpp_stanza_release(r);
        assert_true(unchanged(fx));
    }
    assert_true(round > 0);
    assert_false(unchanged(fx));
    return round;
}

static xmpp_stanza_t *submit_add(struct cmd_fx *fx)
{
    return req(fx, NULL, "domains/add", NULL, "execute", FIELD("domain", "new.example"));
}

static bool add_unchanged(struct cmd_fx *fx)
{
    return !exists(fx, "new.example");
}

static xmpp_stanza_t *submit_rename(struct cmd_fx *fx)
{
    char sid[64];
    xmpp_stanza_t *r;

    open_session(fx, "domains/update", sid);
    r = req(fx, NULL, "domains/update", sid, "next", FIELD("domain", "old.example"));
    assert_string_equal(status_of(r), "executing");
    xmpp_stanza_release(r);
    return req(fx, NULL, "domains/update", sid, "complete", FIELD("new_name", "renamed.example"));
}

static bool rename_unchanged(struct cmd_fx *fx)
{
    return exists(fx, "old.example") && !exists(fx, "renamed.example");
}

static xmpp_stanza_t *submit_delete(struct cmd_fx *fx)
{
    char sid[64];
    xmpp_stanza_t *r;

    open_session(fx, "domains/delete", sid);
    r = req(fx, NULL, "domains/delete", sid, "next", FIELD("domains", "gone.example"));
    assert_string_equal(status_of(r), "executing");
    xmpp_stanza_release(r);
    return req(fx, NULL, "domains/delete", sid, "complete", FIELD("confirm", "true"));
}

static bool delete_unchanged(struct cmd_fx *fx)
{
    return exists(fx, "gone.example") && exists(fx, "renamed.example");
}

static void test_disk_full_add_rename_delete(void **state)
{
    struct cmd_fx *fx = *state;

    print_message("# add: %d writes failed in turn\n",
                  fail_each_write(fx, submit_add, add_unchanged));
    assert_int_equal(store_domain_insert(fx->app.store, "old.example", STORE_MANAGED_ADMIN, true),
                     STORE_OK);
    print_message("# rename: %d writes failed in turn\n",
                  fail_each_write(fx, submit_rename, rename_unchanged));
    assert_int_equal(store_domain_insert(fx->app.store, "gone.example", STORE_MANAGED_ADMIN, true),
                     STORE_OK);
    print_message("# delete: %d writes failed in turn\n",
                  fail_each_write(fx, submit_delete, delete_unchanged));
    assert_true(exists(fx, "new.example"));
    assert_true(exists(fx, "renamed.example"));
    assert_false(exists(fx, "gone.example"));
}

/* The first read, then the second, ... fails: each time the answer is an error (the
 * preconditions not checkable, or internal-server-error naming the store), never a choice
 * form built on what could not be read; then the form comes. */
static void test_unreadable_choice_forms(void **state)
{
    struct cmd_fx *fx = *state;
    const char *nodes[] = {"domains/update", "domains/delete"};
    char sql[96];
    int server_errors = 0;

    assert_int_equal(store_domain_insert(fx->app.store, "a.example", STORE_MANAGED_ADMIN, true),
                     STORE_OK);
    for (int i = 0; i < 2; i++) {
        for (int round = 0;; round++) {
            assert_true(round < 100);
            /* a change behind the store's back: its page cache is stale and it must read */
            snprintf(sql, sizeof(sql), "UPDATE settings SET audit_time = '0%d:%02d'", i + 1,
                     round % 60);
            assert_int_equal(store_fault_sql(fx->db, sql), 0);
            store_fault_arm(STORE_FAULT_READ, STORE_FAULT_ANY, round, 1, SQLITE_IOERR_READ);
            xmpp_stanza_t *r = req(fx, NULL, nodes[i], NULL, "execute", NULL);
            int hit = store_fault_hits();
            store_fault_disarm();
            if (hit == 0) {
                assert_string_equal(status_of(r), "executing");
                xmpp_stanza_release(r);
                break;
            }
            if (is_store_error(r))
                server_errors++;
            else if (strcmp(status_of(r), "completed") != 0 ||
                     strstr(dump(r), "disk I/O error") == NULL)
                fail_msg("%s, read %d failing: %s", nodes[i], round, dump(r));
            xmpp_stanza_release(r);
        }
    }
    assert_true(server_errors > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_disk_full_add_rename_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_choice_forms, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
