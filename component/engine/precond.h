/* The guide's preconditions for changing the domain set or the default domain: HA disabled on
 * every redundancy group, the required services stopped on every node, and no long job in
 * flight. Checked live from the store inside the command's transaction. */
#ifndef IMD_PRECOND_H
#define IMD_PRECOND_H

#include "component/app.h"

/* NULL when a domain change may go ahead now; otherwise a malloc'd sentence in `lang` (English
 * or Korean) that names each group, node, service or job in the way and what to run next. */
char *precond_domain_change(struct app *app, const char *lang);

#endif
