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
#include "store/store_audit.h"
#include "store/store_domain.h"
#include "store/store_peer.h"
#include "store/store_settings.h"
#include "store/store_topo.h"
#include "store/store_user.h"
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

    assert_int_equal(store_domain_list(st, NULL, NULL, 0, &list, &n), STORE_OK);
    for (size_t i = 0; i < n; i++) {
        strcat(got, list[i].name);
        strcat(got, ",");
    }
    store_domain_list_free(list, n);
    assert_string_equal(got, want);
}

/* Another connection changes the file, its schema too: ours must read both again from the
 * disk (its page cache and its parsed schema are stale), so the next query reads through the
 * VFS, also while it prepares a statement. */
static void change_behind(struct fx *fx)
{
    assert_int_equal(store_fault_sql(fx->path, "UPDATE settings SET wildcard_sans ="
                                               " 1 - wildcard_sans;"
                                               " DROP TABLE IF EXISTS behind;"
                                               " CREATE TABLE behind (x)"),
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
    assert_int_equal(store_domain_list(fx->st, NULL, NULL, 0, &list, &n), STORE_ERR);
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

/* ---- every position of a fault in turn ---- */

/* One write transaction: two users (upserts inside savepoints), a domain, the commit; on any
 * failure the caller's rollback. Returns the first failure, or STORE_OK when it committed. */
static enum store_rc work(struct store *st, int round)
{
    char u1[32], u2[32], uri[64], dom[32];
    enum store_rc rc;

    snprintf(u1, sizeof(u1), "a%03d", round);
    snprintf(u2, sizeof(u2), "b%03d", round);
    snprintf(uri, sizeof(uri), "b%03d@sweep.example", round);
    snprintf(dom, sizeof(dom), "d%03d.example", round);
    rc = store_begin(st);
    if (rc == STORE_OK)
        rc = store_user_upsert(st, u1, NULL, NULL, NULL);
    if (rc == STORE_OK)
        rc = store_user_upsert(st, u2, uri, NULL, NULL);
    if (rc == STORE_OK)
        rc = store_domain_insert(st, dom, STORE_MANAGED_ADMIN, true);
    if (rc == STORE_OK)
        rc = store_commit(st);
    if (rc != STORE_OK) {
        assert_int_equal(rc, STORE_ERR); /* a failing disk is never a conflict */
        assert_true(store_errmsg(st)[0] != '\0');
        assert_int_equal(store_rollback(st), STORE_OK);
    }
    assert_false(store_in_transaction(st));
    return rc;
}

/* All of round `round` is in the store, or none of it. */
static void assert_all_or_nothing(struct store *st, int round, bool all)
{
    char u1[32], u2[32], uri[64], dom[32];
    struct store_user u;

    snprintf(u1, sizeof(u1), "a%03d", round);
    snprintf(u2, sizeof(u2), "b%03d", round);
    snprintf(uri, sizeof(uri), "b%03d@sweep.example", round);
    snprintf(dom, sizeof(dom), "d%03d.example", round);
    enum store_rc want = all ? STORE_OK : STORE_NOTFOUND;
    assert_int_equal(store_user_get(st, u1, &u), want);
    if (all)
        store_user_clear(&u);
    assert_int_equal(store_user_get(st, u2, &u), want);
    if (all) {
        assert_string_equal(u.directory_uri, uri);
        store_user_clear(&u);
    }
    assert_int_equal(store_domain_exists(st, dom), want);
}

/* Each read of the transaction fails in turn (another connection changed the file first, so
 * the reads reach the disk): whichever call it hits says STORE_ERR, the rollback leaves nothing
 * of the transaction, and the same connection commits the next one. */
static void test_read_sweep(void **state)
{
    struct fx *fx = *state;
    int round = 0;

    for (;; round++) {
        assert_true(round < 200);
        change_behind(fx);
        store_fault_arm(STORE_FAULT_READ, STORE_FAULT_ANY, round, 1, SQLITE_IOERR_READ);
        enum store_rc rc = work(fx->st, round);
        int hit = store_fault_hits();
        store_fault_disarm();
        assert_int_equal(rc == STORE_OK, hit == 0);
        assert_all_or_nothing(fx->st, round, rc == STORE_OK);
        if (hit == 0)
            break;
    }
    assert_true(round > 1); /* several positions failed before one passed */
    print_message("# %d reads failed in turn\n", round);
}

/* The same with each write of the commit failing in turn (the disk fills up). */
static void test_write_sweep(void **state)
{
    struct fx *fx = *state;
    int round = 0;

    for (;; round++) {
        assert_true(round < 200);
        store_fault_arm(STORE_FAULT_WRITE, STORE_FAULT_ANY, round, -1, SQLITE_FULL);
        enum store_rc rc = work(fx->st, round);
        int hit = store_fault_hits();
        store_fault_disarm();
        assert_int_equal(rc == STORE_OK, hit == 0);
        assert_all_or_nothing(fx->st, round, rc == STORE_OK);
        if (hit == 0)
            break;
    }
    assert_true(round > 1);
    print_message("# %d writes failed in turn\n", round);
}

/* A list of many rows, each read of it failing in turn, some after rows were read: STORE_ERR
 * and nothing returned (the rows read so far freed), or the whole list. */
static void test_list_sweep(void **state)
{
    struct fx *fx = *state;
    char name[32];
    int round = 0;

    assert_int_equal(store_begin(fx->st), STORE_OK);
    for (int i = 0; i < 400; i++) {
        snprintf(name, sizeof(name), "many%03d.example", i);
        assert_int_equal(store_domain_insert(fx->st, name, STORE_MANAGED_ADMIN, true), STORE_OK);
    }
    assert_int_equal(store_commit(fx->st), STORE_OK);
    for (;; round++) {
        struct store_domain *list = NULL;
        size_t n = 99;
        assert_true(round < 500);
        change_behind(fx);
        store_fault_arm(STORE_FAULT_READ, STORE_FAULT_ANY, round, 1, SQLITE_IOERR_READ);
        enum store_rc rc = store_domain_list(fx->st, NULL, NULL, 0, &list, &n);
        int hit = store_fault_hits();
        store_fault_disarm();
        if (hit == 0) {
            assert_int_equal(rc, STORE_OK);
            assert_int_equal(n, 401);
            store_domain_list_free(list, n);
            break;
        }
        assert_int_equal(rc, STORE_ERR);
        assert_null(list);
        assert_int_equal(n, 0);
    }
    assert_true(round > 2);
    print_message("# %d reads failed in turn\n", round);
}

/* users/list's numbered pages (store_user_page: the count, the search for the page's start,
 * the read), each read failing in turn: STORE_ERR and nothing, or the right page; and a page
 * read after a failure is right (nothing half-learnt is used). */
static void test_page_sweep(void **state)
{
    struct fx *fx = *state;
    char uid[32];
    int round = 0;

    assert_int_equal(store_begin(fx->st), STORE_OK);
    for (int i = 0; i < 400; i++) {
        snprintf(uid, sizeof(uid), "p%03d", i);
        assert_int_equal(store_user_upsert(fx->st, uid, "", NULL, NULL), STORE_OK);
    }
    assert_int_equal(store_commit(fx->st), STORE_OK);
    for (;; round++) {
        struct store_user *u = NULL;
        size_t n = 99;
        int64_t total = -1, page = 3 + round % 2;
        assert_true(round < 500);
        change_behind(fx); /* the next reads reach the disk, and nothing learnt holds */
        store_fault_arm(STORE_FAULT_READ, STORE_FAULT_ANY, round, 1, SQLITE_IOERR_READ);
        enum store_rc rc = store_user_page(fx->st, NULL, page, 100, &u, &n, &total);
        int hit = store_fault_hits();
        store_fault_disarm();
        if (hit == 0) {
            assert_int_equal(rc, STORE_OK);
            assert_int_equal(n, 100);
            assert_int_equal(total, 400);
            snprintf(uid, sizeof(uid), "p%03d", (int)(page - 1) * 100);
            assert_string_equal(u[0].userid, uid);
            store_user_list_free(u, n);
            break;
        }
        assert_int_equal(rc, STORE_ERR);
        assert_null(u);
        assert_int_equal(n, 0);
        assert_int_equal(store_user_page(fx->st, NULL, 2, 100, &u, &n, &total), STORE_OK);
        assert_int_equal(n, 100);
        assert_string_equal(u[0].userid, "p100");
        assert_string_equal(u[99].userid, "p199");
        store_user_list_free(u, n);
    }
    assert_true(round > 2);
    print_message("# %d reads failed in turn\n", round);
}

/* The other list readers (the audit log, nodes, groups, peers, the local directory URIs), each
 * over enough rows to span many pages: the read failing at each
 * position in turn (after some rows were read, whose strings must be freed) gives STORE_ERR and
 * nothing; once the disk works, the whole list. */
typedef enum store_rc (*list_fn)(struct store *st, size_t *n);

static enum store_rc list_audit(struct store *st, size_t *n)
{
    struct store_audit *v = NULL;
    enum store_rc rc = store_audit_list(st, 0, NULL, 0, &v, n);

    assert_true(rc == STORE_OK || v == NULL);
    store_audit_list_free(v, *n);
    return rc;
}

static enum store_rc list_nodes(struct store *st, size_t *n)
{
    struct store_node *v = NULL;
    enum store_rc rc = store_node_list(st, &v, n);

    assert_true(rc == STORE_OK || v == NULL);
    store_node_list_free(v, *n);
    return rc;
}

static enum store_rc list_groups(struct store *st, size_t *n)
{
    struct store_group *v = NULL;
    enum store_rc rc = store_group_list(st, &v, n);

    assert_true(rc == STORE_OK || v == NULL);
    store_group_list_free(v, *n);
    return rc;
}

static enum store_rc list_peers(struct store *st, size_t *n)
{
    struct store_peer *v = NULL;
    enum store_rc rc = store_peer_list(st, &v, n);

    assert_true(rc == STORE_OK || v == NULL);
    store_peer_list_free(v, *n);
    return rc;
}

/* The local directory URIs the peer protocol reads (in id order, in batches). */
static enum store_rc list_uris(struct store *st, size_t *n)
{
    char **v = NULL;
    int64_t last = 0;
    enum store_rc rc = store_peer_local_uris(st, 0, 1000, &v, n, &last);

    assert_true(rc == STORE_OK || v == NULL);
    store_peer_strings_free(v, *n);
    return rc;
}

static int sweep_list(struct fx *fx, list_fn fn, size_t want)
{
    int round = 0;

    for (;; round++) {
        size_t n = 99;
        assert_true(round < 500);
        change_behind(fx);
        store_fault_arm(STORE_FAULT_READ, STORE_FAULT_ANY, round, 1, SQLITE_IOERR_READ);
        enum store_rc rc = fn(fx->st, &n);
        int hit = store_fault_hits();
        store_fault_disarm();
        if (hit == 0) {
            assert_int_equal(rc, STORE_OK);
            assert_int_equal(n, want);
            return round;
        }
        assert_int_equal(rc, STORE_ERR);
        assert_int_equal(n, 0);
    }
}

static void test_other_lists_sweep(void **state)
{
    struct fx *fx = *state;
    char name[64], details[256];
    const struct {
        const char *what;
        list_fn fn;
    } lists[] = {{"audit", list_audit},
                 {"nodes", list_nodes},
                 {"groups", list_groups},
                 {"peers", list_peers},
                 {"directory URIs", list_uris}};

    memset(details, 'd', sizeof(details) - 1);
    details[sizeof(details) - 1] = '\0';
    assert_int_equal(store_begin(fx->st), STORE_OK);
    for (int i = 0; i < 300; i++) {
        assert_int_equal(store_audit_append(fx->st, 0, "admin@example.test", "domains/add",
                                            STORE_OUTCOME_OK, details, NULL),
                         STORE_OK);
        snprintf(name, sizeof(name), "g%03d", i);
        assert_int_equal(store_group_insert(fx->st, name, false), STORE_OK);
        snprintf(name, sizeof(name), "node%03d.example.com", i);
        assert_int_equal(store_node_insert(fx->st, name, STORE_NODE_SUBSCRIBER, "15.0", NULL),
                         STORE_OK);
        snprintf(name, sizeof(name), "peer%03d.example.test", i);
        assert_int_equal(store_peer_add(fx->st, name, false), STORE_OK);
        snprintf(name, sizeof(name), "u%03d", i);
        snprintf(details, sizeof(details), "user%03d@corp.example", i);
        assert_int_equal(store_user_upsert(fx->st, name, details, NULL, NULL), STORE_OK);
        memset(details, 'd', sizeof(details) - 1);
    }
    assert_int_equal(store_commit(fx->st), STORE_OK);
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        int rounds = sweep_list(fx, lists[i].fn, 300);
        assert_true(rounds > 2); /* several reads failed before one list passed */
        print_message("# %s: %d reads failed in turn\n", lists[i].what, rounds);
    }
}

/* The peer protocol pages through the local directory URIs with a cursor (store_peer_local_uris:
 * after_id in, *last_id out). A read failing at each position in turn, also after some rows of
 * the page were read: STORE_ERR, nothing returned, and the cursor where it was, so that the
 * caller's retry asks for the same rows again (before, the cursor had moved to the last row read
 * before the failure, and a retry skipped the rows between). Once the disk works, the whole page
 * and the cursor on its last row; a page past the end leaves the cursor too. */
static void test_uri_cursor_kept_on_failure(void **state)
{
    struct fx *fx = *state;
    char name[32], uri[96];
    int round = 0;
    int64_t cursor = 0;
    char **v = NULL;
    size_t n = 0;

    assert_int_equal(store_begin(fx->st), STORE_OK);
    for (int i = 0; i < 600; i++) {
        snprintf(name, sizeof(name), "c%03d", i);
        snprintf(uri, sizeof(uri), "someone-with-a-long-name-%03d@directory.corp.example", i);
        assert_int_equal(store_user_upsert(fx->st, name, uri, NULL, NULL), STORE_OK);
    }
    assert_int_equal(store_commit(fx->st), STORE_OK);
    for (;; round++) {
        assert_true(round < 500);
        n = 99;
        change_behind(fx);
        store_fault_arm(STORE_FAULT_READ, STORE_FAULT_ANY, round, 1, SQLITE_IOERR_READ);
        enum store_rc rc = store_peer_local_uris(fx->st, cursor, 1000, &v, &n, &cursor);
        int hit = store_fault_hits();
        store_fault_disarm();
        if (hit == 0) {
            assert_int_equal(rc, STORE_OK);
            break;
        }
        assert_int_equal(rc, STORE_ERR);
        assert_null(v);
        assert_int_equal(n, 0);
        if (cursor != 0)
            fail_msg("read %d failing: the cursor moved to %lld past rows never returned", round,
                     (long long)cursor);
    }
    assert_true(round > 2); /* several reads failed, some after rows of the page were read */
    assert_int_equal(n, 600);
    assert_string_equal(v[0], "someone-with-a-long-name-000@directory.corp.example");
    assert_string_equal(v[599], "someone-with-a-long-name-599@directory.corp.example");
    store_peer_strings_free(v, n);
    assert_true(cursor > 0);
    /* the next page is empty: the cursor stays on the last row */
    int64_t last = cursor;
    assert_int_equal(store_peer_local_uris(fx->st, cursor, 1000, &v, &n, &cursor), STORE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(cursor, last);
    store_peer_strings_free(v, n);
    print_message("# %d reads failed in turn, the cursor kept each time\n", round);
}

/* Queries a connection runs for the first time (their statements not prepared yet), a read
 * failing at each position in turn, also while preparing: every call is right or STORE_ERR,
 * never a wrong answer, and all are right once the disk is. Returns the failures seen. */
static int first_queries(struct store *st, bool must_pass)
{
    struct store_settings set;
    struct store_domain *list = NULL;
    int64_t count = -1;
    size_t n = 0;
    int failed = 0;
    enum store_rc rc;

    if ((rc = store_settings_get(st, &set)) == STORE_OK)
        store_settings_clear(&set);
    failed += rc != STORE_OK;
    assert_true(rc == STORE_OK || (!must_pass && rc == STORE_ERR));
    rc = store_domain_exists(st, "kept.example");
    failed += rc != STORE_OK;
    assert_true(rc == STORE_OK || (!must_pass && rc == STORE_ERR));
    rc = store_user_count(st, NULL, &count);
    failed += rc != STORE_OK;
    assert_true((rc == STORE_OK && count == 0) || (!must_pass && rc == STORE_ERR));
    rc = store_domain_list(st, "kept", NULL, 0, &list, &n);
    failed += rc != STORE_OK;
    assert_true((rc == STORE_OK && n == 1) || (!must_pass && rc == STORE_ERR && n == 0));
    store_domain_list_free(list, n);
    rc = store_domain_insert(st, "kept.example", STORE_MANAGED_ADMIN, true);
    failed += rc != STORE_CONFLICT;
    assert_true(rc == STORE_CONFLICT || (!must_pass && rc == STORE_ERR));
    return failed;
}

static void test_first_queries_sweep(void **state)
{
    struct fx *fx = *state;
    int round = 0;

    for (;; round++) {
        assert_true(round < 200);
        assert_int_equal(store_close(fx->st), 0);
        fx->st = open_store(fx->path);
        change_behind(fx);
        store_fault_arm(STORE_FAULT_READ, STORE_FAULT_ANY, round, -1, SQLITE_IOERR_READ);
        int failed = first_queries(fx->st, false);
        int hit = store_fault_hits();
        store_fault_disarm();
        assert_int_equal(failed > 0, hit > 0);
        assert_int_equal(first_queries(fx->st, true), 0);
        if (hit == 0)
            break;
    }
    assert_true(round > 2);
    print_message("# %d reads failed in turn\n", round);
}

/* The schema version a raw connection reads from the file (-1 when it has none). */
static int file_version(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int v = -1;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/* A new store on a disk that fills up at each write in turn, from the WAL switch through every
 * migration: the open fails with what sqlite said, the file holds a whole schema version (each
 * migration is one transaction with its version bump), and the next open on a good disk
 * migrates the rest and works. */
static void test_open_disk_full_each_step(void **state)
{
    struct fx *fx = *state;
    int round = 0, failed_at_version[STORE_SCHEMA_VERSION + 1] = {0};

    assert_int_equal(store_close(fx->st), 0);
    fx->st = NULL;
    for (;; round++) {
        char *err = NULL;
        assert_true(round < 1000);
        assert_int_equal(tmpstore_remove(fx->dir, fx->path), 0);
        assert_int_equal(
            tmpstore_make(fx->dir, sizeof(fx->dir), fx->path, sizeof(fx->path), "fault"), 0);
        store_fault_arm(STORE_FAULT_WRITE, STORE_FAULT_ANY, round, -1, SQLITE_FULL);
        struct store *st = store_open(fx->path, &err);
        int hit = store_fault_hits();
        store_fault_disarm();
        if (st != NULL) {
            assert_int_equal(hit, 0);
            fx->st = st;
            break;
        }
        assert_true(hit > 0);
        if (err == NULL || strstr(err, "disk is full") == NULL)
            fail_msg("round %d: '%s' does not say what sqlite said", round, err);
        free(err);
        int v = file_version(fx->path);
        assert_true(v >= 0 && v < STORE_SCHEMA_VERSION);
        failed_at_version[v]++;
        st = open_store(fx->path);
        assert_int_equal(store_schema_version(st), STORE_SCHEMA_VERSION);
        assert_int_equal(store_domain_insert(st, "x.example", STORE_MANAGED_ADMIN, true), STORE_OK);
        assert_int_equal(store_close(st), 0);
    }
    for (int v = 0; v < STORE_SCHEMA_VERSION; v++)
        if (failed_at_version[v] == 0)
            fail_msg("no failure left the file at version %d", v);
    print_message("# %d writes failed in turn\n", round);
    assert_int_equal(store_schema_version(fx->st), STORE_SCHEMA_VERSION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_disk_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_autocommit_write_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_transaction_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_lists_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uri_cursor_kept_on_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_queries_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_cannot_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_disk_full_each_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_checkpoint_fails, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
