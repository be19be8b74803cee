/* XEP-0199 ping answers and XEP-0092 software version answers. */
#ifndef IMD_PING_H
#define IMD_PING_H

#include "xmpp/dispatch.h"

#define NS_PING "urn:xmpp:ping"
#define NS_VERSION "jabber:iq:version"

/* Registers both handlers on `d`. `name` and `version` are borrowed and must outlive `d`. */
void ping_register(dispatch_t *d, const char *name, const char *version);

#endif
