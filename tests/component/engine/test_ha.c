/* Unit tests for component/ha: the enable guards over a hand-made view (services up everywhere,
 * sessions against recorded counts within and after the 30-minute window). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "component/engine/ha.h"
#include "component/engine/services.h"

#define T0 1700000000

struct fixture {
    struct store_node nodes[2];
    struct store_service svcs[2 * SERVICES_N];
    struct store_recorded rec[2];
    int64_t sessions[2];
    struct ha_view v;
};

static void setup_view(struct fixture *f)
{
    static const char *const names[] = {"a.example.test", "b.example.test"};

    memset(f, 0, sizeof(*f));
    for (int i = 0; i < 2; i++) {
        f->nodes[i] = (struct store_node){.name = (char *)names[i],
                                          .role = i ? STORE_NODE_SUBSCRIBER : STORE_NODE_PUBLISHER,
                                          .group = "g1"};
        for (int k = 0; k < SERVICES_N; k++)
            f->svcs[i * SERVICES_N + k] = (struct store_service){
                .node = (char *)names[i], .service = (char *)services_stop_order[k],
                .state = (char *)services_state_word(services_stop_order[k], true),
                .updated_at = T0};
        f->rec[i] = (struct store_recorded){.node = (char *)names[i], .active_users = 57};
        f->sessions[i] = 57;
    }
    f->v = (struct ha_view){f->nodes, 2, f->svcs, 2 * SERVICES_N, f->rec, 2, f->sessions, NULL};
}

static void test_all_pass(void **state)
{
    struct fixture f;

    (void)state;
    setup_view(&f);
    assert_null(ha_enable_refusal(&f.v, NULL, 0, T0 + 60, NULL));
}

static void test_sessions_short(void **state)
{
    struct fixture f;
    char *why;

    (void)state;
    setup_view(&f);
    f.sessions[1] = 41;
    why = ha_enable_refusal(&f.v, NULL, 0, T0 + 5 * 60, NULL);
    assert_non_null(why);
    assert_non_null(strstr(why, "node b.example.test: 41 sessions, 57 recorded"));
    assert_null(strstr(why, "a.example.test"));
    free(why);
    /* After 30 minutes the counts no longer matter. */
    assert_null(ha_enable_refusal(&f.v, NULL, 0, T0 + HA_SESSIONS_WINDOW_S, NULL));
    /* Only the groups asked about are compared. */
    const char *other[] = {"g2"};
    assert_null(ha_enable_refusal(&f.v, other, 1, T0 + 60, NULL));
}

static void test_service_down(void **state)
{
    struct fixture f;
    char *why;

    (void)state;
    setup_view(&f);
    f.svcs[SERVICES_N + 2].state = "stopped";       /* b: xcp-router */
    f.svcs[4].state = "deactivated";                /* a: presence-engine */
    f.v.ns = 2 * SERVICES_N - 1;                    /* b: no row for presence-engine at all */
    f.sessions[0] = 3;                              /* and a is short */
    why = ha_enable_refusal(&f.v, NULL, 0, T0 + 60, NULL);
    assert_non_null(why);
    assert_non_null(strstr(why, "publisher a.example.test: presence-engine deactivated"));
    assert_non_null(strstr(why, "subscriber b.example.test: xcp-router stopped, presence-engine "
                                "unknown"));
    assert_non_null(strstr(why, "node a.example.test: 3 sessions, 57 recorded"));
    free(why);
}

static void test_no_record_no_check(void **state)
{
    struct fixture f;

    (void)state;
    setup_view(&f);
    f.v.nr = 0;
    f.sessions[0] = 0;
    assert_null(ha_enable_refusal(&f.v, NULL, 0, T0 + 60, NULL));
}

/* The guide's two comparisons: more sessions than recorded is fine; fewer than the users
 * assigned to the node is a warning, never a refusal. */
static void test_report_assigned(void **state)
{
    struct fixture f;
    int64_t assigned[2] = {57, 60};
    char *warn;

    (void)state;
    setup_view(&f);
    f.v.assigned = assigned;
    f.sessions[0] = 58; /* above the recorded 57 */
    assert_null(ha_enable_refusal(&f.v, NULL, 0, T0 + 60, NULL));
    warn = ha_enable_report(&f.v, NULL, 0, T0 + 60, NULL, NULL);
    assert_non_null(warn);
    assert_non_null(strstr(warn, "node b.example.test has 57 sessions, fewer than the 60 users "
                                 "assigned to it"));
    assert_null(strstr(warn, "a.example.test"));
    free(warn);
    warn = ha_enable_report(&f.v, NULL, 0, T0 + 60, "ko", NULL);
    assert_non_null(strstr(warn, "할당된 사용자 60명보다 적습니다"));
    free(warn);
    /* Below the recorded count the refusal names all three numbers. */
    f.sessions[1] = 40;
    warn = ha_enable_refusal(&f.v, NULL, 0, T0 + 60, NULL);
    assert_non_null(strstr(warn, "node b.example.test: 40 sessions, 57 recorded, 60 users "
                                 "assigned"));
    free(warn);
    assigned[1] = 40;
    assert_null(ha_enable_report(&f.v, NULL, 0, T0 + 60, NULL, NULL));
}

static void test_korean(void **state)
{
    struct fixture f;
    char *why;

    (void)state;
    setup_view(&f);
    f.sessions[1] = 1;
    why = ha_enable_refusal(&f.v, NULL, 0, T0 + 60, "ko");
    assert_non_null(why);
    assert_non_null(strstr(why, "HA를 켤 수 없습니다"));
    free(why);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_pass),   cmocka_unit_test(test_sessions_short),
        cmocka_unit_test(test_service_down), cmocka_unit_test(test_no_record_no_check),
        cmocka_unit_test(test_korean),     cmocka_unit_test(test_report_assigned),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
