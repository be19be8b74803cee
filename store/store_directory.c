/* The directory sync's tables. Statements are prepared per call: every call here handles a
 * whole batch (hundreds of entries), so one prepare per call costs nothing next to the rows. */

#include "store/store_directory.h"
#include "store/store_impl.h"

#include "util/xmalloc.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *const phase_names[] = {"fetch", "check", "apply", "remove", "finish", "done"};
static const char *const verdict_names[] = {"added", "updated", "unchanged", "removed", "rejected"};
#define N_PHASES (sizeof(phase_names) / sizeof(phase_names[0]))
#define N_VERDICTS (sizeof(verdict_names) / sizeof(verdict_names[0]))

const char *store_dir_phase_name(enum store_dir_phase p)
{
    return (size_t)p < N_PHASES ? phase_names[p] : "unknown";
}

const char *store_dir_verdict_name(enum store_dir_verdict v)
{
    return (size_t)v < N_VERDICTS ? verdict_names[v] : "unknown";
}

static enum store_rc run(struct store *st, sqlite3_stmt *s, const char *what)
{
    enum store_rc rc;

    if (s == NULL)
        return STORE_ERR;
    rc = store_exec(st, s, what, NULL);
    sqlite3_finalize(s);
    return rc;
}

/* ---- runs ---- */

#define RUN_COLS                                                                                   \
    "job_id, mode, phase, confirmed, since, started_at, server, saw_mtime, fetched, existing,"     \
    " cursor, added, updated, unchanged, removed, rejected, summary, max_mtime"

static int name_index(const char *const *names, size_t n, const unsigned char *v)
{
    for (size_t i = 0; v && i < n; i++)
        if (strcmp(names[i], (const char *)v) == 0)
            return (int)i;
    return 0;
}

static void read_run(sqlite3_stmt *s, struct store_dir_run *r)
{
    memset(r, 0, sizeof(*r));
    r->job_id = sqlite3_column_int64(s, 0);
    r->mode = strcmp((const char *)sqlite3_column_text(s, 1), "incremental") == 0
                  ? STORE_DIR_INCREMENTAL
                  : STORE_DIR_FULL;
    r->phase = (enum store_dir_phase)name_index(phase_names, N_PHASES, sqlite3_column_text(s, 2));
    r->confirmed = sqlite3_column_int64(s, 3) != 0;
    r->since = store_col_str_or_null(s, 4);
    r->started_at = sqlite3_column_int64(s, 5);
    r->server = store_col_str_or_null(s, 6);
    r->saw_mtime = sqlite3_column_int64(s, 7) != 0;
    r->fetched = sqlite3_column_int64(s, 8);
    r->existing = sqlite3_column_int64(s, 9);
    r->cursor = sqlite3_column_int64(s, 10);
    for (int i = 0; i < 5; i++)
        r->counts[i] = sqlite3_column_int64(s, 11 + i);
    r->summary = store_col_str_or_null(s, 16);
    r->max_mtime = store_col_str_or_null(s, 17);
}

static enum store_rc get_run(struct store *st, sqlite3_stmt *s, struct store_dir_run *out)
{
    enum store_rc rc;

    memset(out, 0, sizeof(*out));
    if (s == NULL)
        return STORE_ERR;
    rc = store_row(st, s, "reading a directory run");
    if (rc == STORE_OK)
        read_run(s, out);
    sqlite3_finalize(s);
    return rc;
}

enum store_rc store_dir_run_create(struct store *st, int64_t job_id, enum store_dir_mode mode,
                                   const char *since)
{
    enum store_rc rc = store_dir_entries_clear(st);

    if (rc != STORE_OK)
        return rc;
    return run(st,
               store_prepare_bound(st, "preparing a directory statement",
                                   "INSERT INTO directory_runs (job_id, mode, since, started_at)"
                                   " VALUES (?1, ?2, ?3, strftime('%s', 'now'))",
                                   "itt", job_id,
                                   mode == STORE_DIR_INCREMENTAL ? "incremental" : "full", since),
               "creating a directory run");
}

enum store_rc store_dir_run_get(struct store *st, int64_t job_id, struct store_dir_run *out)
{
    return get_run(st,
                   store_prepare_bound(st, "preparing a directory statement",
                                       "SELECT " RUN_COLS " FROM directory_runs WHERE job_id = ?1",
                                       "i", job_id),
                   out);
}

enum store_rc store_dir_run_last_completed(struct store *st, struct store_dir_run *out)
{
    return get_run(st,
                   store_prepare_bound(st, "preparing a directory statement",
                                       "SELECT " RUN_COLS " FROM directory_runs WHERE job_id IN"
                                       " (SELECT id FROM jobs WHERE state = 'completed')"
                                       " ORDER BY job_id DESC LIMIT 1",
                                       ""),
                   out);
}

enum store_rc store_dir_run_update(struct store *st, const struct store_dir_run *r)
{
    sqlite3_stmt *s = store_prepare_bound(
        st, "preparing a directory statement",
        "UPDATE directory_runs SET phase = ?2, confirmed = ?3, server = ?4,"
        " saw_mtime = ?5, fetched = ?6, existing = ?7, cursor = ?8, added = ?9,"
        " updated = ?10, unchanged = ?11, removed = ?12, rejected = ?13,"
        " summary = ?14, max_mtime = ?15 WHERE job_id = ?1",
        "ititiiiiiiiiitt", r->job_id, store_dir_phase_name(r->phase), (int64_t)r->confirmed,
        r->server, (int64_t)r->saw_mtime, r->fetched, r->existing, r->cursor, r->counts[0],
        r->counts[1], r->counts[2], r->counts[3], r->counts[4], r->summary, r->max_mtime);
    enum store_rc rc;

    if (s == NULL)
        return STORE_ERR;
    rc = store_exec_one(st, s, "updating a directory run");
    sqlite3_finalize(s);
    return rc;
}

void store_dir_run_clear(struct store_dir_run *r)
{
    free(r->server);
    free(r->summary);
    free(r->since);
    free(r->max_mtime);
    memset(r, 0, sizeof(*r));
}

/* ---- staged entries ---- */

enum store_rc store_dir_entries_clear(struct store *st)
{
    return run(st,
               store_prepare_bound(st, "preparing a directory statement",
                                   "DELETE FROM directory_entries", ""),
               "clearing directory entries");
}

enum store_rc store_dir_entries_add(struct store *st, const struct store_dir_entry *v, size_t n)
{
    sqlite3_stmt *s =
        store_prepare_bound(st, "preparing a directory statement",
                            "INSERT INTO directory_entries (dn, userid, uri, node, verdict,"
                            " reason_en, reason_ko) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                            "");
    enum store_rc rc = s ? STORE_OK : STORE_ERR;

    for (size_t i = 0; rc == STORE_OK && i < n; i++) {
        const char *verdict =
            v[i].verdict >= 0 ? store_dir_verdict_name((enum store_dir_verdict)v[i].verdict) : NULL;
        const char *vals[] = {v[i].dn, v[i].userid,    v[i].uri,      v[i].node,
                              verdict, v[i].reason_en, v[i].reason_ko};
        sqlite3_reset(s);
        for (int k = 0; k < 7; k++)
            sqlite3_bind_text(s, k + 1, vals[k], -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = store_fail(st, sqlite3_errcode(st->db), "staging a directory entry");
    }
    sqlite3_finalize(s);
    return rc;
}

static void read_entry(sqlite3_stmt *s, void *elem)
{
    struct store_dir_entry *e = elem;
    const unsigned char *verdict = sqlite3_column_text(s, 5);

    e->id = sqlite3_column_int64(s, 0);
    e->dn = store_col_str(s, 1);
    e->userid = store_col_str(s, 2);
    e->uri = store_col_str(s, 3);
    e->node = store_col_str_or_null(s, 4);
    e->verdict = verdict ? name_index(verdict_names, N_VERDICTS, verdict) : -1;
    e->reason_en = store_col_str_or_null(s, 6);
    e->reason_ko = store_col_str_or_null(s, 7);
    e->duplicate = sqlite3_column_int64(s, 8) != 0;
}

static void destroy_entry(void *elem)
{
    struct store_dir_entry *e = elem;

    free(e->dn);
    free(e->userid);
    free(e->uri);
    free(e->node);
    free(e->reason_en);
    free(e->reason_ko);
}

enum store_rc store_dir_entries_batch(struct store *st, int64_t after_id, int64_t limit,
                                      struct store_dir_entry **out, size_t *n)
{
    sqlite3_stmt *s =
        store_prepare_bound(st, "preparing a directory statement",
                            "SELECT e.id, e.dn, e.userid, e.uri, e.node, e.verdict, e.reason_en,"
                            " e.reason_ko, EXISTS (SELECT 1 FROM directory_entries d"
                            "  WHERE d.userid = e.userid AND d.id < e.id)"
                            " FROM directory_entries e WHERE e.id > ?1 ORDER BY e.id LIMIT ?2",
                            "ii", after_id, limit);

    *out = NULL;
    *n = 0;
    if (s == NULL)
        return STORE_ERR;
    /* store_collect finishes (resets) the statement; finalize it here. */
    enum store_rc rc = store_collect(st, s, "reading directory entries", sizeof(**out), read_entry,
                                     destroy_entry, (void **)out, n);
    sqlite3_finalize(s);
    return rc;
}

enum store_rc store_dir_entries_with(struct store *st, enum store_dir_verdict verdict,
                                     int64_t limit, struct store_dir_entry **out, size_t *n)
{
    sqlite3_stmt *s =
        store_prepare_bound(st, "preparing a directory statement",
                            "SELECT e.id, e.dn, e.userid, e.uri, e.node, e.verdict, e.reason_en,"
                            " e.reason_ko, 0 FROM directory_entries e WHERE e.verdict = ?1"
                            " ORDER BY e.id LIMIT ?2",
                            "ti", store_dir_verdict_name(verdict), limit);

    *out = NULL;
    *n = 0;
    if (s == NULL)
        return STORE_ERR;
    enum store_rc rc = store_collect(st, s, "reading directory verdicts", sizeof(**out), read_entry,
                                     destroy_entry, (void **)out, n);
    sqlite3_finalize(s);
    return rc;
}

enum store_rc store_dir_entries_set_verdicts(struct store *st, const struct store_dir_entry *v,
                                             size_t n)
{
    sqlite3_stmt *s =
        store_prepare_bound(st, "preparing a directory statement",
                            "UPDATE directory_entries SET verdict = ?2, reason_en = ?3,"
                            " reason_ko = ?4 WHERE id = ?1",
                            "");
    enum store_rc rc = s ? STORE_OK : STORE_ERR;

    for (size_t i = 0; rc == STORE_OK && i < n; i++) {
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, v[i].id);
        sqlite3_bind_text(s, 2, store_dir_verdict_name((enum store_dir_verdict)v[i].verdict), -1,
                          SQLITE_STATIC);
        sqlite3_bind_text(s, 3, v[i].reason_en, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, v[i].reason_ko, -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = store_fail(st, sqlite3_errcode(st->db), "recording a directory verdict");
    }
    sqlite3_finalize(s);
    return rc;
}

void store_dir_entries_free(struct store_dir_entry *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        destroy_entry(&v[i]);
    free(v);
}

/* ---- users ---- */

enum store_rc store_dir_mark_users(struct store *st, int64_t first_id, int64_t last_id)
{
    /* Driven from the batch's entries through the users' userid index: never a scan of users. */
    return run(st,
               store_prepare_bound(st, "preparing a directory statement",
                                   "UPDATE users SET source = 'directory' WHERE id IN (SELECT u.id"
                                   " FROM directory_entries e JOIN users u ON u.userid = e.userid"
                                   " WHERE e.id BETWEEN ?1 AND ?2"
                                   " AND e.verdict IN ('added', 'updated', 'unchanged')"
                                   " AND u.source <> 'directory')",
                                   "ii", first_id, last_id),
               "marking users from the directory");
}

static enum store_rc scalar(struct store *st, sqlite3_stmt *s, const char *what, int64_t *out)
{
    enum store_rc rc;

    if (s == NULL)
        return STORE_ERR;
    rc = store_scalar(st, s, what, out);
    sqlite3_finalize(s);
    return rc;
}

enum store_rc store_dir_count_users(struct store *st, int64_t *n)
{
    return scalar(st,
                  store_prepare_bound(st, "preparing a directory statement",
                                      "SELECT count(*) FROM users WHERE source = 'directory'", ""),
                  "counting users from the directory", n);
}

enum store_rc store_dir_any_user(struct store *st, bool *yes)
{
    int64_t n = 0;
    enum store_rc rc = scalar(
        st,
        store_prepare_bound(st, "preparing a directory statement",
                            "SELECT EXISTS (SELECT 1 FROM users WHERE source = 'directory')", ""),
        "looking for users from the directory", &n);

    *yes = n != 0;
    return rc;
}

enum store_rc store_user_from_directory(struct store *st, const char *userid, bool *yes)
{
    sqlite3_stmt *s = store_prepare_bound(
        st, "preparing a directory statement",
        "SELECT source = 'directory' FROM users WHERE userid = ?1", "t", userid);
    enum store_rc rc;

    *yes = false;
    if (s == NULL)
        return STORE_ERR;
    rc = store_row(st, s, "looking up a user's source");
    if (rc == STORE_OK)
        *yes = sqlite3_column_int64(s, 0) != 0;
    sqlite3_finalize(s);
    return rc;
}

/* Deletes the users in (after_id, last] from the directory that no entry names. */
static enum store_rc remove_range(struct store *st, int64_t after_id, int64_t last,
                                  int64_t *removed)
{
    enum store_rc rc =
        run(st,
            store_prepare_bound(st, "preparing a directory statement",
                                "INSERT INTO directory_entries (dn, userid, uri, verdict)"
                                " SELECT '', u.userid, u.directory_uri, 'removed' FROM users u"
                                " WHERE u.source = 'directory' AND u.id > ?1 AND u.id <= ?2"
                                " AND NOT EXISTS (SELECT 1 FROM directory_entries e"
                                "  WHERE e.userid = u.userid AND e.verdict IS NOT 'removed')",
                                "ii", after_id, last),
            "recording removed users");
    sqlite3_stmt *s;

    if (rc != STORE_OK)
        return rc;
    *removed = sqlite3_changes(st->db);
    if (*removed == 0)
        return STORE_OK;
    /* The same users as just recorded, through the userid index (never a scan of every
     * removal so far). The range is counted out and what stays back in. */
    s = store_prepare_bound(st, "preparing a directory statement",
                            "DELETE FROM users WHERE source = 'directory' AND id > ?1 AND id <= ?2"
                            " AND NOT EXISTS (SELECT 1 FROM directory_entries e"
                            "  WHERE e.userid = users.userid AND e.verdict IS NOT 'removed')",
                            "ii", after_id, last);
    rc = store_user_counts_shift(st, after_id, last, -1);
    if (rc == STORE_OK)
        rc = run(st, s, "removing users gone from the directory");
    else
        sqlite3_finalize(s);
    if (rc == STORE_OK)
        rc = store_user_counts_shift(st, after_id, last, 1);
    return rc == STORE_OK ? store_user_peers_stale(st) : rc;
}

enum store_rc store_dir_remove_batch(struct store *st, int64_t after_id, int64_t limit,
                                     int64_t *last, int64_t *looked, int64_t *removed)
{
    sqlite3_stmt *s;
    enum store_rc rc;

    *last = after_id;
    *looked = *removed = 0;
    if ((rc = store_atomic_begin(st)) != STORE_OK)
        return rc;
    s = store_prepare_bound(
        st, "preparing a directory statement",
        "SELECT max(id), count(*) FROM (SELECT id FROM users WHERE source = 'directory'"
        " AND id > ?1 ORDER BY id LIMIT ?2)",
        "ii", after_id, limit);
    rc = s ? store_row(st, s, "finding the next directory users") : STORE_ERR;
    if (rc == STORE_OK) {
        *looked = sqlite3_column_int64(s, 1);
        *last = *looked > 0 ? sqlite3_column_int64(s, 0) : after_id;
    }
    sqlite3_finalize(s);
    if (rc == STORE_OK && *looked > 0)
        rc = remove_range(st, after_id, *last, removed);
    rc = store_atomic_end(st, rc);
    if (rc != STORE_OK) {
        *last = after_id;
        *looked = *removed = 0;
    }
    return rc;
}
