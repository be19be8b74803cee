/* Unit tests for the keyset pages of store/: store_user_list() and store_domain_list() from a
 * key, and store_user_page() (store/store_user_pages.c) against what the LIMIT/OFFSET statement
 * it replaced answers, read on a second connection: every page forward and back, out of order,
 * with filters, with users added and removed between pages (by the store and behind its back),
 * more filters and places than it remembers, and pages past the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/store.h"
#include "store/store_domain.h"
#include "store/store_user.h"
#include "tests/lib/tmpstore.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fixture {
    char dir[64];
    char path[96];
    struct store *st;
    sqlite3 *ref; /* a second connection: the old statement's answer */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char *err = NULL;

    if (tmpstore_make(f->dir, sizeof(f->dir), f->path, sizeof(f->path), "pages") != 0)
        return -1;
    f->st = store_open(f->path, &err);
    if (f->st == NULL)
        fail_msg("store_open: %s", err ? err : "(no message)");
    assert_int_equal(sqlite3_open(f->path, &f->ref), SQLITE_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(sqlite3_close(f->ref), SQLITE_OK);
    assert_int_equal(store_close(f->st), 0);
    assert_int_equal(tmpstore_remove(f->dir, f->path), 0);
    free(f);
    return 0;
}

static void add(struct fixture *f, const char *userid, const char *uri)
{
    assert_int_equal(store_user_upsert(f->st, userid, uri, NULL, NULL), STORE_OK);
}

/* The userids users/list showed before (ORDER BY userid LIMIT OFFSET), joined by ' ', and in
 * *total the count; `filter` a plain substring (no LIKE characters in these tests). */
static char *ref_page(struct fixture *f, const char *filter, int64_t page, int64_t per,
                      int64_t *total)
{
    static const char sql[] =
        "SELECT u.userid FROM users u LEFT JOIN nodes n ON n.id = u.node_id WHERE (?1 IS NULL OR"
        " u.userid LIKE ?1 OR u.directory_uri LIKE ?1) ORDER BY u.userid LIMIT ?2 OFFSET ?3";
    sqlite3_stmt *s;
    char *like = filter ? sqlite3_mprintf("%%%s%%", filter) : NULL;
    char *out = calloc(1, 1);
    size_t len = 0;

    assert_int_equal(sqlite3_prepare_v2(f->ref,
                                        "SELECT count(*) FROM users u WHERE (?1 IS NULL"
                                        " OR u.userid LIKE ?1 OR u.directory_uri LIKE ?1)",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(s, 1, like, -1, SQLITE_TRANSIENT);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    *total = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    assert_int_equal(sqlite3_prepare_v2(f->ref, sql, -1, &s, NULL), SQLITE_OK);
    sqlite3_bind_text(s, 1, like, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, per);
    sqlite3_bind_int64(s, 3, (page - 1) * per);
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *u = (const char *)sqlite3_column_text(s, 0);
        out = realloc(out, len + strlen(u) + 2);
        len += (size_t)sprintf(out + len, "%s%s", len ? " " : "", u);
    }
    sqlite3_finalize(s);
    sqlite3_free(like);
    return out;
}

/* store_user_page's userids, joined the same way. */
static char *store_page(struct fixture *f, const char *filter, int64_t page, int64_t per,
                        int64_t *total)
{
    struct store_user *u;
    size_t n;
    char *out = calloc(1, 1);
    size_t len = 0;

    if (store_user_page(f->st, filter, page, per, &u, &n, total) != STORE_OK)
        fail_msg("store_user_page %lld of %lld: %s", (long long)page, (long long)per,
                 store_errmsg(f->st));
    assert_true(n <= (size_t)per);
    for (size_t i = 0; i < n; i++) {
        out = realloc(out, len + strlen(u[i].userid) + 2);
        len += (size_t)sprintf(out + len, "%s%s", len ? " " : "", u[i].userid);
    }
    store_user_list_free(u, n);
    return out;
}

/* Page `page` from the store is the old statement's, rows and count. */
static void same_page(struct fixture *f, const char *filter, int64_t page, int64_t per)
{
    int64_t want_total, got_total;
    char *want = ref_page(f, filter, page, per, &want_total);
    char *got = store_page(f, filter, page, per, &got_total);

    if (strcmp(want, got) != 0 || want_total != got_total)
        fail_msg("filter %s, page %lld of %lld: got [%s] of %lld, want [%s] of %lld",
                 filter ? filter : "(none)", (long long)page, (long long)per, got,
                 (long long)got_total, want, (long long)want_total);
    free(want);
    free(got);
}

/* Userids that differ only in case sort together (the column is NOCASE), '_' and digits
 * between letters: the order is the index's, not strcmp's. */
static const char *const mixed[] = {"alice", "Bob",   "bob2",  "BOBBY", "b_0", "carol", "Dave",
                                    "dave1", "_x",    "0zero", "Zed",   "zz",  "Émile", "eve",
                                    "EVE2",  "frank", "Gus",   "a_b",   "axb", "Alice2"};
#define N_MIXED (sizeof(mixed) / sizeof(mixed[0]))

static void add_mixed(struct fixture *f)
{
    char uri[64];

    for (size_t i = 0; i < N_MIXED; i++) {
        snprintf(uri, sizeof(uri), "%s@%s.example", mixed[i], i % 2 ? "odd" : "even");
        add(f, mixed[i], uri);
    }
}

/* ---- store_user_list from a key ---- */

static void test_user_list_by_key(void **state)
{
    struct fixture *f = *state;
    struct store_user *all, *u;
    size_t n_all, n;

    add_mixed(f);
    /* the key is whole: a userid that differs only in ASCII case is the same user, so no two
     * users have equal sort keys */
    struct store_user one;
    assert_int_equal(store_user_get(f->st, "BOB", &one), STORE_OK);
    assert_string_equal(one.userid, "Bob");
    store_user_clear(&one);
    assert_int_equal(store_user_list(f->st, NULL, NULL, 0, &all, &n_all), STORE_OK);
    assert_int_equal(n_all, N_MIXED);
    for (int64_t per = 1; per <= 7; per++) {
        const char *after = NULL;
        struct store_user *prev = NULL;
        size_t prev_n = 0, seen = 0;
        do {
            assert_int_equal(store_user_list(f->st, NULL, after, per, &u, &n), STORE_OK);
            for (size_t i = 0; i < n; i++)
                assert_string_equal(u[i].userid, all[seen + i].userid);
            seen += n;
            store_user_list_free(prev, prev_n);
            prev = u, prev_n = n;
            after = n ? u[n - 1].userid : NULL;
        } while (n == (size_t)per);
        store_user_list_free(prev, prev_n);
        assert_int_equal(seen, n_all);
    }
    /* the key in another case is the same place */
    assert_int_equal(store_user_list(f->st, NULL, "ALICE", 1, &u, &n), STORE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(u[0].userid, all[4].userid); /* 0zero, _x, a_b, alice, Alice2 */
    assert_string_equal(u[0].userid, "Alice2");
    store_user_list_free(u, n);
    /* with a filter: the key and the filter together */
    assert_int_equal(store_user_list(f->st, "odd", "b", 2, &u, &n), STORE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(u[0].userid, "Bob");
    assert_string_equal(u[1].userid, "BOBBY");
    store_user_list_free(u, n);
    store_user_list_free(all, n_all);
}

/* Users added and removed between two keyset pages: nobody who stayed is skipped or shown
 * twice; new users after the key show, those before it do not. */
static void test_user_list_changes_between_pages(void **state)
{
    struct fixture *f = *state;
    struct store_user *u;
    size_t n;
    char last[32];

    add(f, "u10", "");
    add(f, "u20", "");
    add(f, "u30", "");
    add(f, "u40", "");
    add(f, "u50", "");
    assert_int_equal(store_user_list(f->st, NULL, NULL, 2, &u, &n), STORE_OK);
    assert_string_equal(u[1].userid, "u20");
    snprintf(last, sizeof(last), "%s", u[1].userid);
    store_user_list_free(u, n);
    add(f, "u15", "");                                           /* before the key: not seen */
    add(f, "u35", "");                                           /* after it: seen in order */
    assert_int_equal(store_user_delete(f->st, "u30"), STORE_OK); /* the next one, gone */
    assert_int_equal(store_user_delete(f->st, "u20"), STORE_OK); /* the key's own row, gone */
    assert_int_equal(store_user_list(f->st, NULL, last, 2, &u, &n), STORE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(u[0].userid, "u35");
    assert_string_equal(u[1].userid, "u40");
    snprintf(last, sizeof(last), "%s", u[1].userid);
    store_user_list_free(u, n);
    assert_int_equal(store_user_list(f->st, NULL, last, 2, &u, &n), STORE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(u[0].userid, "u50");
    store_user_list_free(u, n);
}

/* ---- store_domain_list from a key ---- */

static void test_domain_list_by_key(void **state)
{
    struct fixture *f = *state;
    struct store_domain *d;
    size_t n;
    char name[64], after[64] = "";
    int seen = 0;

    for (int i = 29; i >= 0; i--) { /* inserted out of order */
        snprintf(name, sizeof(name), "d%02d.%s", i, i % 3 ? "example" : "test");
        assert_int_equal(store_domain_insert(f->st, name, STORE_MANAGED_ADMIN, true), STORE_OK);
    }
    do { /* pages of 4 of the .test ones: d00, d03, ... d27 */
        assert_int_equal(store_domain_list(f->st, "TEST", after[0] ? after : NULL, 4, &d, &n),
                         STORE_OK);
        for (size_t i = 0; i < n; i++, seen++) {
            snprintf(name, sizeof(name), "d%02d.test", seen * 3);
            assert_string_equal(d[i].name, name);
        }
        if (n > 0)
            snprintf(after, sizeof(after), "%s", d[n - 1].name);
        if (seen == 4) { /* between pages: one before the key goes, one after it comes */
            assert_int_equal(store_domain_delete(f->st, "d00.test"), STORE_OK);
            assert_int_equal(store_domain_delete(f->st, "d12.test"), STORE_OK);
            assert_int_equal(store_domain_insert(f->st, "d12.TEST", STORE_MANAGED_ADMIN, true),
                             STORE_OK); /* the same name again (stored lower-case) */
        }
        store_domain_list_free(d, n);
    } while (n == 4);
    assert_int_equal(seen, 10);
    /* the key is compared as the names are (case ignored) */
    assert_int_equal(store_domain_list(f->st, NULL, "D28.EXAMPLE", 0, &d, &n), STORE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(d[0].name, "d29.example");
    store_domain_list_free(d, n);
}

/* ---- store_user_page: exactly the old pages ---- */

static void test_pages_forward_and_back(void **state)
{
    struct fixture *f = *state;
    static const char *const filters[] = {NULL, "odd", "B", "e", "nobody"};
    int64_t stepped;

    add_mixed(f);
    for (size_t k = 0; k < sizeof(filters) / sizeof(filters[0]); k++) {
        for (int64_t per = 1; per <= 6; per++) {
            int64_t total, pages;
            free(store_page(f, filters[k], 1, per, &total));
            pages = (total + per - 1) / per;
            stepped = store_user_pages_stepped(f->st);
            for (int64_t p = 1; p <= pages + 1;
                 p++) /* forward: each page starts at a place known */
                same_page(f, filters[k], p, per);
            assert_int_equal(store_user_pages_stepped(f->st), stepped);
            for (int64_t p = pages; p >= 1; p--) /* back over the places just learnt */
                same_page(f, filters[k], p, per);
            assert_int_equal(store_user_pages_stepped(f->st), stepped);
            /* a write forgets them (one row changed, nothing anyone sees): from the last page
             * back, each page is found by stepping back over the one after it */
            assert_int_equal(store_user_set_node(f->st, "alice", NULL), STORE_OK);
            for (int64_t p = pages; p >= 1; p--)
                same_page(f, filters[k], p, per);
            assert_true(store_user_pages_stepped(f->st) - stepped <= pages * per);
            stepped = store_user_pages_stepped(f->st);
        }
    }
}

static void test_pages_out_of_order(void **state)
{
    struct fixture *f = *state;
    char uid[32], uri[64];

    for (int i = 0; i < 500; i++) {
        snprintf(uid, sizeof(uid), "%c%03d", i % 3 ? 'u' : 'U', (i * 7919) % 1000);
        snprintf(uri, sizeof(uri), "%s@d%d.example", uid, i % 5);
        add(f, uid, uri);
    }
    srand(11);
    /* more filters than remembered (8), more places than remembered per filter (64) */
    for (int round = 0; round < 600; round++) {
        static const char *const filters[] = {NULL, "d1", "d2", "d3", "d4", "d0",
                                              "u1", "u2", "u3", "u4", "9",  "77"};
        const char *filter = filters[rand() % 12];
        int64_t per = 1 + rand() % 9;
        int64_t page = 1 + rand() % (500 / per + 2);
        same_page(f, filter, page, per);
    }
}

/* Users added and removed between pages, by the store or by another connection: the page is
 * what the old statement gives at that moment (nothing learnt before the change is used). */
static void test_pages_after_changes(void **state)
{
    struct fixture *f = *state;
    char uid[32], sql[128];

    for (int i = 0; i < 100; i++) {
        snprintf(uid, sizeof(uid), "u%03d", i * 2);
        add(f, uid, "");
    }
    for (int64_t p = 1; p <= 12; p++) {
        same_page(f, NULL, p, 10);
        same_page(f, "u1", p, 3);
        switch (p % 4) {
        case 0: /* before the next page's start */
            snprintf(uid, sizeof(uid), "u%03lld", (long long)(p * 10 - 1));
            add(f, uid, "");
            break;
        case 1: /* a user of the page just shown goes */
            snprintf(uid, sizeof(uid), "u%03lld", (long long)(p * 20 - 2));
            assert_int_equal(store_user_delete(f->st, uid), STORE_OK);
            break;
        case 2: /* behind the store's back */
            snprintf(sql, sizeof(sql),
                     "INSERT INTO users (userid, directory_uri, im_address)"
                     " VALUES ('u%03lld', '', 'x')",
                     (long long)(p * 5 + 1));
            assert_int_equal(sqlite3_exec(f->ref, sql, NULL, NULL, NULL), SQLITE_OK);
            break;
        default:
            snprintf(sql, sizeof(sql), "DELETE FROM users WHERE userid = 'u%03lld'",
                     (long long)(p * 20));
            assert_int_equal(sqlite3_exec(f->ref, sql, NULL, NULL, NULL), SQLITE_OK);
            break;
        }
    }
    for (int64_t p = 12; p >= 1; p--) {
        same_page(f, NULL, p, 10);
        if (p == 6) {
            assert_int_equal(store_user_delete(f->st, "u000"), STORE_OK);
            add(f, "u999", "");
        }
    }
}

static void test_page_bounds(void **state)
{
    struct fixture *f = *state;
    struct store_user *u;
    size_t n;
    int64_t total = -1;
    char long_id[2100];

    /* no users: page 1 is empty */
    assert_int_equal(store_user_page(f->st, NULL, 1, 100, &u, &n, &total), STORE_OK);
    assert_int_equal(n, 0);
    assert_null(u);
    assert_int_equal(total, 0);
    add_mixed(f);
    /* userids too long to be remembered still page right */
    memset(long_id, 'm', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    add(f, long_id, "");
    long_id[1500] = '\0';
    add(f, long_id, "");
    for (int64_t p = 1; p <= 12; p++)
        same_page(f, NULL, p, 2);
    for (int64_t p = 12; p >= 1; p--)
        same_page(f, NULL, p, 2);
    /* and so does a filter too long to be remembered (it matches the long userids) */
    long_id[1200] = '\0';
    for (int64_t p = 1; p <= 3; p++)
        same_page(f, long_id, p, 1);
    /* far past the end: empty, nothing read, no overflow */
    assert_int_equal(store_user_page(f->st, NULL, 1000000000LL, 100, &u, &n, &total), STORE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(total, N_MIXED + 2);
    assert_int_equal(store_user_page(f->st, NULL, INT64_MAX, 100, &u, &n, &total), STORE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_user_page(f->st, NULL, 2, INT64_MAX, &u, &n, &total), STORE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_user_page(f->st, NULL, 1, INT64_MAX, &u, &n, &total), STORE_OK);
    assert_int_equal(n, N_MIXED + 2);
    store_user_list_free(u, n);
    /* no page 0 */
    assert_int_equal(store_user_page(f->st, NULL, 0, 100, &u, &n, &total), STORE_ERR);
    assert_int_equal(n, 0);
    assert_int_equal(store_user_page(f->st, NULL, 1, 0, &u, &n, &total), STORE_ERR);
    /* inside the caller's transaction, its own changes count */
    assert_int_equal(store_begin(f->st), STORE_OK);
    same_page(f, NULL, 2, 5);
    assert_int_equal(store_user_delete(f->st, "alice"), STORE_OK);
    assert_int_equal(store_user_page(f->st, NULL, 1, 5, &u, &n, &total), STORE_OK);
    assert_int_equal(total, N_MIXED + 1);
    assert_string_equal(u[3].userid, "Alice2");
    store_user_list_free(u, n);
    assert_int_equal(store_rollback(f->st), STORE_OK);
    same_page(f, NULL, 1, 5);
    same_page(f, NULL, 2, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_user_list_by_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_list_changes_between_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_list_by_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pages_forward_and_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pages_out_of_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pages_after_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_bounds, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
