/* Applying users/import lines, one at a time, inside the caller's transaction; see
 * import_lines.h. Moved from cmd_users.c so that the import job applies lines by the same rules. */
#include "component/engine/import_lines.h"

#include "component/engine/user_check.h"
#include "store/store_directory.h"
#include "store/store_settings.h"
#include "store/store_user.h"
#include "util/xmalloc.h"
#include "xmpp/i18n.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_FIELDS_MAX 3 /* userid, directory_uri, node */

const char *const import_verdict_names[IMPORT_V_COUNT] = {"added", "updated", "unchanged",
                                                          "removed", "rejected"};

struct import_lines {
    struct store *st;
    char *lang;
    import_verdict_fn fn;
    void *ud;
    struct store_settings settings; /* read once: a new user's IM address follows them */
    bool have_settings;
    char *node; /* the node named last, and its id: lines name few nodes */
    int64_t node_id;
    bool edit_directory; /* the admin asked to edit users that came from the directory too */
    bool any_directory;  /* some user came from the directory (else no line needs the check) */
};

static void verdict(struct import_lines *im, size_t lineno, const char *userid,
                    enum import_verdict v, const char *reason)
{
    im->fn(im->ud, lineno, userid, v, reason);
}

/* Rejects the line with `reason` (taken). */
static void reject(struct import_lines *im, size_t lineno, const char *userid, char *reason)
{
    verdict(im, lineno, userid, IMPORT_REJECTED, reason);
    free(reason);
}

static const struct text R_FORMAT = {"expected userid,directory_uri[,node]",
                                     "userid,directory_uri[,node] 형식이어야 합니다"};
static const struct text R_FIELDS = {"too many fields: expected userid,directory_uri[,node]",
                                     "필드가 너무 많습니다. userid,directory_uri[,node] 형식이어야 "
                                     "합니다"};
static const struct text R_QUOTE = {
    "a field that opens with \" must close with \" before the next comma or the end of the line",
    "\"로 시작한 필드는 다음 쉼표나 줄 끝 앞에서 \"로 닫혀야 합니다"};
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
static enum store_rc check_node(struct import_lines *im, const char *node, const char *lang,
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

/* Splits at commas into at most LINE_FIELDS_MAX + 1 trimmed fields (the last one takes the
 * rest of the line); returns how many. A field in double quotes may hold commas: a userid or
 * a URI's name may (the directory gives such users), and users/export writes them so. Nothing
 * inside can be a double quote (the userid and URI rules refuse it), so there is no escape.
 * *bad_quote is set when a quoted field does not close before the next comma or the end. */
static size_t split(char *line, char *fields[LINE_FIELDS_MAX + 1], bool *bad_quote)
{
    size_t n = 0;
    char *p = line;
    bool comma = true;

    *bad_quote = false;
    while (comma && n < LINE_FIELDS_MAX + 1) {
        char *end;

        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '"' && n < LINE_FIELDS_MAX) {
            char *close = strchr(p + 1, '"');
            if (close == NULL) {
                *bad_quote = true;
                return n;
            }
            for (end = close + 1; *end == ' ' || *end == '\t' || *end == '\r'; end++)
                ;
            if (*end != ',' && *end != '\0') {
                *bad_quote = true;
                return n;
            }
            *close = '\0';
            fields[n] = p + 1;
        } else {
            end = n < LINE_FIELDS_MAX ? strchr(p, ',') : NULL;
            if (end == NULL)
                end = p + strlen(p);
            fields[n] = p;
        }
        comma = *end == ',';
        *end = '\0';
        if (fields[n] == p)
            trim(&fields[n]);
        n++;
        p = end + 1;
    }
    return n;
}

/* ---- applying one line ---- */

/* True (and the line rejected) when `userid` came from the directory and the admin did not ask
 * to edit those. *failed is set when the store fails. */
static bool directory_owned(struct import_lines *im, size_t lineno, const char *userid,
                            bool *failed)
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
static int remove_line(struct import_lines *im, size_t lineno, char *userid)
{
    char *reason;
    enum store_rc rc;
    bool failed = false;

    trim(&userid);
    size_t len = strlen(userid);
    if (len >= 2 && userid[0] == '"' && userid[len - 1] == '"') { /* -"a,b": as in user lines */
        userid[len - 1] = '\0';
        userid++;
    }
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
        verdict(im, lineno, userid, IMPORT_REMOVED, NULL);
    return rc == STORE_OK || rc == STORE_NOTFOUND ? 0 : -1;
}

static int upsert_line(struct import_lines *im, size_t lineno, const char *userid, const char *uri,
                       const char *node)
{
    static const enum import_verdict how_verdict[] = {
        [STORE_UPSERT_INSERTED] = IMPORT_ADDED,
        [STORE_UPSERT_UPDATED] = IMPORT_UPDATED,
        [STORE_UPSERT_UNCHANGED] = IMPORT_UNCHANGED,
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
static int user_line(struct import_lines *im, size_t lineno, char *line)
{
    char *f[LINE_FIELDS_MAX + 1], *reason = NULL;
    bool bad_quote;
    size_t n = split(line, f, &bad_quote);

    if (bad_quote) {
        reject(im, lineno, n > 0 ? f[0] : "", xstrdup(text_get(&R_QUOTE, im->lang)));
        return 0;
    }
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
static int import_line(struct import_lines *im, size_t lineno, const char *text, size_t len)
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

struct import_lines *import_lines_new(struct store *st, const char *lang, bool edit_directory,
                                      import_verdict_fn fn, void *ud)
{
    struct import_lines *im = xcalloc(1, sizeof(*im));

    im->st = st;
    im->lang = lang ? xstrdup(lang) : NULL;
    im->edit_directory = edit_directory;
    im->fn = fn;
    im->ud = ud;
    return im;
}

void import_lines_free(struct import_lines *im)
{
    if (im == NULL)
        return;
    free(im->lang);
    free(im->node);
    if (im->have_settings)
        store_settings_clear(&im->settings);
    free(im);
}

enum store_rc import_lines_begin(struct import_lines *im)
{
    bool any = true;
    enum store_rc rc;

    if (im->have_settings)
        store_settings_clear(&im->settings);
    im->have_settings = false;
    free(im->node); /* a node may have gone between two slices of a job */
    im->node = NULL;
    rc = store_settings_get(im->st, &im->settings);
    if (rc != STORE_OK)
        return rc;
    im->have_settings = true;
    rc = store_dir_any_user(im->st, &any);
    im->any_directory = rc != STORE_OK || any;
    return STORE_OK;
}

int import_lines_one(struct import_lines *im, size_t lineno, const char *text, size_t len)
{
    return import_line(im, lineno, text, len);
}
