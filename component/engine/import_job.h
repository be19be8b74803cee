/* users/import as a job, for imports above [users] import_job_lines: the lines are kept in the
 * store (user_imports, as the admin sends them, in parts), then a job of kind user-import
 * applies them in slices on the job runner's idle turns, each slice one transaction bounded in
 * lines and time (IMPORT_SLICE_*), with its verdicts and the cursor. After the last line the sync
 * audit runs once, walking the domains in use (one index seek each, not every user), the job
 * completes in the same transaction and the router is applied once. A restart goes on from the
 * last slice; an upload the restart or a closed connection interrupted is discarded (nothing was
 * changed by it).
 *
 * Failure: a slice the store refuses fails the job with the lines before it applied. Retry goes
 * on from there; Cancel applies no more lines, runs the audit over what was applied (so the
 * domain set matches the users) and ends the job canceled. Applied lines are never undone: a
 * later import or users/import with -userid lines does that. */
#ifndef IMD_IMPORT_JOB_H
#define IMD_IMPORT_JOB_H

#include "component/app.h"
#include "store/store_job.h"
#include "xmpp/adhoc.h"

#include <stdbool.h>
#include <stddef.h>

#define IMPORT_SLICE_LINES 10000 /* lines applied per slice at most */
#define IMPORT_SLICE_MS 12       /* and milliseconds of CPU per slice, checked every few lines */
#define IMPORT_SLICE_WALL_MS 25  /* and of wall time (a busy machine's other processes) */
#define IMPORT_JOB_NODE "users/import"

/* users/import's submission when it goes the job's way: `values` (borrowed) hold `lines` lines
 * of one part. `more`: more parts follow in this session. Answers the call: a form again for the
 * next part, or (after the last) the job's progress, refreshed on next, then its verdicts.
 * `again` builds the form for the next part. The session's state holds the upload. */
void import_job_submit(adhoc_call_t *call, const char *const *values, size_t n, size_t lines,
                       bool more, form_t *(*again)(adhoc_call_t *call));

/* What this session does with an import job: 0 nothing, 1 it uploads parts (its next submission
 * goes to import_job_submit), 2 it follows the job it started (import_job_follow). */
int import_job_session(const adhoc_call_t *call);
/* A submission on the progress view: next refreshes (or completes with the verdicts once the
 * job ended), complete closes the view (the job goes on). */
void import_job_follow(adhoc_call_t *call);

/* The job runner's step for a user-import job `j` (active, not failed): 1 while more is due. */
int import_job_step(struct app *app, struct store_job *j);
/* In job_retry / job_cancel's transaction, for a failed user-import job (see above). */
enum store_rc import_job_restart(struct store *st, struct store_job *j, bool cancel);
/* When the runner resumes (at start-up, and when the instance becomes active): the uploads whose
 * sender went away (a restart, another instance that stopped) are discarded; the one a session
 * of this process still sends (app->import_upload) is kept. */
void import_job_startup(struct app *app);
/* Registers the user-import kind with the job runner (job_register_kind): the step, restart,
 * describe and startup above. Call before job_runner_resume(); cmd_users_register() does. */
void import_job_register_kind(void);

/* One sentence on `j` (malloc'd), and its fields (counts, first rejected lines) for jobs/status. */
char *import_job_describe(const struct store_job *j, const char *lang);
void import_job_add_fields(struct store *st, const struct store_job *j, form_t *form,
                           const char *lang);

#endif
