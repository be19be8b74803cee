/* Control socket server on libuv pipes. Each client sends framed <iq> requests one after the
 * other; a peer whose uid is not root, ours, or in the configured group gets one forbidden
 * answer and is disconnected. Every client is bounded: its frames (CTL_FRAME_MAX, parsed by the
 * stream parser with its depth and count limits), its queued answers (CTL_OUTPUT_HWM: reading
 * stops above it), its idle time, and the number of clients (the longest idle one gives way). */
#include "component/daemon/ctl.h"

#include "component/daemon/ctl_proto.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/parser.h"
#include "xmpp/stanza.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct ctl_client {
    uv_pipe_t pipe;
    uv_timer_t idle; /* closes the connection after idle_timeout_ms with nothing in flight */
    ctl_t *ctl;
    int refs;        /* pending late answers that still point here */
    int handles;     /* pipe and timer not yet closed */
    int closed;      /* both finished closing; freed when refs drops to 0 */
    int paused;      /* reading stopped: too many answers queued */
    uint64_t active; /* uv_now of the last request or answer */
    uint64_t serial; /* order of connection: breaks ties of `active` (uv_now is per loop turn) */
    uid_t uid;
    char requester[32]; /* "uid:N", for logs */
    char owner[48];     /* "uid:N/cK", who the requests are from */
    unsigned char *buf;
    size_t len, cap;
    struct ctl_client *next;
};

struct ctl {
    uv_loop_t *loop;
    xmpp_ctx_t *ctx;
    uv_pipe_t server;
    char *path;
    gid_t gid;
    int has_group;
    ctl_request_fn fn;
    ctl_closed_fn closed_fn;
    void *ud;
    unsigned long next_conn; /* numbers connections for their owner names */
    struct ctl_client *clients;
    int n_clients; /* in the list, closing ones included */
    int max_clients;
    unsigned idle_timeout_ms;
    struct parser_limits limits;
    uint64_t next_serial;
    int closing;
    int server_closed;
};

static void ctl_free_if_done(ctl_t *ctl)
{
    if (ctl->closing && ctl->server_closed && ctl->clients == NULL) {
        free(ctl->path);
        free(ctl);
    }
}

static void server_closed(uv_handle_t *h)
{
    ctl_t *ctl = h->data;

    ctl->server_closed = 1;
    ctl_free_if_done(ctl);
}

struct ctl_pending {
    struct ctl_client *cl;
};

struct ctl_write {
    uv_write_t req;
    unsigned char data[];
};

static void client_free(struct ctl_client *cl)
{
    free(cl->buf);
    free(cl);
}

static void client_closed(uv_handle_t *h)
{
    struct ctl_client *cl = h->data;
    ctl_t *ctl = cl->ctl;

    if (--cl->handles > 0)
        return;
    for (struct ctl_client **pp = &ctl->clients; *pp; pp = &(*pp)->next) {
        if (*pp == cl) {
            *pp = cl->next;
            break;
        }
    }
    ctl->n_clients--;
    if (ctl->closed_fn && !ctl->closing && cl->owner[0] != '\0')
        ctl->closed_fn(ctl->ud, cl->owner);
    cl->closed = 1;
    cl->ctl = NULL;
    if (cl->refs == 0)
        client_free(cl);
    ctl_free_if_done(ctl);
}

static void client_drop(struct ctl_client *cl)
{
    if (!uv_is_closing((uv_handle_t *)&cl->pipe)) {
        uv_close((uv_handle_t *)&cl->pipe, client_closed);
        uv_close((uv_handle_t *)&cl->idle, client_closed);
    }
}

static bool client_gone(const struct ctl_client *cl)
{
    return cl->closed || uv_is_closing((const uv_handle_t *)&cl->pipe);
}

static size_t queued(struct ctl_client *cl)
{
    return uv_stream_get_write_queue_size((uv_stream_t *)&cl->pipe);
}

static void touch(struct ctl_client *cl)
{
    cl->active = uv_now(cl->ctl->loop);
    uv_timer_again(&cl->idle);
}

static void on_idle(uv_timer_t *t)
{
    struct ctl_client *cl = t->data;

    if (cl->refs > 0) /* waiting for a late answer is not idle */
        return;
    log_info("control: closing %s reason=idle idle_timeout_ms=%u queued=%zu", cl->requester,
             cl->ctl->idle_timeout_ms, queued(cl));
    client_drop(cl);
}

static void resume_client(struct ctl_client *cl);

static void on_written(uv_write_t *req, int status)
{
    struct ctl_client *cl = req->data;

    free(req);
    if (status < 0 || client_gone(cl))
        return;
    touch(cl);
    if (cl->paused && queued(cl) < CTL_OUTPUT_HWM / 2)
        resume_client(cl);
}

static void send_error(struct ctl_client *cl, const char *type, const char *cond, const char *text,
                       const char *id);

static void send_frame(struct ctl_client *cl, xmpp_stanza_t *st)
{
    char *text = NULL;
    size_t len = 0;

    if (xmpp_stanza_to_text(st, &text, &len) != XMPP_EOK)
        return;
    if (stanza_scrub_xml(text, len) > 0) /* imdomainctl's parser would refuse the frame */
        log_warnx("control: replaced bytes XML does not allow in an answer");
    if (len > CTL_FRAME_MAX) {
        /* Dropping it silently would leave the client waiting for ever: answer the request
         * with an error instead (small, so it fits). */
        char why[128];
        log_warnx("control: answer of %zu bytes above the frame limit; answering with an error",
                  len);
        xmpp_free(cl->ctl->ctx, text);
        snprintf(why, sizeof(why),
                 "the answer (%zu bytes) is larger than the control socket's "
                 "frame limit (%u bytes)",
                 len, CTL_FRAME_MAX);
        send_error(cl, "cancel", "resource-constraint", why, xmpp_stanza_get_id(st));
        return;
    }
    struct ctl_write *w = xmalloc(sizeof(*w) + CTL_HEADER_LEN + len);
    w->req.data = cl;
    ctl_put_len(w->data, (uint32_t)len);
    memcpy(w->data + CTL_HEADER_LEN, text, len);
    xmpp_free(cl->ctl->ctx, text);
    uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)(CTL_HEADER_LEN + len));
    if (uv_write(&w->req, (uv_stream_t *)&cl->pipe, &buf, 1, on_written) < 0)
        free(w);
}

/* An error about the connection or a frame that is not a request (`id` NULL: there is none to
 * echo), or the error that replaces an answer too large to send. */
static void send_error(struct ctl_client *cl, const char *type, const char *cond, const char *text,
                       const char *id)
{
    xmpp_stanza_t *dummy = xmpp_iq_new(cl->ctl->ctx, "get", id ? id : "0");
    xmpp_stanza_t *err;

    /* libstrophe makes no reply to a stanza without `from`. */
    xmpp_stanza_set_from(dummy, cl->requester);
    err = stanza_error_reply(dummy, type, cond, text);
    xmpp_stanza_release(dummy);
    if (err) {
        send_frame(cl, err);
        xmpp_stanza_release(err);
    }
}

static void handle_frame(struct ctl_client *cl, const char *xml, size_t len)
{
    xmpp_stanza_t *iq = NULL;
    char detail[160], msg[256];
    enum parser_error err =
        parser_parse_element(cl->ctl->ctx, &cl->ctl->limits, xml, len, &iq, detail, sizeof(detail));

    if (err != PARSER_OK) {
        log_warnx("control: %s sent a frame that is not one element reason=%s detail=\"%s\"",
                  cl->requester, parser_error_condition(err), detail);
        snprintf(msg, sizeof(msg), "a control request is one <iq> element: %s", detail);
        send_error(cl, "modify", err == PARSER_NOT_WELL_FORMED ? "bad-request" : "policy-violation",
                   msg, NULL);
        return;
    }
    if (strcmp(xmpp_stanza_get_name(iq), "iq") != 0) {
        send_error(cl, "modify", "bad-request", "a control request is one <iq> element", NULL);
        xmpp_stanza_release(iq);
        return;
    }
    /* The peer is who the kernel says it is, whatever the frame claims; and replies made with
     * xmpp_stanza_reply need a `from` to exist at all. */
    xmpp_stanza_set_from(iq, cl->owner);
    struct ctl_pending *pending = xcalloc(1, sizeof(*pending));
    pending->cl = cl;
    xmpp_stanza_t *reply = cl->ctl->fn(cl->ctl->ud, iq, cl->owner, pending);
    if (reply == NULL) {
        cl->refs++; /* answered later through ctl_pending_answer */
    } else {
        free(pending);
        send_frame(cl, reply);
        xmpp_stanza_release(reply);
    }
    xmpp_stanza_release(iq);
}

/* Handles the complete frames in the buffer and keeps the rest; stops early while the client's
 * answers are above the high-water mark (the rest waits for resume_client). */
static int consume_frames(struct ctl_client *cl)
{
    size_t off = 0;

    while (cl->len - off >= CTL_HEADER_LEN && queued(cl) < CTL_OUTPUT_HWM && !client_gone(cl)) {
        uint32_t flen = ctl_get_len(cl->buf + off);
        if (flen > CTL_FRAME_MAX) {
            log_warnx("control: %s sent a frame of %u bytes (limit %u); disconnecting",
                      cl->requester, flen, CTL_FRAME_MAX);
            send_error(cl, "modify", "policy-violation", "request too large", NULL);
            return -1;
        }
        if (cl->len - off - CTL_HEADER_LEN < flen)
            break;
        handle_frame(cl, (const char *)cl->buf + off + CTL_HEADER_LEN, flen);
        off += CTL_HEADER_LEN + flen;
    }
    memmove(cl->buf, cl->buf + off, cl->len - off);
    cl->len -= off;
    return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct ctl_client *cl = h->data;

    if (cl->cap - cl->len < 65536) {
        cl->cap = cl->len + 65536;
        cl->buf = xrealloc(cl->buf, cl->cap);
    }
    buf->base = (char *)cl->buf + cl->len;
    buf->len = cl->cap - cl->len;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* Stops reading a client whose answers pile up: it sends faster than it reads. */
static void pause_if_full(struct ctl_client *cl)
{
    if (cl->paused || client_gone(cl) || queued(cl) < CTL_OUTPUT_HWM)
        return;
    cl->paused = 1;
    uv_read_stop((uv_stream_t *)&cl->pipe);
    log_warnx("control: %s does not read its answers; reading paused queued=%zu hwm=%u",
              cl->requester, queued(cl), CTL_OUTPUT_HWM);
}

static void resume_client(struct ctl_client *cl)
{
    if (consume_frames(cl) < 0) {
        client_drop(cl);
        return;
    }
    if (queued(cl) >= CTL_OUTPUT_HWM || client_gone(cl))
        return;
    cl->paused = 0;
    log_debug("control: %s reads again; reading resumed queued=%zu", cl->requester, queued(cl));
    uv_read_start((uv_stream_t *)&cl->pipe, on_alloc, on_read);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct ctl_client *cl = s->data;

    if (nread < 0) {
        client_drop(cl);
        return;
    }
    if (nread > 0)
        touch(cl);
    cl->len += (size_t)nread;
    if (consume_frames(cl) < 0)
        client_drop(cl);
    else
        pause_if_full(cl);
}

void ctl_pending_answer(ctl_pending_t *pending, xmpp_stanza_t *reply)
{
    struct ctl_client *cl = pending->cl;

    free(pending);
    if (!client_gone(cl) && reply) {
        send_frame(cl, reply);
        touch(cl);
        pause_if_full(cl);
    }
    if (--cl->refs == 0 && cl->closed)
        client_free(cl);
}

static void on_refusal_sent(uv_shutdown_t *req, int status)
{
    client_drop(req->data);
    free(req);
}

static int peer_allowed(ctl_t *ctl, uid_t uid, gid_t gid)
{
    if (uid == 0 || uid == geteuid())
        return 1;
    if (!ctl->has_group)
        return 0;
    if (gid == ctl->gid)
        return 1;
    struct passwd *pw = getpwuid(uid);
    if (pw == NULL)
        return 0;
    gid_t groups[64];
    int n = 64;
    if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
        return 0;
    for (int i = 0; i < n; i++)
        if (groups[i] == ctl->gid)
            return 1;
    return 0;
}

/* At the connection limit: closes the client idle for longest (nothing in flight, nothing
 * queued), so idle connections can never lock the administrator out. Returns 0 if one was
 * closed, -1 if every client is busy. */
static int make_room(ctl_t *ctl, const struct ctl_client *except)
{
    struct ctl_client *oldest = NULL;
    int open = 0;

    for (struct ctl_client *c = ctl->clients; c; c = c->next) {
        if (c == except || client_gone(c))
            continue;
        open++;
        if (c->refs == 0 && queued(c) == 0 &&
            (oldest == NULL || c->active < oldest->active ||
             (c->active == oldest->active && c->serial < oldest->serial)))
            oldest = c;
    }
    if (open < ctl->max_clients)
        return 0;
    if (oldest == NULL)
        return -1;
    log_warnx("control: closing %s reason=connection-limit max_clients=%d idle_ms=%llu",
              oldest->requester, ctl->max_clients,
              (unsigned long long)(uv_now(ctl->loop) - oldest->active));
    client_drop(oldest);
    return 0;
}

static void on_connection(uv_stream_t *server, int status)
{
    ctl_t *ctl = server->data;
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    uv_os_fd_t fd;

    if (status < 0)
        return;
    struct ctl_client *cl = xcalloc(1, sizeof(*cl));
    cl->ctl = ctl;
    uv_pipe_init(ctl->loop, &cl->pipe, 0);
    cl->pipe.data = cl;
    uv_timer_init(ctl->loop, &cl->idle);
    cl->idle.data = cl;
    uv_timer_start(&cl->idle, on_idle, ctl->idle_timeout_ms, ctl->idle_timeout_ms);
    cl->handles = 2;
    cl->active = uv_now(ctl->loop);
    cl->serial = ++ctl->next_serial;
    cl->next = ctl->clients;
    ctl->clients = cl;
    ctl->n_clients++;
    if (uv_accept(server, (uv_stream_t *)&cl->pipe) < 0 ||
        uv_fileno((uv_handle_t *)&cl->pipe, &fd) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
        client_drop(cl);
        return;
    }
    cl->uid = cred.uid;
    snprintf(cl->requester, sizeof(cl->requester), "uid:%u", (unsigned)cred.uid);
    snprintf(cl->owner, sizeof(cl->owner), "uid:%u/c%lu", (unsigned)cred.uid, ++ctl->next_conn);
    bool allowed = peer_allowed(ctl, cred.uid, cred.gid);
    bool full = allowed && make_room(ctl, cl) < 0;
    if (!allowed || full) {
        log_warnx("control: refused %s (%s)", cl->requester,
                  full ? "too many busy clients" : "not allowed");
        send_error(cl, "auth", "forbidden",
                   full ? "too many control clients, all of them busy"
                        : "this user may not use the imdomaind control socket",
                   NULL);
        /* Close only once the refusal is written: closing at once would cancel the write. */
        uv_shutdown_t *req = xmalloc(sizeof(*req));
        req->data = cl;
        if (uv_shutdown(req, (uv_stream_t *)&cl->pipe, on_refusal_sent) < 0) {
            free(req);
            client_drop(cl);
        }
        return;
    }
    log_debug("control: client %s connected", cl->requester);
    uv_read_start((uv_stream_t *)&cl->pipe, on_alloc, on_read);
}

/* A socket file that nobody answers on is left over from a crash: remove it. */
static int clear_stale(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISSOCK(st.st_mode)) {
        log_error("control: %s exists and is not a socket; not touching it", path);
        return -1;
    }
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    if (live) {
        log_error("control: another imdomaind is listening on %s", path);
        return -1;
    }
    return unlink(path);
}

static int make_parent_dir(const char *path)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    int rc = 0;

    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
            rc = -1;
    }
    free(dir);
    return rc;
}

static int setup_group(ctl_t *ctl, const struct ctl_config *cfg)
{
    if (cfg->group == NULL || cfg->group[0] == '\0')
        return 0;
    struct group *gr = getgrnam(cfg->group);
    if (gr == NULL) {
        log_error("control: group %s does not exist", cfg->group);
        return -1;
    }
    ctl->gid = gr->gr_gid;
    ctl->has_group = 1;
    if (chown(cfg->path, (uid_t)-1, gr->gr_gid) < 0) {
        log_warn("control: chown %s to group %s", cfg->path, cfg->group);
        return -1;
    }
    return 0;
}

ctl_t *ctl_open(uv_loop_t *loop, xmpp_ctx_t *ctx, const struct ctl_config *cfg, ctl_request_fn fn,
                void *ud)
{
    ctl_t *ctl = xcalloc(1, sizeof(*ctl));
    int rc;

    ctl->loop = loop;
    ctl->ctx = ctx;
    ctl->fn = fn;
    ctl->ud = ud;
    ctl->path = xstrdup(cfg->path);
    ctl->max_clients = cfg->max_clients > 0 ? cfg->max_clients : CTL_DEFAULT_MAX_CLIENTS;
    ctl->idle_timeout_ms =
        cfg->idle_timeout_ms ? cfg->idle_timeout_ms : CTL_DEFAULT_IDLE_TIMEOUT_MS;
    ctl->limits = (struct parser_limits){.max_stanza_size = CTL_FRAME_MAX,
                                         .max_depth = cfg->max_depth > 0 ? cfg->max_depth : 64,
                                         .max_children = cfg->max_children,
                                         .max_attributes = cfg->max_attributes};
    if (strlen(cfg->path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        log_error("control: socket path %s is too long", cfg->path);
        goto fail;
    }
    if (make_parent_dir(cfg->path) < 0 || clear_stale(cfg->path) < 0) {
        log_warn("control: cannot prepare %s", cfg->path);
        goto fail;
    }
    uv_pipe_init(loop, &ctl->server, 0);
    ctl->server.data = ctl;
    /* Created with no access for anyone, then opened up to the configured mode, so there is
     * no window in which the socket is wider open than asked. */
    mode_t old = umask(0777);
    rc = uv_pipe_bind(&ctl->server, cfg->path);
    umask(old);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&ctl->server, 16, on_connection);
    if (rc < 0) {
        log_error("control: cannot listen on %s: %s", cfg->path, uv_strerror(rc));
        ctl->closing = 1;
        uv_close((uv_handle_t *)&ctl->server, server_closed);
        return NULL;
    }
    if (chmod(cfg->path, cfg->mode) < 0 || setup_group(ctl, cfg) < 0) {
        log_warn("control: cannot set the mode of %s", cfg->path);
        ctl_close(ctl);
        return NULL;
    }
    log_info("control socket listening path=%s mode=%04o", cfg->path, (unsigned)cfg->mode);
    return ctl;
fail:
    free(ctl->path);
    free(ctl);
    return NULL;
}

void ctl_on_closed(ctl_t *ctl, ctl_closed_fn fn)
{
    ctl->closed_fn = fn;
}

void ctl_close(ctl_t *ctl)
{
    if (ctl == NULL || ctl->closing)
        return;
    ctl->closing = 1;
    unlink(ctl->path);
    for (struct ctl_client *cl = ctl->clients; cl; cl = cl->next)
        client_drop(cl);
    uv_close((uv_handle_t *)&ctl->server, server_closed);
}
