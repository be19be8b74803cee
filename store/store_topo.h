/* Cluster topology in the store: nodes, presence redundancy groups and their HA flag, the
 * active-user counts recorded per node when HA is disabled, and service states per node.
 * Basic create/read/update/delete only; the procedure's rules live in component/. */
#ifndef IMD_STORE_TOPO_H
#define IMD_STORE_TOPO_H

#include "store/store.h"

enum store_node_role {
    STORE_NODE_PUBLISHER,  /* "publisher": at most one per cluster (STORE_CONFLICT otherwise) */
    STORE_NODE_SUBSCRIBER, /* "subscriber" */
};

/* Strings are malloc'd and owned by each struct; free with the matching *_clear/_free. */
struct store_node {
    int64_t id;
    char *name; /* FQDN or host name, unique case-insensitively */
    enum store_node_role role;
    char *release; /* e.g. "15.0"; "" when unknown */
    char *group;   /* redundancy group name, NULL when in none */
};

struct store_group {
    int64_t id;
    char *name;
    bool ha_enabled;
    int64_t ha_changed_at; /* unix seconds; 0 when never changed */
    int64_t nodes;         /* how many nodes are in it (0..2) */
    int64_t ha_changed_ms; /* the same moment in milliseconds; 0 when not known */
};

struct store_recorded {
    char *node;
    int64_t active_users; /* ActiveJsmSessions when HA was disabled */
    int64_t recorded_at;
};

struct store_service {
    char *node;
    char *service; /* e.g. "xcp-router" */
    char *state;   /* free text owned by component/, e.g. "running", "stopped" */
    int64_t updated_at;
};

/*
 * Nodes. All strings borrowed. `group` NULL or "" means none; an unknown group is
 * STORE_NOTFOUND. A second publisher, a name taken in any case, or a group that already holds
 * two nodes is STORE_CONFLICT. Deleting a node unassigns its users and drops its recorded
 * count and services.
 */
enum store_rc store_node_insert(struct store *st, const char *name, enum store_node_role role,
                                const char *release, const char *group);
enum store_rc store_node_get(struct store *st, const char *name, struct store_node *out);
enum store_rc store_node_update(struct store *st, const char *name, enum store_node_role role,
                                const char *release, const char *group);
enum store_rc store_node_delete(struct store *st, const char *name);
/* The publisher first, then by name. Free with store_node_list_free(). */
enum store_rc store_node_list(struct store *st, struct store_node **out, size_t *n);

/* Groups. Deleting a group that still holds nodes is STORE_CONFLICT. */
enum store_rc store_group_insert(struct store *st, const char *name, bool ha_enabled);
enum store_rc store_group_get(struct store *st, const char *name, struct store_group *out);
/* Sets the HA flag and ha_changed_at = `when` (0: now). */
enum store_rc store_group_set_ha(struct store *st, const char *name, bool ha_enabled, int64_t when);
/* The same with the moment in milliseconds (0: now), kept exactly in ha_changed_ms. */
enum store_rc store_group_set_ha_ms(struct store *st, const char *name, bool ha_enabled,
                                    int64_t when_ms);
enum store_rc store_group_delete(struct store *st, const char *name);
enum store_rc store_group_list(struct store *st, struct store_group **out, size_t *n);

/* Recorded active users per node: set (replacing; `when` 0: now), list (node NULL: all nodes,
 * else that one; in node name order), clear (node NULL: all). */
enum store_rc store_recorded_set(struct store *st, const char *node, int64_t active_users,
                                 int64_t when);
enum store_rc store_recorded_list(struct store *st, const char *node, struct store_recorded **out,
                                  size_t *n);
enum store_rc store_recorded_clear(struct store *st, const char *node);

/* Service states: set (insert or replace), get, delete, list (node NULL: every node; in node,
 * then service order). */
enum store_rc store_service_set(struct store *st, const char *node, const char *service,
                                const char *state);
enum store_rc store_service_get(struct store *st, const char *node, const char *service,
                                struct store_service *out);
enum store_rc store_service_delete(struct store *st, const char *node, const char *service);
enum store_rc store_service_list(struct store *st, const char *node, struct store_service **out,
                                 size_t *n);

void store_node_clear(struct store_node *node);
void store_node_list_free(struct store_node *list, size_t n);
void store_group_clear(struct store_group *group);
void store_group_list_free(struct store_group *list, size_t n);
void store_recorded_list_free(struct store_recorded *list, size_t n);
void store_service_clear(struct store_service *svc);
void store_service_list_free(struct store_service *list, size_t n);

/* "publisher" / "subscriber" (static), and the reverse: 0, or -1 if unknown. */
const char *store_node_role_name(enum store_node_role role);
int store_node_role_parse(const char *name, enum store_node_role *out);

#endif
