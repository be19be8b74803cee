/* Unit tests for component/engine/job.c: the default-domain and address-scheme jobs run to the end on
 * the loop, resume after a simulated crash (all-new), fail on a batch and then Retry (all-new)
 * or Cancel and roll back, surviving a crash while rolling back (all-old). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "component/app.h"
#include "component/engine/job.h"
#include "store/store_audit.h"
#include "store/store_settings.h"
#include "store/store_user.h"
#include "tests/lib/store_fault.h"
#include "tests/lib/tmpstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_USERS 95 /* with batches of 10: nine full batches and a short one */
#define BATCH 10

struct fixture {
    char dir[64];
    char path[96];
    uv_loop_t loop;
    struct app app;
};

static struct store *open_store(const char *path)
{
    char *err = NULL;
    struct store *st = store_open(path, &err);

    if (st == NULL)
        fail_msg("store_open: %s", err ? err : "(no message)");
    return st;
}

static void new_runner(struct fixture *f)
{
    f->app.jobs = job_runner_new(&f->app);
    assert_non_null(f->app.jobs);
    job_runner_set_batch(f->app.jobs, BATCH);
}

/* What a kill -9 leaves: the runner gone without finishing, the store closed, then a fresh
 * start on the same file. */
static void crash_and_restart(struct fixture *f)
{
    job_runner_stop(f->app.jobs);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    job_runner_free(f->app.jobs);
    store_close(f->app.store);
    f->app.store = open_store(f->path);
    new_runner(f);
    job_runner_resume(f->app.jobs);
}

static void set_default_domain(struct store *st, const char *domain)
{
    struct store_settings s;

    assert_int_equal(store_settings_get(st, &s), STORE_OK);
    free(s.default_domain);
    s.default_domain = strdup(domain);
    assert_int_equal(store_settings_set(st, &s), STORE_OK);
    store_settings_clear(&s);
}

static void add_users(struct store *st, int from, int to)
{
    char userid[32], uri[64];

    for (int i = from; i < to; i++) {
        snprintf(userid, sizeof(userid), "user%03d", i);
        snprintf(uri, sizeof(uri), "User%03d@Corp.example", i);
        /* every third user has no directory URI */
        assert_int_equal(store_user_upsert(st, userid, i % 3 ? uri : NULL, NULL, NULL), STORE_OK);
    }
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || tmpstore_make(f->dir, sizeof(f->dir), f->path, sizeof(f->path), "job") != 0)
        return -1;
    if (uv_loop_init(&f->loop) != 0)
        return -1;
    f->app.loop = &f->loop;
    f->app.store = open_store(f->path);
    set_default_domain(f->app.store, "old.example");
    add_users(f->app.store, 0, N_USERS);
    new_runner(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    job_runner_stop(f->app.jobs);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    job_runner_free(f->app.jobs);
    store_close(f->app.store);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    tmpstore_remove(f->dir, f->path);
    free(f);
    return 0;
}

static void raw_sql(const char *path, const char *sql)
{
    if (store_fault_sql(path, sql) != 0)
        fail_msg("%s failed", sql);
}

/* A batch that reaches user050 with a new.example address fails, as a full disk would. */
static void inject_fault(const char *path)
{
    raw_sql(path, "CREATE TRIGGER fault BEFORE UPDATE OF im_address ON users"
                  " WHEN NEW.userid = 'user050' AND NEW.im_address LIKE '%@new.example'"
                  " BEGIN SELECT RAISE(ABORT, 'injected fault'); END;");
}

static int64_t start_job(struct fixture *f, enum store_job_kind kind, const char *value)
{
    int64_t id = 0;

    assert_int_equal(store_begin(f->app.store), STORE_OK);
    assert_int_equal(job_create(f->app.store, kind, value, &id), STORE_OK);
    assert_int_equal(store_commit(f->app.store), STORE_OK);
    job_runner_kick(f->app.jobs);
    return id;
}

static void run_loop(struct fixture *f)
{
    assert_true(job_runner_busy(f->app.jobs));
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_false(job_runner_busy(f->app.jobs));
}

/* Counts users whose address is userid@domain (NULL: their directory URI, or userid@other for
 * those without one), failing when one is neither. */
static int count_users_at(struct store *st, const char *domain, const char *other)
{
    struct store_user *list = NULL;
    size_t n = 0;
    int hits = 0;
    char want[128];

    assert_int_equal(store_user_list(st, NULL, NULL, 0, &list, &n), STORE_OK);
    for (size_t i = 0; i < n; i++) {
        if (domain == NULL && list[i].directory_uri[0] != '\0')
            snprintf(want, sizeof(want), "%s", list[i].directory_uri);
        else
            snprintf(want, sizeof(want), "%s@%s", list[i].userid, domain ? domain : other);
        hits += strcmp(list[i].im_address, want) == 0;
    }
    store_user_list_free(list, n);
    return hits;
}

static void assert_all_at(struct store *st, const char *domain, int users)
{
    assert_int_equal(count_users_at(st, domain, NULL), users);
}

static struct store_job get_job(struct store *st, int64_t id)
{
    struct store_job j;

    assert_int_equal(store_job_get(st, id, &j), STORE_OK);
    return j;
}

static void assert_job(struct store *st, int64_t id, enum store_job_state state, int64_t done)
{
    struct store_job j = get_job(st, id);

    assert_string_equal(store_job_state_name(j.state), store_job_state_name(state));
    assert_int_equal(j.done, done);
    store_job_clear(&j);
}

static void assert_default_domain(struct store *st, const char *domain)
{
    struct store_settings s;

    assert_int_equal(store_settings_get(st, &s), STORE_OK);
    assert_string_equal(s.default_domain, domain);
    store_settings_clear(&s);
}

/* The newest audit record: its node and outcome. */
static void assert_last_audit(struct store *st, const char *node, enum store_outcome outcome)
{
    struct store_audit *list = NULL;
    size_t n = 0;

    assert_int_equal(store_audit_list(st, 0, JOB_ACTOR, 1, &list, &n), STORE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].node, node);
    assert_string_equal(store_outcome_name(list[0].outcome), store_outcome_name(outcome));
    store_audit_list_free(list, n);
}

static void test_runs_to_the_end(void **state)
{
    struct fixture *f = *state;
    int64_t id = start_job(f, STORE_JOB_DEFAULT_DOMAIN, "new.example");

    /* the setting holds the target from the start */
    assert_default_domain(f->app.store, "new.example");
    run_loop(f);
    assert_job(f->app.store, id, STORE_JOB_COMPLETED, N_USERS);
    assert_all_at(f->app.store, "new.example", N_USERS);
    assert_last_audit(f->app.store, "job/default-domain", STORE_OUTCOME_OK);
    /* nothing left to do */
    assert_int_equal(job_runner_step(f->app.jobs), 0);
}

static void test_second_job_refused(void **state)
{
    struct fixture *f = *state;
    int64_t id = start_job(f, STORE_JOB_DEFAULT_DOMAIN, "new.example"), other = 0;

    assert_int_equal(store_begin(f->app.store), STORE_OK);
    assert_int_equal(job_create(f->app.store, STORE_JOB_DEFAULT_DOMAIN, "x.example", &other),
                     STORE_CONFLICT);
    assert_int_equal(store_rollback(f->app.store), STORE_OK);
    assert_default_domain(f->app.store, "new.example");
    /* Retry and Cancel apply to failed jobs only */
    assert_int_equal(job_retry(f->app.jobs, id), STORE_CONFLICT);
    assert_int_equal(job_cancel(f->app.jobs, id), STORE_CONFLICT);
    assert_int_equal(job_retry(f->app.jobs, id + 100), STORE_NOTFOUND);
    run_loop(f);
    assert_int_equal(job_retry(f->app.jobs, id), STORE_CONFLICT);
}

static void test_resume_after_crash(void **state)
{
    struct fixture *f = *state;
    int64_t id = start_job(f, STORE_JOB_DEFAULT_DOMAIN, "new.example"), last, n;

    for (int i = 0; i < 3; i++)
        assert_int_equal(job_runner_step(f->app.jobs), 1);
    /* killed inside the fourth batch: its transaction never commits */
    assert_int_equal(store_begin(f->app.store), STORE_OK);
    assert_int_equal(store_users_derive_im_batch(f->app.store, STORE_SCHEME_USERID_AT_DEFAULT,
                                                 "new.example", 3 * BATCH, BATCH, &last, &n),
                     STORE_OK);
    crash_and_restart(f);
    assert_job(f->app.store, id, STORE_JOB_RUNNING, 3 * BATCH);
    assert_all_at(f->app.store, "new.example", 3 * BATCH);
    assert_int_equal(count_users_at(f->app.store, "old.example", NULL), N_USERS - 3 * BATCH);
    /* resume() scheduled the rest */
    run_loop(f);
    assert_job(f->app.store, id, STORE_JOB_COMPLETED, N_USERS);
    assert_all_at(f->app.store, "new.example", N_USERS);
    assert_default_domain(f->app.store, "new.example");
}

static void test_users_added_meanwhile(void **state)
{
    struct fixture *f = *state;
    int64_t id = start_job(f, STORE_JOB_DEFAULT_DOMAIN, "new.example");
    struct store_job j;

    assert_int_equal(job_runner_step(f->app.jobs), 1);
    add_users(f->app.store, N_USERS, N_USERS + 7);
    run_loop(f);
    assert_all_at(f->app.store, "new.example", N_USERS + 7);
    j = get_job(f->app.store, id);
    assert_int_equal(j.done, N_USERS + 7);
    assert_int_equal(j.total, N_USERS + 7);
    store_job_clear(&j);
}

/* Runs until the injected fault stops the job at user050: 50 users done. */
static int64_t run_into_fault(struct fixture *f)
{
    int64_t id;
    struct store_job j;

    inject_fault(f->path);
    id = start_job(f, STORE_JOB_DEFAULT_DOMAIN, "new.example");
    run_loop(f);
    j = get_job(f->app.store, id);
    assert_int_equal(j.state, STORE_JOB_FAILED);
    assert_int_equal(j.done, 5 * BATCH);
    assert_non_null(j.error);
    assert_non_null(strstr(j.error, "injected fault"));
    assert_false(job_failed_in_rollback(f->app.store, &j));
    store_job_clear(&j);
    assert_last_audit(f->app.store, "job/default-domain", STORE_OUTCOME_ERROR);
    /* a failed job stays put, across a restart too */
    assert_int_equal(job_runner_step(f->app.jobs), 0);
    crash_and_restart(f);
    assert_false(job_runner_busy(f->app.jobs));
    assert_all_at(f->app.store, "new.example", 5 * BATCH);
    return id;
}

static void test_fail_then_retry(void **state)
{
    struct fixture *f = *state;
    int64_t id = run_into_fault(f);
    struct store_job j;

    assert_int_equal(job_retry(f->app.jobs, id), STORE_OK); /* the fault is still there */
    run_loop(f);
    assert_job(f->app.store, id, STORE_JOB_FAILED, 5 * BATCH);
    raw_sql(f->path, "DROP TRIGGER fault");
    assert_int_equal(job_retry(f->app.jobs, id), STORE_OK);
    run_loop(f);
    j = get_job(f->app.store, id);
    assert_int_equal(j.state, STORE_JOB_COMPLETED);
    assert_int_equal(j.attempts, 3);
    assert_null(j.error);
    store_job_clear(&j);
    assert_all_at(f->app.store, "new.example", N_USERS);
    assert_default_domain(f->app.store, "new.example");
}

static void test_fail_then_cancel(void **state)
{
    struct fixture *f = *state;
    int64_t id = run_into_fault(f);
    struct store_job j;

    assert_int_equal(job_cancel(f->app.jobs, id), STORE_OK);
    assert_default_domain(f->app.store, "old.example");
    assert_job(f->app.store, id, STORE_JOB_ROLLING_BACK, 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(job_runner_step(f->app.jobs), 1);
    crash_and_restart(f); /* a crash while rolling back: the rollback goes on */
    assert_true(job_runner_busy(f->app.jobs));
    run_loop(f);
    j = get_job(f->app.store, id);
    assert_int_equal(j.state, STORE_JOB_CANCELED);
    assert_int_equal(j.done, N_USERS);
    store_job_clear(&j);
    assert_all_at(f->app.store, "old.example", N_USERS);
    assert_default_domain(f->app.store, "old.example");
    assert_last_audit(f->app.store, "job/default-domain", STORE_OUTCOME_CANCELED);
}

/* A rollback that fails itself: Retry and Cancel both go on rolling back. */
static void test_rollback_fails(void **state)
{
    struct fixture *f = *state;
    int64_t id = run_into_fault(f);
    struct store_job j;

    raw_sql(f->path, "CREATE TRIGGER fault2 BEFORE UPDATE OF im_address ON users"
                     " WHEN NEW.userid = 'user020' AND NEW.im_address LIKE '%@old.example'"
                     " BEGIN SELECT RAISE(ABORT, 'second fault'); END;");
    assert_int_equal(job_cancel(f->app.jobs, id), STORE_OK);
    run_loop(f);
    j = get_job(f->app.store, id);
    assert_int_equal(j.state, STORE_JOB_FAILED);
    assert_int_equal(j.done, 2 * BATCH);
    assert_true(job_failed_in_rollback(f->app.store, &j));
    store_job_clear(&j);
    raw_sql(f->path, "DROP TRIGGER fault2");
    assert_int_equal(job_retry(f->app.jobs, id), STORE_OK);
    assert_job(f->app.store, id, STORE_JOB_ROLLING_BACK, 2 * BATCH);
    run_loop(f);
    assert_job(f->app.store, id, STORE_JOB_CANCELED, N_USERS);
    assert_all_at(f->app.store, "old.example", N_USERS);
}

static void test_scheme_job(void **state)
{
    struct fixture *f = *state;
    int64_t id = start_job(f, STORE_JOB_IM_SCHEME, "directory-uri");
    struct store_settings s;

    assert_int_equal(job_runner_step(f->app.jobs), 1);
    crash_and_restart(f);
    run_loop(f);
    assert_job(f->app.store, id, STORE_JOB_COMPLETED, N_USERS);
    /* directory URIs, and userid@old.example for the third without one */
    assert_int_equal(count_users_at(f->app.store, NULL, "old.example"), N_USERS);
    assert_int_equal(store_settings_get(f->app.store, &s), STORE_OK);
    assert_int_equal(s.im_address_scheme, STORE_SCHEME_DIRECTORY_URI);
    assert_string_equal(s.default_domain, "old.example");
    store_settings_clear(&s);
    assert_last_audit(f->app.store, "job/im-scheme", STORE_OUTCOME_OK);
}

static void test_describe(void **state)
{
    struct store_job j = {.id = 7,
                          .kind = STORE_JOB_DEFAULT_DOMAIN,
                          .state = STORE_JOB_FAILED,
                          .old_value = "a.example",
                          .new_value = "b.example",
                          .done = 4000,
                          .total = 20000,
                          .error = "disk full",
                          .attempts = 2};
    char *en = job_describe(&j, "en"), *ko = job_describe(&j, "ko"), *label = job_label(&j, NULL);

    (void)state;
    assert_string_equal(en, "job 7, default domain a.example → b.example: failed, 4000 of 20000 "
                            "users (20%), attempt 2; error: disk full");
    assert_non_null(strstr(ko, "작업 7"));
    assert_non_null(strstr(ko, "실패"));
    assert_non_null(strstr(ko, "오류: disk full"));
    assert_string_equal(label, "#7 default domain → b.example (failed)");
    free(en);
    free(ko);
    free(label);
}

static int startups;

static void count_startup(struct app *app)
{
    (void)app;
    startups++;
}

/* A kind's startup hook (which discards what looks left over in the shared store, such as an
 * upload whose sender went away) runs when the runner resumes on an instance that serves, not on
 * a standby: what looks left over there may be the active instance's work in progress. */
static void test_startup_not_on_standby(void **state)
{
    struct fixture *f = *state;
    static const struct job_kind kind = {.startup = count_startup};

    job_register_kind(STORE_JOB_DIRECTORY_SYNC, &kind);
    startups = 0;
    f->app.standby = true;
    job_runner_resume(f->app.jobs);
    assert_int_equal(startups, 0);
    f->app.standby = false; /* the instance became active: the daemon resumes again */
    job_runner_resume(f->app.jobs);
    assert_int_equal(startups, 1);
    job_register_kind(STORE_JOB_DIRECTORY_SYNC, NULL);
}

/* Job rows whose value is not usable (written by hand, or by another version): the job fails
 * with that reason, no user and no setting changes, and Cancel ends it with the old value kept;
 * a row without an old value has nothing to roll back to, so Cancel refuses and it stays
 * failed. */
static void test_unusable_value(void **state)
{
    struct fixture *f = *state;
    struct store_settings s;
    struct store_job j;
    int64_t id = 0, bare = 0;

    assert_int_equal(store_job_create(f->app.store, STORE_JOB_IM_SCHEME, "userid@default",
                                      "no-such-scheme", N_USERS, &id),
                     STORE_OK);
    job_runner_kick(f->app.jobs);
    run_loop(f);
    j = get_job(f->app.store, id);
    assert_int_equal(j.state, STORE_JOB_FAILED);
    assert_int_equal(j.done, 0);
    assert_non_null(j.error);
    assert_non_null(strstr(j.error, "the job's value 'no-such-scheme' is not usable"));
    store_job_clear(&j);
    assert_int_equal(store_settings_get(f->app.store, &s), STORE_OK);
    assert_int_equal(s.im_address_scheme, STORE_SCHEME_USERID_AT_DEFAULT);
    store_settings_clear(&s);
    assert_all_at(f->app.store, "old.example", N_USERS);
    assert_int_equal(job_cancel(f->app.jobs, id), STORE_OK);
    if (job_runner_busy(f->app.jobs))
        run_loop(f);
    assert_job(f->app.store, id, STORE_JOB_CANCELED, N_USERS);
    assert_all_at(f->app.store, "old.example", N_USERS);

    assert_int_equal(
        store_job_create(f->app.store, STORE_JOB_IM_SCHEME, NULL, "no-such-scheme", 0, &bare),
        STORE_OK);
    job_runner_kick(f->app.jobs);
    run_loop(f);
    assert_job(f->app.store, bare, STORE_JOB_FAILED, 0);
    assert_int_equal(job_cancel(f->app.jobs, bare), STORE_ERR);
    assert_job(f->app.store, bare, STORE_JOB_FAILED, 0);
    assert_all_at(f->app.store, "old.example", N_USERS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_runs_to_the_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_job_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_after_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users_added_meanwhile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_then_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_then_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scheme_job, setup, teardown),
        cmocka_unit_test(test_describe),
        cmocka_unit_test_setup_teardown(test_startup_not_on_standby, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unusable_value, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
