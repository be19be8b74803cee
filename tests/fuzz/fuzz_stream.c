/* See fuzz_stream.h. */
#include "tests/fuzz/fuzz_stream.h"

#include <stdlib.h>
#include <string.h>

struct feed {
    fuzz_stanza_fn fn;
    void *ud;
};

static void on_stanza(void *ud, xmpp_stanza_t *st)
{
    struct feed *f = ud;

    if (f->fn)
        f->fn(f->ud, st);
}

/* A small deterministic generator: the same seed always splits the same way. */
static uint32_t next_split(uint32_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    return *state;
}

enum parser_error fuzz_stream(xmpp_ctx_t *ctx, const uint8_t *data, size_t size, uint32_t seed,
                              fuzz_stanza_fn fn, void *ud)
{
    struct parser_limits lim = {FUZZ_MAX_STANZA, FUZZ_MAX_DEPTH};
    struct parser_callbacks cb = {NULL, on_stanza, NULL};
    struct feed f = {fn, ud};
    parser_t *p = parser_new(ctx, &lim, &cb, &f);
    enum parser_error err = PARSER_OK;
    uint32_t state = seed | 1;
    size_t off = 0;

    if (p == NULL)
        abort();
    if (size < 14 || memcmp(data, "<stream:stream", 14) != 0)
        err = parser_feed(p, FUZZ_STREAM_HEADER, strlen(FUZZ_STREAM_HEADER));
    while (err == PARSER_OK && off < size) {
        /* Mostly tiny pieces (1-8 bytes: splits inside names, entities, UTF-8 sequences),
         * sometimes larger ones; seed 0 feeds the rest at once. */
        uint32_t r = next_split(&state);
        size_t n = seed == 0 ? size - off : (r & 0x100) ? 1 + (r & 7) : 1 + (r & 0xff);
        if (n > size - off)
            n = size - off;
        err = parser_feed(p, (const char *)data + off, n);
        off += n;
    }
    parser_free(p);
    return err;
}
