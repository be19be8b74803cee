/* Appending children to a libstrophe stanza in constant time, for builders that add children in
 * document order (the stream parser). libstrophe's xmpp_stanza_add_child_ex walks the whole
 * child list on every append, so an element of n children costs n²/2 steps: 5 s for 60,000. */
#ifndef IMD_STANZA_LIST_H
#define IMD_STANZA_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <strophe.h>

/* The end of one element's child list, kept by the builder next to the element. Zero it for an
 * element without children; only stanza_append may add children to that element since. */
struct stanza_tail {
    xmpp_stanza_t *last; /* borrowed: the parent owns its children */
    size_t n;            /* children appended so far */
};

/* Appends `child` (taken, like xmpp_stanza_add_child_ex(parent, child, 0)) to `parent`. */
void stanza_append(xmpp_stanza_t *parent, struct stanza_tail *tail, xmpp_stanza_t *child);

/* Whether appends take constant time: true when the libstrophe linked at run time passed the
 * layout check (see stanza_list.c); otherwise every append falls back to libstrophe's walk.
 * `ctx` runs the check the first time. */
bool stanza_append_is_fast(xmpp_ctx_t *ctx);

#endif
