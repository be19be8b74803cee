/* The changes of the domain set shared by the domains commands and the procedure: add, rename
 * and delete one domain, and the refusals that name the rule (domain_change.h). */
#include "component/engine/domain_change.h"

#include "component/engine/hosted.h"
#include "component/engine/peers_window.h"
#include "component/engine/topology.h"
#include "store/store_domain.h"
#include "store/store_peer.h"
#include "util/xmalloc.h"
#include "xmpp/i18n.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool domains_is_editable(const struct store_domain *d)
{
    return d->configured_local && d->managed_by == STORE_MANAGED_ADMIN && d->local_users == 0;
}

/* Users of the counted peers in `name` (0 when unreadable: the message is then about the local
 * users only). */
static int64_t peer_users(struct app *app, const char *name)
{
    struct store_peer_total *v = NULL;
    size_t n = 0;
    int64_t users = 0;

    if (store_peer_totals(app->store, peers_counted_now(app), &v, &n) == STORE_OK)
        for (size_t i = 0; i < n; i++)
            if (strcmp(v[i].name, name) == 0)
                users = v[i].users;
    store_peer_totals_free(v, n);
    return users;
}

char *domains_why_not_editable(struct app *app, const char *name, const char *lang,
                               struct store_domain *d, enum store_rc *rc)
{
    bool ko = i18n_is_korean(lang);
    char *dflt;

    memset(d, 0, sizeof(*d));
    if ((dflt = hosted_default(app, rc)) != NULL && strcasecmp(dflt, name) == 0) {
        int64_t users = 0;
        char *why;
        if ((*rc = hosted_default_users(app, dflt, &users)) != STORE_OK) {
            free(dflt);
            return NULL;
        }
        why = hosted_default_refusal(dflt, users, lang);
        free(dflt);
        return why;
    }
    free(dflt);
    if (*rc != STORE_OK)
        return NULL;
    *rc = store_domain_get(app->store, name, d);
    if (*rc == STORE_NOTFOUND)
        return xasprintf(ko ? "도메인 %s이(가) 없습니다(다른 관리자가 방금 바꾸거나 지웠을 수 "
                              "있습니다). 명령을 다시 시작하세요."
                            : "there is no domain %s (another administrator may have renamed or "
                              "deleted it meanwhile); start the command again",
                         name);
    if (*rc != STORE_OK)
        return NULL;
    if (!d->configured_local)
        return xasprintf(ko ? "%s은(는) 피어 클러스터에만 구성된 도메인입니다. 다른 클러스터의 "
                              "도메인은 여기서 편집하거나 삭제할 수 없습니다."
                            : "%s is configured on a peer cluster only: domains that belong to "
                              "another cluster cannot be edited or deleted here",
                         d->name);
    if (!domains_is_editable(d)) {
        int64_t peer = peer_users(app, d->name);
        return xasprintf(ko ? "%s은(는) 시스템 관리 도메인이며 사용자 %lld명이 사용 중입니다(이 "
                              "클러스터 %lld명, 피어 클러스터 %lld명). 사용 중인 도메인은 "
                              "편집하거나 삭제할 수 없으며, 마지막 사용자가 없어지면 다시 관리자 "
                              "관리 도메인이 됩니다."
                            : "%s is system-managed: it is used by %lld users (%lld on this "
                              "cluster, %lld on peer clusters), so it cannot be edited or "
                              "deleted; it becomes admin-managed again when its last user goes",
                         d->name, (long long)(d->local_users + peer), (long long)d->local_users,
                         (long long)peer);
    }
    return NULL;
}

char *domains_duplicate_text(const char *existing, const char *lang)
{
    const char *tag = i18n_tag(lang);

    return xasprintf(i18n_is_korean(lang) ? "도메인 %s이(가) 이미 있습니다: %s"
                                          : "the domain %s already exists: %s",
                     existing, domain_rules_explain(DOMAIN_DUPLICATE, tag));
}

/* Hosted domains (the local ones and the default) inside the caller's transaction; -1 when
 * unreadable. */
static long local_domain_count(struct app *app)
{
    size_t n = 0;

    return hosted_count(app, &n) == STORE_OK ? (long)n : -1;
}

/* Inserts the domain, or configures locally one that only a peer had; a second local domain
 * needs every node at release 10.0 (the guide). */
enum domains_work domains_add_work(struct app *app, void *arg, const char *lang, char **why)
{
    const char *name = arg;
    struct store_domain d = {0};
    enum store_rc rc;

    if (hosted_is_default(app, name)) {
        *why = xasprintf(i18n_is_korean(lang)
                             ? "%s은(는) 클러스터의 기본 도메인이므로 이미 호스트하고 있습니다"
                             : "%s is the cluster's default domain: it is hosted already",
                         name);
        return DOMAINS_WORK_REFUSED;
    }
    rc = store_domain_get(app->store, name, &d);

    if (rc == STORE_OK && !d.configured_local)
        rc = store_domain_set_local(app->store, name, true);
    else if (rc == STORE_OK)
        *why = domains_duplicate_text(d.name, lang);
    else if (rc == STORE_NOTFOUND)
        rc = store_domain_insert(app->store, name, STORE_MANAGED_ADMIN, true);
    store_domain_clear(&d);
    if (*why)
        return DOMAINS_WORK_REFUSED;
    if (rc == STORE_CONFLICT) { /* added by another connection since the lookup */
        *why = domains_duplicate_text(name, lang);
        return DOMAINS_WORK_REFUSED;
    }
    if (rc == STORE_OK && local_domain_count(app) > 1 &&
        (*why = topology_multi_domain_refusal(app, lang)) != NULL)
        return DOMAINS_WORK_REFUSED; /* the guide: several IM domains need release 10.0 */
    return rc == STORE_OK ? DOMAINS_WORK_DONE : DOMAINS_WORK_FAILED;
}

enum domains_work domains_rename_work(struct app *app, void *arg, const char *lang, char **why)
{
    struct domains_rename *r = arg;
    struct store_domain d;
    enum store_rc rc;

    *why = domains_why_not_editable(app, r->from, lang, &d, &rc);
    store_domain_clear(&d);
    if (*why == NULL && rc == STORE_OK) {
        rc = store_domain_get(app->store, r->to, &d);
        if (rc == STORE_OK)
            *why = domains_duplicate_text(d.name, lang);
        store_domain_clear(&d);
        if (rc == STORE_NOTFOUND)
            rc = store_domain_rename(app->store, r->from, r->to);
        if (rc == STORE_CONFLICT)
            *why = domains_duplicate_text(r->to, lang);
    }
    if (*why)
        return DOMAINS_WORK_REFUSED;
    return rc == STORE_OK ? DOMAINS_WORK_DONE : DOMAINS_WORK_FAILED;
}

enum domains_work domains_delete_one(struct app *app, const char *name, bool stays,
                                     const char *lang, char **why)
{
    struct store_domain d;
    enum store_rc rc;

    *why = domains_why_not_editable(app, name, lang, &d, &rc);
    store_domain_clear(&d);
    if (*why)
        return DOMAINS_WORK_REFUSED;
    if (rc == STORE_OK)
        rc = stays ? store_domain_set_local(app->store, name, false)
                   : store_domain_delete(app->store, name);
    return rc == STORE_OK ? DOMAINS_WORK_DONE : DOMAINS_WORK_FAILED;
}
