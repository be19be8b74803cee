/* Helpers shared by the commands and engines: the audit actor and audit records. Applying the
 * domain set to the router is in component/engine/app_apply.c. */
#include "component/app.h"

#include "store/store_audit.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <stdlib.h>
#include <string.h>

char *app_actor(const char *requester)
{
    const char *slash;

    if (requester == NULL)
        return xstrdup("");
    /* "uid:N/cK" (a control connection) is uid:N, like a full JID is its bare JID. */
    slash = strchr(requester, '/');
    return slash ? xstrndup(requester, (size_t)(slash - requester)) : xstrdup(requester);
}

void app_audit(struct app *app, const char *requester, const char *node, int outcome,
               const char *details)
{
    char *actor = app_actor(requester);
    enum store_rc rc =
        store_audit_append(app->store, 0, actor, node, (enum store_outcome)outcome, details, NULL);

    if (rc != STORE_OK)
        log_warnx("audit: cannot record node=%s actor=%s: %s", node, actor,
                  store_errmsg(app->store));
    free(actor);
}
