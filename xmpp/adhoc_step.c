/* XEP-0050 ad-hoc commands: running a command's step and turning its outcome into the reply
 * (the next stage, a completion, a refusal, a deferral): the state machine of a session. */
#include "xmpp/adhoc_internal.h"

#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/form_check.h"
#include "xmpp/form_parse.h"

#include <stdlib.h>
#include <string.h>

static const struct text T_FORM_MISSING = {"this stage needs the filled-in form",
                                           "이 단계에는 작성한 폼이 필요합니다"};
static const struct text T_NO_ANSWER = {"the command gave no answer (a bug; see the log)",
                                        "명령이 응답하지 않았습니다(버그입니다. 로그를 보세요)"};
static const struct text T_TOO_DEEP = {"the command has too many stages; start it again",
                                       "명령의 단계가 너무 많습니다. 다시 시작하세요"};

/* ---- running steps ---- */

void adhoc_call_init(adhoc_call_t *c, const struct req *r, struct session *s,
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

void adhoc_run_step(const struct req *r, struct session *s, unsigned stage, enum adhoc_action act,
                    const form_t *form, struct adhoc_outcome *o)
{
    adhoc_call_t c;

    adhoc_call_init(&c, r, s, o);
    c.stage = stage;
    c.action = act;
    c.form = form;
    o->stage = stage;
    r->reg->def->step(&c);
    s->state = c.state;
    s->state_free = c.state_free;
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
    adhoc_run_ended(r->a, s, how, note);

    for (unsigned i = 0; i < s->depth; i++)
        adhoc_stage_clear(&s->stages[i]);
    s->depth = 0;
    if (s->state_free && s->state)
        s->state_free(s->state);
    s->state = NULL;
    if (!adhoc_has_long_table(r->a, o->results, o->n_results)) {
        reply = adhoc_ended_reply(r, s->id, "completed", &o->notes, o->results, o->n_results);
        adhoc_session_end(r->a, s, true, r->now);
        return reply;
    }
    return adhoc_page_start(r, s, o);
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
        adhoc_stage_clear(st);
    } else if (s->depth == ADHOC_MAX_STAGES) {
        log_warnx("adhoc: too many stages node=%s limit=%d", r->node, ADHOC_MAX_STAGES);
        adhoc_outcome_clear(o);
        o->kind = OUT_COMPLETE;
        adhoc_notes_add(&o->notes, ADHOC_NOTE_ERROR, text_get(&T_TOO_DEEP, r->lang));
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
    return adhoc_executing_reply(r, s, &o->notes);
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
        reply = adhoc_rejected_reply(r, s, s->stages[s->depth - 1].answer, problem, &o->notes);
    else if (bad_value)
        reply = adhoc_error_reply(r, "bad-request", "bad-payload", problem);
    else
        reply = adhoc_error_reply(r, o->cond, o->app_cond, o->text);
    free(problem);
    if (fresh && strcmp(xmpp_stanza_get_type(reply), "error") == 0)
        adhoc_session_end(r->a, s, false, r->now);
    return reply;
}

/* Turns a step's outcome into the reply. `fresh`: the session was made by this request, so a
 * refusal drops it unseen. */
xmpp_stanza_t *adhoc_apply(const struct req *r, struct session *s, struct adhoc_outcome *o,
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
        reply = adhoc_deferred(r, s, o, fresh);
        break;
    case OUT_NONE:
        log_warnx("adhoc: step gave no answer node=%s", r->node);
        reply = adhoc_error_text(r, "internal-server-error", NULL, &T_NO_ANSWER);
        if (fresh)
            adhoc_session_end(r->a, s, false, r->now);
        break;
    case OUT_REJECT:
    case OUT_REFUSE:
        reply = refusal(r, s, o, fresh);
        break;
    default:
        reply = finish(r, s, o);
        break;
    }
    adhoc_outcome_clear(o);
    return reply;
}

/* Parses and checks the submission `x` (may be NULL) against the top stage of `s`. Returns the
 * checked form, or NULL with *err set to the reply: the stage again with what was entered for
 * a bad value (unless `fresh`: the form came with the first request), else an error. */
form_t *adhoc_check_submission(const struct req *r, const struct session *s, xmpp_stanza_t *x,
                               bool fresh, xmpp_stanza_t **err)
{
    const struct stage *st = &s->stages[s->depth - 1];
    struct form_errors errs = {0};
    form_t *sub, *checked;

    *err = NULL;
    if (x == NULL && form_wants_input(st->shown)) {
        *err = adhoc_error_text(r, "bad-request", "bad-payload", &T_FORM_MISSING);
        return NULL;
    }
    /* A stage that asked for nothing needs no form back; an empty submission stands in. */
    sub = x ? form_from_stanza(x, &errs) : form_new(FORM_SUBMIT);
    checked = sub ? form_check(st->shown, sub, &errs) : NULL;
    if (checked == NULL && sub && !fresh && !form_errors_malformed(&errs)) {
        char *problem = form_errors_text_people(&errs, st->shown, r->lang);
        *err = adhoc_rejected_reply(r, s, sub, problem, NULL);
        free(problem);
    } else if (checked == NULL) {
        *err = adhoc_error_owned(r, "bad-request", "bad-payload",
                                 sub && !form_errors_malformed(&errs)
                                     ? form_errors_text_people(&errs, st->shown, r->lang)
                                     : form_errors_text(&errs, st->shown, r->lang));
    }
    form_free(sub);
    form_errors_clear(&errs);
    return checked;
}
