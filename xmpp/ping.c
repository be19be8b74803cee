/* Answers pings (an empty result) and version queries (name and version, no OS: it helps
 * attackers more than admins). */
#include "xmpp/ping.h"

#include "xmpp/stanza.h"

struct version_info {
    const char *name, *version;
};

static struct version_info version_info;

static void on_ping(void *ud, xmpp_stanza_t *iq, xmpp_stanza_t *payload)
{
    dispatch_t *d = ud;
    xmpp_stanza_t *reply = xmpp_stanza_reply(iq);

    xmpp_stanza_set_type(reply, "result");
    dispatch_send(d, reply);
    xmpp_stanza_release(reply);
}

static void on_version(void *ud, xmpp_stanza_t *iq, xmpp_stanza_t *payload)
{
    dispatch_t *d = ud;
    xmpp_stanza_t *reply = xmpp_stanza_reply(iq);
    xmpp_stanza_t *query = stanza_add_element(reply, "query", NS_VERSION);

    xmpp_stanza_set_type(reply, "result");
    stanza_add_text_element(query, "name", version_info.name);
    stanza_add_text_element(query, "version", version_info.version);
    dispatch_send(d, reply);
    xmpp_stanza_release(reply);
}

void ping_register(dispatch_t *d, const char *name, const char *version)
{
    version_info.name = name;
    version_info.version = version;
    dispatch_on_iq(d, "get", NS_PING, on_ping, d);
    dispatch_on_iq(d, "get", NS_VERSION, on_version, d);
}
