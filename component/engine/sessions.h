/* Presence sessions (the guide's ActiveJsmSessions): provisioned users subscribe to the component
 * JID like to a gateway; we approve them and subscribe back, refuse everyone else, and count each
 * available full JID once, per user and per the user's assigned node. After a (re)connect the
 * table is rebuilt from presence probes. The table lives in memory only. */
#ifndef IMD_SESSIONS_H
#define IMD_SESSIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <strophe.h>

#include "xmpp/dispatch.h"

struct app;
struct sessions;

/* `app` (store, ctx, loop), `d` (to send) and `self_jid` (our bare JID) are borrowed and must
 * outlive the table. Reads which nodes have presence-engine deactivated. With app->loop set,
 * probe runs go out in batches on a timer; without, they run to the end at once (tests). */
struct sessions *sessions_new(struct app *app, dispatch_t *d, const char *self_jid);
/* With a loop, the last bytes are freed when the loop has closed the probe timer (run it once
 * more). */
void sessions_free(struct sessions *s);

/* A dispatch_stanza_fn for dispatch_on_presence(d, sessions_on_presence, s). */
void sessions_on_presence(void *ud, xmpp_stanza_t *presence);

/* The link to the router is (again) up: forget every session (their presence may have changed
 * while we were away) and probe every provisioned user so that the available ones answer. The
 * probes go out SESSIONS_PROBE_BATCH per loop turn, pausing while the link's queue is full. */
void sessions_on_ready(struct sessions *s);

/* Users were assigned to other nodes, added or removed: look each tracked user up again. */
void sessions_users_changed(struct sessions *s);

/* presence-engine was activated or deactivated somewhere: re-read the states; sessions on
 * nodes where it is deactivated are dropped and no longer counted, nodes where it came back are
 * probed. */
void sessions_engine_changed(struct sessions *s);

/* Counts. `s` may be NULL (no presence tracking: every count is 0). */
int64_t sessions_on_node(const struct sessions *s, const char *node); /* available full JIDs */
int64_t sessions_users_on_node(const struct sessions *s, const char *node); /* distinct users */
int64_t sessions_total(const struct sessions *s);
int64_t sessions_online_users(const struct sessions *s);
/* Sessions of `bare` (any case), for tests and logs. */
int64_t sessions_of_user(const struct sessions *s, const char *bare);

#endif
