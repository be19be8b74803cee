/* services: the control center. One form (nodes, services, operation), then a table with the
 * outcome per node and service; with hooks configured the answer waits for them. */
#include "component/commands.h"

#include "component/services.h"
#include "store/store_topo.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <stdlib.h>
#include <string.h>

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
    for (int i = SERVICES_N - 1; i >= 0; i--)
        form_field_add_option(fld, services_stop_order[i], NULL);
    fld = form_add_field(f, "operation", FIELD_LIST_SINGLE, &(struct text){"Operation", "작업"});
    form_field_set_required(fld, true);
    for (int i = 0; i < SERVICE_OP_COUNT; i++)
        form_field_add_option(fld, services_op_name((enum service_op)i), &op_labels[i]);
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

static void run_services(adhoc_call_t *call, struct app *app, enum service_op op)
{
    struct store_node *all = NULL;
    size_t nall = 0, nn = 0;
    const char *const *sel;
    size_t nsel = form_values(call->form, "services", &sel);
    const char **nodes = chosen_nodes(call, app, &all, &nall, &nn), *why = NULL;
    struct answer *a = xcalloc(1, sizeof(*a));

    a->call = call;
    if (nodes == NULL)
        why = store_errmsg(app->store);
    /* Given up at shutdown, the run frees `a` alone: adhoc_free answers the deferred request
     * (internal-server-error) and frees its handle. */
    else if (services_run_owned(app->services, nodes, nn, op, sel, nsel, call->lang, on_done, a,
                                free, &why) == 0 &&
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
