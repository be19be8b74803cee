/* The peer protocol (doc/protocol.md), the asking side's reading of it: one answer page parsed
 * and checked against the protocol and its limits, and the hash a directory URI travels as. */
#include "component/engine/peer_page.h"

#include "component/engine/domain_rules.h"
#include "store/store_settings.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/stanza.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VERSION_MAX 64 /* longest version marker taken from a peer */
#define USERS_DIGITS 9 /* a user count has at most this many digits */

/* ---- small checks ---- */

/* Present, 1..max bytes, no control characters or spaces. */
static bool attr_ok(const char *v, size_t max)
{
    size_t n = v ? strlen(v) : 0;

    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] <= 0x20 || v[i] == 0x7f)
            return false;
    return true;
}

static bool parse_count(const char *v, int64_t *out)
{
    size_t n = v ? strlen(v) : 0;

    if (n == 0 || n > USERS_DIGITS)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)v[i]))
            return false;
    *out = strtoll(v, NULL, 10);
    return true;
}

static bool is_hash(const char *v)
{
    if (v == NULL || strlen(v) != PEER_HASH_HEX)
        return false;
    for (size_t i = 0; i < PEER_HASH_HEX; i++)
        if (!isdigit((unsigned char)v[i]) && !(v[i] >= 'a' && v[i] <= 'f'))
            return false;
    return true;
}

static char *lower_dup(const char *s)
{
    char *l = xstrdup(s);

    for (char *p = l; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return l;
}

void peer_uri_hash(const char *uri, char out[PEER_HASH_HEX + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    char *l = lower_dup(uri);

    if (EVP_Digest(l, strlen(l), md, &len, EVP_sha256(), NULL) != 1)
        fatalx("peers: SHA-256 failed");
    free(l);
    for (size_t i = 0; i < PEER_HASH_HEX / 2; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* ---- parsing an answer page ---- */

void peer_page_clear(struct peer_page *p)
{
    if (p == NULL)
        return;
    free(p->version);
    free(p->default_domain);
    free(p->im_address_scheme);
    free(p->next);
    for (size_t i = 0; i < p->n_domains; i++)
        free(p->domains[i].name);
    free(p->domains);
    free(p->hashes);
    memset(p, 0, sizeof(*p));
}

static int page_domain(xmpp_stanza_t *el, struct peer_page *p, char **err)
{
    const char *name = xmpp_stanza_get_attribute(el, "name");
    const char *conf = xmpp_stanza_get_attribute(el, "configured");
    enum domain_rule rule = domain_rules_check(name, NULL);
    int64_t users = 0;

    if (p->n_domains == PEER_PAGE_DOMAINS) {
        *err = xasprintf("more than %d domains in one page", PEER_PAGE_DOMAINS);
        return -1;
    }
    if (rule != DOMAIN_OK) {
        *err = xasprintf("a domain name breaks the domain rules (%.64s%s): %s", name ? name : "",
                         name && strlen(name) > 64 ? "..." : "", domain_rules_explain(rule, "en"));
        return -1;
    }
    if (conf == NULL || (strcmp(conf, "true") != 0 && strcmp(conf, "false") != 0) ||
        !parse_count(xmpp_stanza_get_attribute(el, "users"), &users)) {
        *err = xasprintf("domain %s: 'configured' must be true or false and 'users' a count of "
                         "at most %d digits",
                         name, USERS_DIGITS);
        return -1;
    }
    p->domains = xrealloc(p->domains, (p->n_domains + 1) * sizeof(*p->domains));
    p->domains[p->n_domains++] =
        (struct peer_page_domain){xstrdup(name), strcmp(conf, "true") == 0, users};
    return 0;
}

static int page_hash(xmpp_stanza_t *el, struct peer_page *p, char **err)
{
    const char *h = xmpp_stanza_get_attribute(el, "hash");

    if (p->n_hashes == PEER_PAGE_URIS) {
        *err = xasprintf("more than %d directory URI hashes in one page", PEER_PAGE_URIS);
        return -1;
    }
    if (!is_hash(h)) {
        *err = xasprintf("a directory URI hash is not %d lower-case hex digits", PEER_HASH_HEX);
        return -1;
    }
    p->hashes = xrealloc(p->hashes, (p->n_hashes + 1) * sizeof(*p->hashes));
    memcpy(p->hashes[p->n_hashes++], h, PEER_HASH_HEX + 1);
    return 0;
}

static int page_children(xmpp_stanza_t *payload, struct peer_page *p, char **err)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(payload); c; c = xmpp_stanza_get_next(c)) {
        const char *name = xmpp_stanza_get_name(c);
        int rc;

        if (!xmpp_stanza_is_tag(c))
            continue;
        if (strcmp(name, "domain") == 0)
            rc = page_domain(c, p, err);
        else if (strcmp(name, "uri") == 0)
            rc = page_hash(c, p, err);
        else {
            *err = xasprintf("unexpected element <%.32s/> in the answer", name);
            rc = -1;
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int page_header(xmpp_stanza_t *payload, struct peer_page *p, char **err)
{
    const char *dd = xmpp_stanza_get_attribute(payload, "default-domain");
    const char *scheme = xmpp_stanza_get_attribute(payload, "scheme");
    const char *next = xmpp_stanza_get_attribute(payload, "next");
    enum store_im_scheme s;

    if (!attr_ok(dd, DOMAIN_NAME_MAX) ||
        (strcmp(dd, DOMAIN_PLACEHOLDER) != 0 && domain_rules_check(dd, NULL) != DOMAIN_OK)) {
        *err = xstrdup("the default domain is missing or breaks the domain rules");
        return -1;
    }
    if (scheme == NULL || store_im_scheme_parse(scheme, &s) < 0) {
        *err = xstrdup("the address scheme is neither userid@default nor directory-uri");
        return -1;
    }
    if (next != NULL && !attr_ok(next, PEER_ATTR_MAX)) {
        *err = xasprintf("the paging cursor is empty or longer than %d characters", PEER_ATTR_MAX);
        return -1;
    }
    p->default_domain = xstrdup(dd);
    p->im_address_scheme = xstrdup(scheme);
    p->next = next ? xstrdup(next) : NULL;
    p->uris_partial = xmpp_stanza_get_attribute(payload, "uris-partial") != NULL &&
                      strcmp(xmpp_stanza_get_attribute(payload, "uris-partial"), "true") == 0;
    return 0;
}

int peer_page_parse(xmpp_stanza_t *payload, struct peer_page *out, char **err)
{
    const char *name = payload ? xmpp_stanza_get_name(payload) : NULL;
    const char *ns = payload ? xmpp_stanza_get_ns(payload) : NULL;
    const char *version = payload ? xmpp_stanza_get_attribute(payload, "version") : NULL;
    const char *unchanged = payload ? xmpp_stanza_get_attribute(payload, "unchanged") : NULL;

    memset(out, 0, sizeof(*out));
    *err = NULL;
    if (name == NULL || ns == NULL || strcmp(name, "peer") != 0 || strcmp(ns, PEER_NS) != 0) {
        *err = xstrdup("the answer carries no <peer xmlns='" PEER_NS "'/> payload");
        return -1;
    }
    if (!attr_ok(version, VERSION_MAX)) {
        *err = xasprintf("the answer has no version marker of 1 to %d characters", VERSION_MAX);
        return -1;
    }
    out->version = xstrdup(version);
    out->unchanged = unchanged != NULL && strcmp(unchanged, "true") == 0;
    if (out->unchanged)
        return 0;
    if (page_header(payload, out, err) < 0 || page_children(payload, out, err) < 0) {
        peer_page_clear(out);
        return -1;
    }
    return 0;
}
