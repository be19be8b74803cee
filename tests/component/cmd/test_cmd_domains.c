/* Unit tests for the domains commands (component/cmd_domains*.c): every state transition of a
 * domain driven through adhoc_handle_async with a real store in a temporary directory: add,
 * rename, delete (chosen, all, not confirmed, canceled), refusals (rules, duplicates,
 * system-managed, preconditions at the start and at commit), two sessions racing, the list
 * view, and the router apply with a real reload hook whose answer comes later. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "component/app.h"
#include "component/cmd/commands.h"
#include "store/store_audit.h"
#include "store/store_domain.h"
#include "store/store_settings.h"
#include "store/store_topo.h"
#include "store/store_user.h"
#include "xmpp/stanza.h"
#include "tests/lib/cmd_fixture.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int setup(void **state)
{
    return cmd_fx_setup(state, "cmd-domains", NULL, cmd_domains_register);
}

/* ---- talking to the commands ---- */

/* Asserts a completed reply whose notes hold `needle` (type `type`) and releases it. */
static void expect_done_note(xmpp_stanza_t *reply, const char *type, const char *needle)
{
    char want[64];

    expect_status(reply, "completed", NULL);
    snprintf(want, sizeof(want), "<note type=\"%s\">", type);
    assert_has(reply, want);
    assert_has(reply, needle);
    xmpp_stanza_release(reply);
}

/* Starts `node` and expects its first form; the session id goes to sid. */
static void begin(struct cmd_fx *fx, const char *lang, const char *node, char sid[64])
{
    xmpp_stanza_t *r = req(fx, lang, node, NULL, "execute", NULL);

    expect_status(r, "executing", sid);
    xmpp_stanza_release(r);
}

#define FIELD(var, v) "<field var='" var "'><value>" v "</value></field>"

/* domains/add in one request, as slixmpp scripts send it. */
static xmpp_stanza_t *add(struct cmd_fx *fx, const char *lang, const char *name)
{
    char *f = NULL;
    xmpp_stanza_t *r;

    assert_true(asprintf(&f, "<field var='domain'><value>%s</value></field>", name) > 0);
    r = req(fx, lang, "domains/add", NULL, "execute", f);
    free(f);
    return r;
}

static void add_ok(struct cmd_fx *fx, const char *name)
{
    expect_done_note(add(fx, NULL, name), "info", "Added the domain");
}

static int64_t domain_count(struct cmd_fx *fx)
{
    int64_t n = -1;
    assert_int_equal(store_domain_count(fx->app.store, NULL, &n), STORE_OK);
    return n;
}

static bool exists(struct cmd_fx *fx, const char *name)
{
    return store_domain_exists(fx->app.store, name) == STORE_OK;
}

static void enable_ha(struct cmd_fx *fx)
{
    assert_int_equal(store_group_insert(fx->app.store, "dg1", true), STORE_OK);
}

/* ---- domains/add ---- */

static void test_add_two_stages(void **state)
{
    struct cmd_fx *fx = *state;
    char sid[64];
    struct store_domain d = {0};
    xmpp_stanza_t *r = req(fx, NULL, "domains/add", NULL, "execute", NULL);

    expect_status(r, "executing", sid);
    assert_has(r, "var=\"domain\"");
    assert_has(r, "urn:imdomaind:domains/add");
    xmpp_stanza_release(r);
    r = req(fx, NULL, "domains/add", sid, "complete", FIELD("domain", "Corp.Example.COM"));
    expect_status(r, "completed", NULL);
    assert_has(r, "Added the domain corp.example.com.");
    assert_has(r, "The router was updated");
    assert_has(r, "No cup-xmpp-s2s certificate exists yet");
    xmpp_stanza_release(r);
    assert_int_equal(store_domain_get(fx->app.store, "corp.example.com", &d), STORE_OK);
    assert_string_equal(d.name, "corp.example.com");
    assert_int_equal(d.managed_by, STORE_MANAGED_ADMIN);
    assert_true(d.configured_local);
    store_domain_clear(&d);
}

static void test_add_rule_refused(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r = add(fx, NULL, "Abc.1om");

    expect_error(r, "bad-request", "bad-payload");
    assert_has(r, "the last label must not start with a digit");
    xmpp_stanza_release(r);
    r = add(fx, "ko", "Abc.1om");
    expect_error(r, "bad-request", "bad-payload");
    assert_has(r, "도메인 이름으로 쓸 수 없습니다");
    assert_lacks(r, "must not");
    xmpp_stanza_release(r);
    r = add(fx, NULL, "-bad.example");
    expect_error(r, "bad-request", "bad-payload");
    assert_has(r, "a label must not start with a hyphen");
    xmpp_stanza_release(r);
    assert_int_equal(domain_count(fx), 0);
}

/* A bad name leaves the session at its stage: the admin corrects it and completes. */
static void test_add_corrected_in_session(void **state)
{
    struct cmd_fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    begin(fx, NULL, "domains/add", sid);
    r = req(fx, NULL, "domains/add", sid, "complete", FIELD("domain", "bad_name.example"));
    expect_rejected(r);
    xmpp_stanza_release(r);
    r = req(fx, NULL, "domains/add", sid, "complete", FIELD("domain", "good.example"));
    expect_done_note(r, "info", "Added the domain good.example.");
    assert_true(exists(fx, "good.example"));
}

static void test_add_duplicate_any_case(void **state)
{
    struct cmd_fx *fx = *state;

    add_ok(fx, "corp.example");
    expect_done_note(add(fx, NULL, "CORP.Example"), "error",
                     "the domain corp.example already exists");
    expect_done_note(add(fx, "ko", "Corp.example"), "error", "도메인 corp.example이(가) 이미");
    assert_int_equal(domain_count(fx), 1);
}

/* A domain only a peer had becomes configured here too. */
static void test_add_peer_only_domain(void **state)
{
    struct cmd_fx *fx = *state;
    struct store_domain d = {0};

    assert_int_equal(
        store_domain_insert(fx->app.store, "peer.example", STORE_MANAGED_SYSTEM, false), STORE_OK);
    add_ok(fx, "peer.example");
    assert_int_equal(store_domain_get(fx->app.store, "peer.example", &d), STORE_OK);
    assert_true(d.configured_local);
    store_domain_clear(&d);
}

static void test_add_refused_precondition_at_start(void **state)
{
    struct cmd_fx *fx = *state;

    enable_ha(fx);
    expect_done_note(req(fx, NULL, "domains/add", NULL, "execute", NULL), "error",
                     "HA is enabled on presence redundancy group dg1");
    expect_done_note(add(fx, "ko", "x.example"), "error", "ha/disable");
    assert_int_equal(domain_count(fx), 0);
}

/* The guide: several IM domains need every node at release 10.0 or later. One domain is fine on
 * an old node; the second is refused, naming the node, and nothing is added. */
static void test_add_second_domain_needs_release_10(void **state)
{
    struct cmd_fx *fx = *state;

    assert_int_equal(
        store_node_insert(fx->app.store, "cup1.example.com", STORE_NODE_PUBLISHER, "9.1", NULL),
        STORE_OK);
    add_ok(fx, "one.example");
    expect_done_note(add(fx, NULL, "two.example"), "error", "cup1.example.com");
    assert_false(exists(fx, "two.example"));
    assert_int_equal(
        store_node_update(fx->app.store, "cup1.example.com", STORE_NODE_PUBLISHER, "10.5", NULL),
        STORE_OK);
    add_ok(fx, "two.example");
    assert_int_equal(domain_count(fx), 2);
}

/* The form was shown while everything was fine; HA came on before the submission. */
static void test_add_refused_precondition_at_commit(void **state)
{
    struct cmd_fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    begin(fx, NULL, "domains/add", sid);
    assert_int_equal(store_node_insert(fx->app.store, "imp1", STORE_NODE_PUBLISHER, "15.0", NULL),
                     STORE_OK);
    assert_int_equal(store_service_set(fx->app.store, "imp1", "xcp-router", "running"), STORE_OK);
    r = req(fx, NULL, "domains/add", sid, "complete", FIELD("domain", "late.example"));
    expect_done_note(r, "error", "imp1 xcp-router (running)");
    assert_int_equal(domain_count(fx), 0);
    assert_false(store_in_transaction(fx->app.store));
}

static void test_not_admin_forbidden(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r = send_iq(fx, "user@example.com/x", false, NULL,
                               "<command xmlns='http://jabber.org/protocol/commands' "
                               "node='domains/add' action='execute'/>");

    expect_error(r, "forbidden", NULL);
    xmpp_stanza_release(r);
}

static void test_cancel_add(void **state)
{
    struct cmd_fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    begin(fx, NULL, "domains/add", sid);
    r = req(fx, NULL, "domains/add", sid, "cancel", NULL);
    expect_status(r, "canceled", NULL);
    xmpp_stanza_release(r);
    assert_int_equal(domain_count(fx), 0);
}

/* ---- domains/update ---- */

/* Opens domains/update on `from`: returns the session at the new_name stage. */
static void rename_open(struct cmd_fx *fx, const char *from, char sid[64])
{
    char *f = NULL;
    xmpp_stanza_t *r;

    begin(fx, NULL, "domains/update", sid);
    assert_true(asprintf(&f, "<field var='domain'><value>%s</value></field>", from) > 0);
    r = req(fx, NULL, "domains/update", sid, "next", f);
    free(f);
    expect_status(r, "executing", NULL);
    assert_has(r, "var=\"new_name\"");
    xmpp_stanza_release(r);
}

static xmpp_stanza_t *rename_to(struct cmd_fx *fx, const char *sid, const char *to)
{
    char *f = NULL;
    xmpp_stanza_t *r;

    assert_true(asprintf(&f, "<field var='new_name'><value>%s</value></field>", to) > 0);
    r = req(fx, NULL, "domains/update", sid, "complete", f);
    free(f);
    return r;
}

static void test_rename(void **state)
{
    struct cmd_fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    add_ok(fx, "old.example");
    add_ok(fx, "other.example");
    r = req(fx, NULL, "domains/update", NULL, "execute", NULL);
    expect_status(r, "executing", sid);
    assert_has(r, "<option label=\"old.example\"><value>old.example</value></option>");
    assert_has(r, "type=\"list-single\"");
    xmpp_stanza_release(r);
    r = req(fx, NULL, "domains/update", sid, "cancel", NULL);
    expect_status(r, "canceled", NULL);
    xmpp_stanza_release(r);

    rename_open(fx, "old.example", sid);
    r = rename_to(fx, sid, "Old.example");
    expect_rejected(r); /* the same name */
    xmpp_stanza_release(r);
    r = rename_to(fx, sid, "1new.1x");
    expect_rejected(r);
    assert_has(r, "the last label must not start with a digit");
    xmpp_stanza_release(r);
    expect_done_note(rename_to(fx, sid, "Other.Example"), "error",
                     "the domain other.example already exists");
    assert_true(exists(fx, "old.example"));

    rename_open(fx, "old.example", sid);
    expect_done_note(rename_to(fx, sid, "New.Example"), "info",
                     "Renamed the domain old.example to new.example.");
    assert_false(exists(fx, "old.example"));
    assert_true(exists(fx, "new.example"));
}

static void test_update_nothing_editable(void **state)
{
    struct cmd_fx *fx = *state;

    assert_int_equal(store_domain_insert(fx->app.store, "sys.example", STORE_MANAGED_SYSTEM, true),
                     STORE_OK);
    expect_done_note(req(fx, NULL, "domains/update", NULL, "execute", NULL), "info",
                     "There is no local admin-managed domain to change");
    expect_done_note(req(fx, "ko", "domains/delete", NULL, "execute", NULL), "info",
                     "삭제할 수 있는 로컬 관리자 관리 도메인이 없습니다");
}

/* Listed while admin-managed; the sync audit made it system-managed before the commit. */
static void test_rename_refused_system_managed(void **state)
{
    struct cmd_fx *fx = *state;
    char sid[64];

    add_ok(fx, "flip.example");
    rename_open(fx, "flip.example", sid);
    assert_int_equal(
        store_domain_set_managed_by(fx->app.store, "flip.example", STORE_MANAGED_SYSTEM), STORE_OK);
    expect_done_note(rename_to(fx, sid, "flop.example"), "error", "flip.example is system-managed");
    assert_true(exists(fx, "flip.example"));
    assert_false(exists(fx, "flop.example"));
}

/* Two admins rename the same domain: the second hears that it is gone; nothing is lost. */
static void test_rename_race(void **state)
{
    struct cmd_fx *fx = *state;
    char a[64], b[64];

    add_ok(fx, "shared.example");
    rename_open(fx, "shared.example", a);
    rename_open(fx, "shared.example", b);
    expect_done_note(rename_to(fx, a, "first.example"), "info", "Renamed");
    expect_done_note(rename_to(fx, b, "second.example"), "error",
                     "there is no domain shared.example (another administrator");
    assert_true(exists(fx, "first.example"));
    assert_false(exists(fx, "second.example"));
    assert_int_equal(domain_count(fx), 1);
}

/* ---- domains/delete ---- */

static void delete_open(struct cmd_fx *fx, const char *fields, char sid[64], const char *lang,
                        const char *confirmation)
{
    xmpp_stanza_t *r = req(fx, lang, "domains/delete", NULL, "execute", NULL);

    expect_status(r, "executing", sid);
    assert_has(r, "type=\"list-multi\"");
    assert_has(r, "var=\"select_all\"");
    xmpp_stanza_release(r);
    r = req(fx, lang, "domains/delete", sid, "next", fields);
    expect_status(r, "executing", NULL);
    assert_has(r, "var=\"confirm\"");
    assert_has(r, confirmation);
    xmpp_stanza_release(r);
}

#define PICK(a, b) "<field var='domains'><value>" a "</value><value>" b "</value></field>"
#define CONFIRM(v) FIELD("confirm", v)

static void test_delete_chosen(void **state)
{
    struct cmd_fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    add_ok(fx, "a.example");
    add_ok(fx, "b.example");
    add_ok(fx, "c.example");
    delete_open(fx, PICK("a.example", "c.example"), sid, NULL,
                "These 2 domains will be deleted: a.example, c.example. Staying listed as "
                "configured on a peer cluster only: none.");
    r = req(fx, NULL, "domains/delete", sid, "complete", CONFIRM("true"));
    expect_status(r, "completed", NULL);
    assert_has(r, "Deleted 2 domains: a.example, c.example.");
    assert_has(r, "<value>deleted</value>");
    xmpp_stanza_release(r);
    assert_false(exists(fx, "a.example"));
    assert_true(exists(fx, "b.example"));
    assert_false(exists(fx, "c.example"));
}

static void test_delete_select_all_korean(void **state)
{
    struct cmd_fx *fx = *state;
    char sid[64];

    add_ok(fx, "a.example");
    add_ok(fx, "b.example");
    assert_int_equal(store_domain_insert(fx->app.store, "sys.example", STORE_MANAGED_SYSTEM, true),
                     STORE_OK);
    delete_open(fx, FIELD("select_all", "1"), sid, "ko", "삭제할 도메인 2개: a.example, b.example");
    expect_done_note(req(fx, "ko", "domains/delete", sid, "complete", CONFIRM("1")), "info",
                     "도메인 2개를 삭제했습니다");
    assert_int_equal(domain_count(fx), 1);
    assert_true(exists(fx, "sys.example"));
}

static void test_delete_not_confirmed_and_canceled(void **state)
{
    struct cmd_fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    add_ok(fx, "keep.example");
    delete_open(fx, FIELD("domains", "keep.example"), sid, NULL, "keep.example");
    expect_done_note(req(fx, NULL, "domains/delete", sid, "complete", CONFIRM("0")), "info",
                     "Nothing was deleted");
    delete_open(fx, FIELD("domains", "keep.example"), sid, NULL, "keep.example");
    r = req(fx, NULL, "domains/delete", sid, "cancel", NULL);
    expect_status(r, "canceled", NULL);
    xmpp_stanza_release(r);
    begin(fx, NULL, "domains/delete", sid);
    r = req(fx, NULL, "domains/delete", sid, "cancel", NULL);
    expect_status(r, "canceled", NULL);
    xmpp_stanza_release(r);
    assert_true(exists(fx, "keep.example"));
}

static void test_delete_nothing_chosen(void **state)
{
    struct cmd_fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    add_ok(fx, "a.example");
    begin(fx, NULL, "domains/delete", sid);
    r = req(fx, NULL, "domains/delete", sid, "next", FIELD("select_all", "0"));
    expect_rejected(r);
    assert_has(r, "choose at least one domain");
    xmpp_stanza_release(r);
    assert_true(exists(fx, "a.example"));
}

/* Two admins confirm overlapping deletions: the second is refused as a whole, so the domain
 * only it chose survives. */
static void test_delete_race(void **state)
{
    struct cmd_fx *fx = *state;
    char a[64], b[64];

    add_ok(fx, "x.example");
    add_ok(fx, "y.example");
    delete_open(fx, FIELD("domains", "x.example"), a, NULL, "x.example");
    delete_open(fx, PICK("x.example", "y.example"), b, NULL, "x.example, y.example");
    expect_done_note(req(fx, NULL, "domains/delete", a, "complete", CONFIRM("1")), "info",
                     "Deleted 1 domain: x.example.");
    expect_done_note(req(fx, NULL, "domains/delete", b, "complete", CONFIRM("1")), "error",
                     "there is no domain x.example");
    assert_true(exists(fx, "y.example"));
}

static void test_delete_refused_precondition_at_commit(void **state)
{
    struct cmd_fx *fx = *state;
    char sid[64];

    add_ok(fx, "x.example");
    delete_open(fx, FIELD("domains", "x.example"), sid, NULL, "x.example");
    enable_ha(fx);
    expect_done_note(req(fx, NULL, "domains/delete", sid, "complete", CONFIRM("1")), "error",
                     "ha/disable");
    assert_true(exists(fx, "x.example"));
}

/* A system-managed domain is never offered, and typing it is refused. */
static void test_delete_refused_system_managed(void **state)
{
    struct cmd_fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    add_ok(fx, "a.example");
    assert_int_equal(store_domain_insert(fx->app.store, "sys.example", STORE_MANAGED_SYSTEM, true),
                     STORE_OK);
    r = req(fx, NULL, "domains/delete", NULL, "execute", NULL);
    expect_status(r, "executing", sid);
    assert_lacks(r, "sys.example");
    xmpp_stanza_release(r);
    /* Not offered, but typed (the field is open): the reason, not "not one of the choices". */
    expect_done_note(req(fx, NULL, "domains/delete", sid, "next", FIELD("domains", "sys.example")),
                     "error", "sys.example is system-managed: it is used by 0 users");
    r = req(fx, NULL, "domains/delete", NULL, "execute", NULL);
    expect_status(r, "executing", sid);
    xmpp_stanza_release(r);
    /* Chosen while admin-managed, flipped before the confirmation. */
    delete_open(fx, FIELD("domains", "a.example"), sid, NULL, "a.example");
    assert_int_equal(store_domain_set_managed_by(fx->app.store, "a.example", STORE_MANAGED_SYSTEM),
                     STORE_OK);
    expect_done_note(req(fx, NULL, "domains/delete", sid, "complete", CONFIRM("1")), "error",
                     "a.example is system-managed");
    assert_int_equal(domain_count(fx), 2);
}

/* ---- the default domain is hosted ---- */

static void set_default(struct cmd_fx *fx, const char *name)
{
    struct store_settings s = {0};

    assert_int_equal(store_settings_get(fx->app.store, &s), STORE_OK);
    free(s.default_domain);
    s.default_domain = strdup(name);
    assert_int_equal(store_settings_set(fx->app.store, &s), STORE_OK);
    store_settings_clear(&s);
}

static void test_default_domain_hosted(void **state)
{
    struct cmd_fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    add_ok(fx, "a.example");
    set_default(fx, "dflt.example");
    assert_int_equal(store_user_upsert(fx->app.store, "u1", "", NULL, NULL), STORE_OK);
    assert_int_equal(store_user_set_im_address(fx->app.store, "u1", "u1@Dflt.Example"), STORE_OK);
    /* Listed with no row of its own, in name order, marked, counted by IM address. */
    r = req(fx, NULL, "domains/list", NULL, "execute", "");
    assert_has(r, "<value>a.example</value>");
    assert_has(r, "<item><field var=\"domain\"><value>dflt.example</value></field><field "
                  "var=\"managed_by\"><value>system</value></field><field var=\"where\"><value>"
                  "local</value></field><field var=\"local_users\"><value>1</value></field>");
    assert_has(r, "<value>yes</value></field></item>");
    assert_has(r, "2 domains.");
    xmpp_stanza_release(r);
    /* Neither offered nor accepted for deletion or rename; not added twice. */
    r = req(fx, NULL, "domains/delete", NULL, "execute", NULL);
    expect_status(r, "executing", sid);
    assert_lacks(r, "dflt.example");
    xmpp_stanza_release(r);
    expect_done_note(req(fx, NULL, "domains/delete", sid, "next", FIELD("domains", "dflt.example")),
                     "error", "dflt.example is the cluster's default domain (1 users");
    r = req(fx, NULL, "domains/update", NULL, "execute", NULL);
    expect_status(r, "executing", sid);
    xmpp_stanza_release(r);
    expect_done_note(req(fx, "ko", "domains/update", sid, "next", FIELD("domain", "DFLT.example")),
                     "error", "default-domain");
    expect_done_note(add(fx, NULL, "dflt.example"), "error", "it is hosted already");
    assert_int_equal(domain_count(fx), 1);
}

/* ---- domains/list ---- */

static void set_cert_set(struct cmd_fx *fx, const char *set)
{
    struct store_settings s = {0};

    assert_int_equal(store_settings_get(fx->app.store, &s), STORE_OK);
    free(s.cert_domain_set);
    s.cert_domain_set = set ? strdup(set) : NULL;
    assert_int_equal(store_settings_set(fx->app.store, &s), STORE_OK);
    store_settings_clear(&s);
}

static void test_list(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r;

    add_ok(fx, "a.example");
    add_ok(fx, "b.example");
    assert_int_equal(
        store_domain_insert(fx->app.store, "peer.example", STORE_MANAGED_SYSTEM, false), STORE_OK);
    set_cert_set(fx, "a.example,peer.example");
    r = req(fx, NULL, "domains/list", NULL, "execute", "");
    expect_status(r, "completed", NULL);
    assert_has(r, "<reported>");
    assert_has(r, "<item><field var=\"domain\"><value>a.example</value></field><field "
                  "var=\"managed_by\"><value>admin</value></field><field var=\"where\"><value>"
                  "local</value></field><field var=\"local_users\"><value>0</value></field>"
                  "<field var=\"peer_users\"><value>0</value></field><field var=\"cert\">"
                  "<value>yes</value></field><field var=\"default\"><value>no</value></field>"
                  "</item>");
    assert_has(r, "<value>b.example</value></field><field var=\"managed_by\"><value>admin"
                  "</value></field><field var=\"where\"><value>local</value></field><field "
                  "var=\"local_users\"><value>0</value></field><field var=\"peer_users\"><value>"
                  "0</value></field><field var=\"cert\"><value>stale</value>");
    assert_has(r, "<value>peer.example</value></field><field var=\"managed_by\"><value>system"
                  "</value></field><field var=\"where\"><value>peer-only</value>");
    assert_has(r, "3 domains.");
    assert_has(r, "it does not cover 1 of these domains");
    xmpp_stanza_release(r);

    r = req(fx, "ko", "domains/list", NULL, "execute",
            FIELD("filter", "EXAMPLE") FIELD("managed_by", "system"));
    expect_status(r, "completed", NULL);
    assert_has(r, "peer.example");
    assert_lacks(r, "a.example");
    assert_has(r, "도메인 1개.");
    assert_has(r, "label=\"관리 주체\"");
    xmpp_stanza_release(r);

    r = req(fx, NULL, "domains/list", NULL, "execute", FIELD("where", "local"));
    assert_lacks(r, "peer.example");
    assert_has(r, "2 domains.");
    xmpp_stanza_release(r);
}

/* 10,000 domains: the table is paged by the framework. */
static void test_list_many(void **state)
{
    struct cmd_fx *fx = *state;
    char name[32], sid[64];
    xmpp_stanza_t *r, *x;
    int items = 0;

    assert_int_equal(store_begin(fx->app.store), STORE_OK);
    for (int i = 0; i < 10000; i++) {
        snprintf(name, sizeof(name), "d%05d.example", i);
        assert_int_equal(store_domain_insert(fx->app.store, name, STORE_MANAGED_ADMIN, true),
                         STORE_OK);
    }
    assert_int_equal(store_commit(fx->app.store), STORE_OK);
    r = req(fx, NULL, "domains/list", NULL, "execute", "");
    expect_status(r, "executing", sid); /* page 1 of 100 */
    assert_has(r, "10000 domains.");
    /* Programs read the columns in the results payload; people a field per row. */
    assert_has(r, "<value>Rows 1–100 of 10000 (page 1 of 100; next and prev move)</value>");
    assert_has(r, "<field label=\"d00099.example\" type=\"text-single\" var=\"row-100\">");
    assert_lacks(r, "var=\"row-101\"");
    x = stanza_child(
        stanza_child(stanza_child(r, "command", NS_COMMANDS), "results", "urn:imdomaind:results"),
        "x", "jabber:x:data");
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(x); c; c = xmpp_stanza_get_next(c))
        items += xmpp_stanza_get_name(c) && strcmp(xmpp_stanza_get_name(c), "item") == 0;
    assert_int_equal(items, 100);
    xmpp_stanza_release(r);
    /* The update form offers a bounded list and accepts any editable name typed in. */
    r = req(fx, NULL, "domains/update", NULL, "execute", NULL);
    expect_status(r, "executing", sid);
    assert_has(r, "first 1000 of 10000 editable domains");
    assert_lacks(r, "d09999.example");
    xmpp_stanza_release(r);
    r = req(fx, NULL, "domains/update", sid, "next", FIELD("domain", "D09999.example"));
    expect_status(r, "executing", NULL);
    assert_has(r, "Enter the new name of d09999.example.");
    xmpp_stanza_release(r);
}

/* ---- applying to the router ---- */

static bool audit_has(struct cmd_fx *fx, const char *node, enum store_outcome outcome,
                      const char *needle)
{
    struct store_audit *list = NULL;
    size_t n = 0;
    bool found = false;

    assert_int_equal(store_audit_list(fx->app.store, 0, NULL, 0, &list, &n), STORE_OK);
    for (size_t i = 0; i < n; i++)
        found |= strcmp(list[i].node, node) == 0 && list[i].outcome == outcome &&
                 strstr(list[i].details, needle) != NULL;
    store_audit_list_free(list, n);
    return found;
}

static void test_apply_hook_ok(void **state)
{
    struct cmd_fx *fx = *state;
    struct store_settings s = {0};
    FILE *fp;
    char buf[512] = "";

    cmd_fx_apply(fx, "/bin/true", 5000);
    expect_done_note(add(fx, NULL, "applied.example"), "info",
                     "The router was updated (router reloaded (/bin/true))");
    fp = fopen(fx->vhosts, "r");
    assert_non_null(fp);
    assert_true(fread(buf, 1, sizeof(buf) - 1, fp) > 0);
    fclose(fp);
    assert_non_null(strstr(buf, "VirtualHost \"applied.example\""));
    assert_int_equal(store_settings_get(fx->app.store, &s), STORE_OK);
    assert_true(s.domains_applied);
    store_settings_clear(&s);
}

static void test_apply_hook_fails(void **state)
{
    struct cmd_fx *fx = *state;
    struct store_settings s = {0};

    cmd_fx_apply(fx, "/bin/false", 5000);
    expect_done_note(add(fx, NULL, "unapplied.example"), "info",
                     "The router was NOT updated: the reload hook /bin/false exited with status "
                     "1. The change is not applied until a retry succeeds");
    expect_done_note(add(fx, "ko", "second.example"), "info", "라우터를 갱신하지 못했습니다");
    assert_true(exists(fx, "unapplied.example")); /* committed; only the router is behind */
    assert_int_equal(store_settings_get(fx->app.store, &s), STORE_OK);
    assert_false(s.domains_applied);
    assert_non_null(s.apply_error);
    store_settings_clear(&s);
    assert_true(audit_has(fx, "router/apply", STORE_OUTCOME_ERROR, "/bin/false"));
    /* Every listing says the router is behind. */
    expect_done_note(req(fx, NULL, "domains/list", NULL, "execute", ""), "warn",
                     "The router does not have the current domain set");
}

/* The certificate note: current when it was made for exactly the local set (plus the default
 * domain), stale once the set changes. */
static void test_cert_stale_note(void **state)
{
    struct cmd_fx *fx = *state;

    add_ok(fx, "a.example");
    set_cert_set(fx, "a.example,b.example");
    expect_done_note(add(fx, NULL, "b.example"), "info",
                     "The cup-xmpp-s2s certificate still covers the domain set.");
    expect_done_note(add(fx, NULL, "c.example"), "info",
                     "The cup-xmpp-s2s certificate is now stale");
}

/* ---- the store failing ---- */

/* Runs `sql` on the store file through a connection of its own; returns it (still open) when
 * `keep`, so that a transaction it began holds the write lock. */
static sqlite3 *other_sql(struct cmd_fx *fx, const char *sql, bool keep)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (keep)
        return db;
    sqlite3_close(db);
    return NULL;
}

/* A write the store cannot do (its trigger names a table that is not there: an error, not a
 * constraint, which would read as a duplicate): the command says so in the request's language, with the store's
 * own reason, as an internal-server-error, and nothing is added. */
static void test_add_store_refused(void **state)
{
    struct cmd_fx *fx = *state;
    int64_t before = domain_count(fx);
    xmpp_stanza_t *r;

    other_sql(fx,
              "CREATE TRIGGER no_add BEFORE INSERT ON domains "
              "BEGIN INSERT INTO the_test_says_no VALUES (1); END",
              false);
    r = add(fx, NULL, "new.example.test");
    expect_error(r, "internal-server-error", NULL);
    assert_has(r, "nothing was changed: the store failed: ");
    assert_has(r, "the_test_says_no");
    xmpp_stanza_release(r);
    r = add(fx, "ko", "new.example.test");
    expect_error(r, "internal-server-error", NULL);
    assert_has(r, "저장소 오류로 아무것도 바꾸지 않았습니다: ");
    xmpp_stanza_release(r);
    assert_false(exists(fx, "new.example.test"));
    assert_int_equal(domain_count(fx), before);
    /* the rollback left the store usable */
    other_sql(fx, "DROP TRIGGER no_add", false);
    add_ok(fx, "new.example.test");
    assert_true(exists(fx, "new.example.test"));
}

/* Another process holding the write lock past the store's wait: the transaction does not even
 * begin, and the command says the store failed. */
static void test_add_store_locked(void **state)
{
    struct cmd_fx *fx = *state;
    sqlite3 *other = other_sql(fx, "BEGIN IMMEDIATE", true);
    xmpp_stanza_t *r = add(fx, NULL, "new.example.test");

    expect_error(r, "internal-server-error", NULL);
    assert_has(r, "nothing was changed: the store failed: ");
    xmpp_stanza_release(r);
    assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    assert_false(exists(fx, "new.example.test"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_two_stages, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_add_store_refused, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_add_store_locked, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_add_rule_refused, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_add_corrected_in_session, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_add_duplicate_any_case, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_add_peer_only_domain, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_add_refused_precondition_at_start, setup,
                                        cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_add_second_domain_needs_release_10, setup,
                                        cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_add_refused_precondition_at_commit, setup,
                                        cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_not_admin_forbidden, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_add, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_rename, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_update_nothing_editable, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_rename_refused_system_managed, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_rename_race, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_delete_chosen, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_delete_select_all_korean, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_delete_not_confirmed_and_canceled, setup,
                                        cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_delete_nothing_chosen, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_delete_race, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_delete_refused_precondition_at_commit, setup,
                                        cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_delete_refused_system_managed, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_default_domain_hosted, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_list_many, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_apply_hook_ok, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_apply_hook_fails, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_cert_stale_note, setup, cmd_fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
