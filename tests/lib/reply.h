/* For tests: reading an ad-hoc command reply (XEP-0050) without walking its XML in each test. */
#ifndef IMD_TEST_REPLY_H
#define IMD_TEST_REPLY_H

#include <stdbool.h>
#include <strophe.h>

/* The reply's <command/>; fails the test when there is none. Borrowed. */
xmpp_stanza_t *reply_command(xmpp_stanza_t *reply);
/* The command's status attribute. Borrowed. */
const char *reply_status(xmpp_stanza_t *reply);
/* True when a <note/> of `type` (no type: "info") contains `needle`. */
bool reply_has_note(xmpp_stanza_t *reply, const char *type, const char *needle);
/* True for an iq error bad-request + bad-payload. */
bool reply_is_bad_payload(xmpp_stanza_t *reply);

#endif
