/* Unit tests for store/store_checkpoint: the main connection stops checkpointing by itself, the
 * WAL size is reported, and a checkpoint from the second connection copies it back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "tests/lib/store_fault.h"
#include "store/store.h"
#include "store/store_checkpoint.h"
#include "store/store_user.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
    char dir[64];
    char path[96];
    char wal[100];
    struct store *st;
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    snprintf(fx->dir, sizeof(fx->dir), "/tmp/imd-ckpt-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof(fx->path), "%s/s.db", fx->dir);
    snprintf(fx->wal, sizeof(fx->wal), "%s-wal", fx->path);
    fx->st = store_open(fx->path, NULL);
    assert_non_null(fx->st);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    store_close(fx->st);
    unlink(fx->path);
    unlink(fx->wal);
    char shm[104];
    snprintf(shm, sizeof(shm), "%s-shm", fx->path);
    unlink(shm);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

/* `n` users in transactions of 500, numbered from `from`. */
static void add_users(struct store *st, int from, int n)
{
    char uid[32], uri[64];

    for (int i = from; i < from + n; i++) {
        if ((i - from) % 500 == 0)
            assert_int_equal(store_begin(st), STORE_OK);
        snprintf(uid, sizeof(uid), "user%06d", i);
        snprintf(uri, sizeof(uri), "user%06d@d%d.example.com", i, i % 7);
        assert_int_equal(store_user_upsert(st, uid, uri, NULL, NULL), STORE_OK);
        if ((i - from) % 500 == 499 || i == from + n - 1)
            assert_int_equal(store_commit(st), STORE_OK);
    }
}

static off_t wal_size(const struct fx *fx)
{
    struct stat sb;

    return stat(fx->wal, &sb) == 0 ? sb.st_size : -1;
}

static void test_background_checkpoint(void **state)
{
    struct fx *fx = *state;
    struct store_ckpt *ck = store_ckpt_open(fx->st, fx->path, NULL);
    int64_t n = 0;

    assert_non_null(ck);
    assert_false(store_ckpt_due(ck, 10));
    add_users(fx->st, 0, 20000);
    /* Past sqlite's own threshold of 1000 pages: the commits did not checkpoint by themselves. */
    assert_true(store_ckpt_due(ck, 1000));
    assert_false(store_ckpt_due(ck, 1000)); /* said once */
    assert_true(wal_size(fx) > 1000 * 4096);
    assert_int_equal(store_ckpt_run(ck), 0);
    /* Copied back: the next commit starts the WAL from its beginning again. */
    add_users(fx->st, 20000, 10);
    assert_false(store_ckpt_due(ck, 100));
    assert_int_equal(store_user_count(fx->st, NULL, &n), STORE_OK);
    assert_int_equal(n, 20010);
    store_ckpt_close(ck);
    add_users(fx->st, 30000, 100);
    assert_int_equal(store_user_count(fx->st, NULL, &n), STORE_OK);
    assert_int_equal(n, 20110);
}

static void test_open_fails(void **state)
{
    struct fx *fx = *state;
    char *err = NULL;

    assert_null(store_ckpt_open(fx->st, "/nonexistent/dir/s.db", &err));
    assert_non_null(err);
    assert_non_null(strstr(err, "/nonexistent/dir/s.db"));
    free(err);
    store_ckpt_close(NULL);
}

/* The disk fails under a background checkpoint (it cannot write the database file, then it
 * cannot sync it): -1, and nothing is lost; the next checkpoint copies the WAL back, and the
 * store reopened holds every user. */
static void test_checkpoint_fails(void **state)
{
    struct fx *fx = *state;
    struct store_ckpt *ck;
    int64_t n = 0;

    store_close(fx->st);
    assert_int_equal(store_fault_install(), 0);
    fx->st = store_open(fx->path, NULL);
    assert_non_null(fx->st);
    ck = store_ckpt_open(fx->st, fx->path, NULL);
    assert_non_null(ck);
    add_users(fx->st, 0, 3000);
    assert_true(store_ckpt_due(ck, 50));
    store_fault_arm(STORE_FAULT_WRITE, STORE_FAULT_DB, 0, -1, SQLITE_FULL);
    assert_int_equal(store_ckpt_run(ck), -1);
    assert_true(store_fault_hits() > 0);
    store_fault_arm(STORE_FAULT_SYNC, STORE_FAULT_DB, 0, -1, SQLITE_IOERR_FSYNC);
    assert_int_equal(store_ckpt_run(ck), -1);
    assert_true(store_fault_hits() > 0);
    store_fault_disarm();
    assert_int_equal(store_user_count(fx->st, NULL, &n), STORE_OK);
    assert_int_equal(n, 3000);
    add_users(fx->st, 3000, 10); /* the store still takes changes */
    assert_int_equal(store_ckpt_run(ck), 0);
    store_ckpt_close(ck);
    assert_int_equal(store_close(fx->st), 0);
    fx->st = store_open(fx->path, NULL);
    assert_non_null(fx->st);
    assert_int_equal(store_user_count(fx->st, NULL, &n), STORE_OK);
    assert_int_equal(n, 3010);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_background_checkpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_fails, setup, teardown),
    };
    log_set_level(LOG_LEVEL_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
