/* directory/sync as a long job: read the directory page by page on the thread pool into
 * directory_entries (no user changes yet), stop for confirmation when far fewer users came back,
 * then apply the entries in batches on the loop exactly as users/import would (a verdict per
 * entry), remove the directory's users that no entry names (full runs only), run the sync audit
 * once and apply the router once. Every phase is recorded in the store, so a restart resumes:
 * a fetch starts over (LDAP paging cannot resume), the later phases go on from their cursor.
 *
 * Failure and its two ways out (jobs/status): a fetch that cannot reach or bind the directory
 * fails the job before anything changed (Retry reads again, Cancel ends it); the safety stop
 * fails it before anything changed (Retry = apply anyway, Cancel = discard); a store failure
 * while applying leaves the batches done so far (Retry goes on, Cancel stops there: the next
 * sync converges). */
#ifndef IMD_DIR_SYNC_H
#define IMD_DIR_SYNC_H

#include "component/app.h"
#include "store/store_directory.h"
#include "store/store_job.h"

#include <stdbool.h>
#include <stdint.h>

#define DIR_SYNC_BATCH 500              /* entries applied (or users looked at) per loop turn */
#define DIR_SYNC_OVERLAP_S 600          /* an incremental run re-reads this much before the last */
#define DIR_SYNC_ACTOR "directory-sync" /* the audit log's actor for scheduled runs */
#define DIR_SYNC_NODE "directory/sync"

/* Starts the schedule timer when [directory] schedule is set. NULL when no directory is
 * configured. `app` is borrowed. */
struct dir_sync *dir_sync_new(struct app *app);
/* Stops the timer; a fetch in flight ends without another page (NULL allowed). */
void dir_sync_stop(struct dir_sync *ds);
/* Frees; the loop must have run once after dir_sync_stop (NULL allowed). */
void dir_sync_free(struct dir_sync *ds);

/*
 * Inside the caller's transaction: creates a directory-sync job. An incremental run reads the
 * entries whose modifyTimestamp is after the latest one the last completed run read (the
 * server's clock, so no skew); it falls back to full when no completed run read any
 * modifyTimestamp (*mode_used says which). `confirmed`
 * skips the safety stop. STORE_CONFLICT: another job is unfinished. After the commit, kick the
 * job runner.
 */
enum store_rc dir_sync_create(struct app *app, enum store_dir_mode mode, bool confirmed,
                              int64_t *id, enum store_dir_mode *mode_used);

/* The job runner's step for a directory-sync job `j` (active, not failed): 1 while more batches
 * are due on the loop, 0 when the job waits (a fetch in flight) or ended. */
int dir_sync_step(struct app *app, struct store_job *j);

/* In job_retry / job_cancel's transaction, for a failed directory-sync job: Retry (cancel
 * false) reads again, applies anyway after the safety stop, or goes on; Cancel ends the job.
 * Writes the job (attempts, state). */
enum store_rc dir_sync_restart(struct store *st, struct store_job *j, bool cancel);

/* True when the failed job `j` stopped at the safety stop (Retry applies anyway). */
bool dir_sync_waits_confirmation(struct store *st, const struct store_job *j);

/* Adds labelled fields on run `j` (mode, server, entries read, each verdict count, rejected and
 * removed users with reasons) to `form`, for jobs/status and directory/sync. */
void dir_sync_add_fields(struct store *st, const struct store_job *j, form_t *form,
                         const char *lang);

/* One sentence on the job in `lang`, as job_describe() gives for other kinds (malloc'd). */
char *dir_sync_describe(const struct store_job *j, const char *lang);

/* Starts a full run now, as the schedule does (actor DIR_SYNC_ACTOR). 0 started, 1 skipped
 * (another job in flight; logged), -1 failed (logged). */
int dir_sync_scheduled(struct app *app);

#endif
