/* Unit tests for users/import, users/list and sync/audit driven through the XEP-0050 framework:
 * per-line verdicts and reasons (English and Korean), removal lines, the incremental sync at the
 * end of an import, the line limit, list paging, and answers that wait for the router. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "component/cmd/commands.h"
#include "component/engine/import_job.h"
#include "component/engine/sync.h"
#include "store/store_domain.h"
#include "store/store_import_job.h"
#include "store/store_topo.h"
#include "store/store_user.h"
#include "util/log.h"
#include "xmpp/stanza.h"
#include "tests/lib/cmd_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* With a publisher, pub.example, for the lines that name a node. */
static int setup(void **state)
{
    struct cmd_fx *fx = cmd_fx_open("cmdusers", NULL);

    if (fx == NULL || cmd_users_register(&fx->app) < 0 ||
        cmd_users_export_register(&fx->app) < 0 || cmd_sync_register(&fx->app) < 0)
        return -1;
    assert_int_equal(
        store_node_insert(fx->app.store, "pub.example", STORE_NODE_PUBLISHER, "15.0", NULL),
        STORE_OK);
    *state = fx;
    return 0;
}

/* ---- requests ---- */

/* `node` with `fields` (NULL: no form) submitted at once (complete); answered at once unless
 * `late` (the command waits for the router's reload hook). */
static xmpp_stanza_t *submit(struct cmd_fx *fx, const char *lang, const char *node,
                             const char *fields, bool late)
{
    xmpp_stanza_t *reply = req(fx, lang, node, NULL, "complete", fields);

    assert_int_equal(fx->deferred, late);
    return reply;
}

/* One field `var` holding `values` (NULL-terminated). */
static char *field_of(const char *var, const char *const *values)
{
    size_t len = 64;
    for (size_t i = 0; values[i] != NULL; i++)
        len += strlen(values[i]) + 16;
    char *x = malloc(len), *p = x;
    p += sprintf(p, "<field var='%s'>", var);
    for (size_t i = 0; values[i] != NULL; i++)
        p += sprintf(p, "<value>%s</value>", values[i]);
    strcpy(p, "</field>");
    return x;
}

static xmpp_stanza_t *import(struct cmd_fx *fx, const char *lang, const char *const *lines)
{
    char *field = field_of("users", lines);
    xmpp_stanza_t *r = submit(fx, lang, "users/import", field, false);
    free(field);
    return r;
}

static xmpp_stanza_t *list(struct cmd_fx *fx, const char *lang, const char *filter, int page)
{
    char fields[256];

    snprintf(fields, sizeof(fields),
             "<field var='filter'><value>%s</value></field>"
             "<field var='page'><value>%d</value></field>",
             filter, page);
    return submit(fx, lang, "users/list", fields, false);
}

/* ---- reading replies ---- */

static xmpp_stanza_t *command_of(xmpp_stanza_t *reply)
{
    xmpp_stanza_t *c = xmpp_stanza_get_child_by_name(reply, "command");
    if (c == NULL) {
        char *buf = NULL;
        size_t len = 0;
        xmpp_stanza_to_text(reply, &buf, &len);
        fail_msg("no <command/> in %s", buf);
    }
    return c;
}

/* The n-th <x/> of the reply's command (0-based), or NULL: of the results for programs when
 * there are (the form beside them is for people). */
static xmpp_stanza_t *nth_x(xmpp_stanza_t *reply, int n)
{
    xmpp_stanza_t *data = xmpp_stanza_get_child_by_ns(command_of(reply), "urn:imdomaind:results");

    for (xmpp_stanza_t *c = xmpp_stanza_get_children(data ? data : command_of(reply)); c;
         c = xmpp_stanza_get_next(c)) {
        const char *name = xmpp_stanza_get_name(c);
        if (name != NULL && strcmp(name, "x") == 0 && n-- == 0)
            return c;
    }
    return NULL;
}

static const char *value_of(xmpp_stanza_t *field)
{
    xmpp_stanza_t *v = field ? xmpp_stanza_get_child_by_name(field, "value") : NULL;
    xmpp_stanza_t *t = v ? xmpp_stanza_get_children(v) : NULL;
    return t ? xmpp_stanza_get_text_ptr(t) : "";
}

static xmpp_stanza_t *field_in(xmpp_stanza_t *parent, const char *var)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(parent); c; c = xmpp_stanza_get_next(c)) {
        const char *v = xmpp_stanza_get_attribute(c, "var");
        if (v != NULL && strcmp(v, var) == 0)
            return c;
    }
    return NULL;
}

static size_t row_count(xmpp_stanza_t *x)
{
    size_t n = 0;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(x); c; c = xmpp_stanza_get_next(c))
        if (strcmp(xmpp_stanza_get_name(c), "item") == 0)
            n++;
    return n;
}

static const char *cell(xmpp_stanza_t *x, size_t row, const char *var)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(x); c; c = xmpp_stanza_get_next(c))
        if (strcmp(xmpp_stanza_get_name(c), "item") == 0 && row-- == 0)
            return value_of(field_in(c, var));
    fail_msg("no such row");
    return NULL;
}

static const char *label_of(xmpp_stanza_t *x, const char *var)
{
    xmpp_stanza_t *rep = xmpp_stanza_get_child_by_name(x, "reported");
    xmpp_stanza_t *f = field_in(rep != NULL ? rep : x, var);
    assert_non_null(f);
    return xmpp_stanza_get_attribute(f, "label");
}

/* True when some <note/> of the reply contains `needle`. */
static bool has_note(xmpp_stanza_t *reply, const char *needle)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(command_of(reply)); c;
         c = xmpp_stanza_get_next(c)) {
        const char *name = xmpp_stanza_get_name(c);
        xmpp_stanza_t *t = xmpp_stanza_get_children(c);
        if (name && strcmp(name, "note") == 0 && t &&
            strstr(xmpp_stanza_get_text_ptr(t), needle) != NULL)
            return true;
    }
    return false;
}

static void assert_note(xmpp_stanza_t *reply, const char *needle)
{
    if (!has_note(reply, needle)) {
        char *buf = NULL;
        size_t len = 0;
        xmpp_stanza_to_text(reply, &buf, &len);
        fail_msg("no note with '%s' in %s", needle, buf);
    }
}

static void assert_domain(struct cmd_fx *fx, const char *name, enum store_managed_by by)
{
    struct store_domain d;

    assert_int_equal(store_domain_get(fx->app.store, name, &d), STORE_OK);
    assert_int_equal(d.managed_by, by);
    store_domain_clear(&d);
}

/* ---- users/import ---- */

static void test_import_verdicts(void **state)
{
    struct cmd_fx *fx = *state;
    static const char *const lines[] = {
        "alice,alice@sales.example.com",               /* 1 added */
        "bob,bob@sales.example.com,nonode",            /* 2 unknown node */
        ",x@y.example",                                /* 3 empty userid */
        "carol,carol@abc.1om",                         /* 4 domain rule */
        "dave,no-at-sign",                             /* 5 URI form */
        "",                                            /* 6 skipped */
        "# a comment",                                 /* 7 skipped */
        " erin , erin@Eng.example.com , PUB.example ", /* 8 added, trimmed, node any case */
        "frank",                                       /* 9 format */
        "g h,g@x.example",                             /* 10 userid char */
        "ivan,ivan@a.example,pub.example,x",           /* 11 too many fields */
        "judy,",                                       /* 12 added: no directory URI */
        NULL};
    xmpp_stanza_t *r = import(fx, NULL, lines);
    xmpp_stanza_t *t = nth_x(r, 0);
    struct store_user u;

    assert_string_equal(status_of(r), "completed");
    assert_int_equal(row_count(t), 10);
    assert_string_equal(cell(t, 0, "line"), "1");
    assert_string_equal(cell(t, 0, "result"), "added");
    assert_string_equal(cell(t, 1, "result"), "rejected");
    assert_non_null(strstr(cell(t, 1, "reason"), "unknown node nonode"));
    assert_string_equal(cell(t, 2, "reason"), "empty userid");
    assert_non_null(strstr(cell(t, 3, "reason"), "the last label must not start with a digit"));
    assert_non_null(strstr(cell(t, 4, "reason"), "name@domain"));
    assert_string_equal(cell(t, 5, "line"), "8");
    assert_string_equal(cell(t, 5, "userid"), "erin");
    assert_string_equal(cell(t, 5, "result"), "added");
    assert_non_null(strstr(cell(t, 6, "reason"), "expected userid,directory_uri"));
    assert_non_null(strstr(cell(t, 7, "reason"), "space"));
    assert_non_null(strstr(cell(t, 8, "reason"), "too many fields"));
    assert_string_equal(cell(t, 9, "result"), "added");
    assert_note(r, "3 added, 0 updated, 0 unchanged, 0 removed, 7 rejected.");
    assert_note(r, "Rejected lines changed nothing");
    assert_note(r, "2 domain(s) added");

    assert_int_equal(store_user_get(fx->app.store, "erin", &u), STORE_OK);
    assert_string_equal(u.node, "pub.example");
    assert_string_equal(u.directory_uri, "erin@Eng.example.com");
    store_user_clear(&u);
    assert_int_equal(store_user_get(fx->app.store, "bob", NULL), STORE_NOTFOUND);
    assert_domain(fx, "sales.example.com", STORE_MANAGED_SYSTEM);
    assert_domain(fx, "eng.example.com", STORE_MANAGED_SYSTEM);
    assert_int_equal(store_domain_exists(fx->app.store, "abc.1om"), STORE_NOTFOUND);
    /* the sync audit's counts come second, its changes third */
    assert_string_equal(value_of(field_in(nth_x(r, 1), "added")), "2");
    assert_int_equal(row_count(nth_x(r, 2)), 2);
    xmpp_stanza_release(r);
}

static void test_import_update_remove(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r;

    r = import(fx, NULL, (const char *const[]){"alice,alice@a.example", NULL});
    xmpp_stanza_release(r);
    r = import(fx, NULL, (const char *const[]){"ALICE,alice@b.example", "bob,bob@b.example", NULL});
    assert_string_equal(cell(nth_x(r, 0), 0, "result"), "updated");
    assert_note(r, "1 flipped system-managed to admin-managed"); /* a.example is unused now */
    xmpp_stanza_release(r);
    assert_domain(fx, "a.example", STORE_MANAGED_ADMIN);

    r = import(
        fx, NULL,
        (const char *const[]){"ALICE,alice@b.example", "-alice", "- bob ", "-nobody", "-", NULL});
    xmpp_stanza_t *t = nth_x(r, 0);
    assert_string_equal(cell(t, 0, "result"), "unchanged");
    assert_string_equal(cell(t, 1, "result"), "removed");
    assert_string_equal(cell(t, 2, "userid"), "bob");
    assert_string_equal(cell(t, 2, "result"), "removed");
    assert_string_equal(cell(t, 3, "reason"), "no such user to remove");
    assert_string_equal(cell(t, 4, "reason"), "empty userid");
    assert_string_equal(value_of(field_in(nth_x(r, 1), "system_to_admin")), "1");
    xmpp_stanza_release(r);
    assert_domain(fx, "b.example", STORE_MANAGED_ADMIN);
    assert_int_equal(store_user_get(fx->app.store, "alice", NULL), STORE_NOTFOUND);
}

/* A userid or a URI's name may hold a comma (the directory gives such users): in a line such a
 * field is in double quotes. users/export writes them so, and users/import reads them back
 * unchanged; a quote that does not close before the next comma is refused. */
static void test_commas_round_trip(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r, *t, *users;
    struct store_user u;
    const char *out[8] = {0};
    size_t n = 0;

    r = import(fx, NULL,
               (const char *const[]){"\"a,b\",\"x,y@corp.example\",pub.example",
                                     " \"c,d\" , c@corp.example", "\"e,f,e@corp.example",
                                     "\"g\"h,g@corp.example", "plain,p@corp.example", NULL});
    t = nth_x(r, 0);
    assert_int_equal(row_count(t), 5);
    assert_string_equal(cell(t, 0, "userid"), "a,b");
    assert_string_equal(cell(t, 0, "result"), "added");
    assert_string_equal(cell(t, 1, "userid"), "c,d");
    assert_string_equal(cell(t, 1, "result"), "added");
    for (size_t i = 2; i < 4; i++) {
        assert_string_equal(cell(t, i, "result"), "rejected");
        assert_non_null(strstr(cell(t, i, "reason"), "must close with"));
    }
    assert_string_equal(cell(t, 4, "result"), "added");
    xmpp_stanza_release(r);
    assert_int_equal(store_user_get(fx->app.store, "a,b", &u), STORE_OK);
    assert_string_equal(u.directory_uri, "x,y@corp.example");
    assert_string_equal(u.node, "pub.example");
    store_user_clear(&u);

    r = req(fx, NULL, "users/export", NULL, "complete", "");
    assert_string_equal(status_of(r), "completed");
    assert_false(has_note(r, "left out"));
    users = field_in(nth_x(r, 0), "users");
    assert_non_null(users);
    for (xmpp_stanza_t *v = xmpp_stanza_get_children(users); v && n < 7;
         v = xmpp_stanza_get_next(v)) {
        xmpp_stanza_t *text = xmpp_stanza_get_children(v);
        out[n++] = text ? xmpp_stanza_get_text_ptr(text) : "";
    }
    assert_int_equal(n, 4); /* the header and the three users */
    assert_string_equal(out[1], "\"a,b\",\"x,y@corp.example\",pub.example");
    assert_string_equal(out[2], "\"c,d\",c@corp.example");
    assert_string_equal(out[3], "plain,p@corp.example");

    xmpp_stanza_t *again = import(fx, NULL, out);
    assert_note(again, "0 added, 0 updated, 3 unchanged, 0 removed, 0 rejected.");
    xmpp_stanza_release(again);
    xmpp_stanza_release(r);

    r = import(fx, NULL, (const char *const[]){"-\"a,b\"", "-c,d", NULL});
    t = nth_x(r, 0);
    assert_string_equal(cell(t, 0, "result"), "removed");
    assert_string_equal(cell(t, 1, "result"), "removed");
    xmpp_stanza_release(r);
    assert_int_equal(store_user_get(fx->app.store, "a,b", NULL), STORE_NOTFOUND);
    assert_int_equal(store_user_get(fx->app.store, "c,d", NULL), STORE_NOTFOUND);
}

/* A client that sends the whole text as one value with newlines (and CRLF). */
static void test_import_one_value(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r =
        import(fx, NULL, (const char *const[]){"a,a@x.example\r\n\r\nb,b@x.example\r\nc", NULL});
    xmpp_stanza_t *t = nth_x(r, 0);

    assert_int_equal(row_count(t), 3);
    assert_string_equal(cell(t, 0, "line"), "1");
    assert_string_equal(cell(t, 1, "line"), "3");
    assert_string_equal(cell(t, 1, "result"), "added");
    assert_string_equal(cell(t, 2, "line"), "4");
    assert_string_equal(cell(t, 2, "result"), "rejected");
    xmpp_stanza_release(r);
}

static void test_import_korean(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r =
        import(fx, "ko", (const char *const[]){"kim,kim@abc.1om", "lee,lee@ko.example", NULL});
    xmpp_stanza_t *t = nth_x(r, 0);

    assert_string_equal(label_of(t, "userid"), "사용자 ID");
    assert_string_equal(label_of(t, "reason"), "이유");
    assert_non_null(strstr(cell(t, 0, "reason"), "디렉터리 URI의 도메인 부분이 잘못되었습니다"));
    assert_note(r, "추가 1, 변경 0, 그대로 0, 삭제 0, 거부 1.");
    assert_note(r, "동기화 감사: 도메인 1개 추가");
    assert_string_equal(label_of(nth_x(r, 1), "added"), "추가된 도메인");
    xmpp_stanza_release(r);
}

/* ~10,000 lines, about what a 512 KiB stanza holds: all kept in one call. */
/* The largest import that runs at once under the default [users] import_job_lines. */
static void test_import_large(void **state)
{
    struct cmd_fx *fx = *state;
    enum { N = 5000 };
    char **lines = calloc(N + 1, sizeof(*lines));
    int64_t count = 0;

    for (int i = 0; i < N; i++)
        assert_true(asprintf(&lines[i], "user%05d,user%05d@dept%02d.example.com", i, i, i % 50) >
                    0);
    xmpp_stanza_t *r = import(fx, NULL, (const char *const *)lines);
    assert_note(r, "5000 added, 0 updated");
    assert_note(r, "50 domain(s) added");
    xmpp_stanza_release(r);
    assert_int_equal(store_user_count(fx->app.store, NULL, &count), STORE_OK);
    assert_int_equal(count, N);
    assert_int_equal(store_domain_count(fx->app.store, NULL, &count), STORE_OK);
    assert_int_equal(count, 50);
    for (int i = 0; i < N; i++)
        free(lines[i]);
    free(lines);
}

/* Above the threshold: the lines are stored and a user-import job applies them in slices (run
 * here by hand: the fixture has no job runner), the audit once at the end. */
static void test_import_job(void **state)
{
    struct cmd_fx *fx = *state;
    enum { N = 12000 };
    char **lines = calloc(N + 1, sizeof(*lines));
    int64_t count = 0;
    struct store_job j;
    int steps = 0;

    for (int i = 0; i < N; i++)
        assert_true(asprintf(&lines[i], "job%05d,job%05d@dept%02d.example.com", i, i, i % 7) > 0);
    free(lines[17]);
    lines[17] = strdup("bad user,x@y.example");
    xmpp_stanza_t *r = import(fx, NULL, (const char *const *)lines);
    assert_string_equal(status_of(r), "executing");
    assert_note(r, "users/import of 12000 lines: running, 0 of 12000");
    xmpp_stanza_release(r);
    assert_int_equal(store_user_count(fx->app.store, NULL, &count), STORE_OK);
    assert_int_equal(count, 0);
    assert_int_equal(store_job_get_active(fx->app.store, &j), STORE_OK);
    assert_int_equal(j.kind, STORE_JOB_USER_IMPORT);
    while (import_job_step(&fx->app, &j) == 1) {
        store_job_clear(&j);
        assert_int_equal(store_job_get(fx->app.store, 1, &j), STORE_OK);
        steps++;
    }
    store_job_clear(&j);
    assert_true(steps >= 2); /* at most IMPORT_SLICE_LINES a slice, then the audit */
    assert_int_equal(store_job_get(fx->app.store, 1, &j), STORE_OK);
    assert_int_equal(j.state, STORE_JOB_COMPLETED);
    assert_int_equal(j.done, N);
    store_job_clear(&j);
    assert_int_equal(store_user_count(fx->app.store, NULL, &count), STORE_OK);
    assert_int_equal(count, N - 1);
    assert_int_equal(store_domain_count(fx->app.store, NULL, &count), STORE_OK);
    assert_int_equal(count, 7); /* the audit (walking the domains) added them */
    for (int i = 0; i < N; i++)
        free(lines[i]);
    free(lines);
}

/* One part of an upload in parts: `lines` in users=, more on or off, in session `sid` (NULL:
 * the first part). */
static xmpp_stanza_t *import_part(struct cmd_fx *fx, const char *sid, const char *const *lines,
                                  bool more)
{
    char *users = field_of("users", lines), *fields = NULL;
    xmpp_stanza_t *reply;

    assert_true(asprintf(&fields, "%s<field var='more'><value>%d</value></field>", users, more) >
                0);
    reply = req(fx, NULL, "users/import", sid, "complete", fields);
    assert_false(fx->deferred);
    free(fields);
    free(users);
    return reply;
}

/* The runner resumes while a session still sends its upload in parts: the daemon resumes it
 * each time the instance becomes active, and its control socket takes commands before that. The
 * upload stays and the last part starts the job with every line; before, the resume discarded
 * it and the next part failed in the store (a foreign key to the deleted upload). An upload no
 * session sends any more is discarded. */
static void test_upload_survives_resume(void **state)
{
    struct cmd_fx *fx = *state;
    const char *first[] = {"p1,p1@parts.example", "p2,p2@parts.example", NULL};
    const char *last[] = {"p3,p3@parts.example", NULL};
    int64_t n = -1, orphan = 0;
    struct store_import r;
    struct store_job j;

    xmpp_stanza_t *r1 = import_part(fx, NULL, first, true);
    assert_string_equal(status_of(r1), "executing");
    assert_note(r1, "Part stored: lines 1 to 2");
    char *sid = strdup(xmpp_stanza_get_attribute(command_of(r1), "sessionid"));
    xmpp_stanza_release(r1);

    import_job_startup(&fx->app); /* what job_runner_resume() runs */
    assert_int_equal(store_import_uploading(fx->app.store, &n), STORE_OK);
    assert_int_equal(n, 1);

    xmpp_stanza_t *r2 = import_part(fx, sid, last, false);
    assert_string_equal(xmpp_stanza_get_type(r2), "result");
    assert_note(r2, "users/import of 3 lines: running");
    xmpp_stanza_release(r2);
    assert_int_equal(store_job_get_active(fx->app.store, &j), STORE_OK);
    assert_int_equal(j.kind, STORE_JOB_USER_IMPORT);
    assert_int_equal(j.total, 3);
    assert_int_equal(store_import_get_by_job(fx->app.store, j.id, &r), STORE_OK);
    assert_int_equal(r.lines, 3);
    store_import_clear(&r);
    store_job_clear(&j);
    assert_int_equal(fx->app.import_upload, 0);
    free(sid);

    /* An upload whose sender went away (created here with no session sending it). */
    assert_int_equal(store_import_create(fx->app.store, "uid:0", NULL, false, true, &orphan),
                     STORE_OK);
    assert_int_equal(store_import_uploading(fx->app.store, &n), STORE_OK);
    assert_int_equal(n, 1);
    import_job_startup(&fx->app);
    assert_int_equal(store_import_uploading(fx->app.store, &n), STORE_OK);
    assert_int_equal(n, 0);
}

/* More lines than one call takes: refused as a whole, nothing stored. */
static void test_import_too_many_lines(void **state)
{
    struct cmd_fx *fx = *state;
    enum { PER_VALUE = 8000, VALUES = 7 }; /* 56,000 lines, each value under 8 KiB */
    char *v = malloc(PER_VALUE + 32);
    const char *values[VALUES + 1];
    int64_t count = -1;

    snprintf(v, PER_VALUE + 32, "x,x@x.example");
    memset(v + strlen(v), '\n', PER_VALUE - strlen(v));
    v[PER_VALUE] = '\0';
    for (int i = 0; i < VALUES; i++)
        values[i] = v;
    values[VALUES] = NULL;
    xmpp_stanza_t *r = import(fx, NULL, values);
    assert_string_equal(xmpp_stanza_get_type(r), "error");
    xmpp_stanza_t *err = xmpp_stanza_get_child_by_name(r, "error");
    assert_non_null(xmpp_stanza_get_child_by_name(err, "bad-payload"));
    xmpp_stanza_release(r);
    assert_int_equal(store_user_count(fx->app.store, NULL, &count), STORE_OK);
    assert_int_equal(count, 0);
    free(v);
}

static void test_import_form(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r = req(fx, "ko", "users/import", NULL, "execute", NULL);
    xmpp_stanza_t *x = nth_x(r, 0);

    assert_false(fx->deferred);
    assert_string_equal(status_of(r), "executing");
    assert_string_equal(xmpp_stanza_get_attribute(field_in(x, "users"), "type"), "text-multi");
    assert_non_null(xmpp_stanza_get_child_by_name(field_in(x, "users"), "required"));
    char *instr = xmpp_stanza_get_text(xmpp_stanza_get_child_by_name(x, "instructions"));
    assert_non_null(strstr(instr, "-userid 줄은 그 사용자를 삭제합니다"));
    xmpp_free(fx->app.ctx, instr);
    xmpp_stanza_release(r);
}

/* ---- users/list ---- */

static void test_list_paging(void **state)
{
    struct cmd_fx *fx = *state;
    char uid[16], uri[48];
    xmpp_stanza_t *r;

    store_begin(fx->app.store);
    for (int i = 0; i < 250; i++) {
        snprintf(uid, sizeof(uid), "u%03d", i);
        snprintf(uri, sizeof(uri), "u%03d@x.example", i);
        assert_int_equal(
            store_user_upsert(fx->app.store, uid, uri, i == 0 ? "pub.example" : NULL, NULL),
            STORE_OK);
    }
    store_commit(fx->app.store);

    r = list(fx, NULL, "", 1);
    assert_string_equal(status_of(r), "completed");
    assert_int_equal(row_count(nth_x(r, 0)), 100);
    assert_string_equal(cell(nth_x(r, 0), 0, "userid"), "u000");
    assert_string_equal(cell(nth_x(r, 0), 0, "node"), "pub.example");
    assert_string_equal(cell(nth_x(r, 0), 0, "directory_uri"), "u000@x.example");
    assert_string_equal(cell(nth_x(r, 0), 0, "im_address"), "u000@DOMAIN.NOT.SET");
    assert_note(r, "Page 1 of 3 (250 users).");
    xmpp_stanza_release(r);

    r = list(fx, NULL, "", 3);
    assert_int_equal(row_count(nth_x(r, 0)), 50);
    assert_string_equal(cell(nth_x(r, 0), 0, "userid"), "u200");
    xmpp_stanza_release(r);

    r = list(fx, NULL, "", 4);
    assert_int_equal(row_count(nth_x(r, 0)), 0);
    assert_note(r, "Page 4 of 3 (250 users): no users on this page.");
    xmpp_stanza_release(r);

    /* a walk forward and back (the store starts each page where it found the last one) */
    for (int p = 1; p <= 6; p++) {
        int page = p <= 3 ? p : 7 - p;
        r = list(fx, NULL, "", page);
        snprintf(uid, sizeof(uid), "u%03d", (page - 1) * 100);
        assert_string_equal(cell(nth_x(r, 0), 0, "userid"), uid);
        snprintf(uid, sizeof(uid), "u%03d", page == 3 ? 249 : page * 100 - 1);
        assert_string_equal(cell(nth_x(r, 0), row_count(nth_x(r, 0)) - 1, "userid"), uid);
        xmpp_stanza_release(r);
    }
    /* a user added before the pages between two of them: every later page moves by one, as
     * numbered pages always did */
    assert_int_equal(store_user_upsert(fx->app.store, "t000", "", NULL, NULL), STORE_OK);
    r = list(fx, NULL, "", 2);
    assert_string_equal(cell(nth_x(r, 0), 0, "userid"), "u099");
    assert_note(r, "Page 2 of 3 (251 users).");
    xmpp_stanza_release(r);
    r = list(fx, NULL, "", 1);
    assert_string_equal(cell(nth_x(r, 0), 0, "userid"), "t000");
    xmpp_stanza_release(r);
    assert_int_equal(store_user_delete(fx->app.store, "t000"), STORE_OK);

    r = list(fx, "ko", "U01", 1);
    assert_int_equal(row_count(nth_x(r, 0)), 10);
    assert_note(r, "1 / 1 페이지(사용자 10명).");
    assert_string_equal(label_of(nth_x(r, 0), "im_address"), "IM 주소");
    xmpp_stanza_release(r);
}

/* ---- sync/audit ---- */

static void test_sync_audit_command(void **state)
{
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r = submit(fx, NULL, "sync/audit", NULL, false);

    assert_string_equal(status_of(r), "completed");
    assert_note(r, "Nothing to do");
    assert_string_equal(value_of(field_in(nth_x(r, 0), "added")), "0");
    assert_null(nth_x(r, 1));
    xmpp_stanza_release(r);

    assert_int_equal(store_domain_insert(fx->app.store, "idle.example", STORE_MANAGED_SYSTEM, true),
                     STORE_OK);
    assert_int_equal(store_user_upsert(fx->app.store, "u1", "u1@new.example", NULL, NULL),
                     STORE_OK);
    r = submit(fx, "ko", "sync/audit", NULL, false);
    assert_note(r, "동기화 감사: 도메인 1개 추가");
    xmpp_stanza_t *t = nth_x(r, 1);
    assert_int_equal(row_count(t), 2);
    assert_string_equal(cell(t, 0, "domain"), "new.example");
    assert_string_equal(cell(t, 0, "change"), "added");
    assert_string_equal(cell(t, 1, "change"), "system-to-admin");
    assert_string_equal(label_of(nth_x(r, 0), "system_to_admin"),
                        "시스템 관리에서 관리자 관리로 전환");
    xmpp_stanza_release(r);
    assert_domain(fx, "idle.example", STORE_MANAGED_ADMIN);
}

/* ---- answers that wait for the router ---- */

static void test_waits_for_router(void **state)
{
    struct cmd_fx *fx = *state;
    char buf[512] = "";
    FILE *fp;

    cmd_fx_apply(fx, "/bin/true", 10000);
    char *field = field_of("users", (const char *const[]){"a,a@applied.example", NULL});
    xmpp_stanza_t *r = submit(fx, NULL, "users/import", field, true);
    free(field);
    assert_string_equal(status_of(r), "completed");
    assert_note(r, "Applied to the router: router reloaded");
    assert_note(r, "1 added");
    xmpp_stanza_release(r);
    fp = fopen(fx->vhosts, "r");
    assert_non_null(fp);
    assert_true(fread(buf, 1, sizeof(buf) - 1, fp) > 0);
    fclose(fp);
    assert_non_null(strstr(buf, "VirtualHost \"applied.example\""));
}

static void test_router_refuses(void **state)
{
    struct cmd_fx *fx = *state;

    cmd_fx_apply(fx, "/bin/false", 10000);
    assert_int_equal(store_user_upsert(fx->app.store, "u1", "u1@new.example", NULL, NULL),
                     STORE_OK);
    xmpp_stanza_t *r = submit(fx, NULL, "sync/audit", NULL, true);
    assert_note(r, "Saved, but not applied to the router");
    assert_note(r, "1 domain(s) added");
    xmpp_stanza_release(r);
    assert_domain(fx, "new.example", STORE_MANAGED_SYSTEM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_import_verdicts, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_import_update_remove, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_import_one_value, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_commas_round_trip, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_import_korean, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_import_large, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_import_job, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_upload_survives_resume, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_import_too_many_lines, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_import_form, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_list_paging, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_sync_audit_command, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_waits_for_router, setup, cmd_fx_teardown),
        cmocka_unit_test_setup_teardown(test_router_refuses, setup, cmd_fx_teardown),
    };
    log_set_level(LOG_LEVEL_ERROR);
    xmpp_initialize();
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    xmpp_shutdown();
    return rc;
}
