/* The sync audit: the rules that derive the domain set from the users (one grouped query, then
 * per-domain work), how a run is shown in a command's answer, and the nightly timer. */
#include "component/engine/sync.h"
#include "component/engine/app_apply.h"
#include "component/engine/peers_window.h"
#include "component/engine/topology.h"

#include "component/engine/domain_rules.h"
#include "component/engine/services.h"
#include "store/store_audit.h"
#include "store/store_domain.h"
#include "store/store_peer.h"
#include "store/store_settings.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/adhoc_later.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the rules ---- */

static void names_add(struct sync_names *names, const char *name)
{
    size_t n = names->n;

    if ((n & (n - 1)) == 0) /* 0, 1, 2, 4, ...: the array is full; double it */
        names->v = xrealloc(names->v, (n ? 2 * n : 1) * sizeof(*names->v));
    names->v[names->n++] = xstrdup(name);
}

static void names_clear(struct sync_names *names)
{
    for (size_t i = 0; i < names->n; i++)
        free(names->v[i]);
    free(names->v);
    names->v = NULL;
    names->n = 0;
}

/* Used by someone anywhere: local users, or peer users as the peers last said. */
static bool used_anywhere(const struct store_domain_usage *du)
{
    return du->local_users > 0 || du->peer_users > 0;
}

/* A domain the table lacks: local users have it (added local and system-managed), or only
 * peers have it (added peer-only: system-managed when peer users use it, else admin-managed as
 * on the peer). A name that breaks the rules is skipped. */
static enum store_rc add_missing(struct store *st, const struct store_domain_usage *du,
                                 struct sync_report *r)
{
    bool local = du->local_users > 0;
    enum store_rc rc;

    if (domain_rules_check(du->name, NULL) != DOMAIN_OK) {
        names_add(&r->skipped, du->name);
        return STORE_OK;
    }
    rc = store_domain_insert(st, du->name,
                             used_anywhere(du) ? STORE_MANAGED_SYSTEM : STORE_MANAGED_ADMIN, local);
    if (rc == STORE_OK)
        names_add(local ? &r->added : &r->peer_added, du->name);
    return rc;
}

/* A listed domain that local users use: local (if it was peer-only) and system-managed. */
static enum store_rc mark_used(struct store *st, const struct store_domain_usage *du,
                               struct sync_report *r)
{
    enum store_rc rc = STORE_OK;

    if (du->local_users > 0 && !du->configured_local &&
        (rc = store_domain_set_local(st, du->name, true)) == STORE_OK)
        names_add(&r->made_local, du->name);
    if (rc == STORE_OK && du->managed_by == STORE_MANAGED_ADMIN &&
        (rc = store_domain_set_managed_by(st, du->name, STORE_MANAGED_SYSTEM)) == STORE_OK)
        names_add(&r->to_system, du->name);
    return rc;
}

/* A listed domain nobody uses. A local system-managed one is admin-managed again. A peer-only
 * one is decided by peer data only when that data is complete (`peers_known`): admin-managed
 * again, and gone when no peer configures it any more (deleted everywhere). Before any peer
 * answered, it is left as it is: whether peer users use it is the peers' to say. */
static enum store_rc mark_unused(struct store *st, const struct store_domain_usage *du,
                                 bool peers_known, struct sync_report *r)
{
    enum store_rc rc = STORE_OK;

    if (!du->configured_local && !peers_known)
        return STORE_OK;
    if (!du->configured_local && !du->peer_configured) {
        if ((rc = store_domain_delete(st, du->name)) == STORE_OK)
            names_add(&r->removed, du->name);
        return rc;
    }
    if (du->managed_by == STORE_MANAGED_SYSTEM &&
        (rc = store_domain_set_managed_by(st, du->name, STORE_MANAGED_ADMIN)) == STORE_OK)
        names_add(&r->to_admin, du->name);
    return rc;
}

static enum store_rc apply_rules(struct store *st, int64_t peer_since, bool walk,
                                 struct sync_report *r)
{
    struct store_domain_usage *du = NULL;
    size_t n = 0;
    bool peers_known = false;
    enum store_rc rc = store_peer_authoritative(st, &peers_known);

    if (rc == STORE_OK)
        rc = walk ? store_domain_usage_walk(st, peer_since, &du, &n)
                  : store_domain_usage(st, peer_since, &du, &n);
    for (size_t i = 0; rc == STORE_OK && i < n; i++) {
        if (du[i].local_users > 0) {
            r->users_scanned += du[i].local_users;
            r->domains_in_use++;
        }
        if (!du[i].listed)
            rc = add_missing(st, &du[i], r);
        else if (used_anywhere(&du[i]))
            rc = mark_used(st, &du[i], r);
        else
            rc = mark_unused(st, &du[i], peers_known, r);
    }
    store_domain_usage_free(du, n);
    return rc;
}

static int run(struct store *st, int64_t peer_since, bool walk, struct sync_report *out, char **err)
{
    bool own = !store_in_transaction(st);
    enum store_rc rc = own ? store_begin(st) : STORE_OK;

    memset(out, 0, sizeof(*out));
    if (rc == STORE_OK)
        rc = apply_rules(st, peer_since, walk, out);
    if (own && rc == STORE_OK)
        rc = store_commit(st);
    if (rc == STORE_OK) {
        char *line = sync_report_summary_line(out);
        log_info("sync: audit %s", line);
        free(line);
        return 0;
    }
    if (err != NULL)
        *err = xasprintf("the sync audit failed: %s", store_errmsg(st));
    log_warnx("sync: audit failed: %s", store_errmsg(st));
    if (own && store_rollback(st) != STORE_OK)
        log_warnx("sync: rollback failed: %s", store_errmsg(st));
    sync_report_clear(out);
    return -1;
}

int sync_run(struct store *st, int64_t peer_since, struct sync_report *out, char **err)
{
    return run(st, peer_since, false, out, err);
}

int sync_run_walk(struct store *st, int64_t peer_since, struct sync_report *out, char **err)
{
    return run(st, peer_since, true, out, err);
}

bool sync_report_local_changed(const struct sync_report *r)
{
    return r->added.n > 0 || r->made_local.n > 0;
}

bool sync_report_changed(const struct sync_report *r)
{
    return sync_report_local_changed(r) || r->to_system.n > 0 || r->to_admin.n > 0 ||
           r->peer_added.n > 0 || r->removed.n > 0;
}

void sync_report_clear(struct sync_report *r)
{
    if (r == NULL)
        return;
    names_clear(&r->added);
    names_clear(&r->made_local);
    names_clear(&r->to_system);
    names_clear(&r->to_admin);
    names_clear(&r->skipped);
    names_clear(&r->peer_added);
    names_clear(&r->removed);
    memset(r, 0, sizeof(*r));
}

char *sync_report_summary_line(const struct sync_report *r)
{
    char *line = xasprintf("users=%lld domains=%zu added=%zu made_local=%zu to_system=%zu "
                           "to_admin=%zu skipped=%zu",
                           (long long)r->users_scanned, r->domains_in_use, r->added.n,
                           r->made_local.n, r->to_system.n, r->to_admin.n, r->skipped.n);
    char *more;

    if (r->peer_added.n == 0 && r->removed.n == 0)
        return line;
    /* Peer changes only when there are some: lines of clusters without peers stay as they were. */
    more = xasprintf("%s peer_added=%zu removed=%zu", line, r->peer_added.n, r->removed.n);
    free(line);
    return more;
}

/* ---- presenting a run ---- */

static const struct text T_USERS = {"Users scanned", "검사한 사용자"};
static const struct text T_IN_USE = {"Domains in use", "사용 중인 도메인"};
static const struct text T_ADDED = {"Domains added", "추가된 도메인"};
static const struct text T_MADE_LOCAL = {"Peer-only domains now also local",
                                         "로컬에도 구성된 피어 전용 도메인"};
static const struct text T_TO_SYSTEM = {"Flipped admin-managed to system-managed",
                                        "관리자 관리에서 시스템 관리로 전환"};
static const struct text T_TO_ADMIN = {"Flipped system-managed to admin-managed",
                                       "시스템 관리에서 관리자 관리로 전환"};
static const struct text T_SKIPPED = {"Domains skipped (invalid names)",
                                      "건너뛴 도메인(잘못된 이름)"};
static const struct text T_PEER_ADDED = {"Peer-only domains added", "추가된 피어 전용 도메인"};
static const struct text T_REMOVED = {"Domains gone everywhere (removed)",
                                      "모든 곳에서 삭제된 도메인(제거됨)"};
static const struct text T_DOMAIN = {"Domain", "도메인"};
static const struct text T_CHANGE = {"Change", "변경"};
static const struct text T_DETAIL = {"Detail", "세부 정보"};

static void count_field(form_t *f, const char *var, const struct text *label, long long n)
{
    form_field_add_int(form_add_field(f, var, FIELD_TEXT_SINGLE, label), n);
}

form_t *sync_report_form(const struct sync_report *r)
{
    form_t *f = form_new(FORM_RESULT);

    count_field(f, "users_scanned", &T_USERS, r->users_scanned);
    count_field(f, "domains_in_use", &T_IN_USE, (long long)r->domains_in_use);
    count_field(f, "added", &T_ADDED, (long long)r->added.n);
    count_field(f, "made_local", &T_MADE_LOCAL, (long long)r->made_local.n);
    count_field(f, "admin_to_system", &T_TO_SYSTEM, (long long)r->to_system.n);
    count_field(f, "system_to_admin", &T_TO_ADMIN, (long long)r->to_admin.n);
    count_field(f, "skipped", &T_SKIPPED, (long long)r->skipped.n);
    count_field(f, "peer_added", &T_PEER_ADDED, (long long)r->peer_added.n);
    count_field(f, "removed", &T_REMOVED, (long long)r->removed.n);
    return f;
}

/* The change column holds stable tokens that scripts can match; labels carry the language. */
static void change_rows(form_t *t, const struct sync_names *names, const char *change,
                        const char *lang)
{
    for (size_t i = 0; i < names->n; i++) {
        const char *detail = "";
        if (strcmp(change, "skipped") == 0)
            detail = domain_rules_explain(domain_rules_check(names->v[i], NULL), lang);
        const char *cells[] = {names->v[i], change, detail};
        form_add_row(t, cells);
    }
}

form_t *sync_report_table(const struct sync_report *r, const char *lang)
{
    form_t *t;

    if (!sync_report_changed(r) && r->skipped.n == 0)
        return NULL;
    t = form_new(FORM_RESULT);
    form_add_column(t, "domain", FIELD_TEXT_SINGLE, &T_DOMAIN);
    form_add_column(t, "change", FIELD_TEXT_SINGLE, &T_CHANGE);
    form_add_column(t, "detail", FIELD_TEXT_SINGLE, &T_DETAIL);
    change_rows(t, &r->added, "added", lang);
    change_rows(t, &r->made_local, "made-local", lang);
    change_rows(t, &r->to_system, "admin-to-system", lang);
    change_rows(t, &r->to_admin, "system-to-admin", lang);
    change_rows(t, &r->skipped, "skipped", lang);
    change_rows(t, &r->peer_added, "peer-added", lang);
    change_rows(t, &r->removed, "removed", lang);
    return t;
}

void sync_report_note(adhoc_call_t *call, const struct sync_report *r)
{
    static const struct text nothing = {
        "Nothing to do: the domain set already matches the users' directory URIs.",
        "변경할 내용이 없습니다. 도메인 목록이 이미 사용자의 디렉터리 URI와 일치합니다."};
    char *en, *ko;

    if (!sync_report_changed(r)) {
        adhoc_note(call, ADHOC_NOTE_INFO, &nothing);
    } else {
        en = xasprintf("Sync audit: %zu domain(s) added, %zu peer-only domain(s) now also local, "
                       "%zu flipped admin-managed to system-managed, %zu flipped "
                       "system-managed to admin-managed.",
                       r->added.n, r->made_local.n, r->to_system.n, r->to_admin.n);
        ko = xasprintf("동기화 감사: 도메인 %zu개 추가, 피어 전용 도메인 %zu개 로컬에도 구성, "
                       "관리자 관리에서 시스템 관리로 %zu개 전환, 시스템 관리에서 관리자 관리로 "
                       "%zu개 전환.",
                       r->added.n, r->made_local.n, r->to_system.n, r->to_admin.n);
        if (r->peer_added.n > 0 || r->removed.n > 0) {
            char *en2 = xasprintf("%s Peers: %zu peer-only domain(s) added, %zu gone everywhere "
                                  "and removed.",
                                  en, r->peer_added.n, r->removed.n);
            char *ko2 = xasprintf("%s 피어: 피어 전용 도메인 %zu개 추가, 모든 곳에서 삭제된 "
                                  "도메인 %zu개 제거.",
                                  ko, r->peer_added.n, r->removed.n);
            free(en);
            free(ko);
            en = en2;
            ko = ko2;
        }
        adhoc_note(call, ADHOC_NOTE_INFO, &(struct text){en, ko});
        free(en);
        free(ko);
    }
    if (r->skipped.n > 0)
        adhoc_note(call, ADHOC_NOTE_WARN,
                   &(struct text){"Some directory URIs have a domain part that breaks the domain "
                                  "name rules; those domains were not added. Correct the users' "
                                  "directory URIs (users/import) and run the audit again.",
                                  "일부 디렉터리 URI의 도메인 부분이 도메인 이름 규칙에 맞지 "
                                  "않아 추가하지 않았습니다. 사용자의 디렉터리 URI를 "
                                  "고친 뒤(users/import) 감사를 다시 실행하십시오."});
}

/* ---- answering after the router took the change ---- */

struct answering {
    struct app *app;
    adhoc_call_t *call;   /* the step's call while the step runs, NULL after */
    adhoc_later_t *later; /* the deferred answer, NULL when answered already */
    sync_answer_fn answer;
    void *arg;
    void (*arg_free)(void *);
    bool applied; /* the router's outcome came while the step still ran */
    int ok;
    char *detail;
};

static void applied_note(adhoc_call_t *call, int ok, const char *detail)
{
    char *en, *ko;

    if (ok) {
        en = xasprintf("Applied to the router: %s.", detail);
        ko = xasprintf("라우터에 반영했습니다: %s.", detail);
    } else {
        en = xasprintf("Saved, but not applied to the router: %s. The domain set stays marked "
                       "'not applied' until a later change applies it.",
                       detail);
        ko = xasprintf("저장했지만 라우터에 반영하지 못했습니다: %s. 이후 변경이 반영될 때까지 "
                       "도메인 목록은 '반영 안 됨'으로 표시됩니다.",
                       detail);
    }
    adhoc_note(call, ok ? ADHOC_NOTE_INFO : ADHOC_NOTE_WARN, &(struct text){en, ko});
    free(en);
    free(ko);
}

static void answering_free(struct answering *a)
{
    if (a->arg_free != NULL)
        a->arg_free(a->arg);
    free(a->detail);
    free(a);
}

static void on_applied(void *arg, int ok, const char *detail)
{
    struct answering *a = arg;

    if (a->call != NULL) { /* still inside the step: it answers */
        a->applied = true;
        a->ok = ok;
        a->detail = xstrdup(detail != NULL ? detail : "");
        return;
    }
    if (a->later != NULL) {
        adhoc_call_t *c = adhoc_later_call(a->later);
        a->answer(c, a->arg);
        applied_note(c, ok, detail != NULL ? detail : "");
        adhoc_later_finish(a->later);
    }
    answering_free(a);
}

void sync_answer_after_apply(struct app *app, adhoc_call_t *call, bool apply, sync_answer_fn answer,
                             void *arg, void (*arg_free)(void *))
{
    static const struct text background = {
        "The router is being updated in the background; domains/list shows whether it took the "
        "change.",
        "라우터를 백그라운드에서 갱신하고 있습니다. 반영 여부는 domains/list에서 확인하십시오."};
    struct answering *a;

    if (!apply || app->apply == NULL) { /* no router configured: nothing to wait for */
        answer(call, arg);
        if (arg_free != NULL)
            arg_free(arg);
        return;
    }
    a = xcalloc(1, sizeof(*a));
    *a = (struct answering){app, call, NULL, answer, arg, arg_free, false, 0, NULL};
    app_apply_domains(app, call->requester, on_applied, a);
    a->call = NULL;
    if (a->applied) {
        answer(call, arg);
        applied_note(call, a->ok, a->detail);
        answering_free(a);
        return;
    }
    a->later = adhoc_defer(call);
    if (a->later == NULL) { /* the answer goes now; on_applied only frees */
        answer(call, arg);
        adhoc_note(call, ADHOC_NOTE_INFO, &background);
    }
}

/* ---- the nightly timer ---- */

struct sync_sched {
    struct app *app;
    uv_timer_t timer;
    time_t last_check; /* wall-clock time of the last look: a run is due if the audit time
                          fell after it */
    bool stopped;
};

/* "HH:MM" with 00 <= HH <= 23 and 00 <= MM <= 59, nothing else. */
static int parse_hhmm(const char *s, int *h, int *m)
{
    if (s == NULL || strlen(s) != 5 || s[2] != ':')
        return -1;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return -1;
    *h = (s[0] - '0') * 10 + (s[1] - '0');
    *m = (s[3] - '0') * 10 + (s[4] - '0');
    return *h < 24 && *m < 60 ? 0 : -1;
}

/* The moment the local clock shows h:m on the day of `base`, `days_later` days on. */
static time_t at_local(time_t base, int days_later, int h, int m)
{
    struct tm tm;

    localtime_r(&base, &tm);
    tm.tm_mday += days_later;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = 0;
    tm.tm_isdst = -1; /* let mktime() decide: the day may be on the other side of a DST change */
    return mktime(&tm);
}

time_t sync_next_occurrence(time_t after, const char *hhmm)
{
    int h, m;

    if (parse_hhmm(hhmm, &h, &m) == -1)
        return -1;
    /* Three days cover any daylight-saving oddity; the second is the usual answer. */
    for (int day = 0; day < 3; day++) {
        time_t t = at_local(after, day, h, m);
        if (t != -1 && t > after)
            return t;
    }
    return -1;
}

bool sync_due(time_t last_check, time_t now, const char *hhmm)
{
    time_t t = sync_next_occurrence(last_check, hhmm);
    return t != -1 && t <= now;
}

static void on_timer(uv_timer_t *t);

static void arm(struct sync_sched *s, time_t now, const char *hhmm)
{
    time_t next = sync_next_occurrence(now, hhmm);
    uint64_t ms = SYNC_CHECK_MAX_MS;

    if (next != -1 && (uint64_t)(next - now) * 1000u < ms)
        ms = (uint64_t)(next - now) * 1000u;
    uv_timer_start(&s->timer, on_timer, ms, 0);
}

int sync_nightly(struct app *app)
{
    struct sync_report r;
    char *err = NULL, *line;

    if (!services_up_everywhere(app, SERVICE_SYNC_AGENT)) {
        log_info("sync: nightly audit skipped reason=sync-agent-stopped");
        return 1;
    }
    if (sync_run(app->store, peers_counted_now(app), &r, &err) == -1) {
        app_audit(app, SYNC_ACTOR, SYNC_NODE, STORE_OUTCOME_ERROR, err);
        free(err);
        return -1;
    }
    line = sync_report_summary_line(&r);
    log_info("sync: nightly audit done %s", line);
    app_audit(app, SYNC_ACTOR, SYNC_NODE, STORE_OUTCOME_OK, line);
    if (sync_report_local_changed(&r)) {
        topology_audit_release_finding(app, SYNC_ACTOR, SYNC_NODE);
        app_apply_domains(app, SYNC_ACTOR, NULL, NULL);
    }
    free(line);
    sync_report_clear(&r);
    return 0;
}

static void on_timer(uv_timer_t *t)
{
    struct sync_sched *s = t->data;
    struct store_settings set;
    time_t now = time(NULL);

    if (s->stopped || s->app->stopping)
        return;
    if (store_settings_get(s->app->store, &set) != STORE_OK) {
        log_warnx("sync: cannot read the audit time: %s", store_errmsg(s->app->store));
        uv_timer_start(&s->timer, on_timer, SYNC_CHECK_MAX_MS, 0);
        return;
    }
    if (sync_due(s->last_check, now, set.audit_time) && !s->app->standby) {
        if (store_in_transaction(s->app->store)) {
            /* Another command's transaction is open: look again shortly, still due. */
            log_info("sync: nightly audit waits for a transaction to end");
            uv_timer_start(&s->timer, on_timer, 1000, 0);
            store_settings_clear(&set);
            return;
        }
        sync_nightly(s->app);
    }
    s->last_check = now;
    arm(s, now, set.audit_time);
    store_settings_clear(&set);
}

struct sync_sched *sync_sched_start(struct app *app)
{
    struct sync_sched *s = xcalloc(1, sizeof(*s));
    int rc = uv_timer_init(app->loop, &s->timer);

    if (rc < 0) {
        log_warnx("sync: cannot start the nightly timer: %s", uv_strerror(rc));
        free(s);
        return NULL;
    }
    s->app = app;
    s->timer.data = s;
    s->last_check = time(NULL);
    /* The first look reads the audit time and arms the real wait. */
    uv_timer_start(&s->timer, on_timer, 0, 0);
    return s;
}

void sync_sched_stop(struct sync_sched *s)
{
    if (s == NULL)
        return;
    s->stopped = true;
    if (!uv_is_closing((uv_handle_t *)&s->timer))
        uv_timer_stop(&s->timer);
}

static void free_on_close(uv_handle_t *h)
{
    free(h->data);
}

void sync_sched_free(struct sync_sched *s)
{
    if (s == NULL)
        return;
    if (!uv_is_closing((uv_handle_t *)&s->timer)) {
        uv_close((uv_handle_t *)&s->timer, free_on_close);
        return;
    }
    free(s);
}
