/* The guide's preconditions for a domain change, read live from the store: HA off (and settled)
 * on every redundancy group, the required services stopped on every node, no long job in flight.
 * Each refusal names what is in the way and the command that clears it, in English or Korean. */
#include "component/engine/precond.h"

#include "component/engine/ha.h"
#include "component/engine/services.h"
#include "store/store_job.h"
#include "store/store_topo.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The refusal being written: one sentence per kind of obstacle. */
struct refusal {
    FILE *f;
    char *text;
    size_t len;
    bool ko;
    bool any;
};

static void refusal_open(struct refusal *r, const char *lang)
{
    memset(r, 0, sizeof(*r));
    r->ko = i18n_is_korean(lang);
    r->f = open_memstream(&r->text, &r->len);
    if (r->f == NULL)
        fatal("precond: open_memstream");
}

/* Starts a sentence: the lead-in before the first one, a space between them. */
static void refusal_sentence(struct refusal *r)
{
    if (!r->any)
        fputs(r->ko ? "지금은 도메인을 바꿀 수 없습니다. " : "The domain set cannot change now. ",
              r->f);
    else
        fputc(' ', r->f);
    r->any = true;
}

/* NULL when nothing was refused, else the text (caller frees). */
static char *refusal_close(struct refusal *r)
{
    if (fclose(r->f) != 0)
        fatal("precond: writing the refusal");
    if (!r->any) {
        free(r->text);
        return NULL;
    }
    return r->text;
}

static void store_trouble(struct refusal *r, struct app *app, const char *what)
{
    log_warnx("precond: cannot read %s: %s", what, store_errmsg(app->store));
    refusal_sentence(r);
    fprintf(r->f,
            r->ko ? "%s을(를) 읽을 수 없어 선행 조건을 확인하지 못했습니다: %s."
                  : "The preconditions could not be checked (reading %s failed: %s).",
            what, store_errmsg(app->store));
}

/* Writes the names of the groups whose `pick` flag is set, comma-separated. */
static void list_names(FILE *f, const struct store_group *g, size_t n, const bool *pick)
{
    const char *sep = "";

    for (size_t i = 0; i < n; i++) {
        if (!pick[i])
            continue;
        fprintf(f, "%s%s", sep, g[i].name);
        sep = ", ";
    }
}

static void check_groups(struct refusal *r, struct app *app)
{
    struct store_group *g = NULL;
    size_t n = 0, on = 0, settling = 0;
    int64_t wait_ms = 0;
    bool *ha_on, *settles;

    if (store_group_list(app->store, &g, &n) != STORE_OK) {
        store_trouble(r, app, r->ko ? "이중화 그룹" : "the redundancy groups");
        return;
    }
    ha_on = xcalloc(n + 1, sizeof(*ha_on));
    settles = xcalloc(n + 1, sizeof(*settles));
    for (size_t i = 0; i < n; i++) {
        int64_t left = g[i].ha_enabled ? 0 : ha_settle_remaining_ms(app, g[i].name);
        ha_on[i] = g[i].ha_enabled;
        settles[i] = left > 0;
        on += ha_on[i];
        settling += settles[i];
        wait_ms = left > wait_ms ? left : wait_ms;
    }
    if (on) {
        refusal_sentence(r);
        fputs(r->ko ? "프레즌스 이중화 그룹 " : "HA is enabled on presence redundancy group ",
              r->f);
        list_names(r->f, g, n, ha_on);
        fputs(r->ko ? "에서 HA가 켜져 있습니다. 먼저 ha/disable로 HA를 끄세요."
                    : ": disable it first with ha/disable.",
              r->f);
    }
    if (settling) {
        refusal_sentence(r);
        fputs(r->ko ? "그룹 " : "HA was disabled on group ", r->f);
        list_names(r->f, g, n, settles);
        fprintf(r->f,
                r->ko ? "의 HA를 끈 지 얼마 되지 않았습니다. 설정이 동기화되도록 %s 더 "
                        "기다리세요([ha] settle_time %d초, 가이드는 최소 2분)."
                      : " too recently: wait %s more for the setting to sync ([ha] settle_time "
                        "is %d s; the guide asks for at least 2 minutes).",
                ha_wait_text(wait_ms, r->ko ? "ko" : "en"),
                app->cfg ? app->cfg->settle_time : HA_SETTLE_DEFAULT_S);
    }
    free(ha_on);
    free(settles);
    store_group_list_free(g, n);
}

static void check_services(struct refusal *r, struct app *app)
{
    struct store_service *s = NULL;
    size_t n = 0;
    const char *sep = "";

    if (store_service_list(app->store, NULL, &s, &n) != STORE_OK) {
        store_trouble(r, app, r->ko ? "서비스 상태" : "the service states");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!services_known(s[i].service) || !services_state_is_up(s[i].state))
            continue;
        if (*sep == '\0') {
            refusal_sentence(r);
            fputs(r->ko ? "아직 실행 중인 서비스: " : "Services still running: ", r->f);
        }
        fprintf(r->f, "%s%s %s (%s)", sep, s[i].node, s[i].service, s[i].state);
        sep = ", ";
    }
    if (*sep != '\0')
        fputs(r->ko ? ". services 명령으로 중지(또는 비활성화)하세요."
                    : ": stop (or deactivate) them with the services command.",
              r->f);
    store_service_list_free(s, n);
}

static void check_job(struct refusal *r, struct app *app)
{
    struct store_job job = {0};
    enum store_rc rc = store_job_get_active(app->store, &job);

    if (rc == STORE_NOTFOUND)
        return;
    if (rc != STORE_OK) {
        store_trouble(r, app, r->ko ? "작업 목록" : "the jobs");
        return;
    }
    refusal_sentence(r);
    fprintf(r->f,
            r->ko ? "작업 %lld(%s, 상태 %s)이(가) 끝나지 않았습니다. jobs/status로 확인하고 끝날 "
                    "때까지 기다리세요(실패했다면 그곳에서 재시도하거나 취소하세요)."
                  : "Job %lld (%s) has not ended (state %s): follow it with jobs/status and "
                    "wait for it to end (retry or cancel it there if it failed).",
            (long long)job.id, store_job_kind_name(job.kind), store_job_state_name(job.state));
    store_job_clear(&job);
}

char *precond_domain_change(struct app *app, const char *lang)
{
    struct refusal r;

    refusal_open(&r, lang);
    check_groups(&r, app);
    check_services(&r, app);
    check_job(&r, app);
    return refusal_close(&r);
}
