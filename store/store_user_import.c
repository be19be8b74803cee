/* users/import's fast path: one upsert statement a line inside the caller's transaction. What
 * happened is read from sqlite itself instead of from a second query: no change means the line
 * was identical (the upsert's WHERE held it back), a rowid set means an insert, else an update.
 * New users are counted per IM address domain once per transaction (a batch, store_impl.h). */
#include "store/store_user.h"
#include "store/store_impl.h"

#include "util/xmalloc.h"

#include <stdlib.h>
#include <string.h>

/* The lower-cased part after the last '@' ("" when there is none), in `out` (`cap` bytes);
 * what the sync audit counts, as in store_user.c. NULL when it does not fit. */
static const char *uri_domain(const char *uri, char *out, size_t cap)
{
    const char *at = strrchr(uri, '@');
    const char *d = at != NULL ? at + 1 : "";
    size_t n = strlen(d);

    if (n >= cap)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        out[i] = (char)(d[i] >= 'A' && d[i] <= 'Z' ? d[i] - 'A' + 'a' : d[i]);
    return out;
}

/* An updated user under the directory-uri scheme takes its new URI as IM address; the count
 * moves from the old address's domain unless the user is new in this batch (counted at its
 * end). The one read of a row, and only for this case. */
static enum store_rc follow_uri(struct store *st, const char *userid, const char *uri)
{
    sqlite3_stmt *s = store_stmt(st, STMT_USER_ID_IM, "t", userid);
    enum store_rc rc = store_row(st, s, "reading an updated user");
    int64_t id;
    char *old;

    if (rc != STORE_OK)
        return rc;
    id = sqlite3_column_int64(s, 0);
    old = store_col_str(s, 1);
    store_stmt_done(s);
    if (strcmp(old, uri) != 0) {
        if (!st->batch.open || id <= st->batch.first) {
            rc = store_user_counts_add(st, old, -1);
            if (rc == STORE_OK)
                rc = store_user_counts_add(st, uri, 1);
        }
        if (rc == STORE_OK)
            rc = store_exec_one(st, store_stmt(st, STMT_USER_SET_IM_BY_ID, "it", id, uri),
                                "setting IM address");
    }
    free(old);
    return rc;
}

enum store_rc store_user_import_row(struct store *st, const struct store_settings *set,
                                    const char *userid, const char *directory_uri, int64_t node_id,
                                    bool keep_node, enum store_upsert *how)
{
    bool by_uri = set->im_address_scheme == STORE_SCHEME_DIRECTORY_URI;
    char *im;
    char domain[1024];
    const char *uri = directory_uri != NULL ? directory_uri : "";
    const char *d = uri_domain(uri, domain, sizeof(domain));
    char *long_domain = NULL;
    int64_t changes = 0;
    enum store_upsert what;
    enum store_rc rc;

    if (store_opt(userid) == NULL)
        return store_fail_arg(st, "importing user: empty userid");
    if ((rc = store_user_batch_start(st)) != STORE_OK)
        return rc;
    if (d == NULL) { /* longer than any valid domain; still stored as given */
        const char *at = strrchr(uri, '@');
        long_domain = strdup(at ? at + 1 : "");
        for (char *p = long_domain; p && *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        d = long_domain ? long_domain : "";
    }
    im = by_uri && uri[0] != '\0' ? xstrdup(uri) : xasprintf("%s@%s", userid, set->default_domain);
    /* An UPDATE leaves the last rowid alone and a user's rowid is never 0: zero it first, and
     * a rowid afterwards means an insert (comparing with the value before would not do: an
     * insert into another table may have left the same number). */
    sqlite3_set_last_insert_rowid(st->db, 0);
    sqlite3_stmt *s = store_stmt(st, STMT_USER_IMPORT_UPSERT, "tttrit", userid, uri, d, node_id,
                                 (int64_t)(keep_node ? 1 : 0), im);
    rc = store_exec(st, s, "importing user", &changes);
    free(im);
    free(long_domain);
    if (rc != STORE_OK)
        return rc;
    what = changes == 0                             ? STORE_UPSERT_UNCHANGED
           : sqlite3_last_insert_rowid(st->db) != 0 ? STORE_UPSERT_INSERTED
                                                    : STORE_UPSERT_UPDATED;
    /* What peers cached of our users may be stale: a new user with a URI, or a changed one
     * (the URI may be what changed; telling would cost a read). Once per batch. */
    if (what == STORE_UPSERT_UPDATED || (what == STORE_UPSERT_INSERTED && uri[0] != '\0'))
        rc = store_user_peers_stale(st);
    if (rc == STORE_OK && what == STORE_UPSERT_UPDATED && by_uri && uri[0] != '\0')
        rc = follow_uri(st, userid, uri);
    if (rc == STORE_OK && how != NULL)
        *how = what;
    return rc;
}

enum store_rc store_user_node_id(struct store *st, const char *name, int64_t *id)
{
    return store_lookup_id(st, STMT_NODE_ID, "looking up node", name, id);
}
