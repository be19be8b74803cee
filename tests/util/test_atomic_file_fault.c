/* Unit tests for util/atomic_file when the system calls under it fail: fchmod, write, fsync,
 * close, unlink and symlink. This program is linked with -Wl,--wrap for those calls (see
 * tests/util/Makefile.inc), so the calls atomic_file.c makes come here first; unless a test armed
 * a failure they go on to the C library. On every failure: -1, an error that names the step and
 * the errno, the old file intact, and no temporary file left (unless removing it failed too). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/atomic_file.h"
#include "util/log.h"

#define OLD "the old content\n"

/* ---- the wrapped calls ---- */

/* ld's --wrap names: __wrap_X is called for X, __real_X is the C library's X. */
int __wrap_fchmod(int fd, mode_t mode);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
int __wrap_fsync(int fd);
int __wrap_close(int fd);
int __wrap_unlink(const char *path);
int __wrap_symlink(const char *target, const char *path);
int __real_fchmod(int fd, mode_t mode);
ssize_t __real_write(int fd, const void *buf, size_t n);
int __real_fsync(int fd);
int __real_close(int fd);
int __real_unlink(const char *path);
int __real_symlink(const char *target, const char *path);

/* What is armed: up to two calls, each failing `times` times after `skip` calls passed. */
static struct fault {
    const char *call; /* NULL: a free slot */
    int skip;
    int times;
    int err; /* errno of the failures */
} faults[2];
static int hits; /* failures since the last disarm */

static void disarm(void)
{
    memset(faults, 0, sizeof(faults));
    hits = 0;
}

static void arm(const char *call, int skip, int times, int err)
{
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        if (faults[i].call == NULL) {
            faults[i] = (struct fault){call, skip, times, err};
            return;
        }
    }
    fail_msg("more than two faults armed");
}

static int fails(const char *call)
{
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        struct fault *f = &faults[i];
        if (f->call == NULL || strcmp(f->call, call) != 0)
            continue;
        if (f->skip > 0) {
            f->skip--;
            return 0;
        }
        if (f->times == 0)
            return 0;
        f->times--;
        hits++;
        errno = f->err;
        return 1;
    }
    return 0;
}

int __wrap_fchmod(int fd, mode_t mode)
{
    return fails("fchmod") ? -1 : __real_fchmod(fd, mode);
}

/* Only writes to files: the log's lines on stderr always go through. */
ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
    return fd > STDERR_FILENO && fails("write") ? -1 : __real_write(fd, buf, n);
}

int __wrap_fsync(int fd)
{
    return fails("fsync") ? -1 : __real_fsync(fd);
}

/* As NFS can: the descriptor is closed, yet close reports that data was lost. */
int __wrap_close(int fd)
{
    int rc = __real_close(fd);
    return fails("close") ? -1 : rc;
}

int __wrap_unlink(const char *path)
{
    return fails("unlink") ? -1 : __real_unlink(path);
}

int __wrap_symlink(const char *target, const char *path)
{
    return fails("symlink") ? -1 : __real_symlink(target, path);
}

/* ---- fixture ---- */

struct tmp {
    char dir[64];
    char path[128]; /* dir/file, holding OLD at the start of each test */
};

static int make_tmp(void **state)
{
    struct tmp *t = calloc(1, sizeof(*t));
    FILE *fp;

    log_set_level(LOG_LEVEL_ERROR); /* the warnings these failures log are expected */
    if (t == NULL)
        return -1;
    snprintf(t->dir, sizeof(t->dir), "/tmp/imd-atomic-fault-XXXXXX");
    if (mkdtemp(t->dir) == NULL)
        return -1;
    snprintf(t->path, sizeof(t->path), "%s/file", t->dir);
    if ((fp = fopen(t->path, "w")) == NULL || fputs(OLD, fp) < 0 || fclose(fp) != 0)
        return -1;
    *state = t;
    return 0;
}

static int remove_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int drop_tmp(void **state)
{
    struct tmp *t = *state;

    disarm();
    nftw(t->dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
    free(t);
    return 0;
}

static void assert_content(const char *path, const char *want)
{
    char buf[256] = "";
    FILE *fp = fopen(path, "r");

    assert_non_null(fp);
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    assert_string_equal(buf, want);
}

/* Entries of the directory other than . and .. */
static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void assert_err(char *err, const char *step, int errnum)
{
    assert_non_null(err);
    if (strstr(err, step) == NULL || strstr(err, strerror(errnum)) == NULL)
        fail_msg("error '%s' does not say '%s' and '%s'", err, step, strerror(errnum));
    free(err);
}

/* atomic_file_write fails at `call`: the error, the old file, no temporary. */
static void write_fails_at(struct tmp *t, const char *call, int err, const char *step)
{
    char *msg = NULL;

    arm(call, 0, 1, err);
    assert_int_equal(atomic_file_write(t->path, "new\n", 4, 0644, &msg), -1);
    assert_int_equal(hits, 1);
    assert_err(msg, step, err);
    assert_content(t->path, OLD);
    assert_int_equal(entries(t->dir), 1);
}

/* ---- tests ---- */

static void test_fchmod_fails(void **state)
{
    write_fails_at(*state, "fchmod", EPERM, "cannot set the mode of");
}

static void test_write_fails(void **state)
{
    write_fails_at(*state, "write", ENOSPC, "cannot write");
}

static void test_fsync_fails(void **state)
{
    write_fails_at(*state, "fsync", EIO, "cannot sync");
}

static void test_close_fails(void **state)
{
    write_fails_at(*state, "close", EIO, "cannot write");
}

/* An interrupted write is repeated: the file is whole. */
static void test_write_interrupted(void **state)
{
    struct tmp *t = *state;

    arm("write", 0, 2, EINTR);
    assert_int_equal(atomic_file_write(t->path, "new\n", 4, 0644, NULL), 0);
    assert_int_equal(hits, 2);
    assert_content(t->path, "new\n");
    assert_int_equal(entries(t->dir), 1);
}

/* The sync fails and so does removing the unfinished temporary: still -1 with the sync's
 * error and the old file intact; the temporary stays behind (logged: nothing else can be done,
 * and the next write makes a new one under another name). */
static void test_unlink_fails_too(void **state)
{
    struct tmp *t = *state;
    char *msg = NULL;

    arm("fsync", 0, 1, EIO);
    arm("unlink", 0, 1, EACCES);
    assert_int_equal(atomic_file_write(t->path, "new\n", 4, 0644, &msg), -1);
    assert_int_equal(hits, 2);
    assert_err(msg, "cannot sync", EIO);
    assert_content(t->path, OLD);
    assert_int_equal(entries(t->dir), 2);
}

/* The rename fails (a directory stands at the name) and the temporary cannot be removed: the
 * rename's error, the directory untouched. */
static void test_rename_and_unlink_fail(void **state)
{
    struct tmp *t = *state;
    char sub[160], inside[200], *msg = NULL;

    snprintf(sub, sizeof(sub), "%s/sub", t->dir);
    snprintf(inside, sizeof(inside), "%s/x", sub);
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(mkdir(inside, 0755), 0); /* not empty: rename cannot replace it */
    arm("unlink", 0, 1, EACCES);
    assert_int_equal(atomic_file_write(sub, "new\n", 4, 0644, &msg), -1);
    assert_int_equal(hits, 1);
    assert_non_null(strstr(msg, "cannot replace"));
    free(msg);
    assert_int_equal(entries(t->dir), 3); /* file, sub, and the temporary left behind */
}

/* The file is in place but the directory cannot be synced: the write succeeded (the rename is
 * done; only durability is weaker, which is logged). */
static void test_dir_sync_fails_after_rename(void **state)
{
    struct tmp *t = *state;

    arm("fsync", 1, 1, EIO); /* the temporary's sync passes, the directory's fails */
    assert_int_equal(atomic_file_write(t->path, "new\n", 4, 0644, NULL), 0);
    assert_int_equal(hits, 1);
    assert_content(t->path, "new\n");
    assert_int_equal(entries(t->dir), 1);
}

/* A new file that cannot be synced is removed again: the name stays free. */
static void test_create_fsync_fails(void **state)
{
    struct tmp *t = *state;
    char path[160], *msg = NULL;

    snprintf(path, sizeof(path), "%s/new", t->dir);
    arm("fsync", 0, 1, EIO);
    assert_int_equal(atomic_file_create(path, "fresh", 5, 0600, &msg), -1);
    assert_err(msg, "cannot sync", EIO);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(entries(t->dir), 1);
}

/* The temporary link cannot be made beside the name: the old file stays. */
static void test_temp_link_fails(void **state)
{
    struct tmp *t = *state;
    char *msg = NULL;

    arm("symlink", 1, 1, EACCES); /* the first (the name exists) passes and finds EEXIST */
    assert_int_equal(atomic_symlink("target", t->path, &msg), -1);
    assert_err(msg, "cannot create a link beside", EACCES);
    assert_content(t->path, OLD);
    assert_int_equal(entries(t->dir), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fchmod_fails, make_tmp, drop_tmp),
        cmocka_unit_test_setup_teardown(test_write_fails, make_tmp, drop_tmp),
        cmocka_unit_test_setup_teardown(test_fsync_fails, make_tmp, drop_tmp),
        cmocka_unit_test_setup_teardown(test_close_fails, make_tmp, drop_tmp),
        cmocka_unit_test_setup_teardown(test_write_interrupted, make_tmp, drop_tmp),
        cmocka_unit_test_setup_teardown(test_unlink_fails_too, make_tmp, drop_tmp),
        cmocka_unit_test_setup_teardown(test_rename_and_unlink_fail, make_tmp, drop_tmp),
        cmocka_unit_test_setup_teardown(test_dir_sync_fails_after_rename, make_tmp, drop_tmp),
        cmocka_unit_test_setup_teardown(test_create_fsync_fails, make_tmp, drop_tmp),
        cmocka_unit_test_setup_teardown(test_temp_link_fails, make_tmp, drop_tmp),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
