/* Users in the store: upsert from provisioning, look up, list and count them (per node too), and
 * the batch step of the default-domain job that rewrites IM addresses in rowid order. */
#ifndef IMD_STORE_USER_H
#define IMD_STORE_USER_H

#include "store/store.h"
#include "store/store_settings.h"

#define STORE_USER_BATCH_MAX 100000 /* largest `limit` store_users_rewrite_im_batch() accepts */

/* One user; every string is malloc'd and owned by the struct (store_user_clear()). */
struct store_user {
    int64_t id;          /* rowid: grows with each insert and is never reused */
    char *userid;        /* as last provisioned; unique case-insensitively */
    char *directory_uri; /* "" when none */
    char *uri_domain;    /* lower-case part of directory_uri after its last '@'; "" if none */
    char *im_address;
    char *node; /* assigned node's name, NULL when unassigned */
};

/* One (node, assigned user count) pair; `node` is malloc'd and owned by the array. */
struct store_node_users {
    char *node;
    int64_t users;
};

enum store_upsert {
    STORE_UPSERT_INSERTED,
    STORE_UPSERT_UPDATED,
    STORE_UPSERT_UNCHANGED, /* the user existed with exactly these values */
};

/*
 * Adds or updates the user `userid` (matched in any case; the stored spelling follows the
 * latest call). All strings are borrowed.
 *   directory_uri: NULL keeps the current one on update ("" on insert).
 *   node: NULL keeps the current assignment (none on insert); "" unassigns; a name that is not
 *         a node gives STORE_NOTFOUND and changes nothing.
 * A new user's IM address follows the cluster's scheme: its directory URI under
 * "directory-uri" (when it has one), userid@default_domain otherwise. An update changes the IM
 * address only under "directory-uri" (the default-domain job owns the other case).
 * *how (may be NULL) says what happened. Atomic on its own; joins a store_begin() transaction.
 */
enum store_rc store_user_upsert(struct store *st, const char *userid, const char *directory_uri,
                                const char *node, enum store_upsert *how);

/*
 * users/import's fast path: the same change as store_user_upsert() in one statement, with no
 * read of the row before or after and no savepoint (a failing statement undoes only itself).
 * `node_id` is the resolved node (store_user_node_id; 0: unassigned); keep_node leaves the
 * current assignment. `s` (borrowed) is the settings, read once for the whole import: they
 * give a new user's IM address. Run inside the caller's store_begin() transaction, so that the
 * pages are written once per commit; the users it adds are counted per IM address domain once,
 * at store_commit(). STORE_CONFLICT when a constraint refuses the line.
 */
enum store_rc store_user_import_row(struct store *st, const struct store_settings *s,
                                    const char *userid, const char *directory_uri, int64_t node_id,
                                    bool keep_node, enum store_upsert *how);
/* The id of node `name` (borrowed) in *id; STORE_NOTFOUND when there is none. */
enum store_rc store_user_node_id(struct store *st, const char *name, int64_t *id);

/* Fills *out (may be NULL: existence test). */
enum store_rc store_user_get(struct store *st, const char *userid, struct store_user *out);
/* The user whose IM address is `im_address` (any ASCII case), through an index: a presence
 * from a directory-URI address finds its user without a scan. When several users share the
 * address, the oldest. Fills *out (may be NULL) like store_user_get. */
enum store_rc store_user_get_by_im(struct store *st, const char *im_address,
                                   struct store_user *out);
/* The same lookup when only the user's node matters (each new presence session): *node gets
 * its name (malloc'd) or NULL when the user is unassigned, or when there is no such user
 * (STORE_NOTFOUND). */
enum store_rc store_user_node_by_im(struct store *st, const char *im_address, char **node);
enum store_rc store_user_delete(struct store *st, const char *userid);

/* Assigns the user to `node` (NULL or "": unassigned). STORE_NOTFOUND if either is unknown. */
enum store_rc store_user_set_node(struct store *st, const char *userid, const char *node);

/* Overrides one user's IM address (borrowed). */
enum store_rc store_user_set_im_address(struct store *st, const char *userid,
                                        const char *im_address);

/*
 * Users in userid order (the column's: ASCII case folded; userids are unique in that order)
 * whose userid or directory URI contains `filter` (borrowed, any case; NULL or "" for all): at
 * most `limit` (<= 0: no limit; mind the size) of those after the userid `after` (NULL: from the
 * first). A keyset page: the next one starts after this one's last userid, and a page costs the
 * same wherever it starts. *out is a malloc'd array of *n entries (NULL when none):
 * store_user_list_free().
 */
enum store_rc store_user_list(struct store *st, const char *filter, const char *after,
                              int64_t limit, struct store_user **out, size_t *n);
/* How many users store_user_list() would return without `after` and `limit`. */
enum store_rc store_user_count(struct store *st, const char *filter, int64_t *count);

/*
 * Page `page` (from 1) of `per` users in store_user_list()'s order and filter: exactly the users
 * at places (page - 1) * per ... page * per - 1, as LIMIT/OFFSET would give them (none past the
 * end), and in *total how many users the filter matches. Without OFFSET's walk over the places
 * before: the store remembers, per filter, the userids it found at some places since the data
 * last changed, so the next page of a walk (forward or back) costs what the first does, and a
 * page asked for out of order is found from the nearest place known, the start or the end
 * (store_user_pages.c). Anything written to the database forgets them.
 */
enum store_rc store_user_page(struct store *st, const char *filter, int64_t page, int64_t per,
                              struct store_user **out, size_t *n, int64_t *total);
/* For tests and the bench: the users store_user_page() has stepped over so far to find where
 * its pages start (0 when every page started at a place it knew). */
int64_t store_user_pages_stepped(const struct store *st);

/* At most `limit` users with id > after_id in id order: a keyset page, as cheap at the end of
 * a million users as at the start. Same output as store_user_list. */
enum store_rc store_user_list_after(struct store *st, int64_t after_id, int64_t limit,
                                    struct store_user **out, size_t *n);

/* Every node in name order with the number of users assigned to it (zeros included).
 * Free with store_node_users_free(). */
enum store_rc store_user_count_per_node(struct store *st, struct store_node_users **out, size_t *n);

/*
 * One step of the default-domain job: sets im_address = userid@domain (borrowed) for up to
 * `limit` (1..STORE_USER_BATCH_MAX) users with rowid > after_rowid, in rowid order. *n gets how
 * many were rewritten and *last_rowid the highest rowid among them (after_rowid when *n is 0:
 * the job is done). Run it in the same store_begin() transaction as the job's cursor update
 * (store_job_progress with cursor = *last_rowid), so that a crash resumes where it stopped.
 * Users inserted meanwhile get higher rowids and are still reached.
 */
enum store_rc store_users_rewrite_im_batch(struct store *st, const char *domain,
                                           int64_t after_rowid, int64_t limit, int64_t *last_rowid,
                                           int64_t *n);

/*
 * The same step for any scheme: derives each user's IM address as store_user_upsert() does for
 * a new user under `scheme` with `domain` (borrowed) as the default domain: the directory URI
 * under "directory-uri" when the user has one, userid@domain otherwise. The default-domain and
 * address-scheme jobs use it forwards (new values) and backwards (a rollback, old values).
 */
enum store_rc store_users_derive_im_batch(struct store *st, enum store_im_scheme scheme,
                                          const char *domain, int64_t after_rowid, int64_t limit,
                                          int64_t *last_rowid, int64_t *n);

/* Users whose IM address is in `domain` (borrowed, any case): the address ends in "@domain"
 * (ASCII case folded, as LIKE does). One lookup in the per-domain counter the schema's triggers
 * keep on every change to users; for the default domain's user count, read on demand. */
enum store_rc store_user_count_im_domain(struct store *st, const char *domain, int64_t *count);

void store_user_clear(struct store_user *u);
void store_user_list_free(struct store_user *list, size_t n);
void store_node_users_free(struct store_node_users *list, size_t n);

#endif
