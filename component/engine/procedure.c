/* The domain-change procedure's steps: guards read live from the store and the session table,
 * and transitions that record the run's progress in the same transaction as the change they
 * make, so that a crash leaves the run at the step whose change did not commit. */
#include "component/engine/procedure.h"

#include "component/engine/ha.h"
#include "component/engine/job.h"
#include "component/engine/precond.h"
#include "component/engine/sessions.h"
#include "store/store_domain.h"
#include "store/store_job.h"
#include "store/store_settings.h"
#include "store/store_topo.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const struct text step_names[PROC_STEPS + 1] = {
    [PROC_HA_OFF] = {"Disable high availability", "고가용성 끄기"},
    [PROC_STOP] = {"Stop the services on every node", "모든 노드의 서비스 중지"},
    [PROC_DOMAINS] = {"Change the default domain and the IM address domains",
                      "기본 도메인과 IM 주소 도메인 변경"},
    [PROC_CERT] = {"Regenerate cup-xmpp-s2s (TLS federation)",
                   "cup-xmpp-s2s 다시 생성(TLS 페더레이션)"},
    [PROC_START] = {"Start the services again", "서비스 다시 시작"},
    [PROC_SESSIONS] = {"Wait for the sessions to come back", "세션이 돌아오기를 기다림"},
    [PROC_HA_ON] = {"Enable high availability", "고가용성 켜기"},
};

const struct text *procedure_step_name(int step)
{
    static const struct text done = {"Done", "완료"};

    return step >= PROC_HA_OFF && step <= PROC_STEPS ? &step_names[step] : &done;
}

/* ---- small helpers ---- */

/* A printf'd sentence in `lang`: `en` or `ko`. Caller frees. */
static char *say(const char *lang, const char *en, const char *ko, ...)
    __attribute__((format(printf, 2, 4), format(printf, 3, 4)));
static char *say(const char *lang, const char *en, const char *ko, ...)
{
    va_list ap;
    char *s = NULL;

    va_start(ap, ko);
    if (vasprintf(&s, i18n_is_korean(lang) ? ko : en, ap) < 0)
        fatal("procedure: vasprintf");
    va_end(ap);
    return s;
}

/* The comma-separated `list` cut into names (pointers into *buf; caller frees both). */
static const char **split_list(const char *list, char **buf, size_t *n)
{
    const char **out;

    *buf = xstrdup(list ? list : "");
    out = xcalloc(strlen(*buf) / 2 + 2, sizeof(*out));
    *n = 0;
    for (char *save = NULL, *t = strtok_r(*buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        out[(*n)++] = t;
    return out;
}

/* What the admin reads when the store failed: whether reading it (a guard) or recording a
 * change (step 7 turning HA on and ending the run) failed, and what sqlite said. */
static char *store_trouble(struct app *app, const char *lang, bool writing)
{
    log_warnx("procedure: store: %s failed: %s", writing ? "recording" : "reading",
              store_errmsg(app->store));
    if (writing)
        return say(lang,
                   "The change could not be recorded in the store (%s): see the daemon's log "
                   "and try again.",
                   "변경을 저장소에 기록할 수 없습니다(%s). 데몬 로그를 보고 다시 시도하세요.",
                   store_errmsg(app->store));
    return say(lang, "The store could not be read (%s): see the daemon's log and try again.",
               "저장소를 읽을 수 없습니다(%s). 데몬 로그를 보고 다시 시도하세요.",
               store_errmsg(app->store));
}

/* ---- guards ---- */

static char *guard_topology(struct app *app, const char *lang)
{
    struct store_node *nodes = NULL;
    size_t n = 0;

    if (store_node_list(app->store, &nodes, &n) != STORE_OK)
        return store_trouble(app, lang, false);
    store_node_list_free(nodes, n);
    if (n > 0)
        return NULL;
    return say(lang,
               "The topology has no nodes: the procedure stops and starts services per node. "
               "Add the nodes with topology/edit first.",
               "토폴로지에 노드가 없습니다. 이 절차는 노드별로 서비스를 멈추고 시작합니다. 먼저 "
               "topology/edit로 노드를 추가하세요.");
}

/* Step 2: HA off on every group, and the settle period over. */
static char *guard_ha_off(struct app *app, const char *lang)
{
    struct store_group *g = NULL;
    size_t n = 0;
    int64_t left;
    char *why = NULL;

    if (store_group_list(app->store, &g, &n) != STORE_OK)
        return store_trouble(app, lang, false);
    for (size_t i = 0; i < n && why == NULL; i++)
        if (g[i].ha_enabled)
            why = say(lang,
                      "HA is enabled on group %s again: the services may only stop with HA off. "
                      "Disable it with ha/disable, then go on.",
                      "그룹 %s에서 HA가 다시 켜져 있습니다. 서비스는 HA가 꺼진 상태에서만 멈출 "
                      "수 있습니다. ha/disable로 끈 뒤 계속하세요.",
                      g[i].name);
    store_group_list_free(g, n);
    if (why == NULL && (left = ha_settle_remaining_ms(app, NULL)) > 0)
        why = say(lang,
                  "HA was disabled too recently: wait %s more for the setting to sync ([ha] "
                  "settle_time is %d s; the guide asks for at least 2 minutes), then go on.",
                  "HA를 끈 지 얼마 되지 않았습니다. 설정이 동기화되도록 %s 더 기다린 뒤 "
                  "계속하세요([ha] settle_time %d초, 가이드는 HA를 끈 뒤 최소 2분).",
                  ha_wait_text(left, lang), app->cfg ? app->cfg->settle_time : HA_SETTLE_DEFAULT_S);
    return why;
}

/* Step 5: the default-domain job must have ended before the services come back. */
static char *guard_no_job(struct app *app, const char *lang)
{
    struct store_job j;
    enum store_rc rc = store_job_get_active(app->store, &j);
    char *why;

    if (rc == STORE_NOTFOUND)
        return NULL;
    if (rc != STORE_OK)
        return store_trouble(app, lang, false);
    why = say(lang,
              "Job %lld (%s) has not ended (state %s): the services start once it has. Follow it "
              "with jobs/status (retry or cancel it there if it failed).",
              "작업 %lld(%s, 상태 %s)이(가) 끝나지 않았습니다. 작업이 끝난 뒤에 서비스를 "
              "시작합니다. jobs/status로 확인하세요(실패했다면 그곳에서 재시도하거나 취소하세요).",
              (long long)j.id, store_job_kind_name(j.kind), store_job_state_name(j.state));
    store_job_clear(&j);
    return why;
}

/* Step 7: ha/enable's guards over the groups step 1 turned off (every group if none). */
static char *guard_ha_on(struct app *app, const struct store_procedure *p, const char *lang)
{
    struct ha_view v;
    char *buf, *why;
    size_t n;
    const char **groups = split_list(p ? p->ha_groups : "", &buf, &n);

    if (ha_view_load(app, &v) != STORE_OK) {
        why = store_trouble(app, lang, false);
    } else {
        why = ha_enable_refusal(&v, groups, n, (int64_t)time(NULL), lang);
        ha_view_clear(&v);
    }
    free(groups);
    free(buf);
    return why;
}

char *procedure_guard(struct app *app, const struct store_procedure *p, int step, const char *lang)
{
    switch (step) {
    case PROC_HA_OFF:
        return guard_topology(app, lang);
    case PROC_STOP:
        return guard_ha_off(app, lang);
    case PROC_DOMAINS:
    case PROC_CERT:
        return precond_domain_change(app, lang);
    case PROC_START:
        return guard_no_job(app, lang);
    case PROC_HA_ON:
        return guard_ha_on(app, p, lang);
    default:
        return NULL;
    }
}

/* ---- the run ---- */

enum store_rc procedure_load(struct app *app, struct store_procedure *out)
{
    return store_procedure_get_active(app->store, out);
}

static enum store_rc reload(struct app *app, struct store_procedure *p)
{
    int64_t id = p->id;

    store_procedure_clear(p);
    return store_procedure_get(app->store, id, p);
}

/* Commits when rc is STORE_OK, else rolls back; returns the outcome. */
static enum store_rc finish_tx(struct app *app, enum store_rc rc)
{
    if (rc == STORE_OK && (rc = store_commit(app->store)) == STORE_OK)
        return STORE_OK;
    if (store_in_transaction(app->store) && store_rollback(app->store) != STORE_OK)
        log_warnx("procedure: rollback failed: %s", store_errmsg(app->store));
    return rc;
}

/* The groups with HA on, comma-separated into *joined (caller frees), and as an array. */
static enum store_rc groups_with_ha(struct app *app, char **joined, const char ***names, size_t *k,
                                    struct store_group **g, size_t *n)
{
    enum store_rc rc = store_group_list(app->store, g, n);
    size_t len = 1;

    *k = 0;
    *joined = NULL;
    *names = NULL;
    if (rc != STORE_OK)
        return rc;
    *names = xcalloc(*n + 1, sizeof(**names));
    for (size_t i = 0; i < *n; i++)
        if ((*g)[i].ha_enabled) {
            (*names)[(*k)++] = (*g)[i].name;
            len += strlen((*g)[i].name) + 1;
        }
    *joined = xcalloc(1, len);
    for (size_t i = 0; i < *k; i++) {
        if (i > 0)
            strcat(*joined, ",");
        strcat(*joined, (*names)[i]);
    }
    return STORE_OK;
}

enum store_rc procedure_disable_ha(struct app *app, const char *actor, struct store_procedure *p)
{
    struct store_group *g = NULL;
    size_t n = 0, k = 0, changed = 0;
    const char **names = NULL;
    char *joined = NULL;
    enum store_rc rc = store_begin(app->store);

    if (rc == STORE_OK && p->id == 0)
        rc = store_procedure_start(app->store, actor, &p->id);
    if (rc == STORE_OK)
        rc = groups_with_ha(app, &joined, &names, &k, &g, &n);
    if (rc == STORE_OK)
        rc = ha_disable(app, names, k, (int64_t)time(NULL), &changed);
    if (rc == STORE_OK)
        rc = store_procedure_set_step(app->store, p->id, PROC_STOP, p->job_id, joined);
    rc = finish_tx(app, rc);
    if (rc == STORE_OK) {
        log_info("procedure: step=1 done id=%lld ha_disabled=%zu", (long long)p->id, changed);
        rc = reload(app, p);
    } else if (p->step == 0) {
        p->id = 0; /* the run was not created after all */
    }
    free(names);
    free(joined);
    store_group_list_free(g, n);
    return rc;
}

/* Writes the run's next step (p itself is not re-read). */
static enum store_rc record_step(struct app *app, const struct store_procedure *p, int step,
                                 int64_t job_id)
{
    enum store_rc rc = store_procedure_set_step(app->store, p->id, step,
                                                job_id >= 0 ? job_id : p->job_id, p->ha_groups);

    if (rc != STORE_OK) {
        log_warnx("procedure: cannot record step %d of run %lld: %s", step, (long long)p->id,
                  store_errmsg(app->store));
        return rc;
    }
    log_info("procedure: id=%lld step=%d", (long long)p->id, step);
    return STORE_OK;
}

enum store_rc procedure_advance(struct app *app, struct store_procedure *p, int step,
                                int64_t job_id)
{
    enum store_rc rc = record_step(app, p, step, job_id);

    return rc == STORE_OK ? reload(app, p) : rc;
}

enum store_rc procedure_end(struct app *app, struct store_procedure *p, enum store_proc_state how)
{
    enum store_rc rc = store_procedure_end(app->store, p->id, how);

    if (rc == STORE_OK)
        log_info("procedure: id=%lld ended=%s at_step=%d", (long long)p->id,
                 store_proc_state_name(how), p->step);
    return rc == STORE_OK ? reload(app, p) : rc;
}

/* The nodes where imdomaind stopped services and has not started them again, "a (x, y); b (z)". */
static void write_marks(FILE *f, struct app *app, size_t *count)
{
    struct store_service *s = NULL;
    size_t n = 0, plen = strlen(SERVICES_MARK_PREFIX);
    const char *node = NULL;

    *count = 0;
    if (store_service_list(app->store, NULL, &s, &n) != STORE_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(s[i].service, SERVICES_MARK_PREFIX, plen) != 0)
            continue;
        if (node == NULL || strcasecmp(node, s[i].node) != 0)
            fprintf(f, "%s%s (", node ? "); " : "", s[i].node);
        else
            fputs(", ", f);
        fputs(s[i].service + plen, f);
        node = s[i].node;
        (*count)++;
    }
    if (node != NULL)
        fputc(')', f);
    store_service_list_free(s, n);
}

/* The groups of `p` whose HA is still off, comma-separated. */
static void write_groups_off(FILE *f, struct app *app, const struct store_procedure *p,
                             size_t *count)
{
    char *buf;
    size_t n;
    const char **groups = split_list(p->ha_groups, &buf, &n);
    struct store_group g;

    *count = 0;
    for (size_t i = 0; i < n; i++) {
        if (store_group_get(app->store, groups[i], &g) == STORE_OK && !g.ha_enabled)
            fprintf(f, "%s%s", (*count)++ ? ", " : "", g.name);
        store_group_clear(&g);
    }
    free(groups);
    free(buf);
}

char *procedure_leftovers(struct app *app, const struct store_procedure *p, const char *lang)
{
    bool ko = i18n_is_korean(lang);
    char *text = NULL, *marks = NULL, *groups = NULL;
    size_t len = 0, nm = 0, ng = 0;
    FILE *f = open_memstream(&marks, &len);

    if (f == NULL)
        fatal("procedure: open_memstream");
    write_marks(f, app, &nm);
    fclose(f);
    if ((f = open_memstream(&groups, &len)) == NULL)
        fatal("procedure: open_memstream");
    write_groups_off(f, app, p, &ng);
    fclose(f);
    if (nm > 0 && ng > 0)
        text = xasprintf(ko ? "imdomaind가 중지한 서비스가 아직 멈춰 있습니다: %s. services 명령의 "
                              "start-stopped로 시작하세요. HA가 아직 꺼져 있는 그룹: %s. "
                              "ha/enable로 켜세요."
                            : "Services imdomaind stopped are still down: %s; start them with "
                              "the services command (start-stopped). HA is still off on group "
                              "%s; enable it with ha/enable.",
                         marks, groups);
    else if (nm > 0)
        text = xasprintf(ko ? "imdomaind가 중지한 서비스가 아직 멈춰 있습니다: %s. services 명령의 "
                              "start-stopped로 시작하세요."
                            : "Services imdomaind stopped are still down: %s; start them with "
                              "the services command (start-stopped).",
                         marks);
    else if (ng > 0)
        text = xasprintf(ko ? "HA가 아직 꺼져 있는 그룹: %s. ha/enable로 켜세요."
                            : "HA is still off on group %s; enable it with ha/enable.",
                         groups);
    free(marks);
    free(groups);
    return text;
}

/* ---- step 3 ---- */

void procedure_changes_clear(struct proc_changes *c)
{
    free(c->add);
    free(c->rename);
    free(c->del);
    memset(c, 0, sizeof(*c));
}

bool procedure_changes_empty(const struct proc_changes *c)
{
    return c->default_domain[0] == '\0' && c->nadd == 0 && c->nrename == 0 && c->ndel == 0;
}

/* The adds, renames and deletes, stopping at the first that does not go through. */
static enum domains_work domain_works(struct app *app, const struct proc_changes *c,
                                      const char *lang, char **why)
{
    enum domains_work w = DOMAINS_WORK_DONE;

    for (size_t i = 0; i < c->nadd && w == DOMAINS_WORK_DONE; i++)
        w = domains_add_work(app, c->add[i], lang, why);
    for (size_t i = 0; i < c->nrename && w == DOMAINS_WORK_DONE; i++)
        w = domains_rename_work(app, &c->rename[i], lang, why);
    for (size_t i = 0; i < c->ndel && w == DOMAINS_WORK_DONE; i++)
        w = domains_delete_one(app, c->del[i], false, lang, why); /* peers: not known yet */
    return w;
}

/* The default-domain job, unless the domain is the default already (*id stays 0). */
static enum domains_work default_work(struct app *app, const char *domain, const char *lang,
                                      char **why, int64_t *id)
{
    struct store_settings s;
    enum store_rc rc;
    bool same;

    if (domain[0] == '\0')
        return DOMAINS_WORK_DONE;
    if (store_settings_get(app->store, &s) != STORE_OK)
        return DOMAINS_WORK_FAILED;
    same = strcmp(s.default_domain, domain) == 0;
    store_settings_clear(&s);
    if (same)
        return DOMAINS_WORK_DONE;
    rc = job_create(app->store, STORE_JOB_DEFAULT_DOMAIN, domain, id);
    if (rc == STORE_CONFLICT) {
        *why = say(lang, "another job is unfinished: follow it with jobs/status",
                   "끝나지 않은 다른 작업이 있습니다. jobs/status로 확인하세요");
        return DOMAINS_WORK_REFUSED;
    }
    return rc == STORE_OK ? DOMAINS_WORK_DONE : DOMAINS_WORK_FAILED;
}

enum domains_work procedure_change_domains(struct app *app, struct store_procedure *p,
                                           const struct proc_changes *c, const char *lang,
                                           char **why, int64_t *job_id)
{
    enum domains_work w;
    enum store_rc rc;

    *why = NULL;
    *job_id = 0;
    if (store_begin(app->store) != STORE_OK)
        return DOMAINS_WORK_FAILED;
    *why = precond_domain_change(app, lang);
    w = *why ? DOMAINS_WORK_REFUSED : domain_works(app, c, lang, why);
    if (w == DOMAINS_WORK_DONE)
        w = default_work(app, c->default_domain, lang, why, job_id);
    rc = w == DOMAINS_WORK_DONE
             ? store_procedure_set_step(app->store, p->id, *job_id ? PROC_DOMAINS : PROC_CERT,
                                        *job_id ? *job_id : p->job_id, p->ha_groups)
             : STORE_ERR;
    if (finish_tx(app, rc) != STORE_OK) {
        *job_id = 0;
        return w == DOMAINS_WORK_DONE ? DOMAINS_WORK_FAILED : w;
    }
    log_info("procedure: step=3 committed id=%lld job=%lld", (long long)p->id, (long long)*job_id);
    return reload(app, p) == STORE_OK ? DOMAINS_WORK_DONE : DOMAINS_WORK_FAILED;
}

int procedure_job_wait(struct app *app, struct store_procedure *p, struct store_job *j)
{
    enum store_rc rc = STORE_NOTFOUND;

    memset(j, 0, sizeof(*j));
    if (p->job_id > 0 && (rc = store_job_get(app->store, p->job_id, j)) == STORE_ERR)
        return -1;
    if (rc == STORE_OK && store_job_state_active(j->state))
        return 1;
    store_job_clear(j);
    return procedure_advance(app, p, PROC_CERT, -1) == STORE_OK ? 0 : -1;
}

/* ---- steps 2 and 5 ---- */

struct services_run {
    struct app *app;
    int64_t id;
    int from; /* the step that runs */
    bool ko;  /* the run's language is Korean */
    procedure_services_cb cb;
    void *arg;
    void (*arg_free)(void *arg);
};

/* The daemon stopped while a hook ran: the run is given up, its state must not be lost. */
static void services_given_up(void *arg)
{
    struct services_run *r = arg;

    if (r->arg_free)
        r->arg_free(r->arg);
    free(r);
}

static void services_done(void *arg, const struct service_outcome *out, size_t n)
{
    struct services_run *r = arg;
    struct store_procedure p = {0}; /* read only when every action succeeded; cleared always */
    const char *lang = r->ko ? "ko" : NULL;
    char *unrecorded = NULL;
    enum store_rc rc = STORE_OK;
    bool ok = true;

    for (size_t i = 0; i < n; i++)
        ok &= out[i].ok;
    /* Only the run that asked, still at that step, moves on; a run another admin ended or
     * moved meanwhile is left as it is. The actions' success is not the step's when the store
     * cannot record it: the admin would read "done" and get the same step again. */
    if (ok && (rc = procedure_load(r->app, &p)) != STORE_OK && rc != STORE_NOTFOUND)
        unrecorded = store_trouble(r->app, lang, false);
    else if (ok && rc == STORE_OK && p.id == r->id && p.step == r->from &&
             record_step(r->app, &p, r->from + 1, -1) != STORE_OK)
        unrecorded = store_trouble(r->app, lang, true);
    store_procedure_clear(&p);
    ok = ok && unrecorded == NULL;
    log_info("procedure: step=%d services ok=%d actions=%zu", r->from, ok, n);
    r->cb(r->arg, ok, unrecorded, out, n);
    free(unrecorded);
    free(r);
}

int procedure_run_services(struct app *app, const struct store_procedure *p, bool up,
                           const char *lang, procedure_services_cb cb, void *arg,
                           void (*arg_free)(void *arg), const char **why)
{
    struct store_node *nodes = NULL;
    size_t n = 0;
    const char **names;
    struct services_run *r;
    int rc;

    if (app->services == NULL)
        return *why = i18n_is_korean(lang) ? "컨트롤 센터가 실행 중이 아닙니다"
                                           : "the control center is not running",
               -1;
    if (store_node_list(app->store, &nodes, &n) != STORE_OK)
        return *why = i18n_is_korean(lang) ? "노드를 읽을 수 없습니다" : "the nodes cannot be read",
               -1;
    names = xcalloc(n + 1, sizeof(*names));
    for (size_t i = 0; i < n; i++)
        names[i] = nodes[i].name;
    r = xcalloc(1, sizeof(*r));
    *r = (struct services_run){.app = app,
                               .id = p->id,
                               .from = up ? PROC_START : PROC_STOP,
                               .ko = i18n_is_korean(lang),
                               .cb = cb,
                               .arg = arg,
                               .arg_free = arg_free};
    rc = services_run_owned(app->services, names, n,
                            up ? SERVICE_OP_START_STOPPED : SERVICE_OP_STOP_ALL, NULL, 0, lang,
                            services_done, r, services_given_up, why);
    if (rc < 0)
        free(r);
    free(names);
    store_node_list_free(nodes, n);
    return rc;
}

/* ---- steps 6 and 7 ---- */

char **procedure_session_lines(struct app *app, size_t *n)
{
    struct ha_view v;
    char **lines;

    *n = 0;
    if (ha_view_load(app, &v) != STORE_OK)
        return NULL;
    lines = xcalloc(v.nn + 1, sizeof(*lines));
    for (size_t i = 0; i < v.nn; i++) {
        const struct store_recorded *r = ha_view_recorded(&v, v.nodes[i].name);
        if (r != NULL)
            lines[i] = xasprintf("node %s: %lld sessions, %lld recorded", v.nodes[i].name,
                                 (long long)v.sessions[i], (long long)r->active_users);
        else
            lines[i] = xasprintf("node %s: %lld sessions, none recorded", v.nodes[i].name,
                                 (long long)v.sessions[i]);
    }
    *n = v.nn;
    ha_view_clear(&v);
    return lines;
}

void procedure_lines_free(char **lines, size_t n)
{
    for (size_t i = 0; lines != NULL && i < n; i++)
        free(lines[i]);
    free(lines);
}

/* Drops from `groups` those no longer in the topology (their nodes were removed since step 1,
 * and the empty group with them): there is no HA left to turn on there. STORE_ERR when the
 * groups cannot be read. */
static enum store_rc keep_existing_groups(struct app *app, const char **groups, size_t *n)
{
    size_t k = 0;

    for (size_t i = 0; i < *n; i++) {
        enum store_rc rc = store_group_get(app->store, groups[i], NULL);
        if (rc == STORE_OK)
            groups[k++] = groups[i];
        else if (rc == STORE_NOTFOUND)
            log_info("procedure: group %s is gone: HA not turned on there", groups[i]);
        else
            return STORE_ERR;
    }
    *n = k;
    return STORE_OK;
}

char *procedure_enable_ha(struct app *app, struct store_procedure *p, const char *lang)
{
    char *why = guard_ha_on(app, p, lang), *buf;
    size_t n;
    const char **groups;

    if (why != NULL)
        return why;
    groups = split_list(p->ha_groups, &buf, &n);
    if (keep_existing_groups(app, groups, &n) != STORE_OK)
        why = store_trouble(app, lang, false);
    else if (ha_enable_groups(app, groups, n) != STORE_OK ||
             procedure_end(app, p, STORE_PROC_DONE) != STORE_OK)
        why = store_trouble(app, lang, true);
    else
        log_info("procedure: step=7 done id=%lld ha_enabled=%zu", (long long)p->id, n);
    free(groups);
    free(buf);
    return why;
}
