/* federation/check: the probe of federation.h on libuv's thread pool, then an XEP-0199 ping to
 * the remote domain through the router, answered late as a table of steps with their result,
 * time and detail, plus a verdict naming the first step that failed. */
#include "component/cmd/commands.h"
#include "component/engine/domain_rules.h"
#include "component/engine/federation.h"
#include "store/store_settings.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/adhoc_later.h"
#include "xmpp/dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_PING "urn:xmpp:ping"
#define NOT_SET_DOMAIN "DOMAIN.NOT.SET"

/* The names as macros too: a static initializer may not read another object in standard C
 * (gcc allows it; clang, which builds the fuzz targets, does not). */
#define TEXT_TITLE "Check federation with a remote domain", "원격 도메인과의 페더레이션 점검"
static const struct text T_TITLE = {TEXT_TITLE};
static const struct text T_DOMAIN = {"Remote domain", "원격 도메인"};
static const struct text T_STEP = {"Step", "단계"};
static const struct text T_RESULT = {"Result", "결과"};
static const struct text T_MS = {"Time (ms)", "시간(ms)"};
static const struct text T_DETAIL = {"Detail", "세부 내용"};

struct check {
    struct app *app;
    adhoc_later_t *later; /* NULL: answering in the step */
    adhoc_call_t *call;
    char domain[DOMAIN_NAME_BUF];
    char *from;
    struct fed_report report;
    struct timespec ping_started;
    uv_work_t work;
};

static void check_free(struct check *c)
{
    free(c->from);
    free(c);
}

/* ---- the answer ---- */

static const char *state_name(enum fed_state s)
{
    if (s == FED_TOLERATED)
        return "warning";
    return s == FED_OK ? "ok" : s == FED_FAILED ? "failed" : "not run";
}

static form_t *report_table(const struct fed_report *r)
{
    form_t *t = form_new(FORM_RESULT);

    form_set_title(t, &T_TITLE);
    form_add_column(t, "step", FIELD_TEXT_SINGLE, &T_STEP);
    form_add_column(t, "result", FIELD_TEXT_SINGLE, &T_RESULT);
    form_add_column(t, "ms", FIELD_TEXT_SINGLE, &T_MS);
    form_add_column(t, "detail", FIELD_TEXT_SINGLE, &T_DETAIL);
    for (int i = 0; i < FED_STEPS; i++) {
        char ms[16];
        const struct fed_step_result *s = &r->steps[i];
        snprintf(ms, sizeof(ms), "%u", s->ms);
        const char *cells[] = {federation_step_name((enum fed_step)i), state_name(s->state), ms,
                               s->detail};
        form_add_row(t, cells);
    }
    return t;
}

/* The verdict says what works and what does not: the probe checks what a strict peer checks,
 * the ping shows what our router does today, and they can disagree (a certificate valid by its
 * CN only, an untrusted chain our router does not verify). */
static char *verdict_text(const struct check *c, bool ko, enum adhoc_note_type *type)
{
    const struct fed_report *r = &c->report;
    int failed = federation_first_failure(r);
    bool ping_ok = r->steps[FED_PING].state == FED_OK;
    bool cn_only = r->steps[FED_NAME].state == FED_TOLERATED;
    const char *d = c->domain;

    if (failed < 0 && !cn_only) {
        *type = ADHOC_NOTE_INFO;
        return xasprintf(ko ? "%s와 페더레이션할 수 있습니다: 모든 단계가 성공했습니다."
                            : "Federation with %s works: every step succeeded.",
                         d);
    }
    if (failed < 0) { /* the name by CN only, everything else fine, the ping answered */
        *type = ADHOC_NOTE_WARN;
        return xasprintf(
            ko ? "%s와의 페더레이션은 우리 라우터를 통해서는 동작합니다(핑 응답). 인증서의 subject "
                 "CN을 받아들이는 서버(ejabberd)와도 동작합니다. RFC 6125를 따르는 서버(Prosody)는 "
                 "%s를 거부합니다: %s. SAN에 %s를 넣은 인증서로 바꾸십시오."
               : "Federation with %s works through our router (the ping was answered) and with "
                 "servers that accept a certificate by its subject CN (ejabberd does); servers "
                 "that follow RFC 6125 (Prosody does) will refuse %s: %s. Fix: a certificate "
                 "with %s among its SAN dNSNames.",
            d, d, r->steps[FED_NAME].detail, d);
    }
    const char *step = federation_step_name((enum fed_step)failed);
    if (failed != FED_PING && ping_ok) {
        *type = ADHOC_NOTE_WARN;
        return xasprintf(
            ko ? "%s가 우리 라우터를 통한 핑에 응답했으므로 지금 우리 라우터와는 페더레이션이 "
                 "동작합니다. 그러나 %s 단계가 실패했습니다(%s). 이 단계를 확인하는 서버는 %s와 "
                 "페더레이션하지 못합니다."
               : "%s answered the ping through our router, so our router federates with it "
                 "now; but step %s failed (%s), so servers that check this will not federate "
                 "with %s.",
            d, step, r->steps[failed].detail, d);
    }
    *type = ADHOC_NOTE_ERROR;
    if (cn_only) /* the ping failed: the CN-only name is the likely reason */
        return xasprintf(
            ko ? "%s와 페더레이션할 수 없습니다. 실패한 단계: %s (%s). 원인일 가능성이 큰 것: "
                 "인증서가 subject CN으로만 %s를 가리킵니다(%s). RFC 6125를 따르는 서버(Prosody)는 "
                 "이를 거부합니다."
               : "Federation with %s fails at step %s: %s. The likely cause: its certificate "
                 "names %s by its subject CN only (%s); servers that follow RFC 6125 (Prosody "
                 "does) refuse that, ejabberd accepts it.",
            d, step, r->steps[failed].detail, d, r->steps[FED_NAME].detail);
    return xasprintf(ko ? "%s와 페더레이션할 수 없습니다. 실패한 단계: %s (%s)."
                        : "Federation with %s fails at step %s: %s.",
                     d, step, r->steps[failed].detail);
}

static void answer(struct check *c)
{
    adhoc_call_t *call = c->call;
    int failed = federation_first_failure(&c->report);
    bool ko = i18n_is_korean(call->lang);
    enum adhoc_note_type type;
    char *verdict = verdict_text(c, ko, &type);

    adhoc_note_str(call, type, verdict);
    log_info("federation/check: domain=%s verdict=%s", c->domain,
             failed < 0 ? "ok" : federation_step_name((enum fed_step)failed));
    free(verdict);
    adhoc_complete(call, report_table(&c->report));
    if (c->later)
        adhoc_later_finish(c->later);
    check_free(c);
}

/* ---- the ping through the router ---- */

static unsigned since_ms(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (unsigned)((now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000);
}

static void ping_result(struct check *c, bool ok, const char *detail)
{
    struct fed_step_result *s = &c->report.steps[FED_PING];

    s->state = ok ? FED_OK : FED_FAILED;
    s->ms = since_ms(&c->ping_started);
    snprintf(s->detail, sizeof(s->detail), "%s", detail);
}

static void on_pong(void *ud, xmpp_stanza_t *reply)
{
    struct check *c = ud;
    const char *type = reply ? xmpp_stanza_get_type(reply) : NULL;
    xmpp_stanza_t *err = reply ? xmpp_stanza_get_child_by_name(reply, "error") : NULL;
    xmpp_stanza_t *cond = err ? xmpp_stanza_get_children(err) : NULL;
    char detail[FED_DETAIL_MAX];

    if (reply == NULL)
        snprintf(detail, sizeof(detail), "no answer within %d s", c->app->cfg->federation_timeout);
    else if (type && strcmp(type, "result") == 0)
        snprintf(detail, sizeof(detail), "%s answered the ping through the router", c->domain);
    else
        snprintf(detail, sizeof(detail), "the router answered with an error: %s",
                 cond && xmpp_stanza_get_name(cond) ? xmpp_stanza_get_name(cond) : "unknown");
    /* A remote server may answer a ping to its bare domain with service-unavailable or
     * feature-not-implemented: that still proves the s2s link works. */
    ping_result(c,
                reply && type &&
                    (strcmp(type, "result") == 0 ||
                     (cond && xmpp_stanza_get_name(cond) &&
                      (strcmp(xmpp_stanza_get_name(cond), "service-unavailable") == 0 ||
                       strcmp(xmpp_stanza_get_name(cond), "feature-not-implemented") == 0))),
                detail);
    answer(c);
}

static void send_ping(struct check *c)
{
    struct app *app = c->app;
    xmpp_stanza_t *iq, *ping;
    unsigned timeout_ms = (unsigned)app->cfg->federation_timeout * 1000u;

    clock_gettime(CLOCK_MONOTONIC, &c->ping_started);
    if (app->dispatch == NULL || c->later == NULL) {
        /* The daemon answers every request, from the router or the control socket, late;
         * only a direct adhoc_handle call (unit tests) cannot wait for the pong. */
        ping_result(c, false,
                    app->dispatch ? "not sent: this request must be answered at once and cannot "
                                    "wait for the ping's answer"
                                  : "no router link to send the ping through");
        answer(c);
        return;
    }
    iq = xmpp_iq_new(app->ctx, "get", NULL);
    xmpp_stanza_set_to(iq, c->domain);
    xmpp_stanza_set_from(iq, app->cfg->jid);
    ping = xmpp_stanza_new(app->ctx);
    xmpp_stanza_set_name(ping, "ping");
    xmpp_stanza_set_ns(ping, NS_PING);
    xmpp_stanza_add_child_ex(iq, ping, 0);
    if (dispatch_send_iq(app->dispatch, iq, timeout_ms, on_pong, c) < 0) {
        ping_result(c, false, "the router link is down");
        answer(c);
    }
    xmpp_stanza_release(iq);
}

/* ---- the probe on the thread pool ---- */

static void probe(uv_work_t *w)
{
    struct check *c = w->data;
    const struct config *cfg = c->app->cfg;
    struct fed_options o = {
        .domain = c->domain,
        .from = c->from,
        .ca_file = cfg->cert_ca_file,
        .overrides = cfg->federation_resolve,
        .timeout_ms = (unsigned)cfg->federation_timeout * 1000u,
    };

    federation_probe(&o, &c->report);
}

/* Runs on the loop once the probe is done. libuv counts queued work as an active request, so
 * the daemon's first uv_run returns only after this ran: the registry and the dispatcher are
 * alive here (teardown_app frees them later). While the daemon stops, the router link is going
 * away: no ping is sent (it would arm a timer that keeps the stopping loop waiting). */
static void probed(uv_work_t *w, int status)
{
    struct check *c = w->data;

    if (c->later)
        c->call = adhoc_later_call(c->later);
    if (c->app->stopping) {
        log_info("federation/check: domain=%s result dropped reason=stopping", c->domain);
        clock_gettime(CLOCK_MONOTONIC, &c->ping_started);
        ping_result(c, false, "imdomaind is stopping: the ping was not sent");
        answer(c);
        return;
    }
    if (status != 0)
        snprintf(c->report.steps[FED_RESOLVE].detail, FED_DETAIL_MAX, "the probe did not run: %s",
                 uv_strerror(status));
    send_ping(c);
}

/* ---- the command ---- */

static form_t *domain_form(void)
{
    form_t *f = form_new(FORM_FORM);

    form_set_title(f, &T_TITLE);
    form_field_set_required(form_add_field(f, "domain", FIELD_TEXT_SINGLE, &T_DOMAIN), true);
    return f;
}

/* Our default domain for the stream header's from (NULL when not set). */
static char *our_domain(struct app *app)
{
    struct store_settings s = {0};
    char *from = NULL;

    if (store_settings_get(app->store, &s) == STORE_OK &&
        strcmp(s.default_domain, NOT_SET_DOMAIN) != 0)
        from = xstrdup(s.default_domain);
    store_settings_clear(&s);
    return from;
}

static void check_step(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    struct check *c;
    enum domain_rule rule;

    if (call->stage == 0) {
        adhoc_show(call, domain_form(), 0, ADHOC_COMPLETE);
        return;
    }
    c = xcalloc(1, sizeof(*c));
    if ((rule = domain_rules_check(form_value(call->form, "domain"), c->domain)) != DOMAIN_OK) {
        adhoc_refuse(call, "bad-request", "bad-payload", domain_rules_explain(rule, call->lang));
        free(c);
        return;
    }
    c->app = app;
    c->call = call;
    c->from = our_domain(app);
    c->work.data = c;
    log_info("federation/check: domain=%s probing", c->domain);
    if ((c->later = adhoc_defer(call)) != NULL &&
        uv_queue_work(app->loop, &c->work, probe, probed) == 0)
        return;
    probe(&c->work); /* no late answer possible: the loop waits for the probe */
    probed(&c->work, 0);
}

static const struct adhoc_command check_def = {
    .node = "federation/check", .name = {TEXT_TITLE}, .step = check_step};

int cmd_federation_register(struct app *app)
{
    return adhoc_register(app->adhoc, &check_def, app);
}
