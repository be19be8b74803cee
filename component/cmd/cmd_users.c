/* users/import and users/list: provisioning users from `userid,directory_uri[,node]` lines with
 * a verdict per line, all in one transaction that ends with the incremental sync audit; and the
 * users, filtered and paged by the store. */
#include "component/cmd/commands.h"
#include "component/engine/domain_rules.h"
#include "component/engine/import_job.h"
#include "component/engine/import_lines.h"
#include "component/engine/peers_window.h"
#include "component/engine/sync.h"
#include "component/engine/user_check.h"
#include "component/engine/topology.h"

#include "store/store_settings.h"
#include "store/store_directory.h"
#include "store/store_topo.h"
#include "store/store_user.h"
#include "util/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USERS_PAGE_ROWS 100         /* users/list rows per page (the framework's page size too) */
#define USERS_PAGE_MAX 1000000000LL /* highest page number users/list accepts (no overflow) */
#define IMPORT_LINES_MAX 50000      /* lines in one users/import call (FORM_MAX_TOTAL_VALUES) */

#define V_COUNT IMPORT_V_COUNT
#define V_ADDED IMPORT_ADDED
#define V_UPDATED IMPORT_UPDATED
#define V_UNCHANGED IMPORT_UNCHANGED
#define V_REMOVED IMPORT_REMOVED
#define V_REJECTED IMPORT_REJECTED

static const struct text verdict_texts[V_COUNT] = {{"added", "추가됨"},
                                                   {"updated", "변경됨"},
                                                   {"unchanged", "그대로"},
                                                   {"removed", "삭제됨"},
                                                   {"REJECTED", "거부됨"}};

/* One users/import call: the verdict table as it grows, the counts, the sync audit's report. */
struct import {
    struct store *st;
    int64_t peer_since; /* which peers count for the audit (peers_counted_since()) */
    const char *lang;   /* borrowed from the call */
    bool audit;         /* run the sync audit afterwards (off for all but a large import's last
                           part, so that it runs once) */
    struct import_lines *lines; /* applies each line, calling verdict() */
    form_t *table;              /* line, userid, result, reason; handed to the answer */
    size_t counts[V_COUNT];
    struct sync_report sync;
};

static const struct text T_IMPORT = {"Import users", "사용자 가져오기"};
static const struct text T_LIST = {"List users", "사용자 목록"};
static const struct text T_USERS = {"Users, one a line", "사용자(한 줄에 한 명)"};
static const struct text T_LINE = {"Line", "줄"};
static const struct text T_USERID = {"User ID", "사용자 ID"};
static const struct text T_RESULT = {"Result", "결과"};
static const struct text T_REASON = {"Reason", "이유"};
static const struct text T_URI = {"Directory URI", "디렉터리 URI"};
static const struct text T_IM = {"IM address", "IM 주소"};
static const struct text T_NODE = {"Node", "노드"};
static const struct text T_FILTER = {"Filter (part of a user ID or directory URI)",
                                     "필터(사용자 ID 또는 디렉터리 URI의 일부)"};
static const struct text T_PAGE = {"Page", "페이지"};
static const struct text T_AUDIT = {
    "Run the sync audit afterwards (turn off for every part of a large import but the last)",
    "가져온 뒤 동기화 감사 실행(큰 가져오기를 나눌 때는 마지막 부분에서만 켜십시오)"};

static const struct text I_IMPORT = {
    "One user a line: userid,directory_uri[,node]. New users get their IM address by the "
    "current address scheme. A field holding a comma goes in double quotes (\"a,b\"). An empty "
    "directory URI means the user has none; without a node the "
    "current assignment is kept (the node must exist: see topology). A line -userid removes "
    "that user. Blank lines and lines starting with # are skipped. Every line gets a verdict; "
    "good lines are kept even when others are rejected. Afterwards the sync audit runs, so new "
    "domains appear system-managed and domains nobody uses any more become admin-managed.",
    "한 줄에 한 명씩 userid,directory_uri[,node] 형식으로 입력합니다. 새 사용자는 현재 주소 "
    "체계에 따라 IM 주소를 받습니다. 쉼표가 있는 필드는 큰따옴표로 묶습니다(\"a,b\"). "
    "디렉터리 URI를 비워 두면 URI가 없는 사용자가 됩니다. "
    "노드를 생략하면 현재 할당이 유지됩니다(노드는 이미 있어야 합니다. topology 참조). "
    "-userid 줄은 그 사용자를 삭제합니다. 빈 줄과 #으로 시작하는 줄은 건너뜁니다. 줄마다 결과가 "
    "표시되며, 일부 줄이 거부되어도 올바른 줄은 저장됩니다. 이어서 동기화 감사가 실행되어 새 "
    "도메인은 시스템 관리로 나타나고 더 이상 쓰이지 않는 도메인은 관리자 관리로 바뀝니다."};

static const struct text T_EDIT_DIR = {
    "Also edit users that come from the directory (the next directory sync puts the directory's "
    "values back)",
    "디렉터리에서 온 사용자도 편집(다음 디렉터리 동기화가 디렉터리의 값으로 되돌립니다)"};

/* ---- the verdict table ---- */

static void verdict(void *ud, size_t lineno, const char *userid, enum import_verdict v,
                    const char *reason)
{
    struct import *im = ud;
    char num[24];

    snprintf(num, sizeof(num), "%zu", lineno);
    const char *cells[] = {num, userid, import_verdict_names[v], reason != NULL ? reason : ""};
    form_add_row(im->table, cells);
    im->counts[v]++;
}

static int import_line(struct import *im, size_t lineno, const char *text, size_t len)
{
    return import_lines_one(im->lines, lineno, text, len);
}

/* Calls fn for each '\n'-separated line of each value, numbering lines from 1. */
static int each_line(struct import *im, const char *const *values, size_t n,
                     int (*fn)(struct import *, size_t, const char *, size_t))
{
    size_t lineno = 0;

    for (size_t i = 0; i < n; i++) {
        const char *p = values[i];
        for (;;) {
            const char *nl = strchr(p, '\n');
            size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
            if (fn(im, ++lineno, p, len) == -1)
                return -1;
            if (nl == NULL)
                break;
            p = nl + 1;
        }
    }
    return 0;
}

static int count_line(struct import *im, size_t lineno, const char *text, size_t len)
{
    (void)im, (void)text, (void)len;
    return lineno > IMPORT_LINES_MAX ? -1 : 0;
}

/* ---- users/import ---- */

static struct import *import_new(struct store *st, const char *lang)
{
    struct import *im = xcalloc(1, sizeof(*im));

    im->st = st;
    im->lang = lang;
    im->table = form_new(FORM_RESULT);
    form_add_column(im->table, "line", FIELD_TEXT_SINGLE, &T_LINE);
    form_add_column(im->table, "userid", FIELD_TEXT_SINGLE, &T_USERID);
    form_add_column(im->table, "result", FIELD_TEXT_SINGLE, &T_RESULT);
    form_add_column(im->table, "reason", FIELD_TEXT_SINGLE, &T_REASON);
    for (int v = 0; v < V_COUNT; v++) /* what people read; the cells keep the names */
        form_column_value_label(im->table, "result", import_verdict_names[v], &verdict_texts[v]);
    return im;
}

static void import_free(void *arg)
{
    struct import *im = arg;

    form_free(im->table);
    import_lines_free(im->lines);
    sync_report_clear(&im->sync);
    free(im);
}

static void import_note(adhoc_call_t *call, const struct import *im)
{
    const size_t *c = im->counts;
    char *en = xasprintf("%zu added, %zu updated, %zu unchanged, %zu removed, %zu rejected.",
                         c[V_ADDED], c[V_UPDATED], c[V_UNCHANGED], c[V_REMOVED], c[V_REJECTED]);
    char *ko = xasprintf("추가 %zu, 변경 %zu, 그대로 %zu, 삭제 %zu, 거부 %zu.", c[V_ADDED],
                         c[V_UPDATED], c[V_UNCHANGED], c[V_REMOVED], c[V_REJECTED]);

    adhoc_note(call, ADHOC_NOTE_INFO, &(struct text){en, ko});
    if (c[V_REJECTED] > 0)
        adhoc_note(call, ADHOC_NOTE_WARN,
                   &(struct text){"Rejected lines changed nothing: correct them as the reason "
                                  "says and submit only those lines again.",
                                  "거부된 줄은 아무것도 바꾸지 않았습니다. 이유에 따라 고친 뒤 "
                                  "그 줄만 다시 제출하십시오."});
    free(en);
    free(ko);
}

/* The answer: the verdicts, then the sync audit's counts and changes. */
static void answer_import(adhoc_call_t *call, void *arg)
{
    struct import *im = arg;
    form_t *changes;
    char *finding;

    import_note(call, im);
    if (!im->audit) {
        adhoc_note(call, ADHOC_NOTE_INFO,
                   &(struct text){"The sync audit did not run (audit off): run it with the "
                                  "last part of the import, or with sync/audit.",
                                  "동기화 감사를 실행하지 않았습니다(감사 끔). 가져오기의 마지막 "
                                  "부분에서 실행하거나 sync/audit로 실행하십시오."});
        adhoc_complete(call, im->table);
        im->table = NULL;
        return;
    }
    changes = sync_report_table(&im->sync, call->lang);
    finding = topology_release_finding(call->ctx, call->lang);
    sync_report_note(call, &im->sync);
    if (finding != NULL) /* the guide's release rule: the domain is added, the nodes named */
        adhoc_note_str(call, ADHOC_NOTE_WARN, finding);
    free(finding);
    adhoc_complete(call, im->table);
    im->table = NULL;
    adhoc_add_result(call, sync_report_form(&im->sync));
    if (changes != NULL)
        adhoc_add_result(call, changes);
}

static const struct text T_MORE = {
    "More parts follow (a large import sent in parts: on for every part but the last)",
    "다음 부분이 더 있음(큰 가져오기를 나누어 보낼 때 마지막 부분을 뺀 모든 부분에서 켜십시오)"};

/* [users] import_job_lines (the default without a configuration: unit tests). */
static int job_lines(const struct app *app)
{
    return app->cfg ? app->cfg->import_job_lines : 5000;
}

/* The form; also shown again for the next part of a large import. */
static form_t *import_form_new(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    form_t *f = form_new(FORM_FORM);
    form_field_t *users;
    char *en, *ko;

    form_set_title(f, &T_IMPORT);
    form_add_instructions(f, &I_IMPORT);
    en = xasprintf("An import of more than %d lines (or sent in parts with 'more') runs as a job: "
                   "its progress shows here and in jobs/status, it goes on after a restart, and "
                   "its answer lists the updated, removed and rejected lines with the counts.",
                   job_lines(app));
    ko = xasprintf("%d줄보다 많은 가져오기(또는 'more'로 나누어 보낸 가져오기)는 작업으로 "
                   "실행됩니다. 진행 상황은 여기와 jobs/status에 표시되고, 재시작 뒤에도 "
                   "계속되며, 결과에는 건수와 변경·삭제·거부된 줄이 나옵니다.",
                   job_lines(app));
    form_add_fixed(f, &(struct text){en, ko});
    free(en);
    free(ko);
    users = form_add_field(f, "users", FIELD_TEXT_MULTI, &T_USERS);
    form_field_set_required(users, true);
    form_field_add_bool(form_add_field(f, "audit", FIELD_BOOLEAN, &T_AUDIT), true);
    form_field_add_bool(form_add_field(f, "edit_directory_users", FIELD_BOOLEAN, &T_EDIT_DIR),
                        false);
    form_field_add_bool(form_add_field(f, "more", FIELD_BOOLEAN, &T_MORE), false);
    /* For programs: above this many lines the import is a job (imdomainctl sends it in parts). */
    form_field_add_int(form_add_field(f, "job_lines", FIELD_HIDDEN, &T_MORE),
                       job_lines(app));
    return f;
}

static void import_form(adhoc_call_t *call)
{
    adhoc_show(call, import_form_new(call), ADHOC_ALLOW_COMPLETE, ADHOC_COMPLETE);
}

/* Lines in the values, as each_line numbers them. */
static size_t count_lines(const char *const *values, size_t n)
{
    size_t lines = 0;

    for (size_t i = 0; i < n; i++) {
        lines++;
        for (const char *p = values[i]; (p = strchr(p, '\n')) != NULL; p++)
            lines++;
    }
    return lines;
}

/* Every line, then the sync audit, in one transaction. Returns -1 (rolled back) on a store
 * failure, with *err set. */
static int import_all(struct import *im, const char *const *values, size_t n, char **err)
{
    if (store_begin(im->st) != STORE_OK) {
        *err = xasprintf("cannot start the import: %s", store_errmsg(im->st));
        return -1;
    }
    if (import_lines_begin(im->lines) != STORE_OK || each_line(im, values, n, import_line) == -1) {
        *err = xasprintf("the import failed: %s", store_errmsg(im->st));
    } else if (!im->audit || sync_run(im->st, im->peer_since, &im->sync, err) == 0) {
        if (store_commit(im->st) == STORE_OK)
            return 0;
        *err = xasprintf("the import failed: %s", store_errmsg(im->st));
    }
    store_rollback(im->st);
    return -1;
}

static void import_step(adhoc_call_t *call)
{
    struct app *app = call->ctx;
    const char *const *values = NULL;
    size_t n;
    struct import *im;
    char *err = NULL;

    if (call->stage == 0) {
        import_form(call);
        return;
    }
    if (import_job_session(call) == 2) {
        import_job_follow(call);
        return;
    }
    n = form_values(call->form, "users", &values);
    im = import_new(app->store, call->lang);
    im->peer_since = peers_counted_now(app);
    im->audit = form_bool(call->form, "audit", true);
    im->lines = import_lines_new(app->store, call->lang,
                                 form_bool(call->form, "edit_directory_users", false), verdict, im);
    if (each_line(im, values, n, count_line) == -1) {
        char *why = xasprintf("more than %d lines in one import; split it into several calls",
                              IMPORT_LINES_MAX);
        adhoc_refuse(call, "bad-request", "bad-payload", why);
        free(why);
        import_free(im);
        return;
    }
    size_t lines = count_lines(values, n);
    bool more = form_bool(call->form, "more", false);
    if (import_job_session(call) == 1 || more || lines > (size_t)job_lines(app)) {
        import_free(im);
        import_job_submit(call, values, n, lines, more, import_form_new);
        return;
    }
    if (import_all(im, values, n, &err) == -1) {
        adhoc_refuse(call, "internal-server-error", NULL, err);
        free(err);
        import_free(im);
        return;
    }
    if (sync_report_local_changed(&im->sync))
        topology_audit_release_finding(app, call->requester, call->node);
    sync_answer_after_apply(app, call, sync_report_local_changed(&im->sync), answer_import, im,
                            import_free);
}

/* ---- users/list ---- */

static void list_form(adhoc_call_t *call)
{
    form_t *f = form_new(FORM_FORM);
    form_field_t *page;

    form_set_title(f, &T_LIST);
    form_add_field(f, "filter", FIELD_TEXT_SINGLE, &T_FILTER);
    page = form_add_field(f, "page", FIELD_TEXT_SINGLE, &T_PAGE);
    form_field_set_range(page, true, 1, true, USERS_PAGE_MAX);
    form_field_add_int(page, 1);
    adhoc_show(call, f, ADHOC_ALLOW_COMPLETE, ADHOC_COMPLETE);
}

static form_t *users_table(const struct store_user *u, size_t n)
{
    form_t *t = form_new(FORM_RESULT);

    form_add_column(t, "userid", FIELD_TEXT_SINGLE, &T_USERID);
    form_add_column(t, "directory_uri", FIELD_TEXT_SINGLE, &T_URI);
    form_add_column(t, "im_address", FIELD_TEXT_SINGLE, &T_IM);
    form_add_column(t, "node", FIELD_TEXT_SINGLE, &T_NODE);
    for (size_t i = 0; i < n; i++) {
        const char *cells[] = {u[i].userid, u[i].directory_uri, u[i].im_address, u[i].node};
        form_add_row(t, cells);
    }
    return t;
}

static void page_note(adhoc_call_t *call, long long page, long long pages, long long total)
{
    char *en = xasprintf("Page %lld of %lld (%lld user%s)%s", page, pages, total,
                         i18n_s((unsigned long long)total),
                         page > pages ? ": no users on this page." : ".");
    char *ko = xasprintf("%lld / %lld 페이지(사용자 %lld명)%s", page, pages, total,
                         page > pages ? ": 이 페이지에는 사용자가 없습니다." : ".");

    adhoc_note(call, ADHOC_NOTE_INFO, &(struct text){en, ko});
    free(en);
    free(ko);
}

static void list_step(adhoc_call_t *call)
{
    struct store *st = ((struct app *)call->ctx)->store;
    const char *filter;
    long long page, pages;
    struct store_user *u = NULL;
    size_t n = 0;
    int64_t total = 0;

    if (call->stage == 0) {
        list_form(call);
        return;
    }
    filter = form_value(call->form, "filter");
    page = form_int(call->form, "page", 1);
    if (page < 1)
        page = 1;
    /* The store finds where the page starts from the pages it read last (a walk through the
     * pages costs each page what the first does), not by stepping over every user before it. */
    if (store_user_page(st, filter, page, USERS_PAGE_ROWS, &u, &n, &total) != STORE_OK) {
        adhoc_refuse(call, "internal-server-error", NULL, store_errmsg(st));
        return;
    }
    pages = total > 0 ? (total + USERS_PAGE_ROWS - 1) / USERS_PAGE_ROWS : 1;
    page_note(call, page, pages, total);
    adhoc_complete(call, users_table(u, n));
    store_user_list_free(u, n);
}

static const struct adhoc_command import_cmd = {
    .node = "users/import",
    .name = {"Import users", "사용자 가져오기"},
    .open_to_all = false,
    .step = import_step,
    .cancel = NULL,
};

static const struct adhoc_command list_cmd = {
    .node = "users/list",
    .name = {"List users", "사용자 목록"},
    .open_to_all = false,
    .step = list_step,
    .cancel = NULL,
};

int cmd_users_register(struct app *app)
{
    import_job_register_kind(); /* before the runner picks up a job a restart left */
    if (adhoc_register(app->adhoc, &import_cmd, app) < 0)
        return -1;
    return adhoc_register(app->adhoc, &list_cmd, app);
}
