/* Unit tests for the control socket's clients (component/daemon/ctl.c), with plain UNIX sockets
 * as clients and the server on a libuv loop pumped by the test: at the connection limit with
 * every client waiting for an answer, a newcomer is refused (nobody busy is cut off) and the
 * waiting ones still get their answers; an idle client gives way to a newcomer, the one
 * connected first when several are equally idle; the idle timeout spares a client waiting for
 * a late answer and closes it once answered; a user outside the socket's group is refused even
 * when the socket file lets it connect; an answer with bytes XML does not allow reaches the
 * client scrubbed, one above the frame limit is replaced by an error saying so; a frame that
 * holds no element is answered with bad-request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "component/daemon/ctl.h"
#include "component/daemon/ctl_proto.h"
#include "util/log.h"

#define MAX_PENDING 8

struct fx {
    uv_loop_t loop;
    xmpp_ctx_t *ctx;
    ctl_t *ctl;
    char dir[64];
    char path[128];
    int late;                /* answer requests later (through pending) */
    const char *answer_text; /* a <note/> text put into every answer, or NULL */
    ctl_pending_t *pending[MAX_PENDING];
    xmpp_stanza_t *pending_iq[MAX_PENDING];
    int n_pending, n_requests;
};

static xmpp_stanza_t *reply_to(struct fx *fx, xmpp_stanza_t *iq)
{
    xmpp_stanza_t *r = xmpp_stanza_reply(iq);

    xmpp_stanza_set_type(r, "result");
    if (fx->answer_text) {
        xmpp_stanza_t *note = xmpp_stanza_new(fx->ctx), *t = xmpp_stanza_new(fx->ctx);
        xmpp_stanza_set_name(note, "note");
        xmpp_stanza_set_text(t, fx->answer_text);
        xmpp_stanza_add_child(note, t);
        xmpp_stanza_add_child(r, note);
        xmpp_stanza_release(t);
        xmpp_stanza_release(note);
    }
    return r;
}

static xmpp_stanza_t *on_request(void *ud, xmpp_stanza_t *iq, const char *requester,
                                 ctl_pending_t *pending)
{
    struct fx *fx = ud;

    (void)requester;
    fx->n_requests++;
    if (!fx->late)
        return reply_to(fx, iq);
    assert_true(fx->n_pending < MAX_PENDING);
    fx->pending[fx->n_pending] = pending;
    fx->pending_iq[fx->n_pending++] = xmpp_stanza_clone(iq);
    return NULL;
}

static void answer_pending(struct fx *fx, int i)
{
    xmpp_stanza_t *r = reply_to(fx, fx->pending_iq[i]);

    ctl_pending_answer(fx->pending[i], r);
    xmpp_stanza_release(r);
    xmpp_stanza_release(fx->pending_iq[i]);
    fx->pending[i] = NULL;
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    log_set_level(LOG_LEVEL_ERROR);
    strcpy(fx->dir, "/tmp/imd-ctlc-XXXXXX");
    if (mkdtemp(fx->dir) == NULL)
        return -1;
    snprintf(fx->path, sizeof(fx->path), "%s/ctl.sock", fx->dir);
    uv_loop_init(&fx->loop);
    fx->ctx = xmpp_ctx_new(NULL, NULL);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    for (int i = 0; i < fx->n_pending; i++)
        if (fx->pending[i])
            answer_pending(fx, i);
    if (fx->ctl)
        ctl_close(fx->ctl);
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    xmpp_ctx_free(fx->ctx);
    unlink(fx->path);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static void open_ctl(struct fx *fx, int max_clients, unsigned idle_ms, mode_t mode,
                     const char *group)
{
    struct ctl_config cfg = {.path = fx->path,
                             .mode = mode,
                             .group = group,
                             .max_clients = max_clients,
                             .idle_timeout_ms = idle_ms};

    fx->ctl = ctl_open(&fx->loop, fx->ctx, &cfg, on_request, fx);
    assert_non_null(fx->ctl);
}

static int connect_to(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Runs the loop a little at a time until `fd` is readable (bytes or end of stream). Not a
 * timing: the bound only keeps a broken test from hanging (30 s). */
static void pump_until(struct fx *fx, int fd)
{
    for (int i = 0; i < 3000; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};

        uv_run(&fx->loop, UV_RUN_NOWAIT);
        if (poll(&p, 1, 10) == 1)
            return;
    }
    fail_msg("nothing to read within 30 s");
}

/* One short turn of the loop, for waits on something other than a client socket. */
static void pump_once(struct fx *fx)
{
    uv_run(&fx->loop, UV_RUN_NOWAIT);
    usleep(5000);
}

static void send_frame(int fd, const char *xml)
{
    unsigned char hdr[CTL_HEADER_LEN];
    size_t len = strlen(xml);

    ctl_put_len(hdr, (uint32_t)len);
    assert_int_equal(write(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
    assert_int_equal(write(fd, xml, len), (ssize_t)len);
}

static void send_request(int fd, const char *id)
{
    char xml[128];

    snprintf(xml, sizeof(xml), "<iq type='get' id='%s'><ping xmlns='urn:xmpp:ping'/></iq>", id);
    send_frame(fd, xml);
}

static int read_full(struct fx *fx, int fd, void *buf, size_t len)
{
    size_t off = 0;

    while (off < len) {
        pump_until(fx, fd);
        ssize_t n = read(fd, (char *)buf + off, len - off);
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    return 0;
}

/* Reads one frame (pumping the loop); returns it (malloc'd) or NULL at end of stream. */
static char *read_frame(struct fx *fx, int fd)
{
    unsigned char hdr[CTL_HEADER_LEN];

    if (read_full(fx, fd, hdr, sizeof(hdr)) < 0)
        return NULL;
    uint32_t len = ctl_get_len(hdr);
    assert_true(len <= CTL_FRAME_MAX);
    char *xml = calloc(1, len + 1);
    assert_int_equal(read_full(fx, fd, xml, len), 0);
    return xml;
}

/* The server closed the connection (after any frames it still had for it). */
static void assert_closed(struct fx *fx, int fd)
{
    char b;

    pump_until(fx, fd);
    ssize_t n = read(fd, &b, 1);
    assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
}

static void expect_answer(struct fx *fx, int fd, const char *id)
{
    char want[64];
    char *xml = read_frame(fx, fd);

    assert_non_null(xml);
    snprintf(want, sizeof(want), "id=\"%s\"", id);
    assert_non_null(strstr(xml, want));
    assert_non_null(strstr(xml, "type=\"result\""));
    free(xml);
}

/* Runs the loop until `n` requests arrived: UV_RUN_ONCE, so that the accept and the read of a
 * request already written follow each other without a pause (an idle timer is always active
 * while a client is connected, so this does not block for ever). */
static void wait_requests(struct fx *fx, int n)
{
    for (int i = 0; i < 1000 && fx->n_requests < n; i++)
        uv_run(&fx->loop, UV_RUN_ONCE);
    assert_true(fx->n_requests >= n);
}

/* Every client waits for an answer at the limit: the newcomer is refused with a reason, the
 * busy ones are not cut off and get their answers. */
static void test_limit_all_busy(void **state)
{
    struct fx *fx = *state;
    int a, b, c;

    fx->late = 1;
    open_ctl(fx, 2, 0, 0600, NULL);
    a = connect_to(fx->path);
    b = connect_to(fx->path);
    assert_true(a >= 0 && b >= 0);
    send_request(a, "a1");
    send_request(b, "b1");
    wait_requests(fx, 2);
    c = connect_to(fx->path);
    assert_true(c >= 0);
    char *xml = read_frame(fx, c);
    assert_non_null(xml);
    assert_non_null(strstr(xml, "forbidden"));
    assert_non_null(strstr(xml, "too many control clients, all of them busy"));
    free(xml);
    assert_closed(fx, c);
    answer_pending(fx, 0);
    answer_pending(fx, 1);
    expect_answer(fx, a, "a1");
    expect_answer(fx, b, "b1");
    close(a);
    close(b);
    close(c);
}

/* At the limit the client idle for longest gives way; with clients equally idle (accepted in
 * the same loop turn), the one connected first. The others keep working. */
static void test_limit_oldest_idle_gives_way(void **state)
{
    struct fx *fx = *state;
    int a, b, c;

    open_ctl(fx, 2, 0, 0600, NULL);
    a = connect_to(fx->path);
    b = connect_to(fx->path);
    assert_true(a >= 0 && b >= 0);
    c = connect_to(fx->path);
    assert_true(c >= 0);
    /* The first one accepted closes as the third arrives. */
    assert_closed(fx, a);
    send_request(b, "b1");
    expect_answer(fx, b, "b1");
    send_request(c, "c1");
    expect_answer(fx, c, "c1");
    close(a);
    close(b);
    close(c);
}

static void on_answer_late(uv_timer_t *t)
{
    struct fx *fx = t->data;

    answer_pending(fx, 0);
    uv_close((uv_handle_t *)t, NULL);
}

/* The idle timeout (250 ms) runs out several times while a request waits for its late answer
 * (given at 1 s, after every earlier due time of the idle timer): the client is kept, gets its
 * answer, and is closed once idle after it. */
static void test_idle_spares_pending(void **state)
{
    struct fx *fx = *state;
    uv_timer_t later;
    int a;

    fx->late = 1;
    open_ctl(fx, 0, 250, 0600, NULL);
    a = connect_to(fx->path);
    assert_true(a >= 0);
    send_request(a, "slow");
    wait_requests(fx, 1);
    uv_timer_init(&fx->loop, &later);
    later.data = fx;
    uv_timer_start(&later, on_answer_late, 1000, 0);
    expect_answer(fx, a, "slow");
    assert_closed(fx, a);
    close(a);
}

/* A user the socket file lets in (mode 0666) but who is neither root, the daemon's user, nor in
 * the configured group, by its primary group or as a member: refused with forbidden. */
static void test_user_outside_group(void **state)
{
    struct fx *fx = *state;
    pid_t pid;
    int status = -1, done = 0;

    if (geteuid() != 0) {
        skip();
        return;
    }
    open_ctl(fx, 0, 0, 0666, "root");
    assert_int_equal(chmod(fx->dir, 0755), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* nobody:nogroup, not a member of root's group. */
        if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
            _exit(10);
        int fd = connect_to(fx->path);
        if (fd < 0)
            _exit(11);
        unsigned char hdr[CTL_HEADER_LEN];
        char xml[4096] = {0};
        if (read(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr))
            _exit(12);
        uint32_t len = ctl_get_len(hdr);
        size_t off = 0;
        while (off < len && off < sizeof(xml) - 1) {
            ssize_t n = read(fd, xml + off, len - off);
            if (n <= 0)
                _exit(13);
            off += (size_t)n;
        }
        if (strstr(xml, "forbidden") == NULL ||
            strstr(xml, "this user may not use the imdomaind control socket") == NULL)
            _exit(14);
        _exit(read(fd, hdr, 1) == 0 ? 0 : 15); /* and the connection ends */
    }
    for (int i = 0; i < 6000 && !done; i++) {
        pump_once(fx);
        done = waitpid(pid, &status, WNOHANG) == pid;
    }
    assert_true(done);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(fx->n_requests, 0);
}

/* An answer carrying a control character (from a stored value, say) would make imdomainctl's
 * parser refuse the frame: it arrives with the byte replaced, the rest intact. */
static void test_answer_scrubbed(void **state)
{
    struct fx *fx = *state;
    int a;

    fx->answer_text = "bell\x07here";
    open_ctl(fx, 0, 0, 0600, NULL);
    a = connect_to(fx->path);
    assert_true(a >= 0);
    send_request(a, "s1");
    char *xml = read_frame(fx, a);
    assert_non_null(xml);
    assert_null(strchr(xml, '\x07'));
    assert_non_null(strstr(xml, "bell"));
    assert_non_null(strstr(xml, "here</note>"));
    assert_non_null(strstr(xml, "id=\"s1\""));
    free(xml);
    close(a);
}

/* An answer above the frame limit cannot be sent: the request is answered with an error that
 * says so (before, nothing was sent and the client waited for ever); the connection goes on. */
static void test_answer_too_large(void **state)
{
    struct fx *fx = *state;
    size_t big = CTL_FRAME_MAX + 4096;
    char *text = malloc(big + 1);
    int a;

    memset(text, 'a', big);
    text[big] = '\0';
    fx->answer_text = text;
    open_ctl(fx, 0, 0, 0600, NULL);
    a = connect_to(fx->path);
    assert_true(a >= 0);
    send_request(a, "huge");
    char *xml = read_frame(fx, a);
    assert_non_null(xml);
    assert_non_null(strstr(xml, "id=\"huge\""));
    assert_non_null(strstr(xml, "type=\"error\""));
    assert_non_null(strstr(xml, "resource-constraint"));
    assert_non_null(strstr(xml, "is larger than the control socket's frame limit (1048576 bytes)"));
    free(xml);
    fx->answer_text = NULL;
    send_request(a, "small");
    expect_answer(fx, a, "small");
    close(a);
    free(text);
}

/* A frame of whitespace only holds no request: bad-request, and the connection stays usable. */
static void test_empty_frame(void **state)
{
    struct fx *fx = *state;
    int a;

    open_ctl(fx, 0, 0, 0600, NULL);
    a = connect_to(fx->path);
    assert_true(a >= 0);
    send_frame(a, "   \n");
    char *xml = read_frame(fx, a);
    assert_non_null(xml);
    assert_non_null(strstr(xml, "bad-request"));
    assert_non_null(strstr(xml, "no element"));
    free(xml);
    assert_int_equal(fx->n_requests, 0);
    send_request(a, "after");
    expect_answer(fx, a, "after");
    close(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_limit_all_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_oldest_idle_gives_way, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_spares_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_outside_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_scrubbed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_frame, setup, teardown),
    };
    alarm(120);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
