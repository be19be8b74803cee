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
/* Own announcements handed back, with no other instance heard, before an instance under a
 * router that spreads stanzas (ejabberd) calls itself serving. With another instance on the
 * JID each announcement stays with us with probability 1/2; one that reaches the other is
 * answered within a round trip (and a later instance steps down), long before the 32nd returns,
 * so a wrong "alone" needs all 32 to stay with us: 2^-32 per connection (a standby re-checking
 * every 8 s: about once in 1,000 years). */
#define INSTANCE_SETTLE_RETURNS 32
#define INSTANCE_RESEND_MAX 32 /* re-sends of returned announcements per eager window */
/* Not serving by then (too few came back, nobody answered): stand by and retry later. */
#define INSTANCE_SETTLE_MAX_MS 5000

typedef struct instance instance_t;

/* Sends a stanza to the router (borrowed); returns 0 or -1. */
typedef int (*instance_send_fn)(void *ud, xmpp_stanza_t *stanza);
/* This instance must stop serving: `why` names the other instance (borrowed for the call). */
typedef void (*instance_step_down_fn)(void *ud, const char *why);

/* This instance serves the JID on the current link: no other instance answered (called once
 * per link, from instance_on_ready or instance_on_stanza or the settle timer). */
typedef void (*instance_serving_fn)(void *ud);

/* `loop`, `ctx` and `jid` are borrowed and must outlive the instance. The start time is now. */
instance_t *instance_new(uv_loop_t *loop, xmpp_ctx_t *ctx, const char *jid, instance_send_fn send,
                         instance_step_down_fn step_down, void *ud);
/* Asks to be told when this instance serves (same `ud` as instance_new). spreads: the router
 * accepts several connections for one JID and spreads stanzas among them (ejabberd): serving
 * once INSTANCE_SETTLE_RETURNS own announcements came back with no other instance heard;
 * stepping down when that has not happened within INSTANCE_SETTLE_MAX_MS; otherwise (Prosody
 * refuses a second connection with `conflict`) serving as soon as the link is ready. */
void instance_on_serving(instance_t *in, bool spreads, instance_serving_fn serving);
/* True while the current link is up and this instance serves on it. */
bool instance_serving(const instance_t *in);
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
