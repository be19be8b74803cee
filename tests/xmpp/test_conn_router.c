/* Unit tests for xmpp/conn against a scripted router: a thread in this process that accepts on
 * 127.0.0.1 and speaks XEP-0114 with blocking sockets, step by step, while the component's loop
 * runs in the main thread. They cover what an administrator meets when the router misbehaves or
 * refuses: the handshake digest, stanzas before the handshake, the router closing the stream or
 * the connection, stream errors that end the link for good (wrong secret, unknown JID) and those
 * that are retried (conflict, anything else), oversized and malformed input, a router that reads
 * nothing (the output high-water mark), the keepalive, stepping down, and closing with and
 * without the router's answer, and closing from the callback that reports a loss (which, like
 * every CONN_EV_LOST callback, sees a link that is no longer ready: before, conn_send there
 * queued a stanza that went out ahead of the next stream header). Nothing is timed: each script
 * waits for bytes or for the component's next connection, and a 120 s alarm fails a test that
 * hangs.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"
#include "xmpp/conn.h"

#define JID "imd.example.test"
#define SECRET "s3cret"
#define NS_ERR "urn:ietf:params:xml:ns:xmpp-streams"
#define STREAM_ID "f00d4711"

/* ---- the scripted router (its own thread; reports failures as text, never asserts) ---- */

struct router {
    int lfd, port, fd;
    char got[1 << 20]; /* what the component sent on the current connection */
    size_t len, pos;   /* bytes held, and how far the script has matched */
    int (*script)(struct router *);
    int connections;
    char why[256]; /* the first failure, empty if the script ran to its end */
    int done[2];   /* the main thread writes a byte here once the component closed */
    int sent;      /* stanzas a hook queued for this router (set atomically) */
};

static int fail_with(struct router *r, const char *fmt, ...)
{
    va_list ap;

    if (r->why[0] == '\0') {
        va_start(ap, fmt);
        vsnprintf(r->why, sizeof(r->why), fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Reads more of the current connection: 1 with bytes, 0 at end of stream, -1 on error. The
 * poll's bound only keeps a broken test from hanging the run (the alarm is the real limit). */
static int read_more(struct router *r)
{
    struct pollfd p = {.fd = r->fd, .events = POLLIN};

    if (r->len + 1 >= sizeof(r->got))
        return fail_with(r, "the component sent more than %zu bytes", sizeof(r->got));
    if (poll(&p, 1, 30000) != 1)
        return fail_with(r, "nothing from the component; have \"%.*s\"", (int)(r->len - r->pos),
                         r->got + r->pos);
    ssize_t n = read(r->fd, r->got + r->len, sizeof(r->got) - 1 - r->len);
    if (n < 0)
        return errno == ECONNRESET ? 0 : fail_with(r, "read: %s", strerror(errno));
    r->len += (size_t)n;
    r->got[r->len] = '\0';
    return n > 0;
}

/* Waits until `text` arrives after what was matched so far, and matches past it. */
static int expect(struct router *r, const char *text)
{
    for (;;) {
        char *at = strstr(r->got + r->pos, text);
        if (at) {
            r->pos = (size_t)(at - r->got) + strlen(text);
            return 0;
        }
        int rc = read_more(r);
        if (rc < 0)
            return -1;
        if (rc == 0)
            return fail_with(r, "connection ended before \"%s\"; got \"%s\"", text,
                             r->got + r->pos);
    }
}

/* Waits for the component to close the connection (or its side of it). */
static int expect_eof(struct router *r)
{
    int rc;

    while ((rc = read_more(r)) > 0)
        ;
    return rc < 0 ? -1 : 0;
}

static int say(struct router *r, const char *text)
{
    size_t len = strlen(text), off = 0;

    while (off < len) {
        ssize_t n = write(r->fd, text + off, len - off);
        if (n < 0)
            return fail_with(r, "write: %s", strerror(errno));
        off += (size_t)n;
    }
    return 0;
}

static int accept_next(struct router *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = accept(r->lfd, NULL, NULL);
    if (r->fd < 0)
        return fail_with(r, "accept: %s", strerror(errno));
    r->connections++;
    r->len = r->pos = 0;
    r->got[0] = '\0';
    return 0;
}

static void hang_up(struct router *r)
{
    close(r->fd);
    r->fd = -1;
}

/* Accepts the component's next connection and answers its stream header with ours. */
static int open_stream(struct router *r, const char *id_attr)
{
    char hdr[512];

    if (accept_next(r) < 0 || expect(r, "<stream:stream") < 0)
        return -1;
    /* The header comes first on every connection, nothing left over from the last one. */
    if (strncmp(r->got, "<?xml version='1.0'?><stream:stream", 35) != 0)
        return fail_with(r, "the connection does not start with the stream header: \"%.80s\"",
                         r->got);
    if (expect(r, "xmlns='jabber:component:accept'") < 0 || expect(r, "to='" JID "'>") < 0)
        return -1;
    snprintf(hdr, sizeof(hdr),
             "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
             "xmlns:stream='http://etherx.jabber.org/streams' %s from='" JID "'>",
             id_attr);
    return say(r, hdr);
}

/* The digest XEP-0114 asks for, computed here independently of xmpp/handshake.c. */
static void digest_of(const char *id, const char *secret, char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char in[256];

    snprintf(in, sizeof(in), "%s%s", id, secret);
    EVP_Digest(in, strlen(in), md, &n, EVP_sha1(), NULL);
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Opens the stream, checks the component's handshake and accepts it. */
static int authenticate(struct router *r)
{
    char want[64], digest[41];

    digest_of(STREAM_ID, SECRET, digest);
    snprintf(want, sizeof(want), "<handshake>%s</handshake>", digest);
    if (open_stream(r, "id='" STREAM_ID "'") < 0 || expect(r, want) < 0)
        return -1;
    return say(r, "<handshake/>");
}

static void *router_main(void *arg)
{
    struct router *r = arg;

    if (r->script(r) < 0 && r->why[0] == '\0')
        snprintf(r->why, sizeof(r->why), "the script failed");
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    return NULL;
}

/* Waits until the component's loop has ended (for a router that must not hang up first). */
static int wait_component_done(struct router *r)
{
    char b;

    return read(r->done[0], &b, 1) == 1 ? 0 : fail_with(r, "done pipe: %s", strerror(errno));
}

/* Accepts the component's next attempt and hangs up at once: an attempt that fails before the
 * stream opens, which the tests use to end a script on a CONN_EV_RETRY. */
static int refuse_next(struct router *r)
{
    if (accept_next(r) < 0)
        return -1;
    hang_up(r);
    return 0;
}

/* ---- the component side (main thread) ---- */

struct run;
typedef void (*hook_fn)(struct run *, enum conn_event, xmpp_stanza_t *);

#define TRACE_MAX 32

struct run {
    uv_loop_t loop;
    xmpp_ctx_t *ctx;
    conn_t *c;
    struct conn_config cfg;
    hook_fn hook;
    int count[CONN_EV_CONFLICT + 1];
    char trace[TRACE_MAX][400]; /* "EVENT detail" in order; stanzas as "STANZA id" */
    int n_trace;
    size_t queued_at_refusal;
    int ready_in_lost, sent_in_lost; /* what a CONN_EV_LOST callback saw */
    struct router r;
};

static const char *const ev_names[] = {"READY",  "STANZA", "LOST",    "FATAL",
                                       "CLOSED", "RETRY",  "CONFLICT"};

static void on_event(void *ud, enum conn_event ev, xmpp_stanza_t *st, const char *detail)
{
    struct run *run = ud;

    run->count[ev]++;
    if (run->n_trace < TRACE_MAX) {
        const char *what = detail;
        if (ev == CONN_EV_STANZA)
            what = xmpp_stanza_get_id(st) ? xmpp_stanza_get_id(st) : "?";
        snprintf(run->trace[run->n_trace++], sizeof(run->trace[0]), "%s%s%s", ev_names[ev],
                 what ? " " : "", what ? what : "");
    }
    if (run->hook)
        run->hook(run, ev, st);
}

static void setup_run(struct run *run, int (*script)(struct router *), hook_fn hook)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);

    memset(run, 0, sizeof(*run));
    run->r.lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(run->r.lfd >= 0);
    assert_int_equal(bind(run->r.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(run->r.lfd, 8), 0);
    assert_int_equal(getsockname(run->r.lfd, (struct sockaddr *)&a, &len), 0);
    assert_int_equal(pipe(run->r.done), 0);
    run->r.port = ntohs(a.sin_port);
    run->r.fd = -1;
    run->r.script = script;
    run->hook = hook;
    run->cfg = (struct conn_config){.host = "127.0.0.1",
                                    .port = run->r.port,
                                    .jid = JID,
                                    .secret = SECRET,
                                    .max_stanza_size = 65536,
                                    .max_depth = 32,
                                    .keepalive = 60,
                                    .reconnect_max = 1,
                                    .send_queue_max = 65536,
                                    .handshake_timeout_ms = 30000};
    assert_int_equal(uv_loop_init(&run->loop), 0);
    run->ctx = xmpp_ctx_new(NULL, NULL);
}

/* Runs the component against the script until its loop ends (a hook closed the link, or the
 * link stopped for good and nothing is left to wait for), then checks that every handle is
 * closed and the script ran to its end. */
static void run_script(struct run *run)
{
    pthread_t th;

    run->c = conn_new(&run->loop, run->ctx, &run->cfg, on_event, run);
    assert_int_equal(pthread_create(&th, NULL, router_main, &run->r), 0);
    conn_start(run->c);
    uv_run(&run->loop, UV_RUN_DEFAULT);
    if (run->count[CONN_EV_CLOSED] == 0) { /* stopped for good: no timer, no socket left */
        conn_close(run->c);
        uv_run(&run->loop, UV_RUN_DEFAULT);
    }
    assert_int_equal(write(run->r.done[1], "x", 1), 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    for (int i = 0; i < run->n_trace; i++)
        print_message("  %s\n", run->trace[i]);
    if (run->r.why[0] != '\0')
        fail_msg("router: %s", run->r.why);
    assert_int_equal(run->count[CONN_EV_CLOSED], 1);
    assert_int_equal(uv_loop_close(&run->loop), 0);
    conn_free(run->c);
    xmpp_ctx_free(run->ctx);
    if (run->r.lfd >= 0)
        close(run->r.lfd);
    close(run->r.done[0]);
    close(run->r.done[1]);
}

static void assert_trace(const struct run *run, const char *const *want, int n)
{
    assert_int_equal(run->n_trace, n);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(want[i]);
        /* A trailing '*' matches any rest (a system error text). */
        if (len > 0 && want[i][len - 1] == '*')
            assert_memory_equal(run->trace[i], want[i], len - 1);
        else
            assert_string_equal(run->trace[i], want[i]);
    }
}

static int send_iq(struct run *run, const char *id, const char *body)
{
    xmpp_stanza_t *iq = xmpp_iq_new(run->ctx, "result", id);
    int rc;

    xmpp_stanza_set_to(iq, "admin@example.test");
    if (body) {
        xmpp_stanza_t *q = xmpp_stanza_new(run->ctx), *t = xmpp_stanza_new(run->ctx);
        xmpp_stanza_set_name(q, "query");
        xmpp_stanza_set_ns(q, "urn:example:filler");
        xmpp_stanza_set_text(t, body);
        xmpp_stanza_add_child(q, t);
        xmpp_stanza_add_child(iq, q);
        xmpp_stanza_release(t);
        xmpp_stanza_release(q);
    }
    rc = conn_send(run->c, iq);
    xmpp_stanza_release(iq);
    return rc;
}

static void close_on_retry(struct run *run, enum conn_event ev, xmpp_stanza_t *st)
{
    (void)st;
    if (ev == CONN_EV_RETRY)
        conn_close(run->c);
}

/* ---- the handshake, stanzas both ways, the router ending the stream, then the connection ---- */

static int script_exchange(struct router *r)
{
    char digest[41], want[64];

    digest_of(STREAM_ID, SECRET, digest);
    snprintf(want, sizeof(want), "<handshake>%s</handshake>", digest);
    /* A stanza before the handshake is accepted is not the component's to handle. */
    if (open_stream(r, "id='" STREAM_ID "'") < 0 || expect(r, want) < 0 ||
        say(r, "<message id='early' from='x@example.test'><body>hi</body></message>") < 0 ||
        say(r, "<handshake/>") < 0 ||
        say(r, "<iq type='get' id='ping1' from='admin@example.test' to='" JID "'>"
               "<ping xmlns='urn:xmpp:ping'/></iq>") < 0 ||
        expect(r, "id=\"ping1\"") < 0)
        return -1;
    /* The answer's control character (text from outside) was replaced, not sent: the router
     * would have closed the stream as not-well-formed. */
    if (expect(r, "bell?here</query>") < 0)
        return -1;
    /* The router ends the stream: the component answers with its end and hangs up. */
    if (say(r, "</stream:stream>") < 0 || expect(r, "</stream:stream>") < 0 || expect_eof(r) < 0)
        return -1;
    /* It comes back after its backoff; this time the router drops the TCP connection. */
    if (authenticate(r) < 0)
        return -1;
    hang_up(r);
    return refuse_next(r);
}

static void hook_exchange(struct run *run, enum conn_event ev, xmpp_stanza_t *st)
{
    if (ev == CONN_EV_STANZA) {
        assert_int_equal(send_iq(run, xmpp_stanza_get_id(st), "bell\x07here"), 0);
    } else if (ev == CONN_EV_LOST) {
        /* The link is down: not ready, and a stanza is refused rather than queued for the
         * next connection (where it would come before the stream header). */
        run->ready_in_lost += conn_is_ready(run->c);
        run->sent_in_lost += send_iq(run, "too-late", NULL) == 0;
    } else if (ev == CONN_EV_RETRY) {
        conn_close(run->c);
    }
}

static void test_exchange_and_router_closing(void **state)
{
    struct run run;
    const char *const want[] = {"READY",
                                "STANZA ping1",
                                "LOST the router closed the stream",
                                "READY",
                                "LOST the router closed the connection",
                                "RETRY *",
                                "CLOSED"};

    (void)state;
    setup_run(&run, script_exchange, hook_exchange);
    run_script(&run);
    assert_trace(&run, want, 7);
    assert_int_equal(run.r.connections, 3);
    assert_int_equal(run.ready_in_lost, 0);
    assert_int_equal(run.sent_in_lost, 0);
}

/* ---- refusals that end the link for good ---- */

static const char wrong_secret_error[] = "<stream:error><not-authorized xmlns='" NS_ERR "'/>"
                                         "</stream:error></stream:stream>";

static int script_wrong_secret(struct router *r)
{
    if (open_stream(r, "id='" STREAM_ID "'") < 0 || expect(r, "</handshake>") < 0 ||
        say(r, wrong_secret_error) < 0)
        return -1;
    return expect_eof(r);
}

/* Prosody's answer to a wrong secret: no reconnect follows (the loop ends by itself: no timer
 * is left running), and the reason names both possible causes. */
static void test_wrong_secret_is_final(void **state)
{
    struct run run;
    const char *const want[] = {"FATAL the router refused the handshake for JID " JID
                                " (not-authorized): either the "
                                "secret is wrong or the router has no component entry for " JID
                                " (ejabberd answers not-authorized for both)",
                                "CLOSED"};

    (void)state;
    setup_run(&run, script_wrong_secret, NULL);
    run.cfg.secret = "not-the-secret";
    run_script(&run);
    assert_trace(&run, want, 2);
    assert_int_equal(run.r.connections, 1);
}

static int script_unknown_jid(struct router *r)
{
    /* ejabberd-like: a header without id, then the error. */
    if (open_stream(r, "") < 0 ||
        say(r, "<stream:error><host-unknown xmlns='" NS_ERR "'/></stream:error>") < 0)
        return -1;
    return expect_eof(r);
}

static void test_unknown_jid_is_final(void **state)
{
    struct run run;
    const char *const want[] = {
        "FATAL the router has no Component entry for " JID " (host-unknown)", "CLOSED"};

    (void)state;
    setup_run(&run, script_unknown_jid, NULL);
    run_script(&run);
    assert_trace(&run, want, 2);
    /* No handshake was sent to a header without a stream id. */
    assert_null(strstr(run.r.got, "<handshake>"));
}

/* ---- refusals that are retried ---- */

static int script_retried_errors(struct router *r)
{
    /* Another instance holds the JID (Prosody's conflict). */
    if (open_stream(r, "id='" STREAM_ID "'") < 0 || expect(r, "</handshake>") < 0 ||
        say(r, "<stream:error><conflict xmlns='" NS_ERR "'/></stream:error>") < 0 ||
        expect_eof(r) < 0)
        return -1;
    /* An error with only a text. */
    if (open_stream(r, "id='" STREAM_ID "'") < 0 ||
        say(r, "<stream:error><text xmlns='" NS_ERR "'>maintenance</text></stream:error>") < 0 ||
        expect_eof(r) < 0)
        return -1;
    /* Any other condition: the router is going down. */
    if (open_stream(r, "id='" STREAM_ID "'") < 0 ||
        say(r, "<stream:error><system-shutdown xmlns='" NS_ERR "'/></stream:error>") < 0)
        return -1;
    return expect_eof(r);
}

static void hook_retried(struct run *run, enum conn_event ev, xmpp_stanza_t *st)
{
    (void)st;
    if (ev == CONN_EV_RETRY && run->count[CONN_EV_RETRY] == 3)
        conn_close(run->c);
}

static void test_retried_errors(void **state)
{
    struct run run;
    const char *const want[] = {"CONFLICT another instance is connected as " JID,
                                "RETRY another instance is connected as " JID,
                                "RETRY the router closed the stream with error undefined-condition",
                                "RETRY the router closed the stream with error system-shutdown",
                                "CLOSED"};

    (void)state;
    setup_run(&run, script_retried_errors, hook_retried);
    run_script(&run);
    assert_trace(&run, want, 5);
    assert_int_equal(run.r.connections, 3);
}

/* ---- input the component refuses: it says why in a stream error and reconnects ---- */

static int refused_input(struct router *r, const char *input, const char *condition)
{
    char want[128];

    snprintf(want, sizeof(want), "<stream:error><%s xmlns='" NS_ERR "'/>", condition);
    if (authenticate(r) < 0 || say(r, input) < 0 || expect(r, want) < 0 ||
        expect(r, "</stream:error></stream:stream>") < 0)
        return -1;
    return expect_eof(r);
}

static int script_bad_input(struct router *r)
{
    char big[2048];

    /* max_stanza_size is 1024 in this test. */
    snprintf(big, sizeof(big), "<message id='big'><body>%01500d</body></message>", 7);
    if (refused_input(r, big, "policy-violation") < 0 ||
        refused_input(r, "<message id='x'><body>a</bod></message>", "not-well-formed") < 0 ||
        refused_input(r, "<!-- a comment -->", "restricted-xml") < 0)
        return -1;
    /* Above the limit in markup alone: many small elements, no text. */
    strcpy(big, "<message id='many'>");
    for (int i = 0; i < 120; i++)
        strcat(big, "<x a='1'/>");
    strcat(big, "</message>");
    if (refused_input(r, big, "policy-violation") < 0)
        return -1;
    /* A router whose stream root is not a stream:stream (not an XEP-0114 router). */
    if (accept_next(r) < 0 || expect(r, "to='" JID "'>") < 0 ||
        say(r, "<?xml version='1.0'?><stream xmlns='jabber:component:accept' id='x'>") < 0 ||
        expect(r, "<stream:error><invalid-namespace xmlns='" NS_ERR "'/>") < 0 || expect_eof(r) < 0)
        return -1;
    return refuse_next(r);
}

static void hook_bad_input(struct run *run, enum conn_event ev, xmpp_stanza_t *st)
{
    (void)st;
    if (ev == CONN_EV_RETRY && run->count[CONN_EV_RETRY] == 2)
        conn_close(run->c);
}

static void test_bad_input(void **state)
{
    struct run run;
    const char *const want[] = {"READY",
                                "LOST input refused (policy-violation): *",
                                "READY",
                                "LOST input refused (not-well-formed): *",
                                "READY",
                                "LOST input refused (restricted-xml): *",
                                "READY",
                                "LOST input refused (policy-violation): stanza larger than "
                                "1024 bytes",
                                "RETRY input refused (invalid-namespace): *",
                                "RETRY *",
                                "CLOSED"};

    (void)state;
    setup_run(&run, script_bad_input, hook_bad_input);
    run.cfg.max_stanza_size = 1024;
    run_script(&run);
    assert_trace(&run, want, 11);
}

/* ---- a router that does not read: the high-water mark, then draining ---- */

static int script_not_reading(struct router *r)
{
    char id[32];
    int sent;

    if (authenticate(r) < 0 || expect(r, "id=\"q0\"") < 0)
        return -1;
    /* The component filled its queue in the turn it became ready; `sent` was set before the
     * first of those bytes was written. */
    sent = __atomic_load_n(&r->sent, __ATOMIC_SEQ_CST);
    for (int i = 1; i < sent; i++) {
        snprintf(id, sizeof(id), "id=\"q%d\"", i);
        if (expect(r, id) < 0)
            return -1;
    }
    /* Input is read again once the queue drained: this request is answered. */
    if (say(r, "<iq type='get' id='after' from='admin@example.test' to='" JID "'>"
               "<ping xmlns='urn:xmpp:ping'/></iq>") < 0 ||
        expect(r, "id=\"after\"") < 0 || expect(r, "</stream:stream>") < 0 || expect_eof(r) < 0)
        return -1;
    /* The stanza refused at the mark never went out. */
    snprintf(id, sizeof(id), "id=\"q%d\"", sent);
    if (strstr(r->got, id))
        return fail_with(r, "the refused stanza %s was sent", id);
    return 0;
}

static void hook_not_reading(struct run *run, enum conn_event ev, xmpp_stanza_t *st)
{
    char id[32], body[301];

    (void)st;
    if (ev == CONN_EV_READY) {
        memset(body, 'b', 300);
        body[300] = '\0';
        /* Nothing is written before the loop's next turn: the queue only grows here. */
        for (int i = 0; i < 100; i++) {
            snprintf(id, sizeof(id), "q%d", i);
            size_t before = conn_queued_bytes(run->c);
            if (send_iq(run, id, body) < 0) {
                run->queued_at_refusal = before;
                break;
            }
            __atomic_store_n(&run->r.sent, i + 1, __ATOMIC_SEQ_CST);
        }
    } else if (ev == CONN_EV_STANZA) {
        assert_int_equal(send_iq(run, "after", NULL), 0);
        conn_close(run->c); /* the router answers by hanging up */
    }
}

static void test_router_not_reading(void **state)
{
    struct run run;
    const char *const want[] = {"READY", "STANZA after", "CLOSED"};

    (void)state;
    setup_run(&run, script_not_reading, hook_not_reading);
    run.cfg.send_queue_max = 1024;
    run_script(&run);
    assert_trace(&run, want, 3);
    /* Refused only above twice the mark, and not long after it. */
    assert_true(run.queued_at_refusal > 2 * 1024);
    assert_true(run.r.sent >= 4 && run.r.sent < 100);
}

/* ---- keepalive and stepping down ---- */

static int script_keepalive_step_down(struct router *r)
{
    if (authenticate(r) < 0)
        return -1;
    /* An idle link gets whitespace (keepalive is 1 s here). */
    if (expect(r, " ") < 0)
        return -1;
    if (say(r, "<message id='step-down' from='admin@example.test'/>") < 0 ||
        expect(r, "</stream:stream>") < 0 || expect_eof(r) < 0)
        return -1;
    return refuse_next(r);
}

static void hook_step_down(struct run *run, enum conn_event ev, xmpp_stanza_t *st)
{
    (void)st;
    if (ev == CONN_EV_STANZA) {
        conn_step_down(run->c, "another instance is active");
    } else if (ev == CONN_EV_RETRY) {
        conn_step_down(run->c, "not ready: nothing to step down from");
        conn_close(run->c);
    }
}

static void test_keepalive_and_step_down(void **state)
{
    struct run run;
    const char *const want[] = {"READY", "STANZA step-down", "LOST another instance is active",
                                "RETRY *", "CLOSED"};

    (void)state;
    setup_run(&run, script_keepalive_step_down, hook_step_down);
    run.cfg.keepalive = 1;
    run_script(&run);
    assert_trace(&run, want, 5);
    assert_int_equal(run.r.connections, 2);
}

/* ---- closing while the router says nothing more ---- */

static int script_silent_at_close(struct router *r)
{
    if (authenticate(r) < 0 || expect(r, "</stream:stream>") < 0 || expect_eof(r) < 0)
        return -1;
    /* The component shut its side down; the router neither answers nor hangs up, so the
     * component's grace period has to end the close. */
    return wait_component_done(r);
}

static void close_on_ready(struct run *run, enum conn_event ev, xmpp_stanza_t *st)
{
    (void)st;
    if (ev == CONN_EV_READY)
        conn_close(run->c);
}

static void test_close_router_silent(void **state)
{
    struct run run;
    const char *const want[] = {"READY", "CLOSED"};

    (void)state;
    setup_run(&run, script_silent_at_close, close_on_ready);
    run_script(&run);
    assert_trace(&run, want, 2);
}

/* ---- closing from the callback that reports the loss ---- */

static int script_hang_up_once(struct router *r)
{
    if (authenticate(r) < 0)
        return -1;
    hang_up(r);
    return 0;
}

static void close_on_lost(struct run *run, enum conn_event ev, xmpp_stanza_t *st)
{
    (void)st;
    if (ev == CONN_EV_LOST)
        conn_close(run->c);
}

/* The daemon's shutdown may start while the loss is reported: no reconnect is scheduled after
 * the close, the close completes, and the router sees one connection only. */
static void test_close_while_lost(void **state)
{
    struct run run;
    const char *const want[] = {"READY", "LOST the router closed the connection", "CLOSED"};

    (void)state;
    setup_run(&run, script_hang_up_once, close_on_lost);
    run_script(&run);
    assert_trace(&run, want, 3);
    assert_int_equal(run.r.connections, 1);
}

static int script_nothing(struct router *r)
{
    (void)r;
    return 0;
}

/* ---- a router host that does not resolve, and closing before the answer ---- */

/* A typo in router_host: every attempt fails with the resolver's reason; reserved .invalid
 * names never resolve (RFC 6761). */
static void test_host_does_not_resolve(void **state)
{
    struct run run;

    (void)state;
    setup_run(&run, script_nothing, close_on_retry);
    run.cfg.host = "imd-router.invalid";
    run_script(&run);
    assert_int_equal(run.n_trace, 2);
    assert_memory_equal(run.trace[0], "RETRY cannot resolve router host imd-router.invalid: ",
                        strlen("RETRY cannot resolve router host imd-router.invalid: "));
    assert_string_equal(run.trace[1], "CLOSED");
    assert_int_equal(run.r.connections, 0);
}

/* SIGTERM while the router's name is still being resolved: the close waits for the resolver
 * (cancelled or answered), connects nowhere, and the loop ends with nothing open. */
static void test_close_while_resolving(void **state)
{
    struct run run;
    pthread_t th;

    (void)state;
    setup_run(&run, script_nothing, NULL);
    run.cfg.host = "localhost";
    run.c = conn_new(&run.loop, run.ctx, &run.cfg, on_event, &run);
    assert_int_equal(pthread_create(&th, NULL, router_main, &run.r), 0);
    conn_start(run.c);
    conn_close(run.c); /* before the loop ever ran: the lookup is out */
    uv_run(&run.loop, UV_RUN_DEFAULT);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(run.n_trace, 1);
    assert_string_equal(run.trace[0], "CLOSED");
    assert_int_equal(uv_loop_close(&run.loop), 0);
    conn_free(run.c);
    xmpp_ctx_free(run.ctx);
    close(run.r.lfd);
    close(run.r.done[0]);
    close(run.r.done[1]);
    /* Nobody connected: the listener has nothing waiting. */
}

/* ---- no router listening at any of the host's addresses ---- */

static void test_nobody_listening(void **state)
{
    struct run run;
    char want0[128];

    (void)state;
    setup_run(&run, script_nothing, close_on_retry);
    close(run.r.lfd); /* the port is now closed on every address of localhost */
    run.r.lfd = -1;
    run.cfg.host = "localhost";
    run_script(&run);
    snprintf(want0, sizeof(want0), "RETRY cannot connect to the router at localhost port %d",
             run.r.port);
    const char *const want[] = {want0, "CLOSED"};
    assert_trace(&run, want, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exchange_and_router_closing),
        cmocka_unit_test(test_wrong_secret_is_final),
        cmocka_unit_test(test_unknown_jid_is_final),
        cmocka_unit_test(test_retried_errors),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_router_not_reading),
        cmocka_unit_test(test_keepalive_and_step_down),
        cmocka_unit_test(test_close_router_silent),
        cmocka_unit_test(test_close_while_lost),
        cmocka_unit_test(test_nobody_listening),
        cmocka_unit_test(test_host_does_not_resolve),
        cmocka_unit_test(test_close_while_resolving),
    };
    log_set_level(LOG_LEVEL_ERROR);
    /* A script waiting for bytes that never come would hang: fail instead. */
    alarm(120);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
