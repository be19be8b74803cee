/* XEP-0050 ad-hoc commands: sessions, actions, client quirks, errors and paging around the
 * `step` functions of the registered commands. */
#include "xmpp/adhoc.h"

#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/form_check.h"
#include "xmpp/form_parse.h"
#include "xmpp/form_render.h"
#include "xmpp/present.h"
#include "xmpp/stanza.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SESSIONID_BYTES 16
#define SESSIONID_LEN (SESSIONID_BYTES * 2)

struct note {
    enum adhoc_note_type type;
    char *text;
};

struct notes {
    struct note *v;
    size_t n;
};

enum out_kind { OUT_NONE, OUT_SHOW, OUT_REPLACE, OUT_COMPLETE, OUT_REFUSE, OUT_REJECT, OUT_DEFER };

struct req;

struct adhoc_outcome {
    enum out_kind kind;
    form_t *form; /* OUT_SHOW / OUT_REPLACE */
    unsigned allowed;
    enum adhoc_action dflt;
    form_t **results; /* OUT_COMPLETE */
    size_t n_results;
    struct notes notes;
    char *cond, *app_cond, *text; /* OUT_REFUSE; OUT_REJECT: app_cond is the var */
    unsigned stage;               /* of the call: >= 1 when it answers a submission */
    const struct req *req;        /* the request being answered, for adhoc_defer */
    struct session *s;            /* its session, for adhoc_defer */
    struct adhoc_later *later;    /* OUT_DEFER */
};

struct stage {
    form_t *shown;  /* as shown, FORM_TYPE included */
    form_t *answer; /* the last checked submission of this stage, for `prev` */
    unsigned allowed;
    enum adhoc_action dflt;
};

struct reg {
    const struct adhoc_command *def;
    void *ctx;
};

struct session {
    char id[SESSIONID_LEN + 1];
    char *owner; /* full JID */
    char *bare;  /* for the per-JID limit */
    const struct reg *cmd;
    uint64_t last;
    struct stage stages[ADHOC_MAX_STAGES];
    unsigned depth;
    void *state;
    void (*state_free)(void *state);
    /* Paging a completed command's long tables. */
    bool paging;
    form_t **results;
    size_t n_results, page, pages;
    struct notes notes;
    struct adhoc_later *busy; /* a step is waiting to answer; requests wait */
    struct session *next;
};

struct ended {
    char id[SESSIONID_LEN + 1];
    char *owner;
    uint64_t at;
};

struct adhoc {
    xmpp_ctx_t *ctx;
    struct adhoc_limits lim;
    struct reg cmds[ADHOC_MAX_COMMANDS];
    size_t n_cmds;
    struct session *sessions;
    unsigned n_sessions;
    struct ended ended[ADHOC_MAX_ENDED]; /* a ring, oldest at `ended_tail` */
    size_t ended_tail, n_ended;
    adhoc_end_fn on_end;
    void *on_end_ud;
};

/* One request being handled. */
struct req {
    adhoc_t *a;
    xmpp_stanza_t *iq, *cmd, *x;
    const struct reg *reg;
    const char *node, *sid, *action, *lang, *requester;
    bool is_admin;
    uint64_t now;
    adhoc_send_fn send; /* NULL: the answer cannot be deferred */
    void *send_ud;
};

/* A deferred answer: a copy of the request, and the outcome the command records later. */
struct adhoc_later {
    adhoc_t *a;
    struct session *s;
    const struct reg *reg;
    xmpp_stanza_t *iq; /* copy of the request */
    char *requester;
    bool is_admin, fresh;
    unsigned stage;
    enum adhoc_action act;
    adhoc_send_fn send;
    void *send_ud;
    adhoc_call_t call;
    struct adhoc_outcome out;
    /* The step that deferred is still running: its call (to take the state from) and whether
     * adhoc_later_finish came already; apply() then answers now instead of sending late. */
    adhoc_call_t *step_call;
    bool finished_in_step;
};

static const char *const action_names[] = {[ADHOC_EXECUTE] = "execute",
                                           [ADHOC_NEXT] = "next",
                                           [ADHOC_PREV] = "prev",
                                           [ADHOC_COMPLETE] = "complete",
                                           [ADHOC_CANCEL] = "cancel"};
static const char *const note_names[] = {"info", "warn", "error"};

/* ---- texts ---- */

static const struct text T_NOT_SET = {"ad-hoc commands are run with an iq of type 'set'",
                                      "애드혹 명령은 type이 'set'인 iq로 실행합니다"};
static const struct text T_NO_COMMAND = {"the request carries no <command/> with a node",
                                         "요청에 node가 있는 <command/>가 없습니다"};
static const struct text T_FORM_MISSING = {"this stage needs the filled-in form",
                                           "이 단계에는 작성한 폼이 필요합니다"};
static const struct text T_NO_ANSWER = {"the command gave no answer (a bug; see the log)",
                                        "명령이 응답하지 않았습니다(버그입니다. 로그를 보세요)"};
static const struct text T_TOO_DEEP = {"the command has too many stages; start it again",
                                       "명령의 단계가 너무 많습니다. 다시 시작하세요"};
static const struct text T_NO_RANDOM = {"no random session id could be made; try again",
                                        "임의 세션 ID를 만들지 못했습니다. 다시 시도하세요"};
static const struct text T_LIST = {"Commands", "명령"};
static const struct text T_BUSY = {
    "the previous step of this session is still running; try again "
    "in a moment",
    "이 세션의 이전 단계가 아직 실행 중입니다. 잠시 후 다시 시도하세요"};
static const struct text T_STOPPING = {"the daemon is stopping; the step's outcome is unknown, "
                                       "check with the audit log",
                                       "데몬이 멈추는 중입니다. 단계의 결과를 알 수 없으니 감사 "
                                       "로그를 확인하세요"};

/* ---- small helpers ---- */

static uint64_t monotonic_ms(void *ud)
{
    struct timespec ts;

    (void)ud;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        fatal("clock_gettime");
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The bare part of a JID (everything before '/'): "uid:N" for a control connection "uid:N/cK". */
static char *bare_of(const char *jid)
{
    const char *slash = strchr(jid, '/');
    return slash ? xstrndup(jid, (size_t)(slash - jid)) : xstrdup(jid);
}

/* xml:lang of the payload, else of the iq. libstrophe's own string parser (used by the control
 * socket and tests) keeps the attribute as plain "lang", so that is read too. */
static const char *lang_of(xmpp_stanza_t *iq, xmpp_stanza_t *cmd)
{
    xmpp_stanza_t *st[2] = {cmd, iq};

    for (int i = 0; i < 2; i++) {
        const char *l = st[i] ? xmpp_stanza_get_attribute(st[i], "xml:lang") : NULL;
        if (l == NULL && st[i])
            l = xmpp_stanza_get_attribute(st[i], "lang");
        if (l && *l)
            return l;
    }
    return NULL;
}

static void notes_add(struct notes *n, enum adhoc_note_type type, const char *text)
{
    n->v = xrealloc(n->v, (n->n + 1) * sizeof(*n->v));
    n->v[n->n].type = type;
    n->v[n->n++].text = xstrdup(text ? text : "");
}

static void notes_clear(struct notes *n)
{
    for (size_t i = 0; i < n->n; i++)
        free(n->v[i].text);
    free(n->v);
    n->v = NULL;
    n->n = 0;
}

static void results_free(form_t **results, size_t n)
{
    for (size_t i = 0; i < n; i++)
        form_free(results[i]);
    free(results);
}

static void outcome_clear(struct adhoc_outcome *o)
{
    form_free(o->form);
    results_free(o->results, o->n_results);
    notes_clear(&o->notes);
    free(o->cond);
    free(o->app_cond);
    free(o->text);
    memset(o, 0, sizeof(*o));
}

static void req_from_later(struct req *r, struct adhoc_later *l);
static xmpp_stanza_t *error_text(const struct req *r, const char *cond, const char *app,
                                 const struct text *t);
static void later_free(struct adhoc_later *l);

/* ---- outcomes ---- */

static void set_show(adhoc_call_t *call, enum out_kind kind, form_t *form, unsigned allowed,
                     enum adhoc_action dflt)
{
    struct adhoc_outcome *o = call->out;

    form_free(o->form);
    o->kind = kind;
    o->form = form;
    o->allowed = allowed;
    o->dflt = dflt;
}

void adhoc_show(adhoc_call_t *call, form_t *form, unsigned allowed, enum adhoc_action dflt)
{
    set_show(call, OUT_SHOW, form, allowed, dflt);
}

void adhoc_replace(adhoc_call_t *call, form_t *form, unsigned allowed, enum adhoc_action dflt)
{
    set_show(call, OUT_REPLACE, form, allowed, dflt);
}

void adhoc_add_result(adhoc_call_t *call, form_t *result)
{
    struct adhoc_outcome *o = call->out;

    if (result == NULL)
        return;
    o->results = xrealloc(o->results, (o->n_results + 1) * sizeof(*o->results));
    o->results[o->n_results++] = result;
}

void adhoc_complete(adhoc_call_t *call, form_t *result)
{
    form_free(call->out->form);
    call->out->form = NULL;
    call->out->kind = OUT_COMPLETE;
    adhoc_add_result(call, result);
}

void adhoc_reject(adhoc_call_t *call, const char *var, const char *why)
{
    struct adhoc_outcome *o = call->out;

    free(o->cond);
    free(o->app_cond);
    free(o->text);
    o->kind = OUT_REJECT;
    o->cond = xstrdup("bad-request");
    o->app_cond = var ? xstrdup(var) : NULL;
    o->text = xstrdup(why ? why : "");
}

void adhoc_note(adhoc_call_t *call, enum adhoc_note_type type, const struct text *text)
{
    notes_add(&call->out->notes, type, text_get(text, call->lang));
}

void adhoc_note_str(adhoc_call_t *call, enum adhoc_note_type type, const char *text)
{
    notes_add(&call->out->notes, type, text);
}

void adhoc_fail(adhoc_call_t *call, const struct text *why)
{
    adhoc_complete(call, NULL);
    adhoc_note(call, ADHOC_NOTE_ERROR, why);
}

void adhoc_refuse(adhoc_call_t *call, const char *condition, const char *app_condition,
                  const char *text)
{
    struct adhoc_outcome *o = call->out;

    free(o->cond);
    free(o->app_cond);
    free(o->text);
    o->kind = OUT_REFUSE;
    o->cond = xstrdup(condition ? condition : "not-allowed");
    o->app_cond = app_condition ? xstrdup(app_condition) : NULL;
    o->text = text ? xstrdup(text) : NULL;
}

/* ---- registry ---- */

adhoc_t *adhoc_new(xmpp_ctx_t *ctx, const struct adhoc_limits *limits)
{
    adhoc_t *a = xcalloc(1, sizeof(*a));

    a->ctx = ctx;
    if (limits)
        a->lim = *limits;
    if (a->lim.timeout_ms == 0)
        a->lim.timeout_ms = ADHOC_DEFAULT_TIMEOUT_MS;
    if (a->lim.max_per_jid == 0)
        a->lim.max_per_jid = ADHOC_DEFAULT_MAX_PER_JID;
    if (a->lim.max_total == 0)
        a->lim.max_total = ADHOC_DEFAULT_MAX_TOTAL;
    if (a->lim.ended_keep_ms == 0)
        a->lim.ended_keep_ms = ADHOC_DEFAULT_ENDED_KEEP_MS;
    if (a->lim.page_rows == 0)
        a->lim.page_rows = ADHOC_DEFAULT_PAGE_ROWS;
    if (a->lim.clock == NULL)
        a->lim.clock = monotonic_ms;
    return a;
}

static const struct reg *find_cmd(const adhoc_t *a, const char *node)
{
    for (size_t i = 0; node && i < a->n_cmds; i++)
        if (strcmp(a->cmds[i].def->node, node) == 0)
            return &a->cmds[i];
    return NULL;
}

int adhoc_register(adhoc_t *a, const struct adhoc_command *def, void *ctx)
{
    if (a->n_cmds == ADHOC_MAX_COMMANDS || find_cmd(a, def->node) != NULL) {
        log_warnx("adhoc: cannot register node=%s reason=%s", def->node,
                  a->n_cmds == ADHOC_MAX_COMMANDS ? "table full" : "duplicate");
        return -1;
    }
    a->cmds[a->n_cmds].def = def;
    a->cmds[a->n_cmds++].ctx = ctx;
    return 0;
}

static bool may_run(const struct reg *r, bool is_admin)
{
    return is_admin || r->def->open_to_all;
}

/* ---- sessions ---- */

static void remember_ended(adhoc_t *a, const struct session *s, uint64_t now)
{
    struct ended *e;

    if (a->n_ended == ADHOC_MAX_ENDED) { /* forget the oldest */
        free(a->ended[a->ended_tail].owner);
        a->ended_tail = (a->ended_tail + 1) % ADHOC_MAX_ENDED;
        a->n_ended--;
    }
    e = &a->ended[(a->ended_tail + a->n_ended++) % ADHOC_MAX_ENDED];
    memcpy(e->id, s->id, sizeof(e->id));
    e->owner = xstrdup(s->owner);
    e->at = now;
}

static const struct ended *find_ended(const adhoc_t *a, const char *id, uint64_t now)
{
    for (size_t i = 0; i < a->n_ended; i++) {
        const struct ended *e = &a->ended[(a->ended_tail + i) % ADHOC_MAX_ENDED];
        if (strcmp(e->id, id) == 0 && now - e->at <= a->lim.ended_keep_ms)
            return e;
    }
    return NULL;
}

static void forget_old_ended(adhoc_t *a, uint64_t now)
{
    while (a->n_ended > 0 && now >= a->ended[a->ended_tail].at &&
           now - a->ended[a->ended_tail].at > a->lim.ended_keep_ms) {
        free(a->ended[a->ended_tail].owner);
        a->ended_tail = (a->ended_tail + 1) % ADHOC_MAX_ENDED;
        a->n_ended--;
    }
}

static void stage_clear(struct stage *st)
{
    form_free(st->shown);
    form_free(st->answer);
    memset(st, 0, sizeof(*st));
}

static void session_free(struct session *s)
{
    for (unsigned i = 0; i < s->depth; i++)
        stage_clear(&s->stages[i]);
    if (s->state_free && s->state)
        s->state_free(s->state);
    results_free(s->results, s->n_results);
    notes_clear(&s->notes);
    free(s->owner);
    free(s->bare);
    free(s);
}

/* Unlinks and frees `s`; `remember` keeps its id so that late requests hear session-expired. */
static void session_end(adhoc_t *a, struct session *s, bool remember, uint64_t now)
{
    for (struct session **p = &a->sessions; *p; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            break;
        }
    }
    a->n_sessions--;
    if (remember)
        remember_ended(a, s, now);
    session_free(s);
}

static struct session *find_session(const adhoc_t *a, const char *id)
{
    for (struct session *s = a->sessions; s; s = s->next)
        if (strcmp(s->id, id) == 0)
            return s;
    return NULL;
}

unsigned adhoc_session_count(const adhoc_t *a, const char *requester)
{
    char *bare = requester ? bare_of(requester) : NULL;
    unsigned n = 0;

    for (const struct session *s = a->sessions; s; s = s->next)
        if (bare == NULL || strcmp(s->bare, bare) == 0)
            n++;
    free(bare);
    return n;
}

/* Tells the end hook that the run of `s` is over. A paging session already ended its run when
 * its step completed. */
static void run_ended(const adhoc_t *a, const struct session *s, enum adhoc_end how,
                      const char *note)
{
    if (a->on_end && !s->paging)
        a->on_end(a->on_end_ud, s->cmd->def->node, s->owner, how, note);
}

void adhoc_on_end(adhoc_t *a, adhoc_end_fn fn, void *ud)
{
    a->on_end = fn;
    a->on_end_ud = ud;
}

static bool idle_too_long(const adhoc_t *a, const struct session *s, uint64_t now)
{
    return now > s->last && now - s->last > a->lim.timeout_ms;
}

unsigned adhoc_expire(adhoc_t *a, uint64_t now)
{
    unsigned n = 0;
    struct session *s = a->sessions, *next;

    for (; s; s = next) {
        next = s->next;
        if (s->busy == NULL && idle_too_long(a, s, now)) {
            run_ended(a, s, ADHOC_END_EXPIRED, NULL);
            log_info("adhoc: session expired node=%s owner=%s", s->cmd->def->node, s->owner);
            session_end(a, s, true, now);
            n++;
        }
    }
    forget_old_ended(a, now);
    return n;
}

unsigned adhoc_end_owner(adhoc_t *a, const char *requester)
{
    uint64_t now = a->lim.clock(a->lim.clock_ud);
    unsigned n = 0;
    struct session *s = a->sessions, *next;

    for (; s; s = next) {
        next = s->next;
        if (s->busy == NULL && strcmp(s->owner, requester) == 0) {
            run_ended(a, s, ADHOC_END_ABANDONED, NULL);
            log_info("adhoc: session abandoned node=%s owner=%s", s->cmd->def->node, s->owner);
            session_end(a, s, true, now);
            n++;
        }
    }
    return n;
}

static int new_session_id(char out[SESSIONID_LEN + 1])
{
    unsigned char raw[SESSIONID_BYTES];
    static const char hex[] = "0123456789abcdef";

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        log_warnx("adhoc: RAND_bytes failed reason=no-entropy");
        return -1;
    }
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[SESSIONID_LEN] = '\0';
    return 0;
}

static struct session *session_new(adhoc_t *a, const struct req *r)
{
    struct session *s = xcalloc(1, sizeof(*s));

    if (new_session_id(s->id) < 0) {
        free(s);
        return NULL;
    }
    s->owner = xstrdup(r->requester);
    s->bare = bare_of(r->requester);
    s->cmd = r->reg;
    s->last = r->now;
    s->next = a->sessions;
    a->sessions = s;
    a->n_sessions++;
    return s;
}

void adhoc_free(adhoc_t *a)
{
    if (a == NULL)
        return;
    for (struct session *s = a->sessions; s; s = s->next) {
        struct adhoc_later *l = s->busy;
        struct req r;
        if (l == NULL)
            continue;
        req_from_later(&r, l);
        l->send(l->send_ud, error_text(&r, "internal-server-error", NULL, &T_STOPPING));
        s->busy = NULL;
        later_free(l);
    }
    while (a->sessions)
        session_end(a, a->sessions, false, 0);
    for (size_t i = 0; i < a->n_ended; i++)
        free(a->ended[(a->ended_tail + i) % ADHOC_MAX_ENDED].owner);
    free(a);
}

/* ---- replies ---- */

static xmpp_stanza_t *reply_iq(const struct req *r, const char *type)
{
    xmpp_stanza_t *reply = xmpp_stanza_new(r->a->ctx);
    const char *id = xmpp_stanza_get_id(r->iq);
    const char *from = xmpp_stanza_get_from(r->iq);
    const char *to = xmpp_stanza_get_to(r->iq);

    xmpp_stanza_set_name(reply, "iq");
    xmpp_stanza_set_type(reply, type);
    if (id)
        xmpp_stanza_set_id(reply, id);
    if (from)
        xmpp_stanza_set_to(reply, from);
    if (to)
        xmpp_stanza_set_from(reply, to);
    return reply;
}

/* RFC 6120 §8.3.3: the error type that goes with each condition we use. */
static const char *error_type(const char *cond)
{
    static const char *const map[][2] = {{"bad-request", "modify"},
                                         {"not-acceptable", "modify"},
                                         {"policy-violation", "modify"},
                                         {"jid-malformed", "modify"},
                                         {"forbidden", "auth"},
                                         {"not-authorized", "auth"},
                                         {"resource-constraint", "wait"},
                                         {"unexpected-request", "wait"},
                                         {"remote-server-timeout", "wait"}};

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(cond, map[i][0]) == 0)
            return map[i][1];
    return "cancel";
}

static xmpp_stanza_t *error_reply(const struct req *r, const char *cond, const char *app,
                                  const char *text)
{
    xmpp_stanza_t *reply = reply_iq(r, "error");
    xmpp_stanza_t *cmd, *err, *t;

    if (r->node) { /* echo what was asked, so clients can match the error to a command */
        cmd = stanza_add_element(reply, "command", NS_COMMANDS);
        xmpp_stanza_set_attribute(cmd, "node", r->node);
        if (r->sid)
            xmpp_stanza_set_attribute(cmd, "sessionid", r->sid);
    }
    err = stanza_add_element(reply, "error", NULL);
    xmpp_stanza_set_type(err, error_type(cond));
    stanza_add_element(err, cond, NS_STANZAS);
    if (text && *text) {
        t = stanza_add_element(err, "text", NS_STANZAS);
        xmpp_stanza_set_attribute(t, "xml:lang", i18n_tag(r->lang));
        xmpp_stanza_t *body = xmpp_stanza_new(r->a->ctx);
        xmpp_stanza_set_text(body, text);
        xmpp_stanza_add_child_ex(t, body, 0);
    }
    if (app)
        stanza_add_element(err, app, NS_COMMANDS);
    return reply;
}

static xmpp_stanza_t *error_text(const struct req *r, const char *cond, const char *app,
                                 const struct text *text)
{
    return error_reply(r, cond, app, text_get(text, r->lang));
}

/* An error whose text is made with printf in the request's language. */
static xmpp_stanza_t *error_owned(const struct req *r, const char *cond, const char *app,
                                  char *text)
{
    xmpp_stanza_t *reply = error_reply(r, cond, app, text);

    free(text);
    return reply;
}

static xmpp_stanza_t *command_el(xmpp_stanza_t *reply, const struct req *r, const char *sid,
                                 const char *status)
{
    xmpp_stanza_t *cmd = stanza_add_element(reply, "command", NS_COMMANDS);

    xmpp_stanza_set_attribute(cmd, "node", r->node);
    if (sid)
        xmpp_stanza_set_attribute(cmd, "sessionid", sid);
    xmpp_stanza_set_attribute(cmd, "status", status);
    xmpp_stanza_set_attribute(cmd, "xml:lang", i18n_tag(r->lang));
    return cmd;
}

static void add_actions(xmpp_stanza_t *cmd, unsigned allowed, enum adhoc_action dflt)
{
    xmpp_stanza_t *acts = stanza_add_element(cmd, "actions", NULL);
    static const enum adhoc_action order[] = {ADHOC_PREV, ADHOC_NEXT, ADHOC_COMPLETE};

    xmpp_stanza_set_attribute(acts, "execute", action_names[dflt]);
    for (size_t i = 0; i < 3; i++)
        if (allowed & (1u << order[i]))
            stanza_add_element(acts, action_names[order[i]], NULL);
}

static void add_notes(xmpp_stanza_t *cmd, const struct notes *n)
{
    for (size_t i = 0; i < n->n; i++) {
        xmpp_stanza_t *note = stanza_add_element(cmd, "note", NULL);
        xmpp_stanza_t *t = xmpp_stanza_new(xmpp_stanza_get_context(cmd));
        xmpp_stanza_set_attribute(note, "type", note_names[n->v[i].type]);
        xmpp_stanza_set_text(t, n->v[i].text);
        xmpp_stanza_add_child_ex(note, t, 0);
    }
}

static const struct text T_WARN = {"Warning: ", "주의: "};
static const struct text T_ERROR = {"Error: ", "오류: "};

/* The notes as lines for inside the form (poezio shows no notes beside a form, profanity only
 * the first): warnings and errors say what they are. Free with lines_free. */
static char **note_lines(const struct req *r, const struct notes *n)
{
    char **lines = xcalloc(n->n + 1, sizeof(*lines));

    for (size_t i = 0; i < n->n; i++) {
        const struct text *fmt = n->v[i].type == ADHOC_NOTE_ERROR  ? &T_ERROR
                                 : n->v[i].type == ADHOC_NOTE_WARN ? &T_WARN
                                                                   : NULL;
        lines[i] = xasprintf("%s%s", fmt ? text_get(fmt, r->lang) : "", n->v[i].text);
    }
    return lines;
}

static void lines_free(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

/* An input stage: the form with the notes inside it too. */
static void add_stage_form(xmpp_stanza_t *cmd, const struct req *r, const form_t *form,
                           const struct notes *notes)
{
    char **lines = note_lines(r, notes);
    form_t *shown = present_stage(form, (const char *const *)lines, notes->n, r->lang);

    xmpp_stanza_add_child_ex(cmd, form_to_stanza(r->a->ctx, shown, r->lang), 0);
    form_free(shown);
    lines_free(lines, notes->n);
}

/* Results: one form for people (notes inside, tables as lines), then the results as they are
 * for programs. A reply of several notes and no result gets a form too, so that the clients
 * that show one note or none show them all. */
static void add_results(xmpp_stanza_t *cmd, const struct req *r, form_t *const *forms, size_t n,
                        const struct notes *notes, const struct present_page *page)
{
    char **lines;
    form_t *people;
    xmpp_stanza_t *data;

    if (n == 0 && notes->n < 2)
        return;
    lines = note_lines(r, notes);
    people = present_for_people(forms, n, r->lang, text_get(&r->reg->def->name, r->lang),
                                (const char *const *)lines, notes->n, page);
    xmpp_stanza_add_child_ex(cmd, form_to_stanza(r->a->ctx, people, r->lang), 0);
    form_free(people);
    lines_free(lines, notes->n);
    if ((data = present_for_programs(r->a->ctx, forms, n, r->lang, page)) != NULL)
        xmpp_stanza_add_child_ex(cmd, data, 0);
}

/* The top stage, its fields holding `entered` (may be NULL) where it has them. */
static xmpp_stanza_t *stage_reply(const struct req *r, const struct session *s,
                                  const struct notes *notes, const form_t *entered)
{
    const struct stage *top = &s->stages[s->depth - 1];
    xmpp_stanza_t *reply = reply_iq(r, "result");
    xmpp_stanza_t *cmd = command_el(reply, r, s->id, "executing");

    add_actions(cmd, top->allowed, top->dflt);
    add_notes(cmd, notes);
    if (entered) {
        form_t *again = form_prefill(top->shown, entered);
        add_stage_form(cmd, r, again, notes);
        form_free(again);
    } else {
        add_stage_form(cmd, r, top->shown, notes);
    }
    return reply;
}

static xmpp_stanza_t *executing_reply(const struct req *r, const struct session *s,
                                      const struct notes *notes)
{
    return stage_reply(r, s, notes, s->stages[s->depth - 1].answer);
}

/* A rejected value: the same stage again with what was entered and `problem` (already naming
 * the field) as an error note, inside the form too; then the step's other notes. */
static xmpp_stanza_t *rejected_reply(const struct req *r, const struct session *s,
                                     const form_t *entered, const char *problem,
                                     const struct notes *more)
{
    struct notes n = {0};
    xmpp_stanza_t *reply;

    notes_add(&n, ADHOC_NOTE_ERROR, problem);
    for (size_t i = 0; more && i < more->n; i++)
        notes_add(&n, more->v[i].type, more->v[i].text);
    reply = stage_reply(r, s, &n, entered);
    notes_clear(&n);
    return reply;
}

static xmpp_stanza_t *ended_reply(const struct req *r, const char *sid, const char *status,
                                  const struct notes *notes, form_t *const *forms, size_t n)
{
    xmpp_stanza_t *reply = reply_iq(r, "result");
    xmpp_stanza_t *cmd = command_el(reply, r, sid, status);

    add_notes(cmd, notes);
    add_results(cmd, r, forms, n, notes, NULL);
    return reply;
}

/* ---- paging of long result tables ---- */

static void page_note(const struct req *r, const struct session *s, struct notes *n)
{
    size_t rows = 0, per = r->a->lim.page_rows;
    char *t;

    for (size_t i = 0; i < s->n_results; i++)
        if (form_row_count(s->results[i]) > rows)
            rows = form_row_count(s->results[i]);
    size_t first = s->page * per + 1, last = first - 1 + per < rows ? first - 1 + per : rows;
    if (i18n_is_korean(r->lang))
        t = xasprintf("전체 %zu행 중 %zu–%zu행 (%zu/%zu쪽). 다음/이전으로 이동합니다.", rows, first,
                      last, s->page + 1, s->pages);
    else
        t = xasprintf("Rows %zu–%zu of %zu (page %zu of %zu); use next and prev to move.", first,
                      last, rows, s->page + 1, s->pages);
    notes_add(n, ADHOC_NOTE_INFO, t);
    free(t);
}

static xmpp_stanza_t *page_reply(const struct req *r, const struct session *s, bool final)
{
    size_t per = r->a->lim.page_rows;
    bool last = s->page + 1 >= s->pages;
    unsigned allowed =
        ADHOC_ALLOW_COMPLETE | (s->page > 0 ? ADHOC_ALLOW_PREV : 0) | (last ? 0 : ADHOC_ALLOW_NEXT);
    xmpp_stanza_t *reply = reply_iq(r, "result");
    xmpp_stanza_t *cmd = command_el(reply, r, s->id, final ? "completed" : "executing");
    struct notes notes = {0};

    struct present_page pg = {s->page * per, per, s->page, s->pages};

    for (size_t i = 0; i < s->notes.n; i++)
        notes_add(&notes, s->notes.v[i].type, s->notes.v[i].text);
    page_note(r, s, &notes);
    if (!final)
        add_actions(cmd, allowed, last ? ADHOC_COMPLETE : ADHOC_NEXT);
    add_notes(cmd, &notes);
    notes_clear(&notes);
    /* Inside the form the page position is the label of the rows. */
    add_results(cmd, r, s->results, s->n_results, &s->notes, &pg);
    return reply;
}

static xmpp_stanza_t *page_action(const struct req *r, struct session *s, enum adhoc_action act,
                                  bool given)
{
    bool last = s->page + 1 >= s->pages;
    xmpp_stanza_t *reply;

    if (!given || act == ADHOC_EXECUTE)
        act = last ? ADHOC_COMPLETE : ADHOC_NEXT;
    if (act == ADHOC_NEXT && last)
        act = ADHOC_COMPLETE; /* poezio sends next on the last stage */
    if (act == ADHOC_PREV && s->page == 0)
        return NULL;
    if (act == ADHOC_NEXT)
        s->page++;
    else if (act == ADHOC_PREV)
        s->page--;
    reply = page_reply(r, s, act == ADHOC_COMPLETE);
    if (act == ADHOC_COMPLETE)
        session_end(r->a, s, true, r->now);
    return reply;
}

/* ---- running steps ---- */

static void call_init(adhoc_call_t *c, const struct req *r, struct session *s,
                      struct adhoc_outcome *o)
{
    memset(c, 0, sizeof(*c));
    memset(o, 0, sizeof(*o));
    c->node = r->node;
    c->sessionid = s->id;
    c->requester = r->requester;
    c->is_admin = r->is_admin;
    c->lang = r->lang;
    c->ctx = r->reg->ctx;
    c->state = s->state;
    c->state_free = s->state_free;
    c->out = o;
    o->req = r;
    o->s = s;
}

static void run_step(const struct req *r, struct session *s, unsigned stage, enum adhoc_action act,
                     const form_t *form, struct adhoc_outcome *o)
{
    adhoc_call_t c;

    call_init(&c, r, s, o);
    c.stage = stage;
    c.action = act;
    c.form = form;
    o->stage = stage;
    r->reg->def->step(&c);
    s->state = c.state;
    s->state_free = c.state_free;
}

static bool has_long_table(const adhoc_t *a, form_t *const *forms, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (form_row_count(forms[i]) > a->lim.page_rows)
            return true;
    return false;
}

/* The step completed: answer completed, or keep the session to page through long tables. */
static xmpp_stanza_t *finish(const struct req *r, struct session *s, struct adhoc_outcome *o)
{
    xmpp_stanza_t *reply;
    const char *note = NULL;
    enum adhoc_end how = ADHOC_END_COMPLETED;

    for (size_t i = 0; i < o->notes.n && how == ADHOC_END_COMPLETED; i++) {
        if (o->notes.v[i].type == ADHOC_NOTE_ERROR) {
            how = ADHOC_END_FAILED;
            note = o->notes.v[i].text;
        } else if (note == NULL) {
            note = o->notes.v[i].text;
        }
    }
    run_ended(r->a, s, how, note);

    for (unsigned i = 0; i < s->depth; i++)
        stage_clear(&s->stages[i]);
    s->depth = 0;
    if (s->state_free && s->state)
        s->state_free(s->state);
    s->state = NULL;
    if (!has_long_table(r->a, o->results, o->n_results)) {
        reply = ended_reply(r, s->id, "completed", &o->notes, o->results, o->n_results);
        session_end(r->a, s, true, r->now);
        return reply;
    }
    s->paging = true;
    s->results = o->results;
    s->n_results = o->n_results;
    s->notes = o->notes;
    o->results = NULL;
    o->n_results = 0;
    memset(&o->notes, 0, sizeof(o->notes));
    s->pages = 1;
    for (size_t i = 0; i < s->n_results; i++) {
        size_t p = form_page_count(s->results[i], r->a->lim.page_rows);
        s->pages = p > s->pages ? p : s->pages;
    }
    return page_reply(r, s, false);
}

static void normalise_actions(unsigned *allowed, enum adhoc_action *dflt)
{
    *allowed &= ADHOC_ALLOW_NEXT | ADHOC_ALLOW_PREV | ADHOC_ALLOW_COMPLETE;
    if ((*allowed & (ADHOC_ALLOW_NEXT | ADHOC_ALLOW_COMPLETE)) == 0)
        *allowed |= ADHOC_ALLOW_COMPLETE;
    if (*dflt >= ADHOC_CANCEL || *dflt == ADHOC_EXECUTE || !(*allowed & (1u << *dflt)))
        *dflt = (*allowed & ADHOC_ALLOW_NEXT) ? ADHOC_NEXT : ADHOC_COMPLETE;
}

/* The step showed a form: push it as the next stage (or put it in place of the current one). */
static xmpp_stanza_t *show(const struct req *r, struct session *s, struct adhoc_outcome *o)
{
    struct stage *st;

    if (o->kind == OUT_REPLACE && s->depth > 0) {
        st = &s->stages[s->depth - 1];
        stage_clear(st);
    } else if (s->depth == ADHOC_MAX_STAGES) {
        log_warnx("adhoc: too many stages node=%s limit=%d", r->node, ADHOC_MAX_STAGES);
        outcome_clear(o);
        o->kind = OUT_COMPLETE;
        notes_add(&o->notes, ADHOC_NOTE_ERROR, text_get(&T_TOO_DEEP, r->lang));
        return finish(r, s, o);
    } else {
        st = &s->stages[s->depth++];
    }
    if (form_get_kind(o->form) == FORM_FORM && form_get_form_type(o->form) == NULL) {
        char *ft = xasprintf("%s%s", FORM_TYPE_PREFIX, r->node);
        form_set_form_type(o->form, ft);
        free(ft);
    }
    st->shown = o->form;
    o->form = NULL;
    st->allowed = o->allowed;
    st->dflt = o->dflt;
    normalise_actions(&st->allowed, &st->dflt);
    return executing_reply(r, s, &o->notes);
}

static xmpp_stanza_t *apply(const struct req *r, struct session *s, struct adhoc_outcome *o,
                            bool fresh);

/* The step deferred. Usually the session now waits for adhoc_later_finish; but when the step
 * finished the late answer before it returned (a hook that ran at once), that answer is the
 * reply to this request, given now. */
static xmpp_stanza_t *deferred(const struct req *r, struct session *s, struct adhoc_outcome *o,
                               bool fresh)
{
    struct adhoc_later *l = o->later;
    xmpp_stanza_t *reply;

    o->later = NULL;
    o->kind = OUT_NONE;
    l->step_call = NULL;
    l->fresh = fresh;
    if (!l->finished_in_step) {
        s->busy = l;
        return NULL;
    }
    if (l->call.out != NULL) { /* adhoc_later_call was used: its state is the newest */
        s->state = l->call.state;
        s->state_free = l->call.state_free;
    }
    if (l->out.kind == OUT_DEFER) { /* deferring twice is not supported */
        later_free(l->out.later);
        l->out.later = NULL;
        l->out.kind = OUT_NONE;
    }
    reply = apply(r, s, &l->out, fresh);
    later_free(l);
    return reply;
}

/* A step refused a submission. A bad value (adhoc_reject, or a bad-payload refusal after a
 * submission) brings the stage back while there is one to go back to; anything else, and a
 * form that came with the first request, is a stanza error that leaves no new session. */
static xmpp_stanza_t *refusal(const struct req *r, struct session *s, struct adhoc_outcome *o,
                              bool fresh)
{
    bool bad_value = o->kind == OUT_REJECT || (strcmp(o->cond, "bad-request") == 0 && o->app_cond &&
                                               strcmp(o->app_cond, "bad-payload") == 0);
    const form_t *shown = s->depth > 0 ? s->stages[s->depth - 1].shown : NULL;
    char *problem =
        form_field_problem(shown, o->kind == OUT_REJECT ? o->app_cond : NULL, o->text, r->lang);
    xmpp_stanza_t *reply;

    if (bad_value && o->stage >= 1 && !fresh && s->depth > 0)
        reply = rejected_reply(r, s, s->stages[s->depth - 1].answer, problem, &o->notes);
    else if (bad_value)
        reply = error_reply(r, "bad-request", "bad-payload", problem);
    else
        reply = error_reply(r, o->cond, o->app_cond, o->text);
    free(problem);
    if (fresh && strcmp(xmpp_stanza_get_type(reply), "error") == 0)
        session_end(r->a, s, false, r->now);
    return reply;
}

/* Turns a step's outcome into the reply. `fresh`: the session was made by this request, so a
 * refusal drops it unseen. */
static xmpp_stanza_t *apply(const struct req *r, struct session *s, struct adhoc_outcome *o,
                            bool fresh)
{
    xmpp_stanza_t *reply;

    if ((o->kind == OUT_SHOW || o->kind == OUT_REPLACE) && o->form == NULL)
        o->kind = OUT_NONE; /* a show without a form is a bug like no answer at all */
    switch (o->kind) {
    case OUT_SHOW:
    case OUT_REPLACE:
        reply = show(r, s, o);
        break;
    case OUT_DEFER:
        reply = deferred(r, s, o, fresh);
        break;
    case OUT_NONE:
        log_warnx("adhoc: step gave no answer node=%s", r->node);
        reply = error_text(r, "internal-server-error", NULL, &T_NO_ANSWER);
        if (fresh)
            session_end(r->a, s, false, r->now);
        break;
    case OUT_REJECT:
    case OUT_REFUSE:
        reply = refusal(r, s, o, fresh);
        break;
    default:
        reply = finish(r, s, o);
        break;
    }
    outcome_clear(o);
    return reply;
}

/* Parses and checks the submission `x` (may be NULL) against the top stage of `s`. Returns the
 * checked form, or NULL with *err set to the reply: the stage again with what was entered for
 * a bad value (unless `fresh`: the form came with the first request), else an error. */
static form_t *check_submission(const struct req *r, const struct session *s, xmpp_stanza_t *x,
                                bool fresh, xmpp_stanza_t **err)
{
    const struct stage *st = &s->stages[s->depth - 1];
    struct form_errors errs = {0};
    form_t *sub, *checked;

    *err = NULL;
    if (x == NULL && form_wants_input(st->shown)) {
        *err = error_text(r, "bad-request", "bad-payload", &T_FORM_MISSING);
        return NULL;
    }
    /* A stage that asked for nothing needs no form back; an empty submission stands in. */
    sub = x ? form_from_stanza(x, &errs) : form_new(FORM_SUBMIT);
    checked = sub ? form_check(st->shown, sub, &errs) : NULL;
    if (checked == NULL && sub && !fresh && !form_errors_malformed(&errs)) {
        char *problem = form_errors_text_people(&errs, st->shown, r->lang);
        *err = rejected_reply(r, s, sub, problem, NULL);
        free(problem);
    } else if (checked == NULL) {
        *err = error_owned(r, "bad-request", "bad-payload",
                           sub && !form_errors_malformed(&errs)
                               ? form_errors_text_people(&errs, st->shown, r->lang)
                               : form_errors_text(&errs, st->shown, r->lang));
    }
    form_free(sub);
    form_errors_clear(&errs);
    return checked;
}

/* ---- actions ---- */

static bool action_parse(const char *s, enum adhoc_action *out)
{
    for (size_t i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++) {
        if (strcmp(s, action_names[i]) == 0) {
            *out = (enum adhoc_action)i;
            return true;
        }
    }
    return false;
}

/* Folds what the client sent into NEXT or COMPLETE for stage `st`, tolerating the usual
 * quirks (COMMANDS.md); false when the action is not offered there. */
static bool fold_action(const struct stage *st, bool given, enum adhoc_action act,
                        enum adhoc_action *out)
{
    if (!given || act == ADHOC_EXECUTE)
        act = st->dflt;
    if (act == ADHOC_NEXT && !(st->allowed & ADHOC_ALLOW_NEXT))
        act = ADHOC_COMPLETE; /* poezio: next on the last stage */
    else if (act == ADHOC_COMPLETE && !(st->allowed & ADHOC_ALLOW_COMPLETE))
        act = ADHOC_NEXT; /* Movim: complete on submit */
    if (act == ADHOC_PREV || !(st->allowed & (1u << act)))
        return false;
    *out = act;
    return true;
}

static xmpp_stanza_t *bad_action(const struct req *r, enum adhoc_action act, unsigned allowed)
{
    char offered[64] = "";

    for (enum adhoc_action i = ADHOC_NEXT; i <= ADHOC_COMPLETE; i++) {
        if (allowed & (1u << i)) {
            strcat(offered, action_names[i]);
            strcat(offered, ", ");
        }
    }
    strcat(offered, "cancel");
    if (i18n_is_korean(r->lang))
        return error_owned(r, "bad-request", "bad-action",
                           xasprintf("이 단계에서는 '%s' 동작을 쓸 수 없습니다. 가능한 동작: %s",
                                     action_names[act], offered));
    return error_owned(
        r, "bad-request", "bad-action",
        xasprintf("'%s' is not offered at this stage; offered: %s", action_names[act], offered));
}

static xmpp_stanza_t *expired(const struct req *r)
{
    uint64_t ms = r->a->lim.timeout_ms;
    bool ko = i18n_is_korean(r->lang);
    bool minutes = ms % 60000 == 0;
    unsigned long long n = minutes ? ms / 60000 : (ms + 999) / 1000;
    const char *unit = ko        ? (minutes ? "분" : "초")
                       : minutes ? (n == 1 ? " minute" : " minutes")
                                 : (n == 1 ? " second" : " seconds");
    char *t;

    if (ko)
        t = xasprintf("세션 '%.64s'은(는) 끝났습니다(완료, 취소 또는 %llu%s 넘게 입력 없음). "
                      "명령을 다시 시작하세요",
                      r->sid, n, unit);
    else
        t = xasprintf("session '%.64s' has ended (completed, canceled, or idle for more than "
                      "%llu%s); start the command again",
                      r->sid, n, unit);
    return error_owned(r, "not-allowed", "session-expired", t);
}

static xmpp_stanza_t *bad_sessionid(const struct req *r)
{
    if (i18n_is_korean(r->lang))
        return error_owned(
            r, "bad-request", "bad-sessionid",
            xasprintf("'%s' 명령에 당신의 세션 '%.64s'이(가) 없습니다", r->node, r->sid));
    return error_owned(r, "bad-request", "bad-sessionid",
                       xasprintf("no open session '%.64s' of yours for '%s'", r->sid, r->node));
}

/* ---- the request ---- */

/* Checks the submission of the top stage and runs the step on it. */
static xmpp_stanza_t *submit(const struct req *r, struct session *s, enum adhoc_action act,
                             bool fresh)
{
    struct stage *st = &s->stages[s->depth - 1];
    struct adhoc_outcome o;
    xmpp_stanza_t *err, *reply;
    form_t *checked = check_submission(r, s, r->x, fresh, &err);

    if (checked == NULL) {
        if (fresh)
            session_end(r->a, s, false, r->now);
        return err;
    }
    form_free(st->answer);
    st->answer = form_copy(checked);
    run_step(r, s, s->depth, act, checked, &o);
    reply = apply(r, s, &o, fresh);
    form_free(checked);
    return reply;
}

static xmpp_stanza_t *cancel(const struct req *r, struct session *s)
{
    struct adhoc_outcome o = {0};
    xmpp_stanza_t *reply;

    if (!s->paging && r->reg->def->cancel) {
        adhoc_call_t c;
        call_init(&c, r, s, &o);
        c.stage = s->depth;
        c.action = ADHOC_CANCEL;
        r->reg->def->cancel(&c);
        s->state = c.state;
        s->state_free = c.state_free;
    }
    reply = ended_reply(r, s->id, "canceled", &o.notes, NULL, 0);
    run_ended(r->a, s, ADHOC_END_CANCELED, o.notes.n ? o.notes.v[0].text : NULL);
    outcome_clear(&o);
    session_end(r->a, s, true, r->now);
    return reply;
}

static xmpp_stanza_t *prev(const struct req *r, struct session *s)
{
    struct stage *top = &s->stages[s->depth - 1];
    struct notes none = {0};

    if (!(top->allowed & ADHOC_ALLOW_PREV) || s->depth < 2)
        return bad_action(r, ADHOC_PREV, top->allowed);
    stage_clear(top);
    s->depth--;
    return executing_reply(r, s, &none);
}

static xmpp_stanza_t *resume(const struct req *r, enum adhoc_action act, bool given)
{
    struct session *s = find_session(r->a, r->sid);
    const struct ended *e;
    xmpp_stanza_t *reply;

    if (s == NULL) {
        e = find_ended(r->a, r->sid, r->now);
        return e && strcmp(e->owner, r->requester) == 0 ? expired(r) : bad_sessionid(r);
    }
    if (strcmp(s->owner, r->requester) != 0 || s->cmd != r->reg)
        return bad_sessionid(r);
    if (s->busy)
        return error_text(r, "resource-constraint", NULL, &T_BUSY);
    if (idle_too_long(r->a, s, r->now)) {
        run_ended(r->a, s, ADHOC_END_EXPIRED, NULL);
        session_end(r->a, s, true, r->now);
        return expired(r);
    }
    s->last = r->now;
    if (given && act == ADHOC_CANCEL)
        return cancel(r, s);
    if (s->paging) {
        reply = page_action(r, s, act, given);
        return reply ? reply : bad_action(r, act, ADHOC_ALLOW_NEXT | ADHOC_ALLOW_COMPLETE);
    }
    if (given && act == ADHOC_PREV)
        return prev(r, s);
    struct stage *top = &s->stages[s->depth - 1];
    if (!fold_action(top, given, act, &act))
        return bad_action(r, act, top->allowed);
    return submit(r, s, act, false);
}

/* The session of `requester`'s bare JID left alone longest (none waiting for a step), or NULL. */
static struct session *oldest_idle(const adhoc_t *a, const char *requester)
{
    char *bare = bare_of(requester);
    struct session *old = NULL;

    for (struct session *s = a->sessions; s; s = s->next)
        if (s->busy == NULL && strcmp(s->bare, bare) == 0 && (old == NULL || s->last < old->last))
            old = s;
    free(bare);
    return old;
}

/* At a limit, the requester's own oldest idle session makes room (a client that never cancels,
 * a forgotten form, must not lock its admin out); only others' sessions are never touched. */
static xmpp_stanza_t *over_limit(const struct req *r)
{
    adhoc_t *a = r->a;
    unsigned mine = adhoc_session_count(a, r->requester);
    struct session *old;

    while ((a->n_sessions >= a->lim.max_total || mine >= a->lim.max_per_jid) &&
           (old = oldest_idle(a, r->requester)) != NULL) {
        log_info("adhoc: session ended to make room node=%s owner=%s for=%s", old->cmd->def->node,
                 old->owner, r->node);
        run_ended(a, old, ADHOC_END_EXPIRED, NULL);
        session_end(a, old, true, r->now);
        mine--;
    }
    if (a->n_sessions < a->lim.max_total && mine < a->lim.max_per_jid)
        return NULL;
    log_warnx("adhoc: session limit node=%s requester=%s mine=%u max_per_jid=%u total=%u "
              "max_total=%u",
              r->node, r->requester, mine, a->lim.max_per_jid, a->n_sessions, a->lim.max_total);
    if (i18n_is_korean(r->lang))
        return error_owned(r, "resource-constraint", NULL,
                           xasprintf("열린 명령 세션이 너무 많습니다(내 세션 %u개, 한도 %u; "
                                     "전체 %u개, 한도 %u). 하나를 완료하거나 취소하세요",
                                     mine, a->lim.max_per_jid, a->n_sessions, a->lim.max_total));
    return error_owned(r, "resource-constraint", NULL,
                       xasprintf("too many open command sessions (%u of yours, limit %u; %u in "
                                 "all, limit %u); complete or cancel one",
                                 mine, a->lim.max_per_jid, a->n_sessions, a->lim.max_total));
}

static xmpp_stanza_t *start(const struct req *r, enum adhoc_action act, bool given)
{
    struct adhoc_outcome o;
    struct session *s;
    xmpp_stanza_t *reply;
    bool shown;

    if (given && act == ADHOC_PREV)
        return bad_action(r, act, ADHOC_ALLOW_NEXT | ADHOC_ALLOW_COMPLETE);
    if (given && act == ADHOC_CANCEL) /* nothing to cancel: say so the way a cancel is said */
        return ended_reply(r, NULL, "canceled", &(struct notes){0}, NULL, 0);
    adhoc_expire(r->a, r->now);
    if ((reply = over_limit(r)) != NULL)
        return reply;
    if ((s = session_new(r->a, r)) == NULL)
        return error_text(r, "internal-server-error", NULL, &T_NO_RANDOM);
    run_step(r, s, 0, ADHOC_EXECUTE, NULL, &o);
    shown = (o.kind == OUT_SHOW || o.kind == OUT_REPLACE) && o.form != NULL;
    reply = apply(r, s, &o, true);
    if (!shown || r->x == NULL || s->depth != 1 || reply == NULL)
        return reply;
    /* The filled form came with the first request (slixmpp scripts): run it at once. */
    xmpp_stanza_release(reply);
    if (!fold_action(&s->stages[0], given, act, &act))
        act = s->stages[0].dflt;
    return submit(r, s, act, true);
}

xmpp_stanza_t *adhoc_handle(adhoc_t *a, xmpp_stanza_t *iq, const char *requester, bool is_admin)
{
    return adhoc_handle_async(a, iq, requester, is_admin, NULL, NULL);
}

xmpp_stanza_t *adhoc_handle_async(adhoc_t *a, xmpp_stanza_t *iq, const char *requester,
                                  bool is_admin, adhoc_send_fn send, void *send_ud)
{
    struct req r = {.a = a,
                    .iq = iq,
                    .requester = requester ? requester : "",
                    .send = send,
                    .send_ud = send_ud};
    enum adhoc_action act = ADHOC_EXECUTE;
    const char *type = xmpp_stanza_get_type(iq);

    r.is_admin = is_admin;
    r.now = a->lim.clock(a->lim.clock_ud);
    r.cmd = stanza_child(iq, "command", NS_COMMANDS);
    r.lang = lang_of(iq, r.cmd);
    r.node = r.cmd ? xmpp_stanza_get_attribute(r.cmd, "node") : NULL;
    r.node = r.node && *r.node ? r.node : NULL;
    r.sid = r.cmd ? xmpp_stanza_get_attribute(r.cmd, "sessionid") : NULL;
    r.sid = r.sid && *r.sid ? r.sid : NULL;
    r.action = r.cmd ? xmpp_stanza_get_attribute(r.cmd, "action") : NULL;
    if (type == NULL || strcmp(type, "set") != 0)
        return error_text(&r, "bad-request", NULL, &T_NOT_SET);
    if (r.node == NULL)
        return error_text(&r, "bad-request", NULL, &T_NO_COMMAND);
    if ((r.reg = find_cmd(a, r.node)) == NULL)
        return error_owned(&r, "item-not-found", NULL,
                           i18n_is_korean(r.lang)
                               ? xasprintf("'%.64s' 명령이 없습니다", r.node)
                               : xasprintf("there is no command '%.64s' here", r.node));
    if (!may_run(r.reg, is_admin))
        return error_owned(&r, "forbidden", NULL,
                           i18n_is_korean(r.lang)
                               ? xasprintf("'%s' 명령은 관리자만 실행할 수 있습니다", r.node)
                               : xasprintf("only administrators may run '%s'", r.node));
    if (r.action && !action_parse(r.action, &act))
        return error_owned(&r, "bad-request", "malformed-action",
                           i18n_is_korean(r.lang)
                               ? xasprintf("'%.32s'은(는) 동작이 아닙니다. execute, next, prev, "
                                           "complete, cancel 중 하나를 쓰세요",
                                           r.action)
                               : xasprintf("'%.32s' is not an action; use execute, next, prev, "
                                           "complete or cancel",
                                           r.action));
    bool given = r.action != NULL;
    r.x = stanza_child(r.cmd, "x", NS_DATA);
    if (r.x && xmpp_stanza_get_type(r.x) && strcmp(xmpp_stanza_get_type(r.x), "cancel") == 0) {
        act = ADHOC_CANCEL; /* XEP-0004: the submitter cancelled the form */
        given = true;
    }
    return r.sid ? resume(&r, act, given) : start(&r, act, given);
}

/* ---- deferred answers ---- */

adhoc_later_t *adhoc_defer(adhoc_call_t *call)
{
    struct adhoc_outcome *o = call->out;
    const struct req *r = o->req;
    struct adhoc_later *l;

    if (r == NULL || r->send == NULL || call->action == ADHOC_CANCEL)
        return NULL;
    l = xcalloc(1, sizeof(*l));
    l->a = r->a;
    l->s = o->s;
    l->step_call = call;
    l->reg = r->reg;
    l->iq = xmpp_stanza_copy(r->iq);
    l->requester = xstrdup(r->requester);
    l->is_admin = r->is_admin;
    l->stage = call->stage;
    l->act = call->action;
    l->send = r->send;
    l->send_ud = r->send_ud;
    outcome_clear(o);
    o->req = r;
    o->kind = OUT_DEFER;
    o->later = l;
    return l;
}

static void req_from_later(struct req *r, struct adhoc_later *l)
{
    memset(r, 0, sizeof(*r));
    r->a = l->a;
    r->iq = l->iq;
    r->cmd = stanza_child(l->iq, "command", NS_COMMANDS);
    r->reg = l->reg;
    r->node = l->reg->def->node;
    r->sid = l->s ? l->s->id : NULL;
    r->lang = lang_of(l->iq, r->cmd);
    r->requester = l->requester;
    r->is_admin = l->is_admin;
    r->now = l->a->lim.clock(l->a->lim.clock_ud);
}

static void later_free(struct adhoc_later *l)
{
    outcome_clear(&l->out);
    xmpp_stanza_release(l->iq);
    free(l->requester);
    free(l);
}

adhoc_call_t *adhoc_later_call(adhoc_later_t *l)
{
    adhoc_call_t *c = &l->call;
    struct session *s = l->s;

    outcome_clear(&l->out);
    memset(c, 0, sizeof(*c));
    c->stage = l->stage;
    c->action = l->act;
    c->node = l->reg->def->node;
    c->sessionid = s->id;
    c->requester = l->requester;
    c->is_admin = l->is_admin;
    c->lang = lang_of(l->iq, stanza_child(l->iq, "command", NS_COMMANDS));
    c->ctx = l->reg->ctx;
    /* While the step runs, its own call holds the newest state (the session gets it when the
     * step returns). */
    c->state = l->step_call ? l->step_call->state : s->state;
    c->state_free = l->step_call ? l->step_call->state_free : s->state_free;
    c->out = &l->out;
    l->out.stage = l->stage;
    return c;
}

void adhoc_later_finish(adhoc_later_t *l)
{
    struct session *s = l->s;
    struct req r;
    xmpp_stanza_t *reply;

    if (l->step_call != NULL) { /* answered before the step returned: apply() replies now */
        l->finished_in_step = true;
        return;
    }
    req_from_later(&r, l);
    s->busy = NULL;
    s->last = r.now;
    s->state = l->call.state;
    s->state_free = l->call.state_free;
    if (l->out.kind == OUT_DEFER) { /* deferring twice is not supported */
        later_free(l->out.later);
        l->out.later = NULL;
        l->out.kind = OUT_NONE;
    }
    reply = apply(&r, s, &l->out, l->fresh);
    l->send(l->send_ud, reply);
    later_free(l);
}

/* ---- disco ---- */

void adhoc_disco_items(adhoc_t *a, xmpp_stanza_t *query, const char *self_jid, bool is_admin,
                       const char *lang)
{
    for (size_t i = 0; i < a->n_cmds; i++) {
        if (!may_run(&a->cmds[i], is_admin))
            continue;
        xmpp_stanza_t *item = stanza_add_element(query, "item", NULL);
        if (self_jid)
            xmpp_stanza_set_attribute(item, "jid", self_jid);
        xmpp_stanza_set_attribute(item, "node", a->cmds[i].def->node);
        xmpp_stanza_set_attribute(item, "name", text_get(&a->cmds[i].def->name, lang));
    }
}

static void add_identity(xmpp_stanza_t *query, const char *type, const char *name)
{
    xmpp_stanza_t *id = stanza_add_element(query, "identity", NULL);

    xmpp_stanza_set_attribute(id, "category", "automation");
    xmpp_stanza_set_attribute(id, "type", type);
    xmpp_stanza_set_attribute(id, "name", name);
}

static void add_feature(xmpp_stanza_t *query, const char *var)
{
    xmpp_stanza_set_attribute(stanza_add_element(query, "feature", NULL), "var", var);
}

int adhoc_disco_info(adhoc_t *a, const char *node, xmpp_stanza_t *query, bool is_admin,
                     const char *lang)
{
    const struct reg *r;

    if (node && strcmp(node, NS_COMMANDS) == 0) {
        add_identity(query, "command-list", text_get(&T_LIST, lang));
        return 0;
    }
    r = find_cmd(a, node);
    if (r == NULL || !may_run(r, is_admin))
        return -1;
    add_identity(query, "command-node", text_get(&r->def->name, lang));
    add_feature(query, NS_COMMANDS);
    add_feature(query, NS_DATA);
    return 0;
}
