/* Intercluster peering: refreshing one peer: asking it page by page (doc/protocol.md), merging
 * the pages, and taking the whole answer in one transaction with the sync audit, or recording
 * why not. */
#include "component/engine/app_apply.h"
#include "component/engine/peer_internal.h"

#include "component/engine/peer_page.h"
#include "component/engine/peers_window.h"
#include "component/engine/sync.h"
#include "store/store_audit.h"
#include "store/store_domain.h"
#include "store/store_peer.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/dispatch.h"
#include "xmpp/stanza.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define URI_BATCH 1000 /* local directory URIs read per store call in the duplicate scan */

static xmpp_stanza_t *new_elem(struct app *app, const char *name, const char *ns)
{
    xmpp_stanza_t *e = xmpp_stanza_new(app->ctx);

    xmpp_stanza_set_name(e, name);
    if (ns)
        xmpp_stanza_set_ns(e, ns);
    return e;
}

/* ---- refreshing one peer ---- */

void peer_fetch_finish(struct fetch *f)
{
    struct fetch **pp = &f->ps->fetches;
    struct waiter *w = f->waiters;

    while (*pp && *pp != f)
        pp = &(*pp)->next;
    if (*pp)
        *pp = f->next;
    while (w) {
        struct waiter *next = w->next;
        if (w->fn)
            w->fn(w->arg);
        free(w);
        w = next;
    }
    peer_page_clear(&f->all);
    free(f->jid);
    free(f->known);
    free(f->version);
    free(f->cursor);
    free(f);
}

/* Records the audit's outcome like any other run: in the audit log when it changed something,
 * and the router told when the local domain set changed. */
static void audit_done(struct app *app, const char *jid, const char *why,
                       const struct sync_report *r)
{
    if (sync_report_changed(r)) {
        char *line = sync_report_summary_line(r);
        char *details = xasprintf("peer=%s %s %s", jid, why, line);
        app_audit(app, PEER_ACTOR, SYNC_NODE, STORE_OUTCOME_OK, details);
        free(details);
        free(line);
    }
    if (sync_report_local_changed(r))
        app_apply_domains(app, PEER_ACTOR, NULL, NULL);
}

/* True when the peer expired since its previous attempt: at that attempt its last good answer
 * still counted, now it does not. */
static bool newly_expired(struct app *app, const struct store_peer *p, int64_t now)
{
    return peers_expired(p->last_sync, peers_counted_since(app->cfg, now)) &&
           !peers_expired(p->last_sync, peers_counted_since(app->cfg, p->last_attempt));
}

/* Records the failure; when it finds the peer newly expired, the sync audit runs in the same
 * transaction (the peer's data stops counting now, not at the next nightly run). */
static void record_failure(struct app *app, const char *jid, const char *why)
{
    int64_t now = (int64_t)time(NULL);
    struct store_peer p;
    struct sync_report r = {0};
    bool audit = store_peer_get(app->store, jid, &p) == STORE_OK && newly_expired(app, &p, now);
    enum store_rc rc = store_begin(app->store);

    store_peer_clear(&p);
    if (rc == STORE_OK)
        rc = store_peer_mark_failed(app->store, jid, why, now);
    if (rc == STORE_OK && audit &&
        sync_run(app->store, peers_counted_since(app->cfg, now), &r, NULL) < 0)
        rc = STORE_ERR;
    if (rc == STORE_OK)
        rc = store_commit(app->store);
    if (rc != STORE_OK) {
        if (rc != STORE_NOTFOUND) /* else the peer was removed meanwhile: nothing to record */
            log_warnx("peers: cannot record the failure: %s", store_errmsg(app->store));
        if (store_in_transaction(app->store) && store_rollback(app->store) != STORE_OK)
            log_warnx("peers: rollback failed: %s", store_errmsg(app->store));
    } else if (audit) {
        log_info("peers: peer=%s expired: its data no longer counts", jid);
        audit_done(app, jid, "expired", &r);
    }
    sync_report_clear(&r);
}

static void fetch_fail(struct fetch *f, const char *why)
{
    struct app *app = f->ps->app;

    log_warnx("peers: refresh failed peer=%s reason=\"%s\"", f->jid, why);
    if (!store_in_transaction(app->store))
        record_failure(app, f->jid, why);
    peer_fetch_finish(f);
}

static void fetch_send(struct fetch *f);

/* Adds a page to what was gathered; checks the totals. */
static int merge_page(struct fetch *f, struct peer_page *p, char **err)
{
    struct peer_page *a = &f->all;

    if (a->n_domains + p->n_domains > PEER_MAX_DOMAINS) {
        *err = xasprintf("the peer sent more than %d domains", PEER_MAX_DOMAINS);
        return -1;
    }
    if (a->n_hashes + p->n_hashes > PEER_MAX_URIS) {
        *err = xasprintf("the peer sent more than %d directory URI hashes", PEER_MAX_URIS);
        return -1;
    }
    if (p->n_domains > 0) {
        a->domains = xrealloc(a->domains, (a->n_domains + p->n_domains) * sizeof(*a->domains));
        memcpy(a->domains + a->n_domains, p->domains, p->n_domains * sizeof(*p->domains));
        a->n_domains += p->n_domains;
        p->n_domains = 0; /* the names moved */
    }
    if (p->n_hashes > 0) {
        a->hashes = xrealloc(a->hashes, (a->n_hashes + p->n_hashes) * sizeof(*a->hashes));
        memcpy(a->hashes + a->n_hashes, p->hashes, p->n_hashes * sizeof(*p->hashes));
        a->n_hashes += p->n_hashes;
    }
    free(a->default_domain);
    free(a->im_address_scheme);
    a->default_domain = p->default_domain;
    a->im_address_scheme = p->im_address_scheme;
    p->default_domain = p->im_address_scheme = NULL;
    a->uris_partial = a->uris_partial || p->uris_partial;
    return 0;
}

static int cmp_hash(const void *a, const void *b)
{
    return memcmp(a, b, PEER_HASH_HEX);
}

/* Counts local directory URIs whose hash the peer sent (at most PEER_MAX_URIS local ones are
 * looked at: the work stays bounded); *example gets the first (malloc'd) or NULL. */
static enum store_rc count_duplicates(struct app *app, struct peer_page *a, int64_t *dups,
                                      char **example)
{
    int64_t after = 0, seen = 0;
    enum store_rc rc = STORE_OK;

    *dups = 0;
    *example = NULL;
    if (a->n_hashes == 0)
        return STORE_OK;
    qsort(a->hashes, a->n_hashes, sizeof(*a->hashes), cmp_hash);
    while (rc == STORE_OK && seen < PEER_MAX_URIS) {
        char **uris = NULL;
        size_t n = 0;
        rc = store_peer_local_uris(app->store, after, URI_BATCH, &uris, &n, &after);
        for (size_t i = 0; rc == STORE_OK && i < n; i++) {
            char h[PEER_HASH_HEX + 1];
            peer_uri_hash(uris[i], h);
            if (bsearch(h, a->hashes, a->n_hashes, sizeof(*a->hashes), cmp_hash) == NULL)
                continue;
            if ((*dups)++ == 0)
                *example = xstrdup(uris[i]);
        }
        store_peer_strings_free(uris, n);
        seen += (int64_t)n;
        if (n < URI_BATCH)
            break;
    }
    return rc;
}

static int cmp_domain(const void *a, const void *b)
{
    return strcasecmp(((const struct store_peer_domain *)a)->name,
                      ((const struct store_peer_domain *)b)->name);
}

/* The gathered domains as store rows, sorted; -1 with *err when a name comes twice. */
static struct store_peer_domain *store_rows(struct peer_page *a, char **err)
{
    struct store_peer_domain *v = xcalloc(a->n_domains + 1, sizeof(*v));

    for (size_t i = 0; i < a->n_domains; i++)
        v[i] = (struct store_peer_domain){a->domains[i].name, a->domains[i].name,
                                          a->domains[i].configured, a->domains[i].users};
    qsort(v, a->n_domains, sizeof(*v), cmp_domain);
    for (size_t i = 1; i < a->n_domains; i++) {
        if (strcasecmp(v[i - 1].name, v[i].name) == 0) {
            *err = xasprintf("the peer sent the domain %s twice", v[i].name);
            free(v);
            return NULL;
        }
    }
    return v;
}

/* Writes the answer and runs the sync audit in one transaction. */
static int take_answer(struct fetch *f, const struct store_peer_data *d, char **err)
{
    struct app *app = f->ps->app;
    struct sync_report r;
    enum store_rc rc = store_begin(app->store);

    if (rc == STORE_OK)
        rc = store_peer_replace(app->store, f->jid, d, (int64_t)time(NULL));
    if (rc == STORE_OK && sync_run(app->store, peers_counted_now(app), &r, NULL) < 0)
        rc = STORE_ERR;
    else if (rc == STORE_OK && (rc = store_commit(app->store)) != STORE_OK)
        sync_report_clear(&r);
    if (rc != STORE_OK) {
        *err = xasprintf("the answer was not taken (%s): %s",
                         rc == STORE_NOTFOUND ? "the peer was removed" : "store failure",
                         store_errmsg(app->store));
        if (store_in_transaction(app->store) && store_rollback(app->store) != STORE_OK)
            log_warnx("peers: rollback failed: %s", store_errmsg(app->store));
        return -1;
    }
    audit_done(app, f->jid, "answered", &r);
    sync_report_clear(&r);
    return 0;
}

static void fetch_commit(struct fetch *f)
{
    struct app *app = f->ps->app;
    struct peer_page *a = &f->all;
    char *err = NULL, *example = NULL;
    int64_t dups = 0;
    struct store_peer_domain *rows = store_rows(a, &err);

    if (rows != NULL && store_in_transaction(app->store))
        err = xstrdup("the store is busy with another change; the next refresh takes the answer");
    if (rows != NULL && err == NULL && count_duplicates(app, a, &dups, &example) != STORE_OK)
        err = xasprintf("the store failed: %s", store_errmsg(app->store));
    if (err == NULL) {
        struct store_peer_data d = {f->version,   a->default_domain,    a->im_address_scheme, rows,
                                    a->n_domains, (int64_t)a->n_hashes, a->uris_partial,      dups,
                                    example};
        if (take_answer(f, &d, &err) == 0)
            log_info("peers: refreshed peer=%s version=%s domains=%zu uri_hashes=%zu dups=%" PRId64,
                     f->jid, f->version, a->n_domains, a->n_hashes, dups);
    }
    free(rows);
    free(example);
    if (err) {
        fetch_fail(f, err);
        free(err);
        return;
    }
    peer_fetch_finish(f);
}

/* Starts over from the first page (the peer's data changed while we read it). */
static bool fetch_restart(struct fetch *f)
{
    if (++f->restarts > PEER_MAX_RESTARTS)
        return false;
    peer_page_clear(&f->all);
    free(f->cursor);
    f->cursor = NULL;
    free(f->version);
    f->version = NULL;
    free(f->known);
    f->known = NULL;
    f->pages = 0;
    fetch_send(f);
    return true;
}

static void fetch_unchanged(struct fetch *f)
{
    struct app *app = f->ps->app;

    if (f->known == NULL || f->cursor != NULL) {
        fetch_fail(f, "the peer answered 'unchanged' to a question it cannot be the answer to");
        return;
    }
    if (store_peer_mark_fresh(app->store, f->jid, (int64_t)time(NULL)) == STORE_ERR)
        log_warnx("peers: cannot record the refresh: %s", store_errmsg(app->store));
    log_debug("peers: peer=%s unchanged version=%s", f->jid, f->known);
    peer_fetch_finish(f);
}

/* One page arrived and parsed. */
static void fetch_page(struct fetch *f, struct peer_page *p)
{
    char *err = NULL;

    if (p->unchanged) {
        fetch_unchanged(f);
        return;
    }
    if (f->version != NULL && strcmp(f->version, p->version) != 0) {
        if (!fetch_restart(f))
            fetch_fail(f, "the peer's data kept changing while it was read; try again later");
        return;
    }
    if (f->version == NULL)
        f->version = xstrdup(p->version);
    if (++f->pages > PEER_MAX_PAGES || merge_page(f, p, &err) < 0) {
        if (err == NULL)
            err = xasprintf("the peer sent more than %d pages", PEER_MAX_PAGES);
        fetch_fail(f, err);
        free(err);
        return;
    }
    free(f->cursor);
    f->cursor = p->next ? xstrdup(p->next) : NULL;
    if (f->cursor)
        fetch_send(f);
    else
        fetch_commit(f);
}

static char *error_text(xmpp_stanza_t *reply)
{
    xmpp_stanza_t *e = xmpp_stanza_get_child_by_name(reply, "error");
    xmpp_stanza_t *cond = e ? stanza_first_element(e) : NULL;
    xmpp_stanza_t *text = e ? stanza_child(e, "text", NS_STANZAS) : NULL;
    char *t = text ? xmpp_stanza_get_text(text) : NULL;
    char *s = xasprintf("the peer answered with an error: %s%s%.200s",
                        cond ? xmpp_stanza_get_name(cond) : "unknown", t ? ": " : "", t ? t : "");

    if (t)
        xmpp_free(xmpp_stanza_get_context(reply), t);
    return s;
}

static void on_reply(void *ud, xmpp_stanza_t *reply)
{
    struct fetch *f = ud;
    const char *type = reply ? xmpp_stanza_get_type(reply) : NULL;
    struct peer_page p;
    char *err = NULL;

    if (f->ps->stopped || f->ps->app->stopping) {
        peer_fetch_finish(f); /* the daemon stops: nothing recorded */
        return;
    }
    if (reply == NULL) {
        err = xasprintf("no answer within %d s", f->ps->app->cfg->peer_timeout);
    } else if (type && strcmp(type, "error") == 0) {
        err = error_text(reply);
    } else if (peer_page_parse(stanza_first_element(reply), &p, &err) == 0) {
        fetch_page(f, &p);
        peer_page_clear(&p);
        return;
    }
    fetch_fail(f, err);
    free(err);
}

static void fetch_send(struct fetch *f)
{
    struct app *app = f->ps->app;
    xmpp_stanza_t *iq = xmpp_iq_new(app->ctx, "get", NULL);
    xmpp_stanza_t *q = new_elem(app, "peer", PEER_NS);
    int rc;

    xmpp_stanza_set_to(iq, f->jid);
    xmpp_stanza_set_from(iq, app->cfg->jid);
    if (f->known && f->cursor == NULL)
        xmpp_stanza_set_attribute(q, "known", f->known);
    if (f->cursor)
        xmpp_stanza_set_attribute(q, "after", f->cursor);
    xmpp_stanza_add_child_ex(iq, q, 0);
    rc = dispatch_send_iq(app->dispatch, iq, (unsigned)app->cfg->peer_timeout * 1000u, on_reply, f);
    xmpp_stanza_release(iq);
    if (rc < 0)
        fetch_fail(f, "the router link is down");
}

void peer_fetch_start(struct peers *ps, const char *jid, peers_done_fn fn, void *arg)
{
    struct waiter *w = xcalloc(1, sizeof(*w));
    struct store_peer sp;
    struct fetch *f;

    *w = (struct waiter){fn, arg, NULL};
    for (f = ps->fetches; f; f = f->next) {
        if (strcmp(f->jid, jid) == 0) { /* already on its way: wait for it */
            w->next = f->waiters;
            f->waiters = w;
            return;
        }
    }
    if (ps->stopped || ps->app->stopping) {
        /* Not the peer's failure: recording one would show the admin an error for a peer that
         * is fine (and might expire its data). Nothing is asked, nothing recorded, as for an
         * answer arriving while the daemon stops (on_reply); the caller is told it ended. */
        log_info("peers: refresh not started peer=%s reason=stopping", jid);
        free(w);
        if (fn)
            fn(arg);
        return;
    }
    f = xcalloc(1, sizeof(*f));
    f->ps = ps;
    f->jid = xstrdup(jid);
    f->waiters = w;
    f->next = ps->fetches;
    ps->fetches = f;
    /* An expired peer is asked for everything: its answer, even an unchanged one, must be
     * taken with the audit, which brings its data back into use. */
    if (store_peer_get(ps->app->store, jid, &sp) == STORE_OK && sp.last_sync > 0 && sp.version &&
        !peers_expired(sp.last_sync, peers_counted_now(ps->app)))
        f->known = xstrdup(sp.version);
    store_peer_clear(&sp);
    if (ps->app->dispatch == NULL)
        fetch_fail(f, "no router link to ask through");
    else
        fetch_send(f);
}
