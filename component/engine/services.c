/* The control center: plans (orders and dependencies), hooks run one at a time on the loop,
 * states and "stopped by us" marks written after each action. */
#include "component/engine/services.h"

#include "component/app.h"
#include "component/engine/hook.h"
#include "store/store_topo.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <stdlib.h>
#include <string.h>

/* The guide ("Deactivate IM and Presence services"): stop Cisco Client Profile Agent, Cisco
 * Sync Agent and Cisco XCP Router, and only then deactivate Cisco SIP Proxy and Cisco Presence
 * Engine. */
const char *const services_stop_order[SERVICES_N] = {
    SERVICE_CPA, SERVICE_SYNC_AGENT, SERVICE_XCP_ROUTER, SERVICE_SIP_PROXY, SERVICE_PRESENCE_ENGINE,
};

/* The guide ("Start IM and Presence services"): the three network services first (restarted),
 * then the two feature services activated. Among the network services the router comes first
 * because the other two run on it (the guide restarts the three at once). */
const char *const services_start_order[SERVICES_N] = {
    SERVICE_XCP_ROUTER, SERVICE_CPA, SERVICE_SYNC_AGENT, SERVICE_SIP_PROXY, SERVICE_PRESENCE_ENGINE,
};

/* Who needs whom: the XCP services run on the router. */
static const struct {
    const char *service, *needs;
} dependencies[] = {
    {SERVICE_CPA, SERVICE_XCP_ROUTER},
    {SERVICE_SYNC_AGENT, SERVICE_XCP_ROUTER},
};

#define N_DEPS (sizeof(dependencies) / sizeof(dependencies[0]))

static const char *const op_names[SERVICE_OP_COUNT] = {
    [SERVICE_OP_START] = "start",
    [SERVICE_OP_STOP] = "stop",
    [SERVICE_OP_RESTART] = "restart",
    [SERVICE_OP_ACTIVATE] = "activate",
    [SERVICE_OP_DEACTIVATE] = "deactivate",
    [SERVICE_OP_STOP_ALL] = "stop-all",
    [SERVICE_OP_START_STOPPED] = "start-stopped",
};

static int order_of(const char *service)
{
    for (int i = 0; i < SERVICES_N; i++)
        if (strcmp(services_stop_order[i], service) == 0)
            return i;
    return -1;
}

bool services_known(const char *service)
{
    return service != NULL && order_of(service) >= 0;
}

enum service_kind services_kind(const char *service)
{
    return strcmp(service, SERVICE_SIP_PROXY) == 0 || strcmp(service, SERVICE_PRESENCE_ENGINE) == 0
               ? SERVICE_FEATURE
               : SERVICE_NETWORK;
}

bool services_state_is_up(const char *state)
{
    return state != NULL && (strcmp(state, "running") == 0 || strcmp(state, "activated") == 0);
}

bool services_up_everywhere(struct app *app, const char *service)
{
    struct store_service *v = NULL;
    size_t n = 0;
    bool up = true;

    if (store_service_list(app->store, NULL, &v, &n) != STORE_OK) {
        log_warnx("services: cannot read states: %s", store_errmsg(app->store));
        return false;
    }
    for (size_t i = 0; i < n; i++)
        up &= strcmp(v[i].service, service) != 0 || services_state_is_up(v[i].state);
    store_service_list_free(v, n);
    return up;
}

const char *services_state_word(const char *service, bool up)
{
    if (services_kind(service) == SERVICE_FEATURE)
        return up ? "activated" : "deactivated";
    return up ? "running" : "stopped";
}

const char *services_op_name(enum service_op op)
{
    return (unsigned)op < SERVICE_OP_COUNT ? op_names[op] : "unknown";
}

int services_op_parse(const char *name, enum service_op *out)
{
    for (int i = 0; i < SERVICE_OP_COUNT; i++)
        if (name != NULL && strcmp(op_names[i], name) == 0)
            return *out = (enum service_op)i, 0;
    return -1;
}

/* ---- plans ---- */

/* Adds to `set` what must go along: dependents when stopping, dependencies when starting. */
static void close_over_dependencies(bool set[SERVICES_N], bool up)
{
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t i = 0; i < N_DEPS; i++) {
            int s = order_of(dependencies[i].service), n = order_of(dependencies[i].needs);
            int from = up ? s : n, to = up ? n : s;
            if (set[from] && !set[to])
                set[to] = changed = true;
        }
    }
}

/* The steps for the services in `set` (indexed by stop order), in the stop or start order. */
static int emit(const bool set[SERVICES_N], bool up, struct service_step *out)
{
    const char *const *order = up ? services_start_order : services_stop_order;
    int k = 0;

    for (int i = 0; i < SERVICES_N; i++)
        if (set[order_of(order[i])])
            out[k++] = (struct service_step){order[i], up, false};
    return k;
}

/* Whether `op` suits the kind of every selected service. */
static bool kinds_match(enum service_op op, const bool set[SERVICES_N])
{
    bool feature_op = op == SERVICE_OP_ACTIVATE || op == SERVICE_OP_DEACTIVATE;

    if (op == SERVICE_OP_STOP_ALL)
        return true;
    for (int i = 0; i < SERVICES_N; i++)
        if (set[i] && (services_kind(services_stop_order[i]) == SERVICE_FEATURE) != feature_op)
            return false;
    return true;
}

int services_plan(enum service_op op, const char *const *selected, size_t nsel,
                  struct service_step *out, const char *lang, const char **why)
{
    bool set[SERVICES_N] = {0}, ko = i18n_is_korean(lang);
    bool up = op == SERVICE_OP_START || op == SERVICE_OP_ACTIVATE;
    int k;

    for (size_t i = 0; i < nsel; i++) {
        if (!services_known(selected[i]))
            return *why = ko ? "알 수 없는 서비스입니다" : "unknown service", -1;
        set[order_of(selected[i])] = true;
    }
    if (nsel == 0 || op == SERVICE_OP_STOP_ALL)
        memset(set, 1, sizeof(set));
    if (!kinds_match(op, set))
        return *why = ko ? "start, stop, restart는 네트워크 서비스(client-profile-agent, "
                           "sync-agent, xcp-router)에만, activate, deactivate는 기능 서비스"
                           "(sip-proxy, presence-engine)에만 쓸 수 있습니다"
                         : "start, stop and restart apply to the network services "
                           "(client-profile-agent, sync-agent, xcp-router), activate and "
                           "deactivate to the feature services (sip-proxy, presence-engine)",
               -1;
    if (op == SERVICE_OP_START_STOPPED)
        return *why = "start-stopped is planned per node", -1;
    close_over_dependencies(set, up);
    k = emit(set, up, out);
    if (op == SERVICE_OP_RESTART)
        k += emit(set, true, out + k);
    return k;
}

/* ---- runs ---- */

struct run_item {
    const char *node; /* into run->nodes */
    struct service_step step;
};

struct services {
    struct app *app;
    char **argv[2]; /* split stop_hook, start_hook templates; NULL when not configured */
    char **status_argv;
    const char *problem;
    struct run *run; /* the one in progress, or NULL */
    services_engine_fn on_engine; /* services_on_engine_changed */
    void *on_engine_ud;
};

struct run {
    struct services *sv;
    char **nodes;
    size_t nn;
    struct run_item *items;
    size_t nitems, next;
    struct service_outcome *out;
    size_t nout;
    const char *failed_node; /* the node whose plan stopped after a failure */
    bool checking_status;    /* the status hook runs after a failed action */
    hook_t *hook;
    services_done_cb cb;
    void *arg;
    void (*arg_free)(void *arg); /* when the run is given up; may be NULL */
};

static char **split_hook(const char *conf, const char **problem, const char *what)
{
    char **argv = NULL, *err = NULL;
    size_t argc = 0;

    if (conf == NULL || conf[0] == '\0')
        return NULL;
    if (hook_split_argv(conf, &argv, &argc, &err) < 0 || argc == 0) {
        log_error("[services] %s: %s", what, err ? err : "empty");
        *problem = what;
        free(err);
        hook_free_argv(argv);
        return NULL;
    }
    return argv;
}

struct services *services_new(struct app *app)
{
    struct services *sv = xcalloc(1, sizeof(*sv));
    const struct config *cfg = app->cfg;

    sv->app = app;
    if (cfg != NULL) {
        sv->argv[0] = split_hook(cfg->stop_hook, &sv->problem, "stop_hook does not parse");
        sv->argv[1] = split_hook(cfg->start_hook, &sv->problem, "start_hook does not parse");
        sv->status_argv =
            split_hook(cfg->status_hook, &sv->problem, "status_hook does not parse");
    }
    return sv;
}

void services_on_engine_changed(struct services *sv, services_engine_fn fn, void *ud)
{
    sv->on_engine = fn;
    sv->on_engine_ud = ud;
}

const char *services_config_problem(const struct services *sv)
{
    return sv->problem;
}

bool services_has_hooks(const struct services *sv)
{
    return sv->argv[0] || sv->argv[1] || sv->status_argv;
}

static void run_free(struct run *r)
{
    for (size_t i = 0; i < r->nn; i++)
        free(r->nodes[i]);
    for (size_t i = 0; i < r->nout; i++) {
        free(r->out[i].node);
        free(r->out[i].service);
        free(r->out[i].detail);
    }
    free(r->nodes);
    free(r->items);
    free(r->out);
    free(r);
}

void services_free(struct services *sv)
{
    if (sv == NULL)
        return;
    if (sv->run != NULL) {
        hook_cancel(sv->run->hook);
        if (sv->run->arg_free != NULL) /* given up: no outcome, only the caller's arg */
            sv->run->arg_free(sv->run->arg);
        run_free(sv->run);
    }
    hook_free_argv(sv->argv[0]);
    hook_free_argv(sv->argv[1]);
    hook_free_argv(sv->status_argv);
    free(sv);
}

static void record(struct run *r, const struct run_item *it, bool ok, char *detail)
{
    r->out = xrealloc(r->out, (r->nout + 1) * sizeof(*r->out));
    r->out[r->nout++] = (struct service_outcome){
        .node = xstrdup(it->node), .service = xstrdup(it->step.service), .ok = ok,
        .detail = detail};
}

/* The word for an action in hooks and notes: start/stop or activate/deactivate. */
static const char *action_word(const struct service_step *st)
{
    if (services_kind(st->service) == SERVICE_FEATURE)
        return st->up ? "activate" : "deactivate";
    return st->up ? "start" : "stop";
}

/* Writes the state and the mark (set when we bring a running service down, cleared when we
 * bring it up) together: a state without its mark would keep step 5 of a domain change from
 * starting a service it stopped. In a transaction of its own, or in the caller's (whose
 * commit or rollback then decides). False when the store failed: nothing is written, and
 * `why` (may be NULL) gets sqlite's reason. */
static bool write_state(struct app *app, const struct run_item *it, bool up, bool was_up,
                        char why[256])
{
    struct store *st = app->store;
    bool own = !store_in_transaction(st), ok;
    char mark[96], reason[256];

    snprintf(mark, sizeof(mark), SERVICES_MARK_PREFIX "%s", it->step.service);
    ok = (!own || store_begin(st) == STORE_OK) &&
         store_service_set(st, it->node, it->step.service,
                           services_state_word(it->step.service, up)) == STORE_OK &&
         (up ? store_service_delete(st, it->node, mark) != STORE_ERR
             : !was_up || store_service_set(st, it->node, mark, "1") == STORE_OK) &&
         (!own || store_commit(st) == STORE_OK);
    if (ok)
        return true;
    /* the reason before a rollback can replace it */
    snprintf(reason, sizeof(reason), "%s", store_errmsg(st));
    log_warnx("services: cannot record %s on %s: %s", it->step.service, it->node, reason);
    if (own && store_rollback(st) != STORE_OK)
        log_warnx("services: rollback failed: %s", store_errmsg(st));
    if (why != NULL)
        snprintf(why, 256, "%s", reason);
    return false;
}

/* An action went through (or, without hooks, is only to be recorded): its outcome, failed
 * when the store could not record it, so that the run's caller does not take the store for
 * right. The rest of the node's plan goes on (the action itself happened: the start half of a
 * restart must not be skipped); running it again records it. */
static void record_done(struct run *r, const struct run_item *it, bool was_up, bool hooked)
{
    const char *word = services_state_word(it->step.service, it->step.up);
    char why[256];

    if (write_state(r->sv->app, it, it->step.up, was_up, why)) {
        record(r, it, true, xstrdup(word));
        return;
    }
    record(r, it, false,
           hooked ? xasprintf("%s, but the store could not record it (%s)", word, why)
                  : xasprintf("not recorded as %s: the store failed (%s)", word, why));
}

/* The recorded state of the item's service: 1 up, 0 down, -1 none recorded, -2 the store could
 * not be read. */
static int recorded_state(struct app *app, const struct run_item *it)
{
    struct store_service cur = {0};
    enum store_rc rc = store_service_get(app->store, it->node, it->step.service, &cur);
    int state = rc == STORE_OK ? services_state_is_up(cur.state) : rc == STORE_NOTFOUND ? -1 : -2;

    store_service_clear(&cur);
    return state;
}

/* Replaces {node}, {service} and {operation} in each word of `tmpl`. Caller frees. */
static char **expand(char **tmpl, const struct run_item *it)
{
    size_t n = 0;
    char **argv;

    while (tmpl[n] != NULL)
        n++;
    argv = xcalloc(n + 1, sizeof(*argv));
    for (size_t i = 0; i < n; i++) {
        const char *vals[] = {it->node, it->step.service, action_word(&it->step)};
        const char *keys[] = {"{node}", "{service}", "{operation}"};
        char *w = xstrdup(tmpl[i]);
        for (size_t k = 0; k < 3; k++) {
            char *at;
            while ((at = strstr(w, keys[k])) != NULL) {
                char *nw = xasprintf("%.*s%s%s", (int)(at - w), w, vals[k], at + strlen(keys[k]));
                free(w);
                w = nw;
            }
        }
        argv[i] = w;
    }
    return argv;
}

static void step_next(struct run *r);

static void finish(struct run *r)
{
    struct services *sv = r->sv;
    bool engine = false;

    for (size_t i = 0; i < r->nout; i++)
        engine |= strcmp(r->out[i].service, SERVICE_PRESENCE_ENGINE) == 0;
    sv->run = NULL;
    if (engine && sv->on_engine != NULL)
        sv->on_engine(sv->on_engine_ud);
    r->cb(r->arg, r->out, r->nout);
    run_free(r);
}

static void on_hook_done(const struct hook_result *res, void *arg);

static bool start_hook(struct run *r, char **tmpl, const struct run_item *it, char **err)
{
    char **argv = expand(tmpl, it);
    struct hook_opts o = {.timeout_ms = (unsigned)r->sv->app->cfg->service_hook_timeout * 1000u};

    r->hook = hook_run(r->sv->app->loop, (const char *const *)argv, &o, on_hook_done, r, err);
    hook_free_argv(argv);
    return r->hook != NULL;
}

/* A failed action: the status hook (when configured) says whether the service runs. */
static void after_failure(struct run *r, const struct run_item *it, char *why)
{
    char *err = NULL;

    r->failed_node = it->node;
    record(r, it, false, why);
    if (r->sv->status_argv != NULL && !r->checking_status) {
        r->checking_status = true;
        if (start_hook(r, r->sv->status_argv, it, &err))
            return;
        /* No status answer is coming: the next hook to end is an action's, not this one's. */
        r->checking_status = false;
        log_warnx("services: status hook: %s", err);
        free(err);
    }
    /* Without a status answer a failed start leaves the service down; a failed stop leaves
     * it as it was. */
    if (it->step.up)
        (void)write_state(r->sv->app, it, false, false, NULL);
    r->next++;
    step_next(r);
}

static void on_hook_done(const struct hook_result *res, void *arg)
{
    struct run *r = arg;
    const struct run_item *it = &r->items[r->next];
    bool ok = !res->timed_out && res->term_signal == 0 && res->exit_status == 0;
    char *desc;

    r->hook = NULL;
    if (r->checking_status) {
        (void)write_state(r->sv->app, it, ok, false, NULL);
        r->checking_status = false;
        r->next++;
        step_next(r);
        return;
    }
    if (ok) {
        record_done(r, it, !it->step.up, true);
        r->next++;
        step_next(r);
        return;
    }
    desc = hook_result_describe(res);
    after_failure(r, it, xasprintf("failed: %s hook %s", action_word(&it->step), desc));
    free(desc);
}

/* Runs items from r->next on until one waits for a hook or all are done. */
static void step_next(struct run *r)
{
    for (; r->next < r->nitems; r->next++) {
        const struct run_item *it = &r->items[r->next];
        char **tmpl = r->sv->argv[it->step.up ? 1 : 0], *err = NULL;
        bool known, up;
        int state;

        if (r->failed_node != NULL && strcmp(r->failed_node, it->node) == 0) {
            record(r, it, false, xstrdup("skipped: an earlier step failed on this node"));
            continue;
        }
        state = recorded_state(r->sv->app, it);
        if (state == -2 && tmpl == NULL) {
            /* Without a hook the action is the record, and whether to mark the service as
             * stopped by us depends on the state it had. */
            r->failed_node = it->node;
            record(r, it, false,
                   xasprintf("not done: the store could not be read (%s)",
                             store_errmsg(r->sv->app->store)));
            continue;
        }
        known = state >= 0;
        up = state == 1;
        if (known && up == it->step.up && it->step.restart)
            continue; /* the stop half of a restart of a service that is down: a start */
        if (known && up == it->step.up) {
            record(r, it, true, xasprintf("already %s",
                                          services_state_word(it->step.service, up)));
            continue;
        }
        if (tmpl == NULL) {
            record_done(r, it, up, false);
            continue;
        }
        if (start_hook(r, tmpl, it, &err))
            return;
        after_failure(r, it, xasprintf("failed: %s", err));
        free(err);
        return;
    }
    finish(r);
}

static void add_items(struct run *r, const char *node, const struct service_step *steps, int n)
{
    r->items = xrealloc(r->items, (r->nitems + (size_t)n + 1) * sizeof(*r->items));
    for (int i = 0; i < n; i++)
        r->items[r->nitems++] = (struct run_item){node, steps[i]};
}

/* START_STOPPED on one node where we stopped something: the guide's step 6, restart the three
 * network services (a service that is down is simply started; one that runs is stopped, its
 * dependents first, and started again), then activate the feature services we deactivated. */
static int plan_stopped(struct app *app, const char *node, struct service_step *out)
{
    struct store_service *v = NULL;
    size_t n = 0;
    bool set[SERVICES_N] = {0}, net[SERVICES_N] = {0}, any_net = false;
    int k;

    if (store_service_list(app->store, node, &v, &n) != STORE_OK)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *name = v[i].service + strlen(SERVICES_MARK_PREFIX);
        if (strncmp(v[i].service, SERVICES_MARK_PREFIX, strlen(SERVICES_MARK_PREFIX)) == 0 &&
            services_known(name))
            set[order_of(name)] = true;
    }
    store_service_list_free(v, n);
    for (int i = 0; i < SERVICES_N; i++)
        if (services_kind(services_stop_order[i]) == SERVICE_NETWORK) {
            any_net |= set[i];
            net[i] = true;
            set[i] = false;
        }
    k = 0;
    if (any_net) {
        k = emit(net, false, out);
        for (int i = 0; i < k; i++)
            out[i].restart = true;
        k += emit(net, true, out + k);
    }
    return k + emit(set, true, out + k);
}

int services_run(struct services *sv, const char *const *nodes, size_t nn, enum service_op op,
                 const char *const *selected, size_t nsel, const char *lang,
                 services_done_cb cb, void *arg, const char **why)
{
    return services_run_owned(sv, nodes, nn, op, selected, nsel, lang, cb, arg, NULL, why);
}

int services_run_owned(struct services *sv, const char *const *nodes, size_t nn,
                       enum service_op op, const char *const *selected, size_t nsel,
                       const char *lang, services_done_cb cb, void *arg,
                       void (*arg_free)(void *arg), const char **why)
{
    struct service_step steps[2 * SERVICES_N];
    struct run *r;
    int k = 0;

    if (sv->run != NULL)
        return *why = i18n_is_korean(lang) ? "다른 서비스 작업이 진행 중입니다. 끝난 뒤 다시 "
                                             "하세요"
                                           : "another services run is in progress; try again "
                                             "when it ends",
               -1;
    if (op != SERVICE_OP_START_STOPPED &&
        (k = services_plan(op, selected, nsel, steps, lang, why)) < 0)
        return -1;
    r = xcalloc(1, sizeof(*r));
    r->sv = sv;
    r->cb = cb;
    r->arg = arg;
    r->arg_free = arg_free;
    r->nodes = xcalloc(nn ? nn : 1, sizeof(*r->nodes));
    r->items = xcalloc(1, sizeof(*r->items));
    for (size_t i = 0; i < nn; i++) {
        r->nodes[r->nn++] = xstrdup(nodes[i]);
        if (op == SERVICE_OP_START_STOPPED && (k = plan_stopped(sv->app, nodes[i], steps)) < 0) {
            /* Nothing to start is not the same as not knowing what we stopped: the run would
             * end "done" with services left down. */
            log_warnx("services: cannot read what was stopped on %s: %s", nodes[i],
                      store_errmsg(sv->app->store));
            run_free(r);
            return *why = i18n_is_korean(lang) ? "저장소에서 멈춘 서비스를 읽을 수 없습니다"
                                               : "the store cannot be read for the services "
                                                 "that were stopped",
                   -1;
        }
        add_items(r, r->nodes[i], steps, k);
    }
    sv->run = r;
    step_next(r);
    return 0;
}

int services_init_node(struct app *app, const char *node)
{
    for (int i = 0; i < SERVICES_N; i++)
        if (store_service_set(app->store, node, services_stop_order[i],
                              services_state_word(services_stop_order[i], true)) != STORE_OK)
            return -1;
    return 0;
}
