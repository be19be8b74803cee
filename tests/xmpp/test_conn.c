/* Unit tests for xmpp/conn's connection attempts against routers that do not answer: a
 * handshake deadline that expires while the router's address is still being resolved (found by
 * running the daemon under valgrind: the late answer was used anyway, and the retry then
 * overwrote the socket and the address list it had opened, leaking both and leaving a socket
 * in the loop with a connect request in use twice), and a router that accepts TCP but never
 * opens the stream. Each ends with conn_close: every handle is closed, the loop closes. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"
#include "xmpp/conn.h"

/* A listening socket on 127.0.0.1 that never accepts (the kernel completes connects). */
static int silent_listener(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 64), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

struct seen {
    int ready, lost, fatal, closed;
};

static void on_event(void *ud, enum conn_event ev, xmpp_stanza_t *st, const char *detail)
{
    struct seen *s = ud;

    (void)st;
    (void)detail;
    if (ev == CONN_EV_READY)
        s->ready++;
    else if (ev == CONN_EV_LOST)
        s->lost++;
    else if (ev == CONN_EV_FATAL)
        s->fatal++;
    else if (ev == CONN_EV_CLOSED)
        s->closed++;
}

static void on_stop(uv_timer_t *t)
{
    conn_close(t->data);
    uv_close((uv_handle_t *)t, NULL);
}

/* Runs a connection to 127.0.0.1:port with the given handshake deadline for `run_ms`, then
 * closes it; the loop must then end with nothing left open. */
static void run_for(int port, int deadline_ms, uint64_t run_ms, int stale_ms)
{
    uv_loop_t loop;
    uv_timer_t stop;
    xmpp_ctx_t *ctx = xmpp_ctx_new(NULL, NULL);
    struct seen seen = {0};
    struct conn_config cfg = {.host = "127.0.0.1",
                              .port = port,
                              .jid = "imd.example.test",
                              .secret = "s3cret",
                              .max_stanza_size = 65536,
                              .max_depth = 32,
                              .keepalive = 60,
                              .reconnect_max = 1,
                              .send_queue_max = 65536,
                              .handshake_timeout_ms = deadline_ms};
    conn_t *c;

    assert_int_equal(uv_loop_init(&loop), 0);
    c = conn_new(&loop, ctx, &cfg, on_event, &seen);
    conn_start(c);
    /* The deadline timer now runs out before the loop first polls, so before the resolver's
     * answer (delivered by the poll) is seen. */
    usleep((useconds_t)stale_ms * 1000);
    uv_timer_init(&loop, &stop);
    stop.data = c;
    uv_timer_start(&stop, on_stop, run_ms, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(seen.closed, 1);
    assert_int_equal(seen.ready, 0);
    assert_int_equal(seen.fatal, 0);
    /* A socket the link forgot would still be open here (UV_EBUSY). */
    assert_int_equal(uv_loop_close(&loop), 0);
    conn_free(c);
    xmpp_ctx_free(ctx);
}

/* The deadline (1 ms) expires while resolving, again and again: every late answer is dropped,
 * the retries connect one socket at a time, and the close leaves nothing behind. */
static void test_deadline_while_resolving(void **state)
{
    int port, fd = silent_listener(&port);

    (void)state;
    run_for(port, 1, 1500, 5);
    close(fd);
}

/* A router that accepts TCP and never speaks: the deadline drops the socket, a retry follows. */
static void test_silent_router(void **state)
{
    int port, fd = silent_listener(&port);

    (void)state;
    run_for(port, 200, 1200, 0);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadline_while_resolving),
        cmocka_unit_test(test_silent_router),
    };
    log_set_level(LOG_LEVEL_ERROR);
    /* Before the fix the forgotten socket kept the loop running: fail instead of hanging. */
    alarm(60);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
