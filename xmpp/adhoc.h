/* XEP-0050 ad-hoc commands, transport-neutral: a registry of commands, their sessions (ids,
 * owners, idle expiry, limits), actions and client quirks, stanza errors, disco answers, and
 * the paging of long result tables. A command is a `step` function: form in, result out. */
#ifndef IMD_ADHOC_H
#define IMD_ADHOC_H

#include <stdbool.h>
#include <stdint.h>
#include <strophe.h>

#include "xmpp/form.h"
#include "xmpp/i18n.h"

#define NS_COMMANDS "http://jabber.org/protocol/commands"

#define ADHOC_DEFAULT_TIMEOUT_MS (10u * 60u * 1000u)    /* idle time before a session expires */
#define ADHOC_DEFAULT_MAX_PER_JID 8                     /* open sessions per bare JID */
#define ADHOC_DEFAULT_MAX_TOTAL 256                     /* open sessions in all */
#define ADHOC_DEFAULT_ENDED_KEEP_MS (30u * 60u * 1000u) /* ended ids answer session-expired */
#define ADHOC_DEFAULT_PAGE_ROWS 100                     /* rows of a result table per page */
#define ADHOC_MAX_ENDED 1024                            /* ended ids remembered at most */
#define ADHOC_MAX_STAGES 64                             /* forms stacked in one session */
#define ADHOC_MAX_COMMANDS 128

/* Zero fields take the defaults above. `clock` returns monotonic milliseconds; NULL uses
 * CLOCK_MONOTONIC (tests pass a fake one). */
struct adhoc_limits {
    uint64_t timeout_ms;
    unsigned max_per_jid;
    unsigned max_total;
    uint64_t ended_keep_ms;
    unsigned page_rows;
    uint64_t (*clock)(void *ud);
    void *clock_ud;
};

enum adhoc_action { ADHOC_EXECUTE, ADHOC_NEXT, ADHOC_PREV, ADHOC_COMPLETE, ADHOC_CANCEL };
/* Masks of the actions a stage offers (execute and cancel are always allowed). */
#define ADHOC_ALLOW_NEXT (1u << ADHOC_NEXT)
#define ADHOC_ALLOW_PREV (1u << ADHOC_PREV)
#define ADHOC_ALLOW_COMPLETE (1u << ADHOC_COMPLETE)

enum adhoc_note_type { ADHOC_NOTE_INFO, ADHOC_NOTE_WARN, ADHOC_NOTE_ERROR };

typedef struct adhoc adhoc_t;
/* A step's answer that comes later (a command waiting for a reload hook). */
typedef struct adhoc_later adhoc_later_t;
/* Delivers a late reply; the callee owns `reply`. */
typedef void (*adhoc_send_fn)(void *ud, xmpp_stanza_t *reply);
struct adhoc_outcome; /* private */

/* What a step is called with. Inputs are borrowed for the duration of the call; `state` and
 * `state_free` may be set by the step and persist for the session (the framework calls
 * state_free(state) when the session ends, however it ends). */
typedef struct adhoc_call {
    /* 0: the command starts (no form yet). n >= 1: the form shown at stage n was submitted
     * (after `prev`, the same n comes again). */
    unsigned stage;
    /* ADHOC_EXECUTE at stage 0; else ADHOC_NEXT or ADHOC_COMPLETE, with the quirks folded:
     * no action or `execute` is the stage's default, `next` on a stage offering only
     * `complete` is COMPLETE, `complete` on a stage offering only `next` is NEXT. */
    enum adhoc_action action;
    /* At stage >= 1: the submission checked against that stage's form (every declared input
     * field present, values normalised; empty when the form asked for nothing). NULL at 0. */
    const form_t *form;
    const char *node;
    const char *sessionid;
    const char *requester; /* full JID, or "uid:N" from the control socket */
    bool is_admin;
    const char *lang; /* the request's xml:lang, may be NULL; use with text_get() */
    void *ctx;        /* given to adhoc_register */
    void *state;
    void (*state_free)(void *state);
    struct adhoc_outcome *out;
} adhoc_call_t;

/* A command. The definition is borrowed and must outlive the registry (a static const). */
struct adhoc_command {
    const char *node;
    struct text name;
    bool open_to_all; /* listed and runnable for non-admins too (false for every admin tool) */
    /* Decides the outcome of one request with exactly one of adhoc_show, adhoc_replace,
     * adhoc_complete, adhoc_fail or adhoc_refuse (plus any notes and extra results). */
    void (*step)(adhoc_call_t *call);
    /* Optional: the session is canceled at call->stage (form NULL). It may add notes (say, "roll
     * back started"); the answer is status='canceled' whatever it does. */
    void (*cancel)(adhoc_call_t *call);
};

/* ---- outcomes, called from a step ---- */

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

/* ---- the registry ---- */

/* `ctx` is borrowed (it must outlive the registry); `limits` is copied, NULL for defaults. */
adhoc_t *adhoc_new(xmpp_ctx_t *ctx, const struct adhoc_limits *limits);
/* Ends every session (state_free is called) and frees the registry. */
void adhoc_free(adhoc_t *adhoc);
/* Registers `def` (borrowed) with `ctx` (borrowed, passed to its calls). Returns -1 when the
 * node is taken or the table is full. Disco lists commands in registration order. */
int adhoc_register(adhoc_t *adhoc, const struct adhoc_command *def, void *ctx);

/* Handles <iq type='set'><command xmlns='http://jabber.org/protocol/commands'/></iq> (borrowed)
 * from `requester` (a full JID, or "uid:N" from the local socket). Returns the reply iq (to and
 * from swapped, id kept): a result, or an error per XEP-0050 and COMMANDS.md. The caller owns
 * and sends it. Never NULL. */
xmpp_stanza_t *adhoc_handle(adhoc_t *adhoc, xmpp_stanza_t *iq, const char *requester,
                            bool is_admin);

/* Like adhoc_handle, but a step may defer its answer (adhoc_defer): then this returns NULL and
 * the reply goes to send(send_ud, reply) when the step finishes, or when the registry is freed
 * first (an internal-server-error). While deferred, the session answers resource-constraint. */
xmpp_stanza_t *adhoc_handle_async(adhoc_t *adhoc, xmpp_stanza_t *iq, const char *requester,
                                  bool is_admin, adhoc_send_fn send, void *send_ud);

/* In a step, instead of an outcome: the answer will come later. Returns NULL when this request
 * cannot be deferred (adhoc_handle, or a cancel): the step must answer now. The returned handle
 * stays valid until adhoc_later_finish, which must be called exactly once, or until
 * adhoc_free (which answers for it): whoever holds handles must let go of them before then.
 * adhoc_later_call and adhoc_later_finish may also be called before the step returns (the
 * awaited thing happened at once): the reply is then returned by adhoc_handle_async as if the
 * step had answered directly, and the send callback is not called. */
adhoc_later_t *adhoc_defer(adhoc_call_t *call);
/* The call to record the late outcome on (adhoc_complete, adhoc_note, ...), with the step's
 * stage, state and language. Owned by `later`. */
adhoc_call_t *adhoc_later_call(adhoc_later_t *later);
/* Sends the outcome recorded on adhoc_later_call() and frees `later`. */
void adhoc_later_finish(adhoc_later_t *later);

/* Fills a disco#items <query/> (borrowed) for node NS_COMMANDS: one <item jid=self_jid node
 * name/> per command the requester may run, names in `lang`. Non-admins see only commands
 * open to all (none, today). */
void adhoc_disco_items(adhoc_t *adhoc, xmpp_stanza_t *query, const char *self_jid, bool is_admin,
                       const char *lang);
/* Fills a disco#info <query/> for `node`: NS_COMMANDS itself (automation/command-list) or a
 * command node (automation/command-node, features commands and jabber:x:data). Returns 0, or
 * -1 when the node is not a command the requester may see (the caller answers
 * item-not-found). */
int adhoc_disco_info(adhoc_t *adhoc, const char *node, xmpp_stanza_t *query, bool is_admin,
                     const char *lang);

/* How a command's run ended, for the audit log: its step completed (FAILED: with an error
 * note), the user canceled it, it was left idle until it expired, or its owner went away
 * (adhoc_end_owner: a control connection closed). */
enum adhoc_end {
    ADHOC_END_COMPLETED,
    ADHOC_END_FAILED,
    ADHOC_END_CANCELED,
    ADHOC_END_EXPIRED,
    ADHOC_END_ABANDONED
};
/* `node` and `requester` (the owner's full JID or "uid:N") and `note` (the first error note, or
 * else the first note; may be NULL) are borrowed for the call. */
typedef void (*adhoc_end_fn)(void *ud, const char *node, const char *requester, enum adhoc_end how,
                             const char *note);
/* Calls `fn` once per run that ends: when its step completes (a long table paged afterwards
 * does not change that), is canceled, or expires. Stanza errors are not runs ending: the caller
 * sees those in the reply. */
void adhoc_on_end(adhoc_t *adhoc, adhoc_end_fn fn, void *ud);

/* Ends sessions idle for longer than the timeout and forgets ended ids older than their keep
 * time, as of `now_ms` (the same clock as limits.clock). Returns the number of sessions
 * expired. Call it from a periodic timer; adhoc_handle also checks the session it is asked
 * about. */
unsigned adhoc_expire(adhoc_t *adhoc, uint64_t now_ms);

/* Ends every session owned by exactly `requester` (a full JID or "uid:N/cK") the way an expiry
 * does: the command's cancel hook is NOT called (a cancel may act, e.g. roll a job back, and
 * nobody asked for that), state_free is, and the end hook hears ADHOC_END_ABANDONED. A session
 * whose step is deferred is left to finish and expire. Returns how many ended. */
unsigned adhoc_end_owner(adhoc_t *adhoc, const char *requester);

/* Open sessions, in all or for one requester's bare JID (for tests and stats). */
unsigned adhoc_session_count(const adhoc_t *adhoc, const char *requester);

#endif
