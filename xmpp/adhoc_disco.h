/* XEP-0050 ad-hoc commands in XEP-0030 service discovery. The query elements are borrowed. */
#ifndef IMD_ADHOC_DISCO_H
#define IMD_ADHOC_DISCO_H

#include <stdbool.h>
#include <strophe.h>

#include "xmpp/adhoc.h"

/* Fills a disco#items <query/> (borrowed) for `node`. For NS_COMMANDS: one <item jid=self_jid
 * node name/> per command the requester may run, names in `lang` (non-admins see only commands
 * open to all: none, today). A command node the requester may see has no items (XEP-0030: an
 * empty result, as disco#info knows the node). Returns 0, or -1 for any other node (the
 * caller answers item-not-found). */
int adhoc_disco_items(adhoc_t *adhoc, const char *node, xmpp_stanza_t *query, const char *self_jid,
                      bool is_admin, const char *lang);
/* Fills a disco#info <query/> for `node`: NS_COMMANDS itself (automation/command-list) or a
 * command node (automation/command-node, features commands and jabber:x:data). Returns 0, or
 * -1 when the node is not a command the requester may see (the caller answers
 * item-not-found). */
int adhoc_disco_info(adhoc_t *adhoc, const char *node, xmpp_stanza_t *query, bool is_admin,
                     const char *lang);

#endif
