/* The guide's seven-step domain change as a resumable state machine: which step comes next, the
 * live guard of each step (the rule and the remedy when it refuses), and the store transitions
 * that move the run on. The run lives in the store (store/store_procedure.h), so a restarted
 * daemon resumes at the step it stopped at. The forms are component/cmd/cmd_procedure.c. */
#ifndef IMD_PROCEDURE_H
#define IMD_PROCEDURE_H

#include <stdbool.h>
#include <stddef.h>

#include "component/app.h"
#include "component/engine/domain_change.h"
#include "component/engine/services.h"
#include "store/store_job.h"
#include "store/store_procedure.h"

enum proc_step {
    PROC_HA_OFF = 1,   /* disable HA, recording the sessions per node */
    PROC_STOP = 2,     /* stop every service on every node, in the guide's order */
    PROC_DOMAINS = 3,  /* default domain and/or add, rename, delete domains */
    PROC_CERT = 4,     /* regenerate cup-xmpp-s2s when TLS federation is on */
    PROC_START = 5,    /* start what step 2 stopped */
    PROC_SESSIONS = 6, /* wait for the sessions to come back to the recorded counts */
    PROC_HA_ON = 7,    /* enable HA again */
    PROC_FINISHED = STORE_PROC_STEP_DONE,
};
#define PROC_STEPS 7

/* "Disable high availability", ... for step 1..7 (static). */
const struct text *procedure_step_name(int step);

/*
 * Why step `step` of run `p` (NULL before the run exists) cannot run now, read live: NULL when
 * it may, else a malloc'd sentence in `lang` naming the rule and the remedy. Step 1 needs a
 * topology; 2 needs HA off and settled everywhere; 3 and 4 the domain-change preconditions
 * (HA off, services stopped, no job in flight); 5 no job in flight; 6 nothing; 7 the HA enable
 * guards (every service up; within 30 minutes, sessions back to the recorded counts).
 */
char *procedure_guard(struct app *app, const struct store_procedure *p, int step, const char *lang);

/* The active run into *out: STORE_OK, STORE_NOTFOUND (none), STORE_ERR. */
enum store_rc procedure_load(struct app *app, struct store_procedure *out);

/*
 * Step 1 in one transaction: starts the run (when `p` has no id yet; `actor` borrowed), disables
 * HA on every group that has it on (recording each node's sessions) and moves the run to step 2,
 * remembering those groups for step 7. *p is reloaded. STORE_CONFLICT: another run started.
 */
enum store_rc procedure_disable_ha(struct app *app, const char *actor, struct store_procedure *p);

/* Moves run `p` to `step` (job_id kept unless `job_id` >= 0) and reloads *p. */
enum store_rc procedure_advance(struct app *app, struct store_procedure *p, int step,
                                int64_t job_id);

/* Ends run `p` (done or canceled). Nothing is undone: a canceled run leaves HA and the services
 * as they are; procedure_leftovers() says what is left for the admin. */
enum store_rc procedure_end(struct app *app, struct store_procedure *p, enum store_proc_state how);

/* What a canceled run leaves behind, in `lang` (malloc'd), or NULL when nothing: the groups
 * whose HA it turned off that are still off, and the services imdomaind stopped. */
char *procedure_leftovers(struct app *app, const struct store_procedure *p, const char *lang);

/* ---- step 3 ---- */

/* The changes of step 3; names are checked (domain_rules) and lower-case. */
struct proc_changes {
    char default_domain[DOMAIN_NAME_BUF]; /* "" to keep it */
    char (*add)[DOMAIN_NAME_BUF];
    size_t nadd;
    struct domains_rename *rename;
    size_t nrename;
    char (*del)[DOMAIN_NAME_BUF];
    size_t ndel;
};
void procedure_changes_clear(struct proc_changes *c);
bool procedure_changes_empty(const struct proc_changes *c);

/*
 * Step 3 in one transaction: the domain-change preconditions again, then the adds, renames and
 * deletes (each with the rules of domains/add, update and delete), then the default-domain job
 * when asked, and the run moves on: to step 4, or stays at 3 with the job to wait for. Returns
 * DOMAINS_WORK_DONE (committed; *job_id gets the job or 0), _REFUSED with *why (nothing
 * changed), or _FAILED (store error, nothing changed). Kick the job runner afterwards.
 */
enum domains_work procedure_change_domains(struct app *app, struct store_procedure *p,
                                           const struct proc_changes *c, const char *lang,
                                           char **why, int64_t *job_id);

/* Step 3 waiting for its job: 1 while it is unfinished (*j filled; clear it), 0 when it ended
 * or there is none (the run moved to step 4), -1 on a store error. */
int procedure_job_wait(struct app *app, struct store_procedure *p, struct store_job *j);

/* ---- steps 2 and 5 ---- */

/* Called once when a services run of the procedure ends: the run moved on when `ok` (every
 * action succeeded and the store recorded the next step). `unrecorded` is NULL, or when every
 * action succeeded but the store could not read the run or record the move, what the admin
 * reads of that (in the run's language; `ok` is then false). Both it and the outcomes are
 * borrowed for the call. */
typedef void (*procedure_services_cb)(void *arg, bool ok, const char *unrecorded,
                                      const struct service_outcome *out, size_t n);

/* Step 2 (`up` false: stop everything on every node) or 5 (`up`: start what we stopped). `cb`
 * may be called before this returns. -1 with *why (static, in `lang`) when nothing started.
 * `arg_free` (may be NULL) gets `arg` instead of `cb` when the daemon stops before the run
 * ends. */
int procedure_run_services(struct app *app, const struct store_procedure *p, bool up,
                           const char *lang, procedure_services_cb cb, void *arg,
                           void (*arg_free)(void *arg), const char **why);

/* ---- steps 6 and 7 ---- */

/* One line per node: "node a.example.test: 3 sessions, 3 recorded" (malloc'd array of malloc'd
 * lines, *n of them; free with procedure_lines_free). */
char **procedure_session_lines(struct app *app, size_t *n);
void procedure_lines_free(char **lines, size_t n);

/* Step 7: the guards again, then HA on for the groups step 1 turned off, and the run is done.
 * NULL when done; else the refusal (malloc'd, nothing changed). */
char *procedure_enable_ha(struct app *app, struct store_procedure *p, const char *lang);

#endif
