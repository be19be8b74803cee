/* One serving instance per component JID. Routers differ when a second connection claims a
 * component JID: Prosody refuses it (`conflict`), ejabberd accepts it and spreads stanzas among
 * the connections, so multi-stage commands and presence sessions would be split between
 * instances. Each instance therefore announces itself to its own JID (a start time and a random
 * nonce) in bursts, right after connecting and every INSTANCE_CHECK_MS; the router delivers each
 * announcement to one of the connections for the JID. An instance that receives another's
 * announcement compares start times: the one that started later (ties: the larger nonce) steps
 * down, i.e. disconnects and retries with backoff, so it takes over when the active one goes
 * away; the earlier one answers with a burst of its own so the later one learns quickly.
 * Under Prosody every announcement comes back to its sender and is ignored. */
#ifndef IMD_INSTANCE_H
#define IMD_INSTANCE_H

#include <stdbool.h>
#include <stdint.h>
#include <strophe.h>
#include <uv.h>

#define NS_IMD_INSTANCE "urn:xmpp:imdomaind:instance:0"
#define INSTANCE_CHECK_MS 15000 /* between announcement bursts while connected */
#define INSTANCE_BURST 4        /* announcements per burst: each reaches a random connection */

typedef struct instance instance_t;

/* Sends a stanza to the router (borrowed); returns 0 or -1. */
typedef int (*instance_send_fn)(void *ud, xmpp_stanza_t *stanza);
/* This instance must stop serving: `why` names the other instance (borrowed for the call). */
typedef void (*instance_step_down_fn)(void *ud, const char *why);

/* `loop`, `ctx` and `jid` are borrowed and must outlive the instance. The start time is now. */
instance_t *instance_new(uv_loop_t *loop, xmpp_ctx_t *ctx, const char *jid, instance_send_fn send,
                         instance_step_down_fn step_down, void *ud);
/* The link is up: announce at once, then every INSTANCE_CHECK_MS. */
void instance_on_ready(instance_t *in);
/* The link is down: no announcements until the next instance_on_ready. */
void instance_on_lost(instance_t *in);
/* Looks at a stanza from the router: true if it was an announcement (consumed). May call the
 * step-down callback. */
bool instance_on_stanza(instance_t *in, xmpp_stanza_t *stanza);
/* Frees the instance after the loop has ended: its timer must already be closed (the daemon
 * closes every handle of the loop when it stops). */
void instance_free(instance_t *in);

/* True when the instance (a_started, a_nonce) started later than (b_started, b_nonce) and so
 * must step down: later start time, or the same time and the larger nonce. */
bool instance_is_later(uint64_t a_started, const char *a_nonce, uint64_t b_started,
                       const char *b_nonce);

#endif
