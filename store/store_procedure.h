/* The guided domain-change procedure's progress in the store (one row per run, at most one
 * active), so that it survives a daemon restart and can be resumed or canceled. The steps and
 * their rules live in component/engine/procedure.c. */
#ifndef IMD_STORE_PROCEDURE_H
#define IMD_STORE_PROCEDURE_H

#include "store/store.h"

#define STORE_PROC_STEP_FIRST 1
#define STORE_PROC_STEP_DONE 8 /* every one of the seven steps is done */

enum store_proc_state {
    STORE_PROC_ACTIVE,   /* "active": in progress, to resume */
    STORE_PROC_DONE,     /* "done": final */
    STORE_PROC_CANCELED, /* "canceled": final */
};

/* One run; strings malloc'd and owned by the struct (store_procedure_clear()). */
struct store_procedure {
    int64_t id;
    enum store_proc_state state;
    int step;        /* the first step not yet done, 1..8 */
    int64_t job_id;  /* the default-domain job step 3 started; 0: none */
    char *ha_groups; /* comma-separated groups whose HA step 1 turned off; "" for none */
    char *actor;     /* who started it */
    int64_t created_at, updated_at;
};

/* Starts a run at step 1 (`actor` borrowed). STORE_CONFLICT: one is active already. */
enum store_rc store_procedure_start(struct store *st, const char *actor, int64_t *id);
/* The active run, or STORE_NOTFOUND. */
enum store_rc store_procedure_get_active(struct store *st, struct store_procedure *out);
enum store_rc store_procedure_get(struct store *st, int64_t id, struct store_procedure *out);
/* Records progress of the active run `id` (ha_groups borrowed, NULL as ""). STORE_NOTFOUND: no
 * such active run; a step outside 1..8 is STORE_ERR (the schema's check). */
enum store_rc store_procedure_set_step(struct store *st, int64_t id, int step, int64_t job_id,
                                       const char *ha_groups);
/* Ends the active run `id` as done or canceled (final). */
enum store_rc store_procedure_end(struct store *st, int64_t id, enum store_proc_state state);

void store_procedure_clear(struct store_procedure *p);
/* "active" / "done" / "canceled" (static). */
const char *store_proc_state_name(enum store_proc_state state);

#endif
