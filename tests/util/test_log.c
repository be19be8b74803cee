/* Unit tests for util/log.c: the stderr line (timestamp, ident, level, message, strerror for the
 * non-x variants), a message or a line longer than its buffer cut and still ended by a newline, levels filtered, level names parsed, fatal and fatalx exiting 1, and syslog output.
 * This program is linked with -Wl,--wrap=openlog,--wrap=syslog,--wrap=__syslog_chk (see
 * tests/util/Makefile.inc): what log.c hands to syslog is recorded here instead of reaching the
 * machine's syslog (the _chk variant is what syslog() becomes with _FORTIFY_SOURCE). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "util/log.h"

/* ---- syslog, recorded ---- */

/* ld's --wrap names: __wrap_X is called for X. */
void __wrap_openlog(const char *ident, int option, int facility);
void __wrap_syslog(int pri, const char *fmt, ...);
void __wrap___syslog_chk(int pri, int flag, const char *fmt, ...);

static struct {
    char ident[32];
    int option, facility, opened;
    int pri, calls;
    char msg[4096];
} sys;

void __wrap_openlog(const char *ident, int option, int facility)
{
    snprintf(sys.ident, sizeof(sys.ident), "%s", ident);
    sys.option = option;
    sys.facility = facility;
    sys.opened++;
}

static void record(int pri, const char *fmt, va_list ap)
{
    sys.pri = pri;
    sys.calls++;
    vsnprintf(sys.msg, sizeof(sys.msg), fmt, ap);
}

void __wrap_syslog(int pri, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    record(pri, fmt, ap);
    va_end(ap);
}

void __wrap___syslog_chk(int pri, int flag, const char *fmt, ...)
{
    va_list ap;

    (void)flag;
    va_start(ap, fmt);
    record(pri, fmt, ap);
    va_end(ap);
}

/* ---- stderr, captured ---- */

struct capture {
    int saved;
    FILE *file;
};

static void capture_start(struct capture *c)
{
    c->file = tmpfile();
    assert_non_null(c->file);
    fflush(stderr);
    c->saved = dup(STDERR_FILENO);
    assert_true(c->saved >= 0);
    assert_int_equal(dup2(fileno(c->file), STDERR_FILENO), STDERR_FILENO);
}

/* What was written to stderr since capture_start (caller frees), and its length. */
static char *capture_end(struct capture *c, size_t *len)
{
    char *buf = calloc(1, 8192);

    assert_int_equal(dup2(c->saved, STDERR_FILENO), STDERR_FILENO);
    close(c->saved);
    rewind(c->file);
    *len = fread(buf, 1, 8191, c->file);
    fclose(c->file);
    return buf;
}

static void assert_matches(const char *text, const char *pattern)
{
    regex_t re;

    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    int rc = regexec(&re, text, 0, NULL, 0);
    regfree(&re);
    if (rc != 0)
        fail_msg("'%s' does not match /%s/", text, pattern);
}

static int reset(void **state)
{
    (void)state;
    memset(&sys, 0, sizeof(sys));
    log_init("imd-test", LOG_LEVEL_INFO, 0);
    return 0;
}

/* ---- tests ---- */

static void test_stderr_line(void **state)
{
    struct capture c;
    size_t len;

    (void)state;
    capture_start(&c);
    log_info("store: opened path=%s", "/x");
    errno = ENOENT;
    log_warn("cannot open %s", "y");
    log_warnx("plain");
    log_error("bad");
    log_debug("not shown at info");
    char *out = capture_end(&c, &len);
    assert_matches(out, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
                        "imd-test\\[info\\] store: opened path=/x\n");
    assert_non_null(strstr(out, "imd-test[warn] cannot open y: No such file or directory\n"));
    assert_non_null(strstr(out, "imd-test[warn] plain\n"));
    assert_non_null(strstr(out, "imd-test[error] bad\n"));
    assert_null(strstr(out, "not shown"));
    assert_int_equal(sys.calls, 0);
    free(out);
}

/* A message longer than its buffer (2,048 bytes) is cut there: one line, the strerror suffix
 * after the cut message, the newline at the end. */
static void test_long_message_cut(void **state)
{
    struct capture c;
    size_t len;
    char *big = malloc(5000);

    (void)state;
    memset(big, 'x', 4999);
    big[4999] = '\0';
    capture_start(&c);
    errno = EACCES;
    log_warn("%s", big);
    char *out = capture_end(&c, &len);
    assert_int_equal(out[len - 1], '\n');
    assert_null(memchr(out, '\n', len - 1));
    char *x = strchr(out, 'x');
    assert_non_null(x);
    assert_int_equal(strspn(x, "x"), 2047);
    assert_string_equal(x + 2047, ": Permission denied\n");
    free(out);
    free(big);
}

/* A line longer than the line buffer (2,400 bytes; here through a long ident) is cut to the
 * buffer and still ends with a newline, so the next line starts on its own. */
static void test_long_line_cut(void **state)
{
    static char ident[601];
    struct capture c;
    size_t len;
    char *big = malloc(3000);

    (void)state;
    memset(ident, 'i', 600);
    memset(big, 'x', 2999);
    big[2999] = '\0';
    log_init(ident, LOG_LEVEL_INFO, 0);
    capture_start(&c);
    log_info("%s", big);
    log_info("next");
    char *out = capture_end(&c, &len);
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    assert_int_equal(nl - out + 1, 2399); /* the buffer less its terminating NUL */
    assert_int_equal(nl[-1], 'x');
    assert_non_null(strstr(nl + 1, "[info] next\n"));
    free(out);
    free(big);
}

static void test_levels(void **state)
{
    enum log_level l;

    (void)state;
    assert_int_equal(log_level_parse("debug", &l), 0);
    assert_int_equal(l, LOG_LEVEL_DEBUG);
    assert_int_equal(log_level_parse("warning", &l), 0);
    assert_int_equal(l, LOG_LEVEL_WARN);
    assert_int_equal(log_level_parse("error", &l), 0);
    assert_int_equal(l, LOG_LEVEL_ERROR);
    assert_int_equal(log_level_parse("loud", &l), -1);
    log_set_level(LOG_LEVEL_ERROR);
    assert_int_equal(log_get_level(), LOG_LEVEL_ERROR);
}

/* With syslog: opened once under the ident, each message with its priority and without the
 * timestamp (syslog adds its own); a strerror suffix kept. */
static void test_syslog(void **state)
{
    struct capture c;
    size_t len;

    (void)state;
    log_init("imd-sys", LOG_LEVEL_DEBUG, 1);
    assert_int_equal(sys.opened, 1);
    assert_string_equal(sys.ident, "imd-sys");
    assert_int_equal(sys.facility, LOG_DAEMON);
    assert_true(sys.option & LOG_PID);
    capture_start(&c);
    log_info("started pid=%d", 42);
    assert_int_equal(sys.pri, LOG_INFO);
    assert_string_equal(sys.msg, "started pid=42");
    errno = EPERM;
    log_warn("cannot write %s", "f");
    assert_int_equal(sys.pri, LOG_WARNING);
    assert_string_equal(sys.msg, "cannot write f: Operation not permitted");
    log_debug("d");
    assert_int_equal(sys.pri, LOG_DEBUG);
    log_error("e");
    assert_int_equal(sys.pri, LOG_ERR);
    assert_int_equal(sys.calls, 4);
    char *out = capture_end(&c, &len);
    assert_int_equal(len, 0); /* nothing on stderr */
    free(out);
    log_set_level(LOG_LEVEL_WARN);
    log_info("filtered");
    assert_int_equal(sys.calls, 4);
}

/* fatal and fatalx log at error level and exit 1 (in a child). */
static void test_fatal_exits(void **state)
{
    (void)state;
    for (int x = 0; x < 2; x++) {
        pid_t pid = fork();
        int status;

        assert_true(pid >= 0);
        if (pid == 0) {
            int null = open("/dev/null", O_WRONLY);
            dup2(null, STDERR_FILENO);
            if (x)
                fatalx("gone");
            errno = EIO;
            fatal("gone");
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_stderr_line, reset),
        cmocka_unit_test_setup(test_long_message_cut, reset),
        cmocka_unit_test_setup(test_long_line_cut, reset),
        cmocka_unit_test_setup(test_levels, reset),
        cmocka_unit_test_setup(test_syslog, reset),
        cmocka_unit_test_setup(test_fatal_exits, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
