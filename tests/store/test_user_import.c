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
    assert_int_equal(store_user_import_row(fx->st, &fx->set, "carol", "c@uri.example", 0, true,
                                           &how),
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_verdicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory_uri_scheme, setup, teardown),
    };

    log_set_level(LOG_LEVEL_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
