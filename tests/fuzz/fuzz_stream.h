/* Shared by the fuzz targets whose input arrives as XMPP stanzas: bytes through the daemon's own
 * stream parser (xmpp/parser.c), split where the input's first byte says, so every target sees
 * stanzas exactly as the daemon would. */
#ifndef IMD_FUZZ_STREAM_H
#define IMD_FUZZ_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <strophe.h>

#include "xmpp/parser.h"

/* The stream header the router sends; prepended when the input does not open a stream itself. */
#define FUZZ_STREAM_HEADER                                                                         \
    "<stream:stream xmlns='jabber:component:accept' "                                              \
    "xmlns:stream='http://etherx.jabber.org/streams' from='imd.example' id='s1'>"

/* The daemon's default limits (component/config.c), so a finding is one the daemon would hit. */
#define FUZZ_MAX_STANZA (256 * 1024)
#define FUZZ_MAX_DEPTH 64

/* Called for each complete stanza (borrowed, as the parser's stanza callback). */
typedef void (*fuzz_stanza_fn)(void *ud, xmpp_stanza_t *st);

/* Feeds `data` (with FUZZ_STREAM_HEADER in front unless it starts with "<stream:stream") in pieces
 * whose sizes come from `seed`; seed 0 feeds it whole. Returns the error that stopped the parser,
 * or PARSER_OK. */
enum parser_error fuzz_stream(xmpp_ctx_t *ctx, const uint8_t *data, size_t size, uint32_t seed,
                              fuzz_stanza_fn fn, void *ud);

#endif
