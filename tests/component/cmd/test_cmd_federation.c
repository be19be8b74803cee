/* Unit tests for federation/check (component/cmd/cmd_federation.c) on a temporary store, the
 * remote domain pinned ([federation] resolve) to a listener of the test on 127.0.0.1 that
 * records the stream header the probe sends and closes: a domain the rules refuse is
 * bad-payload with the rule's sentence and probes nothing; the domain is probed lower-cased;
 * the header's from is the default domain once one is set, and absent before; without a router
 * link the ping says so; a request that must be answered at once (adhoc_handle) with a router
 * link says the ping was not sent because it cannot wait. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "component/cmd/commands.h"
#include "component/engine/domain_rules.h"
#include "store/store_settings.h"
#include "tests/lib/cmd_fixture.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/dispatch.h"

#define PEER_FIELD "<field var='domain'><value>%s</value></field>"

/* The fake peer: accepts one connection at a time, keeps what it reads until the stream
 * header's closing '>', then closes. */
struct peer {
    uv_tcp_t srv;
    uv_tcp_t client;
    int port;
    int conns;
    char got[2048];
    size_t n;
};

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct peer *p = h->data;

    (void)hint;
    buf->base = p->got + p->n;
    buf->len = sizeof(p->got) - 1 - p->n;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct peer *p = s->data;
    const char *open;

    (void)buf;
    if (n > 0) {
        p->n += (size_t)n;
        p->got[p->n] = '\0';
    }
    open = strstr(p->got, "<stream:stream");
    if (n < 0 || p->n + 1 >= sizeof(p->got) || (open && strchr(open, '>'))) {
        uv_read_stop(s);
        uv_close((uv_handle_t *)s, NULL);
    }
}

static void on_conn(uv_stream_t *srv, int status)
{
    struct peer *p = srv->data;

    assert_int_equal(status, 0);
    p->conns++;
    p->n = 0;
    p->got[0] = '\0';
    uv_tcp_init(srv->loop, &p->client);
    p->client.data = p;
    assert_int_equal(uv_accept(srv, (uv_stream_t *)&p->client), 0);
    assert_int_equal(uv_read_start((uv_stream_t *)&p->client, on_alloc, on_read), 0);
}

/* A port nobody listens on: bound, then closed. */
static int closed_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static int setup(void **state)
{
    struct cmd_fx *fx;
    struct peer *p = calloc(1, sizeof(*p));
    struct sockaddr_in a;
    int len = sizeof(a);

    log_set_level(LOG_LEVEL_ERROR);
    if (p == NULL || cmd_fx_setup(state, "fed", NULL, cmd_federation_register) != 0)
        return -1;
    fx = *state;
    fx->data = p;
    uv_tcp_init(&fx->loop, &p->srv);
    p->srv.data = p;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&p->srv, (struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&p->srv, 4, on_conn), 0);
    assert_int_equal(uv_tcp_getsockname(&p->srv, (struct sockaddr *)&a, &len), 0);
    p->port = ntohs(a.sin_port);

    config_defaults(&fx->cfg);
    fx->free_cfg = true;
    fx->cfg.jid = xstrdup("imd.example");
    free(fx->cfg.federation_resolve);
    fx->cfg.federation_resolve =
        xasprintf("other.example=127.0.0.1:%d peer.example=127.0.0.1:%d", closed_port(), p->port);
    fx->cfg.federation_timeout = 30; /* a bound, not awaited: the peer closes at once */
    fx->app.cfg = &fx->cfg;
    return 0;
}

static int teardown(void **state)
{
    struct cmd_fx *fx = *state;
    struct peer *p = fx->data;

    uv_close((uv_handle_t *)&p->srv, NULL);
    cmd_fx_close(fx);
    free(p);
    return 0;
}

static xmpp_stanza_t *check(struct cmd_fx *fx, const char *domain)
{
    char fields[512];

    snprintf(fields, sizeof(fields), PEER_FIELD, domain);
    return req(fx, NULL, "federation/check", NULL, "complete", fields);
}

static void set_default_domain(struct cmd_fx *fx, const char *domain)
{
    struct store_settings s;

    assert_int_equal(store_settings_get(fx->app.store, &s), STORE_OK);
    free(s.default_domain);
    s.default_domain = xstrdup(domain);
    assert_int_equal(store_settings_set(fx->app.store, &s), STORE_OK);
    store_settings_clear(&s);
}

static void test_refused_domain(void **state)
{
    struct cmd_fx *fx = *state;
    struct peer *p = fx->data;
    const char *bad[] = {"peer..example", "-peer.example", "peer_1.example", "peer.1om"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        char norm[DOMAIN_NAME_BUF];
        enum domain_rule rule = domain_rules_check(bad[i], norm);
        xmpp_stanza_t *r = check(fx, bad[i]);

        assert_int_not_equal(rule, DOMAIN_OK);
        expect_error(r, "bad-request", "bad-payload");
        assert_has(r, domain_rules_explain(rule, NULL));
        xmpp_stanza_release(r);
    }
    assert_int_equal(p->conns, 0); /* nothing probed */
}

static void test_header_from(void **state)
{
    struct cmd_fx *fx = *state;
    struct peer *p = fx->data;
    xmpp_stanza_t *r = check(fx, "Peer.Example");

    /* No default domain yet: the header names no from; the domain is probed lower-cased. */
    expect_status(r, "completed", NULL);
    assert_int_equal(p->conns, 1);
    assert_non_null(strstr(p->got, "to='peer.example'"));
    assert_null(strstr(p->got, "from="));
    assert_has(r, "closed the connection without sending anything");
    assert_has(r, "no router link to send the ping through");
    xmpp_stanza_release(r);

    set_default_domain(fx, "home.example");
    r = check(fx, "peer.example");
    expect_status(r, "completed", NULL);
    assert_int_equal(p->conns, 2);
    assert_non_null(strstr(p->got, "to='peer.example' from='home.example'"));
    assert_has(r, "Federation with peer.example fails at step stream");
    xmpp_stanza_release(r);
}

static int no_send(void *ud, xmpp_stanza_t *st)
{
    (void)ud;
    (void)st;
    fail_msg("nothing should be sent to the router");
    return -1;
}

static void test_answered_at_once(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r;

    fx->app.dispatch = dispatch_new(&fx->loop, fx->ctx, no_send, NULL);
    fx->at_once = true; /* through adhoc_handle, as a caller that cannot wait */
    r = req(fx, NULL, "federation/check", NULL, "complete",
            "<field var='domain'><value>other.example</value></field>");
    expect_status(r, "completed", NULL);
    assert_has(r, "Federation with other.example fails at step connect");
    assert_has(r, "not sent: this request must be answered at once and cannot wait");
    assert_lacks(r, "control socket");
    xmpp_stanza_release(r);
    dispatch_free(fx->app.dispatch);
    fx->app.dispatch = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refused_domain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_from, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answered_at_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
