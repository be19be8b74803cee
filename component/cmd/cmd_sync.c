/* sync/audit: runs the sync audit now and answers with what it found and changed; the router
 * is told first when the local domain set changed. */
#include "component/cmd/commands.h"
#include "component/engine/peers_window.h"
#include "component/engine/sync.h"
#include "component/engine/topology.h"

#include "util/xmalloc.h"

#include <stdlib.h>

static void report_free(void *arg)
{
    sync_report_clear(arg);
    free(arg);
}

/* Records the answer on `call`: notes, the counts, then the table of changes if any. */
static void answer_audit(adhoc_call_t *call, void *arg)
{
    const struct sync_report *r = arg;
    form_t *table = sync_report_table(r, call->lang);

    char *finding = topology_release_finding(call->ctx, call->lang);

    sync_report_note(call, r);
    if (finding != NULL) /* the guide's release rule: the domain is added, the nodes named */
        adhoc_note_str(call, ADHOC_NOTE_WARN, finding);
    free(finding);
    adhoc_complete(call, sync_report_form(r));
    if (table != NULL)
        adhoc_add_result(call, table);
}

static void audit_step(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    struct sync_report *r = xcalloc(1, sizeof(*r));
    char *err = NULL;

    if (sync_run(app->store, peers_counted_now(app), r, &err) == -1) {
        adhoc_refuse(call, "internal-server-error", NULL, err);
        free(err);
        free(r);
        return;
    }
    if (sync_report_local_changed(r))
        topology_audit_release_finding(app, call->requester, SYNC_NODE);
    sync_answer_after_apply(app, call, sync_report_local_changed(r), answer_audit, r, report_free);
}

static const struct adhoc_command audit_cmd = {
    .node = SYNC_NODE,
    .name = {"Run the sync audit now", "지금 동기화 감사 실행"},
    .open_to_all = false,
    .step = audit_step,
    .cancel = NULL,
};

int cmd_sync_register(struct app *app)
{
    return adhoc_register(app->adhoc, &audit_cmd, app);
}
