/* Unit tests for store/store.c when the disk fails under it (the failing VFS of
 * tests/lib/store_fault.c): a commit that cannot write its WAL, reads that fail in every kind of
 * query, an open that cannot read the file, a checkpoint at close that cannot write, a savepoint
 * whose statement fails. Each gives STORE_ERR with a message that says what was being done and
 * what sqlite said, leaves no transaction open, changes nothing (checked after the fault is gone
 * and after reopening), and the same connection works again once the disk does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_domain.h"
#include "store/store_settings.h"
#include "tests/lib/store_fault.h"
#include "tests/lib/tmpstore.h"
#include "util/log.h"

struct fx {
    char dir[64];
    char path[128];
    struct store *st;
};

static struct store *open_store(const char *path)
{
    char *err = NULL;
    struct store *st = store_open(path, &err);

    if (st == NULL)
        fail_msg("store_open: %s", err ? err : "(no message)");
    return st;
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    log_set_level(LOG_LEVEL_ERROR);
    if (fx == NULL || store_fault_install() != 0 ||
        tmpstore_make(fx->dir, sizeof(fx->dir), fx->path, sizeof(fx->path), "fault") < 0)
        return -1;
    fx->st = open_store(fx->path);
    if (store_domain_insert(fx->st, "kept.example", STORE_MANAGED_ADMIN, true) != STORE_OK)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    store_fault_disarm();
    if (fx->st != NULL)
        assert_int_equal(store_close(fx->st), 0);
    assert_int_equal(tmpstore_remove(fx->dir, fx->path), 0);
    free(fx);
    return 0;
}

static void assert_errmsg(struct store *st, const char *what, const char *sqlite_says)
{
    const char *m = store_errmsg(st);

    if (strstr(m, what) == NULL || strstr(m, sqlite_says) == NULL)
        fail_msg("store_errmsg '%s' does not say '%s' and '%s'", m, what, sqlite_says);
}

/* The domains in the store, as "a,b," (the store must work). */
static void assert_domains(struct store *st, const char *want)
{
    struct store_domain *list = NULL;
    size_t n = 0;
    char got[256] = "";

    assert_int_equal(store_domain_list(st, NULL, 0, 0, &list, &n), STORE_OK);
    for (size_t i = 0; i < n; i++) {
        strcat(got, list[i].name);
        strcat(got, ",");
    }
    store_domain_list_free(list, n);
    assert_string_equal(got, want);
}

/* Another connection changes the file: ours must read it again from the disk (its page cache
 * is stale), so the next query reads through the VFS. */
static void change_behind(struct fx *fx)
{
    assert_int_equal(store_fault_sql(fx->path, "UPDATE settings SET wildcard_sans ="
                                               " 1 - wildcard_sans"),
                     0);
}

/* The disk is full when the commit writes the WAL: STORE_ERR naming the commit, sqlite has
 * rolled the transaction back (store_rollback has nothing left to do), nothing of it is in the
 * store, and the next transaction commits. */
static void test_commit_disk_full(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(store_begin(fx->st), STORE_OK);
    assert_int_equal(store_domain_insert(fx->st, "lost.example", STORE_MANAGED_ADMIN, true),
                     STORE_OK);
    store_fault_arm(STORE_FAULT_WRITE, STORE_FAULT_WAL, 0, -1, SQLITE_FULL);
    assert_int_equal(store_commit(fx->st), STORE_ERR);
    assert_true(store_fault_hits() > 0);
    assert_errmsg(fx->st, "commit", "full");
    store_fault_disarm();
    assert_int_equal(store_rollback(fx->st), STORE_OK);
    assert_false(store_in_transaction(fx->st));
    assert_domains(fx->st, "kept.example,");
    assert_int_equal(store_domain_insert(fx->st, "after.example", STORE_MANAGED_ADMIN, true),
                     STORE_OK);
    assert_int_equal(store_close(fx->st), 0);
    fx->st = open_store(fx->path);
    assert_domains(fx->st, "after.example,kept.example,");
}

/* A statement on its own (its own transaction) whose write fails: STORE_ERR, not a conflict,
 * and the row is not there. */
static void test_autocommit_write_fails(void **state)
{
    struct fx *fx = *state;

    store_fault_arm(STORE_FAULT_WRITE, STORE_FAULT_ANY, 0, 1, SQLITE_IOERR_WRITE);
    assert_int_equal(store_domain_insert(fx->st, "lost.example", STORE_MANAGED_ADMIN, true),
                     STORE_ERR);
    assert_int_equal(store_fault_hits(), 1);
    assert_errmsg(fx->st, "domain", "disk I/O error");
    store_fault_disarm();
    assert_false(store_in_transaction(fx->st));
    assert_domains(fx->st, "kept.example,");
}

/* Reads fail in each way a query is run: one row, a scalar, a list. */
static void test_reads_fail(void **state)
{
    struct fx *fx = *state;
    struct store_domain *list = NULL;
    int64_t count = -1;
    size_t n = 99;

    change_behind(fx);
    store_fault_arm(STORE_FAULT_READ, STORE_FAULT_ANY, 0, -1, SQLITE_IOERR_READ);
    assert_int_equal(store_domain_exists(fx->st, "kept.example"), STORE_ERR);
    assert_errmsg(fx->st, "", "disk I/O error");
    assert_int_equal(store_domain_count(fx->st, NULL, &count), STORE_ERR);
    assert_int_equal(count, 0);
    assert_int_equal(store_domain_list(fx->st, NULL, 0, 0, &list, &n), STORE_ERR);
    assert_null(list);
    assert_int_equal(n, 0);
    assert_int_equal(store_schema_version(fx->st), -1);
    assert_true(store_fault_hits() >= 4);
    store_fault_disarm();
    assert_int_equal(store_domain_exists(fx->st, "kept.example"), STORE_OK);
    assert_int_equal(store_domain_count(fx->st, NULL, &count), STORE_OK);
    assert_int_equal(count, 1);
    assert_int_equal(store_schema_version(fx->st), STORE_SCHEMA_VERSION);
}

/* A read inside a read transaction fails: sqlite ends the transaction by itself, so ending it
 * is not a second failure (it was one before: "cannot commit - no transaction is active", which
 * sessions.c logged as a warning of its own); the next read transaction works. */
static void test_read_transaction_fails(void **state)
{
    struct fx *fx = *state;

    change_behind(fx);
    store_fault_arm(STORE_FAULT_READ, STORE_FAULT_ANY, 0, -1, SQLITE_IOERR_READ);
    assert_int_equal(store_read_begin(fx->st), STORE_OK); /* BEGIN DEFERRED reads nothing */
    assert_int_equal(store_domain_exists(fx->st, "kept.example"), STORE_ERR);
    assert_true(store_fault_hits() > 0);
    store_fault_disarm();
    if (store_read_end(fx->st) != STORE_OK)
        fail_msg("read end: %s", store_errmsg(fx->st));
    assert_false(store_in_transaction(fx->st));
    assert_int_equal(store_read_begin(fx->st), STORE_OK);
    assert_int_equal(store_domain_exists(fx->st, "kept.example"), STORE_OK);
    assert_int_equal(store_read_end(fx->st), STORE_OK);
}

/* The file cannot be read at open: NULL with a message naming the path, nothing left open. */
static void test_open_cannot_read(void **state)
{
    struct fx *fx = *state;
    char *err = NULL;

    assert_int_equal(store_close(fx->st), 0);
    fx->st = NULL;
    store_fault_arm(STORE_FAULT_READ, STORE_FAULT_DB, 0, -1, SQLITE_IOERR_READ);
    assert_null(store_open(fx->path, &err));
    assert_true(store_fault_hits() > 0);
    assert_non_null(err);
    if (strstr(err, "disk I/O error") == NULL)
        fail_msg("'%s' does not say what sqlite said", err);
    free(err);
    store_fault_disarm();
    fx->st = open_store(fx->path);
    assert_domains(fx->st, "kept.example,");
}

/* The checkpoint at close cannot write the database file: store_close says so (-1), frees
 * everything, and the committed rows are still there at the next open (the WAL kept them). */
static void test_close_checkpoint_fails(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(store_domain_insert(fx->st, "wal.example", STORE_MANAGED_ADMIN, true),
                     STORE_OK);
    store_fault_arm(STORE_FAULT_WRITE, STORE_FAULT_DB, 0, -1, SQLITE_IOERR_WRITE);
    assert_int_equal(store_close(fx->st), -1);
    fx->st = NULL;
    assert_true(store_fault_hits() > 0);
    store_fault_disarm();
    fx->st = open_store(fx->path);
    assert_domains(fx->st, "kept.example,wal.example,");
}

/* Closing inside a transaction whose rollback fails: -1, and the transaction is not kept. */
static void test_close_rollback_fails(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(store_begin(fx->st), STORE_OK);
    assert_int_equal(store_domain_insert(fx->st, "lost.example", STORE_MANAGED_ADMIN, true),
                     STORE_OK);
    /* Every file write and truncation fails: the rollback, then the checkpoint. */
    store_fault_arm(STORE_FAULT_WRITE, STORE_FAULT_ANY, 0, -1, SQLITE_IOERR_WRITE);
    int rc = store_close(fx->st);
    fx->st = NULL;
    store_fault_disarm();
    (void)rc; /* a WAL rollback writes nothing: whether close reports it depends on sqlite */
    fx->st = open_store(fx->path);
    assert_domains(fx->st, "kept.example,");
}

/* A savepoint inside a transaction whose statement cannot be written: the savepoint ends with
 * the error, the caller rolls back, nothing stays. */
static void test_settings_write_fails_in_transaction(void **state)
{
    struct fx *fx = *state;
    struct store_settings s;

    assert_int_equal(store_settings_get(fx->st, &s), STORE_OK);
    bool before = s.wildcard_sans;
    s.wildcard_sans = !before;
    assert_int_equal(store_begin(fx->st), STORE_OK);
    assert_int_equal(store_settings_set(fx->st, &s), STORE_OK);
    store_settings_clear(&s);
    store_fault_arm(STORE_FAULT_WRITE, STORE_FAULT_WAL, 0, -1, SQLITE_FULL);
    assert_int_equal(store_commit(fx->st), STORE_ERR);
    store_fault_disarm();
    assert_int_equal(store_rollback(fx->st), STORE_OK);
    assert_int_equal(store_settings_get(fx->st, &s), STORE_OK);
    assert_int_equal(s.wildcard_sans, before);
    store_settings_clear(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_disk_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_autocommit_write_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_transaction_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_cannot_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_checkpoint_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_rollback_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settings_write_fails_in_transaction, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
