/* Unit tests of the directory sync's pure parts and its store: entry mapping (sip: stripped,
 * missing attributes, users/import's rules), the IM address a mapping gives, the incremental
 * filter, and the staging / verdict / removal / source-marking queries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "component/engine/dir_map.h"
#include "component/engine/directory.h"
#include "component/engine/user_check.h"
#include "store/store.h"
#include "store/store_directory.h"
#include "store/store_job.h"
#include "store/store_user.h"
#include "tests/lib/tmpstore.h"

#include <stdlib.h>
#include <string.h>

static void map(const char *userid, const char *uri, const char *node, struct dir_mapped *m)
{
    struct dir_entry e = {.dn = (char *)"uid=x,ou=people,dc=example,dc=test",
                          .userid = (char *)userid,
                          .uri = (char *)uri,
                          .node = (char *)node};
    dir_map_entry(&e, "uid", m);
}

static void test_map_plain(void **state)
{
    struct dir_mapped m;

    (void)state;
    map("alice", "alice@corp.example", NULL, &m);
    assert_string_equal(m.userid, "alice");
    assert_string_equal(m.uri, "alice@corp.example");
    assert_null(m.node);
    assert_null(m.reason_en);
    dir_mapped_clear(&m);
    /* blanks trimmed; a node attribute kept */
    map("  bob ", " bob@corp.example\t", "imp1.example", &m);
    assert_string_equal(m.userid, "bob");
    assert_string_equal(m.uri, "bob@corp.example");
    assert_string_equal(m.node, "imp1.example");
    assert_null(m.reason_en);
    dir_mapped_clear(&m);
    /* no mail: a user without a directory URI, as an empty users/import field */
    map("carol", NULL, NULL, &m);
    assert_string_equal(m.uri, "");
    assert_null(m.reason_en);
    dir_mapped_clear(&m);
}

static void test_map_sip_prefix(void **state)
{
    char *u;

    (void)state;
    u = dir_map_uri("sip:alice@corp.example");
    assert_string_equal(u, "alice@corp.example");
    free(u);
    u = dir_map_uri("SIP: Alice@Corp.Example ");
    assert_string_equal(u, "Alice@Corp.Example");
    free(u);
    u = dir_map_uri("sips:alice@corp.example"); /* only sip: is AD's prefix: left as is */
    assert_string_equal(u, "sips:alice@corp.example");
    free(u);
}

static void test_map_rejections(void **state)
{
    struct dir_mapped m;

    (void)state;
    map(NULL, "x@corp.example", NULL, &m);
    assert_string_equal(m.reason_en, "the entry has no uid attribute");
    assert_non_null(strstr(m.reason_ko, "uid"));
    dir_mapped_clear(&m);
    map("two words", "x@corp.example", NULL, &m);
    assert_non_null(strstr(m.reason_en, "space"));
    assert_non_null(m.reason_ko);
    dir_mapped_clear(&m);
    map("dave", "dave@bad..example", NULL, &m);
    assert_non_null(strstr(m.reason_en, "the domain part of the directory URI is invalid"));
    dir_mapped_clear(&m);
    map("erin", "sip:erin@@corp.example", NULL, &m);
    assert_non_null(strstr(m.reason_en, "name@domain"));
    dir_mapped_clear(&m);
    map("", "x@corp.example", NULL, &m);
    assert_string_equal(m.reason_en, "empty userid");
    dir_mapped_clear(&m);
    /* the same rules as users/import, word for word */
    char *r = user_check_uri("erin@@corp.example", "en");
    map("erin", "erin@@corp.example", NULL, &m);
    assert_string_equal(m.reason_en, r);
    free(r);
    dir_mapped_clear(&m);
}

static void test_im_address(void **state)
{
    char *a;

    (void)state;
    a = dir_map_im_address(STORE_SCHEME_DIRECTORY_URI, "d.example", "alice", "Alice@Corp.example");
    assert_string_equal(a, "Alice@Corp.example");
    free(a);
    a = dir_map_im_address(STORE_SCHEME_DIRECTORY_URI, "d.example", "carol", "");
    assert_string_equal(a, "carol@d.example");
    free(a);
    a = dir_map_im_address(STORE_SCHEME_USERID_AT_DEFAULT, "d.example", "alice", "a@corp.example");
    assert_string_equal(a, "alice@d.example");
    free(a);
}

static void test_filter_since(void **state)
{
    char *f;

    (void)state;
    f = dir_filter_since("(objectClass=inetOrgPerson)", "20231114221320Z");
    assert_string_equal(f, "(&(objectClass=inetOrgPerson)(!(modifyTimestamp<=20231114221320Z)))");
    free(f);
}

/* ---- the store side ---- */

struct fixture {
    char dir[64];
    char path[128];
    struct store *st;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (tmpstore_make(f->dir, sizeof(f->dir), f->path, sizeof(f->path), "dirmap") != 0)
        return -1;
    f->st = store_open(f->path, NULL);
    *state = f;
    return f->st ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    store_close(f->st);
    tmpstore_remove(f->dir, f->path);
    free(f);
    return 0;
}

static void stage(struct store *st, const char *userid, const char *uri)
{
    struct store_dir_entry e = {
        .dn = (char *)"dn", .userid = (char *)userid, .uri = (char *)uri, .verdict = -1};
    assert_int_equal(store_dir_entries_add(st, &e, 1), STORE_OK);
}

static void test_store_staging_and_removal(void **state)
{
    struct fixture *f = *state;
    struct store_dir_entry *v = NULL;
    struct store_dir_run r;
    int64_t job = 0, n = 0, last = 0, looked = 0, removed = 0;
    bool yes = true;
    size_t k = 0;

    /* three users came from the directory earlier, one by hand */
    for (int i = 0; i < 3; i++) {
        char u[8];
        snprintf(u, sizeof(u), "u%d", i);
        assert_int_equal(store_user_upsert(f->st, u, "x@corp.example", NULL, NULL), STORE_OK);
    }
    assert_int_equal(store_user_upsert(f->st, "hand", "h@corp.example", NULL, NULL), STORE_OK);
    assert_int_equal(store_job_create(f->st, STORE_JOB_DIRECTORY_SYNC, "full", "b", 0, &job),
                     STORE_OK);
    assert_int_equal(store_dir_run_create(f->st, job, STORE_DIR_FULL, NULL), STORE_OK);
    stage(f->st, "U0", "x@corp.example");
    stage(f->st, "u1", "x@corp.example");
    stage(f->st, "u2", "x@corp.example");
    assert_int_equal(store_dir_entries_batch(f->st, 0, 10, &v, &k), STORE_OK);
    assert_int_equal(k, 3);
    for (size_t i = 0; i < k; i++)
        v[i].verdict = STORE_DIR_UNCHANGED;
    assert_int_equal(store_dir_entries_set_verdicts(f->st, v, k), STORE_OK);
    assert_int_equal(store_dir_mark_users(f->st, v[0].id, v[k - 1].id), STORE_OK);
    store_dir_entries_free(v, k);
    assert_int_equal(store_dir_count_users(f->st, &n), STORE_OK);
    assert_int_equal(n, 3);
    assert_int_equal(store_user_from_directory(f->st, "U2", &yes), STORE_OK);
    assert_true(yes);
    assert_int_equal(store_user_from_directory(f->st, "hand", &yes), STORE_OK);
    assert_false(yes);
    assert_int_equal(store_user_from_directory(f->st, "nobody", &yes), STORE_NOTFOUND);

    /* the next run sees u1 only (and u1 twice: the second is a duplicate) */
    assert_int_equal(store_dir_run_create(f->st, job + 1, STORE_DIR_FULL, NULL), STORE_OK);
    stage(f->st, "u1", "x@corp.example");
    stage(f->st, "U1", "y@corp.example");
    assert_int_equal(store_dir_entries_batch(f->st, 0, 10, &v, &k), STORE_OK);
    assert_int_equal(k, 2);
    assert_false(v[0].duplicate);
    assert_true(v[1].duplicate);
    store_dir_entries_free(v, k);
    /* the users per IM address domain follow the removals (domains/list shows them) */
    int64_t before = -1, after = -1;
    assert_int_equal(store_user_count_im_domain(f->st, "domain.not.set", &before), STORE_OK);
    assert_int_equal(before, 4);
    assert_int_equal(store_dir_remove_batch(f->st, 0, 2, &last, &looked, &removed), STORE_OK);
    assert_int_equal(looked, 2);
    assert_int_equal(removed, 1); /* u0 */
    assert_int_equal(store_dir_remove_batch(f->st, last, 2, &last, &looked, &removed), STORE_OK);
    assert_int_equal(looked, 1);
    assert_int_equal(removed, 1); /* u2 */
    assert_int_equal(store_dir_remove_batch(f->st, last, 2, &last, &looked, &removed), STORE_OK);
    assert_int_equal(looked, 0);
    assert_int_equal(store_user_get(f->st, "u0", NULL), STORE_NOTFOUND);
    assert_int_equal(store_user_get(f->st, "u1", NULL), STORE_OK);
    assert_int_equal(store_user_get(f->st, "hand", NULL), STORE_OK); /* never the hand-made */
    assert_int_equal(store_user_count_im_domain(f->st, "domain.not.set", &after), STORE_OK);
    assert_int_equal(after, 2);
    assert_int_equal(store_dir_entries_with(f->st, STORE_DIR_REMOVED, 10, &v, &k), STORE_OK);
    assert_int_equal(k, 2);
    assert_string_equal(v[0].userid, "u0");
    assert_string_equal(v[1].userid, "u2");
    store_dir_entries_free(v, k);
    assert_int_equal(store_dir_run_get(f->st, job + 1, &r), STORE_OK);
    assert_int_equal(r.phase, STORE_DIR_FETCH);
    assert_int_equal(r.mode, STORE_DIR_FULL);
    store_dir_run_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_plain),
        cmocka_unit_test(test_map_sip_prefix),
        cmocka_unit_test(test_map_rejections),
        cmocka_unit_test(test_im_address),
        cmocka_unit_test(test_filter_since),
        cmocka_unit_test_setup_teardown(test_store_staging_and_removal, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
