/* The changes of the domain set that both the domains commands and the migration procedure
 * (step 3) make, inside the caller's transaction, with the rules that refuse them. Below the
 * commands: they and the procedure engine share it. Strings returned are the caller's. */
#ifndef IMD_DOMAIN_CHANGE_H
#define IMD_DOMAIN_CHANGE_H

#include <stdbool.h>

#include "component/app.h"
#include "component/engine/domain_rules.h"
#include "store/store_domain.h"

enum domains_work {
    DOMAINS_WORK_DONE,    /* the change is made: commit */
    DOMAINS_WORK_REFUSED, /* *why says why (a conflict): roll back, answer with it */
    DOMAINS_WORK_FAILED,  /* the store failed: roll back, answer internal-server-error */
};
typedef enum domains_work (*domains_work_fn)(struct app *app, void *arg, const char *lang,
                                             char **why);

/* The works of domains/add (arg: the checked lower-case name) and domains/update (arg: a struct
 * domains_rename), for domains_transact (cmd_domains_common.h); the procedure's step 3 runs them
 * too. */
struct domains_rename {
    char from[DOMAIN_NAME_BUF];
    char to[DOMAIN_NAME_BUF];
};
enum domains_work domains_add_work(struct app *app, void *arg, const char *lang, char **why);
enum domains_work domains_rename_work(struct app *app, void *arg, const char *lang, char **why);
/* domains/delete's work for one name: deletes it, or with `stays` (a peer still configures it)
 * keeps it listed as configured on the peer only. */
enum domains_work domains_delete_one(struct app *app, const char *name, bool stays,
                                     const char *lang, char **why);

/* Why `name` may not be changed now, in `lang` (caller frees); NULL when it is editable.
 * Reads the store: `d` gets the row when it exists (cleared by the caller); *rc gets the
 * store's verdict (STORE_ERR: the text is NULL and the caller reports the store error). */
char *domains_why_not_editable(struct app *app, const char *name, const char *lang,
                               struct store_domain *d, enum store_rc *rc);
/* The refusal for a name that exists already, naming the domain as stored (caller frees). */
char *domains_duplicate_text(const char *existing, const char *lang);

/* Local, admin-managed and used by nobody: the guide's editable domains. */
bool domains_is_editable(const struct store_domain *d);

#endif
