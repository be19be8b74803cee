/* Telling the service manager how the daemon is (sd_notify(3) protocol): READY=1 once the store
 * is open and the control socket listens, STATUS= lines on the router link, STOPPING=1, and
 * WATCHDOG=1 from a timer on the event loop, so a stalled loop stops the pings and systemd
 * restarts the daemon. Without NOTIFY_SOCKET in the environment every call does nothing.
 *
 * Built with libsystemd (configure --with-systemd) the messages go through sd_notify(); without
 * it a small sender of our own writes the same datagrams: the protocol is a stable interface
 * that systemd documents for reimplementation, and a build without libsystemd must still work
 * under Type=notify. */
#ifndef IMD_NOTIFY_H
#define IMD_NOTIFY_H

#include <stdint.h>
#include <uv.h>

typedef struct notifier notifier_t;

/* Reads NOTIFY_SOCKET and the watchdog settings (WATCHDOG_USEC, WATCHDOG_PID) and, when the
 * watchdog is on, starts a timer on `loop` (borrowed) that sends WATCHDOG=1 every half period.
 * The timer does not keep the loop alive. Never NULL. */
notifier_t *notify_new(uv_loop_t *loop);
/* Sends READY=1 with a STATUS= line. */
void notify_ready(notifier_t *n, const char *status);
/* Sends a STATUS= line. */
void notify_status(notifier_t *n, const char *status);
/* Sends STOPPING=1 (with a STATUS= line) and stops the watchdog timer. */
void notify_stopping(notifier_t *n, const char *status);
/* The watchdog period in microseconds (0: off). */
uint64_t notify_watchdog_usec(const notifier_t *n);
/* Frees; the loop must have closed the timer (uv_walk + uv_run), or never started it. */
void notify_free(notifier_t *n);

/* The built-in sender, always compiled (tests use it whatever the build): sends `msg` as one
 * datagram to the socket named by `path` ("/..." or "@abstract"). 0, or -1 with errno. */
int notify_send_to(const char *path, const char *msg);
/* WATCHDOG_USEC as the built-in reads it: 0 when unset, malformed, or meant for another pid
 * (WATCHDOG_PID). */
uint64_t notify_watchdog_from_env(void);

#endif
