/* topology (nodes, groups, HA, users, sessions as tables) and topology/edit (add, update and
 * remove nodes, with their groups; assign users to a node or balance the unassigned ones). */
#include "component/cmd/commands.h"

#include "component/engine/ha.h"
#include "component/engine/services.h"
#include "component/engine/sessions.h"
#include "component/engine/topology.h"
#include "store/store_topo.h"
#include "store/store_user.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct text t_failed_store = {"The topology could not be read or written: see the "
                                           "daemon's log. Nothing was changed.",
                                           "토폴로지를 읽거나 쓸 수 없습니다. 데몬 로그를 "
                                           "보세요. 아무것도 바뀌지 않았습니다."};

/* Completes with an error note holding `text` (taken). */
static void fail_with(adhoc_call_t *call, char *text)
{
    struct text t = {text, text};

    adhoc_fail(call, &t);
    free(text);
}

static void store_failed(adhoc_call_t *call, struct app *app)
{
    log_warnx("%s: store: %s", call->node, store_errmsg(app->store));
    adhoc_fail(call, &t_failed_store);
}

/* ---- topology ---- */

static const struct text T_PUBLISHER = {"publisher", "게시자"};
static const struct text T_SUBSCRIBER = {"subscriber", "구독자"};
static const struct text T_ON = {"on", "켜짐"};
static const struct text T_OFF = {"off", "꺼짐"};

/* What people read for the machine values of the role and HA columns. */
static void label_values(form_t *f, bool roles)
{
    if (roles) {
        form_column_value_label(f, "role", "publisher", &T_PUBLISHER);
        form_column_value_label(f, "role", "subscriber", &T_SUBSCRIBER);
    }
    form_column_value_label(f, "ha", "on", &T_ON);
    form_column_value_label(f, "ha", "off", &T_OFF);
}

static void add_node_rows(form_t *f, struct app *app, const struct store_node *nodes, size_t n,
                          const struct store_node_users *load, size_t nl)
{
    for (size_t i = 0; i < n; i++) {
        char users[24] = "0", sess[24], online[24];
        struct store_group g = {0};
        bool ha = nodes[i].group && store_group_get(app->store, nodes[i].group, &g) == STORE_OK &&
                  g.ha_enabled;
        for (size_t k = 0; k < nl; k++)
            if (strcasecmp(load[k].node, nodes[i].name) == 0)
                snprintf(users, sizeof(users), "%lld", (long long)load[k].users);
        snprintf(sess, sizeof(sess), "%lld",
                 (long long)sessions_on_node(app->sessions, nodes[i].name));
        snprintf(online, sizeof(online), "%lld",
                 (long long)sessions_users_on_node(app->sessions, nodes[i].name));
        const char *cells[] = {nodes[i].name, store_node_role_name(nodes[i].role),
                               nodes[i].release,  nodes[i].group ? nodes[i].group : "",
                               ha ? "on" : "off", users, sess, online};
        form_add_row(f, cells);
        store_group_clear(&g);
    }
}

static form_t *nodes_table(struct app *app, const struct store_node *nodes, size_t n)
{
    static const struct text cols[] = {
        {"Node", "노드"},         {"Role", "역할"},          {"Release", "릴리스"},
        {"Group", "그룹"},        {"HA", "HA"},              {"Assigned users", "할당된 사용자"},
        {"Sessions", "세션"},     {"Online users", "온라인 사용자"},
    };
    static const char *const vars[] = {"node", "role", "release", "group",
                                       "ha", "users", "sessions", "online_users"};
    struct store_node_users *load = NULL;
    size_t nl = 0;
    form_t *f = form_new(FORM_RESULT);

    form_set_title(f, &(struct text){"Nodes", "노드"});
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        form_add_column(f, vars[i], FIELD_TEXT_SINGLE, &cols[i]);
    label_values(f, true);
    if (store_user_count_per_node(app->store, &load, &nl) != STORE_OK)
        log_warnx("topology: cannot count users: %s", store_errmsg(app->store));
    add_node_rows(f, app, nodes, n, load, nl);
    store_node_users_free(load, nl);
    return f;
}

static form_t *groups_table(struct app *app, const struct store_group *g, size_t n)
{
    form_t *f = form_new(FORM_RESULT);

    form_set_title(f, &(struct text){"Presence redundancy groups", "프레즌스 이중화 그룹"});
    form_add_column(f, "group", FIELD_TEXT_SINGLE, &(struct text){"Group", "그룹"});
    form_add_column(f, "nodes", FIELD_TEXT_SINGLE, &(struct text){"Nodes", "노드 수"});
    form_add_column(f, "ha", FIELD_TEXT_SINGLE, &(struct text){"HA", "HA"});
    form_add_column(f, "settle_left", FIELD_TEXT_SINGLE,
                    &(struct text){"Settle time left (s)", "남은 동기화 대기(초)"});
    label_values(f, false);
    for (size_t i = 0; i < n; i++) {
        char nodes[24], left[24];
        snprintf(nodes, sizeof(nodes), "%lld", (long long)g[i].nodes);
        snprintf(left, sizeof(left), "%lld",
                 (long long)((ha_settle_remaining_ms(app, g[i].name) + 999) / 1000));
        const char *cells[] = {g[i].name, nodes, g[i].ha_enabled ? "on" : "off", left};
        form_add_row(f, cells);
    }
    return f;
}

/* Warnings about the topology as it stands: nodes outside any group, naming. */
static void topology_warnings(adhoc_call_t *call, const struct store_node *nodes, size_t n)
{
    char *ungrouped = topology_ungrouped_nodes(nodes, n), *naming;
    const char **names = xcalloc(n ? n : 1, sizeof(*names));

    if (ungrouped != NULL) {
        char *s = xasprintf(i18n_is_korean(call->lang)
                                ? "이중화 그룹에 없는 노드: %s. 모든 노드는 그룹 하나에 "
                                  "속해야 합니다(topology/edit)."
                                : "Nodes in no redundancy group: %s. Every node must be in "
                                  "exactly one (topology/edit).",
                            ungrouped);
        adhoc_note_str(call, ADHOC_NOTE_WARN, s);
        free(s);
    }
    for (size_t i = 0; i < n; i++)
        names[i] = nodes[i].name;
    if ((naming = topology_names_problem(names, n, call->lang)) != NULL)
        adhoc_note_str(call, ADHOC_NOTE_WARN, naming);
    free(naming);
    free(ungrouped);
    free(names);
}

static void topology_step(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    struct store_node *nodes = NULL;
    struct store_group *groups = NULL;
    size_t nn = 0, ng = 0;

    if (store_node_list(app->store, &nodes, &nn) != STORE_OK ||
        store_group_list(app->store, &groups, &ng) != STORE_OK) {
        store_node_list_free(nodes, nn);
        store_failed(call, app);
        return;
    }
    adhoc_complete(call, nodes_table(app, nodes, nn));
    adhoc_add_result(call, groups_table(app, groups, ng));
    topology_warnings(call, nodes, nn);
    store_node_list_free(nodes, nn);
    store_group_list_free(groups, ng);
}

static const struct adhoc_command topology_def = {
    .node = "topology",
    .name = {"Show the topology", "토폴로지 보기"},
    .step = topology_step,
};

/* ---- topology/edit ---- */

enum edit_action { EDIT_ADD, EDIT_UPDATE, EDIT_REMOVE, EDIT_ASSIGN, EDIT_BALANCE, EDIT_COUNT };

static const char *const action_names[EDIT_COUNT] = {"add-node", "update-node", "remove-node",
                                                     "assign-users", "balance-users"};
static const struct text action_labels[EDIT_COUNT] = {
    {"Add a node", "노드 추가"},
    {"Change a node's role, release or group", "노드의 역할, 릴리스, 그룹 바꾸기"},
    {"Remove a node", "노드 제거"},
    {"Assign users to a node", "사용자를 노드에 할당"},
    {"Spread unassigned users over the nodes", "할당되지 않은 사용자를 노드에 고르게 할당"},
};

static form_t *action_form(void)
{
    form_t *f = form_new(FORM_FORM);
    form_field_t *a;

    form_set_title(f, &(struct text){"Edit the topology", "토폴로지 편집"});
    a = form_add_field(f, "action", FIELD_LIST_SINGLE, &(struct text){"Action", "작업"});
    form_field_set_required(a, true);
    for (int i = 0; i < EDIT_COUNT; i++)
        form_field_add_option(a, action_names[i], &action_labels[i]);
    return f;
}

static void add_node_choices(form_t *f, struct app *app, bool required)
{
    struct store_node *nodes = NULL;
    size_t n = 0;
    form_field_t *fld = form_add_field(f, "node", FIELD_LIST_SINGLE, &(struct text){"Node", "노드"});

    form_field_set_required(fld, required);
    if (store_node_list(app->store, &nodes, &n) == STORE_OK)
        for (size_t i = 0; i < n; i++)
            form_field_add_option(fld, nodes[i].name, NULL);
    store_node_list_free(nodes, n);
}

static void add_node_fields(form_t *f, struct app *app, bool adding)
{
    struct store_group *g = NULL;
    size_t n = 0;
    form_field_t *role, *group;

    role = form_add_field(f, "role", FIELD_LIST_SINGLE, &(struct text){"Role", "역할"});
    form_field_add_option(role, "publisher", &T_PUBLISHER);
    form_field_add_option(role, "subscriber", &T_SUBSCRIBER);
    form_field_set_required(role, adding);
    form_add_field(f, "release", FIELD_TEXT_SINGLE, &(struct text){"Release", "릴리스"});
    group = form_add_field(f, "group", FIELD_LIST_SINGLE,
                           &(struct text){"Redundancy group (a new name creates it)",
                                          "이중화 그룹(새 이름이면 새로 만듭니다)"});
    form_field_set_open(group, true);
    form_field_set_required(group, adding);
    if (store_group_list(app->store, &g, &n) == STORE_OK)
        for (size_t i = 0; i < n; i++)
            if (g[i].nodes < 2)
                form_field_add_option(group, g[i].name, NULL);
    store_group_list_free(g, n);
}

static form_t *detail_form(struct app *app, enum edit_action a)
{
    form_t *f = form_new(FORM_FORM);
    form_field_t *fld;

    form_set_title(f, &action_labels[a]);
    switch (a) {
    case EDIT_ADD:
        fld = form_add_field(f, "name", FIELD_TEXT_SINGLE,
                             &(struct text){"Node name (FQDN)", "노드 이름(FQDN)"});
        form_field_set_required(fld, true);
        add_node_fields(f, app, true);
        break;
    case EDIT_UPDATE:
        add_node_choices(f, app, true);
        form_add_instructions(f, &(struct text){"Leave a field empty to keep its value.",
                                                "비워 둔 칸은 지금 값을 유지합니다."});
        add_node_fields(f, app, false);
        break;
    case EDIT_REMOVE:
        add_node_choices(f, app, true);
        break;
    case EDIT_ASSIGN:
        fld = form_add_field(f, "users", FIELD_TEXT_MULTI,
                             &(struct text){"User IDs, one a line", "사용자 ID(한 줄에 하나)"});
        form_field_set_required(fld, true);
        add_node_choices(f, app, true);
        break;
    default:
        break;
    }
    return f;
}

/* Checks a node name and release typed in the form; answers bad-payload when wrong. */
static bool check_node_input(adhoc_call_t *call, const char *name, const char *release)
{
    const char *why = name ? topology_name_problem(name, call->lang) : NULL;
    char *text;

    if (why == NULL && release != NULL)
        why = topology_release_problem(release, call->lang);
    if (why == NULL)
        return true;
    text = xasprintf("%s: %s", name && topology_name_problem(name, call->lang) ? name : release,
                     why);
    adhoc_refuse(call, "bad-request", "bad-payload", text);
    free(text);
    return false;
}

/* The DNS rule over every node name once `added` (may be NULL) joins and `removed` leaves. */
static char *names_problem_after(struct app *app, const char *added, const char *removed,
                                 const char *lang)
{
    struct store_node *nodes = NULL;
    size_t n = 0, k = 0;
    const char **names;
    char *why;

    if (store_node_list(app->store, &nodes, &n) != STORE_OK)
        return NULL;
    names = xcalloc(n + 1, sizeof(*names));
    for (size_t i = 0; i < n; i++)
        if (removed == NULL || strcasecmp(nodes[i].name, removed) != 0)
            names[k++] = nodes[i].name;
    if (added != NULL)
        names[k++] = added;
    why = topology_names_problem(names, k, lang);
    free(names);
    store_node_list_free(nodes, n);
    return why;
}

/* Makes sure group `name` exists (creating it with HA off). */
static enum store_rc ensure_group(struct app *app, const char *name)
{
    enum store_rc rc = store_group_get(app->store, name, NULL);

    return rc == STORE_NOTFOUND ? store_group_insert(app->store, name, false) : rc;
}

/* Drops `group` when no node is left in it (a group holds one or two nodes). */
static enum store_rc drop_if_empty(struct app *app, const char *group)
{
    struct store_group g;
    enum store_rc rc;

    if (group == NULL)
        return STORE_OK;
    if ((rc = store_group_get(app->store, group, &g)) != STORE_OK)
        return rc == STORE_NOTFOUND ? STORE_OK : rc;
    if (g.nodes == 0)
        rc = store_group_delete(app->store, group);
    store_group_clear(&g);
    return rc;
}

static const char *conflict_text(const char *lang)
{
    return i18n_is_korean(lang)
               ? "바꿀 수 없습니다: 이름이 이미 있거나, 게시자가 이미 있거나(클러스터에 하나), "
                 "그룹에 이미 노드가 둘 있습니다. 아무것도 바뀌지 않았습니다."
               : "Refused: the name is taken, or the cluster has a publisher already (one per "
                 "cluster), or the group holds two nodes already (at most two). Nothing was "
                 "changed.";
}

/* A node change, for naming the cause of a conflict (topology_conflict_cause). */
struct node_change {
    const char *node, *group;
    bool adding;
    enum store_node_role role;
};

/* Ends a change: commit and complete with `done` (taken), or roll back and explain; a conflict
 * of a node change `nc` (may be NULL) names its cause. */
static void end_node_change(adhoc_call_t *call, struct app *app, enum store_rc rc, char *done,
                            const struct node_change *nc)
{
    if (rc == STORE_OK && store_commit(app->store) == STORE_OK) {
        adhoc_note_str(call, ADHOC_NOTE_INFO, done);
        adhoc_complete(call, NULL);
        sessions_users_changed(app->sessions);
    } else {
        store_rollback(app->store);
        if (rc == STORE_CONFLICT && nc != NULL)
            fail_with(call, topology_conflict_cause(app, nc->node, nc->adding, nc->role, nc->group,
                                                    call->lang));
        else if (rc == STORE_CONFLICT)
            adhoc_fail(call, &(struct text){conflict_text(call->lang), conflict_text(call->lang)});
        else if (rc == STORE_NOTFOUND)
            fail_with(call, xasprintf("%s", store_errmsg(app->store)));
        else
            store_failed(call, app);
    }
    free(done);
}

static void end_change(adhoc_call_t *call, struct app *app, enum store_rc rc, char *done)
{
    end_node_change(call, app, rc, done, NULL);
}

/* After a node became (or was added as) the publisher: the guide's default for the CUCM Domain
 * SIP Proxy is its DNS domain. Appends what was set to `done` (replaced). */
static enum store_rc adopt_sip_proxy(struct app *app, enum store_node_role role, char **done,
                                     const char *lang)
{
    char *dns = NULL, *more;
    enum store_rc rc;

    if (role != STORE_NODE_PUBLISHER)
        return STORE_OK;
    if ((rc = topology_sip_proxy_adopt(app, &dns)) != STORE_OK || dns == NULL)
        return rc;
    more = xasprintf(i18n_is_korean(lang)
                         ? "%s CUCM 도메인(SIP 프록시)을 게시자의 DNS 도메인 %s(으)로 "
                           "설정했습니다(가이드의 기본값). CUCM 클러스터의 도메인이 다르면 "
                           "settings에서 바꾸세요."
                         : "%s The CUCM Domain (SIP proxy) is now the publisher's DNS domain %s "
                           "(the guide's default); change it in settings if the CUCM cluster's "
                           "domain differs.",
                     *done, dns);
    free(*done);
    *done = more;
    free(dns);
    return STORE_OK;
}

static void do_add(adhoc_call_t *call, struct app *app)
{
    const char *name = form_value(call->form, "name"), *release = form_value(call->form, "release");
    const char *group = form_value(call->form, "group");
    enum store_node_role role = STORE_NODE_SUBSCRIBER;
    enum store_rc rc;
    char *why, *done;

    if (!check_node_input(call, name, release) || !check_node_input(call, group, NULL))
        return;
    store_node_role_parse(form_value(call->form, "role"), &role);
    if ((why = names_problem_after(app, name, NULL, call->lang)) != NULL ||
        (why = topology_release_refusal(app, name, release, call->lang)) != NULL) {
        fail_with(call, why);
        return;
    }
    if (store_begin(app->store) != STORE_OK) {
        store_failed(call, app);
        return;
    }
    done = xasprintf(i18n_is_korean(call->lang) ? "노드 %s(%s)를 그룹 %s에 추가했습니다."
                                                : "Node %s (%s) added to group %s.",
                     name, store_node_role_name(role), group);
    rc = ensure_group(app, group);
    if (rc == STORE_OK)
        rc = store_node_insert(app->store, name, role, release, group);
    if (rc == STORE_OK && services_init_node(app, name) < 0)
        rc = STORE_ERR;
    if (rc == STORE_OK)
        rc = adopt_sip_proxy(app, role, &done, call->lang);
    end_node_change(call, app, rc, done, &(struct node_change){name, group, true, role});
}

/* Opens the change's transaction and reads node `name` into *cur; false when that failed (the
 * call is answered, the transaction ended). */
static bool begin_node_change(adhoc_call_t *call, struct app *app, const char *name,
                              struct store_node *cur)
{
    enum store_rc rc;

    if (store_begin(app->store) != STORE_OK) {
        store_failed(call, app);
        return false;
    }
    if ((rc = store_node_get(app->store, name, cur)) != STORE_OK) {
        end_change(call, app, rc, NULL);
        return false;
    }
    return true;
}

static void do_update(adhoc_call_t *call, struct app *app)
{
    const char *name = form_value(call->form, "node"), *release = form_value(call->form, "release");
    const char *group = form_value(call->form, "group"), *role_s = form_value(call->form, "role");
    struct store_node cur;
    enum store_rc rc;
    char *why = NULL, *done;

    if (!check_node_input(call, NULL, release) || (group && !check_node_input(call, group, NULL)))
        return;
    if (release != NULL && (why = topology_release_refusal(app, name, release, call->lang))) {
        fail_with(call, why);
        return;
    }
    if (!begin_node_change(call, app, name, &cur))
        return;
    if (role_s != NULL)
        store_node_role_parse(role_s, &cur.role);
    done = xasprintf(i18n_is_korean(call->lang) ? "노드 %s를 바꿨습니다." : "Node %s updated.",
                     cur.name);
    rc = group ? ensure_group(app, group) : STORE_OK;
    if (rc == STORE_OK)
        rc = store_node_update(app->store, cur.name, cur.role, release ? release : cur.release,
                               group ? group : cur.group);
    if (rc == STORE_OK && group && cur.group && strcasecmp(group, cur.group) != 0)
        rc = drop_if_empty(app, cur.group);
    if (rc == STORE_OK)
        rc = adopt_sip_proxy(app, cur.role, &done, call->lang);
    end_node_change(call, app, rc, done,
                    &(struct node_change){cur.name, group ? group : cur.group, false, cur.role});
    store_node_clear(&cur);
}

static void do_remove(adhoc_call_t *call, struct app *app)
{
    const char *name = form_value(call->form, "node");
    struct store_node cur;
    enum store_rc rc;

    if (!begin_node_change(call, app, name, &cur))
        return;
    rc = store_node_delete(app->store, cur.name);
    if (rc == STORE_OK)
        rc = drop_if_empty(app, cur.group);
    end_change(call, app, rc,
               xasprintf(i18n_is_korean(call->lang)
                             ? "노드 %s를 제거했습니다. 그 노드의 사용자는 할당이 풀렸습니다."
                             : "Node %s removed; its users are now unassigned.",
                         cur.name));
    store_node_clear(&cur);
}

static void do_assign(adhoc_call_t *call, struct app *app)
{
    const char *const *users;
    size_t n = form_values(call->form, "users", &users), done = 0;
    const char *node = form_value(call->form, "node");
    enum store_rc rc = store_begin(app->store);

    for (size_t i = 0; i < n && rc == STORE_OK; i++) {
        if (users[i][0] == '\0')
            continue;
        rc = store_user_set_node(app->store, users[i], node);
        done += rc == STORE_OK;
        /* the store says nothing when no row matched: name the user (the node is one listed) */
        if (rc == STORE_NOTFOUND && store_user_get(app->store, users[i], NULL) == STORE_NOTFOUND) {
            store_rollback(app->store);
            fail_with(call, xasprintf(i18n_is_korean(call->lang)
                                          ? "사용자 %s이(가) 없습니다. 아무것도 바뀌지 않았습니다."
                                          : "No user %s. Nothing was changed.",
                                      users[i]));
            return;
        }
    }
    end_change(call, app, rc,
               i18n_is_korean(call->lang)
                   ? xasprintf("사용자 %zu명을 %s에 할당했습니다.", done, node)
                   : xasprintf("%zu user%s assigned to %s.", done, i18n_s(done), node));
}

static void do_balance(adhoc_call_t *call, struct app *app)
{
    int64_t n = 0;
    enum store_rc rc = store_begin(app->store);

    if (rc == STORE_OK)
        rc = topology_balance_users(app, &n);
    end_change(call, app, rc,
               xasprintf(i18n_is_korean(call->lang)
                             ? "할당되지 않은 사용자 %lld명을 노드에 고르게 할당했습니다."
                             : "%lld unassigned users spread over the nodes.",
                         (long long)n));
}

static int parse_action(const char *s)
{
    for (int i = 0; i < EDIT_COUNT; i++)
        if (s != NULL && strcmp(s, action_names[i]) == 0)
            return i;
    return -1;
}

static void edit_step(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    static void (*const run[EDIT_COUNT])(adhoc_call_t *, struct app *) = {
        do_add, do_update, do_remove, do_assign, do_balance};
    int a;

    if (call->stage == 0) {
        adhoc_show(call, action_form(), ADHOC_ALLOW_NEXT, ADHOC_NEXT);
        return;
    }
    if (call->stage == 1) {
        a = parse_action(form_value(call->form, "action"));
        free(call->state); /* the stage may come again after prev */
        call->state = xstrdup(action_names[a]);
        call->state_free = free;
        if (a == EDIT_BALANCE)
            do_balance(call, app);
        else
            adhoc_show(call, detail_form(app, (enum edit_action)a),
                       ADHOC_ALLOW_PREV | ADHOC_ALLOW_COMPLETE, ADHOC_COMPLETE);
        return;
    }
    a = parse_action(call->state);
    run[a](call, app);
}

static const struct adhoc_command edit_def = {
    .node = "topology/edit",
    .name = {"Edit the topology", "토폴로지 편집"},
    .step = edit_step,
};

int cmd_topology_register(struct app *app)
{
    if (adhoc_register(app->adhoc, &topology_def, app) < 0 ||
        adhoc_register(app->adhoc, &edit_def, app) < 0)
        return -1;
    return 0;
}
