/* sd_notify(3) messages to the service manager (see notify.h). */
#include "component/daemon/notify.h"

#include "util/log.h"
#include "util/xmalloc.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#define NOTIFY_MSG_MAX 1024 /* bytes of one message (a STATUS= line is cut to fit) */

struct notifier {
    uv_timer_t watchdog;
    int timer_started;
    uint64_t watchdog_usec;
    int enabled; /* NOTIFY_SOCKET is set */
};

int notify_send_to(const char *path, const char *msg)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    socklen_t salen;
    ssize_t sent;
    int fd, saved;

    if ((path[0] != '/' && path[0] != '@') || len < 2 || len > sizeof(sa.sun_path)) {
        errno = EINVAL;
        return -1;
    }
    memcpy(sa.sun_path, path, len);
    if (sa.sun_path[0] == '@') /* the abstract namespace: a leading NUL, no terminator */
        sa.sun_path[0] = '\0';
    salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '/'));
    if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    sent = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
    saved = errno;
    close(fd);
    errno = saved;
    return sent == (ssize_t)strlen(msg) ? 0 : -1;
}

uint64_t notify_watchdog_from_env(void)
{
    const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
    char *end;
    unsigned long long v;

    if (usec == NULL || *usec == '\0')
        return 0;
    errno = 0;
    v = strtoull(usec, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0)
        return 0;
    if (pid != NULL && *pid != '\0' && strtol(pid, NULL, 10) != (long)getpid())
        return 0;
    return (uint64_t)v;
}

static void send_msg(const notifier_t *n, const char *msg)
{
    if (!n->enabled)
        return;
#ifdef HAVE_LIBSYSTEMD
    int rc = sd_notify(0, msg);
    if (rc < 0)
        log_debug("notify: sd_notify failed: %s", strerror(-rc));
#else
    if (notify_send_to(getenv("NOTIFY_SOCKET"), msg) < 0)
        log_debug("notify: cannot send to NOTIFY_SOCKET: %s", strerror(errno));
#endif
}

/* "KEY=1\nSTATUS=text": the status on one line (a newline would end the field). */
static void send_with_status(const notifier_t *n, const char *head, const char *status)
{
    char line[NOTIFY_MSG_MAX - 32], msg[NOTIFY_MSG_MAX];

    snprintf(line, sizeof(line), "%s", status ? status : "");
    for (char *p = line; *p; p++)
        if (*p == '\n')
            *p = ' ';
    snprintf(msg, sizeof(msg), "%s%sSTATUS=%s", head ? head : "", head ? "\n" : "", line);
    send_msg(n, msg);
}

static void on_watchdog(uv_timer_t *t)
{
    send_msg(t->data, "WATCHDOG=1");
}

notifier_t *notify_new(uv_loop_t *loop)
{
    notifier_t *n = xcalloc(1, sizeof(*n));
    const char *sock = getenv("NOTIFY_SOCKET");
    uint64_t usec = 0;

    n->enabled = sock != NULL && *sock != '\0';
    if (!n->enabled)
        return n;
#ifdef HAVE_LIBSYSTEMD
    if (sd_watchdog_enabled(0, &usec) <= 0)
        usec = 0;
#else
    usec = notify_watchdog_from_env();
#endif
    n->watchdog_usec = usec;
    if (usec > 0 && uv_timer_init(loop, &n->watchdog) == 0) {
        uint64_t ms = usec / 2000u; /* twice per period, as sd_watchdog_enabled(3) advises */
        n->watchdog.data = n;
        n->timer_started = 1;
        uv_timer_start(&n->watchdog, on_watchdog, 0, ms > 0 ? ms : 1);
        uv_unref((uv_handle_t *)&n->watchdog);
        log_info("notify: watchdog on interval_ms=%llu", (unsigned long long)(ms > 0 ? ms : 1));
    }
    return n;
}

void notify_ready(notifier_t *n, const char *status)
{
    send_with_status(n, "READY=1", status);
}

void notify_status(notifier_t *n, const char *status)
{
    send_with_status(n, NULL, status);
}

void notify_stopping(notifier_t *n, const char *status)
{
    if (n->timer_started && !uv_is_closing((uv_handle_t *)&n->watchdog))
        uv_timer_stop(&n->watchdog);
    send_with_status(n, "STOPPING=1", status);
}

uint64_t notify_watchdog_usec(const notifier_t *n)
{
    return n->watchdog_usec;
}

void notify_free(notifier_t *n)
{
    free(n);
}
