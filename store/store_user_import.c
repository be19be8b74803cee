/* users/import's fast path: one upsert statement a line inside the caller's transaction. What
 * happened is read from sqlite itself instead of from a second query: no change means the line
 * was identical (the upsert's WHERE held it back), a rowid set means an insert, else an update. */
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

    if (store_opt(userid) == NULL)
        return store_fail_arg(st, "importing user: empty userid");
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
    sqlite3_stmt *s = store_stmt(st, STMT_USER_IMPORT_UPSERT, "tttriti", userid, uri, d, node_id,
                                 (int64_t)(keep_node ? 1 : 0), im, (int64_t)(by_uri ? 1 : 0));
    enum store_rc rc = store_exec(st, s, "importing user", &changes);

    free(im);
    free(long_domain);
    if (rc == STORE_OK && how != NULL)
        *how = changes == 0                             ? STORE_UPSERT_UNCHANGED
               : sqlite3_last_insert_rowid(st->db) != 0 ? STORE_UPSERT_INSERTED
                                                        : STORE_UPSERT_UPDATED;
    return rc;
}

enum store_rc store_user_node_id(struct store *st, const char *name, int64_t *id)
{
    return store_lookup_id(st, STMT_NODE_ID, "looking up node", name, id);
}
