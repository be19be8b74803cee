/* Constant-time child appends. libstrophe has no public way to link a child after a known last
 * sibling, so this writes the sibling links itself through a copy of libstrophe's private
 * struct _xmpp_stanza_t (src/common.h; unchanged from 0.8 in 2005 to 0.14). It is used only
 * after a run-time check that this copy matches the library actually linked: two children are
 * added the official way and every link is found where the copy says. On any mismatch (a future
 * libstrophe), appends go through xmpp_stanza_add_child_ex: correct, only slower, and logged. */
#include "xmpp/stanza_list.h"

#include "util/log.h"

#include <string.h>

/* libstrophe's struct _xmpp_stanza_t, field for field. */
struct strophe_stanza_view {
    int ref;
    xmpp_ctx_t *ctx;
    int type; /* xmpp_stanza_type_t, an enum */
    xmpp_stanza_t *prev;
    xmpp_stanza_t *next;
    xmpp_stanza_t *children;
    xmpp_stanza_t *parent;
    char *data;
    void *attributes;
};

#define VIEW(st) ((struct strophe_stanza_view *)(void *)(st))

enum layout { LAYOUT_UNCHECKED, LAYOUT_KNOWN, LAYOUT_UNKNOWN };
static enum layout layout = LAYOUT_UNCHECKED;

static bool layout_matches(xmpp_ctx_t *ctx)
{
    xmpp_stanza_t *p = xmpp_stanza_new(ctx), *a = xmpp_stanza_new(ctx), *b = xmpp_stanza_new(ctx);
    bool ok = false;

    if (p == NULL || a == NULL || b == NULL || xmpp_stanza_set_name(p, "p") != XMPP_EOK ||
        xmpp_stanza_set_name(a, "a") != XMPP_EOK || xmpp_stanza_set_name(b, "b") != XMPP_EOK)
        goto out;
    xmpp_stanza_add_child_ex(p, a, 0);
    xmpp_stanza_add_child_ex(p, b, 0);
    ok = VIEW(p)->ref == 1 && VIEW(p)->ctx == ctx && VIEW(a)->ctx == ctx &&
         VIEW(p)->children == a && VIEW(p)->parent == NULL && VIEW(p)->prev == NULL &&
         VIEW(p)->next == NULL && VIEW(a)->prev == NULL && VIEW(a)->next == b &&
         VIEW(b)->prev == a && VIEW(b)->next == NULL && VIEW(a)->parent == p &&
         VIEW(b)->parent == p && VIEW(a)->children == NULL && VIEW(a)->data != NULL &&
         strcmp(VIEW(a)->data, "a") == 0 && xmpp_stanza_get_children(p) == a &&
         xmpp_stanza_get_next(a) == b;
    xmpp_stanza_release(p);
    return ok;
out:
    if (p)
        xmpp_stanza_release(p);
    if (a)
        xmpp_stanza_release(a);
    if (b)
        xmpp_stanza_release(b);
    return false;
}

bool stanza_append_is_fast(xmpp_ctx_t *ctx)
{
    if (layout == LAYOUT_UNCHECKED) {
        layout = layout_matches(ctx) ? LAYOUT_KNOWN : LAYOUT_UNKNOWN;
        if (layout == LAYOUT_UNKNOWN)
            log_warnx("stanza: libstrophe's stanza layout is not the one known here; children "
                      "are appended the slow way (time quadratic in an element's children)");
    }
    return layout == LAYOUT_KNOWN;
}

void stanza_append(xmpp_stanza_t *parent, struct stanza_tail *tail, xmpp_stanza_t *child)
{
    struct strophe_stanza_view *c = VIEW(child);

    tail->n++;
    /* The tail must be the parent's real last child; a parent given children some other way
     * (tail unset but children present) takes the walk. */
    if (!stanza_append_is_fast(xmpp_stanza_get_context(parent)) ||
        (tail->last == NULL && xmpp_stanza_get_children(parent) != NULL) || c->parent != NULL ||
        c->prev != NULL || c->next != NULL) {
        xmpp_stanza_add_child_ex(parent, child, 0);
        tail->last = child;
        return;
    }
    c->parent = parent;
    c->prev = tail->last;
    if (tail->last)
        VIEW(tail->last)->next = child;
    else
        VIEW(parent)->children = child;
    tail->last = child;
}
