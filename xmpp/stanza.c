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

/* The length of the valid UTF-8 character XML allows at `s` (n bytes left), or 0. */
static size_t xml_char_len(const unsigned char *s, size_t n)
{
    unsigned cp;
    size_t len;

    if (s[0] < 0x80)
        return s[0] >= 0x20 || s[0] == '\t' || s[0] == '\n' || s[0] == '\r' ? 1 : 0;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        len = 2, cp = s[0] & 0x1Fu;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        len = 3, cp = s[0] & 0x0Fu;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        len = 4, cp = s[0] & 0x07u;
    else
        return 0; /* a continuation byte, an overlong lead (C0, C1) or past U+10FFFF (F5-FF) */
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3Fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF)
        return 0;
    return len;
}

size_t stanza_scrub_xml(char *text, size_t len)
{
    unsigned char *s = (unsigned char *)text;
    size_t replaced = 0;

    for (size_t i = 0; i < len;) {
        size_t k = xml_char_len(s + i, len - i);
        if (k == 0) {
            s[i++] = '?';
            replaced++;
        } else {
            i += k;
        }
    }
    return replaced;
}
