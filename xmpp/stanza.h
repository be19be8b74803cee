/* Small helpers over libstrophe stanzas that every handler needs. */
#ifndef IMD_STANZA_H
#define IMD_STANZA_H

#include <stddef.h>
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

/*
 * Makes serialised XML safe to send, in place: every byte that is not part of a character XML
 * 1.0 allows (controls other than tab, newline and carriage return; bytes that are not valid
 * UTF-8, including overlong forms, surrogates and U+FFFE/U+FFFF) becomes '?'. libstrophe escapes
 * markup but passes such bytes through, and one of them makes the router close the whole stream
 * as not-well-formed; text from outside (a directory's diagnostic message, a peer) can carry them.
 * Markup is ASCII, so only text and attribute values change. Returns the bytes replaced.
 */
size_t stanza_scrub_xml(char *text, size_t len);

#endif
