/* Private to component/engine/peers.c and peer_fetch.c: the peers object and one peer's
 * refresh in flight. Nothing else includes this.
 * Ownership: struct peers owns its fetches; a fetch owns its strings, its merged pages and its
 * waiters (each called once when it ends). */
#ifndef IMD_PEER_INTERNAL_H
#define IMD_PEER_INTERNAL_H

#include <stdbool.h>
#include <uv.h>

#include "component/app.h"
#include "component/engine/peer_page.h"
#include "component/engine/peers.h"

struct peers {
    struct app *app;
    uv_timer_t timer;
    bool stopped;
    struct fetch *fetches; /* refreshes in flight */
};

struct waiter {
    peers_done_fn fn;
    void *arg;
    struct waiter *next;
};

/* One refresh in flight: the pages gathered so far, taken in one piece at the end. */
struct fetch {
    struct peers *ps;
    char *jid;
    char *known;          /* the version we hold (NULL: ask for everything) */
    char *version;        /* of the pages gathered */
    char *cursor;         /* asked with next; NULL for the first page */
    struct peer_page all; /* the pages merged: header of the last, every domain and hash */
    unsigned pages, restarts;
    struct waiter *waiters;
    struct fetch *next;
};

/* Refreshes `jid`, or waits for its refresh in flight; fn(arg) (may be NULL) is called once when
 * it ends. */
void peer_fetch_start(struct peers *ps, const char *jid, peers_done_fn fn, void *arg);
/* Unlinks and frees `f`, calling its waiters. */
void peer_fetch_finish(struct fetch *f);

#endif
