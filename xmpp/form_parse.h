/* XEP-0004 data forms on the wire, inbound: <x xmlns='jabber:x:data'/> read into a form_t. */
#ifndef IMD_FORM_PARSE_H
#define IMD_FORM_PARSE_H

#include <strophe.h>

#include "xmpp/form.h"
#include "xmpp/form_error.h"

/* Parses <x xmlns='jabber:x:data'/> (borrowed) into a model without checking values against
 * any declaration: structure and limits only. A missing type attribute reads as 'submit'; the
 * first field named FORM_TYPE becomes the form type (whatever its type), later ones are
 * dropped; duplicate vars are kept for form_check to name. Returns NULL and appends to `errs`
 * on failure; the caller owns the result. */
form_t *form_from_stanza(xmpp_stanza_t *x, struct form_errors *errs);

#endif
