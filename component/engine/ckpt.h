/* Moves the store's WAL checkpoints onto libuv's thread pool, so that a commit never pays for
 * one on the loop (store/store_checkpoint.h says why). */
#ifndef IMD_CKPT_H
#define IMD_CKPT_H

#include "component/app.h"

#define CKPT_INTERVAL_MS 250 /* how often the WAL size is looked at */
#define CKPT_PAGES 1000      /* the WAL size that starts a checkpoint (sqlite's own default) */

/* Starts watching (`app` borrowed). NULL with the reason logged: the store then keeps its
 * automatic checkpoint, which is correct, only slower for the loop. */
struct ckpt_sched *ckpt_sched_start(struct app *app);
/* Stops the timer and closes its handle (NULL is allowed); a checkpoint in flight finishes. */
void ckpt_sched_stop(struct ckpt_sched *cs);
/* After the loop has run out: closes the second connection and frees (NULL is allowed). */
void ckpt_sched_free(struct ckpt_sched *cs);

#endif
