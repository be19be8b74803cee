/* Unit tests for component/engine/import_job.c when things go wrong: the store failing (the
 * failing VFS of tests/lib/store_fault.c, and SQL-level damage through a second connection)
 * while a part is stored, while a slice applies and at the final audit; an upload canceled or
 * refused; another job started meanwhile; the progress view and its answers; a session whose
 * import a newer one replaced (it must not reach the newer one). users/import runs through the
 * XEP-0050 framework on a file store (tests/lib/cmd_fixture), the job on a real job runner
 * stepped by hand. The invariant checked after every failure: the job is failed with the store's
 * error and a slice is all or nothing (the users in the store are exactly the lines before the
 * cursor); Retry then finishes with exactly the users of the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "component/cmd/commands.h"
#include "component/engine/import_job.h"
#include "component/engine/job.h"
#include "store/store_import_job.h"
#include "store/store_job.h"
#include "store/store_user.h"
#include "tests/lib/cmd_fixture.h"
#include "tests/lib/reply.h"
#include "tests/lib/store_fault.h"
#include "util/log.h"
#include "xmpp/stanza.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* users/import and default-domain on a real job runner, stepped by hand. Requests cannot wait
 * (at_once), as before: adhoc_handle. */
static int setup(void **state)
{
    struct cmd_fx *fx;

    if (store_fault_install() != 0 || (fx = cmd_fx_open("impjob", NULL)) == NULL)
        return -1;
    if (cmd_users_register(&fx->app) < 0 || cmd_default_register(&fx->app) < 0)
        return -1;
    fx->app.jobs = job_runner_new(&fx->app);
    if (fx->app.jobs == NULL)
        return -1;
    fx->at_once = true;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    store_fault_disarm();
    return cmd_fx_teardown(state);
}

/* ---- requests and replies ---- */

/* users/import: `action` in session `sid` (NULL: new) with the form `fields` (NULL: none). */
static xmpp_stanza_t *ask(struct cmd_fx *fx, const char *lang, const char *sid, const char *action,
                          const char *fields)
{
    return req(fx, lang, "users/import", sid, action, fields);
}

/* A new users/import session: its id in `sid`. */
static void start(struct cmd_fx *fx, const char *lang, char sid[64])
{
    xmpp_stanza_t *r = ask(fx, lang, NULL, "execute", NULL);

    assert_string_equal(reply_status(r), "executing");
    snprintf(sid, 64, "%s", xmpp_stanza_get_attribute(reply_command(r), "sessionid"));
    xmpp_stanza_release(r);
}

/* Lines [from, to) of import `tag`: "<tag>NNNN,<tag>NNNN@imp.example"; line `bad` (1-based, 0:
 * none) is rejected by the rules. */
static xmpp_stanza_t *part(struct cmd_fx *fx, const char *lang, const char *sid, const char *tag,
                           int from, int to, int bad, bool more)
{
    size_t cap = 256 + (size_t)(to - from) * 64;
    char *form = malloc(cap), *p = form;

    p += sprintf(p, "<field var='users'><value>");
    for (int i = from; i < to; i++) {
        if (i + 1 == bad)
            p += sprintf(p, "bad user%s", i + 1 < to ? "\n" : "");
        else
            p += sprintf(p, "%s%04d,%s%04d@imp.example%s", tag, i, tag, i, i + 1 < to ? "\n" : "");
    }
    sprintf(p, "</value></field><field var='more'><value>%d</value></field>", more);
    xmpp_stanza_t *r = ask(fx, lang, sid, "complete", form);
    free(form);
    return r;
}

/* ---- the store ---- */

static int64_t scalar(struct cmd_fx *fx, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int64_t v = -1;

    assert_int_equal(sqlite3_open_v2(fx->db, &db, SQLITE_OPEN_READONLY, store_fault_passthrough()),
                     SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static int64_t users_like(struct cmd_fx *fx, const char *tag)
{
    char sql[128];

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM users WHERE userid LIKE '%s%%'", tag);
    return scalar(fx, sql);
}

static int64_t uploads(struct cmd_fx *fx)
{
    return scalar(fx, "SELECT count(*) FROM user_imports WHERE phase = 'upload'");
}

/* Changes the file behind the store's back, so that its next reads reach the disk. */
static void change_behind(struct cmd_fx *fx)
{
    assert_int_equal(store_fault_sql(fx->db, "UPDATE settings SET wildcard_sans ="
                                             " 1 - wildcard_sans"),
                     0);
}

static struct store_job job_row(struct cmd_fx *fx, int64_t id)
{
    struct store_job j;

    assert_int_equal(store_job_get(fx->app.store, id, &j), STORE_OK);
    return j;
}

/* Steps the runner until it has nothing to do (bounded). */
static void run_job(struct cmd_fx *fx)
{
    for (int i = 0; i < 100 && job_runner_step(fx->app.jobs) == 1; i++)
        ;
}

/* Sends `n` lines of `tag` in two parts (so the job path whatever n), line `bad` rejected;
 * returns the job's id. The runner is detached meanwhile: the last part would run the first
 * slice at once, and these tests arm their faults for the slices after the upload. */
static int64_t upload(struct cmd_fx *fx, const char *lang, const char *tag, int n, int bad)
{
    struct job_runner *jobs = fx->app.jobs;
    char sid[64];
    xmpp_stanza_t *r;

    fx->app.jobs = NULL;
    start(fx, lang, sid);
    r = part(fx, lang, sid, tag, 0, n / 2, bad, true);
    assert_string_equal(reply_status(r), "executing");
    xmpp_stanza_release(r);
    r = part(fx, lang, sid, tag, n / 2, n, bad, false);
    assert_string_equal(reply_status(r), "executing");
    assert_true(reply_has_note(r, "info", "0 of"));
    xmpp_stanza_release(r);
    fx->app.jobs = jobs;
    struct store_job j;
    assert_int_equal(store_job_get_active(fx->app.store, &j), STORE_OK);
    assert_int_equal(j.kind, STORE_JOB_USER_IMPORT);
    int64_t id = j.id;
    store_job_clear(&j);
    return id;
}

/* After a failure: the job failed with `why` in its error, and the users of `tag` are exactly
 * the lines before the import's cursor (a slice is all or nothing). Returns the cursor. */
static int64_t assert_failed_consistent(struct cmd_fx *fx, int64_t id, const char *tag, int bad,
                                        const char *why)
{
    struct store_job j = job_row(fx, id);
    struct store_import r;

    assert_int_equal(j.state, STORE_JOB_FAILED);
    if (why != NULL && (j.error == NULL || strstr(j.error, why) == NULL))
        fail_msg("job error '%s' does not say '%s'", j.error ? j.error : "", why);
    assert_int_equal(store_import_get_by_job(fx->app.store, id, &r), STORE_OK);
    int64_t cursor = r.cursor;
    assert_int_equal(users_like(fx, tag), cursor - (bad > 0 && cursor >= bad));
    assert_int_equal(j.done, cursor);
    int64_t counted = 0;
    for (int i = 0; i < STORE_IMPORT_COUNTS; i++)
        counted += r.counts[i];
    assert_int_equal(counted, cursor);
    store_import_clear(&r);
    store_job_clear(&j);
    return cursor;
}

static void assert_completed(struct cmd_fx *fx, int64_t id, const char *tag, int n, int bad)
{
    struct store_job j = job_row(fx, id);

    assert_int_equal(j.state, STORE_JOB_COMPLETED);
    assert_int_equal(j.done, n);
    store_job_clear(&j);
    assert_int_equal(users_like(fx, tag), n - (bad > 0));
    assert_int_equal(scalar(fx, "SELECT count(*) FROM domains WHERE name = 'imp.example'"), 1);
}

/* ---- tests ---- */

/* The disk is full when the first part is stored: an internal-server-error that says the store
 * failed and why; no upload is left, no job, no user. The session stays, and the same part sent
 * again once the disk is back is stored (it was refused for good before: the session kept the
 * id of the upload the failed transaction had created, and every later part failed on it). */
static void test_part_store_fails(void **state)
{
    struct cmd_fx *fx = *state;
    char sid[64];

    start(fx, NULL, sid);
    store_fault_arm(STORE_FAULT_WRITE, STORE_FAULT_WAL, 0, -1, SQLITE_FULL);
    xmpp_stanza_t *r = part(fx, NULL, sid, "p", 0, 50, 0, true);
    assert_true(store_fault_hits() > 0);
    store_fault_disarm();
    expect_error(r, "internal-server-error", NULL);
    assert_has(r, "the store failed: ");
    assert_has(r, "full");
    xmpp_stanza_release(r);
    assert_int_equal(scalar(fx, "SELECT count(*) FROM user_imports"), 0);
    assert_int_equal(scalar(fx, "SELECT count(*) FROM jobs"), 0);
    assert_int_equal(users_like(fx, "p"), 0);
    r = part(fx, NULL, sid, "p", 0, 50, 0, true);
    if (strcmp(xmpp_stanza_get_type(r), "error") == 0) {
        char *t = text_of(r);
        fail_msg("the part sent again: %s", t);
    }
    assert_true(reply_has_note(r, "info", "Part stored: lines 1 to 50"));
    xmpp_stanza_release(r);
    r = part(fx, NULL, sid, "p", 50, 80, 0, false);
    assert_string_equal(reply_status(r), "executing");
    xmpp_stanza_release(r);
    run_job(fx);
    assert_int_equal(users_like(fx, "p"), 80);
}

/* The last part on a disk that fills up at each write in turn (storing the part, then starting
 * the job): an internal-server-error in the session's language and no job, the upload gone when
 * the session is canceled; from the write after the job's commit on, the job. */
static void test_job_start_fails(void **state)
{
    struct cmd_fx *fx = *state;
    struct job_runner *jobs = fx->app.jobs;
    int round = 0;
    char sid[64];

    fx->app.jobs = NULL;
    for (;; round++) {
        assert_true(round < 100);
        start(fx, "ko", sid);
        xmpp_stanza_release(part(fx, "ko", sid, "s", 0, 50, 0, true));
        store_fault_arm(STORE_FAULT_WRITE, STORE_FAULT_WAL, round, -1, SQLITE_FULL);
        xmpp_stanza_t *r = part(fx, "ko", sid, "s", 50, 100, 0, false);
        int hit = store_fault_hits();
        store_fault_disarm();
        if (strcmp(xmpp_stanza_get_type(r), "error") != 0) {
            /* The job started (what failed after it, if anything, was its audit record). */
            assert_string_equal(reply_status(r), "executing");
            xmpp_stanza_release(r);
            break;
        }
        assert_true(hit > 0);
        expect_error(r, "internal-server-error", NULL);
        assert_has(r, "저장소 오류: ");
        xmpp_stanza_release(r);
        assert_int_equal(scalar(fx, "SELECT count(*) FROM jobs"), 0);
        /* The session stays (the part may be sent again); canceling it discards the upload. */
        xmpp_stanza_release(ask(fx, NULL, sid, "cancel", NULL));
        assert_int_equal(uploads(fx), 0);
    }
    fx->app.jobs = jobs;
    assert_true(round > 1);
    print_message("# %d writes failed in turn\n", round);
    assert_int_equal(users_like(fx, "s"), 0);
    run_job(fx);
    assert_int_equal(users_like(fx, "s"), 100);
}

/* The last part on a disk that fills up at each write in turn, then sent again once the disk is
 * back: the job has each line once, wherever the failure was. The part and the job commit
 * together; as two transactions a failed job start left the part stored, and the part sent
 * again was queued twice (150 lines of 100). */
static void test_last_part_sent_again(void **state)
{
    struct cmd_fx *fx = *state;
    char sid[64], tag[16];
    int round = 0;

    for (;; round++) {
        assert_true(round < 100);
        snprintf(tag, sizeof(tag), "r%dx", round);
        start(fx, NULL, sid);
        xmpp_stanza_release(part(fx, NULL, sid, tag, 0, 50, 0, true));
        store_fault_arm(STORE_FAULT_WRITE, STORE_FAULT_WAL, round, -1, SQLITE_FULL);
        xmpp_stanza_t *r = part(fx, NULL, sid, tag, 50, 100, 0, false);
        store_fault_disarm();
        bool failed = strcmp(xmpp_stanza_get_type(r), "error") == 0;
        xmpp_stanza_release(r);
        if (failed) {
            r = part(fx, NULL, sid, tag, 50, 100, 0, false);
            assert_string_equal(reply_status(r), "executing");
            xmpp_stanza_release(r);
        }
        assert_int_equal(scalar(fx, "SELECT total FROM jobs ORDER BY id DESC LIMIT 1"), 100);
        assert_int_equal(scalar(fx, "SELECT lines FROM user_imports"), 100);
        assert_int_equal(scalar(fx, "SELECT sum(lines) FROM user_import_parts"), 100);
        run_job(fx);
        assert_int_equal(users_like(fx, tag), 100);
        if (!failed)
            break;
    }
    assert_true(round > 1);
}

/* A slice's commit fails once: the job fails with the store's error naming the lines it could
 * not save (it named the line after the slice before: "line 301" when one slice held a whole
 * 300-line import), nothing of the slice is in; Retry applies every line. How many lines a
 * slice holds depends on the machine's speed (IMPORT_SLICE_MS), so only the first is fixed. */
static void test_slice_commit_fails_then_retry(void **state)
{
    struct cmd_fx *fx = *state;
    int64_t id = upload(fx, NULL, "c", 300, 7);

    store_fault_arm(STORE_FAULT_WRITE, STORE_FAULT_WAL, 0, 1, SQLITE_FULL);
    run_job(fx);
    assert_int_equal(store_fault_hits(), 1);
    store_fault_disarm();
    assert_int_equal(
        assert_failed_consistent(fx, id, "c", 7, "the store failed saving lines 1 to "), 0);
    struct store_job j = job_row(fx, id);
    long last = 0;
    assert_int_equal(sscanf(j.error, "the store failed saving lines 1 to %ld: commit: ", &last), 1);
    assert_true(last >= 1 && last <= 300);
    assert_non_null(strstr(j.error, ": commit: "));
    store_job_clear(&j);
    assert_int_equal(scalar(fx, "SELECT count(*) FROM audit_log WHERE node = 'job/user-import'"
                                " AND outcome = 'error'"),
                     1);
    assert_int_equal(job_retry(fx->app.jobs, id), STORE_OK);
    run_job(fx);
    assert_completed(fx, id, "c", 300, 7);
}

/* The disk stays full: the failure itself cannot be recorded, so the job is still running in
 * the store (a restart resumes it) with nothing of the slice applied; once the disk is back the
 * runner finishes it. */
static void test_failure_not_recorded(void **state)
{
    struct cmd_fx *fx = *state;
    int64_t id = upload(fx, NULL, "n", 200, 0);

    store_fault_arm(STORE_FAULT_WRITE, STORE_FAULT_WAL, 0, -1, SQLITE_FULL);
    assert_int_equal(import_job_step(&fx->app, &(struct store_job){.id = id}), 0);
    assert_true(store_fault_hits() >= 2); /* the slice, then the record of its failure */
    store_fault_disarm();
    struct store_job j = job_row(fx, id);
    assert_int_equal(j.state, STORE_JOB_RUNNING);
    assert_int_equal(j.done, 0);
    store_job_clear(&j);
    assert_int_equal(users_like(fx, "n"), 0);
    run_job(fx);
    assert_completed(fx, id, "n", 200, 0);
}

/* One round of a sweep: a fresh import of `n` lines; the fault armed by `arm_fault` at position
 * `round`; the job run (reads reach the disk: the file is changed behind before each step).
 * Returns whether the fault happened; checks the invariants either way. */
static bool sweep_round(struct cmd_fx *fx, int round, enum store_fault_op op)
{
    char tag[16];
    int n = 120, bad = 5;

    snprintf(tag, sizeof(tag), "w%03d_", round);
    int64_t id = upload(fx, NULL, tag, n, bad);
    if (op == STORE_FAULT_READ)
        store_fault_arm(op, STORE_FAULT_ANY, round, 1, SQLITE_IOERR_READ);
    else
        store_fault_arm(op, STORE_FAULT_ANY, round, 1, SQLITE_FULL);
    for (int i = 0; i < 20; i++) {
        change_behind(fx);
        if (job_runner_step(fx->app.jobs) == 0)
            break;
    }
    int hit = store_fault_hits();
    store_fault_disarm();
    struct store_job j = job_row(fx, id);
    enum store_job_state state = j.state;
    store_job_clear(&j);
    if (state == STORE_JOB_FAILED) {
        assert_true(hit > 0);
        assert_failed_consistent(fx, id, tag, bad, NULL);
        assert_int_equal(job_retry(fx->app.jobs, id), STORE_OK);
    } else if (state == STORE_JOB_RUNNING) {
        assert_true(hit > 0); /* its failure could not be recorded: it goes on */
    } else {
        assert_int_equal(state, STORE_JOB_COMPLETED);
    }
    run_job(fx);
    assert_completed(fx, id, tag, n, bad);
    return hit > 0;
}

static void sweep(void **state, enum store_fault_op op)
{
    struct cmd_fx *fx = *state;
    int round = 0;

    while (sweep_round(fx, round, op)) {
        round++;
        assert_true(round < 400);
    }
    assert_true(round > 2);
    print_message("# %d %s failed in turn\n", round, op == STORE_FAULT_READ ? "reads" : "writes");
}

/* Each read of the job (its slices, the final audit) failing in turn. */
static void test_read_sweep(void **state)
{
    sweep(state, STORE_FAULT_READ);
}

/* Each write of the job failing in turn. */
static void test_write_sweep(void **state)
{
    sweep(state, STORE_FAULT_WRITE);
}

/* The lines are gone from the store: the job fails saying which line is missing. A job whose
 * import is back in the upload phase, or gone, fails saying so when it is stepped (as after a
 * restart); Retry of a job whose import is gone finds nothing to retry. */
static void test_lines_missing(void **state)
{
    struct cmd_fx *fx = *state;
    int64_t id = upload(fx, NULL, "m", 100, 0);
    struct store_job j;

    assert_int_equal(store_fault_sql(fx->db, "DELETE FROM user_import_parts"), 0);
    run_job(fx);
    assert_failed_consistent(fx, id, "m", 0, "line 1 of 100 is missing from the store");
    assert_int_equal(store_fault_sql(fx->db, "UPDATE user_imports SET phase = 'upload'"), 0);
    j = job_row(fx, id);
    assert_int_equal(import_job_step(&fx->app, &j), 0);
    store_job_clear(&j);
    assert_failed_consistent(fx, id, "m", 0, "the import's upload never finished");
    assert_int_equal(store_fault_sql(fx->db, "DELETE FROM user_imports"), 0);
    j = job_row(fx, id);
    assert_int_equal(import_job_step(&fx->app, &j), 0);
    store_job_clear(&j);
    j = job_row(fx, id);
    assert_int_equal(j.state, STORE_JOB_FAILED);
    assert_string_equal(j.error, "the import's lines are missing from the store");
    store_job_clear(&j);
    assert_int_equal(job_retry(fx->app.jobs, id), STORE_NOTFOUND);
    /* Cancel still ends it (a failed job blocks every other), saying what stays */
    assert_int_equal(job_cancel(fx->app.jobs, id), STORE_OK);
    j = job_row(fx, id);
    assert_int_equal(j.state, STORE_JOB_CANCELED);
    assert_non_null(strstr(j.error, "lines missing from the store"));
    store_job_clear(&j);
    assert_int_equal(users_like(fx, "m"), 0);
}

/* ---- the session ---- */

/* Cancel between two parts: the session ends canceled, its upload is discarded (no lines kept,
 * no job, no user). When the discard itself fails (the disk is full), the upload stays until
 * the next start discards it, and a start that fails to discard leaves it for the one after. */
static void test_cancel_during_upload(void **state)
{
    struct cmd_fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    start(fx, NULL, sid);
    xmpp_stanza_release(part(fx, NULL, sid, "x", 0, 40, 0, true));
    assert_int_equal(uploads(fx), 1);
    assert_int_equal(scalar(fx, "SELECT count(*) FROM user_import_parts"), 1);
    r = ask(fx, NULL, sid, "cancel", NULL);
    assert_string_equal(reply_status(r), "canceled");
    xmpp_stanza_release(r);
    assert_int_equal(uploads(fx), 0);
    assert_int_equal(scalar(fx, "SELECT count(*) FROM user_import_parts"), 0);
    assert_int_equal(scalar(fx, "SELECT count(*) FROM jobs"), 0);

    start(fx, NULL, sid);
    xmpp_stanza_release(part(fx, NULL, sid, "x", 0, 40, 0, true));
    store_fault_arm(STORE_FAULT_WRITE, STORE_FAULT_WAL, 0, -1, SQLITE_FULL);
    r = ask(fx, NULL, sid, "cancel", NULL);
    assert_true(store_fault_hits() > 0);
    assert_string_equal(reply_status(r), "canceled");
    xmpp_stanza_release(r);
    import_job_startup(&fx->app); /* a start on the full disk: still there */
    store_fault_disarm();
    assert_int_equal(uploads(fx), 1);
    import_job_startup(&fx->app);
    assert_int_equal(uploads(fx), 0);
    assert_int_equal(scalar(fx, "SELECT count(*) FROM user_import_parts"), 0);
    assert_int_equal(users_like(fx, "x"), 0);
}

/* One large import at a time: a second upload is refused while one is sent, and while a job is
 * in flight; the refusal names what is in the way. */
static void test_start_refused(void **state)
{
    struct cmd_fx *fx = *state;
    char a[64], b[64];
    xmpp_stanza_t *r;

    start(fx, NULL, a);
    xmpp_stanza_release(part(fx, NULL, a, "a", 0, 20, 0, true));
    start(fx, NULL, b);
    r = part(fx, NULL, b, "b", 0, 20, 0, true);
    assert_string_equal(reply_status(r), "completed");
    assert_true(reply_has_note(r, "error", "another large import is being sent"));
    xmpp_stanza_release(r);
    r = ask(fx, NULL, a, "cancel", NULL);
    xmpp_stanza_release(r);

    int64_t id = upload(fx, NULL, "j", 60, 0);
    start(fx, "ko", b);
    r = part(fx, "ko", b, "b", 0, 20, 0, true);
    assert_true(reply_has_note(r, "error", "다른 작업이 진행 중입니다"));
    xmpp_stanza_release(r);
    assert_int_equal(uploads(fx), 0);
    run_job(fx);
    assert_completed(fx, id, "j", 60, 0);
    assert_int_equal(users_like(fx, "b"), 0);
}

/* A second upload's first part while the store cannot be read (each read failing once in
 * turn): the start is refused, as the store's failure or as the upload in the way, and never
 * goes ahead blind (starting discards every unfinished upload: the first admin's was lost
 * when counting the uploads in progress failed). The first upload then completes. */
static void test_start_store_unreadable(void **state)
{
    struct cmd_fx *fx = *state;
    char a[64], b[64];
    int round = 0;

    start(fx, NULL, a);
    xmpp_stanza_release(part(fx, NULL, a, "a", 0, 20, 0, true));
    int64_t first = scalar(fx, "SELECT id FROM user_imports WHERE phase = 'upload'");
    assert_true(first > 0);
    for (;; round++) {
        assert_true(round < 50);
        start(fx, NULL, b);
        change_behind(fx);
        store_fault_arm(STORE_FAULT_READ, STORE_FAULT_ANY, round, 1, SQLITE_IOERR_READ);
        xmpp_stanza_t *r = part(fx, NULL, b, "b", 0, 20, 0, true);
        int hit = store_fault_hits();
        store_fault_disarm();
        if (strcmp(xmpp_stanza_get_type(r), "error") == 0) {
            expect_error(r, "internal-server-error", NULL);
            assert_has(r, "the store failed: ");
        } else {
            assert_string_equal(reply_status(r), "completed");
            assert_true(reply_has_note(r, "error", "another large import is being sent"));
        }
        xmpp_stanza_release(r);
        assert_int_equal(scalar(fx, "SELECT id FROM user_imports WHERE phase = 'upload'"), first);
        if (hit == 0)
            break;
    }
    assert_true(round > 0);
    xmpp_stanza_t *r = part(fx, NULL, a, "a", 20, 40, 0, false);
    assert_string_equal(reply_status(r), "executing");
    xmpp_stanza_release(r);
    run_job(fx);
    assert_int_equal(users_like(fx, "a"), 40);
    assert_int_equal(users_like(fx, "b"), 0);
}

/* Another job starts while the parts come: the last part says so, nothing is imported, the
 * upload is discarded. */
static void test_job_started_meanwhile(void **state)
{
    struct cmd_fx *fx = *state;
    char sid[64];
    int64_t other = 0;

    start(fx, NULL, sid);
    xmpp_stanza_release(part(fx, NULL, sid, "o", 0, 30, 0, true));
    assert_int_equal(
        store_job_create(fx->app.store, STORE_JOB_USER_IMPORT, NULL, "other", 1, &other), STORE_OK);
    xmpp_stanza_t *r = part(fx, NULL, sid, "o", 30, 60, 0, false);
    assert_true(reply_has_note(r, "error", "another job started while the lines were sent"));
    xmpp_stanza_release(r);
    assert_int_equal(uploads(fx), 0);
    assert_int_equal(scalar(fx, "SELECT count(*) FROM jobs"), 1);
    assert_int_equal(users_like(fx, "o"), 0);
}

/* Uploads `n` lines of `tag` in session `sid` (kept open to follow the job) with the runner
 * detached, so the job has not begun; returns the job's id. */
static int64_t upload_in(struct cmd_fx *fx, const char *lang, char sid[64], const char *tag, int n,
                         int bad)
{
    struct job_runner *jobs = fx->app.jobs;
    struct store_job j;

    fx->app.jobs = NULL;
    start(fx, lang, sid);
    xmpp_stanza_release(part(fx, lang, sid, tag, 0, n / 2, bad, true));
    xmpp_stanza_t *r = part(fx, lang, sid, tag, n / 2, n, bad, false);
    assert_string_equal(reply_status(r), "executing");
    xmpp_stanza_release(r);
    fx->app.jobs = jobs;
    assert_int_equal(store_job_get_active(fx->app.store, &j), STORE_OK);
    int64_t id = j.id;
    store_job_clear(&j);
    return id;
}

/* The progress view: complete while the job runs closes the view and the job goes on; a store
 * that cannot be read is an internal-server-error; next shows a failed job as failed, and once
 * it ended the verdicts: the counts (in Korean for a Korean session), the rejected lines, and
 * for a canceled job that the rest was not applied. */
static void test_follow_view(void **state)
{
    struct cmd_fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    int64_t id = upload_in(fx, "ko", sid, "fa", 40, 0);
    r = ask(fx, "ko", sid, "complete", NULL);
    assert_string_equal(reply_status(r), "completed");
    assert_true(reply_has_note(r, "info", "작업은 계속됩니다"));
    assert_true(reply_has_note(r, "info", "40줄 중 0줄 적용 (0%)"));
    xmpp_stanza_release(r);
    run_job(fx);
    assert_completed(fx, id, "fa", 40, 0);

    id = upload_in(fx, NULL, sid, "fb", 40, 0);
    change_behind(fx);
    store_fault_arm(STORE_FAULT_READ, STORE_FAULT_ANY, 0, -1, SQLITE_IOERR_READ);
    r = ask(fx, NULL, sid, "next", NULL);
    store_fault_disarm();
    expect_error(r, "internal-server-error", NULL);
    assert_has(r, "the store failed: ");
    xmpp_stanza_release(r);
    run_job(fx);
    assert_completed(fx, id, "fb", 40, 0);

    id = upload_in(fx, "ko", sid, "fc", 60, 3);
    run_job(fx);
    r = ask(fx, "ko", sid, "next", NULL);
    assert_string_equal(reply_status(r), "completed");
    assert_true(reply_has_note(r, "info", "60줄: 추가 59, 변경 0, 그대로 0, 삭제 0, 거부 1."));
    assert_true(reply_has_note(r, "warn", "거부된 줄은 아무것도 바꾸지 않았습니다"));
    xmpp_stanza_release(r);

    id = upload_in(fx, NULL, sid, "fd", 60, 0);
    store_fault_arm(STORE_FAULT_WRITE, STORE_FAULT_WAL, 0, 1, SQLITE_FULL);
    run_job(fx);
    store_fault_disarm();
    r = ask(fx, NULL, sid, "next", NULL);
    assert_string_equal(reply_status(r), "executing");
    assert_true(reply_has_note(r, "warn", "failed"));
    assert_true(reply_has_note(r, "warn", "the store failed saving lines 1 to "));
    xmpp_stanza_release(r);
    assert_int_equal(job_cancel(fx->app.jobs, id), STORE_OK);
    run_job(fx);
    r = ask(fx, NULL, sid, "next", NULL);
    assert_string_equal(reply_status(r), "completed");
    assert_true(reply_has_note(r, "warn", "The job was canceled"));
    assert_true(reply_has_note(r, "info", "60 lines: 0 added"));
    xmpp_stanza_release(r);
    struct store_job j = job_row(fx, id);
    assert_int_equal(j.state, STORE_JOB_CANCELED);
    store_job_clear(&j);
    assert_int_equal(users_like(fx, "fd"), 0);
}

/* A session follows its job to the end, but asks for the verdicts only after a newer large import
 * (another session's: another admin's, or imdomainctl's next run) replaced the finished one's
 * rows. The session must not read the newer import's counts and lines as its own (an import id
 * that sqlite handed out again did that); it hears that its verdicts are gone and where the job
 * is. The newer session reads its own. */
static void test_follow_after_newer_import(void **state)
{
    struct cmd_fx *fx = *state;
    char a[64], b[64], job[32];
    xmpp_stanza_t *r;

    int64_t first = upload_in(fx, NULL, a, "sa", 40, 3);
    run_job(fx);
    assert_completed(fx, first, "sa", 40, 3);
    int64_t second = upload_in(fx, NULL, b, "sb", 60, 5);
    run_job(fx);
    assert_completed(fx, second, "sb", 60, 5);

    r = ask(fx, NULL, a, "next", NULL);
    assert_string_equal(reply_status(r), "completed");
    snprintf(job, sizeof(job), "job %" PRId64 " ", first);
    assert_true(reply_has_note(r, "error", job));
    assert_true(reply_has_note(r, "error", "a newer large import replaced them"));
    assert_false(reply_has_note(r, "info", "60 lines"));
    char *t = text_of(r);
    assert_null(strstr(t, "sb0"));
    xmpp_free(fx->app.ctx, t);
    xmpp_stanza_release(r);

    r = ask(fx, "ko", b, "complete", NULL);
    assert_string_equal(reply_status(r), "completed");
    assert_true(reply_has_note(r, "info", "60줄: 추가 59, 변경 0, 그대로 0, 삭제 0, 거부 1."));
    xmpp_stanza_release(r);
}

/* A session sends parts of an upload that was discarded behind its back (another instance's
 * start-up discards the uploads whose sender it does not know), and a newer upload started
 * since. The next part is refused, saying the upload is gone and nothing of it is imported; it
 * never joins the newer upload (an id handed out again made it do that: its lines then
 * replaced the newer import's). The newer upload goes on and imports exactly its own lines. */
static void test_part_after_upload_discarded(void **state)
{
    struct cmd_fx *fx = *state;
    char a[64], b[64];
    xmpp_stanza_t *r;
    struct job_runner *jobs = fx->app.jobs;

    start(fx, NULL, a);
    r = part(fx, NULL, a, "pa", 0, 20, 0, true);
    assert_true(reply_has_note(r, "info", "Part stored"));
    xmpp_stanza_release(r);
    assert_int_equal(store_import_discard_uploads_but(fx->app.store, 0), STORE_OK);
    start(fx, NULL, b);
    r = part(fx, NULL, b, "pb", 0, 30, 0, true);
    assert_true(reply_has_note(r, "info", "Part stored"));
    xmpp_stanza_release(r);

    r = part(fx, NULL, a, "pa", 20, 40, 0, true);
    assert_string_equal(reply_status(r), "completed");
    assert_true(reply_has_note(r, "error", "this upload was discarded"));
    xmpp_stanza_release(r);
    assert_int_equal(uploads(fx), 1);
    assert_int_equal(scalar(fx, "SELECT count(*) FROM user_import_parts"), 1);
    assert_int_equal(scalar(fx, "SELECT lines FROM user_imports"), 30);

    fx->app.jobs = NULL; /* the first slice stays for run_job */
    r = part(fx, NULL, b, "pb", 30, 60, 0, false);
    fx->app.jobs = jobs;
    assert_string_equal(reply_status(r), "executing");
    xmpp_stanza_release(r);
    struct store_job j;
    assert_int_equal(store_job_get_active(fx->app.store, &j), STORE_OK);
    int64_t id = j.id;
    store_job_clear(&j);
    run_job(fx);
    assert_completed(fx, id, "pb", 60, 0);
    assert_int_equal(users_like(fx, "pa"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_part_store_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_start_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_part_sent_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slice_commit_fails_then_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_not_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lines_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_during_upload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_store_unreadable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_started_meanwhile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_view, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_after_newer_import, setup, teardown),
        cmocka_unit_test_setup_teardown(test_part_after_upload_discarded, setup, teardown),
    };
    log_set_level(LOG_LEVEL_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
