/* status: how the daemon is, for people and for monitoring: version, uptime, the router link,
 * sessions, jobs, the last sync audit, peers, the certificate's expiry and the store, with the
 * verdict (ok, warning, critical) and its reasons. One result form of labelled fields, readable
 * in every client; `imdomainctl status` turns the verdict into its exit status. */
#include "component/cmd/commands.h"
#include "component/engine/status.h"

#include "util/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>

static void add_str(form_t *f, const char *var, const struct text *label, const char *value)
{
    form_field_add_value(form_add_field(f, var, FIELD_TEXT_SINGLE, label), value ? value : "");
}

static void add_num(form_t *f, const char *var, const struct text *label, long long value)
{
    form_field_add_int(form_add_field(f, var, FIELD_TEXT_SINGLE, label), value);
}

static void add_time(form_t *f, const char *var, const struct text *label, time_t t)
{
    char buf[32] = "-";
    struct tm tm;

    if (t > 0 && gmtime_r(&t, &tm) != NULL)
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    add_str(f, var, label, buf);
}

static void add_verdict(form_t *f, enum status_level level, const char *summary, char **problems,
                        size_t n)
{
    form_field_t *p;

    add_str(f, "state", &(struct text){"State", "상태"}, status_level_value(level));
    add_str(f, "summary", &(struct text){"Summary", "요약"}, summary);
    p = form_add_field(f, "problems", FIELD_TEXT_MULTI, &(struct text){"Problems", "문제"});
    for (size_t i = 0; i < n; i++)
        form_field_add_value(p, problems[i]);
}

static void add_runtime(form_t *f, const struct status_report *r)
{
    char up[48];

    add_str(f, "version", &(struct text){"Version", "버전"}, PACKAGE_VERSION);
    add_time(f, "started_at", &(struct text){"Started (UTC)", "시작 시각(UTC)"}, r->started_at);
    status_format_duration((int64_t)(r->now - r->started_at), up, sizeof(up));
    add_str(f, "uptime", &(struct text){"Uptime", "가동 시간"}, up);
    add_num(f, "uptime_seconds", &(struct text){"Uptime (seconds)", "가동 시간(초)"},
            (long long)(r->now - r->started_at));
    add_str(f, "router_link", &(struct text){"Router link", "라우터 연결"},
            health_link_name(r->link.link));
    add_time(f, "router_since",
             &(struct text){"Router link state since (UTC)", "라우터 연결 상태 시작(UTC)"},
             r->link.link_since);
    add_num(f, "reconnects", &(struct text){"Reconnects", "재연결 횟수"},
            health_reconnects(&r->link));
    add_str(f, "router_last_loss",
            &(struct text){"Last loss of the router link", "마지막 연결 끊김"},
            r->link.last_lost[0] ? r->link.last_lost : "-");
    add_num(f, "queued_bytes",
            &(struct text){"Bytes queued for the router", "라우터로 보낼 대기 바이트"},
            (long long)r->queued);
    add_num(f, "sessions", &(struct text){"Presence sessions tracked", "추적 중인 프레즌스 세션"},
            (long long)r->sessions);
    add_num(f, "online_users", &(struct text){"Online users", "온라인 사용자"},
            (long long)r->online_users);
}

static void add_work(form_t *f, const struct status_report *r)
{
    form_field_t *p;
    char *line;

    add_str(f, "job", &(struct text){"Unfinished job", "끝나지 않은 작업"}, r->job ? r->job : "-");
    add_time(f, "last_audit", &(struct text){"Last sync audit (UTC)", "마지막 동기화 감사(UTC)"},
             r->has_audit ? (time_t)r->audit_time : 0);
    add_str(f, "last_audit_outcome",
            &(struct text){"Last sync audit outcome", "마지막 동기화 감사 결과"},
            r->has_audit ? r->audit_outcome : "-");
    add_str(f, "last_audit_details",
            &(struct text){"Last sync audit details", "마지막 동기화 감사 내용"},
            r->has_audit && r->audit_details[0] ? r->audit_details : "-");
    p = form_add_field(f, "peers", FIELD_TEXT_MULTI,
                       &(struct text){"Peers and their states", "피어와 상태"});
    for (size_t i = 0; i < r->n_peers; i++) {
        line = xasprintf("%s: %s", r->peers[i].jid, r->peers[i].state);
        form_field_add_value(p, line);
        free(line);
    }
    add_str(f, "router_applied", &(struct text){"Router files current", "라우터 파일 최신 여부"},
            r->applied ? "yes" : "no");
}

static void add_cert_and_store(form_t *f, const struct status_report *r)
{
    add_str(f, "cert_state", &(struct text){"Certificate expiry state", "인증서 만료 상태"},
            cert_expiry_level_name(r->cert.level));
    if (r->cert.level == CERT_EXPIRY_NONE)
        add_str(f, "cert_days",
                &(struct text){"Certificate days to expiry", "인증서 만료까지 일수"}, "-");
    else
        add_num(f, "cert_days",
                &(struct text){"Certificate days to expiry", "인증서 만료까지 일수"},
                r->cert.days_left);
    add_time(f, "cert_not_after",
             &(struct text){"Certificate valid until (UTC)", "인증서 유효 종료(UTC)"},
             r->cert.not_after);
    add_num(f, "store_bytes", &(struct text){"Store size (bytes)", "저장소 크기(바이트)"},
            (long long)r->store_bytes);
    add_num(f, "wal_bytes",
            &(struct text){"Store write-ahead log (bytes)", "저장소 WAL 크기(바이트)"},
            (long long)r->wal_bytes);
    add_num(f, "store_schema", &(struct text){"Store schema version", "저장소 스키마 버전"},
            r->schema);
}

static void status_step(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    struct status_report r;
    char **problems = NULL, *summary;
    size_t n = 0;
    enum status_level level;
    form_t *f;

    status_collect(app, time(NULL), &r);
    level = status_evaluate(&r, call->lang, &problems, &n);
    summary = status_summary(&r, level, problems, n, call->lang);
    f = form_new(FORM_RESULT);
    form_set_title(f, &(struct text){"imdomaind status", "imdomaind 상태"});
    add_verdict(f, level, summary, problems, n);
    add_runtime(f, &r);
    add_work(f, &r);
    add_cert_and_store(f, &r);
    adhoc_note_str(call, level == STATUS_OK ? ADHOC_NOTE_INFO : ADHOC_NOTE_WARN, summary);
    cert_expiry_note(call, &r.cert);
    adhoc_complete(call, f);
    free(summary);
    status_problems_free(problems, n);
    status_report_clear(&r);
}

static const struct adhoc_command status_def = {
    .node = STATUS_NODE,
    .name = {"Status of imdomaind", "imdomaind 상태"},
    .step = status_step,
};

int cmd_status_register(struct app *app)
{
    return adhoc_register(app->adhoc, &status_def, app);
}
