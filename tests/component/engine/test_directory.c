/* Unit tests for component/engine/directory without a directory server: what an admin reads
 * when [directory] uri names nothing that answers. The exchanges with a real slapd, TLS and
 * the misbehaving servers are in tests/integration/test_directory*.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "component/config.h"
#include "component/engine/directory.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* A loopback port nobody listens on: bound, then closed. */
static unsigned closed_port(void)
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

static void assert_contains(const char *text, const char *part)
{
    assert_non_null(text);
    if (strstr(text, part) == NULL)
        fail_msg("\"%s\" lacks \"%s\"", text, part);
}

/* No uri: no parameters (the callers answer "not configured"). */
static void test_not_configured(void **state)
{
    struct config cfg;

    (void)state;
    config_defaults(&cfg);
    assert_null(dir_params_new(&cfg, NULL));
    cfg.dir_uri = xstrdup("");
    assert_null(dir_params_new(&cfg, NULL));
    config_free(&cfg);
    assert_string_equal(dir_err_name(DIR_NOT_CONFIGURED), "not-configured");
    assert_string_equal(dir_err_name((enum dir_err)99), "error");
}

/* Failover over URIs that all fail: a host name that does not resolve (a typo) and a port
 * nobody listens on; the sentence names each URI's own cause, in order. */
static void test_nothing_answers(void **state)
{
    struct config cfg;
    struct dir_params *p;
    enum dir_err err = DIR_OK;
    char *why = NULL, *uris;
    dir_conn_t *c;

    (void)state;
    config_defaults(&cfg);
    uris = xasprintf("ldap://no-such-host.invalid:389 ldap://127.0.0.1:%u", closed_port());
    cfg.dir_uri = uris;
    cfg.dir_timeout = 5;
    p = dir_params_new(&cfg, "(objectClass=person)");
    assert_non_null(p);
    assert_string_equal(p->filter, "(objectClass=person)");
    assert_int_equal(p->timeout_s, 5);
    c = dir_open(p, &err, &why);
    assert_null(c);
    assert_int_equal(err, DIR_UNREACHABLE);
    assert_contains(why, "the directory is unreachable (");
    assert_contains(why, "cannot resolve no-such-host.invalid");
    assert_contains(why, "; cannot connect to 127.0.0.1:");
    assert_contains(why, "Connection refused");
    assert_true(strstr(why, "no-such-host") < strstr(why, "127.0.0.1"));
    free(why);
    dir_params_free(p);
    config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_configured),
        cmocka_unit_test(test_nothing_answers),
    };

    log_set_level(LOG_LEVEL_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
