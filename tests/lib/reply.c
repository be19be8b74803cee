/* For tests: reading an ad-hoc command reply. */
#include "tests/lib/reply.h"

#include "xmpp/stanza.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

xmpp_stanza_t *reply_command(xmpp_stanza_t *reply)
{
    xmpp_stanza_t *c = stanza_child(reply, "command", NULL);

    assert_non_null(c);
    return c;
}

const char *reply_status(xmpp_stanza_t *reply)
{
    return xmpp_stanza_get_attribute(reply_command(reply), "status");
}

bool reply_has_note(xmpp_stanza_t *reply, const char *type, const char *needle)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(reply_command(reply)); c;
         c = xmpp_stanza_get_next(c)) {
        const char *name = xmpp_stanza_is_tag(c) ? xmpp_stanza_get_name(c) : NULL;
        const char *t = name ? xmpp_stanza_get_attribute(c, "type") : NULL;
        if (name == NULL || strcmp(name, "note") != 0 || strcmp(t ? t : "info", type) != 0)
            continue;
        char *text = xmpp_stanza_get_text(c);
        bool found = text && strstr(text, needle);
        xmpp_free(xmpp_stanza_get_context(reply), text);
        if (found)
            return true;
    }
    return false;
}

bool reply_is_bad_payload(xmpp_stanza_t *reply)
{
    xmpp_stanza_t *e = stanza_child(reply, "error", NULL);

    return strcmp(xmpp_stanza_get_type(reply), "error") == 0 && e &&
           stanza_child(e, "bad-request", NULL) && stanza_child(e, "bad-payload", NULL);
}
