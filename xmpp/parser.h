/* The XMPP stream parser: bytes in (any split), libstrophe stanzas out, on expat's push parser.
 * Enforces the stream's input limits and RFC 6120's restricted XML. */
#ifndef IMD_PARSER_H
#define IMD_PARSER_H

#include <stddef.h>
#include <strophe.h>

#define PARSER_NS_STREAMS "http://etherx.jabber.org/streams"

/* Why the parser stopped; each maps to one RFC 6120 stream error condition. */
enum parser_error {
    PARSER_OK = 0,
    PARSER_NOT_WELL_FORMED, /* not-well-formed */
    PARSER_RESTRICTED_XML,  /* restricted-xml: DOCTYPE, comment, processing instruction */
    PARSER_TOO_LARGE,       /* policy-violation: stanza above max_stanza_size */
    PARSER_TOO_DEEP,        /* policy-violation: nesting above max_depth */
    PARSER_BAD_STREAM,      /* invalid-namespace: the root is not a stream:stream */
    PARSER_TOO_MANY,        /* policy-violation: children or attributes above their limits */
};

#define PARSER_DEFAULT_MAX_CHILDREN 65536 /* users/import sends up to 50,000 values in a field */
#define PARSER_DEFAULT_MAX_ATTRIBUTES 64

/* Every element is built in time linear in its children and attributes, and in memory bounded
 * by these. */
struct parser_limits {
    size_t max_stanza_size; /* bytes of one top-level element, markup included */
    int max_depth;          /* element depth below the stream root */
    size_t max_children;    /* children (elements and text nodes) of one element; 0: default */
    int max_attributes;     /* attributes of one element; 0: default */
};

struct parser_callbacks {
    /* The stream root opened; attribute values are borrowed for the call only. */
    void (*stream_start)(void *ud, const char *id, const char *from);
    /* One complete top-level element. The stanza is borrowed: the parser releases it after
     * the call, so a handler that keeps it takes its own reference (xmpp_stanza_clone). */
    void (*stanza)(void *ud, xmpp_stanza_t *stanza);
    /* The peer closed the stream root. */
    void (*stream_end)(void *ud);
};

typedef struct parser parser_t;

/* `ctx` is borrowed and must outlive the parser. Returns NULL only if expat cannot start. */
parser_t *parser_new(xmpp_ctx_t *ctx, const struct parser_limits *limits,
                     const struct parser_callbacks *cb, void *ud);
/* Feeds bytes. Returns PARSER_OK, or the error that stopped the parser; after an error the
 * parser accepts nothing more until parser_reset. */
enum parser_error parser_feed(parser_t *p, const char *buf, size_t len);
/* Expat's description of the last not-well-formed error, or a description of the limit hit. */
const char *parser_error_detail(const parser_t *p);
/* Stops parsing from inside a callback: parser_feed returns PARSER_OK at once and ignores the
 * rest of its buffer. The parser is unusable until parser_reset (never call that from inside a
 * callback: expat cannot be freed while it runs). */
void parser_stop(parser_t *p);
/* Starts over for a new stream (after a reconnect). Returns 0, or -1 if expat cannot start. */
int parser_reset(parser_t *p);
void parser_free(parser_t *p);

/* Parses one complete element from `buf` (a control socket frame, a fuzz input): no stream root,
 * nothing around it but whitespace, the same restricted XML and limits as a stream (`len` above
 * max_stanza_size is PARSER_TOO_LARGE). Returns PARSER_OK with the element in *out (the caller
 * releases it), or the error with *out NULL and a description in `detail` (may be NULL). */
enum parser_error parser_parse_element(xmpp_ctx_t *ctx, const struct parser_limits *limits,
                                       const char *buf, size_t len, xmpp_stanza_t **out,
                                       char *detail, size_t detail_size);

/* The RFC 6120 stream error condition name for an error ("not-well-formed", ...). */
const char *parser_error_condition(enum parser_error err);

#endif
