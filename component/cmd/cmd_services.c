/* services: the control center. One form (nodes, services, operation), then a table with the
 * outcome per node and service; with hooks configured the answer waits for them. */
#include "component/cmd/commands.h"

#include "component/engine/services.h"
#include "store/store_topo.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/adhoc_later.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct text op_labels[SERVICE_OP_COUNT] = {
    [SERVICE_OP_START] = {"Start", "시작"},
    [SERVICE_OP_STOP] = {"Stop", "중지"},
    [SERVICE_OP_RESTART] = {"Restart", "재시작"},
    [SERVICE_OP_ACTIVATE] = {"Activate", "활성화"},
    [SERVICE_OP_DEACTIVATE] = {"Deactivate", "비활성화"},
    [SERVICE_OP_STOP_ALL] = {"Stop everything for a domain change (step 2)",
                             "도메인 변경을 위해 모두 중지(2단계)"},
    [SERVICE_OP_START_STOPPED] = {"Start what imdomaind stopped (step 6)",
                                  "imdomaind가 중지한 서비스 시작(6단계)"},
};

static const struct text T_FAILOVER = {
    "Fail over on purpose: stop even on nodes whose group has HA on",
    "일부러 장애 조치: HA가 켜진 그룹의 노드에서도 중지"};
static const struct text T_HA_RULE = {
    "Stopping, restarting or deactivating a service on a node whose redundancy group has HA on "
    "causes a failover (the guide): it is refused unless the box below is ticked. Disable HA "
    "first with ha/disable.",
    "HA가 켜진 이중화 그룹의 노드에서 서비스를 중지, 재시작, 비활성화하면 장애 조치가 "
    "일어납니다(가이드). 아래 상자를 선택하지 않으면 거부합니다. 먼저 ha/disable로 HA를 "
    "끄세요."};

static void add_state_rows(form_t *f, struct app *app)
{
    struct store_service *v = NULL;
    size_t n = 0;

    form_add_column(f, "node", FIELD_TEXT_SINGLE, NULL);
    form_add_column(f, "service", FIELD_TEXT_SINGLE, NULL);
    form_add_column(f, "state", FIELD_TEXT_SINGLE, NULL);
    if (store_service_list(app->store, NULL, &v, &n) != STORE_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        if (!services_known(v[i].service))
            continue; /* the "stopped by us" marks */
        const char *cells[] = {v[i].node, v[i].service, v[i].state};
        form_add_row(f, cells);
    }
    store_service_list_free(v, n);
}

/* The current states, shown as fixed lines above the choices. */
static form_t *services_form(struct app *app)
{
    struct store_node *nodes = NULL;
    size_t n = 0;
    form_t *f = form_new(FORM_FORM), *states = form_new(FORM_RESULT);
    form_field_t *fld;

    form_set_title(f, &(struct text){"Control center", "컨트롤 센터"});
    form_add_instructions(f, &(struct text){"No node or service chosen means all of them.",
                                            "노드나 서비스를 고르지 않으면 전부입니다."});
    add_state_rows(states, app);
    for (size_t i = 0; i < form_row_count(states); i++) {
        char *line = xasprintf("%s %s: %s", form_cell(states, i, 0), form_cell(states, i, 1),
                               form_cell(states, i, 2));
        form_add_fixed(f, &(struct text){line, line});
        free(line);
    }
    form_free(states);
    fld = form_add_field(f, "nodes", FIELD_LIST_MULTI, &(struct text){"Nodes", "노드"});
    if (store_node_list(app->store, &nodes, &n) == STORE_OK)
        for (size_t i = 0; i < n; i++)
            form_field_add_option(fld, nodes[i].name, NULL);
    store_node_list_free(nodes, n);
    fld = form_add_field(f, "services", FIELD_LIST_MULTI, &(struct text){"Services", "서비스"});
    for (int i = 0; i < SERVICES_N; i++)
        form_field_add_option(fld, services_start_order[i], NULL);
    fld = form_add_field(f, "operation", FIELD_LIST_SINGLE, &(struct text){"Operation", "작업"});
    form_field_set_required(fld, true);
    for (int i = 0; i < SERVICE_OP_COUNT; i++)
        form_field_add_option(fld, services_op_name((enum service_op)i), &op_labels[i]);
    form_add_fixed(f, &T_HA_RULE);
    form_add_field(f, "failover", FIELD_BOOLEAN, &T_FAILOVER);
    return f;
}

/* Where a run's outcome goes: the call itself (finished at once) or a deferred answer. */
struct answer {
    adhoc_call_t *call;
    adhoc_later_t *later;
    bool done;
};

static void on_done(void *arg, const struct service_outcome *out, size_t n)
{
    struct answer *a = arg;
    adhoc_call_t *call = a->later ? adhoc_later_call(a->later) : a->call;
    form_t *f;
    size_t failed = 0;
    char *note;

    if (call == NULL) { /* nobody waits for this answer */
        free(a);
        return;
    }
    f = form_new(FORM_RESULT);

    form_add_column(f, "node", FIELD_TEXT_SINGLE, &(struct text){"Node", "노드"});
    form_add_column(f, "service", FIELD_TEXT_SINGLE, &(struct text){"Service", "서비스"});
    form_add_column(f, "ok", FIELD_TEXT_SINGLE, &(struct text){"OK", "성공"});
    form_add_column(f, "outcome", FIELD_TEXT_SINGLE, &(struct text){"Outcome", "결과"});
    for (size_t i = 0; i < n; i++) {
        const char *cells[] = {out[i].node, out[i].service, out[i].ok ? "yes" : "no",
                               out[i].detail};
        form_add_row(f, cells);
        failed += !out[i].ok;
    }
    if (failed) {
        note = xasprintf(i18n_is_korean(call->lang)
                             ? "%zu개 작업 중 %zu개가 실패했거나 건너뛰었습니다. 표를 보세요."
                             : "%zu of %zu actions failed or were skipped: see the table.",
                         failed, n);
        adhoc_note_str(call, ADHOC_NOTE_WARN, note);
    } else {
        note = i18n_is_korean(call->lang) ? xasprintf("작업 %zu개를 마쳤습니다.", n)
                                          : xasprintf("%zu action%s done.", n, i18n_s(n));
        adhoc_note_str(call, ADHOC_NOTE_INFO, note);
    }
    free(note);
    adhoc_complete(call, f);
    a->done = true;
    if (a->later) {
        adhoc_later_finish(a->later);
        free(a);
    }
}

/* The chosen nodes, or every node (caller frees the array with the list). */
static const char **chosen_nodes(adhoc_call_t *call, struct app *app, struct store_node **all,
                                 size_t *nall, size_t *n)
{
    const char *const *v;
    size_t k = form_values(call->form, "nodes", &v);
    const char **out;

    if (store_node_list(app->store, all, nall) != STORE_OK)
        return NULL;
    *n = k ? k : *nall;
    out = xcalloc(*n + 1, sizeof(*out));
    for (size_t i = 0; i < *n; i++)
        out[i] = k ? v[i] : (*all)[i].name;
    return out;
}

/* Whether `op` may take a service down (and so fail a node over while HA is on). */
static bool takes_down(enum service_op op)
{
    return op != SERVICE_OP_START && op != SERVICE_OP_ACTIVATE;
}

/* The chosen nodes whose group has HA on, as "a (group g1), b (group g1)" (caller frees), or
 * NULL when there is none. *rc gets the store's verdict. */
static char *nodes_under_ha(struct app *app, const char *const *nodes, size_t nn, enum store_rc *rc)
{
    struct store_node *all = NULL;
    struct store_group *g = NULL;
    size_t na = 0, ng = 0, len = 0;
    char *list = NULL;
    FILE *f;
    bool first = true;

    if ((*rc = store_node_list(app->store, &all, &na)) != STORE_OK ||
        (*rc = store_group_list(app->store, &g, &ng)) != STORE_OK) {
        store_node_list_free(all, na);
        return NULL;
    }
    if ((f = open_memstream(&list, &len)) == NULL)
        fatal("services: open_memstream");
    for (size_t i = 0; i < na; i++) {
        bool chosen = false, ha = false;
        for (size_t k = 0; k < nn && !chosen; k++)
            chosen = strcasecmp(nodes[k], all[i].name) == 0;
        for (size_t k = 0; k < ng && all[i].group != NULL; k++)
            ha |= g[k].ha_enabled && strcasecmp(g[k].name, all[i].group) == 0;
        if (chosen && ha) {
            fprintf(f, "%s%s (%s)", first ? "" : ", ", all[i].name, all[i].group);
            first = false;
        }
    }
    fclose(f);
    store_node_list_free(all, na);
    store_group_list_free(g, ng);
    if (first) {
        free(list);
        return NULL;
    }
    return list;
}

/* The guide: stopping services while HA is on causes a failover. False (the call answered)
 * when `op` would do that on a chosen node and the admin did not ask for a failover. */
static bool ha_allows(adhoc_call_t *call, struct app *app, enum service_op op,
                      const char *const *nodes, size_t nn)
{
    enum store_rc rc = STORE_OK;
    char *under, *why;

    if (!takes_down(op) || form_bool(call->form, "failover", false))
        return true;
    under = nodes_under_ha(app, nodes, nn, &rc);
    if (rc != STORE_OK) {
        adhoc_refuse(call, "internal-server-error", NULL, store_errmsg(app->store));
        return false;
    }
    if (under == NULL)
        return true;
    why = xasprintf(
        i18n_is_korean(call->lang)
            ? "HA가 켜진 이중화 그룹의 노드입니다: %s. 여기서 '%s' 작업으로 서비스를 내리면 장애 "
              "조치가 일어납니다. 먼저 ha/disable로 그 그룹의 HA를 끄거나, 장애 조치를 원하면 "
              "'일부러 장애 조치' 상자를 선택하세요. 아무것도 바뀌지 않았습니다."
            : "HA is on for the redundancy group of %s: '%s' takes services down there, which "
              "causes a failover. Disable HA on that group first with ha/disable, or tick 'Fail "
              "over on purpose' to fail over deliberately. Nothing was changed.",
        under, text_get(&op_labels[op], call->lang));
    adhoc_fail(call, &(struct text){why, why});
    free(why);
    free(under);
    return false;
}

static void run_services(adhoc_call_t *call, struct app *app, enum service_op op)
{
    struct store_node *all = NULL;
    size_t nall = 0, nn = 0;
    const char *const *sel;
    size_t nsel = form_values(call->form, "services", &sel);
    const char **nodes = chosen_nodes(call, app, &all, &nall, &nn), *why = NULL;
    struct answer *a = xcalloc(1, sizeof(*a));

    a->call = call;
    if (nodes == NULL) {
        why = store_errmsg(app->store);
    } else if (!ha_allows(call, app, op, nodes, nn)) {
        free(a);
        free(nodes);
        store_node_list_free(all, nall);
        return;
    }
    /* Given up at shutdown, the run frees `a` alone: adhoc_free answers the deferred request
     * (internal-server-error) and frees its handle. */
    if (nodes != NULL &&
        services_run_owned(app->services, nodes, nn, op, sel, nsel, call->lang, on_done, a, free,
                           &why) == 0 &&
        !a->done) {
        /* Hooks are running: answer when they end, or now if this request cannot wait. */
        if ((a->later = adhoc_defer(call)) == NULL) {
            a->call = NULL; /* on_done then only frees it */
            adhoc_note_str(call, ADHOC_NOTE_INFO,
                           i18n_is_korean(call->lang)
                               ? "훅이 실행 중입니다. services 명령으로 상태를 다시 보세요."
                               : "The hooks are running; see the states again with the "
                                 "services command.");
            adhoc_complete(call, NULL);
        }
        a = NULL; /* the run owns it now */
    }
    if (why != NULL)
        adhoc_refuse(call, "bad-request", "bad-payload", why);
    free(a);
    free(nodes);
    store_node_list_free(all, nall);
}

static void services_step(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    enum service_op op;

    if (call->stage == 0) {
        adhoc_show(call, services_form(app), 0, ADHOC_COMPLETE);
        return;
    }
    if (app->services == NULL || services_op_parse(form_value(call->form, "operation"), &op) < 0) {
        adhoc_refuse(call, "service-unavailable", NULL, "the control center is not running");
        return;
    }
    run_services(call, app, op);
}

static const struct adhoc_command services_def = {
    .node = "services",
    .name = {"Control center (services)", "컨트롤 센터(서비스)"},
    .step = services_step,
};

int cmd_services_register(struct app *app)
{
    return adhoc_register(app->adhoc, &services_def, app);
}
