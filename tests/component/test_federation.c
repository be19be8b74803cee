/* Unit tests for component/federation's probe up to the stream step, without DNS: the
 * configured resolve map, a numeric address, a name looked up on the bounded resolver thread
 * (localhost), a name that does not resolve, a closed port, and a peer that never speaks. */

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

#include "component/federation.h"

/* A listening socket on 127.0.0.1 that never accepts (the kernel completes connects). */
static int silent_listener(unsigned *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* A port nobody listens on: bound, then closed. */
static unsigned closed_port(void)
{
    unsigned port;

    close(silent_listener(&port));
    return port;
}

static void probe(const char *overrides, unsigned timeout_ms, struct fed_report *r)
{
    struct fed_options o = {.domain = "peer.example.test",
                            .from = "us.example.test",
                            .overrides = overrides,
                            .timeout_ms = timeout_ms};

    federation_probe(&o, r);
}

static void assert_step(const struct fed_report *r, enum fed_step step, enum fed_state state,
                        const char *detail_part)
{
    const struct fed_step_result *s = &r->steps[step];

    if (s->state != state || strstr(s->detail, detail_part) == NULL)
        fail_msg("step %s: state %d, detail '%s' (wanted state %d and '%s')",
                 federation_step_name(step), s->state, s->detail, state, detail_part);
}

static void test_override_numeric_silent_peer(void **state)
{
    struct fed_report r;
    char map[128];
    unsigned port;
    int fd = silent_listener(&port);

    (void)state;
    snprintf(map, sizeof(map), "other.example.test=10.0.0.1:1 peer.example.test=127.0.0.1:%u",
             port);
    probe(map, 500, &r); /* the silent peer makes the stream step wait this long */
    assert_step(&r, FED_RESOLVE, FED_OK, "configured in [federation] resolve");
    assert_step(&r, FED_CONNECT, FED_OK, "connected to 127.0.0.1");
    assert_step(&r, FED_STREAM, FED_FAILED, "no stream features");
    assert_int_equal(r.steps[FED_STARTTLS].state, FED_NOT_RUN);
    assert_int_equal(federation_first_failure(&r), FED_STREAM);
    close(fd);
}

/* "localhost" is a name, not an address: it goes through the resolver thread, and the connect
 * that follows is refused (a closed port), which proves the name was resolved. */
static void test_name_through_resolver_thread(void **state)
{
    struct fed_report r;
    char map[128];

    (void)state;
    snprintf(map, sizeof(map), "peer.example.test=localhost:%u", closed_port());
    probe(map, 10000, &r);
    assert_step(&r, FED_CONNECT, FED_FAILED, "Connection refused");
}

static void test_name_that_does_not_resolve(void **state)
{
    struct fed_report r;

    (void)state;
    probe("peer.example.test=no-such-host.invalid:5269", 2000, &r);
    assert_step(&r, FED_RESOLVE, FED_OK, "no-such-host.invalid:5269");
    assert_step(&r, FED_CONNECT, FED_FAILED, "cannot resolve no-such-host.invalid");
    assert_int_equal(r.steps[FED_STREAM].state, FED_NOT_RUN);
}

static void test_closed_port(void **state)
{
    struct fed_report r;
    char map[128];

    (void)state;
    snprintf(map, sizeof(map), "peer.example.test=127.0.0.1:%u", closed_port());
    probe(map, 10000, &r);
    assert_step(&r, FED_CONNECT, FED_FAILED, "Connection refused");
    assert_int_equal(federation_first_failure(&r), FED_CONNECT);
}

static void test_step_names(void **state)
{
    (void)state;
    assert_string_equal(federation_step_name(FED_RESOLVE), "resolve");
    assert_string_equal(federation_step_name(FED_PING), "ping");
    assert_string_equal(federation_step_name((enum fed_step)99), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_override_numeric_silent_peer),
        cmocka_unit_test(test_name_through_resolver_thread),
        cmocka_unit_test(test_name_that_does_not_resolve),
        cmocka_unit_test(test_closed_port),
        cmocka_unit_test(test_step_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
