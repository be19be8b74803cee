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

#include "component/config.h"
#include "component/engine/cert_expiry.h"
#include "component/daemon/notify.h"
#include "component/engine/status.h"
#include "component/engine/sync.h"
#include "store/store.h"
#include "store/store_audit.h"
#include "store/store_job.h"
#include "store/store_peer.h"
#include "store/store_settings.h"
#include "tests/lib/store_fault.h"
#include "tests/lib/tmpstore.h"

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

/* Each reason in its own words, the Korean sentences, the "-" for an unknown time, and the cap on
 * the reasons listed (the level still counts every one). */
static void test_verdict_reasons(void **state)
{
    struct status_report r;
    struct status_peer peers[STATUS_MAX_PROBLEMS + 3];
    char **p = NULL, *first;
    size_t n;

    healthy(&r);
    cert_expiry_classify(NOW - 3600, NOW, 30, 7, &r.cert);
    assert_int_equal(judge(&r, &first, &n), STATUS_CRITICAL);
    assert_int_equal(n, 1);
    assert_string_equal(first, "certificate expired at 2027-01-15T07:00:00Z");
    free(first);
    assert_int_equal(status_evaluate(&r, "ko", &p, &n), STATUS_CRITICAL);
    assert_string_equal(p[0], "인증서가 2027-01-15T07:00:00Z에 만료되었습니다");
    status_problems_free(p, n);

    healthy(&r);
    r.job = "#4 default domain → b.example (failed)";
    r.job_failed = true;
    r.has_audit = true;
    r.audit_time = NOW - 60;
    r.audit_outcome = "error";
    r.audit_details = "peer b.example did not answer";
    r.apply_error = "reload refused";
    assert_int_equal(status_evaluate(&r, NULL, &p, &n), STATUS_WARNING);
    assert_int_equal(n, 3);
    assert_string_equal(p[0], "job #4 default domain → b.example (failed) failed: Retry or "
                              "Cancel it in jobs/status");
    assert_string_equal(p[1], "the last sync audit failed at 2027-01-15T07:59:00Z: peer "
                              "b.example did not answer");
    assert_string_equal(p[2], "the router was not updated: reload refused");
    status_problems_free(p, n);
    r.audit_outcome = "ok"; /* a good audit says nothing */
    r.job_failed = false;   /* nor does a running job */
    r.apply_error = NULL;
    assert_int_equal(judge(&r, &first, &n), STATUS_OK);
    assert_int_equal(n, 0);

    /* down since an unknown time: "-", never 1970 */
    healthy(&r);
    health_link_lost(&r.link, 0, "reset");
    assert_int_equal(status_evaluate(&r, "ko", &p, &n), STATUS_CRITICAL);
    assert_string_equal(p[0], "라우터 연결이 -부터 끊겼습니다(reset)");
    status_problems_free(p, n);

    healthy(&r);
    for (size_t i = 0; i < STATUS_MAX_PROBLEMS + 3; i++)
        peers[i] = (struct status_peer){.jid = "p.example", .state = i == 0 ? "new" : "failed"};
    r.peers = peers;
    r.n_peers = STATUS_MAX_PROBLEMS + 3;
    r.store_failed = true; /* judged after the peers: past the cap, yet it sets the level */
    assert_int_equal(status_evaluate(&r, NULL, &p, &n), STATUS_UNKNOWN);
    assert_int_equal(n, STATUS_MAX_PROBLEMS);
    assert_string_equal(p[0], "peer p.example is failed");
    assert_string_equal(p[n - 1], "peer p.example is failed");
    status_problems_free(p, n);
}

static void test_summary_forms(void **state)
{
    struct status_report r;
    char **p = NULL, *s;
    size_t n;
    enum status_level level;

    /* one reason: no "(+N more)" */
    healthy(&r);
    r.apply_error = "reload refused";
    level = status_evaluate(&r, NULL, &p, &n);
    s = status_summary(&r, level, p, n, NULL);
    assert_string_equal(s, "IMDOMAIND WARNING - the router was not updated: reload refused | "
                           "uptime=3700s sessions=0 reconnects=0c queued=0B store=0B");
    free(s);
    status_problems_free(p, n);
    r.job = "#1 x";
    r.job_failed = true;
    level = status_evaluate(&r, "ko", &p, &n);
    s = status_summary(&r, level, p, n, "ko");
    assert_non_null(strstr(s, "IMDOMAIND WARNING - 작업 #1 x 실패"));
    assert_non_null(strstr(s, "(외 1건) | "));
    free(s);
    status_problems_free(p, n);

    /* all well with a certificate: its days in the text and in the performance data */
    healthy(&r);
    r.sessions = 3;
    r.store_bytes = 4096;
    health_link_up(&r.link, NOW - 2 * DAY - 5 * 3600); /* a reconnect */
    cert_expiry_classify(NOW + 40 * DAY, NOW, 30, 7, &r.cert);
    level = status_evaluate(&r, NULL, &p, &n);
    assert_int_equal(level, STATUS_OK);
    s = status_summary(&r, level, p, n, NULL);
    assert_string_equal(s, "IMDOMAIND OK - router connected for 2d 5h 0m, 3 sessions, "
                           "certificate valid 40 more days | uptime=3700s sessions=3 "
                           "reconnects=1c queued=0B store=4096B cert_days=40");
    free(s);
    s = status_summary(&r, level, p, n, "ko");
    assert_non_null(
        strstr(s, "IMDOMAIND OK - 라우터 연결 2d 5h 0m째, 세션 3개, 인증서 만료까지 40일"));
    free(s);
    cert_expiry_check(NULL, NOW, &r.cert); /* no certificate configured */
    s = status_summary(&r, level, p, n, "ko");
    assert_non_null(strstr(s, "세션 3개, 인증서 없음 | "));
    free(s);
    status_problems_free(p, n);

    assert_string_equal(status_level_name(STATUS_WARNING), "WARNING");
    assert_string_equal(status_level_name((enum status_level)7), "UNKNOWN");
    assert_string_equal(status_level_value(STATUS_CRITICAL), "critical");
    assert_string_equal(status_level_value((enum status_level) - 1), "unknown");
}

/* ---- status_collect on a real store ---- */

struct sfx {
    char dir[64];
    char db[96];
    struct config cfg;
    struct app app;
};

static int store_setup(void **state)
{
    struct sfx *fx = calloc(1, sizeof(*fx));
    char *err = NULL;

    if (tmpstore_make(fx->dir, sizeof(fx->dir), fx->db, sizeof(fx->db), "status") != 0)
        return -1;
    config_defaults(&fx->cfg);
    free(fx->cfg.store_path);
    fx->cfg.store_path = strdup(fx->db);
    fx->app.cfg = &fx->cfg;
    fx->app.store = store_open(fx->db, &err);
    if (fx->app.store == NULL)
        return -1;
    *state = fx;
    return 0;
}

static int store_teardown(void **state)
{
    struct sfx *fx = *state;

    assert_int_equal(store_close(fx->app.store), 0);
    config_free(&fx->cfg);
    assert_int_equal(tmpstore_remove(fx->dir, fx->db), 0);
    free(fx);
    return 0;
}

static size_t three_queued(const void *ud)
{
    (void)ud;
    return 3;
}

/* A fresh store and no link yet: nothing found, every figure read, the link still connecting. */
static void test_collect_fresh(void **state)
{
    struct sfx *fx = *state;
    struct status_report r;
    char **p = NULL;
    size_t n;

    status_collect(&fx->app, NOW, &r);
    assert_false(r.store_failed);
    assert_int_equal(r.now, NOW);
    assert_int_equal(r.started_at, NOW);
    assert_int_equal(r.link.link, HEALTH_LINK_CONNECTING);
    assert_null(r.job);
    assert_false(r.has_audit);
    assert_int_equal(r.n_peers, 0);
    assert_true(r.store_bytes > 0);
    assert_true(r.schema > 0);
    assert_null(r.apply_error);
    assert_int_equal(r.cert.level, CERT_EXPIRY_NONE);
    assert_int_equal(status_evaluate(&r, NULL, &p, &n), STATUS_CRITICAL);
    assert_int_equal(n, 1);
    assert_string_equal(p[0], "not connected to the router yet");
    status_problems_free(p, n);
    status_report_clear(&r);
    assert_null(r.peers);
}

/* What the store holds reaches the report and the verdict: a failed job, a failed audit, a peer
 * that never answered, a refused apply; the link is the daemon's (copied, its callback not). */
static void test_collect_troubles(void **state)
{
    struct sfx *fx = *state;
    struct status_report r;
    struct health h;
    struct store_job j;
    int64_t id;
    char **p = NULL;
    size_t n;

    health_init(&h, NOW - 100);
    health_link_up(&h, NOW - 90);
    h.queued = three_queued;
    fx->app.health = &h;
    assert_int_equal(store_job_create(fx->app.store, STORE_JOB_DEFAULT_DOMAIN, "a.example",
                                      "b.example", 10, &id),
                     STORE_OK);
    assert_int_equal(store_job_set_state(fx->app.store, id, STORE_JOB_FAILED, "disk full"),
                     STORE_OK);
    assert_int_equal(store_audit_append(fx->app.store, NOW - 60, "nightly", SYNC_NODE,
                                        STORE_OUTCOME_ERROR, "peer b.example did not answer", NULL),
                     STORE_OK);
    assert_int_equal(store_peer_add(fx->app.store, "b.example", false), STORE_OK);
    assert_int_equal(store_peer_add(fx->app.store, "c.example", false), STORE_OK);
    assert_int_equal(store_peer_mark_failed(fx->app.store, "b.example", "timeout", NOW - 30),
                     STORE_OK);
    assert_int_equal(store_settings_set_applied(fx->app.store, false, "reload refused"), STORE_OK);

    status_collect(&fx->app, NOW, &r);
    assert_false(r.store_failed);
    assert_int_equal(r.started_at, NOW - 100);
    assert_int_equal(r.link.link, HEALTH_LINK_UP);
    assert_int_equal(r.queued, 3);
    assert_null(r.link.queued);
    assert_non_null(r.job);
    assert_true(r.job_failed);
    assert_int_equal(store_job_get(fx->app.store, id, &j), STORE_OK);
    assert_int_equal(j.state, STORE_JOB_FAILED); /* read, not touched */
    store_job_clear(&j);
    assert_true(r.has_audit);
    assert_int_equal(r.audit_time, NOW - 60);
    assert_string_equal(r.audit_outcome, "error");
    assert_string_equal(r.audit_details, "peer b.example did not answer");
    assert_int_equal(r.n_peers, 2);
    for (size_t i = 0; i < 2; i++)
        assert_string_equal(r.peers[i].state,
                            strcmp(r.peers[i].jid, "b.example") == 0 ? "failed" : "new");
    assert_false(r.applied);
    assert_string_equal(r.apply_error, "reload refused");
    assert_int_equal(status_evaluate(&r, NULL, &p, &n), STATUS_WARNING);
    assert_int_equal(n, 4);
    assert_non_null(strstr(p[0], "failed: Retry or Cancel it in jobs/status"));
    assert_string_equal(p[2], "peer b.example is failed");
    status_problems_free(p, n);
    status_report_clear(&r);
    fx->app.health = NULL;
}

/* A store that cannot be read in full: the figures it gave are kept and the verdict is UNKNOWN. */
static void test_collect_store_failed(void **state)
{
    struct sfx *fx = *state;
    struct status_report r;
    char **p = NULL;
    size_t n;

    assert_int_equal(store_fault_sql(fx->db, "ALTER TABLE peers RENAME TO peers_gone;"
                                             "ALTER TABLE jobs RENAME TO jobs_gone;"
                                             "ALTER TABLE audit_log RENAME TO audit_gone;"
                                             "ALTER TABLE settings RENAME TO settings_gone"),
                     0);
    status_collect(&fx->app, NOW, &r);
    assert_true(r.store_failed);
    assert_null(r.job);
    assert_false(r.has_audit);
    assert_int_equal(r.n_peers, 0);
    assert_null(r.apply_error);
    assert_true(r.store_bytes > 0);
    assert_int_equal(status_evaluate(&r, NULL, &p, &n), STATUS_UNKNOWN);
    assert_string_equal(p[n - 1], "the store could not be read in full (see the log)");
    status_problems_free(p, n);
    status_report_clear(&r);
}

static void test_duration(void **state)
{
    char buf[48];

    status_format_duration(59, buf, sizeof(buf));
    assert_string_equal(buf, "0m 59s");
    status_format_duration(2 * DAY + 3 * 3600 + 4 * 60, buf, sizeof(buf));
    assert_string_equal(buf, "2d 3h 4m");
    status_format_duration(3 * 3600 + 61, buf, sizeof(buf));
    assert_string_equal(buf, "3h 1m");
    status_format_duration(-5, buf, sizeof(buf)); /* a clock stepped back */
    assert_string_equal(buf, "0m 0s");
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
        cmocka_unit_test(test_expiry_levels),
        cmocka_unit_test(test_expiry_sentences),
        cmocka_unit_test(test_verdict),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_notify_builtin_sender),
        cmocka_unit_test(test_watchdog_env),
        cmocka_unit_test(test_verdict_reasons),
        cmocka_unit_test(test_summary_forms),
        cmocka_unit_test_setup_teardown(test_collect_fresh, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_collect_troubles, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_collect_store_failed, store_setup, store_teardown),
    };

    setenv("TZ", "UTC", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
