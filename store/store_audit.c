/* The audit log: append one record per command outcome, list by time and actor, prune. */

#include "store/store_audit.h"
#include "store/store_impl.h"

#include <stdlib.h>
#include <string.h>

static const char *const outcome_names[] = {
    [STORE_OUTCOME_OK] = "ok",
    [STORE_OUTCOME_REFUSED] = "refused",
    [STORE_OUTCOME_ERROR] = "error",
    [STORE_OUTCOME_CANCELED] = "canceled",
};

#define N_OUTCOMES (sizeof(outcome_names) / sizeof(outcome_names[0]))

const char *store_outcome_name(enum store_outcome outcome)
{
    return (size_t)outcome < N_OUTCOMES ? outcome_names[outcome] : "unknown";
}

int store_outcome_parse(const char *name, enum store_outcome *out)
{
    int i = store_name_index(outcome_names, N_OUTCOMES, name);
    if (i < 0)
        return -1;
    *out = (enum store_outcome)i;
    return 0;
}

enum store_rc store_audit_append(struct store *st, int64_t time, const char *actor,
                                 const char *node, enum store_outcome outcome, const char *details,
                                 int64_t *id)
{
    sqlite3_stmt *s = store_stmt(st, STMT_AUDIT_APPEND, "itttt", time, actor, node,
                                 store_outcome_name(outcome), details != NULL ? details : "");
    enum store_rc rc = store_exec(st, s, "appending to the audit log", NULL);

    if (id != NULL)
        *id = rc == STORE_OK ? sqlite3_last_insert_rowid(st->db) : 0;
    return rc;
}

static void read_audit(sqlite3_stmt *s, void *elem)
{
    struct store_audit *a = elem;

    a->id = sqlite3_column_int64(s, 0);
    a->time = sqlite3_column_int64(s, 1);
    a->actor = store_col_str(s, 2);
    a->node = store_col_str(s, 3);
    if (store_outcome_parse((const char *)sqlite3_column_text(s, 4), &a->outcome) == -1)
        a->outcome = STORE_OUTCOME_ERROR; /* unreachable: the schema checks the value */
    a->details = store_col_str(s, 5);
}

static void destroy_audit(void *elem)
{
    store_audit_clear(elem);
}

enum store_rc store_audit_list(struct store *st, int64_t since, const char *actor, int64_t limit,
                               struct store_audit **out, size_t *n)
{
    sqlite3_stmt *s =
        store_stmt(st, STMT_AUDIT_LIST, "iti", since, store_opt(actor), store_limit(limit));
    return store_collect(st, s, "listing the audit log", sizeof(**out), read_audit, destroy_audit,
                         (void **)out, n);
}

enum store_rc store_audit_prune(struct store *st, int64_t before, int64_t *removed)
{
    int64_t ignored;
    sqlite3_stmt *s = store_stmt(st, STMT_AUDIT_PRUNE, "i", before);
    return store_exec(st, s, "pruning the audit log", removed != NULL ? removed : &ignored);
}

/* Prepared per call (status asks rarely): no slot in the statement table. The scan goes back
 * from the newest id and stops at the first match. */
enum store_rc store_audit_last(struct store *st, const char *node, struct store_audit *out)
{
    static const char sql[] = "SELECT id, time, actor, node, outcome, details FROM audit_log"
                              " WHERE node = ?1 ORDER BY id DESC LIMIT 1";
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    enum store_rc result;

    memset(out, 0, sizeof(*out));
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 1, node, -1, SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(s);
        return store_fail(st, rc, "reading the last audit record");
    }
    result = store_row(st, s, "reading the last audit record");
    if (result == STORE_OK)
        read_audit(s, out);
    sqlite3_finalize(s);
    return result;
}

void store_audit_clear(struct store_audit *rec)
{
    if (rec == NULL)
        return;
    free(rec->actor);
    free(rec->node);
    free(rec->details);
    memset(rec, 0, sizeof(*rec));
}

void store_audit_list_free(struct store_audit *list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        store_audit_clear(&list[i]);
    free(list);
}
