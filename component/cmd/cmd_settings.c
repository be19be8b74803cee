/* `settings` (the cluster settings, prefilled, saved in one transaction; a new IM address
 * scheme starts the job that re-derives every user's address) and `audit-log` (who did what and
 * when, newest first, since a moment and by an actor). */
#include "component/cmd/commands.h"

#include "component/engine/domain_rules.h"
#include "component/engine/job.h"
#include "store/store_audit.h"
#include "store/store_settings.h"
#include "store/store_topo.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AUDIT_MAX_ROWS 5000 /* records one audit-log answer returns (paged by the framework) */
#define AUDIT_DEFAULT_SINCE "24h"
#define CHANGES_MAX 8 /* lines in the "what changed" note */

/* internal-server-error naming the store's failure; nothing changed. */
static void store_failed(adhoc_call_t *call, struct app *app)
{
    char *s = xasprintf(i18n_is_korean(call->lang) ? "저장소 오류: %s" : "the store failed: %s",
                        store_errmsg(app->store));

    log_warnx("%s: store error: %s", call->node, store_errmsg(app->store));
    adhoc_refuse(call, "internal-server-error", NULL, s);
    free(s);
}

/* ---- settings: the form ---- */

static const struct text T_ST_TITLE = {"Cluster settings", "클러스터 설정"};
static const struct text T_ST_INSTR = {
    "Change what you need and submit; every change is saved in one step. A new IM address "
    "scheme starts a job that re-derives every user's IM address (follow it with jobs/status). "
    "The default domain has its own command: default-domain.",
    "필요한 값을 바꾸고 제출하세요. 모든 변경은 한 번에 저장됩니다. IM 주소 체계를 바꾸면 모든 "
    "사용자의 IM 주소를 다시 만드는 작업이 시작됩니다(jobs/status에서 확인). 기본 도메인은 "
    "default-domain 명령으로 바꿉니다."};
static const struct text T_SCHEME = {"IM address scheme", "IM 주소 체계"};
static const struct text T_SCHEME_DESC = {
    "userid@default: every IM address is userid@<default domain>. directory-uri: the user's "
    "directory URI is the IM address (the only scheme that allows several domains).",
    "userid@default: 모든 IM 주소가 userid@<기본 도메인>입니다. directory-uri: 사용자의 디렉터리 "
    "URI가 IM 주소입니다(여러 도메인을 쓸 수 있는 유일한 체계)."};
static const struct text T_SCHEME_UD = {"userid@default domain", "userid@기본 도메인"};
static const struct text T_SCHEME_URI = {"Directory URI", "디렉터리 URI"};
static const struct text T_TLS = {"TLS XMPP federation", "TLS XMPP 페더레이션"};
static const struct text T_TLS_DESC = {
    "Federation over TLS uses the cup-xmpp-s2s certificate: regenerate it after domain changes.",
    "TLS 페더레이션은 cup-xmpp-s2s 인증서를 씁니다. 도메인을 바꾼 뒤에는 인증서를 다시 만드세요."};
static const struct text T_WILD = {"Wildcards in XMPP federation certificates",
                                   "XMPP 페더레이션 인증서에 와일드카드 사용"};
static const struct text T_WILD_DESC = {"Adds *.domain SANs to cup-xmpp-s2s for each domain.",
                                        "cup-xmpp-s2s에 도메인마다 *.domain SAN을 넣습니다."};
static const struct text T_PROXY = {"CUCM Domain (SIP proxy)", "CUCM 도메인(SIP 프록시)"};
static const struct text T_PROXY_DESC = {
    "A DNS domain that must match the CUCM cluster's; it defaults to the publisher's DNS domain "
    "(set when a publisher is added). Empty: the publisher's DNS domain.",
    "CUCM 클러스터의 DNS 도메인과 같아야 합니다. 기본값은 퍼블리셔 노드의 DNS 도메인입니다"
    "(퍼블리셔를 추가할 때 설정). 비우면 퍼블리셔의 DNS 도메인입니다."};
static const struct text T_AUDIT = {"Nightly sync audit time", "야간 동기화 감사 시각"};
static const struct text T_AUDIT_DESC = {"24-hour HH:MM, local time (e.g. 02:00).",
                                         "24시간제 HH:MM, 현지 시각(예: 02:00)."};

/* The publisher's DNS domain (the part of its FQDN after the first dot), malloc'd, or "" when
 * there is no publisher or it is named by host name only. */
static char *publisher_dns_domain(struct app *app)
{
    struct store_node *nodes = NULL;
    size_t n = 0;
    const char *dot = NULL;
    char *out;

    if (store_node_list(app->store, &nodes, &n) == STORE_OK && n > 0 &&
        nodes[0].role == STORE_NODE_PUBLISHER)
        dot = strchr(nodes[0].name, '.');
    out = xstrdup(dot ? dot + 1 : "");
    store_node_list_free(nodes, n);
    return out;
}

/* The value the form shows for cucm_domain_sip_proxy: the stored one, or the guide's default. */
static char *effective_proxy(struct app *app, const struct store_settings *s)
{
    return s->cucm_domain_sip_proxy[0] ? xstrdup(s->cucm_domain_sip_proxy)
                                       : publisher_dns_domain(app);
}

static void add_text_field(form_t *form, const char *var, const struct text *label,
                           const struct text *desc, const char *value)
{
    form_field_t *f = form_add_field(form, var, FIELD_TEXT_SINGLE, label);

    form_field_set_desc(f, desc);
    form_field_add_value(f, value);
}

static void add_bool_field(form_t *form, const char *var, const struct text *label,
                           const struct text *desc, bool value)
{
    form_field_t *f = form_add_field(form, var, FIELD_BOOLEAN, label);

    form_field_set_desc(f, desc);
    form_field_add_bool(f, value);
}

static form_t *settings_form(struct app *app, const struct store_settings *s, const char *lang)
{
    form_t *form = form_new(FORM_FORM);
    form_field_t *f;
    char *proxy = effective_proxy(app, s), *line;
    struct text t;

    form_set_title(form, &T_ST_TITLE);
    form_add_instructions(form, &T_ST_INSTR);
    line = xasprintf(i18n_is_korean(lang) ? "기본 도메인: %s" : "Default domain: %s",
                     s->default_domain);
    t = (struct text){line, NULL};
    form_add_fixed(form, &t);
    free(line);
    f = form_add_field(form, "im_address_scheme", FIELD_LIST_SINGLE, &T_SCHEME);
    form_field_set_desc(f, &T_SCHEME_DESC);
    form_field_set_required(f, true);
    form_field_add_option(f, store_im_scheme_name(STORE_SCHEME_USERID_AT_DEFAULT), &T_SCHEME_UD);
    form_field_add_option(f, store_im_scheme_name(STORE_SCHEME_DIRECTORY_URI), &T_SCHEME_URI);
    form_field_add_value(f, store_im_scheme_name(s->im_address_scheme));
    add_bool_field(form, "tls_federation", &T_TLS, &T_TLS_DESC, s->tls_federation);
    add_bool_field(form, "wildcard_sans", &T_WILD, &T_WILD_DESC, s->wildcard_sans);
    add_text_field(form, "cucm_domain_sip_proxy", &T_PROXY, &T_PROXY_DESC, proxy);
    add_text_field(form, "audit_time", &T_AUDIT, &T_AUDIT_DESC, s->audit_time);
    free(proxy);
    return form;
}

static void settings_show(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    struct store_settings s;

    if (store_settings_get(app->store, &s) != STORE_OK) {
        store_failed(call, app);
        return;
    }
    adhoc_show(call, settings_form(app, &s, call->lang), ADHOC_ALLOW_COMPLETE, ADHOC_COMPLETE);
    store_settings_clear(&s);
}

/* ---- settings: checking the submission ---- */

/* "H:MM" or "HH:MM", 00:00-23:59, into out ("HH:MM"); false when not a time of day. */
static bool parse_hhmm(const char *in, char out[6])
{
    size_t len = in ? strlen(in) : 0;
    const char *colon = len == 4 || len == 5 ? in + len - 3 : NULL;
    int h, m;

    if (colon == NULL || *colon != ':')
        return false;
    for (const char *p = in; *p; p++)
        if (p != colon && !isdigit((unsigned char)*p))
            return false;
    h = atoi(in);
    m = atoi(colon + 1);
    if (h > 23 || m > 59)
        return false;
    out[0] = (char)('0' + h / 10);
    out[1] = (char)('0' + h % 10);
    out[2] = ':';
    out[3] = (char)('0' + m / 10);
    out[4] = (char)('0' + m % 10);
    out[5] = '\0';
    return true;
}

/* The submitted values, checked and normalised (the proxy lower-cased, the time HH:MM). */
struct wanted {
    enum store_im_scheme scheme;
    bool tls, wild;
    char proxy[DOMAIN_NAME_BUF];
    char audit[6];
};

/* Reads and checks the submission; on a bad value rejects it (the stage comes back) and returns
 * false. */
static bool settings_read(adhoc_call_t *call, struct wanted *w)
{
    const char *scheme = form_value(call->form, "im_address_scheme");
    const char *proxy = form_value(call->form, "cucm_domain_sip_proxy");
    const char *audit = form_value(call->form, "audit_time");
    bool ko = i18n_is_korean(call->lang);
    enum domain_rule rule = DOMAIN_OK;
    char *text = NULL;
    const char *var = NULL;

    w->tls = form_bool(call->form, "tls_federation", false);
    w->wild = form_bool(call->form, "wildcard_sans", false);
    w->proxy[0] = '\0';
    /* The framework names the field by its label (and var) in front of these reasons. */
    if (scheme == NULL || store_im_scheme_parse(scheme, &w->scheme) == -1) {
        var = "im_address_scheme";
        text = xasprintf(ko ? "userid@default 또는 directory-uri여야 합니다"
                            : "must be userid@default or directory-uri");
    } else if (proxy && *proxy && (rule = domain_rules_check(proxy, w->proxy)) != DOMAIN_OK) {
        var = "cucm_domain_sip_proxy";
        text = xasprintf(ko ? "'%.255s'은(는) 쓸 수 없습니다: %s" : "'%.255s' cannot be used: %s",
                         proxy, domain_rules_explain(rule, call->lang));
    } else if (!parse_hhmm(audit, w->audit)) {
        var = "audit_time";
        text = xasprintf(ko ? "'%.32s'은(는) 24시간제 HH:MM 시각이어야 합니다(예: 02:00)"
                            : "'%.32s' is not a 24-hour HH:MM time (e.g. 02:00)",
                         audit ? audit : "");
    }
    if (text == NULL)
        return true;
    adhoc_reject(call, var, text);
    free(text);
    return false;
}

/* ---- settings: saving ---- */

struct changes {
    char *lines[CHANGES_MAX];
    size_t n;
    bool cert; /* a change that the certificate must follow */
};

static void changes_clear(struct changes *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->lines[i]);
    c->n = 0;
}

static void note_change(struct changes *c, const char *var, const char *from, const char *to)
{
    if (strcmp(from, to) == 0 || c->n == CHANGES_MAX)
        return;
    c->lines[c->n++] = xasprintf("%s: %s → %s", var, *from ? from : "\"\"", *to ? to : "\"\"");
}

static const char *onoff(bool b)
{
    return b ? "on" : "off";
}

/* Applies `w` to *s (the stored settings), listing what changed. The scheme is left to the
 * job. A proxy equal to the shown default is no change when none was stored. */
static void merge_settings(struct app *app, struct store_settings *s, const struct wanted *w,
                           struct changes *c)
{
    char *shown = effective_proxy(app, s);

    note_change(c, "tls_federation", onoff(s->tls_federation), onoff(w->tls));
    note_change(c, "wildcard_sans", onoff(s->wildcard_sans), onoff(w->wild));
    /* the certificate follows the wildcard setting, and is needed once federation is on */
    c->cert = s->wildcard_sans != w->wild || (w->tls && !s->tls_federation);
    if (strcmp(shown, w->proxy) != 0) {
        note_change(c, "cucm_domain_sip_proxy", s->cucm_domain_sip_proxy, w->proxy);
        free(s->cucm_domain_sip_proxy);
        s->cucm_domain_sip_proxy = xstrdup(w->proxy);
    }
    note_change(c, "audit_time", s->audit_time, w->audit);
    free(s->audit_time);
    s->audit_time = xstrdup(w->audit);
    s->tls_federation = w->tls;
    s->wildcard_sans = w->wild;
    free(shown);
}

/* Why the scheme may not change now (malloc'd, in `lang`), or NULL. */
static char *scheme_refusal(struct app *app, const char *lang)
{
    struct store_job j;
    char *d, *why;

    if (store_job_get_active(app->store, &j) != STORE_OK)
        return NULL;
    d = job_describe(&j, lang);
    why = xasprintf(i18n_is_korean(lang)
                        ? "다른 작업이 진행 중이라 IM 주소 체계를 바꿀 수 없어 아무것도 저장하지 "
                          "않았습니다(%s). 작업이 끝나기를 기다리거나 jobs/status에서 재시도 또는 "
                          "취소한 뒤 다시 제출하세요"
                        : "nothing was saved: the IM address scheme cannot change while another "
                          "job is in flight (%s); wait for it to end, or Retry or Cancel it in "
                          "jobs/status, then submit again",
                    d);
    free(d);
    store_job_clear(&j);
    return why;
}

/* The completion: what changed, the job started, the certificate to regenerate. */
static void settings_answer(adhoc_call_t *call, const struct changes *c, int64_t job)
{
    bool ko = i18n_is_korean(call->lang);
    size_t len = 1;
    char *all, *note;

    for (size_t i = 0; i < c->n; i++)
        len += strlen(c->lines[i]) + 2;
    all = xcalloc(1, len);
    for (size_t i = 0; i < c->n; i++) {
        if (i)
            strcat(all, "; ");
        strcat(all, c->lines[i]);
    }
    note = c->n == 0 ? xstrdup(ko ? "바뀐 설정이 없습니다" : "nothing changed")
                     : xasprintf(ko ? "저장했습니다: %s" : "saved: %s", all);
    adhoc_complete(call, NULL);
    adhoc_note_str(call, ADHOC_NOTE_INFO, note);
    free(note);
    free(all);
    if (job > 0) {
        note = xasprintf(ko ? "작업 %" PRId64 "이(가) 모든 사용자의 IM 주소를 새 체계로 다시 "
                              "만듭니다. jobs/status에서 진행 상황을 볼 수 있습니다"
                            : "job %" PRId64 " re-derives every user's IM address under the new "
                              "scheme; follow it with jobs/status",
                         job);
        adhoc_note_str(call, ADHOC_NOTE_INFO, note);
        free(note);
    }
    if (c->cert)
        adhoc_note_str(call, ADHOC_NOTE_WARN,
                       ko ? "cup-xmpp-s2s 인증서에 반영하려면 certs/regenerate를 실행하세요"
                          : "run certs/regenerate for cup-xmpp-s2s to follow this change");
}

/* In one transaction: the plain settings, then the scheme (through its job). Returns the
 * store's verdict; *why is set (and STORE_CONFLICT returned) when the scheme may not change. */
static enum store_rc settings_save(struct app *app, const struct wanted *w, const char *lang,
                                   struct changes *c, int64_t *job, char **why)
{
    struct store_settings s;
    enum store_rc rc = store_settings_get(app->store, &s);
    bool new_scheme = rc == STORE_OK && s.im_address_scheme != w->scheme;

    if (rc == STORE_OK && new_scheme && (*why = scheme_refusal(app, lang)) != NULL)
        rc = STORE_CONFLICT;
    if (rc == STORE_OK) {
        merge_settings(app, &s, w, c);
        rc = store_settings_set(app->store, &s);
    }
    if (rc == STORE_OK && new_scheme) {
        note_change(c, "im_address_scheme", store_im_scheme_name(s.im_address_scheme),
                    store_im_scheme_name(w->scheme));
        rc = job_create(app->store, STORE_JOB_IM_SCHEME, store_im_scheme_name(w->scheme), job);
    }
    store_settings_clear(&s);
    return rc;
}

static void settings_submit(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    struct wanted w;
    struct changes c = {0};
    int64_t job = 0;
    char *why = NULL;
    enum store_rc rc;

    if (!settings_read(call, &w))
        return;
    rc = store_begin(app->store);
    if (rc == STORE_OK)
        rc = settings_save(app, &w, call->lang, &c, &job, &why);
    if (rc == STORE_OK)
        rc = store_commit(app->store);
    if (rc != STORE_OK) {
        if (why) {
            struct text t = {why, NULL};
            adhoc_fail(call, &t);
        } else {
            store_failed(call, app);
        }
        store_rollback(app->store);
    } else {
        if (job > 0 && app->jobs)
            job_runner_kick(app->jobs);
        settings_answer(call, &c, job);
    }
    free(why);
    changes_clear(&c);
}

static void settings_step(adhoc_call_t *call)
{
    if (call->stage == 0)
        settings_show(call);
    else
        settings_submit(call);
}

static const struct adhoc_command settings_def = {
    .node = "settings",
    .name = {"Cluster settings", "클러스터 설정"},
    .step = settings_step,
};

/* ---- audit-log ---- */

static const struct text T_AL_TITLE = {"Audit log", "감사 로그"};
static const struct text T_AL_INSTR = {
    "since: how far back, as a duration (30m, 24h, 7d, 2w), a date (2026-11-30, from 00:00 UTC) "
    "or a date and time (2026-11-30T08:00:00Z, or with an offset such as +09:00); empty shows "
    "everything. actor: a bare JID (admin@example.com), or uid:N for the local control socket; "
    "empty shows everyone. Times are UTC, newest first.",
    "since: 얼마나 거슬러 올라갈지. 기간(30m, 24h, 7d, 2w), 날짜(2026-11-30, UTC 00:00부터) 또는 "
    "날짜와 시각(2026-11-30T08:00:00Z, 또는 +09:00 같은 오프셋)으로 적습니다. 비우면 전부 "
    "보여 줍니다. actor: 베어 JID(admin@example.com) 또는 로컬 제어 소켓의 uid:N. 비우면 모든 "
    "사용자를 보여 줍니다. 시각은 UTC이며 최신 기록이 먼저 나옵니다."};
static const struct text T_SINCE = {"Since", "시작 시점"};
static const struct text T_ACTOR = {"Actor", "수행자"};
static const struct text C_TIME = {"Time (UTC)", "시각(UTC)"};
static const struct text C_ACTOR = {"Actor", "수행자"};
static const struct text C_NODE = {"Command", "명령"};
static const struct text C_OUTCOME = {"Outcome", "결과"};
static const struct text C_DETAILS = {"Details", "세부 정보"};

static void audit_show(adhoc_call_t *call)
{
    form_t *form = form_new(FORM_FORM);
    form_field_t *f;

    form_set_title(form, &T_AL_TITLE);
    form_add_instructions(form, &T_AL_INSTR);
    f = form_add_field(form, "since", FIELD_TEXT_SINGLE, &T_SINCE);
    form_field_add_value(f, AUDIT_DEFAULT_SINCE);
    form_add_field(form, "actor", FIELD_TEXT_SINGLE, &T_ACTOR);
    adhoc_show(call, form, ADHOC_ALLOW_COMPLETE, ADHOC_COMPLETE);
}

/* "30m", "24h", "7d", "2w" (a count of s/m/h/d/w back from now) into seconds. */
static bool parse_duration(const char *s, int64_t *secs)
{
    static const char units[] = "smhdw";
    static const int64_t scale[] = {1, 60, 3600, 86400, 7 * 86400};
    char *end = NULL;
    long long n;
    const char *u;

    if (!isdigit((unsigned char)*s))
        return false;
    n = strtoll(s, &end, 10);
    while (*end == ' ')
        end++;
    if (*end == '\0' || end[1] != '\0' ||
        (u = strchr(units, tolower((unsigned char)*end))) == NULL || n > 100LL * 365 * 86400)
        return false;
    *secs = n * scale[u - units];
    return true;
}

/* "YYYY-MM-DD" (00:00 UTC) or "YYYY-MM-DDThh:mm[:ss][.frac](Z|±hh:mm)" (T or a space) into
 * unix seconds. */
static bool parse_iso(const char *s, int64_t *out)
{
    struct tm tm = {0};
    int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, n = 0, k = 0;
    char sign = 0;

    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return false;
    if (s[n] != '\0') {
        if ((s[n] != 'T' && s[n] != 't' && s[n] != ' ') ||
            sscanf(s + n + 1, "%2d:%2d%n", &h, &mi, &k) != 2)
            return false;
        n += 1 + k;
        if (s[n] == ':' && sscanf(s + n + 1, "%2d%n", &sec, &k) == 1)
            n += 1 + k;
        if (s[n] == '.')
            for (n++; isdigit((unsigned char)s[n]); n++)
                ;
        if (s[n] == 'Z' || s[n] == 'z')
            n++;
        else if ((s[n] == '+' || s[n] == '-') &&
                 sscanf(s + n + 1, "%2d:%2d%n", &oh, &om, &k) == 2 && k == 5) {
            sign = s[n];
            n += 1 + k;
        } else {
            return false;
        }
    }
    if (s[n] != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 ||
        oh > 23 || om > 59)
        return false;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *out = (int64_t)timegm(&tm) - (sign == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    return true;
}

/* The `since` value into a unix time (0: everything); false when it is none of the forms. */
static bool parse_since(const char *s, int64_t *out)
{
    int64_t secs;

    if (s == NULL || *s == '\0') {
        *out = 0;
        return true;
    }
    if (parse_duration(s, &secs)) {
        *out = (int64_t)time(NULL) - secs;
        return true;
    }
    return parse_iso(s, out);
}

static void iso_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "%" PRId64, t);
}

static form_t *audit_table(const struct store_audit *list, size_t n)
{
    form_t *form = form_new(FORM_RESULT);
    char when[32];

    form_set_title(form, &T_AL_TITLE);
    form_add_column(form, "time", FIELD_TEXT_SINGLE, &C_TIME);
    form_add_column(form, "actor", FIELD_TEXT_SINGLE, &C_ACTOR);
    form_add_column(form, "node", FIELD_TEXT_SINGLE, &C_NODE);
    form_add_column(form, "outcome", FIELD_TEXT_SINGLE, &C_OUTCOME);
    form_add_column(form, "details", FIELD_TEXT_SINGLE, &C_DETAILS);
    for (size_t i = 0; i < n; i++) {
        const char *cells[5] = {when, list[i].actor, list[i].node,
                                store_outcome_name(list[i].outcome), list[i].details};
        iso_time(list[i].time, when);
        form_add_row(form, cells);
    }
    return form;
}

static void audit_submit(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    const char *since_raw = form_value(call->form, "since");
    const char *actor_raw = form_value(call->form, "actor");
    bool ko = i18n_is_korean(call->lang);
    struct store_audit *list = NULL;
    size_t n = 0;
    int64_t since;
    char *actor, *note;

    if (!parse_since(since_raw, &since)) {
        note = xasprintf(ko ? "since '%.64s'을(를) 읽을 수 없습니다. 24h, 7d 같은 기간이나 "
                              "2026-11-30, 2026-11-30T08:00:00Z 같은 UTC 시각을 쓰세요"
                            : "since '%.64s' is not understood: use a duration such as 24h or "
                              "7d, or a UTC time such as 2026-11-30 or 2026-11-30T08:00:00Z",
                         since_raw);
        adhoc_refuse(call, "bad-request", "bad-payload", note);
        free(note);
        return;
    }
    actor = app_actor(actor_raw); /* a full JID counts as its bare JID */
    if (store_audit_list(app->store, since, actor, AUDIT_MAX_ROWS, &list, &n) != STORE_OK) {
        store_failed(call, app);
        free(actor);
        return;
    }
    adhoc_complete(call, audit_table(list, n));
    note = xasprintf(ko ? "기록 %zu건%s" : "%zu record(s)%s", n,
                     n < AUDIT_MAX_ROWS ? ""
                     : ko               ? " (최신 기록만; 범위를 좁히세요)"
                                        : " (the newest only; narrow the range)");
    adhoc_note_str(call, ADHOC_NOTE_INFO, note);
    free(note);
    free(actor);
    store_audit_list_free(list, n);
}

static void audit_step(adhoc_call_t *call)
{
    if (call->stage == 0)
        audit_show(call);
    else
        audit_submit(call);
}

static const struct adhoc_command audit_def = {
    .node = "audit-log",
    .name = {"Audit log", "감사 로그"},
    .step = audit_step,
};

int cmd_settings_register(struct app *app)
{
    if (adhoc_register(app->adhoc, &settings_def, app) < 0)
        return -1;
    return adhoc_register(app->adhoc, &audit_def, app);
}
