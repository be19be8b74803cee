/* domains/delete: choose local admin-managed domains (or all of them), confirm a list of exactly
 * what goes and what stays listed for a peer, then delete in one transaction and tell the
 * router. Cancel at any stage changes nothing; everything is checked again at commit. */
#include "component/cmd/cmd_domains_common.h"
#include "component/engine/domain_rules.h"
#include "component/engine/peers_window.h"
#include "store/store_peer.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct text T_TITLE = {"Delete IM address domains", "IM 주소 도메인 삭제"};
static const struct text T_PICK = {
    "Choose the domains to delete, or select all. Only local admin-managed domains are listed: "
    "system-managed domains cannot be deleted.",
    "삭제할 도메인을 고르거나 모두 선택하세요. 로컬 관리자 관리 도메인만 보입니다. 시스템 관리 "
    "도메인은 삭제할 수 없습니다."};
static const struct text T_DOMAINS = {"Domains", "도메인"};
static const struct text T_SELECT_ALL = {"Select all", "모두 선택"};
static const struct text T_CONFIRM = {"Delete them", "삭제"};
static const struct text T_CONFIRM_HOW = {
    "Check the box and complete to delete; cancel to keep everything.",
    "삭제하려면 확인란을 선택하고 완료하세요. 모두 유지하려면 취소하세요."};
static const struct text T_NONE_PICKED = {"choose at least one domain, or select all",
                                          "도메인을 하나 이상 고르거나 모두 선택하세요"};
static const struct text T_NOT_CONFIRMED = {
    "Nothing was deleted: the deletion was not confirmed.",
    "삭제를 확인하지 않았으므로 아무것도 삭제하지 않았습니다."};
static const struct text T_NONE_EDITABLE = {
    "There is no local admin-managed domain to delete: system-managed domains and domains of "
    "peer clusters cannot be deleted.",
    "삭제할 수 있는 로컬 관리자 관리 도메인이 없습니다. 시스템 관리 도메인과 피어 클러스터의 "
    "도메인은 삭제할 수 없습니다."};
static const struct text T_DOMAIN = {"Domain", "도메인"};
static const struct text T_OUTCOME = {"Outcome", "결과"};

/* The confirmed plan, kept in the session between the stages. */
struct plan {
    char **names; /* to delete locally, in name order */
    bool *stays;  /* per name: still configured on a peer, so it stays listed as peer-only */
    size_t n;
};

static void plan_free(void *arg)
{
    struct plan *p = arg;

    for (size_t i = 0; p && i < p->n; i++)
        free(p->names[i]);
    if (p) {
        free(p->names);
        free(p->stays);
    }
    free(p);
}

/* Whether a peer cluster also configures the domain (as the peers last said, stale ones
 * included: a peer that does not answer has not deleted it; expired ones, past [peers]
 * forget_after, no longer count). A store failure counts as "yes":
 * the domain then stays listed rather than vanishing by mistake. */
static bool on_peer(struct app *app, const char *name)
{
    bool yes = true;

    if (store_peer_configures(app->store, name, peers_counted_now(app), &yes) != STORE_OK)
        log_warnx("domains: cannot read peer data: %s", store_errmsg(app->store));
    return yes;
}

static void plan_add(struct app *app, struct plan *p, const struct store_domain *d)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->names[i], d->name) == 0)
            return; /* chosen twice */
    p->names = xrealloc(p->names, (p->n + 1) * sizeof(*p->names));
    p->stays = xrealloc(p->stays, (p->n + 1) * sizeof(*p->stays));
    p->names[p->n] = xstrdup(d->name);
    p->stays[p->n] = on_peer(app, d->name);
    p->n++;
}

/* Writes the names whose `stays` flag equals `stays`, at most DOMAINS_MAX_OPTIONS of them
 * (then how many more), or `none`. */
static void write_names(FILE *f, const struct plan *p, bool stays, bool ko)
{
    size_t shown = 0, total = 0;

    for (size_t i = 0; i < p->n; i++) {
        if (p->stays[i] != stays)
            continue;
        if (total++ < DOMAINS_MAX_OPTIONS)
            fprintf(f, "%s%s", shown++ ? ", " : "", p->names[i]);
    }
    if (total == 0)
        fputs(ko ? "없음" : "none", f);
    else if (total > shown)
        fprintf(f, ko ? " 외 %zu개" : " and %zu more", total - shown);
}

/* "These 2 domains will be deleted: a, b. Staying listed as configured on a peer cluster only:
 * none." in `lang`, or "Deleted 2 domains: ..." once `done`. Caller frees. */
static char *plan_text(const struct plan *p, const char *lang, bool done)
{
    bool ko = i18n_is_korean(lang);
    struct domains_text t;
    FILE *f = domains_text_open(&t);

    if (done)
        fprintf(f, ko ? "도메인 %zu개를 삭제했습니다: " : "Deleted %zu domain%s: ", p->n,
                i18n_s(p->n));
    else if (ko)
        fprintf(f, "삭제할 도메인 %zu개: ", p->n);
    else
        fprintf(f,
                p->n == 1 ? "This domain will be deleted: " : "These %zu domains will be deleted: ",
                p->n);
    write_names(f, p, false, ko);
    fputs(ko ? ". 피어 클러스터에만 구성된 도메인으로 남는 것: "
             : ". Staying listed as configured on a peer cluster only: ",
          f);
    write_names(f, p, true, ko);
    fputc('.', f);
    return domains_text_close(&t);
}

/* ---- stage 0: choose ---- */

static void pick(adhoc_call_t *call)
{
    static const struct domains_choice choice = {&T_TITLE,         &T_PICK,    "domains",
                                                 FIELD_LIST_MULTI, &T_DOMAINS, &T_NONE_EDITABLE};
    form_t *f = domains_choice_form(call, &choice);

    if (f == NULL)
        return;
    form_field_add_bool(form_add_field(f, "select_all", FIELD_BOOLEAN, &T_SELECT_ALL), false);
    adhoc_show(call, f, ADHOC_ALLOW_NEXT, ADHOC_NEXT);
}

/* ---- stage 1: build the plan and ask for confirmation ---- */

/* Adds every editable domain. */
static bool plan_all(adhoc_call_t *call, struct plan *p)
{
    struct app *app = call->ctx;
    struct store_domain *list = NULL;
    size_t n = 0;

    if (domains_list_editable(app, &list, &n) != STORE_OK) {
        domains_store_error(call, app);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        plan_add(app, p, &list[i]);
    store_domain_list_free(list, n);
    return true;
}

/* Adds the chosen domains; answers and returns false when one may not be deleted. */
static bool plan_chosen(adhoc_call_t *call, struct plan *p)
{
    struct app *app = call->ctx;
    const char *const *vals = NULL;
    size_t n = form_values(call->form, "domains", &vals);

    for (size_t i = 0; i < n; i++) {
        struct store_domain d;
        enum store_rc rc;
        char *why = domains_why_not_editable(app, vals[i], call->lang, &d, &rc);

        if (why == NULL && rc == STORE_OK)
            plan_add(app, p, &d);
        store_domain_clear(&d);
        if (why || rc != STORE_OK) {
            if (why)
                adhoc_fail(call, &(struct text){why, why});
            else
                domains_store_error(call, app);
            free(why);
            return false;
        }
    }
    return true;
}

static void confirm_form(adhoc_call_t *call, const struct plan *p)
{
    form_t *f = form_new(FORM_FORM);
    char *line = plan_text(p, call->lang, false);

    form_set_title(f, &T_TITLE);
    form_add_instructions(f, &T_CONFIRM_HOW);
    form_add_fixed(f, &(struct text){line, line});
    free(line);
    form_field_add_bool(form_add_field(f, "confirm", FIELD_BOOLEAN, &T_CONFIRM), false);
    adhoc_show(call, f, ADHOC_ALLOW_PREV | ADHOC_ALLOW_COMPLETE, ADHOC_COMPLETE);
}

static void choose(adhoc_call_t *call)
{
    struct plan *p = xcalloc(1, sizeof(*p));
    bool ok = form_bool(call->form, "select_all", false) ? plan_all(call, p) : plan_chosen(call, p);

    if (ok && p->n == 0) {
        adhoc_refuse(call, "bad-request", "bad-payload", text_get(&T_NONE_PICKED, call->lang));
        ok = false;
    }
    if (!ok) {
        plan_free(p);
        return;
    }
    /* After `prev`, this stage comes again: the new plan replaces the old one. */
    if (call->state_free)
        call->state_free(call->state);
    call->state = p;
    call->state_free = plan_free;
    confirm_form(call, p);
}

/* ---- stage 2: delete ---- */


static enum domains_work delete_work(struct app *app, void *arg, const char *lang, char **why)
{
    const struct plan *p = arg;
    enum domains_work w = DOMAINS_WORK_DONE;

    for (size_t i = 0; i < p->n && w == DOMAINS_WORK_DONE; i++)
        w = domains_delete_one(app, p->names[i], p->stays[i], lang, why);
    return w;
}

static form_t *result_table(const struct plan *p)
{
    form_t *t = form_new(FORM_RESULT);

    form_set_title(t, &T_TITLE);
    form_add_column(t, "domain", FIELD_TEXT_SINGLE, &T_DOMAIN);
    form_add_column(t, "outcome", FIELD_TEXT_SINGLE, &T_OUTCOME);
    for (size_t i = 0; i < p->n; i++)
        form_add_row(t, (const char *const[]){p->names[i], p->stays[i] ? "peer-only" : "deleted"});
    form_column_value_label(t, "outcome", "deleted", &(struct text){"deleted", "삭제됨"});
    form_column_value_label(t, "outcome", "peer-only",
                            &(struct text){"stays peer-only", "피어 전용으로 남음"});
    return t;
}

static void commit(adhoc_call_t *call)
{
    struct plan *p = call->state;
    char *summary;

    if (!form_bool(call->form, "confirm", false)) {
        adhoc_note(call, ADHOC_NOTE_INFO, &T_NOT_CONFIRMED);
        adhoc_complete(call, NULL);
        return;
    }
    if (!domains_transact(call, delete_work, p))
        return;
    summary = plan_text(p, call->lang, true);
    domains_apply_and_answer(call, summary, result_table(p));
    free(summary);
}

static void delete_step(adhoc_call_t *call)
{
    switch (call->stage) {
    case 0:
        pick(call);
        break;
    case 1:
        choose(call);
        break;
    default:
        commit(call);
        break;
    }
}

const struct adhoc_command cmd_domains_delete_def = {
    "domains/delete",
    {"Delete IM address domains", "IM 주소 도메인 삭제"},
    false,
    delete_step,
    NULL};
