/* The key group of component/cert_files: keys the router reads are 0640 in [certs] key_group
 * (0600 without one), certificates 0644, the pending key 0600 whatever the group, start-up
 * repair brings kept files to those modes and that group, and the group is resolved with a
 * clear refusal when it does not exist or this process is not a member. */
#include "component/engine/cert_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const set[] = {"a.example.test", "b.example.test"};
#define N_SET 2
#define CRT "-----BEGIN CERTIFICATE-----\nnot parsed here\n-----END CERTIFICATE-----\n"
#define KEY "-----BEGIN PRIVATE KEY-----\nnot parsed here\n-----END PRIVATE KEY-----\n"

static char *fresh_dir(void)
{
    char tmpl[] = "/tmp/imd-keygroup-XXXXXX";

    assert_non_null(mkdtemp(tmpl));
    return strdup(tmpl);
}

static void drop_dir(char *dir)
{
    char cmd[PATH_MAX + 16];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

/* stat of `dir`/`name` (following the links into the generation). */
static struct stat stat_of(const char *dir, const char *name)
{
    char path[PATH_MAX];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_int_equal(stat(path, &st), 0);
    return st;
}

static void assert_mode(const char *dir, const char *name, mode_t want)
{
    struct stat st = stat_of(dir, name);

    if ((st.st_mode & 07777) != want)
        fail_msg("%s/%s: mode %04o, want %04o", dir, name, (unsigned)(st.st_mode & 07777),
                 (unsigned)want);
}

/* Every key name of the set (and the own name) has `mode` and, when `gid` is a group, `gid`;
 * every certificate name 0644. */
static void assert_pair_access(const char *dir, mode_t key_mode, gid_t gid)
{
    const char *names[] = {"cup-xmpp-s2s", set[0], set[1]};
    char name[128];

    for (size_t i = 0; i < 3; i++) {
        snprintf(name, sizeof(name), "%s.key", names[i]);
        assert_mode(dir, name, key_mode);
        if (gid != CERT_FILES_NO_GROUP)
            assert_int_equal(stat_of(dir, name).st_gid, gid);
        snprintf(name, sizeof(name), "%s.crt", names[i]);
        assert_mode(dir, name, CERT_FILES_CERT_MODE);
    }
}

/* A group this process may give files to, other than its own primary group when it can: any
 * group as root, a supplementary group otherwise (or its primary group when it has none). */
static gid_t usable_group(void)
{
    gid_t groups[NGROUPS_MAX];
    int n;

    if (geteuid() == 0)
        return getegid() == 4242 ? 4243 : 4242; /* root may chown to any gid */
    n = getgroups(NGROUPS_MAX, groups);
    for (int i = 0; i < n; i++)
        if (groups[i] != getegid())
            return groups[i];
    return getegid();
}

static void install(const char *dir)
{
    char *err = NULL;

    if (cert_files_install(dir, set, N_SET, NULL, 0, CRT, KEY, &err) != 0)
        fail_msg("install: %s", err);
}

static void test_no_group_key_0600(void **state)
{
    char *dir = fresh_dir();

    (void)state;
    cert_files_set_key_group(CERT_FILES_NO_GROUP);
    install(dir);
    assert_pair_access(dir, 0600, CERT_FILES_NO_GROUP);
    drop_dir(dir);
}

static void test_group_key_0640(void **state)
{
    char *dir = fresh_dir(), *err = NULL;
    gid_t gid = usable_group();

    (void)state;
    cert_files_set_key_group(gid);
    install(dir);
    assert_pair_access(dir, 0640, gid);
    /* a regeneration writes a new generation the same way */
    install(dir);
    assert_pair_access(dir, 0640, gid);
    /* the pending key of a CSR is imdomaind's alone */
    assert_int_equal(cert_files_write_pending(dir, KEY, &err), 0);
    assert_mode(dir, "cup-xmpp-s2s.pending.key", 0600);
    cert_files_set_key_group(CERT_FILES_NO_GROUP);
    drop_dir(dir);
}

/* Files written without the group (an older imdomaind, or the group set later) get it at the
 * next start, and lose group read when the group is unset again; a certificate made private by
 * hand is readable again. Nothing to do the second time. */
static void test_repair_fixes_access(void **state)
{
    char *dir = fresh_dir(), *err = NULL, path[PATH_MAX];
    gid_t gid = usable_group();

    (void)state;
    cert_files_set_key_group(CERT_FILES_NO_GROUP);
    install(dir);
    assert_int_equal(cert_files_repair(dir, &err), 0);
    cert_files_set_key_group(gid);
    assert_true(cert_files_repair(dir, &err) > 0);
    assert_pair_access(dir, 0640, gid);
    assert_int_equal(cert_files_repair(dir, &err), 0);
    snprintf(path, sizeof(path), "%s/a.example.test.crt", dir);
    assert_int_equal(chmod(path, 0600), 0); /* through the link: the generation's file */
    cert_files_set_key_group(CERT_FILES_NO_GROUP);
    assert_int_equal(cert_files_repair(dir, &err), 2); /* the key's mode, the certificate's */
    assert_pair_access(dir, 0600, CERT_FILES_NO_GROUP);
    assert_int_equal(cert_files_repair(dir, &err), 0);
    drop_dir(dir);
}

/* The plain files of the layout before the links (no .live yet) are kept, so fixed too. */
static void test_repair_plain_files(void **state)
{
    char *dir = fresh_dir(), *err = NULL, path[PATH_MAX];
    gid_t gid = usable_group();
    FILE *fp;

    (void)state;
    snprintf(path, sizeof(path), "%s/cup-xmpp-s2s.key", dir);
    assert_non_null(fp = fopen(path, "w"));
    fputs(KEY, fp);
    fclose(fp);
    assert_int_equal(chmod(path, 0600), 0);
    snprintf(path, sizeof(path), "%s/cup-xmpp-s2s.crt", dir);
    assert_non_null(fp = fopen(path, "w"));
    fputs(CRT, fp);
    fclose(fp);
    assert_int_equal(chmod(path, 0644), 0);
    cert_files_set_key_group(gid);
    assert_int_equal(cert_files_repair(dir, &err), 1);
    assert_mode(dir, "cup-xmpp-s2s.key", 0640);
    assert_int_equal(stat_of(dir, "cup-xmpp-s2s.key").st_gid, gid);
    cert_files_set_key_group(CERT_FILES_NO_GROUP);
    drop_dir(dir);
}

static bool process_has_group0(void)
{
    gid_t groups[NGROUPS_MAX];
    int n = getgroups(NGROUPS_MAX, groups);

    for (int i = 0; i < n; i++)
        if (groups[i] == 0)
            return true;
    return getegid() == 0;
}

static void test_resolve(void **state)
{
    char *err = NULL;
    gid_t gid = 0;
    struct group *own = getgrgid(getegid());

    (void)state;
    assert_int_equal(cert_files_key_group_resolve("no-such-group-imd", &gid, &err), -1);
    assert_non_null(strstr(err, "the group 'no-such-group-imd' does not exist"));
    free(err);
    err = NULL;
    assert_non_null(own);
    assert_int_equal(cert_files_key_group_resolve(own->gr_name, &gid, &err), 0);
    assert_int_equal(gid, getegid());
    if (geteuid() != 0) {
        /* root's group: an unprivileged process is (almost always) not in it */
        gid_t groups[NGROUPS_MAX];
        int n = getgroups(NGROUPS_MAX, groups);
        for (int i = 0; i < n; i++)
            if (groups[i] == 0)
                skip();
        struct group *root = getgrgid(0);
        assert_non_null(root);
        assert_int_equal(cert_files_key_group_resolve(root->gr_name, &gid, &err), -1);
        assert_non_null(strstr(err, "which is not a member of the group"));
        free(err);
    }
}

/* Runs `fn(dir)` as a user without privileges and returns its result: as root in a child that
 * became nobody (65534, in no other group), otherwise in this process, which has none. */
static int as_other(int (*fn)(const char *dir), const char *dir)
{
    pid_t pid;
    int status;

    if (geteuid() != 0)
        return fn(dir);
    fflush(NULL); /* the child exits through exit(): nothing buffered is written twice */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        gid_t none[1] = {65534};
        int rc;
        /* root stays the saved user only to write the coverage data at exit: with another
         * effective user the kernel clears the effective capabilities, so fn runs unprivileged */
        if (setgroups(1, none) != 0 || setresgid(65534, 65534, 0) != 0 ||
            setresuid(65534, 65534, 0) != 0)
            _exit(100);
        rc = fn(dir);
        if (setresuid(0, 0, 0) != 0)
            _exit(101);
        exit(rc); /* not _exit: the child's coverage and leak checks count too */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* Checked in the other process: the probe refused with chown's reason and the hint. */
static int probe_refused(const char *dir)
{
    char *err = NULL;
    int refused;

    cert_files_set_key_group(0);
    refused = cert_files_check_key_group(dir, &err) == -1 && err &&
              strstr(err, "Operation not permitted") && strstr(err, "@chown");
    free(err);
    return refused ? 0 : 1;
}

/* The start-up probe: works (and leaves nothing) with a usable group; refused, with the hint,
 * when chown(2) is not allowed: here a process that is not in the group (as root, a child that
 * became nobody: the probe does not rely on the membership check before it). */
static void test_start_probe(void **state)
{
    char *dir = fresh_dir(), *err = NULL;
    DIR *d;
    struct dirent *e;

    (void)state;
    cert_files_set_key_group(usable_group());
    assert_int_equal(cert_files_check_key_group(dir, &err), 0);
    assert_int_equal(cert_files_check_key_group("/nonexistent/certs", &err), 0);
    d = opendir(dir);
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            fail_msg("%s left behind", e->d_name);
    closedir(d);
    assert_int_equal(chmod(dir, 0777), 0);
    if (geteuid() == 0 || !process_has_group0())
        assert_int_equal(as_other(probe_refused, dir), 0);
    cert_files_set_key_group(CERT_FILES_NO_GROUP);
    drop_dir(dir);
}

/* The entries of `dir` other than . and .., space-separated in readdir order (caller frees). */
static char *entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char *out = calloc(1, 4096);

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            strncat(out, e->d_name, 4096 - strlen(out) - 2);
            strcat(out, " ");
        }
    closedir(d);
    return out;
}

/* Checked in the other process; 0 when the install was refused with `want` in the reason. */
static int install_refused(const char *dir, const char *want)
{
    char *err = NULL;
    int ok = cert_files_install(dir, set, N_SET, NULL, 0, CRT, KEY, &err) == -1 && err &&
             strstr(err, want) != NULL;

    if (!ok)
        fprintf(stderr, "install: %s\n", err ? err : "(accepted)");
    free(err);
    return ok ? 0 : 1;
}

static int install_group0_refused(const char *dir)
{
    cert_files_set_key_group(0);
    return install_refused(dir, "to group 0: Operation not permitted");
}

/* A key that cannot be given to the key group is never published: the new generation is
 * removed again and no name, not even .live, is made. */
static void test_share_key_refused(void **state)
{
    char *dir = fresh_dir(), *left;

    (void)state;
    if (geteuid() != 0 && process_has_group0())
        skip();
    assert_int_equal(chmod(dir, 0777), 0);
    assert_int_equal(as_other(install_group0_refused, dir), 0);
    left = entries(dir);
    assert_string_equal(left, ".cup-xmpp-s2s.lock ");
    free(left);
    cert_files_set_key_group(CERT_FILES_NO_GROUP);
    drop_dir(dir);
}

static void put(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void assert_contents(const char *dir, const char *name, const char *want)
{
    char path[PATH_MAX], buf[256] = {0};
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_true(fread(buf, 1, sizeof(buf) - 1, f) > 0);
    fclose(f);
    assert_string_equal(buf, want);
}

static int install_no_gen_dir(const char *dir)
{
    return install_refused(dir, "cannot create a directory in");
}

/* A directory the daemon may lock in but not write to: refused with the directory's name and
 * the system's reason, nothing written. */
static void test_generation_dir_refused(void **state)
{
    char *dir = fresh_dir(), *left, lock[PATH_MAX];
    int fd;

    (void)state;
    cert_files_set_key_group(CERT_FILES_NO_GROUP);
    snprintf(lock, sizeof(lock), "%s/.cup-xmpp-s2s.lock", dir);
    fd = open(lock, O_RDWR | O_CREAT, 0666);
    assert_true(fd >= 0);
    assert_int_equal(fchmod(fd, 0666), 0);
    close(fd);
    assert_int_equal(chmod(dir, 0555), 0);
    assert_int_equal(as_other(install_no_gen_dir, dir), 0);
    left = entries(dir);
    assert_string_equal(left, ".cup-xmpp-s2s.lock ");
    free(left);
    /* the same with the plain files of the layout before the links: refused while adopting
     * them, which leaves them as they were and makes no .live */
    assert_int_equal(chmod(dir, 0700), 0);
    put(dir, "cup-xmpp-s2s.crt", "old certificate\n");
    put(dir, "cup-xmpp-s2s.key", "old key\n");
    assert_int_equal(chmod(dir, 0555), 0);
    assert_int_equal(as_other(install_no_gen_dir, dir), 0);
    left = entries(dir);
    assert_null(strstr(left, ".gen-"));
    assert_null(strstr(left, ".live"));
    assert_null(strstr(left, "example.test"));
    free(left);
    assert_contents(dir, "cup-xmpp-s2s.crt", "old certificate\n");
    assert_contents(dir, "cup-xmpp-s2s.key", "old key\n");
    assert_int_equal(chmod(dir, 0700), 0);
    drop_dir(dir);
}

static int repair_without_rights(const char *dir)
{
    char *err = NULL;
    int n;

    cert_files_set_key_group(65534);
    n = cert_files_repair(dir, &err);
    if (n != 0)
        fprintf(stderr, "repair: %d %s\n", n, err ? err : "");
    free(err);
    return n == 0 ? 0 : 1;
}

/* A repair that may not change the files (they belong to another user) counts nothing and
 * leaves them as they were: in particular the key keeps its mode when its group cannot change,
 * so it is never made group-readable in the wrong group. */
static void test_repair_without_rights(void **state)
{
    char *dir = fresh_dir(), lock[PATH_MAX], crt[PATH_MAX];
    struct stat key_before;

    (void)state;
    if (geteuid() != 0)
        skip(); /* needs files owned by another user */
    cert_files_set_key_group(CERT_FILES_NO_GROUP);
    install(dir);
    snprintf(lock, sizeof(lock), "%s/.cup-xmpp-s2s.lock", dir);
    snprintf(crt, sizeof(crt), "%s/a.example.test.crt", dir);
    assert_int_equal(chmod(lock, 0666), 0);
    assert_int_equal(chmod(dir, 0755), 0);
    assert_int_equal(chmod(crt, 0600), 0); /* through the link: the generation's file */
    key_before = stat_of(dir, "a.example.test.key");
    assert_int_equal(as_other(repair_without_rights, dir), 0);
    assert_mode(dir, "a.example.test.key", 0600);
    assert_int_equal(stat_of(dir, "a.example.test.key").st_gid, key_before.st_gid);
    assert_mode(dir, "a.example.test.crt", 0600);
    assert_mode(dir, "cup-xmpp-s2s.crt", 0600);
    drop_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_group_key_0600),
        cmocka_unit_test(test_group_key_0640),
        cmocka_unit_test(test_repair_fixes_access),
        cmocka_unit_test(test_repair_plain_files),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_start_probe),
        cmocka_unit_test(test_share_key_refused),
        cmocka_unit_test(test_generation_dir_refused),
        cmocka_unit_test(test_repair_without_rights),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
