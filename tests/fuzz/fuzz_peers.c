/* libFuzzer target for the peer protocol (component/engine/peers.c) on both sides, as a hostile peer
 * drives it: the input is a stream of stanzas from the peer (through the daemon's stream parser).
 * Each iq result or error answers our latest request to the peer (its id and from are set, so
 * the fuzzer need not guess them), which runs the client side: page parsing, paging, restarts,
 * merging and the take-over with the sync audit. Each iq get or set is a request from the peer,
 * answered by the server side (cursors, versions). Properties: nothing crashes or leaks, every
 * request we get is answered exactly once, and a refresh always ends (at worst when the
 * dispatcher is freed, which stands for the timeout). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "component/engine/peers.h"
#include "store/store_peer.h"
#include "tests/fuzz/fuzz_store.h"
#include "tests/fuzz/fuzz_stream.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/dispatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PEER "peer.example"
#define SELF "imd.example"

static uv_loop_t loop;
static xmpp_ctx_t *ctx;
static struct config cfg;
static struct store *fuzz_st;

struct run {
    struct app app;
    char last_id[64];  /* of our latest request to the peer */
    unsigned answers;  /* replies we sent to the peer's requests */
    unsigned requests; /* requests the peer made that the dispatcher routes to us */
    int done;          /* the refresh finished */
};

static int on_send(void *ud, xmpp_stanza_t *st)
{
    struct run *r = ud;
    const char *type = xmpp_stanza_get_type(st);
    const char *id = xmpp_stanza_get_id(st);

    if (type && strcmp(type, "get") == 0) {
        snprintf(r->last_id, sizeof(r->last_id), "%s", id ? id : "");
        return 0;
    }
    r->answers++;
    return 0;
}

static void on_done(void *arg)
{
    ((struct run *)arg)->done++;
}

static void on_stanza(void *ud, xmpp_stanza_t *st)
{
    struct run *r = ud;
    const char *type = xmpp_stanza_get_type(st);

    if (strcmp(xmpp_stanza_get_name(st), "iq") != 0)
        return;
    xmpp_stanza_set_from(st, PEER "/x");
    xmpp_stanza_set_to(st, SELF);
    if (type && (strcmp(type, "result") == 0 || strcmp(type, "error") == 0)) {
        xmpp_stanza_set_id(st, r->last_id);
    } else if (xmpp_stanza_get_id(st) != NULL && type &&
               (strcmp(type, "get") == 0 || strcmp(type, "set") == 0)) {
        r->requests++;
    }
    dispatch_stanza(r->app.dispatch, st);
}

static void init(void)
{
    log_set_level(LOG_LEVEL_ERROR);
    uv_loop_init(&loop);
    ctx = xmpp_ctx_new(NULL, NULL);
    config_defaults(&cfg);
    cfg.jid = xstrdup(SELF);
    cfg.peers[cfg.n_peers++] = xstrdup(PEER);
    fuzz_st = fuzz_store_open(NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run r = {0};
    struct peers *ps;

    if (ctx == NULL)
        init();
    r.app.cfg = &cfg;
    r.app.loop = &loop;
    r.app.ctx = ctx;
    fuzz_store_reset(fuzz_st);
    r.app.store = fuzz_st;
    r.app.adhoc = adhoc_new(ctx, NULL);
    r.app.dispatch = dispatch_new(&loop, ctx, on_send, &r);
    ps = peers_new(&r.app);
    r.app.peers = ps;
    if (ps == NULL)
        abort();
    peers_refresh(ps, PEER, on_done, &r);
    fuzz_stream(ctx, data, size, 0, on_stanza, &r);
    /* Every request with an id and a payload is answered; one without a payload gets an error
     * from the dispatcher, which counts as an answer too. */
    if (r.answers < r.requests)
        abort();
    dispatch_free(r.app.dispatch); /* a refresh still waiting ends now, as on a timeout */
    r.app.dispatch = NULL;
    if (r.done != 1)
        abort();
    peers_stop(ps);
    peers_free(ps);
    uv_run(&loop, UV_RUN_DEFAULT);
    adhoc_free(r.app.adhoc);
    return 0;
}
