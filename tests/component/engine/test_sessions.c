/* Unit tests for component/sessions: counts per full JID, user and node; multiple resources;
 * removal by unavailable, error and unsubscribe; no double counting; subscriptions; rebuild from
 * probes after ready (also in batches on the loop, with a full output queue); node changes and
 * presence-engine deactivation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "component/app.h"
#include "component/engine/services.h"
#include "component/engine/sessions.h"
#include "store/store_settings.h"
#include "store/store_topo.h"
#include "store/store_user.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SELF "presence.example.test"
#define SENT_MAX 8192

struct fx {
    struct app app;
    uv_loop_t loop;
    dispatch_t *d;
    struct sessions *s;
    char *sent[SENT_MAX]; /* "type to" of each stanza sent, in order */
    size_t nsent;
    long refuse_every; /* > 0: every refuse_every-th send is refused, as by a full queue */
    long calls;
};

static int capture(void *ud, xmpp_stanza_t *st)
{
    struct fx *fx = ud;
    const char *type = xmpp_stanza_get_type(st);
    char line[512];

    fx->calls++;
    if (fx->refuse_every > 0 && fx->calls % fx->refuse_every == 0)
        return -1;
    assert_string_equal(xmpp_stanza_get_from(st), SELF);
    assert_true(fx->nsent < SENT_MAX);
    snprintf(line, sizeof(line), "%s %s", type ? type : "available", xmpp_stanza_get_to(st));
    fx->sent[fx->nsent++] = strdup(line);
    return 0;
}

static void clear_sent(struct fx *fx)
{
    for (size_t i = 0; i < fx->nsent; i++)
        free(fx->sent[i]);
    fx->nsent = 0;
}

static size_t count_sent(struct fx *fx, const char *line)
{
    size_t n = 0;

    for (size_t i = 0; i < fx->nsent; i++)
        n += strcmp(fx->sent[i], line) == 0;
    return n;
}

static void user(struct fx *fx, const char *userid, const char *node)
{
    assert_int_equal(store_user_upsert(fx->app.store, userid, NULL, node, NULL), STORE_OK);
}

/* ann and bob on pub, cy on sub, dee unassigned; dee's IM address is not userid@domain. */
static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    struct store_settings set;
    char *err = NULL;

    fx->app.store = store_open(":memory:", &err);
    assert_non_null(fx->app.store);
    fx->app.ctx = xmpp_ctx_new(NULL, NULL);
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    fx->d = dispatch_new(&fx->loop, fx->app.ctx, capture, fx);
    assert_int_equal(store_node_insert(fx->app.store, "pub", STORE_NODE_PUBLISHER, "15.0", NULL),
                     STORE_OK);
    assert_int_equal(store_node_insert(fx->app.store, "sub", STORE_NODE_SUBSCRIBER, "15.0", NULL),
                     STORE_OK);
    assert_int_equal(store_settings_get(fx->app.store, &set), STORE_OK);
    free(set.default_domain);
    set.default_domain = strdup("example.test");
    assert_int_equal(store_settings_set(fx->app.store, &set), STORE_OK);
    store_settings_clear(&set);
    assert_int_equal(services_init_node(&fx->app, "pub"), 0);
    assert_int_equal(services_init_node(&fx->app, "sub"), 0);
    user(fx, "ann", "pub");
    user(fx, "bob", "pub");
    user(fx, "cy", "sub");
    user(fx, "dee", NULL);
    assert_int_equal(store_user_set_im_address(fx->app.store, "dee", "Dee.X@Corp.Example"),
                     STORE_OK);
    fx->s = sessions_new(&fx->app, fx->d, SELF); /* app.loop NULL: probe runs are synchronous */
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    sessions_free(fx->s);
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0); /* closes a probe timer */
    dispatch_free(fx->d);
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    clear_sent(fx);
    xmpp_ctx_free(fx->app.ctx);
    store_close(fx->app.store);
    free(fx);
    return 0;
}

/* A presence from `from` of `type` (NULL: available), optionally with a <show/>. */
static void presence_show(struct fx *fx, const char *from, const char *type, const char *show)
{
    xmpp_stanza_t *p = xmpp_presence_new(fx->app.ctx);

    xmpp_stanza_set_from(p, from);
    xmpp_stanza_set_to(p, SELF);
    if (type != NULL)
        xmpp_stanza_set_type(p, type);
    if (show != NULL) {
        xmpp_stanza_t *s = xmpp_stanza_new(fx->app.ctx), *text = xmpp_stanza_new(fx->app.ctx);
        xmpp_stanza_set_name(s, "show");
        xmpp_stanza_set_text(text, show);
        xmpp_stanza_add_child_ex(s, text, 0);
        xmpp_stanza_add_child_ex(p, s, 0);
    }
    sessions_on_presence(fx->s, p);
    xmpp_stanza_release(p);
}

static void presence(struct fx *fx, const char *from, const char *type)
{
    presence_show(fx, from, type, NULL);
}

/* total, online users, pub sessions, pub users, sub sessions, sub users */
static void assert_counts(struct fx *fx, int64_t total, int64_t users, int64_t pub, int64_t pubu,
                          int64_t sub, int64_t subu)
{
    assert_int_equal(sessions_total(fx->s), total);
    assert_int_equal(sessions_online_users(fx->s), users);
    assert_int_equal(sessions_on_node(fx->s, "pub"), pub);
    assert_int_equal(sessions_users_on_node(fx->s, "pub"), pubu);
    assert_int_equal(sessions_on_node(fx->s, "sub"), sub);
    assert_int_equal(sessions_users_on_node(fx->s, "sub"), subu);
}

static void test_counts_per_jid_and_node(void **state)
{
    struct fx *fx = *state;

    presence(fx, "ann@EXAMPLE.test/phone", NULL);
    presence(fx, "ann@example.test/laptop", NULL);
    presence(fx, "bob@example.test/desk", NULL);
    presence(fx, "cy@example.test/desk", NULL);
    assert_counts(fx, 4, 3, 3, 2, 1, 1);
    assert_int_equal(sessions_of_user(fx->s, "ANN@example.test"), 2);
    assert_int_equal(sessions_of_user(fx->s, "cy@example.test"), 1);
    assert_int_equal(sessions_on_node(fx->s, "PUB"), 3); /* node names in any case */
    assert_int_equal(sessions_on_node(fx->s, "nowhere"), 0);
    /* a bare-JID presence is one more session of its own */
    presence(fx, "cy@example.test", NULL);
    assert_counts(fx, 5, 3, 3, 2, 2, 1);
}

static void test_no_double_counting(void **state)
{
    struct fx *fx = *state;

    presence(fx, "ann@example.test/phone", NULL);
    presence_show(fx, "ann@example.test/phone", NULL, "away");
    presence(fx, "Ann@Example.Test/phone", NULL); /* same full JID, other case */
    assert_counts(fx, 1, 1, 1, 1, 0, 0);
    presence(fx, "ann@example.test/Phone", NULL); /* resources are case-sensitive */
    assert_counts(fx, 2, 1, 2, 1, 0, 0);
    /* rebuilding twice in a row counts each answer once */
    sessions_on_ready(fx->s);
    sessions_on_ready(fx->s);
    presence(fx, "ann@example.test/phone", NULL);
    presence(fx, "ann@example.test/phone", NULL);
    assert_counts(fx, 1, 1, 1, 1, 0, 0);
}

static void test_unavailable_removes_one_resource(void **state)
{
    struct fx *fx = *state;

    presence(fx, "ann@example.test/phone", NULL);
    presence(fx, "ann@example.test/laptop", NULL);
    presence(fx, "ann@example.test/tablet", NULL);
    presence(fx, "ann@example.test/laptop", "unavailable");
    assert_counts(fx, 2, 1, 2, 1, 0, 0);
    presence(fx, "ann@example.test/laptop", "unavailable"); /* gone already */
    presence(fx, "ann@example.test/other", "unavailable");  /* never there */
    presence(fx, "bob@example.test/x", "unavailable");      /* not tracked */
    assert_counts(fx, 2, 1, 2, 1, 0, 0);
    presence(fx, "ann@example.test/phone", "unavailable");
    presence(fx, "ann@example.test/tablet", "unavailable");
    assert_counts(fx, 0, 0, 0, 0, 0, 0);
    /* an unavailable from the bare JID ends every session of the user */
    presence(fx, "ann@example.test/phone", NULL);
    presence(fx, "ann@example.test/laptop", NULL);
    presence(fx, "ann@example.test", "unavailable");
    assert_counts(fx, 0, 0, 0, 0, 0, 0);
}

static void test_error_and_unsubscribe_remove(void **state)
{
    struct fx *fx = *state;

    presence(fx, "ann@example.test/phone", NULL);
    presence(fx, "ann@example.test/laptop", NULL);
    presence(fx, "cy@example.test/desk", NULL);
    presence(fx, "ann@example.test/phone", "error"); /* the router bounced a probe */
    assert_counts(fx, 2, 2, 1, 1, 1, 1);
    presence(fx, "ann@example.test", "error"); /* the whole user */
    assert_counts(fx, 1, 1, 0, 0, 1, 1);
    clear_sent(fx);
    presence(fx, "cy@example.test/desk", "unsubscribe");
    assert_counts(fx, 0, 0, 0, 0, 0, 0);
    assert_int_equal(count_sent(fx, "unsubscribed cy@example.test"), 1);
    presence(fx, "bob@example.test/x", NULL);
    presence(fx, "bob@example.test", "unsubscribed");
    assert_counts(fx, 0, 0, 0, 0, 0, 0);
    assert_int_equal(fx->nsent, 1); /* no answer to unsubscribed */
}

static void test_subscriptions(void **state)
{
    struct fx *fx = *state;

    presence(fx, "bob@example.test/x", "subscribe");
    assert_int_equal(count_sent(fx, "subscribed bob@example.test"), 1);
    assert_int_equal(count_sent(fx, "subscribe bob@example.test"), 1);
    presence(fx, "mallory@example.test", "subscribe");
    assert_int_equal(count_sent(fx, "unsubscribed mallory@example.test"), 1);
    assert_int_equal(fx->nsent, 3);
    /* a probe from a user is answered with our presence; from a stranger, not at all */
    presence(fx, "bob@example.test/x", "probe");
    presence(fx, "mallory@example.test/x", "probe");
    assert_int_equal(count_sent(fx, "available bob@example.test"), 1);
    assert_int_equal(fx->nsent, 4);
    assert_counts(fx, 0, 0, 0, 0, 0, 0);
}

static void test_strangers_and_servers_ignored(void **state)
{
    struct fx *fx = *state;

    presence(fx, "mallory@example.test/x", NULL);
    presence(fx, "example.test", NULL);       /* a server, not a user */
    presence(fx, "dee@example.test/x", NULL); /* userid@domain is not dee's address */
    assert_counts(fx, 0, 0, 0, 0, 0, 0);
    /* dee's directory-URI address, any case; dee has no node */
    presence(fx, "dee.x@corp.example/r", NULL);
    assert_counts(fx, 1, 1, 0, 0, 0, 0);
    assert_int_equal(sessions_of_user(fx->s, "Dee.X@Corp.Example"), 1);
}

static void test_rebuild_after_ready(void **state)
{
    struct fx *fx = *state;

    presence(fx, "ann@example.test/phone", NULL);
    presence(fx, "cy@example.test/desk", NULL);
    clear_sent(fx);
    sessions_on_ready(fx->s);
    assert_counts(fx, 0, 0, 0, 0, 0, 0);
    assert_int_equal(fx->nsent, 4);
    assert_int_equal(count_sent(fx, "probe ann@example.test"), 1);
    assert_int_equal(count_sent(fx, "probe bob@example.test"), 1);
    assert_int_equal(count_sent(fx, "probe cy@example.test"), 1);
    assert_int_equal(count_sent(fx, "probe Dee.X@Corp.Example"), 1);
    /* the answers rebuild the same table */
    presence(fx, "ann@example.test/phone", NULL);
    presence(fx, "cy@example.test/desk", NULL);
    assert_counts(fx, 2, 2, 1, 1, 1, 1);
}

static void test_users_changed(void **state)
{
    struct fx *fx = *state;

    presence(fx, "ann@example.test/phone", NULL);
    presence(fx, "ann@example.test/laptop", NULL);
    presence(fx, "bob@example.test/x", NULL);
    assert_int_equal(store_user_set_node(fx->app.store, "ann", "sub"), STORE_OK);
    sessions_users_changed(fx->s);
    assert_counts(fx, 3, 2, 1, 1, 2, 1);
    assert_int_equal(store_user_delete(fx->app.store, "bob"), STORE_OK);
    sessions_users_changed(fx->s);
    assert_counts(fx, 2, 1, 0, 0, 2, 1);
    assert_int_equal(store_user_set_node(fx->app.store, "ann", NULL), STORE_OK);
    sessions_users_changed(fx->s);
    assert_counts(fx, 2, 1, 0, 0, 0, 0);
}

static void test_engine_deactivated(void **state)
{
    struct fx *fx = *state;

    presence(fx, "ann@example.test/phone", NULL);
    presence(fx, "cy@example.test/desk", NULL);
    assert_int_equal(
        store_service_set(fx->app.store, "pub", SERVICE_PRESENCE_ENGINE, "deactivated"), STORE_OK);
    sessions_engine_changed(fx->s);
    assert_counts(fx, 1, 1, 0, 0, 1, 1);
    presence(fx, "bob@example.test/x", NULL); /* not counted while deactivated */
    assert_counts(fx, 1, 1, 0, 0, 1, 1);
    clear_sent(fx);
    assert_int_equal(store_service_set(fx->app.store, "pub", SERVICE_PRESENCE_ENGINE, "activated"),
                     STORE_OK);
    sessions_engine_changed(fx->s);
    /* the node that came back is probed, and only its users */
    assert_int_equal(fx->nsent, 2);
    assert_int_equal(count_sent(fx, "probe ann@example.test"), 1);
    assert_int_equal(count_sent(fx, "probe bob@example.test"), 1);
    presence(fx, "bob@example.test/x", NULL);
    assert_counts(fx, 2, 2, 1, 1, 1, 1);
}

static void test_resource_limit(void **state)
{
    struct fx *fx = *state;
    char jid[64];

    for (int i = 0; i < 70; i++) {
        snprintf(jid, sizeof(jid), "ann@example.test/r%d", i);
        presence(fx, jid, NULL);
    }
    assert_counts(fx, 64, 1, 64, 1, 0, 0);
    for (int i = 0; i < 70; i++) {
        snprintf(jid, sizeof(jid), "ann@example.test/r%d", i);
        presence(fx, jid, "unavailable");
    }
    assert_counts(fx, 0, 0, 0, 0, 0, 0);
}

/* With a loop, probes go out in batches; refused ones (a full queue) are sent again later. */
static void test_probe_batches_on_loop(void **state)
{
    struct fx *fx = *state;
    char uid[32];
    int turns = 0;

    assert_int_equal(store_begin(fx->app.store), STORE_OK);
    for (int i = 0; i < 2500; i++) {
        snprintf(uid, sizeof(uid), "u%04d", i);
        user(fx, uid, i % 2 ? "sub" : "pub");
    }
    assert_int_equal(store_commit(fx->app.store), STORE_OK);
    sessions_free(fx->s);
    fx->app.loop = &fx->loop;
    fx->s = sessions_new(&fx->app, fx->d, SELF);
    fx->refuse_every = 700;
    sessions_on_ready(fx->s);
    assert_true(fx->nsent < 2504); /* not all in one go */
    while (uv_run(&fx->loop, UV_RUN_ONCE) != 0 && turns < 1000)
        turns++;
    assert_true(turns < 1000);
    assert_int_equal(fx->nsent, 2504); /* everybody, once */
    assert_int_equal(count_sent(fx, "probe u0699@example.test"), 1);
    assert_int_equal(count_sent(fx, "probe u2499@example.test"), 1);
    assert_int_equal(count_sent(fx, "probe Dee.X@Corp.Example"), 1);
    /* With a loop, presence waits for the end of the loop turn and is handled in arrival
     * order: a session that starts and ends in one read is counted as ended. */
    presence(fx, "u0001@example.test/r", NULL);
    presence(fx, "u0003@example.test/r", NULL);
    presence(fx, "u0003@example.test/r", "unavailable");
    assert_counts(fx, 0, 0, 0, 0, 0, 0);
    uv_run(&fx->loop, UV_RUN_NOWAIT);
    assert_counts(fx, 1, 1, 0, 0, 1, 1);
}

/* A large cluster: 3,000 users online (the table starts with room for 1,024 and grows twice
 * while they log in), every third with a second device. Counts per node and per user stay
 * right across the growth, and every user is still found to log out. */
static void test_many_users_table_grows(void **state)
{
    struct fx *fx = *state;
    char userid[32], jid[64];
    const int n = 3000;
    int64_t sessions = 0, pub = 0;

    assert_int_equal(store_begin(fx->app.store), STORE_OK);
    for (int i = 0; i < n; i++) {
        snprintf(userid, sizeof(userid), "u%04d", i);
        user(fx, userid, i % 2 ? "sub" : "pub");
    }
    assert_int_equal(store_commit(fx->app.store), STORE_OK);
    for (int i = 0; i < n; i++) {
        snprintf(jid, sizeof(jid), "u%04d@example.test/desk", i);
        presence(fx, jid, NULL);
        sessions++;
        pub += i % 2 == 0;
        if (i % 3 == 0) {
            snprintf(jid, sizeof(jid), "u%04d@example.test/phone", i);
            presence(fx, jid, NULL);
            sessions++;
            pub += i % 2 == 0;
        }
    }
    assert_counts(fx, sessions, n, pub, n / 2, sessions - pub, n / 2);
    assert_int_equal(sessions_of_user(fx->s, "u0000@example.test"), 2);
    assert_int_equal(sessions_of_user(fx->s, "u2997@example.test"), 2);
    assert_int_equal(sessions_of_user(fx->s, "u2998@example.test"), 1);
    for (int i = 0; i < n; i++) {
        snprintf(jid, sizeof(jid), "u%04d@example.test/desk", i);
        presence(fx, jid, "unavailable");
    }
    /* only the phones are left: users 0, 3, 6, ... */
    assert_counts(fx, n / 3, n / 3, n / 6, n / 6, n / 6, n / 6);
    assert_int_equal(sessions_of_user(fx->s, "u0000@example.test"), 1);
    assert_int_equal(sessions_of_user(fx->s, "u0001@example.test"), 0);
}

static void test_null_table(void **state)
{
    (void)state;
    assert_int_equal(sessions_total(NULL), 0);
    assert_int_equal(sessions_online_users(NULL), 0);
    assert_int_equal(sessions_on_node(NULL, "pub"), 0);
    assert_int_equal(sessions_users_on_node(NULL, "pub"), 0);
    assert_int_equal(sessions_of_user(NULL, "ann@example.test"), 0);
    sessions_on_ready(NULL);
    sessions_users_changed(NULL);
    sessions_engine_changed(NULL);
    sessions_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counts_per_jid_and_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_double_counting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unavailable_removes_one_resource, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_and_unsubscribe_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subscriptions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strangers_and_servers_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebuild_after_ready, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users_changed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_deactivated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resource_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe_batches_on_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_users_table_grows, setup, teardown),
        cmocka_unit_test(test_null_table),
    };

    log_set_level(LOG_LEVEL_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
