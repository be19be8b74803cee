/* XEP-0050 ad-hoc commands, transport-neutral: a registry of commands and the handling of a
 * request (sessions, actions and client quirks, stanza errors, paging of long tables). A command
 * is a `step` function: form in, result out; what it answers with is in adhoc_outcome.h, a late
 * answer in adhoc_later.h. The daemon's side: adhoc_session.h (expiry, owners, the end hook)
 * and adhoc_disco.h. The registry owns its sessions; command definitions are borrowed. */
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

#endif
