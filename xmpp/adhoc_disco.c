/* XEP-0050 ad-hoc commands in XEP-0030 service discovery: the command list and each node. */
#include "xmpp/adhoc_disco.h"

#include "xmpp/adhoc_internal.h"
#include "xmpp/form.h"
#include "xmpp/stanza.h"

#include <string.h>

static const struct text T_LIST = {"Commands", "명령"};

/* ---- disco ---- */

int adhoc_disco_items(adhoc_t *a, const char *node, xmpp_stanza_t *query, const char *self_jid,
                      bool is_admin, const char *lang)
{
    const struct reg *r;

    if (node == NULL || strcmp(node, NS_COMMANDS) != 0) {
        r = node ? adhoc_find_cmd(a, node) : NULL;
        return r != NULL && adhoc_may_run(r, is_admin) ? 0 : -1;
    }
    for (size_t i = 0; i < a->n_cmds; i++) {
        if (!adhoc_may_run(&a->cmds[i], is_admin))
            continue;
        xmpp_stanza_t *item = stanza_add_element(query, "item", NULL);
        if (self_jid)
            xmpp_stanza_set_attribute(item, "jid", self_jid);
        xmpp_stanza_set_attribute(item, "node", a->cmds[i].def->node);
        xmpp_stanza_set_attribute(item, "name", text_get(&a->cmds[i].def->name, lang));
    }
    return 0;
}

static void add_identity(xmpp_stanza_t *query, const char *type, const char *name)
{
    xmpp_stanza_t *id = stanza_add_element(query, "identity", NULL);

    xmpp_stanza_set_attribute(id, "category", "automation");
    xmpp_stanza_set_attribute(id, "type", type);
    xmpp_stanza_set_attribute(id, "name", name);
}

static void add_feature(xmpp_stanza_t *query, const char *var)
{
    xmpp_stanza_set_attribute(stanza_add_element(query, "feature", NULL), "var", var);
}

int adhoc_disco_info(adhoc_t *a, const char *node, xmpp_stanza_t *query, bool is_admin,
                     const char *lang)
{
    const struct reg *r;

    if (node && strcmp(node, NS_COMMANDS) == 0) {
        add_identity(query, "command-list", text_get(&T_LIST, lang));
        return 0;
    }
    r = adhoc_find_cmd(a, node);
    if (r == NULL || !adhoc_may_run(r, is_admin))
        return -1;
    add_identity(query, "command-node", text_get(&r->def->name, lang));
    add_feature(query, NS_COMMANDS);
    add_feature(query, NS_DATA);
    return 0;
}
