/* Topology: nodes, presence redundancy groups, active users recorded per node at HA disable,
 * and service states per node. Names are matched case-insensitively. */

#include "store/store_topo.h"
#include "store/store_impl.h"

#include <stdlib.h>
#include <string.h>

static const char *const role_names[] = {
    [STORE_NODE_PUBLISHER] = "publisher",
    [STORE_NODE_SUBSCRIBER] = "subscriber",
};

#define N_ROLES (sizeof(role_names) / sizeof(role_names[0]))

const char *store_node_role_name(enum store_node_role role)
{
    return (size_t)role < N_ROLES ? role_names[role] : "unknown";
}

int store_node_role_parse(const char *name, enum store_node_role *out)
{
    int i = store_name_index(role_names, N_ROLES, name);
    if (i < 0)
        return -1;
    *out = (enum store_node_role)i;
    return 0;
}

/* Reads the first row of `s` into *out (may be NULL) with `read`. */
static enum store_rc get_one(struct store *st, sqlite3_stmt *s, const char *what,
                             void (*read)(sqlite3_stmt *, void *), void *out, size_t size)
{
    enum store_rc rc = store_row(st, s, what);

    if (out != NULL)
        memset(out, 0, size);
    if (rc != STORE_OK)
        return rc;
    if (out != NULL)
        read(s, out);
    store_stmt_done(s);
    return STORE_OK;
}

static void read_node(sqlite3_stmt *s, void *elem)
{
    struct store_node *n = elem;

    n->id = sqlite3_column_int64(s, 0);
    n->name = store_col_str(s, 1);
    if (store_node_role_parse((const char *)sqlite3_column_text(s, 2), &n->role) == -1)
        n->role = STORE_NODE_SUBSCRIBER; /* unreachable: the schema checks the value */
    n->release = store_col_str(s, 3);
    n->group = store_col_str_or_null(s, 4);
}

static void destroy_node(void *elem)
{
    store_node_clear(elem);
}

enum store_rc store_node_insert(struct store *st, const char *name, enum store_node_role role,
                                const char *release, const char *group)
{
    int64_t gid;
    enum store_rc rc = store_lookup_id(st, STMT_GROUP_GET, "adding node", group, &gid);

    if (rc != STORE_OK)
        return rc;
    sqlite3_stmt *s = store_stmt(st, STMT_NODE_INSERT, "tttr", name, store_node_role_name(role),
                                 release != NULL ? release : "", gid);
    return store_exec(st, s, "adding node", NULL);
}

enum store_rc store_node_get(struct store *st, const char *name, struct store_node *out)
{
    return get_one(st, store_stmt(st, STMT_NODE_GET, "t", name), "reading node", read_node, out,
                   sizeof(*out));
}

enum store_rc store_node_update(struct store *st, const char *name, enum store_node_role role,
                                const char *release, const char *group)
{
    int64_t gid;
    enum store_rc rc = store_lookup_id(st, STMT_GROUP_GET, "updating node", group, &gid);

    if (rc != STORE_OK)
        return rc;
    sqlite3_stmt *s = store_stmt(st, STMT_NODE_UPDATE, "tttr", name, store_node_role_name(role),
                                 release != NULL ? release : "", gid);
    return store_exec_one(st, s, "updating node");
}

enum store_rc store_node_delete(struct store *st, const char *name)
{
    return store_exec_one(st, store_stmt(st, STMT_NODE_DELETE, "t", name), "deleting node");
}

enum store_rc store_node_list(struct store *st, struct store_node **out, size_t *n)
{
    return store_collect(st, store_stmt(st, STMT_NODE_LIST, ""), "listing nodes", sizeof(**out),
                         read_node, destroy_node, (void **)out, n);
}

static void read_group(sqlite3_stmt *s, void *elem)
{
    struct store_group *g = elem;

    g->id = sqlite3_column_int64(s, 0);
    g->name = store_col_str(s, 1);
    g->ha_enabled = sqlite3_column_int(s, 2) != 0;
    g->ha_changed_at = sqlite3_column_int64(s, 3);
    g->nodes = sqlite3_column_int64(s, 4);
    g->ha_changed_ms = sqlite3_column_int64(s, 5);
}

static void destroy_group(void *elem)
{
    store_group_clear(elem);
}

enum store_rc store_group_insert(struct store *st, const char *name, bool ha_enabled)
{
    sqlite3_stmt *s = store_stmt(st, STMT_GROUP_INSERT, "tb", name, (int)ha_enabled);
    return store_exec(st, s, "adding redundancy group", NULL);
}

enum store_rc store_group_get(struct store *st, const char *name, struct store_group *out)
{
    return get_one(st, store_stmt(st, STMT_GROUP_GET, "t", name), "reading redundancy group",
                   read_group, out, sizeof(*out));
}

enum store_rc store_group_set_ha(struct store *st, const char *name, bool ha_enabled, int64_t when)
{
    return store_group_set_ha_ms(st, name, ha_enabled, when > 0 ? when * 1000 : 0);
}

enum store_rc store_group_set_ha_ms(struct store *st, const char *name, bool ha_enabled,
                                    int64_t when_ms)
{
    sqlite3_stmt *s = store_stmt(st, STMT_GROUP_SET_HA, "tbi", name, (int)ha_enabled, when_ms);
    return store_exec_one(st, s, "setting HA");
}

enum store_rc store_group_delete(struct store *st, const char *name)
{
    return store_exec_one(st, store_stmt(st, STMT_GROUP_DELETE, "t", name),
                          "deleting redundancy group");
}

enum store_rc store_group_list(struct store *st, struct store_group **out, size_t *n)
{
    return store_collect(st, store_stmt(st, STMT_GROUP_LIST, ""), "listing redundancy groups",
                         sizeof(**out), read_group, destroy_group, (void **)out, n);
}

static void read_recorded(sqlite3_stmt *s, void *elem)
{
    struct store_recorded *r = elem;

    r->node = store_col_str(s, 0);
    r->active_users = sqlite3_column_int64(s, 1);
    r->recorded_at = sqlite3_column_int64(s, 2);
}

static void destroy_recorded(void *elem)
{
    free(((struct store_recorded *)elem)->node);
}

enum store_rc store_recorded_set(struct store *st, const char *node, int64_t active_users,
                                 int64_t when)
{
    int64_t nid;
    enum store_rc rc = store_lookup_id(st, STMT_NODE_ID, "recording active users", node, &nid);

    if (rc != STORE_OK)
        return rc;
    if (nid == 0)
        return store_fail_arg(st, "recording active users: a node name is required");
    sqlite3_stmt *s = store_stmt(st, STMT_RECORDED_SET, "iii", nid, active_users, when);
    return store_exec(st, s, "recording active users", NULL);
}

enum store_rc store_recorded_list(struct store *st, const char *node, struct store_recorded **out,
                                  size_t *n)
{
    sqlite3_stmt *s = store_stmt(st, STMT_RECORDED_LIST, "t", store_opt(node));
    return store_collect(st, s, "listing recorded active users", sizeof(**out), read_recorded,
                         destroy_recorded, (void **)out, n);
}

enum store_rc store_recorded_clear(struct store *st, const char *node)
{
    sqlite3_stmt *s = store_stmt(st, STMT_RECORDED_CLEAR, "t", store_opt(node));
    return store_exec(st, s, "clearing recorded active users", NULL);
}

static void read_service(sqlite3_stmt *s, void *elem)
{
    struct store_service *v = elem;

    v->node = store_col_str(s, 0);
    v->service = store_col_str(s, 1);
    v->state = store_col_str(s, 2);
    v->updated_at = sqlite3_column_int64(s, 3);
}

static void destroy_service(void *elem)
{
    store_service_clear(elem);
}

enum store_rc store_service_set(struct store *st, const char *node, const char *service,
                                const char *state)
{
    int64_t nid;
    enum store_rc rc = store_lookup_id(st, STMT_NODE_ID, "setting service state", node, &nid);

    if (rc != STORE_OK)
        return rc;
    if (nid == 0)
        return store_fail_arg(st, "setting service state: a node name is required");
    sqlite3_stmt *s = store_stmt(st, STMT_SERVICE_SET, "itt", nid, service, state);
    return store_exec(st, s, "setting service state", NULL);
}

enum store_rc store_service_get(struct store *st, const char *node, const char *service,
                                struct store_service *out)
{
    return get_one(st, store_stmt(st, STMT_SERVICE_GET, "tt", node, service),
                   "reading service state", read_service, out, sizeof(*out));
}

enum store_rc store_service_delete(struct store *st, const char *node, const char *service)
{
    return store_exec_one(st, store_stmt(st, STMT_SERVICE_DELETE, "tt", node, service),
                          "deleting service state");
}

enum store_rc store_service_list(struct store *st, const char *node, struct store_service **out,
                                 size_t *n)
{
    sqlite3_stmt *s = store_stmt(st, STMT_SERVICE_LIST, "t", store_opt(node));
    return store_collect(st, s, "listing service states", sizeof(**out), read_service,
                         destroy_service, (void **)out, n);
}

void store_node_clear(struct store_node *node)
{
    if (node == NULL)
        return;
    free(node->name);
    free(node->release);
    free(node->group);
    memset(node, 0, sizeof(*node));
}

void store_node_list_free(struct store_node *list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        store_node_clear(&list[i]);
    free(list);
}

void store_group_clear(struct store_group *group)
{
    if (group == NULL)
        return;
    free(group->name);
    memset(group, 0, sizeof(*group));
}

void store_group_list_free(struct store_group *list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        store_group_clear(&list[i]);
    free(list);
}

void store_recorded_list_free(struct store_recorded *list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        destroy_recorded(&list[i]);
    free(list);
}

void store_service_clear(struct store_service *svc)
{
    if (svc == NULL)
        return;
    free(svc->node);
    free(svc->service);
    free(svc->state);
    memset(svc, 0, sizeof(*svc));
}

void store_service_list_free(struct store_service *list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        store_service_clear(&list[i]);
    free(list);
}
