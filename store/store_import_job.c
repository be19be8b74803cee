/* A large users/import in the store: its row in user_imports, its parts, its verdicts. Most
 * statements run a few times per slice, so they are prepared when used; the verdict insert runs
 * per line and is cached (STMT_IMPORT_VERDICT_ADD). */
#include "store/store_import_job.h"
#include "store/store_impl.h"

#include "util/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const phase_names[] = {
    [STORE_IMPORT_UPLOAD] = "upload",
    [STORE_IMPORT_APPLY] = "apply",
    [STORE_IMPORT_AUDIT] = "audit",
    [STORE_IMPORT_DONE] = "done",
};

#define N_PHASES (sizeof(phase_names) / sizeof(phase_names[0]))

const char *store_import_phase_name(enum store_import_phase p)
{
    return (size_t)p < N_PHASES ? phase_names[p] : "unknown";
}

/* Runs a one-off statement that returns no rows. */
static enum store_rc run(struct store *st, sqlite3_stmt *s, const char *what, int64_t *changes)
{
    enum store_rc rc;

    if (s == NULL)
        return STORE_ERR;
    rc = store_exec(st, s, what, changes);
    sqlite3_finalize(s);
    return rc;
}

enum store_rc store_import_create(struct store *st, const char *actor, const char *lang,
                                  bool edit_directory, bool audit, int64_t *id)
{
    enum store_rc rc =
        run(st,
            store_prepare_bound(st, "clearing old imports",
                                "DELETE FROM user_imports WHERE job_id IS NULL OR job_id NOT IN"
                                " (SELECT id FROM jobs WHERE state IN ('running', 'failed',"
                                " 'rolling-back'))",
                                ""),
            "clearing old imports", NULL);

    if (rc != STORE_OK)
        return rc;
    rc = run(st,
             store_prepare_bound(st, "creating an import",
                                 "INSERT INTO user_imports (actor, lang, edit_directory, audit,"
                                 " created_at) VALUES (?1, ?2, ?3, ?4, CAST(strftime('%s', 'now')"
                                 " AS INTEGER))",
                                 "ttii", actor ? actor : "", lang, (int64_t)edit_directory,
                                 (int64_t)audit),
             "creating an import", NULL);
    if (rc == STORE_OK && id)
        *id = sqlite3_last_insert_rowid(st->db);
    return rc;
}

enum store_rc store_import_discard_upload(struct store *st, int64_t id)
{
    return run(st,
               store_prepare_bound(st, "discarding an upload",
                                   "DELETE FROM user_imports WHERE phase = 'upload'"
                                   " AND (?1 <= 0 OR id = ?1)",
                                   "i", id),
               "discarding an upload", NULL);
}

enum store_rc store_import_discard_uploads_but(struct store *st, int64_t keep)
{
    return run(st,
               store_prepare_bound(st, "discarding uploads",
                                   "DELETE FROM user_imports WHERE phase = 'upload' AND id <> ?1",
                                   "i", keep),
               "discarding uploads", NULL);
}

enum store_rc store_import_uploading(struct store *st, int64_t *n)
{
    sqlite3_stmt *s = store_prepare_bound(
        st, "counting uploads", "SELECT count(*) FROM user_imports WHERE phase = 'upload'", "");
    enum store_rc rc;

    if (s == NULL)
        return STORE_ERR;
    rc = store_scalar(st, s, "counting uploads", n);
    sqlite3_finalize(s);
    return rc;
}

enum store_rc store_import_add_part(struct store *st, int64_t id, int64_t first_line, int64_t lines,
                                    const char *text, size_t len)
{
    int64_t changed = 0;
    /* The count first: it finds the upload, and no part is stored without one to hold it. */
    enum store_rc rc = run(st,
                           store_prepare_bound(st, "counting lines",
                                               "UPDATE user_imports SET lines = max(lines, ?2 + ?3"
                                               " - 1) WHERE id = ?1 AND phase = 'upload'",
                                               "iii", id, first_line, lines),
                           "counting lines", &changed);

    if (rc != STORE_OK)
        return rc;
    if (changed == 0)
        return STORE_NOTFOUND;
    sqlite3_stmt *s = store_prepare_bound(st, "storing a part",
                                          "INSERT INTO user_import_parts (import_id, first_line,"
                                          " lines, text) VALUES (?1, ?2, ?3, ?4)",
                                          "iii", id, first_line, lines);
    if (s == NULL)
        return STORE_ERR;
    int prc = sqlite3_bind_text(s, 4, text, (int)len, SQLITE_STATIC);
    if (prc != SQLITE_OK) {
        sqlite3_finalize(s);
        return store_fail(st, prc, "storing a part");
    }
    return run(st, s, "storing a part", NULL);
}

#define IMPORT_COLS                                                                                \
    "id, coalesce(job_id, 0), phase, lines, lang, actor, edit_directory, audit, canceled,"         \
    " cursor, added, updated, unchanged, removed, rejected, summary"

static enum store_rc get_where(struct store *st, const char *where, int64_t key,
                               struct store_import *r)
{
    char sql[256];
    enum store_rc rc;

    memset(r, 0, sizeof(*r));
    snprintf(sql, sizeof(sql), "SELECT " IMPORT_COLS " FROM user_imports WHERE %s = ?1", where);
    sqlite3_stmt *s = store_prepare_bound(st, "reading an import", sql, "i", key);
    if (s == NULL)
        return STORE_ERR;
    rc = store_row(st, s, "reading an import");
    if (rc == STORE_OK) {
        const char *phase = (const char *)sqlite3_column_text(s, 2);
        int p = store_name_index(phase_names, N_PHASES, phase ? phase : "");
        r->id = sqlite3_column_int64(s, 0);
        r->job_id = sqlite3_column_int64(s, 1);
        r->phase = p < 0 ? STORE_IMPORT_DONE : (enum store_import_phase)p;
        r->lines = sqlite3_column_int64(s, 3);
        r->lang = store_col_str_or_null(s, 4);
        r->actor = store_col_str(s, 5);
        r->edit_directory = sqlite3_column_int(s, 6) != 0;
        r->audit = sqlite3_column_int(s, 7) != 0;
        r->canceled = sqlite3_column_int(s, 8) != 0;
        r->cursor = sqlite3_column_int64(s, 9);
        for (int i = 0; i < STORE_IMPORT_COUNTS; i++)
            r->counts[i] = sqlite3_column_int64(s, 10 + i);
        r->summary = store_col_str_or_null(s, 15);
    }
    sqlite3_finalize(s);
    return rc;
}

enum store_rc store_import_get(struct store *st, int64_t id, struct store_import *out)
{
    return get_where(st, "id", id, out);
}

enum store_rc store_import_get_by_job(struct store *st, int64_t job_id, struct store_import *out)
{
    return get_where(st, "job_id", job_id, out);
}

enum store_rc store_import_update(struct store *st, const struct store_import *r)
{
    const int64_t *c = r->counts;

    return run(st,
               store_prepare_bound(st, "updating an import",
                                   "UPDATE user_imports SET job_id = nullif(?2, 0), phase = ?3,"
                                   " lines = ?4, cursor = ?5, added = ?6, updated = ?7,"
                                   " unchanged = ?8, removed = ?9, rejected = ?10,"
                                   " canceled = ?11, summary = ?12 WHERE id = ?1",
                                   "iitiiiiiiiit", r->id, r->job_id,
                                   store_import_phase_name(r->phase), r->lines, r->cursor, c[0],
                                   c[1], c[2], c[3], c[4], (int64_t)r->canceled, r->summary),
               "updating an import", NULL);
}

void store_import_clear(struct store_import *r)
{
    if (r == NULL)
        return;
    free(r->lang);
    free(r->actor);
    free(r->summary);
    memset(r, 0, sizeof(*r));
}

enum store_rc store_import_part_at(struct store *st, int64_t id, int64_t line, int64_t *first_line,
                                   int64_t *lines, char **text, size_t *len)
{
    sqlite3_stmt *s = store_prepare_bound(
        st, "reading a part",
        "SELECT first_line, lines, text FROM user_import_parts WHERE import_id = ?1"
        " AND first_line <= ?2 ORDER BY first_line DESC LIMIT 1",
        "ii", id, line);
    enum store_rc rc;

    if (s == NULL)
        return STORE_ERR;
    rc = store_row(st, s, "reading a part");
    if (rc == STORE_OK) {
        *first_line = sqlite3_column_int64(s, 0);
        *lines = sqlite3_column_int64(s, 1);
        if (line >= *first_line + *lines) {
            rc = STORE_NOTFOUND;
        } else {
            const void *t = sqlite3_column_text(s, 2);
            *len = (size_t)sqlite3_column_bytes(s, 2);
            *text = xmalloc(*len + 1);
            memcpy(*text, t ? t : "", *len);
            (*text)[*len] = '\0';
        }
    }
    sqlite3_finalize(s);
    return rc;
}

enum store_rc store_import_add_codes(struct store *st, int64_t id, int64_t first_line,
                                     const char *codes)
{
    return run(st,
               store_prepare_bound(st, "storing verdicts",
                                   "INSERT OR REPLACE INTO user_import_slices (import_id,"
                                   " first_line, codes) VALUES (?1, ?2, ?3)",
                                   "iit", id, first_line, codes),
               "storing verdicts", NULL);
}

enum store_rc store_import_add_verdict(struct store *st, int64_t id, int64_t line,
                                       const char *userid, const char *verdict, const char *reason)
{
    sqlite3_stmt *s = store_stmt(st, STMT_IMPORT_VERDICT_ADD, "iittt", id, line, userid, verdict,
                                 reason ? reason : "");

    return store_exec(st, s, "storing a verdict", NULL);
}

static void read_verdict(sqlite3_stmt *s, void *elem)
{
    struct store_import_verdict *v = elem;

    v->line = sqlite3_column_int64(s, 0);
    v->userid = store_col_str(s, 1);
    v->verdict = store_col_str(s, 2);
    v->reason = store_col_str(s, 3);
}

static void destroy_verdict(void *elem)
{
    struct store_import_verdict *v = elem;

    free(v->userid);
    free(v->verdict);
    free(v->reason);
}

enum store_rc store_import_verdicts(struct store *st, int64_t id, int64_t after, int64_t limit,
                                    struct store_import_verdict **out, size_t *n)
{
    sqlite3_stmt *s = store_prepare_bound(st, "reading verdicts",
                                          "SELECT line, userid, verdict, reason FROM"
                                          " user_import_verdicts WHERE import_id = ?1 AND line > ?2"
                                          " ORDER BY line LIMIT ?3",
                                          "iii", id, after, store_limit(limit));
    enum store_rc rc;

    *out = NULL;
    *n = 0;
    if (s == NULL)
        return STORE_ERR;
    rc = store_collect(st, s, "reading verdicts", sizeof(**out), read_verdict, destroy_verdict,
                       (void **)out, n);
    sqlite3_finalize(s);
    return rc;
}

void store_import_verdicts_free(struct store_import_verdict *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        destroy_verdict(&v[i]);
    free(v);
}
