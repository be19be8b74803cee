/* Daemon wiring: one libuv loop; the router link feeds dispatch; SIGTERM/SIGINT close the
 * stream cleanly, then every handle, then the store. */

#include "component/daemon.h"

#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/conn.h"
#include "xmpp/disco.h"
#include "xmpp/dispatch.h"
#include "xmpp/ping.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct daemon {
    const struct config *cfg;
    uv_loop_t loop;
    xmpp_ctx_t *ctx;
    conn_t *conn;
    dispatch_t *dispatch;
    disco_t *disco;
    uv_signal_t sigterm, sigint;
    int exit_status;
    int stopping;
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
    dm->exit_status = status;
    uv_signal_stop(&dm->sigterm);
    uv_signal_stop(&dm->sigint);
    conn_close(dm->conn);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct daemon *dm = h->data;

    log_info("received signal %d; stopping", signum);
    begin_stop(dm, DAEMON_EXIT_OK);
}

static void on_conn_event(void *ud, enum conn_event ev, xmpp_stanza_t *stanza,
                          const char *detail)
{
    struct daemon *dm = ud;

    switch (ev) {
    case CONN_EV_READY:
        break;
    case CONN_EV_STANZA:
        dispatch_stanza(dm->dispatch, stanza);
        break;
    case CONN_EV_LOST:
        log_warnx("router link lost: %s", detail ? detail : "unknown reason");
        break;
    case CONN_EV_FATAL:
        log_error("%s; stopping", detail);
        dm->stopping = 0;
        begin_stop(dm, DAEMON_EXIT_REFUSED);
        break;
    case CONN_EV_CLOSED:
        /* The link is down for good: close what remains so the loop can end. */
        uv_walk(&dm->loop, close_walk, NULL);
        break;
    }
}

static int send_to_router(void *ud, xmpp_stanza_t *stanza)
{
    struct daemon *dm = ud;

    return conn_send(dm->conn, stanza);
}

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
        .keepalive = cfg->keepalive,
        .reconnect_max = cfg->reconnect_max,
        .send_queue_max = cfg->send_queue_max,
    };

    dm->conn = conn_new(&dm->loop, dm->ctx, &cc, on_conn_event, dm);
    dm->dispatch = dispatch_new(&dm->loop, dm->ctx, send_to_router, dm);
    dm->disco = disco_new(dm->dispatch, dm->ctx, "component", "generic", "imdomaind");
    disco_add_feature(dm->disco, NS_PING);
    disco_add_feature(dm->disco, NS_VERSION);
    ping_register(dm->dispatch, "imdomaind", PACKAGE_VERSION);
}

int daemon_run(const struct config *cfg)
{
    struct daemon dm;

    memset(&dm, 0, sizeof(dm));
    dm.cfg = cfg;
    if (uv_loop_init(&dm.loop) < 0) {
        log_error("cannot start the event loop");
        return DAEMON_EXIT_STARTUP;
    }
    xmpp_initialize();
    dm.ctx = xmpp_ctx_new(NULL, NULL);
    setup_signals(&dm);
    setup_xmpp(&dm);
    log_info("starting imdomaind %s jid=%s router=%s:%d", PACKAGE_VERSION, cfg->jid,
             cfg->router_host, cfg->router_port);
    conn_start(dm.conn);
    uv_run(&dm.loop, UV_RUN_DEFAULT);
    dispatch_free(dm.dispatch);
    uv_run(&dm.loop, UV_RUN_DEFAULT); /* let the iq trackers' timers finish closing */
    disco_free(dm.disco);
    conn_free(dm.conn);
    if (uv_loop_close(&dm.loop) != 0)
        log_debug("event loop closed with handles still open");
    xmpp_ctx_free(dm.ctx);
    xmpp_shutdown();
    log_info("stopped status=%d", dm.exit_status);
    return dm.exit_status;
}
