/* Topology rules from the guide: node naming and DNS domains, releases and multi-domain
 * support, groups, the publisher's DNS domain, balanced user assignment. */
#include "component/engine/topology.h"

#include "component/engine/domain_rules.h"
#include "component/engine/hosted.h"
#include "store/store_audit.h"
#include "store/store_settings.h"
#include "store/store_user.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *topology_name_problem(const char *name, const char *lang)
{
    enum domain_rule rule = domain_rules_check(name, NULL);

    /* A hostname alone is one label: a leading digit is fine there (RFC 1123); in an FQDN the
     * last label is a top-level domain and the domain rule applies. */
    if (rule == DOMAIN_TLD_DIGIT && strchr(name, '.') == NULL)
        return NULL;
    return rule == DOMAIN_OK ? NULL : domain_rules_explain(rule, lang);
}

const char *topology_dns_domain(const char *name)
{
    const char *dot = strchr(name, '.');

    return dot != NULL && dot[1] != '\0' ? dot + 1 : NULL;
}

/* Appends `s` to a comma list held in a memstream. */
static void list_add(FILE *f, bool *first, const char *s)
{
    fprintf(f, "%s%s", *first ? "" : ", ", s);
    *first = false;
}

/* Appends the DNS domains of `names`, each once, to `f`; returns how many distinct ones. */
static size_t list_dns_domains(FILE *f, const char *const *names, size_t n)
{
    size_t distinct = 0;
    bool first = true;

    for (size_t i = 0; i < n; i++) {
        const char *d = topology_dns_domain(names[i]);
        bool seen = false;
        if (d == NULL)
            continue;
        for (size_t j = 0; j < i && !seen; j++) {
            const char *e = topology_dns_domain(names[j]);
            seen = e != NULL && strcasecmp(d, e) == 0;
        }
        if (seen)
            continue;
        list_add(f, &first, d);
        distinct++;
    }
    return distinct;
}

char *topology_names_problem(const char *const *names, size_t n, const char *lang)
{
    char *hosts = NULL, *domains = NULL, *out = NULL;
    size_t hlen = 0, dlen = 0, distinct;
    FILE *hf = open_memstream(&hosts, &hlen), *df = open_memstream(&domains, &dlen);
    bool first = true;

    if (hf == NULL || df == NULL)
        fatal("topology: open_memstream");
    for (size_t i = 0; i < n; i++)
        if (topology_dns_domain(names[i]) == NULL)
            list_add(hf, &first, names[i]);
    distinct = list_dns_domains(df, names, n);
    fclose(hf);
    fclose(df);
    if (!first && distinct > 1)
        out = xasprintf(i18n_is_korean(lang)
                            ? "노드 %s은(는) 호스트 이름만으로 되어 있으므로 모든 노드가 하나의 "
                              "DNS 도메인을 써야 하지만, 노드의 DNS 도메인이 %s(으)로 "
                              "여러 개입니다. 노드 이름을 FQDN으로 바꾸거나 DNS 도메인을 "
                              "하나로 맞추세요."
                            : "Node %s is named by hostname only, so every node must share one "
                              "DNS domain, but the nodes are in %s. Name every node by its FQDN "
                              "or put them in one DNS domain.",
                        hosts, domains);
    free(hosts);
    free(domains);
    return out;
}

int topology_release_parse(const char *release, int *major, int *minor)
{
    char *end;
    long ma, mi = 0;

    if (release == NULL || !isdigit((unsigned char)release[0]))
        return -1;
    ma = strtol(release, &end, 10);
    if (*end == '.' && isdigit((unsigned char)end[1]))
        mi = strtol(end + 1, &end, 10);
    if (ma > 9999 || mi > 9999)
        return -1;
    *major = (int)ma;
    *minor = (int)mi;
    return 0;
}

const char *topology_release_problem(const char *release, const char *lang)
{
    int ma, mi;

    if (release == NULL || release[0] == '\0')
        return NULL;
    if (strlen(release) > TOPOLOGY_RELEASE_MAX)
        return i18n_is_korean(lang) ? "릴리스는 32자 이하여야 합니다"
                                    : "a release has at most 32 characters";
    for (const char *p = release; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
            return i18n_is_korean(lang) ? "릴리스에는 숫자, 문자, '.', '-'만 쓸 수 있습니다"
                                        : "a release holds only digits, letters, '.' and '-'";
    if (topology_release_parse(release, &ma, &mi) < 0)
        return i18n_is_korean(lang) ? "릴리스는 15.0처럼 숫자로 시작해야 합니다"
                                    : "a release starts with its version number, like 15.0";
    return NULL;
}

bool topology_release_at_least(const char *release, int major, int minor)
{
    int ma, mi;

    if (topology_release_parse(release, &ma, &mi) < 0)
        return false;
    return ma > major || (ma == major && mi >= minor);
}

char *topology_multi_domain_refusal(struct app *app, const char *lang)
{
    struct store_node *nodes = NULL;
    size_t n = 0, len = 0;
    char *list = NULL, *out = NULL;
    bool first = true, ko = i18n_is_korean(lang);
    FILE *f;

    if (store_node_list(app->store, &nodes, &n) != STORE_OK)
        return xasprintf(ko ? "노드 릴리스를 읽을 수 없습니다: %s"
                            : "The node releases could not be read: %s",
                         store_errmsg(app->store));
    if ((f = open_memstream(&list, &len)) == NULL)
        fatal("topology: open_memstream");
    for (size_t i = 0; i < n; i++) {
        if (topology_release_at_least(nodes[i].release, TOPOLOGY_MULTI_DOMAIN_MAJOR, 0))
            continue;
        if (!first)
            fputs(", ", f);
        first = false;
        fprintf(f, "%s (%s)", nodes[i].name,
                nodes[i].release[0] ? nodes[i].release : (ko ? "릴리스 모름" : "release unknown"));
    }
    fclose(f);
    if (!first)
        out = xasprintf(ko ? "여러 IM 도메인은 모든 노드가 릴리스 10.0 이상이어야 합니다. 다음 "
                             "노드를 업그레이드하거나 topology/edit에서 릴리스를 고치세요: %s."
                           : "Multiple IM domains need release 10.0 or later on every node; "
                             "upgrade these nodes (or correct their release with "
                             "topology/edit): %s.",
                        list);
    free(list);
    store_node_list_free(nodes, n);
    return out;
}

char *topology_sip_proxy_default(struct app *app)
{
    struct store_node *nodes = NULL;
    size_t n = 0;
    char *out = NULL;

    if (store_node_list(app->store, &nodes, &n) != STORE_OK)
        return NULL;
    /* store_node_list puts the publisher first. */
    if (n > 0 && nodes[0].role == STORE_NODE_PUBLISHER && topology_dns_domain(nodes[0].name))
        out = xstrdup(topology_dns_domain(nodes[0].name));
    store_node_list_free(nodes, n);
    return out;
}

enum store_rc topology_sip_proxy_adopt(struct app *app, char **adopted)
{
    struct store_settings s = {0};
    char *dns = topology_sip_proxy_default(app);
    enum store_rc rc = STORE_OK;

    *adopted = NULL;
    if (dns == NULL)
        return STORE_OK;
    if ((rc = store_settings_get(app->store, &s)) == STORE_OK &&
        s.cucm_domain_sip_proxy[0] == '\0' && domain_rules_check(dns, NULL) == DOMAIN_OK) {
        free(s.cucm_domain_sip_proxy);
        s.cucm_domain_sip_proxy = xstrdup(dns);
        if ((rc = store_settings_set(app->store, &s)) == STORE_OK)
            *adopted = xstrdup(dns);
    }
    store_settings_clear(&s);
    free(dns);
    return rc;
}

char *topology_release_refusal(struct app *app, const char *node, const char *release,
                               const char *lang)
{
    char **names = NULL, *list = NULL, *out;
    size_t n = 0, len = 0;
    bool ko = i18n_is_korean(lang);
    FILE *f;

    if (release == NULL || topology_release_parse(release, &(int){0}, &(int){0}) < 0 ||
        topology_release_at_least(release, TOPOLOGY_MULTI_DOMAIN_MAJOR, 0))
        return NULL;
    if (hosted_names(app, &names, &n) != STORE_OK)
        return xasprintf(ko ? "호스트하는 도메인을 읽을 수 없습니다: %s"
                            : "The hosted domains could not be read: %s",
                         store_errmsg(app->store));
    if (n <= 1) {
        hosted_names_free(names, n);
        return NULL;
    }
    if ((f = open_memstream(&list, &len)) == NULL)
        fatal("topology: open_memstream");
    for (size_t i = 0; i < n && i < 10; i++)
        fprintf(f, "%s%s", i ? ", " : "", names[i]);
    if (n > 10)
        fprintf(f, ko ? " 외 %zu개" : " and %zu more", n - 10);
    fclose(f);
    out = xasprintf(ko ? "노드 %s을(를) 릴리스 %s(으)로 바꿀 수 없습니다. 이 클러스터는 IM 도메인 "
                         "%zu개(%s)를 호스트하고, 여러 IM 도메인은 모든 노드가 릴리스 10.0 "
                         "이상이어야 합니다(가이드). 도메인을 하나로 줄이거나 릴리스를 10.0 "
                         "이상으로 두세요. 아무것도 바뀌지 않았습니다."
                       : "Node %s cannot go to release %s: this cluster hosts %zu IM domains "
                         "(%s), and multiple IM domains need release 10.0 or later on every "
                         "node (the guide). Reduce the domains to one first, or keep the node "
                         "at 10.0 or later. Nothing was changed.",
                    node, release, n, list);
    free(list);
    hosted_names_free(names, n);
    return out;
}

char *topology_release_finding(struct app *app, const char *lang)
{
    size_t n = 0;
    char *nodes, *out;

    if (hosted_count(app, &n) != STORE_OK || n <= 1)
        return NULL;
    if ((nodes = topology_multi_domain_refusal(app, lang)) == NULL)
        return NULL;
    out = xasprintf(i18n_is_korean(lang)
                        ? "발견 사항: 사용자의 디렉터리 URI 때문에 동기화 감사가 도메인을 추가해 "
                          "이 클러스터가 IM 도메인 %zu개를 호스트합니다. %s"
                        : "Finding: the sync audit added domains that users' directory URIs use, "
                          "so this cluster hosts %zu IM domains. %s",
                    n, nodes);
    free(nodes);
    return out;
}

void topology_audit_release_finding(struct app *app, const char *actor, const char *node)
{
    char *finding = topology_release_finding(app, NULL);

    if (finding == NULL)
        return;
    log_warnx("sync: %s", finding);
    app_audit(app, actor, node, STORE_OUTCOME_OK, finding);
    free(finding);
}

/* The other nodes of `group` as "a, b" (caller frees). */
static char *group_members(const struct store_node *nodes, size_t n, const char *group,
                           const char *self)
{
    char *list = NULL;
    size_t len = 0;
    bool first = true;
    FILE *f = open_memstream(&list, &len);

    if (f == NULL)
        fatal("topology: open_memstream");
    for (size_t i = 0; i < n; i++)
        if (nodes[i].group && strcasecmp(nodes[i].group, group) == 0 &&
            strcasecmp(nodes[i].name, self) != 0)
            list_add(f, &first, nodes[i].name);
    fclose(f);
    return list;
}

char *topology_conflict_cause(struct app *app, const char *node, bool adding,
                              enum store_node_role role, const char *group, const char *lang)
{
    struct store_node *nodes = NULL;
    size_t n = 0, in_group = 0;
    bool ko = i18n_is_korean(lang);
    char *out = NULL, *members;

    if (store_node_list(app->store, &nodes, &n) != STORE_OK)
        return xasprintf(ko ? "토폴로지를 읽을 수 없습니다: %s"
                            : "The topology could not be read: %s",
                         store_errmsg(app->store));
    for (size_t i = 0; i < n && out == NULL; i++) {
        bool self = strcasecmp(nodes[i].name, node) == 0;
        if (adding && self)
            out = xasprintf(ko ? "이름이 이미 있습니다: 노드 %s이(가) 이미 있습니다(이름은 "
                                 "대소문자를 구별하지 않고 고유해야 합니다). 아무것도 바뀌지 "
                                 "않았습니다."
                               : "The name is taken: node %s exists already (node names are "
                                 "unique in any case). Nothing was changed.",
                            nodes[i].name);
        else if (!self && role == STORE_NODE_PUBLISHER && nodes[i].role == STORE_NODE_PUBLISHER)
            out = xasprintf(ko ? "게시자가 이미 있습니다: %s. 클러스터에는 게시자가 하나뿐입니다. "
                                 "%s을(를) 가입자로 두거나 먼저 %s을(를) 가입자로 바꾸세요. "
                                 "아무것도 바뀌지 않았습니다."
                               : "The cluster has a publisher already: %s (one per cluster). "
                                 "Make %s a subscriber, or change %s to a subscriber first. "
                                 "Nothing was changed.",
                            nodes[i].name, node, nodes[i].name);
        else if (!self && group && nodes[i].group && strcasecmp(nodes[i].group, group) == 0)
            in_group++;
    }
    if (out == NULL && in_group >= 2) {
        members = group_members(nodes, n, group, node);
        out = xasprintf(ko ? "그룹 %s이(가) 가득 찼습니다: 이미 노드 두 개(%s)가 있습니다(그룹당 "
                             "최대 두 개). 다른 그룹을 고르거나 새 그룹 이름을 쓰세요. 아무것도 "
                             "바뀌지 않았습니다."
                           : "Group %s is full: it holds two nodes already (%s; at most two per "
                             "group). Choose another group or type a new group name. Nothing was "
                             "changed.",
                        group, members);
        free(members);
    }
    store_node_list_free(nodes, n);
    if (out == NULL)
        out = xstrdup(ko ? "노드를 바꿀 수 없습니다(저장소가 충돌을 보고했습니다). 아무것도 "
                           "바뀌지 않았습니다."
                         : "The node change was refused by the store (a conflict). Nothing was "
                           "changed.");
    return out;
}

char *topology_ungrouped_nodes(const struct store_node *nodes, size_t n)
{
    char *list = NULL;
    size_t len = 0;
    bool first = true;
    FILE *f = open_memstream(&list, &len);

    if (f == NULL)
        fatal("topology: open_memstream");
    for (size_t i = 0; i < n; i++)
        if (nodes[i].group == NULL || nodes[i].group[0] == '\0')
            list_add(f, &first, nodes[i].name);
    fclose(f);
    if (first) {
        free(list);
        return NULL;
    }
    return list;
}

/* The index of the node with the fewest users (the first by name on a tie). */
static size_t least_loaded(const struct store_node_users *load, size_t n)
{
    size_t best = 0;

    for (size_t i = 1; i < n; i++)
        if (load[i].users < load[best].users)
            best = i;
    return best;
}

enum store_rc topology_balance_users(struct app *app, int64_t *assigned)
{
    struct store_node_users *load = NULL;
    struct store_user *users = NULL;
    size_t nn = 0, nu = 0;
    enum store_rc rc;

    *assigned = 0;
    if ((rc = store_user_count_per_node(app->store, &load, &nn)) != STORE_OK)
        return rc;
    if (nn == 0) {
        store_node_users_free(load, nn);
        return STORE_NOTFOUND;
    }
    if ((rc = store_user_list(app->store, NULL, NULL, 0, &users, &nu)) != STORE_OK)
        goto done;
    for (size_t i = 0; i < nu && rc == STORE_OK; i++) {
        size_t k;
        if (users[i].node != NULL)
            continue;
        k = least_loaded(load, nn);
        rc = store_user_set_node(app->store, users[i].userid, load[k].node);
        load[k].users++;
        (*assigned)++;
    }
done:
    store_user_list_free(users, nu);
    store_node_users_free(load, nn);
    return rc;
}
