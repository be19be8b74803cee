/* The peer protocol (doc/protocol.md), the answering side: who may ask, and the answer pages
 * built from the store. */
#include "component/engine/peer_answer.h"

#include "component/engine/peer_page.h"
#include "store/store_domain.h"
#include "store/store_peer.h"
#include "store/store_settings.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/dispatch.h"
#include "xmpp/stanza.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- answering a peer ---- */

static xmpp_stanza_t *new_elem(struct app *app, const char *name, const char *ns)
{
    xmpp_stanza_t *e = xmpp_stanza_new(app->ctx);

    xmpp_stanza_set_name(e, name);
    if (ns)
        xmpp_stanza_set_ns(e, ns);
    return e;
}

static void add_domain_elem(struct app *app, xmpp_stanza_t *p, const struct store_domain_usage *d)
{
    xmpp_stanza_t *e = new_elem(app, "domain", NULL);
    char users[24];

    snprintf(users, sizeof(users), "%" PRId64, d->local_users);
    xmpp_stanza_set_attribute(e, "name", d->name);
    xmpp_stanza_set_attribute(e, "configured", d->listed && d->configured_local ? "true" : "false");
    xmpp_stanza_set_attribute(e, "users", users);
    xmpp_stanza_add_child_ex(p, e, 0);
}

/* What this cluster tells peers: the domains it configures and those its users have. Peer-only
 * rows are never sent back: they are some peer's to tell. */
static bool ours(const struct store_domain_usage *d)
{
    return (d->listed && d->configured_local) || d->local_users > 0;
}

static enum store_rc add_domains(struct app *app, xmpp_stanza_t *p, const char *after)
{
    struct store_domain_usage *du = NULL;
    size_t n = 0, added = 0;
    const char *last = NULL;
    /* Every peer counts: peer data does not matter here, ours() sends local rows only. */
    enum store_rc rc = store_domain_usage(app->store, 0, &du, &n);
    bool more = false;

    for (size_t i = 0; rc == STORE_OK && i < n && !more; i++) {
        if (!ours(&du[i]) || strcmp(du[i].name, after) <= 0)
            continue;
        if (added == PEER_PAGE_DOMAINS) {
            more = true;
            break;
        }
        add_domain_elem(app, p, &du[i]);
        last = du[i].name;
        added++;
    }
    if (rc == STORE_OK) {
        char *next = more ? xasprintf("d:%s", last) : xstrdup("u:0:0");
        xmpp_stanza_set_attribute(p, "next", next);
        free(next);
    }
    store_domain_usage_free(du, n);
    return rc;
}

static enum store_rc add_uris(struct app *app, xmpp_stanza_t *p, int64_t after, int64_t sent)
{
    int64_t limit = PEER_MAX_URIS - sent < PEER_PAGE_URIS ? PEER_MAX_URIS - sent : PEER_PAGE_URIS;
    char **uris = NULL, **probe = NULL;
    size_t n = 0, k = 0;
    int64_t last = after, ignored = 0;
    enum store_rc rc =
        limit > 0 ? store_peer_local_uris(app->store, after, limit, &uris, &n, &last) : STORE_OK;

    for (size_t i = 0; rc == STORE_OK && i < n; i++) {
        xmpp_stanza_t *e = new_elem(app, "uri", NULL);
        char h[PEER_HASH_HEX + 1];

        peer_uri_hash(uris[i], h);
        xmpp_stanza_set_attribute(e, "hash", h);
        xmpp_stanza_add_child_ex(p, e, 0);
    }
    store_peer_strings_free(uris, n);
    if (rc != STORE_OK || (int64_t)n < limit)
        return rc; /* the last page (or a failure) */
    if (sent + (int64_t)n < PEER_MAX_URIS) {
        char *next = xasprintf("u:%" PRId64 ":%" PRId64, last, sent + (int64_t)n);
        xmpp_stanza_set_attribute(p, "next", next);
        free(next);
        return STORE_OK;
    }
    /* The protocol's limit is reached: say whether more exist. */
    rc = store_peer_local_uris(app->store, last, 1, &probe, &k, &ignored);
    if (rc == STORE_OK && k > 0)
        xmpp_stanza_set_attribute(p, "uris-partial", "true");
    store_peer_strings_free(probe, k);
    return rc;
}

static enum store_rc add_header(struct app *app, xmpp_stanza_t *p)
{
    struct store_settings s;
    enum store_rc rc = store_settings_get(app->store, &s);

    if (rc != STORE_OK)
        return rc;
    xmpp_stanza_set_attribute(p, "default-domain", s.default_domain);
    xmpp_stanza_set_attribute(p, "scheme", store_im_scheme_name(s.im_address_scheme));
    store_settings_clear(&s);
    return STORE_OK;
}

/* Fills the page the cursor names: "" or "d:<name>" (domains after name), "u:<id>:<sent>"
 * (URI hashes of users after id, `sent` of them sent so far). -1: not a cursor we issue. */
static int fill_page(struct app *app, xmpp_stanza_t *p, const char *after, enum store_rc *rc)
{
    long long id = 0, sent = 0;
    int used = 0;

    if (after == NULL || *after == '\0' || strncmp(after, "d:", 2) == 0) {
        *rc = add_domains(app, p, after && *after ? after + 2 : "");
        return 0;
    }
    if (sscanf(after, "u:%lld:%lld%n", &id, &sent, &used) == 2 && after[used] == '\0' && id >= 0 &&
        sent >= 0 && sent <= PEER_MAX_URIS) {
        *rc = add_uris(app, p, id, sent);
        return 0;
    }
    return -1;
}

xmpp_stanza_t *peer_answer_build(struct app *app, const char *known, const char *after, char **err,
                                 bool *bad_request)
{
    char *version = NULL;
    enum store_rc rc = store_peer_own_version(app->store, &version);
    xmpp_stanza_t *p;

    *err = NULL;
    *bad_request = false;
    if (rc != STORE_OK) {
        *err = xasprintf("the store failed: %s", store_errmsg(app->store));
        return NULL;
    }
    p = new_elem(app, "peer", PEER_NS);
    xmpp_stanza_set_attribute(p, "version", version);
    if (known && (after == NULL || *after == '\0') && strcmp(known, version) == 0) {
        xmpp_stanza_set_attribute(p, "unchanged", "true");
        free(version);
        return p;
    }
    free(version);
    rc = add_header(app, p);
    if (rc == STORE_OK && fill_page(app, p, after, &rc) < 0) {
        *bad_request = true;
        *err = xstrdup("unknown paging cursor: start again without 'after'");
    } else if (rc != STORE_OK) {
        *err = xasprintf("the store failed: %s", store_errmsg(app->store));
    }
    if (*err == NULL)
        return p;
    xmpp_stanza_release(p);
    return NULL;
}

bool peers_is_peer(struct app *app, const char *from)
{
    size_t len = from ? strcspn(from, "/") : 0;
    char *bare;
    struct store_peer p;
    enum store_rc rc;

    if (len == 0)
        return false;
    for (size_t i = 0; i < app->cfg->n_peers; i++)
        if (strlen(app->cfg->peers[i]) == len && strncasecmp(app->cfg->peers[i], from, len) == 0)
            return true;
    bare = xstrndup(from, len);
    for (char *c = bare; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    rc = store_peer_get(app->store, bare, &p);
    store_peer_clear(&p);
    free(bare);
    return rc == STORE_OK;
}

void peer_answer_on_get(void *ud, xmpp_stanza_t *iq, xmpp_stanza_t *payload)
{
    struct app *app = ud;
    const char *from = xmpp_stanza_get_from(iq);
    char *err = NULL;
    bool bad = false;
    xmpp_stanza_t *answer, *reply;

    if (!peers_is_peer(app, from)) {
        log_info("peers: refused a peer request from=%s reason=not-a-peer", from ? from : "-");
        dispatch_reply_error(app->dispatch, iq, "auth", "forbidden",
                             "this cluster answers its configured peers only");
        return;
    }
    answer = peer_answer_build(app, xmpp_stanza_get_attribute(payload, "known"),
                               xmpp_stanza_get_attribute(payload, "after"), &err, &bad);
    if (answer == NULL) {
        dispatch_reply_error(app->dispatch, iq, bad ? "modify" : "wait",
                             bad ? "bad-request" : "internal-server-error", err);
        free(err);
        return;
    }
    reply = xmpp_stanza_reply(iq);
    xmpp_stanza_set_type(reply, "result");
    xmpp_stanza_add_child_ex(reply, answer, 0);
    dispatch_send(app->dispatch, reply);
    xmpp_stanza_release(reply);
}
