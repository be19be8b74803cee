/* XEP-0050 ad-hoc commands: what a step answers with. Forms passed in are taken; texts are
 * copied. */
#ifndef IMD_ADHOC_OUTCOME_H
#define IMD_ADHOC_OUTCOME_H

#include "xmpp/adhoc.h"
#include "xmpp/form.h"
#include "xmpp/i18n.h"

/* Shows `form` (taken; a FORM_FORM gets the hidden FORM_TYPE urn:imdomaind:<node> if it has
 * none) as the next stage, with status executing. `allowed` is a mask of ADHOC_ALLOW_*
 * (0 means complete only); `dflt` is the action the client's default button takes and must be
 * one of them (else the framework picks next or complete). */
void adhoc_show(adhoc_call_t *call, form_t *form, unsigned allowed, enum adhoc_action dflt);
/* Like adhoc_show, but the form takes the place of the stage just answered, so the stage
 * number stays and `prev` skips it: a refreshed progress view, a retry. */
void adhoc_replace(adhoc_call_t *call, form_t *form, unsigned allowed, enum adhoc_action dflt);
/* Completes the command with `result` (taken, may be NULL). A result table with more rows
 * than the page size is paged by the framework: the session stays open on page 1 with
 * next/prev/complete. */
void adhoc_complete(adhoc_call_t *call, form_t *result);
/* Adds one more result form (taken) to a completion (several tables, say). */
void adhoc_add_result(adhoc_call_t *call, form_t *result);
/* Completes with a <note type='error'/> saying `why` (a refused precondition: state the rule
 * and the remedy). Nothing else is returned. */
void adhoc_fail(adhoc_call_t *call, const struct text *why);
/* Answers with a stanza error instead: RFC 6120 `condition` (its type is implied: bad-request
 * modify, not-allowed cancel, forbidden auth, resource-constraint wait, ...), an optional
 * XEP-0050 `app_condition` ("bad-payload", ...) and a human `text` (copied; already in the
 * request's language). A session stays at the stage it was on. */
void adhoc_refuse(adhoc_call_t *call, const char *condition, const char *app_condition,
                  const char *text);
/* A submitted value breaks a rule the step checks: the same stage comes back (status
 * executing, same session) with what was entered and an error note naming the field `var`
 * (may be NULL) by its label, then `why` (copied; in the request's language). When the form
 * came with the request that started the command, there is no stage to go back to: that is a
 * bad-request (bad-payload) error instead, and no session stays open. The framework does the
 * same for a value the form's declaration refuses (a required field left empty, a number out of
 * range, a choice not offered) and for adhoc_refuse(bad-request, bad-payload) after a
 * submission; only a malformed request is answered with an iq error. */
void adhoc_reject(adhoc_call_t *call, const char *var, const char *why);
/* Adds a note (text copied) to whatever the step answers. */
void adhoc_note(adhoc_call_t *call, enum adhoc_note_type type, const struct text *text);
void adhoc_note_str(adhoc_call_t *call, enum adhoc_note_type type, const char *text);

#endif
