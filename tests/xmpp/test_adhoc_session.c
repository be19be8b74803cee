/* Unit tests for the ad-hoc sessions (xmpp/adhoc_session.c): owners, expiry on a fake clock,
 * limits, the end hook. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/lib/adhoc_fixture.h"
#include "util/log.h"
#include "xmpp/adhoc_session.h"
#include "xmpp/adhoc.h"
#include "xmpp/stanza.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void note_end(void *ud, const char *node, const char *requester, enum adhoc_end how,
                     const char *note)
{
    static const char *const names[] = {"completed", "failed", "canceled", "expired"};
    struct fx *fx = ud;
    size_t len = strlen(fx->ends);

    assert_string_equal(requester, ADMIN);
    snprintf(fx->ends + len, sizeof(fx->ends) - len, "%s %s %s;", node, names[how],
             note ? note : "-");
}

static void test_steal(void **state)
{
    struct fx *fx = *state;
    char sid[64], *body = NULL;
    xmpp_stanza_t *r;

    take_sid(send_fmt(fx, CMD "node='test/multi'/>"), sid);
    assert_true(asprintf(&body,
                         CMD "node='test/multi' sessionid='%s'>" FORM(F("name", "m")) "</command>",
                         sid) > 0);
    /* Same bare JID, another resource; another admin; both get bad-sessionid. */
    release_error(send_as(fx, "admin@example.com/phone", true, NULL, body), "modify", "bad-request",
                  "bad-sessionid");
    release_error(send_as(fx, "root@example.com/x", true, NULL, body), "modify", "bad-request",
                  "bad-sessionid");
    r = send_as(fx, ADMIN, true, NULL, body);
    assert_status(r, "executing");
    xmpp_stanza_release(r);
    free(body);
    /* Once ended, the owner hears session-expired and others still bad-sessionid. */
    xmpp_stanza_release(
        send_fmt(fx, CMD "node='test/multi' sessionid='%s' action='cancel'/>", sid));
    assert_true(asprintf(&body, CMD "node='test/multi' sessionid='%s'/>", sid) > 0);
    release_error(send_as(fx, "root@example.com/x", true, NULL, body), "modify", "bad-request",
                  "bad-sessionid");
    release_error(send_as(fx, ADMIN, true, NULL, body), "cancel", "not-allowed", "session-expired");
    free(body);
}

static void test_expiry(void **state)
{
    struct fx *fx = *state;
    char sid[64], sid2[64];
    xmpp_stanza_t *r;

    take_sid(send_fmt(fx, CMD "node='test/multi'/>"), sid);
    fx->now += ADHOC_DEFAULT_TIMEOUT_MS - 1;
    assert_int_equal(adhoc_expire(fx->a, fx->now), 0);
    /* Activity restarts the idle time. */
    r = send_fmt(fx, CMD "node='test/multi' sessionid='%s'>" FORM(F("name", "n")) "</command>",
                 sid);
    assert_status(r, "executing");
    xmpp_stanza_release(r);
    fx->now += ADHOC_DEFAULT_TIMEOUT_MS;
    assert_int_equal(adhoc_expire(fx->a, fx->now), 0);
    fx->now += 1;
    assert_int_equal(adhoc_expire(fx->a, fx->now), 1);
    assert_int_equal(fx->states_freed, 1);
    r = send_fmt(fx, CMD "node='test/multi' sessionid='%s' action='complete'/>", sid);
    assert_error(r, "cancel", "not-allowed", "session-expired");
    assert_error_text(r, "idle for more than 10 minutes");
    xmpp_stanza_release(r);
    /* Without the timer: the request itself finds the session too old. */
    take_sid(send_fmt(fx, CMD "node='test/one'/>"), sid2);
    fx->now += ADHOC_DEFAULT_TIMEOUT_MS + 1;
    release_error(send_fmt(fx, CMD "node='test/one' sessionid='%s'/>", sid2), "cancel",
                  "not-allowed", "session-expired");
    assert_int_equal(adhoc_session_count(fx->a, NULL), 0);
    /* Ended ids are forgotten after a while: then they are simply unknown. */
    fx->now += ADHOC_DEFAULT_ENDED_KEEP_MS + 1;
    assert_int_equal(adhoc_expire(fx->a, fx->now), 0);
    release_error(send_fmt(fx, CMD "node='test/one' sessionid='%s'/>", sid2), "modify",
                  "bad-request", "bad-sessionid");
}

static void test_limits(void **state)
{
    struct fx *fx = *state;
    char sid[64];

    char first[64];
    xmpp_stanza_t *r;

    for (int i = 0; i < 3; i++) {
        take_sid(send_fmt(fx, CMD "node='test/one'/>"), sid);
        if (i == 0)
            strcpy(first, sid);
        fx->now += 10;
    }
    /* At the per-JID limit the admin is not locked out: the oldest idle session of that JID
     * ends (and answers session-expired), the new one opens. */
    r = send_as(fx, "admin@example.com/other", true, NULL, CMD "node='test/one'/>");
    assert_status(r, "executing");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, "admin@example.com/any"), 3);
    release_error(send_fmt(fx, CMD "node='test/one' sessionid='%s'/>", first), "cancel",
                  "not-allowed", "session-expired");
    xmpp_stanza_release(send_as(fx, "b@example.com/x", true, NULL, CMD "node='test/one'/>"));
    xmpp_stanza_release(send_as(fx, "c@example.com/x", true, NULL, CMD "node='test/one'/>"));
    /* The total limit: d has no session of its own to give up, and others' are never taken. */
    r = send_as(fx, "d@example.com/x", true, NULL, CMD "node='test/one'/>");
    assert_error(r, "wait", "resource-constraint", NULL);
    assert_error_text(r, "too many open command sessions (0 of yours, limit 3; 5 in all, limit 5)");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 5);
    assert_int_equal(adhoc_session_count(fx->a, "admin@example.com/any"), 3);
    /* b at the total limit gives up its own session. */
    r = send_as(fx, "b@example.com/y", true, NULL, CMD "node='test/one'/>");
    assert_status(r, "executing");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, "b@example.com"), 1);
    /* A refused first execute opens no session (b's older one made room for it first). */
    release_error(send_as(fx, "b@example.com/y", true, NULL, CMD "node='test/refuse'/>"), "cancel",
                  "not-allowed", NULL);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 4);
    r = send_as(fx, "b@example.com/y", true, NULL,
                CMD "node='test/one'>" FORM(F("days", "0")) "</command>");
    assert_error(r, "modify", "bad-request", "bad-payload");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 4);
    /* Cancel frees the slot at once. */
    xmpp_stanza_release(send_fmt(fx, CMD "node='test/one' sessionid='%s' action='cancel'/>", sid));
    r = send_as(fx, "d@example.com/x", true, NULL, CMD "node='test/one'/>");
    assert_status(r, "executing");
    xmpp_stanza_release(r);
}

/* One end per run: completed (a paged table included, whatever happens to its pages), failed
 * with its error note, canceled, expired; stanza errors and intermediate stages are not ends. */
static void test_end_hook(void **state)
{
    struct fx *fx = *state;
    char sid[64];

    adhoc_on_end(fx->a, note_end, fx);
    xmpp_stanza_release(
        send_fmt(fx, CMD "node='test/one'>" FORM(F("domain", "a.example")) "</command>"));
    take_sid(send_fmt(fx, CMD "node='test/table'/>"), sid);
    xmpp_stanza_release(
        send_fmt(fx, CMD "node='test/table' sessionid='%s' action='cancel'/>", sid));
    take_sid(send_fmt(fx, CMD "node='test/fail'/>"), sid);
    xmpp_stanza_release(send_fmt(fx, CMD "node='test/fail' sessionid='%s'/>", sid));
    take_sid(send_fmt(fx, CMD "node='test/multi'/>"), sid);
    xmpp_stanza_release(
        send_fmt(fx, CMD "node='test/multi' sessionid='%s' action='cancel'/>", sid));
    xmpp_stanza_release(send_fmt(fx, CMD "node='test/one'>" FORM(F("days", "0")) "</command>"));
    take_sid(send_fmt(fx, CMD "node='test/one'/>"), sid);
    fx->now += 24u * 3600u * 1000u;
    assert_int_equal(adhoc_expire(fx->a, fx->now), 1);
    assert_string_equal(fx->ends, "test/one completed added a.example for 30 days (complete);"
                                  "test/table completed 2 certificates are stale;"
                                  "test/fail failed services are running: stop them first;"
                                  "test/multi canceled rolled back;"
                                  "test/one expired -;");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_steal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_end_hook, setup, teardown),
    };
    log_set_level(LOG_LEVEL_ERROR); /* the refusals tested here log warnings */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
