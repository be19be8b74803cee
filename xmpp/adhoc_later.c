/* XEP-0050 ad-hoc commands: deferred answers: a step that waits (a reload hook, a fetch) answers
 * later through a handle that keeps a copy of the request. */
#include "xmpp/adhoc_later.h"

#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/adhoc_internal.h"
#include "xmpp/stanza.h"

#include <stdlib.h>
#include <string.h>

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
    adhoc_outcome_clear(o);
    o->req = r;
    o->kind = OUT_DEFER;
    o->later = l;
    return l;
}

void adhoc_req_from_later(struct req *r, struct adhoc_later *l)
{
    memset(r, 0, sizeof(*r));
    r->a = l->a;
    r->iq = l->iq;
    r->cmd = stanza_child(l->iq, "command", NS_COMMANDS);
    r->reg = l->reg;
    r->node = l->reg->def->node;
    r->sid = l->s ? l->s->id : NULL;
    r->lang = adhoc_lang_of(l->iq, r->cmd);
    r->requester = l->requester;
    r->is_admin = l->is_admin;
    r->now = l->a->lim.clock(l->a->lim.clock_ud);
}

void adhoc_later_free(struct adhoc_later *l)
{
    adhoc_outcome_clear(&l->out);
    xmpp_stanza_release(l->iq);
    free(l->requester);
    free(l);
}

adhoc_call_t *adhoc_later_call(adhoc_later_t *l)
{
    adhoc_call_t *c = &l->call;
    struct session *s = l->s;

    adhoc_outcome_clear(&l->out);
    memset(c, 0, sizeof(*c));
    c->stage = l->stage;
    c->action = l->act;
    c->node = l->reg->def->node;
    c->sessionid = s->id;
    c->requester = l->requester;
    c->is_admin = l->is_admin;
    c->lang = adhoc_lang_of(l->iq, stanza_child(l->iq, "command", NS_COMMANDS));
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

    if (l->step_call != NULL) { /* answered before the step returned: adhoc_apply() replies now */
        l->finished_in_step = true;
        return;
    }
    adhoc_req_from_later(&r, l);
    s->busy = NULL;
    s->last = r.now;
    s->state = l->call.state;
    s->state_free = l->call.state_free;
    if (l->out.kind == OUT_DEFER) { /* deferring twice is not supported */
        adhoc_later_free(l->out.later);
        l->out.later = NULL;
        l->out.kind = OUT_NONE;
    }
    reply = adhoc_apply(&r, s, &l->out, l->fresh);
    l->send(l->send_ud, reply);
    adhoc_later_free(l);
}

/* The step deferred. Usually the session now waits for adhoc_later_finish; but when the step
 * finished the late answer before it returned (a hook that ran at once), that answer is the
 * reply to this request, given now. */
xmpp_stanza_t *adhoc_deferred(const struct req *r, struct session *s, struct adhoc_outcome *o,
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
        adhoc_later_free(l->out.later);
        l->out.later = NULL;
        l->out.kind = OUT_NONE;
    }
    reply = adhoc_apply(r, s, &l->out, fresh);
    adhoc_later_free(l);
    return reply;
}
