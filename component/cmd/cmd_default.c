/* `default-domain` (show the cluster's default domain and its preconditions, then start the job
 * that changes it) and `jobs/status` (a job's progress, refreshed on `next`; for a failed job
 * `next` = Retry and `cancel` = Cancel, which rolls back). The job itself is component/engine/job.c. */
#include "component/cmd/commands.h"

#include "component/engine/dir_sync.h"
#include "component/engine/domain_rules.h"
#include "component/engine/import_job.h"
#include "component/engine/job.h"
#include "component/engine/precond.h"
#include "store/store_domain.h"
#include "store/store_settings.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define DD_MAX_OPTIONS 1000 /* local domains offered as choices; any valid name may be typed */

/* ---- shared answers ---- */

/* internal-server-error naming the store's failure; nothing changed. */
static void store_failed(adhoc_call_t *call, struct app *app)
{
    char *s = xasprintf(i18n_is_korean(call->lang) ? "저장소 오류로 아무것도 바꾸지 않았습니다: %s"
                                                   : "nothing was changed: the store failed: %s",
                        store_errmsg(app->store));

    log_warnx("%s: store error: %s", call->node, store_errmsg(app->store));
    adhoc_refuse(call, "internal-server-error", NULL, s);
    free(s);
}

/* A completed command with an error note: `text` is already in the request's language. */
static void fail_str(adhoc_call_t *call, const char *text)
{
    struct text t = {text, NULL};
    adhoc_fail(call, &t);
}

/* A fixed line already in the request's language. */
static void add_line(form_t *form, const char *line)
{
    struct text t = {line, NULL};
    form_add_fixed(form, &t);
}

/* ---- default-domain ---- */

static const struct text T_DD_TITLE = {"Default domain", "기본 도메인"};
static const struct text T_DD_INSTR = {
    "The default domain is the domain of every IM address under the userid@default scheme (and "
    "of users without a directory URI under the directory-uri scheme). Changing it never "
    "changes a node's DNS domain. It starts a job that rewrites the IM addresses in batches; "
    "follow it with jobs/status. The guide requires HA disabled on every presence redundancy "
    "group and the services stopped on every node first.",
    "기본 도메인은 userid@default 체계에서 모든 IM 주소의 도메인입니다(directory-uri 체계에서는 "
    "디렉터리 URI가 없는 사용자의 도메인). 바꿔도 노드의 DNS 도메인은 바뀌지 않습니다. 변경하면 "
    "IM 주소를 일괄로 다시 쓰는 작업이 시작되며 jobs/status에서 진행 상황을 볼 수 있습니다. "
    "가이드에 따라 먼저 모든 프레즌스 이중화 그룹에서 HA를 끄고 모든 노드의 서비스를 중지해야 "
    "합니다."};
static const struct text T_DD_FIELD = {"New default domain", "새 기본 도메인"};
static const struct text T_DD_DESC = {"Pick a local domain or type another valid domain name.",
                                      "로컬 도메인을 고르거나 올바른 도메인 이름을 입력하세요."};

/* The lines at the top of the form: current value, scheme, preconditions, job in flight. */
static void dd_status_lines(form_t *form, struct app *app, const struct store_settings *s,
                            const char *lang)
{
    bool ko = i18n_is_korean(lang);
    bool unset = strcmp(s->default_domain, DOMAIN_PLACEHOLDER) == 0;
    char *why = precond_domain_change(app, lang), *line;
    struct store_job j;

    line =
        xasprintf(ko ? "현재 기본 도메인: %s%s" : "Current default domain: %s%s", s->default_domain,
                  !unset ? ""
                  : ko   ? " (아직 설정되지 않음)"
                         : " (not set yet)");
    add_line(form, line);
    free(line);
    line = xasprintf(ko ? "IM 주소 체계: %s" : "IM address scheme: %s",
                     store_im_scheme_name(s->im_address_scheme));
    add_line(form, line);
    free(line);
    line = why ? xasprintf(ko ? "전제 조건: 충족되지 않음. %s" : "Preconditions: not met. %s", why)
               : xstrdup(ko ? "전제 조건: 충족됨" : "Preconditions: met");
    add_line(form, line);
    free(line);
    free(why);
    if (store_job_get_active(app->store, &j) == STORE_OK) {
        char *d = job_describe(&j, lang);
        line = xasprintf(ko ? "진행 중인 작업: %s" : "Job in flight: %s", d);
        add_line(form, line);
        free(line);
        free(d);
        store_job_clear(&j);
    }
}

/* The `domain` field: the local domains as choices, open to any name. */
static void dd_domain_field(form_t *form, struct app *app)
{
    form_field_t *f = form_add_field(form, "domain", FIELD_LIST_SINGLE, &T_DD_FIELD);
    struct store_domain *list = NULL;
    size_t n = 0, shown = 0;

    form_field_set_desc(f, &T_DD_DESC);
    form_field_set_required(f, true);
    form_field_set_open(f, true);
    if (store_domain_list(app->store, NULL, NULL, 0, &list, &n) != STORE_OK)
        log_warnx("default-domain: cannot list domains: %s", store_errmsg(app->store));
    for (size_t i = 0; i < n && shown < DD_MAX_OPTIONS; i++) {
        if (list[i].configured_local) {
            form_field_add_option(f, list[i].name, NULL);
            shown++;
        }
    }
    store_domain_list_free(list, n);
}

static void dd_show(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    struct store_settings s;
    form_t *form;

    if (store_settings_get(app->store, &s) != STORE_OK) {
        store_failed(call, app);
        return;
    }
    form = form_new(FORM_FORM);
    form_set_title(form, &T_DD_TITLE);
    form_add_instructions(form, &T_DD_INSTR);
    dd_status_lines(form, app, &s, call->lang);
    dd_domain_field(form, app);
    store_settings_clear(&s);
    adhoc_show(call, form, ADHOC_ALLOW_COMPLETE, ADHOC_COMPLETE);
}

/* Why the change may not start (in call->lang, malloc'd), or NULL. Inside the transaction.
 * A job in flight is among the preconditions (precond_domain_change names it). */
static char *dd_refusal(struct app *app, const char *domain, const char *lang)
{
    bool ko = i18n_is_korean(lang);
    struct store_settings s;
    char *why = precond_domain_change(app, lang);

    if (why)
        return why;
    if (store_settings_get(app->store, &s) == STORE_OK && strcmp(s.default_domain, domain) == 0)
        why = xasprintf(ko ? "%s은(는) 이미 기본 도메인입니다. 바뀐 것은 없습니다"
                           : "%s is already the default domain; nothing changed",
                        domain);
    store_settings_clear(&s);
    return why;
}

/* The answer once the job is created: its id, and the progress of a first batch. */
static void dd_started(adhoc_call_t *call, struct app *app, int64_t id)
{
    struct store_job j;
    char *d, *note;

    if (app->jobs)
        job_runner_step(app->jobs); /* the first batch now, so the answer shows real progress */
    if (store_job_get(app->store, id, &j) != STORE_OK) {
        store_failed(call, app);
        return;
    }
    d = job_describe(&j, call->lang);
    note = xasprintf(i18n_is_korean(call->lang)
                         ? "작업 %" PRId64 "을(를) 시작했습니다: %s. 진행 상황은 jobs/status에서 "
                           "볼 수 있습니다"
                         : "started job %" PRId64 ": %s. Follow it with jobs/status",
                     id, d);
    log_info("default-domain: job started id=%" PRId64 " new=%s", id, j.new_value);
    adhoc_complete(call, NULL);
    adhoc_note_str(call, ADHOC_NOTE_INFO, note);
    free(note);
    free(d);
    store_job_clear(&j);
}

static void dd_submit(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    const char *raw = form_value(call->form, "domain");
    char name[DOMAIN_NAME_BUF], *why, *text;
    enum domain_rule rule = domain_rules_check(raw, name);
    int64_t id = 0;
    enum store_rc rc;

    if (rule != DOMAIN_OK) {
        text = xasprintf(i18n_is_korean(call->lang) ? "'%.255s'은(는) 쓸 수 없습니다: %s"
                                                    : "'%.255s' cannot be used: %s",
                         raw ? raw : "", domain_rules_explain(rule, call->lang));
        adhoc_refuse(call, "bad-request", "bad-payload", text);
        free(text);
        return;
    }
    if (store_begin(app->store) != STORE_OK) {
        store_failed(call, app);
        return;
    }
    if ((why = dd_refusal(app, name, call->lang)) != NULL) {
        store_rollback(app->store);
        fail_str(call, why);
        free(why);
        return;
    }
    rc = job_create(app->store, STORE_JOB_DEFAULT_DOMAIN, name, &id);
    if (rc == STORE_OK)
        rc = store_commit(app->store);
    if (rc != STORE_OK) {
        store_failed(call, app);
        store_rollback(app->store);
        return;
    }
    if (app->jobs)
        job_runner_kick(app->jobs);
    dd_started(call, app, id);
}

static void dd_step(adhoc_call_t *call)
{
    if (call->stage == 0)
        dd_show(call);
    else
        dd_submit(call);
}

static const struct adhoc_command dd_def = {
    .node = "default-domain",
    .name = {"Default domain", "기본 도메인"},
    .step = dd_step,
};

/* ---- jobs/status ---- */

/* The session's state: the job looked at, and whether the last view offered Retry/Cancel. */
struct js_state {
    int64_t job;
    bool offered; /* the job was shown failed: next = Retry, cancel = Cancel */
};

static const struct text T_JS_TITLE = {"Job status", "작업 상태"};
static const struct text T_JS_PICK = {"Job", "작업"};
static const struct text T_JS_INSTR = {
    "Pick a job; the unfinished one is preselected. You may also type a job number.",
    "작업을 고르세요. 끝나지 않은 작업이 미리 선택되어 있습니다. 작업 번호를 입력해도 됩니다."};
static const struct text T_JS_NONE = {
    "No jobs yet: default-domain and a change of the IM address scheme in settings start them.",
    "아직 작업이 없습니다. default-domain 명령이나 settings에서 IM 주소 체계를 바꾸면 작업이 "
    "시작됩니다."};
static const struct text T_JS_RUNNING = {
    "The job runs in the background. Next refreshes this view; complete closes it (the job goes "
    "on).",
    "작업은 백그라운드에서 실행됩니다. 다음(next)을 누르면 새로 고치고, 완료(complete)를 누르면 "
    "이 화면을 닫습니다(작업은 계속됩니다)."};
static const struct text T_JS_FAILED = {
    "The job failed. Next = Retry: go on from where it stopped (every step can safely run "
    "again). Cancel = roll back to the old value, rewriting the addresses back in batches. "
    "Complete closes this view and leaves the job failed.",
    "작업이 실패했습니다. 다음(next) = 재시도: 멈춘 곳부터 계속합니다(모든 단계는 다시 실행해도 "
    "안전합니다). 취소(cancel) = 이전 값으로 롤백하며 주소를 일괄로 되돌립니다. 완료(complete)는 "
    "이 화면을 닫고 작업을 실패 상태로 둡니다."};
static const struct text T_JS_FAILED_BACK = {
    "The rollback failed. Next = Retry and Cancel both go on rolling back from where it stopped. "
    "Complete closes this view and leaves the job failed.",
    "롤백이 실패했습니다. 다음(next) = 재시도와 취소(cancel) 모두 멈춘 곳부터 롤백을 계속합니다. "
    "완료(complete)는 이 화면을 닫고 작업을 실패 상태로 둡니다."};
static const struct text T_JS_DIR_FAILED = {
    "The directory sync failed; the error says why. Next = Retry: read the directory again (or, "
    "after a failure while applying, go on from where it stopped). Cancel = end the job; what "
    "was applied stays and the next sync converges. Complete closes this view.",
    "디렉터리 동기화가 실패했습니다. 오류에 이유가 있습니다. 다음(next) = 재시도: 디렉터리를 다시 "
    "읽습니다(적용 중 실패했다면 멈춘 곳부터 계속합니다). 취소(cancel) = 작업을 끝냅니다. 이미 "
    "적용된 것은 남고 다음 동기화가 맞춥니다. 완료(complete)는 이 화면을 닫습니다."};
static const struct text T_JS_DIR_CONFIRM = {
    "Safety stop: the directory returned far fewer users than before and nothing was changed. "
    "Next = apply it anyway (the missing users are removed). Cancel = discard this sync (nothing "
    "changes). Complete closes this view and leaves the job waiting.",
    "안전 정지: 디렉터리가 이전보다 훨씬 적은 사용자를 돌려주어 아무것도 바꾸지 않았습니다. "
    "다음(next) = 그래도 적용합니다(없어진 사용자가 삭제됩니다). 취소(cancel) = 이 동기화를 "
    "버립니다(아무것도 바뀌지 않습니다). 완료(complete)는 이 화면을 닫고 작업을 기다리게 둡니다."};
static const struct text T_JS_IMPORT_FAILED = {
    "The users/import job failed; the lines before the failure are applied. Next = Retry: go on "
    "from there. Cancel = apply no more lines: the sync audit runs over what was applied and the "
    "job ends canceled (applied lines stay). Complete closes this view and leaves the job failed.",
    "사용자 가져오기 작업이 실패했습니다. 실패 전의 줄은 적용되었습니다. 다음(next) = 재시도: "
    "거기서부터 계속합니다. 취소(cancel) = 더 적용하지 않습니다. 적용된 것에 대해 동기화 감사를 "
    "실행하고 작업을 취소로 끝냅니다(적용된 줄은 남습니다). 완료(complete)는 이 화면을 닫고 작업을 "
    "실패 상태로 둡니다."};
static const struct text T_JS_IMPORT_CANCEL = {
    "Canceled: no more lines are applied; the sync audit runs over what was, then the job ends.",
    "취소했습니다. 더 이상 줄을 적용하지 않으며, 적용된 것에 대해 동기화 감사를 실행한 뒤 작업을 "
    "끝냅니다."};
static const struct text T_JS_DIR_CANCEL = {"Canceled: the directory sync ended.",
                                            "취소했습니다. 디렉터리 동기화를 끝냈습니다."};
static const struct text T_JS_RETRY = {"Retry started.", "재시도를 시작했습니다."};
static const struct text T_JS_CANCEL = {
    "Cancel started: the old value is back and the addresses are being rewritten to it; follow "
    "it with jobs/status.",
    "취소를 시작했습니다: 이전 값으로 되돌렸고 주소를 되돌려 쓰는 중입니다. jobs/status에서 "
    "진행 상황을 볼 수 있습니다."};
static const struct text T_JS_GOES_ON = {"Closed; the job goes on.",
                                         "닫았습니다. 작업은 계속됩니다."};

static void js_free(void *state)
{
    free(state);
}

static struct js_state *js_state(adhoc_call_t *call)
{
    if (call->state == NULL) {
        call->state = xcalloc(1, sizeof(struct js_state));
        call->state_free = js_free;
    }
    return call->state;
}

static void js_pick(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    struct store_job *list = NULL;
    size_t n = 0;
    form_t *form;
    form_field_t *f;
    int64_t dflt;

    if (store_job_list(app->store, JOB_RECENT_MAX, &list, &n) != STORE_OK) {
        store_failed(call, app);
        return;
    }
    if (n == 0) {
        adhoc_complete(call, NULL);
        adhoc_note(call, ADHOC_NOTE_INFO, &T_JS_NONE);
        return;
    }
    form = form_new(FORM_FORM);
    form_set_title(form, &T_JS_TITLE);
    form_add_instructions(form, &T_JS_INSTR);
    f = form_add_field(form, "job", FIELD_LIST_SINGLE, &T_JS_PICK);
    form_field_set_required(f, true);
    form_field_set_open(f, true);
    dflt = list[0].id;
    for (size_t i = 0; i < n; i++) {
        char id[24], *label = job_label(&list[i], call->lang);
        struct text t = {label, NULL};
        snprintf(id, sizeof(id), "%" PRId64, list[i].id);
        form_field_add_option(f, id, &t);
        free(label);
        if (store_job_state_active(list[i].state))
            dflt = list[i].id;
    }
    form_field_add_int(f, dflt);
    store_job_list_free(list, n);
    adhoc_show(call, form, ADHOC_ALLOW_NEXT, ADHOC_NEXT);
}

/* The job's fields as a result form, for the completed answer. */
static form_t *js_result(struct store *st, const struct store_job *j, const char *lang)
{
    static const struct text labels[] = {
        {"Job", "작업"},          {"Kind", "종류"},          {"State", "상태"},
        {"Old value", "이전 값"}, {"New value", "새 값"},    {"Done", "처리됨"},
        {"Total", "전체"},        {"Attempts", "시도 횟수"}, {"Error", "오류"},
    };
    static const char *const vars[] = {"job",  "kind",  "state",    "old_value", "new_value",
                                       "done", "total", "attempts", "error"};
    char num[4][24];
    const char *values[9] = {num[0],
                             store_job_kind_name(j->kind),
                             store_job_state_name(j->state),
                             j->old_value ? j->old_value : "",
                             j->new_value ? j->new_value : "",
                             num[1],
                             num[2],
                             num[3],
                             j->error ? j->error : ""};
    form_t *form = form_new(FORM_RESULT);

    snprintf(num[0], sizeof(num[0]), "%" PRId64, j->id);
    snprintf(num[1], sizeof(num[1]), "%" PRId64, j->done);
    snprintf(num[2], sizeof(num[2]), "%" PRId64, j->total > j->done ? j->total : j->done);
    snprintf(num[3], sizeof(num[3]), "%" PRId64, j->attempts);
    form_set_title(form, &T_JS_TITLE);
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        form_field_add_value(form_add_field(form, vars[i], FIELD_TEXT_SINGLE, &labels[i]),
                             values[i]);
    if (j->kind == STORE_JOB_DIRECTORY_SYNC)
        dir_sync_add_fields(st, j, form, lang);
    if (j->kind == STORE_JOB_USER_IMPORT)
        import_job_add_fields(st, j, form, lang);
    return form;
}

/* Completes with the job's fields and a note on its state. */
static void js_done(adhoc_call_t *call, const struct store_job *j)
{
    char *d = job_describe(j, call->lang);

    adhoc_complete(call, js_result(((struct app *)call->ctx)->store, j, call->lang));
    adhoc_note_str(call, j->state == STORE_JOB_FAILED ? ADHOC_NOTE_WARN : ADHOC_NOTE_INFO, d);
    free(d);
}

/* Shows the job: finished → completed; running → a view refreshed by next; failed → Retry and
 * Cancel offered. `replace` keeps the stage number (a refresh). */
static void js_view(adhoc_call_t *call, const struct store_job *j, bool replace)
{
    struct app *app = call->ctx;
    struct js_state *s = js_state(call);
    bool failed = j->state == STORE_JOB_FAILED;
    char *d;
    form_t *form;

    s->offered = failed;
    if (!store_job_state_active(j->state)) {
        js_done(call, j);
        return;
    }
    d = job_describe(j, call->lang);
    form = form_new(FORM_FORM);
    form_set_title(form, &T_JS_TITLE);
    form_add_instructions(form, !failed                                      ? &T_JS_RUNNING
                                : dir_sync_waits_confirmation(app->store, j) ? &T_JS_DIR_CONFIRM
                                : j->kind == STORE_JOB_DIRECTORY_SYNC        ? &T_JS_DIR_FAILED
                                : j->kind == STORE_JOB_USER_IMPORT           ? &T_JS_IMPORT_FAILED
                                : job_failed_in_rollback(app->store, j)      ? &T_JS_FAILED_BACK
                                                                             : &T_JS_FAILED);
    add_line(form, d);
    adhoc_note_str(call, failed ? ADHOC_NOTE_WARN : ADHOC_NOTE_INFO, d);
    free(d);
    if (replace)
        adhoc_replace(call, form, ADHOC_ALLOW_NEXT | ADHOC_ALLOW_COMPLETE, ADHOC_NEXT);
    else
        adhoc_show(call, form, ADHOC_ALLOW_NEXT | ADHOC_ALLOW_COMPLETE, ADHOC_NEXT);
}

/* Reads job `id` into *j, answering the call when it cannot. */
static bool js_load(adhoc_call_t *call, int64_t id, struct store_job *j)
{
    struct app *app = call->ctx;
    enum store_rc rc = store_job_get(app->store, id, j);
    char *text;

    if (rc == STORE_OK)
        return true;
    if (rc != STORE_NOTFOUND) {
        store_failed(call, app);
        return false;
    }
    text = xasprintf(i18n_is_korean(call->lang) ? "작업 %" PRId64 "이(가) 없습니다"
                                                : "there is no job %" PRId64,
                     id);
    adhoc_refuse(call, "bad-request", "bad-payload", text);
    free(text);
    return false;
}

static void js_chosen(adhoc_call_t *call)
{
    const char *raw = form_value(call->form, "job");
    struct store_job j;
    char *end = NULL;
    long long id;

    errno = 0;
    id = raw ? strtoll(raw, &end, 10) : 0;
    if (raw == NULL || *raw == '\0' || *end != '\0' || errno != 0 || id <= 0) {
        adhoc_refuse(call, "bad-request", "bad-payload",
                     i18n_is_korean(call->lang) ? "job 값은 작업 번호여야 합니다"
                                                : "job must be a job number");
        return;
    }
    if (!js_load(call, id, &j))
        return;
    js_state(call)->job = id;
    js_view(call, &j, false);
    store_job_clear(&j);
}

/* On the status view: next refreshes, or retries a job shown failed; complete closes. */
static void js_again(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    struct js_state *s = js_state(call);
    struct store_job j;
    bool retried = false;

    if (call->action == ADHOC_NEXT && s->offered && app->jobs)
        retried = job_retry(app->jobs, s->job) == STORE_OK;
    if (!js_load(call, s->job, &j))
        return;
    if (call->action == ADHOC_COMPLETE) {
        js_done(call, &j);
        adhoc_note(call, ADHOC_NOTE_INFO, &T_JS_GOES_ON);
    } else {
        if (retried)
            adhoc_note(call, ADHOC_NOTE_INFO, &T_JS_RETRY);
        js_view(call, &j, true);
    }
    store_job_clear(&j);
}

static void js_step(adhoc_call_t *call)
{
    if (call->stage == 0)
        js_pick(call);
    else if (call->stage == 1)
        js_chosen(call);
    else
        js_again(call);
}

/* Cancel on a view that offered it rolls the failed job back; anywhere else it only closes. */
static void js_cancel(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    struct js_state *s = call->state;

    struct store_job j;
    enum store_job_kind kind = STORE_JOB_DEFAULT_DOMAIN;

    if (s == NULL || !s->offered || app->jobs == NULL)
        return;
    if (store_job_get(app->store, s->job, &j) == STORE_OK)
        kind = j.kind;
    store_job_clear(&j);
    if (job_cancel(app->jobs, s->job) == STORE_OK)
        adhoc_note(call, ADHOC_NOTE_INFO,
                   kind == STORE_JOB_DIRECTORY_SYNC ? &T_JS_DIR_CANCEL
                   : kind == STORE_JOB_USER_IMPORT  ? &T_JS_IMPORT_CANCEL
                                                    : &T_JS_CANCEL);
}

static const struct adhoc_command js_def = {
    .node = "jobs/status",
    .name = {"Job status", "작업 상태"},
    .step = js_step,
    .cancel = js_cancel,
};

int cmd_default_register(struct app *app)
{
    if (adhoc_register(app->adhoc, &dd_def, app) < 0)
        return -1;
    return adhoc_register(app->adhoc, &js_def, app);
}
