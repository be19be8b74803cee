/* Applying the domain set to the router (the vhosts file and the reload hook), for every
 * command and engine that changes which domains are hosted. */
#ifndef IMD_APP_APPLY_H
#define IMD_APP_APPLY_H

#include "component/app.h"

/* Called once the router has been told (or telling it failed): ok 1/0 and a sentence. */
typedef void (*app_applied_cb)(void *arg, int ok, const char *detail);

/*
 * Writes the current local domain set to the router and runs the reload hook, then records the
 * outcome in the settings (domains_applied / apply_error) and, when it failed, in the audit log
 * under `actor`. `cb` (may be NULL) is called exactly once, possibly before this returns.
 */
void app_apply_domains(struct app *app, const char *actor, app_applied_cb cb, void *arg);

#endif
