/* HA disable/enable and the settle period; the enable guards are computed from a loaded view
 * so they can be tested without a store or a router. */
#include "component/engine/ha.h"

#include "component/engine/services.h"
#include "component/engine/sessions.h"
#include "store/store_user.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t settle_left_ms(const struct store_group *g, int64_t settle_s, int64_t now)
{
    int64_t deadline;

    if (g->ha_enabled || g->ha_changed_at <= 0)
        return 0;
    /* Exactly from the change when its milliseconds are known; else ha_changed_at is truncated
     * to the second: count from the end of that second. */
    deadline = g->ha_changed_ms > 0 ? g->ha_changed_ms + settle_s * 1000
                                    : (g->ha_changed_at + 1 + settle_s) * 1000;
    return deadline > now ? deadline - now : 0;
}

const char *ha_wait_text(int64_t ms, const char *lang)
{
    static char buf[2][48];
    bool ko = i18n_is_korean(lang);
    int64_t tenths = (ms + 99) / 100;

    snprintf(buf[ko], sizeof(buf[ko]), ko ? "%lld.%lld초" : "%lld.%lld s", (long long)(tenths / 10),
             (long long)(tenths % 10));
    return buf[ko];
}

int64_t ha_settle_remaining_ms(struct app *app, const char *group)
{
    struct store_group *g = NULL;
    size_t n = 0;
    int64_t left = 0, now = now_ms(), settle = app->cfg ? app->cfg->settle_time : 120;

    if (store_group_list(app->store, &g, &n) != STORE_OK) {
        log_warnx("ha: cannot read the groups: %s", store_errmsg(app->store));
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t l = settle_left_ms(&g[i], settle, now);
        if ((group == NULL || strcasecmp(group, g[i].name) == 0) && l > left)
            left = l;
    }
    store_group_list_free(g, n);
    return left;
}

/* ---- the view ---- */

/* Users assigned to each node of the view (store_user_count_per_node). */
static enum store_rc load_assigned(struct app *app, struct ha_view *v)
{
    struct store_node_users *load = NULL;
    size_t nl = 0;
    enum store_rc rc = store_user_count_per_node(app->store, &load, &nl);

    if (rc != STORE_OK) {
        ha_view_clear(v);
        return rc;
    }
    v->assigned = xcalloc(v->nn ? v->nn : 1, sizeof(*v->assigned));
    for (size_t i = 0; i < v->nn; i++)
        for (size_t k = 0; k < nl; k++)
            if (strcasecmp(load[k].node, v->nodes[i].name) == 0)
                v->assigned[i] = load[k].users;
    store_node_users_free(load, nl);
    return STORE_OK;
}

enum store_rc ha_view_load(struct app *app, struct ha_view *v)
{
    enum store_rc rc;

    memset(v, 0, sizeof(*v));
    if ((rc = store_node_list(app->store, &v->nodes, &v->nn)) != STORE_OK ||
        (rc = store_service_list(app->store, NULL, &v->svcs, &v->ns)) != STORE_OK ||
        (rc = store_recorded_list(app->store, NULL, &v->rec, &v->nr)) != STORE_OK) {
        ha_view_clear(v);
        return rc;
    }
    v->sessions = xcalloc(v->nn ? v->nn : 1, sizeof(*v->sessions));
    for (size_t i = 0; i < v->nn; i++)
        v->sessions[i] = sessions_on_node(app->sessions, v->nodes[i].name);
    return load_assigned(app, v);
}

void ha_view_clear(struct ha_view *v)
{
    store_node_list_free(v->nodes, v->nn);
    store_service_list_free(v->svcs, v->ns);
    store_recorded_list_free(v->rec, v->nr);
    free(v->sessions);
    free(v->assigned);
    memset(v, 0, sizeof(*v));
}

/* ---- the guards ---- */

struct refusal {
    FILE *f;
    char *text;
    size_t len;
    bool ko, any;
};

static void sentence(struct refusal *r)
{
    fputs(r->any ? " " : (r->ko ? "HA를 켤 수 없습니다. " : "HA cannot be enabled now. "), r->f);
    r->any = true;
}

static const struct store_service *find_service(const struct ha_view *v, const char *node,
                                                const char *service)
{
    for (size_t i = 0; i < v->ns; i++)
        if (strcasecmp(v->svcs[i].node, node) == 0 && strcmp(v->svcs[i].service, service) == 0)
            return &v->svcs[i];
    return NULL;
}

/* Guard 1: every service up on the publisher and on every subscriber. */
static void check_services(struct refusal *r, const struct ha_view *v)
{
    for (size_t i = 0; i < v->nn; i++) {
        const char *sep = "";
        for (int k = 0; k < SERVICES_N; k++) {
            const char *name = services_stop_order[k];
            const struct store_service *s = find_service(v, v->nodes[i].name, name);
            if (s != NULL && services_state_is_up(s->state))
                continue;
            if (*sep == '\0') {
                sentence(r);
                fprintf(r->f, r->ko ? "%s %s: " : "%s %s: ",
                        store_node_role_name(v->nodes[i].role), v->nodes[i].name);
            }
            fprintf(r->f, "%s%s %s", sep, name, s ? s->state : (r->ko ? "상태 모름" : "unknown"));
            sep = ", ";
        }
        if (*sep != '\0')
            fputs(r->ko ? " (services로 시작하거나 활성화하세요)."
                        : " (start or activate it with the services command).",
                  r->f);
    }
}

static bool in_groups(const char *group, const char *const *groups, size_t n)
{
    if (n == 0)
        return true;
    for (size_t i = 0; group != NULL && i < n; i++)
        if (strcasecmp(group, groups[i]) == 0)
            return true;
    return false;
}

/* When the node's services last came up: the newest change among its up services. */
static int64_t restarted_at(const struct ha_view *v, const char *node)
{
    int64_t t = 0;

    for (size_t i = 0; i < v->ns; i++)
        if (strcasecmp(v->svcs[i].node, node) == 0 && services_state_is_up(v->svcs[i].state) &&
            v->svcs[i].updated_at > t)
            t = v->svcs[i].updated_at;
    return t;
}

const struct store_recorded *ha_view_recorded(const struct ha_view *v, const char *node)
{
    for (size_t i = 0; i < v->nr; i++)
        if (strcasecmp(v->rec[i].node, node) == 0)
            return &v->rec[i];
    return NULL;
}

/* Whether node i's sessions are below the count recorded at disable, within 30 minutes of its
 * services' restart (the guide's guard; more sessions than recorded is no reason to wait). */
static bool short_of_recorded(const struct ha_view *v, size_t i, int64_t now)
{
    const struct store_recorded *rec = ha_view_recorded(v, v->nodes[i].name);

    return rec != NULL && now - restarted_at(v, v->nodes[i].name) < HA_SESSIONS_WINDOW_S &&
           v->sessions[i] < rec->active_users;
}

/* Guard 2: within 30 minutes of the restart, no node below the recorded count. */
static void check_sessions(struct refusal *r, const struct ha_view *v, const char *const *groups,
                           size_t n, int64_t now)
{
    for (size_t i = 0; i < v->nn; i++) {
        const struct store_node *node = &v->nodes[i];
        const struct store_recorded *rec = ha_view_recorded(v, node->name);
        int64_t since = now - restarted_at(v, node->name);
        if (!in_groups(node->group, groups, n) || !short_of_recorded(v, i, now))
            continue;
        sentence(r);
        fprintf(r->f,
                r->ko ? "노드 %s: 세션 %lld개, 기록된 수 %lld개, 할당된 사용자 %lld명 (서비스 "
                        "재시작 후 %lld분; 30분이 지나기 전에는 기록된 수보다 적으면 안 됩니다. "
                        "sessions로 세션이 돌아오는지 보세요)."
                      : "node %s: %lld sessions, %lld recorded, %lld users assigned (the "
                        "services restarted %lld min ago; until 30 min have passed the sessions "
                        "must be back to the recorded count: watch them with sessions).",
                node->name, (long long)v->sessions[i], (long long)rec->active_users,
                (long long)(v->assigned ? v->assigned[i] : 0), (long long)(since / 60));
    }
}

char *ha_enable_report(const struct ha_view *v, const char *const *groups, size_t n, int64_t now,
                       const char *lang, form_t *table)
{
    struct refusal w = {.ko = i18n_is_korean(lang)};

    if ((w.f = open_memstream(&w.text, &w.len)) == NULL)
        fatal("ha: open_memstream");
    for (size_t i = 0; i < v->nn; i++) {
        const struct store_recorded *rec = ha_view_recorded(v, v->nodes[i].name);
        int64_t assigned = v->assigned ? v->assigned[i] : -1;
        bool below_rec = short_of_recorded(v, i, now), below_assigned = v->sessions[i] < assigned;
        char sess[24], recorded[24] = "-", users[24] = "-";
        if (!in_groups(v->nodes[i].group, groups, n))
            continue;
        snprintf(sess, sizeof(sess), "%lld", (long long)v->sessions[i]);
        if (rec != NULL)
            snprintf(recorded, sizeof(recorded), "%lld", (long long)rec->active_users);
        if (assigned >= 0)
            snprintf(users, sizeof(users), "%lld", (long long)assigned);
        if (table != NULL)
            form_add_row(table, (const char *const[]){
                                    v->nodes[i].name, sess, recorded, users,
                                    below_rec        ? "below recorded"
                                    : below_assigned ? "below assigned"
                                                     : "ok"});
        if (!below_assigned)
            continue;
        fputs(w.any ? " " : (w.ko ? "경고: " : "Warning: "), w.f);
        w.any = true;
        fprintf(w.f,
                w.ko ? "노드 %s의 세션 %lld개가 할당된 사용자 %lld명보다 적습니다(가이드는 "
                       "ActiveJsmSessions가 할당된 사용자 수와 같기를 요구합니다. 세션이 아직 "
                       "돌아오지 않은 사용자는 프레즌스가 작동하지 않을 수 있습니다)."
                     : "node %s has %lld sessions, fewer than the %lld users assigned to it (the "
                       "guide asks that ActiveJsmSessions equal the assigned users; users whose "
                       "session is not back yet may have no presence).",
                v->nodes[i].name, (long long)v->sessions[i], (long long)assigned);
    }
    fclose(w.f);
    if (!w.any) {
        free(w.text);
        return NULL;
    }
    return w.text;
}

char *ha_enable_refusal(const struct ha_view *v, const char *const *groups, size_t n, int64_t now,
                        const char *lang)
{
    struct refusal r = {.ko = i18n_is_korean(lang)};

    if ((r.f = open_memstream(&r.text, &r.len)) == NULL)
        fatal("ha: open_memstream");
    check_services(&r, v);
    check_sessions(&r, v, groups, n, now);
    fclose(r.f);
    if (!r.any) {
        free(r.text);
        return NULL;
    }
    return r.text;
}

/* ---- disable ---- */

static enum store_rc record_group(struct app *app, const char *group, int64_t now)
{
    struct store_node *nodes = NULL;
    size_t nn = 0;
    enum store_rc rc = store_node_list(app->store, &nodes, &nn);

    for (size_t i = 0; i < nn && rc == STORE_OK; i++)
        if (nodes[i].group != NULL && strcasecmp(nodes[i].group, group) == 0)
            rc = store_recorded_set(app->store, nodes[i].name,
                                    sessions_on_node(app->sessions, nodes[i].name), now);
    store_node_list_free(nodes, nn);
    return rc;
}

/* The moment of a change made at `now` (unix seconds), in milliseconds: the clock's own when
 * `now` is the current second (the settle period then counts from this very moment), else the
 * start of `now`'s second (a caller's chosen time). */
static int64_t change_ms(int64_t now)
{
    int64_t ms = now_ms();

    return ms / 1000 >= now && ms / 1000 <= now + 1 ? ms : now * 1000;
}

enum store_rc ha_disable(struct app *app, const char *const *groups, size_t n, int64_t now,
                         size_t *changed)
{
    struct store_group g;
    enum store_rc rc = STORE_OK;

    *changed = 0;
    for (size_t i = 0; i < n && rc == STORE_OK; i++) {
        if ((rc = store_group_get(app->store, groups[i], &g)) != STORE_OK)
            break;
        if (g.ha_enabled) {
            rc = record_group(app, g.name, now);
            if (rc == STORE_OK)
                rc = store_group_set_ha_ms(app->store, g.name, false, change_ms(now));
            *changed += rc == STORE_OK;
        }
        store_group_clear(&g);
    }
    return rc;
}

/* ---- enable ---- */

enum store_rc ha_enable_groups(struct app *app, const char *const *groups, size_t n)
{
    enum store_rc rc = store_begin(app->store);

    for (size_t i = 0; i < n && rc == STORE_OK; i++)
        rc = store_group_set_ha(app->store, groups[i], true, 0);
    if (rc == STORE_OK)
        return store_commit(app->store);
    store_rollback(app->store);
    return rc;
}
