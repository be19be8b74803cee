/* A growing NUL-terminated byte buffer for text built in memory before it is written whole
 * (the router's include files). Allocation failure is fatal (xmalloc). */
#ifndef IMD_SBUF_H
#define IMD_SBUF_H

#include <stddef.h>

/* Zero-initialise; `p` is NULL until the first append, then owned by the buffer: the caller
 * frees it (or takes it) when done. */
struct sbuf {
    char *p;
    size_t len, cap;
};

void sbuf_add(struct sbuf *b, const char *s, size_t n);
void sbuf_str(struct sbuf *b, const char *s);

#endif
