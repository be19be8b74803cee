/* The store's connection: open with the pragmas we rely on, migrate, cache prepared statements,
 * map sqlite result codes to enum store_rc, transactions and savepoints, close. */

#include "store/store_impl.h"

#include "util/log.h"
#include "util/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

static void set_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_err(char **err, const char *fmt, ...)
{
    char buf[STORE_ERRMSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (err != NULL)
        *err = xstrdup(buf);
}

/* The database holds user data: create it 0600 ourselves rather than under the umask. sqlite
 * gives the -wal and -shm files the same mode. */
static int create_private(const char *path, char **err)
{
    if (strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0)
        return 0;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd == -1) {
        set_err(err, "cannot open database %s: %s", path, strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

/* Runs a pragma that answers one text row (journal_mode) and compares the answer. */
static int pragma_expect(sqlite3 *db, const char *sql, const char *want, char **err)
{
    sqlite3_stmt *s = NULL;
    char got[32] = "";

    int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(s, 0);
        snprintf(got, sizeof(got), "%s", v ? (const char *)v : "");
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        set_err(err, "%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return -1;
    if (strcmp(got, want) != 0) {
        set_err(err, "%s: sqlite answered \"%s\", expected \"%s\"", sql, got, want);
        return -1;
    }
    return 0;
}

/* What the WAL file keeps of its size once it starts over. A large import grows it to hundreds
 * of MiB (the checkpointer cannot copy while every slice appends); without a limit the file
 * stays that size on disk for good. */
#define STORE_WAL_KEEP_BYTES "16777216"

static int configure(sqlite3 *db, const char *path, char **err)
{
    int rc = sqlite3_extended_result_codes(db, 1);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db,
                          "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; "
                          "PRAGMA trusted_schema = OFF; PRAGMA temp_store = MEMORY; "
                          "PRAGMA journal_size_limit = " STORE_WAL_KEEP_BYTES ";",
                          NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        set_err(err, "cannot configure database %s: %s", path, sqlite3_errmsg(db));
        return -1;
    }
    /* An in-memory database cannot use WAL; that is only ever a test. */
    const char *mode = strcmp(path, ":memory:") == 0 ? "memory" : "wal";
    if (pragma_expect(db, "PRAGMA journal_mode = WAL", mode, err) == -1)
        return -1;
    /* A build without foreign key support would silently ignore our REFERENCES clauses. */
    return pragma_expect(db, "PRAGMA foreign_keys", "1", err);
}

/* sqlite's process-wide settings, made before its first use. Memory statistics (which no part of
 * imdomaind reads) take a global mutex on every allocation: about a tenth of a large import's
 * CPU. Too late when sqlite is already in use (a test that opened a database by itself): the
 * defaults stay, which only costs time. */
static void configure_sqlite_once(void)
{
    static bool done;

    if (done)
        return;
    done = true;
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

struct store *store_open(const char *path, char **err)
{
    struct store *st = xcalloc(1, sizeof(*st));

    if (err != NULL)
        *err = NULL;
    configure_sqlite_once();
    if (create_private(path, err) == -1)
        goto fail;
    /* Only the loop's thread uses this connection (the checkpointer has its own), so sqlite's
     * per-call mutexes are pure cost: about a tenth of a large import's CPU. */
    int rc = sqlite3_open_v2(path, &st->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        set_err(err, "cannot open database %s: %s", path,
                st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        goto fail;
    }
    if (configure(st->db, path, err) == -1)
        goto fail;
    if (store_schema_migrate(st->db, err) == -1)
        goto fail;
    log_debug("store: opened path=%s schema=%d", path, STORE_SCHEMA_VERSION);
    return st;
fail:
    if (st->db != NULL && sqlite3_close(st->db) != SQLITE_OK)
        log_warnx("store: close after failed open: %s", sqlite3_errmsg(st->db));
    free(st);
    return NULL;
}

int store_close(struct store *st)
{
    int status = 0;

    if (st == NULL)
        return 0;
    if (!sqlite3_get_autocommit(st->db)) {
        log_warnx("store: closing inside a transaction; rolling it back");
        if (store_rollback(st) != STORE_OK) {
            log_warnx("store: rollback at close failed: %s", st->errmsg);
            status = -1;
        }
    }
    store_user_pages_free(st);
    for (int i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize(st->stmts[i]); /* returns the last step's error, already handled */
    int rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    if (rc != SQLITE_OK) {
        log_warnx("store: checkpoint at close failed: %s", sqlite3_errmsg(st->db));
        status = -1;
    }
    rc = sqlite3_close(st->db);
    if (rc != SQLITE_OK) {
        log_warnx("store: close failed: %s", sqlite3_errstr(rc));
        status = -1;
    }
    free(st);
    return status;
}

const char *store_errmsg(const struct store *st)
{
    return st->errmsg;
}

const char *store_rc_name(enum store_rc rc)
{
    switch (rc) {
    case STORE_OK:
        return "ok";
    case STORE_NOTFOUND:
        return "not-found";
    case STORE_CONFLICT:
        return "conflict";
    case STORE_ERR:
        break;
    }
    return "error";
}

sqlite3_stmt *store_prepare_bound(struct store *st, const char *what, const char *sql,
                                  const char *fmt, ...)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    va_list ap;

    va_start(ap, fmt);
    for (int i = 0; rc == SQLITE_OK && fmt[i]; i++) {
        if (fmt[i] == 't') {
            const char *v = va_arg(ap, const char *);
            rc = v ? sqlite3_bind_text(s, i + 1, v, -1, SQLITE_TRANSIENT)
                   : sqlite3_bind_null(s, i + 1);
        } else {
            rc = sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
        }
    }
    va_end(ap);
    if (rc != SQLITE_OK) {
        store_fail(st, rc, what);
        sqlite3_finalize(s);
        return NULL;
    }
    return s;
}

enum store_rc store_fail(struct store *st, int rc, const char *what)
{
    enum store_rc out = STORE_ERR;

    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_FOREIGNKEY:
    case SQLITE_CONSTRAINT_TRIGGER:
        out = STORE_CONFLICT;
        break;
    default:
        break;
    }
    snprintf(st->errmsg, sizeof(st->errmsg), "%s: %s (%s)", what, sqlite3_errmsg(st->db),
             sqlite3_errstr(rc));
    return out;
}

static int bind_all(sqlite3_stmt *s, const char *fmt, va_list ap)
{
    int rc = SQLITE_OK;

    for (int i = 0; fmt[i] != '\0' && rc == SQLITE_OK; i++) {
        switch (fmt[i]) {
        case 't': {
            const char *v = va_arg(ap, const char *);
            rc = v ? sqlite3_bind_text(s, i + 1, v, -1, SQLITE_TRANSIENT)
                   : sqlite3_bind_null(s, i + 1);
            break;
        }
        case 'i':
            rc = sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
            break;
        case 'b':
            rc = sqlite3_bind_int(s, i + 1, va_arg(ap, int) ? 1 : 0);
            break;
        case 'r': {
            int64_t v = va_arg(ap, int64_t);
            rc = v > 0 ? sqlite3_bind_int64(s, i + 1, v) : sqlite3_bind_null(s, i + 1);
            break;
        }
        default:
            fatalx("store: bad bind format '%c'", fmt[i]);
        }
    }
    return rc;
}

sqlite3_stmt *store_stmt(struct store *st, enum stmt_id id, const char *fmt, ...)
{
    sqlite3_stmt *s = st->stmts[id];
    char what[64];
    va_list ap;

    if (s == NULL) {
        int rc =
            sqlite3_prepare_v3(st->db, store_sql_text(id), -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
        if (rc != SQLITE_OK) {
            /* Its first words name it for whoever reads the log (a number does not). */
            snprintf(what, sizeof(what), "preparing \"%.40s...\"", store_sql_text(id));
            store_fail(st, rc, what);
            return NULL;
        }
        st->stmts[id] = s;
    }
    store_stmt_done(s);
    va_start(ap, fmt);
    int rc = bind_all(s, fmt, ap);
    va_end(ap);
    if (rc != SQLITE_OK) {
        snprintf(what, sizeof(what), "binding \"%.40s...\"", store_sql_text(id));
        store_fail(st, rc, what);
        return NULL;
    }
    return s;
}

void store_stmt_done(sqlite3_stmt *s)
{
    if (s == NULL)
        return;
    /* Both return the previous step's error, which its caller has already handled. */
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

enum store_rc store_exec(struct store *st, sqlite3_stmt *s, const char *what, int64_t *changes)
{
    enum store_rc out = STORE_OK;

    if (s == NULL)
        return STORE_ERR;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        if (changes != NULL)
            *changes = sqlite3_changes(st->db);
    } else {
        out = store_fail(st, rc == SQLITE_ROW ? SQLITE_MISUSE : rc, what);
    }
    store_stmt_done(s);
    return out;
}

enum store_rc store_exec_one(struct store *st, sqlite3_stmt *s, const char *what)
{
    int64_t changes = 0;
    enum store_rc rc = store_exec(st, s, what, &changes);

    if (rc == STORE_OK && changes == 0)
        return STORE_NOTFOUND;
    return rc;
}

enum store_rc store_row(struct store *st, sqlite3_stmt *s, const char *what)
{
    if (s == NULL)
        return STORE_ERR;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        return STORE_OK;
    store_stmt_done(s);
    if (rc == SQLITE_DONE)
        return STORE_NOTFOUND;
    return store_fail(st, rc, what);
}

enum store_rc store_scalar(struct store *st, sqlite3_stmt *s, const char *what, int64_t *out)
{
    enum store_rc rc = store_row(st, s, what);

    *out = 0;
    if (rc == STORE_NOTFOUND) {
        snprintf(st->errmsg, sizeof(st->errmsg), "%s: no result row", what);
        return STORE_ERR;
    }
    if (rc != STORE_OK)
        return rc;
    *out = sqlite3_column_int64(s, 0);
    store_stmt_done(s);
    return STORE_OK;
}

enum store_rc store_fail_arg(struct store *st, const char *what)
{
    snprintf(st->errmsg, sizeof(st->errmsg), "%s: invalid argument", what);
    return STORE_ERR;
}

enum store_rc store_collect(struct store *st, sqlite3_stmt *s, const char *what, size_t elem,
                            void (*read)(sqlite3_stmt *, void *), void (*destroy)(void *),
                            void **out, size_t *n)
{
    char *arr = NULL;
    size_t cap = 0, count = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if (s == NULL)
        return STORE_ERR;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            if (cap > SIZE_MAX / elem)
                fatalx("store: %s: result too large", what);
            arr = xrealloc(arr, cap * elem);
        }
        memset(arr + count * elem, 0, elem);
        read(s, arr + count * elem);
        count++;
    }
    if (rc != SQLITE_DONE) {
        enum store_rc out_rc = store_fail(st, rc, what);
        for (size_t i = 0; i < count; i++)
            destroy(arr + i * elem);
        free(arr);
        store_stmt_done(s);
        return out_rc;
    }
    store_stmt_done(s);
    *out = arr;
    *n = count;
    return STORE_OK;
}

enum store_rc store_begin(struct store *st)
{
    return store_exec(st, store_stmt(st, STMT_BEGIN, ""), "begin", NULL);
}

/* Foreign keys are checked again once a bulk transaction has ended (PRAGMA foreign_keys does
 * nothing inside one). */
static enum store_rc end_bulk(struct store *st, enum store_rc rc)
{
    if (!st->bulk || !sqlite3_get_autocommit(st->db))
        return rc;
    st->bulk = false;
    if (sqlite3_exec(st->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK) {
        enum store_rc e = store_fail(st, sqlite3_errcode(st->db), "checking foreign keys again");
        return rc != STORE_OK ? rc : e;
    }
    return rc;
}

enum store_rc store_begin_bulk(struct store *st)
{
    enum store_rc rc;

    if (store_in_transaction(st))
        return store_fail_arg(st, "a bulk transaction inside a transaction");
    if (sqlite3_exec(st->db, "PRAGMA foreign_keys = OFF", NULL, NULL, NULL) != SQLITE_OK)
        return store_fail(st, sqlite3_errcode(st->db), "begin bulk");
    st->bulk = true;
    rc = store_begin(st);
    return rc == STORE_OK ? rc : end_bulk(st, rc);
}

enum store_rc store_commit(struct store *st)
{
    enum store_rc rc = store_user_batch_finish(st);

    if (rc == STORE_OK)
        rc = store_exec(st, store_stmt(st, STMT_COMMIT, ""), "commit", NULL);
    return end_bulk(st, rc);
}

enum store_rc store_rollback(struct store *st)
{
    store_user_batch_discard(st);
    /* sqlite rolls back by itself after some errors (disk full, I/O); nothing is left to do. */
    if (sqlite3_get_autocommit(st->db))
        return end_bulk(st, STORE_OK);
    return end_bulk(st, store_exec(st, store_stmt(st, STMT_ROLLBACK, ""), "rollback", NULL));
}

enum store_rc store_read_begin(struct store *st)
{
    int rc = sqlite3_exec(st->db, "BEGIN DEFERRED", NULL, NULL, NULL);

    return rc == SQLITE_OK ? STORE_OK : store_fail(st, rc, "begin read");
}

enum store_rc store_read_end(struct store *st)
{
    /* A read that failed with an I/O error made sqlite end the transaction; that read already
     * reported the failure, so there is nothing left to end. */
    if (sqlite3_get_autocommit(st->db))
        return STORE_OK;
    int rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);

    return rc == SQLITE_OK ? STORE_OK : store_fail(st, rc, "end read");
}

bool store_in_transaction(struct store *st)
{
    return !sqlite3_get_autocommit(st->db);
}

enum store_rc store_atomic_begin(struct store *st)
{
    return store_exec(st, store_stmt(st, STMT_SAVEPOINT, ""), "savepoint", NULL);
}

enum store_rc store_atomic_end(struct store *st, enum store_rc rc)
{
    if (rc != STORE_OK && store_exec(st, store_stmt(st, STMT_ROLLBACK_TO, ""),
                                     "rollback to savepoint", NULL) != STORE_OK)
        return STORE_ERR; /* the error already unwound the whole transaction */
    if (store_exec(st, store_stmt(st, STMT_RELEASE, ""), "release savepoint", NULL) != STORE_OK)
        return STORE_ERR;
    return rc;
}

int store_schema_version(struct store *st)
{
    sqlite3_stmt *s = store_stmt(st, STMT_USER_VERSION, "");

    if (store_row(st, s, "reading schema version") != STORE_OK)
        return -1;
    int v = sqlite3_column_int(s, 0);
    store_stmt_done(s);
    return v;
}

/* NULL from sqlite3_column_text() means SQL NULL, or sqlite ran out of memory converting. */
static const char *col_text(sqlite3_stmt *s, int col)
{
    const unsigned char *v = sqlite3_column_text(s, col);
    if (v == NULL && sqlite3_column_type(s, col) != SQLITE_NULL)
        fatalx("store: out of memory reading a column");
    return (const char *)v;
}

char *store_col_str(sqlite3_stmt *s, int col)
{
    const char *v = col_text(s, col);
    return xstrdup(v ? v : "");
}

char *store_col_str_or_null(sqlite3_stmt *s, int col)
{
    const char *v = col_text(s, col);
    return v ? xstrdup(v) : NULL;
}

int64_t store_limit(int64_t limit)
{
    return limit <= 0 ? -1 : limit;
}

int store_name_index(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; name != NULL && i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

const char *store_opt(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : NULL;
}

enum store_rc store_lookup_id(struct store *st, enum stmt_id id, const char *what, const char *name,
                              int64_t *out)
{
    *out = 0;
    if (store_opt(name) == NULL)
        return STORE_OK;
    sqlite3_stmt *s = store_stmt(st, id, "t", name);
    enum store_rc rc = store_row(st, s, what);
    if (rc == STORE_NOTFOUND)
        snprintf(st->errmsg, sizeof(st->errmsg), "%s: no %s", what, name);
    if (rc != STORE_OK)
        return rc;
    *out = sqlite3_column_int64(s, 0);
    store_stmt_done(s);
    return STORE_OK;
}

char *store_like_pattern(const char *filter)
{
    if (store_opt(filter) == NULL)
        return NULL;
    size_t len = strlen(filter);
    if (len > (SIZE_MAX - 3) / 2)
        fatalx("store: filter too long");
    char *out = xmalloc(2 * len + 3), *p = out;
    *p++ = '%';
    for (const char *f = filter; *f != '\0'; f++) {
        if (*f == '%' || *f == '_' || *f == '\\')
            *p++ = '\\';
        *p++ = *f;
    }
    *p++ = '%';
    *p = '\0';
    return out;
}
