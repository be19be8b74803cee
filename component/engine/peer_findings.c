/* Intercluster peering: the consistency findings over the stored peer data (a domain on two
 * clusters, settings that differ, stale and expired peers), shown by peers and domains/list. */
#include "component/engine/peer_findings.h"

#include "component/engine/peers_window.h"
#include "store/store_domain.h"
#include "store/store_peer.h"
#include "store/store_settings.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/adhoc_outcome.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
