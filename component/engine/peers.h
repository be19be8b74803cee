/* Intercluster peering: the refresh of every peer's data, periodic and on demand. A peer is
 * another imdomaind (another cluster) named by its component JID. The parts: peer_page.h (the
 * protocol), peer_answer.h (answering peers), peer_findings.h (the findings), peers_window.h
 * (which peers count); peer_fetch.c refreshes one peer. The peers object is owned by the
 * daemon (app->peers) and borrows the app. */
#ifndef IMD_PEERS_H
#define IMD_PEERS_H

#include "component/app.h"

#define PEER_FIRST_REFRESH_MS 3000 /* after start: the router link is usually up by then */
#define PEER_ACTOR "peers"         /* the audit log's actor for refreshes */

/* ---- the client and its scheduler ---- */

/*
 * Makes the [peers] jids present in the store, answers PEER_NS gets from peers on
 * app->dispatch (when set), and starts the refresh timer on app->loop (first after
 * PEER_FIRST_REFRESH_MS, then every cfg->peer_refresh seconds). NULL only when the timer cannot
 * start (logged).
 */
struct peers *peers_new(struct app *app);

typedef void (*peers_done_fn)(void *arg);
/*
 * Refreshes `jid` (NULL: every peer) now; `done(arg)` (may be NULL) is called once when every
 * refresh started has finished (its outcome is in the store), possibly before this returns.
 * A peer already being refreshed is not asked twice: the caller waits for that refresh.
 * An answer is taken in one transaction with the sync audit, or not at all.
 */
void peers_refresh(struct peers *ps, const char *jid, peers_done_fn done, void *arg);

/* Stops the timer; refreshes still waiting end as the dispatcher cancels them. A refresh asked
 * for from then on (or once app->stopping is set) ends at once, asking and recording nothing:
 * stopping is no failure of the peer's. NULL allowed. */
void peers_stop(struct peers *ps);
/* Frees; as sync_sched_free (the loop must run again if the timer is not closed yet). */
void peers_free(struct peers *ps);

#endif
