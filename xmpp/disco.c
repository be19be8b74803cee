/* XEP-0030: the component's identity and features; nodes go to a provider. The JID itself lists
 * no items: the commands are items of the commands node (XEP-0050), which the provider answers. */
#include "xmpp/disco.h"

#include "util/xmalloc.h"
#include "xmpp/stanza.h"

#include <stdlib.h>
#include <string.h>

#define DISCO_MAX_FEATURES 32

struct disco {
    dispatch_t *d;
    xmpp_ctx_t *ctx;
    char *category, *type, *name;
    char *features[DISCO_MAX_FEATURES];
    size_t n_features;
    disco_node_fn node_fn;
    void *node_ud;
};

static void add_identity(disco_t *disco, xmpp_stanza_t *query)
{
    xmpp_stanza_t *id = stanza_add_element(query, "identity", NULL);

    xmpp_stanza_set_attribute(id, "category", disco->category);
    xmpp_stanza_set_attribute(id, "type", disco->type);
    xmpp_stanza_set_attribute(id, "name", disco->name);
}

static void add_feature(xmpp_stanza_t *query, const char *ns)
{
    xmpp_stanza_t *f = stanza_add_element(query, "feature", NULL);

    xmpp_stanza_set_attribute(f, "var", ns);
}

static void fill_root(disco_t *disco, xmpp_stanza_t *query, int items)
{
    if (items)
        return; /* no items on the JID itself: an empty list */
    add_identity(disco, query);
    add_feature(query, NS_DISCO_INFO);
    add_feature(query, NS_DISCO_ITEMS);
    for (size_t i = 0; i < disco->n_features; i++)
        add_feature(query, disco->features[i]);
}

static void answer(disco_t *disco, xmpp_stanza_t *iq, xmpp_stanza_t *payload, int items)
{
    const char *node = xmpp_stanza_get_attribute(payload, "node");
    xmpp_stanza_t *reply = xmpp_stanza_reply(iq);
    xmpp_stanza_t *query = stanza_add_element(reply, "query", items ? NS_DISCO_ITEMS
                                                                    : NS_DISCO_INFO);

    xmpp_stanza_set_type(reply, "result");
    if (node == NULL || *node == '\0') {
        fill_root(disco, query, items);
    } else {
        xmpp_stanza_set_attribute(query, "node", node);
        if (disco->node_fn == NULL ||
            disco->node_fn(disco->node_ud, node, items, query, xmpp_stanza_get_from(iq),
                           stanza_lang(iq, payload)) < 0) {
            xmpp_stanza_release(reply);
            dispatch_reply_error(disco->d, iq, "cancel", "item-not-found", NULL);
            return;
        }
    }
    dispatch_send(disco->d, reply);
    xmpp_stanza_release(reply);
}

static void on_info(void *ud, xmpp_stanza_t *iq, xmpp_stanza_t *payload)
{
    answer(ud, iq, payload, 0);
}

static void on_items(void *ud, xmpp_stanza_t *iq, xmpp_stanza_t *payload)
{
    answer(ud, iq, payload, 1);
}

disco_t *disco_new(dispatch_t *d, xmpp_ctx_t *ctx, const char *category, const char *type,
                   const char *name)
{
    disco_t *disco = xcalloc(1, sizeof(*disco));

    disco->d = d;
    disco->ctx = ctx;
    disco->category = xstrdup(category);
    disco->type = xstrdup(type);
    disco->name = xstrdup(name);
    dispatch_on_iq(d, "get", NS_DISCO_INFO, on_info, disco);
    dispatch_on_iq(d, "get", NS_DISCO_ITEMS, on_items, disco);
    return disco;
}

void disco_add_feature(disco_t *disco, const char *ns)
{
    if (disco->n_features < DISCO_MAX_FEATURES)
        disco->features[disco->n_features++] = xstrdup(ns);
}

void disco_set_node_provider(disco_t *disco, disco_node_fn fn, void *ud)
{
    disco->node_fn = fn;
    disco->node_ud = ud;
}

void disco_free(disco_t *disco)
{
    if (disco == NULL)
        return;
    for (size_t i = 0; i < disco->n_features; i++)
        free(disco->features[i]);
    free(disco->category);
    free(disco->type);
    free(disco->name);
    free(disco);
}
