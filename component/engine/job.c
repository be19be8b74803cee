/* The job runner: one idle handle runs one batch of the active job per loop turn, so pings and
 * commands are answered between batches. Each batch, its cursor and (for the last one) the
 * job's end are one transaction; see job.h for why every crash ends all-old or all-new. */
#include "component/engine/job.h"

#include "component/engine/app_apply.h"
#include "store/store_audit.h"
#include "store/store_settings.h"
#include "store/store_user.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/i18n.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct job_runner {
    struct app *app; /* borrowed */
    uv_idle_t idle;  /* active while batches are due */
    bool handle_open;
    int64_t batch;
};

/* ---- the setting a job changes ---- */

/* The kinds other modules run (job_register_kind), indexed by enum store_job_kind. */
#define JOB_KINDS 8
static const struct job_kind *job_kinds[JOB_KINDS];

void job_register_kind(enum store_job_kind kind, const struct job_kind *ops)
{
    if ((size_t)kind < JOB_KINDS)
        job_kinds[kind] = ops;
}

static const struct job_kind *kind_of(enum store_job_kind kind)
{
    return (size_t)kind < JOB_KINDS ? job_kinds[kind] : NULL;
}

/* The current value of the setting `kind` changes, malloc'd. */
static char *setting_value(const struct store_settings *s, enum store_job_kind kind)
{
    if (kind == STORE_JOB_IM_SCHEME)
        return xstrdup(store_im_scheme_name(s->im_address_scheme));
    return xstrdup(s->default_domain);
}

/* Writes `value` into the setting `kind` changes, keeping every other setting. */
static enum store_rc set_setting(struct store *st, enum store_job_kind kind, const char *value)
{
    struct store_settings s;
    enum store_rc rc = store_settings_get(st, &s);

    if (rc != STORE_OK)
        return rc;
    if (kind == STORE_JOB_IM_SCHEME) {
        if (store_im_scheme_parse(value, &s.im_address_scheme) == -1)
            rc = STORE_ERR;
    } else {
        free(s.default_domain);
        s.default_domain = xstrdup(value);
    }
    if (rc == STORE_OK)
        rc = store_settings_set(st, &s);
    store_settings_clear(&s);
    return rc;
}

static bool is_rollback(const struct store_job *j)
{
    return j->state == STORE_JOB_ROLLING_BACK;
}

/* The value the job walks towards: the new one, or the old one while rolling back. */
static const char *job_target(const struct store_job *j)
{
    return is_rollback(j) ? j->old_value : j->new_value;
}

bool job_failed_in_rollback(struct store *st, const struct store_job *j)
{
    struct store_settings s;
    char *cur;
    bool back;

    if (j->kind == STORE_JOB_DIRECTORY_SYNC || j->old_value == NULL ||
        store_settings_get(st, &s) != STORE_OK)
        return false;
    cur = setting_value(&s, j->kind);
    back = strcmp(cur, j->old_value) == 0 && (j->new_value == NULL || strcmp(cur, j->new_value));
    free(cur);
    store_settings_clear(&s);
    return back;
}

enum store_rc job_create(struct store *st, enum store_job_kind kind, const char *new_value,
                         int64_t *id)
{
    struct store_settings s;
    int64_t total = 0;
    char *old;
    enum store_rc rc = store_settings_get(st, &s);

    if (rc != STORE_OK)
        return rc;
    old = setting_value(&s, kind);
    store_settings_clear(&s);
    rc = store_user_count(st, NULL, &total);
    if (rc == STORE_OK)
        rc = store_job_create(st, kind, old, new_value, total, id);
    if (rc == STORE_OK)
        rc = set_setting(st, kind, new_value);
    free(old);
    return rc;
}

/* ---- one batch ---- */

/* Re-derives the next batch of addresses after j->cursor towards the job's target, reading the
 * setting the job does not change. *why is set when the job's values make no sense. */
static enum store_rc derive_batch(struct store *st, const struct store_job *j, int64_t limit,
                                  int64_t *last, int64_t *n, char **why)
{
    struct store_settings s;
    enum store_im_scheme scheme;
    const char *domain, *target = job_target(j);
    enum store_rc rc = store_settings_get(st, &s);

    if (rc != STORE_OK)
        return rc;
    scheme = s.im_address_scheme;
    domain = target;
    if (j->kind == STORE_JOB_IM_SCHEME) {
        domain = s.default_domain;
        if (target == NULL || store_im_scheme_parse(target, &scheme) == -1)
            domain = NULL;
    }
    if (domain == NULL) {
        *why = xasprintf("the job's value '%s' is not usable", target ? target : "(none)");
        rc = STORE_ERR;
    } else {
        rc = store_users_derive_im_batch(st, scheme, domain, j->cursor, limit, last, n);
    }
    store_settings_clear(&s);
    return rc;
}

/* In the last batch's transaction: the job reaches its final state. */
static enum store_rc finish_in_tx(struct store *st, struct store_job *j)
{
    j->state = is_rollback(j) ? STORE_JOB_CANCELED : STORE_JOB_COMPLETED;
    if (j->done > j->total)
        j->total = j->done; /* users provisioned while it ran */
    free(j->error);
    j->error = NULL;
    return store_job_update(st, j);
}

static void audit_job(struct app *app, const struct store_job *j, enum store_outcome outcome)
{
    char *node = xasprintf("job/%s", store_job_kind_name(j->kind));
    char *what = job_describe(j, "en");

    app_audit(app, JOB_ACTOR, node, outcome, what);
    free(what);
    free(node);
}

static void job_finished(struct job_runner *jr, const struct store_job *j)
{
    const char *value = j->state == STORE_JOB_CANCELED ? j->old_value : j->new_value;

    log_info("job: finished id=%" PRId64 " kind=%s state=%s users=%" PRId64 " value=%s", j->id,
             store_job_kind_name(j->kind), store_job_state_name(j->state), j->done,
             value ? value : "");
    audit_job(jr->app, j,
              j->state == STORE_JOB_COMPLETED ? STORE_OUTCOME_OK : STORE_OUTCOME_CANCELED);
    /* The default domain changed twice or once; the router files are marked stale. */
    if (j->kind == STORE_JOB_DEFAULT_DOMAIN)
        app_apply_domains(jr->app, JOB_ACTOR, NULL, NULL);
}

/* The batch's transaction was rolled back: the job waits for Retry or Cancel. */
static void job_failed(struct job_runner *jr, struct store_job *j, const char *why)
{
    struct store *st = jr->app->store;

    log_warnx("job: failed id=%" PRId64 " kind=%s done=%" PRId64 " error=%s", j->id,
              store_job_kind_name(j->kind), j->done, why);
    if (store_job_set_state(st, j->id, STORE_JOB_FAILED, why) != STORE_OK) {
        log_error("job: cannot record the failure of id=%" PRId64 ": %s; it resumes at the next "
                  "start",
                  j->id, store_errmsg(st));
        return;
    }
    j->state = STORE_JOB_FAILED;
    free(j->error);
    j->error = xstrdup(why);
    audit_job(jr->app, j, STORE_OUTCOME_ERROR);
}

/* Runs one batch of `j` (running or rolling back). Returns 1 while more remains, else 0. */
static int run_batch(struct job_runner *jr, struct store_job *j)
{
    struct store *st = jr->app->store;
    int64_t last = j->cursor, n = 0;
    char *why = NULL;
    enum store_rc rc = store_begin(st);

    if (rc == STORE_OK)
        rc = derive_batch(st, j, jr->batch, &last, &n, &why);
    if (rc == STORE_OK && n > 0)
        rc = store_job_progress(st, j->id, last, j->done + n);
    else if (rc == STORE_OK)
        rc = finish_in_tx(st, j);
    if (rc == STORE_OK)
        rc = store_commit(st);
    if (rc != STORE_OK) {
        if (why == NULL)
            why = xstrdup(store_errmsg(st));
        store_rollback(st);
        job_failed(jr, j, why);
        free(why);
        return 0;
    }
    if (n == 0) {
        job_finished(jr, j);
        return 0;
    }
    j->cursor = last;
    j->done += n;
    return 1;
}

int job_runner_step(struct job_runner *jr)
{
    struct store *st = jr->app->store;
    struct store_job j;
    enum store_rc rc = store_job_get_active(st, &j);
    int more = 0;

    if (rc != STORE_OK) {
        if (rc != STORE_NOTFOUND)
            log_warnx("job: cannot read the active job: %s", store_errmsg(st));
        return 0;
    }
    if (j.state != STORE_JOB_FAILED)
        more = kind_of(j.kind) ? kind_of(j.kind)->step(jr->app, &j) : run_batch(jr, &j);
    store_job_clear(&j);
    return more;
}

/* ---- scheduling ---- */

static void on_idle(uv_idle_t *h)
{
    struct job_runner *jr = h->data;

    /* A standby leaves the job to the active instance; the daemon kicks us when we serve. */
    if (jr->app->stopping || jr->app->standby || job_runner_step(jr) == 0)
        uv_idle_stop(h);
}

struct job_runner *job_runner_new(struct app *app)
{
    struct job_runner *jr = xcalloc(1, sizeof(*jr));
    int rc;

    jr->app = app;
    jr->batch = JOB_BATCH_ROWS;
    if ((rc = uv_idle_init(app->loop, &jr->idle)) < 0) {
        log_error("job runner: cannot create its loop handle: %s", uv_strerror(rc));
        free(jr);
        return NULL;
    }
    jr->idle.data = jr;
    jr->handle_open = true;
    return jr;
}

void job_runner_set_batch(struct job_runner *jr, int64_t rows)
{
    if (rows >= 1 && rows <= STORE_USER_BATCH_MAX)
        jr->batch = rows;
}

void job_runner_kick(struct job_runner *jr)
{
    uv_handle_t *h = (uv_handle_t *)&jr->idle;

    if (!jr->handle_open || jr->app->stopping || uv_is_closing(h) || uv_is_active(h))
        return;
    uv_idle_start(&jr->idle, on_idle);
}

bool job_runner_busy(const struct job_runner *jr)
{
    return jr->handle_open && uv_is_active((const uv_handle_t *)&jr->idle);
}

void job_runner_resume(struct job_runner *jr)
{
    struct store *st = jr->app->store;
    struct store_job j;
    enum store_rc rc;

    /* A standby leaves the shared store's leftovers to the active instance: what looks left
     * over may be the active one's work in progress (an upload it is receiving). */
    for (size_t k = 0; k < JOB_KINDS && !jr->app->standby; k++)
        if (job_kinds[k] && job_kinds[k]->startup)
            job_kinds[k]->startup(jr->app); /* e.g. uploads a restart interrupted (import_job.h) */
    rc = store_job_get_active(st, &j);
    if (rc != STORE_OK) {
        if (rc != STORE_NOTFOUND)
            log_warnx("job: cannot read the active job: %s", store_errmsg(st));
        return;
    }
    if (j.state == STORE_JOB_FAILED) {
        log_warnx("job: id=%" PRId64 " kind=%s failed before the restart (%s); waiting for Retry "
                  "or Cancel in jobs/status",
                  j.id, store_job_kind_name(j.kind), j.error ? j.error : "no reason recorded");
    } else {
        log_info("job: resuming id=%" PRId64 " kind=%s state=%s done=%" PRId64 " total=%" PRId64,
                 j.id, store_job_kind_name(j.kind), store_job_state_name(j.state), j.done, j.total);
        job_runner_kick(jr);
    }
    store_job_clear(&j);
}

void job_runner_stop(struct job_runner *jr)
{
    if (jr == NULL || !jr->handle_open)
        return;
    uv_idle_stop(&jr->idle);
    if (!uv_is_closing((uv_handle_t *)&jr->idle))
        uv_close((uv_handle_t *)&jr->idle, NULL);
    jr->handle_open = false;
}

void job_runner_free(struct job_runner *jr)
{
    free(jr);
}

/* ---- Retry and Cancel ---- */

/* Moves the failed job `j` on: Retry keeps its direction and cursor; Cancel of a forward job
 * switches the setting back and walks every user again with the old value. */
static enum store_rc restart_failed(struct store *st, struct store_job *j, bool cancel)
{
    bool back;
    enum store_rc rc = STORE_OK;

    if (kind_of(j->kind))
        return kind_of(j->kind)->restart(st, j, cancel); /* its own ways out (dir_sync.h) */
    back = job_failed_in_rollback(st, j);

    if (cancel && !back) {
        rc = set_setting(st, j->kind, j->old_value);
        j->cursor = 0;
        j->done = 0;
        if (rc == STORE_OK)
            rc = store_user_count(st, NULL, &j->total);
        back = true;
    }
    j->state = back ? STORE_JOB_ROLLING_BACK : STORE_JOB_RUNNING;
    j->attempts++;
    free(j->error);
    j->error = NULL;
    return rc == STORE_OK ? store_job_update(st, j) : rc;
}

static enum store_rc retry_or_cancel(struct job_runner *jr, int64_t id, bool cancel)
{
    struct store *st = jr->app->store;
    struct store_job j;
    enum store_rc rc = store_begin(st);

    if (rc != STORE_OK)
        return rc;
    rc = store_job_get(st, id, &j);
    if (rc == STORE_OK && j.state != STORE_JOB_FAILED)
        rc = STORE_CONFLICT;
    if (rc == STORE_OK && j.old_value == NULL)
        rc = STORE_ERR; /* nothing to roll back to: only a hand-made row can lack it */
    if (rc == STORE_OK)
        rc = restart_failed(st, &j, cancel);
    rc = rc == STORE_OK ? store_commit(st) : rc;
    if (rc != STORE_OK)
        store_rollback(st);
    else
        log_info("job: %s id=%" PRId64 " state=%s attempt=%" PRId64, cancel ? "cancel" : "retry",
                 id, store_job_state_name(j.state), j.attempts);
    store_job_clear(&j);
    if (rc == STORE_OK)
        job_runner_kick(jr);
    return rc;
}

enum store_rc job_retry(struct job_runner *jr, int64_t id)
{
    return retry_or_cancel(jr, id, false);
}

enum store_rc job_cancel(struct job_runner *jr, int64_t id)
{
    return retry_or_cancel(jr, id, true);
}

/* ---- words ---- */

static const struct text T_KIND[] = {
    [STORE_JOB_DEFAULT_DOMAIN] = {"default domain", "기본 도메인"},
    [STORE_JOB_IM_SCHEME] = {"IM address scheme", "IM 주소 체계"},
    [STORE_JOB_DIRECTORY_SYNC] = {"directory sync", "디렉터리 동기화"},
    [STORE_JOB_USER_IMPORT] = {"users/import", "사용자 가져오기"},
};

static const struct text T_STATE[] = {
    [STORE_JOB_RUNNING] = {"running", "실행 중"},
    [STORE_JOB_FAILED] = {"failed", "실패"},
    [STORE_JOB_COMPLETED] = {"completed", "완료"},
    [STORE_JOB_CANCELED] = {"canceled (rolled back)", "취소됨(롤백 완료)"},
    [STORE_JOB_ROLLING_BACK] = {"rolling back", "롤백 중"},
};

static const char *kind_text(enum store_job_kind kind, const char *lang)
{
    return (size_t)kind < sizeof(T_KIND) / sizeof(T_KIND[0]) ? text_get(&T_KIND[kind], lang)
                                                             : store_job_kind_name(kind);
}

static const char *state_text(enum store_job_state state, const char *lang)
{
    return (size_t)state < sizeof(T_STATE) / sizeof(T_STATE[0]) ? text_get(&T_STATE[state], lang)
                                                                : store_job_state_name(state);
}

char *job_describe(const struct store_job *j, const char *lang)
{
    int64_t total = j->total > j->done ? j->total : j->done;
    int pct = total > 0 ? (int)(j->done * 100 / total) : 100;
    const char *old = j->old_value ? j->old_value : "-", *nv = j->new_value ? j->new_value : "-";
    char *head, *out;

    if (kind_of(j->kind))
        return kind_of(j->kind)->describe(j, lang);
    if (i18n_is_korean(lang))
        head = xasprintf("작업 %" PRId64 ", %s %s → %s: %s, 사용자 %" PRId64 "명 중 %" PRId64
                         "명 (%d%%), 시도 %" PRId64 "회",
                         j->id, kind_text(j->kind, lang), old, nv, state_text(j->state, lang),
                         total, j->done, pct, j->attempts);
    else
        head = xasprintf("job %" PRId64 ", %s %s → %s: %s, %" PRId64 " of %" PRId64
                         " users (%d%%), attempt %" PRId64,
                         j->id, kind_text(j->kind, lang), old, nv, state_text(j->state, lang),
                         j->done, total, pct, j->attempts);
    if (j->error == NULL)
        return head;
    out = xasprintf("%s; %s: %s", head, i18n_is_korean(lang) ? "오류" : "error", j->error);
    free(head);
    return out;
}

char *job_label(const struct store_job *j, const char *lang)
{
    return xasprintf("#%" PRId64 " %s → %s (%s)", j->id, kind_text(j->kind, lang),
                     j->new_value ? j->new_value : "-", state_text(j->state, lang));
}
