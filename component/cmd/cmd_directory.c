/* directory/test (bind, count the matching entries, show three sample mappings: userid,
 * directory URI, the IM address it gives) and directory/sync (start the sync job, full or
 * incremental; or confirm / discard a sync held at the safety stop). The directory is read on
 * the thread pool; the answer waits for it (adhoc_defer), the loop does not. */
#include "component/cmd/commands.h"

#include "component/engine/dir_map.h"
#include "component/engine/dir_sync.h"
#include "component/engine/directory.h"
#include "component/engine/job.h"
#include "store/store_settings.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/adhoc_later.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIR_SAMPLES 3

static const struct text T_TEST = {"Test the directory", "디렉터리 시험"};
static const struct text T_SYNC = {"Sync users from the directory", "디렉터리에서 사용자 동기화"};
static const struct text T_NOT_CONFIGURED = {
    "No directory is configured: set [directory] uri and base in imdomaind.conf (see "
    "imdomaind.conf(5)) and restart imdomaind.",
    "디렉터리가 설정되지 않았습니다. imdomaind.conf의 [directory] uri와 base를 설정하고(imdomaind."
    "conf(5) 참조) imdomaind를 다시 시작하십시오."};

/* ---- directory/test ---- */

struct probe {
    struct app *app;
    adhoc_call_t *call;
    adhoc_later_t *later;
    uv_work_t work;
    struct dir_params *params;
    /* results (worker) */
    enum dir_err err;
    char *why;
    char server[128];
    long long count;
    bool saw_mtime;
    struct dir_mapped samples[DIR_SAMPLES];
    size_t n_samples;
};

static void probe_work(uv_work_t *w)
{
    struct probe *p = w->data;
    dir_conn_t *c = dir_open(p->params, &p->err, &p->why);
    struct dir_page page;
    int more = 1;

    if (c == NULL)
        return;
    snprintf(p->server, sizeof(p->server), "%s", dir_conn_uri(c));
    while (more == 1) {
        more = dir_next_page(c, &page, &p->err, &p->why);
        p->count += (long long)page.n;
        p->saw_mtime = p->saw_mtime || page.saw_mtime;
        for (size_t i = 0; i < page.n && p->n_samples < DIR_SAMPLES; i++)
            dir_map_entry(&page.v[i], p->params->userid_attr, &p->samples[p->n_samples++]);
        dir_page_clear(&page);
    }
    dir_close(c);
}

static void probe_free(struct probe *p)
{
    for (size_t i = 0; i < p->n_samples; i++)
        dir_mapped_clear(&p->samples[i]);
    dir_params_free(p->params);
    free(p->why);
    free(p);
}

static void field(form_t *f, const char *var, const struct text *label, const char *value)
{
    form_field_add_value(form_add_field(f, var, FIELD_TEXT_SINGLE, label), value);
}

static void add_samples(struct probe *p, form_t *f, const char *lang)
{
    static const struct text L_USERID = {"user ID", "사용자 ID"},
                             L_URI = {"directory URI", "디렉터리 URI"},
                             L_IM = {"IM address", "IM 주소"},
                             L_PROBLEM = {"rejected because", "거부 이유"};
    const struct text *labels[] = {&L_USERID, &L_URI, &L_IM, &L_PROBLEM};
    static const char *const vars[] = {"userid", "uri", "im", "problem"};
    struct store_settings s = {0};
    bool have = store_settings_get(p->app->store, &s) == STORE_OK;

    for (size_t i = 0; i < p->n_samples; i++) {
        struct dir_mapped *m = &p->samples[i];
        char *im = m->reason_en || !have ? xstrdup("")
                                         : dir_map_im_address(s.im_address_scheme, s.default_domain,
                                                              m->userid, m->uri);
        const char *reason = i18n_is_korean(lang) ? m->reason_ko : m->reason_en;
        const char *values[] = {m->userid, m->uri, im, reason};

        for (size_t k = 0; k < 4; k++) {
            char var[32], *en, *ko;
            if (values[k] == NULL)
                continue;
            snprintf(var, sizeof(var), "sample%zu_%s", i + 1, vars[k]);
            en = xasprintf("Sample %zu: %s", i + 1, labels[k]->en);
            ko = xasprintf("예시 %zu: %s", i + 1, labels[k]->ko);
            field(f, var, &(struct text){en, ko}, values[k]);
            free(en);
            free(ko);
        }
        free(im);
    }
    store_settings_clear(&s);
}

static void probe_answer(struct probe *p, adhoc_call_t *call)
{
    static const struct text L_SERVER = {"Directory server", "디렉터리 서버"},
                             L_BIND = {"Bound as", "바인드 DN"},
                             L_BASE = {"Base", "검색 기준(base)"}, L_FILTER = {"Filter", "필터"},
                             L_COUNT = {"Matching entries", "일치하는 항목"},
                             L_INCREMENTAL = {"Incremental sync", "증분 동기화"},
                             L_KIND = {"Problem", "문제"}, L_ERROR = {"Error", "오류"};
    bool ko = i18n_is_korean(call->lang);
    form_t *f = form_new(FORM_RESULT);
    char count[24], *note;

    form_set_title(f, &T_TEST);
    field(f, "base", &L_BASE, p->params->base);
    field(f, "filter", &L_FILTER, p->params->filter);
    field(f, "bind_dn", &L_BIND, p->params->bind_dn ? p->params->bind_dn : "(anonymous)");
    if (p->err != DIR_OK) {
        field(f, "error_kind", &L_KIND, dir_err_name(p->err));
        field(f, "error", &L_ERROR, p->why ? p->why : "");
        note = xasprintf(ko ? "디렉터리 시험 실패(%s): %s" : "The directory test failed (%s): %s",
                         dir_err_name(p->err), p->why ? p->why : "");
        log_info("directory/test: failed kind=%s", dir_err_name(p->err));
        adhoc_complete(call, f);
        adhoc_note_str(call, ADHOC_NOTE_ERROR, note);
        free(note);
        return;
    }
    snprintf(count, sizeof(count), "%lld", p->count);
    field(f, "server", &L_SERVER, p->server);
    field(f, "entries", &L_COUNT, count);
    field(f, "incremental", &L_INCREMENTAL,
          p->saw_mtime ? (ko ? "가능(항목에 modifyTimestamp가 있음)"
                             : "available (the entries carry modifyTimestamp)")
                       : (ko ? "불가(modifyTimestamp 없음): 항상 전체 동기화"
                             : "not available (no modifyTimestamp): every sync is full"));
    add_samples(p, f, call->lang);
    note = ko ? xasprintf("바인드 성공, %s에서 항목 %lld개가 일치합니다.", p->server, p->count)
              : xasprintf("Bind succeeded; %lld entries match at %s.", p->count, p->server);
    log_info("directory/test: ok server=%s entries=%lld", p->server, p->count);
    adhoc_complete(call, f);
    adhoc_note_str(call, ADHOC_NOTE_INFO, note);
    free(note);
}

static void probe_done(uv_work_t *w, int status)
{
    struct probe *p = w->data;
    adhoc_call_t *call = p->later ? adhoc_later_call(p->later) : p->call;

    (void)status;
    probe_answer(p, call);
    if (p->later)
        adhoc_later_finish(p->later);
    probe_free(p);
}

static void test_step(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    struct probe *p;

    if (app->cfg->dir_uri == NULL) {
        adhoc_fail(call, &T_NOT_CONFIGURED);
        return;
    }
    p = xcalloc(1, sizeof(*p));
    p->app = app;
    p->call = call;
    p->params = dir_params_new(app->cfg, NULL);
    p->work.data = p;
    log_info("directory/test: probing uri=%s", p->params->uris);
    if ((p->later = adhoc_defer(call)) != NULL &&
        uv_queue_work(app->loop, &p->work, probe_work, probe_done) == 0)
        return;
    if (p->later) {
        adhoc_later_finish(p->later); /* cannot happen with a live loop; answer now */
        p->later = NULL;
    }
    probe_work(&p->work); /* no late answer possible (a cancel): the caller waits */
    probe_done(&p->work, 0);
}

/* ---- directory/sync ---- */

struct sync_state {
    int64_t confirming; /* the job shown held at the safety stop, 0 when none */
};

static const struct text I_SYNC = {
    "Reads the users from the directory ([directory] in imdomaind.conf) as a job: every entry "
    "gets a verdict as a users/import line would; users gone from the directory are removed "
    "(full sync only); the sync audit and the router update run once at the end. Nothing "
    "changes if the directory cannot be reached or bound. A full sync that finds far fewer "
    "users than before stops for confirmation. Follow the job with jobs/status.",
    "디렉터리(imdomaind.conf의 [directory])에서 사용자를 작업으로 읽습니다. 항목마다 users/import "
    "줄처럼 결과가 정해지고, 디렉터리에서 사라진 사용자는 삭제됩니다(전체 동기화만). 마지막에 "
    "동기화 감사와 라우터 반영이 한 번 실행됩니다. 디렉터리에 연결하거나 바인드할 수 없으면 "
    "아무것도 바뀌지 않습니다. 전체 동기화에서 사용자가 이전보다 크게 줄면 확인을 기다립니다. "
    "진행 상황은 jobs/status에서 볼 수 있습니다."};
static const struct text L_MODE = {"Sync mode", "동기화 방식"};
static const struct text O_FULL = {"Full: read every entry, remove users gone from the directory",
                                   "전체: 모든 항목을 읽고 디렉터리에서 사라진 사용자 삭제"};
static const struct text O_INCR = {
    "Incremental: only entries changed since the last sync (no removals)",
    "증분: 마지막 동기화 이후 바뀐 항목만(삭제 없음)"};
static const struct text L_CONFIRM = {
    "Apply even if far fewer users come back (skip the safety stop)",
    "사용자가 크게 줄어도 적용(안전 정지 건너뜀)"};
static const struct text L_CONFIRM_HELD = {"Apply it anyway (the missing users are removed)",
                                           "그래도 적용(없어진 사용자가 삭제됩니다)"};
static const struct text I_HELD = {
    "A directory sync stopped at the safety stop: the directory returned far fewer users than "
    "there were, and nothing was changed. Check the base and the filter first. Tick the box to "
    "apply it anyway; leave it empty to discard it (nothing changes).",
    "디렉터리 동기화가 안전 정지에서 멈췄습니다. 디렉터리가 기존보다 훨씬 적은 사용자를 "
    "돌려주어 아무것도 바꾸지 않았습니다. 먼저 base와 filter를 확인하십시오. 그래도 적용하려면 "
    "상자를 선택하고, 비워 두면 이 동기화를 버립니다(아무것도 바뀌지 않습니다)."};

static void sync_state_free(void *s)
{
    free(s);
}

static void fixed_line(form_t *f, const char *line)
{
    form_add_fixed(f, &(struct text){line, NULL});
}

/* The last completed run, one line (in `lang`), or NULL. */
static char *last_run_line(struct store *st, const char *lang)
{
    struct store_dir_run r;
    char *line = NULL;
    time_t t;
    char when[32];

    if (store_dir_run_last_completed(st, &r) != STORE_OK)
        return NULL;
    t = (time_t)r.started_at;
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&t));
    line = i18n_is_korean(lang)
               ? xasprintf("마지막 동기화: %s (%s), 항목 %" PRId64 "개, 추가 %" PRId64
                           ", 변경 %" PRId64 ", 삭제 %" PRId64 ", 거부 %" PRId64,
                           when, r.mode == STORE_DIR_FULL ? "전체" : "증분", r.fetched, r.counts[0],
                           r.counts[1], r.counts[3], r.counts[4])
               : xasprintf("Last sync: %s (%s), %" PRId64 " entries, %" PRId64 " added, %" PRId64
                           " updated, %" PRId64 " removed, %" PRId64 " rejected",
                           when, r.mode == STORE_DIR_FULL ? "full" : "incremental", r.fetched,
                           r.counts[0], r.counts[1], r.counts[3], r.counts[4]);
    store_dir_run_clear(&r);
    return line;
}

static void show_start(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    form_t *f = form_new(FORM_FORM);
    form_field_t *mode, *confirm;
    char *last = last_run_line(app->store, call->lang);

    form_set_title(f, &T_SYNC);
    form_add_instructions(f, &I_SYNC);
    if (last)
        fixed_line(f, last);
    free(last);
    mode = form_add_field(f, "mode", FIELD_LIST_SINGLE, &L_MODE);
    form_field_add_option(mode, "full", &O_FULL);
    form_field_add_option(mode, "incremental", &O_INCR);
    form_field_add_value(mode, "full");
    form_field_set_required(mode, true);
    confirm = form_add_field(f, "confirm", FIELD_BOOLEAN, &L_CONFIRM);
    form_field_add_bool(confirm, false);
    adhoc_show(call, f, ADHOC_ALLOW_COMPLETE, ADHOC_COMPLETE);
}

static void show_held(adhoc_call_t *call, const struct store_job *j)
{
    struct sync_state *s = xcalloc(1, sizeof(*s));
    form_t *f = form_new(FORM_FORM);
    form_field_t *confirm;
    char *d = dir_sync_describe(j, call->lang);

    s->confirming = j->id;
    call->state = s;
    call->state_free = sync_state_free;
    form_set_title(f, &T_SYNC);
    form_add_instructions(f, &I_HELD);
    fixed_line(f, d);
    adhoc_note_str(call, ADHOC_NOTE_WARN, d);
    free(d);
    confirm = form_add_field(f, "confirm", FIELD_BOOLEAN, &L_CONFIRM_HELD);
    form_field_add_bool(confirm, false);
    adhoc_show(call, f, ADHOC_ALLOW_COMPLETE, ADHOC_COMPLETE);
}

/* The answer once a job runs: its id and first words, fields and notes. */
static void started(adhoc_call_t *call, int64_t id, const char *extra)
{
    static const struct text L_JOB = {"Job", "작업"}, L_STATE = {"State", "상태"};
    struct app *app = call->ctx;
    struct store_job j;
    form_t *f = form_new(FORM_RESULT);
    char num[24], *d = NULL, *note;

    snprintf(num, sizeof(num), "%" PRId64, id);
    form_set_title(f, &T_SYNC);
    field(f, "job", &L_JOB, num);
    if (store_job_get(app->store, id, &j) == STORE_OK) {
        d = dir_sync_describe(&j, call->lang);
        field(f, "state", &L_STATE, d);
        store_job_clear(&j);
    }
    if (extra)
        fixed_line(f, extra);
    note =
        xasprintf(i18n_is_korean(call->lang)
                      ? "디렉터리 동기화 작업 %" PRId64 "을(를) 시작했습니다. 진행 상황과 결과는 "
                        "jobs/status에서 볼 수 있습니다.%s%s"
                      : "Started directory sync job %" PRId64 "; follow it and read its "
                        "verdicts in jobs/status.%s%s",
                  id, extra ? " " : "", extra ? extra : "");
    fixed_line(f, note);
    adhoc_complete(call, f);
    adhoc_note_str(call, ADHOC_NOTE_INFO, note);
    free(note);
    free(d);
}

static void store_failed(adhoc_call_t *call, struct store *st)
{
    char *s = xasprintf(i18n_is_korean(call->lang) ? "저장소 오류로 아무것도 바꾸지 않았습니다: %s"
                                                   : "nothing was changed: the store failed: %s",
                        store_errmsg(st));
    adhoc_refuse(call, "internal-server-error", NULL, s);
    free(s);
}

static void submit_start(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    struct store *st = app->store;
    const char *mode_s = form_value(call->form, "mode");
    enum store_dir_mode mode = mode_s && !strcmp(mode_s, "incremental") ? STORE_DIR_INCREMENTAL
                                                                        : STORE_DIR_FULL,
                        used = mode;
    bool confirm = form_bool(call->form, "confirm", false);
    int64_t id = 0;
    enum store_rc rc = store_begin(st);
    const char *fallback = NULL;

    if (rc == STORE_OK)
        rc = dir_sync_create(app, mode, confirm, &id, &used);
    if (rc == STORE_OK)
        rc = store_commit(st);
    if (rc != STORE_OK) {
        store_rollback(st);
        if (rc == STORE_CONFLICT) {
            adhoc_fail(call, &(struct text){
                                 "another job is in flight; wait for it to end, or Retry or "
                                 "Cancel it in jobs/status",
                                 "다른 작업이 진행 중입니다. 끝나기를 기다리거나 jobs/status에서 "
                                 "재시도 또는 취소하십시오"});
            return;
        }
        store_failed(call, st);
        return;
    }
    log_info("directory/sync: job started id=%" PRId64 " mode=%s confirmed=%d", id,
             used == STORE_DIR_FULL ? "full" : "incremental", confirm);
    if (mode != used)
        fallback = i18n_is_korean(call->lang)
                       ? "증분 동기화를 할 수 없어(완료된 동기화가 없거나 서버 항목에 "
                         "modifyTimestamp가 없음) 전체 동기화로 실행합니다."
                       : "Incremental sync is not possible yet (no completed sync, or the "
                         "server's entries carry no modifyTimestamp): running a full sync.";
    if (app->jobs)
        job_runner_kick(app->jobs);
    started(call, id, fallback);
}

static void submit_held(adhoc_call_t *call, int64_t id)
{
    struct app *app = call->ctx;
    bool confirm = form_bool(call->form, "confirm", false);
    enum store_rc rc = app->jobs == NULL ? STORE_ERR
                       : confirm         ? job_retry(app->jobs, id)
                                         : job_cancel(app->jobs, id);

    if (rc == STORE_CONFLICT || rc == STORE_NOTFOUND) {
        adhoc_fail(call, &(struct text){"the job is no longer waiting; see jobs/status",
                                        "작업이 더 이상 기다리고 있지 않습니다. jobs/status를 "
                                        "보십시오"});
        return;
    }
    if (rc != STORE_OK) {
        store_failed(call, app->store);
        return;
    }
    log_info("directory/sync: job id=%" PRId64 " %s after the safety stop", id,
             confirm ? "confirmed" : "discarded");
    if (confirm) {
        started(call, id,
                i18n_is_korean(call->lang) ? "확인되어 적용을 계속합니다."
                                           : "Confirmed: applying it now.");
        return;
    }
    adhoc_complete(call, NULL);
    adhoc_note(call, ADHOC_NOTE_INFO,
               &(struct text){"Discarded: the held sync ended and nothing was changed.",
                              "버렸습니다. 멈춘 동기화를 끝냈고 아무것도 바뀌지 않았습니다."});
}

static void sync_step(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    struct sync_state *s = call->state;
    struct store_job j;

    if (app->cfg->dir_uri == NULL) {
        adhoc_fail(call, &T_NOT_CONFIGURED);
        return;
    }
    if (call->stage >= 1) {
        if (s && s->confirming)
            submit_held(call, s->confirming);
        else
            submit_start(call);
        return;
    }
    if (store_job_get_active(app->store, &j) == STORE_OK) {
        if (dir_sync_waits_confirmation(app->store, &j)) {
            show_held(call, &j);
        } else {
            char *d = job_describe(&j, call->lang);
            char *en = xasprintf("A job is in flight (%s); wait for it to end, or Retry or Cancel "
                                 "it in jobs/status.",
                                 d);
            char *ko = xasprintf("진행 중인 작업이 있습니다(%s). 끝나기를 기다리거나 jobs/status"
                                 "에서 재시도 또는 취소하십시오.",
                                 d);
            adhoc_fail(call, &(struct text){en, ko});
            free(d);
            free(en);
            free(ko);
        }
        store_job_clear(&j);
        return;
    }
    show_start(call);
}

static const struct adhoc_command test_def = {
    .node = "directory/test", .name = {"Test the directory", "디렉터리 시험"}, .step = test_step};
static const struct adhoc_command sync_def = {
    .node = "directory/sync",
    .name = {"Sync users from the directory", "디렉터리에서 사용자 동기화"},
    .step = sync_step};

int cmd_directory_register(struct app *app)
{
    if (adhoc_register(app->adhoc, &test_def, app) < 0)
        return -1;
    return adhoc_register(app->adhoc, &sync_def, app);
}
