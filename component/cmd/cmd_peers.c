/* peers: the intercluster peers command: list them (status, last sync, counts, errors, and the
 * consistency findings), add one (then asked at once), remove one added by command, refresh
 * one or all now. Answers that wait for a refresh are deferred until it has finished. */
#include "component/cmd/cmd_domains_common.h"
#include "component/cmd/commands.h"
#include "component/engine/app_apply.h"
#include "component/engine/domain_rules.h"
#include "component/engine/peer_findings.h"
#include "component/engine/peers.h"
#include "component/engine/peers_window.h"
#include "component/engine/sync.h"
#include "store/store_peer.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/adhoc_later.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define PEERS_NODE "peers"

static const struct text T_TITLE = {"Intercluster peers", "클러스터 간 피어"};
static const struct text T_HOW = {
    "list shows every peer; add and remove need a peer's component JID; refresh asks one peer "
    "(or every peer when the JID is empty) now.",
    "list는 모든 피어를 보여 줍니다. add와 remove에는 피어의 컴포넌트 JID가 필요합니다. "
    "refresh는 피어 하나(JID가 비어 있으면 모든 피어)에 지금 묻습니다."};
static const struct text T_ACTION = {"Action", "작업"};
static const struct text T_JID = {"Peer component JID", "피어 컴포넌트 JID"};
static const struct text T_STATUS = {"Status", "상태"};
static const struct text T_LAST_SYNC = {"Last sync", "마지막 동기화"};
static const struct text T_DOMAINS = {"Domains", "도메인"};
static const struct text T_USERS = {"Users", "사용자"};
static const struct text T_ERROR = {"Error", "오류"};
static const struct text T_NEED_JID = {"this action needs the peer's component JID",
                                       "이 작업에는 피어의 컴포넌트 JID가 필요합니다"};

static const char *const actions[] = {"list", "add", "remove", "refresh"};
static const struct text action_texts[] = {{"list the peers", "피어 목록"},
                                           {"add a peer", "피어 추가"},
                                           {"remove a peer", "피어 제거"},
                                           {"refresh now", "지금 새로 고침"}};
/* The peer states as people read them; the cells keep the names. */
static const char *const states[] = {"new", "ok", "stale", "expired", "failed"};
static const struct text state_texts[] = {{"new", "새 피어"},
                                          {"ok", "정상"},
                                          {"stale (still counted)", "오래됨(계속 집계)"},
                                          {"expired (not counted)", "만료(집계 안 함)"},
                                          {"failed", "실패"}};

/* new (never asked), ok, stale (the last refresh failed; old data kept and counted), expired
 * (no good answer since before `since`, [peers] forget_after: data kept, not counted), failed
 * (never answered). */
static const char *status_of(const struct store_peer *p, int64_t since)
{
    return peers_state_name(p, since);
}

static form_t *peers_form(void)
{
    form_t *f = form_new(FORM_FORM);
    form_field_t *a;

    form_set_title(f, &T_TITLE);
    form_add_instructions(f, &T_HOW);
    a = form_add_field(f, "action", FIELD_LIST_SINGLE, &T_ACTION);
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
        form_field_add_option(a, actions[i], &action_texts[i]);
    form_field_add_value(a, "list");
    form_field_set_required(a, true);
    form_add_field(f, "jid", FIELD_JID_SINGLE, &T_JID);
    return f;
}

static void peer_row(form_t *t, const struct store_peer *p, int64_t since)
{
    char when[40] = "never", domains[24], users[24];
    time_t tt = (time_t)p->last_sync;
    struct tm tm;

    if (p->last_sync > 0 && gmtime_r(&tt, &tm) != NULL)
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(domains, sizeof(domains), "%" PRId64, p->domains);
    snprintf(users, sizeof(users), "%" PRId64, p->users);
    form_add_row(t, (const char *const[]){p->jid, status_of(p, since), when, domains, users,
                                          p->last_error ? p->last_error : ""});
}

/* Completes `call` with the table of every peer and the findings as notes. */
static void answer_list(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    struct store_peer *list = NULL;
    size_t n = 0;
    form_t *t;
    char *line;

    if (store_peer_list(app->store, &list, &n) != STORE_OK) {
        domains_store_error(call, app);
        return;
    }
    t = form_new(FORM_RESULT);
    form_set_title(t, &T_TITLE);
    form_add_column(t, "jid", FIELD_TEXT_SINGLE, &T_JID);
    form_add_column(t, "status", FIELD_TEXT_SINGLE, &T_STATUS);
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
        form_column_value_label(t, "status", states[i], &state_texts[i]);
    form_add_column(t, "last_sync", FIELD_TEXT_SINGLE, &T_LAST_SYNC);
    form_add_column(t, "domains", FIELD_TEXT_SINGLE, &T_DOMAINS);
    form_add_column(t, "users", FIELD_TEXT_SINGLE, &T_USERS);
    form_add_column(t, "error", FIELD_TEXT_SINGLE, &T_ERROR);
    for (size_t i = 0; i < n; i++)
        peer_row(t, &list[i], peers_counted_now(app));
    line = i18n_is_korean(call->lang) ? xasprintf("피어 %zu개.", n)
                                      : xasprintf("%zu peer%s.", n, i18n_s(n));
    adhoc_note_str(call, ADHOC_NOTE_INFO, line);
    free(line);
    peer_findings_notes(app, call);
    store_peer_list_free(list, n);
    adhoc_complete(call, t);
}

/* ---- waiting for a refresh ---- */

static void refreshed(void *arg)
{
    adhoc_later_t *later = arg;

    answer_list(adhoc_later_call(later));
    adhoc_later_finish(later);
}

/* Refreshes `jid` (NULL: all) and answers with the list once done. */
static void refresh_then_list(adhoc_call_t *call, const char *jid)
{
    static const struct text started = {
        "The refresh has started; run peers again to see its outcome.",
        "갱신을 시작했습니다. 결과는 peers를 다시 실행해 확인하세요."};
    struct app *app = call->ctx;
    adhoc_later_t *later;

    if (app->peers == NULL) {
        adhoc_fail(call, &(struct text){"Peers are not being refreshed here (no router link).",
                                        "여기서는 피어를 갱신하지 않습니다(라우터 연결 없음)."});
        return;
    }
    later = adhoc_defer(call);
    if (later == NULL) {
        peers_refresh(app->peers, jid, NULL, NULL);
        adhoc_note(call, ADHOC_NOTE_INFO, &started);
        answer_list(call);
        return;
    }
    peers_refresh(app->peers, jid, refreshed, later);
}

/* ---- the actions ---- */

/* The JID field as a lower-case component JID (a domain name) in `out`; answers and returns
 * false when it is missing or not one. */
static bool checked_jid(adhoc_call_t *call, char out[DOMAIN_NAME_BUF])
{
    const char *jid = form_value(call->form, "jid");
    enum domain_rule rule;

    if (jid == NULL || *jid == '\0') {
        adhoc_refuse(call, "bad-request", "bad-payload", text_get(&T_NEED_JID, call->lang));
        return false;
    }
    rule = domain_rules_check(jid, out);
    if (rule != DOMAIN_OK) {
        char *why = xasprintf(i18n_is_korean(call->lang)
                                  ? "피어 JID는 컴포넌트 JID(도메인 이름)여야 합니다: %s"
                                  : "a peer JID is a component JID (a domain name): %s",
                              domain_rules_explain(rule, call->lang));
        adhoc_refuse(call, "bad-request", "bad-payload", why);
        free(why);
        return false;
    }
    return true;
}

static void do_add(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    char jid[DOMAIN_NAME_BUF];
    enum store_rc rc;

    if (!checked_jid(call, jid))
        return;
    if (strcasecmp(jid, app->cfg->jid) == 0) {
        adhoc_fail(call, &(struct text){"A cluster cannot be its own peer: give another "
                                        "cluster's component JID.",
                                        "클러스터는 자기 자신의 피어가 될 수 없습니다. 다른 "
                                        "클러스터의 컴포넌트 JID를 입력하세요."});
        return;
    }
    rc = store_peer_add(app->store, jid, false);
    if (rc == STORE_CONFLICT) {
        domains_fail(call, "%s is already a peer; use refresh to ask it now.",
                     "%s은(는) 이미 피어입니다. 지금 물으려면 refresh를 쓰세요.", jid);
        return;
    }
    if (rc != STORE_OK) {
        domains_store_error(call, app);
        return;
    }
    log_info("peers: added peer=%s", jid);
    refresh_then_list(call, jid);
}

/* Removes the peer and, in the same transaction, runs the audit (its peer-only domains may be
 * gone everywhere now). */
static enum store_rc remove_and_audit(struct app *app, const char *jid, struct sync_report *r)
{
    enum store_rc rc = store_begin(app->store);

    memset(r, 0, sizeof(*r));
    if (rc == STORE_OK)
        rc = store_peer_remove(app->store, jid);
    if (rc == STORE_OK && sync_run(app->store, peers_counted_now(app), r, NULL) < 0)
        rc = STORE_ERR;
    if (rc == STORE_OK)
        rc = store_commit(app->store);
    if (rc != STORE_OK && store_in_transaction(app->store))
        store_rollback(app->store);
    return rc;
}

static void do_remove(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    char jid[DOMAIN_NAME_BUF];
    struct store_peer p;
    struct sync_report r;
    enum store_rc rc;

    if (!checked_jid(call, jid))
        return;
    rc = store_peer_get(app->store, jid, &p);
    if (rc == STORE_OK && p.from_config) {
        store_peer_clear(&p);
        adhoc_fail(call, &(struct text){
                             "This peer is configured in the configuration file ([peers] jids): "
                             "remove it there and restart imdomaind.",
                             "이 피어는 설정 파일([peers] jids)에 있습니다. 거기서 지운 뒤 "
                             "imdomaind를 다시 시작하세요."});
        return;
    }
    store_peer_clear(&p);
    if (rc == STORE_OK)
        rc = remove_and_audit(app, jid, &r);
    if (rc == STORE_NOTFOUND) {
        domains_fail(call, "%s is not a peer; list shows the peers.",
                     "%s은(는) 피어가 아닙니다. list로 피어를 확인하세요.", jid);
        return;
    }
    if (rc != STORE_OK) {
        domains_store_error(call, app);
        return;
    }
    log_info("peers: removed peer=%s", jid);
    sync_report_note(call, &r);
    if (sync_report_local_changed(&r))
        app_apply_domains(app, call->requester, NULL, NULL);
    sync_report_clear(&r);
    answer_list(call);
}

static void do_refresh(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    const char *raw = form_value(call->form, "jid");
    char jid[DOMAIN_NAME_BUF];
    struct store_peer p;
    enum store_rc rc;

    if (raw == NULL || *raw == '\0') {
        refresh_then_list(call, NULL);
        return;
    }
    if (!checked_jid(call, jid))
        return;
    rc = store_peer_get(app->store, jid, &p);
    store_peer_clear(&p);
    if (rc == STORE_NOTFOUND) {
        domains_fail(call, "%s is not a peer; add it first.",
                     "%s은(는) 피어가 아닙니다. 먼저 추가하세요.", jid);
        return;
    }
    if (rc != STORE_OK) {
        domains_store_error(call, app);
        return;
    }
    refresh_then_list(call, jid);
}

static void peers_step(adhoc_call_t *call)
{
    const char *action;

    if (call->stage == 0) {
        adhoc_show(call, peers_form(), ADHOC_ALLOW_COMPLETE, ADHOC_COMPLETE);
        return;
    }
    action = form_value(call->form, "action");
    if (action == NULL || strcmp(action, "list") == 0)
        answer_list(call);
    else if (strcmp(action, "add") == 0)
        do_add(call);
    else if (strcmp(action, "remove") == 0)
        do_remove(call);
    else
        do_refresh(call);
}

static const struct adhoc_command cmd_peers = {
    PEERS_NODE, {"Intercluster peers", "클러스터 간 피어"}, false, peers_step, NULL};

int cmd_peers_register(struct app *app)
{
    if (app->loop != NULL && app->store != NULL && app->peers == NULL)
        app->peers = peers_new(app);
    return adhoc_register(app->adhoc, &cmd_peers, app) < 0 ? -1 : 0;
}
