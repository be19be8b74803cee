/* Unit tests for component/topology: node naming rules, DNS domains, releases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "component/engine/topology.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),        cmocka_unit_test(test_dns_domain),
        cmocka_unit_test(test_hostname_needs_one_domain), cmocka_unit_test(test_releases),
        cmocka_unit_test(test_ungrouped),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
