/* The sync audit (the guide's Cisco Sync Agent): derives the IM address domain set from the
 * users' directory URIs, adds missing domains as system-managed and flips managed_by both ways,
 * in one transaction; runs nightly at settings.audit_time, on demand and after user changes. */
#ifndef IMD_SYNC_H
#define IMD_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "component/app.h"
#include "component/engine/app_apply.h"
#include "store/store.h"
#include "xmpp/adhoc.h"
#include "xmpp/adhoc_later.h"
#include "xmpp/adhoc_outcome.h"
#include "xmpp/form.h"

#define SYNC_ACTOR "sync-agent"  /* the audit log's actor for nightly runs */
#define SYNC_CHECK_MAX_MS 60000u /* longest sleep of the nightly timer between settings reads */
#define SYNC_NODE "sync/audit"   /* the command node, also used for nightly audit records */

/* Domain names, each malloc'd; the array too. */
struct sync_names {
    char **v;
    size_t n;
};

/* What one run found and changed. Owned by the caller: sync_report_clear(). */
struct sync_report {
    int64_t users_scanned;        /* users with a domain in their directory URI */
    size_t domains_in_use;        /* distinct domains among them */
    struct sync_names added;      /* were missing: listed now, local and system-managed */
    struct sync_names made_local; /* were configured on a peer only; local users use them now */
    struct sync_names to_system;  /* admin -> system: at least one user uses them now */
    struct sync_names to_admin;   /* system -> admin: no local user uses them any more */
    struct sync_names skipped;    /* used in directory URIs but break the name rules: not added */
    struct sync_names peer_added; /* were missing: only peers configure or use them; peer-only */
    struct sync_names removed;    /* peer-only, unused, and no peer configures them any more */
};

/*
 * One audit over the whole store, the rules of DOMAIN.md:
 *   - a domain users have and the table lacks is added, local and system-managed (a name that
 *     breaks domain_rules is skipped and reported instead);
 *   - a domain listed as configured on a peer only that local users now use becomes local too
 *     (shown local+peer);
 *   - a listed domain with users that is admin-managed becomes system-managed;
 *   - a domain only peers configure or use (as they last said, store_peer.h) is added as
 *     peer-only: system-managed when peer users use it;
 *   - a listed domain that local or peer users use is system-managed;
 *   - a system-managed domain nobody uses is admin-managed again; a peer-only domain is only
 *     decided once every peer has answered at least once (store_peer_authoritative): then it
 *     flips like the others, and goes when no peer configures it any more (gone everywhere).
 *     Before that it is left as it is: the peers have not said.
 * Peer data counts only for peers whose last good answer is at or after `peer_since`
 * (peers_counted_since(); 0: every peer that answered): an expired peer's domains are treated
 * as no longer on any peer (a peer-only domain only it had goes, as above) until it answers.
 * The users are read with one grouped query (store_domain_usage); the work in C is per domain.
 * Runs in its own transaction, or joins the caller's when one is open (then a failure leaves
 * the caller to roll back). Fills *out (zeroed first). Returns 0, or -1 with *err (if not NULL)
 * a malloc'd sentence and nothing changed when the transaction is its own.
 */
int sync_run(struct store *st, int64_t peer_since, struct sync_report *out, char **err);
/* The same rules, with the domains in use found one index seek each instead of by reading every
 * user (store_domain_usage_walk): users_scanned counts domains in use, not users. */
int sync_run_walk(struct store *st, int64_t peer_since, struct sync_report *out, char **err);

/* True when the run changed anything, and when it changed the local domain set (the router's
 * virtual hosts: added or made local; managed_by flips do not count). */
bool sync_report_changed(const struct sync_report *r);
bool sync_report_local_changed(const struct sync_report *r);
void sync_report_clear(struct sync_report *r);

/* One line for logs and the audit log ("users=N domains=N added=N ..."), malloc'd. */
char *sync_report_summary_line(const struct sync_report *r);

/* ---- presenting a run in a command's answer ---- */

/* A FORM_RESULT of fields: users scanned, domains in use, and each count of changes. */
form_t *sync_report_form(const struct sync_report *r);
/* A FORM_RESULT table domain / change / detail with one row per change, or NULL when nothing
 * changed. Details (the rule a skipped name breaks) are in `lang`. */
form_t *sync_report_table(const struct sync_report *r, const char *lang);
/* Adds the note that sums the run up ("nothing to do" when nothing changed). */
void sync_report_note(adhoc_call_t *call, const struct sync_report *r);

/*
 * A command whose change may touch the local domain set answers through this: `answer(call,
 * arg)` records the outcome (adhoc_complete + notes). When `apply` is false, or no router is
 * configured (app->apply NULL), it runs at once.
 * Otherwise the router is told first (app_apply_domains) and the answer waits for it
 * (adhoc_defer), gaining a note that says whether the router took the change; when the request
 * cannot wait, the answer goes now with a note that the router is being updated. `arg_free`
 * (may be NULL) releases arg after the answer.
 */
typedef void (*sync_answer_fn)(adhoc_call_t *call, void *arg);
void sync_answer_after_apply(struct app *app, adhoc_call_t *call, bool apply, sync_answer_fn answer,
                             void *arg, void (*arg_free)(void *));

/* ---- the nightly run ---- */

/*
 * The first moment after `after` (strictly) when the local clock shows `hhmm` ("HH:MM",
 * 24-hour), or -1 when hhmm is not such a time. A time skipped by a daylight-saving jump maps
 * to the moment mktime() normalises it to.
 */
time_t sync_next_occurrence(time_t after, const char *hhmm);

/* True when the audit time fell in (last_check, now]: the nightly run is due. */
bool sync_due(time_t last_check, time_t now, const char *hhmm);

/*
 * Starts the nightly timer on app->loop. It wakes at the next audit time, or after
 * SYNC_CHECK_MAX_MS at most, re-reading settings.audit_time each time, so a changed time takes
 * effect within a minute without anyone telling the scheduler. A due run audits, records an
 * audit log entry as SYNC_ACTOR, and applies the domain set to the router when it changed.
 * Returns NULL (logged) when the timer cannot start.
 */
struct sync_sched *sync_sched_start(struct app *app);
/* One nightly run, as the timer makes it when due: skipped (1, logged) while sync-agent is
 * stopped on any node (the guide's Cisco Sync Agent is down for maintenance); otherwise the
 * audit with its audit log entry and router apply: 0, or -1 when the audit failed. */
int sync_nightly(struct app *app);
/* Stops the timer; no run starts after this (NULL is allowed). */
void sync_sched_stop(struct sync_sched *s);
/* Frees. If the loop has not closed the timer yet, closes it and frees once closed (the loop
 * must run again); after uv_walk closed it and the loop ran, frees at once. NULL is allowed. */
void sync_sched_free(struct sync_sched *s);

#endif
