/* Intercluster peering: the consistency findings over the stored peer data (a domain on two
 * clusters, settings that differ, stale and expired peers). */
#ifndef IMD_PEER_FINDINGS_H
#define IMD_PEER_FINDINGS_H

#include <stddef.h>

#include "component/app.h"
#include "store/store.h"
#include "xmpp/adhoc.h"

#define PEER_MAX_FINDINGS 20 /* notes shown at most; then one line says how many more */

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

#endif
