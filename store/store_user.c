/* Users: provisioning upserts, lookups, paged lists and counts, and the rowid-ordered batch
 * step with which the default-domain job rewrites IM addresses. */

#include "store/store_user.h"
#include "store/store_impl.h"

#include "util/xmalloc.h"

#include <stdlib.h>
#include <string.h>

/* The user row as it is before an upsert. */
struct existing {
    int64_t id;
    char *userid;
    char *directory_uri;
    int64_t node_id; /* 0: unassigned */
};

/* The lower-cased part after the last '@' ("" when there is none), malloc'd. The domain is
 * what the sync audit counts, so "Alice@Example.COM" and "bob@example.com" share one. */
static char *uri_domain(const char *uri)
{
    const char *at = strrchr(uri, '@');
    char *out = xstrdup(at != NULL ? at + 1 : "");

    for (char *p = out; *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return out;
}

/* Resolves a node name to its id; NULL or "" gives 0 (unassigned). */
static enum store_rc node_id(struct store *st, const char *node, int64_t *id)
{
    return store_lookup_id(st, STMT_NODE_ID, "looking up node", node, id);
}

static enum store_rc find(struct store *st, const char *userid, struct existing *ex)
{
    sqlite3_stmt *s = store_stmt(st, STMT_USER_FIND, "t", userid);
    enum store_rc rc = store_row(st, s, "looking up user");

    memset(ex, 0, sizeof(*ex));
    if (rc != STORE_OK)
        return rc;
    ex->id = sqlite3_column_int64(s, 0);
    ex->userid = store_col_str(s, 1);
    ex->directory_uri = store_col_str(s, 2);
    ex->node_id = sqlite3_column_int64(s, 3);
    store_stmt_done(s);
    return STORE_OK;
}

static enum store_rc insert(struct store *st, const char *userid, const char *uri, int64_t node)
{
    char *domain = uri_domain(uri);
    sqlite3_stmt *s = store_stmt(st, STMT_USER_INSERT, "tttr", userid, uri, domain, node);
    enum store_rc rc = store_exec(st, s, "adding user", NULL);
    int64_t id = sqlite3_last_insert_rowid(st->db);

    free(domain);
    if (rc == STORE_OK)
        rc = store_user_counts_shift(st, id - 1, id, 1);
    if (rc == STORE_OK && uri[0] != '\0')
        rc = store_user_peers_stale(st);
    return rc;
}

static enum store_rc update(struct store *st, const struct existing *ex, const char *userid,
                            const char *uri, int64_t node, enum store_upsert *how)
{
    if (strcmp(ex->userid, userid) == 0 && strcmp(ex->directory_uri, uri) == 0 &&
        ex->node_id == node) {
        *how = STORE_UPSERT_UNCHANGED;
        return STORE_OK;
    }
    char *domain = uri_domain(uri);
    enum store_rc rc = store_user_counts_shift(st, ex->id - 1, ex->id, -1);
    if (rc == STORE_OK)
        rc = store_exec_one(
            st, store_stmt(st, STMT_USER_UPDATE, "itttr", ex->id, userid, uri, domain, node),
            "updating user");
    free(domain);
    if (rc == STORE_OK)
        rc = store_user_counts_shift(st, ex->id - 1, ex->id, 1);
    if (rc == STORE_OK && strcmp(ex->directory_uri, uri) != 0)
        rc = store_user_peers_stale(st);
    *how = STORE_UPSERT_UPDATED;
    return rc;
}

static enum store_rc upsert(struct store *st, const char *userid, const char *uri, const char *node,
                            enum store_upsert *how)
{
    struct existing ex;
    int64_t nid = 0;
    enum store_rc rc = node_id(st, node, &nid);

    if (rc != STORE_OK)
        return rc;
    rc = find(st, userid, &ex);
    if (rc == STORE_NOTFOUND) {
        *how = STORE_UPSERT_INSERTED;
        return insert(st, userid, uri != NULL ? uri : "", nid);
    }
    if (rc == STORE_OK)
        rc = update(st, &ex, userid, uri != NULL ? uri : ex.directory_uri,
                    node != NULL ? nid : ex.node_id, how);
    free(ex.userid);
    free(ex.directory_uri);
    return rc;
}

enum store_rc store_user_upsert(struct store *st, const char *userid, const char *directory_uri,
                                const char *node, enum store_upsert *how)
{
    enum store_upsert ignored;
    enum store_rc rc;

    if (store_opt(userid) == NULL)
        return store_fail_arg(st, "upserting user: empty userid");
    if ((rc = store_atomic_begin(st)) != STORE_OK)
        return rc;
    rc = upsert(st, userid, directory_uri, node, how != NULL ? how : &ignored);
    return store_atomic_end(st, rc);
}

static void read_user(sqlite3_stmt *s, void *elem)
{
    struct store_user *u = elem;

    u->id = sqlite3_column_int64(s, 0);
    u->userid = store_col_str(s, 1);
    u->directory_uri = store_col_str(s, 2);
    u->uri_domain = store_col_str(s, 3);
    u->im_address = store_col_str(s, 4);
    u->node = store_col_str_or_null(s, 5);
}

static void destroy_user(void *elem)
{
    store_user_clear(elem);
}

/* One user by `key` through statement `id` (STMT_USER_GET or STMT_USER_GET_BY_IM). */
static enum store_rc get_one(struct store *st, enum stmt_id id, const char *key,
                             struct store_user *out)
{
    sqlite3_stmt *s = store_stmt(st, id, "t", key);
    enum store_rc rc = store_row(st, s, "reading user");

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (rc != STORE_OK)
        return rc;
    if (out != NULL)
        read_user(s, out);
    store_stmt_done(s);
    return STORE_OK;
}

enum store_rc store_user_get(struct store *st, const char *userid, struct store_user *out)
{
    return get_one(st, STMT_USER_GET, userid, out);
}

enum store_rc store_user_get_by_im(struct store *st, const char *im_address, struct store_user *out)
{
    return get_one(st, STMT_USER_GET_BY_IM, im_address, out);
}

enum store_rc store_user_node_by_im(struct store *st, const char *im_address, char **node)
{
    sqlite3_stmt *s = store_stmt(st, STMT_USER_NODE_BY_IM, "t", im_address);
    enum store_rc rc = store_row(st, s, "looking up user");

    *node = NULL;
    if (rc != STORE_OK)
        return rc;
    *node = store_col_str_or_null(s, 0);
    store_stmt_done(s);
    return STORE_OK;
}

/* Statement `id` on one user by userid (?1; `value`, when not NULL, in ?2), with the user's
 * count taken out before and, unless it deleted the user, put back after; atomic. */
static enum store_rc change_counted(struct store *st, const char *userid, enum stmt_id id,
                                    const char *value, const char *what)
{
    bool deletes = id == STMT_USER_DELETE;
    struct existing ex;
    enum store_rc rc = store_atomic_begin(st);

    if (rc != STORE_OK)
        return rc;
    rc = find(st, userid, &ex);
    if (rc == STORE_OK)
        rc = store_user_counts_shift(st, ex.id - 1, ex.id, -1);
    if (rc == STORE_OK)
        rc = store_exec_one(st,
                            value ? store_stmt(st, id, "tt", userid, value)
                                  : store_stmt(st, id, "t", userid),
                            what);
    if (rc == STORE_OK && !deletes)
        rc = store_user_counts_shift(st, ex.id - 1, ex.id, 1);
    if (rc == STORE_OK && deletes && ex.directory_uri[0] != '\0')
        rc = store_user_peers_stale(st);
    free(ex.userid);
    free(ex.directory_uri);
    return store_atomic_end(st, rc);
}

enum store_rc store_user_delete(struct store *st, const char *userid)
{
    return change_counted(st, userid, STMT_USER_DELETE, NULL, "deleting user");
}

enum store_rc store_user_set_node(struct store *st, const char *userid, const char *node)
{
    int64_t nid = 0;
    enum store_rc rc = node_id(st, node, &nid);

    if (rc != STORE_OK)
        return rc;
    return store_exec_one(st, store_stmt(st, STMT_USER_SET_NODE, "tr", userid, nid),
                          "assigning user");
}

enum store_rc store_user_set_im_address(struct store *st, const char *userid,
                                        const char *im_address)
{
    return change_counted(st, userid, STMT_USER_SET_IM, im_address, "setting IM address");
}

enum store_rc store_user_list(struct store *st, const char *filter, const char *after,
                              int64_t limit, struct store_user **out, size_t *n)
{
    char *like = store_like_pattern(filter);
    sqlite3_stmt *s =
        store_stmt(st, STMT_USER_LIST, "tit", like, store_limit(limit), after ? after : "");

    free(like); /* bound as a copy */
    return store_collect(st, s, "listing users", sizeof(**out), read_user, destroy_user,
                         (void **)out, n);
}

enum store_rc store_user_list_after(struct store *st, int64_t after_id, int64_t limit,
                                    struct store_user **out, size_t *n)
{
    sqlite3_stmt *s = store_stmt(st, STMT_USER_LIST_AFTER, "ii", after_id, store_limit(limit));

    return store_collect(st, s, "listing users", sizeof(**out), read_user, destroy_user,
                         (void **)out, n);
}

enum store_rc store_user_count(struct store *st, const char *filter, int64_t *count)
{
    char *like = store_like_pattern(filter);
    sqlite3_stmt *s =
        like ? store_stmt(st, STMT_USER_COUNT, "t", like) : store_stmt(st, STMT_USER_COUNT_ALL, "");

    free(like); /* bound as a copy */
    return store_scalar(st, s, "counting users", count);
}

static void read_node_users(sqlite3_stmt *s, void *elem)
{
    struct store_node_users *nu = elem;

    nu->node = store_col_str(s, 0);
    nu->users = sqlite3_column_int64(s, 1);
}

static void destroy_node_users(void *elem)
{
    free(((struct store_node_users *)elem)->node);
}

enum store_rc store_user_count_per_node(struct store *st, struct store_node_users **out, size_t *n)
{
    sqlite3_stmt *s = store_stmt(st, STMT_USER_COUNT_PER_NODE, "");
    return store_collect(st, s, "counting users per node", sizeof(**out), read_node_users,
                         destroy_node_users, (void **)out, n);
}

/* Finds the end of the next batch: *last is the highest rowid among the next `limit` users. */
static enum store_rc batch_end(struct store *st, int64_t after, int64_t limit, int64_t *last,
                               int64_t *n)
{
    sqlite3_stmt *s = store_stmt(st, STMT_USER_BATCH_END, "ii", after, limit);
    enum store_rc rc = store_row(st, s, "finding the next batch");

    if (rc == STORE_NOTFOUND)
        return store_fail_arg(st, "finding the next batch: no result row");
    if (rc != STORE_OK)
        return rc;
    *n = sqlite3_column_int64(s, 1);
    *last = *n > 0 ? sqlite3_column_int64(s, 0) : after;
    store_stmt_done(s);
    return STORE_OK;
}

/* One batch of an IM address rewrite: finds the next `limit` users after `after_rowid` and runs
 * the rewrite statement `id` over that rowid range, atomically. */
static enum store_rc rewrite_batch(struct store *st, enum stmt_id id, const char *scheme,
                                   const char *domain, int64_t after_rowid, int64_t limit,
                                   int64_t *last_rowid, int64_t *n)
{
    enum store_rc rc;

    *last_rowid = after_rowid;
    *n = 0;
    if (store_opt(domain) == NULL || limit < 1 || limit > STORE_USER_BATCH_MAX)
        return store_fail_arg(st, "rewriting IM addresses");
    if ((rc = store_atomic_begin(st)) != STORE_OK)
        return rc;
    rc = batch_end(st, after_rowid, limit, last_rowid, n);
    if (rc == STORE_OK && *n > 0)
        rc = store_user_counts_shift(st, after_rowid, *last_rowid, -1);
    if (rc == STORE_OK && *n > 0) {
        sqlite3_stmt *s = id == STMT_USER_BATCH_DERIVE
                              ? store_stmt(st, id, "iitt", after_rowid, *last_rowid, scheme, domain)
                              : store_stmt(st, id, "iit", after_rowid, *last_rowid, domain);
        rc = store_exec(st, s, "rewriting IM addresses", NULL);
    }
    if (rc == STORE_OK && *n > 0)
        rc = store_user_counts_shift(st, after_rowid, *last_rowid, 1);
    rc = store_atomic_end(st, rc);
    if (rc != STORE_OK) {
        *last_rowid = after_rowid;
        *n = 0;
    }
    return rc;
}

enum store_rc store_users_rewrite_im_batch(struct store *st, const char *domain,
                                           int64_t after_rowid, int64_t limit, int64_t *last_rowid,
                                           int64_t *n)
{
    return rewrite_batch(st, STMT_USER_BATCH_REWRITE, NULL, domain, after_rowid, limit, last_rowid,
                         n);
}

enum store_rc store_users_derive_im_batch(struct store *st, enum store_im_scheme scheme,
                                          const char *domain, int64_t after_rowid, int64_t limit,
                                          int64_t *last_rowid, int64_t *n)
{
    return rewrite_batch(st, STMT_USER_BATCH_DERIVE, store_im_scheme_name(scheme), domain,
                         after_rowid, limit, last_rowid, n);
}

void store_user_clear(struct store_user *u)
{
    if (u == NULL)
        return;
    free(u->userid);
    free(u->directory_uri);
    free(u->uri_domain);
    free(u->im_address);
    free(u->node);
    memset(u, 0, sizeof(*u));
}

void store_user_list_free(struct store_user *list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        store_user_clear(&list[i]);
    free(list);
}

void store_node_users_free(struct store_node_users *list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        destroy_node_users(&list[i]);
    free(list);
}

enum store_rc store_user_count_im_domain(struct store *st, const char *domain, int64_t *count)
{
    /* The counter the im_domain_users triggers keep (store_schema.c): one key lookup, where
     * counting the addresses that end in "@domain" walked the whole users table. */
    static const char sql[] =
        "SELECT coalesce((SELECT users FROM im_domain_users WHERE domain = lower(?1)), 0)";
    sqlite3_stmt *s = NULL;
    int prc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    enum store_rc rc;

    *count = 0;
    if (prc == SQLITE_OK)
        prc = sqlite3_bind_text(s, 1, domain, -1, SQLITE_TRANSIENT);
    if (prc != SQLITE_OK) {
        sqlite3_finalize(s);
        return store_fail(st, prc, "preparing the IM address count");
    }
    rc = store_scalar(st, s, "counting IM addresses in a domain", count);
    sqlite3_finalize(s);
    return rc;
}
