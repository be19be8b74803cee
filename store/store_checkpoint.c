/* Background WAL checkpoints: a WAL hook on the main connection counts pages; a second
 * connection, used only by one worker at a time, copies them back into the database. */
#include "store/store_checkpoint.h"

#include "store/store_impl.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <stdatomic.h>
#include <stdlib.h>

/* sqlite's default automatic checkpoint threshold, restored at close. */
#define AUTOCHECKPOINT_PAGES 1000

struct store_ckpt {
    struct store *st;
    sqlite3 *db;          /* the checkpointing connection */
    atomic_int wal_pages; /* pages in the WAL after the last commit */
};

/* Called by sqlite after each commit on the main connection, on its thread. */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct store_ckpt *ck = arg;

    (void)db;
    (void)name;
    atomic_store(&ck->wal_pages, pages);
    return SQLITE_OK;
}

struct store_ckpt *store_ckpt_open(struct store *st, const char *path, char **err)
{
    struct store_ckpt *ck = xcalloc(1, sizeof(*ck));
    int rc = sqlite3_open_v2(path, &ck->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(ck->db, STORE_BUSY_TIMEOUT_MS);
    /* A connection reads the file lazily; until it has, it does not know the WAL is there and
     * a checkpoint does nothing. */
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(ck->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        if (err)
            *err = xasprintf("cannot open a checkpoint connection to %s: %s", path,
                             ck->db ? sqlite3_errmsg(ck->db) : sqlite3_errstr(rc));
        sqlite3_close(ck->db);
        free(ck);
        return NULL;
    }
    ck->st = st;
    atomic_init(&ck->wal_pages, 0);
    /* Replaces the automatic checkpoint, which is itself a WAL hook. */
    sqlite3_wal_hook(st->db, on_wal_commit, ck);
    return ck;
}

bool store_ckpt_due(struct store_ckpt *ck, int pages)
{
    if (atomic_load(&ck->wal_pages) < pages)
        return false;
    atomic_store(&ck->wal_pages, 0); /* the next commit says how much is left */
    return true;
}

int store_ckpt_run(struct store_ckpt *ck)
{
    int log_pages = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(ck->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_pages, &done);

    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
        log_warnx("store: background checkpoint failed: %s", sqlite3_errmsg(ck->db));
        return -1;
    }
    log_debug("store: checkpoint wal_pages=%d copied=%d rc=%d", log_pages, done, rc);
    return 0;
}

void store_ckpt_close(struct store_ckpt *ck)
{
    if (ck == NULL)
        return;
    sqlite3_wal_autocheckpoint(ck->st->db, AUTOCHECKPOINT_PAGES);
    if (sqlite3_close(ck->db) != SQLITE_OK)
        log_warnx("store: closing the checkpoint connection: %s", sqlite3_errmsg(ck->db));
    free(ck);
}
