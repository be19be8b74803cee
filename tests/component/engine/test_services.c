/* Unit tests for component/services: the guide's stop and start orders, dependencies, kinds,
 * operation names and state words. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "component/engine/services.h"

/* The plan as "-a -b +c": '-' down, '+' up. */
static const char *plan_text(enum service_op op, const char *const *sel, size_t n)
{
    static char buf[512];
    struct service_step steps[2 * SERVICES_N];
    const char *why = NULL;
    int k = services_plan(op, sel, n, steps, NULL, &why);

    buf[0] = '\0';
    if (k < 0)
        return "refused";
    for (int i = 0; i < k; i++) {
        strcat(buf, i ? " " : "");
        strcat(buf, steps[i].up ? "+" : "-");
        strcat(buf, steps[i].service);
    }
    return buf;
}

static void test_stop_all_order(void **state)
{
    (void)state;
    assert_string_equal(plan_text(SERVICE_OP_STOP_ALL, NULL, 0),
                        "-client-profile-agent -sync-agent -xcp-router -sip-proxy "
                        "-presence-engine");
}

static void test_stop_router_stops_dependents(void **state)
{
    const char *sel[] = {"xcp-router"};

    (void)state;
    assert_string_equal(plan_text(SERVICE_OP_STOP, sel, 1),
                        "-client-profile-agent -sync-agent -xcp-router");
}

static void test_start_pulls_dependency(void **state)
{
    const char *sel[] = {"sync-agent"};

    (void)state;
    assert_string_equal(plan_text(SERVICE_OP_START, sel, 1), "+xcp-router +sync-agent");
}

/* Every network service stops before any feature service is deactivated, and every network
 * service starts before any feature service is activated (the guide's two procedures). */
static void test_network_before_feature(void **state)
{
    const char *net[] = {"xcp-router", "client-profile-agent", "sync-agent"};

    (void)state;
    for (int i = 0; i < SERVICES_N; i++) {
        bool feature = services_kind(services_stop_order[i]) == SERVICE_FEATURE;
        assert_int_equal(feature, i >= 3);
        feature = services_kind(services_start_order[i]) == SERVICE_FEATURE;
        assert_int_equal(feature, i >= 3);
    }
    assert_string_equal(plan_text(SERVICE_OP_START, net, 3),
                        "+xcp-router +client-profile-agent +sync-agent");
    assert_string_equal(plan_text(SERVICE_OP_RESTART, net, 3),
                        "-client-profile-agent -sync-agent -xcp-router +xcp-router "
                        "+client-profile-agent +sync-agent");
}

static void test_restart(void **state)
{
    const char *sel[] = {"client-profile-agent"};

    (void)state;
    assert_string_equal(plan_text(SERVICE_OP_RESTART, sel, 1),
                        "-client-profile-agent +client-profile-agent");
}

static void test_feature_services(void **state)
{
    const char *feat[] = {"presence-engine", "sip-proxy"};
    const char *net[] = {"xcp-router"};

    (void)state;
    assert_string_equal(plan_text(SERVICE_OP_DEACTIVATE, feat, 2),
                        "-sip-proxy -presence-engine");
    assert_string_equal(plan_text(SERVICE_OP_ACTIVATE, feat, 2), "+sip-proxy +presence-engine");
    /* Kinds must match the operation. */
    assert_string_equal(plan_text(SERVICE_OP_STOP, feat, 1), "refused");
    assert_string_equal(plan_text(SERVICE_OP_ACTIVATE, net, 1), "refused");
    assert_string_equal(plan_text(SERVICE_OP_START, NULL, 0), "refused"); /* all five */
}

static void test_unknown_service(void **state)
{
    const char *sel[] = {"httpd"};

    (void)state;
    assert_string_equal(plan_text(SERVICE_OP_STOP, sel, 1), "refused");
}

static void test_words(void **state)
{
    enum service_op op;

    (void)state;
    assert_true(services_state_is_up("running"));
    assert_true(services_state_is_up("activated"));
    assert_false(services_state_is_up("failed"));
    assert_false(services_state_is_up(NULL));
    assert_string_equal(services_state_word("sip-proxy", false), "deactivated");
    assert_string_equal(services_state_word("xcp-router", true), "running");
    assert_int_equal(services_op_parse("start-stopped", &op), 0);
    assert_int_equal(op, SERVICE_OP_START_STOPPED);
    assert_int_equal(services_op_parse("reboot", &op), -1);
    assert_string_equal(services_op_name(SERVICE_OP_STOP_ALL), "stop-all");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_all_order),    cmocka_unit_test(test_stop_router_stops_dependents),
        cmocka_unit_test(test_start_pulls_dependency), cmocka_unit_test(test_restart),
        cmocka_unit_test(test_network_before_feature),
        cmocka_unit_test(test_feature_services),  cmocka_unit_test(test_unknown_service),
        cmocka_unit_test(test_words),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
