/* ha/disable and ha/enable: the guide's steps 1 and 7 on the presence redundancy groups. */
#include "component/cmd/commands.h"

#include "component/engine/ha.h"
#include "store/store_topo.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static form_t *groups_form(struct app *app, const struct text *title)
{
    struct store_group *g = NULL;
    size_t n = 0;
    form_t *f = form_new(FORM_FORM);
    form_field_t *fld;

    form_set_title(f, title);
    form_add_instructions(f, &(struct text){"Choose the groups; none chosen means every group.",
                                            "그룹을 고르세요. 아무것도 고르지 않으면 모든 "
                                            "그룹입니다."});
    fld = form_add_field(f, "groups", FIELD_LIST_MULTI,
                         &(struct text){"Redundancy groups", "이중화 그룹"});
    if (store_group_list(app->store, &g, &n) == STORE_OK)
        for (size_t i = 0; i < n; i++)
            form_field_add_option(fld, g[i].name, NULL);
    store_group_list_free(g, n);
    return f;
}

/* The chosen groups, or every group when none was chosen (caller frees the array and the
 * list). */
static const char **chosen_groups(adhoc_call_t *call, struct app *app, struct store_group **all,
                                  size_t *nall, size_t *n)
{
    const char *const *v;
    size_t k = form_values(call->form, "groups", &v);
    const char **out;

    *all = NULL;
    *nall = 0;
    if (store_group_list(app->store, all, nall) != STORE_OK)
        return NULL;
    *n = k ? k : *nall;
    out = xcalloc(*n + 1, sizeof(*out));
    for (size_t i = 0; i < *n; i++)
        out[i] = k ? v[i] : (*all)[i].name;
    return out;
}

static void store_failed(adhoc_call_t *call, struct app *app)
{
    static const struct text t = {"The redundancy groups could not be read or written: see the "
                                  "daemon's log. Nothing was changed.",
                                  "이중화 그룹을 읽거나 쓸 수 없습니다. 데몬 로그를 보세요. "
                                  "아무것도 바뀌지 않았습니다."};

    log_warnx("%s: store: %s", call->node, store_errmsg(app->store));
    adhoc_fail(call, &t);
}

/* ---- ha/disable ---- */

static void disable_done(adhoc_call_t *call, struct app *app, size_t changed)
{
    struct store_recorded *r = NULL;
    size_t n = 0;
    form_t *f = form_new(FORM_RESULT);
    char *note;

    form_add_column(f, "node", FIELD_TEXT_SINGLE, &(struct text){"Node", "노드"});
    form_add_column(f, "recorded", FIELD_TEXT_SINGLE,
                    &(struct text){"Active users recorded", "기록된 활성 사용자"});
    if (store_recorded_list(app->store, NULL, &r, &n) == STORE_OK)
        for (size_t i = 0; i < n; i++) {
            char num[24];
            snprintf(num, sizeof(num), "%lld", (long long)r[i].active_users);
            const char *cells[] = {r[i].node, num};
            form_add_row(f, cells);
        }
    store_recorded_list_free(r, n);
    if (i18n_is_korean(call->lang))
        note = xasprintf("그룹 %zu개에서 HA를 껐습니다. 설정이 동기화되도록 %d초 기다린 뒤 "
                         "다음 단계로 가세요.",
                         changed, app->cfg ? app->cfg->settle_time : 120);
    else
        note = xasprintf("HA disabled on %zu group%s. Wait %d s for the setting to sync before "
                         "further changes.",
                         changed, i18n_s(changed), app->cfg ? app->cfg->settle_time : 120);
    adhoc_note_str(call, ADHOC_NOTE_INFO, note);
    free(note);
    if (app->cfg && app->cfg->settle_time < HA_SETTLE_DEFAULT_S) {
        note = xasprintf(i18n_is_korean(call->lang)
                             ? "[ha] settle_time이 %d초로 가이드의 2분보다 짧습니다."
                             : "[ha] settle_time is %d s, shorter than the guide's 2 minutes.",
                         app->cfg->settle_time);
        adhoc_note_str(call, ADHOC_NOTE_WARN, note);
        free(note);
    }
    adhoc_complete(call, f);
}

static void disable_step(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    struct store_group *all;
    size_t nall, n = 0, changed = 0;
    const char **groups;
    enum store_rc rc;

    if (call->stage == 0) {
        adhoc_show(call, groups_form(app, &(struct text){"Disable HA", "HA 끄기"}), 0,
                   ADHOC_COMPLETE);
        return;
    }
    if ((groups = chosen_groups(call, app, &all, &nall, &n)) == NULL) {
        store_failed(call, app);
        return;
    }
    rc = store_begin(app->store);
    if (rc == STORE_OK)
        rc = ha_disable(app, groups, n, (int64_t)time(NULL), &changed);
    if (rc == STORE_OK && (rc = store_commit(app->store)) == STORE_OK)
        disable_done(call, app, changed);
    else {
        store_rollback(app->store);
        store_failed(call, app);
    }
    free(groups);
    store_group_list_free(all, nall);
}

static const struct adhoc_command disable_def = {
    .node = "ha/disable",
    .name = {"Disable high availability", "고가용성 끄기"},
    .step = disable_step,
};

/* ---- ha/enable ---- */

/* Per node: sessions against the count recorded at disable and the users assigned to it. */
static form_t *report_table(void)
{
    form_t *f = form_new(FORM_RESULT);

    form_set_title(f, &(struct text){"Sessions per node (ActiveJsmSessions)",
                                     "노드별 세션(ActiveJsmSessions)"});
    form_add_column(f, "node", FIELD_TEXT_SINGLE, &(struct text){"Node", "노드"});
    form_add_column(f, "sessions", FIELD_TEXT_SINGLE, &(struct text){"Sessions", "세션"});
    form_add_column(f, "recorded", FIELD_TEXT_SINGLE,
                    &(struct text){"Recorded at HA disable", "HA를 끌 때 기록된 수"});
    form_add_column(f, "assigned", FIELD_TEXT_SINGLE,
                    &(struct text){"Users assigned", "할당된 사용자"});
    form_add_column(f, "verdict", FIELD_TEXT_SINGLE, &(struct text){"Verdict", "판정"});
    return f;
}

static void enable_step(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    struct store_group *all;
    struct ha_view v;
    size_t nall, n = 0;
    const char **groups;
    char *why, *warn;
    int64_t now;
    form_t *table;

    if (call->stage == 0) {
        adhoc_show(call, groups_form(app, &(struct text){"Enable HA", "HA 켜기"}), 0,
                   ADHOC_COMPLETE);
        return;
    }
    if ((groups = chosen_groups(call, app, &all, &nall, &n)) == NULL ||
        ha_view_load(app, &v) != STORE_OK) {
        free(groups);
        store_group_list_free(all, nall);
        store_failed(call, app);
        return;
    }
    now = (int64_t)time(NULL);
    why = ha_enable_refusal(&v, groups, n, now, call->lang);
    table = report_table();
    warn = ha_enable_report(&v, groups, n, now, call->lang, table);
    if (why != NULL) {
        /* The refusal with the numbers of every node: note first (the audit log keeps it). */
        adhoc_note_str(call, ADHOC_NOTE_ERROR, why);
        adhoc_complete(call, table);
        table = NULL;
    } else if (ha_enable_groups(app, groups, n) != STORE_OK) {
        store_failed(call, app);
    } else {
        char *s = i18n_is_korean(call->lang)
                      ? xasprintf("그룹 %zu개에서 HA를 켰습니다.", n)
                      : xasprintf("HA enabled on %zu group%s.", n, i18n_s(n));
        adhoc_note_str(call, ADHOC_NOTE_INFO, s);
        if (warn != NULL)
            adhoc_note_str(call, ADHOC_NOTE_WARN, warn);
        free(s);
        adhoc_complete(call, table);
        table = NULL;
    }
    form_free(table);
    free(warn);
    free(why);
    ha_view_clear(&v);
    free(groups);
    store_group_list_free(all, nall);
}

static const struct adhoc_command enable_def = {
    .node = "ha/enable",
    .name = {"Enable high availability", "고가용성 켜기"},
    .step = enable_step,
};

int cmd_ha_register(struct app *app)
{
    if (adhoc_register(app->adhoc, &disable_def, app) < 0 ||
        adhoc_register(app->adhoc, &enable_def, app) < 0)
        return -1;
    return 0;
}
