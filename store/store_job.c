/* Long jobs: one row each, with state, old and new value, progress cursor and error. The
 * schema keeps at most one unfinished job and makes finished jobs final. */

#include "store/store_job.h"
#include "store/store_impl.h"

#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {
    [STORE_JOB_DEFAULT_DOMAIN] = "default-domain",
    [STORE_JOB_IM_SCHEME] = "im-scheme",
    [STORE_JOB_DIRECTORY_SYNC] = "directory-sync",
    [STORE_JOB_USER_IMPORT] = "user-import",
};

static const char *const state_names[] = {
    [STORE_JOB_RUNNING] = "running",           [STORE_JOB_FAILED] = "failed",
    [STORE_JOB_COMPLETED] = "completed",       [STORE_JOB_CANCELED] = "canceled",
    [STORE_JOB_ROLLING_BACK] = "rolling-back",
};

#define N_KINDS (sizeof(kind_names) / sizeof(kind_names[0]))
#define N_STATES (sizeof(state_names) / sizeof(state_names[0]))

const char *store_job_kind_name(enum store_job_kind kind)
{
    return (size_t)kind < N_KINDS ? kind_names[kind] : "unknown";
}

const char *store_job_state_name(enum store_job_state state)
{
    return (size_t)state < N_STATES ? state_names[state] : "unknown";
}

int store_job_kind_parse(const char *name, enum store_job_kind *out)
{
    int i = store_name_index(kind_names, N_KINDS, name);
    if (i < 0)
        return -1;
    *out = (enum store_job_kind)i;
    return 0;
}

int store_job_state_parse(const char *name, enum store_job_state *out)
{
    int i = store_name_index(state_names, N_STATES, name);
    if (i < 0)
        return -1;
    *out = (enum store_job_state)i;
    return 0;
}

bool store_job_state_active(enum store_job_state state)
{
    return state == STORE_JOB_RUNNING || state == STORE_JOB_FAILED ||
           state == STORE_JOB_ROLLING_BACK;
}

static void read_job(sqlite3_stmt *s, void *elem)
{
    struct store_job *j = elem;

    j->id = sqlite3_column_int64(s, 0);
    /* Only this build's names can be in the table: a newer schema is refused at open. */
    if (store_job_kind_parse((const char *)sqlite3_column_text(s, 1), &j->kind) == -1)
        j->kind = STORE_JOB_DEFAULT_DOMAIN;
    if (store_job_state_parse((const char *)sqlite3_column_text(s, 2), &j->state) == -1)
        j->state = STORE_JOB_FAILED;
    j->old_value = store_col_str_or_null(s, 3);
    j->new_value = store_col_str_or_null(s, 4);
    j->cursor = sqlite3_column_int64(s, 5);
    j->done = sqlite3_column_int64(s, 6);
    j->total = sqlite3_column_int64(s, 7);
    j->error = store_col_str_or_null(s, 8);
    j->attempts = sqlite3_column_int64(s, 9);
    j->created_at = sqlite3_column_int64(s, 10);
    j->updated_at = sqlite3_column_int64(s, 11);
}

static void destroy_job(void *elem)
{
    store_job_clear(elem);
}

static enum store_rc get_one(struct store *st, sqlite3_stmt *s, struct store_job *out)
{
    enum store_rc rc = store_row(st, s, "reading job");

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (rc != STORE_OK)
        return rc;
    if (out != NULL)
        read_job(s, out);
    store_stmt_done(s);
    return STORE_OK;
}

enum store_rc store_job_create(struct store *st, enum store_job_kind kind, const char *old_value,
                               const char *new_value, int64_t total, int64_t *id)
{
    sqlite3_stmt *s = store_stmt(st, STMT_JOB_INSERT, "ttti", store_job_kind_name(kind), old_value,
                                 new_value, total);
    enum store_rc rc = store_exec(st, s, "creating job", NULL);

    if (id != NULL)
        *id = rc == STORE_OK ? sqlite3_last_insert_rowid(st->db) : 0;
    return rc;
}

enum store_rc store_job_get(struct store *st, int64_t id, struct store_job *out)
{
    return get_one(st, store_stmt(st, STMT_JOB_GET, "i", id), out);
}

enum store_rc store_job_get_active(struct store *st, struct store_job *out)
{
    return get_one(st, store_stmt(st, STMT_JOB_GET_ACTIVE, ""), out);
}

enum store_rc store_job_progress(struct store *st, int64_t id, int64_t cursor, int64_t done)
{
    sqlite3_stmt *s = store_stmt(st, STMT_JOB_PROGRESS, "iii", id, cursor, done);
    return store_exec_one(st, s, "recording job progress");
}

enum store_rc store_job_set_state(struct store *st, int64_t id, enum store_job_state state,
                                  const char *error)
{
    sqlite3_stmt *s =
        store_stmt(st, STMT_JOB_SET_STATE, "itt", id, store_job_state_name(state), error);
    return store_exec_one(st, s, "changing job state");
}

enum store_rc store_job_update(struct store *st, const struct store_job *job)
{
    sqlite3_stmt *s =
        store_stmt(st, STMT_JOB_UPDATE, "itiiiti", job->id, store_job_state_name(job->state),
                   job->cursor, job->done, job->total, job->error, job->attempts);
    return store_exec_one(st, s, "updating job");
}

enum store_rc store_job_list(struct store *st, int64_t limit, struct store_job **out, size_t *n)
{
    sqlite3_stmt *s = store_stmt(st, STMT_JOB_LIST, "i", store_limit(limit));
    return store_collect(st, s, "listing jobs", sizeof(**out), read_job, destroy_job, (void **)out,
                         n);
}

void store_job_clear(struct store_job *job)
{
    if (job == NULL)
        return;
    free(job->old_value);
    free(job->new_value);
    free(job->error);
    memset(job, 0, sizeof(*job));
}

void store_job_list_free(struct store_job *list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        store_job_clear(&list[i]);
    free(list);
}
