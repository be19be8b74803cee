/* Shared by the unit tests of xmpp/adhoc*.c (adhoc_fixture.c): a registry with test-only
 * commands on a fake clock, requests sent as an admin or anyone, and asserts on the replies.
 * Replies returned are the caller's to release (take_sid and release_error release them). */
#ifndef IMD_TEST_ADHOC_FIXTURE_H
#define IMD_TEST_ADHOC_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <strophe.h>

#include "xmpp/adhoc.h"
#include "xmpp/adhoc_later.h"

#define ADMIN "admin@example.com/laptop"
#define NS_STANZAS_ "urn:ietf:params:xml:ns:xmpp-stanzas"
#define CMD "<command xmlns='http://jabber.org/protocol/commands' "
#define FORM(fields) "<x xmlns='jabber:x:data' type='submit'>" fields "</x>"
#define F(var, v) "<field var='" var "'><value>" v "</value></field>"

struct fx {
    xmpp_ctx_t *ctx;
    adhoc_t *a;
    uint64_t now;
    int states_freed;
    int cancels;
    adhoc_later_t *later;   /* test/later: the deferred answer */
    xmpp_stanza_t *late[4]; /* replies delivered late */
    int n_late;
    int n_at_once;  /* test/at-once steps run */
    char ends[512]; /* the end hook's calls, "node how note;" each */
};

/* test/one, registered first. */
extern const struct adhoc_command cmd_one;

char *canon(xmpp_stanza_t *st);
void assert_contains(xmpp_stanza_t *st, const char *needle);
void assert_lacks(xmpp_stanza_t *st, const char *needle);
/* Sends <iq type='set'> with `body` from `from` and returns the reply. */
xmpp_stanza_t *send_as(struct fx *fx, const char *from, bool admin, const char *lang,
                       const char *body);
xmpp_stanza_t *send_fmt(struct fx *fx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
xmpp_stanza_t *command_of(xmpp_stanza_t *reply);
void assert_status(xmpp_stanza_t *reply, const char *status);
/* Copies the reply's session id into `sid` and releases the reply. */
void take_sid(xmpp_stanza_t *reply, char sid[64]);
void assert_error(xmpp_stanza_t *reply, const char *type, const char *cond, const char *app);
void release_error(xmpp_stanza_t *reply, const char *type, const char *cond, const char *app);
void assert_error_text(xmpp_stanza_t *reply, const char *needle);
int setup(void **state);
int teardown(void **state);
xmpp_stanza_t *send_async(struct fx *fx, const char *body);
xmpp_stanza_t *send_async_fmt(struct fx *fx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void keep_late(void *ud, xmpp_stanza_t *reply);

#endif
