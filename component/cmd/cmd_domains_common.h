/* What the domains commands share: which domains may be edited, checking a typed name,
 * running a change in one transaction behind the guide's preconditions, telling the router
 * afterwards (the answer waits for the reload hook), and the certificate's domain set. */
#ifndef IMD_CMD_DOMAINS_COMMON_H
#define IMD_CMD_DOMAINS_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "component/app.h"
#include "component/engine/domain_change.h"
#include "component/engine/domain_rules.h"
#include "store/store_domain.h"
#include "xmpp/adhoc.h"
#include "xmpp/adhoc_outcome.h"

/* Options a list field shows at most; beyond that the list is open (any editable name may be
 * typed) and a line says how many were left out, so a form stays far below Prosody's 512 KiB
 * stanza limit whatever the number of domains. */
#define DOMAINS_MAX_OPTIONS 1000

extern const struct adhoc_command cmd_domains_delete_def; /* cmd_domains_delete.c */

/* ---- answers in the request's language ---- */

/* Completes with an error note made with printf: `en` or `ko` by call->lang. */
void domains_fail(adhoc_call_t *call, const char *en, const char *ko, ...);
/* Answers internal-server-error naming the store's last failure (nothing changed). */
void domains_store_error(adhoc_call_t *call, struct app *app);

/* A sentence written with stdio: f = domains_text_open(&t); fprintf(f, ...); then
 * domains_text_close(&t) returns it (caller frees). Allocation failure is fatal. */
struct domains_text {
    FILE *f;
    char *text;
    size_t len;
};
FILE *domains_text_open(struct domains_text *t);
char *domains_text_close(struct domains_text *t);

/* ---- which domains an admin may change ---- */

/* Every editable domain in name order (caller frees with store_domain_list_free). */
enum store_rc domains_list_editable(struct app *app, struct store_domain **out, size_t *n);
/* Adds the editable domains as options of `field` (at most DOMAINS_MAX_OPTIONS, then the field
 * is made open) and, when some were left out, a fixed line to `form` saying so. */
void domains_add_choices(form_t *form, form_field_t *field, const struct store_domain *list,
                         size_t n);

/* The first stage of domains/update and domains/delete. */
struct domains_choice {
    const struct text *title, *how; /* of the form */
    const char *var;                /* the list field offering the editable domains */
    enum field_type type;           /* FIELD_LIST_SINGLE or FIELD_LIST_MULTI */
    const struct text *label;
    const struct text *none; /* the info note when nothing is editable */
};
/* After the preconditions, a new form (the caller shows it) with the editable domains as the
 * options of `var` (domains_add_choices). NULL when the call was answered instead: a refused
 * precondition, a store error, or nothing editable. */
form_t *domains_choice_form(adhoc_call_t *call, const struct domains_choice *choice);

/* ---- names ---- */

/* Checks `raw` against the domain rules; on success writes the lower-case name into
 * `normalized` (DOMAIN_NAME_BUF bytes) and returns true. Otherwise answers bad-request +
 * bad-payload with the rule that failed (the session stays at its stage) and returns false. */
bool domains_check_name(adhoc_call_t *call, const char *raw, char *normalized);

/* ---- changing ---- */

/* At the start of a changing command: answers with the preconditions' refusal and returns
 * false when a change could not go ahead now. */
bool domains_precheck(adhoc_call_t *call);


/* One transaction: the preconditions again (another admin may have changed things since the
 * form was shown), then `work`, then commit. Returns true when committed; otherwise the call
 * has been answered and nothing changed. */
bool domains_transact(adhoc_call_t *call, domains_work_fn work, void *arg);

/* After a commit: applies the domain set to the router and completes the command once the
 * reload hook has finished (deferring the answer when it can), with one note: `summary`
 * (copied; what changed, in call->lang), whether the router was updated, and whether the
 * certificate is now stale. `result` (taken, may be NULL) is returned with it. */
void domains_apply_and_answer(adhoc_call_t *call, const char *summary, form_t *result);

/* ---- the certificate's domain set (settings.cert_domain_set) ---- */

struct cert_set {
    char *buf;          /* owned: the copied list, cut at the commas */
    const char **names; /* owned array into buf, sorted */
    size_t n;
    bool present; /* false: no certificate has been made yet */
};

/* Reads the set from the settings (a sorted comma list or NULL). Returns STORE_OK or the
 * store's error; free with cert_set_clear. */
enum store_rc cert_set_load(struct app *app, struct cert_set *cs);
bool cert_set_covers(const struct cert_set *cs, const char *name);
/* "No cup-xmpp-s2s certificate exists yet: ..." */
extern const struct text domains_text_no_cert;
void cert_set_clear(struct cert_set *cs);

#endif
