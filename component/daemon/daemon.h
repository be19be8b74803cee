/* The running daemon: wires the event loop, the router link, dispatch, disco, ad-hoc commands,
 * the store and the control socket, and runs until a signal or a fatal refusal. */
#ifndef IMD_DAEMON_H
#define IMD_DAEMON_H

#include "component/config.h"

/* Exit statuses of daemon_run. */
#define DAEMON_EXIT_OK 0
#define DAEMON_EXIT_STARTUP 1 /* could not start: store, socket, ... */
#define DAEMON_EXIT_REFUSED 2 /* the router refused us for good */

#define DAEMON_TRIM_THRESHOLD (64 << 20) /* free heap glibc keeps before giving it back */

/* Sets the allocator's policy (daemon_run does it first): keep up to DAEMON_TRIM_THRESHOLD of
 * freed heap instead of shrinking it with brk after every large free. With worker threads
 * running, each shrink is an unmap that interrupts every CPU (TLB shootdown); a directory sync
 * freeing a page of entries per batch spent a third of its time there. */
void daemon_malloc_policy(void);

/* Runs until stopped; `cfg` is borrowed for the whole run. Returns an exit status. */
int daemon_run(const struct config *cfg);

#endif
