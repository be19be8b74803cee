/* The daemon's persistent store (sqlite3): opening, schema migrations, transactions, errors.
 * Table-specific calls: store_settings.h, store_domain.h, store_user.h, store_job.h,
 * store_audit.h, store_topo.h, store_peer.h. All take and return plain C types. */
#ifndef IMD_STORE_H
#define IMD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_SCHEMA_VERSION 10    /* the newest schema this build knows */
#define STORE_BUSY_TIMEOUT_MS 5000 /* how long a statement waits for another connection's lock */

/* Every call that can fail returns one of these. */
enum store_rc {
    STORE_OK = 0,
    STORE_NOTFOUND, /* the row named does not exist; nothing changed */
    STORE_CONFLICT, /* a uniqueness or reference rule refused the change; nothing changed */
    STORE_ERR,      /* anything else (I/O, corruption, bad value); see store_errmsg() */
};

/* Opaque: one sqlite connection and its cached prepared statements. */
struct store;

/*
 * Opens (creating if needed, mode 0600) the database at `path` (borrowed), sets WAL,
 * synchronous=NORMAL, foreign keys and the busy timeout, and migrates the schema to
 * STORE_SCHEMA_VERSION, one transaction per version step. Refuses a database written by a newer
 * imdomaind ("database schema version N is newer than this imdomaind supports (M); upgrade
 * imdomaind") or by another program. Returns NULL on failure with *err (if err is not NULL) set
 * to a malloc'd sentence the caller frees.
 */
struct store *store_open(const char *path, char **err);

/* Checkpoints the WAL into the database file and closes; `st` is freed (NULL is allowed).
 * Returns 0, or -1 when sqlite reported a problem (logged; the memory is freed regardless). */
int store_close(struct store *st);

/* The text of the last failure (sqlite's message with what we were doing), for logs. Owned by
 * `st`, valid until the next store call. "" when nothing failed yet. */
const char *store_errmsg(const struct store *st);

/* "ok", "not-found", "conflict", "error": for logs. Static. */
const char *store_rc_name(enum store_rc rc);

/* The schema version the open database carries (PRAGMA user_version), or -1 on error. */
int store_schema_version(struct store *st);

/*
 * One write transaction (BEGIN IMMEDIATE, so the write lock is taken at once and a busy
 * database fails here rather than half-way). The component layer runs one per state-changing
 * command. Store calls made inside join it; made outside, each call is atomic on its own.
 * Transactions do not nest: store_begin() inside one fails with STORE_ERR.
 */
enum store_rc store_begin(struct store *st);
/* A transaction that does not check foreign keys: the caller guarantees every reference it
 * writes (ids it has just looked up in the same transaction). sqlite checks them per statement,
 * and doing so makes it keep a statement journal for every row: a third of a bulk insert's
 * cost (bench/README.md). Checking resumes when it ends. Only users/import's lines use it. */
enum store_rc store_begin_bulk(struct store *st);
enum store_rc store_commit(struct store *st);
enum store_rc store_rollback(struct store *st);

/*
 * A read-only transaction (BEGIN DEFERRED) around many lookups in a row: one snapshot and one
 * set of WAL read locks instead of one per statement. Only reads may run until
 * store_read_end(); it must not be open when store_begin() is called. A read that fails with an
 * I/O error ends the transaction (sqlite does); store_read_end() is then STORE_OK.
 */
enum store_rc store_read_begin(struct store *st);
enum store_rc store_read_end(struct store *st);

/* True between store_begin() and store_commit()/store_rollback(). */
bool store_in_transaction(struct store *st);

#endif
