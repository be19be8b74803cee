/* Private to store/: the connection object, the table of cached statements, and the helpers
 * that bind values, step statements and map sqlite result codes. Never include outside store/. */
#ifndef IMD_STORE_IMPL_H
#define IMD_STORE_IMPL_H

#include "store/store.h"

#include <sqlite3.h>
#include <stdarg.h>

/* One id per SQL statement; the text is in store_sql.c, indexed by these ids. */
enum stmt_id {
    STMT_BEGIN,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_SAVEPOINT,
    STMT_RELEASE,
    STMT_ROLLBACK_TO,
    STMT_USER_VERSION,

    STMT_SETTINGS_GET,
    STMT_SETTINGS_SET,
    STMT_SETTINGS_SET_APPLIED,

    STMT_DOMAIN_INSERT,
    STMT_DOMAIN_GET,
    STMT_DOMAIN_RENAME,
    STMT_DOMAIN_DELETE,
    STMT_DOMAIN_SET_MANAGED_BY,
    STMT_DOMAIN_SET_LOCAL,
    STMT_DOMAIN_LIST,
    STMT_DOMAIN_COUNT,
    STMT_DOMAIN_USER_COUNTS,

    STMT_USER_FIND,
    STMT_USER_INSERT,
    STMT_USER_UPDATE,
    STMT_USER_GET,
    STMT_USER_GET_BY_IM,
    STMT_USER_NODE_BY_IM,
    STMT_USER_DELETE,
    STMT_USER_SET_IM,
    STMT_USER_SET_NODE,
    STMT_USER_LIST,
    STMT_USER_LIST_AFTER,
    STMT_USER_KEY_AFTER,
    STMT_USER_KEY_BEFORE,
    STMT_USER_KEY_LAST,
    STMT_USER_COUNT_ALL,
    STMT_DATA_VERSION,
    STMT_USER_COUNT,
    STMT_USER_COUNT_PER_NODE,
    STMT_USER_BATCH_END,
    STMT_USER_BATCH_REWRITE,
    STMT_USER_BATCH_DERIVE,
    STMT_NODE_ID,

    STMT_JOB_INSERT,
    STMT_JOB_GET,
    STMT_JOB_GET_ACTIVE,
    STMT_JOB_UPDATE,
    STMT_JOB_PROGRESS,
    STMT_JOB_SET_STATE,
    STMT_JOB_LIST,

    STMT_AUDIT_APPEND,
    STMT_AUDIT_LIST,
    STMT_AUDIT_PRUNE,

    STMT_NODE_INSERT,
    STMT_NODE_GET,
    STMT_NODE_UPDATE,
    STMT_NODE_DELETE,
    STMT_NODE_LIST,
    STMT_GROUP_INSERT,
    STMT_GROUP_GET,
    STMT_GROUP_SET_HA,
    STMT_GROUP_DELETE,
    STMT_GROUP_LIST,
    STMT_RECORDED_SET,
    STMT_RECORDED_LIST,
    STMT_RECORDED_CLEAR,
    STMT_SERVICE_SET,
    STMT_SERVICE_GET,
    STMT_SERVICE_DELETE,
    STMT_SERVICE_LIST,

    STMT_PROC_INSERT,
    STMT_PROC_GET,
    STMT_PROC_GET_ACTIVE,
    STMT_PROC_SET_STEP,
    STMT_PROC_END,

    STMT_USER_IMPORT_UPSERT,
    STMT_IMPORT_VERDICT_ADD,
    STMT_USER_MAX_ID,
    STMT_IM_COUNT_SHIFT,
    STMT_IM_COUNT_ADD,
    STMT_USER_SET_IM_BY_ID,
    STMT_USER_ID_IM,
    STMT_PEER_VERSION_BUMP,

    STMT_COUNT
};

#define STORE_ERRMSG_MAX 512

struct store {
    sqlite3 *db;
    sqlite3_stmt *stmts[STMT_COUNT]; /* prepared on first use, finalized by store_close() */
    char errmsg[STORE_ERRMSG_MAX];   /* the last failure, for logs */
    bool bulk;                       /* in a store_begin_bulk() transaction */
    /* An open batch of new users (store_user_batch_start()): users with an id above `first`
     * are counted in im_domain_users when it ends, not one by one. */
    struct {
        bool open;
        bool peers_stale; /* a directory URI changed: peer_state's version moves once */
        int64_t first;    /* the highest user id when it began */
    } batch;
    struct user_pages *pages; /* store_user_pages.c: where users/list's pages start */
};

/* store_user_counts.c: the users per IM address domain (im_domain_users) and the data version
 * peers compare (peer_state), kept by the writers of users rather than by triggers: a trigger
 * on users made sqlite keep a statement journal for every row written, and doubled the cost of
 * a new user (bench/README.md). Every statement that inserts, deletes or changes the IM address
 * or directory URI of users calls these in the same transaction. */
/* Takes the users with ids in (after, last] out of the counts (sign -1) or back in (+1): around
 * a statement that changes those rows, -1 before and +1 after. Users above an open batch's
 * start are left to the batch. */
enum store_rc store_user_counts_shift(struct store *st, int64_t after, int64_t last, int sign);
/* Counts one IM address in (delta 1) or out (-1), for a row changed by key. */
enum store_rc store_user_counts_add(struct store *st, const char *im_address, int delta);
/* peer_state's version moves on: what peers cached of our users may be stale. Inside an open
 * batch it moves once, when the batch ends. */
enum store_rc store_user_peers_stale(struct store *st);
/* Opens a batch inside the caller's transaction (nothing when one is open). It ends with the
 * transaction: store_commit() finishes it, store_rollback() discards it. */
enum store_rc store_user_batch_start(struct store *st);
/* Ends an open batch (store_commit() calls it): counts the users added since it began and
 * moves the version once if a URI changed. Nothing when none is open. */
enum store_rc store_user_batch_finish(struct store *st);
/* Forgets an open batch whose transaction was rolled back. */
void store_user_batch_discard(struct store *st);

/* store_user_pages.c: forgets what store_user_page() learnt (store_close()). */
void store_user_pages_free(struct store *st);

/* store_sql.c: the SQL text of statement `id` (static). */
const char *store_sql_text(enum stmt_id id);

/* store_schema.c: brings the schema up to STORE_SCHEMA_VERSION. On failure returns -1 and sets
 * *err to a message the caller frees. */
int store_schema_migrate(sqlite3 *db, char **err);

/*
 * Returns the cached statement `id`, reset, with `fmt` values bound to ?1, ?2, ...:
 *   't' const char * (NULL binds SQL NULL), 'i' int64_t, 'b' bool (as 0/1),
 *   'r' int64_t row id where 0 (or less) binds SQL NULL.
 * Returns NULL on failure (st->errmsg set). Text is copied, so arguments may be temporaries.
 * The caller steps it and then calls store_stmt_done().
 */
sqlite3_stmt *store_stmt(struct store *st, enum stmt_id id, const char *fmt, ...);

/* Resets `s` so it holds no read lock and no stale bindings. NULL is allowed. */
void store_stmt_done(sqlite3_stmt *s);

/* Prepares `sql` (not one of the table's statements: rarely run or variable) and binds `fmt`
 * values to ?1, ?2...: 't' text (NULL binds NULL), 'i' int64_t. NULL on failure, recorded in st
 * with `what`. The caller finalizes. */
sqlite3_stmt *store_prepare_bound(struct store *st, const char *what, const char *sql,
                                  const char *fmt, ...);

/* Maps a sqlite result code to our enum and records the message (with `what`) on error. */
enum store_rc store_fail(struct store *st, int rc, const char *what);

/* Runs a bound statement that returns no rows; *changes (if not NULL) gets the rows changed.
 * Unique, foreign key and trigger violations give STORE_CONFLICT. */
enum store_rc store_exec(struct store *st, sqlite3_stmt *s, const char *what, int64_t *changes);

/* As store_exec(), and a statement that changed no row gives STORE_NOTFOUND. */
enum store_rc store_exec_one(struct store *st, sqlite3_stmt *s, const char *what);

/* Steps a statement expected to give at most one row: STORE_OK with the row ready to read
 * (the caller reads, then calls store_stmt_done), STORE_NOTFOUND (statement already done). */
enum store_rc store_row(struct store *st, sqlite3_stmt *s, const char *what);

/* Reads the one integer a statement like SELECT count(*) answers. */
enum store_rc store_scalar(struct store *st, sqlite3_stmt *s, const char *what, int64_t *out);

/* Records a failure that sqlite did not report (a bad argument); returns STORE_ERR. */
enum store_rc store_fail_arg(struct store *st, const char *what);

/* Appends every row of `s` to a malloc'd array of `elem` bytes per row, filled by `read`.
 * Always finishes the statement. On error frees nothing that `read` allocated: the caller's
 * `destroy` is called on each element read so far. */
enum store_rc store_collect(struct store *st, sqlite3_stmt *s, const char *what, size_t elem,
                            void (*read)(sqlite3_stmt *, void *), void (*destroy)(void *),
                            void **out, size_t *n);

/* A savepoint around a multi-statement operation, valid inside or outside a transaction.
 * store_atomic_end() releases it when rc is STORE_OK, else rolls it back; returns rc, or
 * STORE_ERR when releasing fails. */
enum store_rc store_atomic_begin(struct store *st);
enum store_rc store_atomic_end(struct store *st, enum store_rc rc);

/* Column helpers: a malloc'd copy of the text ("" for NULL), or NULL for NULL. */
char *store_col_str(sqlite3_stmt *s, int col);
char *store_col_str_or_null(sqlite3_stmt *s, int col);

/* The index of `name` in `names` (n entries), or -1; for the enum parsers. */
int store_name_index(const char *const *names, size_t n, const char *name);

/* Resolves `name` (NULL or "": *out = 0, STORE_OK) with statement `id`, which answers one id
 * column for ?1. STORE_NOTFOUND names `name` in the error message. */
enum store_rc store_lookup_id(struct store *st, enum stmt_id id, const char *what, const char *name,
                              int64_t *out);

/* NULL for NULL or "": an optional filter or name given as empty means none. */
const char *store_opt(const char *s);

/* A LIKE pattern (ESCAPE '\\') matching any text that contains `filter`, malloc'd; NULL when
 * the filter is NULL or "" (no filter). */
char *store_like_pattern(const char *filter);

/* A LIMIT value for SQL: anything <= 0 means no limit. */
int64_t store_limit(int64_t limit);

#endif
