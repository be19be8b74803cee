/* users/import and users/list: provisioning users from `userid,directory_uri[,node]` lines with
 * a verdict per line, all in one transaction that ends with the incremental sync audit; and the
 * users, filtered and paged by the store. */
#include "component/cmd/commands.h"
#include "component/engine/domain_rules.h"
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
#define LINE_FIELDS_MAX 3           /* userid, directory_uri, node */

/* What a line did; the names are the `result` cells scripts match. */
enum verdict { V_ADDED, V_UPDATED, V_UNCHANGED, V_REMOVED, V_REJECTED, V_COUNT };
static const char *const verdict_names[V_COUNT] = {"added", "updated", "unchanged", "removed",
                                                   "rejected"};

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
    struct store_settings settings; /* read once: a new user's IM address follows them */
    char *node;                     /* the node named last, and its id: lines name few nodes */
    int64_t node_id;
    bool edit_directory; /* the admin asked to edit users that came from the directory too */
    bool any_directory;  /* some user came from the directory (else no line needs the check) */
    form_t *table;       /* line, userid, result, reason; handed to the answer */
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
    "current address scheme. An empty directory URI means the user has none; without a node the "
    "current assignment is kept (the node must exist: see topology). A line -userid removes "
    "that user. Blank lines and lines starting with # are skipped. Every line gets a verdict; "
    "good lines are kept even when others are rejected. Afterwards the sync audit runs, so new "
    "domains appear system-managed and domains nobody uses any more become admin-managed.",
    "한 줄에 한 명씩 userid,directory_uri[,node] 형식으로 입력합니다. 새 사용자는 현재 주소 "
    "체계에 따라 IM 주소를 받습니다. 디렉터리 URI를 비워 두면 URI가 없는 사용자가 됩니다. "
    "노드를 생략하면 현재 할당이 유지됩니다(노드는 이미 있어야 합니다. topology 참조). "
    "-userid 줄은 그 사용자를 삭제합니다. 빈 줄과 #으로 시작하는 줄은 건너뜁니다. 줄마다 결과가 "
    "표시되며, 일부 줄이 거부되어도 올바른 줄은 저장됩니다. 이어서 동기화 감사가 실행되어 새 "
    "도메인은 시스템 관리로 나타나고 더 이상 쓰이지 않는 도메인은 관리자 관리로 바뀝니다."};

static const struct text R_FORMAT = {"expected userid,directory_uri[,node]",
                                     "userid,directory_uri[,node] 형식이어야 합니다"};
static const struct text R_FIELDS = {"too many fields: expected userid,directory_uri[,node]",
                                     "필드가 너무 많습니다. userid,directory_uri[,node] 형식이어야 "
                                     "합니다"};
static const struct text T_EDIT_DIR = {
    "Also edit users that come from the directory (the next directory sync puts the directory's "
    "values back)",
    "디렉터리에서 온 사용자도 편집(다음 디렉터리 동기화가 디렉터리의 값으로 되돌립니다)"};
static const struct text R_FROM_DIRECTORY = {
    "this user comes from the directory: change it there, or tick 'Also edit users that come "
    "from the directory'",
    "이 사용자는 디렉터리에서 왔습니다. 디렉터리에서 바꾸거나 '디렉터리에서 온 사용자도 편집'을 "
    "선택하십시오"};
static const struct text R_NO_USER = {"no such user to remove", "삭제할 사용자가 없습니다"};
static const struct text R_CONFLICT = {"conflicts with another user", "다른 사용자와 충돌합니다"};

/* ---- checking one line ---- */

/* An empty node keeps the assignment; a named one must exist (its id lands in im->node_id).
 * STORE_ERR aborts the import. */
static enum store_rc check_node(struct import *im, const char *node, const char *lang,
                                char **reason)
{
    enum store_rc rc;

    if (node[0] == '\0')
        return STORE_OK;
    if (im->node != NULL && strcmp(im->node, node) == 0)
        return STORE_OK;
    free(im->node);
    im->node = NULL;
    rc = store_user_node_id(im->st, node, &im->node_id);
    if (rc == STORE_OK)
        im->node = xstrdup(node);
    if (rc == STORE_NOTFOUND) {
        *reason = xasprintf(i18n_is_korean(lang)
                                ? "알 수 없는 노드 %s: 먼저 topology/edit로 추가하거나 노드를 "
                                  "비워 두십시오"
                                : "unknown node %s: add it with topology/edit first, or leave "
                                  "the node out",
                            node);
        return STORE_OK;
    }
    return rc;
}

/* ---- the verdict table ---- */

static void trim(char **s)
{
    char *p = *s, *end;

    while (*p == ' ' || *p == '\t')
        p++;
    end = p + strlen(p);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        *--end = '\0';
    *s = p;
}

static void verdict(struct import *im, size_t lineno, const char *userid, enum verdict v,
                    const char *reason)
{
    char num[24];

    snprintf(num, sizeof(num), "%zu", lineno);
    const char *cells[] = {num, userid, verdict_names[v], reason != NULL ? reason : ""};
    form_add_row(im->table, cells);
    im->counts[v]++;
}

/* Rejects the line with `reason` (taken). */
static void reject(struct import *im, size_t lineno, const char *userid, char *reason)
{
    verdict(im, lineno, userid, V_REJECTED, reason);
    free(reason);
}

/* Splits at commas into at most LINE_FIELDS_MAX + 1 trimmed fields; returns how many. */
static size_t split(char *line, char *fields[LINE_FIELDS_MAX + 1])
{
    size_t n = 0;
    char *p = line;

    while (n < LINE_FIELDS_MAX + 1) {
        char *comma = strchr(p, ',');
        if (comma != NULL && n < LINE_FIELDS_MAX)
            *comma = '\0';
        fields[n] = p;
        trim(&fields[n]);
        n++;
        if (comma == NULL || n == LINE_FIELDS_MAX + 1)
            break;
        p = comma + 1;
    }
    return n;
}

/* ---- applying one line ---- */

/* True (and the line rejected) when `userid` came from the directory and the admin did not ask
 * to edit those. *failed is set when the store fails. */
static bool directory_owned(struct import *im, size_t lineno, const char *userid, bool *failed)
{
    bool yes = false;
    enum store_rc rc;

    if (im->edit_directory || !im->any_directory)
        return false;
    rc = store_user_from_directory(im->st, userid, &yes);
    if (rc != STORE_OK && rc != STORE_NOTFOUND) {
        *failed = true;
        return true;
    }
    if (yes)
        reject(im, lineno, userid, xstrdup(text_get(&R_FROM_DIRECTORY, im->lang)));
    return yes;
}

/* "-userid": removes the user. Returns -1 only when the store fails. */
static int remove_line(struct import *im, size_t lineno, char *userid)
{
    char *reason;
    enum store_rc rc;
    bool failed = false;

    trim(&userid);
    if ((reason = user_check_userid(userid, im->lang)) != NULL) {
        reject(im, lineno, userid, reason);
        return 0;
    }
    if (directory_owned(im, lineno, userid, &failed))
        return failed ? -1 : 0;
    rc = store_user_delete(im->st, userid);
    if (rc == STORE_NOTFOUND)
        reject(im, lineno, userid, xstrdup(text_get(&R_NO_USER, im->lang)));
    else if (rc == STORE_OK)
        verdict(im, lineno, userid, V_REMOVED, NULL);
    return rc == STORE_OK || rc == STORE_NOTFOUND ? 0 : -1;
}

static int upsert_line(struct import *im, size_t lineno, const char *userid, const char *uri,
                       const char *node)
{
    static const enum verdict how_verdict[] = {
        [STORE_UPSERT_INSERTED] = V_ADDED,
        [STORE_UPSERT_UPDATED] = V_UPDATED,
        [STORE_UPSERT_UNCHANGED] = V_UNCHANGED,
    };
    enum store_upsert how;
    enum store_rc rc;
    bool failed = false;

    if (directory_owned(im, lineno, userid, &failed))
        return failed ? -1 : 0;
    rc = store_user_import_row(im->st, &im->settings, userid, uri, node[0] ? im->node_id : 0,
                               node[0] == '\0', &how);

    if (rc == STORE_OK)
        verdict(im, lineno, userid, how_verdict[how], NULL);
    else if (rc == STORE_CONFLICT)
        reject(im, lineno, userid, xstrdup(text_get(&R_CONFLICT, im->lang)));
    return rc == STORE_OK || rc == STORE_CONFLICT ? 0 : -1;
}

/* "userid,directory_uri[,node]". Returns -1 only when the store fails. */
static int user_line(struct import *im, size_t lineno, char *line)
{
    char *f[LINE_FIELDS_MAX + 1], *reason = NULL;
    size_t n = split(line, f);

    if (n < 2 || n > LINE_FIELDS_MAX)
        reason = xstrdup(text_get(n < 2 ? &R_FORMAT : &R_FIELDS, im->lang));
    if (reason == NULL)
        reason = user_check_userid(f[0], im->lang);
    if (reason == NULL)
        reason = user_check_uri(f[1], im->lang);
    if (reason == NULL && n == 3 && check_node(im, f[2], im->lang, &reason) != STORE_OK)
        return -1;
    if (reason != NULL) {
        reject(im, lineno, f[0], reason);
        return 0;
    }
    return upsert_line(im, lineno, f[0], f[1], n == 3 ? f[2] : "");
}

/* One line of text (not NUL-terminated). Returns -1 only when the store fails. */
static int import_line(struct import *im, size_t lineno, const char *text, size_t len)
{
    char *copy = xstrndup(text, len), *line = copy;
    int rc = 0;

    trim(&line);
    if (line[0] == '-')
        rc = remove_line(im, lineno, line + 1);
    else if (line[0] != '\0' && line[0] != '#')
        rc = user_line(im, lineno, line);
    free(copy);
    return rc;
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
        form_column_value_label(im->table, "result", verdict_names[v], &verdict_texts[v]);
    return im;
}

static void import_free(void *arg)
{
    struct import *im = arg;

    form_free(im->table);
    free(im->node);
    store_settings_clear(&im->settings);
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

static void import_form(adhoc_call_t *call)
{
    form_t *f = form_new(FORM_FORM);
    form_field_t *users;

    form_set_title(f, &T_IMPORT);
    form_add_instructions(f, &I_IMPORT);
    users = form_add_field(f, "users", FIELD_TEXT_MULTI, &T_USERS);
    form_field_set_required(users, true);
    form_field_add_bool(form_add_field(f, "audit", FIELD_BOOLEAN, &T_AUDIT), true);
    form_field_add_bool(form_add_field(f, "edit_directory_users", FIELD_BOOLEAN, &T_EDIT_DIR),
                        false);
    adhoc_show(call, f, ADHOC_ALLOW_COMPLETE, ADHOC_COMPLETE);
}

/* Every line, then the sync audit, in one transaction. Returns -1 (rolled back) on a store
 * failure, with *err set. */
static int import_all(struct import *im, const char *const *values, size_t n, char **err)
{
    if (store_begin(im->st) != STORE_OK) {
        *err = xasprintf("cannot start the import: %s", store_errmsg(im->st));
        return -1;
    }
    if (store_settings_get(im->st, &im->settings) != STORE_OK ||
        each_line(im, values, n, import_line) == -1) {
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
    int64_t dir_users = 0;
    struct app *app = call->ctx;
    const char *const *values = NULL;
    size_t n;
    struct import *im;
    char *err = NULL;

    if (call->stage == 0) {
        import_form(call);
        return;
    }
    n = form_values(call->form, "users", &values);
    im = import_new(app->store, call->lang);
    im->peer_since = peers_counted_now(app);
    im->audit = form_bool(call->form, "audit", true);
    im->edit_directory = form_bool(call->form, "edit_directory_users", false);
    im->any_directory = store_dir_count_users(app->store, &dir_users) != STORE_OK || dir_users > 0;
    if (each_line(im, values, n, count_line) == -1) {
        char *why = xasprintf("more than %d lines in one import; split it into several calls",
                              IMPORT_LINES_MAX);
        adhoc_refuse(call, "bad-request", "bad-payload", why);
        free(why);
        import_free(im);
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
    if (store_user_count(st, filter, &total) != STORE_OK ||
        store_user_list(st, filter, USERS_PAGE_ROWS, (page - 1) * USERS_PAGE_ROWS, &u, &n) !=
            STORE_OK) {
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
    if (adhoc_register(app->adhoc, &import_cmd, app) < 0)
        return -1;
    return adhoc_register(app->adhoc, &list_cmd, app);
}
