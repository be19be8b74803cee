/* Unit tests for the ad-hoc commands in service discovery (xmpp/adhoc_disco.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/lib/adhoc_fixture.h"
#include "util/log.h"
#include "xmpp/adhoc_disco.h"
#include "xmpp/adhoc.h"
#include "xmpp/stanza.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_disco(void **state)
{
    struct fx *fx = *state;
    xmpp_stanza_t *q = xmpp_stanza_new_from_string(fx->ctx, "<query/>");

    assert_int_equal(adhoc_register(fx->a, &cmd_one, fx), -1); /* a node is registered once */
    assert_int_equal(adhoc_disco_items(fx->a, NS_COMMANDS, q, "imd.example", true, "ko"), 0);
    assert_contains(q, "<item jid=\"imd.example\" name=\"하나\" node=\"test/one\"/>");
    assert_contains(q, "<item jid=\"imd.example\" name=\"Refuse\" node=\"test/refuse\"/>");
    xmpp_stanza_release(q);
    q = xmpp_stanza_new_from_string(fx->ctx, "<query/>");
    assert_int_equal(adhoc_disco_items(fx->a, NS_COMMANDS, q, "imd.example", false, NULL), 0);
    assert_contains(q, "<query><item jid=\"imd.example\" name=\"Open\" node=\"test/open\"/>"
                       "</query>");
    xmpp_stanza_release(q);
    /* a command node: known (no items) to whoever may see it, unknown to anyone else */
    q = xmpp_stanza_new_from_string(fx->ctx, "<query/>");
    assert_int_equal(adhoc_disco_items(fx->a, "test/multi", q, "imd.example", true, NULL), 0);
    assert_contains(q, "<query/>");
    assert_int_equal(adhoc_disco_items(fx->a, "test/open", q, "imd.example", false, NULL), 0);
    assert_int_equal(adhoc_disco_items(fx->a, "test/multi", q, "imd.example", false, NULL), -1);
    assert_int_equal(adhoc_disco_items(fx->a, "nope", q, "imd.example", true, NULL), -1);
    assert_int_equal(adhoc_disco_items(fx->a, NULL, q, "imd.example", true, NULL), -1);
    assert_contains(q, "<query/>");
    xmpp_stanza_release(q);

    q = xmpp_stanza_new_from_string(fx->ctx, "<query/>");
    assert_int_equal(adhoc_disco_info(fx->a, "test/multi", q, true, "ko"), 0);
    assert_contains(q, "<identity category=\"automation\" name=\"여러 단계\" "
                       "type=\"command-node\"/><feature var=\"http://jabber.org/protocol/"
                       "commands\"/><feature var=\"jabber:x:data\"/>");
    xmpp_stanza_release(q);
    q = xmpp_stanza_new_from_string(fx->ctx, "<query/>");
    assert_int_equal(adhoc_disco_info(fx->a, NS_COMMANDS, q, false, NULL), 0);
    assert_contains(q, "type=\"command-list\"");
    assert_int_equal(adhoc_disco_info(fx->a, "test/multi", q, false, NULL), -1);
    assert_int_equal(adhoc_disco_info(fx->a, "nope", q, true, NULL), -1);
    xmpp_stanza_release(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_disco, setup, teardown),
    };
    log_set_level(LOG_LEVEL_ERROR); /* the refusals tested here log warnings */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
