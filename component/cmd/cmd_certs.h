/* What cmd_certs.c offers other commands: regenerating cup-xmpp-s2s inside a command of their
 * own (the domain-change procedure's step 4). */
#ifndef IMD_CMD_CERTS_H
#define IMD_CMD_CERTS_H

#include <stdbool.h>

#include "xmpp/adhoc.h"
#include "xmpp/adhoc_outcome.h"

/* Called instead of completing the command: `call` (the step's, or the deferred one) carries
 * the notes certs/regenerate would give; the callee answers it (show, complete, ...). */
typedef void (*certs_then_fn)(adhoc_call_t *call, bool ok, void *arg);

/*
 * certs/regenerate with the configured defaults ([certs] key_type and days, no xmppAddr): the
 * key is made on the thread pool (the answer is deferred when it can be), the files installed,
 * the set recorded and the router reloaded; then `then(call, ok, arg)` answers. When the
 * certificate cannot be made at all (no [certs] dir, no domain), the call is answered here with
 * adhoc_fail and `then` is not called.
 */
void certs_regenerate(adhoc_call_t *call, certs_then_fn then, void *arg);

#endif
