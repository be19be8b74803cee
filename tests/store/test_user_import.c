/* store_user_import_row: the verdict of each line told without re-reading the row (inserted,
 * updated, unchanged), the node kept or set, the IM address from the settings read once, and a
 * rowid left by an insert into another table not taken for an insert. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/store.h"
#include "store/store_audit.h"
#include "store/store_settings.h"
#include "store/store_topo.h"
#include "store/store_user.h"
#include "tests/lib/store_fault.h"
#include "tests/lib/tmpstore.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>

struct fx {
    char dir[64], path[96];
    struct store *st;
    struct store_settings set;
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    char *err = NULL;

    if (fx == NULL ||
        tmpstore_make(fx->dir, sizeof(fx->dir), fx->path, sizeof(fx->path), "import") != 0)
        return -1;
    fx->st = store_open(fx->path, &err);
    if (fx->st == NULL || store_settings_get(fx->st, &fx->set) != STORE_OK)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    store_settings_clear(&fx->set);
    store_close(fx->st);
    tmpstore_remove(fx->dir, fx->path);
    free(fx);
    return 0;
}

static enum store_upsert row(struct fx *fx, const char *userid, const char *uri, int64_t node,
                             bool keep)
{
    enum store_upsert how = STORE_UPSERT_UNCHANGED;

    assert_int_equal(store_user_import_row(fx->st, &fx->set, userid, uri, node, keep, &how),
                     STORE_OK);
    return how;
}

static void test_verdicts(void **state)
{
    struct fx *fx = *state;
    struct store_user u;
    int64_t n1 = 0;

    /* an audit record first takes rowid 1 in its table, as the user will in its own */
    assert_int_equal(store_audit_append(fx->st, 0, "t", "x", STORE_OUTCOME_OK, NULL, NULL),
                     STORE_OK);
    assert_int_equal(store_node_insert(fx->st, "n1", STORE_NODE_SUBSCRIBER, "15", NULL), STORE_OK);
    assert_int_equal(store_user_node_id(fx->st, "n1", &n1), STORE_OK);
    assert_int_equal(store_user_node_id(fx->st, "nope", &n1), STORE_NOTFOUND);
    assert_int_equal(store_user_node_id(fx->st, "n1", &n1), STORE_OK);
    assert_int_equal(store_begin(fx->st), STORE_OK);
    assert_int_equal(row(fx, "alice", "alice@Corp.example", 0, true), STORE_UPSERT_INSERTED);
    assert_int_equal(row(fx, "alice", "alice@Corp.example", 0, true), STORE_UPSERT_UNCHANGED);
    assert_int_equal(row(fx, "ALICE", "alice@Corp.example", 0, true), STORE_UPSERT_UPDATED);
    assert_int_equal(row(fx, "ALICE", "alice@corp.example", 0, true), STORE_UPSERT_UPDATED);
    assert_int_equal(row(fx, "ALICE", "alice@corp.example", n1, false), STORE_UPSERT_UPDATED);
    assert_int_equal(row(fx, "ALICE", "alice@corp.example", 0, true), STORE_UPSERT_UNCHANGED);
    assert_int_equal(row(fx, "ALICE", "alice@corp.example", n1, false), STORE_UPSERT_UNCHANGED);
    assert_int_equal(row(fx, "bob", "", 0, false), STORE_UPSERT_INSERTED);
    assert_int_equal(store_commit(fx->st), STORE_OK);
    assert_int_equal(store_user_get(fx->st, "alice", &u), STORE_OK);
    assert_string_equal(u.userid, "ALICE");
    assert_string_equal(u.uri_domain, "corp.example");
    assert_string_equal(u.node, "n1");
    assert_non_null(strchr(u.im_address, '@'));
    assert_string_equal(strchr(u.im_address, '@') + 1, fx->set.default_domain);
    store_user_clear(&u);
    assert_int_equal(store_user_get(fx->st, "bob", &u), STORE_OK);
    assert_null(u.node);
    store_user_clear(&u);
}

static void test_directory_uri_scheme(void **state)
{
    struct fx *fx = *state;
    struct store_user u;

    fx->set.im_address_scheme = STORE_SCHEME_DIRECTORY_URI;
    /* outside a transaction a line is refused: its new users would be counted at a commit */
    enum store_upsert how;
    assert_int_equal(
        store_user_import_row(fx->st, &fx->set, "carol", "c@uri.example", 0, true, &how),
        STORE_ERR);
    assert_int_equal(store_user_get(fx->st, "carol", NULL), STORE_NOTFOUND);

    assert_int_equal(store_begin(fx->st), STORE_OK);
    assert_int_equal(row(fx, "carol", "carol@uri.example", 0, true), STORE_UPSERT_INSERTED);
    assert_int_equal(row(fx, "carol", "carol2@uri.example", 0, true), STORE_UPSERT_UPDATED);
    assert_int_equal(store_commit(fx->st), STORE_OK);
    assert_int_equal(store_user_get(fx->st, "carol", &u), STORE_OK);
    assert_string_equal(u.im_address, "carol2@uri.example");
    store_user_clear(&u);
    /* an existing user's new URI moves the count from the old address's domain */
    assert_int_equal(store_begin(fx->st), STORE_OK);
    assert_int_equal(row(fx, "carol", "carol@other.example", 0, true), STORE_UPSERT_UPDATED);
    assert_int_equal(row(fx, "dave", "dave@other.example", 0, true), STORE_UPSERT_INSERTED);
    assert_int_equal(store_commit(fx->st), STORE_OK);
    int64_t n = -1;
    assert_int_equal(store_user_count_im_domain(fx->st, "uri.example", &n), STORE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_user_count_im_domain(fx->st, "other.example", &n), STORE_OK);
    assert_int_equal(n, 2);
}

static int64_t im_count(struct fx *fx, const char *domain)
{
    int64_t n = -1;

    assert_int_equal(store_user_count_im_domain(fx->st, domain, &n), STORE_OK);
    return n;
}

/* The fast path makes the same row as store_user_upsert(), also for a URI whose domain part is
 * longer than any valid domain (kept as given, lower-cased as the URI's domain), and counts
 * such a user under that domain. */
static void test_same_row_as_upsert(void **state)
{
    struct fx *fx = *state;
    char uri[1200], lower[1200];
    struct store_user a, b;

    memcpy(uri, "x@", 2);
    memset(uri + 2, 'A', 1100);
    memcpy(uri + 1102, ".Example", sizeof(".Example"));
    for (size_t i = 0; i <= strlen(uri + 2); i++)
        lower[i] = (char)(uri[2 + i] >= 'A' && uri[2 + i] <= 'Z' ? uri[2 + i] + 32 : uri[2 + i]);
    fx->set.im_address_scheme = STORE_SCHEME_DIRECTORY_URI;
    assert_int_equal(store_begin(fx->st), STORE_OK);
    assert_int_equal(row(fx, "fast", uri, 0, true), STORE_UPSERT_INSERTED);
    assert_int_equal(store_commit(fx->st), STORE_OK);
    assert_int_equal(store_settings_set(fx->st, &fx->set), STORE_OK);
    assert_int_equal(store_user_upsert(fx->st, "slow", uri, NULL, NULL), STORE_OK);
    assert_int_equal(store_user_get(fx->st, "fast", &a), STORE_OK);
    assert_int_equal(store_user_get(fx->st, "slow", &b), STORE_OK);
    assert_string_equal(a.directory_uri, uri);
    assert_string_equal(a.uri_domain, lower);
    assert_string_equal(a.uri_domain, b.uri_domain);
    assert_string_equal(a.im_address, b.im_address);
    store_user_clear(&a);
    store_user_clear(&b);
    assert_int_equal(im_count(fx, lower), 2);
}

/* Refused lines change nothing: an empty userid, and a line a constraint refuses in the middle
 * of a transaction (only that line is undone; the others commit and are counted). A batch
 * rolled back leaves the counters as they were, and the next one counts from there. */
static void test_refused_lines_and_rollback(void **state)
{
    struct fx *fx = *state;
    enum store_upsert how;
    int64_t n = -1;

    fx->set.im_address_scheme = STORE_SCHEME_DIRECTORY_URI;
    assert_int_equal(store_fault_sql(fx->path, "CREATE TRIGGER refuse BEFORE INSERT ON users"
                                               " WHEN NEW.userid = 'bad'"
                                               " BEGIN SELECT RAISE(ABORT, 'refused'); END;"),
                     0);
    assert_int_equal(store_begin(fx->st), STORE_OK);
    assert_int_equal(store_user_import_row(fx->st, &fx->set, "", "e@x.example", 0, true, &how),
                     STORE_ERR);
    assert_int_equal(row(fx, "ann", "ann@x.example", 0, true), STORE_UPSERT_INSERTED);
    assert_int_equal(store_user_import_row(fx->st, &fx->set, "bad", "bad@x.example", 0, true, &how),
                     STORE_CONFLICT);
    assert_int_equal(row(fx, "cid", "cid@x.example", 0, true), STORE_UPSERT_INSERTED);
    assert_int_equal(store_commit(fx->st), STORE_OK);
    assert_int_equal(store_user_count(fx->st, NULL, &n), STORE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(store_user_get(fx->st, "bad", NULL), STORE_NOTFOUND);
    assert_int_equal(im_count(fx, "x.example"), 2);

    /* a batch rolled back: neither its users nor its counts stay */
    assert_int_equal(store_begin(fx->st), STORE_OK);
    assert_int_equal(row(fx, "dan", "dan@x.example", 0, true), STORE_UPSERT_INSERTED);
    assert_int_equal(row(fx, "ann", "ann@y.example", 0, true), STORE_UPSERT_UPDATED);
    assert_int_equal(store_rollback(fx->st), STORE_OK);
    assert_int_equal(im_count(fx, "x.example"), 2);
    assert_int_equal(im_count(fx, "y.example"), 0);
    assert_int_equal(store_begin(fx->st), STORE_OK);
    assert_int_equal(row(fx, "eve", "eve@y.example", 0, true), STORE_UPSERT_INSERTED);
    assert_int_equal(store_commit(fx->st), STORE_OK);
    assert_int_equal(im_count(fx, "x.example"), 2);
    assert_int_equal(im_count(fx, "y.example"), 1);
}

/* Under directory-uri, a user updated without a new URI (its node changed) keeps its IM
 * address and the counts; a user added and moved to another URI in the same batch is counted
 * once, under its last address. */
static void test_update_without_new_uri(void **state)
{
    struct fx *fx = *state;
    struct store_user u;
    int64_t n1 = 0;

    fx->set.im_address_scheme = STORE_SCHEME_DIRECTORY_URI;
    assert_int_equal(store_node_insert(fx->st, "n1", STORE_NODE_SUBSCRIBER, "15", NULL), STORE_OK);
    assert_int_equal(store_user_node_id(fx->st, "n1", &n1), STORE_OK);
    assert_int_equal(store_begin(fx->st), STORE_OK);
    assert_int_equal(row(fx, "fay", "fay@x.example", 0, true), STORE_UPSERT_INSERTED);
    assert_int_equal(store_commit(fx->st), STORE_OK);
    assert_int_equal(store_begin(fx->st), STORE_OK);
    assert_int_equal(row(fx, "fay", "fay@x.example", n1, false), STORE_UPSERT_UPDATED);
    assert_int_equal(row(fx, "gus", "gus@x.example", 0, true), STORE_UPSERT_INSERTED);
    assert_int_equal(row(fx, "gus", "gus@z.example", 0, true), STORE_UPSERT_UPDATED);
    assert_int_equal(store_commit(fx->st), STORE_OK);
    assert_int_equal(store_user_get(fx->st, "fay", &u), STORE_OK);
    assert_string_equal(u.im_address, "fay@x.example");
    assert_string_equal(u.node, "n1");
    store_user_clear(&u);
    assert_int_equal(im_count(fx, "x.example"), 1);
    assert_int_equal(im_count(fx, "z.example"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_verdicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory_uri_scheme, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_row_as_upsert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_lines_and_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_without_new_uri, setup, teardown),
    };

    log_set_level(LOG_LEVEL_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
