/* domains/list, domains/add and domains/update (domains/delete lives in cmd_domains_delete.c):
 * the guide's Find-and-List view of IM address domains and the changes an admin may make to
 * the local admin-managed ones. */
#include "component/engine/cert_expiry.h"
#include "component/cmd/cmd_domains_common.h"
#include "component/cmd/commands.h"
#include "component/engine/domain_rules.h"
#include "component/engine/hosted.h"
#include "component/engine/peer_findings.h"
#include "component/engine/peers_window.h"
#include "component/engine/topology.h"
#include "store/store_peer.h"
#include "store/store_settings.h"
#include "util/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- domains/list ---- */

static const struct text T_LIST_TITLE = {"Find and list IM address domains",
                                         "IM 주소 도메인 찾기 및 목록"};
static const struct text T_LIST_HOW = {
    "Leave the name empty and both filters at \"any\" to list all domains.",
    "모든 도메인을 보려면 이름을 비워 두고 두 필터를 \"전체\"로 두세요."};
static const struct text T_FILTER = {"Domain name contains", "도메인 이름에 포함된 문자열"};
static const struct text T_MANAGED = {"Managed by", "관리 주체"};
static const struct text T_WHERE = {"Configured where", "구성 위치"};
static const struct text T_DOMAIN = {"Domain", "도메인"};
static const struct text T_LOCAL_USERS = {"Local users", "로컬 사용자"};
static const struct text T_PEER_USERS = {"Peer users", "피어 사용자"};
static const struct text T_CERT = {"Certificate covers it", "인증서 포함"};
static const struct text T_ADMIN = {"admin", "관리자"};
static const struct text T_SYSTEM = {"system", "시스템"};
static const struct text T_LOCAL = {"local", "로컬"};
static const struct text T_PEER_ONLY = {"peer-only", "피어 전용"};
static const struct text T_BOTH = {"local+peer", "로컬+피어"};
static const struct text T_DEFAULT = {"Default domain", "기본 도메인"};
static const struct text T_ANY = {"any", "전체"};
static const struct text T_YES = {"yes", "예"};
static const struct text T_NO = {"no", "아니요"};
static const struct text T_STALE = {"stale (regenerate)", "오래됨(다시 생성 필요)"};
/* The filters' "no filter" choice: an explicit option, so that a client that preselects the
 * first option (poezio, Psi) lists everything. */
#define ANY "any"

/* What the peers last said about one domain (store_peer_totals), found by name. */
static const struct store_peer_total *peer_total(const struct store_peer_total *v, size_t n,
                                                 const char *name)
{
    size_t lo = 0, hi = n;

    while (lo < hi) { /* both lists are in name order of lower-case names */
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(v[mid].name, name);
        if (c == 0)
            return &v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Where a domain is configured: a domain the store lists but does not configure locally is
 * there for a peer; a local one that a peer configures or has users in is local+peer. */
static const char *where_of(const struct store_domain *d, const struct store_peer_total *pt)
{
    if (!d->configured_local)
        return "peer-only";
    return pt && (pt->configured_by > 0 || pt->users > 0) ? "local+peer" : "local";
}

static form_t *list_form(void)
{
    form_t *f = form_new(FORM_FORM);
    form_field_t *m, *w;

    form_set_title(f, &T_LIST_TITLE);
    form_add_instructions(f, &T_LIST_HOW);
    form_add_field(f, "filter", FIELD_TEXT_SINGLE, &T_FILTER);
    m = form_add_field(f, "managed_by", FIELD_LIST_SINGLE, &T_MANAGED);
    form_field_add_option(m, ANY, &T_ANY);
    form_field_add_option(m, "admin", &T_ADMIN);
    form_field_add_option(m, "system", &T_SYSTEM);
    form_field_add_value(m, ANY);
    w = form_add_field(f, "where", FIELD_LIST_SINGLE, &T_WHERE);
    form_field_add_value(w, ANY);
    form_field_add_option(w, ANY, &T_ANY);
    form_field_add_option(w, "local", &T_LOCAL);
    form_field_add_option(w, "peer-only", &T_PEER_ONLY);
    form_field_add_option(w, "local+peer", &T_BOTH);
    return f;
}

static form_t *list_table(void)
{
    form_t *t = form_new(FORM_RESULT);

    form_set_title(t, &T_LIST_TITLE);
    form_add_column(t, "domain", FIELD_TEXT_SINGLE, &T_DOMAIN);
    form_add_column(t, "managed_by", FIELD_TEXT_SINGLE, &T_MANAGED);
    form_add_column(t, "where", FIELD_TEXT_SINGLE, &T_WHERE);
    form_add_column(t, "local_users", FIELD_TEXT_SINGLE, &T_LOCAL_USERS);
    form_add_column(t, "peer_users", FIELD_TEXT_SINGLE, &T_PEER_USERS);
    form_add_column(t, "cert", FIELD_TEXT_SINGLE, &T_CERT);
    form_add_column(t, "default", FIELD_TEXT_SINGLE, &T_DEFAULT);
    form_column_value_label(t, "managed_by", "admin", &T_ADMIN);
    form_column_value_label(t, "managed_by", "system", &T_SYSTEM);
    form_column_value_label(t, "where", "local", &T_LOCAL);
    form_column_value_label(t, "where", "peer-only", &T_PEER_ONLY);
    form_column_value_label(t, "where", "local+peer", &T_BOTH);
    form_column_value_label(t, "cert", "yes", &T_YES);
    form_column_value_label(t, "cert", "stale", &T_STALE);
    form_column_value_label(t, "default", "yes", &T_YES);
    form_column_value_label(t, "default", "no", &T_NO);
    return t;
}

static bool matches(const struct store_domain *d, const struct store_peer_total *pt,
                    const char *managed, const char *where)
{
    if (managed && *managed && strcmp(managed, ANY) != 0 &&
        strcmp(managed, store_managed_by_name(d->managed_by)) != 0)
        return false;
    return !(where && *where && strcmp(where, ANY) != 0 && strcmp(where, where_of(d, pt)) != 0);
}

/* The certificate expiry alarm ([certs] warn_days, critical_days), when it is due. */
static void list_expiry_note(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    struct cert_expiry e;

    cert_expiry_check(app->cfg, time(NULL), &e);
    cert_expiry_note(call, &e);
}

/* Notes under the table: how many rows, whether the certificate and the router are behind. */
static void list_notes(adhoc_call_t *call, size_t rows, size_t uncovered, bool cert_present)
{
    struct app *app = call->ctx;
    struct store_settings s = {0};
    char *t;
    bool ko = i18n_is_korean(call->lang);

    t = ko ? xasprintf("도메인 %zu개.", rows) : xasprintf("%zu domain%s.", rows, i18n_s(rows));
    adhoc_note_str(call, ADHOC_NOTE_INFO, t);
    free(t);
    if (!cert_present && rows > 0) {
        adhoc_note(call, ADHOC_NOTE_WARN, &domains_text_no_cert);
    } else if (uncovered > 0) {
        t = xasprintf(ko ? "cup-xmpp-s2s 인증서가 오래되었습니다: 도메인 %zu개를 포함하지 "
                           "않습니다. certs/regenerate로 다시 만드세요."
                         : "The cup-xmpp-s2s certificate is stale: it does not cover %zu of "
                           "these domains; regenerate it with certs/regenerate.",
                      uncovered);
        adhoc_note_str(call, ADHOC_NOTE_WARN, t);
        free(t);
    }
    if (store_settings_get(app->store, &s) == STORE_OK && !s.domains_applied && s.apply_error) {
        t = xasprintf(ko ? "라우터에 현재 도메인 집합이 적용되지 않았습니다: %s"
                         : "The router does not have the current domain set: %s",
                      s.apply_error);
        adhoc_note_str(call, ADHOC_NOTE_WARN, t);
        free(t);
    }
    store_settings_clear(&s);
    list_expiry_note(call);
    if ((t = topology_release_finding(app, call->lang)) != NULL)
        adhoc_note_str(call, ADHOC_NOTE_WARN, t);
    free(t);
    peer_findings_notes(app, call);
}

/* The default domain as the list shows it: hosted (local) whether or not the table has a row
 * for it, counted with the users whose IM address is in it, system-managed while any user has
 * an address in it. `row` is its row or NULL; d->name is borrowed from `dflt`. */
static struct store_domain default_view(const struct store_domain *row, char *dflt,
                                        int64_t im_users)
{
    struct store_domain d = {.name = dflt, .configured_local = true};

    if (row != NULL) {
        d.managed_by = row->managed_by;
        d.local_users = row->local_users;
    }
    if (im_users > d.local_users)
        d.local_users = im_users;
    if (d.local_users > 0)
        d.managed_by = STORE_MANAGED_SYSTEM;
    return d;
}

/* Whether the default domain passes the name filter ("contains", any case). */
static bool default_shown(const char *dflt, const char *filter)
{
    return dflt != NULL && (filter == NULL || filter[0] == '\0' || strcasestr(dflt, filter));
}

struct list_acc {
    form_t *t;
    const struct store_peer_total *peer;
    size_t np, rows, uncovered;
    const struct cert_set *cs;
    const char *managed, *where;
};

static void list_row(struct list_acc *a, const struct store_domain *d, bool is_default)
{
    const struct store_peer_total *pt = peer_total(a->peer, a->np, d->name);
    char users[24], peer_users[24];
    bool covered = cert_set_covers(a->cs, d->name);

    if (!matches(d, pt, a->managed, a->where))
        return;
    snprintf(users, sizeof(users), "%lld", (long long)d->local_users);
    snprintf(peer_users, sizeof(peer_users), "%lld", pt ? (long long)pt->users : 0LL);
    form_add_row(a->t, (const char *const[]){d->name, store_managed_by_name(d->managed_by),
                                             where_of(d, pt), users, peer_users,
                                             covered ? "yes" : "stale", is_default ? "yes" : "no"});
    a->rows++;
    a->uncovered += !covered;
}

static void list_run(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    const char *filter = form_value(call->form, "filter");
    struct store_domain *list = NULL;
    struct store_peer_total *peer = NULL;
    struct cert_set cs;
    size_t n = 0, np = 0;
    int64_t im_users = 0;
    enum store_rc rc;
    char *dflt = hosted_default(app, &rc);
    bool default_done;
    struct list_acc a;

    if (rc != STORE_OK || (dflt && hosted_default_users(app, dflt, &im_users) != STORE_OK) ||
        store_domain_list(app->store, filter, NULL, 0, &list, &n) != STORE_OK ||
        store_peer_totals(app->store, peers_counted_now(app), &peer, &np) != STORE_OK ||
        cert_set_load(app, &cs) != STORE_OK) {
        store_domain_list_free(list, n);
        store_peer_totals_free(peer, np);
        free(dflt);
        domains_store_error(call, app);
        return;
    }
    a = (struct list_acc){list_table(),
                          peer,
                          np,
                          0,
                          0,
                          &cs,
                          form_value(call->form, "managed_by"),
                          form_value(call->form, "where")};
    default_done = !default_shown(dflt, filter);
    for (size_t i = 0; i < n; i++) {
        int c = default_done ? 1 : strcmp(list[i].name, dflt);
        if (c > 0 && !default_done) { /* no row: the default goes in its place by name */
            struct store_domain d = default_view(NULL, dflt, im_users);
            list_row(&a, &d, true);
        }
        default_done |= c >= 0;
        if (c == 0) {
            struct store_domain d = default_view(&list[i], dflt, im_users);
            list_row(&a, &d, true);
        } else {
            list_row(&a, &list[i], false);
        }
    }
    if (!default_done) {
        struct store_domain d = default_view(NULL, dflt, im_users);
        list_row(&a, &d, true);
    }
    free(dflt);
    list_notes(call, a.rows, a.uncovered, cs.present);
    cert_set_clear(&cs);
    store_domain_list_free(list, n);
    store_peer_totals_free(peer, np);
    adhoc_complete(call, a.t);
}

static void list_step(adhoc_call_t *call)
{
    if (call->stage == 0)
        adhoc_show(call, list_form(), ADHOC_ALLOW_COMPLETE, ADHOC_COMPLETE);
    else
        list_run(call);
}

/* ---- domains/add ---- */

static const struct text T_ADD_TITLE = {"Add an IM address domain", "IM 주소 도메인 추가"};
static const struct text T_ADD_HOW = {
    "Letters a-z, digits, hyphens and dots; at most 255 characters; the last label must not "
    "start with a digit. The domain is added as a local, admin-managed domain.",
    "영문자 a-z, 숫자, 하이픈, 점만 쓸 수 있고 최대 255자이며, 마지막 레이블은 숫자로 시작할 수 "
    "없습니다. 로컬 관리자 관리 도메인으로 추가됩니다."};



static void add_run(adhoc_call_t *call)
{
    char name[DOMAIN_NAME_BUF];
    char *summary;

    if (!domains_check_name(call, form_value(call->form, "domain"), name))
        return;
    if (!domains_transact(call, domains_add_work, name))
        return;
    summary = xasprintf(i18n_is_korean(call->lang) ? "도메인 %s을(를) 추가했습니다."
                                                   : "Added the domain %s.",
                        name);
    domains_apply_and_answer(call, summary, NULL);
    free(summary);
}

static void add_step(adhoc_call_t *call)
{
    form_t *f;

    if (call->stage > 0) {
        add_run(call);
        return;
    }
    if (!domains_precheck(call))
        return;
    f = form_new(FORM_FORM);
    form_set_title(f, &T_ADD_TITLE);
    form_add_instructions(f, &T_ADD_HOW);
    form_field_set_required(form_add_field(f, "domain", FIELD_TEXT_SINGLE, &T_DOMAIN), true);
    adhoc_show(call, f, ADHOC_ALLOW_COMPLETE, ADHOC_COMPLETE);
}

/* ---- domains/update ---- */

static const struct text T_UPD_TITLE = {"Rename an IM address domain", "IM 주소 도메인 이름 변경"};
static const struct text T_UPD_PICK = {"Only local admin-managed domains can be renamed.",
                                       "로컬 관리자 관리 도메인만 이름을 바꿀 수 있습니다."};
static const struct text T_NEW_NAME = {"New name", "새 이름"};
static const struct text T_NONE_EDITABLE = {
    "There is no local admin-managed domain to change: system-managed domains and domains of "
    "peer clusters cannot be edited or deleted.",
    "바꿀 수 있는 로컬 관리자 관리 도메인이 없습니다. 시스템 관리 도메인과 피어 클러스터의 "
    "도메인은 편집하거나 삭제할 수 없습니다."};


/* Stage 0: pick one of the editable domains. */
static void update_pick(adhoc_call_t *call)
{
    static const struct domains_choice choice = {&T_UPD_TITLE,      &T_UPD_PICK, "domain",
                                                 FIELD_LIST_SINGLE, &T_DOMAIN,   &T_NONE_EDITABLE};
    form_t *f = domains_choice_form(call, &choice);

    if (f == NULL)
        return;
    form_field_set_required(form_field_mut(f, "domain"), true);
    adhoc_show(call, f, ADHOC_ALLOW_NEXT, ADHOC_NEXT);
}

/* Stage 1: the domain was chosen; ask for its new name. */
static void update_ask(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    struct domains_rename *r;
    struct store_domain d;
    enum store_rc rc;
    char *why =
        domains_why_not_editable(app, form_value(call->form, "domain"), call->lang, &d, &rc);
    char *line;
    form_t *f;

    if (why || rc != STORE_OK) {
        store_domain_clear(&d);
        if (why)
            adhoc_fail(call, &(struct text){why, why});
        else
            domains_store_error(call, app);
        free(why);
        return;
    }
    r = call->state ? call->state : xcalloc(1, sizeof(*r));
    call->state = r;
    call->state_free = free;
    snprintf(r->from, sizeof(r->from), "%s", d.name);
    store_domain_clear(&d);
    f = form_new(FORM_FORM);
    form_set_title(f, &T_UPD_TITLE);
    line = xasprintf(i18n_is_korean(call->lang) ? "%s의 새 이름을 입력하세요."
                                                : "Enter the new name of %s.",
                     r->from);
    form_add_fixed(f, &(struct text){line, line});
    free(line);
    form_field_set_required(form_add_field(f, "new_name", FIELD_TEXT_SINGLE, &T_NEW_NAME), true);
    adhoc_show(call, f, ADHOC_ALLOW_PREV | ADHOC_ALLOW_COMPLETE, ADHOC_COMPLETE);
}

/* Stage 2: rename, re-checking everything inside the transaction. */
static void update_run(adhoc_call_t *call)
{
    struct domains_rename *r = call->state;
    char *summary;

    if (!domains_check_name(call, form_value(call->form, "new_name"), r->to))
        return;
    if (strcmp(r->from, r->to) == 0) {
        adhoc_refuse(call, "bad-request", "bad-payload",
                     i18n_is_korean(call->lang)
                         ? "새 이름이 지금 이름과 같습니다(대소문자는 구별하지 않습니다)"
                         : "the new name is the current name (case is ignored)");
        return;
    }
    if (!domains_transact(call, domains_rename_work, r))
        return;
    summary = xasprintf(i18n_is_korean(call->lang) ? "도메인 %s의 이름을 %s(으)로 바꿨습니다."
                                                   : "Renamed the domain %s to %s.",
                        r->from, r->to);
    domains_apply_and_answer(call, summary, NULL);
    free(summary);
}

static void update_step(adhoc_call_t *call)
{
    switch (call->stage) {
    case 0:
        update_pick(call);
        break;
    case 1:
        update_ask(call);
        break;
    default:
        update_run(call);
        break;
    }
}

/* ---- registration ---- */

static const struct adhoc_command cmd_list = {
    "domains/list", {"List IM address domains", "IM 주소 도메인 목록"}, false, list_step, NULL};
static const struct adhoc_command cmd_add = {
    "domains/add", {"Add an IM address domain", "IM 주소 도메인 추가"}, false, add_step, NULL};
static const struct adhoc_command cmd_update = {
    "domains/update",
    {"Rename an IM address domain", "IM 주소 도메인 이름 변경"},
    false,
    update_step,
    NULL};

int cmd_domains_register(struct app *app)
{
    const struct adhoc_command *defs[] = {&cmd_list, &cmd_add, &cmd_update,
                                          &cmd_domains_delete_def};

    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++)
        if (adhoc_register(app->adhoc, defs[i], app) < 0)
            return -1;
    return 0;
}
