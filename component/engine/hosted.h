/* The domains this cluster hosts: every locally configured IM address domain plus the default
 * domain (the guide: "the default domain or other IM domains hosted by the system"). The default
 * domain needs no row in the domains table to be hosted: it is listed, applied to the router,
 * covered by the certificate and counted with the users whose IM address is in it because it is
 * the default, and it can be renamed or removed only by changing the default (default-domain). */
#ifndef IMD_HOSTED_H
#define IMD_HOSTED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "component/app.h"
#include "store/store.h"

/* The default domain (lower-case, malloc'd), or NULL while it is DOMAIN.NOT.SET. *rc gets the
 * store's verdict (NULL with STORE_ERR: unreadable). */
char *hosted_default(struct app *app, enum store_rc *rc);

/* True when `name` (any case) is the default domain. A store failure reads as false (logged):
 * the callers then fall back to the domain table's own rules. */
bool hosted_is_default(struct app *app, const char *name);

/* Users whose IM address is in the default domain `dflt` (borrowed). */
enum store_rc hosted_default_users(struct app *app, const char *dflt, int64_t *n);

/* Every hosted domain, sorted bytewise, each once: the local rows of the domains table and the
 * default domain. *names is a malloc'd array of malloc'd names (hosted_names_free). */
enum store_rc hosted_names(struct app *app, char ***names, size_t *n);
void hosted_names_free(char **names, size_t n);

/* How many domains hosted_names() would give. */
enum store_rc hosted_count(struct app *app, size_t *n);

/* Why `name` may not be renamed or deleted: it is the default domain, used by `users` users
 * (the way out: change the default first with default-domain), in `lang`. Caller frees. */
char *hosted_default_refusal(const char *name, int64_t users, const char *lang);

#endif
