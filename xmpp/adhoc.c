/* XEP-0050 ad-hoc commands: the registry of commands and the request, from the <command/> that
 * comes in to the reply: which session, which action (client quirks folded), then the step.
 * The parts: adhoc_session.c (sessions and limits), adhoc_step.c (running a step and turning its
 * outcome into the reply), adhoc_outcome.c (what a step records), adhoc_reply.c (reply
 * stanzas), adhoc_page.c (paging long tables), adhoc_later.c (deferred answers),
 * adhoc_disco.c (disco). */
#include "xmpp/adhoc.h"

#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/adhoc_internal.h"
#include "xmpp/stanza.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const adhoc_action_names[] = {[ADHOC_EXECUTE] = "execute",
                                          [ADHOC_NEXT] = "next",
                                          [ADHOC_PREV] = "prev",
                                          [ADHOC_COMPLETE] = "complete",
                                          [ADHOC_CANCEL] = "cancel"};

static const struct text T_NOT_SET = {"ad-hoc commands are run with an iq of type 'set'",
                                      "애드혹 명령은 type이 'set'인 iq로 실행합니다"};
static const struct text T_NO_COMMAND = {"the request carries no <command/> with a node",
                                         "요청에 node가 있는 <command/>가 없습니다"};
static const struct text T_NO_RANDOM = {"no random session id could be made; try again",
                                        "임의 세션 ID를 만들지 못했습니다. 다시 시도하세요"};
static const struct text T_BUSY = {
    "the previous step of this session is still running; try again "
    "in a moment",
    "이 세션의 이전 단계가 아직 실행 중입니다. 잠시 후 다시 시도하세요"};
static const struct text T_STOPPING = {"the daemon is stopping; the step's outcome is unknown, "
                                       "check with the audit log",
                                       "데몬이 멈추는 중입니다. 단계의 결과를 알 수 없으니 감사 "
                                       "로그를 확인하세요"};

static uint64_t monotonic_ms(void *ud)
{
    struct timespec ts;

    (void)ud;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        fatal("clock_gettime");
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* xml:lang of the payload, else of the iq. libstrophe's own string parser (used by the control
 * socket and tests) keeps the attribute as plain "lang", so that is read too. */
const char *adhoc_lang_of(xmpp_stanza_t *iq, xmpp_stanza_t *cmd)
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

const struct reg *adhoc_find_cmd(const adhoc_t *a, const char *node)
{
    for (size_t i = 0; node && i < a->n_cmds; i++)
        if (strcmp(a->cmds[i].def->node, node) == 0)
            return &a->cmds[i];
    return NULL;
}

int adhoc_register(adhoc_t *a, const struct adhoc_command *def, void *ctx)
{
    if (a->n_cmds == ADHOC_MAX_COMMANDS || adhoc_find_cmd(a, def->node) != NULL) {
        log_warnx("adhoc: cannot register node=%s reason=%s", def->node,
                  a->n_cmds == ADHOC_MAX_COMMANDS ? "table full" : "duplicate");
        return -1;
    }
    a->cmds[a->n_cmds].def = def;
    a->cmds[a->n_cmds++].ctx = ctx;
    return 0;
}

bool adhoc_may_run(const struct reg *r, bool is_admin)
{
    return is_admin || r->def->open_to_all;
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
        adhoc_req_from_later(&r, l);
        l->send(l->send_ud, adhoc_error_text(&r, "internal-server-error", NULL, &T_STOPPING));
        s->busy = NULL;
        adhoc_later_free(l);
    }
    while (a->sessions)
        adhoc_session_end(a, a->sessions, false, 0);
    for (size_t i = 0; i < a->n_ended; i++)
        free(a->ended[(a->ended_tail + i) % ADHOC_MAX_ENDED].owner);
    free(a);
}

/* ---- actions ---- */

static bool action_parse(const char *s, enum adhoc_action *out)
{
    for (size_t i = 0; i < sizeof(adhoc_action_names) / sizeof(adhoc_action_names[0]); i++) {
        if (strcmp(s, adhoc_action_names[i]) == 0) {
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

/* ---- the request ---- */

/* Checks the submission of the top stage and runs the step on it. */
static xmpp_stanza_t *submit(const struct req *r, struct session *s, enum adhoc_action act,
                             bool fresh)
{
    struct stage *st = &s->stages[s->depth - 1];
    struct adhoc_outcome o;
    xmpp_stanza_t *err, *reply;
    form_t *checked = adhoc_check_submission(r, s, r->x, fresh, &err);

    if (checked == NULL) {
        if (fresh)
            adhoc_session_end(r->a, s, false, r->now);
        return err;
    }
    form_free(st->answer);
    st->answer = form_copy(checked);
    adhoc_run_step(r, s, s->depth, act, checked, &o);
    reply = adhoc_apply(r, s, &o, fresh);
    form_free(checked);
    return reply;
}

static xmpp_stanza_t *cancel(const struct req *r, struct session *s)
{
    struct adhoc_outcome o = {0};
    xmpp_stanza_t *reply;

    if (!s->paging && r->reg->def->cancel) {
        adhoc_call_t c;
        adhoc_call_init(&c, r, s, &o);
        c.stage = s->depth;
        c.action = ADHOC_CANCEL;
        r->reg->def->cancel(&c);
        s->state = c.state;
        s->state_free = c.state_free;
    }
    reply = adhoc_ended_reply(r, s->id, "canceled", &o.notes, NULL, 0);
    adhoc_run_ended(r->a, s, ADHOC_END_CANCELED, o.notes.n ? o.notes.v[0].text : NULL);
    adhoc_outcome_clear(&o);
    adhoc_session_end(r->a, s, true, r->now);
    return reply;
}

static xmpp_stanza_t *prev(const struct req *r, struct session *s)
{
    struct stage *top = &s->stages[s->depth - 1];
    struct notes none = {0};

    if (!(top->allowed & ADHOC_ALLOW_PREV) || s->depth < 2)
        return adhoc_bad_action(r, ADHOC_PREV, top->allowed);
    adhoc_stage_clear(top);
    s->depth--;
    return adhoc_executing_reply(r, s, &none);
}

static xmpp_stanza_t *resume(const struct req *r, enum adhoc_action act, bool given)
{
    struct session *s = adhoc_session_find(r->a, r->sid);
    const struct ended *e;
    xmpp_stanza_t *reply;

    if (s == NULL) {
        e = adhoc_ended_find(r->a, r->sid, r->now);
        return e && strcmp(e->owner, r->requester) == 0 ? adhoc_expired_reply(r)
                                                        : adhoc_bad_sessionid(r);
    }
    if (strcmp(s->owner, r->requester) != 0 || s->cmd != r->reg)
        return adhoc_bad_sessionid(r);
    if (s->busy)
        return adhoc_error_text(r, "resource-constraint", NULL, &T_BUSY);
    if (adhoc_idle_too_long(r->a, s, r->now)) {
        adhoc_run_ended(r->a, s, ADHOC_END_EXPIRED, NULL);
        adhoc_session_end(r->a, s, true, r->now);
        return adhoc_expired_reply(r);
    }
    s->last = r->now;
    if (given && act == ADHOC_CANCEL)
        return cancel(r, s);
    if (s->paging) {
        reply = adhoc_page_action(r, s, act, given);
        return reply ? reply : adhoc_bad_action(r, act, ADHOC_ALLOW_NEXT | ADHOC_ALLOW_COMPLETE);
    }
    if (given && act == ADHOC_PREV)
        return prev(r, s);
    struct stage *top = &s->stages[s->depth - 1];
    if (!fold_action(top, given, act, &act))
        return adhoc_bad_action(r, act, top->allowed);
    return submit(r, s, act, false);
}

static xmpp_stanza_t *start(const struct req *r, enum adhoc_action act, bool given)
{
    struct adhoc_outcome o;
    struct session *s;
    xmpp_stanza_t *reply;
    bool shown;

    if (given && act == ADHOC_PREV)
        return adhoc_bad_action(r, act, ADHOC_ALLOW_NEXT | ADHOC_ALLOW_COMPLETE);
    if (given && act == ADHOC_CANCEL) /* nothing to cancel: say so the way a cancel is said */
        return adhoc_ended_reply(r, NULL, "canceled", &(struct notes){0}, NULL, 0);
    adhoc_expire(r->a, r->now);
    if ((reply = adhoc_over_limit(r)) != NULL)
        return reply;
    if ((s = adhoc_session_new(r->a, r)) == NULL)
        return adhoc_error_text(r, "internal-server-error", NULL, &T_NO_RANDOM);
    adhoc_run_step(r, s, 0, ADHOC_EXECUTE, NULL, &o);
    shown = (o.kind == OUT_SHOW || o.kind == OUT_REPLACE) && o.form != NULL;
    reply = adhoc_apply(r, s, &o, true);
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
    r.lang = adhoc_lang_of(iq, r.cmd);
    r.node = r.cmd ? xmpp_stanza_get_attribute(r.cmd, "node") : NULL;
    r.node = r.node && *r.node ? r.node : NULL;
    r.sid = r.cmd ? xmpp_stanza_get_attribute(r.cmd, "sessionid") : NULL;
    r.sid = r.sid && *r.sid ? r.sid : NULL;
    r.action = r.cmd ? xmpp_stanza_get_attribute(r.cmd, "action") : NULL;
    if (type == NULL || strcmp(type, "set") != 0)
        return adhoc_error_text(&r, "bad-request", NULL, &T_NOT_SET);
    if (r.node == NULL)
        return adhoc_error_text(&r, "bad-request", NULL, &T_NO_COMMAND);
    if ((r.reg = adhoc_find_cmd(a, r.node)) == NULL)
        return adhoc_error_owned(&r, "item-not-found", NULL,
                                 i18n_is_korean(r.lang)
                                     ? xasprintf("'%.64s' 명령이 없습니다", r.node)
                                     : xasprintf("there is no command '%.64s' here", r.node));
    if (!adhoc_may_run(r.reg, is_admin))
        return adhoc_error_owned(&r, "forbidden", NULL,
                                 i18n_is_korean(r.lang)
                                     ? xasprintf("'%s' 명령은 관리자만 실행할 수 있습니다", r.node)
                                     : xasprintf("only administrators may run '%s'", r.node));
    if (r.action && !action_parse(r.action, &act))
        return adhoc_error_owned(
            &r, "bad-request", "malformed-action",
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
