/* The peer protocol (an iq get in PEER_NS, doc/protocol.md) as pure functions: its limits, one
 * answer page parsed and checked, the hash a directory URI travels as. */
#ifndef IMD_PEER_PAGE_H
#define IMD_PEER_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <strophe.h>

#define PEER_NS "urn:imdomaind:peer:0"
#define PEER_PAGE_DOMAINS 200  /* domains per answer page (a page stays far below 128 KiB) */
#define PEER_PAGE_URIS 1000    /* directory URI hashes per answer page */
#define PEER_MAX_DOMAINS 10000 /* domains one peer may send in all */
#define PEER_MAX_URIS 100000   /* URI hashes one peer sends at most (then uris-partial) */
#define PEER_MAX_PAGES                                                                             \
    ((PEER_MAX_DOMAINS / PEER_PAGE_DOMAINS) + (PEER_MAX_URIS / PEER_PAGE_URIS) + 4)
#define PEER_MAX_RESTARTS 2 /* a peer whose data changes while we read it: start over twice */
#define PEER_HASH_HEX 16    /* hex digits of a URI hash: the first 8 bytes of SHA-256 */
#define PEER_ATTR_MAX 255   /* longest attribute value taken (names, version, cursor) */

/* One answer page as parsed and checked. Strings are malloc'd (peer_page_clear()). */
struct peer_page {
    char *version;
    bool unchanged;
    char *default_domain;
    char *im_address_scheme;
    char *next; /* the cursor to ask with next; NULL on the last page */
    bool uris_partial;
    struct peer_page_domain {
        char *name; /* as sent */
        bool configured;
        int64_t users;
    } * domains;
    size_t n_domains;
    char (*hashes)[PEER_HASH_HEX + 1];
    size_t n_hashes;
};

/* Checks one answer's payload (borrowed) against the protocol and the limits. Returns 0, or -1
 * with *err a malloc'd sentence naming what is wrong (nothing kept). */
int peer_page_parse(xmpp_stanza_t *payload, struct peer_page *out, char **err);
void peer_page_clear(struct peer_page *p);

/* The hash the protocol carries for a directory URI: lower-cased, SHA-256, first 8 bytes in hex. */
void peer_uri_hash(const char *uri, char out[PEER_HASH_HEX + 1]);

#endif
