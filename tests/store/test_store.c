/* Unit tests for store/: migrations (10: user_imports' ids) and version refusal, domains, users and
 * per-domain counts, jobs, the IM address rewrite batch, transactions, the audit log, settings and
 * topology. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/store.h"
#include "store/store_audit.h"
#include "store/store_domain.h"
#include "store/store_import_job.h"
#include "store/store_job.h"
#include "store/store_peer.h"
#include "store/store_procedure.h"
#include "store/store_settings.h"
#include "store/store_topo.h"
#include "store/store_user.h"
#include "tests/lib/tmpstore.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fixture {
    char dir[64];
    char path[96];
    struct store *st;
};

static struct store *open_ok(const char *path)
{
    char *err = NULL;
    struct store *st = store_open(path, &err);
    if (st == NULL)
        fail_msg("store_open: %s", err ? err : "(no message)");
    assert_null(err);
    return st;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (tmpstore_make(f->dir, sizeof(f->dir), f->path, sizeof(f->path), "store") != 0)
        return -1;
    f->st = open_ok(f->path);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(store_close(f->st), 0);
    assert_int_equal(tmpstore_remove(f->dir, f->path), 0);
    free(f);
    return 0;
}

static void reopen(struct fixture *f)
{
    assert_int_equal(store_close(f->st), 0);
    f->st = open_ok(f->path);
}

/* Runs one SQL statement on the file behind the store's back. */
static void raw_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void test_fresh_and_reopen(void **state)
{
    struct fixture *f = *state;
    struct store_settings s;

    assert_int_equal(store_schema_version(f->st), STORE_SCHEMA_VERSION);
    assert_int_equal(store_settings_get(f->st, &s), STORE_OK);
    assert_string_equal(s.default_domain, "DOMAIN.NOT.SET");
    assert_int_equal(s.im_address_scheme, STORE_SCHEME_USERID_AT_DEFAULT);
    assert_string_equal(s.audit_time, "02:00");
    assert_string_equal(s.cucm_domain_sip_proxy, "");
    assert_false(s.tls_federation);
    assert_false(s.domains_applied);
    assert_null(s.cert_domain_set);
    assert_null(s.apply_error);
    store_settings_clear(&s);
    assert_int_equal(store_domain_insert(f->st, "kept.example", STORE_MANAGED_ADMIN, true),
                     STORE_OK);

    reopen(f);
    assert_int_equal(store_schema_version(f->st), STORE_SCHEMA_VERSION);
    assert_int_equal(store_domain_exists(f->st, "kept.example"), STORE_OK);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600); /* user data: private whatever the umask */

    /* the schema itself refuses an upper-case name written behind the store's back */
    assert_int_equal(store_close(f->st), 0);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO domains (name, created_at, updated_at)"
                                  " VALUES ('Upper.example', 0, 0)",
                                  NULL, NULL, NULL),
                     SQLITE_CONSTRAINT);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    f->st = open_ok(f->path);
}

static void test_memory_and_bad_path(void **state)
{
    char *err = NULL;
    struct store *st = open_ok(":memory:");

    assert_int_equal(store_domain_insert(st, "mem.example", STORE_MANAGED_ADMIN, true), STORE_OK);
    assert_int_equal(store_begin(st), STORE_OK);
    assert_int_equal(store_close(st), 0); /* an open transaction is rolled back */
    assert_null(store_open("/nonexistent-dir/x.db", &err));
    assert_non_null(strstr(err, "/nonexistent-dir/x.db"));
    free(err);
}

static void test_newer_version_refused(void **state)
{
    struct fixture *f = *state;
    char *err = NULL, want[160];

    assert_int_equal(store_close(f->st), 0);
    raw_sql(f->path, "PRAGMA user_version = 99");
    assert_null(store_open(f->path, &err));
    snprintf(want, sizeof(want),
             "database schema version 99 is newer than this imdomaind supports (%d); "
             "upgrade imdomaind",
             STORE_SCHEMA_VERSION);
    assert_non_null(err);
    assert_string_equal(err, want);
    free(err);
    /* Putting the version back makes it usable again: the refusal changed nothing. */
    char *back = sqlite3_mprintf("PRAGMA user_version = %d", STORE_SCHEMA_VERSION);
    raw_sql(f->path, back);
    sqlite3_free(back);
    f->st = open_ok(f->path);
}

static void test_foreign_database_refused(void **state)
{
    struct fixture *f = *state;
    char path[128], *err = NULL;

    snprintf(path, sizeof(path), "%s/other.db", f->dir);
    raw_sql(path, "CREATE TABLE t (x)");
    assert_null(store_open(path, &err));
    assert_non_null(strstr(err, "another program"));
    free(err);
    unlink(path);
}

static void test_domain_case_insensitive(void **state)
{
    struct fixture *f = *state;
    struct store_domain d;

    assert_int_equal(store_domain_insert(f->st, "Example.COM", STORE_MANAGED_ADMIN, true),
                     STORE_OK);
    assert_int_equal(store_domain_insert(f->st, "example.com", STORE_MANAGED_ADMIN, true),
                     STORE_CONFLICT);
    assert_int_equal(store_domain_insert(f->st, "EXAMPLE.com", STORE_MANAGED_SYSTEM, false),
                     STORE_CONFLICT);
    assert_true(strlen(store_errmsg(f->st)) > 0);
    assert_int_equal(store_domain_get(f->st, "eXample.Com", &d), STORE_OK);
    assert_string_equal(d.name, "example.com");
    assert_int_equal(d.managed_by, STORE_MANAGED_ADMIN);
    assert_true(d.configured_local);
    assert_int_equal(d.local_users, 0);
    assert_true(d.created_at > 0);
    store_domain_clear(&d);
    assert_int_equal(store_domain_exists(f->st, "EXAMPLE.COM"), STORE_OK);
    assert_int_equal(store_domain_exists(f->st, "example.org"), STORE_NOTFOUND);
    assert_int_equal(store_domain_get(f->st, "example.org", &d), STORE_NOTFOUND);
    assert_null(d.name);
}

static void test_domain_rename_delete(void **state)
{
    struct fixture *f = *state;
    struct store_domain before, after;

    assert_int_equal(store_domain_insert(f->st, "a.example", STORE_MANAGED_ADMIN, true), STORE_OK);
    assert_int_equal(store_domain_insert(f->st, "b.example", STORE_MANAGED_ADMIN, true), STORE_OK);
    assert_int_equal(store_domain_get(f->st, "a.example", &before), STORE_OK);
    assert_int_equal(store_domain_rename(f->st, "A.example", "C.Example"), STORE_OK);
    assert_int_equal(store_domain_exists(f->st, "a.example"), STORE_NOTFOUND);
    assert_int_equal(store_domain_get(f->st, "c.example", &after), STORE_OK);
    assert_string_equal(after.name, "c.example");
    assert_int_equal(after.id, before.id);
    assert_int_equal(after.created_at, before.created_at);
    store_domain_clear(&before);
    store_domain_clear(&after);

    assert_int_equal(store_domain_rename(f->st, "c.example", "B.EXAMPLE"), STORE_CONFLICT);
    assert_int_equal(store_domain_rename(f->st, "nope.example", "d.example"), STORE_NOTFOUND);
    /* only the case differs: the same domain, allowed */
    assert_int_equal(store_domain_rename(f->st, "c.example", "C.EXAMPLE"), STORE_OK);

    assert_int_equal(store_domain_delete(f->st, "B.example"), STORE_OK);
    assert_int_equal(store_domain_delete(f->st, "b.example"), STORE_NOTFOUND);
    assert_int_equal(store_domain_exists(f->st, "c.example"), STORE_OK);
}

static void test_domain_list_filter(void **state)
{
    struct fixture *f = *state;
    static const char *const names[] = {"alpha.test", "beta.test", "gamma.example", "delta.test"};
    struct store_domain *list;
    size_t n;
    int64_t count;

    for (size_t i = 0; i < 4; i++)
        assert_int_equal(store_domain_insert(f->st, names[i], STORE_MANAGED_ADMIN, true), STORE_OK);
    assert_int_equal(store_domain_list(f->st, NULL, NULL, 0, &list, &n), STORE_OK);
    assert_int_equal(n, 4);
    assert_string_equal(list[0].name, "alpha.test");
    assert_string_equal(list[3].name, "gamma.example");
    store_domain_list_free(list, n);

    assert_int_equal(store_domain_list(f->st, "TEST", "alpha.test", 2, &list, &n), STORE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "beta.test");
    assert_string_equal(list[1].name, "delta.test");
    store_domain_list_free(list, n);
    assert_int_equal(store_domain_count(f->st, "test", &count), STORE_OK);
    assert_int_equal(count, 3);
    assert_int_equal(store_domain_count(f->st, "", &count), STORE_OK);
    assert_int_equal(count, 4);

    assert_int_equal(store_domain_list(f->st, "nothing", NULL, 0, &list, &n), STORE_OK);
    assert_int_equal(n, 0);
    assert_null(list);
    store_domain_list_free(list, n);

    assert_int_equal(store_domain_set_managed_by(f->st, "beta.test", STORE_MANAGED_SYSTEM),
                     STORE_OK);
    assert_int_equal(store_domain_set_local(f->st, "beta.test", false), STORE_OK);
    assert_int_equal(store_domain_list(f->st, "beta", NULL, 0, &list, &n), STORE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].managed_by, STORE_MANAGED_SYSTEM);
    assert_false(list[0].configured_local);
    store_domain_list_free(list, n);
    assert_int_equal(store_domain_set_managed_by(f->st, "nope.test", STORE_MANAGED_ADMIN),
                     STORE_NOTFOUND);
}

static bool applied(struct store *st)
{
    struct store_settings s;
    assert_int_equal(store_settings_get(st, &s), STORE_OK);
    bool v = s.domains_applied;
    store_settings_clear(&s);
    return v;
}

static void test_domain_changes_mark_unapplied(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(store_settings_set_applied(f->st, true, NULL), STORE_OK);
    assert_true(applied(f->st));
    assert_int_equal(store_domain_insert(f->st, "x.example", STORE_MANAGED_ADMIN, true), STORE_OK);
    assert_false(applied(f->st));
    assert_int_equal(store_settings_set_applied(f->st, true, NULL), STORE_OK);
    assert_int_equal(store_domain_set_managed_by(f->st, "x.example", STORE_MANAGED_SYSTEM),
                     STORE_OK);
    assert_true(applied(f->st));
    assert_int_equal(store_domain_rename(f->st, "x.example", "y.example"), STORE_OK);
    assert_false(applied(f->st));
    assert_int_equal(store_settings_set_applied(f->st, true, NULL), STORE_OK);
    /* a peer-only domain is not in the router files */
    assert_int_equal(store_domain_insert(f->st, "peer.example", STORE_MANAGED_SYSTEM, false),
                     STORE_OK);
    assert_true(applied(f->st));
    assert_int_equal(store_domain_delete(f->st, "y.example"), STORE_OK);
    assert_false(applied(f->st));
}

static void test_user_upsert_and_counts(void **state)
{
    struct fixture *f = *state;
    enum store_upsert how;
    struct store_user u;
    struct store_domain_users *dc;
    struct store_node_users *nc;
    struct store_domain d;
    size_t n;
    int64_t count;

    assert_int_equal(store_node_insert(f->st, "pub.example", STORE_NODE_PUBLISHER, "15.0", NULL),
                     STORE_OK);
    assert_int_equal(store_node_insert(f->st, "sub.example", STORE_NODE_SUBSCRIBER, "15.0", NULL),
                     STORE_OK);
    assert_int_equal(store_domain_insert(f->st, "example.com", STORE_MANAGED_ADMIN, true),
                     STORE_OK);

    assert_int_equal(store_user_upsert(f->st, "alice", "alice@Example.COM", "pub.example", &how),
                     STORE_OK);
    assert_int_equal(how, STORE_UPSERT_INSERTED);
    assert_int_equal(store_user_upsert(f->st, "alice", "alice@Example.COM", "PUB.example", &how),
                     STORE_OK);
    assert_int_equal(how, STORE_UPSERT_UNCHANGED);
    assert_int_equal(store_user_upsert(f->st, "ALICE", "alice@example.com", NULL, &how), STORE_OK);
    assert_int_equal(how, STORE_UPSERT_UPDATED);
    assert_int_equal(store_user_get(f->st, "alice", &u), STORE_OK);
    assert_string_equal(u.userid, "ALICE");
    assert_string_equal(u.uri_domain, "example.com");
    assert_string_equal(u.node, "pub.example"); /* NULL node kept the assignment */
    assert_string_equal(u.im_address, "alice@DOMAIN.NOT.SET");
    store_user_clear(&u);

    assert_int_equal(store_user_upsert(f->st, "bob", "bob@example.com", "sub.example", &how),
                     STORE_OK);
    assert_int_equal(store_user_upsert(f->st, "carol", "carol@other.org", "", &how), STORE_OK);
    assert_int_equal(store_user_upsert(f->st, "dave", "", NULL, &how), STORE_OK);
    assert_int_equal(store_user_upsert(f->st, "erin", "erin@x.org", "ghost.example", &how),
                     STORE_NOTFOUND);
    assert_int_equal(store_user_get(f->st, "erin", NULL), STORE_NOTFOUND);
    assert_int_equal(store_user_upsert(f->st, "", "x@y.z", NULL, &how), STORE_ERR);

    assert_int_equal(store_domain_user_counts(f->st, &dc, &n), STORE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(dc[0].domain, "example.com");
    assert_int_equal(dc[0].users, 2);
    assert_string_equal(dc[1].domain, "other.org");
    assert_int_equal(dc[1].users, 1);
    store_domain_users_free(dc, n);
    assert_int_equal(store_domain_get(f->st, "example.com", &d), STORE_OK);
    assert_int_equal(d.local_users, 2);
    store_domain_clear(&d);

    assert_int_equal(store_user_count_per_node(f->st, &nc, &n), STORE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(nc[0].node, "pub.example");
    assert_int_equal(nc[0].users, 1);
    assert_int_equal(nc[1].users, 1);
    store_node_users_free(nc, n);

    assert_int_equal(store_user_count(f->st, NULL, &count), STORE_OK);
    assert_int_equal(count, 4);
    assert_int_equal(store_user_count(f->st, "EXAMPLE.com", &count), STORE_OK);
    assert_int_equal(count, 2);

    struct store_user *list;
    assert_int_equal(store_user_list(f->st, NULL, "ALICE", 2, &list, &n), STORE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].userid, "bob");
    assert_string_equal(list[1].userid, "carol");
    assert_null(list[1].node);
    store_user_list_free(list, n);

    /* filters are substrings, not patterns */
    assert_int_equal(store_user_upsert(f->st, "a_b", NULL, NULL, NULL), STORE_OK);
    assert_int_equal(store_user_upsert(f->st, "axb", NULL, NULL, NULL), STORE_OK);
    assert_int_equal(store_user_upsert(f->st, "a%b\\c", NULL, NULL, NULL), STORE_OK);
    assert_int_equal(store_user_count(f->st, "A_B", &count), STORE_OK);
    assert_int_equal(count, 1);
    assert_int_equal(store_user_count(f->st, "%", &count), STORE_OK);
    assert_int_equal(count, 1);
    assert_int_equal(store_user_count(f->st, "b\\c", &count), STORE_OK);
    assert_int_equal(count, 1);
    assert_int_equal(store_user_delete(f->st, "a_b"), STORE_OK);
    assert_int_equal(store_user_delete(f->st, "axb"), STORE_OK);
    assert_int_equal(store_user_delete(f->st, "a%b\\c"), STORE_OK);

    /* deleting the node unassigns its users */
    assert_int_equal(store_node_delete(f->st, "sub.example"), STORE_OK);
    assert_int_equal(store_user_get(f->st, "bob", &u), STORE_OK);
    assert_null(u.node);
    store_user_clear(&u);
    assert_int_equal(store_user_set_node(f->st, "bob", "pub.example"), STORE_OK);
    assert_int_equal(store_user_set_node(f->st, "nobody", "pub.example"), STORE_NOTFOUND);
    assert_int_equal(store_user_delete(f->st, "Bob"), STORE_OK);
    assert_int_equal(store_user_delete(f->st, "bob"), STORE_NOTFOUND);
}

/* The sync audit's input: listed domains with their counts (zero included), then domains only
 * users have, merged in name order; users without a directory URI count nowhere. */
static void test_domain_usage(void **state)
{
    struct fixture *f = *state;
    struct store_domain_usage *du;
    size_t n;

    assert_int_equal(store_domain_usage(f->st, 0, &du, &n), STORE_OK);
    assert_int_equal(n, 0);
    assert_null(du);
    assert_int_equal(store_domain_insert(f->st, "b.example", STORE_MANAGED_SYSTEM, true), STORE_OK);
    assert_int_equal(store_domain_insert(f->st, "d.example", STORE_MANAGED_ADMIN, false), STORE_OK);
    assert_int_equal(store_user_upsert(f->st, "u1", "u1@B.example", NULL, NULL), STORE_OK);
    assert_int_equal(store_user_upsert(f->st, "u2", "u2@a.example", NULL, NULL), STORE_OK);
    assert_int_equal(store_user_upsert(f->st, "u3", "u3@a.example", NULL, NULL), STORE_OK);
    assert_int_equal(store_user_upsert(f->st, "u4", "", NULL, NULL), STORE_OK);

    assert_int_equal(store_domain_usage(f->st, 0, &du, &n), STORE_OK);
    assert_int_equal(n, 3);
    assert_string_equal(du[0].name, "a.example");
    assert_false(du[0].listed);
    assert_false(du[0].configured_local);
    assert_int_equal(du[0].local_users, 2);
    assert_string_equal(du[1].name, "b.example");
    assert_true(du[1].listed);
    assert_true(du[1].configured_local);
    assert_int_equal(du[1].managed_by, STORE_MANAGED_SYSTEM);
    assert_int_equal(du[1].local_users, 1);
    assert_string_equal(du[2].name, "d.example");
    assert_true(du[2].listed);
    assert_false(du[2].configured_local);
    assert_int_equal(du[2].managed_by, STORE_MANAGED_ADMIN);
    assert_int_equal(du[2].local_users, 0);
    store_domain_usage_free(du, n);
}

static void test_user_im_address_scheme(void **state)
{
    struct fixture *f = *state;
    struct store_settings s;
    struct store_user u;

    assert_int_equal(store_settings_get(f->st, &s), STORE_OK);
    s.im_address_scheme = STORE_SCHEME_DIRECTORY_URI;
    assert_int_equal(store_settings_set(f->st, &s), STORE_OK);
    store_settings_clear(&s);
    assert_int_equal(store_user_upsert(f->st, "ann", "Ann@Corp.example", NULL, NULL), STORE_OK);
    assert_int_equal(store_user_upsert(f->st, "ben", NULL, NULL, NULL), STORE_OK);
    assert_int_equal(store_user_get(f->st, "ann", &u), STORE_OK);
    assert_string_equal(u.im_address, "Ann@Corp.example");
    store_user_clear(&u);
    assert_int_equal(store_user_upsert(f->st, "ann", "ann@new.example", NULL, NULL), STORE_OK);
    assert_int_equal(store_user_get(f->st, "ann", &u), STORE_OK);
    assert_string_equal(u.im_address, "ann@new.example");
    store_user_clear(&u);
    assert_int_equal(store_user_get(f->st, "ben", &u), STORE_OK);
    assert_string_equal(u.im_address, "ben@DOMAIN.NOT.SET");
    assert_string_equal(u.directory_uri, "");
    store_user_clear(&u);
    assert_int_equal(store_user_set_im_address(f->st, "ben", "ben@x.example"), STORE_OK);
    assert_int_equal(store_user_get(f->st, "ben", &u), STORE_OK);
    assert_string_equal(u.im_address, "ben@x.example");
    store_user_clear(&u);
}

static void test_job_uniqueness(void **state)
{
    struct fixture *f = *state;
    int64_t id1, id2, id3;
    struct store_job j;

    assert_int_equal(store_job_get_active(f->st, &j), STORE_NOTFOUND);
    assert_int_equal(
        store_job_create(f->st, STORE_JOB_DEFAULT_DOMAIN, "DOMAIN.NOT.SET", "a.example", 10, &id1),
        STORE_OK);
    assert_int_equal(store_job_create(f->st, STORE_JOB_DEFAULT_DOMAIN, "x", "y", 1, &id2),
                     STORE_CONFLICT);
    assert_int_equal(store_job_set_state(f->st, id1, STORE_JOB_FAILED, "hook timed out"), STORE_OK);
    assert_int_equal(store_job_create(f->st, STORE_JOB_DEFAULT_DOMAIN, "x", "y", 1, &id2),
                     STORE_CONFLICT);
    assert_int_equal(store_job_get_active(f->st, &j), STORE_OK);
    assert_int_equal(j.id, id1);
    assert_int_equal(j.state, STORE_JOB_FAILED);
    assert_string_equal(j.error, "hook timed out");
    assert_string_equal(j.old_value, "DOMAIN.NOT.SET");
    assert_int_equal(j.total, 10);
    assert_int_equal(j.attempts, 1);

    /* Retry */
    j.state = STORE_JOB_RUNNING;
    j.attempts++;
    free(j.error);
    j.error = NULL;
    assert_int_equal(store_job_update(f->st, &j), STORE_OK);
    store_job_clear(&j);
    assert_int_equal(store_job_get(f->st, id1, &j), STORE_OK);
    assert_int_equal(j.attempts, 2);
    assert_null(j.error);
    store_job_clear(&j);

    assert_int_equal(store_job_set_state(f->st, id1, STORE_JOB_COMPLETED, NULL), STORE_OK);
    assert_int_equal(store_job_get_active(f->st, NULL), STORE_NOTFOUND);
    assert_int_equal(
        store_job_create(f->st, STORE_JOB_DEFAULT_DOMAIN, "a.example", "b.example", 0, &id2),
        STORE_OK);
    assert_true(id2 > id1);
    /* a finished job stays finished */
    assert_int_equal(store_job_set_state(f->st, id1, STORE_JOB_RUNNING, NULL), STORE_CONFLICT);
    assert_int_equal(store_job_set_state(f->st, id2, STORE_JOB_ROLLING_BACK, NULL), STORE_OK);
    assert_int_equal(store_job_set_state(f->st, id2, STORE_JOB_CANCELED, NULL), STORE_OK);
    assert_int_equal(store_job_create(f->st, STORE_JOB_DEFAULT_DOMAIN, NULL, "c.example", 0, &id3),
                     STORE_OK);
    assert_int_equal(store_job_set_state(f->st, 9999, STORE_JOB_FAILED, NULL), STORE_NOTFOUND);

    struct store_job *list;
    size_t n;
    assert_int_equal(store_job_list(f->st, 2, &list, &n), STORE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].id, id3);
    assert_int_equal(list[1].state, STORE_JOB_CANCELED);
    assert_null(list[0].old_value);
    store_job_list_free(list, n);
    assert_string_equal(store_job_state_name(STORE_JOB_ROLLING_BACK), "rolling-back");
}

/* One job step as the component will run it: batch and cursor in one transaction. */
static int64_t job_step(struct store *st, int64_t job, const char *domain, int64_t limit,
                        bool commit)
{
    struct store_job j;
    int64_t last, n;

    assert_int_equal(store_job_get(st, job, &j), STORE_OK);
    assert_int_equal(store_begin(st), STORE_OK);
    assert_int_equal(store_users_rewrite_im_batch(st, domain, j.cursor, limit, &last, &n),
                     STORE_OK);
    assert_int_equal(store_job_progress(st, job, last, j.done + n), STORE_OK);
    assert_int_equal(commit ? store_commit(st) : store_rollback(st), STORE_OK);
    store_job_clear(&j);
    return n;
}

static void test_rewrite_batch_resume(void **state)
{
    struct fixture *f = *state;
    char userid[32];
    int64_t job, count, n, last;
    struct store_user *list;
    size_t nl;
    struct store_job j;

    for (int i = 0; i < 25; i++) {
        snprintf(userid, sizeof(userid), "user%02d", i);
        assert_int_equal(store_user_upsert(f->st, userid, NULL, NULL, NULL), STORE_OK);
    }
    assert_int_equal(store_user_delete(f->st, "user03"), STORE_OK);
    assert_int_equal(store_user_count(f->st, NULL, &count), STORE_OK);
    assert_int_equal(store_job_create(f->st, STORE_JOB_DEFAULT_DOMAIN, "DOMAIN.NOT.SET",
                                      "new.example", count, &job),
                     STORE_OK);
    assert_int_equal(job_step(f->st, job, "new.example", 10, true), 10);
    /* a crash inside the next step: the transaction is lost as a whole */
    assert_int_equal(job_step(f->st, job, "new.example", 10, false), 10);
    assert_int_equal(store_job_get(f->st, job, &j), STORE_OK);
    assert_int_equal(j.done, 10);
    store_job_clear(&j);
    struct store_user u;
    assert_int_equal(store_user_get(f->st, "user10", &u), STORE_OK); /* in the first batch */
    assert_string_equal(u.im_address, "user10@new.example");
    store_user_clear(&u);
    assert_int_equal(store_user_get(f->st, "user15", &u), STORE_OK); /* in the lost one */
    assert_string_equal(u.im_address, "user15@DOMAIN.NOT.SET");
    store_user_clear(&u);

    reopen(f); /* restart: resume from the stored cursor */
    assert_int_equal(store_user_upsert(f->st, "late", NULL, NULL, NULL), STORE_OK);
    int64_t total = 10;
    while ((n = job_step(f->st, job, "new.example", 10, true)) > 0)
        total += n;
    assert_int_equal(total, 25); /* 25 - user03 + late */

    /* The cursor now sits on the newest user. Deleting it must not let the next insert reuse
     * its rowid (at or below the cursor), or the job would never reach the newcomer. */
    assert_int_equal(store_user_delete(f->st, "late"), STORE_OK);
    assert_int_equal(store_user_upsert(f->st, "later", NULL, NULL, NULL), STORE_OK);
    assert_int_equal(job_step(f->st, job, "new.example", 10, true), 1);
    assert_int_equal(job_step(f->st, job, "new.example", 10, true), 0);

    assert_int_equal(store_user_list(f->st, NULL, NULL, 0, &list, &nl), STORE_OK);
    assert_int_equal(nl, 25);
    for (size_t i = 0; i < nl; i++) {
        char want[64];
        snprintf(want, sizeof(want), "%s@new.example", list[i].userid);
        assert_string_equal(list[i].im_address, want);
    }
    store_user_list_free(list, nl);

    assert_int_equal(store_users_rewrite_im_batch(f->st, "x", 0, 0, &last, &n), STORE_ERR);
    assert_int_equal(store_users_rewrite_im_batch(f->st, "x", 1 << 30, 5, &last, &n), STORE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(last, 1 << 30);
}

/* The scheme-aware batch: directory URIs under "directory-uri" (userid@domain for users without
 * one), userid@domain for everyone under "userid@default"; only the rowid range it reports. */
static void test_derive_batch(void **state)
{
    struct fixture *f = *state;
    int64_t last, n;
    struct store_user u;

    assert_int_equal(store_user_upsert(f->st, "ann", "Ann@Corp.example", NULL, NULL), STORE_OK);
    assert_int_equal(store_user_upsert(f->st, "ben", NULL, NULL, NULL), STORE_OK);
    assert_int_equal(store_user_upsert(f->st, "cy", "cy@corp.example", NULL, NULL), STORE_OK);
    assert_int_equal(store_users_derive_im_batch(f->st, STORE_SCHEME_DIRECTORY_URI, "d.example", 0,
                                                 2, &last, &n),
                     STORE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(store_user_get(f->st, "ann", &u), STORE_OK);
    assert_string_equal(u.im_address, "Ann@Corp.example");
    store_user_clear(&u);
    assert_int_equal(store_user_get(f->st, "ben", &u), STORE_OK);
    assert_string_equal(u.im_address, "ben@d.example");
    store_user_clear(&u);
    assert_int_equal(store_user_get(f->st, "cy", &u), STORE_OK); /* beyond the batch */
    assert_string_equal(u.im_address, "cy@DOMAIN.NOT.SET");
    store_user_clear(&u);
    assert_int_equal(store_users_derive_im_batch(f->st, STORE_SCHEME_USERID_AT_DEFAULT, "e.example",
                                                 0, 100, &last, &n),
                     STORE_OK);
    assert_int_equal(n, 3);
    assert_int_equal(store_user_get(f->st, "ann", &u), STORE_OK);
    assert_string_equal(u.im_address, "ann@e.example");
    store_user_clear(&u);
    assert_int_equal(store_users_derive_im_batch(f->st, STORE_SCHEME_USERID_AT_DEFAULT, "e.example",
                                                 last, 100, &last, &n),
                     STORE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(
        store_users_derive_im_batch(f->st, STORE_SCHEME_DIRECTORY_URI, "", 0, 10, &last, &n),
        STORE_ERR);
    assert_string_equal(store_job_kind_name(STORE_JOB_IM_SCHEME), "im-scheme");
}

static void test_transactions(void **state)
{
    struct fixture *f = *state;

    assert_false(store_in_transaction(f->st));
    assert_int_equal(store_begin(f->st), STORE_OK);
    assert_true(store_in_transaction(f->st));
    assert_int_equal(store_begin(f->st), STORE_ERR);
    assert_int_equal(store_domain_insert(f->st, "gone.example", STORE_MANAGED_ADMIN, true),
                     STORE_OK);
    assert_int_equal(store_user_upsert(f->st, "temp", "temp@gone.example", NULL, NULL), STORE_OK);
    assert_int_equal(store_domain_exists(f->st, "gone.example"), STORE_OK);
    assert_int_equal(store_rollback(f->st), STORE_OK);
    assert_false(store_in_transaction(f->st));
    assert_int_equal(store_domain_exists(f->st, "gone.example"), STORE_NOTFOUND);
    assert_int_equal(store_user_get(f->st, "temp", NULL), STORE_NOTFOUND);
    assert_int_equal(store_rollback(f->st), STORE_OK); /* nothing to roll back: harmless */

    /* a refused call inside a transaction leaves the earlier work of it intact */
    assert_int_equal(store_begin(f->st), STORE_OK);
    assert_int_equal(store_domain_insert(f->st, "kept.example", STORE_MANAGED_ADMIN, true),
                     STORE_OK);
    assert_int_equal(store_domain_insert(f->st, "KEPT.example", STORE_MANAGED_ADMIN, true),
                     STORE_CONFLICT);
    assert_int_equal(store_user_upsert(f->st, "u", "u@kept.example", "no-such-node", NULL),
                     STORE_NOTFOUND);
    assert_int_equal(store_commit(f->st), STORE_OK);
    assert_int_equal(store_domain_exists(f->st, "kept.example"), STORE_OK);
    assert_int_equal(store_commit(f->st), STORE_ERR);
}

static void test_audit_filters(void **state)
{
    struct fixture *f = *state;
    struct store_audit *list;
    size_t n;
    int64_t id, removed;

    assert_int_equal(store_audit_append(f->st, 100, "admin@example.test", "domains/add",
                                        STORE_OUTCOME_OK, "added a.example", &id),
                     STORE_OK);
    assert_true(id > 0);
    assert_int_equal(store_audit_append(f->st, 200, "ops@example.test", "domains/delete",
                                        STORE_OUTCOME_REFUSED, NULL, NULL),
                     STORE_OK);
    assert_int_equal(store_audit_append(f->st, 300, "Admin@Example.TEST", "settings",
                                        STORE_OUTCOME_ERROR, "disk full", NULL),
                     STORE_OK);
    assert_int_equal(
        store_audit_append(f->st, 0, "uid:0", "sync/audit", STORE_OUTCOME_CANCELED, "", NULL),
        STORE_OK);

    assert_int_equal(store_audit_list(f->st, 0, NULL, 0, &list, &n), STORE_OK);
    assert_int_equal(n, 4);
    assert_string_equal(list[0].actor, "uid:0"); /* now: the newest */
    assert_true(list[0].time > 300);
    assert_int_equal(list[0].outcome, STORE_OUTCOME_CANCELED);
    assert_string_equal(list[2].details, "");
    store_audit_list_free(list, n);

    assert_int_equal(store_audit_list(f->st, 200, NULL, 0, &list, &n), STORE_OK);
    assert_int_equal(n, 3);
    store_audit_list_free(list, n);

    assert_int_equal(store_audit_list(f->st, 0, "ADMIN@example.test", 0, &list, &n), STORE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].time, 300);
    assert_string_equal(list[0].node, "settings");
    assert_int_equal(list[1].time, 100);
    assert_string_equal(list[1].details, "added a.example");
    store_audit_list_free(list, n);

    assert_int_equal(store_audit_list(f->st, 150, "admin@example.test", 0, &list, &n), STORE_OK);
    assert_int_equal(n, 1);
    store_audit_list_free(list, n);
    assert_int_equal(store_audit_list(f->st, 0, "", 2, &list, &n), STORE_OK);
    assert_int_equal(n, 2);
    store_audit_list_free(list, n);

    assert_int_equal(store_audit_prune(f->st, 250, &removed), STORE_OK);
    assert_int_equal(removed, 2);
    assert_int_equal(store_audit_list(f->st, 0, NULL, 0, &list, &n), STORE_OK);
    assert_int_equal(n, 2);
    store_audit_list_free(list, n);
}

static void test_settings_roundtrip(void **state)
{
    struct fixture *f = *state;
    struct store_settings in = {
        .default_domain = "corp.example",
        .im_address_scheme = STORE_SCHEME_DIRECTORY_URI,
        .tls_federation = true,
        .wildcard_sans = true,
        .cucm_domain_sip_proxy = "dns.example",
        .audit_time = "23:59",
        .domains_applied = false,
        .apply_error = "reload hook exited with status 1",
        .cert_domain_set = "a.example,corp.example",
    };
    struct store_settings out;

    assert_int_equal(store_settings_set(f->st, &in), STORE_OK);
    reopen(f);
    assert_int_equal(store_settings_get(f->st, &out), STORE_OK);
    assert_string_equal(out.default_domain, in.default_domain);
    assert_int_equal(out.im_address_scheme, STORE_SCHEME_DIRECTORY_URI);
    assert_true(out.tls_federation);
    assert_true(out.wildcard_sans);
    assert_string_equal(out.cucm_domain_sip_proxy, "dns.example");
    assert_string_equal(out.audit_time, "23:59");
    assert_false(out.domains_applied);
    assert_string_equal(out.apply_error, in.apply_error);
    assert_string_equal(out.cert_domain_set, in.cert_domain_set);
    store_settings_clear(&out);

    /* same default domain: domains_applied is taken as given */
    in.domains_applied = true;
    in.apply_error = NULL;
    in.cert_domain_set = NULL;
    assert_int_equal(store_settings_set(f->st, &in), STORE_OK);
    assert_int_equal(store_settings_get(f->st, &out), STORE_OK);
    assert_true(out.domains_applied);
    assert_null(out.apply_error);
    assert_null(out.cert_domain_set);
    store_settings_clear(&out);
    /* a new default domain makes the router files stale */
    in.default_domain = "other.example";
    assert_int_equal(store_settings_set(f->st, &in), STORE_OK);
    assert_false(applied(f->st));

    in.audit_time = "24:00";
    assert_int_equal(store_settings_set(f->st, &in), STORE_ERR);
    assert_non_null(strstr(store_errmsg(f->st), "CHECK"));
    in.audit_time = "2:00";
    assert_int_equal(store_settings_set(f->st, &in), STORE_ERR);

    enum store_im_scheme sc;
    assert_int_equal(store_im_scheme_parse("directory-uri", &sc), 0);
    assert_int_equal(sc, STORE_SCHEME_DIRECTORY_URI);
    assert_int_equal(store_im_scheme_parse("bogus", &sc), -1);
}

static void test_topology(void **state)
{
    struct fixture *f = *state;
    struct store_group g;
    struct store_node nd, *nodes;
    struct store_recorded *rec;
    struct store_service svc, *svcs;
    size_t n;

    assert_int_equal(store_group_insert(f->st, "grp1", true), STORE_OK);
    assert_int_equal(store_group_insert(f->st, "GRP1", false), STORE_CONFLICT);
    assert_int_equal(store_node_insert(f->st, "pub", STORE_NODE_PUBLISHER, "15.0", "grp1"),
                     STORE_OK);
    assert_int_equal(store_node_insert(f->st, "pub2", STORE_NODE_PUBLISHER, "15.0", NULL),
                     STORE_CONFLICT);
    assert_int_equal(store_node_insert(f->st, "a-sub", STORE_NODE_SUBSCRIBER, "9.1", "grp1"),
                     STORE_OK);
    assert_int_equal(store_node_insert(f->st, "c-sub", STORE_NODE_SUBSCRIBER, "15.0", "grp1"),
                     STORE_CONFLICT); /* a group holds at most two nodes */
    assert_int_equal(store_node_insert(f->st, "c-sub", STORE_NODE_SUBSCRIBER, "15.0", "nogroup"),
                     STORE_NOTFOUND);
    assert_int_equal(store_node_insert(f->st, "c-sub", STORE_NODE_SUBSCRIBER, "", NULL), STORE_OK);
    assert_int_equal(store_node_update(f->st, "c-sub", STORE_NODE_SUBSCRIBER, "15.0", "grp1"),
                     STORE_CONFLICT);
    assert_int_equal(store_node_update(f->st, "a-sub", STORE_NODE_SUBSCRIBER, "15.0", "grp1"),
                     STORE_OK);
    assert_int_equal(store_node_get(f->st, "A-SUB", &nd), STORE_OK);
    assert_string_equal(nd.release, "15.0");
    assert_string_equal(nd.group, "grp1");
    store_node_clear(&nd);
    assert_int_equal(store_node_list(f->st, &nodes, &n), STORE_OK);
    assert_int_equal(n, 3);
    assert_string_equal(nodes[0].name, "pub"); /* publisher first */
    assert_string_equal(nodes[1].name, "a-sub");
    assert_null(nodes[2].group);
    store_node_list_free(nodes, n);

    assert_int_equal(store_group_get(f->st, "grp1", &g), STORE_OK);
    assert_true(g.ha_enabled);
    assert_int_equal(g.nodes, 2);
    assert_int_equal(g.ha_changed_at, 0);
    store_group_clear(&g);
    assert_int_equal(store_group_set_ha(f->st, "grp1", false, 1234), STORE_OK);
    assert_int_equal(store_group_get(f->st, "grp1", &g), STORE_OK);
    assert_false(g.ha_enabled);
    assert_int_equal(g.ha_changed_at, 1234);
    assert_int_equal(g.ha_changed_ms, 1234000);
    store_group_clear(&g);
    assert_int_equal(store_group_set_ha_ms(f->st, "grp1", false, 1234567), STORE_OK);
    assert_int_equal(store_group_get(f->st, "grp1", &g), STORE_OK);
    assert_int_equal(g.ha_changed_at, 1234);
    assert_int_equal(g.ha_changed_ms, 1234567);
    store_group_clear(&g);
    assert_int_equal(store_group_delete(f->st, "grp1"), STORE_CONFLICT);

    assert_int_equal(store_recorded_set(f->st, "pub", 10, 1000), STORE_OK);
    assert_int_equal(store_recorded_set(f->st, "pub", 12, 1001), STORE_OK);
    assert_int_equal(store_recorded_set(f->st, "a-sub", 3, 0), STORE_OK);
    assert_int_equal(store_recorded_set(f->st, "ghost", 3, 0), STORE_NOTFOUND);
    assert_int_equal(store_recorded_list(f->st, NULL, &rec, &n), STORE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(rec[1].node, "pub");
    assert_int_equal(rec[1].active_users, 12);
    assert_int_equal(rec[1].recorded_at, 1001);
    store_recorded_list_free(rec, n);
    assert_int_equal(store_recorded_clear(f->st, "pub"), STORE_OK);
    assert_int_equal(store_recorded_list(f->st, "pub", &rec, &n), STORE_OK);
    assert_int_equal(n, 0);
    store_recorded_list_free(rec, n);

    assert_int_equal(store_service_set(f->st, "pub", "xcp-router", "running"), STORE_OK);
    assert_int_equal(store_service_set(f->st, "pub", "xcp-router", "stopped"), STORE_OK);
    assert_int_equal(store_service_set(f->st, "a-sub", "sip-proxy", "activated"), STORE_OK);
    assert_int_equal(store_service_get(f->st, "PUB", "xcp-router", &svc), STORE_OK);
    assert_string_equal(svc.state, "stopped");
    store_service_clear(&svc);
    assert_int_equal(store_service_list(f->st, NULL, &svcs, &n), STORE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(svcs[0].node, "a-sub");
    store_service_list_free(svcs, n);
    assert_int_equal(store_service_delete(f->st, "pub", "xcp-router"), STORE_OK);
    assert_int_equal(store_service_delete(f->st, "pub", "xcp-router"), STORE_NOTFOUND);

    /* deleting a node drops its services and recorded count, and frees its group slot */
    assert_int_equal(store_node_delete(f->st, "a-sub"), STORE_OK);
    assert_int_equal(store_service_list(f->st, NULL, &svcs, &n), STORE_OK);
    assert_int_equal(n, 0);
    store_service_list_free(svcs, n);
    assert_int_equal(store_node_update(f->st, "c-sub", STORE_NODE_SUBSCRIBER, "15.0", "grp1"),
                     STORE_OK);
    assert_int_equal(store_node_update(f->st, "c-sub", STORE_NODE_SUBSCRIBER, "15.0", NULL),
                     STORE_OK);
    assert_int_equal(store_node_delete(f->st, "pub"), STORE_OK);
    assert_int_equal(store_group_delete(f->st, "grp1"), STORE_OK);
    assert_int_equal(store_group_delete(f->st, "grp1"), STORE_NOTFOUND);
}

/* Whether EXPLAIN QUERY PLAN of `sql` on the file names `index`. */
static bool plan_uses(const char *path, const char *sql, const char *index)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    char *explain = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sql);
    bool found = false;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, explain, -1, &s, NULL), SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW)
        found |= strstr((const char *)sqlite3_column_text(s, 3), index) != NULL;
    sqlite3_finalize(s);
    sqlite3_free(explain);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    return found;
}

/* Undoes every schema version after 3 (peers, the directory sync's tables, the groups'
 * ha_changed_ms, the users per IM address domain, the import job's tables; the triggers on
 * users that versions 4 and 7 made, version 9 dropped), so a test can pretend the file is
 * older. */
static const char undo_v4[] =
    "DROP TABLE user_import_verdicts; DROP TABLE user_import_slices;"
    " DROP TABLE user_import_parts; DROP TABLE user_imports;"
    " DROP TABLE im_domain_users;"
    " ALTER TABLE redundancy_groups DROP COLUMN ha_changed_ms;"
    " DROP TABLE directory_entries; DROP TABLE directory_runs; DROP INDEX users_from_directory;"
    " ALTER TABLE users DROP COLUMN source;"
    " DROP TABLE peer_domains; DROP TABLE peers; DROP TABLE peer_state;"
    " DROP TRIGGER peer_version_domain_insert; DROP TRIGGER peer_version_domain_delete;"
    " DROP TRIGGER peer_version_domain_update; DROP TRIGGER peer_version_settings;";

/* Version 1 -> 2 adds the IM address index over existing rows; lookups by IM address use it
 * and ignore case. */
static void test_migration_v2_im_address_index(void **state)
{
    struct fixture *f = *state;
    struct store_user u;
    const char *q = "SELECT id FROM users WHERE im_address = 'x@y' COLLATE NOCASE";

    assert_int_equal(store_user_upsert(f->st, "jdoe", NULL, NULL, NULL), STORE_OK);
    assert_int_equal(store_user_upsert(f->st, "ann", NULL, NULL, NULL), STORE_OK);
    assert_int_equal(store_user_set_im_address(f->st, "jdoe", "John.Doe@Example.COM"), STORE_OK);
    assert_int_equal(store_close(f->st), 0);
    /* back to what version 1 wrote: undo version 2 and every later one */
    raw_sql(f->path, undo_v4);
    raw_sql(f->path, "DROP INDEX users_im_address; DROP TABLE IF EXISTS procedures;"
                     " PRAGMA user_version = 1;");
    assert_false(plan_uses(f->path, q, "users_im_address"));

    f->st = open_ok(f->path);
    assert_int_equal(store_schema_version(f->st), STORE_SCHEMA_VERSION);
    assert_true(plan_uses(f->path, q, "users_im_address"));
    assert_int_equal(store_user_get_by_im(f->st, "john.doe@example.com", &u), STORE_OK);
    assert_string_equal(u.userid, "jdoe");
    assert_string_equal(u.im_address, "John.Doe@Example.COM");
    store_user_clear(&u);
    assert_int_equal(store_user_get_by_im(f->st, "ann@DOMAIN.NOT.SET", NULL), STORE_OK);
    assert_int_equal(store_user_get_by_im(f->st, "jdoe@example.com", &u), STORE_NOTFOUND);
    assert_int_equal(store_user_get_by_im(f->st, "john.doe@example.co", NULL), STORE_NOTFOUND);
    store_user_clear(&u);

    /* the node-only lookup presence uses */
    char *node = (char *)"untouched";
    assert_int_equal(store_node_insert(f->st, "pub", STORE_NODE_PUBLISHER, "15.0", NULL), STORE_OK);
    assert_int_equal(store_user_set_node(f->st, "jdoe", "pub"), STORE_OK);
    assert_int_equal(store_user_node_by_im(f->st, "JOHN.DOE@example.com", &node), STORE_OK);
    assert_string_equal(node, "pub");
    free(node);
    assert_int_equal(store_user_node_by_im(f->st, "ann@domain.not.set", &node), STORE_OK);
    assert_null(node); /* unassigned */
    assert_int_equal(store_user_node_by_im(f->st, "nobody@example.com", &node), STORE_NOTFOUND);
    assert_null(node);
}

/* What the old statement said: the users whose IM address ends in "@domain" (ASCII case
 * folded), counted by walking the table on a second connection. */
static int64_t like_count(const char *path, const char *domain)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int64_t n = -1;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT count(*) FROM users WHERE im_address LIKE '%@' || ?1", -1,
                           &s, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    return n;
}

/* The count through the store, checked against the table walk; returns it. */
static int64_t im_count(struct fixture *f, const char *domain)
{
    int64_t n = -1;

    assert_int_equal(store_user_count_im_domain(f->st, domain, &n), STORE_OK);
    assert_int_equal(n, like_count(f->path, domain));
    return n;
}

/*
 * The users per IM address domain: one key lookup in the counter the store's writers keep (never
 * a walk of the users table), right after every kind of write to users (the upsert, the
 * import's fast path and its batch, the default-domain and address-scheme jobs' batches, a
 * single address, deletes; the directory sync's removals in test_store_directory), and built
 * over existing rows by the migration.
 */
static void test_im_domain_count(void **state)
{
    struct fixture *f = *state;
    struct store_settings set;
    enum store_upsert how;
    int64_t last, n;
    const char *q = "SELECT coalesce((SELECT users FROM im_domain_users"
                    " WHERE domain = lower('a.example')), 0)";

    assert_true(plan_uses(f->path, q, "SEARCH im_domain_users USING PRIMARY KEY (domain=?)"));
    assert_false(plan_uses(f->path, q, "SEARCH users"));
    assert_false(plan_uses(f->path, q, "SCAN users"));

    /* new users under the default domain, through both writers */
    assert_int_equal(im_count(f, "domain.not.set"), 0);
    assert_int_equal(store_user_upsert(f->st, "ann", "ann@corp.example", NULL, NULL), STORE_OK);
    assert_int_equal(store_user_upsert(f->st, "ben", NULL, NULL, NULL), STORE_OK);
    assert_int_equal(store_settings_get(f->st, &set), STORE_OK);
    assert_int_equal(store_begin(f->st), STORE_OK);
    assert_int_equal(store_user_import_row(f->st, &set, "cy", "Cy@Corp.Example", 0, false, &how),
                     STORE_OK);
    assert_int_equal(store_user_import_row(f->st, &set, "di", NULL, 0, false, &how), STORE_OK);
    /* the same row again: an update that keeps the address */
    assert_int_equal(store_user_import_row(f->st, &set, "di", NULL, 0, false, &how), STORE_OK);
    assert_int_equal(store_commit(f->st), STORE_OK);
    assert_int_equal(im_count(f, "domain.not.set"), 4);
    assert_int_equal(im_count(f, "DOMAIN.not.SET"), 4);
    assert_int_equal(im_count(f, "corp.example"), 0);

    /* the address-scheme job's step moves the two with a URI, the default-domain job's all */
    assert_int_equal(store_users_derive_im_batch(f->st, STORE_SCHEME_DIRECTORY_URI, "a.example", 0,
                                                 100, &last, &n),
                     STORE_OK);
    assert_int_equal(im_count(f, "corp.example"), 2);
    assert_int_equal(im_count(f, "a.example"), 2);
    assert_int_equal(im_count(f, "domain.not.set"), 0);
    assert_int_equal(store_users_rewrite_im_batch(f->st, "B.example", 0, 3, &last, &n), STORE_OK);
    assert_int_equal(n, 3);
    assert_int_equal(im_count(f, "b.example"), 3);
    assert_int_equal(im_count(f, "a.example"), 1);
    assert_int_equal(im_count(f, "corp.example"), 0);

    /* one address by hand: a second '@', none at all, non-ASCII (LIKE folds ASCII only) */
    assert_int_equal(store_user_set_im_address(f->st, "ann", "x@y@b.example"), STORE_OK);
    assert_int_equal(im_count(f, "b.example"), 3);
    assert_int_equal(store_user_set_im_address(f->st, "ben", "no-at-b.example"), STORE_OK);
    assert_int_equal(im_count(f, "b.example"), 2);
    assert_int_equal(store_user_set_im_address(f->st, "cy", "cy@Ü.example"), STORE_OK);
    assert_int_equal(im_count(f, "Ü.example"), 1);
    assert_int_equal(im_count(f, "ü.example"), 0);
    assert_int_equal(im_count(f, "b.example"), 1);

    /* deletes; an unknown user changes nothing */
    assert_int_equal(store_user_delete(f->st, "cy"), STORE_OK);
    assert_int_equal(im_count(f, "Ü.example"), 0);
    assert_int_equal(store_user_delete(f->st, "cy"), STORE_NOTFOUND);
    assert_int_equal(store_user_set_im_address(f->st, "cy", "cy@b.example"), STORE_NOTFOUND);
    assert_int_equal(store_user_upsert(f->st, "eve", NULL, NULL, NULL), STORE_OK);
    assert_int_equal(im_count(f, "domain.not.set"), 1);
    assert_int_equal(store_user_delete(f->st, "eve"), STORE_OK);
    assert_int_equal(store_user_delete(f->st, "di"), STORE_OK);
    assert_int_equal(store_user_set_im_address(f->st, "ann", "ann@A.example"), STORE_OK);
    assert_int_equal(im_count(f, "domain.not.set"), 0);
    assert_int_equal(im_count(f, "b.example"), 0);
    assert_int_equal(im_count(f, "a.example"), 1);

    /* an import's batch: users it adds are counted at the commit, whatever happened to them in
     * the transaction (changed, deleted, added by the other writer), and not at all when it
     * rolls back */
    assert_int_equal(store_begin(f->st), STORE_OK);
    assert_int_equal(store_user_import_row(f->st, &set, "kim", NULL, 0, false, &how), STORE_OK);
    assert_int_equal(how, STORE_UPSERT_INSERTED);
    assert_int_equal(store_user_import_row(f->st, &set, "lea", NULL, 0, false, &how), STORE_OK);
    assert_int_equal(store_user_import_row(f->st, &set, "max", NULL, 0, false, &how), STORE_OK);
    assert_int_equal(store_user_delete(f->st, "lea"), STORE_OK);
    assert_int_equal(store_user_set_im_address(f->st, "max", "max@c.example"), STORE_OK);
    assert_int_equal(store_user_upsert(f->st, "ned", NULL, NULL, NULL), STORE_OK);
    assert_int_equal(store_user_set_im_address(f->st, "ann", "ann@c.example"), STORE_OK);
    assert_int_equal(store_users_rewrite_im_batch(f->st, "c.example", 0, 100, &last, &n),
                     STORE_OK);
    assert_int_equal(store_commit(f->st), STORE_OK);
    assert_int_equal(im_count(f, "c.example"), 5); /* ann, ben, kim, max, ned */
    assert_int_equal(im_count(f, "a.example"), 0);
    assert_int_equal(im_count(f, "domain.not.set"), 0);
    assert_int_equal(store_begin(f->st), STORE_OK);
    assert_int_equal(store_user_import_row(f->st, &set, "ova", NULL, 0, false, &how), STORE_OK);
    assert_int_equal(store_user_upsert(f->st, "pia", NULL, NULL, NULL), STORE_OK);
    assert_int_equal(store_rollback(f->st), STORE_OK);
    assert_int_equal(im_count(f, "domain.not.set"), 0);
    assert_int_equal(store_user_upsert(f->st, "pia", NULL, NULL, NULL), STORE_OK);
    assert_int_equal(im_count(f, "domain.not.set"), 1);
    assert_int_equal(store_user_delete(f->st, "pia"), STORE_OK);
    assert_int_equal(store_user_delete(f->st, "kim"), STORE_OK);
    assert_int_equal(store_user_delete(f->st, "max"), STORE_OK);
    assert_int_equal(store_user_delete(f->st, "ned"), STORE_OK);
    assert_int_equal(store_user_delete(f->st, "ben"), STORE_OK);
    assert_int_equal(store_user_set_im_address(f->st, "ann", "ann@A.example"), STORE_OK);
    assert_int_equal(im_count(f, "c.example"), 0);
    assert_int_equal(im_count(f, "a.example"), 1);

    /* a file written before the counter: the migration counts the rows already there */
    assert_int_equal(store_close(f->st), 0);
    raw_sql(f->path, "INSERT INTO users (userid, im_address) VALUES ('fay', 'fay@A.EXAMPLE'),"
                     " ('gus', 'gus@c.example'), ('hal', 'hal'), ('ida', '');");
    raw_sql(f->path, undo_v4);
    raw_sql(f->path, "PRAGMA user_version = 3;");
    f->st = open_ok(f->path);
    assert_int_equal(store_schema_version(f->st), STORE_SCHEMA_VERSION);
    assert_int_equal(im_count(f, "a.example"), 2);
    assert_int_equal(im_count(f, "c.example"), 1);
    assert_int_equal(im_count(f, "hal"), 0);
    assert_int_equal(store_user_upsert(f->st, "jo", "jo@c.example", NULL, NULL), STORE_OK);
    assert_int_equal(im_count(f, "domain.not.set"), 1); /* userid@default: the URI is not used */
    store_settings_clear(&set);
}

/* The procedure's progress: one active run, steps recorded, ended runs final, and a database
 * written before schema version 3 gains the table when opened. */
static void test_procedure(void **state)
{
    struct fixture *f = *state;
    struct store_procedure p;
    int64_t id = 0, id2 = 0;

    assert_int_equal(store_procedure_get_active(f->st, &p), STORE_NOTFOUND);
    assert_int_equal(store_procedure_start(f->st, "admin@example.test", &id), STORE_OK);
    assert_int_equal(store_procedure_start(f->st, "other@example.test", &id2), STORE_CONFLICT);
    assert_int_equal(store_procedure_set_step(f->st, id, 3, 7, "dg1,dg2"), STORE_OK);
    assert_int_equal(store_procedure_set_step(f->st, id, 9, 0, NULL), STORE_ERR);
    reopen(f);
    assert_int_equal(store_procedure_get_active(f->st, &p), STORE_OK);
    assert_int_equal(p.id, id);
    assert_int_equal(p.state, STORE_PROC_ACTIVE);
    assert_int_equal(p.step, 3);
    assert_int_equal(p.job_id, 7);
    assert_string_equal(p.ha_groups, "dg1,dg2");
    assert_string_equal(p.actor, "admin@example.test");
    store_procedure_clear(&p);
    assert_int_equal(store_procedure_end(f->st, id, STORE_PROC_CANCELED), STORE_OK);
    assert_int_equal(store_procedure_set_step(f->st, id, 4, 0, NULL), STORE_NOTFOUND);
    assert_int_equal(store_procedure_end(f->st, id, STORE_PROC_DONE), STORE_NOTFOUND);
    assert_int_equal(store_procedure_get(f->st, id, &p), STORE_OK);
    assert_int_equal(p.state, STORE_PROC_CANCELED);
    assert_int_equal(p.job_id, 7);
    store_procedure_clear(&p);
    assert_int_equal(store_procedure_start(f->st, "admin@example.test", &id2), STORE_OK);
    assert_true(id2 > id);

    /* an older database (no procedures table, user_version 2) is migrated at open */
    assert_int_equal(store_close(f->st), 0);
    raw_sql(f->path, undo_v4);
    raw_sql(f->path, "DROP TABLE procedures; PRAGMA user_version = 2;");
    f->st = open_ok(f->path);
    assert_int_equal(store_schema_version(f->st), STORE_SCHEMA_VERSION);
    assert_int_equal(store_procedure_get_active(f->st, &p), STORE_NOTFOUND);
    assert_int_equal(store_procedure_start(f->st, "admin@example.test", &id), STORE_OK);
    assert_int_equal(store_procedure_get(f->st, id, &p), STORE_OK);
    assert_int_equal(p.step, STORE_PROC_STEP_FIRST);
    assert_int_equal(p.job_id, 0);
    assert_string_equal(p.ha_groups, "");
    store_procedure_clear(&p);
}

/* Peers: added once (any case), configured ones marked and unmarked, removed with their data. */
static void test_peer_list(void **state)
{
    struct fixture *f = *state;
    struct store_peer *list = NULL, p;
    size_t n = 0;
    char *cfg[] = {"b.example.test"};

    assert_int_equal(store_peer_add(f->st, "A.Example.Test", false), STORE_OK);
    assert_int_equal(store_peer_add(f->st, "a.example.test", false), STORE_CONFLICT);
    assert_int_equal(store_peer_sync_config(f->st, cfg, 1), STORE_OK);
    assert_int_equal(store_peer_list(f->st, &list, &n), STORE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].jid, "a.example.test");
    assert_false(list[0].from_config);
    assert_int_equal(list[0].last_sync, 0);
    assert_null(list[0].last_error);
    assert_string_equal(list[1].jid, "b.example.test");
    assert_true(list[1].from_config);
    store_peer_list_free(list, n);
    /* gone from the file: kept, no longer marked */
    assert_int_equal(store_peer_sync_config(f->st, NULL, 0), STORE_OK);
    assert_int_equal(store_peer_get(f->st, "b.example.test", &p), STORE_OK);
    assert_false(p.from_config);
    store_peer_clear(&p);
    assert_int_equal(store_peer_remove(f->st, "b.example.test"), STORE_OK);
    assert_int_equal(store_peer_remove(f->st, "b.example.test"), STORE_NOTFOUND);
    assert_int_equal(store_peer_get(f->st, "b.example.test", &p), STORE_NOTFOUND);
}

/* One answer replaces the peer's data in one piece: a value the schema refuses changes nothing;
 * failures keep the data; totals and the usage query see peer data. */
static void test_peer_replace(void **state)
{
    struct fixture *f = *state;
    struct store_peer_domain good[] = {{"x.example", "X.Example", true, 0},
                                       {"y.example", "y.example", false, 7}};
    struct store_peer_domain bad[] = {{"z.example", "z.example", true, 0},
                                      {"y.example", "y.example", false, -1}};
    struct store_peer_data d = {"v1",  "b.example", "directory-uri", good, 2, 3,
                                false, 1,           "u@x.example"};
    struct store_peer p;
    struct store_peer_domain *pd = NULL;
    struct store_peer_total *t = NULL;
    struct store_domain_usage *du = NULL;
    size_t n = 0;
    bool auth = true;

    assert_int_equal(store_peer_authoritative(f->st, &auth), STORE_OK);
    assert_false(auth);
    assert_int_equal(store_peer_add(f->st, "b.example.test", false), STORE_OK);
    assert_int_equal(store_peer_replace(f->st, "nobody.test", &d, 100), STORE_NOTFOUND);
    assert_int_equal(store_peer_replace(f->st, "b.example.test", &d, 100), STORE_OK);
    assert_int_equal(store_peer_authoritative(f->st, &auth), STORE_OK);
    assert_true(auth);
    d.domains = bad;
    d.version = "v2";
    assert_int_equal(store_peer_replace(f->st, "b.example.test", &d, 200), STORE_ERR);
    assert_int_equal(store_peer_mark_failed(f->st, "b.example.test", "timed out", 300), STORE_OK);
    assert_int_equal(store_peer_get(f->st, "b.example.test", &p), STORE_OK);
    assert_string_equal(p.version, "v1");
    assert_int_equal(p.last_sync, 100);
    assert_int_equal(p.last_attempt, 300);
    assert_string_equal(p.last_error, "timed out");
    assert_int_equal(p.domains, 2);
    assert_int_equal(p.users, 7);
    assert_int_equal(p.dup_uris, 1);
    assert_string_equal(p.dup_example, "u@x.example");
    assert_string_equal(p.im_address_scheme, "directory-uri");
    store_peer_clear(&p);
    assert_int_equal(store_peer_mark_fresh(f->st, "b.example.test", 400), STORE_OK);
    assert_int_equal(store_peer_get(f->st, "b.example.test", &p), STORE_OK);
    assert_null(p.last_error);
    assert_int_equal(p.last_sync, 400);
    store_peer_clear(&p);
    assert_int_equal(store_peer_domains(f->st, "b.example.test", &pd, &n), STORE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(pd[0].name, "x.example");
    assert_string_equal(pd[0].sent_name, "X.Example");
    assert_true(pd[0].configured);
    store_peer_domains_free(pd, n);
    assert_int_equal(store_peer_totals(f->st, 0, &t, &n), STORE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(t[1].users, 7);
    assert_int_equal(t[1].configured_by, 0);
    store_peer_totals_free(t, n);
    /* the usage query: a listed domain and one only the peer has */
    assert_int_equal(store_domain_insert(f->st, "x.example", STORE_MANAGED_ADMIN, true), STORE_OK);
    assert_int_equal(store_domain_usage(f->st, 0, &du, &n), STORE_OK);
    assert_int_equal(n, 2);
    assert_true(du[0].listed && du[0].peer_configured && du[0].peer_users == 0);
    assert_true(!du[1].listed && !du[1].peer_configured && du[1].peer_users == 7);
    store_domain_usage_free(du, n);
    /* a new peer that never answered makes peer data incomplete again */
    assert_int_equal(store_peer_add(f->st, "c.example.test", false), STORE_OK);
    assert_int_equal(store_peer_authoritative(f->st, &auth), STORE_OK);
    assert_false(auth);
    assert_int_equal(store_peer_remove(f->st, "b.example.test"), STORE_OK);
    assert_int_equal(store_peer_totals(f->st, 0, &t, &n), STORE_OK);
    assert_int_equal(n, 0);
}

/* How many usage rows have peer data, and whether `name` is among them as configured. */
static size_t peer_rows(struct fixture *f, int64_t since, const char *name, bool *configured)
{
    struct store_domain_usage *du = NULL;
    size_t n = 0, with_peer = 0;

    *configured = false;
    assert_int_equal(store_domain_usage(f->st, since, &du, &n), STORE_OK);
    for (size_t i = 0; i < n; i++) {
        with_peer += du[i].peer_configured || du[i].peer_users > 0;
        if (strcmp(du[i].name, name) == 0)
            *configured = du[i].peer_configured;
    }
    store_domain_usage_free(du, n);
    return with_peer;
}

static size_t totals_at(struct fixture *f, int64_t since)
{
    struct store_peer_total *t = NULL;
    size_t n = 0;

    assert_int_equal(store_peer_totals(f->st, since, &t, &n), STORE_OK);
    store_peer_totals_free(t, n);
    return n;
}

/* The cutoff: a peer counts while its last good answer is at or after peer_since. Fresh and
 * stale (failing but recent) peers count, an expired one does not, one that never answered
 * has nothing to count; 0 counts every peer that answered. */
static void test_peer_cutoff(void **state)
{
    struct fixture *f = *state;
    struct store_peer_domain said[] = {{"x.example", "x.example", true, 2}};
    struct store_peer_data d = {"v1", "b.example", "directory-uri", said, 1, 0, false, 0, NULL};
    struct store_peer p;
    bool conf = false;

    assert_int_equal(store_domain_insert(f->st, "x.example", STORE_MANAGED_ADMIN, true), STORE_OK);
    assert_int_equal(store_peer_add(f->st, "b.example.test", false), STORE_OK);
    assert_int_equal(store_peer_add(f->st, "never.example.test", false), STORE_OK);
    assert_int_equal(store_peer_mark_failed(f->st, "never.example.test", "timed out", 900),
                     STORE_OK);
    assert_int_equal(store_peer_replace(f->st, "b.example.test", &d, 1000), STORE_OK);
    /* fresh: counted everywhere */
    assert_int_equal(peer_rows(f, 1000, "x.example", &conf), 1);
    assert_true(conf);
    assert_int_equal(totals_at(f, 1000), 1);
    assert_int_equal(store_peer_configures(f->st, "X.Example", 1000, &conf), STORE_OK);
    assert_true(conf);
    /* stale: the last refresh failed, the last good answer still counts */
    assert_int_equal(store_peer_mark_failed(f->st, "b.example.test", "gone", 2000), STORE_OK);
    assert_int_equal(peer_rows(f, 999, "x.example", &conf), 1);
    assert_int_equal(totals_at(f, 999), 1);
    /* expired: kept in the store, not counted */
    assert_int_equal(peer_rows(f, 1001, "x.example", &conf), 0);
    assert_false(conf);
    assert_int_equal(totals_at(f, 1001), 0);
    assert_int_equal(store_peer_configures(f->st, "x.example", 1001, &conf), STORE_OK);
    assert_false(conf);
    assert_int_equal(store_peer_get(f->st, "b.example.test", &p), STORE_OK);
    assert_int_equal(p.domains, 1); /* the data is still there */
    store_peer_clear(&p);
    /* 0: every peer that answered counts; the never-answered one adds nothing */
    assert_int_equal(peer_rows(f, 0, "x.example", &conf), 1);
    assert_int_equal(totals_at(f, 0), 1);
    /* an expired peer answering again counts again */
    assert_int_equal(store_peer_mark_fresh(f->st, "b.example.test", 3000), STORE_OK);
    assert_int_equal(peer_rows(f, 1001, "x.example", &conf), 1);
    assert_true(conf);
}

/* The data version marker moves when what a peer may ask for changes, and only then. */
static void test_peer_version(void **state)
{
    struct fixture *f = *state;
    struct store_settings set;
    char *v0, *v1, *v2, *v3;

    assert_int_equal(store_peer_own_version(f->st, &v0), STORE_OK);
    assert_int_equal(store_domain_insert(f->st, "a.example", STORE_MANAGED_ADMIN, true), STORE_OK);
    assert_int_equal(store_peer_own_version(f->st, &v1), STORE_OK);
    assert_string_not_equal(v0, v1);
    assert_int_equal(store_user_upsert(f->st, "jdoe", "jdoe@a.example", NULL, NULL), STORE_OK);
    assert_int_equal(store_peer_own_version(f->st, &v2), STORE_OK);
    assert_string_not_equal(v1, v2);
    /* the audit log and the apply flag are no business of peers */
    assert_int_equal(store_settings_set_applied(f->st, true, NULL), STORE_OK);
    assert_int_equal(store_peer_add(f->st, "b.example.test", false), STORE_OK);
    assert_int_equal(store_peer_own_version(f->st, &v3), STORE_OK);
    assert_string_equal(v2, v3);
    free(v3);
    assert_int_equal(store_settings_get(f->st, &set), STORE_OK);
    set.im_address_scheme = STORE_SCHEME_DIRECTORY_URI;
    assert_int_equal(store_settings_set(f->st, &set), STORE_OK);
    store_settings_clear(&set);
    assert_int_equal(store_peer_own_version(f->st, &v3), STORE_OK);
    assert_string_not_equal(v2, v3);
    free(v0);
    free(v1);
    free(v2);
    free(v3);
}

/* A schema 3 database gains the peer tables at open, with a fresh marker. */
static void test_migration_v4_peers(void **state)
{
    struct fixture *f = *state;
    struct store_peer *list = NULL;
    size_t n = 9;
    char *v = NULL;

    assert_int_equal(store_domain_insert(f->st, "keep.example", STORE_MANAGED_ADMIN, true),
                     STORE_OK);
    assert_int_equal(store_close(f->st), 0);
    raw_sql(f->path, undo_v4);
    raw_sql(f->path, "PRAGMA user_version = 3;");
    f->st = open_ok(f->path);
    assert_int_equal(store_schema_version(f->st), STORE_SCHEMA_VERSION);
    assert_int_equal(store_domain_exists(f->st, "keep.example"), STORE_OK);
    assert_int_equal(store_peer_list(f->st, &list, &n), STORE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_peer_own_version(f->st, &v), STORE_OK);
    assert_non_null(strchr(v, '-'));
    free(v);
    assert_int_equal(store_peer_add(f->st, "b.example.test", true), STORE_OK);
}

/* One number a query reads from the file through a connection of its own. */
static int64_t raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int64_t v = -1;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    return v;
}

/* user_imports as schema 8 made it and 9 kept it: ids handed out again once deleted. */
static const char user_imports_v9[] =
    "PRAGMA foreign_keys = OFF; DROP TABLE user_imports;"
    " DELETE FROM sqlite_sequence WHERE name = 'user_imports';"
    " CREATE TABLE user_imports ("
    " id INTEGER PRIMARY KEY,"
    " job_id INTEGER UNIQUE,"
    " phase TEXT NOT NULL DEFAULT 'upload' CHECK (phase IN ('upload', 'apply', 'audit', 'done')),"
    " lines INTEGER NOT NULL DEFAULT 0,"
    " lang TEXT,"
    " actor TEXT NOT NULL DEFAULT '',"
    " edit_directory INTEGER NOT NULL DEFAULT 0 CHECK (edit_directory IN (0, 1)),"
    " audit INTEGER NOT NULL DEFAULT 1 CHECK (audit IN (0, 1)),"
    " canceled INTEGER NOT NULL DEFAULT 0 CHECK (canceled IN (0, 1)),"
    " cursor INTEGER NOT NULL DEFAULT 0,"
    " added INTEGER NOT NULL DEFAULT 0,"
    " updated INTEGER NOT NULL DEFAULT 0,"
    " unchanged INTEGER NOT NULL DEFAULT 0,"
    " removed INTEGER NOT NULL DEFAULT 0,"
    " rejected INTEGER NOT NULL DEFAULT 0,"
    " summary TEXT,"
    " created_at INTEGER NOT NULL);"
    /* a finished import (3) and one a job applies (7), each with parts, slices, verdicts */
    " INSERT INTO user_imports (id, job_id, phase, lines, lang, actor, cursor, added, rejected,"
    "  summary, created_at) VALUES"
    "  (3, 1, 'done', 2, NULL, 'a@example.test', 2, 1, 1, 'lines=2 applied=2', 100),"
    "  (7, 2, 'apply', 4, 'ko', 'b@example.test', 2, 2, 0, NULL, 200);"
    " INSERT INTO user_import_parts (import_id, first_line, lines, text) VALUES"
    "  (3, 1, 2, 'a,a@x' || char(10) || 'bad'),"
    "  (7, 1, 2, 'c,c@x' || char(10) || 'd,d@x'), (7, 3, 2, 'e,e@x' || char(10) || 'f,f@x');"
    " INSERT INTO user_import_slices (import_id, first_line, codes) VALUES"
    "  (3, 1, 'ax'), (7, 1, 'aa');"
    " INSERT INTO user_import_verdicts (import_id, line, userid, verdict, reason) VALUES"
    "  (3, 2, 'bad', 'rejected', 'no URI'), (7, 2, 'd', 'updated', ''),"
    /* left by a damaged store: its import is gone (a cascade deletes such rows otherwise) */
    "  (99, 1, 'z', 'removed', '');"
    " PRAGMA user_version = 9;";

/* Version 9 -> 10 rebuilds user_imports with AUTOINCREMENT: every row stays with its id and
 * values, and so do the parts, slices and verdicts that refer to them (dropping the old table
 * with foreign keys on would have deleted them all); only the orphan goes. Foreign keys are on
 * again afterwards (a new upload's clean-up deletes the children too), and the ids go on from
 * the largest, never below it. */
static void test_migration_v10_import_ids(void **state)
{
    struct fixture *f = *state;
    struct store_import r;
    struct store_import_verdict *v = NULL;
    size_t n = 0;
    int64_t id = 0, first = 0, lines = 0;
    char *text = NULL;
    size_t len = 0;

    assert_int_equal(store_close(f->st), 0);
    raw_sql(f->path, user_imports_v9);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM user_import_verdicts"), 3);

    f->st = open_ok(f->path);
    assert_int_equal(store_schema_version(f->st), STORE_SCHEMA_VERSION);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_master WHERE name ="
                                      " 'user_imports' AND sql LIKE '%id INTEGER PRIMARY KEY"
                                      " AUTOINCREMENT,%'"),
                     1);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_master WHERE name LIKE"
                                      " 'user_imports_%'"),
                     0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM user_imports"), 2);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM user_import_parts"), 3);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM user_import_slices"), 2);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM user_import_verdicts"), 2);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM pragma_foreign_key_check"), 0);

    assert_int_equal(store_import_get_by_job(f->st, 2, &r), STORE_OK);
    assert_int_equal(r.id, 7);
    assert_int_equal(r.phase, STORE_IMPORT_APPLY);
    assert_int_equal(r.lines, 4);
    assert_int_equal(r.cursor, 2);
    assert_int_equal(r.counts[0], 2);
    assert_string_equal(r.lang, "ko");
    assert_string_equal(r.actor, "b@example.test");
    assert_null(r.summary);
    store_import_clear(&r);
    assert_int_equal(store_import_part_at(f->st, 7, 4, &first, &lines, &text, &len), STORE_OK);
    assert_int_equal(first, 3);
    assert_string_equal(text, "e,e@x\nf,f@x");
    free(text);
    assert_int_equal(store_import_get(f->st, 3, &r), STORE_OK);
    assert_int_equal(r.job_id, 1);
    assert_int_equal(r.phase, STORE_IMPORT_DONE);
    assert_int_equal(r.counts[4], 1);
    assert_string_equal(r.summary, "lines=2 applied=2");
    store_import_clear(&r);
    assert_int_equal(store_import_verdicts(f->st, 3, 0, 10, &v, &n), STORE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].userid, "bad");
    assert_string_equal(v[0].reason, "no URI");
    store_import_verdicts_free(v, n);

    /* no job is active: a new upload deletes both, their rows with them, and gets id 8 */
    assert_int_equal(store_import_create(f->st, "c@example.test", NULL, false, true, &id),
                     STORE_OK);
    assert_int_equal(id, 8);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM user_import_parts"), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM user_import_slices"), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM user_import_verdicts"), 0);
    assert_int_equal(store_import_discard_upload(f->st, id), STORE_OK);
    reopen(f);
    assert_int_equal(store_import_create(f->st, "c@example.test", NULL, false, true, &id),
                     STORE_OK);
    assert_int_equal(id, 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_v2_im_address_index, setup, teardown),
        cmocka_unit_test(test_memory_and_bad_path),
        cmocka_unit_test_setup_teardown(test_newer_version_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_database_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_case_insensitive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_rename_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_list_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_changes_mark_unapplied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_upsert_and_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_im_address_scheme, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_uniqueness, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewrite_batch_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_derive_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settings_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_topology, setup, teardown),
        cmocka_unit_test_setup_teardown(test_im_domain_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_procedure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_cutoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_v4_peers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_v10_import_ids, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
