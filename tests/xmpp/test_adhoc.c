/* Unit tests for the XEP-0050 framework's request and step handling: every action and error,
 * client quirks, refusals and rejected values, results for people and programs, Korean texts,
 * driven by the test-only commands of tests/lib/adhoc_fixture.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/lib/adhoc_fixture.h"
#include "util/log.h"
#include "xmpp/adhoc_session.h"
#include "xmpp/adhoc.h"
#include "xmpp/adhoc_outcome.h"
#include "xmpp/stanza.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Counts the direct children of <command/> named `name`. */
static int count_children(xmpp_stanza_t *reply, const char *name)
{
    int n = 0;

    for (xmpp_stanza_t *c = xmpp_stanza_get_children(command_of(reply)); c;
         c = xmpp_stanza_get_next(c))
        n += xmpp_stanza_is_tag(c) && strcmp(xmpp_stanza_get_name(c), name) == 0;
    return n;
}

static void test_execute_complete(void **state)
{
    struct fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r = send_fmt(fx, CMD "node='test/one' action='execute'/>");

    assert_status(r, "executing");
    assert_contains(r, "<actions execute=\"complete\"><complete/></actions>");
    assert_contains(r, "<field type=\"hidden\" var=\"FORM_TYPE\"><value>urn:imdomaind:test/one"
                       "</value></field>");
    assert_contains(r, "<title>Add a domain</title>");
    assert_contains(r, "status=\"executing\" xml:lang=\"en\"");
    take_sid(r, sid);
    assert_int_equal(strlen(sid), 32);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 1);

    r = send_fmt(fx,
                 CMD "node='test/one' sessionid='%s' action='complete'>" FORM(
                     F("FORM_TYPE", "urn:imdomaind:test/one") F("domain", "a.example")
                         F("days", "7")) "</command>",
                 sid);
    assert_status(r, "completed");
    assert_contains(r, "<note type=\"info\">added a.example for 7 days (complete)</note>");
    assert_lacks(r, "<actions");
    assert_string_equal(xmpp_stanza_get_attribute(command_of(r), "sessionid"), sid);
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 0);

    /* A late request on the ended session. */
    r = send_fmt(fx, CMD "node='test/one' sessionid='%s' action='complete'/>", sid);
    assert_error(r, "cancel", "not-allowed", "session-expired");
    assert_contains(r, "<command node=\"test/one\" sessionid=\"");
    xmpp_stanza_release(r);
}

static void test_no_action_is_default(void **state)
{
    struct fx *fx = *state;
    char sid[64];

    take_sid(send_fmt(fx, CMD "node='test/one'/>"), sid); /* Psi: no action at all */
    xmpp_stanza_t *r = send_fmt(
        fx, CMD "node='test/one' sessionid='%s'>" FORM(F("domain", "b.example")) "</command>", sid);
    assert_status(r, "completed");
    assert_contains(r, "added b.example for 30 days (complete)");
    xmpp_stanza_release(r);
    /* action='execute' inside a session is the default too. */
    take_sid(send_fmt(fx, CMD "node='test/one'/>"), sid);
    r = send_fmt(fx,
                 CMD "node='test/one' sessionid='%s' action='execute'>" FORM(
                     F("domain", "c.example")) "</command>",
                 sid);
    assert_status(r, "completed");
    xmpp_stanza_release(r);
}

static void test_next_on_last_stage(void **state)
{
    struct fx *fx = *state;
    char sid[64];

    take_sid(send_fmt(fx, CMD "node='test/one' action='execute'/>"), sid);
    xmpp_stanza_t *r = send_fmt(fx,
                                CMD "node='test/one' sessionid='%s' action='next'>" FORM(
                                    F("domain", "d.example")) "</command>",
                                sid);
    assert_status(r, "completed"); /* poezio */
    assert_contains(r, "(complete)");
    xmpp_stanza_release(r);
}

static void test_multi_prev_complete(void **state)
{
    struct fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    r = send_fmt(fx, CMD "node='test/multi' action='execute'/>");
    assert_contains(r, "<actions execute=\"next\"><next/></actions>");
    take_sid(r, sid);
    /* Movim sends complete where only next is offered: it moves on. */
    r = send_fmt(fx,
                 CMD "node='test/multi' sessionid='%s' action='complete'>" FORM(
                     F("name", "alice")) "</command>",
                 sid);
    assert_status(r, "executing");
    assert_contains(r, "<actions execute=\"complete\"><prev/><complete/></actions>");
    assert_contains(r, "<value>Really?</value>");
    xmpp_stanza_release(r);
    /* Back: the first form again, with what was entered. */
    r = send_fmt(fx, CMD "node='test/multi' sessionid='%s' action='prev'/>", sid);
    assert_status(r, "executing");
    assert_contains(r, "<actions execute=\"next\"><next/></actions>");
    assert_contains(r, "<field type=\"text-single\" var=\"name\"><required/><value>alice</value>");
    xmpp_stanza_release(r);
    /* prev is not offered on the first stage. */
    r = send_fmt(fx, CMD "node='test/multi' sessionid='%s' action='prev'/>", sid);
    assert_error(r, "modify", "bad-request", "bad-action");
    assert_error_text(r, "'prev' is not offered at this stage; offered: next, cancel");
    xmpp_stanza_release(r);
    r = send_fmt(
        fx,
        CMD "node='test/multi' sessionid='%s' action='next'>" FORM(F("name", "bob")) "</command>",
        sid);
    assert_status(r, "executing");
    xmpp_stanza_release(r);
    /* next is not offered on the confirmation, but complete is: next means complete. */
    r = send_fmt(fx,
                 CMD "node='test/multi' sessionid='%s' action='next'>" FORM(
                     F("confirm", "true")) "</command>",
                 sid);
    assert_status(r, "completed");
    assert_contains(r, "<x type=\"result\" xmlns=\"jabber:x:data\"><field type=\"text-single\" "
                       "var=\"name\"><value>bob</value></field><field type=\"boolean\" "
                       "var=\"confirm\"><value>1</value></field></x>");
    xmpp_stanza_release(r);
    assert_int_equal(fx->states_freed, 1);
    assert_int_equal(fx->cancels, 0);
}

static void test_cancel_frees(void **state)
{
    struct fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    take_sid(send_fmt(fx, CMD "node='test/multi'/>"), sid);
    r = send_fmt(fx, CMD "node='test/multi' sessionid='%s'>" FORM(F("name", "x")) "</command>",
                 sid);
    assert_status(r, "executing");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, ADMIN), 1);
    r = send_fmt(fx, CMD "node='test/multi' sessionid='%s' action='cancel'/>", sid);
    assert_status(r, "canceled");
    assert_contains(r, "<note type=\"info\">rolled back</note>");
    xmpp_stanza_release(r);
    assert_int_equal(fx->cancels, 1);
    assert_int_equal(fx->states_freed, 1);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 0);
    r = send_fmt(fx, CMD "node='test/multi' sessionid='%s' action='next'/>", sid);
    release_error(r, "cancel", "not-allowed", "session-expired");
    /* A form of type cancel cancels too; so does cancel without a session. */
    take_sid(send_fmt(fx, CMD "node='test/one'/>"), sid);
    r = send_fmt(fx,
                 CMD "node='test/one' sessionid='%s'><x xmlns='jabber:x:data' type='cancel'/>"
                     "</command>",
                 sid);
    assert_status(r, "canceled");
    xmpp_stanza_release(r);
    r = send_fmt(fx, CMD "node='test/one' action='cancel'/>");
    assert_string_equal(xmpp_stanza_get_attribute(command_of(r), "status"), "canceled");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 0);
}

static void test_one_round_trip(void **state)
{
    struct fx *fx = *state;
    xmpp_stanza_t *r;

    r = send_fmt(fx, CMD "node='test/one' action='execute'>" FORM(F("domain", "e.example")
                                                                      F("days", "2")) "</command>");
    assert_status(r, "completed");
    assert_contains(r, "added e.example for 2 days (complete)");
    xmpp_stanza_release(r);
    r = send_fmt(fx, CMD
                 "node='test/one' action='complete'>" FORM(F("domain", "f.example")) "</command>");
    assert_status(r, "completed");
    xmpp_stanza_release(r);
    /* Invalid: bad-payload naming the field, and no session left behind. */
    r = send_fmt(fx, CMD "node='test/one' action='complete'>" FORM(F("days", "91")) "</command>");
    assert_error(r, "modify", "bad-request", "bad-payload");
    assert_error_text(r, "Domain [domain]: a value is required; days: must be a whole number "
                         "from 1 to 90");
    xmpp_stanza_release(r);
    /* A multi-stage command runs its first stage and stops at the second. */
    r = send_fmt(fx, CMD "node='test/multi'>" FORM(F("name", "carol")) "</command>");
    assert_status(r, "executing");
    assert_contains(r, "Really?");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 1);
}

static void test_errors(void **state)
{
    struct fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    r = send_fmt(fx, CMD "node='nope'/>");
    assert_error(r, "cancel", "item-not-found", NULL);
    assert_error_text(r, "there is no command 'nope' here");
    xmpp_stanza_release(r);
    r = send_as(fx, "user@example.com/x", false, NULL, CMD "node='test/one'/>");
    assert_error(r, "auth", "forbidden", NULL);
    assert_error_text(r, "only administrators may run 'test/one'");
    xmpp_stanza_release(r);
    r = send_as(fx, "user@example.com/x", false, NULL, CMD "node='test/open'/>");
    assert_status(r, "completed");
    xmpp_stanza_release(r);
    release_error(send_fmt(fx, CMD "node='test/one' sessionid='deadbeef'/>"), "modify",
                  "bad-request", "bad-sessionid");
    release_error(send_fmt(fx, CMD "node='test/one' action='jump'/>"), "modify", "bad-request",
                  "malformed-action");
    release_error(send_fmt(fx, CMD "node='test/one' action='prev'/>"), "modify", "bad-request",
                  "bad-action");
    release_error(send_fmt(fx, CMD "/>"), "modify", "bad-request", NULL);
    release_error(send_fmt(fx, "<query xmlns='jabber:iq:version'/>"), "modify", "bad-request",
                  NULL);
    release_error(send_fmt(fx, CMD "node='test/silent'/>"), "cancel", "internal-server-error",
                  NULL);
    xmpp_stanza_t *get = xmpp_stanza_new_from_string(
        fx->ctx, "<iq type='get' id='g'><command xmlns='" NS_COMMANDS "' node='test/one'/></iq>");
    release_error(adhoc_handle(fx->a, get, "uid:0", true), "modify", "bad-request", NULL);
    xmpp_stanza_release(get);
    /* Form missing, wrong FORM_TYPE. */
    take_sid(send_fmt(fx, CMD "node='test/one'/>"), sid);
    r = send_fmt(fx, CMD "node='test/one' sessionid='%s' action='complete'/>", sid);
    assert_error(r, "modify", "bad-request", "bad-payload");
    assert_error_text(r, "this stage needs the filled-in form");
    xmpp_stanza_release(r);
    r = send_fmt(fx,
                 CMD "node='test/one' sessionid='%s'>" FORM(F("FORM_TYPE", "urn:imdomaind:x")
                                                                F("domain", "a")) "</command>",
                 sid);
    assert_error(r, "modify", "bad-request", "bad-payload");
    assert_error_text(r, "the FORM_TYPE is 'urn:imdomaind:x' but this stage expects "
                         "'urn:imdomaind:test/one'");
    xmpp_stanza_release(r);
    /* The session survives bad payloads; the session id of another node is unknown there. */
    release_error(send_fmt(fx, CMD "node='test/multi' sessionid='%s'/>", sid), "modify",
                  "bad-request", "bad-sessionid");
    r = send_fmt(fx, CMD "node='test/one' sessionid='%s'>" FORM(F("domain", "a")) "</command>",
                 sid);
    assert_status(r, "completed");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 0);
}

static void test_refuse_and_fail(void **state)
{
    struct fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    r = send_fmt(fx, CMD "node='test/refuse'/>");
    assert_error(r, "cancel", "not-allowed", NULL);
    assert_error_text(r, "HA is enabled; disable it first");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 0);
    take_sid(send_fmt(fx, CMD "node='test/fail'/>"), sid);
    r = send_as(fx, ADMIN, true, "ko",
                "<command xmlns='http://jabber.org/protocol/commands' node='test/fail' "
                "sessionid='' action='complete'/>");
    /* An empty sessionid is no session: this starts again. */
    assert_status(r, "executing");
    xmpp_stanza_release(r);
    char *body = NULL;
    assert_true(asprintf(&body, CMD "node='test/fail' sessionid='%s'/>", sid) > 0);
    r = send_as(fx, ADMIN, true, "ko", body);
    free(body);
    assert_status(r, "completed");
    assert_contains(r, "<note type=\"error\">서비스가 실행 중입니다. 먼저 중지하세요</note>");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 1);
}

static void test_poll_replace(void **state)
{
    struct fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    take_sid(send_fmt(fx, CMD "node='test/poll'/>"), sid);
    r = send_fmt(fx, CMD "node='test/poll' sessionid='%s'>" FORM(F("job", "7")) "</command>", sid);
    assert_contains(r, "<value>10%</value>");
    xmpp_stanza_release(r);
    for (int i = 2; i <= 4; i++) { /* refresh in place: the stage number stays 2 */
        r = send_fmt(fx, CMD "node='test/poll' sessionid='%s' action='next'/>", sid);
        char pct[32];
        snprintf(pct, sizeof(pct), "<value>%d0%%</value>", i);
        assert_contains(r, pct);
        xmpp_stanza_release(r);
    }
    /* prev goes back to the job form, with the job entered. */
    r = send_fmt(fx, CMD "node='test/poll' sessionid='%s' action='prev'/>", sid);
    assert_contains(r, "<title>Job</title>");
    assert_contains(r, "<value>7</value>");
    xmpp_stanza_release(r);
    r = send_fmt(fx, CMD "node='test/poll' sessionid='%s'>" FORM(F("job", "8")) "</command>", sid);
    assert_contains(r, "<value>50%</value>");
    xmpp_stanza_release(r);
    r = send_fmt(fx, CMD "node='test/poll' sessionid='%s' action='complete'/>", sid);
    assert_status(r, "completed");
    xmpp_stanza_release(r);
}

static void test_korean(void **state)
{
    struct fx *fx = *state;
    xmpp_stanza_t *r;

    r = send_as(fx, ADMIN, true, "ko-KR", CMD "node='test/one'/>");
    assert_status(r, "executing");
    assert_contains(r, "<title>도메인 추가</title>");
    assert_contains(r, "label=\"도메인\"");
    assert_contains(r, "xml:lang=\"ko\"");
    xmpp_stanza_release(r);
    /* The payload's xml:lang wins over the iq's. */
    r = send_as(fx, ADMIN, true, "ko",
                "<command xmlns='http://jabber.org/protocol/commands' node='test/one' "
                "xml:lang='en'/>");
    assert_contains(r, "<title>Add a domain</title>");
    xmpp_stanza_release(r);
    r = send_as(fx, ADMIN, true, "ko", CMD "node='test/one'>" FORM(F("days", "0")) "</command>");
    assert_error(r, "modify", "bad-request", "bad-payload");
    assert_error_text(r, "도메인 [domain]: 필수 항목입니다; days: 1 이상 90 이하의 정수여야 "
                         "합니다");
    assert_contains(r, "<text xml:lang=\"ko\" xmlns=\"urn:ietf:params:xml:ns:xmpp-stanzas\">");
    xmpp_stanza_release(r);
    r = send_as(fx, ADMIN, true, "ko", CMD "node='zzz'/>");
    assert_error_text(r, "'zzz' 명령이 없습니다");
    xmpp_stanza_release(r);
    r = send_as(fx, ADMIN, true, "ko", CMD "node='test/table'/>");
    assert_contains(r, "전체 250행 중 1–100행 (1/3쪽)");
    xmpp_stanza_release(r);
}

/* The control socket: no to/from on the iq, a uid as the requester. */
static void test_local_socket(void **state)
{
    struct fx *fx = *state;
    xmpp_stanza_t *iq = xmpp_stanza_new_from_string(
        fx->ctx, "<iq type='set' id='c1'><command xmlns='" NS_COMMANDS
                 "' node='test/one'>" FORM(F("domain", "local.example")) "</command></iq>");
    xmpp_stanza_t *r = adhoc_handle(fx->a, iq, "uid:1000", true);

    assert_status(r, "completed");
    assert_string_equal(xmpp_stanza_get_id(r), "c1");
    assert_null(xmpp_stanza_get_to(r));
    assert_null(xmpp_stanza_get_from(r));
    xmpp_stanza_release(r);
    xmpp_stanza_release(iq);
    /* A missing id and requester are tolerated. */
    iq = xmpp_stanza_new_from_string(fx->ctx, "<iq type='set'><command xmlns='" NS_COMMANDS
                                              "' node='test/one'/></iq>");
    r = adhoc_handle(fx->a, iq, NULL, true);
    assert_status(r, "executing");
    xmpp_stanza_release(r);
    xmpp_stanza_release(iq);
}

static void test_rejected_value_keeps_session(void **state)
{
    struct fx *fx = *state;
    char sid[64], sid2[64];
    xmpp_stanza_t *r;

    r = send_fmt(fx, CMD "node='test/reject'/>");
    /* Every option has a label: the value when the command gave none. */
    assert_contains(r, "<option label=\"rsa-2048\"><value>rsa-2048</value></option>");
    assert_contains(r, "<option label=\"EC P-256\"><value>ec-p256</value></option>");
    take_sid(r, sid);
    /* The step's own check: same stage, same session, what was entered, the label named. */
    r = send_fmt(fx,
                 CMD "node='test/reject' sessionid='%s' action='complete'>" FORM(
                     F("audit_time", "25:99") F("days", "30")) "</command>",
                 sid);
    assert_status(r, "executing");
    assert_string_equal(xmpp_stanza_get_attribute(command_of(r), "sessionid"), sid);
    assert_contains(r, "<actions execute=\"complete\"><complete/></actions>");
    assert_contains(r, "<note type=\"error\">Audit time [audit_time]: must be a 24-hour HH:MM "
                       "time</note>");
    /* Inside the form too (poezio shows no notes beside a form), and the values kept. */
    assert_contains(r, "<field type=\"fixed\" var=\"fixed-1\"><value>Error: Audit time "
                       "[audit_time]: must be a 24-hour HH:MM time</value></field>");
    assert_contains(r, "var=\"audit_time\"><value>25:99</value></field>");
    assert_contains(r, "<value>30</value>");
    assert_int_equal(count_children(r, "x"), 1);
    xmpp_stanza_release(r);
    /* The form's declaration: a number out of range, the same way, in Korean. */
    r = send_as(fx, ADMIN, true, "ko",
                CMD "node='test/reject' sessionid='placeholder'/>"); /* unknown: bad-sessionid */
    assert_error(r, "modify", "bad-request", "bad-sessionid");
    xmpp_stanza_release(r);
    char *body = NULL;
    assert_true(asprintf(&body,
                         CMD "node='test/reject' sessionid='%s'>" FORM(
                             F("audit_time", "03:00") F("days", "91")) "</command>",
                         sid) > 0);
    r = send_as(fx, ADMIN, true, "ko", body);
    free(body);
    assert_status(r, "executing");
    assert_contains(r, "보관 일수 [days]: 1 이상 90 이하의 정수여야 합니다");
    assert_contains(r, "<value>오류: 보관 일수 [days]");
    assert_contains(r, "var=\"audit_time\"><value>03:00</value></field>");
    assert_contains(r, "<value>91</value>");
    xmpp_stanza_release(r);
    /* A refusal with bad-payload after a submission keeps the stage as well. */
    r = send_fmt(
        fx, CMD "node='test/reject' sessionid='%s'>" FORM(F("audit_time", "13:13")) "</command>",
        sid);
    assert_status(r, "executing");
    assert_contains(r, "<note type=\"error\">13:13 is unlucky</note>");
    xmpp_stanza_release(r);
    /* Then a good value completes the same session. */
    r = send_fmt(
        fx, CMD "node='test/reject' sessionid='%s'>" FORM(F("audit_time", "04:00")) "</command>",
        sid);
    assert_status(r, "completed");
    assert_contains(r, "saved");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 0);
    /* A malformed submission (a field twice, a wrong FORM_TYPE) is an iq error; the session
     * stays where it was. */
    take_sid(send_fmt(fx, CMD "node='test/reject'/>"), sid2);
    release_error(send_fmt(fx,
                           CMD "node='test/reject' sessionid='%s'>" FORM(
                               F("days", "1") F("days", "2")) "</command>",
                           sid2),
                  "modify", "bad-request", "bad-payload");
    release_error(send_fmt(fx,
                           CMD "node='test/reject' sessionid='%s'>"
                               "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'>"
                               "<value>urn:other</value></field></x></command>",
                           sid2),
                  "modify", "bad-request", "bad-payload");
    assert_int_equal(adhoc_session_count(fx->a, NULL), 1);
    /* With the form in the first request there is no stage to return to: an error, and no
     * session left open. */
    r = send_fmt(fx, CMD "node='test/reject'>" FORM(F("audit_time", "99:00")) "</command>");
    assert_error(r, "modify", "bad-request", "bad-payload");
    assert_error_text(r, "Audit time [audit_time]: must be a 24-hour HH:MM time");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 1);
}

static void test_results_for_people(void **state)
{
    struct fx *fx = *state;
    xmpp_stanza_t *r, *x, *data;

    r = send_fmt(fx, CMD "node='test/report'/>");
    assert_status(r, "completed");
    /* One form for people, the results as they are for programs beside it. */
    assert_int_equal(count_children(r, "x"), 1);
    x = stanza_child(command_of(r), "x", "jabber:x:data");
    assert_null(stanza_child(x, "reported", NULL));
    assert_null(stanza_child(x, "item", NULL));
    assert_string_equal(xmpp_stanza_get_type(x), "result");
    assert_contains(r, "<x type=\"result\" xmlns=\"jabber:x:data\"><title>Report</title>"
                       "<field type=\"fixed\" var=\"fixed-1\"><value>2 domains.</value></field>"
                       "<field type=\"fixed\" var=\"fixed-2\"><value>Warning: the certificate "
                       "is stale</value></field>"
                       "<field label=\"Count\" type=\"text-single\" var=\"count\"><value>2"
                       "</value></field>"
                       "<field type=\"fixed\" var=\"fixed-3\"><value>Domains</value></field>"
                       "<field type=\"fixed\" var=\"fixed-4\"><value>Rows 1–2 of 2</value>"
                       "</field>"
                       "<field type=\"fixed\" var=\"fixed-5\"><value>Domain · Managed by</value>"
                       "</field>"
                       "<field label=\"a.example\" type=\"text-single\" var=\"row-1\">"
                       "<value>admin</value></field>"
                       "<field label=\"b.example\" type=\"text-single\" var=\"row-2\">"
                       "<value>-</value></field></x>");
    data = stanza_child(command_of(r), "results", "urn:imdomaind:results");
    assert_non_null(data);
    assert_contains(r, "<results xmlns=\"urn:imdomaind:results\"><x type=\"result\" "
                       "xmlns=\"jabber:x:data\"><title>Report</title>");
    assert_contains(r, "<reported><field label=\"Domain\" type=\"text-single\" var=\"domain\"/>");
    assert_contains(r, "<item><field var=\"domain\"><value>a.example</value></field><field "
                       "var=\"managed_by\"><value>admin</value></field></item>");
    xmpp_stanza_release(r);
    /* Korean: the values people read too, the machine cells unchanged. */
    r = send_as(fx, ADMIN, true, "ko", CMD "node='test/report'/>");
    assert_contains(r, "<field label=\"a.example\" type=\"text-single\" var=\"row-1\">"
                       "<value>관리자</value>");
    assert_contains(r, "<value>주의: 인증서가 오래되었습니다</value>");
    assert_contains(r, "<value>2행 중 1–2행</value>");
    assert_contains(r, "<field var=\"managed_by\"><value>admin</value></field>");
    xmpp_stanza_release(r);
    /* Several notes and no result: a form holds them all (profanity shows one note, poezio
     * none beside a form, but every field). */
    r = send_fmt(fx, CMD "node='test/notes'/>");
    assert_contains(r, "<title>Notes</title><field type=\"fixed\" var=\"fixed-1\"><value>first"
                       "</value></field><field type=\"fixed\" var=\"fixed-2\"><value>Error: "
                       "second</value></field>");
    assert_null(stanza_child(command_of(r), "results", NULL));
    xmpp_stanza_release(r);
    /* One note and no result: no form (Psi shows the note in a box only then). */
    r = send_fmt(fx, CMD "node='test/fail'>" FORM("") "</command>");
    assert_int_equal(count_children(r, "x"), 0);
    xmpp_stanza_release(r);
    /* A paged table: the page position is in the form, on the rows. */
    r = send_fmt(fx, CMD "node='test/table'/>");
    assert_int_equal(count_children(r, "x"), 1);
    assert_contains(r, "<value>Rows 1–100 of 250 (page 1 of 3; next and prev move)</value>"
                       "</field><field label=\"1\" type=\"text-single\" var=\"row-1\">"
                       "<value>d000.example</value></field>");
    assert_contains(r, "<field label=\"100\" type=\"text-single\" var=\"row-100\">"
                       "<value>d099.example</value></field></x>");
    assert_lacks(r, "<value>d100.example</value>");
    xmpp_stanza_release(r);
}

static void test_lists_for_every_client(void **state)
{
    struct fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    r = send_fmt(fx, CMD "node='test/pick'/>");
    /* Nothing chosen: the choices also as a line (profanity lists options only once one is
     * chosen), fixed fields with a var each (poezio keys fields by var). */
    assert_contains(r, "<field type=\"fixed\" var=\"fixed-1\"><value>Job, to choose from: 1, "
                       "second (2)</value></field><field label=\"Job\" type=\"list-single\" "
                       "var=\"job\">");
    assert_contains(r, "<field type=\"fixed\" var=\"fixed-2\"><value>Tags, to choose from: x, "
                       "y</value></field>");
    /* An open list can be typed into beside it (profanity cannot type into a list). */
    assert_contains(r, "<field label=\"Job (or type it)\" type=\"text-single\" "
                       "var=\"job_other\"/>");
    assert_contains(r, "var=\"tags_other\"");
    take_sid(r, sid);
    r = send_fmt(fx,
                 CMD "node='test/pick' sessionid='%s'>" FORM(F("job", "1") F("job_other", " 77 ") F(
                     "tags", "x") F("tags_other", "z, w")) "</command>",
                 sid);
    assert_status(r, "completed");
    assert_contains(r, "job=77 tags=3:x,z");
    xmpp_stanza_release(r);
    /* Nothing typed: the list's own value. */
    r = send_fmt(fx, CMD "node='test/pick'>" FORM(F("job", "2") F("job_other", "")) "</command>");
    assert_contains(r, "job=2 tags=0:,");
    xmpp_stanza_release(r);
    /* Korean. */
    r = send_as(fx, ADMIN, true, "ko", CMD "node='test/pick'/>");
    assert_contains(r, "<value>작업 선택지: 1, 두 번째 (2)</value>");
    assert_contains(r, "label=\"작업 (직접 입력)\"");
    xmpp_stanza_release(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_execute_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_action_is_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_on_last_stage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi_prev_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_frees, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_and_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poll_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_korean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected_value_keeps_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_results_for_people, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lists_for_every_client, setup, teardown),
    };
    log_set_level(LOG_LEVEL_ERROR); /* the refusals tested here log warnings */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
