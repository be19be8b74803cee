/* Unit tests for component/hook: real programs on a real libuv loop (success, failure, output,
 * timeout with SIGTERM and SIGKILL, missing binary, cancel) and the argv splitter. Programs that
 * need special behaviour are this test binary itself, started with a --helper-* argument. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "component/engine/hook.h"

static char self_path[PATH_MAX];

struct run {
    int called;
    struct hook_result res;
    char output[HOOK_OUTPUT_MAX + 1];
    uint64_t elapsed_ms;
};

static void on_done(const struct hook_result *res, void *arg)
{
    struct run *r = arg;

    r->called++;
    r->res = *res;
    memcpy(r->output, res->output, res->output_len + 1);
    r->res.output = r->output;
}

/* Runs argv to completion on a fresh loop; every handle must be closed at the end. */
static void run_hook(const char *const *argv, const struct hook_opts *opts, struct run *r)
{
    uv_loop_t loop;
    char *err = NULL;
    uint64_t start;

    memset(r, 0, sizeof(*r));
    assert_int_equal(uv_loop_init(&loop), 0);
    start = uv_hrtime();
    if (hook_run(&loop, argv, opts, on_done, r, &err) == NULL)
        fail_msg("hook_run %s: %s", argv[0], err);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    r->elapsed_ms = (uv_hrtime() - start) / 1000000;
    assert_int_equal(r->called, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_true(void **state)
{
    const char *argv[] = {"/bin/true", NULL};
    struct run r;

    run_hook(argv, NULL, &r);
    assert_int_equal(r.res.exit_status, 0);
    assert_int_equal(r.res.term_signal, 0);
    assert_int_equal(r.res.timed_out, 0);
    assert_int_equal(r.res.output_len, 0);
    assert_string_equal(r.res.output, "");
}

static void test_false(void **state)
{
    const char *argv[] = {"/bin/false", NULL};
    struct run r;
    char *desc;

    run_hook(argv, NULL, &r);
    assert_int_equal(r.res.exit_status, 1);
    assert_int_equal(r.res.term_signal, 0);
    assert_int_equal(r.res.timed_out, 0);
    desc = hook_result_describe(&r.res);
    assert_string_equal(desc, "exited with status 1");
    free(desc);
}

static void test_echo(void **state)
{
    const char *argv[] = {"/bin/echo", "hello", "two words", "$HOME", "*", NULL};
    struct run r;

    run_hook(argv, NULL, &r);
    assert_int_equal(r.res.exit_status, 0);
    /* No shell: no expansion of $HOME or *. */
    assert_string_equal(r.res.output, "hello two words $HOME *\n");
    assert_int_equal(r.res.output_len, strlen("hello two words $HOME *\n"));
    assert_int_equal(r.res.output_truncated, 0);
}

static void test_path_search(void **state)
{
    const char *argv[] = {"echo", "found", NULL};
    struct run r;

    run_hook(argv, NULL, &r);
    assert_string_equal(r.res.output, "found\n");
}

static void test_stdout_and_stderr(void **state)
{
    const char *argv[] = {self_path, "--helper-both", NULL};
    struct run r;

    run_hook(argv, NULL, &r);
    assert_int_equal(r.res.exit_status, 3);
    assert_string_equal(r.res.output, "to stdout\nto stderr\n");
}

static void test_output_truncated(void **state)
{
    const char *argv[] = {self_path, "--helper-flood", NULL};
    struct run r;

    run_hook(argv, NULL, &r);
    /* The flood is read to the end, so the program is never stuck on a full pipe. */
    assert_int_equal(r.res.exit_status, 0);
    assert_int_equal(r.res.output_len, HOOK_OUTPUT_MAX);
    assert_int_equal(r.res.output_truncated, 1);
    assert_int_equal(strlen(r.res.output), HOOK_OUTPUT_MAX);
    assert_int_equal(r.res.output[0], 'x');
}

static void test_environment(void **state)
{
    const char *argv[] = {self_path, "--helper-env", NULL};
    const char *env[] = {"IMD_HOOK_TEST=from-opts", NULL};
    struct hook_opts opts = {.env = env};
    struct run r;

    run_hook(argv, &opts, &r);
    assert_string_equal(r.res.output, "IMD_HOOK_TEST=from-opts\n");
}

static void test_timeout_sigterm(void **state)
{
    const char *argv[] = {"/bin/sleep", "30", NULL};
    struct hook_opts opts = {.timeout_ms = 200};
    struct run r;
    char *desc;

    run_hook(argv, &opts, &r);
    assert_int_equal(r.res.timed_out, 1);
    assert_int_equal(r.res.term_signal, SIGTERM);
    assert_true(r.elapsed_ms >= 190);
    assert_true(r.elapsed_ms < 1500);
    desc = hook_result_describe(&r.res);
    assert_string_equal(desc, "timed out and was killed (signal 15)");
    free(desc);
}

static void test_timeout_sigkill(void **state)
{
    const char *argv[] = {self_path, "--helper-ignore-term", NULL};
    struct hook_opts opts = {.timeout_ms = 200, .kill_grace_ms = 300};
    struct run r;

    run_hook(argv, &opts, &r);
    assert_int_equal(r.res.timed_out, 1);
    assert_int_equal(r.res.term_signal, SIGKILL);
    assert_true(r.elapsed_ms >= 490);
    assert_true(r.elapsed_ms < 2500);
    assert_string_equal(r.res.output, "ignoring SIGTERM\n");
}

static void test_fast_hook_not_timed_out(void **state)
{
    const char *argv[] = {"/bin/true", NULL};
    struct hook_opts opts = {.timeout_ms = 5000};
    struct run r;

    run_hook(argv, &opts, &r);
    assert_int_equal(r.res.timed_out, 0);
    assert_true(r.elapsed_ms < 2000);
}

/* A helper left running with the pipe open must not hold the report back for long. */
static void test_leftover_child(void **state)
{
    const char *argv[] = {self_path, "--helper-leftover", NULL};
    struct run r;

    run_hook(argv, NULL, &r);
    assert_int_equal(r.res.exit_status, 0);
    assert_string_equal(r.res.output, "parent done\n");
    assert_true(r.elapsed_ms < 1500);
}

static void expect_start_error(const char *const *argv, const char *want1, const char *want2)
{
    uv_loop_t loop;
    struct run r;
    char *err = NULL;

    memset(&r, 0, sizeof(r));
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_null(hook_run(&loop, argv, NULL, on_done, &r, &err));
    assert_non_null(err);
    if (strstr(err, want1) == NULL || (want2 != NULL && strstr(err, want2) == NULL))
        fail_msg("unexpected error: %s", err);
    free(err);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(r.called, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_missing_binary(void **state)
{
    const char *argv[] = {"/nonexistent/imd-hook", "reload", NULL};
    const char *bare[] = {"imd-no-such-hook-program", NULL};

    expect_start_error(argv, "cannot run /nonexistent/imd-hook", "no such file or directory");
    expect_start_error(bare, "imd-no-such-hook-program", "no such file or directory");
}

static void test_not_executable(void **state)
{
    char path[] = "/tmp/imd-hook-test-XXXXXX";
    const char *argv[] = {path, NULL};
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(fchmod(fd, 0644), 0);
    close(fd);
    expect_start_error(argv, "cannot run /tmp/imd-hook-test-", "permission denied");
    unlink(path);
}

static void test_empty_command(void **state)
{
    const char *none[] = {NULL};
    const char *blank[] = {"", NULL};

    expect_start_error(none, "the command is empty", NULL);
    expect_start_error(blank, "the command is empty", NULL);
    expect_start_error(NULL, "the command is empty", NULL);
}

static void test_cancel(void **state)
{
    const char *argv[] = {"/bin/sleep", "30", NULL};
    uv_loop_t loop;
    struct run r;
    hook_t *h;
    uint64_t start;

    memset(&r, 0, sizeof(r));
    assert_int_equal(uv_loop_init(&loop), 0);
    start = uv_hrtime();
    h = hook_run(&loop, argv, NULL, on_done, &r, NULL);
    assert_non_null(h);
    assert_int_equal(uv_run(&loop, UV_RUN_NOWAIT), 1);
    hook_cancel(h);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_true((uv_hrtime() - start) / 1000000 < 1000);
    assert_int_equal(r.called, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* No file descriptor left for the output pipe (the limit lowered to the lowest free one): the
 * start is refused with the system's reason, no callback ever comes and every handle closes. */
static void test_no_free_fd(void **state)
{
    const char *argv[] = {"/bin/true", NULL};
    uv_loop_t loop;
    struct run r;
    struct rlimit saved, low;
    char *err = NULL;
    int fd;

    (void)state;
    memset(&r, 0, sizeof(r));
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    close(fd);
    low = saved;
    low.rlim_cur = (rlim_t)fd;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    assert_null(hook_run(&loop, argv, NULL, on_done, &r, &err));
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
    assert_non_null(err);
    assert_string_equal(err, "cannot run /bin/true: too many open files");
    free(err);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(r.called, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    hook_cancel(NULL); /* nothing to cancel: a caller may pass what hook_run refused */
}

static void test_describe(void **state)
{
    struct hook_result res = {0};
    char *s;

    res.term_signal = 9;
    s = hook_result_describe(&res);
    assert_string_equal(s, "killed by signal 9");
    free(s);
    res.term_signal = 0;
    res.timed_out = 1;
    res.exit_status = 4;
    s = hook_result_describe(&res);
    assert_string_equal(s, "timed out, then exited with status 4");
    free(s);
    res.timed_out = 0;
    res.exit_status = 0;
    s = hook_result_describe(&res);
    assert_string_equal(s, "exited with status 0");
    free(s);
}

struct split_case {
    const char *in;
    const char *words[6]; /* NULL-terminated expected words */
};

static void test_split_ok(void **state)
{
    static const struct split_case cases[] = {
        {"/usr/bin/prosodyctl --config /etc/prosody/prosody.cfg.lua reload",
         {"/usr/bin/prosodyctl", "--config", "/etc/prosody/prosody.cfg.lua", "reload"}},
        {"  a \t b\n c  ", {"a", "b", "c"}},
        {"\"two words\" three", {"two words", "three"}},
        {"a\"b c\"d", {"ab cd"}},
        {"\"\" x", {"", "x"}},
        {"a\\ b c", {"a b", "c"}},
        {"\"say \\\"hi\\\"\"", {"say \"hi\""}},
        {"back\\\\slash", {"back\\slash"}},
        {"'single quoted' x", {"'single", "quoted'", "x"}},
        {"$HOME *.lua `id` ; |", {"$HOME", "*.lua", "`id`", ";", "|"}},
        {"one", {"one"}},
        {"\"in\\nside\"", {"innside"}},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char **argv = NULL, *err = NULL;
        size_t argc = 99, n = 0;

        if (hook_split_argv(cases[i].in, &argv, &argc, &err) != 0)
            fail_msg("split \"%s\": %s", cases[i].in, err);
        while (cases[i].words[n] != NULL)
            n++;
        assert_int_equal(argc, n);
        for (size_t j = 0; j < n; j++)
            assert_string_equal(argv[j], cases[i].words[j]);
        assert_null(argv[n]);
        hook_free_argv(argv);
    }
}

static void test_split_blank(void **state)
{
    char **argv = NULL;
    size_t argc = 99;

    assert_int_equal(hook_split_argv("", &argv, &argc, NULL), 0);
    assert_int_equal(argc, 0);
    assert_null(argv[0]);
    hook_free_argv(argv);
    assert_int_equal(hook_split_argv(" \t\n ", &argv, &argc, NULL), 0);
    assert_int_equal(argc, 0);
    hook_free_argv(argv);
    hook_free_argv(NULL);
}

static void expect_split_error(const char *in, const char *want)
{
    char **argv = NULL, *err = NULL;
    size_t argc = 99;

    assert_int_equal(hook_split_argv(in, &argv, &argc, &err), -1);
    assert_non_null(err);
    if (strstr(err, want) == NULL)
        fail_msg("split \"%s\": unexpected error: %s", in, err);
    assert_null(argv);
    assert_int_equal(argc, 99);
    free(err);
    /* Without an err pointer the failure is still reported. */
    assert_int_equal(hook_split_argv(in, &argv, &argc, NULL), -1);
}

static void test_split_errors(void **state)
{
    char *many = malloc((HOOK_ARGV_MAX + 1) * 2 + 1);

    expect_split_error("reload \"unterminated", "a double quote is not closed");
    expect_split_error("\"", "a double quote is not closed");
    expect_split_error("a\"b\"\"", "a double quote is not closed");
    expect_split_error("trailing\\", "a backslash ends the command");
    for (int i = 0; i < HOOK_ARGV_MAX + 1; i++)
        memcpy(many + 2 * i, "x ", 2);
    many[(HOOK_ARGV_MAX + 1) * 2] = '\0';
    expect_split_error(many, "too many words");
    many[(HOOK_ARGV_MAX + 1) * 2 - 1] = '\0'; /* without the trailing blank */
    expect_split_error(many, "too many words");
    many[HOOK_ARGV_MAX * 2] = '\0'; /* exactly the limit is fine */
    {
        char **argv;
        size_t argc;

        assert_int_equal(hook_split_argv(many, &argv, &argc, NULL), 0);
        assert_int_equal(argc, HOOK_ARGV_MAX);
        hook_free_argv(argv);
    }
    free(many);
}

/* Behaviours of this binary when a test starts it as a hook. */
static int helper_main(const char *mode)
{
    if (strcmp(mode, "--helper-both") == 0) {
        fputs("to stdout\n", stdout);
        fflush(stdout);
        fputs("to stderr\n", stderr);
        return 3;
    }
    if (strcmp(mode, "--helper-flood") == 0) {
        for (int i = 0; i < 100000; i++)
            putchar('x');
        return 0;
    }
    if (strcmp(mode, "--helper-env") == 0) {
        printf("IMD_HOOK_TEST=%s\n", getenv("IMD_HOOK_TEST") ? getenv("IMD_HOOK_TEST") : "");
        return 0;
    }
    if (strcmp(mode, "--helper-ignore-term") == 0) {
        signal(SIGTERM, SIG_IGN);
        puts("ignoring SIGTERM");
        fflush(stdout);
        for (int i = 0; i < 300; i++)
            usleep(100000);
        return 0;
    }
    if (strcmp(mode, "--helper-leftover") == 0) {
        if (fork() == 0) {
            sleep(3); /* keeps the output pipe open after the parent is gone */
            _exit(0);
        }
        puts("parent done");
        return 0;
    }
    return 99;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_true),
        cmocka_unit_test(test_false),
        cmocka_unit_test(test_echo),
        cmocka_unit_test(test_path_search),
        cmocka_unit_test(test_stdout_and_stderr),
        cmocka_unit_test(test_output_truncated),
        cmocka_unit_test(test_environment),
        cmocka_unit_test(test_timeout_sigterm),
        cmocka_unit_test(test_timeout_sigkill),
        cmocka_unit_test(test_fast_hook_not_timed_out),
        cmocka_unit_test(test_leftover_child),
        cmocka_unit_test(test_missing_binary),
        cmocka_unit_test(test_not_executable),
        cmocka_unit_test(test_empty_command),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_no_free_fd),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_split_ok),
        cmocka_unit_test(test_split_blank),
        cmocka_unit_test(test_split_errors),
    };

    if (argc > 1 && strncmp(argv[1], "--helper-", 9) == 0)
        return helper_main(argv[1]);
    if (realpath(argv[0], self_path) == NULL) {
        perror(argv[0]);
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
