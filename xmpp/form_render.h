/* XEP-0004 data forms on the wire, outbound: a form_t as <x xmlns='jabber:x:data'/>. */
#ifndef IMD_FORM_RENDER_H
#define IMD_FORM_RENDER_H

#include <stddef.h>
#include <strophe.h>

#include "xmpp/form.h"

/* Renders `form` as <x xmlns='jabber:x:data'/> with texts in `lang` (may be NULL). The caller
 * owns the result. A submission renders only var and values, as XEP-0004 asks. */
xmpp_stanza_t *form_to_stanza(xmpp_ctx_t *ctx, const form_t *form, const char *lang);
/* The same with only rows [first, first + count) of its table. */
xmpp_stanza_t *form_to_stanza_rows(xmpp_ctx_t *ctx, const form_t *form, const char *lang,
                                   size_t first, size_t count);

#endif
