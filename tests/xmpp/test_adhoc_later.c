/* Unit tests for deferred answers (xmpp/adhoc_later.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/lib/adhoc_fixture.h"
#include "util/log.h"
#include "xmpp/adhoc_later.h"
#include "xmpp/adhoc_session.h"
#include "xmpp/adhoc.h"
#include "xmpp/adhoc_outcome.h"
#include "xmpp/stanza.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A step that waits: no reply now, the session is busy meanwhile (and does not expire), the
 * late reply goes to the callback with the request's id and addresses. */
static void test_deferred(void **state)
{
    struct fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    take_sid(send_async(fx, CMD "node='test/later'/>"), sid);
    char *body = NULL;
    assert_true(asprintf(&body,
                         CMD "node='test/later' sessionid='%s'>" FORM(
                             F("domain", "x.example")) "</command>",
                         sid) > 0);
    assert_null(send_async(fx, body));
    assert_non_null(fx->later);
    assert_int_equal(fx->n_late, 0);
    r = send_fmt(fx, CMD "node='test/later' sessionid='%s' action='cancel'/>", sid);
    assert_error(r, "wait", "resource-constraint", NULL);
    xmpp_stanza_release(r);
    fx->now += 24u * 3600u * 1000u;
    assert_int_equal(adhoc_expire(fx->a, fx->now), 0);
    adhoc_call_t *c = adhoc_later_call(fx->later);
    assert_int_equal(c->stage, 1);
    adhoc_note_str(c, ADHOC_NOTE_INFO, "the router reloaded");
    adhoc_complete(c, NULL);
    adhoc_later_finish(fx->later);
    fx->later = NULL;
    assert_int_equal(fx->n_late, 1);
    r = fx->late[0];
    assert_status(r, "completed");
    assert_string_equal(xmpp_stanza_get_id(r), "q2");
    assert_string_equal(xmpp_stanza_get_to(r), ADMIN);
    assert_contains(r, "the router reloaded");
    assert_int_equal(adhoc_session_count(fx->a, NULL), 0);
    /* One round trip, deferred too. */
    assert_null(
        send_async(fx, CMD "node='test/later'>" FORM(F("domain", "y.example")) "</command>"));
    assert_non_null(fx->later);
    free(body);
    /* The registry goes away first: the waiting request hears an error, not silence. */
    adhoc_free(fx->a);
    fx->a = adhoc_new(fx->ctx, NULL);
    assert_int_equal(fx->n_late, 2);
    assert_error(fx->late[1], "cancel", "internal-server-error", NULL);
}

/* Without a way to answer later (adhoc_handle), the step answers at once. */
static void test_deferred_sync(void **state)
{
    struct fx *fx = *state;
    xmpp_stanza_t *r =
        send_fmt(fx, CMD "node='test/later'>" FORM(F("domain", "z.example")) "</command>");

    assert_status(r, "completed");
    assert_contains(r, "applying in the background");
    assert_null(fx->later);
    xmpp_stanza_release(r);
}

/* Deferring and then answering before the step returns is an answer now: the reply comes back
 * from the call, never through the late callback, and the session goes on from there. */
static void test_deferred_at_once(void **state)
{
    struct fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    take_sid(send_async(fx, CMD "node='test/at-once'/>"), sid);
    r = send_async_fmt(fx,
                       CMD "node='test/at-once' sessionid='%s' action='next'>" FORM(
                           F("domain", "x.example")) "</command>",
                       sid);
    assert_non_null(r);
    assert_status(r, "executing");
    assert_contains(r, "stage one answered at once");
    xmpp_stanza_release(r);
    assert_int_equal(fx->n_late, 0);
    r = send_async_fmt(fx,
                       CMD "node='test/at-once' sessionid='%s' action='complete'>" FORM(
                           F("confirm", "1")) "</command>",
                       sid);
    assert_non_null(r);
    assert_status(r, "completed");
    assert_contains(r, "done with x.example");
    xmpp_stanza_release(r);
    assert_int_equal(fx->n_late, 0);
    assert_int_equal(fx->n_at_once, 2);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 0);
    /* Where nothing can be deferred the same step answers the ordinary way. */
    r = send_fmt(fx, CMD "node='test/at-once'>" FORM(F("domain", "y.example")) "</command>");
    assert_status(r, "executing");
    assert_contains(r, "stage one answered at once");
    xmpp_stanza_release(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_deferred, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deferred_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deferred_at_once, setup, teardown),
    };
    log_set_level(LOG_LEVEL_ERROR); /* the refusals tested here log warnings */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
