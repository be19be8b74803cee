/* High availability of the presence redundancy groups, by the guide's steps 1 and 7: disabling
 * records the active users per node and starts the settle period ([ha] settle_time, 2 minutes
 * by default) during which changes that need HA off must wait; enabling checks every guard live
 * (all services up on every node; within 30 minutes of the services' restart, no node's
 * sessions below the recorded number) and names each failing guard with its numbers; it also
 * reports each node's sessions against the users assigned to it and warns below that. */
#ifndef IMD_HA_H
#define IMD_HA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "component/app.h"
#include "store/store_topo.h"
#include "xmpp/form.h"

#define HA_SESSIONS_WINDOW_S (30 * 60) /* the guide: compare sessions within 30 minutes */
#define HA_SETTLE_DEFAULT_S 120        /* the guide: wait at least 2 minutes after disabling HA */

/* "20.0 s" / "20.0초": a wait in milliseconds as the admin reads it, to a tenth of a second,
 * never shorter than the wait (rounded up). Static buffer per language: use at once. */
const char *ha_wait_text(int64_t ms, const char *lang);

/*
 * Milliseconds left of the settle period after HA was disabled on `group` (NULL: the longest
 * over every group), 0 when it has passed, when HA is on, or when HA was never changed. The
 * store keeps whole seconds, so this errs on the long side by up to a second. A store failure
 * reads as 0 and is logged (precond reads the groups itself and reports that failure).
 */
int64_t ha_settle_remaining_ms(struct app *app, const char *group);

/* Everything the enable guards look at, read from the store and the session table. */
struct ha_view {
    struct store_node *nodes;
    size_t nn;
    struct store_service *svcs;
    size_t ns;
    struct store_recorded *rec;
    size_t nr;
    int64_t *sessions; /* per node, same order as nodes */
    int64_t *assigned; /* users assigned to each node, same order; NULL: not read */
};

enum store_rc ha_view_load(struct app *app, struct ha_view *v);
void ha_view_clear(struct ha_view *v);
/* The count recorded for `node` (any case) in the view, or NULL. */
const struct store_recorded *ha_view_recorded(const struct ha_view *v, const char *node);

/*
 * The guards for enabling HA on `groups` (names, borrowed; n 0: every group that holds one of
 * the nodes) as of unix time `now`: NULL when all pass, else a sentence per failing guard in
 * `lang` (caller frees), e.g. "node b: 41 sessions, 57 recorded".
 */
char *ha_enable_refusal(const struct ha_view *v, const char *const *groups, size_t n, int64_t now,
                        const char *lang);

/*
 * The guide's two comparisons for each node of `groups` (as ha_enable_refusal): its sessions
 * (ActiveJsmSessions) against the count recorded when HA was disabled, and against the users
 * assigned to it. Adds one row per node to `table` (columns node, sessions, recorded, assigned,
 * verdict; "-" where nothing was recorded) when it is not NULL. Returns a warning sentence in
 * `lang` naming each node with fewer sessions than assigned users (caller frees; the guide asks
 * that they match, but users may simply be offline), or NULL.
 */
char *ha_enable_report(const struct ha_view *v, const char *const *groups, size_t n, int64_t now,
                       const char *lang, form_t *table);

/* Disables HA on each group of `groups` that has it on: records the sessions of each of its
 * nodes and sets ha off at `now`. In the caller's transaction. *changed gets how many groups
 * changed. */
enum store_rc ha_disable(struct app *app, const char *const *groups, size_t n, int64_t now,
                         size_t *changed);

/* Turns HA on for `groups` in a transaction of its own (the guards were checked by the caller). */
enum store_rc ha_enable_groups(struct app *app, const char *const *groups, size_t n);

#endif
