/* Background checkpoints: a timer on the loop looks at the WAL size; one worker at a time runs
 * the checkpoint on the second connection. */
#include "component/engine/ckpt.h"

#include "store/store_checkpoint.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <stdlib.h>

struct ckpt_sched {
    struct store_ckpt *ck;
    uv_timer_t timer;
    uv_work_t work;
    bool busy;    /* a checkpoint is on the thread pool */
    bool stopped; /* the timer handle is closed or closing */
};

static void run_checkpoint(uv_work_t *w)
{
    struct ckpt_sched *cs = w->data;

    store_ckpt_run(cs->ck);
}

static void checkpoint_done(uv_work_t *w, int status)
{
    struct ckpt_sched *cs = w->data;

    (void)status;
    cs->busy = false;
}

static void on_tick(uv_timer_t *t)
{
    struct ckpt_sched *cs = t->data;

    if (cs->busy || !store_ckpt_due(cs->ck, CKPT_PAGES))
        return;
    cs->busy = true;
    if (uv_queue_work(t->loop, &cs->work, run_checkpoint, checkpoint_done) < 0)
        cs->busy = false;
}

struct ckpt_sched *ckpt_sched_start(struct app *app)
{
    struct ckpt_sched *cs;
    char *err = NULL;
    struct store_ckpt *ck;

    if (app->cfg == NULL || app->cfg->store_path == NULL)
        return NULL;
    if ((ck = store_ckpt_open(app->store, app->cfg->store_path, &err)) == NULL) {
        log_warnx("store: checkpoints stay in commits: %s", err ? err : "no second connection");
        free(err);
        return NULL;
    }
    cs = xcalloc(1, sizeof(*cs));
    cs->ck = ck;
    cs->work.data = cs;
    uv_timer_init(app->loop, &cs->timer);
    cs->timer.data = cs;
    uv_timer_start(&cs->timer, on_tick, CKPT_INTERVAL_MS, CKPT_INTERVAL_MS);
    return cs;
}

void ckpt_sched_stop(struct ckpt_sched *cs)
{
    if (cs == NULL || cs->stopped)
        return;
    cs->stopped = true;
    uv_timer_stop(&cs->timer);
    if (!uv_is_closing((uv_handle_t *)&cs->timer))
        uv_close((uv_handle_t *)&cs->timer, NULL);
}

void ckpt_sched_free(struct ckpt_sched *cs)
{
    if (cs == NULL)
        return;
    store_ckpt_close(cs->ck);
    free(cs);
}
