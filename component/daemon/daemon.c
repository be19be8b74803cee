/* Daemon wiring: one libuv loop; the router link feeds dispatch; ad-hoc commands are answered
 * the same way over XMPP and over the control socket; SIGTERM/SIGINT close the stream cleanly,
 * then every handle, then the store. */

#include "component/daemon/daemon.h"

#include "component/app.h"
#include "component/engine/cert_expiry.h"
#include "component/engine/cert_files.h"
#include "component/engine/ckpt.h"
#include "component/engine/dir_sync.h"
#include "component/cmd/commands.h"
#include "component/daemon/ctl.h"
#include "component/engine/health.h"
#include "component/daemon/instance.h"
#include "component/engine/job.h"
#include "component/daemon/notify.h"
#include "component/engine/peers.h"
#include "component/engine/services.h"
#include "component/engine/sessions.h"
#include "component/engine/status.h"
#include "component/engine/sync.h"
#include "store/store_audit.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/adhoc_disco.h"
#include "xmpp/adhoc_session.h"
#include "xmpp/conn.h"
#include "xmpp/disco.h"
#include "xmpp/dispatch.h"
#include "xmpp/i18n.h"
#include "xmpp/ping.h"
#include "xmpp/stanza.h"

#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#define EXPIRE_INTERVAL_MS 15000 /* how often idle command sessions are looked for */

struct daemon {
    const struct config *cfg;
    uv_loop_t loop;
    xmpp_ctx_t *ctx;
    conn_t *conn;
    instance_t *instance; /* one serving instance per JID: announcements and step-down */
    dispatch_t *dispatch;
    disco_t *disco;
    ctl_t *ctl;
    struct app app;
    uv_signal_t sigterm, sigint;
    uv_timer_t expire;
    uv_timer_t cert_check; /* the certificate expiry line in the log, once a day */
    struct health health;  /* what status and the service manager are told */
    notifier_t *notify;
    struct sync_sched *sync; /* the nightly sync audit; NULL when it could not start */
    struct ckpt_sched *ckpt; /* WAL checkpoints off the loop; NULL: sqlite's own */
    int exit_status;
    int stopping;
    /* Whether this instance does the timed work that writes shared state (app.standby): active
     * once it serves, or once the router proves unreachable at start-up with no other instance
     * known; standby when the router or another instance says another one serves our JID. */
    enum { ROLE_UNDECIDED, ROLE_ACTIVE, ROLE_STANDBY } role;
};

/* A command request waiting for its late answer: who asked, over which transport. */
struct waiting {
    struct daemon *dm;
    char *requester;
    char *node;
    ctl_pending_t *pending; /* NULL: the answer goes to the router */
};

static void close_walk(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void begin_stop(struct daemon *dm, int status)
{
    if (dm->stopping)
        return;
    dm->stopping = 1;
    dm->app.stopping = true;
    dm->exit_status = status;
    uv_signal_stop(&dm->sigterm);
    uv_signal_stop(&dm->sigint);
    uv_timer_stop(&dm->expire);
    uv_timer_stop(&dm->cert_check);
    notify_stopping(dm->notify, "stopping");
    sync_sched_stop(dm->sync);
    ckpt_sched_stop(dm->ckpt);
    peers_stop(dm->app.peers);
    dir_sync_stop(dm->app.dirsync);
    if (dm->ctl) {
        ctl_close(dm->ctl);
        dm->ctl = NULL;
    }
    conn_close(dm->conn);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct daemon *dm = h->data;

    log_info("received signal %d; stopping", signum);
    begin_stop(dm, DAEMON_EXIT_OK);
}

/* ---- active or standby ---- */

static int send_to_router(void *ud, xmpp_stanza_t *stanza);

static void become_active(struct daemon *dm, const char *why)
{
    if (dm->role == ROLE_ACTIVE)
        return;
    dm->role = ROLE_ACTIVE;
    dm->app.standby = false;
    log_info("instance: active (%s): jobs, the nightly sync audit, directory sync, peer "
             "refreshes and checkpoints run here",
             why);
    job_runner_resume(dm->app.jobs); /* a job left unfinished (by us or the former active) */
}

static void become_standby(struct daemon *dm, const char *why)
{
    if (dm->role == ROLE_STANDBY)
        return;
    dm->role = ROLE_STANDBY;
    dm->app.standby = true;
    log_warnx("instance: standby (%s): no jobs, sync audit, directory sync, peer refreshes or "
              "checkpoints here, and the control socket refuses commands, until this instance "
              "serves",
              why);
}

static void on_serving(void *ud)
{
    struct daemon *dm = ud;

    become_active(dm, "it serves the JID");
    sessions_on_ready(dm->app.sessions); /* rebuild the table from probes */
}

/* Connected but not yet known to be the only instance on the JID (ejabberd spreads stanzas
 * among connections): a request must not start anything here, so it is bounced with a `wait`
 * error the client may retry at once (the router then picks a connection again, and this one
 * is gone or serving within milliseconds). Other stanzas are dropped: presences are rebuilt by
 * probes once serving. */
static void bounce_unsettled(struct daemon *dm, xmpp_stanza_t *st)
{
    const char *name = xmpp_stanza_get_name(st);
    const char *type = xmpp_stanza_get_type(st);
    xmpp_stanza_t *reply;

    if (name == NULL || strcmp(name, "iq") != 0 || type == NULL ||
        (strcmp(type, "get") != 0 && strcmp(type, "set") != 0)) {
        log_debug("instance: not serving yet; dropped a %s from %s", name ? name : "stanza",
                  xmpp_stanza_get_from(st) ? xmpp_stanza_get_from(st) : "-");
        return;
    }
    bool ko = i18n_is_korean(stanza_lang(st, stanza_first_element(st)));
    reply = stanza_error_reply(
        st, "wait", "resource-constraint",
        ko ? "이 imdomaind 인스턴스는 같은 JID를 다른 인스턴스가 서비스하는지 확인하는 중입니다. "
             "잠시 후 다시 시도하십시오."
           : "this imdomaind instance is checking whether another instance serves this JID; "
             "retry in a moment");
    log_info("instance: not serving yet; bounced an iq from %s (wait)",
             xmpp_stanza_get_from(st) ? xmpp_stanza_get_from(st) : "-");
    send_to_router(dm, reply);
    xmpp_stanza_release(reply);
}

/* The service manager's STATUS= line follows the router link. */
static void tell_link(struct daemon *dm)
{
    char line[HEALTH_REASON_MAX + 96];

    health_describe_link(&dm->health, line, sizeof(line));
    notify_status(dm->notify, line);
}

static void on_conn_event(void *ud, enum conn_event ev, xmpp_stanza_t *stanza, const char *detail)
{
    struct daemon *dm = ud;

    switch (ev) {
    case CONN_EV_READY:
        instance_on_ready(dm->instance); /* first: another instance is told at once */
        health_link_up(&dm->health, time(NULL));
        tell_link(dm);
        break;
    case CONN_EV_STANZA:
        if (instance_on_stanza(dm->instance, stanza))
            break;
        if (instance_serving(dm->instance))
            dispatch_stanza(dm->dispatch, stanza);
        else
            bounce_unsettled(dm, stanza);
        break;
    case CONN_EV_CONFLICT:
        become_standby(dm, detail);
        break;
    case CONN_EV_RETRY:
        if (dm->role == ROLE_UNDECIDED)
            become_active(dm, "the router cannot be reached now and no other instance is known "
                              "to serve the JID");
        break;
    case CONN_EV_LOST:
        instance_on_lost(dm->instance);
        log_warnx("router link lost: %s", detail ? detail : "unknown reason");
        health_link_lost(&dm->health, time(NULL), detail);
        tell_link(dm);
        break;
    case CONN_EV_FATAL:
        log_error("%s; stopping", detail);
        health_link_lost(&dm->health, time(NULL), detail);
        notify_status(dm->notify, detail);
        dm->stopping = 0;
        begin_stop(dm, DAEMON_EXIT_REFUSED);
        break;
    case CONN_EV_CLOSED:
        /* The link is down for good: stop what still runs, then close what remains so the loop
         * can end. Jobs and hooks first: their callbacks still use the store and the registry. */
        job_runner_stop(dm->app.jobs);
        sync_sched_stop(dm->sync);
        ckpt_sched_stop(dm->ckpt);
        peers_stop(dm->app.peers);
        dir_sync_stop(dm->app.dirsync);
        apply_free(dm->app.apply);
        dm->app.apply = NULL;
        services_free(dm->app.services);
        dm->app.services = NULL;
        uv_walk(&dm->loop, close_walk, NULL);
        break;
    }
}

/* Every stanza we send comes from the component JID: routers other than Prosody refuse one
 * without `from`. */
static int send_to_router(void *ud, xmpp_stanza_t *stanza)
{
    struct daemon *dm = ud;

    if (xmpp_stanza_get_from(stanza) == NULL)
        xmpp_stanza_set_from(stanza, dm->cfg->jid);
    return conn_send(dm->conn, stanza);
}

static void step_down(void *ud, const char *why)
{
    struct daemon *dm = ud;

    become_standby(dm, why);
    conn_step_down(dm->conn, why);
}

/* ---- command runs: the audit record of each finished run ---- */

/* A run that ended (completed, failed, canceled, expired): one audit record. */
static void audit_run(void *ud, const char *node, const char *requester, enum adhoc_end how,
                      const char *note)
{
    static const int outcome[] = {[ADHOC_END_COMPLETED] = STORE_OUTCOME_OK,
                                  [ADHOC_END_FAILED] = STORE_OUTCOME_REFUSED,
                                  [ADHOC_END_CANCELED] = STORE_OUTCOME_CANCELED,
                                  [ADHOC_END_EXPIRED] = STORE_OUTCOME_CANCELED,
                                  [ADHOC_END_ABANDONED] = STORE_OUTCOME_CANCELED};
    struct app *app = ud;
    char *details;

    if (how == ADHOC_END_EXPIRED)
        details = xstrdup("the session expired");
    else if (how == ADHOC_END_ABANDONED)
        details = xstrdup("the control connection closed");
    else
        details = note ? xstrndup(note, 480) : NULL;
    app_audit(app, requester, node, outcome[how], details);
    free(details);
}

/* A request refused with a stanza error (forbidden, bad-payload, a conflict, ...) is recorded
 * too: that is not a run ending, so the end hook does not see it. */
static void audit_reply(struct app *app, const char *requester, const char *node,
                        xmpp_stanza_t *reply)
{
    const char *type = xmpp_stanza_get_type(reply);
    xmpp_stanza_t *err, *cond;
    const char *cname;

    if (node == NULL || type == NULL || strcmp(type, "error") != 0)
        return;
    err = xmpp_stanza_get_child_by_name(reply, "error");
    cond = err ? stanza_first_element(err) : NULL;
    cname = cond ? xmpp_stanza_get_name(cond) : "error";
    app_audit(app, requester, node,
              strcmp(cname, "internal-server-error") == 0 ? STORE_OUTCOME_ERROR
                                                          : STORE_OUTCOME_REFUSED,
              cname);
}

static const char *command_node(xmpp_stanza_t *iq)
{
    xmpp_stanza_t *cmd = stanza_child(iq, "command", NS_COMMANDS);
    return cmd ? xmpp_stanza_get_attribute(cmd, "node") : NULL;
}

static void deliver_late(void *ud, xmpp_stanza_t *reply)
{
    struct waiting *w = ud;
    struct daemon *dm = w->dm;

    audit_reply(&dm->app, w->requester, w->node, reply);
    if (w->pending)
        ctl_pending_answer(w->pending, reply);
    else
        send_to_router(dm, reply);
    xmpp_stanza_release(reply);
    free(w->requester);
    free(w->node);
    free(w);
}

/* Runs one command request from either transport. Returns the reply, or NULL when it comes
 * later through deliver_late. */
static xmpp_stanza_t *run_command(struct daemon *dm, xmpp_stanza_t *iq, const char *requester,
                                  bool is_admin, ctl_pending_t *pending)
{
    struct waiting *w = xcalloc(1, sizeof(*w));
    const char *node = command_node(iq);
    xmpp_stanza_t *reply;

    w->dm = dm;
    w->requester = xstrdup(requester);
    w->node = node ? xstrdup(node) : NULL;
    w->pending = pending;
    reply = adhoc_handle_async(dm->app.adhoc, iq, requester, is_admin, deliver_late, w);
    if (reply == NULL)
        return NULL;
    audit_reply(&dm->app, requester, node, reply);
    free(w->requester);
    free(w->node);
    free(w);
    return reply;
}

static void on_command_iq(void *ud, xmpp_stanza_t *iq, xmpp_stanza_t *payload)
{
    struct daemon *dm = ud;
    const char *from = xmpp_stanza_get_from(iq);
    xmpp_stanza_t *reply;

    reply = run_command(dm, iq, from ? from : "", from && config_is_admin(dm->cfg, from), NULL);
    if (reply) {
        send_to_router(dm, reply);
        xmpp_stanza_release(reply);
    }
}

static int disco_commands(void *ud, const char *node, int items, xmpp_stanza_t *query,
                          const char *from, const char *lang)
{
    struct daemon *dm = ud;
    bool admin = from && config_is_admin(dm->cfg, from);

    if (items)
        return adhoc_disco_items(dm->app.adhoc, node, query, dm->cfg->jid, admin, lang);
    return adhoc_disco_info(dm->app.adhoc, node, query, admin, lang);
}

/* ---- the control socket: the same payloads; the socket's permissions are the gate ---- */

static xmpp_stanza_t *ctl_disco(struct daemon *dm, xmpp_stanza_t *iq, xmpp_stanza_t *query,
                                int items)
{
    const char *node = xmpp_stanza_get_attribute(query, "node");
    xmpp_stanza_t *reply = xmpp_stanza_reply(iq), *q = xmpp_stanza_new(dm->ctx);
    const char *lang = stanza_lang(iq, query);
    int rc;

    xmpp_stanza_set_type(reply, "result");
    xmpp_stanza_set_name(q, "query");
    xmpp_stanza_set_ns(q, items ? NS_DISCO_ITEMS : NS_DISCO_INFO);
    if (node)
        xmpp_stanza_set_attribute(q, "node", node);
    if (items)
        rc = adhoc_disco_items(dm->app.adhoc, node, q, dm->cfg->jid, true, lang);
    else
        rc = node ? adhoc_disco_info(dm->app.adhoc, node, q, true, lang) : -1;
    if (rc < 0) {
        xmpp_stanza_release(q);
        xmpp_stanza_release(reply);
        return stanza_error_reply(iq, "cancel", "item-not-found", "no such node here");
    }
    xmpp_stanza_add_child_ex(reply, q, 0);
    return reply;
}

/* A control connection closed: its sessions end without their cancel hooks, so neither a
 * script that stopped at a choice nor a killed imdomainctl changes anything (COMMANDS.md). */
static void on_ctl_closed(void *ud, const char *requester)
{
    struct daemon *dm = ud;

    adhoc_end_owner(dm->app.adhoc, requester);
}

/* What a standby still runs over the control socket: status, which reads only. */
static bool standby_may_run(xmpp_stanza_t *command)
{
    const char *node = xmpp_stanza_get_attribute(command, "node");

    return node && strcmp(node, STATUS_NODE) == 0;
}

static xmpp_stanza_t *on_ctl_request(void *ud, xmpp_stanza_t *iq, const char *requester,
                                     ctl_pending_t *pending)
{
    struct daemon *dm = ud;
    xmpp_stanza_t *payload = stanza_first_element(iq);
    const char *ns = payload ? xmpp_stanza_get_ns(payload) : NULL;
    const char *type = xmpp_stanza_get_type(iq);

    if (ns && strcmp(ns, NS_COMMANDS) == 0 && dm->role == ROLE_STANDBY && !standby_may_run(payload))
        return stanza_error_reply(
            iq, "wait", "service-unavailable",
            i18n_is_korean(stanza_lang(iq, payload))
                ? "이 인스턴스는 대기(standby) 중입니다. 다른 인스턴스가 이 JID를 서비스하며 공유 "
                  "저장소에 씁니다. 활성 인스턴스에서 명령을 실행하십시오(이 인스턴스는 활성 "
                  "인스턴스가 사라지면 넘겨받습니다). status는 여기서도 동작합니다."
                : "this instance stands by: another instance serves the JID and writes the "
                  "shared store; run commands on the active instance (this one takes over when "
                  "it goes away). status works here too.");
    if (ns && strcmp(ns, NS_COMMANDS) == 0)
        return run_command(dm, iq, requester, true, pending);
    if (ns && type && strcmp(type, "get") == 0 &&
        (strcmp(ns, NS_DISCO_ITEMS) == 0 || strcmp(ns, NS_DISCO_INFO) == 0))
        return ctl_disco(dm, iq, payload, strcmp(ns, NS_DISCO_ITEMS) == 0);
    return stanza_error_reply(iq, "cancel", "service-unavailable",
                              "the control socket answers ad-hoc commands and disco only");
}

/* ---- set-up ---- */

static void setup_signals(struct daemon *dm)
{
    signal(SIGPIPE, SIG_IGN);
    uv_signal_init(&dm->loop, &dm->sigterm);
    uv_signal_init(&dm->loop, &dm->sigint);
    dm->sigterm.data = dm->sigint.data = dm;
    uv_signal_start(&dm->sigterm, on_signal, SIGTERM);
    uv_signal_start(&dm->sigint, on_signal, SIGINT);
}

static void setup_xmpp(struct daemon *dm)
{
    const struct config *cfg = dm->cfg;
    struct conn_config cc = {
        .host = cfg->router_host,
        .port = cfg->router_port,
        .jid = cfg->jid,
        .secret = cfg->secret,
        .max_stanza_size = cfg->max_stanza_size,
        .max_depth = cfg->max_depth,
        .max_children = (size_t)cfg->max_children,
        .max_attributes = cfg->max_attributes,
        .keepalive = cfg->keepalive,
        .reconnect_max = cfg->reconnect_max,
        .send_queue_max = cfg->send_queue_max,
    };

    dm->conn = conn_new(&dm->loop, dm->ctx, &cc, on_conn_event, dm);
    dm->instance = instance_new(&dm->loop, dm->ctx, cfg->jid, send_to_router, step_down, dm);
    instance_on_serving(dm->instance, cfg->router_kind == CONFIG_ROUTER_EJABBERD, on_serving);
    dm->dispatch = dispatch_new(&dm->loop, dm->ctx, send_to_router, dm);
    dm->disco = disco_new(dm->dispatch, dm->ctx, "component", "generic", "imdomaind");
    disco_add_feature(dm->disco, NS_COMMANDS);
    disco_add_feature(dm->disco, NS_PING);
    disco_add_feature(dm->disco, NS_VERSION);
    disco_set_node_provider(dm->disco, disco_commands, dm);
    ping_register(dm->dispatch, "imdomaind", PACKAGE_VERSION);
    dispatch_on_iq(dm->dispatch, "set", NS_COMMANDS, on_command_iq, dm);
}

static uint64_t loop_clock(void *ud)
{
    struct daemon *dm = ud;

    uv_update_time(&dm->loop);
    return uv_now(&dm->loop);
}

static void on_expire(uv_timer_t *t)
{
    struct daemon *dm = t->data;

    adhoc_expire(dm->app.adhoc, loop_clock(dm));
}

static void on_cert_check(uv_timer_t *t)
{
    struct daemon *dm = t->data;

    cert_expiry_log(dm->cfg);
}

static size_t link_queued(const void *ud)
{
    return conn_queued_bytes(ud);
}

/* A crash mid-regeneration (or two instances before the lock) may have left .live pointing at
 * a generation that is gone: put right what the router would read before anything else runs. A
 * lock held by another process is its regeneration running: leave the directory to it. */
static void repair_cert_dir(const char *dir)
{
    char *err = NULL;

    if (dir == NULL || *dir == '\0')
        return;
    if (cert_files_repair(dir, &err) < 0) {
        log_warnx("certs: no start-up repair of %s: %s", dir, err);
        free(err);
    }
}

/* Store, command registry, router apply, jobs and the control socket. Returns 0, or -1 with
 * the reason logged. */
static int setup_app(struct daemon *dm)
{
    const struct config *cfg = dm->cfg;
    struct app *app = &dm->app;
    struct adhoc_limits lim = {
        .timeout_ms = (uint64_t)cfg->session_timeout * 1000u,
        .max_per_jid = (unsigned)cfg->max_sessions_per_jid,
        .max_total = (unsigned)cfg->max_sessions,
        .clock = loop_clock,
        .clock_ud = dm,
    };
    char *err = NULL;

    app->cfg = cfg;
    app->loop = &dm->loop;
    app->ctx = dm->ctx;
    app->dispatch = dm->dispatch;
    if ((app->store = store_open(cfg->store_path, &err)) == NULL) {
        log_error("store %s: %s", cfg->store_path, err ? err : "cannot open");
        free(err);
        return -1;
    }
    if ((cfg->vhosts_file && *cfg->vhosts_file) || (cfg->reload_hook && *cfg->reload_hook)) {
        app->apply = apply_new(&dm->loop, cfg->vhosts_file, cfg->reload_hook,
                               (unsigned)cfg->hook_timeout * 1000u, &err);
        if (app->apply == NULL) {
            log_error("[router] reload_hook: %s", err ? err : "does not parse");
            free(err);
            return -1;
        }
        if (cfg->router_kind == CONFIG_ROUTER_EJABBERD)
            apply_set_format(app->apply, APPLY_FORMAT_EJABBERD);
    }
    cert_files_set_key_group(cfg->cert_key_gid); /* before the repair: it fixes key modes */
    if (cfg->cert_dir && *cfg->cert_dir && cert_files_check_key_group(cfg->cert_dir, &err) < 0) {
        log_error("certs.key_group: %s", err);
        free(err);
        return -1;
    }
    repair_cert_dir(cfg->cert_dir);
    app->adhoc = adhoc_new(dm->ctx, &lim);
    adhoc_on_end(app->adhoc, audit_run, app);
    if (commands_register(app) < 0) {
        log_error("cannot register the commands (a bug)");
        return -1;
    }
    if ((app->jobs = job_runner_new(app)) == NULL)
        return -1;
    app->dirsync = dir_sync_new(app);
    app->services = services_new(app);
    if (services_config_problem(app->services) != NULL)
        return -1;
    app->sessions = sessions_new(app, dm->dispatch, cfg->jid);
    dispatch_on_presence(dm->dispatch, sessions_on_presence, app->sessions);
    if (cfg->control_socket && *cfg->control_socket) {
        struct ctl_config cc = {.path = cfg->control_socket,
                                .mode = cfg->control_mode,
                                .group = cfg->control_group,
                                .max_clients = cfg->control_max_clients,
                                .idle_timeout_ms = (unsigned)cfg->control_idle_timeout * 1000u,
                                .max_depth = cfg->max_depth,
                                .max_children = (size_t)cfg->max_children,
                                .max_attributes = cfg->max_attributes};
        if ((dm->ctl = ctl_open(&dm->loop, dm->ctx, &cc, on_ctl_request, dm)) == NULL)
            return -1;
        ctl_on_closed(dm->ctl, on_ctl_closed);
    }
    uv_timer_init(&dm->loop, &dm->expire);
    dm->expire.data = dm;
    uv_timer_start(&dm->expire, on_expire, EXPIRE_INTERVAL_MS, EXPIRE_INTERVAL_MS);
    uv_timer_init(&dm->loop, &dm->cert_check);
    dm->cert_check.data = dm;
    uv_timer_start(&dm->cert_check, on_cert_check, 0, CERT_EXPIRY_LOG_INTERVAL_MS);
    job_runner_resume(app->jobs);
    dm->sync = sync_sched_start(app);
    dm->ckpt = ckpt_sched_start(app);
    return 0;
}

static void teardown_app(struct daemon *dm)
{
    struct app *app = &dm->app;

    sync_sched_free(dm->sync); /* its timer was closed by the loop */
    dm->sync = NULL;
    ckpt_sched_free(dm->ckpt); /* before store_close, which checkpoints what is left */
    dm->ckpt = NULL;
    peers_free(app->peers); /* its timer too; refreshes ended when the dispatcher was freed */
    app->peers = NULL;
    job_runner_free(app->jobs);
    app->jobs = NULL;
    dir_sync_free(app->dirsync); /* after the loop ran any fetch's completion */
    app->dirsync = NULL;
    services_free(app->services);
    app->services = NULL;
    sessions_free(app->sessions);
    app->sessions = NULL;
    apply_free(app->apply);
    app->apply = NULL;
    adhoc_free(app->adhoc); /* answers any request still waiting, then frees the sessions */
    app->adhoc = NULL;
    if (app->store && store_close(app->store) < 0)
        log_warnx("store %s: closed with errors", dm->cfg->store_path);
    app->store = NULL;
}

void daemon_malloc_policy(void)
{
    if (mallopt(M_TRIM_THRESHOLD, DAEMON_TRIM_THRESHOLD) != 1)
        log_debug("mallopt M_TRIM_THRESHOLD refused; the default trimming stays");
}

int daemon_run(const struct config *cfg)
{
    struct daemon dm;

    daemon_malloc_policy();
    memset(&dm, 0, sizeof(dm));
    dm.cfg = cfg;
    dm.app.standby = true; /* until this instance serves or the router proves unreachable */
    if (uv_loop_init(&dm.loop) < 0) {
        log_error("cannot start the event loop");
        return DAEMON_EXIT_STARTUP;
    }
    xmpp_initialize();
    dm.ctx = xmpp_ctx_new(NULL, NULL);
    health_init(&dm.health, time(NULL));
    dm.app.health = &dm.health;
    dm.notify = notify_new(&dm.loop);
    setup_signals(&dm);
    setup_xmpp(&dm);
    dm.health.queued = link_queued;
    dm.health.queued_ud = dm.conn;
    if (setup_app(&dm) < 0) {
        dm.exit_status = DAEMON_EXIT_STARTUP;
        dm.stopping = 1;
        if (dm.ctl)
            ctl_close(dm.ctl);
        dm.ctl = NULL;
        job_runner_stop(dm.app.jobs);
        dir_sync_stop(dm.app.dirsync);
        uv_walk(&dm.loop, close_walk, NULL);
    } else {
        log_info("starting imdomaind %s jid=%s router=%s:%d", PACKAGE_VERSION, cfg->jid,
                 cfg->router_host, cfg->router_port);
        /* The store is open and the control socket listens: imdomainctl works from here on,
         * with or without the router. */
        notify_ready(dm.notify, "store open, control socket listening; connecting to the router");
        conn_start(dm.conn);
    }
    uv_run(&dm.loop, UV_RUN_DEFAULT);
    dispatch_free(dm.dispatch);
    uv_run(&dm.loop, UV_RUN_DEFAULT); /* let the iq trackers' timers finish closing */
    teardown_app(&dm);
    uv_run(&dm.loop, UV_RUN_DEFAULT);
    disco_free(dm.disco);
    instance_free(dm.instance);
    conn_free(dm.conn);
    if (uv_loop_close(&dm.loop) != 0)
        log_debug("event loop closed with handles still open");
    xmpp_ctx_free(dm.ctx);
    xmpp_shutdown();
    notify_free(dm.notify);
    log_info("stopped status=%d", dm.exit_status);
    return dm.exit_status;
}
