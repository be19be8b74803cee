/* Routes incoming stanzas by kind and payload namespace to registered handlers, answers what
 * nobody handles as RFC 6120 requires, and tracks the iqs we send until their answer. */
#ifndef IMD_DISPATCH_H
#define IMD_DISPATCH_H

#include <strophe.h>
#include <uv.h>

typedef struct dispatch dispatch_t;

/* Sends a stanza (borrowed); returns 0 or -1 when it could not be queued. */
typedef int (*dispatch_send_fn)(void *ud, xmpp_stanza_t *stanza);
/* An iq get/set handler. `iq` and `payload` (its first element child) are borrowed; the
 * handler answers with dispatch_send (a result or an error reply). */
typedef void (*dispatch_iq_fn)(void *ud, xmpp_stanza_t *iq, xmpp_stanza_t *payload);
/* A presence or message handler; the stanza is borrowed. */
typedef void (*dispatch_stanza_fn)(void *ud, xmpp_stanza_t *stanza);
/* The answer to an iq we sent: `reply` is the result/error iq, or NULL on timeout. */
typedef void (*dispatch_reply_fn)(void *ud, xmpp_stanza_t *reply);

/* `loop` is used for iq timeouts; `ctx` for building error replies. Both borrowed. */
dispatch_t *dispatch_new(uv_loop_t *loop, xmpp_ctx_t *ctx, dispatch_send_fn send, void *send_ud);
/* Cancels pending iq trackers (their callbacks get NULL) and frees. Call before the loop ends. */
void dispatch_free(dispatch_t *d);

/* `type` is "get" or "set"; `ns` the payload namespace. Both copied. */
void dispatch_on_iq(dispatch_t *d, const char *type, const char *ns, dispatch_iq_fn fn, void *ud);
void dispatch_on_presence(dispatch_t *d, dispatch_stanza_fn fn, void *ud);
void dispatch_on_message(dispatch_t *d, dispatch_stanza_fn fn, void *ud);

/* Routes one incoming stanza (borrowed). An iq, presence or message without a `from` is
 * dropped (logged and counted): handlers may rely on xmpp_stanza_get_from() being non-empty. */
void dispatch_stanza(dispatch_t *d, xmpp_stanza_t *stanza);
/* Sends through the configured sender. */
int dispatch_send(dispatch_t *d, xmpp_stanza_t *stanza);
/* Sends an iq get/set (borrowed) with a fresh id and calls `fn` once with its answer, or with
 * NULL after `timeout_ms`. Returns 0, or -1 if it could not be sent (fn is not called). */
int dispatch_send_iq(dispatch_t *d, xmpp_stanza_t *iq, unsigned timeout_ms, dispatch_reply_fn fn,
                     void *ud);
/* Answers `req` with an error (type, RFC 6120 condition, optional text). */
void dispatch_reply_error(dispatch_t *d, xmpp_stanza_t *req, const char *type,
                          const char *condition, const char *text);

/* Counters for logs and benchmarks. */
struct dispatch_stats {
    unsigned long iq, presence, message, unhandled;
    unsigned long dropped; /* without a sender */
};
void dispatch_get_stats(const dispatch_t *d, struct dispatch_stats *out);

#endif
