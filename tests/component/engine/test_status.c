/* Unit tests for the status verdict (component/status), the certificate expiry levels
 * (component/cert_expiry) and the built-in sd_notify sender (component/notify). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "component/engine/cert_expiry.h"
#include "component/daemon/notify.h"
#include "component/engine/status.h"

#define DAY 86400
#define NOW ((time_t)1800000000)

static void test_expiry_levels(void **state)
{
    struct cert_expiry e;

    cert_expiry_classify(NOW + 31 * DAY, NOW, 30, 7, &e);
    assert_int_equal(e.level, CERT_EXPIRY_OK);
    assert_int_equal(e.days_left, 31);
    cert_expiry_classify(NOW + 30 * DAY, NOW, 30, 7, &e); /* "within 30 days" includes 30 */
    assert_int_equal(e.level, CERT_EXPIRY_WARNING);
    cert_expiry_classify(NOW + 10 * DAY - 5, NOW, 30, 7, &e);
    assert_int_equal(e.level, CERT_EXPIRY_WARNING);
    assert_int_equal(e.days_left, 9);
    cert_expiry_classify(NOW + 7 * DAY, NOW, 30, 7, &e);
    assert_int_equal(e.level, CERT_EXPIRY_CRITICAL);
    assert_false(e.expired);
    cert_expiry_classify(NOW - 3600, NOW, 30, 7, &e);
    assert_int_equal(e.level, CERT_EXPIRY_CRITICAL);
    assert_true(e.expired);
    assert_int_equal(e.days_left, -1);
    cert_expiry_classify(NOW + 2 * DAY, NOW, 0, 0, &e); /* both 0: only an expired one alarms */
    assert_int_equal(e.level, CERT_EXPIRY_OK);
    assert_string_equal(cert_expiry_level_name(CERT_EXPIRY_WARNING), "warning");
}

static void test_expiry_sentences(void **state)
{
    struct cert_expiry e;
    char *s;

    cert_expiry_classify(NOW + 31 * DAY, NOW, 30, 7, &e);
    assert_null(cert_expiry_sentence(&e, NULL));
    cert_expiry_classify(NOW + 10 * DAY, NOW, 30, 7, &e);
    s = cert_expiry_sentence(&e, "en");
    assert_non_null(strstr(s, "expires in 10 days (2027-01-25)"));
    free(s);
    s = cert_expiry_sentence(&e, "ko");
    assert_non_null(strstr(s, "10일 뒤"));
    free(s);
    cert_expiry_classify(NOW - DAY, NOW, 30, 7, &e);
    s = cert_expiry_sentence(&e, NULL);
    assert_non_null(strstr(s, "expired on 2027-01-14"));
    free(s);
}

/* A connected daemon with nothing else to say. */
static void healthy(struct status_report *r)
{
    memset(r, 0, sizeof(*r));
    r->now = NOW;
    health_init(&r->link, NOW - 3700);
    health_link_up(&r->link, NOW - 3600);
    r->started_at = NOW - 3700;
    r->applied = true;
    r->schema = 4;
}

static enum status_level judge(const struct status_report *r, char **first, size_t *n)
{
    char **p = NULL;
    enum status_level level = status_evaluate(r, NULL, &p, n);

    *first = *n > 0 ? strdup(p[0]) : NULL;
    status_problems_free(p, *n);
    return level;
}

static void test_verdict(void **state)
{
    struct status_report r;
    struct status_peer peer = {.jid = "b.example", .state = "stale"};
    char *first;
    size_t n;

    healthy(&r);
    assert_int_equal(judge(&r, &first, &n), STATUS_OK);
    assert_int_equal(n, 0);
    cert_expiry_classify(NOW + 10 * DAY, NOW, 30, 7, &r.cert);
    assert_int_equal(judge(&r, &first, &n), STATUS_WARNING);
    assert_string_equal(first, "certificate expires in 10 days (2027-01-25T08:00:00Z)");
    free(first);
    r.peers = &peer;
    r.n_peers = 1;
    assert_int_equal(judge(&r, &first, &n), STATUS_WARNING);
    assert_int_equal(n, 2);
    free(first);
    health_link_lost(&r.link, NOW - 60, "the router closed the stream");
    assert_int_equal(judge(&r, &first, &n), STATUS_CRITICAL);
    assert_string_equal(first, "router link down since 2027-01-15T07:59:00Z (the router closed "
                               "the stream)");
    free(first);
    r.n_peers = 0;
    healthy(&r);
    r.store_failed = true;
    assert_int_equal(judge(&r, &first, &n), STATUS_UNKNOWN);
    free(first);
}

static void test_summary(void **state)
{
    struct status_report r;
    char **p = NULL, *s;
    size_t n;
    enum status_level level;

    healthy(&r);
    r.sessions = 12;
    level = status_evaluate(&r, NULL, &p, &n);
    s = status_summary(&r, level, p, n, NULL);
    assert_string_equal(s, "IMDOMAIND OK - router connected for 1h 0m, 12 sessions, no "
                           "certificate | uptime=3700s sessions=12 reconnects=0c queued=0B "
                           "store=0B");
    free(s);
    status_problems_free(p, n);
    r.link = (struct health){.started_at = NOW - 3700, .link = HEALTH_LINK_CONNECTING};
    cert_expiry_classify(NOW + 3 * DAY, NOW, 30, 7, &r.cert);
    level = status_evaluate(&r, NULL, &p, &n);
    assert_int_equal(level, STATUS_CRITICAL);
    s = status_summary(&r, level, p, n, NULL);
    assert_string_equal(s, "IMDOMAIND CRITICAL - not connected to the router yet (+1 more) | "
                           "uptime=3700s sessions=12 reconnects=0c queued=0B store=0B "
                           "cert_days=3");
    free(s);
    status_problems_free(p, n);
}

static void test_duration(void **state)
{
    char buf[48];

    status_format_duration(59, buf, sizeof(buf));
    assert_string_equal(buf, "0m 59s");
    status_format_duration(2 * DAY + 3 * 3600 + 4 * 60, buf, sizeof(buf));
    assert_string_equal(buf, "2d 3h 4m");
}

static void test_notify_builtin_sender(void **state)
{
    char dir[] = "/tmp/imd-notify-XXXXXX", path[64], buf[256];
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;
    ssize_t got;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/notify", dir);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(notify_send_to(path, "READY=1\nSTATUS=hello"), 0);
    got = recv(fd, buf, sizeof(buf) - 1, 0);
    assert_true(got > 0);
    buf[got] = '\0';
    assert_string_equal(buf, "READY=1\nSTATUS=hello");
    assert_int_equal(notify_send_to("relative/path", "X=1"), -1);
    close(fd);
    unlink(path);
    /* Nobody listening: an error, not a crash or a block. */
    assert_int_equal(notify_send_to(path, "X=1"), -1);
    rmdir(dir);
    /* The abstract namespace. */
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "imd-test-%d", (int)getpid());
    fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_int_equal(
        bind(fd, (struct sockaddr *)&sa,
             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(sa.sun_path + 1))),
        0);
    snprintf(path, sizeof(path), "@imd-test-%d", (int)getpid());
    assert_int_equal(notify_send_to(path, "WATCHDOG=1"), 0);
    got = recv(fd, buf, sizeof(buf) - 1, 0);
    assert_int_equal(got, 10);
    close(fd);
}

static void test_watchdog_env(void **state)
{
    char pid[24];

    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    assert_int_equal(notify_watchdog_from_env(), 0);
    setenv("WATCHDOG_USEC", "30000000", 1);
    assert_int_equal(notify_watchdog_from_env(), 30000000);
    setenv("WATCHDOG_PID", "1", 1);
    assert_int_equal(notify_watchdog_from_env(), getpid() == 1 ? 30000000 : 0);
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    assert_int_equal(notify_watchdog_from_env(), 30000000);
    setenv("WATCHDOG_USEC", "30s", 1);
    assert_int_equal(notify_watchdog_from_env(), 0);
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expiry_levels), cmocka_unit_test(test_expiry_sentences),
        cmocka_unit_test(test_verdict),       cmocka_unit_test(test_summary),
        cmocka_unit_test(test_duration),      cmocka_unit_test(test_notify_builtin_sender),
        cmocka_unit_test(test_watchdog_env),
    };

    setenv("TZ", "UTC", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
