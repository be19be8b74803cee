/* The guide's preconditions for a domain change, read live from the store: HA off (and settled)
 * on every redundancy group, the required services stopped on every node, no long job in flight.
 * Each refusal names what is in the way and the command that clears it, in English or Korean. */
#include "component/precond.h"

#include "store/store_job.h"
#include "store/store_topo.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* The guide: after disabling HA, wait at least 2 minutes for the setting to sync. */
#define PRECOND_HA_SETTLE_S 120

/* Step 2 of the guide stops these three network services and deactivates the two feature
 * services on every node. */
static const char *const required_services[] = {
    "client-profile-agent", "sync-agent", "xcp-router", "sip-proxy", "presence-engine",
};

/* States in which a service is out of the way; any other state (running, activated, starting,
 * an unknown word) counts as running, so a state we cannot read never lets a change through. */
static const char *const stopped_states[] = {"stopped", "deactivated", "inactive"};

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
    fprintf(r->f, r->ko ? "%s을(를) 읽을 수 없어 선행 조건을 확인하지 못했습니다: %s."
                        : "The preconditions could not be checked (reading %s failed: %s).",
            what, store_errmsg(app->store));
}

/* Writes the names of the groups `pick` selects (as of `now`), comma-separated. */
static void list_names(FILE *f, const struct store_group *g, size_t n,
                       bool (*pick)(const struct store_group *, int64_t), int64_t now)
{
    const char *sep = "";

    for (size_t i = 0; i < n; i++) {
        if (!pick(&g[i], now))
            continue;
        fprintf(f, "%s%s", sep, g[i].name);
        sep = ", ";
    }
}

static bool ha_on(const struct store_group *g, int64_t now)
{
    (void)now;
    return g->ha_enabled;
}

static int64_t settle_left(const struct store_group *g, int64_t now)
{
    if (g->ha_enabled || g->ha_changed_at <= 0 || now - g->ha_changed_at >= PRECOND_HA_SETTLE_S)
        return 0;
    return PRECOND_HA_SETTLE_S - (now - g->ha_changed_at);
}

static bool still_settling(const struct store_group *g, int64_t now)
{
    return settle_left(g, now) > 0;
}

static void check_groups(struct refusal *r, struct app *app)
{
    struct store_group *g = NULL;
    size_t n = 0, on = 0, settling = 0;
    int64_t wait = 0, now = (int64_t)time(NULL);

    if (store_group_list(app->store, &g, &n) != STORE_OK) {
        store_trouble(r, app, r->ko ? "이중화 그룹" : "the redundancy groups");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t left = settle_left(&g[i], now);
        on += g[i].ha_enabled;
        settling += left > 0;
        wait = left > wait ? left : wait;
    }
    if (on) {
        refusal_sentence(r);
        fputs(r->ko ? "프레즌스 이중화 그룹 " : "HA is enabled on presence redundancy group ",
              r->f);
        list_names(r->f, g, n, ha_on, now);
        fputs(r->ko ? "에서 HA가 켜져 있습니다. 먼저 ha/disable로 HA를 끄세요."
                    : ": disable it first with ha/disable.",
              r->f);
    }
    if (settling) {
        refusal_sentence(r);
        fputs(r->ko ? "그룹 " : "HA was disabled on group ", r->f);
        list_names(r->f, g, n, still_settling, now);
        fprintf(r->f,
                r->ko ? "의 HA를 끈 지 2분이 지나지 않았습니다. 설정이 동기화되도록 %lld초 더 "
                        "기다리세요."
                      : " less than 2 minutes ago: wait %lld s more for the setting to sync.",
                (long long)wait);
    }
    store_group_list_free(g, n);
}

static bool is_required(const char *service)
{
    for (size_t i = 0; i < sizeof(required_services) / sizeof(required_services[0]); i++)
        if (strcasecmp(service, required_services[i]) == 0)
            return true;
    return false;
}

static bool is_stopped(const char *state)
{
    for (size_t i = 0; i < sizeof(stopped_states) / sizeof(stopped_states[0]); i++)
        if (strcasecmp(state, stopped_states[i]) == 0)
            return true;
    return false;
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
        if (!is_required(s[i].service) || is_stopped(s[i].state))
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
