/* Placeholder until the job runner lands. */
#include "component/job.h"

#include "util/xmalloc.h"

#include <stdlib.h>

struct job_runner {
    struct app *app;
};

struct job_runner *job_runner_new(struct app *app)
{
    struct job_runner *jr = xcalloc(1, sizeof(*jr));
    jr->app = app;
    return jr;
}

void job_runner_resume(struct job_runner *jr)
{
    (void)jr;
}

void job_runner_stop(struct job_runner *jr)
{
    (void)jr;
}

void job_runner_free(struct job_runner *jr)
{
    free(jr);
}
