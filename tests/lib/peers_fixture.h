/* Shared by the unit tests of component/engine/peer*.c (peers_fixture.c): an app with a fresh
 * in-memory store and the default configuration, and helpers that parse, answer and audit.
 * Strings and stanzas returned are the caller's. */
#ifndef IMD_TEST_PEERS_FIXTURE_H
#define IMD_TEST_PEERS_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <strophe.h>

#include "component/app.h"
#include "component/config.h"
#include "component/engine/peer_page.h"
#include "component/engine/sync.h"
#include "store/store_peer.h"

struct fx {
    struct config cfg;
    struct app app;
    xmpp_ctx_t *ctx;
};

int setup(void **state);
int teardown(void **state);
xmpp_stanza_t *parse_xml(struct fx *fx, const char *xml);
/* Parses `xml`; returns the error (malloc'd) or NULL, with *out filled on success. */
char *parse(struct fx *fx, const char *xml, struct peer_page *out);
/* Builds the answer to (known, after); returns it serialised (malloc'd) or NULL with *err. */
char *answer(struct fx *fx, const char *known, const char *after, char **err);
void peer_says(struct fx *fx, const char *jid, const struct store_peer_domain *d, size_t n);
/* Peers answered at 100 (peer_says): since 0 counts them, since 101 finds them expired. */
void audit_since(struct fx *fx, int64_t since, struct sync_report *r);
void audit(struct fx *fx, struct sync_report *r);

#endif
