/* Unit tests for component/apply with real hooks on a real libuv loop: the file is written and
 * the hook run; changes made while a reload runs coalesce into one more run with the newest set,
 * every waiter hearing the outcome of the run that carries its change; a failing hook reports its
 * status and output; a hook that cannot start, a file that cannot be written and a hook string
 * that does not parse are reported; stopping tells every waiter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "component/engine/apply.h"
#include "util/log.h"

#define MAX_CALLS 8

struct fx {
    uv_loop_t loop;
    char dir[64];
    char vhosts[128];
    char runs[128]; /* one line per hook run */
    char hook[512];
    struct call {
        int ok;
        char detail[512];
    } calls[MAX_CALLS];
    int n_calls;
};

static void on_done(void *arg, int ok, const char *detail)
{
    struct fx *fx = arg;

    assert_true(fx->n_calls < MAX_CALLS);
    fx->calls[fx->n_calls].ok = ok;
    snprintf(fx->calls[fx->n_calls].detail, sizeof(fx->calls[0].detail), "%s", detail);
    fx->n_calls++;
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    strcpy(fx->dir, "/tmp/imd-apply-XXXXXX");
    if (mkdtemp(fx->dir) == NULL)
        return -1;
    snprintf(fx->vhosts, sizeof(fx->vhosts), "%s/vhosts.cfg.lua", fx->dir);
    snprintf(fx->runs, sizeof(fx->runs), "%s/runs", fx->dir);
    uv_loop_init(&fx->loop);
    log_set_level(LOG_LEVEL_ERROR);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    unlink(fx->vhosts);
    unlink(fx->runs);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

/* A hook that records each run (with the file's VirtualHost lines) and then runs `tail`. */
static apply_t *with_hook(struct fx *fx, const char *tail)
{
    char *err = NULL;
    apply_t *a;

    snprintf(fx->hook, sizeof(fx->hook),
             "/bin/sh -c \"grep ^VirtualHost %s | tr -d '\\\\n' >> %s; echo >> %s; %s\"",
             fx->vhosts, fx->runs, fx->runs, tail);
    a = apply_new(&fx->loop, fx->vhosts, fx->hook, 10000, &err);
    assert_non_null(a);
    assert_null(err);
    assert_true(apply_configured(a));
    return a;
}

static char *slurp(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

    if (f)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

static void test_one_run(void **state)
{
    struct fx *fx = *state;
    apply_t *a = with_hook(fx, "exit 0");
    const char *set[] = {"a.example", "b.example"};

    apply_domains(a, set, 2, on_done, fx);
    assert_int_equal(fx->n_calls, 0); /* the hook runs on the loop */
    while (fx->n_calls == 0)
        uv_run(&fx->loop, UV_RUN_ONCE);
    assert_int_equal(fx->calls[0].ok, 1);
    assert_non_null(strstr(fx->calls[0].detail, "router reloaded (/bin/sh)"));
    assert_string_equal(slurp(fx->runs), "VirtualHost \"a.example\"VirtualHost \"b.example\"\n");
    apply_free(a);
}

/* Three changes while the first reload runs: one more run, with the newest set, and all three
 * waiters of the second and third change hear its outcome. */
static void test_coalesce(void **state)
{
    struct fx *fx = *state;
    apply_t *a = with_hook(fx, "sleep 0.3");
    const char *one[] = {"one.example"}, *two[] = {"two.example"};
    const char *three[] = {"three.example", "four.example"};

    apply_domains(a, one, 1, on_done, fx);
    apply_domains(a, two, 1, on_done, fx);
    apply_domains(a, three, 2, on_done, fx);
    apply_domains(a, three, 2, on_done, fx);
    while (fx->n_calls < 4)
        uv_run(&fx->loop, UV_RUN_ONCE);
    for (int i = 0; i < 4; i++)
        assert_int_equal(fx->calls[i].ok, 1);
    assert_string_equal(slurp(fx->runs), "VirtualHost \"one.example\"\n"
                                         "VirtualHost \"four.example\"VirtualHost "
                                         "\"three.example\"\n"); /* the file is sorted */
    apply_free(a);
}

static void test_failing_hook(void **state)
{
    struct fx *fx = *state;
    apply_t *a = with_hook(fx, "echo reload refused by the router; exit 3");
    const char *set[] = {"a.example"};

    apply_domains(a, set, 1, on_done, fx);
    while (fx->n_calls == 0)
        uv_run(&fx->loop, UV_RUN_ONCE);
    assert_int_equal(fx->calls[0].ok, 0);
    assert_non_null(strstr(fx->calls[0].detail, "exited with status 3"));
    /* The hook's last newline is not part of the sentence the admin reads. */
    assert_string_equal(strstr(fx->calls[0].detail, ": reload refused by the router"),
                        ": reload refused by the router");
    apply_free(a);
}

static void test_hook_cannot_start(void **state)
{
    struct fx *fx = *state;
    char *err = NULL;
    apply_t *a = apply_new(&fx->loop, NULL, "/nonexistent/imd-reload now", 1000, &err);
    const char *set[] = {"a.example"};

    assert_non_null(a);
    apply_domains(a, set, 1, on_done, fx);
    while (fx->n_calls == 0)
        uv_run(&fx->loop, UV_RUN_ONCE);
    assert_int_equal(fx->calls[0].ok, 0);
    assert_true(strstr(fx->calls[0].detail, "could not start") != NULL ||
                strstr(fx->calls[0].detail, "status 127") != NULL);
    apply_free(a);
}

static void test_file_cannot_be_written(void **state)
{
    struct fx *fx = *state;
    char *err = NULL, path[160];
    apply_t *a;
    const char *set[] = {"a.example"};

    snprintf(path, sizeof(path), "%s/missing/vhosts.cfg.lua", fx->dir);
    a = apply_new(&fx->loop, path, "/bin/true", 1000, &err);
    apply_domains(a, set, 1, on_done, fx); /* answered at once: nothing runs */
    assert_int_equal(fx->n_calls, 1);
    assert_int_equal(fx->calls[0].ok, 0);
    assert_non_null(strstr(fx->calls[0].detail, "cannot write"));
    apply_free(a);
}

static void test_nothing_or_file_only(void **state)
{
    struct fx *fx = *state;
    char *err = NULL;
    const char *set[] = {"a.example"};
    apply_t *a = apply_new(&fx->loop, "", "   ", 1000, &err); /* a blank hook is no hook */

    assert_non_null(a);
    assert_false(apply_configured(a));
    apply_domains(a, set, 1, on_done, fx);
    assert_int_equal(fx->calls[0].ok, 1);
    assert_string_equal(fx->calls[0].detail, "nothing to apply");
    apply_free(a);
    a = apply_new(&fx->loop, fx->vhosts, NULL, 1000, &err);
    apply_domains(a, set, 1, on_done, fx);
    assert_int_equal(fx->calls[1].ok, 1);
    assert_non_null(strstr(fx->calls[1].detail, "no reload hook configured"));
    assert_non_null(strstr(slurp(fx->vhosts), "VirtualHost \"a.example\""));
    apply_free(a);
}

static void test_bad_hook_string(void **state)
{
    struct fx *fx = *state;
    char *err = NULL;

    assert_null(apply_new(&fx->loop, fx->vhosts, "/bin/echo \"unterminated", 1000, &err));
    assert_non_null(err);
    free(err);
}

static void test_free_while_running(void **state)
{
    struct fx *fx = *state;
    apply_t *a = with_hook(fx, "sleep 5");
    const char *set[] = {"a.example"};

    apply_domains(a, set, 1, on_done, fx);
    apply_domains(a, set, 1, on_done, fx); /* queued behind the running one */
    uv_run(&fx->loop, UV_RUN_NOWAIT);
    apply_free(a);
    assert_int_equal(fx->n_calls, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(fx->calls[i].ok, 0);
        assert_string_equal(fx->calls[i].detail, "daemon stopping");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coalesce, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_cannot_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_cannot_be_written, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nothing_or_file_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_hook_string, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_while_running, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
