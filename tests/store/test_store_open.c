/* Unit tests for opening and closing the store (store/store.c) when things are not as they
 * should be: a directory that does not exist and a file that is not a database are refused with
 * a message naming the path, and leave nothing open; the database file is created 0600; closing
 * inside a transaction rolls it back (the change is gone after reopening); every result code has
 * a name for the logs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store.h"
#include "store/store_domain.h"
#include "tests/lib/tmpstore.h"
#include "util/log.h"

struct fx {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    log_set_level(LOG_LEVEL_ERROR);
    if (tmpstore_make(fx->dir, sizeof(fx->dir), fx->path, sizeof(fx->path), "open") < 0)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(tmpstore_remove(fx->dir, fx->path), 0);
    free(fx);
    return 0;
}

static void test_missing_directory(void **state)
{
    struct fx *fx = *state;
    char path[192], *err = NULL;

    snprintf(path, sizeof(path), "%s/no/such/dir/test.db", fx->dir);
    assert_null(store_open(path, &err));
    assert_non_null(err);
    assert_non_null(strstr(err, "cannot open database"));
    assert_non_null(strstr(err, path));
    free(err);
}

static void test_not_a_database(void **state)
{
    struct fx *fx = *state;
    FILE *f = fopen(fx->path, "w");
    char *err = NULL;

    for (int i = 0; i < 64; i++)
        fputs("this is a text file, not an SQLite database\n", f);
    fclose(f);
    assert_null(store_open(fx->path, &err));
    assert_non_null(err);
    assert_non_null(strstr(err, fx->path));
    free(err);
}

static void test_private_file(void **state)
{
    struct fx *fx = *state;
    char *err = NULL;
    struct store *st = store_open(fx->path, &err);
    struct stat sb;

    assert_non_null(st);
    assert_int_equal(stat(fx->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(store_close(st), 0);
}

static void test_close_rolls_back(void **state)
{
    struct fx *fx = *state;
    char *err = NULL;
    struct store *st = store_open(fx->path, &err);

    assert_non_null(st);
    assert_int_equal(store_domain_insert(st, "kept.example", STORE_MANAGED_ADMIN, true), STORE_OK);
    assert_int_equal(store_begin(st), STORE_OK);
    assert_int_equal(store_begin(st), STORE_ERR); /* transactions do not nest */
    assert_true(store_in_transaction(st));
    assert_int_equal(store_domain_insert(st, "lost.example", STORE_MANAGED_ADMIN, true), STORE_OK);
    assert_int_equal(store_close(st), 0); /* rolled back, then closed */
    st = store_open(fx->path, &err);
    assert_non_null(st);
    assert_int_equal(store_domain_exists(st, "kept.example"), STORE_OK);
    assert_int_equal(store_domain_exists(st, "lost.example"), STORE_NOTFOUND);
    assert_int_equal(store_close(st), 0);
    assert_int_equal(store_close(NULL), 0);
}

static void test_rc_names(void **state)
{
    (void)state;
    assert_string_equal(store_rc_name(STORE_OK), "ok");
    assert_string_equal(store_rc_name(STORE_NOTFOUND), "not-found");
    assert_string_equal(store_rc_name(STORE_CONFLICT), "conflict");
    assert_string_equal(store_rc_name(STORE_ERR), "error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_private_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_rolls_back, setup, teardown),
        cmocka_unit_test(test_rc_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
