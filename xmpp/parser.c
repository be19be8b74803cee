/* Stream parser on expat. Elements below the root are built into libstrophe stanzas; namespaces
 * are resolved by expat and written back as xmlns attributes where they change, so a stanza
 * serialises the same way it arrived. */
#include "xmpp/parser.h"

#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/stanza_list.h"

#include <expat.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Separator between namespace URI and local name in expat's names; not valid in XML names. */
#define NS_SEP '\x01'
#define NS_XML "http://www.w3.org/XML/1998/namespace"
#define NS_DEFAULT_CONTENT "jabber:component:accept"

struct parser {
    xmpp_ctx_t *ctx;
    struct parser_limits limits;
    struct parser_callbacks cb;
    void *ud;
    XML_Parser xml;
    int depth;              /* 0 outside the root, 1 inside the root, 2+ inside a stanza */
    xmpp_stanza_t *stanza;  /* the top-level element being built (owned) */
    xmpp_stanza_t *current; /* innermost open element (borrowed from stanza) */
    /* Open elements, their namespaces and the ends of their child lists, outermost first:
     * libstrophe keeps no parent links we may use, and appends by walking the list. */
    xmpp_stanza_t **open;
    const char **open_ns;
    struct stanza_tail *open_tail;
    char *text;             /* pending character data, merged into one text node */
    size_t text_len, text_cap;
    XML_Index mark;         /* byte index where the current top-level unit began: the start of
                               the element being built, or the end of the last one */
    XML_Index fed;          /* bytes given to expat since the stream began */
    enum parser_error error;
    int stopped; /* parser_stop was called */
    char detail[160];
};

static void fail(struct parser *p, enum parser_error err, const char *detail)
{
    if (p->error != PARSER_OK)
        return;
    p->error = err;
    snprintf(p->detail, sizeof(p->detail), "%s", detail);
    XML_StopParser(p->xml, XML_FALSE);
}

/* Splits an expat name "uri\x01local" into its parts; `uri` is NULL when there is none. */
static const char *split_name(const char *name, char *uri, size_t urisz)
{
    const char *sep = strchr(name, NS_SEP);

    if (sep == NULL) {
        if (uri)
            uri[0] = '\0';
        return name;
    }
    if (uri)
        snprintf(uri, urisz, "%.*s", (int)(sep - name), name);
    return sep + 1;
}

static int check_size(struct parser *p)
{
    if (p->depth < 2)
        return 0;
    XML_Index now = XML_GetCurrentByteIndex(p->xml);
    if (now >= 0 && (size_t)(now - p->mark) > p->limits.max_stanza_size) {
        char msg[96];
        snprintf(msg, sizeof(msg), "stanza larger than %zu bytes", p->limits.max_stanza_size);
        fail(p, PARSER_TOO_LARGE, msg);
        return -1;
    }
    return 0;
}

/* Index in p->open of the element at parser depth d (2 = the top-level element). Elements are
 * created while p->depth still names their parent's depth, hence the +1 at the call sites. */
#define OPEN_AT(d) ((d)-2)

/* Appends a child (taken) to the innermost open element, in constant time. */
static int add_child(struct parser *p, xmpp_stanza_t *child)
{
    struct stanza_tail *tail = &p->open_tail[OPEN_AT(p->depth)];

    if (tail->n >= p->limits.max_children) {
        char msg[96];
        snprintf(msg, sizeof(msg), "an element with more than %zu children",
                 p->limits.max_children);
        xmpp_stanza_release(child);
        fail(p, PARSER_TOO_MANY, msg);
        return -1;
    }
    stanza_append(p->current, tail, child);
    return 0;
}

static int flush_text(struct parser *p)
{
    if (p->text_len == 0 || p->current == NULL)
        return 0;
    xmpp_stanza_t *t = xmpp_stanza_new(p->ctx);
    p->text[p->text_len] = '\0';
    xmpp_stanza_set_text_with_size(t, p->text, p->text_len);
    p->text_len = 0;
    return add_child(p, t);
}

static void set_attributes(struct parser *p, xmpp_stanza_t *st, const XML_Char **attrs)
{
    char uri[256];

    for (int i = 0; attrs[i] != NULL; i += 2) {
        const char *local = split_name(attrs[i], uri, sizeof(uri));
        if (uri[0] == '\0') {
            xmpp_stanza_set_attribute(st, local, attrs[i + 1]);
        } else if (strcmp(uri, NS_XML) == 0) {
            char name[64];
            snprintf(name, sizeof(name), "xml:%s", local);
            xmpp_stanza_set_attribute(st, name, attrs[i + 1]);
        }
        /* Attributes in other namespaces carry nothing XMPP needs here; they are dropped. */
    }
}

static xmpp_stanza_t *element_new(struct parser *p, const char *name, const XML_Char **attrs)
{
    char uri[512];
    const char *local = split_name(name, uri, sizeof(uri));
    xmpp_stanza_t *st = xmpp_stanza_new(p->ctx);
    int top = (p->current == NULL);

    if ((top && strcmp(uri, PARSER_NS_STREAMS) == 0) || strcmp(uri, NS_XML) == 0) {
        /* stream:features, stream:error: keep the conventional prefix as the name. An element
         * in the reserved xml namespace keeps its predeclared prefix too: that namespace may
         * not be declared as a default (xmlns='...XML/1998/namespace' is not well-formed). The
         * default namespace in force does not change. */
        char pname[96];
        snprintf(pname, sizeof(pname), "%s:%s", top && strcmp(uri, NS_XML) != 0 ? "stream" : "xml",
                 local);
        xmpp_stanza_set_name(st, pname);
    } else {
        xmpp_stanza_set_name(st, local);
        const char *inherited = top ? NS_DEFAULT_CONTENT : p->open_ns[OPEN_AT(p->depth)];
        if (uri[0] != '\0' && strcmp(uri, inherited) != 0)
            xmpp_stanza_set_ns(st, uri);
    }
    /* The namespace in force for this element's children; libstrophe owns the string. */
    const char *ns = xmpp_stanza_get_ns(st);
    if (ns == NULL)
        ns = top ? NS_DEFAULT_CONTENT : p->open_ns[OPEN_AT(p->depth)];
    p->open_ns[OPEN_AT(p->depth + 1)] = ns;
    set_attributes(p, st, attrs);
    return st;
}

static void on_stream_start(struct parser *p, const char *name, const XML_Char **attrs)
{
    char uri[256];
    const char *local = split_name(name, uri, sizeof(uri));
    const char *id = NULL, *from = NULL;

    if (strcmp(local, "stream") != 0 || strcmp(uri, PARSER_NS_STREAMS) != 0) {
        fail(p, PARSER_BAD_STREAM, "the root element is not stream:stream");
        return;
    }
    for (int i = 0; attrs[i] != NULL; i += 2) {
        if (strcmp(attrs[i], "id") == 0)
            id = attrs[i + 1];
        else if (strcmp(attrs[i], "from") == 0)
            from = attrs[i + 1];
    }
    p->mark = XML_GetCurrentByteIndex(p->xml) + XML_GetCurrentByteCount(p->xml);
    if (p->cb.stream_start)
        p->cb.stream_start(p->ud, id, from);
}

/* Checked before any attribute is stored: libstrophe's attribute table has a fixed number of
 * buckets, so each attribute costs time linear in those already set. */
static bool too_many_attributes(struct parser *p, const XML_Char **attrs)
{
    int n = 0;

    while (attrs[2 * n] != NULL)
        if (++n > p->limits.max_attributes) {
            char msg[96];
            snprintf(msg, sizeof(msg), "an element with more than %d attributes",
                     p->limits.max_attributes);
            fail(p, PARSER_TOO_MANY, msg);
            return true;
        }
    return false;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    struct parser *p = ud;

    if (p->stopped || p->error)
        return;
    if (p->depth == 0) {
        p->depth = 1;
        on_stream_start(p, name, attrs);
        return;
    }
    if (p->depth > p->limits.max_depth) {
        char msg[64];
        snprintf(msg, sizeof(msg), "elements nested deeper than %d", p->limits.max_depth);
        fail(p, PARSER_TOO_DEEP, msg);
        return;
    }
    if (p->depth == 1) {
        p->mark = XML_GetCurrentByteIndex(p->xml);
        p->text_len = 0;
    } else if (check_size(p) < 0) {
        return;
    }
    if (too_many_attributes(p, attrs) || flush_text(p) < 0)
        return;
    xmpp_stanza_t *st = element_new(p, name, attrs);
    if (p->current == NULL) {
        p->stanza = st;
    } else if (add_child(p, st) < 0) {
        return;
    }
    p->open[OPEN_AT(p->depth + 1)] = st;
    p->open_tail[OPEN_AT(p->depth + 1)] = (struct stanza_tail){0};
    p->current = st;
    p->depth++;
}

static void deliver(struct parser *p)
{
    xmpp_stanza_t *st = p->stanza;

    p->stanza = NULL;
    p->current = NULL;
    p->mark = XML_GetCurrentByteIndex(p->xml) + XML_GetCurrentByteCount(p->xml);
    if (p->cb.stanza)
        p->cb.stanza(p->ud, st);
    xmpp_stanza_release(st);
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    struct parser *p = ud;

    (void)name;
    if (p->stopped || p->error)
        return;
    if (p->depth == 1) {
        p->depth = 0;
        if (p->cb.stream_end)
            p->cb.stream_end(p->ud);
        return;
    }
    if (check_size(p) < 0 || flush_text(p) < 0)
        return;
    p->depth--;
    if (p->depth == 1)
        deliver(p);
    else
        p->current = p->open[OPEN_AT(p->depth)];
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    struct parser *p = ud;

    if (p->error || p->stopped)
        return;
    if (p->depth < 2) {
        /* whitespace keepalives between stanzas: they end no unit but must not count as one */
        p->mark = XML_GetCurrentByteIndex(p->xml) + len;
        return;
    }
    if (p->text_len + (size_t)len > p->limits.max_stanza_size) {
        fail(p, PARSER_TOO_LARGE, "character data larger than the stanza limit");
        return;
    }
    if (p->text_len + (size_t)len + 1 > p->text_cap) {
        p->text_cap = (p->text_len + (size_t)len + 1) * 2;
        p->text = xrealloc(p->text, p->text_cap);
    }
    memcpy(p->text + p->text_len, s, (size_t)len);
    p->text_len += (size_t)len;
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    fail(ud, PARSER_RESTRICTED_XML, "a DOCTYPE is not allowed in XMPP");
}

static void XMLCALL on_pi(void *ud, const XML_Char *target, const XML_Char *data)
{
    fail(ud, PARSER_RESTRICTED_XML, "processing instructions are not allowed in XMPP");
}

static void XMLCALL on_comment(void *ud, const XML_Char *data)
{
    fail(ud, PARSER_RESTRICTED_XML, "comments are not allowed in XMPP");
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
                                   const XML_Char *value, int value_len, const XML_Char *base,
                                   const XML_Char *sysid, const XML_Char *pubid,
                                   const XML_Char *notation)
{
    fail(ud, PARSER_RESTRICTED_XML, "entity declarations are not allowed in XMPP");
}

static int xml_start(struct parser *p)
{
    p->xml = XML_ParserCreateNS("UTF-8", NS_SEP);
    if (p->xml == NULL)
        return -1;
    XML_SetUserData(p->xml, p);
#ifdef HAVE_XML_SETREPARSEDEFERRALENABLED
    /* A stanza split across reads must be delivered when its last byte arrives, not when the
     * next read happens to come (expat's deferral waits for more input that may never come). */
    XML_SetReparseDeferralEnabled(p->xml, XML_FALSE);
#endif
    XML_SetElementHandler(p->xml, on_start, on_end);
    XML_SetCharacterDataHandler(p->xml, on_text);
    XML_SetStartDoctypeDeclHandler(p->xml, on_doctype);
    XML_SetProcessingInstructionHandler(p->xml, on_pi);
    XML_SetCommentHandler(p->xml, on_comment);
    XML_SetEntityDeclHandler(p->xml, on_entity_decl);
    return 0;
}

parser_t *parser_new(xmpp_ctx_t *ctx, const struct parser_limits *limits,
                     const struct parser_callbacks *cb, void *ud)
{
    struct parser *p = xcalloc(1, sizeof(*p));

    p->ctx = ctx;
    p->limits = *limits;
    if (p->limits.max_children == 0)
        p->limits.max_children = PARSER_DEFAULT_MAX_CHILDREN;
    if (p->limits.max_attributes <= 0)
        p->limits.max_attributes = PARSER_DEFAULT_MAX_ATTRIBUTES;
    p->cb = *cb;
    p->ud = ud;
    p->open = xcalloc((size_t)limits->max_depth + 1, sizeof(*p->open));
    p->open_ns = xcalloc((size_t)limits->max_depth + 1, sizeof(*p->open_ns));
    p->open_tail = xcalloc((size_t)limits->max_depth + 1, sizeof(*p->open_tail));
    if (xml_start(p) < 0) {
        parser_free(p);
        return NULL;
    }
    return p;
}

static void drop_partial(struct parser *p)
{
    if (p->stanza)
        xmpp_stanza_release(p->stanza);
    p->stanza = NULL;
    p->current = NULL;
    p->text_len = 0;
}

int parser_reset(parser_t *p)
{
    drop_partial(p);
    if (p->xml)
        XML_ParserFree(p->xml);
    p->xml = NULL;
    p->depth = 0;
    p->fed = 0;
    p->mark = 0;
    p->error = PARSER_OK;
    p->stopped = 0;
    p->detail[0] = '\0';
    return xml_start(p);
}

enum parser_error parser_feed(parser_t *p, const char *buf, size_t len)
{
    if (p->error != PARSER_OK || p->stopped)
        return p->error;
    while (len > 0 && p->error == PARSER_OK) {
        /* expat takes an int length; feed very large buffers in pieces. */
        int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
        enum XML_Status st = XML_Parse(p->xml, buf, chunk, XML_FALSE);
        if (p->stopped)
            return PARSER_OK; /* a callback ended this stream: the rest belongs to nobody */
        if (st == XML_STATUS_ERROR && p->error == PARSER_OK)
            fail(p, PARSER_NOT_WELL_FORMED, XML_ErrorString(XML_GetErrorCode(p->xml)));
        p->fed += chunk;
        buf += chunk;
        len -= (size_t)chunk;
        /* expat holds an unfinished token (a huge start tag, say) in its own buffer and tells
         * us nothing until it ends: bound it by what was fed since the unit began. */
        if (p->error == PARSER_OK &&
            (size_t)(p->fed - p->mark) > p->limits.max_stanza_size) {
            char msg[96];
            snprintf(msg, sizeof(msg), "stanza larger than %zu bytes", p->limits.max_stanza_size);
            fail(p, PARSER_TOO_LARGE, msg);
        }
    }
    return p->error;
}

void parser_stop(parser_t *p)
{
    if (p->stopped || p->error != PARSER_OK)
        return;
    p->stopped = 1;
    XML_StopParser(p->xml, XML_FALSE);
}

const char *parser_error_detail(const parser_t *p)
{
    return p->detail;
}

void parser_free(parser_t *p)
{
    if (p == NULL)
        return;
    drop_partial(p);
    if (p->xml)
        XML_ParserFree(p->xml);
    free(p->text);
    free(p->open);
    free(p->open_ns);
    free(p->open_tail);
    free(p);
}

const char *parser_error_condition(enum parser_error err)
{
    switch (err) {
    case PARSER_OK:
        return "undefined-condition";
    case PARSER_NOT_WELL_FORMED:
        return "not-well-formed";
    case PARSER_RESTRICTED_XML:
        return "restricted-xml";
    case PARSER_TOO_LARGE:
    case PARSER_TOO_DEEP:
    case PARSER_TOO_MANY:
        return "policy-violation";
    case PARSER_BAD_STREAM:
        return "invalid-namespace";
    }
    return "undefined-condition";
}

/* ---- one element from a buffer ---- */

static void keep_element(void *ud, xmpp_stanza_t *stanza)
{
    xmpp_stanza_t **out = ud;

    *out = xmpp_stanza_clone(stanza);
}

enum parser_error parser_parse_element(xmpp_ctx_t *ctx, const struct parser_limits *limits,
                                       const char *buf, size_t len, xmpp_stanza_t **out,
                                       char *detail, size_t detail_size)
{
    struct parser_callbacks cb = {.stanza = keep_element};
    xmpp_stanza_t *st = NULL;
    enum parser_error err;
    struct parser *p;

    *out = NULL;
    if (len > limits->max_stanza_size || len > (size_t)INT_MAX) {
        if (detail)
            snprintf(detail, detail_size, "element larger than %zu bytes", limits->max_stanza_size);
        return PARSER_TOO_LARGE;
    }
    if ((p = parser_new(ctx, limits, &cb, &st)) == NULL) {
        if (detail)
            snprintf(detail, detail_size, "the XML parser could not start");
        return PARSER_NOT_WELL_FORMED;
    }
    p->depth = 1; /* as if inside a stream root: the element is a top-level one */
    if (XML_Parse(p->xml, buf, (int)len, XML_TRUE) == XML_STATUS_ERROR && p->error == PARSER_OK)
        fail(p, PARSER_NOT_WELL_FORMED, XML_ErrorString(XML_GetErrorCode(p->xml)));
    if (p->error == PARSER_OK && st == NULL)
        fail(p, PARSER_NOT_WELL_FORMED, "no element");
    err = p->error;
    if (detail)
        snprintf(detail, detail_size, "%s", p->detail);
    if (err == PARSER_OK) {
        *out = st;
        st = NULL;
    }
    if (st)
        xmpp_stanza_release(st);
    parser_free(p);
    return err;
}
