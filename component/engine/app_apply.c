/* Applying the domain set to the router: every hosted domain (hosted.h) written out and the
 * reload hook run (apply.h), the outcome recorded in the settings and, on failure, the audit
 * log. */
#include "component/engine/app_apply.h"

#include "component/engine/hosted.h"
#include "store/store_audit.h"
#include "store/store_settings.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <stdlib.h>

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
