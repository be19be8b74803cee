/* Intercluster peering: which peers count at a time ([peers] forget_after) and the state a
 * peer is in; read by the sync audit, the commands and the status as well as by peers. */
#include "component/engine/peers_window.h"

#include "component/app.h"
#include "component/config.h"
#include "store/store_peer.h"

#include <time.h>

int64_t peers_counted_since(const struct config *cfg, int64_t now)
{
    return cfg->peer_forget_after > 0 ? now - cfg->peer_forget_after : 0;
}

int64_t peers_counted_now(const struct app *app)
{
    /* no configuration (a unit test's bare app): nothing expires */
    return app->cfg ? peers_counted_since(app->cfg, (int64_t)time(NULL)) : 0;
}

bool peers_expired(int64_t last_sync, int64_t since)
{
    return last_sync > 0 && last_sync < since;
}

const char *peers_state_name(const struct store_peer *p, int64_t since)
{
    if (peers_expired(p->last_sync, since))
        return "expired";
    if (p->last_error != NULL)
        return p->last_sync > 0 ? "stale" : "failed";
    return p->last_sync > 0 ? "ok" : "new";
}
