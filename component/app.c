/* Helpers shared by the commands: applying the domain set to the router, audit records. */
#include "component/app.h"

#include "component/engine/hosted.h"
#include "store/store_audit.h"
#include "store/store_domain.h"
#include "store/store_settings.h"
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

struct applying {
    struct app *app;
    char *actor;
    app_applied_cb cb;
    void *arg;
};

static void applied(void *arg, int ok, const char *detail)
{
    struct applying *ap = arg;
    struct app *app = ap->app;

    if (store_settings_set_applied(app->store, ok != 0, ok ? NULL : detail) != STORE_OK)
        log_warnx("apply: cannot record the outcome: %s", store_errmsg(app->store));
    if (ok) {
        log_info("apply: router updated: %s", detail);
    } else {
        log_warnx("apply: router not updated: %s", detail);
        app_audit(app, ap->actor, "router/apply", STORE_OUTCOME_ERROR, detail);
    }
    if (ap->cb)
        ap->cb(ap->arg, ok, detail);
    free(ap->actor);
    free(ap);
}

/* The router gets every hosted domain: the local ones and the default domain (hosted.h). */
void app_apply_domains(struct app *app, const char *actor, app_applied_cb cb, void *arg)
{
    char **list = NULL;
    size_t n = 0;
    struct applying *ap;

    if (app->apply == NULL) {
        if (cb)
            cb(arg, 1, "nothing to apply to: no vhosts_file or reload_hook is configured");
        return;
    }
    if (hosted_names(app, &list, &n) != STORE_OK) {
        char *why = xasprintf("cannot read the domain set: %s", store_errmsg(app->store));
        log_warnx("apply: %s", why);
        if (cb)
            cb(arg, 0, why);
        free(why);
        return;
    }
    ap = xcalloc(1, sizeof(*ap));
    ap->app = app;
    ap->actor = xstrdup(actor ? actor : "daemon");
    ap->cb = cb;
    ap->arg = arg;
    apply_domains(app->apply, (const char *const *)list, n, applied, ap);
    hosted_names_free(list, n);
}
