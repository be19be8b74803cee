/* libFuzzer target for the control socket (component/daemon/ctl.c): the input is what a local client
 * writes, byte for byte, through a real UNIX socket to a real ctl server on a libuv loop; the
 * first two bytes choose how it is split into writes. Every frame the server sends back must be
 * well framed (a length within CTL_FRAME_MAX) and hold one <iq> of type result or error. Requests
 * with an id starting with 'p' are answered late (next loop turn), as commands that wait do. */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "component/daemon/ctl.h"
#include "component/daemon/ctl_proto.h"
#include "util/log.h"
#include "xmpp/adhoc.h"
#include "xmpp/adhoc_outcome.h"
#include "xmpp/stanza.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NS_COMMANDS "http://jabber.org/protocol/commands"
#define MAX_LATE 64

static uv_loop_t loop;
static xmpp_ctx_t *ctx;
static adhoc_t *adhoc;
static ctl_t *ctl;
static char dir[64], path[96];
static struct late {
    ctl_pending_t *pending;
    xmpp_stanza_t *reply;
} late[MAX_LATE];
static size_t n_late;

static void step(adhoc_call_t *c)
{
    if (c->stage == 0) {
        form_t *f = form_new(FORM_FORM);
        form_add_field(f, "a", FIELD_TEXT_SINGLE, NULL);
        adhoc_show(c, f, ADHOC_ALLOW_COMPLETE, ADHOC_COMPLETE);
        return;
    }
    adhoc_note(c, ADHOC_NOTE_INFO, &(struct text){"done", "완료"});
    adhoc_complete(c, NULL);
}

static const struct adhoc_command cmd = {"x", {"X", NULL}, false, step, NULL};

/* As the daemon's handler: commands run, anything else is refused. */
static xmpp_stanza_t *on_request(void *ud, xmpp_stanza_t *iq, const char *requester,
                                 ctl_pending_t *pending)
{
    xmpp_stanza_t *payload = stanza_first_element(iq);
    const char *ns = payload ? xmpp_stanza_get_ns(payload) : NULL;
    const char *id = xmpp_stanza_get_id(iq);
    xmpp_stanza_t *reply;

    if (ns && strcmp(ns, NS_COMMANDS) == 0)
        reply = adhoc_handle(adhoc, iq, requester, true);
    else
        reply = stanza_error_reply(iq, "cancel", "service-unavailable", "commands only");
    if (reply == NULL)
        abort();
    if (id && id[0] == 'p' && n_late < MAX_LATE) {
        late[n_late].pending = pending;
        late[n_late++].reply = reply;
        return NULL;
    }
    return reply;
}

static void answer_late(void)
{
    for (size_t i = 0; i < n_late; i++) {
        ctl_pending_answer(late[i].pending, late[i].reply);
        xmpp_stanza_release(late[i].reply);
    }
    n_late = 0;
}

static void init(void)
{
    struct ctl_config cfg = {.mode = 0600};

    log_set_level(LOG_LEVEL_ERROR);
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&loop);
    ctx = xmpp_ctx_new(NULL, NULL);
    adhoc = adhoc_new(ctx, NULL);
    snprintf(dir, sizeof(dir), "/tmp/imd-fuzz-ctl-XXXXXX");
    if (mkdtemp(dir) == NULL || adhoc_register(adhoc, &cmd, NULL) < 0)
        abort();
    snprintf(path, sizeof(path), "%s/ctl.sock", dir);
    cfg.path = path;
    if ((ctl = ctl_open(&loop, ctx, &cfg, on_request, NULL)) == NULL)
        abort();
}

static void fini(void)
{
    ctl_close(ctl);
    uv_run(&loop, UV_RUN_NOWAIT);
    rmdir(dir);
}

/* Checks every complete frame in `in` and drops them; keeps a partial one. */
static void check_frames(unsigned char *in, size_t *len)
{
    size_t off = 0;

    while (*len - off >= CTL_HEADER_LEN) {
        uint32_t flen = ctl_get_len(in + off);
        if (flen == 0 || flen > CTL_FRAME_MAX)
            abort();
        if (*len - off - CTL_HEADER_LEN < flen)
            break;
        char *text = strndup((char *)in + off + CTL_HEADER_LEN, flen);
        xmpp_stanza_t *st = xmpp_stanza_new_from_string(ctx, text);
        const char *type = st ? xmpp_stanza_get_type(st) : NULL;
        if (st == NULL || strcmp(xmpp_stanza_get_name(st), "iq") != 0 || type == NULL ||
            (strcmp(type, "result") != 0 && strcmp(type, "error") != 0))
            abort();
        xmpp_stanza_release(st);
        free(text);
        off += CTL_HEADER_LEN + flen;
    }
    memmove(in, in + off, *len - off);
    *len -= off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char in[2 * CTL_FRAME_MAX + CTL_HEADER_LEN];
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t off = 0, in_len = 0;
    uint32_t state;
    int fd, eof = 0, spins = 0;

    if (ctl == NULL) {
        init();
        atexit(fini);
    }
    if (size < 2)
        return 0;
    state = ((uint32_t)data[0] << 8 | data[1]) | 1;
    data += 2;
    size -= 2;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        abort();
    /* Write in pieces, letting the server run between them; then half-close and read every
     * answer until the server closes (it drops a client at EOF or on a bad frame). */
    while (!eof) {
        if (off < size) {
            state ^= state << 13, state ^= state >> 17, state ^= state << 5;
            size_t n = 1 + state % 64;
            if (n > size - off)
                n = size - off;
            ssize_t w = write(fd, data + off, n);
            if (w > 0)
                off += (size_t)w;
            else if (w < 0 && errno != EAGAIN)
                off = size; /* the server closed on us: read what it said */
            if (off == size)
                shutdown(fd, SHUT_WR);
        } else if (size == 0 && spins == 0) {
            shutdown(fd, SHUT_WR);
        }
        uv_run(&loop, UV_RUN_NOWAIT);
        answer_late();
        for (;;) {
            ssize_t r = read(fd, in + in_len, sizeof(in) - in_len);
            if (r == 0 || (r < 0 && errno != EAGAIN)) {
                eof = 1;
                break;
            }
            if (r < 0)
                break;
            in_len += (size_t)r;
            check_frames(in, &in_len);
        }
        if (++spins > 1000000)
            abort(); /* neither closed nor done: the server hangs */
    }
    if (in_len != 0)
        abort(); /* a truncated answer */
    close(fd);
    uv_run(&loop, UV_RUN_NOWAIT);
    answer_late();
    return 0;
}
