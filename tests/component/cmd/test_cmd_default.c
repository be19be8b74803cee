/* Unit tests for default-domain and jobs/status (component/cmd/cmd_default.c) through the XEP-0050
 * framework on a store in a temporary directory (tests/lib/cmd_fixture): the form offers the local
 * domains; a change starts a job (recorded in the store) unless the domain is already the default
 * or another job is in flight (then a completed command with an error note and nothing changed);
 * jobs/status says when there are no jobs, refuses a job value that is not a number or no job, and
 * closing its view leaves the job running. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "component/cmd/commands.h"
#include "tests/lib/cmd_fixture.h"
#include "tests/lib/reply.h"
#include "store/store_domain.h"
#include "store/store_job.h"
#include "store/store_settings.h"
#include "store/store_topo.h"
#include "util/log.h"
#include "xmpp/stanza.h"

static int setup(void **state)
{
    struct cmd_fx *fx;

    if (cmd_fx_setup(state, "cmddefault", NULL, cmd_default_register) != 0)
        return -1;
    fx = *state;
    assert_int_equal(store_domain_insert(fx->app.store, "a.example", STORE_MANAGED_ADMIN, true),
                     STORE_OK);
    assert_int_equal(
        store_domain_insert(fx->app.store, "peer.example", STORE_MANAGED_SYSTEM, false), STORE_OK);
    return 0;
}

/* One request, answered at once: `action` on `node`, with a session and a one-field submission
 * when given. */
static xmpp_stanza_t *run(struct cmd_fx *fx, const char *node, const char *action,
                          const char *session, const char *var, const char *value)
{
    xmpp_stanza_t *reply = req_field(fx, NULL, node, session, action, var, value);

    assert_false(fx->deferred);
    return reply;
}

static int64_t count_jobs(struct cmd_fx *fx)
{
    struct store_job *list = NULL;
    size_t n = 0;

    assert_int_equal(store_job_list(fx->app.store, 100, &list, &n), STORE_OK);
    for (size_t i = 0; i < n; i++)
        store_job_clear(&list[i]);
    free(list);
    return (int64_t)n;
}

static void test_form_offers_local_domains(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r = run(fx, "default-domain", "execute", NULL, NULL, NULL);
    xmpp_stanza_t *x = stanza_child(reply_command(r), "x", NULL), *field = NULL;
    int options = 0;

    assert_string_equal(reply_status(r), "executing");
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(x); c; c = xmpp_stanza_get_next(c))
        if (xmpp_stanza_is_tag(c) && xmpp_stanza_get_attribute(c, "var") &&
            strcmp(xmpp_stanza_get_attribute(c, "var"), "domain") == 0)
            field = c;
    assert_non_null(field);
    for (xmpp_stanza_t *o = xmpp_stanza_get_children(field); o; o = xmpp_stanza_get_next(o)) {
        if (!xmpp_stanza_is_tag(o) || strcmp(xmpp_stanza_get_name(o), "option") != 0)
            continue;
        char *v = xmpp_stanza_get_text(stanza_child(o, "value", NULL));
        assert_string_equal(v, "a.example"); /* peer.example is not a local domain */
        xmpp_free(fx->app.ctx, v);
        options++;
    }
    assert_int_equal(options, 1);
    xmpp_stanza_release(r);
}

static void test_change_starts_a_job(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r = run(fx, "default-domain", "complete", NULL, "domain", "New.Example");
    struct store_job j;

    assert_string_equal(reply_status(r), "completed");
    assert_true(reply_has_note(r, "info", "started job 1"));
    assert_int_equal(store_job_get(fx->app.store, 1, &j), STORE_OK);
    assert_int_equal(j.kind, STORE_JOB_DEFAULT_DOMAIN);
    assert_string_equal(j.new_value, "new.example");
    store_job_clear(&j);
    xmpp_stanza_release(r);

    /* another change while that job is unfinished: refused, named, nothing new */
    r = run(fx, "default-domain", "complete", NULL, "domain", "other.example");
    assert_string_equal(reply_status(r), "completed");
    assert_true(reply_has_note(r, "error", "Job 1 (default-domain) has not ended (state running)"));
    assert_int_equal(count_jobs(fx), 1);
    xmpp_stanza_release(r);

    /* a name that breaks the rules: bad-payload */
    r = run(fx, "default-domain", "complete", NULL, "domain", "bad..example");
    assert_true(reply_is_bad_payload(r));
    xmpp_stanza_release(r);
}

static void test_already_default(void **state)
{
    struct cmd_fx *fx = *state;
    struct store_settings s;
    xmpp_stanza_t *r;

    assert_int_equal(store_settings_get(fx->app.store, &s), STORE_OK);
    free(s.default_domain);
    s.default_domain = strdup("a.example");
    assert_int_equal(store_settings_set(fx->app.store, &s), STORE_OK);
    store_settings_clear(&s);
    r = run(fx, "default-domain", "complete", NULL, "domain", "A.example");
    assert_true(
        reply_has_note(r, "error", "a.example is already the default domain; nothing changed"));
    assert_int_equal(count_jobs(fx), 0);
    xmpp_stanza_release(r);
}

static void test_jobs_status_none_and_bad(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r = run(fx, "jobs/status", "execute", NULL, NULL, NULL);

    assert_string_equal(reply_status(r), "completed");
    assert_true(reply_has_note(r, "info", "No jobs yet"));
    xmpp_stanza_release(r);
    assert_int_equal(store_job_create(fx->app.store, STORE_JOB_IM_SCHEME, "userid@default",
                                      "directory-uri", 10, NULL),
                     STORE_OK);
    r = run(fx, "jobs/status", "complete", NULL, "job", "abc");
    assert_true(reply_is_bad_payload(r));
    xmpp_stanza_release(r);
    r = run(fx, "jobs/status", "complete", NULL, "job", "999");
    assert_true(reply_is_bad_payload(r));
    xmpp_stanza_release(r);
}

static void test_jobs_status_close_leaves_job(void **state)
{
    struct cmd_fx *fx = *state;
    int64_t id = 0;
    xmpp_stanza_t *r;
    char session[128], num[24];
    struct store_job j;

    assert_int_equal(
        store_job_create(fx->app.store, STORE_JOB_DEFAULT_DOMAIN, NULL, "b.example", 100, &id),
        STORE_OK);
    snprintf(num, sizeof(num), "%lld", (long long)id);
    r = run(fx, "jobs/status", "execute", NULL, NULL, NULL);
    snprintf(session, sizeof(session), "%s",
             xmpp_stanza_get_attribute(reply_command(r), "sessionid"));
    xmpp_stanza_release(r);
    r = run(fx, "jobs/status", "next", session, "job", num);
    assert_string_equal(reply_status(r), "executing");
    xmpp_stanza_release(r);
    r = run(fx, "jobs/status", "complete", session, NULL, NULL);
    assert_string_equal(reply_status(r), "completed");
    assert_true(reply_has_note(r, "info", "the job goes on"));
    xmpp_stanza_release(r);
    assert_int_equal(store_job_get(fx->app.store, id, &j), STORE_OK);
    assert_int_equal(j.state, STORE_JOB_RUNNING);
    store_job_clear(&j);
}

/* Each precondition refuses the change on its own, named with its remedy, in the form's status
 * line and in the refusal; nothing is started until all hold. */
static void test_refused_for_each_precondition(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r;

    /* HA on a redundancy group */
    assert_int_equal(store_group_insert(fx->app.store, "dg1", true), STORE_OK);
    r = run(fx, "default-domain", "complete", NULL, "domain", "new.example");
    assert_true(reply_has_note(r, "error", "dg1"));
    xmpp_stanza_release(r);
    assert_int_equal(store_group_set_ha(fx->app.store, "dg1", false, 1), STORE_OK);
    /* a service still running on a node (the form says so too) */
    assert_int_equal(
        store_node_insert(fx->app.store, "imp1.example", STORE_NODE_PUBLISHER, "15.0", "dg1"),
        STORE_OK);
    assert_int_equal(store_service_set(fx->app.store, "imp1.example", "xcp-router", "running"),
                     STORE_OK);
    r = run(fx, "default-domain", "execute", NULL, NULL, NULL);
    assert_string_equal(reply_status(r), "executing");
    xmpp_stanza_release(r);
    r = run(fx, "default-domain", "complete", NULL, "domain", "new.example");
    assert_true(reply_has_note(r, "error", "Services still running: imp1.example xcp-router"));
    assert_true(reply_has_note(r, "error", "with the services command"));
    xmpp_stanza_release(r);
    assert_int_equal(count_jobs(fx), 0);
    assert_int_equal(store_service_set(fx->app.store, "imp1.example", "xcp-router", "stopped"),
                     STORE_OK);
    /* all hold: the job starts */
    r = run(fx, "default-domain", "complete", NULL, "domain", "new.example");
    assert_true(reply_has_note(r, "info", "started job 1"));
    xmpp_stanza_release(r);
    assert_int_equal(count_jobs(fx), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_form_offers_local_domains, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_change_starts_a_job, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_already_default, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_jobs_status_none_and_bad, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_jobs_status_close_leaves_job, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_refused_for_each_precondition, setup, cmd_fx_teardown),
    };
    log_set_level(LOG_LEVEL_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
