/* Unit tests for component/engine/peer_fetch.c through peers_refresh(): the asking side of the
 * peer protocol against a scripted peer. The router is a capture of what the dispatcher sends;
 * each answer is routed back through dispatch_stanza() as the router would. What is checked is
 * what the store holds afterwards: an answer is taken whole with its sync audit, or not at all
 * (the peer's earlier data and the local domains unchanged) with the reason recorded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/lib/store_fault.h"
#include "tests/lib/tmpstore.h"
#include "component/app.h"
#include "component/config.h"
#include "component/engine/peer_page.h"
#include "component/engine/peers.h"
#include "component/engine/sync.h"
#include "store/store_audit.h"
#include "store/store_domain.h"
#include "store/store_peer.h"
#include "store/store_user.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/dispatch.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ME "a.example.test"
#define PEER "b.example.test"
#define MAX_SENT 8

struct rig {
    char dir[64], path[96];
    struct config cfg;
    struct app app;
    uv_loop_t loop;
    xmpp_ctx_t *ctx;
    dispatch_t *d;
    struct peers *ps;
    xmpp_stanza_t *sent[MAX_SENT]; /* iqs sent and not yet answered by the test, oldest first */
    int n_sent;
    bool link_down; /* the router link refuses to queue */
    int done;       /* peers_refresh() completions */
};

static int capture(void *ud, xmpp_stanza_t *stanza)
{
    struct rig *r = ud;

    if (r->link_down)
        return -1;
    assert_true(r->n_sent < MAX_SENT);
    r->sent[r->n_sent++] = xmpp_stanza_copy(stanza);
    return 0;
}

static int setup(void **state)
{
    struct rig *r = xcalloc(1, sizeof(*r));
    char *err = NULL;

    if (store_fault_install() < 0 || /* a disk that fails when a test says so */
        tmpstore_make(r->dir, sizeof(r->dir), r->path, sizeof(r->path), "peerfetch") < 0)
        return -1;
    config_defaults(&r->cfg);
    r->cfg.jid = xstrdup(ME);
    uv_loop_init(&r->loop);
    r->ctx = xmpp_ctx_new(NULL, NULL);
    r->app.cfg = &r->cfg;
    r->app.loop = &r->loop;
    r->app.ctx = r->ctx;
    r->app.store = store_open(r->path, &err);
    if (r->app.store == NULL) {
        fprintf(stderr, "store_open: %s\n", err ? err : "?");
        return -1;
    }
    r->d = dispatch_new(&r->loop, r->ctx, capture, r);
    r->app.dispatch = r->d;
    r->ps = peers_new(&r->app);
    r->app.peers = r->ps;
    assert_int_equal(store_peer_add(r->app.store, PEER, false), STORE_OK);
    *state = r;
    return r->ps ? 0 : -1;
}

static int teardown(void **state)
{
    struct rig *r = *state;

    store_fault_disarm();
    peers_stop(r->ps);
    dispatch_free(r->d); /* refreshes still waiting end here, recording nothing */
    peers_free(r->ps);
    uv_run(&r->loop, UV_RUN_DEFAULT); /* the closed timers */
    assert_int_equal(uv_loop_close(&r->loop), 0);
    for (int i = 0; i < r->n_sent; i++)
        xmpp_stanza_release(r->sent[i]);
    store_close(r->app.store);
    xmpp_ctx_free(r->ctx);
    config_free(&r->cfg);
    assert_int_equal(tmpstore_remove(r->dir, r->path), 0);
    free(r);
    return 0;
}

static void on_done(void *arg)
{
    ((struct rig *)arg)->done++;
}

static void refresh(struct rig *r)
{
    peers_refresh(r->ps, PEER, on_done, r);
}

/* The oldest question not yet answered (the caller releases it). */
static xmpp_stanza_t *asked(struct rig *r)
{
    xmpp_stanza_t *iq;

    assert_true(r->n_sent > 0);
    iq = r->sent[0];
    memmove(r->sent, r->sent + 1, (size_t)(r->n_sent - 1) * sizeof(*r->sent));
    r->n_sent--;
    assert_string_equal(xmpp_stanza_get_to(iq), PEER);
    assert_string_equal(xmpp_stanza_get_type(iq), "get");
    return iq;
}

/* The attribute of the question's <peer/> payload, or NULL. */
static const char *q_attr(xmpp_stanza_t *iq, const char *name)
{
    xmpp_stanza_t *q = xmpp_stanza_get_child_by_ns(iq, PEER_NS);

    assert_non_null(q);
    return xmpp_stanza_get_attribute(q, name);
}

/* Routes the peer's answer to `iq` (released): an iq of `type` holding `inner`. */
static void reply(struct rig *r, xmpp_stanza_t *iq, const char *type, const char *inner)
{
    char *xml = xasprintf("<iq type='%s' id='%s' from='%s' to='%s'>%s</iq>", type,
                          xmpp_stanza_get_id(iq), PEER, ME, inner);
    xmpp_stanza_t *s = xmpp_stanza_new_from_string(r->ctx, xml);

    assert_non_null(s);
    xmpp_stanza_release(iq);
    dispatch_stanza(r->d, s);
    xmpp_stanza_release(s);
    free(xml);
}

/* A page of version `v` (cursor `next` or NULL) holding `body` (<domain/> and <uri/> elements). */
static char *page(const char *v, const char *next, const char *body)
{
    return xasprintf("<peer xmlns='" PEER_NS "' version='%s' default-domain='DOMAIN.NOT.SET'"
                     " scheme='userid@default'%s%s%s>%s</peer>",
                     v, next ? " next='" : "", next ? next : "", next ? "'" : "", body);
}

/* Asks for the next question and answers it with a page. */
static void answer_page(struct rig *r, const char *v, const char *next, const char *body)
{
    char *p = page(v, next, body);

    reply(r, asked(r), "result", p);
    free(p);
}

#define DOMAIN(name, conf, users)                                                                  \
    "<domain name='" name "' configured='" conf "' users='" #users "'/>"

static struct store_peer get_peer(struct rig *r)
{
    struct store_peer p;

    assert_int_equal(store_peer_get(r->app.store, PEER, &p), STORE_OK);
    return p;
}

/* The peer's domains as "name/configured/users" joined by spaces (malloc'd). */
static char *peer_domains(struct rig *r)
{
    struct store_peer_domain *v = NULL;
    size_t n = 0;
    char *s = xstrdup("");

    assert_int_equal(store_peer_domains(r->app.store, PEER, &v, &n), STORE_OK);
    for (size_t i = 0; i < n; i++) {
        char *t = xasprintf("%s%s%s/%d/%lld", s, i ? " " : "", v[i].name, v[i].configured,
                            (long long)v[i].users);
        free(s);
        s = t;
    }
    store_peer_domains_free(v, n);
    return s;
}

static void assert_peer_domains(struct rig *r, const char *want)
{
    char *got = peer_domains(r);

    assert_string_equal(got, want);
    free(got);
}

static void assert_last_error(struct rig *r, const char *words)
{
    struct store_peer p = get_peer(r);

    if (words == NULL) {
        assert_null(p.last_error);
    } else {
        assert_non_null(p.last_error);
        if (strstr(p.last_error, words) == NULL)
            fail_msg("last_error \"%s\" lacks \"%s\"", p.last_error, words);
    }
    store_peer_clear(&p);
}

/* A first good answer the later cases must not lose: version v1, two domains. */
static void take_v1(struct rig *r)
{
    refresh(r);
    answer_page(r, "v1", NULL,
                DOMAIN("used.example", "false", 3) DOMAIN("conf.example", "true", 0));
    assert_int_equal(r->done, 1);
    r->done = 0;
    assert_last_error(r, NULL);
    assert_peer_domains(r, "conf.example/1/0 used.example/0/3");
}

/* ---- the answer taken ---- */

/* Two pages merged and taken in one piece with the audit; the next refresh says what it holds
 * and an 'unchanged' answer keeps the data. */
static void test_pages_merged(void **state)
{
    struct rig *r = *state;
    xmpp_stanza_t *iq;
    struct store_peer p;
    char uri_hash[PEER_HASH_HEX + 1];
    char *body;

    refresh(r);
    iq = asked(r);
    assert_null(q_attr(iq, "known")); /* never answered: everything is asked for */
    assert_null(q_attr(iq, "after"));
    body = xstrdup("<peer xmlns='" PEER_NS "' version='v1' default-domain='DOMAIN.NOT.SET'"
                   " scheme='userid@default' next='d:one' uris-partial='true'>" DOMAIN(
                       "One.Example", "true", 0) "</peer>");
    reply(r, iq, "result", body);
    free(body);
    assert_int_equal(r->done, 0); /* only the first page */
    assert_peer_domains(r, "");
    iq = asked(r);
    assert_string_equal(q_attr(iq, "after"), "d:one");
    assert_null(q_attr(iq, "known")); /* never beside a cursor */
    peer_uri_hash("someone@elsewhere.example", uri_hash);
    body = xasprintf(
        "<peer xmlns='" PEER_NS "' version='v1' default-domain='b.example'"
        " scheme='directory-uri'>" DOMAIN("two.example", "false", 5) "<uri hash='%s'/></peer>",
        uri_hash);
    reply(r, iq, "result", body);
    free(body);
    assert_int_equal(r->done, 1);
    assert_int_equal(r->n_sent, 0);

    p = get_peer(r);
    assert_string_equal(p.version, "v1");
    assert_string_equal(p.default_domain, "b.example"); /* the header of the last page */
    assert_string_equal(p.im_address_scheme, "directory-uri");
    assert_int_equal(p.domains, 2);
    assert_int_equal(p.users, 5);
    assert_int_equal(p.uri_hashes, 1);
    assert_true(p.uris_partial); /* said on the first page only: it holds for the answer */
    assert_int_equal(p.dup_uris, 0);
    assert_null(p.last_error);
    assert_true(p.last_sync > 0);
    store_peer_clear(&p);
    assert_peer_domains(r, "one.example/1/0 two.example/0/5");
    /* the audit ran with the answer: the peer-only domains are known here now */
    assert_int_equal(store_domain_exists(r->app.store, "one.example"), STORE_OK);
    assert_int_equal(store_domain_exists(r->app.store, "two.example"), STORE_OK);

    /* the next refresh says which version it holds; 'unchanged' keeps everything */
    refresh(r);
    iq = asked(r);
    assert_string_equal(q_attr(iq, "known"), "v1");
    assert_null(q_attr(iq, "after"));
    reply(r, iq, "result", "<peer xmlns='" PEER_NS "' version='v1' unchanged='true'/>");
    assert_int_equal(r->done, 2);
    assert_last_error(r, NULL);
    assert_peer_domains(r, "one.example/1/0 two.example/0/5");
}

/* A refresh asked for while one is in flight waits for it: one question, both callers told. */
static void test_second_refresh_joins(void **state)
{
    struct rig *r = *state;

    refresh(r);
    refresh(r);
    assert_int_equal(r->n_sent, 1);
    answer_page(r, "v1", NULL, DOMAIN("one.example", "true", 0));
    assert_int_equal(r->done, 2);
    assert_int_equal(r->n_sent, 0);
    assert_peer_domains(r, "one.example/1/0");
}

/* Local directory URIs whose hashes the peer sent are counted, one kept as the example. */
static void test_duplicate_uris(void **state)
{
    struct rig *r = *state;
    char h1[PEER_HASH_HEX + 1], h2[PEER_HASH_HEX + 1];
    struct store_peer p;
    char *body;

    assert_int_equal(store_user_upsert(r->app.store, "alice", "Alice@Corp.Example", NULL, NULL),
                     STORE_OK);
    assert_int_equal(store_user_upsert(r->app.store, "bob", "bob@corp.example", NULL, NULL),
                     STORE_OK);
    peer_uri_hash("alice@corp.example", h1); /* the hash is of the lower-cased URI */
    peer_uri_hash("carol@corp.example", h2);
    refresh(r);
    body = xasprintf("<uri hash='%s'/><uri hash='%s'/>", h2, h1);
    answer_page(r, "v1", NULL, body);
    free(body);
    assert_int_equal(r->done, 1);
    p = get_peer(r);
    assert_null(p.last_error);
    assert_int_equal(p.uri_hashes, 2);
    assert_int_equal(p.dup_uris, 1);
    assert_string_equal(p.dup_example, "alice@corp.example");
    store_peer_clear(&p);
}

/* Refreshing every peer: each is asked, and the caller is told once, when the last is done. */
static void test_refresh_all(void **state)
{
    struct rig *r = *state;
    struct store_peer p;
    xmpp_stanza_t *first, *second;

    assert_int_equal(store_peer_add(r->app.store, "c.example.test", false), STORE_OK);
    peers_refresh(r->ps, NULL, on_done, r);
    assert_int_equal(r->n_sent, 2);
    first = r->sent[0];
    second = r->sent[1];
    r->n_sent = 0;
    assert_string_not_equal(xmpp_stanza_get_to(first), xmpp_stanza_get_to(second));
    reply(r, first, "error", "");
    assert_int_equal(r->done, 0);
    {
        char *body = page("v1", NULL, DOMAIN("one.example", "true", 0));
        char *xml = xasprintf("<iq type='result' id='%s' from='%s' to='%s'>%s</iq>",
                              xmpp_stanza_get_id(second), xmpp_stanza_get_to(second), ME, body);
        xmpp_stanza_t *s = xmpp_stanza_new_from_string(r->ctx, xml);

        xmpp_stanza_release(second);
        dispatch_stanza(r->d, s);
        xmpp_stanza_release(s);
        free(xml);
        free(body);
    }
    assert_int_equal(r->done, 1);
    assert_int_equal(store_peer_get(r->app.store, "c.example.test", &p), STORE_OK);
    assert_true(p.last_attempt > 0);
    store_peer_clear(&p);
}

/* Refreshing every peer when the peer list cannot be read (a damaged store): nobody is asked,
 * and the caller is still told the refresh is over (a command waiting on it is not left
 * hanging). */
static void test_refresh_all_unreadable_list(void **state)
{
    struct rig *r = *state;

    assert_int_equal(store_fault_sql(r->path, "DROP TABLE peer_domains; DROP TABLE peers;"), 0);
    peers_refresh(r->ps, NULL, on_done, r);
    assert_int_equal(r->done, 1);
    assert_int_equal(r->n_sent, 0);
}

/* ---- the answering side through the dispatcher ---- */

/* A question routed to us as the router would; returns our answer (the caller releases). */
static xmpp_stanza_t *ask_us(struct rig *r, const char *from, const char *attrs)
{
    char *xml =
        xasprintf("<iq type='get' id='q1' from='%s' to='%s'><peer xmlns='" PEER_NS "' %s/></iq>",
                  from, ME, attrs);
    xmpp_stanza_t *s = xmpp_stanza_new_from_string(r->ctx, xml), *answer;

    assert_non_null(s);
    dispatch_stanza(r->d, s);
    xmpp_stanza_release(s);
    free(xml);
    assert_int_equal(r->n_sent, 1);
    answer = r->sent[0];
    r->n_sent = 0;
    assert_string_equal(xmpp_stanza_get_id(answer), "q1");
    assert_string_equal(xmpp_stanza_get_to(answer), from);
    return answer;
}

static void assert_error(xmpp_stanza_t *answer, const char *type, const char *condition)
{
    xmpp_stanza_t *e = xmpp_stanza_get_child_by_name(answer, "error");

    assert_string_equal(xmpp_stanza_get_type(answer), "error");
    assert_non_null(e);
    assert_string_equal(xmpp_stanza_get_type(e), type);
    assert_non_null(xmpp_stanza_get_child_by_name(e, condition));
}

/* Answering: a peer gets the page it asks for; a cursor we never issued is its mistake
 * (modify/bad-request); anyone else is refused (auth/forbidden), whatever it asks; our own
 * store failing is ours (wait/internal-server-error). */
static void test_answering(void **state)
{
    struct rig *r = *state;
    xmpp_stanza_t *a, *p;

    a = ask_us(r, PEER "/x", "");
    assert_string_equal(xmpp_stanza_get_type(a), "result");
    p = xmpp_stanza_get_child_by_ns(a, PEER_NS);
    assert_non_null(p);
    assert_non_null(xmpp_stanza_get_attribute(p, "version"));
    assert_string_equal(xmpp_stanza_get_attribute(p, "next"), "u:0:0");
    xmpp_stanza_release(a);
    a = ask_us(r, PEER, "after='z:1'");
    assert_error(a, "modify", "bad-request");
    xmpp_stanza_release(a);
    a = ask_us(r, "admin@" PEER, "");
    assert_error(a, "auth", "forbidden");
    xmpp_stanza_release(a);
    a = ask_us(r, "c.example.test", "after='u:0:0'");
    assert_error(a, "auth", "forbidden");
    xmpp_stanza_release(a);
    /* a store that cannot say our version (damaged): the peer is told to wait, not that it
     * asked wrong */
    assert_int_equal(store_fault_sql(r->path, "DROP TABLE peer_state;"), 0);
    a = ask_us(r, PEER, "");
    assert_error(a, "wait", "internal-server-error");
    xmpp_stanza_release(a);
}

/* ---- the refresh timer ---- */

/* The test's own step, due half a second after the timer's first tick (PEER_FIRST_REFRESH_MS):
 * libuv runs due timers in the order of their due times, so it always runs after that tick. */
struct after_tick {
    struct rig *r;
    uv_timer_t t;
    int sent;       /* questions sent by then */
    bool end_trans; /* ends the transaction the test opened, for the next tick */
};

static void after_first_tick(uv_timer_t *t)
{
    struct after_tick *k = t->data;

    k->sent = k->r->n_sent;
    uv_close((uv_handle_t *)t, NULL);
    if (k->end_trans)
        assert_int_equal(store_rollback(k->r->app.store), STORE_OK);
    else
        uv_stop(&k->r->loop);
}

/* Runs the loop over the timer's first tick of a new peers object (refresh period 1 s). */
static void first_tick(struct rig *r, struct after_tick *k)
{
    peers_stop(r->ps);
    peers_free(r->ps);
    r->cfg.peer_refresh = 1;
    r->ps = peers_new(&r->app);
    r->app.peers = r->ps;
    k->r = r;
    uv_timer_init(&r->loop, &k->t);
    k->t.data = k;
    uv_timer_start(&k->t, after_first_tick, PEER_FIRST_REFRESH_MS + 500, 0);
    uv_run(&r->loop, UV_RUN_DEFAULT);
}

static int stop_on_send(void *ud, xmpp_stanza_t *stanza)
{
    struct rig *r = ud;
    int rc = capture(ud, stanza);

    uv_stop(&r->loop);
    return rc;
}

/* A standby instance does not refresh (another instance may own the shared store). */
static void test_timer_not_on_standby(void **state)
{
    struct rig *r = *state;
    struct after_tick k = {0};
    struct store_peer p;

    r->app.standby = true;
    first_tick(r, &k);
    assert_int_equal(k.sent, 0);
    assert_int_equal(r->n_sent, 0);
    p = get_peer(r);
    assert_int_equal(p.last_attempt, 0);
    store_peer_clear(&p);
}

/* A tick that meets a transaction in progress leaves it alone; the next tick refreshes. */
static void test_timer_waits_for_transaction(void **state)
{
    struct rig *r = *state;
    struct after_tick k = {.end_trans = true};

    dispatch_free(r->d); /* a router that stops the loop at the first question */
    r->d = dispatch_new(&r->loop, r->ctx, stop_on_send, r);
    r->app.dispatch = r->d;
    assert_int_equal(store_begin(r->app.store), STORE_OK);
    first_tick(r, &k);
    assert_int_equal(k.sent, 0); /* the first tick asked nothing */
    assert_int_equal(r->n_sent, 1);
    assert_string_equal(xmpp_stanza_get_to(r->sent[0]), PEER);
}

/* The duplicate scan reads the local URIs in batches: a match past the first batch counts. */
static void test_duplicate_uris_past_first_batch(void **state)
{
    struct rig *r = *state;
    char userid[16], uri[64], h[PEER_HASH_HEX + 1], *body;
    struct store_peer p;

    assert_int_equal(store_begin(r->app.store), STORE_OK);
    for (int i = 0; i < 2500; i++) {
        snprintf(userid, sizeof(userid), "u%04d", i);
        snprintf(uri, sizeof(uri), "u%04d@corp.example", i);
        assert_int_equal(store_user_upsert(r->app.store, userid, uri, NULL, NULL), STORE_OK);
    }
    assert_int_equal(store_commit(r->app.store), STORE_OK);
    peer_uri_hash("u2345@corp.example", h); /* in the third batch of 1000 */
    refresh(r);
    body = xasprintf("<uri hash='%s'/>", h);
    answer_page(r, "v1", NULL, body);
    free(body);
    assert_int_equal(r->done, 1);
    p = get_peer(r);
    assert_null(p.last_error);
    assert_int_equal(p.dup_uris, 1);
    assert_string_equal(p.dup_example, "u2345@corp.example");
    store_peer_clear(&p);
}

/* ---- answers refused: the earlier data stays, the reason is recorded ---- */

/* The peer's version changes between pages: the refresh starts over from the first page and
 * takes the new version whole, nothing of the old pages. */
static void test_version_changes_while_reading(void **state)
{
    struct rig *r = *state;
    xmpp_stanza_t *iq;

    take_v1(r);
    refresh(r);
    answer_page(r, "v2", "d:x", DOMAIN("old.example", "true", 0));
    answer_page(r, "v3", NULL, DOMAIN("other.example", "true", 0));
    assert_int_equal(r->done, 0);
    iq = asked(r); /* started over, as if nothing were known */
    assert_null(q_attr(iq, "after"));
    assert_null(q_attr(iq, "known"));
    {
        char *p = page("v3", "d:y", DOMAIN("new.example", "true", 0));
        reply(r, iq, "result", p);
        free(p);
    }
    answer_page(r, "v3", NULL, DOMAIN("newer.example", "false", 1));
    assert_int_equal(r->done, 1);
    assert_last_error(r, NULL);
    assert_peer_domains(r, "new.example/1/0 newer.example/0/1");
    assert_int_equal(store_domain_exists(r->app.store, "old.example"), STORE_NOTFOUND);
}

/* Data that keeps changing: after PEER_MAX_RESTARTS new starts the refresh gives up. */
static void test_version_keeps_changing(void **state)
{
    struct rig *r = *state;
    char v[8];

    take_v1(r);
    refresh(r);
    for (int i = 0; i <= PEER_MAX_RESTARTS; i++) {
        snprintf(v, sizeof(v), "w%d", 2 * i);
        answer_page(r, v, "d:x", DOMAIN("moving.example", "true", 0));
        snprintf(v, sizeof(v), "w%d", 2 * i + 1);
        answer_page(r, v, NULL, DOMAIN("moving.example", "true", 0));
    }
    assert_int_equal(r->done, 1);
    assert_int_equal(r->n_sent, 0);
    assert_last_error(r, "kept changing while it was read");
    assert_peer_domains(r, "conf.example/1/0 used.example/0/3");
    assert_int_equal(store_domain_exists(r->app.store, "moving.example"), STORE_NOTFOUND);
}

/* 'unchanged' is an answer only to a first question that named a version. */
static void test_unchanged_out_of_place(void **state)
{
    struct rig *r = *state;
    static const char unchanged[] = "<peer xmlns='" PEER_NS "' version='v1' unchanged='true'/>";
    xmpp_stanza_t *iq;

    /* nothing known: 'unchanged' cannot be the answer */
    refresh(r);
    reply(r, asked(r), "result", unchanged);
    assert_int_equal(r->done, 1);
    assert_last_error(r, "cannot be the answer to");
    assert_peer_domains(r, "");

    r->done = 0;
    take_v1(r);
    /* known, but asked for a second page: not the answer either */
    refresh(r);
    iq = asked(r);
    assert_string_equal(q_attr(iq, "known"), "v1");
    {
        char *p = page("v2", "d:2", DOMAIN("gone.example", "true", 0));
        reply(r, iq, "result", p);
        free(p);
    }
    reply(r, asked(r), "result", unchanged);
    assert_int_equal(r->done, 1);
    assert_last_error(r, "cannot be the answer to");
    assert_peer_domains(r, "conf.example/1/0 used.example/0/3");
}

/* The same domain on two pages (in another case): the answer is refused whole. */
static void test_domain_twice_across_pages(void **state)
{
    struct rig *r = *state;

    take_v1(r);
    refresh(r);
    {
        xmpp_stanza_t *iq = asked(r);
        char *p =
            page("v2", "d:a", DOMAIN("Dup.Example", "true", 0) DOMAIN("x.example", "true", 0));
        reply(r, iq, "result", p);
        free(p);
    }
    answer_page(r, "v2", NULL, DOMAIN("dup.example", "false", 2));
    assert_int_equal(r->done, 1);
    assert_last_error(r, "sent the domain");
    assert_last_error(r, "twice");
    assert_peer_domains(r, "conf.example/1/0 used.example/0/3");
    assert_int_equal(store_domain_exists(r->app.store, "x.example"), STORE_NOTFOUND);
}

/* More URI hashes than the protocol carries (PEER_MAX_URIS), in full pages: refused whole. */
static void test_too_many_uri_hashes(void **state)
{
    struct rig *r = *state;
    size_t per = PEER_PAGE_URIS, len = per * 32;
    char *body = xcalloc(1, len + 1), h[PEER_HASH_HEX + 1];
    int pages = PEER_MAX_URIS / PEER_PAGE_URIS + 1;

    take_v1(r);
    refresh(r);
    for (int i = 0; i < pages; i++) {
        size_t at = 0;
        for (size_t j = 0; j < per; j++) {
            snprintf(h, sizeof(h), "%08x%08zx", (unsigned)i, j);
            at += (size_t)snprintf(body + at, len + 1 - at, "<uri hash='%s'/>", h);
        }
        answer_page(r, "v2", i + 1 < pages ? "u:more" : NULL, body);
    }
    free(body);
    assert_int_equal(r->done, 1);
    assert_int_equal(r->n_sent, 0);
    assert_last_error(r, "more than 100000 directory URI hashes");
    assert_peer_domains(r, "conf.example/1/0 used.example/0/3");
}

/* A peer that always has another page (empty ones: no other limit is reached): the refresh
 * stops after PEER_MAX_PAGES and takes nothing. */
static void test_endless_pages(void **state)
{
    struct rig *r = *state;
    char cursor[32];

    take_v1(r);
    refresh(r);
    for (int i = 0; i <= PEER_MAX_PAGES; i++) {
        snprintf(cursor, sizeof(cursor), "d:page%d", i);
        answer_page(r, "v2", cursor, "");
    }
    assert_int_equal(r->done, 1);
    assert_int_equal(r->n_sent, 0);
    assert_last_error(r, "the peer sent more than 154 pages");
    assert_peer_domains(r, "conf.example/1/0 used.example/0/3");
}

/* An error reply: its condition and text are what the admin reads. */
static void test_error_reply(void **state)
{
    struct rig *r = *state;

    take_v1(r);
    refresh(r);
    reply(r, asked(r), "error",
          "<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
          "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>gone fishing</text></error>");
    assert_int_equal(r->done, 1);
    assert_last_error(r, "the peer answered with an error: item-not-found: gone fishing");
    assert_peer_domains(r, "conf.example/1/0 used.example/0/3");
    /* an error without any condition still says it was one */
    refresh(r);
    reply(r, asked(r), "error", "");
    assert_int_equal(r->done, 2);
    assert_last_error(r, "the peer answered with an error: unknown");
}

/* No router link: the refresh fails at once with that reason. */
static void test_link_down(void **state)
{
    struct rig *r = *state;

    take_v1(r);
    r->link_down = true;
    refresh(r);
    assert_int_equal(r->done, 1);
    assert_last_error(r, "the router link is down");
    assert_peer_domains(r, "conf.example/1/0 used.example/0/3");
}

/* What a refresh asked for while the daemon stops must leave: nothing asked, the peer's
 * record as it was (no error for a peer that is fine, the attempt not counted, its data kept),
 * and the callers told it ended. */
static void assert_untouched(struct rig *r, const struct store_peer *before, int done)
{
    struct store_peer p = get_peer(r);

    assert_int_equal(r->done, done);
    assert_int_equal(r->n_sent, 0);
    if (p.last_error != NULL)
        fail_msg("a refresh while stopping recorded \"%s\"", p.last_error);
    assert_int_equal(p.last_attempt, before->last_attempt);
    assert_int_equal(p.last_sync, before->last_sync);
    assert_string_equal(p.version, "v1");
    store_peer_clear(&p);
    assert_peer_domains(r, "conf.example/1/0 used.example/0/3");
}

/* After peers_stop (the daemon's stop, or the router link closed for good): one peer, and
 * every peer as the timer and peers refresh ask. */
static void test_refresh_after_stop(void **state)
{
    struct rig *r = *state;
    struct store_peer before;

    take_v1(r);
    before = get_peer(r);
    peers_stop(r->ps);
    refresh(r);
    peers_refresh(r->ps, NULL, on_done, r);
    assert_untouched(r, &before, 2);
    store_peer_clear(&before);
}

/* The daemon's stop has begun (app->stopping) but has not reached the peers yet. */
static void test_refresh_while_app_stopping(void **state)
{
    struct rig *r = *state;
    struct store_peer before;

    take_v1(r);
    before = get_peer(r);
    r->app.stopping = true;
    refresh(r);
    assert_untouched(r, &before, 1);
    r->app.stopping = false;
    store_peer_clear(&before);
}

/* The peer was removed (peers remove) while its answer was on the way: nothing comes back. */
static void test_peer_removed_while_asking(void **state)
{
    struct rig *r = *state;
    struct store_peer p;

    refresh(r);
    assert_int_equal(store_peer_remove(r->app.store, PEER), STORE_OK);
    answer_page(r, "v1", NULL, DOMAIN("one.example", "true", 0));
    assert_int_equal(r->done, 1);
    assert_int_equal(store_peer_get(r->app.store, PEER, &p), STORE_NOTFOUND);
    assert_int_equal(store_domain_exists(r->app.store, "one.example"), STORE_NOTFOUND);
}

/* The answer arrives while another change holds the store's transaction: it is not mixed into
 * that change, and nothing is recorded (the next refresh takes it). */
static void test_store_busy(void **state)
{
    struct rig *r = *state;
    struct store_peer p;

    take_v1(r);
    refresh(r);
    assert_int_equal(store_begin(r->app.store), STORE_OK);
    answer_page(r, "v2", NULL, DOMAIN("one.example", "true", 0));
    assert_int_equal(r->done, 1);
    assert_true(store_in_transaction(r->app.store));
    assert_int_equal(store_rollback(r->app.store), STORE_OK);
    p = get_peer(r);
    assert_string_equal(p.version, "v1");
    assert_null(p.last_error);
    store_peer_clear(&p);
    assert_peer_domains(r, "conf.example/1/0 used.example/0/3");
}

/* The store refuses part of the answer (mid-transaction): nothing of it stays, the earlier
 * data is whole, the reason is recorded. Then the audit refusing: the peer's rows written before
 * it go too (one transaction). */
static void test_store_refuses_mid_take(void **state)
{
    struct rig *r = *state;
    struct store_peer p;

    take_v1(r);
    assert_int_equal(store_fault_sql(r->path, "CREATE TRIGGER refuse BEFORE INSERT ON peer_domains"
                                              " WHEN NEW.domain = 'bad.example'"
                                              " BEGIN SELECT RAISE(ABORT, 'refused'); END;"),
                     0);
    refresh(r);
    answer_page(r, "v2", NULL,
                DOMAIN("aaa.example", "true", 0) DOMAIN("bad.example", "true", 0)
                    DOMAIN("zzz.example", "true", 0));
    assert_int_equal(r->done, 1);
    assert_last_error(r, "the answer was not taken (store failure)");
    p = get_peer(r);
    assert_string_equal(p.version, "v1");
    store_peer_clear(&p);
    assert_peer_domains(r, "conf.example/1/0 used.example/0/3");
    assert_int_equal(store_domain_exists(r->app.store, "aaa.example"), STORE_NOTFOUND);
    assert_false(store_in_transaction(r->app.store));

    /* the audit fails after the peer's rows were written: they go with it */
    assert_int_equal(store_fault_sql(r->path, "DROP TRIGGER refuse;"
                                              "CREATE TRIGGER refuse BEFORE INSERT ON domains"
                                              " WHEN NEW.name = 'new.example'"
                                              " BEGIN SELECT RAISE(ABORT, 'refused'); END;"),
                     0);
    refresh(r);
    answer_page(r, "v3", NULL, DOMAIN("new.example", "true", 0));
    assert_int_equal(r->done, 2);
    assert_last_error(r, "the answer was not taken (store failure)");
    p = get_peer(r);
    assert_string_equal(p.version, "v1");
    store_peer_clear(&p);
    assert_peer_domains(r, "conf.example/1/0 used.example/0/3");
    assert_int_equal(store_domain_exists(r->app.store, "new.example"), STORE_NOTFOUND);
    assert_int_equal(store_domain_exists(r->app.store, "used.example"), STORE_OK);
}

/* The disk fills up when the answer's transaction commits: nothing of the answer stays, and
 * the failure cannot be recorded either (nothing is); the store works again with the disk and
 * the next refresh takes the answer. */
static void test_disk_full_at_commit(void **state)
{
    struct rig *r = *state;
    struct store_peer p;

    take_v1(r);
    refresh(r);
    store_fault_arm(STORE_FAULT_WRITE, STORE_FAULT_ANY, 0, -1, SQLITE_FULL);
    answer_page(r, "v2", NULL, DOMAIN("new.example", "true", 0));
    assert_true(store_fault_hits() > 0);
    store_fault_disarm();
    assert_int_equal(r->done, 1);
    assert_false(store_in_transaction(r->app.store));
    p = get_peer(r);
    assert_string_equal(p.version, "v1");
    assert_null(p.last_error);
    store_peer_clear(&p);
    assert_peer_domains(r, "conf.example/1/0 used.example/0/3");
    assert_int_equal(store_domain_exists(r->app.store, "new.example"), STORE_NOTFOUND);

    refresh(r);
    answer_page(r, "v2", NULL, DOMAIN("new.example", "true", 0));
    assert_int_equal(r->done, 2);
    assert_last_error(r, NULL);
    assert_peer_domains(r, "new.example/1/0");
}

/* A failed refresh that finds the peer newly expired runs the audit at once: its peer-only
 * domains stop counting now (its data kept), and the audit log says why. The question to an
 * expired peer names no version: its whole answer must be taken again. */
static void test_expires_on_failure(void **state)
{
    struct rig *r = *state;
    const struct store_peer_domain said[] = {{"used.example", "used.example", false, 3}};
    const struct store_peer_data data = {
        "v1", "DOMAIN.NOT.SET", "userid@default", said, 1, 0, false, 0, NULL};
    int64_t then = (int64_t)time(NULL) - 1000;
    struct sync_report rep;
    struct store_audit *log = NULL;
    size_t n = 0;
    bool found = false;
    xmpp_stanza_t *iq;

    assert_int_equal(store_peer_replace(r->app.store, PEER, &data, then), STORE_OK);
    assert_int_equal(sync_run(r->app.store, 0, &rep, NULL), 0);
    sync_report_clear(&rep);
    assert_int_equal(store_domain_exists(r->app.store, "used.example"), STORE_OK);
    r->cfg.peer_forget_after = 500; /* answered 1000 s ago, last asked then: newly expired */

    refresh(r);
    iq = asked(r);
    assert_null(q_attr(iq, "known"));
    reply(r, iq, "error",
          "<error type='wait'><remote-server-timeout"
          " xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>");
    assert_int_equal(r->done, 1);
    assert_last_error(r, "remote-server-timeout");
    assert_int_equal(store_domain_exists(r->app.store, "used.example"), STORE_NOTFOUND);
    assert_peer_domains(r, "used.example/0/3");
    assert_int_equal(store_audit_list(r->app.store, 0, "", 0, &log, &n), STORE_OK);
    for (size_t i = 0; i < n; i++)
        found = found || (log[i].details && strstr(log[i].details, "peer=" PEER " expired"));
    store_audit_list_free(log, n);
    assert_true(found);
}

/* The same, but the audit cannot remove the expired peer's domain (the store refuses): the
 * failure and the audit are one transaction, so neither is recorded and the domain stays. */
static void test_expiry_audit_refused(void **state)
{
    struct rig *r = *state;
    const struct store_peer_domain said[] = {{"used.example", "used.example", false, 3}};
    const struct store_peer_data data = {
        "v1", "DOMAIN.NOT.SET", "userid@default", said, 1, 0, false, 0, NULL};
    struct sync_report rep;
    struct store_peer p;

    assert_int_equal(store_peer_replace(r->app.store, PEER, &data, (int64_t)time(NULL) - 1000),
                     STORE_OK);
    assert_int_equal(sync_run(r->app.store, 0, &rep, NULL), 0);
    sync_report_clear(&rep);
    assert_int_equal(store_fault_sql(r->path, "CREATE TRIGGER keep BEFORE DELETE ON domains"
                                              " BEGIN SELECT RAISE(ABORT, 'kept'); END;"),
                     0);
    r->cfg.peer_forget_after = 500;
    refresh(r);
    reply(r, asked(r), "error", "");
    assert_int_equal(r->done, 1);
    assert_false(store_in_transaction(r->app.store));
    p = get_peer(r);
    assert_null(p.last_error);
    assert_int_equal(p.last_attempt, p.last_sync); /* the attempt not recorded either */
    store_peer_clear(&p);
    assert_int_equal(store_domain_exists(r->app.store, "used.example"), STORE_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pages_merged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_refresh_joins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_uris, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_uris_past_first_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_all_unreadable_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timer_not_on_standby, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timer_waits_for_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_changes_while_reading, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_keeps_changing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unchanged_out_of_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_twice_across_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_uri_hashes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endless_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_after_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_while_app_stopping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_removed_while_asking, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_refuses_mid_take, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expires_on_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_audit_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full_at_commit, setup, teardown),
    };
    log_set_level(LOG_LEVEL_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
