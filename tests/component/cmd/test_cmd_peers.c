/* Unit tests for the peers command (component/cmd/cmd_peers.c) through the XEP-0050 framework on a
 * store in a temporary directory (tests/lib/cmd_fixture), without a router link: add records a peer
 * (and its refresh fails at once, which the list shows), adding it again or adding ourselves is
 * refused with a note, remove and refresh of a JID that is no peer say so, a missing or malformed
 * JID is bad-payload, refresh of every peer starts and lists, and without a peers scheduler refresh
 * says peers are not refreshed here. Nothing is changed by a refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "component/cmd/commands.h"
#include "component/engine/peers.h"
#include "tests/lib/cmd_fixture.h"
#include "tests/lib/reply.h"
#include "store/store_peer.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/stanza.h"

#define SELF "imd.example" /* the to= of the fixture's requests */

/* A config naming the component, SELF. */
static int self_config(struct cmd_fx *fx)
{
    config_defaults(&fx->cfg);
    fx->cfg.jid = xstrdup(SELF);
    fx->app.cfg = &fx->cfg;
    fx->free_cfg = true;
    return 0;
}

/* The command starts the peers scheduler (fx->app.peers), which the fixture frees. Requests
 * cannot wait (at_once): a refresh answers that it has started. */
static int setup(void **state)
{
    struct cmd_fx *fx;

    if (cmd_fx_setup(state, "cmdpeers", self_config, cmd_peers_register) != 0)
        return -1;
    fx = *state;
    fx->at_once = true;
    return fx->app.peers == NULL ? -1 : 0;
}

/* peers with action and jid submitted at once. */
static xmpp_stanza_t *peers(struct cmd_fx *fx, const char *action, const char *jid)
{
    char fields[512];

    snprintf(fields, sizeof(fields),
             "<field var='action'><value>%s</value></field>"
             "<field var='jid'><value>%s</value></field>",
             action, jid);
    return req(fx, NULL, "peers", NULL, "complete", fields);
}

static bool is_peer(struct cmd_fx *fx, const char *jid)
{
    struct store_peer p;
    enum store_rc rc = store_peer_get(fx->app.store, jid, &p);

    store_peer_clear(&p);
    return rc == STORE_OK;
}

static void test_add_again_self(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r = peers(fx, "add", "B.Example");

    assert_string_equal(reply_status(r), "completed");
    assert_true(reply_has_note(r, "info", "The refresh has started"));
    assert_true(is_peer(fx, "b.example"));
    xmpp_stanza_release(r);
    r = peers(fx, "add", "b.example");
    assert_true(reply_has_note(r, "error", "b.example is already a peer"));
    xmpp_stanza_release(r);
    r = peers(fx, "add", SELF);
    assert_true(reply_has_note(r, "error", "cannot be its own peer"));
    assert_false(is_peer(fx, SELF));
    xmpp_stanza_release(r);
}

static void test_bad_jids(void **state)
{
    struct cmd_fx *fx = *state;
    const char *actions[] = {"add", "remove"};

    for (int i = 0; i < 2; i++) {
        xmpp_stanza_t *r = peers(fx, actions[i], "");
        assert_true(reply_is_bad_payload(r));
        xmpp_stanza_release(r);
        r = peers(fx, actions[i], "bad..example");
        assert_true(reply_is_bad_payload(r));
        xmpp_stanza_release(r);
    }
    xmpp_stanza_t *r = peers(fx, "refresh", "user@bad.example");
    assert_true(reply_is_bad_payload(r));
    xmpp_stanza_release(r);
}

static void test_not_a_peer(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r = peers(fx, "remove", "c.example");

    assert_true(reply_has_note(r, "error", "c.example is not a peer; list shows the peers"));
    xmpp_stanza_release(r);
    r = peers(fx, "refresh", "c.example");
    assert_true(reply_has_note(r, "error", "c.example is not a peer; add it first"));
    xmpp_stanza_release(r);
}

static void test_refresh_all_and_remove(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r = peers(fx, "add", "b.example");

    xmpp_stanza_release(r);
    r = peers(fx, "refresh", "");
    assert_string_equal(reply_status(r), "completed");
    assert_true(reply_has_note(r, "info", "The refresh has started"));
    xmpp_stanza_release(r);
    r = peers(fx, "refresh", "b.example");
    assert_true(reply_has_note(r, "info", "The refresh has started"));
    xmpp_stanza_release(r);
    r = peers(fx, "remove", "b.example");
    assert_string_equal(reply_status(r), "completed");
    assert_false(is_peer(fx, "b.example"));
    xmpp_stanza_release(r);
}

static void test_no_scheduler(void **state)
{
    struct cmd_fx *fx = *state;
    struct peers *ps = fx->app.peers;
    xmpp_stanza_t *r;

    fx->app.peers = NULL; /* as in a daemon without a router link */
    r = peers(fx, "refresh", "");
    assert_true(reply_has_note(r, "error", "Peers are not being refreshed here"));
    xmpp_stanza_release(r);
    fx->app.peers = ps;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_again_self, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_jids, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_not_a_peer, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_refresh_all_and_remove, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_no_scheduler, setup, cmd_fx_teardown),
    };
    log_set_level(LOG_LEVEL_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
