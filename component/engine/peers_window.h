/* Intercluster peering: which peers count at a time ([peers] forget_after), and the state a
 * peer is in. Below peers and the sync audit, which both read it. */
#ifndef IMD_PEERS_WINDOW_H
#define IMD_PEERS_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

struct app;
struct config;

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

#endif
