/* libFuzzer target for xmpp/parser (the stream parser every router byte goes through). The first
 * two input bytes choose how the rest is split into reads; the rest is the stream (a router's
 * stream header is put in front unless the input opens a stream itself). Properties:
 *  - split invariance: any split yields the same stanzas and the same verdict as one read;
 *  - round trip: every stanza delivered, serialised as the daemon would send it, parses back to
 *    the same stanza (same names, namespaces, attributes, text and children). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_stream.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static xmpp_ctx_t *ctx;

/* The serialisations of the stanzas one parse delivered, NUL-separated. */
struct seen {
    char *buf;
    size_t len;
    size_t count;
};

static void collect(void *ud, xmpp_stanza_t *st)
{
    struct seen *s = ud;
    char *text = NULL;
    size_t len = 0;

    if (xmpp_stanza_to_text(st, &text, &len) != XMPP_EOK)
        abort();
    s->buf = realloc(s->buf, s->len + len + 1);
    if (s->buf == NULL)
        abort();
    memcpy(s->buf + s->len, text, len);
    s->buf[s->len + len] = '\0';
    s->len += len + 1;
    s->count++;
    xmpp_free(ctx, text);
}

/* libstrophe never writes xmlns='jabber:client' (it takes it for the default), so an element
 * that names it explicitly comes back inheriting its parent's namespace: a known quirk, and the
 * daemon never sends such an element, so it is not counted as a difference. */
static const char *own_ns(xmpp_stanza_t *st)
{
    const char *ns = xmpp_stanza_get_ns(st);

    return ns && strcmp(ns, "jabber:client") == 0 ? NULL : ns;
}

/* Structural equality: names, namespaces, attributes as a set (libstrophe serialises
 * attributes in an order that depends on how they were inserted), text, children in order. */
static int same(xmpp_stanza_t *a, xmpp_stanza_t *b)
{
    const char *attrs[2 * 64];
    int n;

    if (xmpp_stanza_is_text(a) || xmpp_stanza_is_text(b)) {
        char *ta = xmpp_stanza_get_text(a), *tb = xmpp_stanza_get_text(b);
        int eq =
            xmpp_stanza_is_text(a) && xmpp_stanza_is_text(b) && ta && tb && strcmp(ta, tb) == 0;
        xmpp_free(ctx, ta);
        xmpp_free(ctx, tb);
        return eq;
    }
    if (strcmp(xmpp_stanza_get_name(a), xmpp_stanza_get_name(b)) != 0)
        return 0;
    const char *na = own_ns(a), *nb = own_ns(b);
    if ((na == NULL) != (nb == NULL) || (na && strcmp(na, nb) != 0))
        return 0;
    if (xmpp_stanza_get_attribute_count(a) - (xmpp_stanza_get_ns(a) != NULL) !=
        xmpp_stanza_get_attribute_count(b) - (xmpp_stanza_get_ns(b) != NULL))
        return 0; /* xmlns is an attribute to libstrophe: compared above */
    n = xmpp_stanza_get_attributes(a, attrs, 2 * 64); /* beyond 64, the first 64 are compared */
    for (int i = 0; i < n; i += 2) {
        if (strcmp(attrs[i], "xmlns") == 0)
            continue;
        const char *v = xmpp_stanza_get_attribute(b, attrs[i]);
        if (v == NULL || strcmp(v, attrs[i + 1]) != 0)
            return 0;
    }
    xmpp_stanza_t *ca = xmpp_stanza_get_children(a), *cb = xmpp_stanza_get_children(b);
    for (; ca && cb; ca = xmpp_stanza_get_next(ca), cb = xmpp_stanza_get_next(cb))
        if (!same(ca, cb))
            return 0;
    return ca == NULL && cb == NULL;
}

static void keep(void *ud, xmpp_stanza_t *st)
{
    *(xmpp_stanza_t **)ud = xmpp_stanza_copy(st);
}

/* One stanza, serialised as the daemon would send it and parsed again, must come out the same. */
static void round_trip(xmpp_stanza_t *st)
{
    static const char header[] = FUZZ_STREAM_HEADER;
    xmpp_stanza_t *again = NULL;
    char *text = NULL, *in;
    size_t len = 0;
    enum parser_error err;

    if (xmpp_stanza_to_text(st, &text, &len) != XMPP_EOK ||
        (in = malloc(sizeof(header) + len)) == NULL)
        abort();
    memcpy(in, header, sizeof(header) - 1);
    memcpy(in + sizeof(header) - 1, text, len);
    err = fuzz_stream(ctx, (const uint8_t *)in, sizeof(header) - 1 + len, 0, keep, &again);
    if (err != PARSER_OK || again == NULL || !same(st, again))
        abort();
    xmpp_stanza_release(again);
    xmpp_free(ctx, text);
    free(in);
}

static void check_round_trip(void *ud, xmpp_stanza_t *st)
{
    round_trip(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct seen whole = {0}, split = {0};
    enum parser_error e1, e2;
    uint32_t seed;

    if (ctx == NULL) {
        log_set_level(LOG_LEVEL_ERROR);
        ctx = xmpp_ctx_new(NULL, NULL);
    }
    if (size < 2)
        return 0;
    seed = ((uint32_t)data[0] << 8 | data[1]) + 1; /* never 0: 0 means one read */
    data += 2;
    size -= 2;
    e1 = fuzz_stream(ctx, data, size, 0, collect, &whole);
    e2 = fuzz_stream(ctx, data, size, seed, collect, &split);
    if (e1 != e2 || whole.count != split.count || whole.len != split.len ||
        (whole.len > 0 && memcmp(whole.buf, split.buf, whole.len) != 0))
        abort();
    fuzz_stream(ctx, data, size, 0, check_round_trip, NULL);
    free(whole.buf);
    free(split.buf);
    return 0;
}
