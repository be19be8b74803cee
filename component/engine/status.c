/* Gathering the status report and judging it (see status.h). */
#include "component/engine/status.h"

#include "component/engine/job.h"
#include "component/engine/peers_window.h"
#include "component/engine/sessions.h"
#include "component/engine/sync.h"
#include "store/store_audit.h"
#include "store/store_job.h"
#include "store/store_peer.h"
#include "store/store_settings.h"
#include "store/store_stats.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void collect_link(struct app *app, time_t now, struct status_report *r)
{
    if (app->health != NULL) {
        r->link = *app->health;
        r->queued = health_queued(app->health);
    } else {
        health_init(&r->link, now);
    }
    r->started_at = r->link.started_at;
    r->link.queued = NULL; /* a copy: never call back into the daemon through it */
    r->link.queued_ud = NULL;
}

static void collect_job(struct app *app, struct status_report *r)
{
    struct store_job j;
    enum store_rc rc = store_job_get_active(app->store, &j);

    if (rc == STORE_OK) {
        r->job = job_label(&j, NULL);
        r->job_failed = j.state == STORE_JOB_FAILED;
        store_job_clear(&j);
    } else if (rc != STORE_NOTFOUND) {
        r->store_failed = true;
    }
}

static void collect_audit(struct app *app, struct status_report *r)
{
    struct store_audit a;
    enum store_rc rc = store_audit_last(app->store, SYNC_NODE, &a);

    if (rc == STORE_OK) {
        r->has_audit = true;
        r->audit_time = a.time;
        r->audit_outcome = xstrdup(store_outcome_name(a.outcome));
        r->audit_details = xstrdup(a.details);
        store_audit_clear(&a);
    } else if (rc != STORE_NOTFOUND) {
        r->store_failed = true;
    }
}

static void collect_peers(struct app *app, struct status_report *r)
{
    struct store_peer *list = NULL;
    size_t n = 0;
    int64_t since = peers_counted_now(app);

    if (store_peer_list(app->store, &list, &n) != STORE_OK) {
        r->store_failed = true;
        return;
    }
    r->peers = xcalloc(n ? n : 1, sizeof(*r->peers));
    for (size_t i = 0; i < n; i++) {
        r->peers[i].jid = xstrdup(list[i].jid);
        r->peers[i].state = peers_state_name(&list[i], since);
    }
    r->n_peers = n;
    store_peer_list_free(list, n);
}

static void collect_store(struct app *app, struct status_report *r)
{
    struct store_settings s = {0};
    struct stat sb;
    char *wal = xasprintf("%s-wal", app->cfg->store_path);

    if (store_size_bytes(app->store, &r->store_bytes) != STORE_OK)
        r->store_failed = true;
    r->wal_bytes = stat(wal, &sb) == 0 ? (int64_t)sb.st_size : 0;
    free(wal);
    r->schema = store_schema_version(app->store);
    if (r->schema < 0)
        r->store_failed = true;
    if (store_settings_get(app->store, &s) == STORE_OK) {
        r->applied = s.domains_applied;
        r->apply_error = s.apply_error ? xstrdup(s.apply_error) : NULL;
        store_settings_clear(&s);
    } else {
        r->store_failed = true;
    }
}

void status_collect(struct app *app, time_t now, struct status_report *out)
{
    memset(out, 0, sizeof(*out));
    out->now = now;
    collect_link(app, now, out);
    out->sessions = sessions_total(app->sessions);
    out->online_users = sessions_online_users(app->sessions);
    collect_job(app, out);
    collect_audit(app, out);
    collect_peers(app, out);
    cert_expiry_check(app->cfg, now, &out->cert);
    collect_store(app, out);
    if (out->store_failed)
        log_warnx("status: the store could not be read in full: %s", store_errmsg(app->store));
}

void status_report_clear(struct status_report *r)
{
    free(r->job);
    free(r->audit_outcome);
    free(r->audit_details);
    for (size_t i = 0; i < r->n_peers; i++)
        free(r->peers[i].jid);
    free(r->peers);
    free(r->apply_error);
    memset(r, 0, sizeof(*r));
}

/* ---- the verdict ---- */

const char *status_level_name(enum status_level level)
{
    static const char *const names[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};

    return (unsigned)level < 4 ? names[level] : "UNKNOWN";
}

const char *status_level_value(enum status_level level)
{
    static const char *const names[] = {"ok", "warning", "critical", "unknown"};

    return (unsigned)level < 4 ? names[level] : "unknown";
}

static void iso_time(time_t t, char *buf, size_t size)
{
    struct tm tm;

    if (t <= 0 || gmtime_r(&t, &tm) == NULL)
        snprintf(buf, size, "-");
    else
        strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void status_format_duration(int64_t seconds, char *buf, size_t size)
{
    int64_t d, h, m;

    if (seconds < 0)
        seconds = 0;
    d = seconds / 86400;
    h = seconds % 86400 / 3600;
    m = seconds % 3600 / 60;
    if (d > 0)
        snprintf(buf, size, "%" PRId64 "d %" PRId64 "h %" PRId64 "m", d, h, m);
    else if (h > 0)
        snprintf(buf, size, "%" PRId64 "h %" PRId64 "m", h, m);
    else
        snprintf(buf, size, "%" PRId64 "m %" PRId64 "s", m, seconds % 60);
}

struct verdict {
    enum status_level level;
    char **v;
    size_t n;
    bool ko;
};

static void raise_to(struct verdict *vd, enum status_level level, const char *en, const char *ko,
                     ...) __attribute__((format(printf, 3, 5)));

/* Adds a reason (the English format picks the arguments; the Korean one must take the same). */
static void raise_to(struct verdict *vd, enum status_level level, const char *en, const char *ko,
                     ...)
{
    va_list ap;
    char buf[512];

    /* UNKNOWN outranks nothing here: the daemon answered, so what it knows is judged. */
    if (level > vd->level)
        vd->level = level;
    if (vd->n == STATUS_MAX_PROBLEMS)
        return;
    va_start(ap, ko);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    vsnprintf(buf, sizeof(buf), vd->ko ? ko : en, ap);
#pragma GCC diagnostic pop
    va_end(ap);
    vd->v = xrealloc(vd->v, (vd->n + 1) * sizeof(*vd->v));
    vd->v[vd->n++] = xstrdup(buf);
}

static void judge_link(struct verdict *vd, const struct status_report *r)
{
    char when[32];

    iso_time(r->link.link_since, when, sizeof(when));
    if (r->link.link == HEALTH_LINK_DOWN)
        raise_to(vd, STATUS_CRITICAL, "router link down since %s (%s)",
                 "라우터 연결이 %s부터 끊겼습니다(%s)", when, r->link.last_lost);
    else if (r->link.link == HEALTH_LINK_CONNECTING)
        raise_to(vd, STATUS_CRITICAL, "not connected to the router yet%s",
                 "아직 라우터에 연결되지 않았습니다%s", "");
}

static void judge_cert(struct verdict *vd, const struct status_report *r)
{
    enum status_level level = r->cert.level == CERT_EXPIRY_CRITICAL  ? STATUS_CRITICAL
                              : r->cert.level == CERT_EXPIRY_WARNING ? STATUS_WARNING
                                                                     : STATUS_OK;
    char day[32];

    if (level == STATUS_OK)
        return;
    iso_time(r->cert.not_after, day, sizeof(day));
    if (r->cert.expired)
        raise_to(vd, level, "certificate expired at %s", "인증서가 %s에 만료되었습니다", day);
    else
        raise_to(vd, level, "certificate expires in %ld days (%s)",
                 "인증서가 %ld일 뒤(%s)에 만료됩니다", r->cert.days_left, day);
}

static void judge_rest(struct verdict *vd, const struct status_report *r)
{
    char when[32];

    if (r->job_failed)
        raise_to(vd, STATUS_WARNING, "job %s failed: Retry or Cancel it in jobs/status",
                 "작업 %s 실패: jobs/status에서 다시 시도하거나 취소하세요", r->job);
    if (r->has_audit && strcmp(r->audit_outcome, "error") == 0) {
        iso_time((time_t)r->audit_time, when, sizeof(when));
        raise_to(vd, STATUS_WARNING, "the last sync audit failed at %s: %s",
                 "마지막 동기화 감사가 %s에 실패했습니다: %s", when, r->audit_details);
    }
    for (size_t i = 0; i < r->n_peers; i++)
        if (strcmp(r->peers[i].state, "ok") != 0 && strcmp(r->peers[i].state, "new") != 0)
            raise_to(vd, STATUS_WARNING, "peer %s is %s", "피어 %s 상태: %s", r->peers[i].jid,
                     r->peers[i].state);
    if (r->apply_error != NULL)
        raise_to(vd, STATUS_WARNING, "the router was not updated: %s",
                 "라우터를 갱신하지 못했습니다: %s", r->apply_error);
    if (r->store_failed)
        raise_to(vd, STATUS_UNKNOWN, "the store could not be read in full (see the log)%s",
                 "저장소를 모두 읽지 못했습니다(로그를 보세요)%s", "");
}

enum status_level status_evaluate(const struct status_report *r, const char *lang, char ***problems,
                                  size_t *n)
{
    struct verdict vd = {.level = STATUS_OK, .ko = i18n_is_korean(lang)};

    judge_link(&vd, r);
    judge_cert(&vd, r);
    judge_rest(&vd, r);
    *problems = vd.v;
    *n = vd.n;
    return vd.level;
}

void status_problems_free(char **problems, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(problems[i]);
    free(problems);
}

/* Performance data (Nagios plugin guidelines: label=value[UOM][;warn;crit]). */
static void perfdata(const struct status_report *r, char *buf, size_t size)
{
    int len =
        snprintf(buf, size, "uptime=%llds sessions=%lld reconnects=%uc queued=%zuB store=%lldB",
                 (long long)(r->now - r->started_at), (long long)r->sessions,
                 health_reconnects(&r->link), r->queued, (long long)r->store_bytes);

    if (r->cert.level != CERT_EXPIRY_NONE && len > 0 && (size_t)len < size)
        snprintf(buf + len, size - (size_t)len, " cert_days=%ld", r->cert.days_left);
}

char *status_summary(const struct status_report *r, enum status_level level, char **problems,
                     size_t n, const char *lang)
{
    bool ko = i18n_is_korean(lang);
    char perf[256], up[48], text[640];

    perfdata(r, perf, sizeof(perf));
    if (n > 1)
        snprintf(text, sizeof(text), ko ? "%s (외 %zu건)" : "%s (+%zu more)", problems[0], n - 1);
    else if (n == 1)
        snprintf(text, sizeof(text), "%s", problems[0]);
    else {
        status_format_duration((int64_t)(r->now - r->link.link_since), up, sizeof(up));
        if (r->cert.level == CERT_EXPIRY_NONE)
            snprintf(text, sizeof(text),
                     ko ? "라우터 연결 %s째, 세션 %lld개, 인증서 없음"
                        : "router connected for %s, %lld sessions, no certificate",
                     up, (long long)r->sessions);
        else
            snprintf(text, sizeof(text),
                     ko ? "라우터 연결 %s째, 세션 %lld개, 인증서 만료까지 %ld일"
                        : "router connected for %s, %lld sessions, certificate valid %ld more days",
                     up, (long long)r->sessions, r->cert.days_left);
    }
    return xasprintf("IMDOMAIND %s - %s | %s", status_level_name(level), text, perf);
}
