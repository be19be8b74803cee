/* The control center: the guide's five services per node, their kinds (network services start,
 * stop and restart; feature services activate and deactivate), the stop and start orders and
 * dependencies, optional hooks ([services] start_hook/stop_hook/status_hook, argv, no shell,
 * with a timeout) and the record of what we stopped, so "start what we stopped" is one action. */
#ifndef IMD_SERVICES_H
#define IMD_SERVICES_H

#include <stdbool.h>
#include <stddef.h>

struct app;
struct services;

#define SERVICE_CPA "client-profile-agent"
#define SERVICE_SYNC_AGENT "sync-agent"
#define SERVICE_XCP_ROUTER "xcp-router"
#define SERVICE_SIP_PROXY "sip-proxy"
#define SERVICE_PRESENCE_ENGINE "presence-engine"
#define SERVICES_N 5
#define SERVICES_MAX_NODES 64 /* nodes one run may touch */

/* A row name in the store's service table marking "imdomaind stopped this service here" (the
 * prefix, then the service). Such rows are not services: listings skip them. */
#define SERVICES_MARK_PREFIX "stopped-by-imdomaind:"

enum service_kind { SERVICE_NETWORK, SERVICE_FEATURE };

enum service_op {
    SERVICE_OP_START,
    SERVICE_OP_STOP,
    SERVICE_OP_RESTART,
    SERVICE_OP_ACTIVATE,
    SERVICE_OP_DEACTIVATE,
    SERVICE_OP_STOP_ALL,      /* step 2: stop the network services, deactivate the features */
    SERVICE_OP_START_STOPPED, /* step 6: on the nodes where we stopped something, restart the
                                 network services, then activate what we deactivated */
    SERVICE_OP_COUNT
};

/* The guide's stop order (the network services, then the feature services) and start order
 * (the network services, router first, then the feature services). Static names. */
extern const char *const services_stop_order[SERVICES_N];
extern const char *const services_start_order[SERVICES_N];

enum service_kind services_kind(const char *service);
/* True for one of the five names (exact, lower-case). */
bool services_known(const char *service);
/* "running" / "activated" count as up; anything else (stopped, deactivated, failed, unknown)
 * as down. */
bool services_state_is_up(const char *state);
/* False when `service` is recorded down on any node (or the states cannot be read): what
 * depends on it waits. True when no node records it at all. */
bool services_up_everywhere(struct app *app, const char *service);
/* The state word for a service that is up or down: running/stopped or activated/deactivated. */
const char *services_state_word(const char *service, bool up);

const char *services_op_name(enum service_op op);
int services_op_parse(const char *name, enum service_op *out);

/* One action of a plan: bring `service` up or down. */
struct service_step {
    const char *service; /* static */
    bool up;
    bool restart; /* the stop half of a restart: nothing to do (and nothing said) when down */
};

/*
 * The ordered actions for `op` on `selected` services (NULL or 0: all five) on one node: stops
 * in the guide's stop order, pulling in the dependents (stopping xcp-router stops
 * client-profile-agent and sync-agent first); starts in the start order, pulling in the
 * dependencies; restart is the stop plan then the start plan. start/stop/restart apply to
 * network services only and activate/deactivate to feature services only: a mismatch returns
 * -1 with *why (static text in `lang`). START_STOPPED is planned per node by the caller with
 * op START over the marked services (feature services are activated). Returns the number of
 * steps written to out (room for 2 * SERVICES_N).
 */
int services_plan(enum service_op op, const char *const *selected, size_t nsel,
                  struct service_step *out, const char *lang, const char **why);

/* What happened to one service on one node. */
struct service_outcome {
    char *node, *service;
    bool ok;
    char *detail; /* "stopped", "already running", "failed: stop hook exited with status 1" */
};

/* Called once with every outcome (borrowed for the call). */
typedef void (*services_done_cb)(void *arg, const struct service_outcome *out, size_t n);

struct services *services_new(struct app *app);
/* Gives up running hooks (no callback; the run's arg_free, if any) and frees. */
void services_free(struct services *sv);

/* Called after a run that touched SERVICE_PRESENCE_ENGINE (it may be up or down anywhere now).
 * The presence sessions register here (sessions_new), so that this lower module needs no
 * knowledge of them. One listener; fn NULL removes it; `ud` borrowed. */
typedef void (*services_engine_fn)(void *ud);
void services_on_engine_changed(struct services *sv, services_engine_fn fn, void *ud);
/* A configured hook does not parse: the sentence (static + config), else NULL. */
const char *services_config_problem(const struct services *sv);
/* True when a run may finish later (a hook is configured). */
bool services_has_hooks(const struct services *sv);

/*
 * Runs `op` over `nodes` (names, borrowed) and `selected` services, node after node, each in
 * its plan's order; a failure skips the rest of that node's plan (reported as skipped) and the
 * other nodes go on. States and the "we stopped it" marks are written to the store after each
 * action. `cb` may be called before this returns (no hooks). Returns 0, or -1 with *why (static,
 * in `lang`) when nothing was started: a bad plan, or another run in progress.
 */
int services_run(struct services *sv, const char *const *nodes, size_t nn, enum service_op op,
                 const char *const *selected, size_t nsel, const char *lang,
                 services_done_cb cb, void *arg, const char **why);

/* services_run, plus `arg_free` (may be NULL): called with `arg` instead of `cb` when
 * services_free gives the run up before it ends (the daemon stops while a hook runs), so that
 * whatever `arg` holds is not lost. */
int services_run_owned(struct services *sv, const char *const *nodes, size_t nn,
                       enum service_op op, const char *const *selected, size_t nsel,
                       const char *lang, services_done_cb cb, void *arg,
                       void (*arg_free)(void *arg), const char **why);

/* Sets every service of `node` up (a new node), in the caller's transaction. */
int services_init_node(struct app *app, const char *node);

#endif
