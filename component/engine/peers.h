/* Intercluster peering: the peer protocol (an iq get in PEER_NS, doc/protocol.md) on both
 * sides, the refresh of every peer's data (periodic and on demand) with its limits, and the
 * consistency findings that peers and domains/list show. A peer is another imdomaind (another
 * cluster) named by its component JID. */
#ifndef IMD_PEERS_H
#define IMD_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <strophe.h>

#include "component/app.h"

#define PEER_NS "urn:imdomaind:peer:0"
#define PEER_PAGE_DOMAINS 200  /* domains per answer page (a page stays far below 128 KiB) */
#define PEER_PAGE_URIS 1000    /* directory URI hashes per answer page */
#define PEER_MAX_DOMAINS 10000 /* domains one peer may send in all */
#define PEER_MAX_URIS 100000   /* URI hashes one peer sends at most (then uris-partial) */
#define PEER_MAX_PAGES                                                                             \
    ((PEER_MAX_DOMAINS / PEER_PAGE_DOMAINS) + (PEER_MAX_URIS / PEER_PAGE_URIS) + 4)
#define PEER_MAX_RESTARTS 2  /* a peer whose data changes while we read it: start over twice */
#define PEER_HASH_HEX 16     /* hex digits of a URI hash: the first 8 bytes of SHA-256 */
#define PEER_ATTR_MAX 255    /* longest attribute value taken (names, version, cursor) */
#define PEER_MAX_FINDINGS 20 /* notes shown at most; then one line says how many more */
#define PEER_FIRST_REFRESH_MS 3000 /* after start: the router link is usually up by then */
#define PEER_ACTOR "peers"         /* the audit log's actor for refreshes */

/* ---- the protocol, as pure functions (unit-tested) ---- */

/* One answer page as parsed and checked. Strings are malloc'd (peer_page_clear()). */
struct peer_page {
    char *version;
    bool unchanged;
    char *default_domain;
    char *im_address_scheme;
    char *next; /* the cursor to ask with next; NULL on the last page */
    bool uris_partial;
    struct peer_page_domain {
        char *name; /* as sent */
        bool configured;
        int64_t users;
    } * domains;
    size_t n_domains;
    char (*hashes)[PEER_HASH_HEX + 1];
    size_t n_hashes;
};

/* Checks one answer's payload (borrowed) against the protocol and the limits. Returns 0, or -1
 * with *err a malloc'd sentence naming what is wrong (nothing kept). */
int peer_page_parse(xmpp_stanza_t *payload, struct peer_page *out, char **err);
void peer_page_clear(struct peer_page *p);

/* The answer payload for a request (`known`: the version the asker has, `after`: its cursor;
 * both may be NULL), built from the store. NULL with *err (malloc'd) for a bad cursor or a
 * store failure; *bad_request tells which. */
xmpp_stanza_t *peer_answer_build(struct app *app, const char *known, const char *after, char **err,
                                 bool *bad_request);

/* The hash the protocol carries for a directory URI: lower-cased, SHA-256, first 8 bytes in hex. */
void peer_uri_hash(const char *uri, char out[PEER_HASH_HEX + 1]);

/* The cutoff for peer data at `now`: a peer counts (for the sync audit, domains/delete and
 * domains/list) while its last good answer is at or after this; an older one is expired
 * (still kept, shown and asked). 0 when [peers] forget_after is 0: every peer that answered
 * counts. */
int64_t peers_counted_since(const struct config *cfg, int64_t now);
/* The same at the current time; 0 when app->cfg is NULL. */
int64_t peers_counted_now(const struct app *app);
/* True when a peer whose last good answer was `last_sync` (0: never) is expired at `since`;
 * a peer that never answered has no data and is not expired. */
bool peers_expired(int64_t last_sync, int64_t since);

struct store_peer;
/* A peer's state at `since` (the cutoff above), static: "new" (never asked), "ok", "stale" (the
 * last refresh failed; old data kept and counted), "expired" (no good answer since before
 * `since`: data kept, not counted), "failed" (never answered). */
const char *peers_state_name(const struct store_peer *p, int64_t since);
/* True when `from` (a full or bare JID) is a peer: configured or in the store. */
bool peers_is_peer(struct app *app, const char *from);

/* ---- findings ---- */

/* One consistency finding or stale-peer remark, both languages, malloc'd. */
struct peer_finding {
    char *en, *ko;
};
/* Every finding over the stored peer data, in peer order. Returns STORE_OK or the store's
 * error; free with peer_findings_free(). */
enum store_rc peer_findings(struct app *app, struct peer_finding **out, size_t *n);
void peer_findings_free(struct peer_finding *v, size_t n);
/* Adds the findings as warning notes (at most PEER_MAX_FINDINGS, then a count). */
void peer_findings_notes(struct app *app, adhoc_call_t *call);

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

/* Stops the timer; refreshes still waiting end as the dispatcher cancels them. NULL allowed. */
void peers_stop(struct peers *ps);
/* Frees; as sync_sched_free (the loop must run again if the timer is not closed yet). */
void peers_free(struct peers *ps);

#endif
