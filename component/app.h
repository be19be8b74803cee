/* What every command shares: the configuration, the loop, the store, the command registry and
 * the router apply, plus the few helpers that several commands need. The daemon owns the struct
 * and everything in it; commands borrow it for the life of the registry. */
#ifndef IMD_APP_H
#define IMD_APP_H

#include <stdbool.h>
#include <stdint.h>
#include <strophe.h>
#include <uv.h>

#include "component/engine/apply.h"
#include "component/config.h"
#include "store/store.h"
#include "xmpp/adhoc.h"
#include "xmpp/adhoc_outcome.h"

struct job_runner; /* component/engine/job.h */
struct sessions;   /* component/engine/sessions.h */
struct services;   /* component/engine/services.h */
struct peers;      /* component/engine/peers.h */
struct health;     /* component/engine/health.h */
struct dir_sync;   /* component/engine/dir_sync.h */

struct app {
    const struct config *cfg;
    uv_loop_t *loop;
    xmpp_ctx_t *ctx;
    struct store *store;
    adhoc_t *adhoc;
    apply_t *apply;          /* NULL when nothing is configured to apply to */
    struct job_runner *jobs; /* long jobs (default domain); NULL until started */
    struct dispatch *dispatch; /* iqs that commands send (federation/check); may be NULL */
    bool stopping;           /* set when the daemon stops: start no new work */
    struct sessions *sessions; /* presence sessions; NULL when not tracked (tests) */
    struct services *services; /* the control center's runs and hooks; NULL in tests */
    struct peers *peers;       /* intercluster peers (cmd_peers_register); may be NULL */
    struct health *health;     /* runtime state (router link, start time); NULL in tests */
    struct dir_sync *dirsync;  /* directory sync fetches and schedule; NULL in tests */
    /* Not (yet) the active instance: another may serve our JID on a shared store, so nothing
     * runs on a timer that writes shared state (jobs, the nightly audit, directory sync, peer
     * refreshes, checkpoints). The daemon clears it when this instance serves. */
    bool standby;
    /* user_imports.id of the upload a users/import session of this process is sending (parts
     * still to come), 0 when none (import_job.c): the one upload that is not left over from a
     * sender that went away. At most one: a second upload is refused while one is sent. */
    int64_t import_upload;
};

/* The actor string for the audit log: the bare JID of `requester` ("uid:N" for "uid:N/cK"). Caller
 * frees. */
char *app_actor(const char *requester);

/* Appends one audit record (errors are logged, never returned: the audit log must not make a
 * command fail after its change committed). `details` may be NULL. */
void app_audit(struct app *app, const char *requester, const char *node, int outcome,
               const char *details);

#endif
