/* The directory-sync job: fetch on the thread pool (one uv_work per page, the page stored by
 * the loop in one transaction), then check, apply and remove in batches of DIR_SYNC_BATCH on
 * the job runner's idle turns, then the audit. The phase and cursor live in directory_runs, so
 * any crash leaves a state the next start resumes (see dir_sync.h). */
#include "component/engine/dir_sync.h"

#include "component/engine/app_apply.h"
#include "component/engine/dir_map.h"
#include "component/engine/directory.h"
#include "component/engine/job.h"
#include "component/engine/peers_window.h"
#include "component/engine/sync.h"
#include "store/store_audit.h"
#include "store/store_topo.h"
#include "store/store_user.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/i18n.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DIR_SCHED_CHECK_MS 30000u /* the schedule timer looks at the clock this often */
#define DIR_LIST_MAX 50           /* rejected or removed users listed in a result */

/* One fetch in flight: the connection, and the page the worker just read, mapped. */
struct fetch {
    struct dir_sync *ds;
    uv_work_t work;
    int64_t job_id;
    struct dir_params *params;
    dir_conn_t *conn;             /* worker side; closed by the worker after the last page */
    struct store_dir_entry *page; /* the mapped page, handed to the loop */
    size_t n;
    bool saw_mtime;
    char max_mtime[32];
    int more; /* 1: more pages, 0: that was the last, -1: failed (err, why) */
    enum dir_err err;
    char *why;
    char server[128];
};

struct dir_sync {
    struct app *app;
    struct fetch *fetch; /* in flight, or NULL */
    uv_timer_t timer;
    bool timer_open;
    bool stopped;
    time_t last_check;
};

/* ---- failing the job ---- */

/* Marks job `id` failed with `why` (English, as the store keeps it) in its own transaction. */
static void fail_job(struct app *app, int64_t id, const char *why)
{
    struct store *st = app->store;

    log_warnx("directory: sync failed job=%" PRId64 " reason=%s", id, why);
    if (store_job_set_state(st, id, STORE_JOB_FAILED, why) != STORE_OK)
        log_error("directory: cannot record the failure of job %" PRId64 ": %s", id,
                  store_errmsg(st));
    app_audit(app, DIR_SYNC_ACTOR, DIR_SYNC_NODE, STORE_OUTCOME_ERROR, why);
}

/* ---- the fetch (thread pool) ---- */

static void fetch_free(struct fetch *f)
{
    if (f == NULL)
        return;
    dir_close(f->conn);
    dir_params_free(f->params);
    store_dir_entries_free(f->page, f->n);
    free(f->why);
    free(f);
}

/* Maps the page on the worker: the loop only stores it. */
static void map_page(struct fetch *f, const struct dir_page *page)
{
    f->page = xcalloc(page->n ? page->n : 1, sizeof(*f->page));
    f->n = page->n;
    f->saw_mtime = page->saw_mtime;
    snprintf(f->max_mtime, sizeof(f->max_mtime), "%s", page->max_mtime);
    for (size_t i = 0; i < page->n; i++) {
        struct dir_mapped m;
        struct store_dir_entry *e = &f->page[i];

        dir_map_entry(&page->v[i], f->params->userid_attr, &m);
        e->dn = xstrdup(page->v[i].dn);
        e->userid = m.userid;
        e->uri = m.uri;
        e->node = m.node;
        e->reason_en = m.reason_en;
        e->reason_ko = m.reason_ko;
        e->verdict = m.reason_en ? STORE_DIR_REJECTED : -1;
    }
}

static void fetch_work(uv_work_t *w)
{
    struct fetch *f = w->data;
    struct dir_page page;

    if (f->conn == NULL) {
        if ((f->conn = dir_open(f->params, &f->err, &f->why)) == NULL) {
            f->more = -1;
            return;
        }
        snprintf(f->server, sizeof(f->server), "%s", dir_conn_uri(f->conn));
    }
    f->more = dir_next_page(f->conn, &page, &f->err, &f->why);
    if (f->more >= 0)
        map_page(f, &page);
    dir_page_clear(&page);
    if (f->more <= 0) {
        dir_close(f->conn);
        f->conn = NULL;
    }
}

/* Stores the page the worker read, in one transaction with the run's counters. */
static enum store_rc store_page(struct app *app, struct fetch *f)
{
    struct store *st = app->store;
    struct store_dir_run r;
    enum store_rc rc = store_begin(st);

    if (rc != STORE_OK)
        return rc;
    rc = store_dir_run_get(st, f->job_id, &r);
    if (rc == STORE_OK)
        rc = store_dir_entries_add(st, f->page, f->n);
    if (rc == STORE_OK) {
        r.fetched += (int64_t)f->n;
        r.saw_mtime = r.saw_mtime || f->saw_mtime;
        if (f->max_mtime[0] && (r.max_mtime == NULL || strcmp(f->max_mtime, r.max_mtime) > 0)) {
            free(r.max_mtime);
            r.max_mtime = xstrdup(f->max_mtime);
        }
        if (r.server == NULL && f->server[0])
            r.server = xstrdup(f->server);
        if (f->more == 0)
            r.phase = STORE_DIR_CHECK;
        rc = store_dir_run_update(st, &r);
    }
    if (rc == STORE_OK)
        rc = store_job_progress(st, f->job_id, 0, r.fetched);
    if (rc == STORE_OK)
        rc = store_commit(st);
    if (rc != STORE_OK)
        store_rollback(st);
    store_dir_run_clear(&r);
    return rc;
}

static void fetch_done(uv_work_t *w, int status)
{
    struct fetch *f = w->data;
    struct dir_sync *ds = f->ds;
    struct app *app = ds->app;
    char *why;

    if (status != 0 || ds->stopped || app->stopping) {
        log_info("directory: fetch of job %" PRId64 " dropped reason=stopping", f->job_id);
        ds->fetch = NULL;
        fetch_free(f);
        return;
    }
    if (f->more < 0) {
        log_info("directory: fetch failed job=%" PRId64 " kind=%s", f->job_id,
                 dir_err_name(f->err));
        fail_job(app, f->job_id, f->why);
        ds->fetch = NULL;
        fetch_free(f);
        return;
    }
    if (store_page(app, f) != STORE_OK) {
        why = xasprintf("storing the entries read failed: %s", store_errmsg(app->store));
        fail_job(app, f->job_id, why);
        free(why);
        ds->fetch = NULL;
        fetch_free(f);
        return;
    }
    store_dir_entries_free(f->page, f->n);
    f->page = NULL;
    f->n = 0;
    if (f->more == 0) {
        log_info("directory: fetch done job=%" PRId64 " server=%s", f->job_id, f->server);
        ds->fetch = NULL;
        fetch_free(f);
        job_runner_kick(app->jobs);
        return;
    }
    if (uv_queue_work(app->loop, &f->work, fetch_work, fetch_done) != 0) {
        fail_job(app, f->job_id, "cannot queue the next page on the thread pool");
        ds->fetch = NULL;
        fetch_free(f);
    }
}

/* The FETCH phase: starts reading (again: LDAP paging cannot resume after a restart). */
static void start_fetch(struct app *app, const struct store_job *j, struct store_dir_run *r)
{
    struct dir_sync *ds = app->dirsync;
    struct store *st = app->store;
    struct fetch *f;
    char *filter = NULL;

    if (ds == NULL) {
        /* No [directory] any more (the daemon restarted without it): nothing will ever read,
         * and a job left running would hold the one job slot for good. */
        fail_job(app, j->id, "no directory is configured ([directory] uri)");
        return;
    }
    if (ds->fetch != NULL || ds->stopped)
        return;
    if (r->fetched > 0) {
        r->fetched = 0;
        r->saw_mtime = false;
        free(r->max_mtime);
        r->max_mtime = NULL;
        if (store_begin(st) != STORE_OK || store_dir_entries_clear(st) != STORE_OK ||
            store_dir_run_update(st, r) != STORE_OK ||
            store_job_progress(st, j->id, 0, 0) != STORE_OK || store_commit(st) != STORE_OK) {
            store_rollback(st);
            fail_job(app, j->id, store_errmsg(st));
            return;
        }
    }
    if (r->mode == STORE_DIR_INCREMENTAL && r->since)
        filter = dir_filter_since(app->cfg->dir_filter, r->since);
    f = xcalloc(1, sizeof(*f));
    f->ds = ds;
    f->job_id = j->id;
    f->work.data = f;
    f->params = dir_params_new(app->cfg, filter);
    free(filter);
    if (f->params == NULL) {
        fetch_free(f);
        fail_job(app, j->id, "no directory is configured ([directory] uri)");
        return;
    }
    if (uv_queue_work(app->loop, &f->work, fetch_work, fetch_done) != 0) {
        fetch_free(f);
        fail_job(app, j->id, "cannot queue the directory read on the thread pool");
        return;
    }
    ds->fetch = f;
    log_info("directory: fetch started job=%" PRId64 " mode=%s uri=%s base=%s", j->id,
             r->mode == STORE_DIR_INCREMENTAL ? "incremental" : "full", f->params->uris,
             f->params->base);
}

/* ---- check, apply, remove, finish (on the loop, one transaction each) ---- */

/* Runs `fn` inside a transaction; on failure the job fails with the store's message. */
static int in_tx(struct app *app, struct store_job *j, struct store_dir_run *r,
                 enum store_rc (*fn)(struct app *, struct store_job *, struct store_dir_run *,
                                     int *))
{
    struct store *st = app->store;
    int more = 0;
    enum store_rc rc = store_begin(st);
    char *why;

    if (rc == STORE_OK)
        rc = fn(app, j, r, &more);
    if (rc == STORE_OK)
        rc = store_dir_run_update(st, r);
    if (rc == STORE_OK)
        rc = store_commit(st);
    if (rc == STORE_OK)
        return more;
    why = xasprintf("the store failed in phase %s: %s", store_dir_phase_name(r->phase),
                    store_errmsg(st));
    store_rollback(st);
    fail_job(app, j->id, why);
    free(why);
    return 0;
}

/* The safety stop: a full run that found far fewer entries than there are directory users. */
static bool too_few(const struct config *cfg, const struct store_dir_run *r)
{
    if (r->mode != STORE_DIR_FULL || r->confirmed || r->existing == 0)
        return false;
    if (r->fetched == 0)
        return true; /* an empty result never deletes everyone, whatever max_drop says */
    return (r->existing - r->fetched) * 100 > r->existing * (int64_t)cfg->dir_max_drop;
}

static enum store_rc check_phase(struct app *app, struct store_job *j, struct store_dir_run *r,
                                 int *more)
{
    enum store_rc rc = store_dir_count_users(app->store, &r->existing);

    if (rc != STORE_OK)
        return rc;
    if (too_few(app->cfg, r)) {
        char *why = xasprintf(
            "safety stop: the directory returned %" PRId64 " entries but %" PRId64
            " users came from it before (%" PRId64 "%% fewer; the limit is %d%%, [directory] "
            "max_drop). Nothing was changed. A wrong base or filter, or a directory being "
            "rebuilt, looks like this. Retry in jobs/status (or confirm in directory/sync) "
            "applies it anyway and removes the missing users; Cancel discards it.",
            r->fetched, r->existing, (r->existing - r->fetched) * 100 / r->existing,
            app->cfg->dir_max_drop);
        log_warnx("directory: safety stop job=%" PRId64 " fetched=%" PRId64 " existing=%" PRId64,
                  j->id, r->fetched, r->existing);
        rc = store_job_set_state(app->store, j->id, STORE_JOB_FAILED, why);
        if (rc == STORE_OK)
            app_audit(app, DIR_SYNC_ACTOR, DIR_SYNC_NODE, STORE_OUTCOME_REFUSED, why);
        free(why);
        *more = 0;
        return rc;
    }
    r->phase = STORE_DIR_APPLY;
    r->cursor = 0;
    j->total = r->fetched;
    j->done = 0;
    *more = 1;
    return store_job_update(app->store, j);
}

static void reject(struct store_dir_entry *e, const char *en, const char *ko)
{
    free(e->reason_en);
    free(e->reason_ko);
    e->verdict = STORE_DIR_REJECTED;
    e->reason_en = xstrdup(en);
    e->reason_ko = xstrdup(ko);
}

/* One entry as users/import would take its line. STORE_ERR aborts the batch. */
static enum store_rc apply_entry(struct store *st, struct store_dir_entry *e)
{
    static const int how_verdict[] = {
        [STORE_UPSERT_INSERTED] = STORE_DIR_ADDED,
        [STORE_UPSERT_UPDATED] = STORE_DIR_UPDATED,
        [STORE_UPSERT_UNCHANGED] = STORE_DIR_UNCHANGED,
    };
    enum store_upsert how;
    enum store_rc rc;

    if (e->verdict == STORE_DIR_REJECTED)
        return STORE_OK; /* rejected while mapping */
    if (e->duplicate) {
        reject(e, "duplicate userid: an earlier entry of the directory has it",
               "중복된 사용자 ID: 디렉터리의 앞선 항목에 이미 있습니다");
        return STORE_OK;
    }
    if (e->node && e->node[0]) {
        struct store_node n;
        rc = store_node_get(st, e->node, &n);
        if (rc == STORE_OK)
            store_node_clear(&n);
        if (rc == STORE_NOTFOUND) {
            char *en = xasprintf("unknown node %s: add it with topology/edit first", e->node);
            char *ko = xasprintf("알 수 없는 노드 %s: 먼저 topology/edit로 추가하십시오", e->node);
            reject(e, en, ko);
            free(en);
            free(ko);
            return STORE_OK;
        }
        if (rc != STORE_OK)
            return rc;
    }
    rc = store_user_upsert(st, e->userid, e->uri, e->node && e->node[0] ? e->node : NULL, &how);
    if (rc == STORE_OK)
        e->verdict = how_verdict[how];
    else if (rc == STORE_CONFLICT)
        reject(e, "conflicts with another user", "다른 사용자와 충돌합니다");
    return rc == STORE_OK || rc == STORE_CONFLICT ? STORE_OK : rc;
}

static enum store_rc apply_phase(struct app *app, struct store_job *j, struct store_dir_run *r,
                                 int *more)
{
    struct store *st = app->store;
    struct store_dir_entry *v = NULL;
    size_t n = 0;
    enum store_rc rc = store_dir_entries_batch(st, r->cursor, DIR_SYNC_BATCH, &v, &n);

    *more = 1;
    if (rc == STORE_OK && n == 0) {
        r->phase = r->mode == STORE_DIR_FULL ? STORE_DIR_REMOVE : STORE_DIR_FINISH;
        r->cursor = 0;
        return STORE_OK;
    }
    for (size_t i = 0; rc == STORE_OK && i < n; i++) {
        rc = apply_entry(st, &v[i]);
        if (rc == STORE_OK)
            r->counts[v[i].verdict]++;
    }
    if (rc == STORE_OK)
        rc = store_dir_entries_set_verdicts(st, v, n);
    if (rc == STORE_OK)
        rc = store_dir_mark_users(st, v[0].id, v[n - 1].id);
    if (rc == STORE_OK) {
        r->cursor = v[n - 1].id;
        j->done += (int64_t)n;
        rc = store_job_progress(st, j->id, r->cursor, j->done);
    }
    store_dir_entries_free(v, n);
    return rc;
}

static enum store_rc remove_phase(struct app *app, struct store_job *j, struct store_dir_run *r,
                                  int *more)
{
    int64_t last = 0, looked = 0, removed = 0;
    enum store_rc rc =
        store_dir_remove_batch(app->store, r->cursor, DIR_SYNC_BATCH, &last, &looked, &removed);

    (void)j;
    *more = 1;
    if (rc != STORE_OK)
        return rc;
    r->counts[STORE_DIR_REMOVED] += removed;
    r->cursor = last;
    if (looked == 0)
        r->phase = STORE_DIR_FINISH;
    return STORE_OK;
}

/* The end: the sync audit once, the job completed, in one transaction; then the router once. */
static void finish_phase(struct app *app, struct store_job *j, struct store_dir_run *r)
{
    struct store *st = app->store;
    struct sync_report rep = {0};
    char *err = NULL, *line = NULL;
    enum store_rc rc = store_begin(st);
    const int64_t *c = r->counts;

    if (rc == STORE_OK && sync_run(st, peers_counted_now(app), &rep, &err) == -1)
        rc = STORE_ERR;
    if (rc == STORE_OK) {
        line = sync_report_summary_line(&rep);
        free(r->summary);
        r->summary =
            xasprintf("mode=%s server=%s entries=%" PRId64 " added=%" PRId64 " updated=%" PRId64
                      " unchanged=%" PRId64 " removed=%" PRId64 " rejected=%" PRId64 "; audit: %s",
                      r->mode == STORE_DIR_FULL ? "full" : "incremental",
                      r->server ? r->server : "-", r->fetched, c[0], c[1], c[2], c[3], c[4], line);
        r->phase = STORE_DIR_DONE;
        j->state = STORE_JOB_COMPLETED;
        free(j->error);
        j->error = NULL;
        rc = store_dir_run_update(st, r);
    }
    if (rc == STORE_OK)
        rc = store_job_update(st, j);
    if (rc == STORE_OK)
        rc = store_commit(st);
    if (rc != STORE_OK) {
        /* sync_run's sentence already says "the sync audit failed: ..." */
        char *why =
            err ? xstrdup(err) : xasprintf("the final sync audit failed: %s", store_errmsg(st));
        store_rollback(st);
        fail_job(app, j->id, why);
        free(why);
    } else {
        log_info("directory: sync done job=%" PRId64 " %s", j->id, r->summary);
        app_audit(app, DIR_SYNC_ACTOR, DIR_SYNC_NODE, STORE_OUTCOME_OK, r->summary);
        if (sync_report_local_changed(&rep))
            app_apply_domains(app, DIR_SYNC_ACTOR, NULL, NULL);
    }
    free(err);
    free(line);
    sync_report_clear(&rep);
}

int dir_sync_step(struct app *app, struct store_job *j)
{
    struct store_dir_run r;
    int more = 0;
    enum store_rc rc = store_dir_run_get(app->store, j->id, &r);

    if (rc != STORE_OK) {
        fail_job(app, j->id, "the directory run's record is missing");
        return 0;
    }
    switch (r.phase) {
    case STORE_DIR_FETCH:
        start_fetch(app, j, &r);
        break;
    case STORE_DIR_CHECK:
        more = in_tx(app, j, &r, check_phase);
        break;
    case STORE_DIR_APPLY:
        more = in_tx(app, j, &r, apply_phase);
        break;
    case STORE_DIR_REMOVE:
        more = in_tx(app, j, &r, remove_phase);
        break;
    case STORE_DIR_FINISH:
    case STORE_DIR_DONE:
        finish_phase(app, j, &r);
        break;
    }
    store_dir_run_clear(&r);
    return more;
}

/* ---- creating, retrying, cancelling ---- */

enum store_rc dir_sync_create(struct app *app, enum store_dir_mode mode, bool confirmed,
                              int64_t *id, enum store_dir_mode *mode_used)
{
    struct store *st = app->store;
    struct store_dir_run last, r;
    int64_t job = 0;
    char *since = NULL;
    enum store_rc rc;

    if (mode == STORE_DIR_INCREMENTAL) {
        rc = store_dir_run_last_completed(st, &last);
        if (rc == STORE_OK && last.max_mtime)
            since = xstrdup(last.max_mtime);
        else
            mode = STORE_DIR_FULL; /* nothing to count changes from, or no modifyTimestamp */
        store_dir_run_clear(&last);
        if (rc != STORE_OK && rc != STORE_NOTFOUND)
            return rc;
    }
    if (mode_used)
        *mode_used = mode;
    rc = store_job_create(st, STORE_JOB_DIRECTORY_SYNC,
                          mode == STORE_DIR_FULL ? "full" : "incremental",
                          app->cfg->dir_base ? app->cfg->dir_base : "", 0, &job);
    if (rc == STORE_OK)
        rc = store_dir_run_create(st, job, mode, since);
    free(since);
    if (rc == STORE_OK && confirmed && (rc = store_dir_run_get(st, job, &r)) == STORE_OK) {
        r.confirmed = true;
        rc = store_dir_run_update(st, &r);
        store_dir_run_clear(&r);
    }
    if (id)
        *id = job;
    return rc;
}

enum store_rc dir_sync_restart(struct store *st, struct store_job *j, bool cancel)
{
    struct store_dir_run r;
    enum store_rc rc = store_dir_run_get(st, j->id, &r);
    bool untouched;

    if (rc != STORE_OK)
        return rc;
    untouched = r.phase == STORE_DIR_FETCH || r.phase == STORE_DIR_CHECK;
    if (cancel) {
        j->state = STORE_JOB_CANCELED;
        r.phase = STORE_DIR_DONE;
        if (untouched)
            rc = store_dir_entries_clear(st);
    } else {
        j->state = STORE_JOB_RUNNING;
        if (r.phase == STORE_DIR_CHECK)
            r.confirmed = true; /* Retry after the safety stop: apply anyway */
        if (r.phase == STORE_DIR_FETCH) {
            r.fetched = 0;
            j->done = 0;
            rc = store_dir_entries_clear(st);
        }
    }
    j->attempts++;
    free(j->error);
    j->error = NULL;
    if (rc == STORE_OK)
        rc = store_dir_run_update(st, &r);
    if (rc == STORE_OK)
        rc = store_job_update(st, j);
    store_dir_run_clear(&r);
    return rc;
}

bool dir_sync_waits_confirmation(struct store *st, const struct store_job *j)
{
    struct store_dir_run r;
    bool waits = false;

    if (j->kind != STORE_JOB_DIRECTORY_SYNC || j->state != STORE_JOB_FAILED)
        return false;
    if (store_dir_run_get(st, j->id, &r) == STORE_OK)
        waits = r.phase == STORE_DIR_CHECK;
    store_dir_run_clear(&r);
    return waits;
}

/* ---- words ---- */

char *dir_sync_describe(const struct store_job *j, const char *lang)
{
    static const struct text states[] = {
        [STORE_JOB_RUNNING] = {"running", "실행 중"},
        [STORE_JOB_FAILED] = {"failed", "실패"},
        [STORE_JOB_COMPLETED] = {"completed", "완료"},
        [STORE_JOB_CANCELED] = {"canceled", "취소됨"},
        [STORE_JOB_ROLLING_BACK] = {"rolling back", "롤백 중"},
    };
    bool ko = i18n_is_korean(lang), incr = j->old_value && !strcmp(j->old_value, "incremental");
    const char *state = (size_t)j->state < 5 ? text_get(&states[j->state], lang) : "?";
    char *head, *out;

    const char *mode = ko ? (incr ? "증분" : "전체") : (incr ? "incremental" : "full");

    if (j->total == 0 && j->state == STORE_JOB_RUNNING)
        head =
            xasprintf(ko ? "작업 %" PRId64 ", 디렉터리 동기화(%s): 디렉터리를 읽는 중, 지금까지 "
                           "항목 %" PRId64 "개, 시도 %" PRId64 "회"
                         : "job %" PRId64 ", directory sync (%s): reading the directory, %" PRId64
                           " entries so far, attempt %" PRId64,
                      j->id, mode, j->done, j->attempts);
    else if (j->total == 0) /* ended before applying anything: done counts entries read */
        head = xasprintf(ko ? "작업 %" PRId64 ", 디렉터리 동기화(%s): %s, 읽은 항목 %" PRId64
                              "개, 적용 없음, 시도 %" PRId64 "회"
                            : "job %" PRId64 ", directory sync (%s): %s, %" PRId64
                              " entries read, none applied, attempt %" PRId64,
                         j->id, mode, state, j->done, j->attempts);
    else
        head = xasprintf(ko ? "작업 %" PRId64 ", 디렉터리 동기화(%s): %s, 항목 %" PRId64
                              "개 중 %" PRId64 "개 적용, 시도 %" PRId64 "회"
                            : "job %" PRId64 ", directory sync (%s): %s, %" PRId64 " of %" PRId64
                              " entries applied, attempt %" PRId64,
                         j->id, mode, state, ko ? j->total : j->done, ko ? j->done : j->total,
                         j->attempts);
    if (j->error == NULL)
        return head;
    out = xasprintf("%s; %s: %s", head, ko ? "오류" : "error", j->error);
    free(head);
    return out;
}

static void add_text(form_t *form, const char *var, const struct text *label, const char *value)
{
    form_field_add_value(form_add_field(form, var, FIELD_TEXT_SINGLE, label), value);
}

static void add_num(form_t *form, const char *var, const struct text *label, int64_t v)
{
    char num[24];

    snprintf(num, sizeof(num), "%" PRId64, v);
    add_text(form, var, label, num);
}

/* A text-multi of the first DIR_LIST_MAX entries with `verdict`: "userid: reason (dn)". */
static void add_list(struct store *st, form_t *form, const char *var, const struct text *label,
                     enum store_dir_verdict verdict, const char *lang)
{
    struct store_dir_entry *v = NULL;
    size_t n = 0;
    form_field_t *f;

    if (store_dir_entries_with(st, verdict, DIR_LIST_MAX, &v, &n) != STORE_OK || n == 0) {
        store_dir_entries_free(v, n);
        return;
    }
    f = form_add_field(form, var, FIELD_TEXT_MULTI, label);
    for (size_t i = 0; i < n; i++) {
        const char *reason = i18n_is_korean(lang) ? v[i].reason_ko : v[i].reason_en;
        char *line = verdict == STORE_DIR_REMOVED
                         ? xasprintf("%s (%s)", v[i].userid, v[i].uri)
                         : xasprintf("%s: %s (%s)", v[i].userid[0] ? v[i].userid : "-",
                                     reason ? reason : "", v[i].dn);
        form_field_add_value(f, line);
        free(line);
    }
    store_dir_entries_free(v, n);
}

void dir_sync_add_fields(struct store *st, const struct store_job *j, form_t *form,
                         const char *lang)
{
    static const struct text L_MODE = {"Sync mode", "동기화 방식"}, L_PHASE = {"Phase", "단계"},
                             L_SERVER = {"Directory server", "디렉터리 서버"},
                             L_READ = {"Entries read", "읽은 항목"},
                             L_BEFORE = {"Users from the directory before",
                                         "이전에 디렉터리에서 온 사용자"},
                             L_COUNTS[5] = {{"Added", "추가"},
                                            {"Updated", "변경"},
                                            {"Unchanged", "그대로"},
                                            {"Removed", "삭제"},
                                            {"Rejected", "거부"}},
                             L_REJ = {"Rejected entries (first 50)", "거부된 항목(처음 50개)"},
                             L_REM = {"Removed users (first 50)", "삭제된 사용자(처음 50명)"},
                             L_NOTE = {"Note", "참고"};
    static const char *const count_vars[5] = {"added", "updated", "unchanged", "removed",
                                              "rejected"};
    struct store_dir_run r;

    if (store_dir_run_get(st, j->id, &r) != STORE_OK)
        return;
    add_text(form, "mode", &L_MODE, r.mode == STORE_DIR_FULL ? "full" : "incremental");
    add_text(form, "phase", &L_PHASE, store_dir_phase_name(r.phase));
    add_text(form, "server", &L_SERVER, r.server ? r.server : "");
    add_num(form, "entries_read", &L_READ, r.fetched);
    add_num(form, "existing_before", &L_BEFORE, r.existing);
    for (int i = 0; i < 5; i++)
        add_num(form, count_vars[i], &L_COUNTS[i], r.counts[i]);
    if (r.mode == STORE_DIR_INCREMENTAL)
        add_text(form, "incremental_note", &L_NOTE,
                 i18n_is_korean(lang)
                     ? "증분 동기화는 바뀐 항목만 읽으므로 삭제된 항목은 보지 못합니다. 삭제는 "
                       "전체 동기화(일정 실행 포함)에서 반영됩니다."
                     : "An incremental sync reads only changed entries, so it cannot see "
                       "removed ones: removals are applied by full syncs (the schedule's "
                       "included).");
    add_list(st, form, "rejected_entries", &L_REJ, STORE_DIR_REJECTED, lang);
    add_list(st, form, "removed_users", &L_REM, STORE_DIR_REMOVED, lang);
    store_dir_run_clear(&r);
}

/* ---- the schedule ---- */

int dir_sync_scheduled(struct app *app)
{
    struct store *st = app->store;
    struct store_job active;
    int64_t id = 0;
    enum store_rc rc;

    if (store_job_get_active(st, &active) == STORE_OK) {
        log_info("directory: scheduled sync skipped reason=job-in-flight job=%" PRId64, active.id);
        store_job_clear(&active);
        return 1;
    }
    if ((rc = store_begin(st)) == STORE_OK &&
        (rc = dir_sync_create(app, STORE_DIR_FULL, false, &id, NULL)) == STORE_OK)
        rc = store_commit(st);
    if (rc != STORE_OK) {
        log_warnx("directory: scheduled sync not started: %s", store_errmsg(st));
        store_rollback(st);
        return -1;
    }
    log_info("directory: scheduled sync started job=%" PRId64, id);
    app_audit(app, DIR_SYNC_ACTOR, DIR_SYNC_NODE, STORE_OUTCOME_OK, "scheduled full sync started");
    job_runner_kick(app->jobs);
    return 0;
}

static void on_sched(uv_timer_t *t)
{
    struct dir_sync *ds = t->data;
    time_t now = time(NULL);

    if (ds->stopped || ds->app->stopping)
        return;
    if (store_in_transaction(ds->app->store)) {
        uv_timer_start(&ds->timer, on_sched, 1000, 0);
        return;
    }
    if (sync_due(ds->last_check, now, ds->app->cfg->dir_schedule) && !ds->app->standby)
        dir_sync_scheduled(ds->app);
    ds->last_check = now;
    uv_timer_start(&ds->timer, on_sched, DIR_SCHED_CHECK_MS, 0);
}

static const struct job_kind dir_sync_kind = {
    .step = dir_sync_step, .restart = dir_sync_restart, .describe = dir_sync_describe};

struct dir_sync *dir_sync_new(struct app *app)
{
    struct dir_sync *ds;

    /* Jobs of this kind may be left in the store from a run with a directory configured. */
    job_register_kind(STORE_JOB_DIRECTORY_SYNC, &dir_sync_kind);
    if (app->cfg->dir_uri == NULL)
        return NULL;
    ds = xcalloc(1, sizeof(*ds));
    ds->app = app;
    ds->last_check = time(NULL);
    if (app->cfg->dir_schedule && app->cfg->dir_schedule[0] &&
        uv_timer_init(app->loop, &ds->timer) == 0) {
        ds->timer.data = ds;
        ds->timer_open = true;
        uv_timer_start(&ds->timer, on_sched, DIR_SCHED_CHECK_MS, 0);
        log_info("directory: full sync scheduled daily at %s", app->cfg->dir_schedule);
    }
    return ds;
}

void dir_sync_stop(struct dir_sync *ds)
{
    if (ds == NULL || ds->stopped)
        return;
    ds->stopped = true;
    if (ds->timer_open && !uv_is_closing((uv_handle_t *)&ds->timer))
        uv_close((uv_handle_t *)&ds->timer, NULL);
}

void dir_sync_free(struct dir_sync *ds)
{
    if (ds == NULL)
        return;
    /* A fetch still queued here would be a bug: the loop ran its completion already. */
    if (ds->fetch)
        ds->fetch->ds = NULL;
    free(ds);
}
