/* procedure/domain-change: the guide's seven steps as one multi-stage command. Each form shows a
 * step with its live status; `next` runs it after checking its guard again. The run's progress
 * is in the store (component/engine/procedure.c), so after a restart the command offers to resume
 * at the step it stopped at, or to cancel. Canceling the session only closes the view. */
#include "component/cmd/cmd_certs.h"
#include "component/cmd/commands.h"
#include "component/cmd/cmd_domains_common.h"
#include "component/engine/app_apply.h"
#include "component/engine/job.h"
#include "component/engine/procedure.h"
#include "store/store_domain.h"
#include "store/store_job.h"
#include "store/store_settings.h"
#include "store/store_topo.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/adhoc_later.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the session shows, so the next submission knows what it answers. */
enum view {
    VIEW_CHOOSE,   /* a run exists: resume or cancel */
    VIEW_STEP,     /* a step's form: next runs it */
    VIEW_JOB,      /* step 3 waits for the default-domain job: next refreshes */
    VIEW_SESSIONS, /* step 6: next refreshes, and moves on once the sessions are back */
};

struct proc_session {
    enum view view;
    int step;
};

/* The names as macros too: a static initializer may not read another object in standard C
 * (gcc allows it; clang, which builds the fuzz targets, does not). */
#define TEXT_NAME "Guided domain change (7 steps)", "도메인 변경 안내(7단계)"
static const struct text T_NAME = {TEXT_NAME};

/* ---- small answers ---- */

static struct proc_session *session_of(adhoc_call_t *call)
{
    if (call->state == NULL) {
        call->state = xcalloc(1, sizeof(struct proc_session));
        call->state_free = free;
    }
    return call->state;
}

/* A line already in the request's language. */
static void add_line(form_t *f, const char *line)
{
    form_add_fixed(f, &(struct text){line, NULL});
}

static void store_failed(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    char *s = xasprintf(i18n_is_korean(call->lang) ? "저장소 오류: %s" : "the store failed: %s",
                        store_errmsg(app->store));

    log_warnx("procedure: store: %s", store_errmsg(app->store));
    adhoc_refuse(call, "internal-server-error", NULL, s);
    free(s);
}

/* A refused guard: the rule and the remedy, and where the run stays. */
static void refuse_step(adhoc_call_t *call, int step, const char *why)
{
    size_t len = strlen(why);
    const char *stop = len > 0 && why[len - 1] == '.' ? "" : ".";
    char *s = xasprintf(i18n_is_korean(call->lang)
                            ? "%d단계를 진행할 수 없습니다: %s%s 절차는 %d단계에 머뭅니다. "
                              "procedure/domain-change를 다시 실행해 이어 가거나 취소하세요."
                            : "Step %d cannot run: %s%s The procedure stays at step %d; run "
                              "procedure/domain-change again to resume or cancel it.",
                        step, why, stop, step);

    adhoc_fail(call, &(struct text){s, NULL});
    free(s);
}

/* ---- what each step's form shows ---- */

static void lines_groups(form_t *f, struct app *app, bool ko)
{
    struct store_group *g = NULL;
    size_t n = 0;

    if (store_group_list(app->store, &g, &n) != STORE_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        char *l = xasprintf(ko ? "그룹 %s: HA %s" : "group %s: HA %s", g[i].name,
                            g[i].ha_enabled ? "on" : "off");
        add_line(f, l);
        free(l);
    }
    store_group_list_free(g, n);
}

static void lines_sessions(form_t *f, struct app *app)
{
    size_t n;
    char **lines = procedure_session_lines(app, &n);

    for (size_t i = 0; i < n; i++)
        add_line(f, lines[i]);
    procedure_lines_free(lines, n);
}

/* "node a: 5 of 5 services up" per node. */
static void lines_services(form_t *f, struct app *app, bool ko)
{
    struct store_node *nodes = NULL;
    struct store_service *s = NULL;
    size_t nn = 0, ns = 0;

    if (store_node_list(app->store, &nodes, &nn) != STORE_OK ||
        store_service_list(app->store, NULL, &s, &ns) != STORE_OK) {
        store_node_list_free(nodes, nn);
        return;
    }
    for (size_t i = 0; i < nn; i++) {
        int up = 0;
        for (size_t k = 0; k < ns; k++)
            up += strcmp(s[k].node, nodes[i].name) == 0 && services_known(s[k].service) &&
                  services_state_is_up(s[k].state);
        char *l =
            xasprintf(ko ? "노드 %s: 서비스 %d/%d개 실행 중" : "node %s: %d of %d services up",
                      nodes[i].name, up, SERVICES_N);
        add_line(f, l);
        free(l);
    }
    store_service_list_free(s, ns);
    store_node_list_free(nodes, nn);
}

static void lines_settings(form_t *f, struct app *app, bool ko)
{
    struct store_settings s;
    char *l;

    if (store_settings_get(app->store, &s) != STORE_OK)
        return;
    l = xasprintf(ko ? "현재 기본 도메인: %s; TLS 페더레이션: %s"
                     : "current default domain: %s; TLS federation: %s",
                  s.default_domain, s.tls_federation ? "on" : "off");
    add_line(f, l);
    free(l);
    store_settings_clear(&s);
}

static const struct text T_DEFAULT = {"New default domain (empty: keep it)",
                                      "새 기본 도메인(비우면 그대로)"};
static const struct text T_ADD = {"Domains to add (one per line)", "추가할 도메인(한 줄에 하나)"};
static const struct text T_RENAME = {"Domains to rename: 'old new', one per line",
                                     "이름을 바꿀 도메인: '이전 새이름', 한 줄에 하나"};
static const struct text T_DELETE = {"Domains to delete", "삭제할 도메인"};

static void fields_domains(form_t *f, struct app *app)
{
    struct store_domain *list = NULL;
    size_t n = 0;
    form_field_t *del;

    form_add_field(f, "default_domain", FIELD_TEXT_SINGLE, &T_DEFAULT);
    form_add_field(f, "add", FIELD_TEXT_MULTI, &T_ADD);
    form_add_field(f, "rename", FIELD_TEXT_MULTI, &T_RENAME);
    del = form_add_field(f, "delete", FIELD_LIST_MULTI, &T_DELETE);
    /* Open: any editable name may be typed when there are more than the options shown. */
    if (domains_list_editable(app, &list, &n) == STORE_OK)
        for (size_t i = 0; i < n && i < DOMAINS_MAX_OPTIONS; i++)
            form_field_add_option(del, list[i].name, NULL);
    form_field_set_open(del, true);
    store_domain_list_free(list, n);
}

static const struct text step_help[PROC_STEPS + 1] = {
    [PROC_HA_OFF] = {"Next disables HA on every presence redundancy group that has it on and "
                     "records each node's active sessions (shown below) for step 7.",
                     "다음을 누르면 HA가 켜진 모든 프레즌스 이중화 그룹에서 HA를 끄고, 7단계를 "
                     "위해 각 노드의 활성 세션 수(아래)를 기록합니다."},
    [PROC_STOP] = {"Next stops the services on every node in the guide's order: first the "
                   "network services (client-profile-agent, sync-agent, xcp-router), then it "
                   "deactivates the feature services (sip-proxy, presence-engine).",
                   "다음을 누르면 가이드의 순서대로 모든 노드에서 먼저 네트워크 서비스"
                   "(client-profile-agent, sync-agent, xcp-router)를 중지한 뒤 기능 서비스"
                   "(sip-proxy, presence-engine)를 비활성화합니다."},
    [PROC_DOMAINS] = {"Fill in the changes, then next makes them in one transaction (a new "
                      "default domain starts the job that rewrites the IM addresses).",
                      "변경 내용을 입력하고 다음을 누르면 한 트랜잭션으로 적용합니다(새 기본 "
                      "도메인은 IM 주소를 다시 쓰는 작업을 시작합니다)."},
    [PROC_CERT] = {"Next regenerates cup-xmpp-s2s over the new domain set when TLS federation is "
                   "on, and skips this step otherwise.",
                   "다음을 누르면 TLS 페더레이션이 켜져 있을 때 새 도메인 집합으로 "
                   "cup-xmpp-s2s를 다시 만들고, 아니면 이 단계를 건너뜁니다."},
    [PROC_START] = {"Next restarts the network services (xcp-router, client-profile-agent, "
                    "sync-agent) on every node step 2 touched, then activates the feature "
                    "services it deactivated (sip-proxy, presence-engine): the guide's order.",
                    "다음을 누르면 2단계에서 손댄 모든 노드에서 네트워크 서비스(xcp-router, "
                    "client-profile-agent, sync-agent)를 재시작한 뒤, 비활성화했던 기능 "
                    "서비스(sip-proxy, presence-engine)를 활성화합니다(가이드의 순서)."},
    [PROC_SESSIONS] = {"The sessions per node against the counts recorded in step 1. Next "
                       "refreshes and goes on once they are back; complete closes this view "
                       "(resume later).",
                       "노드별 세션 수와 1단계에서 기록한 수입니다. 다음을 누르면 새로 고치고, "
                       "돌아왔으면 계속합니다. 완료를 누르면 이 화면을 닫습니다(나중에 이어 "
                       "가기)."},
    [PROC_HA_ON] = {"Complete enables HA again on the groups step 1 turned off.",
                    "완료를 누르면 1단계에서 끈 그룹의 HA를 다시 켭니다."},
};

/* The step's own lines (and fields, for step 3). */
static void step_body(form_t *f, struct app *app, int step, bool ko)
{
    switch (step) {
    case PROC_HA_OFF:
        lines_groups(f, app, ko);
        lines_sessions(f, app);
        break;
    case PROC_STOP:
        lines_sessions(f, app); /* what step 1 recorded */
        lines_services(f, app, ko);
        break;
    case PROC_START:
        lines_services(f, app, ko);
        break;
    case PROC_DOMAINS:
        lines_settings(f, app, ko);
        fields_domains(f, app);
        break;
    case PROC_CERT:
        lines_settings(f, app, ko);
        break;
    default:
        lines_sessions(f, app);
        break;
    }
}

static form_t *step_form(adhoc_call_t *call, const struct store_procedure *p, int step)
{
    struct app *app = call->ctx;
    bool ko = i18n_is_korean(call->lang);
    form_t *f = form_new(FORM_FORM);
    char *title = xasprintf(ko ? "도메인 변경 %d/7단계: %s" : "Domain change, step %d of 7: %s",
                            step, text_get(procedure_step_name(step), call->lang));
    char *why = procedure_guard(app, p, step, call->lang), *l;

    form_set_title(f, &(struct text){title, NULL});
    form_add_instructions(f, &step_help[step]);
    l = why ? xasprintf(ko ? "아직 진행할 수 없음: %s" : "Not ready: %s", why)
            : xstrdup(ko ? "진행할 수 있음" : "Ready");
    add_line(f, l);
    step_body(f, app, step, ko);
    free(l);
    free(why);
    free(title);
    return f;
}

/* ---- showing where the run is ---- */

static void show_job(adhoc_call_t *call, const struct store_job *j, bool replace)
{
    form_t *f = form_new(FORM_FORM);
    char *d = job_describe(j, call->lang);
    bool ko = i18n_is_korean(call->lang);

    form_set_title(f, &(struct text){ko ? "도메인 변경 3/7단계: 기본 도메인 작업"
                                        : "Domain change, step 3 of 7: the default-domain job",
                                     NULL});
    form_add_instructions(f, &(struct text){"Next refreshes; the procedure goes on once the job "
                                            "has ended. Complete closes this view.",
                                            "다음을 누르면 새로 고칩니다. 작업이 끝나면 절차가 "
                                            "계속됩니다. 완료를 누르면 이 화면을 닫습니다."});
    add_line(f, d);
    adhoc_note_str(call, j->state == STORE_JOB_FAILED ? ADHOC_NOTE_WARN : ADHOC_NOTE_INFO, d);
    free(d);
    session_of(call)->view = VIEW_JOB;
    if (replace)
        adhoc_replace(call, f, ADHOC_ALLOW_NEXT | ADHOC_ALLOW_COMPLETE, ADHOC_NEXT);
    else
        adhoc_show(call, f, ADHOC_ALLOW_NEXT | ADHOC_ALLOW_COMPLETE, ADHOC_NEXT);
}

/* Shows the form of the run's current step (`replace`: in place of the one just answered). */
static void show_current(adhoc_call_t *call, struct store_procedure *p, bool replace)
{
    struct proc_session *s = session_of(call);
    struct store_job j;
    int step = p->id ? p->step : PROC_HA_OFF, wait;
    unsigned allowed = ADHOC_ALLOW_NEXT;
    enum adhoc_action dflt = ADHOC_NEXT;
    form_t *f;

    if (step == PROC_DOMAINS && p->job_id > 0) {
        if ((wait = procedure_job_wait(call->ctx, p, &j)) < 0) {
            store_failed(call);
            return;
        }
        if (wait > 0) {
            show_job(call, &j, replace);
            store_job_clear(&j);
            return;
        }
        step = p->step;
    }
    s->step = step;
    s->view = step == PROC_SESSIONS ? VIEW_SESSIONS : VIEW_STEP;
    if (step == PROC_SESSIONS)
        allowed |= ADHOC_ALLOW_COMPLETE;
    if (step == PROC_HA_ON)
        allowed = ADHOC_ALLOW_COMPLETE, dflt = ADHOC_COMPLETE;
    f = step_form(call, p, step);
    if (replace)
        adhoc_replace(call, f, allowed, dflt);
    else
        adhoc_show(call, f, allowed, dflt);
}

/* Loads the run and shows its step; after a late answer too. */
static void show_loaded(adhoc_call_t *call, bool replace)
{
    struct store_procedure p;
    enum store_rc rc = procedure_load(call->ctx, &p);

    if (rc == STORE_OK || rc == STORE_NOTFOUND)
        show_current(call, &p, replace);
    else
        store_failed(call);
    store_procedure_clear(&p);
}

/* ---- answers that may come late (services runs, the router reload) ---- */

struct late {
    adhoc_call_t *call;   /* the step's call while it runs; NULL when nobody waits */
    adhoc_later_t *later; /* the deferred answer */
    bool in_step, finished;
    bool ok;
    bool warn;    /* the step went through, but something after it did not (the router) */
    bool ko;      /* the request's language is Korean */
    char **lines; /* what happened, one line each */
    size_t n;
    void (*answer)(adhoc_call_t *call, struct late *l);
};

static struct late *late_new(adhoc_call_t *call, void (*answer)(adhoc_call_t *, struct late *))
{
    struct late *l = xcalloc(1, sizeof(*l));

    l->call = call;
    l->in_step = true;
    l->ko = i18n_is_korean(call->lang);
    l->answer = answer;
    return l;
}

static void late_free(struct late *l)
{
    procedure_lines_free(l->lines, l->n);
    free(l);
}

static void late_free_any(void *l)
{
    late_free(l);
}

static void late_add(struct late *l, char *line)
{
    l->lines = xrealloc(l->lines, (l->n + 1) * sizeof(*l->lines));
    l->lines[l->n++] = line;
}

/* The work finished: answer now (in the step: when it returns), late, or not at all. */
static void late_finished(struct late *l)
{
    if (l->in_step) {
        l->finished = true;
        return;
    }
    if (l->later != NULL) {
        l->answer(adhoc_later_call(l->later), l);
        adhoc_later_finish(l->later);
    }
    late_free(l);
}

/* After starting the work in the step. */
static void late_started(adhoc_call_t *call, struct late *l)
{
    l->in_step = false;
    if (l->finished) {
        l->answer(call, l);
        late_free(l);
        return;
    }
    if ((l->later = adhoc_defer(call)) != NULL)
        return;
    l->call = NULL; /* late_finished only frees it */
    adhoc_note_str(call, ADHOC_NOTE_INFO,
                   i18n_is_korean(call->lang)
                       ? "작업이 계속 진행 중입니다. procedure/domain-change를 다시 실행해 "
                         "어디까지 왔는지 보세요."
                       : "The step goes on; run procedure/domain-change again to see where it "
                         "is.");
    adhoc_complete(call, NULL);
}

/* Shows the lines as notes, then the current step (the next one when the step went through). */
static void answer_with_lines(adhoc_call_t *call, struct late *l)
{
    for (size_t i = 0; i < l->n; i++)
        adhoc_note_str(call, l->ok && !l->warn ? ADHOC_NOTE_INFO : ADHOC_NOTE_WARN, l->lines[i]);
    show_loaded(call, !l->ok);
}

/* ---- steps 2 and 5 ---- */

static void services_ran(void *arg, bool ok, const char *unrecorded,
                         const struct service_outcome *out, size_t n)
{
    struct late *l = arg;
    size_t failed = 0;

    l->ok = ok;
    for (size_t i = 0; i < n; i++) {
        failed += !out[i].ok;
        if (!out[i].ok)
            late_add(l, xasprintf("%s %s: %s", out[i].node, out[i].service, out[i].detail));
    }
    if (ok || unrecorded != NULL)
        late_add(
            l,
            xasprintf(l->ko ? "서비스 작업 %zu개를 마쳤습니다." : "%zu services actions done.", n));
    if (unrecorded != NULL)
        late_add(l, xstrdup(unrecorded));
    else if (!ok)
        late_add(l, xasprintf(l->ko ? "서비스 작업 %zu개 중 %zu개가 실패했거나 건너뛰었습니다. "
                                      "다음을 누르면 이 단계를 다시 시도합니다."
                                    : "%zu of %zu services actions failed or were skipped; next "
                                      "tries the step again.",
                              failed, n));
    late_finished(l);
}

static void run_services(adhoc_call_t *call, const struct store_procedure *p, bool up)
{
    struct late *l = late_new(call, answer_with_lines);
    const char *why = NULL;

    if (procedure_run_services(call->ctx, p, up, call->lang, services_ran, l, late_free_any, &why) <
        0) {
        late_free(l);
        refuse_step(call, up ? PROC_START : PROC_STOP, why);
        return;
    }
    late_started(call, l);
}

/* ---- step 3 ---- */

/* Cuts a rename line "old new" (or "old -> new") in two; false when it is not such a line. */
static bool split_rename(const char *line, char *from, char *to, size_t len)
{
    char a[DOMAIN_NAME_BUF * 2], b[DOMAIN_NAME_BUF * 2], c[DOMAIN_NAME_BUF * 2];
    int k = sscanf(line, " %511s %511s %511s", a, b, c);

    if (k == 3 && strcmp(b, "->") == 0)
        snprintf(b, sizeof(b), "%s", c);
    else if (k != 2)
        return false;
    snprintf(from, len, "%s", a);
    snprintf(to, len, "%s", b);
    return true;
}

static bool blank(const char *s)
{
    while (s && isspace((unsigned char)*s))
        s++;
    return s == NULL || *s == '\0';
}

/* Reads the names of a multi-valued field, each checked; false when one was refused. */
static bool read_names(adhoc_call_t *call, const char *var, char (**out)[DOMAIN_NAME_BUF],
                       size_t *n)
{
    const char *const *v;
    size_t k = form_values(call->form, var, &v);

    *out = xcalloc(k + 1, sizeof(**out));
    for (size_t i = 0; i < k; i++)
        if (!blank(v[i]) && !domains_check_name(call, v[i], (*out)[(*n)++]))
            return false;
    return true;
}

static bool read_renames(adhoc_call_t *call, struct proc_changes *c)
{
    const char *const *v;
    size_t k = form_values(call->form, "rename", &v);
    char from[DOMAIN_NAME_BUF * 2], to[DOMAIN_NAME_BUF * 2];

    c->rename = xcalloc(k + 1, sizeof(*c->rename));
    for (size_t i = 0; i < k; i++) {
        if (blank(v[i]))
            continue;
        if (!split_rename(v[i], from, to, sizeof(from))) {
            adhoc_refuse(call, "bad-request", "bad-payload",
                         i18n_is_korean(call->lang)
                             ? "rename의 각 줄은 '이전이름 새이름'이어야 합니다"
                             : "each rename line must be 'old-name new-name'");
            return false;
        }
        struct domains_rename *r = &c->rename[c->nrename++];
        if (!domains_check_name(call, from, r->from) || !domains_check_name(call, to, r->to))
            return false;
    }
    return true;
}

static bool read_changes(adhoc_call_t *call, struct proc_changes *c)
{
    const char *dflt = form_value(call->form, "default_domain");

    memset(c, 0, sizeof(*c));
    if (!blank(dflt) && !domains_check_name(call, dflt, c->default_domain))
        return false;
    return read_names(call, "add", &c->add, &c->nadd) && read_renames(call, c) &&
           read_names(call, "delete", &c->del, &c->ndel);
}

static void router_applied(void *arg, int ok, const char *detail)
{
    struct late *l = arg;

    l->ok = true; /* the change is committed either way: the run moved on */
    l->warn = !ok;
    if (ok)
        late_add(l, xasprintf(l->ko ? "라우터를 갱신했습니다(%s)." : "The router was updated (%s).",
                              detail));
    else
        late_add(l, xasprintf(l->ko ? "라우터를 갱신하지 못했습니다: %s. 다음 도메인 변경 때 전체 "
                                      "집합을 다시 적용합니다."
                                    : "The router was NOT updated: %s. The next domain change "
                                      "applies the whole set again.",
                              detail));
    late_finished(l);
}

static void run_domains(adhoc_call_t *call, struct store_procedure *p)
{
    struct app *app = call->ctx;
    struct proc_changes c;
    char *why = NULL, *actor;
    int64_t job = 0;
    enum domains_work w;
    struct late *l;

    if (!read_changes(call, &c)) {
        procedure_changes_clear(&c);
        return;
    }
    w = procedure_change_domains(app, p, &c, call->lang, &why, &job);
    procedure_changes_clear(&c);
    if (w == DOMAINS_WORK_REFUSED)
        refuse_step(call, PROC_DOMAINS, why);
    else if (w == DOMAINS_WORK_FAILED)
        domains_store_error(call, app);
    free(why);
    if (w != DOMAINS_WORK_DONE)
        return;
    if (job > 0 && app->jobs) {
        job_runner_kick(app->jobs);
        job_runner_step(app->jobs); /* a first batch now, so the view shows real progress */
    }
    l = late_new(call, answer_with_lines);
    actor = app_actor(call->requester);
    app_apply_domains(app, actor, router_applied, l);
    free(actor);
    late_started(call, l);
}

/* ---- step 4 ---- */

static void cert_done(adhoc_call_t *call, bool ok, void *arg)
{
    struct store_procedure p = {0}; /* read only when the certificate was installed */

    (void)arg;
    if (ok && procedure_load(call->ctx, &p) == STORE_OK && p.step == PROC_CERT)
        procedure_advance(call->ctx, &p, PROC_START, -1);
    store_procedure_clear(&p);
    show_loaded(call, !ok);
}

static void run_cert(adhoc_call_t *call, struct store_procedure *p)
{
    struct app *app = call->ctx;
    struct store_settings s;
    bool tls;

    if (store_settings_get(app->store, &s) != STORE_OK) {
        store_failed(call);
        return;
    }
    tls = s.tls_federation;
    store_settings_clear(&s);
    if (tls) {
        certs_regenerate(call, cert_done, NULL);
        return;
    }
    if (procedure_advance(app, p, PROC_START, -1) != STORE_OK) {
        store_failed(call);
        return;
    }
    adhoc_note(call, ADHOC_NOTE_INFO,
               &(struct text){"TLS federation is off: cup-xmpp-s2s need not be regenerated.",
                              "TLS 페더레이션이 꺼져 있으므로 cup-xmpp-s2s를 다시 만들지 "
                              "않습니다."});
    show_current(call, p, false);
}

/* ---- steps 1 and 7 ---- */

static void run_ha_off(adhoc_call_t *call, struct store_procedure *p)
{
    struct app *app = call->ctx;
    char *actor = app_actor(call->requester);
    enum store_rc rc = procedure_disable_ha(app, actor, p);

    free(actor);
    if (rc == STORE_CONFLICT) {
        adhoc_fail(call, &(struct text){"Another administrator started the procedure meanwhile: "
                                        "run procedure/domain-change again to resume it.",
                                        "다른 관리자가 그사이 절차를 시작했습니다. "
                                        "procedure/domain-change를 다시 실행해 이어 가세요."});
        return;
    }
    if (rc != STORE_OK) {
        store_failed(call);
        return;
    }
    adhoc_note(call, ADHOC_NOTE_INFO,
               &(struct text){"HA is off and the active sessions per node are recorded (see "
                              "below). The guide asks to wait 2 minutes for the setting to sync "
                              "before the services stop.",
                              "HA를 끄고 노드별 활성 세션 수를 기록했습니다(아래). 가이드에 따라 "
                              "서비스를 멈추기 전에 설정이 동기화되도록 2분을 기다리세요."});
    show_current(call, p, false);
}

static void run_ha_on(adhoc_call_t *call, struct store_procedure *p)
{
    char *why = procedure_enable_ha(call->ctx, p, call->lang);

    if (why != NULL) {
        refuse_step(call, PROC_HA_ON, why);
        free(why);
        return;
    }
    adhoc_note(call, ADHOC_NOTE_INFO,
               &(struct text){"HA is on again: the domain change is complete.",
                              "HA를 다시 켰습니다. 도메인 변경을 마쳤습니다."});
    adhoc_complete(call, NULL);
}

/* ---- the stages ---- */

static void run_step(adhoc_call_t *call, struct store_procedure *p, int step)
{
    char *why = procedure_guard(call->ctx, p, step, call->lang);

    if (why != NULL) {
        refuse_step(call, step, why);
        free(why);
        return;
    }
    switch (step) {
    case PROC_HA_OFF:
        run_ha_off(call, p);
        break;
    case PROC_STOP:
    case PROC_START:
        run_services(call, p, step == PROC_START);
        break;
    case PROC_DOMAINS:
        run_domains(call, p);
        break;
    case PROC_CERT:
        run_cert(call, p);
        break;
    default:
        run_ha_on(call, p);
        break;
    }
}

static const struct text T_PAUSED = {
    "Closed; the procedure stays where it is: run procedure/domain-change again to resume it.",
    "닫았습니다. 절차는 그대로 남아 있습니다. procedure/domain-change를 다시 실행해 이어 가세요."};

/* The form answered is stale: another administrator moved the run on, canceled or finished
 * it (`p` is then empty). Says so and shows where the run is now, running nothing. */
static void show_moved_on(adhoc_call_t *call, struct store_procedure *p)
{
    adhoc_note(call, ADHOC_NOTE_WARN,
               &(struct text){"The procedure moved on (or ended) meanwhile: this is where it "
                              "is now.",
                              "그사이 절차가 진행되었거나 끝났습니다. 지금 위치입니다."});
    show_current(call, p, true);
}

/* Next on a step's form: run it, unless the run moved on elsewhere meanwhile. */
static void on_step(adhoc_call_t *call, struct proc_session *s)
{
    struct store_procedure p;
    enum store_rc rc = procedure_load(call->ctx, &p);
    int at = rc == STORE_OK ? p.step : PROC_HA_OFF;

    if (rc == STORE_ERR) {
        store_failed(call);
    } else if (at != s->step) {
        show_moved_on(call, &p);
    } else {
        run_step(call, &p, s->step);
    }
    store_procedure_clear(&p);
}

/* Next on the step 6 view: go on when the sessions are back, else refresh. */
static void on_sessions(adhoc_call_t *call)
{
    struct store_procedure p;
    enum store_rc rc;
    char *why;

    if (call->action == ADHOC_COMPLETE) {
        adhoc_note(call, ADHOC_NOTE_INFO, &T_PAUSED);
        adhoc_complete(call, NULL);
        return;
    }
    rc = procedure_load(call->ctx, &p);
    if (rc == STORE_ERR) {
        store_failed(call);
        return;
    }
    /* Ended (no run: not a store failure) or moved on by someone else meanwhile. */
    if (rc == STORE_NOTFOUND || p.step != PROC_SESSIONS) {
        show_moved_on(call, &p);
        store_procedure_clear(&p);
        return;
    }
    why = procedure_guard(call->ctx, &p, PROC_HA_ON, call->lang);
    if (why != NULL) {
        adhoc_note_str(call, ADHOC_NOTE_INFO, why);
    } else if (procedure_advance(call->ctx, &p, PROC_HA_ON, -1) != STORE_OK) {
        store_failed(call);
        store_procedure_clear(&p);
        return;
    } else {
        adhoc_note(call, ADHOC_NOTE_INFO,
                   &(struct text){"The sessions are back.", "세션이 돌아왔습니다."});
    }
    show_current(call, &p, why != NULL);
    free(why);
    store_procedure_clear(&p);
}

static void on_job(adhoc_call_t *call)
{
    if (call->action == ADHOC_COMPLETE) {
        adhoc_note(call, ADHOC_NOTE_INFO, &T_PAUSED);
        adhoc_complete(call, NULL);
        return;
    }
    show_loaded(call, true);
}

static void on_choice(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    struct store_procedure p;
    const char *action = form_value(call->form, "action");
    char *left;

    if (procedure_load(app, &p) != STORE_OK) {
        show_loaded(call, false); /* ended meanwhile: offer a new run */
        return;
    }
    if (action == NULL || strcmp(action, "cancel") != 0) {
        show_current(call, &p, false);
    } else if (procedure_end(app, &p, STORE_PROC_CANCELED) != STORE_OK) {
        store_failed(call);
    } else {
        adhoc_note(call, ADHOC_NOTE_INFO,
                   &(struct text){"The procedure is canceled; nothing was undone.",
                                  "절차를 취소했습니다. 되돌린 것은 없습니다."});
        if ((left = procedure_leftovers(app, &p, call->lang)) != NULL)
            adhoc_note_str(call, ADHOC_NOTE_WARN, left);
        free(left);
        adhoc_complete(call, NULL);
    }
    store_procedure_clear(&p);
}

/* Stage 0 with a run in the store: resume it or cancel it. */
static void offer_choice(adhoc_call_t *call, const struct store_procedure *p)
{
    bool ko = i18n_is_korean(call->lang);
    form_t *f = form_new(FORM_FORM);
    form_field_t *fld;
    char *l = xasprintf(ko ? "%s이(가) 시작한 도메인 변경 절차가 %d단계(%s)에서 멈춰 있습니다."
                           : "A domain change started by %s is at step %d of 7 (%s).",
                        p->actor, p->step, text_get(procedure_step_name(p->step), call->lang));
    char *resume = xasprintf(ko ? "%d단계에서 이어 가기" : "Resume at step %d", p->step);

    form_set_title(f, &T_NAME);
    add_line(f, l);
    fld = form_add_field(f, "action", FIELD_LIST_SINGLE, &(struct text){"What to do", "할 일"});
    form_field_set_required(fld, true);
    form_field_add_option(fld, "resume", &(struct text){resume, NULL});
    form_field_add_option(
        fld, "cancel",
        &(struct text){"Cancel the procedure (nothing is undone)", "절차 취소(되돌리지 않음)"});
    form_field_add_value(fld, "resume");
    session_of(call)->view = VIEW_CHOOSE;
    adhoc_show(call, f, ADHOC_ALLOW_NEXT, ADHOC_NEXT);
    free(resume);
    free(l);
}

static void proc_step(adhoc_call_t *call)
{
    struct store_procedure p;
    enum store_rc rc;

    if (call->stage > 0) {
        struct proc_session *s = session_of(call);
        if (s->view == VIEW_CHOOSE)
            on_choice(call);
        else if (s->view == VIEW_JOB)
            on_job(call);
        else if (s->view == VIEW_SESSIONS)
            on_sessions(call);
        else
            on_step(call, s);
        return;
    }
    rc = procedure_load(call->ctx, &p);
    if (rc == STORE_OK)
        offer_choice(call, &p);
    else if (rc == STORE_NOTFOUND)
        show_current(call, &p, false);
    else
        store_failed(call);
    store_procedure_clear(&p);
}

/* Canceling the session closes the view; the run stays in the store. */
static void proc_cancel(adhoc_call_t *call)
{
    struct store_procedure p;

    if (procedure_load(call->ctx, &p) == STORE_OK)
        adhoc_note(call, ADHOC_NOTE_INFO, &T_PAUSED);
    store_procedure_clear(&p);
}

static const struct adhoc_command proc_def = {
    .node = "procedure/domain-change",
    .name = {TEXT_NAME},
    .step = proc_step,
    .cancel = proc_cancel,
};

int cmd_procedure_register(struct app *app)
{
    return adhoc_register(app->adhoc, &proc_def, app);
}
