/* Unit tests for opening the control socket (component/daemon/ctl.c): a socket file left over from a
 * crash is replaced, a live one (another daemon) is left alone and refused, so is a file that is
 * not a socket; a path too long for a UNIX socket and a group that does not exist are refused;
 * the socket gets the configured mode, and closing removes it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "component/daemon/ctl.h"
#include "util/log.h"

struct fx {
    uv_loop_t loop;
    xmpp_ctx_t *ctx;
    char dir[64];
    char path[128];
};

static xmpp_stanza_t *no_request(void *ud, xmpp_stanza_t *iq, const char *requester,
                                 ctl_pending_t *pending)
{
    fail(); /* nobody connects in these tests */
    return NULL;
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    log_set_level(LOG_LEVEL_ERROR);
    strcpy(fx->dir, "/tmp/imd-ctl-XXXXXX");
    if (mkdtemp(fx->dir) == NULL)
        return -1;
    snprintf(fx->path, sizeof(fx->path), "%s/run/ctl.sock", fx->dir); /* run/ is made by ctl */
    uv_loop_init(&fx->loop);
    fx->ctx = xmpp_ctx_new(NULL, NULL);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    char run[96];

    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    xmpp_ctx_free(fx->ctx);
    unlink(fx->path);
    snprintf(run, sizeof(run), "%s/run", fx->dir);
    rmdir(run);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static ctl_t *open_at(struct fx *fx, const char *path, const char *group)
{
    struct ctl_config cfg = {.path = path, .mode = 0660, .group = group};

    return ctl_open(&fx->loop, fx->ctx, &cfg, no_request, NULL);
}

static void test_open_mode_close(void **state)
{
    struct fx *fx = *state;
    ctl_t *ctl = open_at(fx, fx->path, NULL);
    struct stat st;

    assert_non_null(ctl);
    assert_int_equal(lstat(fx->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0660);
    ctl_close(ctl);
    assert_int_equal(lstat(fx->path, &st), -1); /* removed */
}

static void test_live_socket_refused(void **state)
{
    struct fx *fx = *state;
    ctl_t *first = open_at(fx, fx->path, NULL);
    struct stat st;

    assert_non_null(first);
    assert_null(open_at(fx, fx->path, NULL));  /* another daemon answers there */
    assert_int_equal(lstat(fx->path, &st), 0); /* and its socket is left alone */
    ctl_close(first);
}

static void test_stale_socket_replaced(void **state)
{
    struct fx *fx = *state;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char run[96];
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ctl_t *ctl;

    snprintf(run, sizeof(run), "%s/run", fx->dir);
    assert_int_equal(mkdir(run, 0755), 0);
    assert_true(strlen(fx->path) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, fx->path, strlen(fx->path) + 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd); /* bound, never listened, owner gone: what a crash leaves */
    ctl = open_at(fx, fx->path, NULL);
    assert_non_null(ctl);
    ctl_close(ctl);
}

static void test_not_a_socket_left_alone(void **state)
{
    struct fx *fx = *state;
    char run[96];
    FILE *f;

    snprintf(run, sizeof(run), "%s/run", fx->dir);
    assert_int_equal(mkdir(run, 0755), 0);
    f = fopen(fx->path, "w");
    fputs("precious", f);
    fclose(f);
    assert_null(open_at(fx, fx->path, NULL));
    f = fopen(fx->path, "r");
    char buf[16] = {0};
    assert_non_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    assert_string_equal(buf, "precious");
}

static void test_path_too_long(void **state)
{
    struct fx *fx = *state;
    char path[200];

    memset(path, 'x', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    assert_null(open_at(fx, path, NULL));
}

static void test_unknown_group(void **state)
{
    struct fx *fx = *state;
    struct stat st;

    assert_null(open_at(fx, fx->path, "imd-no-such-group"));
    assert_int_equal(lstat(fx->path, &st), -1); /* not left behind */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_mode_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_live_socket_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_socket_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_socket_left_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path_too_long, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_group, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
