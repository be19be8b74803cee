/* Rows of the procedures table: start, read, record the step, end. The schema keeps at most one
 * active run and makes ended runs final. */
#include "store/store_procedure.h"
#include "store/store_impl.h"

#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = {
    [STORE_PROC_ACTIVE] = "active",
    [STORE_PROC_DONE] = "done",
    [STORE_PROC_CANCELED] = "canceled",
};

#define N_STATES (sizeof(state_names) / sizeof(state_names[0]))

const char *store_proc_state_name(enum store_proc_state state)
{
    return (size_t)state < N_STATES ? state_names[state] : "unknown";
}

static void read_proc(sqlite3_stmt *s, struct store_procedure *p)
{
    int i;

    p->id = sqlite3_column_int64(s, 0);
    i = store_name_index(state_names, N_STATES, (const char *)sqlite3_column_text(s, 1));
    p->state = i < 0 ? STORE_PROC_CANCELED : (enum store_proc_state)i;
    p->step = sqlite3_column_int(s, 2);
    p->job_id = sqlite3_column_int64(s, 3);
    p->ha_groups = store_col_str(s, 4);
    p->actor = store_col_str(s, 5);
    p->created_at = sqlite3_column_int64(s, 6);
    p->updated_at = sqlite3_column_int64(s, 7);
}

static enum store_rc get_one(struct store *st, sqlite3_stmt *s, struct store_procedure *out)
{
    enum store_rc rc = store_row(st, s, "reading procedure");

    memset(out, 0, sizeof(*out));
    if (rc != STORE_OK)
        return rc;
    read_proc(s, out);
    store_stmt_done(s);
    return STORE_OK;
}

enum store_rc store_procedure_start(struct store *st, const char *actor, int64_t *id)
{
    sqlite3_stmt *s = store_stmt(st, STMT_PROC_INSERT, "t", actor ? actor : "");
    enum store_rc rc = store_exec(st, s, "starting procedure", NULL);

    if (id != NULL)
        *id = rc == STORE_OK ? sqlite3_last_insert_rowid(st->db) : 0;
    return rc;
}

enum store_rc store_procedure_get_active(struct store *st, struct store_procedure *out)
{
    return get_one(st, store_stmt(st, STMT_PROC_GET_ACTIVE, ""), out);
}

enum store_rc store_procedure_get(struct store *st, int64_t id, struct store_procedure *out)
{
    return get_one(st, store_stmt(st, STMT_PROC_GET, "i", id), out);
}

enum store_rc store_procedure_set_step(struct store *st, int64_t id, int step, int64_t job_id,
                                       const char *ha_groups)
{
    sqlite3_stmt *s = store_stmt(st, STMT_PROC_SET_STEP, "iirt", id, (int64_t)step, job_id,
                                 ha_groups ? ha_groups : "");
    return store_exec_one(st, s, "recording procedure step");
}

enum store_rc store_procedure_end(struct store *st, int64_t id, enum store_proc_state state)
{
    sqlite3_stmt *s = store_stmt(st, STMT_PROC_END, "it", id, store_proc_state_name(state));
    return store_exec_one(st, s, "ending procedure");
}

void store_procedure_clear(struct store_procedure *p)
{
    if (p == NULL)
        return;
    free(p->ha_groups);
    free(p->actor);
    memset(p, 0, sizeof(*p));
}
