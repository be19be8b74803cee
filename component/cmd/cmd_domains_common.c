/* Shared by the domains commands: editability, name checks, the transaction behind the
 * preconditions, the router apply with a deferred answer, and the certificate's domain set. */
#include "component/cmd/cmd_domains_common.h"

#include "component/engine/app_apply.h"
#include "component/engine/domain_rules.h"
#include "component/engine/hosted.h"
#include "component/engine/peers_window.h"
#include "component/engine/precond.h"
#include "store/store_peer.h"
#include "store/store_settings.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/adhoc_later.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- answers ---- */

static char *vformat(const char *fmt, va_list ap)
{
    char *s = NULL;

    if (vasprintf(&s, fmt, ap) < 0)
        fatal("vasprintf");
    return s;
}

void domains_fail(adhoc_call_t *call, const char *en, const char *ko, ...)
{
    va_list ap;
    char *s;

    va_start(ap, ko);
    s = vformat(i18n_is_korean(call->lang) ? ko : en, ap);
    va_end(ap);
    adhoc_fail(call, &(struct text){s, s});
    free(s);
}

void domains_store_error(adhoc_call_t *call, struct app *app)
{
    char *s = xasprintf(i18n_is_korean(call->lang) ? "저장소 오류로 아무것도 바꾸지 않았습니다: %s"
                                                   : "nothing was changed: the store failed: %s",
                        store_errmsg(app->store));

    log_warnx("domains: node=%s store error: %s", call->node, store_errmsg(app->store));
    adhoc_refuse(call, "internal-server-error", NULL, s);
    free(s);
}

FILE *domains_text_open(struct domains_text *t)
{
    t->text = NULL;
    t->len = 0;
    t->f = open_memstream(&t->text, &t->len);
    if (t->f == NULL)
        fatal("domains: open_memstream");
    return t->f;
}

char *domains_text_close(struct domains_text *t)
{
    if (fclose(t->f) != 0)
        fatal("domains: writing a text");
    return t->text;
}

/* ---- editability ---- */


enum store_rc domains_list_editable(struct app *app, struct store_domain **out, size_t *n)
{
    struct store_domain *all = NULL;
    size_t total = 0, k = 0;
    enum store_rc rc = store_domain_list(app->store, NULL, NULL, 0, &all, &total);

    *out = NULL;
    *n = 0;
    if (rc != STORE_OK)
        return rc;
    char *dflt = hosted_default(app, &rc);

    if (rc != STORE_OK) {
        store_domain_list_free(all, total);
        return rc;
    }
    for (size_t i = 0; i < total; i++) {
        if (domains_is_editable(&all[i]) && (dflt == NULL || strcmp(all[i].name, dflt) != 0))
            all[k++] = all[i];
        else
            store_domain_clear(&all[i]);
    }
    free(dflt);
    if (k == 0) {
        free(all);
        all = NULL;
    }
    *out = all;
    *n = k;
    return STORE_OK;
}

void domains_add_choices(form_t *form, form_field_t *field, const struct store_domain *list,
                         size_t n)
{
    size_t shown = n < DOMAINS_MAX_OPTIONS ? n : DOMAINS_MAX_OPTIONS;
    char *en, *ko;

    for (size_t i = 0; i < shown; i++)
        form_field_add_option(field, list[i].name, NULL);
    if (shown == n)
        return;
    form_field_set_open(field, true);
    en = xasprintf("The list shows the first %zu of %zu editable domains; type any other "
                   "editable domain name.",
                   shown, n);
    ko = xasprintf("편집할 수 있는 도메인 %zu개 중 처음 %zu개만 보입니다. 다른 도메인은 이름을 "
                   "직접 입력하세요.",
                   n, shown);
    form_add_fixed(form, &(struct text){en, ko});
    free(en);
    free(ko);
}

form_t *domains_choice_form(adhoc_call_t *call, const struct domains_choice *choice)
{
    struct app *app = call->ctx;
    struct store_domain *list = NULL;
    size_t n = 0;
    form_t *f;
    form_field_t *fld;

    if (!domains_precheck(call))
        return NULL;
    if (domains_list_editable(app, &list, &n) != STORE_OK) {
        domains_store_error(call, app);
        return NULL;
    }
    if (n == 0) {
        adhoc_note(call, ADHOC_NOTE_INFO, choice->none);
        adhoc_complete(call, NULL);
        return NULL;
    }
    f = form_new(FORM_FORM);
    form_set_title(f, choice->title);
    form_add_instructions(f, choice->how);
    fld = form_add_field(f, choice->var, choice->type, choice->label);
    domains_add_choices(f, fld, list, n);
    /* Open: a name typed or sent by a script that is not offered (system-managed, the default,
     * a peer's) gets the reason it may not be changed, not "not one of the choices". */
    form_field_set_open(fld, true);
    store_domain_list_free(list, n);
    return f;
}



/* ---- names ---- */

bool domains_check_name(adhoc_call_t *call, const char *raw, char *normalized)
{
    enum domain_rule rule = domain_rules_check(raw, normalized);
    const char *tag = i18n_tag(call->lang);
    char *s;

    if (rule == DOMAIN_OK)
        return true;
    s = xasprintf(i18n_is_korean(call->lang) ? "'%.300s'은(는) 도메인 이름으로 쓸 수 없습니다: %s"
                                             : "'%.300s' is not a valid domain name: %s",
                  raw ? raw : "", domain_rules_explain(rule, tag));
    adhoc_refuse(call, "bad-request", "bad-payload", s);
    free(s);
    return false;
}


/* ---- changing ---- */

bool domains_precheck(adhoc_call_t *call)
{
    char *why = precond_domain_change(call->ctx, call->lang);

    if (why == NULL)
        return true;
    adhoc_fail(call, &(struct text){why, why});
    free(why);
    return false;
}

bool domains_transact(adhoc_call_t *call, domains_work_fn work, void *arg)
{
    struct app *app = call->ctx;
    char *why = NULL;
    enum domains_work w;

    if (store_begin(app->store) != STORE_OK) {
        domains_store_error(call, app);
        return false;
    }
    why = precond_domain_change(app, call->lang);
    w = why ? DOMAINS_WORK_REFUSED : work(app, arg, call->lang, &why);
    if (w == DOMAINS_WORK_DONE && store_commit(app->store) == STORE_OK)
        return true;
    if (w == DOMAINS_WORK_DONE)
        w = DOMAINS_WORK_FAILED; /* the commit itself failed */
    if (w == DOMAINS_WORK_FAILED)
        domains_store_error(call, app); /* names the failure before the rollback clears it */
    if (store_rollback(app->store) != STORE_OK)
        log_warnx("domains: rollback failed: %s", store_errmsg(app->store));
    if (w == DOMAINS_WORK_REFUSED)
        adhoc_fail(call, &(struct text){why, why});
    free(why);
    return false;
}

/* ---- the certificate ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

enum store_rc cert_set_load(struct app *app, struct cert_set *cs)
{
    struct store_settings s = {0};
    enum store_rc rc = store_settings_get(app->store, &s);
    size_t cap = 1;

    memset(cs, 0, sizeof(*cs));
    if (rc != STORE_OK)
        return rc;
    cs->present = s.cert_domain_set != NULL;
    cs->buf = xstrdup(s.cert_domain_set ? s.cert_domain_set : "");
    store_settings_clear(&s);
    for (const char *p = cs->buf; *p; p++)
        cap += *p == ',';
    cs->names = xcalloc(cap, sizeof(*cs->names));
    for (char *tok = strtok(cs->buf, ","); tok; tok = strtok(NULL, ","))
        cs->names[cs->n++] = tok;
    /* Sorted by whoever wrote it, but a binary search must not depend on that. */
    qsort(cs->names, cs->n, sizeof(*cs->names), cmp_str);
    return STORE_OK;
}

bool cert_set_covers(const struct cert_set *cs, const char *name)
{
    return cs->n > 0 && bsearch(&name, cs->names, cs->n, sizeof(*cs->names), cmp_str) != NULL;
}

void cert_set_clear(struct cert_set *cs)
{
    free(cs->names);
    free(cs->buf);
    memset(cs, 0, sizeof(*cs));
}

const struct text domains_text_no_cert = {
    "No cup-xmpp-s2s certificate exists yet: make one with certs/regenerate.",
    "cup-xmpp-s2s 인증서가 아직 없습니다. certs/regenerate로 만드세요."};

enum cert_state { CERT_NONE, CERT_CURRENT, CERT_STALE, CERT_UNKNOWN };

/* Whether the certificate was made for exactly the local domains (plus the default domain,
 * which its SANs also carry). */
static enum cert_state cert_state_now(struct app *app)
{
    struct cert_set cs;
    struct store_settings s = {0};
    struct store_domain *list = NULL;
    size_t n = 0, local = 0, covered = 0, with_default;
    bool default_is_local = false;
    enum cert_state state = CERT_UNKNOWN;

    if (cert_set_load(app, &cs) != STORE_OK)
        return CERT_UNKNOWN;
    if (store_settings_get(app->store, &s) == STORE_OK &&
        store_domain_list(app->store, NULL, NULL, 0, &list, &n) == STORE_OK) {
        for (size_t i = 0; i < n; i++) {
            if (!list[i].configured_local)
                continue;
            local++;
            covered += cert_set_covers(&cs, list[i].name);
            default_is_local |= strcasecmp(list[i].name, s.default_domain) == 0;
        }
        with_default = covered + (!default_is_local && cert_set_covers(&cs, s.default_domain));
        state = !cs.present                                ? CERT_NONE
                : covered == local && with_default == cs.n ? CERT_CURRENT
                                                           : CERT_STALE;
    }
    store_domain_list_free(list, n);
    store_settings_clear(&s);
    cert_set_clear(&cs);
    return state;
}

/* ---- applying to the router ---- */

/* One committed change waiting for the router. */
struct pending {
    struct app *app;
    adhoc_later_t *later; /* NULL: the answer was given already */
    char *summary;
    form_t *result;
    enum cert_state cert;
    bool in_step;  /* app_apply_domains has not returned yet */
    bool finished; /* the outcome came while in_step */
    int ok;
    char *detail;
};

static void pending_free(struct pending *p)
{
    form_free(p->result);
    free(p->summary);
    free(p->detail);
    free(p);
}

static void write_cert(FILE *f, enum cert_state cert, bool ko)
{
    static const struct text texts[] = {
        [CERT_NONE] = {NULL, NULL}, /* domains_text_no_cert */
        [CERT_CURRENT] = {"The cup-xmpp-s2s certificate still covers the domain set.",
                          "cup-xmpp-s2s 인증서가 여전히 도메인 집합을 모두 포함합니다."},
        [CERT_STALE] = {"The cup-xmpp-s2s certificate is now stale (it was made for another "
                        "domain set): regenerate it with certs/regenerate.",
                        "cup-xmpp-s2s 인증서가 이제 오래되었습니다(다른 도메인 집합으로 "
                        "만들어졌습니다). certs/regenerate로 다시 만드세요."},
        [CERT_UNKNOWN] = {"Whether the cup-xmpp-s2s certificate covers the domain set could not "
                          "be read: see certs/show.",
                          "cup-xmpp-s2s 인증서가 도메인 집합을 포함하는지 읽지 못했습니다. "
                          "certs/show로 확인하세요."},
    };
    fputs(text_get(cert == CERT_NONE ? &domains_text_no_cert : &texts[cert], ko ? "ko" : "en"), f);
}

/* The one note of a finished change: what changed, the router's outcome, the certificate. */
static char *outcome_note(const struct pending *p, const char *lang, int router)
{
    bool ko = i18n_is_korean(lang);
    struct domains_text t;
    FILE *f = domains_text_open(&t);

    fprintf(f, "%s ", p->summary);
    if (router > 0)
        fprintf(f, ko ? "라우터를 갱신했습니다(%s). " : "The router was updated (%s). ", p->detail);
    else if (router == 0)
        fprintf(f,
                ko ? "라우터를 갱신하지 못했습니다: %s. 재시도가 성공할 때까지 이 변경은 적용되지 "
                     "않은 상태입니다(다음 도메인 변경 때 전체 집합을 다시 적용합니다). "
                   : "The router was NOT updated: %s. The change is not applied until a retry "
                     "succeeds (the next domain change applies the whole set again). ",
                p->detail);
    else
        fputs(ko ? "라우터 갱신이 진행 중입니다(결과는 감사 로그에 남습니다). "
                 : "The router update is running (its outcome goes to the audit log). ",
              f);
    write_cert(f, p->cert, ko);
    return domains_text_close(&t);
}

/* Completes `call` for `p`; router: 1 updated, 0 not, -1 still running. */
static void answer(adhoc_call_t *call, struct pending *p, int router)
{
    char *note = outcome_note(p, call->lang, router);

    adhoc_note_str(call, ADHOC_NOTE_INFO, note);
    free(note);
    adhoc_complete(call, p->result);
    p->result = NULL;
}

static void on_applied(void *arg, int ok, const char *detail)
{
    struct pending *p = arg;
    adhoc_call_t *c;

    free(p->detail);
    p->detail = xstrdup(detail ? detail : "");
    p->ok = ok;
    if (p->in_step) {
        p->finished = true; /* domains_apply_and_answer answers at once */
        return;
    }
    if (p->later) {
        c = adhoc_later_call(p->later);
        answer(c, p, ok != 0);
        adhoc_later_finish(p->later);
    }
    pending_free(p);
}

void domains_apply_and_answer(adhoc_call_t *call, const char *summary, form_t *result)
{
    struct app *app = call->ctx;
    struct pending *p = xcalloc(1, sizeof(*p));
    char *actor = app_actor(call->requester);

    p->app = app;
    p->summary = xstrdup(summary);
    p->result = result;
    p->cert = cert_state_now(app);
    p->in_step = true;
    app_apply_domains(app, actor, on_applied, p);
    p->in_step = false;
    free(actor);
    if (p->finished) {
        answer(call, p, p->ok != 0);
        pending_free(p);
        return;
    }
    p->later = adhoc_defer(call);
    if (p->later == NULL)
        answer(call, p, -1); /* on_applied frees p when the hook ends */
}
