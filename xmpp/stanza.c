/* Stanza helpers: errors, child lookup, element building. */
#include "xmpp/stanza.h"

#include <string.h>

xmpp_stanza_t *stanza_error_reply(xmpp_stanza_t *req, const char *type, const char *condition,
                                  const char *text)
{
    return xmpp_stanza_reply_error(req, type, condition, text);
}

xmpp_stanza_t *stanza_child(xmpp_stanza_t *parent, const char *name, const char *ns)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(parent); c; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c))
            continue;
        const char *cname = xmpp_stanza_get_name(c);
        const char *cns = xmpp_stanza_get_ns(c);
        if (name && (cname == NULL || strcmp(cname, name) != 0))
            continue;
        if (ns && (cns == NULL || strcmp(cns, ns) != 0))
            continue;
        return c;
    }
    return NULL;
}

xmpp_stanza_t *stanza_first_element(xmpp_stanza_t *st)
{
    return stanza_child(st, NULL, NULL);
}

xmpp_stanza_t *stanza_add_element(xmpp_stanza_t *parent, const char *name, const char *ns)
{
    xmpp_stanza_t *c = xmpp_stanza_new(xmpp_stanza_get_context(parent));

    xmpp_stanza_set_name(c, name);
    if (ns)
        xmpp_stanza_set_ns(c, ns);
    xmpp_stanza_add_child_ex(parent, c, 0);
    return c;
}

void stanza_add_text_element(xmpp_stanza_t *parent, const char *name, const char *text)
{
    xmpp_stanza_t *el = stanza_add_element(parent, name, NULL);
    xmpp_stanza_t *t = xmpp_stanza_new(xmpp_stanza_get_context(parent));

    xmpp_stanza_set_text(t, text);
    xmpp_stanza_add_child_ex(el, t, 0);
}

const char *stanza_lang(xmpp_stanza_t *outer, xmpp_stanza_t *inner)
{
    const char *lang = inner ? xmpp_stanza_get_attribute(inner, "xml:lang") : NULL;

    if (lang && *lang)
        return lang;
    lang = outer ? xmpp_stanza_get_attribute(outer, "xml:lang") : NULL;
    return lang && *lang ? lang : NULL;
}
