/* Unit tests for the XEP-0050 framework: every action and error, client quirks, sessions
 * (owners, expiry on a fake clock, limits), paging, disco and Korean texts, driven by test-only
 * commands defined here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/log.h"
#include "xmpp/adhoc.h"
#include "xmpp/stanza.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN "admin@example.com/laptop"
#define NS_STANZAS_ "urn:ietf:params:xml:ns:xmpp-stanzas"

struct fx {
    xmpp_ctx_t *ctx;
    adhoc_t *a;
    uint64_t now;
    int states_freed;
    int cancels;
    adhoc_later_t *later;   /* test/later: the deferred answer */
    xmpp_stanza_t *late[4]; /* replies delivered late */
    int n_late;
    int n_at_once;  /* test/at-once steps run */
    char ends[512]; /* the end hook's calls, "node how note;" each */
};

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

static const struct adhoc_command cmd_one = {"test/one", {"One", "하나"}, false, one_step, NULL};
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

static int setup(void **state)
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

static int teardown(void **state)
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

static char *canon(xmpp_stanza_t *st)
{
    struct out o = {calloc(1, 1), 0};
    canon_into(&o, st);
    return o.s;
}

static void assert_contains(xmpp_stanza_t *st, const char *needle)
{
    char *s = canon(st);
    if (strstr(s, needle) == NULL)
        fail_msg("'%s' not found in: %s", needle, s);
    free(s);
}

static void assert_lacks(xmpp_stanza_t *st, const char *needle)
{
    char *s = canon(st);
    if (strstr(s, needle) != NULL)
        fail_msg("'%s' found in: %s", needle, s);
    free(s);
}

/* Sends <iq type='set'> with `body` from `from` and returns the reply. */
static xmpp_stanza_t *send_as(struct fx *fx, const char *from, bool admin, const char *lang,
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

static xmpp_stanza_t *send_fmt(struct fx *fx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static xmpp_stanza_t *send_fmt(struct fx *fx, const char *fmt, ...)
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

#define CMD "<command xmlns='http://jabber.org/protocol/commands' "
#define FORM(fields) "<x xmlns='jabber:x:data' type='submit'>" fields "</x>"
#define F(var, v) "<field var='" var "'><value>" v "</value></field>"

static xmpp_stanza_t *command_of(xmpp_stanza_t *reply)
{
    return stanza_child(reply, "command", NS_COMMANDS);
}

static void assert_status(xmpp_stanza_t *reply, const char *status)
{
    xmpp_stanza_t *cmd = command_of(reply);

    assert_string_equal(xmpp_stanza_get_type(reply), "result");
    assert_non_null(cmd);
    assert_string_equal(xmpp_stanza_get_attribute(cmd, "status"), status);
    assert_non_null(xmpp_stanza_get_attribute(cmd, "node"));
    assert_non_null(xmpp_stanza_get_attribute(cmd, "sessionid"));
}

/* Copies the reply's session id into `sid` and releases the reply. */
static void take_sid(xmpp_stanza_t *reply, char sid[64])
{
    snprintf(sid, 64, "%s", xmpp_stanza_get_attribute(command_of(reply), "sessionid"));
    xmpp_stanza_release(reply);
}

static void assert_error(xmpp_stanza_t *reply, const char *type, const char *cond, const char *app)
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

static void release_error(xmpp_stanza_t *reply, const char *type, const char *cond, const char *app)
{
    assert_error(reply, type, cond, app);
    xmpp_stanza_release(reply);
}

static void assert_error_text(xmpp_stanza_t *reply, const char *needle)
{
    xmpp_stanza_t *t = stanza_child(stanza_child(reply, "error", NULL), "text", NS_STANZAS_);
    assert_non_null(t);
    char *s = xmpp_stanza_get_text(t);
    if (strstr(s, needle) == NULL)
        fail_msg("'%s' not in error text '%s'", needle, s);
    xmpp_free(xmpp_stanza_get_context(reply), s);
}

/* ---- tests ---- */

static void test_disco(void **state)
{
    struct fx *fx = *state;
    xmpp_stanza_t *q = xmpp_stanza_new_from_string(fx->ctx, "<query/>");

    assert_int_equal(adhoc_register(fx->a, &cmd_one, fx), -1); /* a node is registered once */
    adhoc_disco_items(fx->a, q, "imd.example", true, "ko");
    assert_contains(q, "<item jid=\"imd.example\" name=\"하나\" node=\"test/one\"/>");
    assert_contains(q, "<item jid=\"imd.example\" name=\"Refuse\" node=\"test/refuse\"/>");
    xmpp_stanza_release(q);
    q = xmpp_stanza_new_from_string(fx->ctx, "<query/>");
    adhoc_disco_items(fx->a, q, "imd.example", false, NULL);
    assert_contains(q, "<query><item jid=\"imd.example\" name=\"Open\" node=\"test/open\"/>"
                       "</query>");
    xmpp_stanza_release(q);

    q = xmpp_stanza_new_from_string(fx->ctx, "<query/>");
    assert_int_equal(adhoc_disco_info(fx->a, "test/multi", q, true, "ko"), 0);
    assert_contains(q, "<identity category=\"automation\" name=\"여러 단계\" "
                       "type=\"command-node\"/><feature var=\"http://jabber.org/protocol/"
                       "commands\"/><feature var=\"jabber:x:data\"/>");
    xmpp_stanza_release(q);
    q = xmpp_stanza_new_from_string(fx->ctx, "<query/>");
    assert_int_equal(adhoc_disco_info(fx->a, NS_COMMANDS, q, false, NULL), 0);
    assert_contains(q, "type=\"command-list\"");
    assert_int_equal(adhoc_disco_info(fx->a, "test/multi", q, false, NULL), -1);
    assert_int_equal(adhoc_disco_info(fx->a, "nope", q, true, NULL), -1);
    xmpp_stanza_release(q);
}

static void test_execute_complete(void **state)
{
    struct fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r = send_fmt(fx, CMD "node='test/one' action='execute'/>");

    assert_status(r, "executing");
    assert_contains(r, "<actions execute=\"complete\"><complete/></actions>");
    assert_contains(r, "<field type=\"hidden\" var=\"FORM_TYPE\"><value>urn:imdomaind:test/one"
                       "</value></field>");
    assert_contains(r, "<title>Add a domain</title>");
    assert_contains(r, "status=\"executing\" xml:lang=\"en\"");
    take_sid(r, sid);
    assert_int_equal(strlen(sid), 32);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 1);

    r = send_fmt(fx,
                 CMD "node='test/one' sessionid='%s' action='complete'>" FORM(
                     F("FORM_TYPE", "urn:imdomaind:test/one") F("domain", "a.example")
                         F("days", "7")) "</command>",
                 sid);
    assert_status(r, "completed");
    assert_contains(r, "<note type=\"info\">added a.example for 7 days (complete)</note>");
    assert_lacks(r, "<actions");
    assert_string_equal(xmpp_stanza_get_attribute(command_of(r), "sessionid"), sid);
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 0);

    /* A late request on the ended session. */
    r = send_fmt(fx, CMD "node='test/one' sessionid='%s' action='complete'/>", sid);
    assert_error(r, "cancel", "not-allowed", "session-expired");
    assert_contains(r, "<command node=\"test/one\" sessionid=\"");
    xmpp_stanza_release(r);
}

static void test_no_action_is_default(void **state)
{
    struct fx *fx = *state;
    char sid[64];

    take_sid(send_fmt(fx, CMD "node='test/one'/>"), sid); /* Psi: no action at all */
    xmpp_stanza_t *r = send_fmt(
        fx, CMD "node='test/one' sessionid='%s'>" FORM(F("domain", "b.example")) "</command>", sid);
    assert_status(r, "completed");
    assert_contains(r, "added b.example for 30 days (complete)");
    xmpp_stanza_release(r);
    /* action='execute' inside a session is the default too. */
    take_sid(send_fmt(fx, CMD "node='test/one'/>"), sid);
    r = send_fmt(fx,
                 CMD "node='test/one' sessionid='%s' action='execute'>" FORM(
                     F("domain", "c.example")) "</command>",
                 sid);
    assert_status(r, "completed");
    xmpp_stanza_release(r);
}

static void test_next_on_last_stage(void **state)
{
    struct fx *fx = *state;
    char sid[64];

    take_sid(send_fmt(fx, CMD "node='test/one' action='execute'/>"), sid);
    xmpp_stanza_t *r = send_fmt(fx,
                                CMD "node='test/one' sessionid='%s' action='next'>" FORM(
                                    F("domain", "d.example")) "</command>",
                                sid);
    assert_status(r, "completed"); /* poezio */
    assert_contains(r, "(complete)");
    xmpp_stanza_release(r);
}

static void test_multi_prev_complete(void **state)
{
    struct fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    r = send_fmt(fx, CMD "node='test/multi' action='execute'/>");
    assert_contains(r, "<actions execute=\"next\"><next/></actions>");
    take_sid(r, sid);
    /* Movim sends complete where only next is offered: it moves on. */
    r = send_fmt(fx,
                 CMD "node='test/multi' sessionid='%s' action='complete'>" FORM(
                     F("name", "alice")) "</command>",
                 sid);
    assert_status(r, "executing");
    assert_contains(r, "<actions execute=\"complete\"><prev/><complete/></actions>");
    assert_contains(r, "<value>Really?</value>");
    xmpp_stanza_release(r);
    /* Back: the first form again, with what was entered. */
    r = send_fmt(fx, CMD "node='test/multi' sessionid='%s' action='prev'/>", sid);
    assert_status(r, "executing");
    assert_contains(r, "<actions execute=\"next\"><next/></actions>");
    assert_contains(r, "<field type=\"text-single\" var=\"name\"><required/><value>alice</value>");
    xmpp_stanza_release(r);
    /* prev is not offered on the first stage. */
    r = send_fmt(fx, CMD "node='test/multi' sessionid='%s' action='prev'/>", sid);
    assert_error(r, "modify", "bad-request", "bad-action");
    assert_error_text(r, "'prev' is not offered at this stage; offered: next, cancel");
    xmpp_stanza_release(r);
    r = send_fmt(
        fx,
        CMD "node='test/multi' sessionid='%s' action='next'>" FORM(F("name", "bob")) "</command>",
        sid);
    assert_status(r, "executing");
    xmpp_stanza_release(r);
    /* next is not offered on the confirmation, but complete is: next means complete. */
    r = send_fmt(fx,
                 CMD "node='test/multi' sessionid='%s' action='next'>" FORM(
                     F("confirm", "true")) "</command>",
                 sid);
    assert_status(r, "completed");
    assert_contains(r, "<x type=\"result\" xmlns=\"jabber:x:data\"><field type=\"text-single\" "
                       "var=\"name\"><value>bob</value></field><field type=\"boolean\" "
                       "var=\"confirm\"><value>1</value></field></x>");
    xmpp_stanza_release(r);
    assert_int_equal(fx->states_freed, 1);
    assert_int_equal(fx->cancels, 0);
}

static void test_cancel_frees(void **state)
{
    struct fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    take_sid(send_fmt(fx, CMD "node='test/multi'/>"), sid);
    r = send_fmt(fx, CMD "node='test/multi' sessionid='%s'>" FORM(F("name", "x")) "</command>",
                 sid);
    assert_status(r, "executing");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, ADMIN), 1);
    r = send_fmt(fx, CMD "node='test/multi' sessionid='%s' action='cancel'/>", sid);
    assert_status(r, "canceled");
    assert_contains(r, "<note type=\"info\">rolled back</note>");
    xmpp_stanza_release(r);
    assert_int_equal(fx->cancels, 1);
    assert_int_equal(fx->states_freed, 1);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 0);
    r = send_fmt(fx, CMD "node='test/multi' sessionid='%s' action='next'/>", sid);
    release_error(r, "cancel", "not-allowed", "session-expired");
    /* A form of type cancel cancels too; so does cancel without a session. */
    take_sid(send_fmt(fx, CMD "node='test/one'/>"), sid);
    r = send_fmt(fx,
                 CMD "node='test/one' sessionid='%s'><x xmlns='jabber:x:data' type='cancel'/>"
                     "</command>",
                 sid);
    assert_status(r, "canceled");
    xmpp_stanza_release(r);
    r = send_fmt(fx, CMD "node='test/one' action='cancel'/>");
    assert_string_equal(xmpp_stanza_get_attribute(command_of(r), "status"), "canceled");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 0);
}

static void test_one_round_trip(void **state)
{
    struct fx *fx = *state;
    xmpp_stanza_t *r;

    r = send_fmt(fx, CMD "node='test/one' action='execute'>" FORM(F("domain", "e.example")
                                                                      F("days", "2")) "</command>");
    assert_status(r, "completed");
    assert_contains(r, "added e.example for 2 days (complete)");
    xmpp_stanza_release(r);
    r = send_fmt(fx, CMD
                 "node='test/one' action='complete'>" FORM(F("domain", "f.example")) "</command>");
    assert_status(r, "completed");
    xmpp_stanza_release(r);
    /* Invalid: bad-payload naming the field, and no session left behind. */
    r = send_fmt(fx, CMD "node='test/one' action='complete'>" FORM(F("days", "91")) "</command>");
    assert_error(r, "modify", "bad-request", "bad-payload");
    assert_error_text(r, "Domain [domain]: a value is required; days: must be a whole number "
                         "from 1 to 90");
    xmpp_stanza_release(r);
    /* A multi-stage command runs its first stage and stops at the second. */
    r = send_fmt(fx, CMD "node='test/multi'>" FORM(F("name", "carol")) "</command>");
    assert_status(r, "executing");
    assert_contains(r, "Really?");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 1);
}

static void test_errors(void **state)
{
    struct fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    r = send_fmt(fx, CMD "node='nope'/>");
    assert_error(r, "cancel", "item-not-found", NULL);
    assert_error_text(r, "there is no command 'nope' here");
    xmpp_stanza_release(r);
    r = send_as(fx, "user@example.com/x", false, NULL, CMD "node='test/one'/>");
    assert_error(r, "auth", "forbidden", NULL);
    assert_error_text(r, "only administrators may run 'test/one'");
    xmpp_stanza_release(r);
    r = send_as(fx, "user@example.com/x", false, NULL, CMD "node='test/open'/>");
    assert_status(r, "completed");
    xmpp_stanza_release(r);
    release_error(send_fmt(fx, CMD "node='test/one' sessionid='deadbeef'/>"), "modify",
                  "bad-request", "bad-sessionid");
    release_error(send_fmt(fx, CMD "node='test/one' action='jump'/>"), "modify", "bad-request",
                  "malformed-action");
    release_error(send_fmt(fx, CMD "node='test/one' action='prev'/>"), "modify", "bad-request",
                  "bad-action");
    release_error(send_fmt(fx, CMD "/>"), "modify", "bad-request", NULL);
    release_error(send_fmt(fx, "<query xmlns='jabber:iq:version'/>"), "modify", "bad-request",
                  NULL);
    release_error(send_fmt(fx, CMD "node='test/silent'/>"), "cancel", "internal-server-error",
                  NULL);
    xmpp_stanza_t *get = xmpp_stanza_new_from_string(
        fx->ctx, "<iq type='get' id='g'><command xmlns='" NS_COMMANDS "' node='test/one'/></iq>");
    release_error(adhoc_handle(fx->a, get, "uid:0", true), "modify", "bad-request", NULL);
    xmpp_stanza_release(get);
    /* Form missing, wrong FORM_TYPE. */
    take_sid(send_fmt(fx, CMD "node='test/one'/>"), sid);
    r = send_fmt(fx, CMD "node='test/one' sessionid='%s' action='complete'/>", sid);
    assert_error(r, "modify", "bad-request", "bad-payload");
    assert_error_text(r, "this stage needs the filled-in form");
    xmpp_stanza_release(r);
    r = send_fmt(fx,
                 CMD "node='test/one' sessionid='%s'>" FORM(F("FORM_TYPE", "urn:imdomaind:x")
                                                                F("domain", "a")) "</command>",
                 sid);
    assert_error(r, "modify", "bad-request", "bad-payload");
    assert_error_text(r, "the FORM_TYPE is 'urn:imdomaind:x' but this stage expects "
                         "'urn:imdomaind:test/one'");
    xmpp_stanza_release(r);
    /* The session survives bad payloads; the session id of another node is unknown there. */
    release_error(send_fmt(fx, CMD "node='test/multi' sessionid='%s'/>", sid), "modify",
                  "bad-request", "bad-sessionid");
    r = send_fmt(fx, CMD "node='test/one' sessionid='%s'>" FORM(F("domain", "a")) "</command>",
                 sid);
    assert_status(r, "completed");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 0);
}

static void test_refuse_and_fail(void **state)
{
    struct fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    r = send_fmt(fx, CMD "node='test/refuse'/>");
    assert_error(r, "cancel", "not-allowed", NULL);
    assert_error_text(r, "HA is enabled; disable it first");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 0);
    take_sid(send_fmt(fx, CMD "node='test/fail'/>"), sid);
    r = send_as(fx, ADMIN, true, "ko",
                "<command xmlns='http://jabber.org/protocol/commands' node='test/fail' "
                "sessionid='' action='complete'/>");
    /* An empty sessionid is no session: this starts again. */
    assert_status(r, "executing");
    xmpp_stanza_release(r);
    char *body = NULL;
    assert_true(asprintf(&body, CMD "node='test/fail' sessionid='%s'/>", sid) > 0);
    r = send_as(fx, ADMIN, true, "ko", body);
    free(body);
    assert_status(r, "completed");
    assert_contains(r, "<note type=\"error\">서비스가 실행 중입니다. 먼저 중지하세요</note>");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 1);
}

static void test_steal(void **state)
{
    struct fx *fx = *state;
    char sid[64], *body = NULL;
    xmpp_stanza_t *r;

    take_sid(send_fmt(fx, CMD "node='test/multi'/>"), sid);
    assert_true(asprintf(&body,
                         CMD "node='test/multi' sessionid='%s'>" FORM(F("name", "m")) "</command>",
                         sid) > 0);
    /* Same bare JID, another resource; another admin; both get bad-sessionid. */
    release_error(send_as(fx, "admin@example.com/phone", true, NULL, body), "modify", "bad-request",
                  "bad-sessionid");
    release_error(send_as(fx, "root@example.com/x", true, NULL, body), "modify", "bad-request",
                  "bad-sessionid");
    r = send_as(fx, ADMIN, true, NULL, body);
    assert_status(r, "executing");
    xmpp_stanza_release(r);
    free(body);
    /* Once ended, the owner hears session-expired and others still bad-sessionid. */
    xmpp_stanza_release(
        send_fmt(fx, CMD "node='test/multi' sessionid='%s' action='cancel'/>", sid));
    assert_true(asprintf(&body, CMD "node='test/multi' sessionid='%s'/>", sid) > 0);
    release_error(send_as(fx, "root@example.com/x", true, NULL, body), "modify", "bad-request",
                  "bad-sessionid");
    release_error(send_as(fx, ADMIN, true, NULL, body), "cancel", "not-allowed", "session-expired");
    free(body);
}

static void test_expiry(void **state)
{
    struct fx *fx = *state;
    char sid[64], sid2[64];
    xmpp_stanza_t *r;

    take_sid(send_fmt(fx, CMD "node='test/multi'/>"), sid);
    fx->now += ADHOC_DEFAULT_TIMEOUT_MS - 1;
    assert_int_equal(adhoc_expire(fx->a, fx->now), 0);
    /* Activity restarts the idle time. */
    r = send_fmt(fx, CMD "node='test/multi' sessionid='%s'>" FORM(F("name", "n")) "</command>",
                 sid);
    assert_status(r, "executing");
    xmpp_stanza_release(r);
    fx->now += ADHOC_DEFAULT_TIMEOUT_MS;
    assert_int_equal(adhoc_expire(fx->a, fx->now), 0);
    fx->now += 1;
    assert_int_equal(adhoc_expire(fx->a, fx->now), 1);
    assert_int_equal(fx->states_freed, 1);
    r = send_fmt(fx, CMD "node='test/multi' sessionid='%s' action='complete'/>", sid);
    assert_error(r, "cancel", "not-allowed", "session-expired");
    assert_error_text(r, "idle for more than 10 minutes");
    xmpp_stanza_release(r);
    /* Without the timer: the request itself finds the session too old. */
    take_sid(send_fmt(fx, CMD "node='test/one'/>"), sid2);
    fx->now += ADHOC_DEFAULT_TIMEOUT_MS + 1;
    release_error(send_fmt(fx, CMD "node='test/one' sessionid='%s'/>", sid2), "cancel",
                  "not-allowed", "session-expired");
    assert_int_equal(adhoc_session_count(fx->a, NULL), 0);
    /* Ended ids are forgotten after a while: then they are simply unknown. */
    fx->now += ADHOC_DEFAULT_ENDED_KEEP_MS + 1;
    assert_int_equal(adhoc_expire(fx->a, fx->now), 0);
    release_error(send_fmt(fx, CMD "node='test/one' sessionid='%s'/>", sid2), "modify",
                  "bad-request", "bad-sessionid");
}

static void test_limits(void **state)
{
    struct fx *fx = *state;
    char sid[64];

    char first[64];
    xmpp_stanza_t *r;

    for (int i = 0; i < 3; i++) {
        take_sid(send_fmt(fx, CMD "node='test/one'/>"), sid);
        if (i == 0)
            strcpy(first, sid);
        fx->now += 10;
    }
    /* At the per-JID limit the admin is not locked out: the oldest idle session of that JID
     * ends (and answers session-expired), the new one opens. */
    r = send_as(fx, "admin@example.com/other", true, NULL, CMD "node='test/one'/>");
    assert_status(r, "executing");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, "admin@example.com/any"), 3);
    release_error(send_fmt(fx, CMD "node='test/one' sessionid='%s'/>", first), "cancel",
                  "not-allowed", "session-expired");
    xmpp_stanza_release(send_as(fx, "b@example.com/x", true, NULL, CMD "node='test/one'/>"));
    xmpp_stanza_release(send_as(fx, "c@example.com/x", true, NULL, CMD "node='test/one'/>"));
    /* The total limit: d has no session of its own to give up, and others' are never taken. */
    r = send_as(fx, "d@example.com/x", true, NULL, CMD "node='test/one'/>");
    assert_error(r, "wait", "resource-constraint", NULL);
    assert_error_text(r, "too many open command sessions (0 of yours, limit 3; 5 in all, limit 5)");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 5);
    assert_int_equal(adhoc_session_count(fx->a, "admin@example.com/any"), 3);
    /* b at the total limit gives up its own session. */
    r = send_as(fx, "b@example.com/y", true, NULL, CMD "node='test/one'/>");
    assert_status(r, "executing");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, "b@example.com"), 1);
    /* A refused first execute opens no session (b's older one made room for it first). */
    release_error(send_as(fx, "b@example.com/y", true, NULL, CMD "node='test/refuse'/>"), "cancel",
                  "not-allowed", NULL);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 4);
    r = send_as(fx, "b@example.com/y", true, NULL,
                CMD "node='test/one'>" FORM(F("days", "0")) "</command>");
    assert_error(r, "modify", "bad-request", "bad-payload");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 4);
    /* Cancel frees the slot at once. */
    xmpp_stanza_release(send_fmt(fx, CMD "node='test/one' sessionid='%s' action='cancel'/>", sid));
    r = send_as(fx, "d@example.com/x", true, NULL, CMD "node='test/one'/>");
    assert_status(r, "executing");
    xmpp_stanza_release(r);
}

static void test_paging(void **state)
{
    struct fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    r = send_fmt(fx, CMD "node='test/table'/>");
    assert_status(r, "executing");
    assert_contains(r, "<actions execute=\"next\"><next/><complete/></actions>");
    assert_contains(r, "<note type=\"warn\">2 certificates are stale</note>");
    assert_contains(r, "<note type=\"info\">Rows 1–100 of 250 (page 1 of 3)");
    assert_contains(r, "d099.example");
    assert_lacks(r, "d100.example");
    take_sid(r, sid);
    release_error(send_fmt(fx, CMD "node='test/table' sessionid='%s' action='prev'/>", sid),
                  "modify", "bad-request", "bad-action");
    r = send_fmt(fx, CMD "node='test/table' sessionid='%s' action='next'/>", sid);
    assert_contains(r, "<actions execute=\"next\"><prev/><next/><complete/></actions>");
    assert_contains(r, "d100.example");
    assert_lacks(r, "d099.example");
    xmpp_stanza_release(r);
    r = send_fmt(fx, CMD "node='test/table' sessionid='%s'/>", sid); /* default: next */
    assert_contains(r, "<actions execute=\"complete\"><prev/><complete/></actions>");
    assert_contains(r, "Rows 201–250 of 250 (page 3 of 3)");
    assert_contains(r, "d249.example");
    xmpp_stanza_release(r);
    r = send_fmt(fx, CMD "node='test/table' sessionid='%s' action='prev'/>", sid);
    assert_contains(r, "d199.example");
    xmpp_stanza_release(r);
    r = send_fmt(fx, CMD "node='test/table' sessionid='%s' action='complete'/>", sid);
    assert_status(r, "completed");
    assert_contains(r, "d199.example");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 0);
}

static void test_poll_replace(void **state)
{
    struct fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    take_sid(send_fmt(fx, CMD "node='test/poll'/>"), sid);
    r = send_fmt(fx, CMD "node='test/poll' sessionid='%s'>" FORM(F("job", "7")) "</command>", sid);
    assert_contains(r, "<value>10%</value>");
    xmpp_stanza_release(r);
    for (int i = 2; i <= 4; i++) { /* refresh in place: the stage number stays 2 */
        r = send_fmt(fx, CMD "node='test/poll' sessionid='%s' action='next'/>", sid);
        char pct[32];
        snprintf(pct, sizeof(pct), "<value>%d0%%</value>", i);
        assert_contains(r, pct);
        xmpp_stanza_release(r);
    }
    /* prev goes back to the job form, with the job entered. */
    r = send_fmt(fx, CMD "node='test/poll' sessionid='%s' action='prev'/>", sid);
    assert_contains(r, "<title>Job</title>");
    assert_contains(r, "<value>7</value>");
    xmpp_stanza_release(r);
    r = send_fmt(fx, CMD "node='test/poll' sessionid='%s'>" FORM(F("job", "8")) "</command>", sid);
    assert_contains(r, "<value>50%</value>");
    xmpp_stanza_release(r);
    r = send_fmt(fx, CMD "node='test/poll' sessionid='%s' action='complete'/>", sid);
    assert_status(r, "completed");
    xmpp_stanza_release(r);
}

static void test_korean(void **state)
{
    struct fx *fx = *state;
    xmpp_stanza_t *r;

    r = send_as(fx, ADMIN, true, "ko-KR", CMD "node='test/one'/>");
    assert_status(r, "executing");
    assert_contains(r, "<title>도메인 추가</title>");
    assert_contains(r, "label=\"도메인\"");
    assert_contains(r, "xml:lang=\"ko\"");
    xmpp_stanza_release(r);
    /* The payload's xml:lang wins over the iq's. */
    r = send_as(fx, ADMIN, true, "ko",
                "<command xmlns='http://jabber.org/protocol/commands' node='test/one' "
                "xml:lang='en'/>");
    assert_contains(r, "<title>Add a domain</title>");
    xmpp_stanza_release(r);
    r = send_as(fx, ADMIN, true, "ko", CMD "node='test/one'>" FORM(F("days", "0")) "</command>");
    assert_error(r, "modify", "bad-request", "bad-payload");
    assert_error_text(r, "도메인 [domain]: 필수 항목입니다; days: 1 이상 90 이하의 정수여야 "
                         "합니다");
    assert_contains(r, "<text xml:lang=\"ko\" xmlns=\"urn:ietf:params:xml:ns:xmpp-stanzas\">");
    xmpp_stanza_release(r);
    r = send_as(fx, ADMIN, true, "ko", CMD "node='zzz'/>");
    assert_error_text(r, "'zzz' 명령이 없습니다");
    xmpp_stanza_release(r);
    r = send_as(fx, ADMIN, true, "ko", CMD "node='test/table'/>");
    assert_contains(r, "전체 250행 중 1–100행 (1/3쪽)");
    xmpp_stanza_release(r);
}

/* The control socket: no to/from on the iq, a uid as the requester. */
static void test_local_socket(void **state)
{
    struct fx *fx = *state;
    xmpp_stanza_t *iq = xmpp_stanza_new_from_string(
        fx->ctx, "<iq type='set' id='c1'><command xmlns='" NS_COMMANDS
                 "' node='test/one'>" FORM(F("domain", "local.example")) "</command></iq>");
    xmpp_stanza_t *r = adhoc_handle(fx->a, iq, "uid:1000", true);

    assert_status(r, "completed");
    assert_string_equal(xmpp_stanza_get_id(r), "c1");
    assert_null(xmpp_stanza_get_to(r));
    assert_null(xmpp_stanza_get_from(r));
    xmpp_stanza_release(r);
    xmpp_stanza_release(iq);
    /* A missing id and requester are tolerated. */
    iq = xmpp_stanza_new_from_string(fx->ctx, "<iq type='set'><command xmlns='" NS_COMMANDS
                                              "' node='test/one'/></iq>");
    r = adhoc_handle(fx->a, iq, NULL, true);
    assert_status(r, "executing");
    xmpp_stanza_release(r);
    xmpp_stanza_release(iq);
}

static void keep_late(void *ud, xmpp_stanza_t *reply)
{
    struct fx *fx = ud;

    assert_true(fx->n_late < 4);
    fx->late[fx->n_late++] = reply;
}

static xmpp_stanza_t *send_async(struct fx *fx, const char *body)
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

static xmpp_stanza_t *send_async_fmt(struct fx *fx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static xmpp_stanza_t *send_async_fmt(struct fx *fx, const char *fmt, ...)
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

/* A step that waits: no reply now, the session is busy meanwhile (and does not expire), the
 * late reply goes to the callback with the request's id and addresses. */
static void test_deferred(void **state)
{
    struct fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    take_sid(send_async(fx, CMD "node='test/later'/>"), sid);
    char *body = NULL;
    assert_true(asprintf(&body,
                         CMD "node='test/later' sessionid='%s'>" FORM(
                             F("domain", "x.example")) "</command>",
                         sid) > 0);
    assert_null(send_async(fx, body));
    assert_non_null(fx->later);
    assert_int_equal(fx->n_late, 0);
    r = send_fmt(fx, CMD "node='test/later' sessionid='%s' action='cancel'/>", sid);
    assert_error(r, "wait", "resource-constraint", NULL);
    xmpp_stanza_release(r);
    fx->now += 24u * 3600u * 1000u;
    assert_int_equal(adhoc_expire(fx->a, fx->now), 0);
    adhoc_call_t *c = adhoc_later_call(fx->later);
    assert_int_equal(c->stage, 1);
    adhoc_note_str(c, ADHOC_NOTE_INFO, "the router reloaded");
    adhoc_complete(c, NULL);
    adhoc_later_finish(fx->later);
    fx->later = NULL;
    assert_int_equal(fx->n_late, 1);
    r = fx->late[0];
    assert_status(r, "completed");
    assert_string_equal(xmpp_stanza_get_id(r), "q2");
    assert_string_equal(xmpp_stanza_get_to(r), ADMIN);
    assert_contains(r, "the router reloaded");
    assert_int_equal(adhoc_session_count(fx->a, NULL), 0);
    /* One round trip, deferred too. */
    assert_null(
        send_async(fx, CMD "node='test/later'>" FORM(F("domain", "y.example")) "</command>"));
    assert_non_null(fx->later);
    free(body);
    /* The registry goes away first: the waiting request hears an error, not silence. */
    adhoc_free(fx->a);
    fx->a = adhoc_new(fx->ctx, NULL);
    assert_int_equal(fx->n_late, 2);
    assert_error(fx->late[1], "cancel", "internal-server-error", NULL);
}

static void note_end(void *ud, const char *node, const char *requester, enum adhoc_end how,
                     const char *note)
{
    static const char *const names[] = {"completed", "failed", "canceled", "expired"};
    struct fx *fx = ud;
    size_t len = strlen(fx->ends);

    assert_string_equal(requester, ADMIN);
    snprintf(fx->ends + len, sizeof(fx->ends) - len, "%s %s %s;", node, names[how],
             note ? note : "-");
}

/* One end per run: completed (a paged table included, whatever happens to its pages), failed
 * with its error note, canceled, expired; stanza errors and intermediate stages are not ends. */
static void test_end_hook(void **state)
{
    struct fx *fx = *state;
    char sid[64];

    adhoc_on_end(fx->a, note_end, fx);
    xmpp_stanza_release(
        send_fmt(fx, CMD "node='test/one'>" FORM(F("domain", "a.example")) "</command>"));
    take_sid(send_fmt(fx, CMD "node='test/table'/>"), sid);
    xmpp_stanza_release(
        send_fmt(fx, CMD "node='test/table' sessionid='%s' action='cancel'/>", sid));
    take_sid(send_fmt(fx, CMD "node='test/fail'/>"), sid);
    xmpp_stanza_release(send_fmt(fx, CMD "node='test/fail' sessionid='%s'/>", sid));
    take_sid(send_fmt(fx, CMD "node='test/multi'/>"), sid);
    xmpp_stanza_release(
        send_fmt(fx, CMD "node='test/multi' sessionid='%s' action='cancel'/>", sid));
    xmpp_stanza_release(send_fmt(fx, CMD "node='test/one'>" FORM(F("days", "0")) "</command>"));
    take_sid(send_fmt(fx, CMD "node='test/one'/>"), sid);
    fx->now += 24u * 3600u * 1000u;
    assert_int_equal(adhoc_expire(fx->a, fx->now), 1);
    assert_string_equal(fx->ends, "test/one completed added a.example for 30 days (complete);"
                                  "test/table completed 2 certificates are stale;"
                                  "test/fail failed services are running: stop them first;"
                                  "test/multi canceled rolled back;"
                                  "test/one expired -;");
}

/* Without a way to answer later (adhoc_handle), the step answers at once. */
static void test_deferred_sync(void **state)
{
    struct fx *fx = *state;
    xmpp_stanza_t *r =
        send_fmt(fx, CMD "node='test/later'>" FORM(F("domain", "z.example")) "</command>");

    assert_status(r, "completed");
    assert_contains(r, "applying in the background");
    assert_null(fx->later);
    xmpp_stanza_release(r);
}

/* Deferring and then answering before the step returns is an answer now: the reply comes back
 * from the call, never through the late callback, and the session goes on from there. */
static void test_deferred_at_once(void **state)
{
    struct fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    take_sid(send_async(fx, CMD "node='test/at-once'/>"), sid);
    r = send_async_fmt(fx,
                       CMD "node='test/at-once' sessionid='%s' action='next'>" FORM(
                           F("domain", "x.example")) "</command>",
                       sid);
    assert_non_null(r);
    assert_status(r, "executing");
    assert_contains(r, "stage one answered at once");
    xmpp_stanza_release(r);
    assert_int_equal(fx->n_late, 0);
    r = send_async_fmt(fx,
                       CMD "node='test/at-once' sessionid='%s' action='complete'>" FORM(
                           F("confirm", "1")) "</command>",
                       sid);
    assert_non_null(r);
    assert_status(r, "completed");
    assert_contains(r, "done with x.example");
    xmpp_stanza_release(r);
    assert_int_equal(fx->n_late, 0);
    assert_int_equal(fx->n_at_once, 2);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 0);
    /* Where nothing can be deferred the same step answers the ordinary way. */
    r = send_fmt(fx, CMD "node='test/at-once'>" FORM(F("domain", "y.example")) "</command>");
    assert_status(r, "executing");
    assert_contains(r, "stage one answered at once");
    xmpp_stanza_release(r);
}

/* Counts the direct children of <command/> named `name`. */
static int count_children(xmpp_stanza_t *reply, const char *name)
{
    int n = 0;

    for (xmpp_stanza_t *c = xmpp_stanza_get_children(command_of(reply)); c;
         c = xmpp_stanza_get_next(c))
        n += xmpp_stanza_is_tag(c) && strcmp(xmpp_stanza_get_name(c), name) == 0;
    return n;
}

static void test_rejected_value_keeps_session(void **state)
{
    struct fx *fx = *state;
    char sid[64], sid2[64];
    xmpp_stanza_t *r;

    r = send_fmt(fx, CMD "node='test/reject'/>");
    /* Every option has a label: the value when the command gave none. */
    assert_contains(r, "<option label=\"rsa-2048\"><value>rsa-2048</value></option>");
    assert_contains(r, "<option label=\"EC P-256\"><value>ec-p256</value></option>");
    take_sid(r, sid);
    /* The step's own check: same stage, same session, what was entered, the label named. */
    r = send_fmt(fx,
                 CMD "node='test/reject' sessionid='%s' action='complete'>" FORM(
                     F("audit_time", "25:99") F("days", "30")) "</command>",
                 sid);
    assert_status(r, "executing");
    assert_string_equal(xmpp_stanza_get_attribute(command_of(r), "sessionid"), sid);
    assert_contains(r, "<actions execute=\"complete\"><complete/></actions>");
    assert_contains(r, "<note type=\"error\">Audit time [audit_time]: must be a 24-hour HH:MM "
                       "time</note>");
    /* Inside the form too (poezio shows no notes beside a form), and the values kept. */
    assert_contains(r, "<field type=\"fixed\" var=\"fixed-1\"><value>Error: Audit time "
                       "[audit_time]: must be a 24-hour HH:MM time</value></field>");
    assert_contains(r, "var=\"audit_time\"><value>25:99</value></field>");
    assert_contains(r, "<value>30</value>");
    assert_int_equal(count_children(r, "x"), 1);
    xmpp_stanza_release(r);
    /* The form's declaration: a number out of range, the same way, in Korean. */
    r = send_as(fx, ADMIN, true, "ko",
                CMD "node='test/reject' sessionid='placeholder'/>"); /* unknown: bad-sessionid */
    assert_error(r, "modify", "bad-request", "bad-sessionid");
    xmpp_stanza_release(r);
    char *body = NULL;
    assert_true(asprintf(&body,
                         CMD "node='test/reject' sessionid='%s'>" FORM(
                             F("audit_time", "03:00") F("days", "91")) "</command>",
                         sid) > 0);
    r = send_as(fx, ADMIN, true, "ko", body);
    free(body);
    assert_status(r, "executing");
    assert_contains(r, "보관 일수 [days]: 1 이상 90 이하의 정수여야 합니다");
    assert_contains(r, "<value>오류: 보관 일수 [days]");
    assert_contains(r, "var=\"audit_time\"><value>03:00</value></field>");
    assert_contains(r, "<value>91</value>");
    xmpp_stanza_release(r);
    /* A refusal with bad-payload after a submission keeps the stage as well. */
    r = send_fmt(
        fx, CMD "node='test/reject' sessionid='%s'>" FORM(F("audit_time", "13:13")) "</command>",
        sid);
    assert_status(r, "executing");
    assert_contains(r, "<note type=\"error\">13:13 is unlucky</note>");
    xmpp_stanza_release(r);
    /* Then a good value completes the same session. */
    r = send_fmt(
        fx, CMD "node='test/reject' sessionid='%s'>" FORM(F("audit_time", "04:00")) "</command>",
        sid);
    assert_status(r, "completed");
    assert_contains(r, "saved");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 0);
    /* A malformed submission (a field twice, a wrong FORM_TYPE) is an iq error; the session
     * stays where it was. */
    take_sid(send_fmt(fx, CMD "node='test/reject'/>"), sid2);
    release_error(send_fmt(fx,
                           CMD "node='test/reject' sessionid='%s'>" FORM(
                               F("days", "1") F("days", "2")) "</command>",
                           sid2),
                  "modify", "bad-request", "bad-payload");
    release_error(send_fmt(fx,
                           CMD "node='test/reject' sessionid='%s'>"
                               "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'>"
                               "<value>urn:other</value></field></x></command>",
                           sid2),
                  "modify", "bad-request", "bad-payload");
    assert_int_equal(adhoc_session_count(fx->a, NULL), 1);
    /* With the form in the first request there is no stage to return to: an error, and no
     * session left open. */
    r = send_fmt(fx, CMD "node='test/reject'>" FORM(F("audit_time", "99:00")) "</command>");
    assert_error(r, "modify", "bad-request", "bad-payload");
    assert_error_text(r, "Audit time [audit_time]: must be a 24-hour HH:MM time");
    xmpp_stanza_release(r);
    assert_int_equal(adhoc_session_count(fx->a, NULL), 1);
}

static void test_results_for_people(void **state)
{
    struct fx *fx = *state;
    xmpp_stanza_t *r, *x, *data;

    r = send_fmt(fx, CMD "node='test/report'/>");
    assert_status(r, "completed");
    /* One form for people, the results as they are for programs beside it. */
    assert_int_equal(count_children(r, "x"), 1);
    x = stanza_child(command_of(r), "x", "jabber:x:data");
    assert_null(stanza_child(x, "reported", NULL));
    assert_null(stanza_child(x, "item", NULL));
    assert_string_equal(xmpp_stanza_get_type(x), "result");
    assert_contains(r, "<x type=\"result\" xmlns=\"jabber:x:data\"><title>Report</title>"
                       "<field type=\"fixed\" var=\"fixed-1\"><value>2 domains.</value></field>"
                       "<field type=\"fixed\" var=\"fixed-2\"><value>Warning: the certificate "
                       "is stale</value></field>"
                       "<field label=\"Count\" type=\"text-single\" var=\"count\"><value>2"
                       "</value></field>"
                       "<field type=\"fixed\" var=\"fixed-3\"><value>Domains</value></field>"
                       "<field type=\"fixed\" var=\"fixed-4\"><value>Rows 1–2 of 2</value>"
                       "</field>"
                       "<field type=\"fixed\" var=\"fixed-5\"><value>Domain · Managed by</value>"
                       "</field>"
                       "<field label=\"a.example\" type=\"text-single\" var=\"row-1\">"
                       "<value>admin</value></field>"
                       "<field label=\"b.example\" type=\"text-single\" var=\"row-2\">"
                       "<value>-</value></field></x>");
    data = stanza_child(command_of(r), "results", "urn:imdomaind:results");
    assert_non_null(data);
    assert_contains(r, "<results xmlns=\"urn:imdomaind:results\"><x type=\"result\" "
                       "xmlns=\"jabber:x:data\"><title>Report</title>");
    assert_contains(r, "<reported><field label=\"Domain\" type=\"text-single\" var=\"domain\"/>");
    assert_contains(r, "<item><field var=\"domain\"><value>a.example</value></field><field "
                       "var=\"managed_by\"><value>admin</value></field></item>");
    xmpp_stanza_release(r);
    /* Korean: the values people read too, the machine cells unchanged. */
    r = send_as(fx, ADMIN, true, "ko", CMD "node='test/report'/>");
    assert_contains(r, "<field label=\"a.example\" type=\"text-single\" var=\"row-1\">"
                       "<value>관리자</value>");
    assert_contains(r, "<value>주의: 인증서가 오래되었습니다</value>");
    assert_contains(r, "<value>2행 중 1–2행</value>");
    assert_contains(r, "<field var=\"managed_by\"><value>admin</value></field>");
    xmpp_stanza_release(r);
    /* Several notes and no result: a form holds them all (profanity shows one note, poezio
     * none beside a form, but every field). */
    r = send_fmt(fx, CMD "node='test/notes'/>");
    assert_contains(r, "<title>Notes</title><field type=\"fixed\" var=\"fixed-1\"><value>first"
                       "</value></field><field type=\"fixed\" var=\"fixed-2\"><value>Error: "
                       "second</value></field>");
    assert_null(stanza_child(command_of(r), "results", NULL));
    xmpp_stanza_release(r);
    /* One note and no result: no form (Psi shows the note in a box only then). */
    r = send_fmt(fx, CMD "node='test/fail'>" FORM("") "</command>");
    assert_int_equal(count_children(r, "x"), 0);
    xmpp_stanza_release(r);
    /* A paged table: the page position is in the form, on the rows. */
    r = send_fmt(fx, CMD "node='test/table'/>");
    assert_int_equal(count_children(r, "x"), 1);
    assert_contains(r, "<value>Rows 1–100 of 250 (page 1 of 3; next and prev move)</value>"
                       "</field><field label=\"1\" type=\"text-single\" var=\"row-1\">"
                       "<value>d000.example</value></field>");
    assert_contains(r, "<field label=\"100\" type=\"text-single\" var=\"row-100\">"
                       "<value>d099.example</value></field></x>");
    assert_lacks(r, "<value>d100.example</value>");
    xmpp_stanza_release(r);
}

static void test_lists_for_every_client(void **state)
{
    struct fx *fx = *state;
    char sid[64];
    xmpp_stanza_t *r;

    r = send_fmt(fx, CMD "node='test/pick'/>");
    /* Nothing chosen: the choices also as a line (profanity lists options only once one is
     * chosen), fixed fields with a var each (poezio keys fields by var). */
    assert_contains(r, "<field type=\"fixed\" var=\"fixed-1\"><value>Job, to choose from: 1, "
                       "second (2)</value></field><field label=\"Job\" type=\"list-single\" "
                       "var=\"job\">");
    assert_contains(r, "<field type=\"fixed\" var=\"fixed-2\"><value>Tags, to choose from: x, "
                       "y</value></field>");
    /* An open list can be typed into beside it (profanity cannot type into a list). */
    assert_contains(r, "<field label=\"Job (or type it)\" type=\"text-single\" "
                       "var=\"job_other\"/>");
    assert_contains(r, "var=\"tags_other\"");
    take_sid(r, sid);
    r = send_fmt(fx,
                 CMD "node='test/pick' sessionid='%s'>" FORM(F("job", "1") F("job_other", " 77 ") F(
                     "tags", "x") F("tags_other", "z, w")) "</command>",
                 sid);
    assert_status(r, "completed");
    assert_contains(r, "job=77 tags=3:x,z");
    xmpp_stanza_release(r);
    /* Nothing typed: the list's own value. */
    r = send_fmt(fx, CMD "node='test/pick'>" FORM(F("job", "2") F("job_other", "")) "</command>");
    assert_contains(r, "job=2 tags=0:,");
    xmpp_stanza_release(r);
    /* Korean. */
    r = send_as(fx, ADMIN, true, "ko", CMD "node='test/pick'/>");
    assert_contains(r, "<value>작업 선택지: 1, 두 번째 (2)</value>");
    assert_contains(r, "label=\"작업 (직접 입력)\"");
    xmpp_stanza_release(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_disco, setup, teardown),
        cmocka_unit_test_setup_teardown(test_execute_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_action_is_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_on_last_stage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi_prev_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_frees, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_and_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_steal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poll_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_korean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deferred, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deferred_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deferred_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_end_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected_value_keeps_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_results_for_people, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lists_for_every_client, setup, teardown),
    };
    log_set_level(LOG_LEVEL_ERROR); /* the refusals tested here log warnings */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
