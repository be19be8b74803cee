/* Unit tests for component/precond: each precondition of a domain change (HA off and settled on
 * every group, the required services stopped on every node, no job in flight) on a real store,
 * the wording in English and Korean, and what does not block. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "component/engine/precond.h"
#include "store/store_job.h"
#include "store/store_topo.h"
#include "tests/lib/tmpstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct fixture {
    char dir[64];
    char path[96];
    struct app app;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char *err = NULL;

    if (tmpstore_make(f->dir, sizeof(f->dir), f->path, sizeof(f->path), "precond") != 0)
        return -1;
    f->app.store = store_open(f->path, &err);
    if (f->app.store == NULL) {
        fprintf(stderr, "store_open: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(store_close(f->app.store), 0);
    tmpstore_remove(f->dir, f->path);
    free(f);
    return 0;
}

/* Asserts that the refusal in `lang` holds every needle (NULL-terminated list). */
static void assert_refusal(struct fixture *f, const char *lang, const char *const *needles)
{
    char *why = precond_domain_change(&f->app, lang);

    assert_non_null(why);
    for (size_t i = 0; needles[i]; i++)
        if (strstr(why, needles[i]) == NULL)
            fail_msg("'%s' not in: %s", needles[i], why);
    free(why);
}

static void assert_allowed(struct fixture *f)
{
    char *why = precond_domain_change(&f->app, NULL);
    if (why != NULL)
        fail_msg("refused: %s", why);
}

static void add_node(struct fixture *f, const char *node, const char *group)
{
    assert_int_equal(store_node_insert(f->app.store, node, STORE_NODE_SUBSCRIBER, "15.0", group),
                     STORE_OK);
}

static void test_empty_store_allows(void **state)
{
    assert_allowed(*state);
}

static void test_ha_enabled(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(store_group_insert(f->app.store, "dg-east", true), STORE_OK);
    assert_int_equal(store_group_insert(f->app.store, "dg-west", true), STORE_OK);
    assert_int_equal(store_group_insert(f->app.store, "dg-off", false), STORE_OK);
    assert_refusal(f, "en",
                   (const char *const[]){"HA is enabled", "dg-east, dg-west", "ha/disable", NULL});
    assert_refusal(
        f, "ko-KR",
        (const char *const[]){"HA가 켜져 있습니다", "dg-east, dg-west", "ha/disable", NULL});
    char *why = precond_domain_change(&f->app, NULL);
    assert_null(strstr(why, "dg-off"));
    free(why);
    assert_int_equal(store_group_set_ha(f->app.store, "dg-east", false, time(NULL) - 600),
                     STORE_OK);
    assert_int_equal(store_group_set_ha(f->app.store, "dg-west", false, time(NULL) - 600),
                     STORE_OK);
    assert_allowed(f);
}

static void test_ha_settle(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(store_group_insert(f->app.store, "dg1", true), STORE_OK);
    assert_int_equal(store_group_set_ha(f->app.store, "dg1", false, time(NULL) - 30), STORE_OK);
    assert_refusal(f, NULL, (const char *const[]){"dg1", "too recently", "wait", NULL});
    assert_refusal(f, "ko", (const char *const[]){"dg1", "초 더 기다리세요", NULL});
    assert_int_equal(store_group_set_ha(f->app.store, "dg1", false, time(NULL) - 121), STORE_OK);
    assert_allowed(f);
}

static void test_services_running(void **state)
{
    struct fixture *f = *state;

    add_node(f, "imp1.example.com", NULL);
    add_node(f, "imp2.example.com", NULL);
    assert_int_equal(store_service_set(f->app.store, "imp1.example.com", "xcp-router", "running"),
                     STORE_OK);
    assert_int_equal(store_service_set(f->app.store, "imp2.example.com", "sip-proxy", "activated"),
                     STORE_OK);
    assert_int_equal(store_service_set(f->app.store, "imp2.example.com", "sync-agent", "stopped"),
                     STORE_OK);
    assert_refusal(f, "en",
                   (const char *const[]){"imp1.example.com xcp-router (running)",
                                         "imp2.example.com sip-proxy (activated)", "services",
                                         NULL});
    assert_refusal(f, "ko", (const char *const[]){"실행 중인 서비스", "services 명령", NULL});
    char *why = precond_domain_change(&f->app, NULL);
    assert_null(strstr(why, "sync-agent"));
    free(why);
    assert_int_equal(store_service_set(f->app.store, "imp1.example.com", "xcp-router", "Stopped"),
                     STORE_OK);
    assert_int_equal(
        store_service_set(f->app.store, "imp2.example.com", "sip-proxy", "deactivated"), STORE_OK);
    assert_allowed(f);
}

static void test_other_services_do_not_block(void **state)
{
    struct fixture *f = *state;

    add_node(f, "imp1", NULL);
    assert_int_equal(store_service_set(f->app.store, "imp1", "tomcat", "running"), STORE_OK);
    assert_allowed(f);
}

/* Only the states the services command calls up block: running and activated. */
static void test_down_states_allow(void **state)
{
    struct fixture *f = *state;

    add_node(f, "imp1", NULL);
    assert_int_equal(store_service_set(f->app.store, "imp1", "presence-engine", "activated"),
                     STORE_OK);
    assert_refusal(f, NULL, (const char *const[]){"imp1 presence-engine (activated)", NULL});
    assert_int_equal(store_service_set(f->app.store, "imp1", "presence-engine", "failed"),
                     STORE_OK);
    assert_allowed(f);
}

static void test_active_job(void **state)
{
    struct fixture *f = *state;
    int64_t id = 0;
    char idtext[64];

    assert_int_equal(
        store_job_create(f->app.store, STORE_JOB_DEFAULT_DOMAIN, "a.example", "b.example", 10, &id),
        STORE_OK);
    snprintf(idtext, sizeof(idtext), "Job %lld (default-domain) has not ended (state running)",
             (long long)id);
    assert_refusal(f, "en", (const char *const[]){idtext, "jobs/status", NULL});
    snprintf(idtext, sizeof(idtext), "작업 %lld", (long long)id);
    assert_refusal(f, "ko", (const char *const[]){idtext, "jobs/status", NULL});
    assert_int_equal(store_job_set_state(f->app.store, id, STORE_JOB_FAILED, "disk full"),
                     STORE_OK);
    assert_refusal(f, "en", (const char *const[]){"state failed", "retry or cancel", NULL});
    assert_int_equal(store_job_set_state(f->app.store, id, STORE_JOB_COMPLETED, NULL), STORE_OK);
    assert_allowed(f);
}

/* Every obstacle at once: one lead-in, then one sentence each. */
static void test_everything_at_once(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(store_group_insert(f->app.store, "dg1", true), STORE_OK);
    add_node(f, "pub", "dg1");
    assert_int_equal(store_service_set(f->app.store, "pub", "client-profile-agent", "running"),
                     STORE_OK);
    assert_int_equal(
        store_job_create(f->app.store, STORE_JOB_DEFAULT_DOMAIN, NULL, "x.example", 1, NULL),
        STORE_OK);
    char *why = precond_domain_change(&f->app, "en");
    assert_non_null(why);
    assert_ptr_equal(strstr(why, "The domain set cannot change now. "), why);
    assert_null(strstr(why + 1, "The domain set cannot change now."));
    assert_non_null(strstr(why, "dg1"));
    assert_non_null(strstr(why, "pub client-profile-agent (running)"));
    assert_non_null(strstr(why, "jobs/status"));
    free(why);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty_store_allows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ha_enabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ha_settle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_services_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_services_do_not_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_down_states_allow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_active_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_everything_at_once, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
