/* Intercluster peering: the refresh of every peer, periodic (the timer) and on demand, and the
 * life of the peers object. One peer's refresh is in peer_fetch.c, the answering side in
 * peer_answer.c, the protocol in peer_page.c, the findings in peer_findings.c. */
#include "component/engine/peers.h"

#include "component/engine/peer_answer.h"
#include "component/engine/peer_page.h"
#include "component/engine/peer_internal.h"
#include "store/store_peer.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/dispatch.h"

#include <stdlib.h>

/* ---- refreshing many, the timer ---- */

struct group {
    size_t left;
    peers_done_fn done;
    void *arg;
};

static void group_one_done(void *arg)
{
    struct group *g = arg;

    if (--g->left > 0)
        return;
    if (g->done)
        g->done(g->arg);
    free(g);
}

void peers_refresh(struct peers *ps, const char *jid, peers_done_fn done, void *arg)
{
    struct group *g = xcalloc(1, sizeof(*g));
    struct store_peer *list = NULL;
    size_t n = 0;

    *g = (struct group){1, done, arg}; /* held until every refresh has started */
    if (jid != NULL) {
        g->left++;
        peer_fetch_start(ps, jid, group_one_done, g);
    } else if (store_peer_list(ps->app->store, &list, &n) == STORE_OK) {
        g->left += n;
        for (size_t i = 0; i < n; i++)
            peer_fetch_start(ps, list[i].jid, group_one_done, g);
        store_peer_list_free(list, n);
    } else {
        log_warnx("peers: cannot list the peers: %s", store_errmsg(ps->app->store));
    }
    group_one_done(g);
}

static void on_tick(uv_timer_t *t)
{
    struct peers *ps = t->data;

    if (ps->stopped || ps->app->stopping || ps->app->standby)
        return;
    if (store_in_transaction(ps->app->store)) {
        log_info("peers: refresh waits for a transaction to end");
        return; /* the next tick refreshes */
    }
    peers_refresh(ps, NULL, NULL, NULL);
}

struct peers *peers_new(struct app *app)
{
    struct peers *ps = xcalloc(1, sizeof(*ps));
    int rc;

    ps->app = app;
    if (store_peer_sync_config(app->store, app->cfg->peers, app->cfg->n_peers) != STORE_OK)
        log_warnx("peers: cannot record the configured peers: %s", store_errmsg(app->store));
    rc = uv_timer_init(app->loop, &ps->timer);
    if (rc < 0) {
        log_warnx("peers: cannot start the refresh timer: %s", uv_strerror(rc));
        free(ps);
        return NULL;
    }
    ps->timer.data = ps;
    if (app->dispatch)
        dispatch_on_iq(app->dispatch, "get", PEER_NS, peer_answer_on_get, app);
    uv_timer_start(&ps->timer, on_tick, PEER_FIRST_REFRESH_MS,
                   (uint64_t)app->cfg->peer_refresh * 1000u);
    return ps;
}

void peers_stop(struct peers *ps)
{
    if (ps == NULL)
        return;
    ps->stopped = true;
    if (!uv_is_closing((uv_handle_t *)&ps->timer))
        uv_timer_stop(&ps->timer);
}

static void free_on_close(uv_handle_t *h)
{
    free(h->data);
}

void peers_free(struct peers *ps)
{
    if (ps == NULL)
        return;
    ps->stopped = true;
    while (ps->fetches) /* normally none: the dispatcher has answered them all */
        peer_fetch_finish(ps->fetches);
    if (!uv_is_closing((uv_handle_t *)&ps->timer)) {
        uv_close((uv_handle_t *)&ps->timer, free_on_close);
        return;
    }
    free(ps);
}
