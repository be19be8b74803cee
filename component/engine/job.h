/* Long jobs (the default-domain change): run in batches on the loop, never blocking it, with
 * progress in the store so that a restart after a crash resumes or rolls back, never a mix.
 *
 * The rule that makes every state consistent: the cluster setting a job changes (the default
 * domain, or the IM address scheme) always holds the job's *target*. Creating a job switches it
 * to the new value in the same transaction; Cancel switches it back to the old value in the
 * transaction that starts the rollback. Each batch re-derives the IM addresses of the next users
 * (in rowid order) from the setting and records the cursor in the same transaction, and the last
 * batch marks the job finished. So users provisioned meanwhile get the target address, a crash
 * loses at most one uncommitted batch, and on restart the walk goes on in the same direction:
 * the end state is all-new (completed) or all-old (canceled). */
#ifndef IMD_JOB_H
#define IMD_JOB_H

#include "component/app.h"
#include "store/store_job.h"

#include <stdbool.h>
#include <stdint.h>

#define JOB_BATCH_ROWS 1000   /* users re-derived per transaction, one batch per loop turn */
#define JOB_RECENT_MAX 20     /* jobs jobs/status offers to pick from */
#define JOB_ACTOR "imdomaind" /* the actor of the audit records a job writes by itself */

/* A kind of job that its own module runs instead of the runner's batches (the directory sync,
 * a large users/import): that module registers how its jobs step, restart and read, so that the
 * runner, below it, needs no knowledge of it. `step` returns 1 while more is due on the loop,
 * else 0; `restart` runs in job_retry / job_cancel's transaction; `describe` returns a malloc'd
 * sentence; `startup` (may be NULL) runs in job_runner_resume() unless the app stands by, before
 * a job is picked up: at start-up and each time the instance becomes active, so it must spare
 * what this process is still doing. */
struct job_kind {
    int (*step)(struct app *app, struct store_job *j);
    enum store_rc (*restart)(struct store *st, struct store_job *j, bool cancel);
    char *(*describe)(const struct store_job *j, const char *lang);
    void (*startup)(struct app *app);
};
/* Registers `ops` (borrowed; a static const) for `kind`, for every runner of the process; a
 * second call for the same kind replaces the first. Call before the runner steps. */
void job_register_kind(enum store_job_kind kind, const struct job_kind *ops);

/* Returns the runner, or NULL with the reason logged. `app` is borrowed. */
struct job_runner *job_runner_new(struct app *app);
/* At start-up, and when the instance becomes active: picks up a job the last run (or the former
 * active instance) left active (resumes it or rolls it back). */
void job_runner_resume(struct job_runner *jr);
/* Stops scheduling batches (the job stays active in the store; NULL is allowed). Closes the
 * runner's loop handle; the loop must run once more before job_runner_free(). */
void job_runner_stop(struct job_runner *jr);
/* Frees; the handles must have been closed by the loop (NULL is allowed). */
void job_runner_free(struct job_runner *jr);

/* Rows per batch (1..STORE_USER_BATCH_MAX; others are ignored): for tests and benchmarks. */
void job_runner_set_batch(struct job_runner *jr, int64_t rows);

/*
 * Inside the caller's transaction (store_begin, after the preconditions were checked): creates a
 * job of `kind` that moves the setting from its current value to `new_value` (borrowed: a domain
 * name already checked and lower-cased, or a scheme name), and switches the setting at once.
 * STORE_CONFLICT: another job is unfinished (nothing created). *id (may be NULL) gets the id.
 * After the commit, call job_runner_kick().
 */
enum store_rc job_create(struct store *st, enum store_job_kind kind, const char *new_value,
                         int64_t *id);

/* Schedules batches for the active job (after job_create, retry or cancel committed). */
void job_runner_kick(struct job_runner *jr);

/* Runs one batch of the active job now, on the caller's stack. Returns 1 while more remains, 0
 * when nothing is left to do (finished, failed, waiting for Retry or Cancel, no job). */
int job_runner_step(struct job_runner *jr);

/* True while batches are scheduled on the loop. */
bool job_runner_busy(const struct job_runner *jr);

/*
 * Retry (job `id` failed): goes on from the stored cursor in the direction it was going
 * (forwards, or with the rollback if that failed), attempts + 1. Cancel (job `id` failed):
 * switches the setting back to the old value and re-derives every address with it
 * (rolling-back); a failed rollback just goes on rolling back. Each runs in its own transaction
 * and kicks the runner. STORE_NOTFOUND: no such job; STORE_CONFLICT: it is not failed.
 */
enum store_rc job_retry(struct job_runner *jr, int64_t id);
enum store_rc job_cancel(struct job_runner *jr, int64_t id);

/* True when the failed job `j` was rolling back when it failed (its setting holds the old
 * value again). */
bool job_failed_in_rollback(struct store *st, const struct store_job *j);

/* One sentence on `j` in `lang`: what it changes, its state and progress, its error. Caller
 * frees. E.g. "job 7, default domain a.example → b.example: running, 4000 of 20000 users
 * (20%), attempt 1". */
char *job_describe(const struct store_job *j, const char *lang);

/* The short label of `j` for a list: "#7 default-domain → b.example (running)". Caller frees. */
char *job_label(const struct store_job *j, const char *lang);

#endif
