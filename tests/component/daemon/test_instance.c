/* Unit tests for component/instance: the step-down rule, and what a stanza from the router
 * does (our own announcement, an earlier instance's, a later one's, malformed ones). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "component/daemon/instance.h"
#include "xmpp/stanza.h"

#define JID "domains.example.test"

struct fake {
    int sent;
    int stepped_down;
    char why[512];
    char nonce[64];   /* of the last announcement sent */
    char started[32]; /* of the last announcement sent */
};

static int fake_send(void *ud, xmpp_stanza_t *st)
{
    struct fake *f = ud;
    xmpp_stanza_t *el = stanza_child(st, "instance", NS_IMD_INSTANCE);

    assert_non_null(el);
    assert_string_equal(xmpp_stanza_get_to(st), JID);
    assert_string_equal(xmpp_stanza_get_from(st), JID);
    snprintf(f->nonce, sizeof(f->nonce), "%s", xmpp_stanza_get_attribute(el, "nonce"));
    snprintf(f->started, sizeof(f->started), "%s", xmpp_stanza_get_attribute(el, "started"));
    f->sent++;
    return 0;
}

static void fake_step_down(void *ud, const char *why)
{
    struct fake *f = ud;

    f->stepped_down++;
    snprintf(f->why, sizeof(f->why), "%s", why);
}

static xmpp_stanza_t *announcement(xmpp_ctx_t *ctx, const char *from, const char *nonce,
                                   const char *started)
{
    xmpp_stanza_t *msg = xmpp_message_new(ctx, NULL, JID, "x");
    xmpp_stanza_set_from(msg, from);
    xmpp_stanza_t *el = stanza_add_element(msg, "instance", NS_IMD_INSTANCE);
    if (nonce)
        xmpp_stanza_set_attribute(el, "nonce", nonce);
    if (started)
        xmpp_stanza_set_attribute(el, "started", started);
    return msg;
}

struct env {
    uv_loop_t loop;
    xmpp_ctx_t *ctx;
    struct fake f;
    instance_t *in;
};

static void env_open(struct env *e)
{
    memset(e, 0, sizeof(*e));
    uv_loop_init(&e->loop);
    e->ctx = xmpp_ctx_new(NULL, NULL);
    e->in = instance_new(&e->loop, e->ctx, JID, fake_send, fake_step_down, &e->f);
}

static void close_one(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void env_close(struct env *e)
{
    uv_walk(&e->loop, close_one, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    instance_free(e->in);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    xmpp_ctx_free(e->ctx);
}

/* Feeds a stanza; returns whether it was consumed. */
static bool feed(struct env *e, xmpp_stanza_t *st)
{
    bool consumed = instance_on_stanza(e->in, st);
    xmpp_stanza_release(st);
    return consumed;
}

static void test_is_later(void **state)
{
    (void)state;
    assert_true(instance_is_later(2000, "aa", 1000, "bb"));
    assert_false(instance_is_later(1000, "bb", 2000, "aa"));
    assert_true(instance_is_later(1000, "bb", 1000, "aa")); /* tie: the larger nonce */
    assert_false(instance_is_later(1000, "aa", 1000, "bb"));
}

static void test_ready_announces(void **state)
{
    struct env e;

    (void)state;
    env_open(&e);
    instance_on_ready(e.in);
    assert_int_equal(e.f.sent, INSTANCE_BURST);
    assert_int_equal(strlen(e.f.nonce), 16);
    env_close(&e);
}

static void test_own_returns_resent_then_stops(void **state)
{
    struct env e;

    (void)state;
    env_open(&e);
    instance_on_ready(e.in);
    int before = e.f.sent;
    char nonce[64], started[32];
    snprintf(nonce, sizeof(nonce), "%s", e.f.nonce);
    snprintf(started, sizeof(started), "%s", e.f.started);
    /* Alone: every announcement comes back; a bounded number go out again. */
    for (int i = 0; i < 100; i++)
        assert_true(feed(&e, announcement(e.ctx, JID, nonce, started)));
    assert_true(e.f.sent > before);
    assert_true(e.f.sent - before <= 16);
    assert_int_equal(e.f.stepped_down, 0);
    env_close(&e);
}

static void test_earlier_other_makes_us_step_down(void **state)
{
    struct env e;

    (void)state;
    env_open(&e);
    instance_on_ready(e.in);
    /* Started in 1970: certainly earlier. */
    assert_true(feed(&e, announcement(e.ctx, JID, "00112233445566ff", "1000")));
    assert_int_equal(e.f.stepped_down, 1);
    assert_non_null(strstr(e.f.why, "another instance serves " JID));
    assert_non_null(strstr(e.f.why, "1970-01-01 00:00:01.000 UTC"));
    assert_non_null(strstr(e.f.why, "this one stands by"));
    /* No longer ready: a second one changes nothing. */
    assert_true(feed(&e, announcement(e.ctx, JID, "00112233445566ff", "1000")));
    assert_int_equal(e.f.stepped_down, 1);
    env_close(&e);
}

static void test_later_other_is_told(void **state)
{
    struct env e;

    (void)state;
    env_open(&e);
    instance_on_ready(e.in);
    int before = e.f.sent;
    /* Far in the future: certainly later. */
    assert_true(feed(&e, announcement(e.ctx, JID, "00112233445566ff", "99999999999999")));
    assert_int_equal(e.f.stepped_down, 0);
    assert_int_equal(e.f.sent - before, INSTANCE_BURST);
    /* The rest of that burst, arriving together: no burst per message. */
    assert_true(feed(&e, announcement(e.ctx, JID, "00112233445566ff", "99999999999999")));
    assert_int_equal(e.f.sent - before, INSTANCE_BURST);
    env_close(&e);
}

static void test_malformed_and_foreign(void **state)
{
    struct env e;

    (void)state;
    env_open(&e);
    instance_on_ready(e.in);
    /* From someone else, without a nonce, with a bad start time: consumed, no effect. */
    assert_true(feed(&e, announcement(e.ctx, "mallory@example.test", "00", "1000")));
    assert_true(feed(&e, announcement(e.ctx, JID, NULL, "1000")));
    assert_true(feed(&e, announcement(e.ctx, JID, "00", "12x")));
    assert_true(feed(&e, announcement(e.ctx, JID, "00", "")));
    assert_int_equal(e.f.stepped_down, 0);
    /* Any other stanza is not ours. */
    xmpp_stanza_t *iq = xmpp_iq_new(e.ctx, "get", "1");
    assert_false(feed(&e, iq));
    xmpp_stanza_t *msg = xmpp_message_new(e.ctx, NULL, JID, "2");
    assert_false(feed(&e, msg));
    env_close(&e);
}

static void test_not_ready_ignores(void **state)
{
    struct env e;

    (void)state;
    env_open(&e);
    assert_true(feed(&e, announcement(e.ctx, JID, "00112233445566ff", "1000")));
    assert_int_equal(e.f.stepped_down, 0);
    assert_int_equal(e.f.sent, 0);
    instance_on_ready(e.in);
    instance_on_lost(e.in);
    assert_true(feed(&e, announcement(e.ctx, JID, "00112233445566ff", "1000")));
    assert_int_equal(e.f.stepped_down, 0);
    env_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_later),
        cmocka_unit_test(test_ready_announces),
        cmocka_unit_test(test_own_returns_resent_then_stops),
        cmocka_unit_test(test_earlier_other_makes_us_step_down),
        cmocka_unit_test(test_later_other_is_told),
        cmocka_unit_test(test_malformed_and_foreign),
        cmocka_unit_test(test_not_ready_ignores),
    };

    xmpp_initialize();
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    xmpp_shutdown();
    return rc;
}
