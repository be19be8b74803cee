/* Intercluster peers: the peers and peer_domains tables and the peer_state marker. Statements
 * are prepared per call: peer work is a few calls per refresh, far from any hot path. */

#include "store/store_peer.h"
#include "store/store_impl.h"

#include "util/xmalloc.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Runs a statement without rows and finalizes it. */
static enum store_rc run(struct store *st, sqlite3_stmt *s, const char *what, bool one)
{
    enum store_rc rc;

    if (s == NULL)
        return STORE_ERR;
    rc = one ? store_exec_one(st, s, what) : store_exec(st, s, what, NULL);
    sqlite3_finalize(s);
    return rc;
}

static char *lower_dup(const char *s)
{
    char *l = xstrdup(s);

    for (char *p = l; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return l;
}

enum store_rc store_peer_add(struct store *st, const char *jid, bool from_config)
{
    char *l = lower_dup(jid);
    sqlite3_stmt *s = store_prepare_bound(st, "preparing a peer statement",
                                          "INSERT INTO peers (jid, from_config, added_at)"
                                          " VALUES (?1, ?2, strftime('%s', 'now'))",
                                          "ti", l, (int64_t)from_config);

    free(l);
    return run(st, s, "adding a peer", false);
}

enum store_rc store_peer_remove(struct store *st, const char *jid)
{
    return run(st,
               store_prepare_bound(st, "preparing a peer statement",
                                   "DELETE FROM peers WHERE jid = ?1", "t", jid),
               "removing a peer", true);
}

enum store_rc store_peer_sync_config(struct store *st, char *const *jids, size_t n)
{
    enum store_rc rc = store_atomic_begin(st);

    if (rc == STORE_OK)
        rc = run(st,
                 store_prepare_bound(st, "preparing a peer statement",
                                     "UPDATE peers SET from_config = 0", ""),
                 "unmarking peers", false);
    for (size_t i = 0; rc == STORE_OK && i < n; i++) {
        rc = store_peer_add(st, jids[i], true);
        if (rc == STORE_CONFLICT)
            rc = run(st,
                     store_prepare_bound(st, "preparing a peer statement",
                                         "UPDATE peers SET from_config = 1 WHERE jid = ?1", "t",
                                         jids[i]),
                     "marking a configured peer", false);
    }
    return store_atomic_end(st, rc);
}

#define PEER_COLS                                                                                  \
    "p.id, p.jid, p.from_config, p.added_at, coalesce(p.last_attempt, 0),"                         \
    " coalesce(p.last_sync, 0), p.last_error, p.version, p.default_domain, p.im_address_scheme,"   \
    " (SELECT count(*) FROM peer_domains d WHERE d.peer_id = p.id),"                               \
    " (SELECT coalesce(sum(users), 0) FROM peer_domains d WHERE d.peer_id = p.id),"                \
    " p.uri_hashes, p.uris_partial, p.dup_uris, p.dup_example"

static void read_peer(sqlite3_stmt *s, void *elem)
{
    struct store_peer *p = elem;

    p->id = sqlite3_column_int64(s, 0);
    p->jid = store_col_str(s, 1);
    p->from_config = sqlite3_column_int(s, 2) != 0;
    p->added_at = sqlite3_column_int64(s, 3);
    p->last_attempt = sqlite3_column_int64(s, 4);
    p->last_sync = sqlite3_column_int64(s, 5);
    p->last_error = store_col_str_or_null(s, 6);
    p->version = store_col_str_or_null(s, 7);
    p->default_domain = store_col_str_or_null(s, 8);
    p->im_address_scheme = store_col_str_or_null(s, 9);
    p->domains = sqlite3_column_int64(s, 10);
    p->users = sqlite3_column_int64(s, 11);
    p->uri_hashes = sqlite3_column_int64(s, 12);
    p->uris_partial = sqlite3_column_int(s, 13) != 0;
    p->dup_uris = sqlite3_column_int64(s, 14);
    p->dup_example = store_col_str_or_null(s, 15);
}

static void destroy_peer(void *elem)
{
    store_peer_clear(elem);
}

/* Collects the rows of `s` (may be NULL) and finalizes it. */
static enum store_rc collect(struct store *st, sqlite3_stmt *s, const char *what, size_t elem,
                             void (*read)(sqlite3_stmt *, void *), void (*destroy)(void *),
                             void **out, size_t *n)
{
    enum store_rc rc;

    *out = NULL;
    *n = 0;
    if (s == NULL)
        return STORE_ERR;
    rc = store_collect(st, s, what, elem, read, destroy, out, n);
    sqlite3_finalize(s);
    return rc;
}

enum store_rc store_peer_get(struct store *st, const char *jid, struct store_peer *out)
{
    sqlite3_stmt *s =
        store_prepare_bound(st, "preparing a peer statement",
                            "SELECT " PEER_COLS " FROM peers p WHERE p.jid = ?1", "t", jid);
    struct store_peer *list = NULL;
    size_t n = 0;
    enum store_rc rc = collect(st, s, "reading a peer", sizeof(*list), read_peer, destroy_peer,
                               (void **)&list, &n);

    memset(out, 0, sizeof(*out));
    if (rc == STORE_OK && n == 0)
        rc = STORE_NOTFOUND;
    if (rc == STORE_OK) {
        *out = list[0];
        free(list);
        return STORE_OK;
    }
    store_peer_list_free(list, n);
    return rc;
}

enum store_rc store_peer_list(struct store *st, struct store_peer **out, size_t *n)
{
    sqlite3_stmt *s = store_prepare_bound(st, "preparing a peer statement",
                                          "SELECT " PEER_COLS " FROM peers p ORDER BY p.jid", "");
    return collect(st, s, "listing peers", sizeof(**out), read_peer, destroy_peer, (void **)out, n);
}

static void read_domain(sqlite3_stmt *s, void *elem)
{
    struct store_peer_domain *d = elem;

    d->name = store_col_str(s, 0);
    d->sent_name = store_col_str(s, 1);
    d->configured = sqlite3_column_int(s, 2) != 0;
    d->users = sqlite3_column_int64(s, 3);
}

static void destroy_domain(void *elem)
{
    struct store_peer_domain *d = elem;

    free(d->name);
    free(d->sent_name);
}

enum store_rc store_peer_domains(struct store *st, const char *jid, struct store_peer_domain **out,
                                 size_t *n)
{
    sqlite3_stmt *s = store_prepare_bound(
        st, "preparing a peer statement",
        "SELECT d.domain, d.sent_name, d.configured, d.users FROM peer_domains d"
        " JOIN peers p ON p.id = d.peer_id WHERE p.jid = ?1 ORDER BY d.domain",
        "t", jid);
    return collect(st, s, "listing a peer's domains", sizeof(**out), read_domain, destroy_domain,
                   (void **)out, n);
}

/* peer_domains rows of the peers that count: last good answer at or after ?1. */
#define COUNTED_DOMAINS "peer_domains pd JOIN peers p ON p.id = pd.peer_id AND p.last_sync >= ?1"

enum store_rc store_peer_configures(struct store *st, const char *name, int64_t peer_since,
                                    bool *out)
{
    char *l = lower_dup(name);
    sqlite3_stmt *s = store_prepare_bound(st, "preparing a peer statement",
                                          "SELECT EXISTS (SELECT 1 FROM " COUNTED_DOMAINS
                                          " WHERE pd.domain = ?2 AND pd.configured)",
                                          "it", peer_since, l);
    int64_t v = 0;
    enum store_rc rc = s ? store_scalar(st, s, "reading peer configuration", &v) : STORE_ERR;

    free(l);
    sqlite3_finalize(s);
    *out = v != 0;
    return rc;
}

static void read_total(sqlite3_stmt *s, void *elem)
{
    struct store_peer_total *t = elem;

    t->name = store_col_str(s, 0);
    t->configured_by = sqlite3_column_int64(s, 1);
    t->users = sqlite3_column_int64(s, 2);
}

static void destroy_total(void *elem)
{
    free(((struct store_peer_total *)elem)->name);
}

enum store_rc store_peer_totals(struct store *st, int64_t peer_since, struct store_peer_total **out,
                                size_t *n)
{
    sqlite3_stmt *s = store_prepare_bound(
        st, "preparing a peer statement",
        "SELECT pd.domain, sum(pd.configured), sum(pd.users) FROM " COUNTED_DOMAINS
        " GROUP BY pd.domain ORDER BY pd.domain",
        "i", peer_since);
    return collect(st, s, "totalling peer domains", sizeof(**out), read_total, destroy_total,
                   (void **)out, n);
}

static enum store_rc insert_domains(struct store *st, int64_t peer_id,
                                    const struct store_peer_domain *v, size_t n)
{
    sqlite3_stmt *s = store_prepare_bound(
        st, "preparing a peer statement",
        "INSERT INTO peer_domains (peer_id, domain, sent_name, configured, users)"
        " VALUES (?1, ?2, ?3, ?4, ?5)",
        "");
    enum store_rc rc = s ? STORE_OK : STORE_ERR;

    /* store_exec() clears the bindings after each row: every value is bound again. */
    for (size_t i = 0; rc == STORE_OK && i < n; i++) {
        char *l = lower_dup(v[i].name);
        int brc = sqlite3_bind_int64(s, 1, peer_id);
        if (brc == SQLITE_OK)
            brc = sqlite3_bind_text(s, 2, l, -1, SQLITE_TRANSIENT);
        if (brc == SQLITE_OK)
            brc = sqlite3_bind_text(s, 3, v[i].sent_name ? v[i].sent_name : v[i].name, -1,
                                    SQLITE_TRANSIENT);
        if (brc == SQLITE_OK)
            brc = sqlite3_bind_int(s, 4, v[i].configured);
        if (brc == SQLITE_OK)
            brc = sqlite3_bind_int64(s, 5, v[i].users);
        free(l);
        rc = brc == SQLITE_OK ? store_exec(st, s, "adding a peer domain", NULL)
                              : store_fail(st, brc, "binding a peer domain");
    }
    sqlite3_finalize(s);
    return rc;
}

static enum store_rc peer_id(struct store *st, const char *jid, int64_t *id)
{
    sqlite3_stmt *s = store_prepare_bound(st, "preparing a peer statement",
                                          "SELECT id FROM peers WHERE jid = ?1", "t", jid);
    enum store_rc rc = s ? store_row(st, s, "finding a peer") : STORE_ERR;

    if (rc == STORE_OK) {
        *id = sqlite3_column_int64(s, 0);
        store_stmt_done(s);
    }
    sqlite3_finalize(s);
    return rc;
}

static enum store_rc write_answer(struct store *st, int64_t id, const struct store_peer_data *d,
                                  int64_t now)
{
    sqlite3_stmt *s = store_prepare_bound(
        st, "preparing a peer statement",
        "UPDATE peers SET last_attempt = ?2, last_sync = ?2, last_error = NULL,"
        " version = ?3, default_domain = ?4, im_address_scheme = ?5,"
        " uri_hashes = ?6, uris_partial = ?7, dup_uris = ?8, dup_example = ?9"
        " WHERE id = ?1",
        "iitttiiit", id, now, d->version, d->default_domain, d->im_address_scheme, d->uri_hashes,
        (int64_t)d->uris_partial, d->dup_uris, d->dup_example);
    enum store_rc rc = run(st, s, "recording a peer's answer", true);

    if (rc == STORE_OK)
        rc = run(st,
                 store_prepare_bound(st, "preparing a peer statement",
                                     "UPDATE peer_state SET peering_seen = 1", ""),
                 "marking peering", false);
    return rc;
}

enum store_rc store_peer_replace(struct store *st, const char *jid, const struct store_peer_data *d,
                                 int64_t now)
{
    int64_t id = 0;
    enum store_rc rc = store_atomic_begin(st);

    if (rc == STORE_OK)
        rc = peer_id(st, jid, &id);
    if (rc == STORE_OK)
        rc = run(st,
                 store_prepare_bound(st, "preparing a peer statement",
                                     "DELETE FROM peer_domains WHERE peer_id = ?1", "i", id),
                 "dropping a peer's old domains", false);
    if (rc == STORE_OK)
        rc = insert_domains(st, id, d->domains, d->n_domains);
    if (rc == STORE_OK)
        rc = write_answer(st, id, d, now);
    if (rc == STORE_CONFLICT) /* a CHECK refused a value the peer sent */
        rc = STORE_ERR;
    return store_atomic_end(st, rc);
}

enum store_rc store_peer_mark_fresh(struct store *st, const char *jid, int64_t now)
{
    sqlite3_stmt *s =
        store_prepare_bound(st, "preparing a peer statement",
                            "UPDATE peers SET last_attempt = ?2, last_sync = ?2, last_error = NULL"
                            " WHERE jid = ?1",
                            "ti", jid, now);
    return run(st, s, "marking a peer fresh", true);
}

enum store_rc store_peer_mark_failed(struct store *st, const char *jid, const char *error,
                                     int64_t now)
{
    sqlite3_stmt *s =
        store_prepare_bound(st, "preparing a peer statement",
                            "UPDATE peers SET last_attempt = ?2, last_error = ?3 WHERE jid = ?1",
                            "tit", jid, now, error);
    return run(st, s, "recording a peer's failure", true);
}

enum store_rc store_peer_authoritative(struct store *st, bool *out)
{
    sqlite3_stmt *s =
        store_prepare_bound(st, "preparing a peer statement",
                            "SELECT peering_seen AND NOT EXISTS"
                            " (SELECT 1 FROM peers WHERE last_sync IS NULL) FROM peer_state",
                            "");
    int64_t v = 0;
    enum store_rc rc = s ? store_scalar(st, s, "reading the peer state", &v) : STORE_ERR;

    sqlite3_finalize(s);
    *out = v != 0;
    return rc;
}

enum store_rc store_peer_own_version(struct store *st, char **out)
{
    sqlite3_stmt *s = store_prepare_bound(st, "preparing a peer statement",
                                          "SELECT epoch || '-' || version FROM peer_state", "");
    enum store_rc rc = s ? store_row(st, s, "reading the data version") : STORE_ERR;

    *out = NULL;
    if (rc == STORE_OK) {
        *out = store_col_str(s, 0);
        store_stmt_done(s);
    }
    sqlite3_finalize(s);
    return rc;
}

enum store_rc store_peer_local_uris(struct store *st, int64_t after_id, int64_t limit, char ***out,
                                    size_t *n, int64_t *last_id)
{
    sqlite3_stmt *s =
        store_prepare_bound(st, "preparing a peer statement",
                            "SELECT id, lower(directory_uri) FROM users"
                            " WHERE id > ?1 AND directory_uri > '' ORDER BY id LIMIT ?2",
                            "ii", after_id, store_limit(limit));
    int rc = SQLITE_ERROR;
    char **v = NULL;
    size_t k = 0;
    int64_t last = 0;

    *out = NULL;
    *n = 0;
    if (s == NULL)
        return STORE_ERR;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        v = xrealloc(v, (k + 1) * sizeof(*v));
        v[k++] = store_col_str(s, 1);
        last = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        /* The rows read so far are dropped, so the cursor stays: a caller that tries again
         * from *last_id must not resume after rows it never received. */
        store_peer_strings_free(v, k);
        return store_fail(st, rc, "reading directory URIs");
    }
    if (k > 0)
        *last_id = last;
    *out = v;
    *n = k;
    return STORE_OK;
}

void store_peer_clear(struct store_peer *p)
{
    if (p == NULL)
        return;
    free(p->jid);
    free(p->last_error);
    free(p->version);
    free(p->default_domain);
    free(p->im_address_scheme);
    free(p->dup_example);
    memset(p, 0, sizeof(*p));
}

void store_peer_list_free(struct store_peer *list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        store_peer_clear(&list[i]);
    free(list);
}

void store_peer_domains_free(struct store_peer_domain *list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        destroy_domain(&list[i]);
    free(list);
}

void store_peer_totals_free(struct store_peer_total *list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        destroy_total(&list[i]);
    free(list);
}

void store_peer_strings_free(char **v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        free(v[i]);
    free(v);
}
