/* XEP-0050 ad-hoc commands: the sessions as the daemon sees them: expiry on a timer, the
 * sessions of an owner that went away, the hook told when a run ends, counts. */
#ifndef IMD_ADHOC_SESSION_H
#define IMD_ADHOC_SESSION_H

#include <stdint.h>

#include "xmpp/adhoc.h"

/* How a command's run ended, for the audit log: its step completed (FAILED: with an error
 * note), the user canceled it, it was left idle until it expired, or its owner went away
 * (adhoc_end_owner: a control connection closed). */
enum adhoc_end {
    ADHOC_END_COMPLETED,
    ADHOC_END_FAILED,
    ADHOC_END_CANCELED,
    ADHOC_END_EXPIRED,
    ADHOC_END_ABANDONED
};
/* `node` and `requester` (the owner's full JID or "uid:N") and `note` (the first error note, or
 * else the first note; may be NULL) are borrowed for the call. */
typedef void (*adhoc_end_fn)(void *ud, const char *node, const char *requester, enum adhoc_end how,
                             const char *note);
/* Calls `fn` once per run that ends: when its step completes (a long table paged afterwards
 * does not change that), is canceled, or expires. Stanza errors are not runs ending: the caller
 * sees those in the reply. */
void adhoc_on_end(adhoc_t *adhoc, adhoc_end_fn fn, void *ud);

/* Ends sessions idle for longer than the timeout and forgets ended ids older than their keep
 * time, as of `now_ms` (the same clock as limits.clock). Returns the number of sessions
 * expired. Call it from a periodic timer; adhoc_handle also checks the session it is asked
 * about. */
unsigned adhoc_expire(adhoc_t *adhoc, uint64_t now_ms);

/* Ends every session owned by exactly `requester` (a full JID or "uid:N/cK") the way an expiry
 * does: the command's cancel hook is NOT called (a cancel may act, e.g. roll a job back, and
 * nobody asked for that), state_free is, and the end hook hears ADHOC_END_ABANDONED. A session
 * whose step is deferred is left to finish and expire. Returns how many ended. */
unsigned adhoc_end_owner(adhoc_t *adhoc, const char *requester);

/* Open sessions, in all or for one requester's bare JID (for tests and stats). */
unsigned adhoc_session_count(const adhoc_t *adhoc, const char *requester);

#endif
