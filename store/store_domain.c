/* IM address domains: rows of the domains table, and per-domain user counts taken from the
 * indexed lower-case domain part of each user's directory URI. */

#include "store/store_domain.h"
#include "store/store_impl.h"

#include "util/xmalloc.h"

#include <stdlib.h>
#include <string.h>

static const char *const managed_names[] = {
    [STORE_MANAGED_ADMIN] = "admin",
    [STORE_MANAGED_SYSTEM] = "system",
};

#define N_MANAGED (sizeof(managed_names) / sizeof(managed_names[0]))

const char *store_managed_by_name(enum store_managed_by managed_by)
{
    return (size_t)managed_by < N_MANAGED ? managed_names[managed_by] : "unknown";
}

int store_managed_by_parse(const char *name, enum store_managed_by *out)
{
    int i = store_name_index(managed_names, N_MANAGED, name);
    if (i < 0)
        return -1;
    *out = (enum store_managed_by)i;
    return 0;
}

static void read_domain(sqlite3_stmt *s, void *elem)
{
    struct store_domain *d = elem;

    d->id = sqlite3_column_int64(s, 0);
    d->name = store_col_str(s, 1);
    if (store_managed_by_parse((const char *)sqlite3_column_text(s, 2), &d->managed_by) == -1)
        d->managed_by = STORE_MANAGED_ADMIN; /* unreachable: the schema checks the value */
    d->configured_local = sqlite3_column_int(s, 3) != 0;
    d->created_at = sqlite3_column_int64(s, 4);
    d->updated_at = sqlite3_column_int64(s, 5);
    d->local_users = sqlite3_column_int64(s, 6);
}

static void destroy_domain(void *elem)
{
    store_domain_clear(elem);
}

enum store_rc store_domain_insert(struct store *st, const char *name,
                                  enum store_managed_by managed_by, bool configured_local)
{
    sqlite3_stmt *s = store_stmt(st, STMT_DOMAIN_INSERT, "ttb", name,
                                 store_managed_by_name(managed_by), (int)configured_local);
    return store_exec(st, s, "adding domain", NULL);
}

enum store_rc store_domain_get(struct store *st, const char *name, struct store_domain *out)
{
    sqlite3_stmt *s = store_stmt(st, STMT_DOMAIN_GET, "t", name);
    enum store_rc rc = store_row(st, s, "reading domain");

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (rc != STORE_OK)
        return rc;
    if (out != NULL)
        read_domain(s, out);
    store_stmt_done(s);
    return STORE_OK;
}

enum store_rc store_domain_exists(struct store *st, const char *name)
{
    return store_domain_get(st, name, NULL);
}

enum store_rc store_domain_rename(struct store *st, const char *from, const char *to)
{
    sqlite3_stmt *s = store_stmt(st, STMT_DOMAIN_RENAME, "tt", from, to);
    return store_exec_one(st, s, "renaming domain");
}

enum store_rc store_domain_delete(struct store *st, const char *name)
{
    return store_exec_one(st, store_stmt(st, STMT_DOMAIN_DELETE, "t", name), "deleting domain");
}

enum store_rc store_domain_set_managed_by(struct store *st, const char *name,
                                          enum store_managed_by managed_by)
{
    sqlite3_stmt *s =
        store_stmt(st, STMT_DOMAIN_SET_MANAGED_BY, "tt", name, store_managed_by_name(managed_by));
    return store_exec_one(st, s, "setting managed_by");
}

enum store_rc store_domain_set_local(struct store *st, const char *name, bool configured_local)
{
    sqlite3_stmt *s = store_stmt(st, STMT_DOMAIN_SET_LOCAL, "tb", name, (int)configured_local);
    return store_exec_one(st, s, "setting configured_local");
}

enum store_rc store_domain_list(struct store *st, const char *filter, const char *after,
                                int64_t limit, struct store_domain **out, size_t *n)
{
    char *like = store_like_pattern(filter);
    sqlite3_stmt *s =
        store_stmt(st, STMT_DOMAIN_LIST, "tit", like, store_limit(limit), after ? after : "");

    free(like); /* bound as a copy */
    return store_collect(st, s, "listing domains", sizeof(**out), read_domain, destroy_domain,
                         (void **)out, n);
}

enum store_rc store_domain_count(struct store *st, const char *filter, int64_t *count)
{
    char *like = store_like_pattern(filter);
    sqlite3_stmt *s = store_stmt(st, STMT_DOMAIN_COUNT, "t", like);

    free(like); /* bound as a copy */
    return store_scalar(st, s, "counting domains", count);
}

static void read_domain_users(sqlite3_stmt *s, void *elem)
{
    struct store_domain_users *du = elem;

    du->domain = store_col_str(s, 0);
    du->users = sqlite3_column_int64(s, 1);
}

static void destroy_domain_users(void *elem)
{
    free(((struct store_domain_users *)elem)->domain);
}

enum store_rc store_domain_user_counts(struct store *st, struct store_domain_users **out, size_t *n)
{
    sqlite3_stmt *s = store_stmt(st, STMT_DOMAIN_USER_COUNTS, "");
    return store_collect(st, s, "counting users per domain", sizeof(**out), read_domain_users,
                         destroy_domain_users, (void **)out, n);
}

/* The grouped counts are taken once (a CTE used twice is materialized) and joined both ways:
 * the listed domains with their counts, then the domains local or peer users have, or peers
 * configure, that the table lacks. Only peers whose last good answer is at or after ?1 count. */
static const char usage_sql[] =
    "WITH used(name, users) AS (SELECT uri_domain, count(*) FROM users WHERE uri_domain > ''"
    " GROUP BY uri_domain),"
    " peer(name, configured, users) AS (SELECT pd.domain, max(pd.configured), sum(pd.users)"
    " FROM peer_domains pd JOIN peers p ON p.id = pd.peer_id WHERE p.last_sync >= ?1"
    " GROUP BY pd.domain)"
    " SELECT d.name, 1, d.managed_by, d.configured_local, coalesce(u.users, 0),"
    " coalesce(p.configured, 0), coalesce(p.users, 0)"
    " FROM domains d LEFT JOIN used u ON u.name = d.name LEFT JOIN peer p ON p.name = d.name"
    " UNION ALL"
    " SELECT n.name, 0, 'admin', 0, coalesce(u.users, 0), coalesce(p.configured, 0),"
    " coalesce(p.users, 0)"
    " FROM (SELECT name FROM used UNION SELECT name FROM peer) n"
    " LEFT JOIN used u ON u.name = n.name LEFT JOIN peer p ON p.name = n.name"
    " WHERE NOT EXISTS (SELECT 1 FROM domains d WHERE d.name = n.name)"
    " ORDER BY 1";

/* The same rows, with the domains in use found by walking the users_uri_domain index from one
 * distinct value to the next (one seek each) instead of reading every user: local_users is 1
 * for a domain in use. O(domains * log users), for the import job's audit at any size. */
static const char usage_walk_sql[] =
    "WITH RECURSIVE walk(name) AS (SELECT (SELECT min(uri_domain) FROM users"
    " WHERE uri_domain > '') UNION ALL SELECT (SELECT min(uri_domain) FROM users"
    " WHERE uri_domain > walk.name) FROM walk WHERE walk.name IS NOT NULL),"
    " used(name, users) AS (SELECT name, 1 FROM walk WHERE name IS NOT NULL),";

static void read_domain_usage(sqlite3_stmt *s, void *elem)
{
    struct store_domain_usage *du = elem;

    du->name = store_col_str(s, 0);
    du->listed = sqlite3_column_int(s, 1) != 0;
    if (store_managed_by_parse((const char *)sqlite3_column_text(s, 2), &du->managed_by) == -1)
        du->managed_by = STORE_MANAGED_ADMIN; /* unreachable: the schema checks the value */
    du->configured_local = sqlite3_column_int(s, 3) != 0;
    du->local_users = sqlite3_column_int64(s, 4);
    du->peer_configured = sqlite3_column_int(s, 5) != 0;
    du->peer_users = sqlite3_column_int64(s, 6);
}

static void destroy_domain_usage(void *elem)
{
    free(((struct store_domain_usage *)elem)->name);
}

static enum store_rc domain_usage(struct store *st, int64_t peer_since, bool walk,
                                  struct store_domain_usage **out, size_t *n)
{
    sqlite3_stmt *s = NULL;
    enum store_rc rc;
    char *sql = NULL;

    *out = NULL;
    *n = 0;
    /* Prepared per call rather than cached: it runs once per audit, and preparing costs
     * microseconds next to the index walk. */
    if (walk) /* the walk's CTEs in place of the first, grouped one */
        sql = xasprintf("%s%s", usage_walk_sql, strstr(usage_sql, " peer(name,"));
    int prc = sqlite3_prepare_v2(st->db, sql ? sql : usage_sql, -1, &s, NULL);
    free(sql);
    if (prc == SQLITE_OK)
        prc = sqlite3_bind_int64(s, 1, peer_since);
    if (prc != SQLITE_OK) {
        sqlite3_finalize(s);
        return store_fail(st, prc, "preparing the domain usage query");
    }
    rc = store_collect(st, s, "reading domain usage", sizeof(**out), read_domain_usage,
                       destroy_domain_usage, (void **)out, n);
    sqlite3_finalize(s); /* returns the step's error, already handled by store_collect */
    return rc;
}

enum store_rc store_domain_usage(struct store *st, int64_t peer_since,
                                 struct store_domain_usage **out, size_t *n)
{
    return domain_usage(st, peer_since, false, out, n);
}

enum store_rc store_domain_usage_walk(struct store *st, int64_t peer_since,
                                      struct store_domain_usage **out, size_t *n)
{
    return domain_usage(st, peer_since, true, out, n);
}

void store_domain_clear(struct store_domain *d)
{
    if (d == NULL)
        return;
    free(d->name);
    memset(d, 0, sizeof(*d));
}

void store_domain_list_free(struct store_domain *list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        store_domain_clear(&list[i]);
    free(list);
}

void store_domain_users_free(struct store_domain_users *list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        destroy_domain_users(&list[i]);
    free(list);
}

void store_domain_usage_free(struct store_domain_usage *list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        destroy_domain_usage(&list[i]);
    free(list);
}
