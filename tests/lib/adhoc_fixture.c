/* Shared by the unit tests of xmpp/adhoc*.c: the test-only commands, the registry they are
 * registered in (setup, teardown), and the helpers that send requests and read replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/lib/adhoc_fixture.h"
#include "util/log.h"
#include "xmpp/adhoc_outcome.h"
#include "xmpp/stanza.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- test commands ---- */

static const struct text T_DOMAIN = {"Domain", "도메인"};
static const struct text T_ONE = {"Add a domain", "도메인 추가"};

static void one_step(adhoc_call_t *c)
{
    if (c->stage == 0) {
        form_t *f = form_new(FORM_FORM);
        form_set_title(f, &T_ONE);
        form_field_t *d = form_add_field(f, "domain", FIELD_TEXT_SINGLE, &T_DOMAIN);
        form_field_set_required(d, true);
        form_field_set_range(form_add_field(f, "days", FIELD_TEXT_SINGLE, NULL), true, 1, true, 90);
        adhoc_show(c, f, ADHOC_ALLOW_COMPLETE, ADHOC_COMPLETE);
        return;
    }
    char *t = NULL;
    assert_true(asprintf(&t, "added %s for %lld days (%s)", form_value(c->form, "domain"),
                         form_int(c->form, "days", 30),
                         c->action == ADHOC_COMPLETE ? "complete" : "next") > 0);
    adhoc_note_str(c, ADHOC_NOTE_INFO, t);
    free(t);
    adhoc_complete(c, NULL);
}

struct multi_state {
    struct fx *fx;
    char name[64];
};

static void multi_free(void *p)
{
    struct multi_state *st = p;
    st->fx->states_freed++;
    free(st);
}

static void multi_step(adhoc_call_t *c)
{
    struct multi_state *st = c->state;
    form_t *f;

    switch (c->stage) {
    case 0:
        st = calloc(1, sizeof(*st));
        st->fx = c->ctx;
        c->state = st;
        c->state_free = multi_free;
        f = form_new(FORM_FORM);
        form_field_set_required(form_add_field(f, "name", FIELD_TEXT_SINGLE, NULL), true);
        adhoc_show(c, f, ADHOC_ALLOW_NEXT, ADHOC_NEXT);
        break;
    case 1:
        snprintf(st->name, sizeof(st->name), "%s", form_value(c->form, "name"));
        f = form_new(FORM_FORM);
        form_add_fixed(f, &(struct text){"Really?", "정말요?"});
        form_add_field(f, "confirm", FIELD_BOOLEAN, NULL);
        adhoc_show(c, f, ADHOC_ALLOW_PREV | ADHOC_ALLOW_COMPLETE, ADHOC_COMPLETE);
        break;
    default: {
        form_t *r = form_new(FORM_RESULT);
        form_field_add_value(form_add_field(r, "name", FIELD_TEXT_SINGLE, NULL), st->name);
        form_field_add_bool(form_add_field(r, "confirm", FIELD_BOOLEAN, NULL),
                            form_bool(c->form, "confirm", false));
        adhoc_complete(c, r);
    }
    }
}

static void multi_cancel(adhoc_call_t *c)
{
    struct fx *fx = c->ctx;
    fx->cancels++;
    adhoc_note(c, ADHOC_NOTE_INFO, &(struct text){"rolled back", "되돌렸습니다"});
}

static void refuse_step(adhoc_call_t *c)
{
    adhoc_refuse(c, "not-allowed", NULL, "HA is enabled; disable it first");
}

static void fail_step(adhoc_call_t *c)
{
    if (c->stage == 0) {
        form_t *f = form_new(FORM_FORM);
        form_add_fixed(f, &(struct text){"Go?", NULL});
        adhoc_show(c, f, ADHOC_ALLOW_COMPLETE, ADHOC_COMPLETE);
        return;
    }
    adhoc_fail(c, &(struct text){"services are running: stop them first",
                                 "서비스가 실행 중입니다. 먼저 중지하세요"});
}

static void table_step(adhoc_call_t *c)
{
    form_t *t = form_new(FORM_RESULT);
    char name[32];

    form_add_column(t, "domain", FIELD_TEXT_SINGLE, &T_DOMAIN);
    for (int i = 0; i < 250; i++) {
        snprintf(name, sizeof(name), "d%03d.example", i);
        form_add_row(t, (const char *const[]){name});
    }
    adhoc_note(c, ADHOC_NOTE_WARN, &(struct text){"2 certificates are stale", NULL});
    adhoc_complete(c, t);
}

/* A settings-like command: stage 1 checks a time of day itself and rejects a bad one; the
 * form's own declaration rejects days out of range. */
static void reject_step(adhoc_call_t *c)
{
    if (c->stage == 0) {
        form_t *f = form_new(FORM_FORM);
        form_field_t *k;
        form_set_title(f, &(struct text){"Settings", "설정"});
        form_field_add_value(form_add_field(f, "audit_time", FIELD_TEXT_SINGLE,
                                            &(struct text){"Audit time", "감사 시각"}),
                             "02:00");
        form_field_set_range(form_add_field(f, "days", FIELD_TEXT_SINGLE,
                                            &(struct text){"Days to keep", "보관 일수"}),
                             true, 1, true, 90);
        k = form_add_field(f, "kind", FIELD_LIST_SINGLE, &(struct text){"Kind", "종류"});
        form_field_add_option(k, "rsa-2048", NULL);
        form_field_add_option(k, "ec-p256", &(struct text){"EC P-256", NULL});
        form_field_add_value(k, "rsa-2048");
        adhoc_show(c, f, ADHOC_ALLOW_COMPLETE, ADHOC_COMPLETE);
        return;
    }
    const char *t = form_value(c->form, "audit_time");
    if (t == NULL || strlen(t) != 5 || t[2] != ':' || atoi(t) > 23 || atoi(t + 3) > 59) {
        adhoc_reject(c, "audit_time",
                     i18n_is_korean(c->lang) ? "24시간제 HH:MM 시각이어야 합니다"
                                             : "must be a 24-hour HH:MM time");
        return;
    }
    if (strcmp(t, "13:13") == 0) { /* an old-style refusal after a submission */
        adhoc_refuse(c, "bad-request", "bad-payload", "13:13 is unlucky");
        return;
    }
    adhoc_note_str(c, ADHOC_NOTE_INFO, "saved");
    adhoc_complete(c, NULL);
}

/* Two results (fields and a table) and several notes, to show how people see them. */
static void report_step(adhoc_call_t *c)
{
    form_t *a = form_new(FORM_RESULT), *t = form_new(FORM_RESULT);

    form_set_title(a, &(struct text){"Report", "보고"});
    form_field_add_value(
        form_add_field(a, "count", FIELD_TEXT_SINGLE, &(struct text){"Count", "개수"}), "2");
    form_set_title(t, &(struct text){"Domains", "도메인"});
    form_add_column(t, "domain", FIELD_TEXT_SINGLE, &T_DOMAIN);
    form_add_column(t, "managed_by", FIELD_TEXT_SINGLE, &(struct text){"Managed by", "관리 주체"});
    form_add_row(t, (const char *const[]){"a.example", "admin"});
    form_add_row(t, (const char *const[]){"b.example", NULL});
    form_column_value_label(t, "managed_by", "admin", &(struct text){"admin", "관리자"});
    adhoc_note(c, ADHOC_NOTE_INFO, &(struct text){"2 domains.", "도메인 2개."});
    adhoc_note(c, ADHOC_NOTE_WARN,
               &(struct text){"the certificate is stale", "인증서가 오래되었습니다"});
    adhoc_complete(c, a);
    adhoc_add_result(c, t);
}

/* An open list (a job id typed or picked) and a list-multi with nothing chosen. */
static void pick_step(adhoc_call_t *c)
{
    if (c->stage == 0) {
        form_t *f = form_new(FORM_FORM);
        form_field_t *j =
            form_add_field(f, "job", FIELD_LIST_SINGLE, &(struct text){"Job", "작업"});
        form_field_add_option(j, "1", NULL);
        form_field_add_option(j, "2", &(struct text){"second", "두 번째"});
        form_field_set_open(j, true);
        form_field_t *m = form_add_field(f, "tags", FIELD_LIST_MULTI, &(struct text){"Tags", NULL});
        form_field_add_option(m, "x", NULL);
        form_field_add_option(m, "y", NULL);
        form_field_set_open(m, true);
        adhoc_show(c, f, ADHOC_ALLOW_COMPLETE, ADHOC_COMPLETE);
        return;
    }
    const char *const *tags = NULL;
    size_t n = form_values(c->form, "tags", &tags);
    char line[128];
    snprintf(line, sizeof(line), "job=%s tags=%zu:%s,%s", form_value(c->form, "job"), n,
             n > 0 ? tags[0] : "", n > 1 ? tags[1] : "");
    adhoc_note_str(c, ADHOC_NOTE_INFO, line);
    adhoc_complete(c, NULL);
}

static void notes_step(adhoc_call_t *c)
{
    adhoc_note_str(c, ADHOC_NOTE_INFO, "first");
    adhoc_note_str(c, ADHOC_NOTE_ERROR, "second");
    adhoc_complete(c, NULL);
}

/* A job whose progress is polled: stage 1 is the status view, refreshed in place. */
static void poll_step(adhoc_call_t *c)
{
    form_t *f = form_new(FORM_FORM);

    if (c->stage == 0) {
        form_set_title(f, &(struct text){"Job", NULL});
        form_add_field(f, "job", FIELD_TEXT_SINGLE, NULL);
        adhoc_show(c, f, ADHOC_ALLOW_NEXT, ADHOC_NEXT);
        return;
    }
    int *polls = c->state;
    if (polls == NULL) {
        polls = calloc(1, sizeof(*polls));
        c->state = polls;
        c->state_free = free;
    }
    if (c->stage == 2 && c->action == ADHOC_COMPLETE) {
        form_free(f);
        adhoc_complete(c, NULL);
        return;
    }
    char pct[16];
    snprintf(pct, sizeof(pct), "%d%%", ++*polls * 10);
    form_add_fixed(f, &(struct text){pct, NULL});
    if (c->stage == 1)
        adhoc_show(c, f, ADHOC_ALLOW_PREV | ADHOC_ALLOW_NEXT | ADHOC_ALLOW_COMPLETE, ADHOC_NEXT);
    else
        adhoc_replace(c, f, ADHOC_ALLOW_PREV | ADHOC_ALLOW_NEXT | ADHOC_ALLOW_COMPLETE, ADHOC_NEXT);
}

static void open_step(adhoc_call_t *c)
{
    form_t *r = form_new(FORM_RESULT);
    form_field_add_value(form_add_field(r, "onlineusersnum", FIELD_TEXT_SINGLE, NULL), "3");
    adhoc_complete(c, r);
}

static void silent_step(adhoc_call_t *c)
{
    (void)c;
}

/* Waits for something outside (a reload hook) before answering; answers at once when it cannot
 * wait. */
static void later_step(adhoc_call_t *c)
{
    struct fx *fx = c->ctx;

    if (c->stage == 0) {
        form_t *f = form_new(FORM_FORM);
        form_field_set_required(form_add_field(f, "domain", FIELD_TEXT_SINGLE, NULL), true);
        adhoc_show(c, f, ADHOC_ALLOW_COMPLETE, ADHOC_COMPLETE);
        return;
    }
    fx->later = adhoc_defer(c);
    if (fx->later == NULL) {
        adhoc_note_str(c, ADHOC_NOTE_INFO, "applying in the background");
        adhoc_complete(c, NULL);
    }
}

/* Defers and answers within the same step (what certs/import does when the reload hook runs at
 * once): stage 1 shows a second form through the late call and keeps a state; stage 2 completes
 * the same way, reading that state back. */
static void at_once_step(adhoc_call_t *c)
{
    struct fx *fx = c->ctx;
    form_t *f;

    if (c->stage == 0) {
        f = form_new(FORM_FORM);
        form_field_set_required(form_add_field(f, "domain", FIELD_TEXT_SINGLE, NULL), true);
        adhoc_show(c, f, ADHOC_ALLOW_COMPLETE | ADHOC_ALLOW_NEXT, ADHOC_NEXT);
        return;
    }
    adhoc_later_t *l = adhoc_defer(c);
    adhoc_call_t *lc = l ? adhoc_later_call(l) : c;
    assert_int_equal(lc->stage, c->stage);
    assert_non_null(lc->sessionid);
    assert_string_equal(lc->sessionid, c->sessionid);
    if (c->stage == 1) {
        lc->state = strdup(form_value(c->form, "domain"));
        lc->state_free = free;
        f = form_new(FORM_FORM);
        form_add_field(f, "confirm", FIELD_BOOLEAN, NULL);
        adhoc_note_str(lc, ADHOC_NOTE_INFO, "stage one answered at once");
        adhoc_show(lc, f, ADHOC_ALLOW_COMPLETE, ADHOC_COMPLETE);
    } else {
        assert_non_null(lc->state);
        char *t = NULL;
        assert_true(asprintf(&t, "done with %s", (const char *)lc->state) > 0);
        adhoc_note_str(lc, ADHOC_NOTE_INFO, t);
        free(t);
        adhoc_complete(lc, NULL);
    }
    if (l)
        adhoc_later_finish(l);
    fx->n_at_once++;
}

const struct adhoc_command cmd_one = {"test/one", {"One", "하나"}, false, one_step, NULL};
static const struct adhoc_command cmd_multi = {
    "test/multi", {"Multi", "여러 단계"}, false, multi_step, multi_cancel};
static const struct adhoc_command cmd_refuse = {
    "test/refuse", {"Refuse", NULL}, false, refuse_step, NULL};
static const struct adhoc_command cmd_fail = {"test/fail", {"Fail", NULL}, false, fail_step, NULL};
static const struct adhoc_command cmd_table = {
    "test/table", {"Table", NULL}, false, table_step, NULL};
static const struct adhoc_command cmd_poll = {"test/poll", {"Poll", NULL}, false, poll_step, NULL};
static const struct adhoc_command cmd_open = {"test/open", {"Open", "공개"}, true, open_step, NULL};
static const struct adhoc_command cmd_silent = {
    "test/silent", {"Silent", NULL}, false, silent_step, NULL};
static const struct adhoc_command cmd_reject = {
    "test/reject", {"Reject", NULL}, false, reject_step, NULL};
static const struct adhoc_command cmd_report = {
    "test/report", {"Report", NULL}, false, report_step, NULL};
static const struct adhoc_command cmd_pick = {"test/pick", {"Pick", NULL}, false, pick_step, NULL};
static const struct adhoc_command cmd_notes = {
    "test/notes", {"Notes", NULL}, false, notes_step, NULL};
static const struct adhoc_command cmd_later = {
    "test/later", {"Later", NULL}, false, later_step, NULL};
static const struct adhoc_command cmd_at_once = {
    "test/at-once", {"At once", NULL}, false, at_once_step, NULL};

/* ---- fixture ---- */

static uint64_t fake_clock(void *ud)
{
    return ((struct fx *)ud)->now;
}

int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    struct adhoc_limits lim = {
        .max_per_jid = 3, .max_total = 5, .page_rows = 100, .clock = fake_clock, .clock_ud = fx};

    fx->now = 1000000;
    fx->ctx = xmpp_ctx_new(NULL, NULL);
    fx->a = adhoc_new(fx->ctx, &lim);
    assert_int_equal(adhoc_register(fx->a, &cmd_one, fx), 0);
    assert_int_equal(adhoc_register(fx->a, &cmd_multi, fx), 0);
    assert_int_equal(adhoc_register(fx->a, &cmd_refuse, fx), 0);
    assert_int_equal(adhoc_register(fx->a, &cmd_fail, fx), 0);
    assert_int_equal(adhoc_register(fx->a, &cmd_table, fx), 0);
    assert_int_equal(adhoc_register(fx->a, &cmd_poll, fx), 0);
    assert_int_equal(adhoc_register(fx->a, &cmd_open, fx), 0);
    assert_int_equal(adhoc_register(fx->a, &cmd_silent, fx), 0);
    assert_int_equal(adhoc_register(fx->a, &cmd_later, fx), 0);
    assert_int_equal(adhoc_register(fx->a, &cmd_at_once, fx), 0);
    assert_int_equal(adhoc_register(fx->a, &cmd_reject, fx), 0);
    assert_int_equal(adhoc_register(fx->a, &cmd_report, fx), 0);
    assert_int_equal(adhoc_register(fx->a, &cmd_notes, fx), 0);
    assert_int_equal(adhoc_register(fx->a, &cmd_pick, fx), 0);
    *state = fx;
    return 0;
}

int teardown(void **state)
{
    struct fx *fx = *state;
    adhoc_free(fx->a);
    for (int i = 0; i < fx->n_late; i++)
        xmpp_stanza_release(fx->late[i]);
    xmpp_ctx_free(fx->ctx);
    free(fx);
    return 0;
}

/* ---- helpers ---- */

struct out {
    char *s;
    size_t len;
};

static void put(struct out *o, const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b);
    o->s = realloc(o->s, o->len + n + 1);
    assert_non_null(o->s);
    o->len += (size_t)sprintf(o->s + o->len, "%s%s", a, b);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Serialises with attributes sorted by name, so tests can compare text. */
static void canon_into(struct out *o, xmpp_stanza_t *st)
{
    const char *attrs[64];
    int n;

    if (xmpp_stanza_is_text(st)) {
        put(o, xmpp_stanza_get_text_ptr(st), "");
        return;
    }
    n = xmpp_stanza_get_attributes(st, attrs, 64);
    qsort(attrs, (size_t)n / 2, 2 * sizeof(*attrs), by_name);
    put(o, "<", xmpp_stanza_get_name(st));
    for (int i = 0; i < n; i += 2) {
        put(o, " ", attrs[i]);
        put(o, "=\"", attrs[i + 1]);
        put(o, "\"", "");
    }
    if (xmpp_stanza_get_children(st) == NULL) {
        put(o, "/>", "");
        return;
    }
    put(o, ">", "");
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(st); c; c = xmpp_stanza_get_next(c))
        canon_into(o, c);
    put(o, "</", xmpp_stanza_get_name(st));
    put(o, ">", "");
}

char *canon(xmpp_stanza_t *st)
{
    struct out o = {calloc(1, 1), 0};
    canon_into(&o, st);
    return o.s;
}

void assert_contains(xmpp_stanza_t *st, const char *needle)
{
    char *s = canon(st);
    if (strstr(s, needle) == NULL)
        fail_msg("'%s' not found in: %s", needle, s);
    free(s);
}

void assert_lacks(xmpp_stanza_t *st, const char *needle)
{
    char *s = canon(st);
    if (strstr(s, needle) != NULL)
        fail_msg("'%s' found in: %s", needle, s);
    free(s);
}

/* Sends <iq type='set'> with `body` from `from` and returns the reply. */
xmpp_stanza_t *send_as(struct fx *fx, const char *from, bool admin, const char *lang,
                       const char *body)
{
    char *xml = NULL;

    assert_true(asprintf(&xml, "<iq type='set' id='q1' from='%s' to='imd.example'%s%s%s>%s</iq>",
                         from, lang ? " xml:lang='" : "", lang ? lang : "", lang ? "'" : "",
                         body) > 0);
    xmpp_stanza_t *iq = xmpp_stanza_new_from_string(fx->ctx, xml);
    assert_non_null(iq);
    xmpp_stanza_t *reply = adhoc_handle(fx->a, iq, from, admin);
    assert_non_null(reply);
    assert_string_equal(xmpp_stanza_get_id(reply), "q1");
    assert_string_equal(xmpp_stanza_get_to(reply), from);
    assert_string_equal(xmpp_stanza_get_from(reply), "imd.example");
    xmpp_stanza_release(iq);
    free(xml);
    return reply;
}

xmpp_stanza_t *send_fmt(struct fx *fx, const char *fmt, ...)
{
    char *body = NULL;
    va_list ap;

    va_start(ap, fmt);
    assert_true(vasprintf(&body, fmt, ap) > 0);
    va_end(ap);
    xmpp_stanza_t *r = send_as(fx, ADMIN, true, NULL, body);
    free(body);
    return r;
}

xmpp_stanza_t *command_of(xmpp_stanza_t *reply)
{
    return stanza_child(reply, "command", NS_COMMANDS);
}

void assert_status(xmpp_stanza_t *reply, const char *status)
{
    xmpp_stanza_t *cmd = command_of(reply);

    assert_string_equal(xmpp_stanza_get_type(reply), "result");
    assert_non_null(cmd);
    assert_string_equal(xmpp_stanza_get_attribute(cmd, "status"), status);
    assert_non_null(xmpp_stanza_get_attribute(cmd, "node"));
    assert_non_null(xmpp_stanza_get_attribute(cmd, "sessionid"));
}

/* Copies the reply's session id into `sid` and releases the reply. */
void take_sid(xmpp_stanza_t *reply, char sid[64])
{
    snprintf(sid, 64, "%s", xmpp_stanza_get_attribute(command_of(reply), "sessionid"));
    xmpp_stanza_release(reply);
}

void assert_error(xmpp_stanza_t *reply, const char *type, const char *cond, const char *app)
{
    xmpp_stanza_t *err = stanza_child(reply, "error", NULL);

    assert_string_equal(xmpp_stanza_get_type(reply), "error");
    assert_non_null(err);
    assert_string_equal(xmpp_stanza_get_type(err), type);
    assert_non_null(stanza_child(err, cond, NS_STANZAS_));
    if (app)
        assert_non_null(stanza_child(err, app, NS_COMMANDS));
    else
        assert_null(stanza_child(err, NULL, NS_COMMANDS));
}

void release_error(xmpp_stanza_t *reply, const char *type, const char *cond, const char *app)
{
    assert_error(reply, type, cond, app);
    xmpp_stanza_release(reply);
}

void assert_error_text(xmpp_stanza_t *reply, const char *needle)
{
    xmpp_stanza_t *t = stanza_child(stanza_child(reply, "error", NULL), "text", NS_STANZAS_);
    assert_non_null(t);
    char *s = xmpp_stanza_get_text(t);
    if (strstr(s, needle) == NULL)
        fail_msg("'%s' not in error text '%s'", needle, s);
    xmpp_free(xmpp_stanza_get_context(reply), s);
}

void keep_late(void *ud, xmpp_stanza_t *reply)
{
    struct fx *fx = ud;

    assert_true(fx->n_late < 4);
    fx->late[fx->n_late++] = reply;
}

xmpp_stanza_t *send_async(struct fx *fx, const char *body)
{
    char *xml = NULL;
    xmpp_stanza_t *iq, *reply;

    assert_true(asprintf(&xml, "<iq type='set' id='q2' from='%s' to='imd.example'>%s</iq>", ADMIN,
                         body) > 0);
    iq = xmpp_stanza_new_from_string(fx->ctx, xml);
    reply = adhoc_handle_async(fx->a, iq, ADMIN, true, keep_late, fx);
    xmpp_stanza_release(iq); /* a deferred answer must not need the request any more */
    free(xml);
    return reply;
}

xmpp_stanza_t *send_async_fmt(struct fx *fx, const char *fmt, ...)
{
    char *body = NULL;
    va_list ap;

    va_start(ap, fmt);
    assert_true(vasprintf(&body, fmt, ap) > 0);
    va_end(ap);
    xmpp_stanza_t *r = send_async(fx, body);
    free(body);
    return r;
}
