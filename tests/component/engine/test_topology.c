/* Unit tests for component/topology: node naming rules, DNS domains, releases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "tests/lib/store_fault.h"
#include "tests/lib/tmpstore.h"
#include "component/app.h"
#include "component/config.h"
#include "component/engine/topology.h"
#include "store/store_domain.h"
#include "store/store_settings.h"
#include "store/store_topo.h"
#include "store/store_user.h"
#include "util/xmalloc.h"

#include <stdio.h>

static void test_names(void **state)
{
    (void)state;
    assert_null(topology_name_problem("cup1.example.com", NULL));
    assert_null(topology_name_problem("cup1", NULL));
    assert_null(topology_name_problem("1cup", NULL)); /* a hostname may start with a digit */
    assert_non_null(topology_name_problem("cup1.example.1om", NULL));
    assert_non_null(topology_name_problem("cup_1.example.com", NULL));
    assert_non_null(topology_name_problem("-cup.example.com", NULL));
    assert_non_null(topology_name_problem("cup..example.com", NULL));
    assert_non_null(topology_name_problem("", NULL));
}

static void test_dns_domain(void **state)
{
    (void)state;
    assert_string_equal(topology_dns_domain("a.example.com"), "example.com");
    assert_null(topology_dns_domain("a"));
}

static void test_hostname_needs_one_domain(void **state)
{
    const char *fqdn_mixed[] = {"a.one.test", "b.two.test"};
    const char *host_one[] = {"a", "b.one.test", "c.one.test"};
    const char *host_mixed[] = {"a", "b.one.test", "c.two.test"};
    char *why;

    (void)state;
    /* FQDNs may sit in different DNS domains. */
    assert_null(topology_names_problem(fqdn_mixed, 2, NULL));
    assert_null(topology_names_problem(host_one, 3, NULL));
    why = topology_names_problem(host_mixed, 3, NULL);
    assert_non_null(why);
    assert_non_null(strstr(why, "Node a "));
    assert_non_null(strstr(why, "one.test, two.test"));
    free(why);
    why = topology_names_problem(host_mixed, 3, "ko");
    assert_non_null(why);
    assert_non_null(strstr(why, "DNS"));
    free(why);
}

static void test_releases(void **state)
{
    int ma, mi;

    (void)state;
    assert_int_equal(topology_release_parse("15.0.1.10000-1", &ma, &mi), 0);
    assert_int_equal(ma, 15);
    assert_int_equal(mi, 0);
    assert_int_equal(topology_release_parse("", &ma, &mi), -1);
    assert_true(topology_release_at_least("10.0", 10, 0));
    assert_true(topology_release_at_least("10.5.2", 10, 0));
    assert_false(topology_release_at_least("9.1.1", 10, 0));
    assert_false(topology_release_at_least("", 10, 0));
    assert_null(topology_release_problem("", NULL));
    assert_null(topology_release_problem("12.5.1", NULL));
    assert_non_null(topology_release_problem("v12", NULL));
    assert_non_null(topology_release_problem("12 5", NULL));
}

static void test_ungrouped(void **state)
{
    struct store_node nodes[] = {
        {.name = "a", .group = "g1"}, {.name = "b", .group = NULL}, {.name = "c", .group = ""}};
    char *list;

    (void)state;
    list = topology_ungrouped_nodes(nodes, 3);
    assert_string_equal(list, "b, c");
    free(list);
    assert_null(topology_ungrouped_nodes(nodes, 1));
}

/* Release strings at the limits: a number too large to be a release, a string too long. */
static void test_release_limits(void **state)
{
    int ma = -1, mi = -1;

    (void)state;
    assert_int_equal(topology_release_parse("10000.0", &ma, &mi), -1);
    assert_int_equal(topology_release_parse("12.10000", &ma, &mi), -1);
    assert_int_equal(ma, -1); /* nothing written for a refused release */
    assert_int_equal(topology_release_parse("9999.9999", &ma, &mi), 0);
    assert_false(topology_release_at_least("10000.0", 10, 0));
    assert_string_equal(topology_release_problem("10000.0", NULL),
                        "a release starts with its version number, like 15.0");
    /* 32 characters are fine, 33 are not, in either language */
    assert_null(topology_release_problem("15.0.1.10000-1234567890123456789", NULL));
    assert_string_equal(topology_release_problem("15.0.1.10000-12345678901234567890", NULL),
                        "a release has at most 32 characters");
    assert_string_equal(topology_release_problem("15.0.1.10000-12345678901234567890", "ko"),
                        "릴리스는 32자 이하여야 합니다");
    assert_string_equal(topology_release_problem("15_0", "ko"),
                        "릴리스에는 숫자, 문자, '.', '-'만 쓸 수 있습니다");
    assert_string_equal(topology_release_problem("v15", "ko"),
                        "릴리스는 15.0처럼 숫자로 시작해야 합니다");
}

/* ---- the rules that read the store ---- */

struct fx {
    char dir[64], path[96];
    struct config cfg;
    struct app app;
};

static int setup(void **state)
{
    struct fx *fx = xcalloc(1, sizeof(*fx));
    char *err = NULL;

    if (tmpstore_make(fx->dir, sizeof(fx->dir), fx->path, sizeof(fx->path), "topology") < 0)
        return -1;
    config_defaults(&fx->cfg);
    fx->app.cfg = &fx->cfg;
    fx->app.store = store_open(fx->path, &err);
    *state = fx;
    return fx->app.store ? 0 : -1;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    store_close(fx->app.store);
    config_free(&fx->cfg);
    assert_int_equal(tmpstore_remove(fx->dir, fx->path), 0);
    free(fx);
    return 0;
}

static void node(struct fx *fx, const char *name, enum store_node_role role, const char *release)
{
    assert_int_equal(store_node_insert(fx->app.store, name, role, release, NULL), STORE_OK);
}

static void assert_contains(const char *text, const char *part)
{
    assert_non_null(text);
    if (strstr(text, part) == NULL)
        fail_msg("\"%s\" lacks \"%s\"", text, part);
}

/* Every node below 10.0 is named, with its release or that it is unknown; a node at 10.0 or
 * later is not. */
static void test_multi_domain_refusal_names_nodes(void **state)
{
    struct fx *fx = *state;
    char *why;

    node(fx, "pub.example.com", STORE_NODE_PUBLISHER, "15.0");
    assert_null(topology_multi_domain_refusal(&fx->app, NULL));
    node(fx, "old.example.com", STORE_NODE_SUBSCRIBER, "9.1.1");
    node(fx, "unk.example.com", STORE_NODE_SUBSCRIBER, "");
    why = topology_multi_domain_refusal(&fx->app, NULL);
    assert_contains(why, "old.example.com (9.1.1), unk.example.com (release unknown).");
    assert_null(strstr(why, "pub.example.com"));
    free(why);
    why = topology_multi_domain_refusal(&fx->app, "ko");
    assert_contains(why, "unk.example.com (릴리스 모름)");
    free(why);
}

/* A node going below 10.0 while the cluster hosts many domains: the refusal counts them all and
 * names the first ten. */
static void test_release_refusal_many_domains(void **state)
{
    struct fx *fx = *state;
    char name[32], *why;

    node(fx, "pub.example.com", STORE_NODE_PUBLISHER, "15.0");
    assert_int_equal(store_domain_insert(fx->app.store, "d00.example", STORE_MANAGED_ADMIN, true),
                     STORE_OK);
    assert_null(topology_release_refusal(&fx->app, "pub.example.com", "9.1", NULL)); /* one */
    for (int i = 1; i < 12; i++) {
        snprintf(name, sizeof(name), "d%02d.example", i);
        assert_int_equal(store_domain_insert(fx->app.store, name, STORE_MANAGED_ADMIN, true),
                         STORE_OK);
    }
    assert_null(topology_release_refusal(&fx->app, "pub.example.com", "10.0", NULL));
    assert_null(topology_release_refusal(&fx->app, "pub.example.com", "", NULL)); /* unknown */
    why = topology_release_refusal(&fx->app, "pub.example.com", "9.1", NULL);
    assert_contains(why, "Node pub.example.com cannot go to release 9.1: this cluster hosts 12 IM "
                         "domains (d00.example, ");
    assert_contains(why, "d09.example and 2 more)");
    assert_null(strstr(why, "d10.example"));
    free(why);
    why = topology_release_refusal(&fx->app, "pub.example.com", "9.1", "ko");
    assert_contains(why, "d09.example 외 2개");
    free(why);
}

/* The publisher's DNS domain becomes cucm_domain_sip_proxy only while that is empty, and only
 * when the publisher is named with a DNS domain. */
static void test_sip_proxy_adopt(void **state)
{
    struct fx *fx = *state;
    struct store_settings s;
    char *adopted = (char *)"x";

    node(fx, "sub.other.example", STORE_NODE_SUBSCRIBER, "15.0");
    assert_int_equal(topology_sip_proxy_adopt(&fx->app, &adopted), STORE_OK); /* no publisher */
    assert_null(adopted);
    node(fx, "pub", STORE_NODE_PUBLISHER, "15.0");
    assert_null(topology_sip_proxy_default(&fx->app)); /* hostname only */
    assert_int_equal(topology_sip_proxy_adopt(&fx->app, &adopted), STORE_OK);
    assert_null(adopted);
    assert_int_equal(store_node_delete(fx->app.store, "pub"), STORE_OK);
    node(fx, "pub.corp.example", STORE_NODE_PUBLISHER, "15.0");
    assert_int_equal(topology_sip_proxy_adopt(&fx->app, &adopted), STORE_OK);
    assert_string_equal(adopted, "corp.example");
    free(adopted);
    assert_int_equal(store_settings_get(fx->app.store, &s), STORE_OK);
    assert_string_equal(s.cucm_domain_sip_proxy, "corp.example");
    /* an admin's value stays */
    free(s.cucm_domain_sip_proxy);
    s.cucm_domain_sip_proxy = xstrdup("proxy.example");
    assert_int_equal(store_settings_set(fx->app.store, &s), STORE_OK);
    store_settings_clear(&s);
    assert_int_equal(topology_sip_proxy_adopt(&fx->app, &adopted), STORE_OK);
    assert_null(adopted);
    assert_int_equal(store_settings_get(fx->app.store, &s), STORE_OK);
    assert_string_equal(s.cucm_domain_sip_proxy, "proxy.example");
    store_settings_clear(&s);
}

/* Balancing: without a node nothing is placed; else each unassigned user goes to the node with
 * the fewest users, and assigned users stay where they are. */
static void test_balance_users(void **state)
{
    struct fx *fx = *state;
    struct store_node_users *load = NULL;
    struct store_user u;
    size_t n = 0;
    int64_t assigned = -1;
    char userid[16];

    for (int i = 0; i < 5; i++) {
        snprintf(userid, sizeof(userid), "u%d", i);
        assert_int_equal(store_user_upsert(fx->app.store, userid, "", NULL, NULL), STORE_OK);
    }
    assert_int_equal(topology_balance_users(&fx->app, &assigned), STORE_NOTFOUND);
    assert_int_equal(assigned, 0);
    assert_int_equal(store_user_get(fx->app.store, "u0", &u), STORE_OK);
    assert_null(u.node);
    store_user_clear(&u);

    node(fx, "a.example.com", STORE_NODE_PUBLISHER, "15.0");
    node(fx, "b.example.com", STORE_NODE_SUBSCRIBER, "15.0");
    assert_int_equal(store_user_set_node(fx->app.store, "u0", "a.example.com"), STORE_OK);
    assert_int_equal(store_user_set_node(fx->app.store, "u1", "a.example.com"), STORE_OK);
    assert_int_equal(topology_balance_users(&fx->app, &assigned), STORE_OK);
    assert_int_equal(assigned, 3);
    assert_int_equal(store_user_count_per_node(fx->app.store, &load, &n), STORE_OK);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) /* 2 + 1 and 0 + 2: b got the first two, then a tie to a */
        assert_int_equal(load[i].users, strcmp(load[i].node, "a.example.com") == 0 ? 3 : 2);
    store_node_users_free(load, n);
    assert_int_equal(store_user_get(fx->app.store, "u0", &u), STORE_OK);
    assert_string_equal(u.node, "a.example.com");
    store_user_clear(&u);
    assert_int_equal(topology_balance_users(&fx->app, &assigned), STORE_OK);
    assert_int_equal(assigned, 0);
}

/* A conflict the committed store does not explain (it was a race, now gone) still gets a
 * sentence saying nothing changed. */
static void test_conflict_cause_unexplained(void **state)
{
    struct fx *fx = *state;
    char *why;

    node(fx, "a.example.com", STORE_NODE_PUBLISHER, "15.0");
    why =
        topology_conflict_cause(&fx->app, "b.example.com", true, STORE_NODE_SUBSCRIBER, NULL, NULL);
    assert_string_equal(why, "The node change was refused by the store (a conflict). Nothing was "
                             "changed.");
    free(why);
    why =
        topology_conflict_cause(&fx->app, "A.Example.Com", true, STORE_NODE_SUBSCRIBER, NULL, NULL);
    assert_contains(why, "The name is taken: node a.example.com exists already");
    free(why);
}

/* The store cannot be read (damaged: its tables gone behind its back): every rule that needs
 * it refuses, saying so, instead of letting the change through. */
static void test_unreadable_store_refuses(void **state)
{
    struct fx *fx = *state;
    int64_t assigned = -1;
    char *why, *adopted = NULL;

    node(fx, "pub.example.com", STORE_NODE_PUBLISHER, "15.0");
    assert_int_equal(store_fault_sql(fx->path, "DROP TABLE domains;"), 0);
    why = topology_release_refusal(&fx->app, "pub.example.com", "9.1", NULL);
    assert_contains(why, "The hosted domains could not be read: ");
    free(why);
    why = topology_release_refusal(&fx->app, "pub.example.com", "9.1", "ko");
    assert_contains(why, "호스트하는 도메인을 읽을 수 없습니다: ");
    free(why);
    assert_int_equal(store_fault_sql(fx->path, "DROP TABLE users; DROP TABLE nodes;"), 0);
    why = topology_multi_domain_refusal(&fx->app, NULL);
    assert_contains(why, "The node releases could not be read: ");
    free(why);
    why =
        topology_conflict_cause(&fx->app, "a.example.com", true, STORE_NODE_SUBSCRIBER, NULL, "ko");
    assert_contains(why, "토폴로지를 읽을 수 없습니다: ");
    free(why);
    assert_null(topology_sip_proxy_default(&fx->app));
    assert_int_equal(topology_sip_proxy_adopt(&fx->app, &adopted), STORE_OK);
    assert_null(adopted);
    assert_int_equal(topology_balance_users(&fx->app, &assigned), STORE_ERR);
    assert_int_equal(assigned, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_dns_domain),
        cmocka_unit_test(test_hostname_needs_one_domain),
        cmocka_unit_test(test_releases),
        cmocka_unit_test(test_ungrouped),
        cmocka_unit_test(test_release_limits),
        cmocka_unit_test_setup_teardown(test_multi_domain_refusal_names_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_refusal_many_domains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sip_proxy_adopt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_balance_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflict_cause_unexplained, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_store_refuses, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
