/* Unit tests for paging long result tables (xmpp/adhoc_page.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/lib/adhoc_fixture.h"
#include "util/log.h"
#include "xmpp/adhoc.h"
#include "xmpp/adhoc_session.h"
#include "xmpp/stanza.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_paging(void **state)
{
    struct fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    r = send_fmt(fx, CMD "node='test/table'/>");
    assert_status(r, "executing");
    assert_contains(r, "<actions execute=\"next\"><next/><complete/></actions>");
    assert_contains(r, "<note type=\"warn\">2 certificates are stale</note>");
    assert_contains(r, "<note type=\"info\">Rows 1–100 of 250 (page 1 of 3)");
    assert_contains(r, "d099.example");
    assert_lacks(r, "d100.example");
    take_sid(r, sid);
    release_error(send_fmt(fx, CMD "node='test/table' sessionid='%s' action='prev'/>", sid),
                  "modify", "bad-request", "bad-action");
    r = send_fmt(fx, CMD "node='test/table' sessionid='%s' action='next'/>", sid);
    assert_contains(r, "<actions execute=\"next\"><prev/><next/><complete/></actions>");
    assert_contains(r, "d100.example");
    assert_lacks(r, "d099.example");
    xmpp_stanza_release(r);
    r = send_fmt(fx, CMD "node='test/table' sessionid='%s'/>", sid); /* default: next */
    assert_contains(r, "<actions execute=\"complete\"><prev/><complete/></actions>");
    assert_contains(r, "Rows 201–250 of 250 (page 3 of 3)");
    assert_contains(r, "d249.example");
    xmpp_stanza_release(r);
    r = send_fmt(fx, CMD "node='test/table' sessionid='%s' action='prev'/>", sid);
    assert_contains(r, "d199.example");
    xmpp_stanza_release(r);
    r = send_fmt(fx, CMD "node='test/table' sessionid='%s' action='complete'/>", sid);
    assert_status(r, "completed");
    assert_contains(r, "d199.example");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
    };
    log_set_level(LOG_LEVEL_ERROR); /* the refusals tested here log warnings */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
