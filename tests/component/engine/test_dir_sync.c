/* Unit tests for component/engine/dir_sync.c past the read: entries staged in the store as a
 * fetch leaves them, then the job runner on a real loop takes the run through the safety stop,
 * apply, remove and finish. What each entry becomes (added, updated, unchanged, a duplicate, an
 * unknown node, a row the store refuses), the failures of a phase and their Retry and Cancel,
 * a run record gone missing, the schedule's start, and the words jobs/status shows (English and
 * Korean). The read itself, against slapd, is in tests/integration/test_directory*.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "component/app.h"
#include "component/config.h"
#include "component/engine/dir_sync.h"
#include "component/engine/job.h"
#include "store/store_audit.h"
#include "store/store_directory.h"
#include "store/store_topo.h"
#include "store/store_user.h"
#include "tests/lib/tmpstore.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fixture {
    char dir[64];
    char path[96];
    uv_loop_t loop;
    struct config cfg;
    struct app app;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char *err = NULL;

    if (f == NULL || tmpstore_make(f->dir, sizeof(f->dir), f->path, sizeof(f->path), "dsync") != 0)
        return -1;
    if (uv_loop_init(&f->loop) != 0)
        return -1;
    config_defaults(&f->cfg);
    /* port 1 on loopback refuses at once: a run that reaches the read fails there */
    f->cfg.dir_uri = strdup("ldap://127.0.0.1:1");
    f->cfg.dir_base = strdup("ou=people,dc=example,dc=test");
    f->cfg.dir_timeout = 5;
    f->app.cfg = &f->cfg;
    f->app.loop = &f->loop;
    if ((f->app.store = store_open(f->path, &err)) == NULL) {
        fprintf(stderr, "store_open: %s\n", err ? err : "?");
        return -1;
    }
    f->app.jobs = job_runner_new(&f->app);
    f->app.dirsync = dir_sync_new(&f->app);
    if (f->app.jobs == NULL || f->app.dirsync == NULL)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    dir_sync_stop(f->app.dirsync);
    job_runner_stop(f->app.jobs);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    dir_sync_free(f->app.dirsync);
    job_runner_free(f->app.jobs);
    store_close(f->app.store);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    config_free(&f->cfg);
    tmpstore_remove(f->dir, f->path);
    free(f);
    return 0;
}

static void raw_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *err = NULL;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err);
    sqlite3_close(db);
}

/* A user the last sync brought from the directory. */
static void directory_user(struct fixture *f, const char *userid, const char *uri)
{
    char sql[256];

    assert_int_equal(store_user_upsert(f->app.store, userid, uri, NULL, NULL), STORE_OK);
    snprintf(sql, sizeof(sql), "UPDATE users SET source = 'directory' WHERE userid = '%s'", userid);
    raw_sql(f->path, sql);
}

/* One staged entry as the fetch maps it: `reason` set means rejected while mapping. */
#define ENTRY(uid, uri, node)                                                                      \
    {                                                                                              \
        0, "uid=" uid ",ou=people", uid, uri, node, -1, NULL, NULL, false                          \
    }

/* A job as directory/sync creates it, its entries staged and the read done (phase check). */
static int64_t staged_run_confirmed(struct fixture *f, enum store_dir_mode mode,
                                    const struct store_dir_entry *v, size_t n,
                                    const char *max_mtime, bool confirmed)
{
    struct store_dir_run r;
    enum store_dir_mode used;
    int64_t id = 0;

    assert_int_equal(store_begin(f->app.store), STORE_OK);
    assert_int_equal(dir_sync_create(&f->app, mode, confirmed, &id, &used), STORE_OK);
    assert_int_equal(store_dir_entries_add(f->app.store, v, n), STORE_OK);
    assert_int_equal(store_dir_run_get(f->app.store, id, &r), STORE_OK);
    r.phase = STORE_DIR_CHECK;
    r.fetched = (int64_t)n;
    r.server = strdup("127.0.0.1:389");
    if (max_mtime) {
        r.saw_mtime = true;
        r.max_mtime = strdup(max_mtime);
    }
    assert_int_equal(store_dir_run_update(f->app.store, &r), STORE_OK);
    store_dir_run_clear(&r);
    assert_int_equal(store_commit(f->app.store), STORE_OK);
    job_runner_kick(f->app.jobs);
    return id;
}

static int64_t staged_run(struct fixture *f, enum store_dir_mode mode,
                          const struct store_dir_entry *v, size_t n, const char *max_mtime)
{
    return staged_run_confirmed(f, mode, v, n, max_mtime, false);
}

static void run_loop(struct fixture *f)
{
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_false(job_runner_busy(f->app.jobs));
}

static struct store_job get_job(struct fixture *f, int64_t id)
{
    struct store_job j;

    assert_int_equal(store_job_get(f->app.store, id, &j), STORE_OK);
    return j;
}

static void assert_job(struct fixture *f, int64_t id, enum store_job_state state,
                       const char *error_start)
{
    struct store_job j = get_job(f, id);

    assert_string_equal(store_job_state_name(j.state), store_job_state_name(state));
    if (error_start == NULL)
        assert_null(j.error);
    else if (j.error == NULL || strncmp(j.error, error_start, strlen(error_start)) != 0)
        fail_msg("job error %s, expected %s...", j.error ? j.error : "(none)", error_start);
    store_job_clear(&j);
}

static struct store_dir_run get_run(struct fixture *f, int64_t id)
{
    struct store_dir_run r;

    assert_int_equal(store_dir_run_get(f->app.store, id, &r), STORE_OK);
    return r;
}

/* The user's directory URI and node ("" when none), or "(none)" when there is no such user. */
static void user_row(struct fixture *f, const char *userid, char *out, size_t n)
{
    struct store_user u;
    enum store_rc rc = store_user_get(f->app.store, userid, &u);

    if (rc == STORE_NOTFOUND) {
        snprintf(out, n, "(none)");
        return;
    }
    assert_int_equal(rc, STORE_OK);
    snprintf(out, n, "%s %s", u.directory_uri, u.node ? u.node : "");
    store_user_clear(&u);
}

static void assert_user(struct fixture *f, const char *userid, const char *want)
{
    char got[256];

    user_row(f, userid, got, sizeof(got));
    assert_string_equal(got, want);
}

static const char *value(const form_t *form, const char *var, size_t i)
{
    const form_field_t *field = form_field(form, var);

    if (field == NULL)
        fail_msg("no field %s", var);
    return form_field_value(field, i);
}

static void assert_has(const char *hay, const char *needle)
{
    if (hay == NULL || strstr(hay, needle) == NULL)
        fail_msg("'%s' not in '%s'", needle, hay ? hay : "(null)");
}

/* Every verdict in one full run: what jobs/status shows of it, in both languages. */
static void test_full_run_verdicts(void **state)
{
    struct fixture *f = *state;
    const struct store_dir_entry v[] = {
        ENTRY("alice", "alice@corp.example", NULL),
        ENTRY("bob", "bob@corp.example", "node-a.corp.example"),
        ENTRY("ALICE", "alice2@corp.example", NULL), /* the same userid in another case */
        ENTRY("carol", "carol@corp.example", "nowhere.corp.example"),
        ENTRY("dave", "dave@corp.example", NULL), /* the store refuses (trigger below) */
        {0, "uid=erin,ou=people", "erin", "", NULL, STORE_DIR_REJECTED,
         "the directory URI must be name@domain", "디렉터리 URI는 이름@도메인이어야 합니다", false},
        ENTRY("frank", "frank@corp.example", NULL),
        ENTRY("gina", "gina@new.example", NULL),
    };
    struct store_job j;
    struct store_dir_run r;
    struct store_audit *audit = NULL;
    size_t n_audit = 0;
    form_t *form;
    char *text;
    int64_t id;

    assert_int_equal(
        store_node_insert(f->app.store, "node-a.corp.example", STORE_NODE_SUBSCRIBER, "", NULL),
        STORE_OK);
    directory_user(f, "frank", "frank@corp.example");
    directory_user(f, "gina", "gina@old.example");
    directory_user(f, "henry", "henry@corp.example"); /* gone from the directory */
    assert_int_equal(store_user_upsert(f->app.store, "ivan", "ivan@corp.example", NULL, NULL),
                     STORE_OK); /* made by hand: a sync leaves it alone */
    raw_sql(f->path, "CREATE TRIGGER refuse BEFORE INSERT ON users WHEN NEW.userid = 'dave'"
                     " BEGIN SELECT RAISE(ABORT, 'refused'); END;");
    id = staged_run(f, STORE_DIR_FULL, v, sizeof(v) / sizeof(v[0]), NULL);
    run_loop(f);

    assert_job(f, id, STORE_JOB_COMPLETED, NULL);
    assert_user(f, "alice", "alice@corp.example ");
    assert_user(f, "bob", "bob@corp.example node-a.corp.example");
    assert_user(f, "frank", "frank@corp.example ");
    assert_user(f, "gina", "gina@new.example ");
    assert_user(f, "ivan", "ivan@corp.example ");
    assert_user(f, "carol", "(none)");
    assert_user(f, "dave", "(none)");
    assert_user(f, "erin", "(none)");
    assert_user(f, "henry", "(none)");
    r = get_run(f, id);
    assert_int_equal(r.phase, STORE_DIR_DONE);
    assert_int_equal(r.existing, 3);
    assert_int_equal(r.counts[STORE_DIR_ADDED], 2);
    assert_int_equal(r.counts[STORE_DIR_UPDATED], 1);
    assert_int_equal(r.counts[STORE_DIR_UNCHANGED], 1);
    assert_int_equal(r.counts[STORE_DIR_REMOVED], 1);
    assert_int_equal(r.counts[STORE_DIR_REJECTED], 4);
    assert_has(r.summary, "mode=full server=127.0.0.1:389 entries=8 added=2 updated=1 "
                          "unchanged=1 removed=1 rejected=4; audit: ");
    store_dir_run_clear(&r);
    assert_int_equal(store_audit_list(f->app.store, 0, NULL, 1, &audit, &n_audit), STORE_OK);
    assert_int_equal(n_audit, 1);
    assert_string_equal(audit[0].node, DIR_SYNC_NODE);
    assert_has(audit[0].details, "mode=full server=127.0.0.1:389 entries=8");
    store_audit_list_free(audit, n_audit);

    j = get_job(f, id);
    form = form_new(FORM_RESULT);
    dir_sync_add_fields(f->app.store, &j, form, "ko");
    assert_string_equal(value(form, "mode", 0), "full");
    assert_string_equal(value(form, "phase", 0), "done");
    assert_string_equal(value(form, "entries_read", 0), "8");
    assert_string_equal(value(form, "existing_before", 0), "3");
    assert_string_equal(value(form, "rejected", 0), "4");
    assert_null(form_field(form, "incremental_note"));
    assert_string_equal(value(form, "rejected_entries", 0),
                        "ALICE: 중복된 사용자 ID: 디렉터리의 앞선 항목에 이미 있습니다 "
                        "(uid=ALICE,ou=people)");
    assert_string_equal(value(form, "rejected_entries", 1),
                        "carol: 알 수 없는 노드 nowhere.corp.example: 먼저 topology/edit로 "
                        "추가하십시오 (uid=carol,ou=people)");
    assert_string_equal(value(form, "rejected_entries", 2),
                        "dave: 다른 사용자와 충돌합니다 (uid=dave,ou=people)");
    assert_string_equal(value(form, "rejected_entries", 3),
                        "erin: 디렉터리 URI는 이름@도메인이어야 합니다 (uid=erin,ou=people)");
    assert_string_equal(value(form, "removed_users", 0), "henry (henry@corp.example)");
    assert_string_equal(form_field_label(form_field(form, "removed_users"), "ko"),
                        "삭제된 사용자(처음 50명)");
    form_free(form);
    form = form_new(FORM_RESULT);
    dir_sync_add_fields(f->app.store, &j, form, "en");
    assert_string_equal(value(form, "rejected_entries", 2),
                        "dave: conflicts with another user (uid=dave,ou=people)");
    form_free(form);
    text = dir_sync_describe(&j, "en");
    assert_string_equal(text, "job 1, directory sync (full): completed, 8 of 8 entries applied, "
                              "attempt 1");
    free(text);
    text = dir_sync_describe(&j, "ko");
    assert_string_equal(text,
                        "작업 1, 디렉터리 동기화(전체): 완료, 항목 8개 중 8개 적용, 시도 1회");
    free(text);
    store_job_clear(&j);
}

/* An incremental run: no removals, the fields say why; the next one counts from its stamp. */
static void test_incremental_run(void **state)
{
    struct fixture *f = *state;
    const struct store_dir_entry first[] = {ENTRY("alice", "alice@corp.example", NULL),
                                            ENTRY("bob", "bob@corp.example", NULL)};
    const struct store_dir_entry changed[] = {ENTRY("bob", "bob@moved.example", NULL)};
    enum store_dir_mode used;
    struct store_dir_run r;
    struct store_job j;
    form_t *form;
    char *text;
    int64_t id;

    /* nothing completed yet: an incremental request runs full */
    assert_int_equal(store_begin(f->app.store), STORE_OK);
    assert_int_equal(dir_sync_create(&f->app, STORE_DIR_INCREMENTAL, false, &id, &used), STORE_OK);
    assert_int_equal(used, STORE_DIR_FULL);
    assert_int_equal(store_rollback(f->app.store), STORE_OK);

    id = staged_run(f, STORE_DIR_FULL, first, 2, "20261203101500Z");
    run_loop(f);
    assert_job(f, id, STORE_JOB_COMPLETED, NULL);

    assert_int_equal(store_begin(f->app.store), STORE_OK);
    assert_int_equal(dir_sync_create(&f->app, STORE_DIR_INCREMENTAL, false, &id, &used), STORE_OK);
    assert_int_equal(used, STORE_DIR_INCREMENTAL);
    r = get_run(f, id);
    assert_string_equal(r.since, "20261203101500Z");
    store_dir_run_clear(&r);
    assert_int_equal(store_rollback(f->app.store), STORE_OK);

    id = staged_run(f, STORE_DIR_INCREMENTAL, changed, 1, "20261203111500Z");
    run_loop(f);
    assert_job(f, id, STORE_JOB_COMPLETED, NULL);
    assert_user(f, "alice", "alice@corp.example "); /* not read: not removed */
    assert_user(f, "bob", "bob@moved.example ");
    j = get_job(f, id);
    form = form_new(FORM_RESULT);
    dir_sync_add_fields(f->app.store, &j, form, "en");
    assert_string_equal(value(form, "mode", 0), "incremental");
    assert_string_equal(value(form, "updated", 0), "1");
    assert_has(value(form, "incremental_note", 0), "cannot see removed ones");
    assert_null(form_field(form, "rejected_entries"));
    assert_null(form_field(form, "removed_users"));
    form_free(form);
    form = form_new(FORM_RESULT);
    dir_sync_add_fields(f->app.store, &j, form, "ko");
    assert_has(value(form, "incremental_note", 0), "증분 동기화는 바뀐 항목만 읽으므로");
    form_free(form);
    text = dir_sync_describe(&j, "ko");
    assert_has(text, "디렉터리 동기화(증분): 완료");
    free(text);
    store_job_clear(&j);
}

/* The safety stop, then Cancel (nothing changed, the staging emptied); again, then Retry
 * (applied anyway). */
static void test_safety_stop_cancel_and_retry(void **state)
{
    struct fixture *f = *state;
    const struct store_dir_entry v[] = {ENTRY("u0", "u0@corp.example", NULL),
                                        ENTRY("u1", "u1@corp.example", NULL)};
    struct store_dir_entry *left = NULL;
    size_t n_left = 0;
    struct store_job j;
    char userid[16], uri[64], *text;
    int64_t id;

    for (int i = 0; i < 10; i++) {
        snprintf(userid, sizeof(userid), "u%d", i);
        snprintf(uri, sizeof(uri), "u%d@corp.example", i);
        directory_user(f, userid, uri);
    }
    id = staged_run(f, STORE_DIR_FULL, v, 2, NULL);
    run_loop(f);
    assert_job(f, id, STORE_JOB_FAILED,
               "safety stop: the directory returned 2 entries but 10 users came from it before "
               "(80% fewer; the limit is 20%");
    j = get_job(f, id);
    assert_true(dir_sync_waits_confirmation(f->app.store, &j));
    text = dir_sync_describe(&j, "ko");
    assert_has(text,
               "작업 1, 디렉터리 동기화(전체): 실패, 읽은 항목 0개, 적용 없음, 시도 1회; 오류: "
               "safety stop");
    free(text);
    store_job_clear(&j);
    assert_int_equal(job_cancel(f->app.jobs, id), STORE_OK);
    run_loop(f);
    assert_job(f, id, STORE_JOB_CANCELED, NULL);
    assert_int_equal(store_dir_entries_batch(f->app.store, 0, 10, &left, &n_left), STORE_OK);
    assert_int_equal(n_left, 0);
    store_dir_entries_free(left, n_left);
    assert_user(f, "u9", "u9@corp.example ");
    j = get_job(f, id);
    assert_false(dir_sync_waits_confirmation(f->app.store, &j)); /* not failed any more */
    store_job_clear(&j);

    id = staged_run(f, STORE_DIR_FULL, v, 2, NULL);
    run_loop(f);
    assert_job(f, id, STORE_JOB_FAILED, "safety stop");
    assert_int_equal(job_retry(f->app.jobs, id), STORE_OK);
    run_loop(f);
    assert_job(f, id, STORE_JOB_COMPLETED, NULL);
    assert_user(f, "u1", "u1@corp.example ");
    assert_user(f, "u2", "(none)");
    j = get_job(f, id);
    assert_int_equal(j.attempts, 2);
    store_job_clear(&j);
}

/* The store failing while applying: the job fails naming the phase; Retry goes on from the
 * batch that failed; a second failure then Cancel keeps what was applied. */
static void test_store_failure_while_applying(void **state)
{
    struct fixture *f = *state;
    const struct store_dir_entry v[] = {ENTRY("alice", "alice@corp.example", NULL),
                                        ENTRY("bob", "bob@corp.example", NULL)};
    struct store_dir_entry *left = NULL;
    size_t n_left = 0;
    struct store_job j;
    struct store_dir_run r;
    int64_t id;

    /* not a constraint: a statement that cannot run, as a damaged store gives */
    raw_sql(f->path, "CREATE TRIGGER broken BEFORE INSERT ON users WHEN NEW.userid = 'bob'"
                     " BEGIN INSERT INTO no_such_table VALUES (1); END;");
    id = staged_run(f, STORE_DIR_FULL, v, 2, NULL);
    run_loop(f);
    assert_job(f, id, STORE_JOB_FAILED, "the store failed in phase apply: ");
    assert_user(f, "alice", "(none)"); /* the batch rolled back */
    j = get_job(f, id);
    assert_false(dir_sync_waits_confirmation(f->app.store, &j));
    store_job_clear(&j);

    /* Retry with the store still broken: fails again, the same way */
    assert_int_equal(job_retry(f->app.jobs, id), STORE_OK);
    run_loop(f);
    assert_job(f, id, STORE_JOB_FAILED, "the store failed in phase apply: ");
    raw_sql(f->path, "DROP TRIGGER broken");
    assert_int_equal(job_retry(f->app.jobs, id), STORE_OK);
    run_loop(f);
    assert_job(f, id, STORE_JOB_COMPLETED, NULL);
    assert_user(f, "bob", "bob@corp.example ");
    j = get_job(f, id);
    assert_int_equal(j.attempts, 3);
    store_job_clear(&j);

    /* Cancel after the apply began keeps the staged verdicts (jobs/status lists them) */
    raw_sql(f->path, "CREATE TRIGGER broken BEFORE UPDATE ON users WHEN NEW.userid = 'bob'"
                     " BEGIN INSERT INTO no_such_table VALUES (1); END;");
    const struct store_dir_entry moved[] = {ENTRY("alice", "alice@corp.example", NULL),
                                            ENTRY("bob", "bob@moved.example", NULL)};
    id = staged_run(f, STORE_DIR_FULL, moved, 2, NULL);
    run_loop(f);
    assert_job(f, id, STORE_JOB_FAILED, "the store failed in phase apply: ");
    assert_int_equal(job_cancel(f->app.jobs, id), STORE_OK);
    run_loop(f);
    assert_job(f, id, STORE_JOB_CANCELED, NULL);
    r = get_run(f, id);
    assert_int_equal(r.phase, STORE_DIR_DONE);
    store_dir_run_clear(&r);
    assert_int_equal(store_dir_entries_batch(f->app.store, 0, 10, &left, &n_left), STORE_OK);
    assert_int_equal(n_left, 2);
    store_dir_entries_free(left, n_left);
    assert_user(f, "bob", "bob@corp.example ");
}

/* directory/sync with "confirm" ticked: the safety stop does not hold the run. */
static void test_confirmed_at_start(void **state)
{
    struct fixture *f = *state;
    const struct store_dir_entry v[] = {ENTRY("u0", "u0@corp.example", NULL)};
    struct store_dir_run r;
    int64_t id;

    directory_user(f, "u0", "u0@corp.example");
    directory_user(f, "u1", "u1@corp.example");
    directory_user(f, "u2", "u2@corp.example");
    id = staged_run_confirmed(f, STORE_DIR_FULL, v, 1, NULL, true);
    run_loop(f);
    assert_job(f, id, STORE_JOB_COMPLETED, NULL);
    r = get_run(f, id);
    assert_true(r.confirmed);
    assert_int_equal(r.counts[STORE_DIR_REMOVED], 2);
    store_dir_run_clear(&r);
    assert_user(f, "u2", "(none)");
}

/* The store failing while removing, then in the final audit: each fails the job naming the
 * phase with nothing of that phase kept; Retry goes on from there and completes. */
static void test_store_failure_while_removing_and_finishing(void **state)
{
    struct fixture *f = *state;
    const struct store_dir_entry v[] = {ENTRY("alice", "alice@corp.example", NULL)};
    struct store_dir_run r;
    int64_t id;

    directory_user(f, "alice", "alice@corp.example");
    directory_user(f, "bob", "bob@corp.example");
    f->cfg.dir_max_drop = 100; /* one of two gone is allowed */
    raw_sql(f->path, "CREATE TRIGGER keep_bob BEFORE DELETE ON users WHEN OLD.userid = 'bob'"
                     " BEGIN INSERT INTO no_such_table VALUES (1); END;");
    id = staged_run(f, STORE_DIR_FULL, v, 1, NULL);
    run_loop(f);
    assert_job(f, id, STORE_JOB_FAILED, "the store failed in phase remove: ");
    assert_user(f, "bob", "bob@corp.example ");
    r = get_run(f, id);
    assert_int_equal(r.phase, STORE_DIR_REMOVE);
    store_dir_run_clear(&r);
    raw_sql(f->path, "DROP TRIGGER keep_bob");
    /* the audit adds the domain the users are in: make that fail next */
    raw_sql(f->path, "DELETE FROM domains;"
                     "CREATE TRIGGER no_domains BEFORE INSERT ON domains"
                     " BEGIN INSERT INTO no_such_table VALUES (1); END;");
    assert_int_equal(job_retry(f->app.jobs, id), STORE_OK);
    run_loop(f);
    assert_job(f, id, STORE_JOB_FAILED, "the sync audit failed: preparing \"");
    assert_user(f, "bob", "(none)"); /* the removal was done */
    r = get_run(f, id);
    assert_int_equal(r.phase, STORE_DIR_FINISH);
    assert_int_equal(r.counts[STORE_DIR_REMOVED], 1);
    store_dir_run_clear(&r);
    raw_sql(f->path, "DROP TRIGGER no_domains");
    assert_int_equal(job_retry(f->app.jobs, id), STORE_OK);
    run_loop(f);
    assert_job(f, id, STORE_JOB_COMPLETED, NULL);
    r = get_run(f, id);
    assert_int_equal(r.phase, STORE_DIR_DONE);
    assert_has(r.summary, "removed=1");
    store_dir_run_clear(&r);
}

/* A directory-sync job whose run record is gone fails instead of waiting for ever; Retry and
 * Cancel cannot restart it. */
static void test_missing_run_record(void **state)
{
    struct fixture *f = *state;
    struct store_job j;
    form_t *form;
    int64_t id = 0;

    assert_int_equal(store_begin(f->app.store), STORE_OK);
    assert_int_equal(store_job_create(f->app.store, STORE_JOB_DIRECTORY_SYNC, "full", "", 0, &id),
                     STORE_OK);
    assert_int_equal(store_commit(f->app.store), STORE_OK);
    job_runner_kick(f->app.jobs);
    run_loop(f);
    assert_job(f, id, STORE_JOB_FAILED, "the directory run's record is missing");
    j = get_job(f, id);
    assert_false(dir_sync_waits_confirmation(f->app.store, &j));
    assert_int_equal(dir_sync_restart(f->app.store, &j, false), STORE_NOTFOUND);
    form = form_new(FORM_RESULT);
    dir_sync_add_fields(f->app.store, &j, form, "en"); /* nothing to show */
    assert_int_equal(form_field_count(form), 0);
    form_free(form);
    store_job_clear(&j);
}

/* The schedule's start: a full run (audited) unless a job is in flight; it reads the directory,
 * which refuses here, so the job fails before anything changed and says why. */
static void test_scheduled_run(void **state)
{
    struct fixture *f = *state;
    struct store_audit *audit = NULL;
    size_t n_audit = 0;
    struct store_job active, j;
    char *text;

    assert_int_equal(dir_sync_scheduled(&f->app), 0);
    assert_int_equal(store_job_get_active(f->app.store, &active), STORE_OK);
    assert_string_equal(active.old_value, "full");
    assert_int_equal(dir_sync_scheduled(&f->app), 1); /* one at a time */
    text = dir_sync_describe(&active, "en");
    assert_string_equal(text, "job 1, directory sync (full): reading the directory, 0 entries so "
                              "far, attempt 1");
    free(text);
    assert_int_equal(store_audit_list(f->app.store, 0, NULL, 1, &audit, &n_audit), STORE_OK);
    assert_int_equal(n_audit, 1);
    assert_string_equal(audit[0].actor, DIR_SYNC_ACTOR);
    assert_string_equal(audit[0].details, "scheduled full sync started");
    store_audit_list_free(audit, n_audit);
    run_loop(f);
    assert_job(f, active.id, STORE_JOB_FAILED, "the directory is unreachable");
    j = get_job(f, active.id);
    text = dir_sync_describe(&j, "en");
    assert_has(text, "directory sync (full): failed, 0 entries read, none applied, attempt 1; "
                     "error: the directory is unreachable");
    free(text);
    store_job_clear(&j);
    store_job_clear(&active);
}

/* A schedule starts a timer that stop closes; no [directory]: no state, but the kind is known. */
static void test_schedule_timer_and_no_directory(void **state)
{
    struct fixture *f = *state;
    struct dir_sync *ds;
    struct config cfg;
    struct app app = f->app;

    f->cfg.dir_schedule = strdup("03:30");
    ds = dir_sync_new(&f->app);
    assert_non_null(ds);
    dir_sync_stop(ds);
    dir_sync_stop(ds); /* twice is fine */
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    dir_sync_free(ds);
    config_defaults(&cfg);
    app.cfg = &cfg;
    assert_null(dir_sync_new(&app));
    dir_sync_stop(NULL);
    dir_sync_free(NULL);
    config_free(&cfg);
}

static size_t staged_entries(struct fixture *f)
{
    struct store_dir_entry *v = NULL;
    size_t n = 0;

    assert_int_equal(store_dir_entries_batch(f->app.store, 0, 1000, &v, &n), STORE_OK);
    store_dir_entries_free(v, n);
    return n;
}

/* What a kill -9 leaves, then a start on the same store with [directory] `with_directory`. */
static void crash_and_restart(struct fixture *f, bool with_directory)
{
    char *err = NULL;

    dir_sync_stop(f->app.dirsync);
    job_runner_stop(f->app.jobs);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    dir_sync_free(f->app.dirsync);
    job_runner_free(f->app.jobs);
    store_close(f->app.store);
    f->app.store = store_open(f->path, &err);
    assert_non_null(f->app.store);
    f->app.jobs = job_runner_new(&f->app);
    f->app.dirsync = with_directory ? dir_sync_new(&f->app) : NULL;
    job_runner_resume(f->app.jobs);
}

/* A crash while the directory was being read, two entries staged: LDAP paging cannot resume,
 * so the restarted run throws them away and reads again from the start (here the directory
 * refuses, so the job fails with nothing applied and nothing half-staged). */
static void test_crash_while_reading_reads_again(void **state)
{
    struct fixture *f = *state;
    const struct store_dir_entry v[] = {ENTRY("ann", "ann@corp.example", NULL),
                                        ENTRY("bob", "bob@corp.example", NULL)};
    struct store_dir_run r;
    int64_t id = 0;

    assert_int_equal(store_begin(f->app.store), STORE_OK);
    assert_int_equal(dir_sync_create(&f->app, STORE_DIR_FULL, false, &id, NULL), STORE_OK);
    assert_int_equal(store_dir_entries_add(f->app.store, v, 2), STORE_OK);
    assert_int_equal(store_dir_run_get(f->app.store, id, &r), STORE_OK);
    assert_int_equal(r.phase, STORE_DIR_FETCH);
    r.fetched = 2;
    assert_int_equal(store_dir_run_update(f->app.store, &r), STORE_OK);
    store_dir_run_clear(&r);
    assert_int_equal(store_commit(f->app.store), STORE_OK);
    crash_and_restart(f, true);
    run_loop(f);
    assert_job(f, id, STORE_JOB_FAILED, "the directory is unreachable");
    assert_int_equal(staged_entries(f), 0);
    r = get_run(f, id);
    assert_int_equal(r.fetched, 0);
    store_dir_run_clear(&r);
    assert_user(f, "ann", "(none)");
}

/* The daemon restarts without [directory] while a sync is reading: the job fails and says why
 * instead of waiting for a read that never comes; Cancel ends it and another job may start. */
static void test_restart_without_directory(void **state)
{
    struct fixture *f = *state;
    int64_t id = 0, next = 0;

    assert_int_equal(store_begin(f->app.store), STORE_OK);
    assert_int_equal(dir_sync_create(&f->app, STORE_DIR_FULL, false, &id, NULL), STORE_OK);
    assert_int_equal(store_commit(f->app.store), STORE_OK);
    crash_and_restart(f, false);
    run_loop(f);
    assert_job(f, id, STORE_JOB_FAILED, "no directory is configured ([directory] uri)");
    /* Retry fails the same way; Cancel ends it and frees the slot */
    assert_int_equal(job_retry(f->app.jobs, id), STORE_OK);
    run_loop(f);
    assert_job(f, id, STORE_JOB_FAILED, "no directory is configured ([directory] uri)");
    assert_int_equal(job_cancel(f->app.jobs, id), STORE_OK);
    if (job_runner_busy(f->app.jobs))
        run_loop(f);
    assert_int_equal(store_begin(f->app.store), STORE_OK);
    assert_int_equal(job_create(f->app.store, STORE_JOB_DEFAULT_DOMAIN, "new.example", &next),
                     STORE_OK);
    assert_int_equal(store_commit(f->app.store), STORE_OK);
    assert_true(next > id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_full_run_verdicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incremental_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_safety_stop_cancel_and_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_failure_while_applying, setup, teardown),
        cmocka_unit_test_setup_teardown(test_confirmed_at_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_failure_while_removing_and_finishing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_missing_run_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scheduled_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schedule_timer_and_no_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_while_reading_reads_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_without_directory, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
