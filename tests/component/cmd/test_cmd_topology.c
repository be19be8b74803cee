/* Unit tests for topology and topology/edit (component/cmd/cmd_topology.c) through
 * adhoc_handle_async on a real store in a temporary directory: the tables and their warnings,
 * adding, updating and removing nodes with their groups (and the refusals: bad names, bad
 * releases, a taken name, a second publisher, mixed DNS domains, an unknown node), assigning and
 * balancing users, in English and Korean, and a store that cannot be read. Each answer is
 * checked, and so is what the store holds afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "component/app.h"
#include "component/cmd/commands.h"
#include "store/store_domain.h"
#include "store/store_settings.h"
#include "store/store_topo.h"
#include "store/store_user.h"
#include "xmpp/stanza.h"
#include "tests/lib/cmd_fixture.h"
#include "tests/lib/store_fault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define F(var, v) "<field var='" var "'><value>" v "</value></field>"

static int setup(void **state)
{
    return cmd_fx_setup(state, "cmd-topology", NULL, cmd_topology_register);
}

/* ---- the store, directly ---- */

static void node(struct cmd_fx *fx, const char *name, enum store_node_role role, const char *group)
{
    if (group != NULL && store_group_get(fx->app.store, group, NULL) == STORE_NOTFOUND)
        assert_int_equal(store_group_insert(fx->app.store, group, false), STORE_OK);
    assert_int_equal(store_node_insert(fx->app.store, name, role, "15.0", group), STORE_OK);
}

static void user(struct cmd_fx *fx, const char *userid, const char *node_name)
{
    assert_int_equal(store_user_upsert(fx->app.store, userid, "", node_name, NULL), STORE_OK);
}

/* The node of `userid`, "" when unassigned (static buffer). */
static const char *node_of(struct cmd_fx *fx, const char *userid)
{
    static char buf[128];
    struct store_user u;

    assert_int_equal(store_user_get(fx->app.store, userid, &u), STORE_OK);
    snprintf(buf, sizeof(buf), "%s", u.node ? u.node : "");
    store_user_clear(&u);
    return buf;
}

static bool has_node(struct cmd_fx *fx, const char *name)
{
    return store_node_get(fx->app.store, name, NULL) == STORE_OK;
}

static bool has_group(struct cmd_fx *fx, const char *name)
{
    return store_group_get(fx->app.store, name, NULL) == STORE_OK;
}

/* topology/edit up to its detail form for `action`; the session id in sid. */
static void open_edit(struct cmd_fx *fx, const char *lang, const char *action, char sid[64])
{
    char fields[128];
    xmpp_stanza_t *r = req(fx, lang, "topology/edit", NULL, NULL, NULL);

    expect_status(r, "executing", sid);
    assert_has(r, "add-node");
    assert_has(r, "balance-users");
    xmpp_stanza_release(r);
    snprintf(fields, sizeof(fields), "<field var='action'><value>%s</value></field>", action);
    r = req(fx, lang, "topology/edit", sid, "next", fields);
    expect_status(r, "executing", NULL);
    xmpp_stanza_release(r);
}

/* A whole topology/edit: `action`, then `fields` on its detail form. The caller releases. */
static xmpp_stanza_t *edit(struct cmd_fx *fx, const char *lang, const char *action,
                           const char *fields)
{
    char sid[64];

    open_edit(fx, lang, action, sid);
    return req(fx, lang, "topology/edit", sid, "complete", fields);
}

static void expect_done(xmpp_stanza_t *reply, const char *needle)
{
    expect_status(reply, "completed", NULL);
    assert_has(reply, needle);
    assert_lacks(reply, "type=\"error\"");
    xmpp_stanza_release(reply);
}

/* A refusal after the form: the command ends with an error note holding `needle`. */
static void expect_refused(xmpp_stanza_t *reply, const char *needle)
{
    char *s = text_of(reply);

    if (strstr(s, "type=\"error\"") == NULL || strstr(s, needle) == NULL)
        fail_msg("expected a refusal with '%s', got: %s", needle, s);
    free(s);
    xmpp_stanza_release(reply);
}

/* A value refused by its rule: the detail form again, its error note holding `needle`.
 * Releases the reply. */
static bool reply_bad_payload(xmpp_stanza_t *reply, const char *needle)
{
    expect_rejected(reply);
    assert_has(reply, needle);
    xmpp_stanza_release(reply);
    return true;
}

/* ---- topology ---- */

static void test_view_tables_and_warnings(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r;

    node(fx, "cucm1", STORE_NODE_PUBLISHER, "g1");
    node(fx, "cucm2.b.example", STORE_NODE_SUBSCRIBER, NULL);
    node(fx, "cucm3.c.example", STORE_NODE_SUBSCRIBER, NULL);
    assert_int_equal(store_group_set_ha(fx->app.store, "g1", true, 0), STORE_OK);
    user(fx, "alice", "cucm1");
    user(fx, "bob", "cucm1");
    user(fx, "carol", NULL);

    r = req(fx, NULL, "topology", NULL, NULL, NULL);
    expect_status(r, "completed", NULL);
    assert_has(r, "<title>Nodes</title>");
    assert_has(r, "<title>Presence redundancy groups</title>");
    /* cucm1's row: publisher, release, group g1 with HA on, two users */
    assert_has(r, "<item><field var=\"node\"><value>cucm1</value></field><field var=\"role\">"
                  "<value>publisher</value></field><field var=\"release\"><value>15.0</value>"
                  "</field><field var=\"group\"><value>g1</value></field><field var=\"ha\">"
                  "<value>on</value></field><field var=\"users\"><value>2</value></field>");
    assert_has(r,
               "<value>cucm2.b.example</value></field><field var=\"role\"><value>subscriber"
               "</value></field><field var=\"release\"><value>15.0</value></field><field "
               "var=\"group\"><value></value></field><field var=\"ha\"><value>off</value></field>"
               "<field var=\"users\"><value>0</value>");
    assert_has(r, "<item><field var=\"group\"><value>g1</value></field><field var=\"nodes\">"
                  "<value>1</value></field><field var=\"ha\"><value>on</value></field>");
    assert_has(r, "Nodes in no redundancy group: cucm2.b.example, cucm3.c.example.");
    assert_has(r, "Node cucm1 is named by hostname only");
    xmpp_stanza_release(r);

    r = req(fx, "ko", "topology", NULL, NULL, NULL);
    expect_status(r, "completed", NULL);
    assert_has(r, "이중화 그룹에 없는 노드: cucm2.b.example, cucm3.c.example.");
    assert_has(r, "노드 cucm1은(는) 호스트 이름만으로");
    xmpp_stanza_release(r);
}

static void test_view_empty(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r = req(fx, NULL, "topology", NULL, NULL, NULL);

    expect_status(r, "completed", NULL);
    assert_has(r, "<title>Nodes</title>");
    assert_lacks(r, "<item>");
    assert_lacks(r, "<note");
    xmpp_stanza_release(r);
}

static void test_view_store_failed(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r;

    assert_int_equal(store_fault_sql(fx->db, "ALTER TABLE redundancy_groups RENAME TO gone"), 0);
    r = req(fx, NULL, "topology", NULL, NULL, NULL);
    expect_refused(r, "The topology could not be read or written");
}

/* ---- topology/edit: add ---- */

static void test_add_publisher_adopts_sip_proxy(void **state)
{
    struct cmd_fx *fx = *state;
    struct store_node n;
    struct store_settings s = {0};
    char sid[64];
    xmpp_stanza_t *r;

    node(fx, "cucm2.example.com", STORE_NODE_SUBSCRIBER, "g1"); /* g1 has room for one more */
    open_edit(fx, NULL, "add-node", sid);
    r = req(fx, NULL, "topology/edit", sid, "complete",
            F("name", "cucm1.example.com") F("role", "publisher") F("release", "15.0")
                F("group", "g1"));
    expect_done(r, "Node cucm1.example.com (publisher) added to group g1. The CUCM Domain (SIP "
                   "proxy) is now the publisher's DNS domain example.com");
    assert_int_equal(store_node_get(fx->app.store, "cucm1.example.com", &n), STORE_OK);
    assert_int_equal(n.role, STORE_NODE_PUBLISHER);
    assert_string_equal(n.release, "15.0");
    assert_string_equal(n.group, "g1");
    store_node_clear(&n);
    assert_int_equal(store_settings_get(fx->app.store, &s), STORE_OK);
    assert_string_equal(s.cucm_domain_sip_proxy, "example.com");
    store_settings_clear(&s);

    /* a subscriber in a new group (created), in Korean */
    r = edit(fx, "ko", "add-node",
             F("name", "cucm3.example.com") F("role", "subscriber") F("group", "g2"));
    expect_done(r, "노드 cucm3.example.com(subscriber)를 그룹 g2에 추가했습니다.");
    assert_true(has_group(fx, "g2"));
    assert_true(has_node(fx, "cucm3.example.com"));
}

static void test_add_refusals(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r;

    node(fx, "cucm1.example.com", STORE_NODE_PUBLISHER, "g1");
    node(fx, "cucm2.other.example", STORE_NODE_SUBSCRIBER, "g2");

    r = edit(fx, NULL, "add-node",
             F("name", "bad_name.example.com") F("role", "subscriber") F("group", "g3"));
    assert_true(reply_bad_payload(r, "bad_name.example.com: "));
    r = edit(fx, NULL, "add-node",
             F("name", "cucm4.example.com") F("role", "subscriber") F("release", "15 0")
                 F("group", "g3"));
    assert_true(reply_bad_payload(r, "15 0: a release holds only digits"));
    r = edit(fx, NULL, "add-node",
             F("name", "cucm4.example.com") F("role", "subscriber") F("group", "bad group"));
    assert_true(reply_bad_payload(r, "bad group: "));
    /* a hostname alone while the nodes are in two DNS domains */
    r = edit(fx, NULL, "add-node", F("name", "cucm4") F("role", "subscriber") F("group", "g3"));
    expect_refused(r, "Node cucm4 is named by hostname only");
    /* the name is taken (in another case) */
    r = edit(fx, NULL, "add-node",
             F("name", "CUCM1.example.com") F("role", "subscriber") F("group", "g3"));
    expect_refused(r, "The name is taken: node cucm1.example.com exists already");
    /* a second publisher */
    r = edit(fx, NULL, "add-node",
             F("name", "cucm5.example.com") F("role", "publisher") F("group", "g3"));
    expect_refused(r, "The cluster has a publisher already: cucm1.example.com");
    /* nothing of the refused changes stayed: not the nodes, not the group g3 */
    assert_false(has_node(fx, "cucm5.example.com"));
    assert_false(has_node(fx, "cucm4"));
    assert_false(has_group(fx, "g3"));
}

/* ---- update, remove ---- */

static void test_update_node(void **state)
{
    struct cmd_fx *fx = *state;
    struct store_node n;
    char sid[64];
    xmpp_stanza_t *r;

    node(fx, "cucm1.example.com", STORE_NODE_SUBSCRIBER, "g1");
    node(fx, "cucm2.example.com", STORE_NODE_SUBSCRIBER, "g2");
    open_edit(fx, NULL, "update-node", sid);
    r = req(fx, NULL, "topology/edit", sid, "complete",
            F("node", "cucm1.example.com") F("role", "publisher") F("release", "15.0.1")
                F("group", "g2"));
    expect_done(r, "Node cucm1.example.com updated. The CUCM Domain (SIP proxy) is now the "
                   "publisher's DNS domain example.com");
    assert_int_equal(store_node_get(fx->app.store, "cucm1.example.com", &n), STORE_OK);
    assert_int_equal(n.role, STORE_NODE_PUBLISHER);
    assert_string_equal(n.release, "15.0.1");
    assert_string_equal(n.group, "g2");
    store_node_clear(&n);
    assert_false(has_group(fx, "g1")); /* left empty: dropped */

    /* empty fields keep their values; the same group is no move */
    r = edit(fx, "ko", "update-node", F("node", "cucm2.example.com") F("group", "G2"));
    expect_done(r, "노드 cucm2.example.com를 바꿨습니다.");
    assert_int_equal(store_node_get(fx->app.store, "cucm2.example.com", &n), STORE_OK);
    assert_int_equal(n.role, STORE_NODE_SUBSCRIBER);
    assert_string_equal(n.release, "15.0");
    store_node_clear(&n);
    assert_true(has_group(fx, "g2"));
}

static void test_update_refusals(void **state)
{
    struct cmd_fx *fx = *state;
    struct store_node n;
    xmpp_stanza_t *r;

    node(fx, "cucm1.example.com", STORE_NODE_PUBLISHER, "g1");
    node(fx, "cucm2.example.com", STORE_NODE_SUBSCRIBER, "g2");
    node(fx, "cucm3.example.com", STORE_NODE_SUBSCRIBER, "g2");
    r = edit(fx, NULL, "update-node", F("node", "cucm2.example.com") F("release", "x15"));
    assert_true(reply_bad_payload(r, "x15: a release starts with its version number"));
    r = edit(fx, NULL, "update-node", F("node", "cucm2.example.com") F("group", "no group"));
    assert_true(reply_bad_payload(r, "no group: "));
    r = edit(fx, NULL, "update-node", F("node", "cucm2.example.com") F("role", "publisher"));
    expect_refused(r, "The cluster has a publisher already: cucm1.example.com");
    /* g2 holds two nodes already */
    r = edit(fx, NULL, "update-node", F("node", "cucm1.example.com") F("group", "g2"));
    expect_refused(r, "g2");
    assert_int_equal(store_node_get(fx->app.store, "cucm1.example.com", &n), STORE_OK);
    assert_string_equal(n.group, "g1");
    store_node_clear(&n);
    assert_int_equal(store_node_get(fx->app.store, "cucm2.example.com", &n), STORE_OK);
    assert_int_equal(n.role, STORE_NODE_SUBSCRIBER);
    store_node_clear(&n);
}

static void test_remove_node(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r;

    node(fx, "cucm1.example.com", STORE_NODE_PUBLISHER, "g1");
    node(fx, "cucm2.example.com", STORE_NODE_SUBSCRIBER, "g2");
    node(fx, "cucm3.example.com", STORE_NODE_SUBSCRIBER, "g2");
    user(fx, "alice", "cucm2.example.com");
    r = edit(fx, NULL, "remove-node", F("node", "cucm2.example.com"));
    expect_done(r, "Node cucm2.example.com removed; its users are now unassigned.");
    assert_false(has_node(fx, "cucm2.example.com"));
    assert_true(has_group(fx, "g2")); /* cucm3 is still in it */
    assert_string_equal(node_of(fx, "alice"), "");
    r = edit(fx, "ko", "remove-node", F("node", "cucm3.example.com"));
    expect_done(r, "노드 cucm3.example.com를 제거했습니다.");
    assert_false(has_group(fx, "g2"));
    /* a node that is not offered: the form refuses it */
    r = edit(fx, NULL, "remove-node", F("node", "cucm9.example.com"));
    expect_rejected(r);
    assert_has(r, "cucm9.example.com");
    xmpp_stanza_release(r);
    assert_true(has_node(fx, "cucm1.example.com"));
}

/* Several IM domains need release 10.0 or later on every node (the guide): an older release is
 * refused when adding and when updating, and nothing changes. */
static void test_release_with_several_domains(void **state)
{
    struct cmd_fx *fx = *state;
    struct store_node n;
    xmpp_stanza_t *r;

    node(fx, "cucm1.example.com", STORE_NODE_PUBLISHER, "g1");
    assert_int_equal(store_domain_insert(fx->app.store, "a.example", STORE_MANAGED_ADMIN, true),
                     STORE_OK);
    assert_int_equal(store_domain_insert(fx->app.store, "b.example", STORE_MANAGED_ADMIN, true),
                     STORE_OK);
    r = edit(fx, NULL, "update-node", F("node", "cucm1.example.com") F("release", "9.1"));
    expect_refused(r, "Node cucm1.example.com cannot go to release 9.1: this cluster hosts ");
    r = edit(fx, "ko", "add-node",
             F("name", "cucm2.example.com") F("role", "subscriber") F("release", "8.6")
                 F("group", "g1"));
    expect_refused(r, "노드 cucm2.example.com을(를) 릴리스 8.6(으)로 바꿀 수 없습니다.");
    assert_false(has_node(fx, "cucm2.example.com"));
    assert_int_equal(store_node_get(fx->app.store, "cucm1.example.com", &n), STORE_OK);
    assert_string_equal(n.release, "15.0");
    store_node_clear(&n);
    /* 10.0 is enough */
    r = edit(fx, NULL, "update-node", F("node", "cucm1.example.com") F("release", "10.0"));
    expect_done(r, "Node cucm1.example.com updated.");
}

/* ---- users ---- */

static void test_assign_users(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r;

    node(fx, "cucm1.example.com", STORE_NODE_PUBLISHER, "g1");
    node(fx, "cucm2.example.com", STORE_NODE_SUBSCRIBER, "g1");
    user(fx, "alice", "cucm1.example.com");
    user(fx, "bob", NULL);
    user(fx, "carol", NULL);
    r = edit(fx, NULL, "assign-users",
             "<field var='users'><value>alice</value><value></value><value>bob</value></field>" F(
                 "node", "cucm2.example.com"));
    expect_done(r, "2 users assigned to cucm2.example.com.");
    assert_string_equal(node_of(fx, "alice"), "cucm2.example.com");
    assert_string_equal(node_of(fx, "bob"), "cucm2.example.com");
    assert_string_equal(node_of(fx, "carol"), "");
    /* an unknown user: all or nothing */
    r = edit(fx, "ko", "assign-users",
             "<field var='users'><value>carol</value><value>nobody</value></field>" F(
                 "node", "cucm1.example.com"));
    expect_refused(r, "사용자 nobody이(가) 없습니다.");
    assert_string_equal(node_of(fx, "carol"), "");
    r = edit(fx, NULL, "assign-users",
             "<field var='users'><value>nobody</value></field>" F("node", "cucm1.example.com"));
    expect_refused(r, "No user nobody. Nothing was changed.");
}

static void test_balance_users(void **state)
{
    struct cmd_fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;
    int on1 = 0, on2 = 0;
    const char *users[] = {"u1", "u2", "u3", "u4"};

    node(fx, "cucm1.example.com", STORE_NODE_PUBLISHER, "g1");
    node(fx, "cucm2.example.com", STORE_NODE_SUBSCRIBER, "g1");
    for (size_t i = 0; i < 4; i++)
        user(fx, users[i], NULL);
    r = req(fx, NULL, "topology/edit", NULL, NULL, NULL);
    expect_status(r, "executing", sid);
    xmpp_stanza_release(r);
    r = req(fx, NULL, "topology/edit", sid, "next", F("action", "balance-users"));
    expect_done(r, "4 unassigned users spread over the nodes.");
    for (size_t i = 0; i < 4; i++) {
        on1 += strcmp(node_of(fx, users[i]), "cucm1.example.com") == 0;
        on2 += strcmp(node_of(fx, users[i]), "cucm2.example.com") == 0;
    }
    assert_int_equal(on1, 2);
    assert_int_equal(on2, 2);
    /* nothing left to spread */
    r = req(fx, "ko", "topology/edit", NULL, NULL, NULL);
    expect_status(r, "executing", sid);
    xmpp_stanza_release(r);
    r = req(fx, "ko", "topology/edit", sid, "next", F("action", "balance-users"));
    expect_done(r, "할당되지 않은 사용자 0명을 노드에 고르게 할당했습니다.");
}

/* The detail forms offer what the store holds: the nodes, and the groups with room. */
static void test_detail_forms(void **state)
{
    struct cmd_fx *fx = *state;
    char sid[64], fields[64];
    xmpp_stanza_t *r;
    const char *actions[] = {"add-node", "update-node", "remove-node", "assign-users"};

    node(fx, "cucm1.example.com", STORE_NODE_PUBLISHER, "full");
    node(fx, "cucm2.example.com", STORE_NODE_SUBSCRIBER, "full");
    node(fx, "cucm3.example.com", STORE_NODE_SUBSCRIBER, "room");
    for (size_t i = 0; i < 4; i++) {
        r = req(fx, NULL, "topology/edit", NULL, NULL, NULL);
        expect_status(r, "executing", sid);
        xmpp_stanza_release(r);
        snprintf(fields, sizeof(fields), F("action", "%s"), actions[i]);
        r = req(fx, NULL, "topology/edit", sid, "next", fields);
        expect_status(r, "executing", NULL);
        if (i < 2) {
            assert_has(r, "<option label=\"room\"><value>room</value></option>");
            assert_lacks(r, "<value>full</value>");
        } else {
            assert_lacks(r, "var=\"group\"");
        }
        if (i > 0)
            assert_has(
                r, "<option label=\"cucm2.example.com\"><value>cucm2.example.com</value></option>");
        if (i == 1)
            assert_has(r, "Leave a field empty to keep its value.");
        xmpp_stanza_release(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_view_tables_and_warnings, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_view_empty, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_view_store_failed, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_add_publisher_adopts_sip_proxy, setup,
                                        cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_add_refusals, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_update_node, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_update_refusals, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_remove_node, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_release_with_several_domains, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_assign_users, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_balance_users, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_detail_forms, setup, cmd_fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
