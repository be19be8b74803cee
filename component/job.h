/* Long jobs (the default-domain change): run in batches on the loop, never blocking it, with
 * progress in the store so that a restart after a crash resumes or rolls back, never a mix. */
#ifndef IMD_JOB_H
#define IMD_JOB_H

#include "component/app.h"

/* Returns the runner, or NULL with the reason logged. `app` is borrowed. */
struct job_runner *job_runner_new(struct app *app);
/* At start-up: picks up a job the last run left active (resumes it or rolls it back). */
void job_runner_resume(struct job_runner *jr);
/* Stops scheduling batches (the job stays active in the store; NULL is allowed). */
void job_runner_stop(struct job_runner *jr);
/* Frees; the handles must have been closed by the loop (NULL is allowed). */
void job_runner_free(struct job_runner *jr);

#endif
