/* XEP-0050 ad-hoc commands: a step's answer that comes later (a command waiting for a reload
 * hook or a fetch). The handle is owned by the registry until adhoc_later_finish. */
#ifndef IMD_ADHOC_LATER_H
#define IMD_ADHOC_LATER_H

#include "xmpp/adhoc.h"

/* A step's answer that comes later. */
typedef struct adhoc_later adhoc_later_t;

/* In a step, instead of an outcome: the answer will come later. Returns NULL when this request
 * cannot be deferred (adhoc_handle, or a cancel): the step must answer now. The returned handle
 * stays valid until adhoc_later_finish, which must be called exactly once, or until
 * adhoc_free (which answers for it): whoever holds handles must let go of them before then.
 * adhoc_later_call and adhoc_later_finish may also be called before the step returns (the
 * awaited thing happened at once): the reply is then returned by adhoc_handle_async as if the
 * step had answered directly, and the send callback is not called. */
adhoc_later_t *adhoc_defer(adhoc_call_t *call);
/* The call to record the late outcome on (adhoc_complete, adhoc_note, ...), with the step's
 * stage, state and language. Owned by `later`. */
adhoc_call_t *adhoc_later_call(adhoc_later_t *later);
/* Sends the outcome recorded on adhoc_later_call() and frees `later`. */
void adhoc_later_finish(adhoc_later_t *later);

#endif
