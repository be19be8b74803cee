/* users/export: every user as the lines users/import takes (`userid,directory_uri[,node]`), so
 * that importing them again changes nothing: for backups and for moving users to another
 * cluster. The lines come as a text-multi field, a page at a time (keyset order, so that a page
 * deep in a million users costs what the first does): each page is a result shown with next
 * while more remain, the last one completes. */
#include "component/cmd/commands.h"

#include "store/store_user.h"
#include "util/xmalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT_PAGE_ROWS 2000         /* users read for one page */
#define EXPORT_PAGE_BYTES (96 * 1024) /* text in one page: well under a stanza's 256 KiB */

struct export_state {
    int64_t after;   /* the id of the last user exported */
    int64_t total;   /* users when the export started */
    int64_t written; /* lines so far */
    int64_t skipped; /* users with a double quote in a field: no line can say them */
    int page;
};

static const struct text T_TITLE = {"Export users", "사용자 내보내기"};
static const struct text T_CSV = {"Users, one a line (userid,directory_uri[,node])",
                                  "사용자(한 줄에 한 명, userid,directory_uri[,node])"};
static const struct text T_INSTR = {
    "These lines are what users/import takes: import them here or in another cluster and every "
    "line comes back unchanged (a user without a node keeps the node it has there; a field "
    "holding a comma is in double quotes). Next shows the next page; complete stops.",
    "이 줄들은 users/import가 받는 형식입니다. 여기나 다른 클러스터에서 가져오면 모든 줄이 "
    "그대로(unchanged)입니다(노드가 없는 사용자는 그곳의 노드를 유지합니다. 쉼표가 있는 필드는 "
    "큰따옴표로 묶입니다). 다음(next)은 다음 페이지를, 완료(complete)는 멈춥니다."};

static void export_free(void *p)
{
    free(p);
}

static bool has(const char *s, char c)
{
    return s != NULL && strchr(s, c) != NULL;
}

/* The quote a field needs in a line: a comma would split it, so it goes in double quotes, as
 * users/import reads it back. */
static const char *q(const char *s)
{
    return has(s, ',') ? "\"" : "";
}

/* The next page after s->after as a result form; *more says whether users remain. */
static form_t *export_page(adhoc_call_t *call, struct export_state *s, bool *more)
{
    struct store *st = ((struct app *)call->ctx)->store;
    struct store_user *u = NULL;
    size_t n = 0, i, bytes = 0;
    bool ko = i18n_is_korean(call->lang);
    form_t *f;
    form_field_t *csv;
    char *line;

    if (store_user_list_after(st, s->after, EXPORT_PAGE_ROWS, &u, &n) != STORE_OK)
        return NULL;
    f = form_new(FORM_RESULT);
    form_set_title(f, &T_TITLE);
    form_add_instructions(f, &T_INSTR);
    csv = form_add_field(f, "users", FIELD_TEXT_MULTI, &T_CSV);
    s->page++;
    if (s->page == 1) {
        line = xasprintf("# userid,directory_uri,node (imdomaind users/export, %" PRId64 " users)",
                         s->total);
        form_field_add_value(csv, line);
        free(line);
    }
    for (i = 0; i < n && bytes < EXPORT_PAGE_BYTES; i++) {
        s->after = u[i].id;
        const char *id = u[i].userid, *uri = u[i].directory_uri, *node = u[i].node;
        /* The userid and URI rules refuse a double quote; a node name is a host name. */
        if (has(id, '"') || has(uri, '"') || has(node, '"')) {
            s->skipped++;
            continue;
        }
        line = node ? xasprintf("%s%s%s,%s%s%s,%s%s%s", q(id), id, q(id), q(uri), uri, q(uri),
                                q(node), node, q(node))
                    : xasprintf("%s%s%s,%s%s%s", q(id), id, q(id), q(uri), uri, q(uri));
        bytes += strlen(line) + 16;
        form_field_add_value(csv, line);
        free(line);
        s->written++;
    }
    *more = i < n || n == EXPORT_PAGE_ROWS;
    store_user_list_free(u, n);
    line = xasprintf(ko ? "%d페이지: 지금까지 %" PRId64 "줄 / 사용자 %" PRId64 "명%s"
                        : "Page %d: %" PRId64 " lines so far of %" PRId64 " users%s",
                     s->page, s->written, s->total,
                     *more ? (ko ? ". 다음(next)으로 계속합니다." : "; next for more.")
                           : (ko ? ". 끝." : "; the end."));
    adhoc_note_str(call, ADHOC_NOTE_INFO, line);
    form_add_fixed(f, &(struct text){line, NULL}); /* clients that hide notes show the form */
    free(line);
    return f;
}

static void export_step(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    struct export_state *s = call->state;
    bool more = false;
    form_t *f;

    if (s == NULL) {
        s = xcalloc(1, sizeof(*s));
        call->state = s;
        call->state_free = export_free;
        if (store_user_count(app->store, NULL, &s->total) != STORE_OK) {
            adhoc_refuse(call, "internal-server-error", NULL, store_errmsg(app->store));
            return;
        }
    }
    if (call->stage > 0 && call->action == ADHOC_COMPLETE) {
        char *t = xasprintf(i18n_is_korean(call->lang) ? "내보내기를 %" PRId64 "줄에서 멈췄습니다."
                                                       : "Export stopped after %" PRId64 " lines.",
                            s->written);
        adhoc_complete(call, NULL);
        adhoc_note_str(call, ADHOC_NOTE_INFO, t);
        free(t);
        return;
    }
    if ((f = export_page(call, s, &more)) == NULL) {
        adhoc_refuse(call, "internal-server-error", NULL, store_errmsg(app->store));
        return;
    }
    if (s->skipped > 0 && !more) {
        char *t = xasprintf(i18n_is_korean(call->lang)
                                ? "사용자 %" PRId64 "명은 사용자 ID, URI 또는 노드에 큰따옴표가 "
                                  "있어 한 줄로 쓸 수 없으므로 내보내지 않았습니다."
                                : "%" PRId64 " users were left out: a double quote in the "
                                  "userid, URI or node cannot be written in a line.",
                            s->skipped);
        adhoc_note_str(call, ADHOC_NOTE_WARN, t);
        free(t);
    }
    if (!more)
        adhoc_complete(call, f);
    else if (call->stage == 0)
        adhoc_show(call, f, ADHOC_ALLOW_NEXT | ADHOC_ALLOW_COMPLETE, ADHOC_NEXT);
    else
        adhoc_replace(call, f, ADHOC_ALLOW_NEXT | ADHOC_ALLOW_COMPLETE, ADHOC_NEXT);
}

static const struct adhoc_command export_cmd = {
    .node = "users/export",
    .name = {"Export users", "사용자 내보내기"},
    .open_to_all = false,
    .step = export_step,
    .cancel = NULL,
};

int cmd_users_export_register(struct app *app)
{
    return adhoc_register(app->adhoc, &export_cmd, app);
}
