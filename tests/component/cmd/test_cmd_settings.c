/* Unit tests for component/cmd/cmd_settings.c through the ad-hoc framework: `settings` prefilled,
 * saved with a note of what changed, bad input refused with nothing changed, a new scheme
 * started as a job (refused while another job runs); `audit-log` filters, order and Korean. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "component/cmd/commands.h"
#include "component/engine/job.h"
#include "store/store_audit.h"
#include "store/store_settings.h"
#include "store/store_topo.h"
#include "store/store_user.h"
#include "xmpp/stanza.h"
#include "tests/lib/cmd_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* With a job runner: a new scheme starts a job. */
static int setup(void **state)
{
    struct cmd_fx *fx;

    if (cmd_fx_setup(state, "cmdset", NULL, cmd_settings_register) != 0)
        return -1;
    fx = *state;
    fx->app.jobs = job_runner_new(&fx->app);
    return fx->app.jobs == NULL ? -1 : 0;
}

/* ---- talking to the framework ---- */

/* Runs one request; `form` is the inner XML of a submitted <x/> (NULL: none); answered at once. */
static xmpp_stanza_t *request(struct cmd_fx *fx, const char *node, const char *action,
                              const char *sid, const char *lang, const char *form)
{
    xmpp_stanza_t *reply = req(fx, lang ? lang : "en", node, sid, action, form);

    assert_false(fx->deferred);
    return reply;
}

static xmpp_stanza_t *command_of(xmpp_stanza_t *reply)
{
    xmpp_stanza_t *cmd = stanza_child(reply, "command", NS_COMMANDS);
    assert_non_null(cmd);
    return cmd;
}

/* The concatenated texts of every note, "type:text|..." (static buffer). */
static const char *notes_of(xmpp_stanza_t *reply)
{
    static char buf[4096];

    buf[0] = '\0';
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(command_of(reply)); c;
         c = xmpp_stanza_get_next(c)) {
        const char *name = xmpp_stanza_get_name(c);
        if (name == NULL || strcmp(name, "note") != 0)
            continue;
        char *t = xmpp_stanza_get_text(c);
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s:%s|", xmpp_stanza_get_type(c),
                 t ? t : "");
        free(t);
    }
    return buf;
}

/* The first form: of the results for programs when there are, else the one people see. */
static xmpp_stanza_t *form_of(xmpp_stanza_t *reply)
{
    xmpp_stanza_t *data = stanza_child(command_of(reply), "results", "urn:imdomaind:results");
    xmpp_stanza_t *x = stanza_child(data ? data : command_of(reply), "x", NS_DATA);
    assert_non_null(x);
    return x;
}

/* The first value of field `var` in `parent` (an <x/> or an <item/>), malloc'd, or NULL. */
static char *field_value(xmpp_stanza_t *parent, const char *var)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(parent); c; c = xmpp_stanza_get_next(c)) {
        const char *v = xmpp_stanza_get_attribute(c, "var");
        if (v && strcmp(v, var) == 0) {
            xmpp_stanza_t *value = xmpp_stanza_get_child_by_name(c, "value");
            return value ? xmpp_stanza_get_text(value) : strdup("");
        }
    }
    return NULL;
}

static void assert_field(xmpp_stanza_t *reply, const char *var, const char *want)
{
    char *got = field_value(form_of(reply), var);

    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void assert_contains(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL)
        fail_msg("'%s' not in '%s'", needle, hay);
}

/* Starts `node` and submits `form` in the session: the reply to the submission. */
static xmpp_stanza_t *run(struct cmd_fx *f, const char *node, const char *lang, const char *form)
{
    xmpp_stanza_t *first = request(f, node, "execute", NULL, lang, NULL), *reply;
    char sid[64];

    expect_status(first, "executing", sid);
    xmpp_stanza_release(first);
    reply = request(f, node, "complete", sid, lang, form);
    return reply;
}

#define SETTINGS_FORM(scheme, tls, wild, proxy, audit)                                             \
    "<field var='im_address_scheme'><value>" scheme "</value></field>"                             \
    "<field var='tls_federation'><value>" tls "</value></field>"                                   \
    "<field var='wildcard_sans'><value>" wild "</value></field>"                                   \
    "<field var='cucm_domain_sip_proxy'><value>" proxy "</value></field>"                          \
    "<field var='audit_time'><value>" audit "</value></field>"

static struct store_settings get_settings(struct cmd_fx *f)
{
    struct store_settings s;

    assert_int_equal(store_settings_get(f->app.store, &s), STORE_OK);
    return s;
}

/* ---- settings ---- */

static void test_settings_prefilled(void **state)
{
    struct cmd_fx *f = *state;
    xmpp_stanza_t *r;

    assert_int_equal(
        store_node_insert(f->app.store, "cup1.corp.example", STORE_NODE_PUBLISHER, "15.0", NULL),
        STORE_OK);
    r = request(f, "settings", "execute", NULL, "en", NULL);
    assert_string_equal(status_of(r), "executing");
    assert_field(r, "im_address_scheme", "userid@default");
    assert_field(r, "tls_federation", "0");
    assert_field(r, "wildcard_sans", "0");
    assert_field(r, "cucm_domain_sip_proxy", "corp.example"); /* the publisher's DNS domain */
    assert_field(r, "audit_time", "02:00");
    xmpp_stanza_release(r);

    r = request(f, "settings", "execute", NULL, "ko", NULL);
    assert_contains(xmpp_stanza_get_text_ptr(xmpp_stanza_get_children(
                        xmpp_stanza_get_child_by_name(form_of(r), "title"))),
                    "클러스터 설정");
    xmpp_stanza_release(r);
}

static void test_settings_save(void **state)
{
    struct cmd_fx *f = *state;
    xmpp_stanza_t *r = run(f, "settings", "en",
                           SETTINGS_FORM("userid@default", "1", "0", "SIP.Example.com", "7:30"));
    struct store_settings s;

    assert_string_equal(status_of(r), "completed");
    assert_contains(notes_of(r), "info:saved: tls_federation: off → on");
    assert_contains(notes_of(r), "cucm_domain_sip_proxy: \"\" → sip.example.com");
    assert_contains(notes_of(r), "audit_time: 02:00 → 07:30");
    assert_contains(notes_of(r), "warn:run certs/regenerate");
    xmpp_stanza_release(r);
    s = get_settings(f);
    assert_true(s.tls_federation);
    assert_false(s.wildcard_sans);
    assert_string_equal(s.cucm_domain_sip_proxy, "sip.example.com");
    assert_string_equal(s.audit_time, "07:30");
    assert_int_equal(s.im_address_scheme, STORE_SCHEME_USERID_AT_DEFAULT);
    store_settings_clear(&s);

    r = run(f, "settings", "ko",
            SETTINGS_FORM("userid@default", "1", "0", "sip.example.com", "07:30"));
    assert_string_equal(notes_of(r), "info:바뀐 설정이 없습니다|");
    xmpp_stanza_release(r);
}

static void test_settings_bad_input(void **state)
{
    struct cmd_fx *f = *state;
    static const char *const bad[] = {
        SETTINGS_FORM("userid@default", "1", "1", "", "24:00"),
        SETTINGS_FORM("userid@default", "1", "1", "", "7:3"),
        SETTINGS_FORM("userid@default", "1", "1", "", "ab:cd"),
        SETTINGS_FORM("userid@default", "1", "1", "", "1: 5"),
        SETTINGS_FORM("userid@default", "1", "1", "bad_name.example", "03:00"),
        SETTINGS_FORM("userid@default", "1", "1", "Abc.1om", "03:00"),
        SETTINGS_FORM("email", "1", "1", "", "03:00"),
    };
    struct store_settings s;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        xmpp_stanza_t *r = run(f, "settings", "en", bad[i]);
        /* The field is named by its label (and var), the session kept for a correction. */
        const char *why = expect_rejected(r);
        assert_true(strstr(why, "Nightly sync audit time [audit_time]: ") == why ||
                    strstr(why, "[cucm_domain_sip_proxy]: ") != NULL ||
                    strstr(why, "[im_address_scheme]: ") != NULL);
        xmpp_stanza_release(r);
        /* With the form in the first request (a script): an error, no stage to return to. */
        r = request(f, "settings", "execute", NULL, "en", bad[i]);
        expect_error(r, "bad-request", "bad-payload");
        xmpp_stanza_release(r);
    }
    s = get_settings(f);
    assert_false(s.tls_federation);
    assert_false(s.wildcard_sans);
    assert_string_equal(s.audit_time, "02:00");
    store_settings_clear(&s);
}

static void test_settings_scheme_job(void **state)
{
    struct cmd_fx *f = *state;
    xmpp_stanza_t *r;
    struct store_user u;
    struct store_settings s;
    int64_t other;

    assert_int_equal(store_user_upsert(f->app.store, "ann", "Ann@Corp.example", NULL, NULL),
                     STORE_OK);
    r = run(f, "settings", "en", SETTINGS_FORM("directory-uri", "0", "0", "", "02:00"));
    assert_string_equal(status_of(r), "completed");
    assert_contains(notes_of(r), "im_address_scheme: userid@default → directory-uri");
    assert_contains(notes_of(r), "job 1 re-derives");
    xmpp_stanza_release(r);
    assert_true(job_runner_busy(f->app.jobs));
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(store_user_get(f->app.store, "ann", &u), STORE_OK);
    assert_string_equal(u.im_address, "Ann@Corp.example");
    store_user_clear(&u);

    /* with a job in flight the scheme may not change, and nothing else is saved either */
    assert_int_equal(store_begin(f->app.store), STORE_OK);
    assert_int_equal(job_create(f->app.store, STORE_JOB_DEFAULT_DOMAIN, "x.example", &other),
                     STORE_OK);
    assert_int_equal(store_commit(f->app.store), STORE_OK);
    r = run(f, "settings", "en", SETTINGS_FORM("userid@default", "1", "0", "", "02:00"));
    assert_string_equal(status_of(r), "completed");
    assert_contains(notes_of(r), "error:nothing was saved: the IM address scheme cannot change");
    xmpp_stanza_release(r);
    s = get_settings(f);
    assert_false(s.tls_federation);
    assert_int_equal(s.im_address_scheme, STORE_SCHEME_DIRECTORY_URI);
    store_settings_clear(&s);
}

/* ---- audit-log ---- */

static void add_audit(struct cmd_fx *f, int64_t t, const char *actor, const char *node)
{
    assert_int_equal(store_audit_append(f->app.store, t, actor, node, STORE_OUTCOME_OK, "d", NULL),
                     STORE_OK);
}

/* The number of rows of the result table and the `var` cell of row `row` (malloc'd). */
static size_t table_rows(xmpp_stanza_t *reply, size_t row, const char *var, char **cell)
{
    size_t n = 0;

    *cell = NULL;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(form_of(reply)); c;
         c = xmpp_stanza_get_next(c)) {
        const char *name = xmpp_stanza_get_name(c);
        if (name == NULL || strcmp(name, "item") != 0)
            continue;
        if (n++ == row)
            *cell = field_value(c, var);
    }
    return n;
}

static void assert_rows(struct cmd_fx *f, const char *form, size_t want, const char *first_node)
{
    xmpp_stanza_t *r = run(f, "audit-log", "en", form);
    char *cell;

    assert_string_equal(status_of(r), "completed");
    assert_int_equal(table_rows(r, 0, "node", &cell), want);
    if (first_node)
        assert_string_equal(cell, first_node);
    free(cell);
    xmpp_stanza_release(r);
}

static void test_audit_log(void **state)
{
    struct cmd_fx *f = *state;
    int64_t now = (int64_t)time(NULL);
    xmpp_stanza_t *r;
    char *cell;

    add_audit(f, 1735689600, "a@example.com", "old"); /* 2025-01-01T00:00:00Z */
    add_audit(f, now - 10 * 86400, "b@example.com", "tendays");
    add_audit(f, now - 3600, "a@example.com", "hour");
    add_audit(f, now - 60, "B@example.com", "minute");

    assert_rows(f, "<field var='since'><value>24h</value></field>", 2, "minute");
    assert_rows(f, "<field var='since'><value>90m</value></field>", 2, "minute");
    assert_rows(f, "<field var='since'><value>30m</value></field>", 1, "minute");
    assert_rows(f, "<field var='since'/>", 4, "minute");
    assert_rows(f, "<field var='since'><value>2025-01-01</value></field>", 4, NULL);
    assert_rows(f, "<field var='since'><value>2025-01-01T00:00:01Z</value></field>", 3, NULL);
    assert_rows(f, "<field var='since'><value>2025-01-01T08:59:59+09:00</value></field>", 4, NULL);
    assert_rows(f,
                "<field var='since'><value>2w</value></field><field var='actor'>"
                "<value>b@example.com/phone</value></field>",
                2, "minute");

    r = run(f, "audit-log", "en", "<field var='since'><value>2025-01-01</value></field>");
    assert_int_equal(table_rows(r, 3, "time", &cell), 4);
    assert_string_equal(cell, "2025-01-01T00:00:00Z"); /* oldest last */
    free(cell);
    assert_contains(notes_of(r), "info:4 record(s)");
    xmpp_stanza_release(r);

    static const char *const bad[] = {"yesterday", "24x", "2025-13-01", "2025-01-01T10:00", "h24"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char form[128];
        snprintf(form, sizeof(form), "<field var='since'><value>%s</value></field>", bad[i]);
        r = run(f, "audit-log", "ko", form);
        expect_rejected(r);
        xmpp_stanza_release(r);
    }

    r = run(f, "audit-log", "ko", "<field var='since'><value>50m</value></field>");
    assert_contains(notes_of(r), "기록 1건");
    xmpp_stanza_t *reported = xmpp_stanza_get_child_by_name(form_of(r), "reported");
    assert_non_null(reported);
    assert_string_equal(xmpp_stanza_get_attribute(xmpp_stanza_get_children(reported), "label"),
                        "시각(UTC)");
    xmpp_stanza_release(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_settings_prefilled, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_settings_save, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_settings_bad_input, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_settings_scheme_job, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_audit_log, setup, cmd_fx_teardown),
    };
    int rc;

    xmpp_initialize();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    xmpp_shutdown();
    return rc;
}
