/* XEP-0050 ad-hoc commands: what a step records as its outcome (a form to show, a completion,
 * a refusal, notes), and the lists of notes and results the outcome holds. */
#include "xmpp/adhoc_outcome.h"

#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/adhoc_internal.h"

#include <stdlib.h>
#include <string.h>

void adhoc_notes_add(struct notes *n, enum adhoc_note_type type, const char *text)
{
    n->v = xrealloc(n->v, (n->n + 1) * sizeof(*n->v));
    n->v[n->n].type = type;
    n->v[n->n++].text = xstrdup(text ? text : "");
}

void adhoc_notes_clear(struct notes *n)
{
    for (size_t i = 0; i < n->n; i++)
        free(n->v[i].text);
    free(n->v);
    n->v = NULL;
    n->n = 0;
}

void adhoc_results_free(form_t **results, size_t n)
{
    for (size_t i = 0; i < n; i++)
        form_free(results[i]);
    free(results);
}

void adhoc_outcome_clear(struct adhoc_outcome *o)
{
    form_free(o->form);
    adhoc_results_free(o->results, o->n_results);
    adhoc_notes_clear(&o->notes);
    free(o->cond);
    free(o->app_cond);
    free(o->text);
    memset(o, 0, sizeof(*o));
}

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
    adhoc_notes_add(&call->out->notes, type, text_get(text, call->lang));
}

void adhoc_note_str(adhoc_call_t *call, enum adhoc_note_type type, const char *text)
{
    adhoc_notes_add(&call->out->notes, type, text);
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
