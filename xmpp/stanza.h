/* Small helpers over libstrophe stanzas that every handler needs. */
#ifndef IMD_STANZA_H
#define IMD_STANZA_H

#include <strophe.h>

#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_STREAMS_ERR "urn:ietf:params:xml:ns:xmpp-streams"

/* Builds an iq error reply to `req` (to/from swapped, id kept) with the RFC 6120 condition and
 * an optional text. The caller owns the result. */
xmpp_stanza_t *stanza_error_reply(xmpp_stanza_t *req, const char *type, const char *condition,
                                  const char *text);

/* Returns the first child element named `name` in namespace `ns` (either may be NULL for
 * "any"); borrowed from `parent`. */
xmpp_stanza_t *stanza_child(xmpp_stanza_t *parent, const char *name, const char *ns);

/* The first element child of `st`, whatever its name; borrowed. */
xmpp_stanza_t *stanza_first_element(xmpp_stanza_t *st);

/* Adds a new child element `name` (with `ns` when not NULL) and returns it, borrowed from
 * `parent`, which owns it. */
xmpp_stanza_t *stanza_add_element(xmpp_stanza_t *parent, const char *name, const char *ns);

/* Adds <name>text</name> under `parent`. */
void stanza_add_text_element(xmpp_stanza_t *parent, const char *name, const char *text);

/* The xml:lang that applies to `inner` (a payload) inside `outer` (its stanza): the payload's
 * own, else the stanza's; may be NULL. libstrophe keeps no parent links, hence two arguments. */
const char *stanza_lang(xmpp_stanza_t *outer, xmpp_stanza_t *inner);

#endif
