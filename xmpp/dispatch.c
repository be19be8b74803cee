/* Stanza dispatch: a small table of iq handlers keyed by (type, namespace), one presence and one
 * message handler, and a list of iqs awaiting answers. */
#include "xmpp/dispatch.h"

#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/stanza.h"

#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct iq_route {
    char *type, *ns;
    dispatch_iq_fn fn;
    void *ud;
    struct iq_route *next;
};

struct pending_iq {
    dispatch_t *d;
    char id[40];
    dispatch_reply_fn fn;
    void *ud;
    uv_timer_t timer;
    struct pending_iq *next;
};

struct dispatch {
    uv_loop_t *loop;
    xmpp_ctx_t *ctx;
    dispatch_send_fn send;
    void *send_ud;
    struct iq_route *routes;
    dispatch_stanza_fn on_presence, on_message;
    void *presence_ud, *message_ud;
    struct pending_iq *pending;
    struct dispatch_stats stats;
};

dispatch_t *dispatch_new(uv_loop_t *loop, xmpp_ctx_t *ctx, dispatch_send_fn send, void *send_ud)
{
    dispatch_t *d = xcalloc(1, sizeof(*d));

    d->loop = loop;
    d->ctx = ctx;
    d->send = send;
    d->send_ud = send_ud;
    return d;
}

static void free_pending(uv_handle_t *h)
{
    free(h->data);
}

static struct pending_iq *unlink_pending(dispatch_t *d, const char *id)
{
    for (struct pending_iq **pp = &d->pending; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->id, id) == 0) {
            struct pending_iq *p = *pp;
            *pp = p->next;
            return p;
        }
    }
    return NULL;
}

static void finish_pending(struct pending_iq *p, xmpp_stanza_t *reply)
{
    p->fn(p->ud, reply);
    /* At shutdown the daemon's uv_walk may have closed the timer already (and the loop ran
     * since, so it is closed): closing twice aborts in libuv; free it here instead. */
    if (uv_is_closing((uv_handle_t *)&p->timer)) {
        free(p);
        return;
    }
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, free_pending);
}

void dispatch_free(dispatch_t *d)
{
    if (d == NULL)
        return;
    while (d->pending) {
        struct pending_iq *p = d->pending;
        d->pending = p->next;
        finish_pending(p, NULL);
    }
    while (d->routes) {
        struct iq_route *r = d->routes;
        d->routes = r->next;
        free(r->type);
        free(r->ns);
        free(r);
    }
    free(d);
}

void dispatch_on_iq(dispatch_t *d, const char *type, const char *ns, dispatch_iq_fn fn, void *ud)
{
    struct iq_route *r = xcalloc(1, sizeof(*r));

    r->type = xstrdup(type);
    r->ns = xstrdup(ns);
    r->fn = fn;
    r->ud = ud;
    r->next = d->routes;
    d->routes = r;
}

void dispatch_on_presence(dispatch_t *d, dispatch_stanza_fn fn, void *ud)
{
    d->on_presence = fn;
    d->presence_ud = ud;
}

void dispatch_on_message(dispatch_t *d, dispatch_stanza_fn fn, void *ud)
{
    d->on_message = fn;
    d->message_ud = ud;
}

int dispatch_send(dispatch_t *d, xmpp_stanza_t *stanza)
{
    return d->send(d->send_ud, stanza);
}

void dispatch_reply_error(dispatch_t *d, xmpp_stanza_t *req, const char *type,
                          const char *condition, const char *text)
{
    xmpp_stanza_t *err = stanza_error_reply(req, type, condition, text);

    if (err == NULL)
        return;
    dispatch_send(d, err);
    xmpp_stanza_release(err);
}

static void route_iq_answer(dispatch_t *d, xmpp_stanza_t *iq)
{
    const char *id = xmpp_stanza_get_id(iq);
    struct pending_iq *p = id ? unlink_pending(d, id) : NULL;

    /* RFC 6120 8.2.3: result and error are never answered, known or not. */
    if (p)
        finish_pending(p, iq);
}

static void route_iq(dispatch_t *d, xmpp_stanza_t *iq)
{
    const char *type = xmpp_stanza_get_type(iq);

    d->stats.iq++;
    if (type && (strcmp(type, "result") == 0 || strcmp(type, "error") == 0)) {
        route_iq_answer(d, iq);
        return;
    }
    if (type == NULL || (strcmp(type, "get") != 0 && strcmp(type, "set") != 0) ||
        xmpp_stanza_get_id(iq) == NULL) {
        if (type && xmpp_stanza_get_id(iq))
            dispatch_reply_error(d, iq, "modify", "bad-request", "unknown iq type");
        return;
    }
    xmpp_stanza_t *payload = stanza_first_element(iq);
    if (payload == NULL) {
        dispatch_reply_error(d, iq, "modify", "bad-request", "an iq get/set needs a payload");
        return;
    }
    const char *ns = xmpp_stanza_get_ns(payload);
    for (struct iq_route *r = d->routes; r; r = r->next) {
        if (ns && strcmp(r->type, type) == 0 && strcmp(r->ns, ns) == 0) {
            r->fn(r->ud, iq, payload);
            return;
        }
    }
    d->stats.unhandled++;
    dispatch_reply_error(d, iq, "cancel", "service-unavailable", NULL);
}

/* XEP-0114: the router stamps every stanza it routes to us with its sender. One without a
 * sender (a router bug, or a hostile router) can be neither answered nor judged (admin? peer?
 * session owner?): it is dropped here, once, so no handler ever sees a NULL `from`. */
static bool has_sender(dispatch_t *d, xmpp_stanza_t *stanza, const char *name)
{
    const char *from = xmpp_stanza_get_from(stanza);

    if (from != NULL && from[0] != '\0')
        return true;
    d->stats.dropped++;
    log_warnx("dispatch: dropped <%s/> without from id=%.64s reason=no-sender", name,
              xmpp_stanza_get_id(stanza) ? xmpp_stanza_get_id(stanza) : "-");
    return false;
}

void dispatch_stanza(dispatch_t *d, xmpp_stanza_t *stanza)
{
    const char *name = xmpp_stanza_get_name(stanza);

    if (name == NULL)
        return;
    if ((strcmp(name, "iq") == 0 || strcmp(name, "presence") == 0 ||
         strcmp(name, "message") == 0) &&
        !has_sender(d, stanza, name))
        return;
    if (strcmp(name, "iq") == 0) {
        route_iq(d, stanza);
    } else if (strcmp(name, "presence") == 0) {
        d->stats.presence++;
        if (d->on_presence)
            d->on_presence(d->presence_ud, stanza);
    } else if (strcmp(name, "message") == 0) {
        d->stats.message++;
        if (d->on_message)
            d->on_message(d->message_ud, stanza);
    } else {
        log_debug("dispatch: ignoring top-level element <%s/>", name);
    }
}

static void on_iq_timeout(uv_timer_t *t)
{
    struct pending_iq *p = t->data;

    unlink_pending(p->d, p->id);
    finish_pending(p, NULL);
}

int dispatch_send_iq(dispatch_t *d, xmpp_stanza_t *iq, unsigned timeout_ms, dispatch_reply_fn fn,
                     void *ud)
{
    unsigned char rnd[12];
    struct pending_iq *p = xcalloc(1, sizeof(*p));

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        free(p);
        return -1;
    }
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(p->id + 2 * i, 3, "%02x", rnd[i]);
    xmpp_stanza_set_id(iq, p->id);
    if (dispatch_send(d, iq) < 0) {
        free(p);
        return -1;
    }
    p->d = d;
    p->fn = fn;
    p->ud = ud;
    uv_timer_init(d->loop, &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, on_iq_timeout, timeout_ms, 0);
    p->next = d->pending;
    d->pending = p;
    return 0;
}

void dispatch_get_stats(const dispatch_t *d, struct dispatch_stats *out)
{
    *out = d->stats;
}
