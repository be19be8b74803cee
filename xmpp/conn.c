/* XEP-0114 connection on libuv. One state machine: resolve -> connect -> stream header ->
 * handshake -> ready; any failure closes the socket and schedules a reconnect with capped
 * exponential backoff and jitter, unless the router refused us for good. */
#include "xmpp/conn.h"

#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/handshake.h"
#include "xmpp/parser.h"
#include "xmpp/stanza.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_BUF_SIZE 65536
#define CLOSE_GRACE_MS 1000
#define BACKOFF_BASE_MS 500
#define DEFAULT_HANDSHAKE_TIMEOUT_MS 15000

enum conn_state {
    ST_IDLE,
    ST_RESOLVING,
    ST_CONNECTING,
    ST_OPENING,   /* our header sent, waiting for the router's */
    ST_HANDSHAKE, /* digest sent, waiting for <handshake/> */
    ST_READY,
    ST_WAITING, /* between attempts */
    ST_CLOSING, /* conn_close in progress */
    ST_CLOSED,
};

struct write_req {
    uv_write_t req;
    conn_t *conn;
    size_t len;
    char data[];
};

struct conn {
    uv_loop_t *loop;
    xmpp_ctx_t *ctx;
    struct conn_config cfg;
    conn_event_cb cb;
    void *ud;
    enum conn_state state;
    parser_t *parser;
    uv_tcp_t *tcp; /* current socket, heap-allocated because closing it is asynchronous */
    uv_getaddrinfo_t resolver;
    struct addrinfo *addrs, *next_addr;
    uv_connect_t connect_req;
    uv_timer_t retry_timer, keepalive_timer, deadline_timer;
    uv_prepare_t flusher;
    int handles_open; /* loop handles and requests not yet finished, for conn_close */
    int resolving;    /* the resolver request is out (its callback has not run yet) */
    int handles_closing;
    char *out;        /* coalesced bytes to write this loop turn */
    size_t out_len, out_cap;
    size_t in_flight; /* bytes handed to libuv and not yet written */
    int reading_paused;
    int wrote_since_tick;
    unsigned attempt;
    unsigned stepdowns; /* conn_step_down calls: the backoff of a standby keeps growing */
    char *stream_id;
    char rbuf[READ_BUF_SIZE];
};

static void schedule_reconnect(conn_t *c, const char *why);
static void on_prepare(uv_prepare_t *h);
static void drop_socket(conn_t *c);
static void try_next_address(conn_t *c);

static void raise_event(conn_t *c, enum conn_event ev, xmpp_stanza_t *st, const char *detail)
{
    if (c->cb)
        c->cb(c->ud, ev, st, detail);
}

size_t conn_queued_bytes(const conn_t *c)
{
    return c->out_len + c->in_flight;
}

static void append_out(conn_t *c, const char *data, size_t len)
{
    if (c->out_len + len > c->out_cap) {
        c->out_cap = (c->out_len + len) * 2;
        c->out = xrealloc(c->out, c->out_cap);
    }
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    c->wrote_since_tick = 1;
    uv_prepare_start(&c->flusher, on_prepare); /* flushed once, before the loop polls */
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn_t *c = h->data;

    (void)suggested;
    buf->base = c->rbuf;
    buf->len = sizeof(c->rbuf);
}

static void update_backpressure(conn_t *c)
{
    if (c->tcp == NULL || c->state < ST_OPENING || c->state > ST_READY)
        return;
    size_t queued = conn_queued_bytes(c);
    if (!c->reading_paused && queued > c->cfg.send_queue_max) {
        log_warnx("router link: output queue %zu bytes above high-water mark %zu; "
                  "pausing input",
                  queued, c->cfg.send_queue_max);
        uv_read_stop((uv_stream_t *)c->tcp);
        c->reading_paused = 1;
    } else if (c->reading_paused && queued <= c->cfg.send_queue_max / 2) {
        log_info("router link: output queue drained to %zu bytes; resuming input", queued);
        uv_read_start((uv_stream_t *)c->tcp, on_alloc, on_read);
        c->reading_paused = 0;
    }
}

static void on_written(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    conn_t *c = w->conn;

    c->in_flight -= w->len;
    free(w);
    if (status < 0 && status != UV_ECANCELED)
        log_debug("router link: write failed: %s", uv_strerror(status));
    update_backpressure(c);
}

static void flush_out(conn_t *c)
{
    if (c->out_len == 0 || c->tcp == NULL)
        return;
    struct write_req *w = xmalloc(sizeof(*w) + c->out_len);
    memcpy(w->data, c->out, c->out_len);
    w->len = c->out_len;
    w->conn = c;
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)w->len);
    c->out_len = 0;
    int rc = uv_write(&w->req, (uv_stream_t *)c->tcp, &buf, 1, on_written);
    if (rc < 0) {
        log_debug("router link: write failed: %s", uv_strerror(rc));
        free(w);
        return;
    }
    c->in_flight += w->len;
    update_backpressure(c);
}

/* Runs once per loop turn before polling: every stanza queued in this turn goes out in one
 * write. */
static void on_prepare(uv_prepare_t *h)
{
    conn_t *c = h->data;

    flush_out(c);
    uv_prepare_stop(h);
}

static void send_raw(conn_t *c, const char *text)
{
    append_out(c, text, strlen(text));
}

static void send_stream_error(conn_t *c, const char *condition, const char *text)
{
    char buf[512];

    snprintf(buf, sizeof(buf),
             "<stream:error><%s xmlns='" NS_STREAMS_ERR "'/>%s%s%s</stream:error>"
             "</stream:stream>",
             condition, text ? "<text xmlns='" NS_STREAMS_ERR "'>" : "", text ? text : "",
             text ? "</text>" : "");
    send_raw(c, buf);
    flush_out(c);
}

static void on_socket_closed(uv_handle_t *h)
{
    free(h);
}

/* Closes the current socket (pending writes are cancelled) and forgets stream state. */
static void drop_socket(conn_t *c)
{
    if (c->tcp) {
        c->tcp->data = NULL;
        uv_read_stop((uv_stream_t *)c->tcp);
        uv_close((uv_handle_t *)c->tcp, on_socket_closed);
        c->tcp = NULL;
    }
    c->reading_paused = 0;
    c->out_len = 0;
    free(c->stream_id);
    c->stream_id = NULL;
    uv_timer_stop(&c->keepalive_timer);
    /* We may be inside a parser callback: stop it now, reset it when the next stream opens. */
    parser_stop(c->parser);
}

static void close_handles(conn_t *c);

static void link_lost(conn_t *c, const char *why)
{
    int was_ready = (c->state == ST_READY);

    drop_socket(c);
    if (c->state == ST_CLOSING) {
        close_handles(c);
        return;
    }
    uv_timer_stop(&c->deadline_timer);
    if (was_ready) {
        /* Not ready while the callback runs: a stanza it sent would be queued before the next
         * stream header and make the router drop that stream. */
        c->state = ST_WAITING;
        raise_event(c, CONN_EV_LOST, NULL, why);
        if (c->state == ST_CLOSING)
            return; /* the callback closed the link: no reconnect */
    }
    schedule_reconnect(c, why);
    if (!was_ready)
        raise_event(c, CONN_EV_RETRY, NULL, why);
}

static void fatal_refusal(conn_t *c, const char *why)
{
    drop_socket(c);
    uv_timer_stop(&c->deadline_timer);
    c->state = ST_CLOSED;
    raise_event(c, CONN_EV_FATAL, NULL, why);
}

static void on_stream_start(void *ud, const char *id, const char *from)
{
    conn_t *c = ud;
    char digest[HANDSHAKE_DIGEST_LEN + 1];

    if (c->state != ST_OPENING)
        return;
    if (id == NULL || *id == '\0') {
        /* Routers refusing the JID answer with an id-less header and a stream error next. */
        log_debug("router link: stream header without id; expecting a stream error");
        return;
    }
    c->stream_id = xstrdup(id);
    if (handshake_digest(id, c->cfg.secret, digest) < 0) {
        link_lost(c, "cannot compute the handshake digest (OpenSSL SHA-1 failed)");
        return;
    }
    char *msg = xasprintf("<handshake>%s</handshake>", digest);
    send_raw(c, msg);
    free(msg);
    c->state = ST_HANDSHAKE;
    log_debug("router link: stream opened id=%s from=%s", id, from ? from : "-");
}

/* Explains the router's stream error in words an administrator can act on. */
static void handle_stream_error(conn_t *c, xmpp_stanza_t *err)
{
    xmpp_stanza_t *cond = stanza_child(err, NULL, NS_STREAMS_ERR);
    const char *name = cond ? xmpp_stanza_get_name(cond) : "undefined-condition";
    char why[512];

    if (name && strcmp(name, "text") == 0)
        name = "undefined-condition";
    if (strcmp(name, "not-authorized") == 0) {
        /* Prosody says not-authorized only for a wrong secret, ejabberd also for a JID it has
         * no component entry for: we cannot tell which, so name both. */
        snprintf(why, sizeof(why),
                 "the router refused the handshake for JID %s (not-authorized): either the "
                 "secret is wrong or the router has no component entry for %s (ejabberd "
                 "answers not-authorized for both)",
                 c->cfg.jid, c->cfg.jid);
        fatal_refusal(c, why);
    } else if (strcmp(name, "host-unknown") == 0 || strcmp(name, "improper-addressing") == 0) {
        snprintf(why, sizeof(why), "the router has no Component entry for %s (%s)", c->cfg.jid,
                 name);
        fatal_refusal(c, why);
    } else if (strcmp(name, "conflict") == 0) {
        snprintf(why, sizeof(why), "another instance is connected as %s", c->cfg.jid);
        log_warnx("router link: %s; will retry", why);
        raise_event(c, CONN_EV_CONFLICT, NULL, why);
        link_lost(c, why);
    } else {
        snprintf(why, sizeof(why), "the router closed the stream with error %s", name);
        log_warnx("router link: %s", why);
        link_lost(c, why);
    }
}

static void on_stanza(void *ud, xmpp_stanza_t *st)
{
    conn_t *c = ud;
    const char *name = xmpp_stanza_get_name(st);

    if (name && strcmp(name, "stream:error") == 0) {
        handle_stream_error(c, st);
        return;
    }
    if (c->state == ST_HANDSHAKE && name && strcmp(name, "handshake") == 0) {
        c->state = ST_READY;
        c->attempt = 0;
        uv_timer_stop(&c->deadline_timer);
        log_info("connected to router host=%s port=%d jid=%s", c->cfg.host, c->cfg.port,
                 c->cfg.jid);
        raise_event(c, CONN_EV_READY, NULL, NULL);
        return;
    }
    if (c->state != ST_READY) {
        log_debug("router link: ignoring <%s/> before the handshake completed",
                  name ? name : "?");
        return;
    }
    raise_event(c, CONN_EV_STANZA, st, NULL);
}

static void on_stream_end(void *ud)
{
    conn_t *c = ud;

    if (c->state == ST_CLOSING)
        return;
    send_raw(c, "</stream:stream>");
    flush_out(c);
    link_lost(c, "the router closed the stream");
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = s->data;

    if (c == NULL)
        return;
    if (nread < 0) {
        link_lost(c, nread == UV_EOF ? "the router closed the connection"
                                     : uv_strerror((int)nread));
        return;
    }
    uv_tcp_t *tcp = c->tcp;
    enum parser_error err = parser_feed(c->parser, buf->base, (size_t)nread);
    if (err == PARSER_OK || c->tcp != tcp)
        return; /* fine, or a callback already dropped this socket */
    if (c->state == ST_CLOSING) {
        link_lost(c, "input refused while closing");
        return;
    }
    char why[256];
    snprintf(why, sizeof(why), "input refused (%s): %s", parser_error_condition(err),
             parser_error_detail(c->parser));
    log_warnx("router link: %s; closing the stream", why);
    send_stream_error(c, parser_error_condition(err), parser_error_detail(c->parser));
    link_lost(c, why);
}

static void on_deadline(uv_timer_t *t)
{
    conn_t *c = t->data;

    log_warnx("router link: no handshake within %d ms", c->cfg.handshake_timeout_ms);
    link_lost(c, "handshake timed out");
}

static void on_keepalive(uv_timer_t *t)
{
    conn_t *c = t->data;

    if (c->state == ST_READY && !c->wrote_since_tick)
        send_raw(c, " ");
    c->wrote_since_tick = 0;
}

static void on_connected(uv_connect_t *req, int status)
{
    conn_t *c = req->data;

    if (c->state != ST_CONNECTING)
        return;
    if (status < 0) {
        log_debug("router link: connect failed: %s", uv_strerror(status));
        drop_socket(c);
        try_next_address(c);
        return;
    }
    uv_freeaddrinfo(c->addrs);
    c->addrs = c->next_addr = NULL;
    if (parser_reset(c->parser) < 0)
        fatalx("cannot create the XML parser (out of memory)");
    uv_tcp_nodelay(c->tcp, 1);
    uv_tcp_keepalive(c->tcp, 1, (unsigned)c->cfg.keepalive);
    uv_read_start((uv_stream_t *)c->tcp, on_alloc, on_read);
    c->state = ST_OPENING;
    char *hdr = xasprintf("<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
                          "xmlns:stream='" PARSER_NS_STREAMS "' to='%s'>",
                          c->cfg.jid);
    send_raw(c, hdr);
    free(hdr);
    uv_timer_start(&c->keepalive_timer, on_keepalive, (uint64_t)c->cfg.keepalive * 1000,
                   (uint64_t)c->cfg.keepalive * 1000);
}

static void try_next_address(conn_t *c)
{
    while (c->next_addr) {
        struct addrinfo *ai = c->next_addr;
        c->next_addr = ai->ai_next;
        c->tcp = xcalloc(1, sizeof(*c->tcp));
        uv_tcp_init(c->loop, c->tcp);
        c->tcp->data = c;
        c->connect_req.data = c;
        int rc = uv_tcp_connect(&c->connect_req, c->tcp, ai->ai_addr, on_connected);
        if (rc == 0) {
            c->state = ST_CONNECTING;
            return;
        }
        log_debug("router link: connect: %s", uv_strerror(rc));
        drop_socket(c);
    }
    uv_freeaddrinfo(c->addrs);
    c->addrs = NULL;
    char why[300];
    snprintf(why, sizeof(why), "cannot connect to the router at %s port %d", c->cfg.host,
             c->cfg.port);
    link_lost(c, why);
}

/* One handle or request finished closing; the last one raises CONN_EV_CLOSED. */
static void finish_one(conn_t *c)
{
    if (--c->handles_open == 0) {
        c->state = ST_CLOSED;
        raise_event(c, CONN_EV_CLOSED, NULL, NULL);
    }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    conn_t *c = req->data;

    c->resolving = 0;
    if (c->state == ST_CLOSING || c->state == ST_CLOSED) {
        uv_freeaddrinfo(res);
        finish_one(c); /* conn_close counted this request */
        return;
    }
    if (c->state != ST_RESOLVING) {
        /* The deadline gave up on this lookup and a retry is scheduled: connecting now would
         * race the retry for the one socket and request this link has. */
        uv_freeaddrinfo(res);
        log_debug("router link: late resolver answer ignored");
        return;
    }
    if (status < 0) {
        char why[300];
        snprintf(why, sizeof(why), "cannot resolve router host %s: %s", c->cfg.host,
                 uv_strerror(status));
        link_lost(c, why);
        return;
    }
    /* An attempt the deadline gave up on while it was connecting leaves its list behind. */
    if (c->addrs)
        uv_freeaddrinfo(c->addrs);
    c->addrs = c->next_addr = res;
    try_next_address(c);
}

static void begin_attempt(conn_t *c)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    char port[16];

    snprintf(port, sizeof(port), "%d", c->cfg.port);
    c->state = ST_RESOLVING;
    c->resolver.data = c;
    /* The loop's clock may be stale (a long start-up before the first attempt): the deadline
     * counts from now. */
    uv_update_time(c->loop);
    uv_timer_start(&c->deadline_timer, on_deadline, (uint64_t)c->cfg.handshake_timeout_ms, 0);
    if (c->resolving)
        return; /* the last attempt's lookup is still out: its answer serves this attempt */
    int rc = uv_getaddrinfo(c->loop, &c->resolver, on_resolved, c->cfg.host, port, &hints);
    if (rc == 0)
        c->resolving = 1;
    if (rc < 0) {
        char why[300];
        snprintf(why, sizeof(why), "cannot resolve router host %s: %s", c->cfg.host,
                 uv_strerror(rc));
        link_lost(c, why);
    }
}

static void on_retry(uv_timer_t *t)
{
    begin_attempt(t->data);
}

static void schedule_reconnect(conn_t *c, const char *why)
{
    uint64_t cap = (uint64_t)c->cfg.reconnect_max * 1000;
    uint64_t delay = BACKOFF_BASE_MS;
    unsigned char rnd[2] = {0, 0};

    for (unsigned i = 0; i < c->attempt && delay < cap; i++)
        delay *= 2;
    if (delay > cap)
        delay = cap;
    /* Jitter between 50% and 100% of the delay, so a fleet of components does not reconnect
     * in lockstep after a router restart. */
    RAND_bytes(rnd, sizeof(rnd));
    delay = delay / 2 + (delay / 2) * (uint64_t)((rnd[0] << 8) | rnd[1]) / 65535u;
    c->attempt++;
    c->state = ST_WAITING;
    log_info("router link: down (%s); reconnecting in %llu ms", why, (unsigned long long)delay);
    uv_timer_start(&c->retry_timer, on_retry, delay, 0);
}

conn_t *conn_new(uv_loop_t *loop, xmpp_ctx_t *ctx, const struct conn_config *cfg,
                 conn_event_cb cb, void *ud)
{
    conn_t *c = xcalloc(1, sizeof(*c));
    struct parser_limits limits = {.max_stanza_size = cfg->max_stanza_size,
                                   .max_depth = cfg->max_depth,
                                   .max_children = cfg->max_children,
                                   .max_attributes = cfg->max_attributes};
    struct parser_callbacks pcb = {on_stream_start, on_stanza, on_stream_end};

    c->loop = loop;
    c->ctx = ctx;
    c->cfg = *cfg;
    if (c->cfg.handshake_timeout_ms <= 0)
        c->cfg.handshake_timeout_ms = DEFAULT_HANDSHAKE_TIMEOUT_MS;
    c->cb = cb;
    c->ud = ud;
    c->parser = parser_new(ctx, &limits, &pcb, c);
    if (c->parser == NULL)
        fatalx("cannot create the XML parser");
    uv_timer_init(loop, &c->retry_timer);
    uv_timer_init(loop, &c->keepalive_timer);
    uv_timer_init(loop, &c->deadline_timer);
    uv_prepare_init(loop, &c->flusher);
    c->retry_timer.data = c->keepalive_timer.data = c->deadline_timer.data = c;
    c->flusher.data = c;
    c->handles_open = 4;
    return c;
}

void conn_step_down(conn_t *c, const char *why)
{
    if (c->state != ST_READY)
        return;
    send_raw(c, "</stream:stream>");
    flush_out(c);
    log_warnx("router link: %s; disconnecting and retrying with backoff", why);
    /* Reconnecting resets `attempt` (the handshake succeeds); a standby's retries must still
     * back off up to reconnect_max, as after Prosody's conflict. */
    c->attempt = ++c->stepdowns;
    link_lost(c, why);
}

void conn_start(conn_t *c)
{
    if (c->state == ST_IDLE)
        begin_attempt(c);
}

int conn_is_ready(const conn_t *c)
{
    return c->state == ST_READY;
}

int conn_send(conn_t *c, xmpp_stanza_t *stanza)
{
    char *text = NULL;
    size_t len = 0;

    if (c->state != ST_READY)
        return -1;
    if (conn_queued_bytes(c) > 2 * c->cfg.send_queue_max) {
        log_warnx("router link: output queue full (%zu bytes, limit %zu); dropping a stanza",
                  conn_queued_bytes(c), 2 * c->cfg.send_queue_max);
        return -1;
    }
    if (xmpp_stanza_to_text(stanza, &text, &len) != XMPP_EOK)
        return -1;
    if (stanza_scrub_xml(text, len) > 0) /* else the router drops the stream (stanza.h) */
        log_warnx("router link: replaced bytes XML does not allow in an outgoing stanza");
    append_out(c, text, len);
    xmpp_free(c->ctx, text);
    update_backpressure(c);
    return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    finish_one(h->data);
}

static void close_handles(conn_t *c)
{
    if (c->handles_closing)
        return;
    c->handles_closing = 1;
    drop_socket(c);
    uv_close((uv_handle_t *)&c->retry_timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->keepalive_timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->deadline_timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->flusher, on_handle_closed);
}

static void on_grace_over(uv_timer_t *t)
{
    conn_t *c = t->data;

    /* The router had its chance to close first; now close everything. */
    close_handles(c);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    free(req);
}

void conn_close(conn_t *c)
{
    int was = c->state;

    if (was == ST_CLOSING || c->handles_open == 0)
        return;
    c->state = ST_CLOSING;
    uv_timer_stop(&c->retry_timer);
    if (c->resolving) {
        c->handles_open++; /* the resolver's callback still has to run */
        uv_cancel((uv_req_t *)&c->resolver);
    }
    if (c->tcp && (was == ST_OPENING || was == ST_HANDSHAKE || was == ST_READY)) {
        send_raw(c, "</stream:stream>");
        flush_out(c);
        uv_shutdown_t *req = xmalloc(sizeof(*req));
        if (uv_shutdown(req, (uv_stream_t *)c->tcp, on_shutdown) < 0)
            free(req);
        uv_timer_stop(&c->deadline_timer);
        uv_timer_start(&c->deadline_timer, on_grace_over, CLOSE_GRACE_MS, 0);
        return;
    }
    close_handles(c);
}

void conn_free(conn_t *c)
{
    if (c == NULL)
        return;
    parser_free(c->parser);
    if (c->addrs)
        uv_freeaddrinfo(c->addrs);
    free(c->out);
    free(c->stream_id);
    free(c);
}
