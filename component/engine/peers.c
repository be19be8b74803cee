/* Intercluster peering: the peer protocol's two sides (doc/protocol.md), the refresh of each
 * peer's data with its limits, the refresh timer, and the consistency findings. */
#include "component/engine/peers.h"

#include "component/engine/domain_rules.h"
#include "component/engine/sync.h"
#include "store/store_audit.h"
#include "store/store_domain.h"
#include "store/store_peer.h"
#include "store/store_settings.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/dispatch.h"
#include "xmpp/stanza.h"

#include <ctype.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define VERSION_MAX 64 /* longest version marker taken from a peer */
#define USERS_DIGITS 9 /* a user count has at most this many digits */
#define URI_BATCH 1000 /* local directory URIs read per store call in the duplicate scan */

/* ---- which peers count ---- */

int64_t peers_counted_since(const struct config *cfg, int64_t now)
{
    return cfg->peer_forget_after > 0 ? now - cfg->peer_forget_after : 0;
}

int64_t peers_counted_now(const struct app *app)
{
    /* no configuration (a unit test's bare app): nothing expires */
    return app->cfg ? peers_counted_since(app->cfg, (int64_t)time(NULL)) : 0;
}

bool peers_expired(int64_t last_sync, int64_t since)
{
    return last_sync > 0 && last_sync < since;
}

/* ---- small checks ---- */

/* Present, 1..max bytes, no control characters or spaces. */
static bool attr_ok(const char *v, size_t max)
{
    size_t n = v ? strlen(v) : 0;

    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] <= 0x20 || v[i] == 0x7f)
            return false;
    return true;
}

static bool parse_count(const char *v, int64_t *out)
{
    size_t n = v ? strlen(v) : 0;

    if (n == 0 || n > USERS_DIGITS)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)v[i]))
            return false;
    *out = strtoll(v, NULL, 10);
    return true;
}

static bool is_hash(const char *v)
{
    if (v == NULL || strlen(v) != PEER_HASH_HEX)
        return false;
    for (size_t i = 0; i < PEER_HASH_HEX; i++)
        if (!isdigit((unsigned char)v[i]) && !(v[i] >= 'a' && v[i] <= 'f'))
            return false;
    return true;
}

static char *lower_dup(const char *s)
{
    char *l = xstrdup(s);

    for (char *p = l; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return l;
}

void peer_uri_hash(const char *uri, char out[PEER_HASH_HEX + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    char *l = lower_dup(uri);

    if (EVP_Digest(l, strlen(l), md, &len, EVP_sha256(), NULL) != 1)
        fatalx("peers: SHA-256 failed");
    free(l);
    for (size_t i = 0; i < PEER_HASH_HEX / 2; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* ---- parsing an answer page ---- */

void peer_page_clear(struct peer_page *p)
{
    if (p == NULL)
        return;
    free(p->version);
    free(p->default_domain);
    free(p->im_address_scheme);
    free(p->next);
    for (size_t i = 0; i < p->n_domains; i++)
        free(p->domains[i].name);
    free(p->domains);
    free(p->hashes);
    memset(p, 0, sizeof(*p));
}

static int page_domain(xmpp_stanza_t *el, struct peer_page *p, char **err)
{
    const char *name = xmpp_stanza_get_attribute(el, "name");
    const char *conf = xmpp_stanza_get_attribute(el, "configured");
    enum domain_rule rule = domain_rules_check(name, NULL);
    int64_t users = 0;

    if (p->n_domains == PEER_PAGE_DOMAINS) {
        *err = xasprintf("more than %d domains in one page", PEER_PAGE_DOMAINS);
        return -1;
    }
    if (rule != DOMAIN_OK) {
        *err = xasprintf("a domain name breaks the domain rules (%.64s%s): %s", name ? name : "",
                         name && strlen(name) > 64 ? "..." : "", domain_rules_explain(rule, "en"));
        return -1;
    }
    if (conf == NULL || (strcmp(conf, "true") != 0 && strcmp(conf, "false") != 0) ||
        !parse_count(xmpp_stanza_get_attribute(el, "users"), &users)) {
        *err = xasprintf("domain %s: 'configured' must be true or false and 'users' a count of "
                         "at most %d digits",
                         name, USERS_DIGITS);
        return -1;
    }
    p->domains = xrealloc(p->domains, (p->n_domains + 1) * sizeof(*p->domains));
    p->domains[p->n_domains++] =
        (struct peer_page_domain){xstrdup(name), strcmp(conf, "true") == 0, users};
    return 0;
}

static int page_hash(xmpp_stanza_t *el, struct peer_page *p, char **err)
{
    const char *h = xmpp_stanza_get_attribute(el, "hash");

    if (p->n_hashes == PEER_PAGE_URIS) {
        *err = xasprintf("more than %d directory URI hashes in one page", PEER_PAGE_URIS);
        return -1;
    }
    if (!is_hash(h)) {
        *err = xasprintf("a directory URI hash is not %d lower-case hex digits", PEER_HASH_HEX);
        return -1;
    }
    p->hashes = xrealloc(p->hashes, (p->n_hashes + 1) * sizeof(*p->hashes));
    memcpy(p->hashes[p->n_hashes++], h, PEER_HASH_HEX + 1);
    return 0;
}

static int page_children(xmpp_stanza_t *payload, struct peer_page *p, char **err)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(payload); c; c = xmpp_stanza_get_next(c)) {
        const char *name = xmpp_stanza_get_name(c);
        int rc;

        if (!xmpp_stanza_is_tag(c))
            continue;
        if (strcmp(name, "domain") == 0)
            rc = page_domain(c, p, err);
        else if (strcmp(name, "uri") == 0)
            rc = page_hash(c, p, err);
        else {
            *err = xasprintf("unexpected element <%.32s/> in the answer", name);
            rc = -1;
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int page_header(xmpp_stanza_t *payload, struct peer_page *p, char **err)
{
    const char *dd = xmpp_stanza_get_attribute(payload, "default-domain");
    const char *scheme = xmpp_stanza_get_attribute(payload, "scheme");
    const char *next = xmpp_stanza_get_attribute(payload, "next");
    enum store_im_scheme s;

    if (!attr_ok(dd, DOMAIN_NAME_MAX) ||
        (strcmp(dd, DOMAIN_PLACEHOLDER) != 0 && domain_rules_check(dd, NULL) != DOMAIN_OK)) {
        *err = xstrdup("the default domain is missing or breaks the domain rules");
        return -1;
    }
    if (scheme == NULL || store_im_scheme_parse(scheme, &s) < 0) {
        *err = xstrdup("the address scheme is neither userid@default nor directory-uri");
        return -1;
    }
    if (next != NULL && !attr_ok(next, PEER_ATTR_MAX)) {
        *err = xasprintf("the paging cursor is empty or longer than %d characters", PEER_ATTR_MAX);
        return -1;
    }
    p->default_domain = xstrdup(dd);
    p->im_address_scheme = xstrdup(scheme);
    p->next = next ? xstrdup(next) : NULL;
    p->uris_partial = xmpp_stanza_get_attribute(payload, "uris-partial") != NULL &&
                      strcmp(xmpp_stanza_get_attribute(payload, "uris-partial"), "true") == 0;
    return 0;
}

int peer_page_parse(xmpp_stanza_t *payload, struct peer_page *out, char **err)
{
    const char *name = payload ? xmpp_stanza_get_name(payload) : NULL;
    const char *ns = payload ? xmpp_stanza_get_ns(payload) : NULL;
    const char *version = payload ? xmpp_stanza_get_attribute(payload, "version") : NULL;
    const char *unchanged = payload ? xmpp_stanza_get_attribute(payload, "unchanged") : NULL;

    memset(out, 0, sizeof(*out));
    *err = NULL;
    if (name == NULL || ns == NULL || strcmp(name, "peer") != 0 || strcmp(ns, PEER_NS) != 0) {
        *err = xstrdup("the answer carries no <peer xmlns='" PEER_NS "'/> payload");
        return -1;
    }
    if (!attr_ok(version, VERSION_MAX)) {
        *err = xasprintf("the answer has no version marker of 1 to %d characters", VERSION_MAX);
        return -1;
    }
    out->version = xstrdup(version);
    out->unchanged = unchanged != NULL && strcmp(unchanged, "true") == 0;
    if (out->unchanged)
        return 0;
    if (page_header(payload, out, err) < 0 || page_children(payload, out, err) < 0) {
        peer_page_clear(out);
        return -1;
    }
    return 0;
}

/* ---- answering a peer ---- */

static xmpp_stanza_t *new_elem(struct app *app, const char *name, const char *ns)
{
    xmpp_stanza_t *e = xmpp_stanza_new(app->ctx);

    xmpp_stanza_set_name(e, name);
    if (ns)
        xmpp_stanza_set_ns(e, ns);
    return e;
}

static void add_domain_elem(struct app *app, xmpp_stanza_t *p, const struct store_domain_usage *d)
{
    xmpp_stanza_t *e = new_elem(app, "domain", NULL);
    char users[24];

    snprintf(users, sizeof(users), "%" PRId64, d->local_users);
    xmpp_stanza_set_attribute(e, "name", d->name);
    xmpp_stanza_set_attribute(e, "configured", d->listed && d->configured_local ? "true" : "false");
    xmpp_stanza_set_attribute(e, "users", users);
    xmpp_stanza_add_child_ex(p, e, 0);
}

/* What this cluster tells peers: the domains it configures and those its users have. Peer-only
 * rows are never sent back: they are some peer's to tell. */
static bool ours(const struct store_domain_usage *d)
{
    return (d->listed && d->configured_local) || d->local_users > 0;
}

static enum store_rc add_domains(struct app *app, xmpp_stanza_t *p, const char *after)
{
    struct store_domain_usage *du = NULL;
    size_t n = 0, added = 0;
    const char *last = NULL;
    /* Every peer counts: peer data does not matter here, ours() sends local rows only. */
    enum store_rc rc = store_domain_usage(app->store, 0, &du, &n);
    bool more = false;

    for (size_t i = 0; rc == STORE_OK && i < n && !more; i++) {
        if (!ours(&du[i]) || strcmp(du[i].name, after) <= 0)
            continue;
        if (added == PEER_PAGE_DOMAINS) {
            more = true;
            break;
        }
        add_domain_elem(app, p, &du[i]);
        last = du[i].name;
        added++;
    }
    if (rc == STORE_OK) {
        char *next = more ? xasprintf("d:%s", last) : xstrdup("u:0:0");
        xmpp_stanza_set_attribute(p, "next", next);
        free(next);
    }
    store_domain_usage_free(du, n);
    return rc;
}

static enum store_rc add_uris(struct app *app, xmpp_stanza_t *p, int64_t after, int64_t sent)
{
    int64_t limit = PEER_MAX_URIS - sent < PEER_PAGE_URIS ? PEER_MAX_URIS - sent : PEER_PAGE_URIS;
    char **uris = NULL, **probe = NULL;
    size_t n = 0, k = 0;
    int64_t last = after, ignored = 0;
    enum store_rc rc =
        limit > 0 ? store_peer_local_uris(app->store, after, limit, &uris, &n, &last) : STORE_OK;

    for (size_t i = 0; rc == STORE_OK && i < n; i++) {
        xmpp_stanza_t *e = new_elem(app, "uri", NULL);
        char h[PEER_HASH_HEX + 1];

        peer_uri_hash(uris[i], h);
        xmpp_stanza_set_attribute(e, "hash", h);
        xmpp_stanza_add_child_ex(p, e, 0);
    }
    store_peer_strings_free(uris, n);
    if (rc != STORE_OK || (int64_t)n < limit)
        return rc; /* the last page (or a failure) */
    if (sent + (int64_t)n < PEER_MAX_URIS) {
        char *next = xasprintf("u:%" PRId64 ":%" PRId64, last, sent + (int64_t)n);
        xmpp_stanza_set_attribute(p, "next", next);
        free(next);
        return STORE_OK;
    }
    /* The protocol's limit is reached: say whether more exist. */
    rc = store_peer_local_uris(app->store, last, 1, &probe, &k, &ignored);
    if (rc == STORE_OK && k > 0)
        xmpp_stanza_set_attribute(p, "uris-partial", "true");
    store_peer_strings_free(probe, k);
    return rc;
}

static enum store_rc add_header(struct app *app, xmpp_stanza_t *p)
{
    struct store_settings s;
    enum store_rc rc = store_settings_get(app->store, &s);

    if (rc != STORE_OK)
        return rc;
    xmpp_stanza_set_attribute(p, "default-domain", s.default_domain);
    xmpp_stanza_set_attribute(p, "scheme", store_im_scheme_name(s.im_address_scheme));
    store_settings_clear(&s);
    return STORE_OK;
}

/* Fills the page the cursor names: "" or "d:<name>" (domains after name), "u:<id>:<sent>"
 * (URI hashes of users after id, `sent` of them sent so far). -1: not a cursor we issue. */
static int fill_page(struct app *app, xmpp_stanza_t *p, const char *after, enum store_rc *rc)
{
    long long id = 0, sent = 0;
    int used = 0;

    if (after == NULL || *after == '\0' || strncmp(after, "d:", 2) == 0) {
        *rc = add_domains(app, p, after && *after ? after + 2 : "");
        return 0;
    }
    if (sscanf(after, "u:%lld:%lld%n", &id, &sent, &used) == 2 && after[used] == '\0' && id >= 0 &&
        sent >= 0 && sent <= PEER_MAX_URIS) {
        *rc = add_uris(app, p, id, sent);
        return 0;
    }
    return -1;
}

xmpp_stanza_t *peer_answer_build(struct app *app, const char *known, const char *after, char **err,
                                 bool *bad_request)
{
    char *version = NULL;
    enum store_rc rc = store_peer_own_version(app->store, &version);
    xmpp_stanza_t *p;

    *err = NULL;
    *bad_request = false;
    if (rc != STORE_OK) {
        *err = xasprintf("the store failed: %s", store_errmsg(app->store));
        return NULL;
    }
    p = new_elem(app, "peer", PEER_NS);
    xmpp_stanza_set_attribute(p, "version", version);
    if (known && (after == NULL || *after == '\0') && strcmp(known, version) == 0) {
        xmpp_stanza_set_attribute(p, "unchanged", "true");
        free(version);
        return p;
    }
    free(version);
    rc = add_header(app, p);
    if (rc == STORE_OK && fill_page(app, p, after, &rc) < 0) {
        *bad_request = true;
        *err = xstrdup("unknown paging cursor: start again without 'after'");
    } else if (rc != STORE_OK) {
        *err = xasprintf("the store failed: %s", store_errmsg(app->store));
    }
    if (*err == NULL)
        return p;
    xmpp_stanza_release(p);
    return NULL;
}

bool peers_is_peer(struct app *app, const char *from)
{
    size_t len = from ? strcspn(from, "/") : 0;
    char *bare;
    struct store_peer p;
    enum store_rc rc;

    if (len == 0)
        return false;
    for (size_t i = 0; i < app->cfg->n_peers; i++)
        if (strlen(app->cfg->peers[i]) == len && strncasecmp(app->cfg->peers[i], from, len) == 0)
            return true;
    bare = xstrndup(from, len);
    for (char *c = bare; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    rc = store_peer_get(app->store, bare, &p);
    store_peer_clear(&p);
    free(bare);
    return rc == STORE_OK;
}

struct peers {
    struct app *app;
    uv_timer_t timer;
    bool stopped;
    struct fetch *fetches; /* refreshes in flight */
};

static void on_peer_get(void *ud, xmpp_stanza_t *iq, xmpp_stanza_t *payload)
{
    struct peers *ps = ud;
    struct app *app = ps->app;
    const char *from = xmpp_stanza_get_from(iq);
    char *err = NULL;
    bool bad = false;
    xmpp_stanza_t *answer, *reply;

    if (!peers_is_peer(app, from)) {
        log_info("peers: refused a peer request from=%s reason=not-a-peer", from ? from : "-");
        dispatch_reply_error(app->dispatch, iq, "auth", "forbidden",
                             "this cluster answers its configured peers only");
        return;
    }
    answer = peer_answer_build(app, xmpp_stanza_get_attribute(payload, "known"),
                               xmpp_stanza_get_attribute(payload, "after"), &err, &bad);
    if (answer == NULL) {
        dispatch_reply_error(app->dispatch, iq, bad ? "modify" : "wait",
                             bad ? "bad-request" : "internal-server-error", err);
        free(err);
        return;
    }
    reply = xmpp_stanza_reply(iq);
    xmpp_stanza_set_type(reply, "result");
    xmpp_stanza_add_child_ex(reply, answer, 0);
    dispatch_send(app->dispatch, reply);
    xmpp_stanza_release(reply);
}

/* ---- findings ---- */

static void finding_add(struct peer_finding **v, size_t *n, char *en, char *ko)
{
    *v = xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = (struct peer_finding){en, ko};
}

void peer_findings_free(struct peer_finding *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].en);
        free(v[i].ko);
    }
    free(v);
}

static void format_time(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t <= 0 || gmtime_r(&tt, &tm) == NULL)
        snprintf(buf, len, "never");
    else
        strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* An age as its two largest units, "8d 2h" / "8일 2시간" (`ko`). */
static void format_age(int64_t secs, bool ko, char *buf, size_t len)
{
    static const int64_t unit[] = {86400, 3600, 60, 1};
    static const char *const en_name[] = {"d", "h", "m", "s"};
    static const char *const ko_name[] = {"일", "시간", "분", "초"};
    size_t i = 0, used = 0;

    if (secs < 0)
        secs = 0;
    while (i < 3 && secs < unit[i])
        i++;
    for (size_t k = i; k < i + 2 && k < 4 && used < len; k++) {
        int64_t q = (secs / unit[k]) % (k == 0 ? INT64_MAX : unit[k - 1] / unit[k]);
        if (k > i && q == 0)
            break;
        used += (size_t)snprintf(buf + used, len - used, "%s%" PRId64 "%s", k > i ? " " : "", q,
                                 ko ? ko_name[k] : en_name[k]);
    }
}

/* A peer past [peers] forget_after: what that means and the two ways out. */
static void expired_finding(const struct app *app, const struct store_peer *p, int64_t now,
                            struct peer_finding **v, size_t *n)
{
    char when[40], age_en[40], age_ko[40];
    char *err_en =
        p->last_error ? xasprintf("; its last refresh failed: %s", p->last_error) : xstrdup("");
    char *err_ko = p->last_error ? xasprintf(", 마지막 갱신 실패: %s", p->last_error) : xstrdup("");

    format_time(p->last_sync, when, sizeof(when));
    format_age(now - p->last_sync, false, age_en, sizeof(age_en));
    format_age(now - p->last_sync, true, age_ko, sizeof(age_ko));
    finding_add(
        v, n,
        xasprintf("Peer %s is expired: no good answer for %s (since %s%s), longer than "
                  "[peers] forget_after (%d s). Its data is kept and shown but no longer "
                  "counts for the sync audit, domains/delete or domains/list. Make the "
                  "peer answer again (its imdomaind running and reachable through the "
                  "router), or remove it (peers remove, or from [peers] jids).",
                  p->jid, age_en, when, err_en, app->cfg->peer_forget_after),
        xasprintf("피어 %s이(가) 만료되었습니다: %s 동안 정상 응답이 없었습니다(%s 이후%s). "
                  "[peers] forget_after(%d초)보다 깁니다. 피어 정보는 보관되고 표시되지만 "
                  "동기화 감사, domains/delete, domains/list에 더 이상 반영되지 않습니다. "
                  "피어가 다시 응답하게 하거나(피어의 imdomaind가 실행 중이고 라우터로 "
                  "연결되는지 확인), 피어를 제거하세요(peers remove 또는 [peers] jids에서 "
                  "삭제).",
                  p->jid, age_ko, when, err_ko, app->cfg->peer_forget_after));
    free(err_en);
    free(err_ko);
}

static void stale_findings(const struct app *app, const struct store_peer *p, int64_t now,
                           struct peer_finding **v, size_t *n)
{
    char when[40];

    if (peers_expired(p->last_sync, peers_counted_since(app->cfg, now))) {
        expired_finding(app, p, now, v, n);
        return;
    }
    if (p->last_error == NULL)
        return;
    format_time(p->last_sync, when, sizeof(when));
    if (p->last_sync > 0)
        finding_add(v, n,
                    xasprintf("Peer %s is stale: its last refresh failed (%s); the peer data "
                              "shown is from %s and still counts.",
                              p->jid, p->last_error, when),
                    xasprintf("피어 %s의 정보가 오래되었습니다. 마지막 갱신이 실패했습니다(%s). "
                              "표시된 피어 정보는 %s 기준이며 여전히 반영됩니다.",
                              p->jid, p->last_error, when));
    else
        finding_add(v, n,
                    xasprintf("Peer %s has never answered (%s): nothing is known of it yet.",
                              p->jid, p->last_error),
                    xasprintf("피어 %s이(가) 아직 응답한 적이 없습니다(%s). 알려진 정보가 "
                              "없습니다.",
                              p->jid, p->last_error));
}

static void settings_findings(const struct store_peer *p, const struct store_settings *s,
                              struct peer_finding **v, size_t *n)
{
    const char *scheme = store_im_scheme_name(s->im_address_scheme);

    if (p->default_domain && strcasecmp(p->default_domain, s->default_domain) != 0)
        finding_add(v, n,
                    xasprintf("The default domain differs: %s here, %s on peer %s. Peered "
                              "clusters should share one default domain.",
                              s->default_domain, p->default_domain, p->jid),
                    xasprintf("기본 도메인이 다릅니다: 이 클러스터는 %s, 피어 %s은(는) %s. "
                              "피어 클러스터는 같은 기본 도메인을 써야 합니다.",
                              s->default_domain, p->jid, p->default_domain));
    if (p->im_address_scheme && strcmp(p->im_address_scheme, scheme) != 0)
        finding_add(v, n,
                    xasprintf("The IM address scheme differs: %s here, %s on peer %s. Peered "
                              "clusters should use the same scheme.",
                              scheme, p->im_address_scheme, p->jid),
                    xasprintf("IM 주소 체계가 다릅니다: 이 클러스터는 %s, 피어 %s은(는) %s. "
                              "피어 클러스터는 같은 체계를 써야 합니다.",
                              scheme, p->jid, p->im_address_scheme));
    if (p->dup_uris > 0)
        finding_add(v, n,
                    xasprintf("%" PRId64 " directory URI(s) exist both here and on peer %s "
                              "(for example %s); a directory URI must belong to one cluster.%s",
                              p->dup_uris, p->jid, p->dup_example ? p->dup_example : "-",
                              p->uris_partial ? " (The peer has more users than the check "
                                                "covers.)"
                                              : ""),
                    xasprintf("디렉터리 URI %" PRId64 "개가 이 클러스터와 피어 %s에 모두 "
                              "있습니다(예: %s). 디렉터리 URI는 한 클러스터에만 있어야 합니다.",
                              p->dup_uris, p->jid, p->dup_example ? p->dup_example : "-"));
}

/* A domain both configure, spelled differently by the peer (names here are lower case). */
static enum store_rc case_findings(struct app *app, const struct store_peer *p,
                                   struct peer_finding **v, size_t *n)
{
    struct store_peer_domain *pd = NULL;
    size_t k = 0;
    enum store_rc rc = store_peer_domains(app->store, p->jid, &pd, &k);

    for (size_t i = 0; rc == STORE_OK && i < k; i++) {
        struct store_domain d;

        if (!pd[i].configured || strcmp(pd[i].sent_name, pd[i].name) == 0)
            continue;
        rc = store_domain_get(app->store, pd[i].name, &d);
        if (rc == STORE_OK && d.configured_local)
            finding_add(v, n,
                        xasprintf("Domain %s is configured here and on peer %s as %s: the letter "
                                  "case differs; use one spelling on every cluster.",
                                  d.name, p->jid, pd[i].sent_name),
                        xasprintf("도메인 %s은(는) 이 클러스터와 피어 %s(%s)에 구성되어 있지만 "
                                  "대소문자가 다릅니다. 모든 클러스터에서 같은 표기를 쓰세요.",
                                  d.name, p->jid, pd[i].sent_name));
        store_domain_clear(&d);
        if (rc == STORE_NOTFOUND)
            rc = STORE_OK;
    }
    store_peer_domains_free(pd, k);
    return rc;
}

enum store_rc peer_findings(struct app *app, struct peer_finding **out, size_t *n)
{
    struct store_peer *list = NULL;
    struct store_settings s;
    size_t k = 0;
    int64_t now = (int64_t)time(NULL);
    enum store_rc rc = store_peer_list(app->store, &list, &k);

    *out = NULL;
    *n = 0;
    if (rc == STORE_OK && k > 0)
        rc = store_settings_get(app->store, &s);
    for (size_t i = 0; rc == STORE_OK && i < k; i++) {
        stale_findings(app, &list[i], now, out, n);
        settings_findings(&list[i], &s, out, n);
        rc = case_findings(app, &list[i], out, n);
    }
    if (k > 0)
        store_settings_clear(&s);
    store_peer_list_free(list, k);
    if (rc != STORE_OK) {
        peer_findings_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

void peer_findings_notes(struct app *app, adhoc_call_t *call)
{
    struct peer_finding *v = NULL;
    size_t n = 0;

    if (peer_findings(app, &v, &n) != STORE_OK) {
        log_warnx("peers: cannot read the findings: %s", store_errmsg(app->store));
        return;
    }
    for (size_t i = 0; i < n && i < PEER_MAX_FINDINGS; i++)
        adhoc_note(call, ADHOC_NOTE_WARN, &(struct text){v[i].en, v[i].ko});
    if (n > PEER_MAX_FINDINGS) {
        char *en = xasprintf("%zu more peer findings are not shown.", n - PEER_MAX_FINDINGS);
        char *ko =
            xasprintf("피어 관련 발견 사항 %zu개를 더 표시하지 않았습니다.", n - PEER_MAX_FINDINGS);
        adhoc_note(call, ADHOC_NOTE_WARN, &(struct text){en, ko});
        free(en);
        free(ko);
    }
    peer_findings_free(v, n);
}

/* ---- refreshing one peer ---- */

struct waiter {
    peers_done_fn fn;
    void *arg;
    struct waiter *next;
};

/* One refresh in flight: the pages gathered so far, taken in one piece at the end. */
struct fetch {
    struct peers *ps;
    char *jid;
    char *known;          /* the version we hold (NULL: ask for everything) */
    char *version;        /* of the pages gathered */
    char *cursor;         /* asked with next; NULL for the first page */
    struct peer_page all; /* the pages merged: header of the last, every domain and hash */
    unsigned pages, restarts;
    struct waiter *waiters;
    struct fetch *next;
};

static void fetch_finish(struct fetch *f)
{
    struct fetch **pp = &f->ps->fetches;
    struct waiter *w = f->waiters;

    while (*pp && *pp != f)
        pp = &(*pp)->next;
    if (*pp)
        *pp = f->next;
    while (w) {
        struct waiter *next = w->next;
        if (w->fn)
            w->fn(w->arg);
        free(w);
        w = next;
    }
    peer_page_clear(&f->all);
    free(f->jid);
    free(f->known);
    free(f->version);
    free(f->cursor);
    free(f);
}

/* Records the audit's outcome like any other run: in the audit log when it changed something,
 * and the router told when the local domain set changed. */
static void audit_done(struct app *app, const char *jid, const char *why,
                       const struct sync_report *r)
{
    if (sync_report_changed(r)) {
        char *line = sync_report_summary_line(r);
        char *details = xasprintf("peer=%s %s %s", jid, why, line);
        app_audit(app, PEER_ACTOR, SYNC_NODE, STORE_OUTCOME_OK, details);
        free(details);
        free(line);
    }
    if (sync_report_local_changed(r))
        app_apply_domains(app, PEER_ACTOR, NULL, NULL);
}

/* True when the peer expired since its previous attempt: at that attempt its last good answer
 * still counted, now it does not. */
static bool newly_expired(struct app *app, const struct store_peer *p, int64_t now)
{
    return peers_expired(p->last_sync, peers_counted_since(app->cfg, now)) &&
           !peers_expired(p->last_sync, peers_counted_since(app->cfg, p->last_attempt));
}

/* Records the failure; when it finds the peer newly expired, the sync audit runs in the same
 * transaction (the peer's data stops counting now, not at the next nightly run). */
static void record_failure(struct app *app, const char *jid, const char *why)
{
    int64_t now = (int64_t)time(NULL);
    struct store_peer p;
    struct sync_report r = {0};
    bool audit = store_peer_get(app->store, jid, &p) == STORE_OK && newly_expired(app, &p, now);
    enum store_rc rc = store_begin(app->store);

    store_peer_clear(&p);
    if (rc == STORE_OK)
        rc = store_peer_mark_failed(app->store, jid, why, now);
    if (rc == STORE_OK && audit &&
        sync_run(app->store, peers_counted_since(app->cfg, now), &r, NULL) < 0)
        rc = STORE_ERR;
    if (rc == STORE_OK)
        rc = store_commit(app->store);
    if (rc != STORE_OK) {
        if (rc != STORE_NOTFOUND) /* else the peer was removed meanwhile: nothing to record */
            log_warnx("peers: cannot record the failure: %s", store_errmsg(app->store));
        if (store_in_transaction(app->store) && store_rollback(app->store) != STORE_OK)
            log_warnx("peers: rollback failed: %s", store_errmsg(app->store));
    } else if (audit) {
        log_info("peers: peer=%s expired: its data no longer counts", jid);
        audit_done(app, jid, "expired", &r);
    }
    sync_report_clear(&r);
}

static void fetch_fail(struct fetch *f, const char *why)
{
    struct app *app = f->ps->app;

    log_warnx("peers: refresh failed peer=%s reason=\"%s\"", f->jid, why);
    if (!store_in_transaction(app->store))
        record_failure(app, f->jid, why);
    fetch_finish(f);
}

static void fetch_send(struct fetch *f);

/* Adds a page to what was gathered; checks the totals. */
static int merge_page(struct fetch *f, struct peer_page *p, char **err)
{
    struct peer_page *a = &f->all;

    if (a->n_domains + p->n_domains > PEER_MAX_DOMAINS) {
        *err = xasprintf("the peer sent more than %d domains", PEER_MAX_DOMAINS);
        return -1;
    }
    if (a->n_hashes + p->n_hashes > PEER_MAX_URIS) {
        *err = xasprintf("the peer sent more than %d directory URI hashes", PEER_MAX_URIS);
        return -1;
    }
    if (p->n_domains > 0) {
        a->domains = xrealloc(a->domains, (a->n_domains + p->n_domains) * sizeof(*a->domains));
        memcpy(a->domains + a->n_domains, p->domains, p->n_domains * sizeof(*p->domains));
        a->n_domains += p->n_domains;
        p->n_domains = 0; /* the names moved */
    }
    if (p->n_hashes > 0) {
        a->hashes = xrealloc(a->hashes, (a->n_hashes + p->n_hashes) * sizeof(*a->hashes));
        memcpy(a->hashes + a->n_hashes, p->hashes, p->n_hashes * sizeof(*p->hashes));
        a->n_hashes += p->n_hashes;
    }
    free(a->default_domain);
    free(a->im_address_scheme);
    a->default_domain = p->default_domain;
    a->im_address_scheme = p->im_address_scheme;
    p->default_domain = p->im_address_scheme = NULL;
    a->uris_partial = a->uris_partial || p->uris_partial;
    return 0;
}

static int cmp_hash(const void *a, const void *b)
{
    return memcmp(a, b, PEER_HASH_HEX);
}

/* Counts local directory URIs whose hash the peer sent (at most PEER_MAX_URIS local ones are
 * looked at: the work stays bounded); *example gets the first (malloc'd) or NULL. */
static enum store_rc count_duplicates(struct app *app, struct peer_page *a, int64_t *dups,
                                      char **example)
{
    int64_t after = 0, seen = 0;
    enum store_rc rc = STORE_OK;

    *dups = 0;
    *example = NULL;
    if (a->n_hashes == 0)
        return STORE_OK;
    qsort(a->hashes, a->n_hashes, sizeof(*a->hashes), cmp_hash);
    while (rc == STORE_OK && seen < PEER_MAX_URIS) {
        char **uris = NULL;
        size_t n = 0;
        rc = store_peer_local_uris(app->store, after, URI_BATCH, &uris, &n, &after);
        for (size_t i = 0; rc == STORE_OK && i < n; i++) {
            char h[PEER_HASH_HEX + 1];
            peer_uri_hash(uris[i], h);
            if (bsearch(h, a->hashes, a->n_hashes, sizeof(*a->hashes), cmp_hash) == NULL)
                continue;
            if ((*dups)++ == 0)
                *example = xstrdup(uris[i]);
        }
        store_peer_strings_free(uris, n);
        seen += (int64_t)n;
        if (n < URI_BATCH)
            break;
    }
    return rc;
}

static int cmp_domain(const void *a, const void *b)
{
    return strcasecmp(((const struct store_peer_domain *)a)->name,
                      ((const struct store_peer_domain *)b)->name);
}

/* The gathered domains as store rows, sorted; -1 with *err when a name comes twice. */
static struct store_peer_domain *store_rows(struct peer_page *a, char **err)
{
    struct store_peer_domain *v = xcalloc(a->n_domains + 1, sizeof(*v));

    for (size_t i = 0; i < a->n_domains; i++)
        v[i] = (struct store_peer_domain){a->domains[i].name, a->domains[i].name,
                                          a->domains[i].configured, a->domains[i].users};
    qsort(v, a->n_domains, sizeof(*v), cmp_domain);
    for (size_t i = 1; i < a->n_domains; i++) {
        if (strcasecmp(v[i - 1].name, v[i].name) == 0) {
            *err = xasprintf("the peer sent the domain %s twice", v[i].name);
            free(v);
            return NULL;
        }
    }
    return v;
}

/* Writes the answer and runs the sync audit in one transaction. */
static int take_answer(struct fetch *f, const struct store_peer_data *d, char **err)
{
    struct app *app = f->ps->app;
    struct sync_report r;
    enum store_rc rc = store_begin(app->store);

    if (rc == STORE_OK)
        rc = store_peer_replace(app->store, f->jid, d, (int64_t)time(NULL));
    if (rc == STORE_OK && sync_run(app->store, peers_counted_now(app), &r, NULL) < 0)
        rc = STORE_ERR;
    else if (rc == STORE_OK && (rc = store_commit(app->store)) != STORE_OK)
        sync_report_clear(&r);
    if (rc != STORE_OK) {
        *err = xasprintf("the answer was not taken (%s): %s",
                         rc == STORE_NOTFOUND ? "the peer was removed" : "store failure",
                         store_errmsg(app->store));
        if (store_in_transaction(app->store) && store_rollback(app->store) != STORE_OK)
            log_warnx("peers: rollback failed: %s", store_errmsg(app->store));
        return -1;
    }
    audit_done(app, f->jid, "answered", &r);
    sync_report_clear(&r);
    return 0;
}

static void fetch_commit(struct fetch *f)
{
    struct app *app = f->ps->app;
    struct peer_page *a = &f->all;
    char *err = NULL, *example = NULL;
    int64_t dups = 0;
    struct store_peer_domain *rows = store_rows(a, &err);

    if (rows != NULL && store_in_transaction(app->store))
        err = xstrdup("the store is busy with another change; the next refresh takes the answer");
    if (rows != NULL && err == NULL && count_duplicates(app, a, &dups, &example) != STORE_OK)
        err = xasprintf("the store failed: %s", store_errmsg(app->store));
    if (err == NULL) {
        struct store_peer_data d = {f->version,   a->default_domain,    a->im_address_scheme, rows,
                                    a->n_domains, (int64_t)a->n_hashes, a->uris_partial,      dups,
                                    example};
        if (take_answer(f, &d, &err) == 0)
            log_info("peers: refreshed peer=%s version=%s domains=%zu uri_hashes=%zu dups=%" PRId64,
                     f->jid, f->version, a->n_domains, a->n_hashes, dups);
    }
    free(rows);
    free(example);
    if (err) {
        fetch_fail(f, err);
        free(err);
        return;
    }
    fetch_finish(f);
}

/* Starts over from the first page (the peer's data changed while we read it). */
static bool fetch_restart(struct fetch *f)
{
    if (++f->restarts > PEER_MAX_RESTARTS)
        return false;
    peer_page_clear(&f->all);
    free(f->cursor);
    f->cursor = NULL;
    free(f->version);
    f->version = NULL;
    free(f->known);
    f->known = NULL;
    f->pages = 0;
    fetch_send(f);
    return true;
}

static void fetch_unchanged(struct fetch *f)
{
    struct app *app = f->ps->app;

    if (f->known == NULL || f->cursor != NULL) {
        fetch_fail(f, "the peer answered 'unchanged' to a question it cannot be the answer to");
        return;
    }
    if (store_peer_mark_fresh(app->store, f->jid, (int64_t)time(NULL)) == STORE_ERR)
        log_warnx("peers: cannot record the refresh: %s", store_errmsg(app->store));
    log_debug("peers: peer=%s unchanged version=%s", f->jid, f->known);
    fetch_finish(f);
}

/* One page arrived and parsed. */
static void fetch_page(struct fetch *f, struct peer_page *p)
{
    char *err = NULL;

    if (p->unchanged) {
        fetch_unchanged(f);
        return;
    }
    if (f->version != NULL && strcmp(f->version, p->version) != 0) {
        if (!fetch_restart(f))
            fetch_fail(f, "the peer's data kept changing while it was read; try again later");
        return;
    }
    if (f->version == NULL)
        f->version = xstrdup(p->version);
    if (++f->pages > PEER_MAX_PAGES || merge_page(f, p, &err) < 0) {
        if (err == NULL)
            err = xasprintf("the peer sent more than %d pages", PEER_MAX_PAGES);
        fetch_fail(f, err);
        free(err);
        return;
    }
    free(f->cursor);
    f->cursor = p->next ? xstrdup(p->next) : NULL;
    if (f->cursor)
        fetch_send(f);
    else
        fetch_commit(f);
}

static char *error_text(xmpp_stanza_t *reply)
{
    xmpp_stanza_t *e = xmpp_stanza_get_child_by_name(reply, "error");
    xmpp_stanza_t *cond = e ? stanza_first_element(e) : NULL;
    xmpp_stanza_t *text = e ? stanza_child(e, "text", NS_STANZAS) : NULL;
    char *t = text ? xmpp_stanza_get_text(text) : NULL;
    char *s = xasprintf("the peer answered with an error: %s%s%.200s",
                        cond ? xmpp_stanza_get_name(cond) : "unknown", t ? ": " : "", t ? t : "");

    if (t)
        xmpp_free(xmpp_stanza_get_context(reply), t);
    return s;
}

static void on_reply(void *ud, xmpp_stanza_t *reply)
{
    struct fetch *f = ud;
    const char *type = reply ? xmpp_stanza_get_type(reply) : NULL;
    struct peer_page p;
    char *err = NULL;

    if (f->ps->stopped || f->ps->app->stopping) {
        fetch_finish(f); /* the daemon stops: nothing recorded */
        return;
    }
    if (reply == NULL) {
        err = xasprintf("no answer within %d s", f->ps->app->cfg->peer_timeout);
    } else if (type && strcmp(type, "error") == 0) {
        err = error_text(reply);
    } else if (peer_page_parse(stanza_first_element(reply), &p, &err) == 0) {
        fetch_page(f, &p);
        peer_page_clear(&p);
        return;
    }
    fetch_fail(f, err);
    free(err);
}

static void fetch_send(struct fetch *f)
{
    struct app *app = f->ps->app;
    xmpp_stanza_t *iq = xmpp_iq_new(app->ctx, "get", NULL);
    xmpp_stanza_t *q = new_elem(app, "peer", PEER_NS);
    int rc;

    xmpp_stanza_set_to(iq, f->jid);
    xmpp_stanza_set_from(iq, app->cfg->jid);
    if (f->known && f->cursor == NULL)
        xmpp_stanza_set_attribute(q, "known", f->known);
    if (f->cursor)
        xmpp_stanza_set_attribute(q, "after", f->cursor);
    xmpp_stanza_add_child_ex(iq, q, 0);
    rc = dispatch_send_iq(app->dispatch, iq, (unsigned)app->cfg->peer_timeout * 1000u, on_reply, f);
    xmpp_stanza_release(iq);
    if (rc < 0)
        fetch_fail(f, "the router link is down");
}

static void fetch_start(struct peers *ps, const char *jid, peers_done_fn fn, void *arg)
{
    struct waiter *w = xcalloc(1, sizeof(*w));
    struct store_peer sp;
    struct fetch *f;

    *w = (struct waiter){fn, arg, NULL};
    for (f = ps->fetches; f; f = f->next) {
        if (strcmp(f->jid, jid) == 0) { /* already on its way: wait for it */
            w->next = f->waiters;
            f->waiters = w;
            return;
        }
    }
    f = xcalloc(1, sizeof(*f));
    f->ps = ps;
    f->jid = xstrdup(jid);
    f->waiters = w;
    f->next = ps->fetches;
    ps->fetches = f;
    /* An expired peer is asked for everything: its answer, even an unchanged one, must be
     * taken with the audit, which brings its data back into use. */
    if (store_peer_get(ps->app->store, jid, &sp) == STORE_OK && sp.last_sync > 0 && sp.version &&
        !peers_expired(sp.last_sync, peers_counted_now(ps->app)))
        f->known = xstrdup(sp.version);
    store_peer_clear(&sp);
    if (ps->stopped || ps->app->dispatch == NULL)
        fetch_fail(f, "no router link to ask through");
    else
        fetch_send(f);
}

/* ---- refreshing many, the timer ---- */

struct group {
    size_t left;
    peers_done_fn done;
    void *arg;
};

static void group_one_done(void *arg)
{
    struct group *g = arg;

    if (--g->left > 0)
        return;
    if (g->done)
        g->done(g->arg);
    free(g);
}

void peers_refresh(struct peers *ps, const char *jid, peers_done_fn done, void *arg)
{
    struct group *g = xcalloc(1, sizeof(*g));
    struct store_peer *list = NULL;
    size_t n = 0;

    *g = (struct group){1, done, arg}; /* held until every refresh has started */
    if (jid != NULL) {
        g->left++;
        fetch_start(ps, jid, group_one_done, g);
    } else if (store_peer_list(ps->app->store, &list, &n) == STORE_OK) {
        g->left += n;
        for (size_t i = 0; i < n; i++)
            fetch_start(ps, list[i].jid, group_one_done, g);
        store_peer_list_free(list, n);
    } else {
        log_warnx("peers: cannot list the peers: %s", store_errmsg(ps->app->store));
    }
    group_one_done(g);
}

static void on_tick(uv_timer_t *t)
{
    struct peers *ps = t->data;

    if (ps->stopped || ps->app->stopping)
        return;
    if (store_in_transaction(ps->app->store)) {
        log_info("peers: refresh waits for a transaction to end");
        return; /* the next tick refreshes */
    }
    peers_refresh(ps, NULL, NULL, NULL);
}

struct peers *peers_new(struct app *app)
{
    struct peers *ps = xcalloc(1, sizeof(*ps));
    int rc;

    ps->app = app;
    if (store_peer_sync_config(app->store, app->cfg->peers, app->cfg->n_peers) != STORE_OK)
        log_warnx("peers: cannot record the configured peers: %s", store_errmsg(app->store));
    rc = uv_timer_init(app->loop, &ps->timer);
    if (rc < 0) {
        log_warnx("peers: cannot start the refresh timer: %s", uv_strerror(rc));
        free(ps);
        return NULL;
    }
    ps->timer.data = ps;
    if (app->dispatch)
        dispatch_on_iq(app->dispatch, "get", PEER_NS, on_peer_get, ps);
    uv_timer_start(&ps->timer, on_tick, PEER_FIRST_REFRESH_MS,
                   (uint64_t)app->cfg->peer_refresh * 1000u);
    return ps;
}

void peers_stop(struct peers *ps)
{
    if (ps == NULL)
        return;
    ps->stopped = true;
    if (!uv_is_closing((uv_handle_t *)&ps->timer))
        uv_timer_stop(&ps->timer);
}

static void free_on_close(uv_handle_t *h)
{
    free(h->data);
}

void peers_free(struct peers *ps)
{
    if (ps == NULL)
        return;
    ps->stopped = true;
    while (ps->fetches) /* normally none: the dispatcher has answered them all */
        fetch_finish(ps->fetches);
    if (!uv_is_closing((uv_handle_t *)&ps->timer)) {
        uv_close((uv_handle_t *)&ps->timer, free_on_close);
        return;
    }
    free(ps);
}

const char *peers_state_name(const struct store_peer *p, int64_t since)
{
    if (peers_expired(p->last_sync, since))
        return "expired";
    if (p->last_error != NULL)
        return p->last_sync > 0 ? "stale" : "failed";
    return p->last_sync > 0 ? "ok" : "new";
}
