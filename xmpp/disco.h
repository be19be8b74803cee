/* XEP-0030 service discovery for the component JID: identity and features, and per-node
 * answers delegated to a provider (the ad-hoc command list is one). disco#items on the JID
 * itself is an empty list: it has no sub-entities. */
#ifndef IMD_DISCO_H
#define IMD_DISCO_H

#include "xmpp/dispatch.h"

#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"

/* Answers disco for one node. `query` is the reply's <query/> to fill (borrowed); `from` the
 * requester's full JID; `lang` may be NULL. Returns 0 if it filled the query, -1 if the node is
 * unknown to it (the caller answers item-not-found). */
typedef int (*disco_node_fn)(void *ud, const char *node, int items, xmpp_stanza_t *query,
                             const char *from, const char *lang);

typedef struct disco disco_t;

/* Registers the disco#info and disco#items handlers on `d`. Strings are copied. */
disco_t *disco_new(dispatch_t *d, xmpp_ctx_t *ctx, const char *category, const char *type,
                   const char *name);
void disco_free(disco_t *disco);
/* Adds a feature advertised on the component JID itself (the two disco ones are implicit). */
void disco_add_feature(disco_t *disco, const char *ns);
/* Installs the provider for node queries. */
void disco_set_node_provider(disco_t *disco, disco_node_fn fn, void *ud);

#endif
