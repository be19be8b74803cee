/* WAL checkpoints away from the event loop. sqlite's automatic checkpoint runs inside the
 * commit that crosses its threshold and copies (and syncs) the whole WAL there: tens of
 * milliseconds in the middle of a job's batch, while pings wait. With this, the connection only
 * records how large its WAL is, and a second connection checkpoints on a worker thread. */
#ifndef IMD_STORE_CHECKPOINT_H
#define IMD_STORE_CHECKPOINT_H

#include <stdbool.h>

#include "store/store.h"

struct store_ckpt;

/* Turns off the automatic checkpoint of `st` (borrowed; it must outlive the result) and opens
 * a second connection to `path` for checkpoints. NULL with *err (caller frees) on failure; `st`
 * is then unchanged. */
struct store_ckpt *store_ckpt_open(struct store *st, const char *path, char **err);

/* On the loop's thread: true once the WAL holds at least `pages` pages since the last call that
 * returned true. */
bool store_ckpt_due(struct store_ckpt *ck, int pages);

/* On a worker thread, never two at once: a PASSIVE checkpoint (it waits for no reader or
 * writer). Returns 0, or -1 with the reason logged. */
int store_ckpt_run(struct store_ckpt *ck);

/* Closes the second connection and gives `st` its automatic checkpoint back (NULL is allowed).
 * No store_ckpt_run may be in flight. */
void store_ckpt_close(struct store_ckpt *ck);

#endif
