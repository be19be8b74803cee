/* The user-import job: the upload into the store (users/import's session), the slices on the job
 * runner, the audit at the end, and how the job reads in jobs/status. See import_job.h. */
#include "component/engine/import_job.h"

#include "component/engine/import_lines.h"
#include "component/engine/job.h"
#include "component/engine/peers_window.h"
#include "component/engine/sync.h"
#include "component/engine/topology.h"
#include "store/store_audit.h"
#include "store/store_import_job.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/i18n.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LIST_MAX 50      /* rejected lines jobs/status lists */
#define ANSWER_MAX 20000 /* lines worth reading the answer lists (FORM_MAX_ROWS) */

/* One character a line in user_import_slices.codes, by enum import_verdict; '-' a blank or
 * comment line. */
static const char verdict_codes[IMPORT_V_COUNT] = {'a', 'u', '=', 'r', 'x'};

/* ---- words ---- */

static const struct text T_TITLE = {"Import users (job)", "사용자 가져오기(작업)"};
static const struct text T_FOLLOW = {
    "The import runs as a job in the background, in short slices; it goes on after a restart. "
    "Next refreshes this view and shows the verdicts once the job ended; complete closes it (the "
    "job goes on: jobs/status follows it).",
    "가져오기는 백그라운드 작업으로 짧게 나누어 실행되며 재시작 뒤에도 계속됩니다. 다음(next)은 "
    "이 화면을 새로 고치고 작업이 끝나면 결과를 보여 줍니다. 완료(complete)는 이 화면을 닫습니다"
    "(작업은 계속되며 jobs/status에서 볼 수 있습니다)."};
static const struct text T_FAILED = {
    "The import job failed; the lines before the failure are applied. Retry it (go on) or "
    "Cancel it (apply no more lines, audit what was applied) in jobs/status.",
    "가져오기 작업이 실패했습니다. 실패 전의 줄은 적용되었습니다. jobs/status에서 "
    "재시도(계속)하거나 "
    "취소(더 적용하지 않고 적용된 것만 감사)하십시오."};
static const struct text T_GOES_ON = {
    "Closed; the job goes on (jobs/status follows it).",
    "닫았습니다. 작업은 계속됩니다(jobs/status에서 볼 수 있습니다)."};
static const struct text T_REJECTED = {
    "Rejected lines changed nothing: correct them as the reason says and import only those "
    "lines again.",
    "거부된 줄은 아무것도 바꾸지 않았습니다. 이유에 따라 고친 뒤 그 줄만 다시 가져오십시오."};
static const struct text T_CANCELED = {
    "The job was canceled: the lines after the cursor were not applied (those before stay).",
    "작업이 취소되었습니다. 커서 뒤의 줄은 적용되지 않았습니다(앞의 줄은 남습니다)."};
static const struct text T_LINE = {"Line", "줄"};
static const struct text T_USERID = {"User ID", "사용자 ID"};
static const struct text T_RESULT = {"Result", "결과"};
static const struct text T_REASON = {"Reason", "이유"};
static const struct text verdict_texts[IMPORT_V_COUNT] = {{"added", "추가됨"},
                                                          {"updated", "변경됨"},
                                                          {"unchanged", "그대로"},
                                                          {"removed", "삭제됨"},
                                                          {"REJECTED", "거부됨"}};
static const struct text L_COUNTS[IMPORT_V_COUNT] = {{"Added", "추가"},
                                                     {"Updated", "변경"},
                                                     {"Unchanged", "그대로"},
                                                     {"Removed", "삭제"},
                                                     {"Rejected", "거부"}};
static const struct text L_LINES = {"Lines", "줄 수"};
static const struct text L_APPLIED = {"Lines applied", "적용한 줄"};
static const struct text L_PHASE = {"Phase", "단계"};
static const struct text L_AUDIT = {"Sync audit", "동기화 감사"};
static const struct text L_REJ = {"Rejected lines (first 50)", "거부된 줄(처음 50개)"};
static const struct text L_JOB = {"Job", "작업"};

static void add_text(form_t *form, const char *var, const struct text *label, const char *value)
{
    form_field_add_value(form_add_field(form, var, FIELD_TEXT_SINGLE, label), value);
}

static void add_num(form_t *form, const char *var, enum field_type type, const struct text *label,
                    int64_t v)
{
    form_field_add_int(form_add_field(form, var, type, label), (long long)v);
}

static const char *state_text(enum store_job_state s, const char *lang)
{
    static const struct text states[] = {
        [STORE_JOB_RUNNING] = {"running", "실행 중"},
        [STORE_JOB_FAILED] = {"failed", "실패"},
        [STORE_JOB_COMPLETED] = {"completed", "완료"},
        [STORE_JOB_CANCELED] = {"canceled", "취소됨"},
        [STORE_JOB_ROLLING_BACK] = {"canceling", "취소 중"},
    };
    return (size_t)s < sizeof(states) / sizeof(states[0]) ? text_get(&states[s], lang) : "?";
}

char *import_job_describe(const struct store_job *j, const char *lang)
{
    int64_t total = j->total > j->done ? j->total : j->done;
    int pct = total > 0 ? (int)(j->done * 100 / total) : 100;
    char *head, *out;

    if (i18n_is_korean(lang))
        head =
            xasprintf("작업 %" PRId64 ", 사용자 가져오기 %" PRId64 "줄: %s, %" PRId64
                      "줄 중 %" PRId64 "줄 적용 (%d%%), 시도 %" PRId64 "회",
                      j->id, total, state_text(j->state, lang), total, j->done, pct, j->attempts);
    else
        head =
            xasprintf("job %" PRId64 ", users/import of %" PRId64 " lines: %s, %" PRId64
                      " of %" PRId64 " lines applied (%d%%), attempt %" PRId64,
                      j->id, total, state_text(j->state, lang), j->done, total, pct, j->attempts);
    if (j->error == NULL)
        return head;
    out = xasprintf("%s; %s: %s", head, i18n_is_korean(lang) ? "오류" : "error", j->error);
    free(head);
    return out;
}

static char *counts_line(const struct store_import *r, const char *lang)
{
    const int64_t *c = r->counts;

    if (i18n_is_korean(lang))
        return xasprintf("%" PRId64 "줄: 추가 %" PRId64 ", 변경 %" PRId64 ", 그대로 %" PRId64
                         ", 삭제 %" PRId64 ", 거부 %" PRId64 ".",
                         r->lines, c[0], c[1], c[2], c[3], c[4]);
    return xasprintf("%" PRId64 " lines: %" PRId64 " added, %" PRId64 " updated, %" PRId64
                     " unchanged, %" PRId64 " removed, %" PRId64 " rejected.",
                     r->lines, c[0], c[1], c[2], c[3], c[4]);
}

void import_job_add_fields(struct store *st, const struct store_job *j, form_t *form,
                           const char *lang)
{
    struct store_import r;
    struct store_import_verdict *v = NULL;
    size_t n = 0;

    if (store_import_get_by_job(st, j->id, &r) != STORE_OK)
        return;
    add_text(form, "phase", &L_PHASE, store_import_phase_name(r.phase));
    add_num(form, "lines", FIELD_TEXT_SINGLE, &L_LINES, r.lines);
    add_num(form, "applied", FIELD_TEXT_SINGLE, &L_APPLIED, r.cursor);
    for (int i = 0; i < IMPORT_V_COUNT; i++)
        add_num(form, import_verdict_names[i], FIELD_TEXT_SINGLE, &L_COUNTS[i], r.counts[i]);
    add_text(form, "audit", &L_AUDIT,
             r.summary  ? r.summary
             : !r.audit ? (i18n_is_korean(lang) ? "끔" : "off")
                        : (i18n_is_korean(lang) ? "마지막에 한 번" : "once, at the end"));
    if (r.counts[IMPORT_REJECTED] > 0) {
        /* The first LIST_MAX rejected lines; the rest come with users/import's answer. */
        form_field_t *f = form_add_field(form, "rejected_lines", FIELD_TEXT_MULTI, &L_REJ);
        int64_t after = 0;
        size_t shown = 0;
        while (shown < LIST_MAX &&
               store_import_verdicts(st, r.id, after, 500, &v, &n) == STORE_OK && n > 0) {
            for (size_t i = 0; i < n && shown < LIST_MAX; i++) {
                if (strcmp(v[i].verdict, "rejected") != 0)
                    continue;
                char *line = xasprintf("%" PRId64 " %s: %s", v[i].line, v[i].userid, v[i].reason);
                form_field_add_value(f, line);
                free(line);
                shown++;
            }
            after = v[n - 1].line;
            store_import_verdicts_free(v, n);
            v = NULL;
        }
        store_import_verdicts_free(v, n);
    }
    store_import_clear(&r);
}

/* ---- the session: upload, then follow ---- */

struct upload {
    struct app *app;
    int64_t id;    /* user_imports.id, 0 before the first part */
    int64_t lines; /* received so far */
    int64_t job;   /* 0 until the last part started it */
};

/* The session ends, however it ends: an upload that never became a job is discarded (its
 * sender is gone; nothing was applied). */
static void upload_free(void *state)
{
    struct upload *u = state;
    struct store *st = u->app->store;

    if (u->app->import_upload == u->id)
        u->app->import_upload = 0;
    if (u->id > 0 && u->job == 0) {
        if (store_in_transaction(st) || store_import_discard_upload(st, u->id) != STORE_OK)
            log_warnx("import: upload %" PRId64 " not discarded now; the next start does it",
                      u->id);
        else
            log_info("import: upload %" PRId64 " discarded lines=%" PRId64 " reason=session-ended",
                     u->id, u->lines);
    }
    free(u);
}

static bool in_session(const adhoc_call_t *call)
{
    return call->state != NULL && call->state_free == upload_free;
}

int import_job_session(const adhoc_call_t *call)
{
    if (!in_session(call))
        return 0;
    return ((const struct upload *)call->state)->job > 0 ? 2 : 1;
}

static void store_failed(adhoc_call_t *call, struct app *app)
{
    char *s = xasprintf(i18n_is_korean(call->lang) ? "저장소 오류: %s" : "the store failed: %s",
                        store_errmsg(app->store));

    log_warnx("import: store error: %s", store_errmsg(app->store));
    adhoc_refuse(call, "internal-server-error", NULL, s);
    free(s);
}

/* Whether a new large import may start now: 0, or 1 with *why (malloc'd, in call->lang), or
 * -1 when the store cannot tell (the start must be refused too: starting discards every
 * unfinished upload, another admin's included). */
static int start_refusal(adhoc_call_t *call, struct app *app, char **why)
{
    bool ko = i18n_is_korean(call->lang);
    struct store_job j;
    int64_t uploading = 0;
    enum store_rc rc;

    *why = NULL;
    if (store_import_uploading(app->store, &uploading) != STORE_OK)
        return -1;
    if (uploading > 0) {
        *why = xstrdup(ko ? "다른 큰 가져오기를 보내는 중입니다(한 번에 하나). 그것이 끝난 뒤 "
                            "다시 실행하십시오"
                          : "another large import is being sent (one at a time): run this one "
                            "again when it is done");
        return 1;
    }
    if ((rc = store_job_get_active(app->store, &j)) == STORE_ERR)
        return -1;
    if (rc == STORE_OK) {
        char *d = job_describe(&j, call->lang);
        *why = xasprintf(ko ? "다른 작업이 진행 중입니다(%s). 큰 가져오기는 작업으로 실행되므로 "
                              "그 작업이 끝난 뒤에 다시 실행하십시오"
                            : "another job is in flight (%s); a large import runs as a job: run "
                              "it again when that job ended",
                         d);
        free(d);
        store_job_clear(&j);
        return 1;
    }
    return 0;
}

/* The progress view (or, once the job ended, the verdicts). */
static void follow_view(adhoc_call_t *call, struct upload *u);

/* The session's upload is no longer in the store (in a transaction, rolled back here): another
 * instance's start-up discarded it, taking this session for gone. Its parts never reach another
 * upload (ids are not handed out again: store_import_create()); the session ends, and the lines
 * must be sent again, all of them. */
static void upload_gone(adhoc_call_t *call, struct upload *u)
{
    struct app *app = call->ctx;

    store_rollback(app->store);
    log_warnx("import: upload %" PRId64 " is gone (discarded elsewhere) lines=%" PRId64
              "; its session ends",
              u->id, u->lines);
    if (app->import_upload == u->id)
        app->import_upload = 0;
    u->id = 0; /* nothing of it left to discard */
    u->lines = 0;
    adhoc_fail(call, &(struct text){"this upload was discarded while its parts came (the instance "
                                    "that serves now took it for abandoned): nothing of it is "
                                    "imported; run users/import again with all the lines",
                                    "부분을 보내는 동안 이 업로드가 버려졌습니다(지금 서비스하는 "
                                    "인스턴스가 버려진 것으로 보았습니다). 아무것도 가져오지 "
                                    "않았습니다. 모든 줄로 users/import를 다시 실행하십시오"});
}

void import_job_submit(adhoc_call_t *call, const char *const *values, size_t n, size_t lines,
                       bool more, form_t *(*again)(adhoc_call_t *call))
{
    struct app *app = call->ctx;
    struct store *st = app->store;
    struct upload *u = in_session(call) ? call->state : NULL;
    size_t len = 0, off = 0;
    char *text, *why;
    enum store_rc rc;
    uint64_t t0 = uv_hrtime();

    bool fresh = u == NULL;
    if (fresh) {
        u = xcalloc(1, sizeof(*u));
        u->app = app;
        call->state = u;
        call->state_free = upload_free;
    }
    for (size_t i = 0; i < n; i++)
        len += strlen(values[i]) + 1;
    text = xmalloc(len + 1);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(values[i]);
        memcpy(text + off, values[i], l);
        off += l;
        if (i + 1 < n)
            text[off++] = '\n';
    }
    text[off] = '\0';
    rc = store_begin(st);
    bool created = false;
    int refusal = 0;
    /* Checked in the write transaction that creates the upload (BEGIN IMMEDIATE): another
     * process on the store cannot start an upload in between, which this one would discard. */
    if (rc == STORE_OK && u->id == 0 && (refusal = start_refusal(call, app, &why)) != 0) {
        store_rollback(st);
        free(text);
        if (fresh) { /* the session stays as it was: not uploading */
            call->state = NULL;
            call->state_free = NULL;
            free(u);
        }
        if (refusal < 0) {
            store_failed(call, app);
        } else {
            adhoc_fail(call, &(struct text){why, NULL});
            free(why);
        }
        return;
    }
    if (rc == STORE_OK && u->id == 0) {
        char *actor = app_actor(call->requester);
        /* One upload at a time: a second would find the first's rows. */
        rc = store_import_create(st, actor, call->lang,
                                 form_bool(call->form, "edit_directory_users", false),
                                 form_bool(call->form, "audit", true), &u->id);
        created = true;
        free(actor);
    }
    if (rc == STORE_OK)
        rc = store_import_add_part(st, u->id, u->lines + 1, (int64_t)lines, text, off);
    if (rc == STORE_NOTFOUND && !created) {
        free(text);
        upload_gone(call, u);
        return;
    }
    /* The last part commits with the job that applies it: were they two transactions, a failed
     * job start would leave the part stored, and the part sent again would be stored twice. */
    if (rc == STORE_OK && more)
        rc = store_commit(st);
    free(text);
    if (rc != STORE_OK) {
        store_rollback(st);
        if (created)
            u->id = 0; /* the rollback took the upload's row: the part sent again makes it anew */
        store_failed(call, app);
        return;
    }
    u->lines += (int64_t)lines;
    app->import_upload = u->id; /* spared by import_job_startup() while parts come */
    log_info("import: upload %" PRId64 " part lines=%zu total=%" PRId64 " more=%d store_ms=%.1f",
             u->id, lines, u->lines, more, (double)(uv_hrtime() - t0) / 1e6);
    if (more) {
        char *en = xasprintf("Part stored: lines %" PRId64 " to %" PRId64 " (%" PRId64
                             " so far). Send the next part, with 'more' off on the last one.",
                             u->lines - (int64_t)lines + 1, u->lines, u->lines);
        char *ko = xasprintf("부분을 저장했습니다: %" PRId64 "~%" PRId64 "줄(지금까지 %" PRId64
                             "줄). 다음 부분을 보내고, 마지막 부분에서는 'more'를 끄십시오.",
                             u->lines - (int64_t)lines + 1, u->lines, u->lines);
        adhoc_note(call, ADHOC_NOTE_INFO, &(struct text){en, ko});
        free(en);
        free(ko);
        adhoc_replace(call, again(call), ADHOC_ALLOW_COMPLETE, ADHOC_COMPLETE);
        return;
    }
    /* The last part: the job starts. */
    struct store_import r;
    char total[32];
    int64_t job = 0;
    char *actor = app_actor(call->requester);

    snprintf(total, sizeof(total), "%" PRId64 " lines", u->lines);
    rc = store_job_create(st, STORE_JOB_USER_IMPORT, actor, total, u->lines, &job);
    if (rc == STORE_OK && (rc = store_import_get(st, u->id, &r)) == STORE_OK) {
        r.job_id = job;
        r.phase = STORE_IMPORT_APPLY;
        rc = store_import_update(st, &r);
        store_import_clear(&r);
    }
    if (rc == STORE_OK)
        rc = store_commit(st);
    free(actor);
    if (rc != STORE_OK) {
        store_rollback(st);
        u->lines -= (int64_t)lines; /* the last part went with the rollback */
        if (created)
            u->id = 0;
        app->import_upload = u->id;
        if (rc != STORE_CONFLICT) {
            store_failed(call, app);
            return;
        }
        /* Another job started while the parts came: nothing was applied; the upload goes. */
        adhoc_fail(call, &(struct text){"another job started while the lines were sent: nothing "
                                        "was imported; run the import again when it ended",
                                        "줄을 보내는 동안 다른 작업이 시작되었습니다. 아무것도 "
                                        "가져오지 않았습니다. 그 작업이 끝난 뒤 다시 "
                                        "실행하십시오"});
        if (u->id != 0)
            store_import_discard_upload(st, u->id);
        app->import_upload = 0;
        u->id = 0;
        u->lines = 0;
        return;
    }
    u->job = job;
    app->import_upload = 0; /* a job's lines now, no longer an upload */
    {
        char *what = xasprintf("users/import as job %" PRId64 ": %" PRId64 " lines", job, u->lines);
        app_audit(app, call->requester, call->node, STORE_OUTCOME_OK, what);
        free(what);
    }
    log_info("import: job started id=%" PRId64 " upload=%" PRId64 " lines=%" PRId64, job, u->id,
             u->lines);
    if (app->jobs) {
        job_runner_kick(app->jobs);
        job_runner_step(app->jobs); /* the first slice now, so the answer shows progress */
    }
    follow_view(call, u);
}

/* The job ended, but a newer large import has replaced its verdicts since: the session says so
 * and how the job ended (jobs/status keeps that). */
static void verdicts_gone(adhoc_call_t *call, const struct store_job *j)
{
    char *d = import_job_describe(j, call->lang);
    char *en = xasprintf("The verdicts of job %" PRId64 " are no longer kept: a newer large "
                         "import replaced them (only the last one's are kept). The job: %s",
                         j->id, d);
    char *ko = xasprintf("작업 %" PRId64 "의 결과는 더 이상 남아 있지 않습니다. 더 새로운 큰 "
                         "가져오기가 그것을 대신했습니다(마지막 것만 남습니다). 작업: %s",
                         j->id, d);

    adhoc_fail(call, &(struct text){en, ko});
    free(d);
    free(en);
    free(ko);
}

/* The verdicts, once the job ended: counts, the lines worth reading as a table, the audit. */
static void answer_done(adhoc_call_t *call, const struct store_job *j)
{
    struct app *app = call->ctx;
    struct store_import r;
    struct store_import_verdict *v = NULL;
    size_t n = 0;
    form_t *table, *counts;
    char *line;

    /* By the job, whose id the client sees and which is never handed out again: the import's
     * rows go when the next large import starts (only the last one's are kept). */
    enum store_rc rc = store_import_get_by_job(app->store, j->id, &r);
    if (rc == STORE_NOTFOUND) {
        verdicts_gone(call, j);
        return;
    }
    if (rc != STORE_OK ||
        store_import_verdicts(app->store, r.id, 0, ANSWER_MAX, &v, &n) != STORE_OK) {
        store_import_clear(&r);
        store_failed(call, app);
        return;
    }
    line = counts_line(&r, call->lang);
    adhoc_note_str(call, ADHOC_NOTE_INFO, line);
    free(line);
    if (r.counts[IMPORT_REJECTED] > 0)
        adhoc_note(call, ADHOC_NOTE_WARN, &T_REJECTED);
    if (j->state == STORE_JOB_CANCELED)
        adhoc_note(call, ADHOC_NOTE_WARN, &T_CANCELED);
    if (r.counts[IMPORT_UPDATED] + r.counts[IMPORT_REMOVED] + r.counts[IMPORT_REJECTED] >
        ANSWER_MAX) {
        char *en = xasprintf("Only the first %d updated, removed or rejected lines are listed "
                             "here; the counts cover every line.",
                             ANSWER_MAX);
        char *ko = xasprintf("변경·삭제·거부된 줄은 처음 %d개만 표시합니다. 건수는 모든 줄을 "
                             "셉니다.",
                             ANSWER_MAX);
        adhoc_note(call, ADHOC_NOTE_WARN, &(struct text){en, ko});
        free(en);
        free(ko);
    }
    if (r.summary) {
        line =
            xasprintf(i18n_is_korean(call->lang) ? "작업 %" PRId64 ": %s" : "job %" PRId64 ": %s",
                      j->id, r.summary);
        adhoc_note_str(call, ADHOC_NOTE_INFO, line);
        free(line);
    }
    table = form_new(FORM_RESULT);
    form_add_column(table, "line", FIELD_TEXT_SINGLE, &T_LINE);
    form_add_column(table, "userid", FIELD_TEXT_SINGLE, &T_USERID);
    form_add_column(table, "result", FIELD_TEXT_SINGLE, &T_RESULT);
    form_add_column(table, "reason", FIELD_TEXT_SINGLE, &T_REASON);
    for (int i = 0; i < IMPORT_V_COUNT; i++)
        form_column_value_label(table, "result", import_verdict_names[i], &verdict_texts[i]);
    for (size_t i = 0; i < n; i++) {
        char num[24];
        snprintf(num, sizeof(num), "%" PRId64, v[i].line);
        const char *cells[] = {num, v[i].userid, v[i].verdict, v[i].reason};
        form_add_row(table, cells);
    }
    store_import_verdicts_free(v, n);
    counts = form_new(FORM_RESULT);
    form_set_title(counts, &T_TITLE);
    add_num(counts, "job", FIELD_TEXT_SINGLE, &L_JOB, j->id);
    add_num(counts, "lines", FIELD_TEXT_SINGLE, &L_LINES, r.lines);
    for (int i = 0; i < IMPORT_V_COUNT; i++)
        add_num(counts, import_verdict_names[i], FIELD_TEXT_SINGLE, &L_COUNTS[i], r.counts[i]);
    add_text(counts, "state", &(struct text){"State", "상태"}, store_job_state_name(j->state));
    store_import_clear(&r);
    /* The counts first: a client that shows one form shows them; the table is paged. */
    adhoc_complete(call, table);
    adhoc_add_result(call, counts);
}

static void follow_view(adhoc_call_t *call, struct upload *u)
{
    struct app *app = call->ctx;
    struct store_job j;
    form_t *form;
    char *d;

    if (store_job_get(app->store, u->job, &j) != STORE_OK) {
        store_failed(call, app);
        return;
    }
    if (!store_job_state_active(j.state)) {
        answer_done(call, &j);
        store_job_clear(&j);
        return;
    }
    d = import_job_describe(&j, call->lang);
    form = form_new(FORM_FORM);
    form_set_title(form, &T_TITLE);
    form_add_instructions(form, j.state == STORE_JOB_FAILED ? &T_FAILED : &T_FOLLOW);
    form_add_fixed(form, &(struct text){d, NULL});
    /* For programs: where the job is, without parsing the sentence. */
    add_num(form, "job", FIELD_HIDDEN, &L_JOB, j.id);
    add_num(form, "done", FIELD_HIDDEN, &L_APPLIED, j.done);
    add_num(form, "total", FIELD_HIDDEN, &L_LINES, j.total > j.done ? j.total : j.done);
    form_field_add_value(
        form_add_field(form, "state", FIELD_HIDDEN, &(struct text){"State", "상태"}),
        store_job_state_name(j.state));
    adhoc_note_str(call, j.state == STORE_JOB_FAILED ? ADHOC_NOTE_WARN : ADHOC_NOTE_INFO, d);
    free(d);
    store_job_clear(&j);
    adhoc_replace(call, form, ADHOC_ALLOW_NEXT | ADHOC_ALLOW_COMPLETE, ADHOC_NEXT);
}

void import_job_follow(adhoc_call_t *call)
{
    struct upload *u = call->state;
    struct app *app = call->ctx;
    struct store_job j;

    if (call->action == ADHOC_COMPLETE) {
        if (store_job_get(app->store, u->job, &j) != STORE_OK) {
            store_failed(call, app);
            return;
        }
        if (!store_job_state_active(j.state)) {
            answer_done(call, &j);
        } else {
            char *d = import_job_describe(&j, call->lang);
            adhoc_complete(call, NULL);
            adhoc_note_str(call, ADHOC_NOTE_INFO, d);
            adhoc_note(call, ADHOC_NOTE_INFO, &T_GOES_ON);
            free(d);
        }
        store_job_clear(&j);
        return;
    }
    follow_view(call, u);
}

/* ---- the job: slices ---- */

/* The part the slices read, kept between slices (a part is up to a control frame). */
static struct part_cache {
    struct store *st;
    int64_t import_id, first, lines;
    char *text;
    size_t len;
    int64_t line; /* the line that starts at text + off */
    size_t off;
} cache;

static void cache_drop(void)
{
    free(cache.text);
    memset(&cache, 0, sizeof(cache));
}

/* Points cache.line/off at line `line` of import `id`, reading its part when needed. */
static enum store_rc cache_seek(struct store *st, int64_t id, int64_t line)
{
    if (cache.st != st || cache.import_id != id || line < cache.first ||
        line >= cache.first + cache.lines) {
        cache_drop();
        enum store_rc rc =
            store_import_part_at(st, id, line, &cache.first, &cache.lines, &cache.text, &cache.len);
        if (rc != STORE_OK) {
            cache_drop();
            return rc;
        }
        cache.st = st;
        cache.import_id = id;
        cache.line = cache.first;
        cache.off = 0;
    }
    if (line < cache.line) {
        cache.line = cache.first;
        cache.off = 0;
    }
    while (cache.line < line) {
        const char *nl = memchr(cache.text + cache.off, '\n', cache.len - cache.off);
        cache.off = nl ? (size_t)(nl - cache.text) + 1 : cache.len;
        cache.line++;
    }
    return STORE_OK;
}

struct slice {
    struct store *st;
    struct store_import *r;
    int64_t first; /* the slice's first line */
    char *codes;
    enum store_rc rc; /* a verdict that could not be stored */
};

static void on_verdict(void *ud, size_t lineno, const char *userid, enum import_verdict v,
                       const char *reason)
{
    struct slice *sl = ud;

    sl->codes[(int64_t)lineno - sl->first] = verdict_codes[v];
    sl->r->counts[v]++;
    if ((v == IMPORT_UPDATED || v == IMPORT_REMOVED || v == IMPORT_REJECTED) && sl->rc == STORE_OK)
        sl->rc = store_import_add_verdict(sl->st, sl->r->id, (int64_t)lineno, userid,
                                          import_verdict_names[v], reason);
}

static void fail_job(struct app *app, struct store_job *j, const char *why)
{
    struct store *st = app->store;

    log_warnx("import: job failed id=%" PRId64 " done=%" PRId64 " error=%s", j->id, j->done, why);
    if (store_job_set_state(st, j->id, STORE_JOB_FAILED, why) != STORE_OK)
        log_error("import: cannot record the failure of job %" PRId64 ": %s; it resumes at the "
                  "next start",
                  j->id, store_errmsg(st));
    app_audit(app, JOB_ACTOR, "job/user-import", STORE_OUTCOME_ERROR, why);
}

/* This thread's CPU time in nanoseconds. */
static uint64_t cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Applies the lines after r->cursor, up to IMPORT_SLICE_LINES of them, IMPORT_SLICE_MS of CPU or
 * IMPORT_SLICE_WALL_MS of wall time, in one transaction with their verdicts and the cursor. The
 * CPU bound keeps slices (and so commits) the same size on a busy machine, where the wall clock
 * also counts the time other processes ran; the wall bound caps what a busy machine adds. */
static int apply_slice(struct app *app, struct store_job *j, struct store_import *r)
{
    struct store *st = app->store;
    uint64_t t0 = uv_hrtime(), c0 = cpu_ns(), budget = (uint64_t)IMPORT_SLICE_MS * 1000000u;
    struct slice sl = {.st = st, .r = r, .first = r->cursor + 1};
    struct import_lines *il = import_lines_new(st, r->lang, r->edit_directory, on_verdict, &sl);
    struct store_import before = *r;
    int64_t n = 0;
    /* Bulk: the lines' node ids are looked up in this transaction (import_lines.c), and the
     * slice's other rows name this import and its job, which exist. */
    enum store_rc rc = store_begin_bulk(st);
    char *why = NULL;

    sl.codes = xmalloc(IMPORT_SLICE_LINES + 1);
    if (rc == STORE_OK)
        rc = import_lines_begin(il);
    while (rc == STORE_OK && r->cursor < r->lines && n < IMPORT_SLICE_LINES) {
        int64_t line = r->cursor + 1;
        rc = cache_seek(st, r->id, line);
        if (rc == STORE_NOTFOUND) {
            why = xasprintf("line %" PRId64 " of %" PRId64 " is missing from the store", line,
                            r->lines);
            rc = STORE_ERR;
        } else if (rc != STORE_OK) {
            why = xasprintf("the store failed at line %" PRId64 ": %s", line, store_errmsg(st));
        }
        if (rc != STORE_OK)
            break;
        const char *p = cache.text + cache.off;
        const char *nl = memchr(p, '\n', cache.len - cache.off);
        size_t len = nl ? (size_t)(nl - p) : cache.len - cache.off;
        sl.codes[n] = '-';
        if (import_lines_one(il, (size_t)line, p, len) == -1 || sl.rc != STORE_OK) {
            why = xasprintf("the store failed at line %" PRId64 ": %s", line, store_errmsg(st));
            rc = STORE_ERR;
            break;
        }
        cache.off = nl ? cache.off + len + 1 : cache.len;
        cache.line++;
        r->cursor = line;
        n++;
        if ((n & 31) == 0 && (cpu_ns() - c0 >= budget ||
                              uv_hrtime() - t0 >= (uint64_t)IMPORT_SLICE_WALL_MS * 1000000u))
            break;
    }
    sl.codes[n] = '\0';
    uint64_t t_lines = uv_hrtime(); /* what follows (verdicts, counts, commit) is the tail */
    if (rc == STORE_OK && n > 0)
        rc = store_import_add_codes(st, r->id, sl.first, sl.codes);
    if (rc == STORE_OK) {
        if (r->cursor >= r->lines)
            r->phase = STORE_IMPORT_AUDIT;
        rc = store_import_update(st, r);
    }
    if (rc == STORE_OK)
        rc = store_job_progress(st, j->id, r->cursor, r->cursor);
    if (rc == STORE_OK)
        rc = store_commit(st);
    import_lines_free(il);
    free(sl.codes);
    if (rc != STORE_OK) {
        /* Not inside a line: saving the slice (its verdicts, the cursor, the commit) failed,
         * after r->cursor moved past every line of it. */
        if (why == NULL && n > 0)
            why = xasprintf("the store failed saving lines %" PRId64 " to %" PRId64 ": %s",
                            before.cursor + 1, r->cursor, store_errmsg(st));
        else if (why == NULL)
            why = xasprintf("the store failed at line %" PRId64 ": %s", before.cursor + 1,
                            store_errmsg(st));
        store_rollback(st);
        cache_drop(); /* its position went past what was rolled back */
        memcpy(r->counts, before.counts, sizeof(r->counts));
        r->cursor = before.cursor;
        r->phase = before.phase;
        fail_job(app, j, why);
        free(why);
        return 0;
    }
    log_debug("import: slice job=%" PRId64 " lines=%" PRId64 " cursor=%" PRId64
              " tail_ms=%.1f ms=%.1f cpu_ms=%.1f",
              j->id, n, r->cursor, (double)(uv_hrtime() - t_lines) / 1e6,
              (double)(uv_hrtime() - t0) / 1e6, (double)(cpu_ns() - c0) / 1e6);
    return 1;
}

/* The end: the audit (walking the domains in use), the job's end, in one transaction; then the
 * router once and the audit log. */
static int finish(struct app *app, struct store_job *j, struct store_import *r)
{
    struct store *st = app->store;
    struct sync_report rep = {0};
    char *err = NULL, *line = NULL;
    uint64_t t0 = uv_hrtime(), c0 = cpu_ns();
    enum store_rc rc = store_begin(st);
    const int64_t *c = r->counts;

    if (rc == STORE_OK && r->audit && sync_run_walk(st, peers_counted_now(app), &rep, &err) == -1)
        rc = STORE_ERR;
    if (rc == STORE_OK) {
        line = r->audit ? sync_report_summary_line(&rep) : xstrdup("off");
        free(r->summary);
        r->summary =
            xasprintf("lines=%" PRId64 " applied=%" PRId64 " added=%" PRId64 " updated=%" PRId64
                      " unchanged=%" PRId64 " removed=%" PRId64 " rejected=%" PRId64 "; audit: %s",
                      r->lines, r->cursor, c[0], c[1], c[2], c[3], c[4], line);
        r->phase = STORE_IMPORT_DONE;
        rc = store_import_update(st, r);
    }
    if (rc == STORE_OK) {
        j->state = r->canceled ? STORE_JOB_CANCELED : STORE_JOB_COMPLETED;
        j->done = r->cursor;
        j->cursor = r->cursor;
        free(j->error);
        j->error = NULL;
        rc = store_job_update(st, j);
    }
    if (rc == STORE_OK)
        rc = store_commit(st);
    if (rc != STORE_OK) {
        char *why = xasprintf("the final sync audit failed: %s", err ? err : store_errmsg(st));
        store_rollback(st);
        fail_job(app, j, why);
        free(why);
    } else {
        log_info("import: job done id=%" PRId64 " state=%s %s (ms=%.1f cpu_ms=%.1f)", j->id,
                 store_job_state_name(j->state), r->summary, (double)(uv_hrtime() - t0) / 1e6,
                 (double)(cpu_ns() - c0) / 1e6);
        app_audit(app, JOB_ACTOR, "job/user-import",
                  r->canceled ? STORE_OUTCOME_CANCELED : STORE_OUTCOME_OK, r->summary);
        if (sync_report_local_changed(&rep)) {
            topology_audit_release_finding(app, JOB_ACTOR, IMPORT_JOB_NODE);
            app_apply_domains(app, JOB_ACTOR, NULL, NULL);
        }
        cache_drop();
    }
    free(err);
    free(line);
    sync_report_clear(&rep);
    return 0;
}

int import_job_step(struct app *app, struct store_job *j)
{
    struct store_import r;
    int more = 0;

    if (store_import_get_by_job(app->store, j->id, &r) != STORE_OK) {
        fail_job(app, j, "the import's lines are missing from the store");
        return 0;
    }
    switch (r.phase) {
    case STORE_IMPORT_APPLY:
        more = apply_slice(app, j, &r);
        break;
    case STORE_IMPORT_AUDIT:
    case STORE_IMPORT_DONE:
        more = finish(app, j, &r);
        break;
    case STORE_IMPORT_UPLOAD:
        fail_job(app, j, "the import's upload never finished");
        break;
    }
    store_import_clear(&r);
    return more;
}

enum store_rc import_job_restart(struct store *st, struct store_job *j, bool cancel)
{
    struct store_import r;
    enum store_rc rc = store_import_get_by_job(st, j->id, &r);

    if (rc == STORE_NOTFOUND && cancel) {
        /* Its lines are gone (only a damaged store loses them): there is nothing left to apply
         * or audit, and a job left failed would keep every other job from starting. */
        j->state = STORE_JOB_CANCELED;
        j->attempts++;
        free(j->error);
        j->error = xstrdup("canceled with its lines missing from the store: the lines applied "
                           "before stay; run sync/audit");
        return store_job_update(st, j);
    }
    if (rc != STORE_OK)
        return rc;
    if (cancel) {
        r.canceled = true;
        if (r.phase == STORE_IMPORT_APPLY || r.phase == STORE_IMPORT_UPLOAD)
            r.phase = STORE_IMPORT_AUDIT;
    }
    j->state = STORE_JOB_RUNNING;
    j->attempts++;
    free(j->error);
    j->error = NULL;
    rc = store_import_update(st, &r);
    if (rc == STORE_OK)
        rc = store_job_update(st, j);
    store_import_clear(&r);
    return rc;
}

/* Not only at the process's start: the daemon resumes the runner again each time the instance
 * becomes active, and a session of ours may be sending an upload then (the control socket serves
 * before the role is settled); that one goes on. */
void import_job_startup(struct app *app)
{
    if (store_import_discard_uploads_but(app->store, app->import_upload) != STORE_OK)
        log_warnx("import: cannot discard interrupted uploads: %s", store_errmsg(app->store));
}

void import_job_register_kind(void)
{
    static const struct job_kind kind = {.step = import_job_step,
                                         .restart = import_job_restart,
                                         .describe = import_job_describe,
                                         .startup = import_job_startup};

    job_register_kind(STORE_JOB_USER_IMPORT, &kind);
}
