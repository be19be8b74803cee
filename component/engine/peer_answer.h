/* The peer protocol, the answering side: who may ask (configured or stored peers) and the
 * answer pages, built from the store. */
#ifndef IMD_PEER_ANSWER_H
#define IMD_PEER_ANSWER_H

#include <stdbool.h>
#include <strophe.h>

#include "component/app.h"

/* The answer payload for a request (`known`: the version the asker has, `after`: its cursor;
 * both may be NULL), built from the store. NULL with *err (malloc'd) for a bad cursor or a
 * store failure; *bad_request tells which. */
xmpp_stanza_t *peer_answer_build(struct app *app, const char *known, const char *after, char **err,
                                 bool *bad_request);

/* True when `from` (a full or bare JID) is a peer: configured or in the store. */
bool peers_is_peer(struct app *app, const char *from);

/* A dispatch_iq_fn for PEER_NS gets: `ud` is the struct app (borrowed). Refuses non-peers
 * (forbidden), else answers with the page asked for. */
void peer_answer_on_get(void *ud, xmpp_stanza_t *iq, xmpp_stanza_t *payload);

#endif
