/* One stanza of many empty children (what any XMPP user can send within 256 KiB): the time to
 * parse it with the stream parser, and what the same element costs built with libstrophe's own
 * append (xmpp_stanza_add_child_ex, which walks the child list: the parser's builder before).
 * Prints Markdown table rows. Usage: bench_stanza [-n CHILDREN,...]; run by `make bench`. */
#include "xmpp/parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HEADER                                                                                     \
    "<stream:stream xmlns='jabber:component:accept' "                                              \
    "xmlns:stream='http://etherx.jabber.org/streams' id='b'>"

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static size_t seen_children;

static void on_stanza(void *ud, xmpp_stanza_t *st)
{
    (void)ud;
    seen_children = 0;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(st); c; c = xmpp_stanza_get_next(c))
        seen_children++;
}

/* The stream parser: bytes in, one <message/> of n children delivered. */
static double parse_ms(xmpp_ctx_t *ctx, size_t n)
{
    struct parser_limits lim = {.max_stanza_size = 64u << 20, .max_depth = 64};
    struct parser_callbacks cb = {.stanza = on_stanza};
    size_t cap = strlen(HEADER) + 4 * n + 64, len;
    char *buf = malloc(cap);
    parser_t *p = parser_new(ctx, &lim, &cb, NULL);
    double t0;

    if (buf == NULL || p == NULL)
        exit(1);
    len = (size_t)sprintf(buf, HEADER "<message>");
    for (size_t i = 0; i < n; i++, len += 4)
        memcpy(buf + len, "<a/>", 4);
    len += (size_t)sprintf(buf + len, "</message>");
    t0 = now_ms();
    if (parser_feed(p, buf, len) != PARSER_OK || seen_children != n) {
        fprintf(stderr, "bench_stanza: %zu children: %s (saw %zu)\n", n, parser_error_detail(p),
                seen_children);
        exit(1);
    }
    t0 = now_ms() - t0;
    parser_free(p);
    free(buf);
    return t0;
}

/* The same element built the way the parser built it before: one add_child_ex per child. */
static double walk_ms(xmpp_ctx_t *ctx, size_t n)
{
    xmpp_stanza_t *m = xmpp_stanza_new(ctx);
    double t0 = now_ms();

    xmpp_stanza_set_name(m, "message");
    for (size_t i = 0; i < n; i++) {
        xmpp_stanza_t *c = xmpp_stanza_new(ctx);
        xmpp_stanza_set_name(c, "a");
        xmpp_stanza_add_child_ex(m, c, 0);
    }
    t0 = now_ms() - t0;
    xmpp_stanza_release(m);
    return t0;
}

int main(int argc, char **argv)
{
    const char *list = "15000,30000,60000";
    xmpp_ctx_t *ctx;
    int opt;

    while ((opt = getopt(argc, argv, "n:")) != -1) {
        if (opt != 'n') {
            fprintf(stderr, "usage: bench_stanza [-n CHILDREN,...]\n");
            return 1;
        }
        list = optarg;
    }
    ctx = xmpp_ctx_new(NULL, NULL);
    printf("\n| children of one stanza | stream parser (now) | libstrophe append walk (before) "
           "|\n|---|---|---|\n");
    for (const char *s = list; *s;) {
        char *end;
        size_t n = strtoul(s, &end, 10);
        double best_parse = 1e12, best_walk = 1e12;
        for (int r = 0; r < 3; r++) {
            double a = parse_ms(ctx, n), b = walk_ms(ctx, n);
            best_parse = a < best_parse ? a : best_parse;
            best_walk = b < best_walk ? b : best_walk;
        }
        printf("| %zu (%zu KiB) | %.1f ms | %.1f ms |\n", n, (4 * n + 20) / 1024, best_parse,
               best_walk);
        fflush(stdout);
        s = *end == ',' ? end + 1 : end;
        if (end == s && *s != '\0')
            break;
    }
    xmpp_ctx_free(ctx);
    return 0;
}
