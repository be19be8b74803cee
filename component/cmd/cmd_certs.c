/* certs/show, certs/regenerate, certs/csr and certs/import: the guide's cup-xmpp-s2s. Keys are
 * made on libuv's thread pool so the daemon keeps answering while RSA-4096 is generated; the
 * command answers late (adhoc_defer). After a new certificate the files go where the router
 * reads them, settings.cert_domain_set records the domain set, and the reload hook runs. */
#include "component/engine/app_apply.h"
#include "component/engine/cert.h"
#include "component/engine/cert_expiry.h"
#include "component/engine/cert_files.h"
#include "component/cmd/cmd_certs.h"
#include "component/cmd/cmd_domains_common.h"
#include "component/cmd/commands.h"
#include "store/store_domain.h"
#include "store/store_settings.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/adhoc_later.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define NOT_SET_DOMAIN "DOMAIN.NOT.SET"

/* ---- texts ---- */

/* The names as macros too: a static initializer may not read another object in standard C
 * (gcc allows it; clang, which builds the fuzz targets, does not). */
#define TEXT_SHOW "Show the cup-xmpp-s2s certificate", "cup-xmpp-s2s 인증서 보기"
#define TEXT_REGEN "Regenerate the cup-xmpp-s2s certificate", "cup-xmpp-s2s 인증서 다시 생성"
#define TEXT_CSR "Make a CSR for cup-xmpp-s2s", "cup-xmpp-s2s CSR 만들기"
#define TEXT_IMPORT                                                                                \
    "Import a CA-signed cup-xmpp-s2s certificate", "CA 서명 cup-xmpp-s2s 인증서 가져오기"
static const struct text T_SHOW = {TEXT_SHOW};
static const struct text T_REGEN = {TEXT_REGEN};
static const struct text T_CSR = {TEXT_CSR};
static const struct text T_IMPORT = {TEXT_IMPORT};
static const struct text T_KEY_TYPE = {"Key type", "키 유형"};
static const struct text T_DAYS = {"Valid for (days)", "유효 기간(일)"};
static const struct text T_XMPP_ADDR = {"Add id-on-xmppAddr names (ejabberd 23.01 rejects them)",
                                        "id-on-xmppAddr 이름 추가(ejabberd 23.01은 거부함)"};
static const struct text T_CERTIFICATE = {"Certificate and chain (PEM, server first)",
                                          "인증서와 체인(PEM, 서버 인증서 먼저)"};
static const struct text T_ACCEPT_GAPS = {"Install even if some domains are not covered",
                                          "일부 도메인이 빠져도 설치"};
static const struct text T_CSR_FIELD = {"Certificate signing request (PEM)",
                                        "인증서 서명 요청(PEM)"};
static const struct text T_SUBJECT = {"Subject", "주체"};
static const struct text T_ISSUER = {"Issuer", "발급자"};
static const struct text T_SANS = {"Subject alternative names", "주체 대체 이름"};
static const struct text T_KEY = {"Key", "키"};
static const struct text T_NOT_BEFORE = {"Valid from (UTC)", "유효 시작(UTC)"};
static const struct text T_NOT_AFTER = {"Valid until (UTC)", "유효 종료(UTC)"};
static const struct text T_FP = {"SHA-256 fingerprint", "SHA-256 지문"};
static const struct text T_SERIAL = {"Serial number", "일련 번호"};
static const struct text T_STATUS = {"Status", "상태"};
static const struct text T_MISSING = {"Domains it misses", "빠진 도메인"};
static const struct text T_NO_DIR = {
    "No certificate directory is configured: set [certs] dir in imdomaind.conf (the directory "
    "the XMPP server reads its certificates from) and restart imdomaind.",
    "인증서 디렉터리가 설정되지 않았습니다. imdomaind.conf의 [certs] dir(XMPP 서버가 인증서를 "
    "읽는 디렉터리)을 설정하고 imdomaind를 다시 시작하세요."};
static const struct text T_NO_DOMAINS = {
    "There is no local IM address domain and no default domain yet: add one with domains/add "
    "first.",
    "로컬 IM 주소 도메인도 기본 도메인도 아직 없습니다. 먼저 domains/add로 추가하세요."};
static const struct text T_NO_CERT = {
    "No cup-xmpp-s2s certificate exists yet: make one with certs/regenerate.",
    "cup-xmpp-s2s 인증서가 아직 없습니다. certs/regenerate로 만드세요."};

/* A note made with printf in the request's language. */
static void note_fmt(adhoc_call_t *call, enum adhoc_note_type type, const char *en, const char *ko,
                     ...)
{
    va_list ap;
    char buf[2048];

    va_start(ap, ko);
    vsnprintf(buf, sizeof(buf), i18n_is_korean(call->lang) ? ko : en, ap);
    va_end(ap);
    adhoc_note_str(call, type, buf);
}

static void store_failed(adhoc_call_t *call, struct app *app)
{
    char *t = xasprintf("store: %s", store_errmsg(app->store));

    adhoc_refuse(call, "internal-server-error", NULL, t);
    free(t);
}

/* ---- the domain set a certificate is made for ---- */

/* Local domains plus the default domain (when set), sorted, without duplicates; plus our own
 * component JID when there is any domain at all: the router speaks s2s for it too (the ping of
 * federation/check comes from it), and a peer with s2s_secure_auth checks its name. */
struct domain_set {
    char **names;
    size_t n;
    char *common_name; /* the default domain, or the first name when it is not set */
    bool wildcards;    /* settings.wildcard_sans */
};

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void domain_set_add(struct domain_set *ds, const char *name)
{
    for (size_t i = 0; i < ds->n; i++)
        if (strcasecmp(ds->names[i], name) == 0)
            return;
    ds->names = xrealloc(ds->names, (ds->n + 1) * sizeof(*ds->names));
    ds->names[ds->n++] = xstrdup(name);
}

static void domain_set_clear(struct domain_set *ds)
{
    for (size_t i = 0; i < ds->n; i++)
        free(ds->names[i]);
    free(ds->names);
    free(ds->common_name);
    memset(ds, 0, sizeof(*ds));
}

static enum store_rc domain_set_load(struct app *app, struct domain_set *ds)
{
    struct store_settings s = {0};
    struct store_domain *list = NULL;
    size_t n = 0;
    enum store_rc rc;

    memset(ds, 0, sizeof(*ds));
    if ((rc = store_settings_get(app->store, &s)) != STORE_OK)
        return rc;
    if ((rc = store_domain_list(app->store, NULL, NULL, 0, &list, &n)) != STORE_OK) {
        store_settings_clear(&s);
        return rc;
    }
    for (size_t i = 0; i < n; i++)
        if (list[i].configured_local)
            domain_set_add(ds, list[i].name);
    if (strcmp(s.default_domain, NOT_SET_DOMAIN) != 0) {
        domain_set_add(ds, s.default_domain);
        ds->common_name = xstrdup(s.default_domain);
    }
    if (ds->n > 0 && app->cfg->jid && app->cfg->jid[0] != '\0')
        domain_set_add(ds, app->cfg->jid);
    if (ds->n > 1) /* names is NULL with no domain: qsort's pointer must not be */
        qsort(ds->names, ds->n, sizeof(*ds->names), cmp_names);
    if (ds->common_name == NULL && ds->n > 0)
        ds->common_name = xstrdup(ds->names[0]);
    ds->wildcards = s.wildcard_sans;
    store_domain_list_free(list, n);
    store_settings_clear(&s);
    return STORE_OK;
}

/* "a,b,c": what settings.cert_domain_set holds (caller frees). */
static char *join_names(const char *const *names, size_t n)
{
    size_t len = 1;
    char *out;

    for (size_t i = 0; i < n; i++)
        len += strlen(names[i]) + 1;
    out = xcalloc(1, len);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            strcat(out, ",");
        strcat(out, names[i]);
    }
    return out;
}

/* Records the domain set of the installed certificate (NULL: none) in one transaction. */
static enum store_rc save_cert_set(struct app *app, const char *joined)
{
    struct store_settings s = {0};
    enum store_rc rc = store_begin(app->store);

    if (rc == STORE_OK && (rc = store_settings_get(app->store, &s)) == STORE_OK) {
        free(s.cert_domain_set);
        s.cert_domain_set = joined ? xstrdup(joined) : NULL;
        rc = store_settings_set(app->store, &s);
    }
    if (rc == STORE_OK)
        rc = store_commit(app->store);
    else if (store_in_transaction(app->store))
        store_rollback(app->store);
    store_settings_clear(&s);
    return rc;
}

/* The names of the previous certificate, to remove their files (caller frees both). */
static char **previous_names(struct app *app, size_t *n, char **buf)
{
    struct store_settings s = {0};
    char **names = NULL;

    *n = 0;
    *buf = NULL;
    if (store_settings_get(app->store, &s) != STORE_OK || s.cert_domain_set == NULL) {
        store_settings_clear(&s);
        return NULL;
    }
    *buf = xstrdup(s.cert_domain_set);
    names = xcalloc(strlen(*buf) + 1, sizeof(*names));
    for (char *save = NULL, *t = strtok_r(*buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        names[(*n)++] = t;
    store_settings_clear(&s);
    return names;
}

/* Writes the files, then records `covered` as the certificate's set. 0, or -1 with *err. */
static int install(struct app *app, const struct domain_set *ds, const char *const *covered,
                   size_t n_covered, const char *cert_pem, const char *key_pem, char **err)
{
    size_t n_old;
    char *old_buf;
    char **old = previous_names(app, &n_old, &old_buf);
    char *joined;
    int rc = cert_files_install(app->cfg->cert_dir, (const char *const *)ds->names, ds->n,
                                (const char *const *)old, n_old, cert_pem, key_pem, err);

    free(old);
    free(old_buf);
    if (rc < 0)
        return -1;
    joined = join_names(covered, n_covered);
    if (save_cert_set(app, joined) != STORE_OK) {
        *err =
            xasprintf("the files are written but the store failed: %s", store_errmsg(app->store));
        rc = -1;
    }
    free(joined);
    return rc;
}

/* ---- the late answer: files, settings, reload hook ---- */

enum cert_op { OP_REGENERATE, OP_CSR, OP_IMPORT };

static const char *op_name(enum cert_op op)
{
    return op == OP_REGENERATE ? "regenerate" : op == OP_CSR ? "csr" : "import";
}

/* One certs/regenerate, certs/csr or certs/import waiting for its key or its reload. */
struct cert_job {
    struct app *app;
    adhoc_later_t *later; /* NULL: answered in the step (no deferral possible) */
    adhoc_call_t *call;   /* the step's call while it runs, then adhoc_later_call() */
    char *actor;
    enum cert_op op;
    enum cert_key_type key_type;
    int days;
    bool xmpp_addr;
    struct domain_set ds;
    uv_work_t work;
    /* made on the worker thread */
    char *key_pem;
    char *out_pem; /* the certificate (regenerate, import) or the CSR */
    char *err;
    char *summary; /* the note given with the answer */
    certs_then_fn then; /* NULL: the command completes; else the caller goes on */
    void *then_arg;
};

static void job_free(struct cert_job *job)
{
    domain_set_clear(&job->ds);
    free(job->actor);
    free(job->key_pem);
    free(job->out_pem);
    free(job->err);
    free(job->summary);
    free(job);
}

/* Ends the command with the notes given so far, or hands the call to whoever asked. */
static void job_complete(struct cert_job *job, adhoc_call_t *call, bool ok)
{
    if (job->then != NULL)
        job->then(call, ok, job->then_arg);
    else
        adhoc_complete(call, NULL);
}

static void job_answer(struct cert_job *job)
{
    if (job->later)
        adhoc_later_finish(job->later);
    job_free(job);
}

static void on_reloaded(void *arg, int ok, const char *detail)
{
    struct cert_job *job = arg;
    adhoc_call_t *call = job->call;

    adhoc_note_str(call, ADHOC_NOTE_INFO, job->summary);
    if (ok)
        note_fmt(call, ADHOC_NOTE_INFO, "The router was told: %s.", "라우터에 알렸습니다: %s.",
                 detail);
    else
        note_fmt(call, ADHOC_NOTE_WARN,
                 "The files are written but the router was not reloaded: %s. Fix the reload "
                 "hook and run certs/regenerate again, or reload the router by hand.",
                 "파일은 기록했지만 라우터를 다시 읽히지 못했습니다: %s. reload hook을 고친 뒤 "
                 "certs/regenerate를 다시 실행하거나 라우터를 직접 다시 읽히세요.",
                 detail);
    job_complete(job, call, true);
    job_answer(job);
}

/* The summary of a new certificate in the request's language (caller frees). */
static char *describe_new(const char *lang, const char *cert_pem, size_t n)
{
    struct cert_info info;
    char *err = NULL, *s, until[32];

    if (cert_inspect(cert_pem, &info, &err) < 0) {
        free(err);
        return xstrdup("?");
    }
    strftime(until, sizeof(until), "%Y-%m-%d %H:%M:%SZ", gmtime(&info.not_after));
    if (i18n_is_korean(lang))
        s = xasprintf("cup-xmpp-s2s 설치됨: %s, 도메인 %zu개, 만료 %s, SHA-256 %s.", info.key, n,
                      until, info.fingerprint);
    else
        s = xasprintf("cup-xmpp-s2s installed: %s, %zu domain%s, valid until %s, SHA-256 %s.",
                      info.key, n, i18n_s(n), until, info.fingerprint);
    cert_info_clear(&info);
    return s;
}

/* Appends to the summary the domains the certificate covers but whose name is too long for a
 * file of their own in [certs] dir (cert_files_name_fits): no <domain>.crt/.key for them. */
static void add_unlinked_note(struct cert_job *job, const char *lang)
{
    struct domains_text t;
    FILE *f = NULL;
    size_t k = 0;

    for (size_t i = 0; i < job->ds.n; i++) {
        if (cert_files_name_fits(job->app->cfg->cert_dir, job->ds.names[i]))
            continue;
        if (f == NULL)
            f = domains_text_open(&t);
        fprintf(f, "%s%s", k++ ? ", " : "", job->ds.names[i]);
    }
    if (f == NULL)
        return;
    {
        char *names = domains_text_close(&t), *s;
        s = xasprintf(
            i18n_is_korean(lang)
                ? "%s 인증서는 다음 도메인 %zu개도 포함하지만, 이름이 파일 이름으로 쓰기에 "
                  "너무 길어 <도메인>.crt/.key 링크는 만들지 않았습니다: %s. 라우터는 "
                  "다른 이름의 파일(예: cup-xmpp-s2s.crt)에서 이 인증서를 찾습니다."
                : "%s The certificate also covers these %zu domains, but their names are "
                  "too long for a file name, so they get no <domain>.crt/.key link: %s. "
                  "The router finds the certificate under the other names (e.g. "
                  "cup-xmpp-s2s.crt).",
            job->summary, k, names);
        free(names);
        free(job->summary);
        job->summary = s;
    }
}

/* After a certificate was made or accepted: files, settings, then the router. */
static void install_and_reload(struct cert_job *job, const char *const *covered, size_t n)
{
    adhoc_call_t *call = job->call;
    char *err = NULL;

    if (install(job->app, &job->ds, covered, n, job->out_pem, job->key_pem, &err) < 0) {
        log_warnx("certs: install failed: %s", err);
        note_fmt(call, ADHOC_NOTE_ERROR, "The certificate was not installed: %s.",
                 "인증서를 설치하지 못했습니다: %s.", err);
        job_complete(job, call, false);
        free(err);
        job_answer(job);
        return;
    }
    log_info("certs: installed op=%s domains=%zu dir=%s", op_name(job->op), n,
             job->app->cfg->cert_dir);
    job->summary = describe_new(call->lang, job->out_pem, n);
    add_unlinked_note(job, call->lang);
    if (job->later == NULL) { /* cannot wait for the hook: say so and let it run */
        adhoc_note_str(call, ADHOC_NOTE_INFO, job->summary);
        app_apply_domains(job->app, job->actor, NULL, NULL);
        job_complete(job, call, true);
        job_free(job);
        return;
    }
    app_apply_domains(job->app, job->actor, on_reloaded, job);
}

static form_t *csr_result(const char *csr_pem)
{
    form_t *f = form_new(FORM_RESULT);
    form_field_t *field = form_add_field(f, "csr", FIELD_TEXT_MULTI, &T_CSR_FIELD);
    char *copy = xstrdup(csr_pem);

    form_set_title(f, &T_CSR);
    for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        form_field_add_value(field, l);
    free(copy);
    return f;
}

static void finish_csr(struct cert_job *job)
{
    adhoc_call_t *call = job->call;
    char *err = NULL;

    if (cert_files_write_pending(job->app->cfg->cert_dir, job->key_pem, &err) < 0) {
        note_fmt(call, ADHOC_NOTE_ERROR, "The new key could not be kept: %s.",
                 "새 키를 저장하지 못했습니다: %s.", err);
        adhoc_complete(call, NULL);
        free(err);
        job_answer(job);
        return;
    }
    note_fmt(call, ADHOC_NOTE_INFO,
             "A new %s key is pending. Have a CA sign this request, then install the "
             "certificate with certs/import; the current certificate stays in use until then.",
             "새 %s 키가 대기 중입니다. CA에 이 요청의 서명을 받은 뒤 certs/import로 인증서를 "
             "설치하세요. 그때까지 현재 인증서를 계속 씁니다.",
             cert_key_type_name(job->key_type));
    adhoc_complete(call, csr_result(job->out_pem));
    job_answer(job);
}

/* ---- key generation on the thread pool ---- */

/* Worker thread: nothing here touches the loop, the store or the call. */
static void make_key_and_cert(uv_work_t *w)
{
    struct cert_job *job = w->data;
    struct cert_names names = {
        .common_name = job->ds.common_name,
        .domains = (const char *const *)job->ds.names,
        .n_domains = job->ds.n,
        .wildcards = job->ds.wildcards,
        .xmpp_addr = job->xmpp_addr,
    };

    if ((job->key_pem = cert_key_generate(job->key_type, &job->err)) != NULL)
        job->out_pem = job->op == OP_CSR
                           ? cert_make_csr(job->key_pem, &names, &job->err)
                           : cert_self_sign(job->key_pem, &names, 0, job->days, &job->err);
    cert_thread_done(); /* harmless on the loop (the synchronous fallback) */
}

/*
 * A key that arrives while the daemon stops is dropped: nothing is installed and the router is
 * not touched. Why this callback is safe at all then: libuv counts queued work as an active
 * request, so the daemon's first uv_run (component/daemon/daemon.c) returns only after this ran, and
 * teardown_app frees the registry and the store after that. The router link, the control socket
 * and the reload hook may be gone already. The late answer is still finished (the registry would
 * answer for it otherwise), though it may reach nobody.
 */
static bool dropped_for_stop(struct cert_job *job)
{
    if (!job->app->stopping)
        return false;
    log_info("certs: result dropped op=%s key_type=%s reason=stopping", op_name(job->op),
             cert_key_type_name(job->key_type));
    note_fmt(job->call, ADHOC_NOTE_ERROR,
             "imdomaind stopped before the new key could be installed: nothing changed. Run "
             "the command again once it runs.",
             "새 키를 설치하기 전에 imdomaind가 멈췄습니다. 바뀐 것은 없습니다. 다시 실행된 뒤 "
             "명령을 다시 실행하세요.");
    job_complete(job, job->call, false);
    job_answer(job);
    return true;
}

static void key_made(uv_work_t *w, int status)
{
    struct cert_job *job = w->data;

    job->call = job->later ? adhoc_later_call(job->later) : job->call;
    if (dropped_for_stop(job))
        return;
    if (status != 0 || job->out_pem == NULL) {
        note_fmt(job->call, ADHOC_NOTE_ERROR, "No key or certificate was made: %s.",
                 "키나 인증서를 만들지 못했습니다: %s.",
                 status != 0 ? uv_strerror(status) : job->err);
        job_complete(job, job->call, false);
        job_answer(job);
        return;
    }
    if (job->op == OP_CSR)
        finish_csr(job);
    else
        install_and_reload(job, (const char *const *)job->ds.names, job->ds.n);
}

/* Runs the job on the thread pool when the answer can wait, else right here. */
static void start_job(adhoc_call_t *call, struct cert_job *job)
{
    struct app *app = call->ctx;

    job->call = call;
    job->work.data = job;
    log_info("certs: generating op=%s key_type=%s domains=%zu", op_name(job->op),
             cert_key_type_name(job->key_type), job->ds.n);
    if ((job->later = adhoc_defer(call)) != NULL &&
        uv_queue_work(app->loop, &job->work, make_key_and_cert, key_made) == 0)
        return;
    /* No late answer possible, or no thread pool: make it here (the loop waits). */
    make_key_and_cert(&job->work);
    key_made(&job->work, 0);
}

/* ---- forms ---- */

static form_t *key_form(const struct text *title, struct app *app, bool with_days)
{
    form_t *f = form_new(FORM_FORM);
    form_field_t *kt = form_add_field(f, "key_type", FIELD_LIST_SINGLE, &T_KEY_TYPE);
    form_field_t *x;

    form_set_title(f, title);
    for (unsigned i = 0; i < CERT_KEY_TYPE_COUNT; i++)
        form_field_add_option(kt, cert_key_type_name((enum cert_key_type)i), NULL);
    form_field_add_value(kt, app->cfg->cert_key_type ? app->cfg->cert_key_type : "rsa-2048");
    form_field_set_required(kt, true);
    if (with_days) {
        x = form_add_field(f, "days", FIELD_TEXT_SINGLE, &T_DAYS);
        form_field_set_datatype(x, FORM_DT_INTEGER);
        form_field_set_range(x, true, 1, true, CERT_MAX_DAYS);
        form_field_add_int(x, app->cfg->cert_days > 0 ? app->cfg->cert_days : CERT_DEFAULT_DAYS);
    }
    x = form_add_field(f, "xmpp_addr", FIELD_BOOLEAN, &T_XMPP_ADDR);
    form_field_add_bool(x, false);
    return f;
}

/* The checks every changing certs command makes first; false when the call was answered. */
static bool ready_to_change(adhoc_call_t *call, struct domain_set *ds)
{
    struct app *app = call->ctx;

    if (app->cfg->cert_dir == NULL || app->cfg->cert_dir[0] == '\0') {
        adhoc_fail(call, &T_NO_DIR);
        return false;
    }
    if (domain_set_load(app, ds) != STORE_OK) {
        store_failed(call, app);
        return false;
    }
    if (ds->n == 0) {
        adhoc_fail(call, &T_NO_DOMAINS);
        domain_set_clear(ds);
        return false;
    }
    return true;
}

static void key_step(adhoc_call_t *call, enum cert_op op, const struct text *title)
{
    struct app *app = call->ctx;
    struct cert_job *job;
    struct domain_set ds;
    enum cert_key_type type;

    if (call->stage == 0) {
        adhoc_show(call, key_form(title, app, op == OP_REGENERATE), 0, ADHOC_COMPLETE);
        return;
    }
    if (cert_key_type_parse(form_value(call->form, "key_type"), &type) < 0) {
        adhoc_refuse(call, "bad-request", "bad-payload",
                     "key_type must be rsa-2048, rsa-3072, rsa-4096, ec-p256 or ec-p384");
        return;
    }
    if (!ready_to_change(call, &ds))
        return;
    job = xcalloc(1, sizeof(*job));
    job->app = app;
    job->actor = app_actor(call->requester);
    job->op = op;
    job->key_type = type;
    job->days = (int)form_int(call->form, "days", app->cfg->cert_days);
    job->xmpp_addr = form_bool(call->form, "xmpp_addr", false);
    job->ds = ds;
    start_job(call, job);
}

void certs_regenerate(adhoc_call_t *call, certs_then_fn then, void *arg)
{
    struct app *app = call->ctx;
    struct cert_job *job;
    struct domain_set ds;

    if (!ready_to_change(call, &ds))
        return;
    job = xcalloc(1, sizeof(*job));
    job->app = app;
    job->actor = app_actor(call->requester);
    job->op = OP_REGENERATE;
    if (cert_key_type_parse(app->cfg->cert_key_type, &job->key_type) < 0)
        job->key_type = CERT_KEY_RSA_2048;
    job->days = app->cfg->cert_days > 0 ? app->cfg->cert_days : CERT_DEFAULT_DAYS;
    job->ds = ds;
    job->then = then;
    job->then_arg = arg;
    start_job(call, job);
}

/* ---- certs/regenerate, certs/csr ---- */

static void regenerate_step(adhoc_call_t *call)
{
    key_step(call, OP_REGENERATE, &T_REGEN);
}

static void csr_step(adhoc_call_t *call)
{
    key_step(call, OP_CSR, &T_CSR);
}

/* ---- certs/show ---- */

static void add_text(form_t *f, const char *var, const struct text *label, const char *value)
{
    form_field_add_value(form_add_field(f, var, FIELD_TEXT_SINGLE, label), value);
}

static void add_time(form_t *f, const char *var, const struct text *label, time_t t)
{
    char buf[32];

    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    add_text(f, var, label, buf);
}

static void add_list(form_t *f, const char *var, const struct text *label, char **v, size_t n)
{
    form_field_t *field = form_add_field(f, var, FIELD_TEXT_MULTI, label);

    for (size_t i = 0; i < n; i++)
        form_field_add_value(field, v[i]);
}

/* Stale when the certificate misses a domain of the set or was made for another set. */
static form_t *show_result(const struct cert_info *info, const struct domain_set *ds,
                           const char *recorded, char **missing_out)
{
    form_t *f = form_new(FORM_RESULT);
    char *missing = cert_info_missing(info, (const char *const *)ds->names, ds->n);
    char *joined = join_names((const char *const *)ds->names, ds->n);
    bool stale = missing != NULL || recorded == NULL || strcmp(recorded, joined) != 0;
    form_field_t *m;

    form_set_title(f, &T_SHOW);
    add_text(f, "status", &T_STATUS, stale ? "stale" : "current");
    add_text(f, "subject", &T_SUBJECT, info->subject);
    add_text(f, "issuer", &T_ISSUER, info->issuer);
    add_list(f, "sans", &T_SANS, info->sans, info->n_sans);
    add_text(f, "key", &T_KEY, info->key);
    add_time(f, "not_before", &T_NOT_BEFORE, info->not_before);
    add_time(f, "not_after", &T_NOT_AFTER, info->not_after);
    add_text(f, "fingerprint", &T_FP, info->fingerprint);
    add_text(f, "serial", &T_SERIAL, info->serial);
    m = form_add_field(f, "missing", FIELD_TEXT_MULTI, &T_MISSING);
    for (char *save = NULL, *t = missing ? strtok_r(missing, ", ", &save) : NULL; t;
         t = strtok_r(NULL, ", ", &save))
        form_field_add_value(m, t);
    free(joined);
    *missing_out = missing;
    return f;
}

static void show_notes(adhoc_call_t *call, const struct cert_info *info, bool stale)
{
    time_t now = time(NULL);

    if (stale)
        note_fmt(call, ADHOC_NOTE_WARN,
                 "The certificate is stale: the domain set changed since it was made. "
                 "Regenerate it with certs/regenerate (or import a new CA-signed one).",
                 "인증서가 오래되었습니다. 만든 뒤 도메인 집합이 바뀌었습니다. "
                 "certs/regenerate로 다시 만드세요(또는 CA 서명 인증서를 가져오세요).");
    if (info->not_after < now)
        note_fmt(call, ADHOC_NOTE_WARN, "The certificate has expired.", "인증서가 만료되었습니다.");
}

/* The expiry alarm ([certs] warn_days, critical_days) as fields, and as a note when it is due:
 * poezio shows no notes beside a form, so the sentence is a field too. */
static void show_expiry(adhoc_call_t *call, form_t *result, const struct cert_info *info)
{
    struct app *app = call->ctx;
    struct cert_expiry e;
    char *sentence;

    cert_expiry_classify(info->not_after, time(NULL), app->cfg->cert_warn_days,
                         app->cfg->cert_critical_days, &e);
    add_text(result, "expiry_state", &(struct text){"Expiry alarm", "만료 경보"},
             cert_expiry_level_name(e.level));
    form_field_add_int(form_add_field(result, "days_left", FIELD_TEXT_SINGLE,
                                      &(struct text){"Days to expiry", "만료까지 일수"}),
                       e.days_left);
    if ((sentence = cert_expiry_sentence(&e, call->lang)) != NULL) {
        add_text(result, "expiry", &(struct text){"Expiry warning", "만료 경고"}, sentence);
        free(sentence);
    }
    cert_expiry_note(call, &e);
}

static void show_step(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    struct store_settings s = {0};
    struct domain_set ds;
    struct cert_info info;
    char *pem, *err = NULL, *missing = NULL;
    form_t *result;

    if (app->cfg->cert_dir == NULL || app->cfg->cert_dir[0] == '\0') {
        adhoc_fail(call, &T_NO_DIR);
        return;
    }
    pem = cert_files_read(app->cfg->cert_dir, CERT_FILE_CERT, &err);
    if (pem == NULL || cert_inspect(pem, &info, &err) < 0) {
        adhoc_fail(call, &T_NO_CERT);
        log_debug("certs/show: %s", err);
        free(err);
        free(pem);
        return;
    }
    if (store_settings_get(app->store, &s) != STORE_OK || domain_set_load(app, &ds) != STORE_OK) {
        store_failed(call, app);
    } else {
        result = show_result(&info, &ds, s.cert_domain_set, &missing);
        show_notes(call, &info, strcmp(form_value(result, "status"), "stale") == 0);
        show_expiry(call, result, &info);
        adhoc_complete(call, result);
        domain_set_clear(&ds);
    }
    free(missing);
    store_settings_clear(&s);
    cert_info_clear(&info);
    free(pem);
}

/* ---- certs/import ---- */

static form_t *import_form(void)
{
    form_t *f = form_new(FORM_FORM);

    form_set_title(f, &T_IMPORT);
    form_field_set_required(form_add_field(f, "certificate", FIELD_TEXT_MULTI, &T_CERTIFICATE),
                            true);
    form_field_add_bool(form_add_field(f, "accept_gaps", FIELD_BOOLEAN, &T_ACCEPT_GAPS), false);
    return f;
}

/* The key the certificate must match: the one a CSR was made for, else the current one. */
static char *import_key(struct app *app, char **err)
{
    char *key = cert_files_read(app->cfg->cert_dir, CERT_FILE_PENDING_KEY, err);

    if (key != NULL || errno != ENOENT)
        return key;
    free(*err);
    *err = NULL;
    return cert_files_read(app->cfg->cert_dir, CERT_FILE_KEY, err);
}

static char *joined_lines(const form_t *form, const char *var)
{
    const char *const *v = NULL;
    size_t n = form_values(form, var, &v), len = 1;
    char *out;

    for (size_t i = 0; i < n; i++)
        len += strlen(v[i]) + 1;
    out = xcalloc(1, len);
    for (size_t i = 0; i < n; i++) {
        strcat(out, v[i]);
        strcat(out, "\n");
    }
    return out;
}

/* The names of the set the certificate covers (borrowed from ds; caller frees the array). */
static const char **covered_names(const struct domain_set *ds, const char *cert_pem, size_t *n)
{
    const char **out = xcalloc(ds->n + 1, sizeof(*out));
    struct cert_info info;
    char *err = NULL;

    *n = 0;
    if (cert_inspect(cert_pem, &info, &err) < 0) {
        free(err);
        return out;
    }
    for (size_t i = 0; i < ds->n; i++)
        if (cert_info_covers(&info, ds->names[i]))
            out[(*n)++] = ds->names[i];
    cert_info_clear(&info);
    return out;
}

static void import_accepted(adhoc_call_t *call, struct domain_set *ds, char *key, char *clean,
                            const char *gaps)
{
    struct app *app = call->ctx;
    struct cert_job *job = xcalloc(1, sizeof(*job));
    size_t n;
    const char **covered = covered_names(ds, clean, &n);

    job->app = app;
    job->actor = app_actor(call->requester);
    job->op = OP_IMPORT;
    job->ds = *ds;
    job->key_pem = key;
    job->out_pem = clean;
    job->call = call;
    job->later = adhoc_defer(call);
    if (job->later)
        job->call = adhoc_later_call(job->later);
    if (gaps)
        note_fmt(job->call, ADHOC_NOTE_WARN, "Installed although %s.", "%s: 그래도 설치합니다.",
                 gaps);
    install_and_reload(job, covered, n);
    free(covered);
}

static void import_step(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    struct domain_set ds;
    char *key, *pem, *clean = NULL, *why = NULL, *err = NULL;
    enum cert_import_rc rc;

    if (call->stage == 0) {
        adhoc_show(call, import_form(), 0, ADHOC_COMPLETE);
        return;
    }
    if (!ready_to_change(call, &ds))
        return;
    if ((key = import_key(app, &err)) == NULL) {
        note_fmt(call, ADHOC_NOTE_ERROR,
                 "There is no key to match (%s): make a CSR with certs/csr first.",
                 "맞춰 볼 키가 없습니다(%s). 먼저 certs/csr로 CSR을 만드세요.", err);
        adhoc_complete(call, NULL);
        free(err);
        domain_set_clear(&ds);
        return;
    }
    pem = joined_lines(call->form, "certificate");
    rc = cert_check_import(key, pem, (const char *const *)ds.names, ds.n, time(NULL), &clean, &why);
    free(pem);
    if (rc == CERT_IMPORT_OK ||
        (rc == CERT_IMPORT_GAPS && form_bool(call->form, "accept_gaps", false))) {
        import_accepted(call, &ds, key, clean, rc == CERT_IMPORT_GAPS ? why : NULL);
        free(why);
        return;
    }
    note_fmt(call, ADHOC_NOTE_ERROR,
             rc == CERT_IMPORT_GAPS ? "Not installed: %s. Get a certificate that covers them, "
                                      "or submit again with accept_gaps."
                                    : "Not installed: %s.",
             rc == CERT_IMPORT_GAPS ? "설치하지 않았습니다: %s. 빠진 도메인을 포함하는 인증서를 "
                                      "받거나 accept_gaps를 켜고 다시 제출하세요."
                                    : "설치하지 않았습니다: %s.",
             why);
    adhoc_complete(call, NULL);
    free(clean);
    free(why);
    free(key);
    domain_set_clear(&ds);
}

/* ---- registration ---- */

static const struct adhoc_command show_def = {
    .node = "certs/show", .name = {TEXT_SHOW}, .step = show_step};
static const struct adhoc_command regenerate_def = {
    .node = "certs/regenerate", .name = {TEXT_REGEN}, .step = regenerate_step};
static const struct adhoc_command csr_def = {
    .node = "certs/csr", .name = {TEXT_CSR}, .step = csr_step};
static const struct adhoc_command import_def = {
    .node = "certs/import", .name = {TEXT_IMPORT}, .step = import_step};

int cmd_certs_register(struct app *app)
{
    const struct adhoc_command *defs[] = {&show_def, &regenerate_def, &csr_def, &import_def};

    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++)
        if (adhoc_register(app->adhoc, defs[i], app) < 0)
            return -1;
    return 0;
}
