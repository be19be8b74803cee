/* Long jobs in the store (the default-domain change): their state, values, progress cursor and
 * error. The schema allows at most one unfinished job (running, failed or rolling-back). */
#ifndef IMD_STORE_JOB_H
#define IMD_STORE_JOB_H

#include "store/store.h"

enum store_job_kind {
    STORE_JOB_DEFAULT_DOMAIN, /* "default-domain": values are domain names */
    STORE_JOB_IM_SCHEME,      /* "im-scheme": values are scheme names (store_im_scheme_name) */
    STORE_JOB_DIRECTORY_SYNC, /* "directory-sync": old_value the mode (full, incremental), new_value
                               * the base DN; progress and phase in directory_runs */
    STORE_JOB_USER_IMPORT,    /* "user-import": a large users/import; old_value the actor,
                               * new_value the line count; progress in user_imports */
};

enum store_job_state {
    STORE_JOB_RUNNING,      /* "running" */
    STORE_JOB_FAILED,       /* "failed": waits for Retry or Cancel */
    STORE_JOB_COMPLETED,    /* "completed": final */
    STORE_JOB_CANCELED,     /* "canceled": final, rolled back */
    STORE_JOB_ROLLING_BACK, /* "rolling-back": Cancel in progress */
};

/* One job; the strings are malloc'd and owned by the struct (store_job_clear()). */
struct store_job {
    int64_t id; /* never reused */
    enum store_job_kind kind;
    enum store_job_state state;
    char *old_value; /* NULL when not set */
    char *new_value;
    int64_t cursor; /* the last user rowid processed */
    int64_t done;   /* items processed */
    int64_t total;  /* items expected */
    char *error;    /* NULL when none */
    int64_t attempts;
    int64_t created_at; /* unix seconds */
    int64_t updated_at;
};

/*
 * Creates a running job (attempts 1, cursor 0) and returns its id in *id (may be NULL).
 * Values are borrowed and may be NULL. STORE_CONFLICT when another job is unfinished.
 */
enum store_rc store_job_create(struct store *st, enum store_job_kind kind, const char *old_value,
                               const char *new_value, int64_t total, int64_t *id);

enum store_rc store_job_get(struct store *st, int64_t id, struct store_job *out);

/* The unfinished job, if any (STORE_NOTFOUND when there is none). */
enum store_rc store_job_get_active(struct store *st, struct store_job *out);

/* The hot path of a job step: cursor and done only. */
enum store_rc store_job_progress(struct store *st, int64_t id, int64_t cursor, int64_t done);

/* Moves a job to `state` with `error` (borrowed; NULL clears it). A finished job (completed,
 * canceled) never changes state again, and a second unfinished job is refused: both give
 * STORE_CONFLICT. */
enum store_rc store_job_set_state(struct store *st, int64_t id, enum store_job_state state,
                                  const char *error);

/* Writes state, cursor, done, total, error and attempts from *job (borrowed), by job->id; the
 * same refusals as store_job_set_state(). For Retry: attempts + 1, state running. */
enum store_rc store_job_update(struct store *st, const struct store_job *job);

/* The newest jobs first, at most `limit` (<= 0: all). Free with store_job_list_free(). */
enum store_rc store_job_list(struct store *st, int64_t limit, struct store_job **out, size_t *n);

void store_job_clear(struct store_job *job);
void store_job_list_free(struct store_job *list, size_t n);

/* Names as stored and shown ("default-domain", "rolling-back", ...), static; parsers return 0,
 * or -1 if unknown. */
const char *store_job_kind_name(enum store_job_kind kind);
const char *store_job_state_name(enum store_job_state state);
int store_job_kind_parse(const char *name, enum store_job_kind *out);
int store_job_state_parse(const char *name, enum store_job_state *out);

/* True for running, failed and rolling-back. */
bool store_job_state_active(enum store_job_state state);

#endif
