/* External hooks on the libuv loop: uv_spawn from an argv array (no shell), one pipe for
 * stdout+stderr, a timeout that escalates SIGTERM to SIGKILL, and a single completion report. */

#include "component/engine/hook.h"

#include "util/log.h"
#include "util/xmalloc.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOOK_READ_CHUNK 4096

struct hook {
    uv_process_t proc;
    uv_pipe_t out;
    uv_timer_t timer;
    int open_handles; /* freed when the last one is closed */
    hook_done_cb cb;
    void *arg;
    unsigned grace_ms;
    int exited, eof, done, cancelled;
    int exit_status, term_signal, timed_out;
    size_t len;
    int truncated;
    char output[HOOK_OUTPUT_MAX + 1];
    char chunk[HOOK_READ_CHUNK];
};

static void on_close(uv_handle_t *handle)
{
    struct hook *h = handle->data;

    if (--h->open_handles == 0)
        free(h);
}

static void close_handle(struct hook *h, uv_handle_t *handle)
{
    if (handle->data == h && !uv_is_closing(handle))
        uv_close(handle, on_close);
}

static void close_all(struct hook *h)
{
    close_handle(h, (uv_handle_t *)&h->timer);
    close_handle(h, (uv_handle_t *)&h->out);
    close_handle(h, (uv_handle_t *)&h->proc);
}

/* The child leads its own process group (UV_PROCESS_DETACHED), so helpers it started go too. */
static void kill_group(struct hook *h, int sig)
{
    int rc;

    if (h->proc.pid <= 0) /* never signal our own group */
        return;
    rc = uv_kill(-h->proc.pid, sig);
    if (rc != 0 && rc != UV_ESRCH)
        log_warnx("hook pid=%d: cannot send signal %d: %s", h->proc.pid, sig, uv_strerror(rc));
}

static void finish(struct hook *h)
{
    struct hook_result res;

    if (h->done)
        return;
    h->done = 1;
    h->output[h->len] = '\0';
    res.exit_status = h->exit_status;
    res.term_signal = h->term_signal;
    res.timed_out = h->timed_out;
    res.output = h->output;
    res.output_len = h->len;
    res.output_truncated = h->truncated;
    if (!h->cancelled)
        h->cb(&res, h->arg);
    close_all(h);
}

static void on_timer(uv_timer_t *timer)
{
    struct hook *h = timer->data;
    int rc;

    if (h->exited) {
        /* The drain period ended: something the hook left behind holds the pipe open. */
        finish(h);
        return;
    }
    if (h->timed_out) {
        log_warnx("hook pid=%d ignored SIGTERM; sending SIGKILL", h->proc.pid);
        kill_group(h, SIGKILL);
        return;
    }
    h->timed_out = 1;
    log_warnx("hook pid=%d timed out; sending SIGTERM", h->proc.pid);
    kill_group(h, SIGTERM);
    if ((rc = uv_timer_start(&h->timer, on_timer, h->grace_ms, 0)) != 0) {
        log_warnx("hook: cannot start the kill timer: %s", uv_strerror(rc));
        kill_group(h, SIGKILL);
    }
}

static void on_proc_exit(uv_process_t *proc, int64_t exit_status, int term_signal)
{
    struct hook *h = proc->data;
    int rc;

    h->exited = 1;
    h->exit_status = (int)exit_status;
    h->term_signal = term_signal;
    uv_timer_stop(&h->timer);
    if (h->eof) {
        finish(h);
        return;
    }
    if ((rc = uv_timer_start(&h->timer, on_timer, HOOK_DRAIN_MS, 0)) != 0) {
        log_warnx("hook: cannot start the drain timer: %s", uv_strerror(rc));
        finish(h);
    }
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct hook *h = handle->data;

    *buf = uv_buf_init(h->chunk, sizeof(h->chunk));
}

static void keep_output(struct hook *h, const char *data, size_t n)
{
    size_t room = HOOK_OUTPUT_MAX - h->len;

    if (n > room) {
        n = room;
        h->truncated = 1;
    }
    memcpy(h->output + h->len, data, n);
    h->len += n;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct hook *h = stream->data;

    if (nread > 0) {
        keep_output(h, buf->base, (size_t)nread);
        return;
    }
    if (nread == 0)
        return;
    if (nread != UV_EOF)
        log_warnx("hook pid=%d: reading its output: %s", h->proc.pid, uv_strerror((int)nread));
    h->eof = 1;
    uv_read_stop(stream);
    if (h->exited)
        finish(h);
}

/* Sets up the output pipe: our end non-blocking, the child's end blocking; both close-on-exec
 * (libuv's dup2 onto the child's fds 1 and 2 clears that flag there). */
static int open_output(struct hook *h, uv_loop_t *loop, uv_file *child_fd)
{
    uv_file fds[2];
    int rc;

    if ((rc = uv_pipe(fds, UV_NONBLOCK_PIPE, 0)) != 0)
        return rc;
    if ((rc = uv_pipe_init(loop, &h->out, 0)) != 0)
        goto fail;
    h->out.data = h;
    h->open_handles++;
    if ((rc = uv_pipe_open(&h->out, fds[0])) != 0)
        goto fail;
    *child_fd = fds[1];
    return 0;
fail:
    close(fds[1]);
    close(fds[0]);
    return rc;
}

static int spawn(struct hook *h, uv_loop_t *loop, const char *const *argv,
                 const struct hook_opts *opts, uv_file child_fd)
{
    uv_process_options_t po;
    uv_stdio_container_t stdio[3];
    int rc;

    memset(&po, 0, sizeof(po));
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = child_fd;
    stdio[2] = stdio[1];
    po.exit_cb = on_proc_exit;
    po.file = argv[0];
    /* libuv copies these and never writes them; its API just lacks the const. */
    po.args = (char **)argv;
    po.env = opts != NULL ? (char **)opts->env : NULL;
    po.flags = UV_PROCESS_DETACHED;
    po.stdio_count = 3;
    po.stdio = stdio;
    rc = uv_spawn(loop, &h->proc, &po);
    /* Even a failed uv_spawn leaves an initialised handle that must be closed. */
    h->proc.data = h;
    h->open_handles++;
    return rc;
}

static int start(struct hook *h, uv_loop_t *loop, const char *const *argv,
                 const struct hook_opts *opts)
{
    uv_file child_fd = -1;
    unsigned timeout_ms = opts != NULL ? opts->timeout_ms : 0;
    int rc;

    if ((rc = uv_timer_init(loop, &h->timer)) != 0)
        return rc;
    h->timer.data = h;
    h->open_handles++;
    if ((rc = open_output(h, loop, &child_fd)) != 0)
        return rc;
    rc = spawn(h, loop, argv, opts, child_fd);
    close(child_fd);
    if (rc != 0)
        return rc;
    if ((rc = uv_read_start((uv_stream_t *)&h->out, on_alloc, on_read)) != 0) {
        kill_group(h, SIGKILL);
        return rc;
    }
    if (timeout_ms > 0 && (rc = uv_timer_start(&h->timer, on_timer, timeout_ms, 0)) != 0) {
        kill_group(h, SIGKILL);
        return rc;
    }
    return 0;
}

hook_t *hook_run(uv_loop_t *loop, const char *const *argv, const struct hook_opts *opts,
                 hook_done_cb cb, void *arg, char **err)
{
    struct hook *h;
    int rc;

    if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0') {
        if (err != NULL)
            *err = xstrdup("cannot run a hook: the command is empty");
        return NULL;
    }
    h = xcalloc(1, sizeof(*h));
    h->cb = cb;
    h->arg = arg;
    h->grace_ms =
        opts != NULL && opts->kill_grace_ms > 0 ? opts->kill_grace_ms : HOOK_KILL_GRACE_MS;
    if ((rc = start(h, loop, argv, opts)) != 0) {
        if (err != NULL)
            *err = xasprintf("cannot run %s: %s", argv[0], uv_strerror(rc));
        /* Handles already initialised free the hook when closed; none means free it now. */
        h->cancelled = h->done = 1;
        if (h->open_handles == 0)
            free(h);
        else
            close_all(h);
        return NULL;
    }
    log_debug("hook started pid=%d file=%s", h->proc.pid, argv[0]);
    return h;
}

void hook_cancel(hook_t *h)
{
    if (h == NULL || h->done)
        return;
    h->cancelled = 1;
    if (!h->exited)
        kill_group(h, SIGTERM);
    h->done = 1;
    close_all(h);
}

char *hook_result_describe(const struct hook_result *res)
{
    if (res->timed_out && res->term_signal != 0)
        return xasprintf("timed out and was killed (signal %d)", res->term_signal);
    if (res->timed_out)
        return xasprintf("timed out, then exited with status %d", res->exit_status);
    if (res->term_signal != 0)
        return xasprintf("killed by signal %d", res->term_signal);
    return xasprintf("exited with status %d", res->exit_status);
}

static void push_word(char ***argv, size_t *argc, const char *word, size_t len)
{
    *argv = xrealloc(*argv, (*argc + 2) * sizeof(**argv));
    (*argv)[(*argc)++] = xstrndup(word, len);
    (*argv)[*argc] = NULL;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int hook_split_argv(const char *s, char ***argv_out, size_t *argc_out, char **err)
{
    char **argv = xcalloc(1, sizeof(*argv));
    char *word = xmalloc(strlen(s) + 1); /* no word is longer than the input */
    size_t argc = 0, len = 0;
    int in_word = 0, in_quote = 0;
    const char *why = NULL;

    for (const char *p = s; *p != '\0' && why == NULL; p++) {
        if (*p == '\\') {
            if (p[1] == '\0') {
                why = "a backslash ends the command";
                break;
            }
            word[len++] = *++p;
            in_word = 1;
        } else if (*p == '"') {
            in_quote = !in_quote;
            in_word = 1;
        } else if (!in_quote && is_blank(*p)) {
            if (in_word && argc == HOOK_ARGV_MAX)
                why = "too many words in the command";
            else if (in_word)
                push_word(&argv, &argc, word, len);
            in_word = 0;
            len = 0;
        } else {
            word[len++] = *p;
            in_word = 1;
        }
    }
    if (why == NULL && in_quote)
        why = "a double quote is not closed";
    if (why == NULL && in_word && argc == HOOK_ARGV_MAX)
        why = "too many words in the command";
    if (why != NULL)
        goto fail;
    if (in_word)
        push_word(&argv, &argc, word, len);
    free(word);
    *argv_out = argv;
    *argc_out = argc;
    return 0;
fail:
    if (err != NULL)
        *err = xasprintf("cannot split the command: %s", why);
    free(word);
    hook_free_argv(argv);
    return -1;
}

void hook_free_argv(char **argv)
{
    if (argv == NULL)
        return;
    for (char **p = argv; *p != NULL; p++)
        free(*p);
    free(argv);
}
