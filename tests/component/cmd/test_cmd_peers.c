/* Unit tests for the peers command (component/cmd/cmd_peers.c) through the XEP-0050 framework on an
 * in-memory store, without a router link: add records a peer (and its refresh fails at once,
 * which the list shows), adding it again or adding ourselves is refused with a note, remove and
 * refresh of a JID that is no peer say so, a missing or malformed JID is bad-payload, refresh of
 * every peer starts and lists, and without a peers scheduler refresh says peers are not
 * refreshed here. Nothing is changed by a refusal. */
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
#include "tests/lib/reply.h"
#include "store/store_peer.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/stanza.h"

#define ADMIN "admin@example.com/laptop"
#define SELF "imd.example"

struct fx {
    uv_loop_t loop;
    struct config cfg;
    struct app app;
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    char *err = NULL;

    log_set_level(LOG_LEVEL_ERROR);
    uv_loop_init(&fx->loop);
    config_defaults(&fx->cfg);
    fx->cfg.jid = xstrdup(SELF);
    fx->app.cfg = &fx->cfg;
    fx->app.loop = &fx->loop;
    fx->app.ctx = xmpp_ctx_new(NULL, NULL);
    fx->app.store = store_open(":memory:", &err);
    fx->app.adhoc = adhoc_new(fx->app.ctx, NULL);
    if (fx->app.store == NULL || cmd_peers_register(&fx->app) < 0 || fx->app.peers == NULL)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    peers_stop(fx->app.peers);
    peers_free(fx->app.peers);
    adhoc_free(fx->app.adhoc);
    store_close(fx->app.store);
    xmpp_ctx_free(fx->app.ctx);
    config_free(&fx->cfg);
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    free(fx);
    return 0;
}

/* peers with action and jid submitted at once. */
static xmpp_stanza_t *peers(struct fx *fx, const char *action, const char *jid)
{
    char xml[1024];
    xmpp_stanza_t *iq, *reply;

    snprintf(xml, sizeof(xml),
             "<iq type='set' id='q1' from='" ADMIN "' to='" SELF "'>"
             "<command xmlns='http://jabber.org/protocol/commands' node='peers' "
             "action='complete'><x xmlns='jabber:x:data' type='submit'>"
             "<field var='action'><value>%s</value></field>"
             "<field var='jid'><value>%s</value></field></x></command></iq>",
             action, jid);
    iq = xmpp_stanza_new_from_string(fx->app.ctx, xml);
    assert_non_null(iq);
    reply = adhoc_handle(fx->app.adhoc, iq, ADMIN, true);
    xmpp_stanza_release(iq);
    assert_non_null(reply);
    return reply;
}

static bool is_peer(struct fx *fx, const char *jid)
{
    struct store_peer p;
    enum store_rc rc = store_peer_get(fx->app.store, jid, &p);

    store_peer_clear(&p);
    return rc == STORE_OK;
}

static void test_add_again_self(void **state)
{
    struct fx *fx = *state;
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
    struct fx *fx = *state;
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
    struct fx *fx = *state;
    xmpp_stanza_t *r = peers(fx, "remove", "c.example");

    assert_true(reply_has_note(r, "error", "c.example is not a peer; list shows the peers"));
    xmpp_stanza_release(r);
    r = peers(fx, "refresh", "c.example");
    assert_true(reply_has_note(r, "error", "c.example is not a peer; add it first"));
    xmpp_stanza_release(r);
}

static void test_refresh_all_and_remove(void **state)
{
    struct fx *fx = *state;
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
    struct fx *fx = *state;
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
        cmocka_unit_test_setup_teardown(test_add_again_self, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_jids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_all_and_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_scheduler, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
