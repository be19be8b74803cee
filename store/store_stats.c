/* Store figures for status (see store_stats.h). Prepared per call: status asks rarely. */
#include "store/store_stats.h"
#include "store/store_impl.h"

static enum store_rc pragma_int(struct store *st, const char *sql, int64_t *out)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    enum store_rc result;

    if (rc != SQLITE_OK) {
        sqlite3_finalize(s);
        return store_fail(st, rc, sql);
    }
    result = store_scalar(st, s, sql, out);
    sqlite3_finalize(s);
    return result;
}

enum store_rc store_size_bytes(struct store *st, int64_t *out)
{
    int64_t pages = 0, size = 0;
    enum store_rc rc = pragma_int(st, "PRAGMA page_count", &pages);

    if (rc == STORE_OK)
        rc = pragma_int(st, "PRAGMA page_size", &size);
    *out = rc == STORE_OK ? pages * size : 0;
    return rc;
}
