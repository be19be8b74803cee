/* Unit tests for directory/test and directory/sync (component/cmd/cmd_directory.c) through
 * adhoc_handle_async on a real store, without a directory server: no [directory] configured,
 * a directory that refuses the connection, the start form with the last run, starting a sync
 * (full, incremental and its fallback to full), another job in flight (before the form and
 * when it is submitted), a store that fails, and a sync held at the safety stop when no job
 * runner is there. Each answer is checked, and so is the job in the store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "component/app.h"
#include "component/cmd/commands.h"
#include "component/config.h"
#include "store/store_directory.h"
#include "store/store_job.h"
#include "xmpp/stanza.h"
#include "tests/lib/cmd_fixture.h"
#include "tests/lib/store_fault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define F(var, v) "<field var='" var "'><value>" v "</value></field>"

/* A [directory] where nothing listens (port 1). */
static int directory_config(struct cmd_fx *fx)
{
    config_defaults(&fx->cfg);
    fx->cfg.dir_uri = strdup("ldap://127.0.0.1:1"); /* nothing listens on port 1 */
    fx->cfg.dir_base = strdup("ou=people,dc=example,dc=com");
    fx->app.cfg = &fx->cfg;
    fx->free_cfg = true;
    return 0;
}

static int setup(void **state)
{
    return cmd_fx_setup(state, "cmd-directory", directory_config, cmd_directory_register);
}

/* ---- talking to the commands ---- */

/* The command ended with an error note holding `needle`; releases the reply. */
static void expect_failed(xmpp_stanza_t *reply, const char *needle)
{
    expect_status(reply, "completed", NULL);
    assert_has(reply, "<note type=\"error\">");
    assert_has(reply, needle);
    xmpp_stanza_release(reply);
}

/* The one unfinished job (there must be one) in *j. */
static void active_job(struct cmd_fx *fx, struct store_job *j)
{
    assert_int_equal(store_job_get_active(fx->app.store, j), STORE_OK);
}

static size_t count_jobs(struct cmd_fx *fx)
{
    struct store_job *list = NULL;
    size_t n = 0;

    assert_int_equal(store_job_list(fx->app.store, 0, &list, &n), STORE_OK);
    for (size_t i = 0; i < n; i++)
        store_job_clear(&list[i]);
    free(list);
    return n;
}

/* directory/sync's start form; its session id in sid. */
static void open_sync(struct cmd_fx *fx, const char *lang, char sid[64], const char *expect)
{
    xmpp_stanza_t *r = req(fx, lang, "directory/sync", NULL, NULL, NULL);

    expect_status(r, "executing", sid);
    assert_has(r, "var=\"mode\"");
    if (expect)
        assert_has(r, expect);
    xmpp_stanza_release(r);
}

/* Finishes the job `id` as a completed full run of `fetched` entries, 2 added, 1 removed. */
static void complete_run(struct cmd_fx *fx, int64_t id, int64_t fetched, const char *max_mtime)
{
    struct store_dir_run run;

    assert_int_equal(store_dir_run_get(fx->app.store, id, &run), STORE_OK);
    run.phase = STORE_DIR_DONE;
    run.fetched = fetched;
    run.counts[STORE_DIR_ADDED] = 2;
    run.counts[STORE_DIR_REMOVED] = 1;
    free(run.max_mtime);
    run.max_mtime = max_mtime ? strdup(max_mtime) : NULL;
    run.saw_mtime = max_mtime != NULL;
    assert_int_equal(store_dir_run_update(fx->app.store, &run), STORE_OK);
    store_dir_run_clear(&run);
    assert_int_equal(store_job_set_state(fx->app.store, id, STORE_JOB_COMPLETED, NULL), STORE_OK);
}

static void test_not_configured(void **state)
{
    struct cmd_fx *fx = *state;

    free(fx->cfg.dir_uri);
    fx->cfg.dir_uri = NULL;
    expect_failed(req(fx, NULL, "directory/test", NULL, NULL, NULL),
                  "No directory is configured: set [directory] uri and base");
    expect_failed(req(fx, "ko", "directory/sync", NULL, NULL, NULL),
                  "디렉터리가 설정되지 않았습니다");
    assert_int_equal(count_jobs(fx), 0);
}

/* The test answers late, from the thread pool, with what failed and where it looked. */
static void test_probe_refused(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r = req(fx, NULL, "directory/test", NULL, NULL, NULL);

    expect_status(r, "completed", NULL);
    assert_has(r, "<value>ou=people,dc=example,dc=com</value>");
    assert_has(r, "<value>(anonymous)</value>");
    assert_has(r, "var=\"error_kind\"");
    assert_has(r, "<note type=\"error\">The directory test failed (");
    assert_lacks(r, "var=\"entries\"");
    xmpp_stanza_release(r);
    r = req(fx, "ko", "directory/test", NULL, NULL, NULL);
    expect_status(r, "completed", NULL);
    assert_has(r, "<note type=\"error\">디렉터리 시험 실패(");
    xmpp_stanza_release(r);
    assert_int_equal(count_jobs(fx), 0);
}

static void test_sync_full_then_incremental(void **state)
{
    struct cmd_fx *fx = *state;
    struct store_job j;
    char sid[64];
    xmpp_stanza_t *r;
    int64_t first;

    /* incremental asked, no completed sync yet: a full one runs, and says so */
    open_sync(fx, NULL, sid, NULL);
    r = req(fx, NULL, "directory/sync", sid, "complete", F("mode", "incremental"));
    expect_status(r, "completed", NULL);
    assert_has(r, "Started directory sync job ");
    assert_has(r, "Incremental sync is not possible yet");
    xmpp_stanza_release(r);
    active_job(fx, &j);
    assert_int_equal(j.kind, STORE_JOB_DIRECTORY_SYNC);
    assert_string_equal(j.old_value, "full");
    assert_string_equal(j.new_value, "ou=people,dc=example,dc=com");
    first = j.id;
    store_job_clear(&j);

    /* while it runs, no second one */
    r = req(fx, NULL, "directory/sync", NULL, NULL, NULL);
    expect_failed(r, "A job is in flight (");
    r = req(fx, "ko", "directory/sync", NULL, NULL, NULL);
    expect_failed(r, "진행 중인 작업이 있습니다(");
    assert_int_equal(count_jobs(fx), 1);

    /* done: the start form tells the last run; an incremental one now runs as asked */
    complete_run(fx, first, 40, "20261203000000Z");
    open_sync(fx, NULL, sid, "(full), 40 entries, 2 added, 0 updated, 1 removed, 0 rejected");
    r = req(fx, "ko", "directory/sync", sid, "complete", F("mode", "incremental"));
    expect_status(r, "completed", NULL);
    assert_has(r, "디렉터리 동기화 작업 ");
    assert_lacks(r, "증분 동기화를 할 수 없어");
    xmpp_stanza_release(r);
    active_job(fx, &j);
    assert_true(j.id != first);
    assert_string_equal(j.old_value, "incremental");
    complete_run(fx, j.id, 3, NULL);
    store_job_clear(&j);
    open_sync(fx, "ko", sid, "(증분), 항목 3개, 추가 2, 변경 0, 삭제 1, 거부 0");
}

/* Another job started between the form and its submission: refused, nothing added. */
static void test_sync_conflict_at_submit(void **state)
{
    struct cmd_fx *fx = *state;
    struct store_job j;
    char sid[64];
    int64_t other;

    open_sync(fx, NULL, sid, NULL);
    assert_int_equal(store_job_create(fx->app.store, STORE_JOB_DEFAULT_DOMAIN, "a.example",
                                      "b.example", 1, &other),
                     STORE_OK);
    expect_failed(req(fx, NULL, "directory/sync", sid, "complete", F("mode", "full")),
                  "another job is in flight; wait for it to end, or Retry or Cancel it");
    assert_int_equal(count_jobs(fx), 1);
    active_job(fx, &j);
    assert_int_equal(j.id, other);
    store_job_clear(&j);
}

static void test_sync_store_failed(void **state)
{
    struct cmd_fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    open_sync(fx, NULL, sid, NULL);
    assert_int_equal(store_fault_sql(fx->db, "ALTER TABLE directory_runs RENAME TO gone"), 0);
    r = req(fx, "ko", "directory/sync", sid, "complete", F("mode", "full"));
    expect_error(r, "internal-server-error", NULL);
    assert_has(r, "저장소 오류로 아무것도 바꾸지 않았습니다: ");
    xmpp_stanza_release(r);
    assert_int_equal(store_fault_sql(fx->db, "ALTER TABLE gone RENAME TO directory_runs"), 0);
    assert_int_equal(count_jobs(fx), 0); /* the job row was rolled back with the run */
}

/* A sync held at the safety stop is offered for confirmation; with no job runner to take it
 * the answer is a store failure and the job stays held. */
static void test_sync_held_without_runner(void **state)
{
    struct cmd_fx *fx = *state;
    struct store_dir_run run;
    struct store_job j;
    char sid[64];
    xmpp_stanza_t *r;
    int64_t id;

    open_sync(fx, NULL, sid, NULL);
    xmpp_stanza_release(req(fx, NULL, "directory/sync", sid, "complete", F("mode", "full")));
    active_job(fx, &j);
    id = j.id;
    store_job_clear(&j);
    assert_int_equal(store_dir_run_get(fx->app.store, id, &run), STORE_OK);
    run.phase = STORE_DIR_CHECK;
    assert_int_equal(store_dir_run_update(fx->app.store, &run), STORE_OK);
    store_dir_run_clear(&run);
    assert_int_equal(store_job_set_state(fx->app.store, id, STORE_JOB_FAILED, "safety stop"),
                     STORE_OK);

    r = req(fx, NULL, "directory/sync", NULL, NULL, NULL);
    expect_status(r, "executing", sid);
    assert_has(r, "A directory sync stopped at the safety stop");
    assert_has(r, "<note type=\"warn\">");
    xmpp_stanza_release(r);
    r = req(fx, NULL, "directory/sync", sid, "complete", F("confirm", "true"));
    expect_error(r, "internal-server-error", NULL);
    assert_has(r, "nothing was changed: the store failed");
    xmpp_stanza_release(r);
    active_job(fx, &j);
    assert_int_equal(j.id, id);
    assert_int_equal(j.state, STORE_JOB_FAILED);
    store_job_clear(&j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_not_configured, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_probe_refused, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_sync_full_then_incremental, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_sync_conflict_at_submit, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_sync_store_failed, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_sync_held_without_runner, setup, cmd_fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
