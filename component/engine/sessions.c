/* The presence session table: a hash of tracked users by bare JID, each with its available
 * resources and its node (an index into a small table of node counters). Every change keeps the
 * per-node counters exact, so counting is O(1) however many sessions there are. A tracked user
 * is one allocation (key and resources inline): about 72 bytes for a user with one session. */
#include "component/engine/sessions.h"

#include "component/app.h"
#include "component/engine/services.h"
#include "store/store_topo.h"
#include "store/store_user.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SESSIONS_MIN_BUCKETS 1024u
#define SESSIONS_MAX_RESOURCES 64 /* per user; more are logged and not counted */
#define SESSIONS_JID_MAX 3071     /* RFC 7622: 1023 per part, three parts */
#define NO_NODE (-1)
/* After a (re)connect every provisioned user is probed: a million probes at once would overrun
 * the router link's output queue (conn drops stanzas beyond it), so they go out in batches,
 * one per loop turn, and wait a little when the queue refuses one. */
#define SESSIONS_PROBE_BATCH 1000
#define SESSIONS_PROBE_RETRY_MS 50
/* Presence that arrives in one read from the router is handled together at the end of that
 * loop turn, inside one read transaction: a lookup per new session then costs no WAL read
 * locks of its own (they were a quarter of the daemon's time at 100,000 new sessions/s). */
#define SESSIONS_QUEUE_MAX 4096

/* Only the bucket slot points at a tracked user, so it may move (realloc) when its resources
 * change: the code that changes them holds the slot and stores the new address there. */
struct tracked {
    struct tracked *next; /* bucket chain */
    uint32_t hash;        /* of the key: chains compare it first; growing does not rehash */
    int32_t node;         /* index into s->nodes, NO_NODE when the user is assigned to none */
    uint16_t key_len;     /* strlen of the key (<= SESSIONS_JID_MAX) */
    uint16_t nres;        /* available resources (<= SESSIONS_MAX_RESOURCES) */
    uint32_t res_len;     /* bytes of the resources, NULs included */
    /* the lower-case bare JID and its NUL, then each available resource and its NUL ("" for
     * a bare-JID presence) */
    char data[];
};

static const char *key_of(const struct tracked *t)
{
    return t->data;
}

static char *resources_of(struct tracked *t)
{
    return t->data + t->key_len + 1;
}

struct node_count {
    char *name;
    int64_t sessions, users;
    bool engine_off; /* presence-engine deactivated: nothing is counted here */
};

struct sessions {
    struct app *app;
    dispatch_t *d;
    const char *self;
    struct tracked **buckets;
    size_t nbuckets, nusers;
    int64_t total, unassigned_sessions;
    struct node_count *nodes;
    size_t nnodes;
    /* the probe run after a (re)connect or a presence-engine coming back */
    uv_timer_t probe_timer; /* used when app->loop is set; otherwise a run is synchronous */
    bool timer_ready, probing;
    int32_t probe_only;  /* the node whose users are probed, NO_NODE for all */
    int64_t probe_after; /* id of the last user handled: the run's keyset cursor */
    size_t probes_sent;
    /* presence waiting for the end of the loop turn (used when app->loop is set) */
    uv_check_t *check;
    xmpp_stanza_t **queue;
    size_t nqueue;
};

/* ---- the hash ---- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static struct tracked **slot_of(struct sessions *s, const char *bare)
{
    uint32_t h = (uint32_t)hash_str(bare);
    struct tracked **p = &s->buckets[h & (s->nbuckets - 1)];

    while (*p != NULL && ((*p)->hash != h || strcmp(key_of(*p), bare) != 0))
        p = &(*p)->next;
    return p;
}

static void grow(struct sessions *s)
{
    size_t old = s->nbuckets;
    struct tracked **b = s->buckets;

    s->nbuckets = old * 2;
    s->buckets = xcalloc(s->nbuckets, sizeof(*s->buckets));
    for (size_t i = 0; i < old; i++) {
        for (struct tracked *t = b[i], *next; t != NULL; t = next) {
            struct tracked **head = &s->buckets[t->hash & (s->nbuckets - 1)];
            next = t->next;
            t->next = *head;
            *head = t;
        }
    }
    free(b);
}

/* ---- node counters ---- */

static int32_t node_index(struct sessions *s, const char *name, bool add)
{
    for (size_t i = 0; i < s->nnodes; i++)
        if (strcasecmp(s->nodes[i].name, name) == 0)
            return (int32_t)i;
    if (!add)
        return NO_NODE;
    s->nodes = xrealloc(s->nodes, (s->nnodes + 1) * sizeof(*s->nodes));
    memset(&s->nodes[s->nnodes], 0, sizeof(*s->nodes));
    s->nodes[s->nnodes].name = xstrdup(name);
    return (int32_t)s->nnodes++;
}

/* Adds `delta` sessions of one user (who had `before` sessions) to the counters. */
static void count(struct sessions *s, const struct tracked *t, int64_t delta, uint32_t before)
{
    s->total += delta;
    if (t->node == NO_NODE) {
        s->unassigned_sessions += delta;
        return;
    }
    s->nodes[t->node].sessions += delta;
    if (before == 0 && delta > 0)
        s->nodes[t->node].users++;
    else if (before > 0 && before + delta == 0)
        s->nodes[t->node].users--;
}

/* ---- users ---- */

static void lower(char *p)
{
    for (; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

/* Whether `bare` (lower-case) is a provisioned user's IM address; *node gets the assigned
 * node (malloc'd, NULL for none). 1 yes, 0 no, -1 the store failed. One indexed lookup by IM
 * address, whatever the scheme (a directory URI need not start with the userid). */
static int lookup_user(struct sessions *s, const char *bare, char **node)
{
    enum store_rc rc = store_user_node_by_im(s->app->store, bare, node);

    if (rc == STORE_ERR) {
        log_warnx("sessions: cannot look up %s: %s", bare, store_errmsg(s->app->store));
        return -1;
    }
    return rc == STORE_OK;
}

static void drop_all(struct sessions *s, struct tracked **slot)
{
    struct tracked *t = *slot;

    count(s, t, -(int64_t)t->nres, t->nres);
    *slot = t->next;
    free(t);
    s->nusers--;
}

/* The slot of the tracked user `bare`, created when it is a provisioned user on a counting
 * node; NULL otherwise. */
static struct tracked **track(struct sessions *s, const char *bare)
{
    struct tracked **slot = slot_of(s, bare), *t;
    char *node = NULL;
    int32_t idx = NO_NODE;
    size_t len = strlen(bare);

    if (*slot != NULL)
        return slot;
    if (lookup_user(s, bare, &node) != 1)
        return NULL;
    if (node != NULL)
        idx = node_index(s, node, true);
    free(node);
    if (idx != NO_NODE && s->nodes[idx].engine_off)
        return NULL;
    t = xmalloc(sizeof(*t) + len + 1);
    *t = (struct tracked){
        .next = *slot, .hash = (uint32_t)hash_str(bare), .node = idx, .key_len = (uint16_t)len};
    memcpy(t->data, bare, len + 1);
    *slot = t;
    if (++s->nusers > s->nbuckets) {
        grow(s);
        slot = slot_of(s, bare);
    }
    return slot;
}

/* Where `res` starts among t's resources, or NULL. */
static char *find_resource(struct tracked *t, const char *res)
{
    char *r = resources_of(t);

    for (uint16_t i = 0; i < t->nres; i++, r += strlen(r) + 1)
        if (strcmp(r, res) == 0)
            return r;
    return NULL;
}

/* Resizes the user at *slot to hold `res_len` bytes of resources. */
static struct tracked *resize(struct tracked **slot, uint32_t res_len)
{
    struct tracked *t = *slot;

    t = xrealloc(t, sizeof(*t) + t->key_len + 1 + res_len);
    t->res_len = res_len;
    return *slot = t;
}

static void add_resource(struct sessions *s, struct tracked **slot, const char *res)
{
    struct tracked *t = *slot;
    size_t len = strlen(res) + 1;
    uint32_t at = t->res_len;

    if (find_resource(t, res) != NULL)
        return; /* a presence update of a session we count already */
    if (t->nres == SESSIONS_MAX_RESOURCES) {
        log_warnx("sessions: %s has %d resources; not counting %s", key_of(t),
                  SESSIONS_MAX_RESOURCES, res);
        return;
    }
    t = resize(slot, at + (uint32_t)len);
    memcpy(resources_of(t) + at, res, len);
    t->nres++;
    count(s, t, 1, t->nres - 1u);
}

/* Removes one resource, or all of them when `res` is NULL; forgets users left with none. */
static void remove_resource(struct sessions *s, const char *bare, const char *res)
{
    struct tracked **slot = slot_of(s, bare), *t = *slot;
    char *r = NULL;
    size_t len;

    if (t == NULL || (res != NULL && (r = find_resource(t, res)) == NULL))
        return;
    if (res == NULL || t->nres == 1) {
        drop_all(s, slot);
        return;
    }
    len = strlen(r) + 1;
    memmove(r, r + len, (size_t)(resources_of(t) + t->res_len - (r + len)));
    t = resize(slot, t->res_len - (uint32_t)len);
    t->nres--;
    count(s, t, -1, t->nres + 1u);
}

/* ---- stanzas ---- */

/* Returns dispatch_send's verdict: -1 when the link is down or its output queue is full. */
static int send_presence(struct sessions *s, const char *to, const char *type)
{
    xmpp_stanza_t *p = xmpp_presence_new(s->app->ctx);
    int rc;

    xmpp_stanza_set_to(p, to);
    xmpp_stanza_set_from(p, s->self);
    if (type != NULL)
        xmpp_stanza_set_type(p, type);
    rc = dispatch_send(s->d, p);
    xmpp_stanza_release(p);
    return rc;
}

/* A subscription request: approved (and returned) for provisioned users only. */
static void on_subscribe(struct sessions *s, const char *bare)
{
    char *node = NULL;
    int r = lookup_user(s, bare, &node);

    free(node);
    if (r != 1) {
        log_info("sessions: subscription refused jid=%s reason=%s", bare,
                 r == 0 ? "not-provisioned" : "store-error");
        send_presence(s, bare, "unsubscribed");
        return;
    }
    log_info("sessions: subscription approved jid=%s", bare);
    send_presence(s, bare, "subscribed");
    send_presence(s, bare, "subscribe");
}

static void on_available(struct sessions *s, const char *bare, const char *res)
{
    struct tracked **slot = track(s, bare);

    if (slot != NULL)
        add_resource(s, slot, res);
}

static void on_probe(struct sessions *s, const char *bare)
{
    char *node = NULL;

    if (lookup_user(s, bare, &node) == 1)
        send_presence(s, bare, NULL);
    free(node);
}

/* Splits a from= JID into its lower-case bare part and its resource ("" for none). */
static bool split_jid(const char *from, char *bare, size_t size, const char **res)
{
    size_t len = strcspn(from, "/");

    if (len == 0 || len >= size || strchr(from, '@') == NULL)
        return false;
    memcpy(bare, from, len);
    bare[len] = '\0';
    lower(bare);
    *res = from[len] == '/' ? from + len + 1 : "";
    return true;
}

static void handle_presence(struct sessions *s, xmpp_stanza_t *presence)
{
    const char *from = xmpp_stanza_get_from(presence), *type = xmpp_stanza_get_type(presence);
    const char *res;
    char bare[SESSIONS_JID_MAX + 1];

    if (from == NULL || !split_jid(from, bare, sizeof(bare), &res))
        return; /* presence from a server or a component: not a user session */
    if (type == NULL)
        on_available(s, bare, res);
    else if (strcmp(type, "unavailable") == 0 || strcmp(type, "error") == 0)
        remove_resource(s, bare, *res ? res : NULL);
    else if (strcmp(type, "subscribe") == 0)
        on_subscribe(s, bare);
    else if (strcmp(type, "unsubscribe") == 0 || strcmp(type, "unsubscribed") == 0) {
        remove_resource(s, bare, NULL);
        if (strcmp(type, "unsubscribe") == 0)
            send_presence(s, bare, "unsubscribed");
    } else if (strcmp(type, "probe") == 0)
        on_probe(s, bare);
}

/* Handles the queued presence in arrival order, in one read transaction when none is open
 * (handling only reads the store). */
static void flush_queue(struct sessions *s)
{
    struct store *st = s->app->store;
    bool tx = !store_in_transaction(st) && store_read_begin(st) == STORE_OK;

    for (size_t i = 0; i < s->nqueue; i++) {
        handle_presence(s, s->queue[i]);
        xmpp_stanza_release(s->queue[i]);
    }
    s->nqueue = 0;
    if (tx && store_read_end(st) != STORE_OK)
        log_warnx("sessions: ending the read transaction: %s", store_errmsg(st));
}

static void on_turn_end(uv_check_t *h)
{
    struct sessions *s = h->data;

    uv_check_stop(h);
    flush_queue(s);
}

void sessions_on_presence(void *ud, xmpp_stanza_t *presence)
{
    struct sessions *s = ud;

    if (s->check == NULL) {
        handle_presence(s, presence);
        return;
    }
    if (s->nqueue == 0) {
        s->queue = s->queue ? s->queue : xcalloc(SESSIONS_QUEUE_MAX, sizeof(*s->queue));
        uv_check_start(s->check, on_turn_end);
    }
    s->queue[s->nqueue++] = xmpp_stanza_clone(presence);
    if (s->nqueue == SESSIONS_QUEUE_MAX)
        flush_queue(s); /* the check finds nothing left and stops */
}

/* ---- life cycle ---- */

static void clear_table(struct sessions *s)
{
    for (size_t i = 0; i < s->nbuckets; i++)
        while (s->buckets[i] != NULL)
            drop_all(s, &s->buckets[i]);
}

/* Re-reads which nodes have presence-engine deactivated. */
static void read_engine_states(struct sessions *s)
{
    struct store_service *v = NULL;
    size_t n = 0;

    for (size_t i = 0; i < s->nnodes; i++)
        s->nodes[i].engine_off = false;
    if (store_service_list(s->app->store, NULL, &v, &n) != STORE_OK) {
        log_warnx("sessions: cannot read service states: %s", store_errmsg(s->app->store));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int32_t idx; /* before indexing: node_index may move s->nodes */
        if (strcmp(v[i].service, SERVICE_PRESENCE_ENGINE) != 0 || services_state_is_up(v[i].state))
            continue;
        idx = node_index(s, v[i].node, true);
        s->nodes[idx].engine_off = true;
    }
    store_service_list_free(v, n);
}

static void engine_changed(void *ud)
{
    sessions_engine_changed(ud);
}

struct sessions *sessions_new(struct app *app, dispatch_t *d, const char *self_jid)
{
    struct sessions *s = xcalloc(1, sizeof(*s));

    s->app = app;
    s->d = d;
    s->self = self_jid;
    s->nbuckets = SESSIONS_MIN_BUCKETS;
    s->buckets = xcalloc(s->nbuckets, sizeof(*s->buckets));
    s->probe_only = NO_NODE;
    if (app->loop != NULL && uv_timer_init(app->loop, &s->probe_timer) == 0) {
        s->probe_timer.data = s;
        s->timer_ready = true;
    }
    if (app->loop != NULL) {
        s->check = xmalloc(sizeof(*s->check));
        uv_check_init(app->loop, s->check);
        s->check->data = s;
    }
    read_engine_states(s);
    if (app->services != NULL) /* runs of the presence engine's hooks tell us */
        services_on_engine_changed(app->services, engine_changed, s);
    return s;
}

static void free_on_close(uv_handle_t *h)
{
    free(h->data);
}

static void free_check(uv_handle_t *h)
{
    free(h);
}

void sessions_free(struct sessions *s)
{
    if (s == NULL)
        return;
    if (s->app->services != NULL)
        services_on_engine_changed(s->app->services, NULL, NULL);
    for (size_t i = 0; i < s->nqueue; i++) /* the daemon stops: what came last is dropped */
        xmpp_stanza_release(s->queue[i]);
    free(s->queue);
    /* At shutdown the daemon may have closed every handle already (the loop has run out
     * since): then only the memory is left to free. */
    if (s->check != NULL && !uv_is_closing((uv_handle_t *)s->check))
        uv_close((uv_handle_t *)s->check, free_check);
    else
        free(s->check);
    clear_table(s);
    for (size_t i = 0; i < s->nnodes; i++)
        free(s->nodes[i].name);
    free(s->nodes);
    free(s->buckets);
    /* The timer's memory is in `s`: free it once the loop has closed the timer. */
    if (s->timer_ready && !uv_is_closing((uv_handle_t *)&s->probe_timer)) {
        uv_close((uv_handle_t *)&s->probe_timer, free_on_close);
        return;
    }
    free(s);
}

static bool wants_probe(struct sessions *s, const struct store_user *u)
{
    int32_t idx = u->node ? node_index(s, u->node, false) : NO_NODE;

    if (s->probe_only != NO_NODE && idx != s->probe_only)
        return false;
    return idx == NO_NODE || !s->nodes[idx].engine_off;
}

/* Probes the next page of users from the cursor on. Returns how many users the page held (0:
 * the run is over); *blocked when a probe was refused (it is retried from the cursor). */
static size_t probe_page(struct sessions *s, bool *blocked)
{
    struct store_user *u = NULL;
    size_t n = 0, i;

    *blocked = false;
    if (store_user_list_after(s->app->store, s->probe_after, SESSIONS_PROBE_BATCH, &u, &n) !=
        STORE_OK) {
        log_warnx("sessions: cannot list users to probe: %s", store_errmsg(s->app->store));
        return 0;
    }
    for (i = 0; i < n; i++) {
        bool want = wants_probe(s, &u[i]);
        if (want && send_presence(s, u[i].im_address, "probe") < 0) {
            *blocked = true;
            break;
        }
        s->probes_sent += want;
        s->probe_after = u[i].id;
    }
    store_user_list_free(u, n);
    return n;
}

static void probe_end(struct sessions *s)
{
    s->probing = false;
    log_info("sessions: probes sent=%zu", s->probes_sent);
}

static void on_probe_timer(uv_timer_t *t)
{
    struct sessions *s = t->data;
    bool blocked;

    if (s->app->stopping || probe_page(s, &blocked) == 0) {
        probe_end(s);
        return;
    }
    uv_timer_start(&s->probe_timer, on_probe_timer, blocked ? SESSIONS_PROBE_RETRY_MS : 0, 0);
}

/* Starts (or restarts from the first user) a probe run over every provisioned user on a
 * counting node (`only`: that node index alone). Without a loop it runs to the end now, and a
 * refused probe ends it. */
static void probe_users(struct sessions *s, int32_t only)
{
    bool blocked = false;

    if (s->probing && s->probe_only != only)
        only = NO_NODE; /* two runs at once: one over everybody covers both */
    s->probing = true;
    s->probe_only = only;
    s->probe_after = 0;
    s->probes_sent = 0;
    if (s->timer_ready) {
        uv_timer_start(&s->probe_timer, on_probe_timer, 0, 0);
        return;
    }
    while (!blocked && probe_page(s, &blocked) > 0)
        ;
    probe_end(s);
}

void sessions_on_ready(struct sessions *s)
{
    if (s == NULL)
        return;
    clear_table(s);
    read_engine_states(s);
    probe_users(s, NO_NODE);
}

/* Moves one user's counters to the node the store now says (or drops the user). */
static void relocate(struct sessions *s, struct tracked **slot)
{
    struct tracked *t = *slot;
    char *node = NULL;
    int r = lookup_user(s, key_of(t), &node);
    int32_t idx = node ? node_index(s, node, true) : NO_NODE;
    uint32_t n = t->nres;

    free(node);
    if (r == 0 || (idx != NO_NODE && s->nodes[idx].engine_off)) {
        drop_all(s, slot);
        return;
    }
    if (r < 0 || idx == t->node)
        return;
    count(s, t, -(int64_t)n, n);
    t->node = idx;
    count(s, t, n, 0);
}

/* Visits every tracked user; `fn` may unlink the one it is given. */
static void each_user(struct sessions *s, void (*fn)(struct sessions *, struct tracked **))
{
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct tracked **p = &s->buckets[i];
        while (*p != NULL) {
            struct tracked *before = *p;
            fn(s, p);
            if (*p == before)
                p = &(*p)->next;
        }
    }
}

void sessions_users_changed(struct sessions *s)
{
    if (s != NULL)
        each_user(s, relocate);
}

void sessions_engine_changed(struct sessions *s)
{
    size_t n;
    bool *was;

    if (s == NULL)
        return;
    n = s->nnodes;
    was = xcalloc(n ? n : 1, sizeof(*was));
    for (size_t i = 0; i < n; i++)
        was[i] = s->nodes[i].engine_off;
    read_engine_states(s);
    each_user(s, relocate);
    for (size_t i = 0; i < n; i++)
        if (was[i] && !s->nodes[i].engine_off)
            probe_users(s, (int32_t)i);
    free(was);
}

/* ---- counts ---- */

static const struct node_count *find_node(const struct sessions *s, const char *node)
{
    for (size_t i = 0; s != NULL && i < s->nnodes; i++)
        if (strcasecmp(s->nodes[i].name, node) == 0)
            return &s->nodes[i];
    return NULL;
}

int64_t sessions_on_node(const struct sessions *s, const char *node)
{
    const struct node_count *c = find_node(s, node);
    return c ? c->sessions : 0;
}

int64_t sessions_users_on_node(const struct sessions *s, const char *node)
{
    const struct node_count *c = find_node(s, node);
    return c ? c->users : 0;
}

int64_t sessions_total(const struct sessions *s)
{
    return s ? s->total : 0;
}

int64_t sessions_online_users(const struct sessions *s)
{
    return s ? (int64_t)s->nusers : 0;
}

int64_t sessions_of_user(const struct sessions *s, const char *bare)
{
    char key[SESSIONS_JID_MAX + 1];
    struct tracked *t;

    if (s == NULL || strlen(bare) > SESSIONS_JID_MAX)
        return 0;
    strcpy(key, bare);
    lower(key);
    t = *slot_of((struct sessions *)s, key);
    return t ? t->nres : 0;
}
