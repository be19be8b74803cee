/* The XEP-0114 link to the router: TCP (IPv4/IPv6) on libuv, stream header, handshake, parser,
 * coalesced writes with a high-water mark, keepalive, and reconnection with backoff and jitter.
 * The connection owns its socket, buffers and timers and raises events to one callback. */
#ifndef IMD_CONN_H
#define IMD_CONN_H

#include <stddef.h>
#include <strophe.h>
#include <uv.h>

struct conn_config {
    const char *host; /* borrowed: must outlive the connection */
    int port;
    const char *jid;    /* the component's JID (stream 'to') */
    const char *secret; /* never logged */
    size_t max_stanza_size;
    int max_depth;
    size_t max_children; /* per element; 0: PARSER_DEFAULT_MAX_CHILDREN */
    int max_attributes;  /* per element; 0: PARSER_DEFAULT_MAX_ATTRIBUTES */
    int keepalive;       /* seconds between whitespace keepalives when otherwise idle */
    int reconnect_max;   /* cap of the reconnect backoff, seconds */
    size_t send_queue_max;
    int handshake_timeout_ms; /* 0 = 15000 */
};

enum conn_event {
    CONN_EV_READY,    /* authenticated: stanzas may be sent */
    CONN_EV_STANZA,   /* a stanza arrived (borrowed for the call) */
    CONN_EV_LOST,     /* the link went down; a reconnect is scheduled (detail says why) */
    CONN_EV_FATAL,    /* the router refused us for good (wrong secret, unknown JID) */
    CONN_EV_CLOSED,   /* conn_close finished: every handle is closed, conn_free may be called */
    CONN_EV_RETRY,    /* an attempt failed before the link was ready; a reconnect is scheduled */
    CONN_EV_CONFLICT, /* the router refused us because another connection holds our JID
                       * (Prosody's `conflict`); CONN_EV_RETRY follows */
};

typedef void (*conn_event_cb)(void *ud, enum conn_event ev, xmpp_stanza_t *stanza,
                              const char *detail);

typedef struct conn conn_t;

/* `loop` and `ctx` are borrowed. Call conn_start to begin connecting. */
conn_t *conn_new(uv_loop_t *loop, xmpp_ctx_t *ctx, const struct conn_config *cfg,
                 conn_event_cb cb, void *ud);
void conn_start(conn_t *c);
/* Queues a stanza (borrowed; serialised at once). Returns 0, or -1 if the link is not ready or
 * the queue is above twice its high-water mark (the stanza is dropped and logged). */
int conn_send(conn_t *c, xmpp_stanza_t *stanza);
int conn_is_ready(const conn_t *c);
/* Stands down while ready: closes the stream and the socket, raises CONN_EV_LOST with `why`
 * and reconnects with a backoff that grows with every step-down (capped by reconnect_max), as
 * after a `conflict` refusal. Used when another instance serves the same JID. */
void conn_step_down(conn_t *c, const char *why);
/* Closes the stream cleanly (</stream:stream>, flush, bounded wait), then every handle, then
 * raises CONN_EV_CLOSED. No reconnect follows. */
void conn_close(conn_t *c);
/* Frees a connection after CONN_EV_CLOSED (or one never started). */
void conn_free(conn_t *c);

/* Bytes waiting to be written (coalescing buffer plus libuv's queue). */
size_t conn_queued_bytes(const conn_t *c);

#endif
