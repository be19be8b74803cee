/* Unit tests for util/atomic_file: exact bytes, the requested mode whatever the umask, a
 * replacement by rename (an old reader keeps the old file), and on every failure the old file
 * intact, a clear error and no temporary file left in the directory; new files (exclusive,
 * synced) and symbolic links created or replaced by rename; directory syncs. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/atomic_file.h"

#define OLD "the old content\n"

struct tmp {
    char dir[64];
    char path[128]; /* dir/file, holding OLD at the start of each test */
};

static void put(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

static int make_tmp(void **state)
{
    struct tmp *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return -1;
    snprintf(t->dir, sizeof(t->dir), "/tmp/imd-atomic-XXXXXX");
    if (mkdtemp(t->dir) == NULL)
        return -1;
    snprintf(t->path, sizeof(t->path), "%s/file", t->dir);
    put(t->path, OLD);
    *state = t;
    return 0;
}

static int remove_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    chmod(p, 0700);
    return remove(p);
}

static int drop_tmp(void **state)
{
    struct tmp *t = *state;

    chmod(t->dir, 0700);
    nftw(t->dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
    free(t);
    return 0;
}

/* The file's bytes (caller frees) and their count. */
static char *contents(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf = calloc(1, 4096);

    assert_non_null(fp);
    *len = fread(buf, 1, 4095, fp);
    fclose(fp);
    return buf;
}

static void assert_old_intact(const struct tmp *t)
{
    size_t len;
    char *got = contents(t->path, &len);

    assert_string_equal(got, OLD);
    free(got);
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

static void expect_error(const char *path, const char *want)
{
    char *err = NULL;

    assert_int_equal(atomic_file_write(path, "new", 3, 0644, &err), -1);
    assert_non_null(err);
    if (strstr(err, want) == NULL)
        fail_msg("error '%s' does not say '%s'", err, want);
    free(err);
}

static void test_exact_bytes(void **state)
{
    struct tmp *t = *state;
    static const char data[] = {'a', '\0', 'b', '\n', '\xff'};
    char *err = NULL, *got;
    size_t len;

    assert_int_equal(atomic_file_write(t->path, data, sizeof(data), 0644, &err), 0);
    assert_null(err);
    got = contents(t->path, &len);
    assert_int_equal(len, sizeof(data));
    assert_memory_equal(got, data, sizeof(data));
    free(got);
    assert_int_equal(entries(t->dir), 1);
}

static void check_mode(const struct tmp *t, mode_t mode)
{
    struct stat st;

    assert_int_equal(atomic_file_write(t->path, "k", 1, mode, NULL), 0);
    assert_int_equal(stat(t->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, mode);
}

static void test_mode_ignores_umask(void **state)
{
    mode_t old = umask(0077);

    check_mode(*state, 0644);
    umask(0);
    check_mode(*state, 0600);
    umask(old);
}

/* A reader that opened the old file keeps reading it: the new one came by rename. */
static void test_replaces_by_rename(void **state)
{
    struct tmp *t = *state;
    FILE *reader = fopen(t->path, "r");
    char line[64] = "";
    size_t len;
    char *got;

    assert_non_null(reader);
    assert_int_equal(atomic_file_write(t->path, "new\n", 4, 0600, NULL), 0);
    assert_non_null(fgets(line, sizeof(line), reader));
    fclose(reader);
    assert_string_equal(line, OLD);
    got = contents(t->path, &len);
    assert_string_equal(got, "new\n");
    free(got);
}

static void test_relative_path(void **state)
{
    struct tmp *t = *state;
    char cwd[4096];

    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(t->dir), 0);
    assert_int_equal(atomic_file_write("rel", "r", 1, 0644, NULL), 0);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(entries(t->dir), 2);
}

static void test_path_names_directory(void **state)
{
    struct tmp *t = *state;
    char p[160];

    snprintf(p, sizeof(p), "%s/", t->dir);
    expect_error(p, "the path names a directory");
    assert_int_equal(entries(t->dir), 1);
}

static void test_missing_directory(void **state)
{
    struct tmp *t = *state;
    char p[160];

    snprintf(p, sizeof(p), "%s/none/file", t->dir);
    expect_error(p, "cannot create a temporary file");
}

/* The rename fails (a directory stands at the name): no temporary file stays behind. */
static void test_rename_fails(void **state)
{
    struct tmp *t = *state;
    char p[160], inside[200];

    snprintf(p, sizeof(p), "%s/sub", t->dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(inside, sizeof(inside), "%s/x", p);
    put(inside, "x");
    expect_error(p, "cannot replace");
    assert_int_equal(entries(t->dir), 2);
    assert_old_intact(t);
}

static void test_err_may_be_null(void **state)
{
    struct tmp *t = *state;
    char p[160];

    snprintf(p, sizeof(p), "%s/none/file", t->dir);
    assert_int_equal(atomic_file_write(p, "x", 1, 0644, NULL), -1);
}

/* The disk fills up half-way (RLIMIT_FSIZE in a child): the old file stays, no temporary. */
static void test_write_fails_midway(void **state)
{
    struct tmp *t = *state;
    struct rlimit small = {.rlim_cur = 2, .rlim_max = 2};
    pid_t pid = fork();
    int status;

    assert_true(pid >= 0);
    if (pid == 0) {
        char *err = NULL;
        signal(SIGXFSZ, SIG_IGN);
        if (setrlimit(RLIMIT_FSIZE, &small) != 0)
            _exit(2);
        if (atomic_file_write(t->path, "longer than two bytes", 21, 0644, &err) == 0)
            _exit(3);
        _exit(strstr(err, "cannot write") != NULL ? 0 : 4);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_old_intact(t);
    assert_int_equal(entries(t->dir), 1);
}

/* ---- new files, links, directory syncs ---- */

static void test_create_new_file(void **state)
{
    struct tmp *t = *state;
    char path[160], *got;
    struct stat st;
    size_t len;

    mode_t old_mask = umask(0077);

    snprintf(path, sizeof(path), "%s/new", t->dir);
    assert_int_equal(atomic_file_create(path, "fresh", 5, 0644, NULL), 0);
    umask(old_mask);
    got = contents(path, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(got, "fresh", 5);
    free(got);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(entries(t->dir), 2);
}

/* An existing file is never overwritten: it stays as it was and the error names it. */
static void test_create_refuses_existing(void **state)
{
    struct tmp *t = *state;
    char *err = NULL;

    assert_int_equal(atomic_file_create(t->path, "new", 3, 0600, &err), -1);
    assert_non_null(strstr(err, "cannot create"));
    assert_non_null(strstr(err, "File exists"));
    free(err);
    assert_old_intact(t);
    assert_int_equal(entries(t->dir), 1);
}

static char *link_target(const char *path)
{
    static char buf[256];
    ssize_t n = readlink(path, buf, sizeof(buf) - 1);

    assert_true(n >= 0);
    buf[n] = '\0';
    return buf;
}

/* A new name, then the same name replaced twice: over a link and over a regular file. */
static void test_symlink_created_and_replaced(void **state)
{
    struct tmp *t = *state;
    char path[160];

    snprintf(path, sizeof(path), "%s/link", t->dir);
    assert_int_equal(atomic_symlink("file", path, NULL), 0);
    assert_string_equal(link_target(path), "file");
    assert_int_equal(atomic_symlink("elsewhere", path, NULL), 0);
    assert_string_equal(link_target(path), "elsewhere");
    assert_int_equal(atomic_symlink("link", t->path, NULL), 0);
    assert_string_equal(link_target(t->path), "link");
    assert_int_equal(entries(t->dir), 2); /* no temporary link left */
}

/* A temporary link left by a crash (same process id) does not stop the next replacement. */
static void test_symlink_over_leftover(void **state)
{
    struct tmp *t = *state;
    char leftover[200];

    snprintf(leftover, sizeof(leftover), "%s/.file.%ld.link", t->dir, (long)getpid());
    assert_int_equal(symlink("stale", leftover), 0);
    assert_int_equal(atomic_symlink("new", t->path, NULL), 0);
    assert_string_equal(link_target(t->path), "new");
    assert_int_equal(entries(t->dir), 1);
}

/* A name that is a directory cannot become a link: a clear error, nothing else changes. */
static void test_symlink_over_directory(void **state)
{
    struct tmp *t = *state;
    char sub[160], *err = NULL;
    struct stat st;

    snprintf(sub, sizeof(sub), "%s/sub", t->dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(atomic_symlink("file", sub, &err), -1);
    assert_non_null(strstr(err, "cannot replace"));
    free(err);
    assert_int_equal(lstat(sub, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_old_intact(t);
    assert_int_equal(entries(t->dir), 2);
}

static void test_dir_sync(void **state)
{
    struct tmp *t = *state;
    char missing[160], *err = NULL;

    assert_int_equal(atomic_dir_sync(t->dir, NULL), 0);
    snprintf(missing, sizeof(missing), "%s/missing", t->dir);
    assert_int_equal(atomic_dir_sync(missing, &err), -1);
    assert_non_null(strstr(err, "cannot sync the directory"));
    free(err);
    assert_int_equal(atomic_dir_sync(t->path, NULL), -1); /* not a directory */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exact_bytes, make_tmp, drop_tmp),
        cmocka_unit_test_setup_teardown(test_mode_ignores_umask, make_tmp, drop_tmp),
        cmocka_unit_test_setup_teardown(test_replaces_by_rename, make_tmp, drop_tmp),
        cmocka_unit_test_setup_teardown(test_relative_path, make_tmp, drop_tmp),
        cmocka_unit_test_setup_teardown(test_path_names_directory, make_tmp, drop_tmp),
        cmocka_unit_test_setup_teardown(test_missing_directory, make_tmp, drop_tmp),
        cmocka_unit_test_setup_teardown(test_rename_fails, make_tmp, drop_tmp),
        cmocka_unit_test_setup_teardown(test_err_may_be_null, make_tmp, drop_tmp),
        cmocka_unit_test_setup_teardown(test_write_fails_midway, make_tmp, drop_tmp),
        cmocka_unit_test_setup_teardown(test_create_new_file, make_tmp, drop_tmp),
        cmocka_unit_test_setup_teardown(test_create_refuses_existing, make_tmp, drop_tmp),
        cmocka_unit_test_setup_teardown(test_symlink_created_and_replaced, make_tmp, drop_tmp),
        cmocka_unit_test_setup_teardown(test_symlink_over_leftover, make_tmp, drop_tmp),
        cmocka_unit_test_setup_teardown(test_symlink_over_directory, make_tmp, drop_tmp),
        cmocka_unit_test_setup_teardown(test_dir_sync, make_tmp, drop_tmp),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
