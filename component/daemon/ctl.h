/* The local control socket: a UNIX stream socket whose peers are checked by uid, carrying the
 * same <iq> payloads as XMPP (see ctl_proto.h), answered by the same code. */
#ifndef IMD_CTL_H
#define IMD_CTL_H

#include <strophe.h>
#include <sys/types.h>
#include <uv.h>

/* A request whose answer comes later (a command waiting for a reload hook, say). */
typedef struct ctl_pending ctl_pending_t;

/* Answers one request. `iq` is borrowed; `requester` is "uid:N/cK", the peer's uid and the
 * connection's number (K), so that each connection owns its own command sessions. Returns the
 * reply, which ctl owns and releases; or returns NULL and answers later through `pending` (the
 * callee then owns `pending` and must pass it to ctl_pending_answer exactly once). */
typedef xmpp_stanza_t *(*ctl_request_fn)(void *ud, xmpp_stanza_t *iq, const char *requester,
                                         ctl_pending_t *pending);

/* Sends a late answer (borrowed) if the client is still connected, and frees `pending`. */
void ctl_pending_answer(ctl_pending_t *pending, xmpp_stanza_t *reply);

#define CTL_DEFAULT_MAX_CLIENTS 32
#define CTL_DEFAULT_IDLE_TIMEOUT_MS (5u * 60u * 1000u)
/* Answers queued to one client above which its requests are no longer read (a client that
 * sends and never reads cannot make the daemon grow); reading resumes below half of it. */
#define CTL_OUTPUT_HWM (2u * 1024u * 1024u)

struct ctl_config {
    const char *path;  /* borrowed */
    mode_t mode;       /* of the socket file */
    const char *group; /* optional: owner group of the socket, whose members are let in */
    /* Zero fields take the defaults. */
    int max_clients;          /* connections at once; at the limit the longest idle one is closed */
    unsigned idle_timeout_ms; /* a connection with nothing in flight this long is closed */
    int max_depth;            /* of a request's elements, as for stanzas */
    size_t max_children;      /* of one element; 0: PARSER_DEFAULT_MAX_CHILDREN */
    int max_attributes;       /* of one element; 0: PARSER_DEFAULT_MAX_ATTRIBUTES */
};

typedef struct ctl ctl_t;

/* Told that the connection of `requester` ("uid:N/cK", borrowed) closed: its command sessions
 * have no one left to finish them. Not called while ctl_close() closes everything. */
typedef void (*ctl_closed_fn)(void *ud, const char *requester);

/* Creates the socket (and its directory, 0755, if missing; a stale socket is replaced, a live
 * one is an error). Returns NULL with a logged reason on failure. */
ctl_t *ctl_open(uv_loop_t *loop, xmpp_ctx_t *ctx, const struct ctl_config *cfg, ctl_request_fn fn,
                void *ud);
/* Sets the hook called when a client's connection closes (`ud` as given to ctl_open). */
void ctl_on_closed(ctl_t *ctl, ctl_closed_fn fn);
/* Closes the listener and every client, and unlinks the socket file. The handles finish
 * closing on the next loop turn; ctl frees itself then. */
void ctl_close(ctl_t *ctl);

#endif
