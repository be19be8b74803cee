/* Writing cup-xmpp-s2s where the router reads it; see cert_files.h for the layout. */
#include "component/engine/cert_files.h"

#include "util/atomic_file.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define CERT_FILE_MAX (1u << 20) /* bytes read back from one of our files */

static const char *const own_suffix[] = {
    [CERT_FILE_CERT] = ".crt",
    [CERT_FILE_KEY] = ".key",
    [CERT_FILE_PENDING_KEY] = ".pending.key",
};

char *cert_files_path(const char *dir, enum cert_file which)
{
    return xasprintf("%s/%s%s", dir, CERT_FILES_NAME, own_suffix[which]);
}

char *cert_files_read(const char *dir, enum cert_file which, char **err)
{
    char *path = cert_files_path(dir, which);
    char *buf = xmalloc(CERT_FILE_MAX + 1);
    FILE *fp = fopen(path, "r");
    size_t len;
    int saved;

    if (fp == NULL) {
        saved = errno;
        *err = xasprintf("cannot read %s: %s", path, strerror(saved));
        free(buf);
        free(path);
        errno = saved;
        return NULL;
    }
    len = fread(buf, 1, CERT_FILE_MAX, fp);
    buf[len] = '\0';
    fclose(fp);
    free(path);
    return buf;
}

/* `dir`/`name` replaced by `data` with `mode` (see util/atomic_file.h). */
static int write_file(const char *dir, const char *name, const char *data, mode_t mode, char **err)
{
    char *path = xasprintf("%s/%s", dir, name);
    int rc = atomic_file_write(path, data, strlen(data), mode, err);

    free(path);
    return rc;
}

/* ---- the lock ---- */

#define LOCK_FILE "." CERT_FILES_NAME ".lock"

/* Who took the lock last, as its file says, for the refusal (caller frees): likely the holder
 * when it is an imdomaind; another tool (flock(1), say) records nothing. */
static char *lock_holder(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    long pid;

    buf[n > 0 ? n : 0] = '\0';
    if (sscanf(buf, "%ld", &pid) == 1 && pid > 0 && pid != (long)getpid())
        return xasprintf("last taken by pid %ld", pid);
    return xstrdup("holder unknown");
}

int cert_files_lock(const char *dir, char **err)
{
    char *path = xasprintf("%s/" LOCK_FILE, dir), pid[24];
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, CERT_FILES_KEY_MODE);

    if (fd < 0) {
        *err = xasprintf("cannot open the lock file %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int saved = errno;
        char *holder = saved == EWOULDBLOCK ? lock_holder(fd) : NULL;
        *err = holder ? xasprintf("another process is changing the certificates in %s (it "
                                  "holds %s, %s); run the command again once it is done",
                                  dir, path, holder)
                      : xasprintf("cannot lock %s: %s", path, strerror(saved));
        log_warnx("certs: lock refused path=%s holder=%s", path, holder ? holder : "-");
        free(holder);
        close(fd);
        free(path);
        return -1;
    }
    snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, strlen(pid), 0) < 0)
        log_warn("certs: cannot record our pid in %s", path); /* the lock holds all the same */
    free(path);
    return fd;
}

void cert_files_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}

int cert_files_write_pending(const char *dir, const char *key_pem, char **err)
{
    char *name = xasprintf("%s%s", CERT_FILES_NAME, own_suffix[CERT_FILE_PENDING_KEY]);
    int lock = cert_files_lock(dir, err);
    int rc = lock < 0 ? -1 : write_file(dir, name, key_pem, CERT_FILES_KEY_MODE, err);

    cert_files_unlock(lock);
    free(name);
    return rc;
}

/*
 * The install, step by step, and why a crash at any point leaves every name with a matching
 * pair, the old one or the new one:
 *
 *  0. adopt (once, from the layout before the links): the plain own files are hard-linked into
 *     a generation and .live made to point at it, then the directory synced. Nothing a reader
 *     sees changes: the names now reachable through .live hold the same inodes.
 *  1. write: a new generation directory with the certificate and the key, both fsynced, then
 *     the directory. Nothing points at it yet: a crash leaves it as garbage (step 5 collects
 *     it) and every name as it was.
 *  2. link: every name of the new set gets its links into .live, the .key before the .crt
 *     (Prosody only takes a .crt whose .key exists: a crash between the two leaves a lone .key,
 *     which it ignores). .live still points at the old generation, so a new name gives the old
 *     pair (nothing on a first install: its links dangle, and Prosody skips a name whose files
 *     do not stat), and a name that already had its links is not touched. A plain file of the old
 *     layout is replaced by its link: after step 0 both hold the same old content.
 *  3. sync the directory: the new generation's entry and the links are durable before .live
 *     can point at them.
 *  4. switch: .live is renamed to point at the new generation (rename(2) is atomic) and the
 *     directory synced. Before the rename every name gives the old pair (or nothing), after it
 *     the new one: certificate and key change with one entry, so no name can pair a new .crt
 *     with an old .key.
 *  5. tidy: links of names that left the set (.crt before .key), files of `old` names of the
 *     old layout, other generation directories and the pending key are removed. Not synced: a
 *     crash may bring some back, a stale name then gives the current pair and the next install
 *     removes it, and old generations are collected by the next install.
 */

#define LIVE "." CERT_FILES_NAME ".live"
#define GEN_PREFIX "." CERT_FILES_NAME ".gen-"
#define CRT_FILE CERT_FILES_NAME ".crt"
#define KEY_FILE CERT_FILES_NAME ".key"
#define LINK_TO_CRT LIVE "/" CRT_FILE
#define LINK_TO_KEY LIVE "/" KEY_FILE
#define GEN_DIR_MODE 0755 /* the key inside is 0600; the certificate may be read by anyone */

bool (*cert_files_crash_point)(const char *step);

/* True when the test hook wants the install to die here; *err says so. */
static bool crashed(const char *step, char **err)
{
    if (cert_files_crash_point == NULL || !cert_files_crash_point(step))
        return false;
    *err = xasprintf("stopped at %s (test)", step);
    return true;
}

/* Names that end up as file names: no path separators, no hidden files. */
static bool safe_name(const char *name)
{
    return name[0] != '\0' && name[0] != '.' && strchr(name, '/') == NULL;
}

static bool in_list(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

/* `name` with its ".crt" or ".key" suffix taken off is the own name or one of the set. */
static bool name_in_set(const char *name, size_t len, const char *const *domains, size_t n)
{
    if (len == strlen(CERT_FILES_NAME) && strncmp(name, CERT_FILES_NAME, len) == 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (strlen(domains[i]) == len && strncmp(name, domains[i], len) == 0)
            return true;
    return false;
}

/* The target of the link `dir`/`name` (caller frees), or NULL when it is not a link. */
static char *read_link(const char *dir, const char *name)
{
    char *path = xasprintf("%s/%s", dir, name), buf[256];
    ssize_t len = readlink(path, buf, sizeof(buf) - 1);

    free(path);
    if (len < 0)
        return NULL;
    buf[len] = '\0';
    return xstrdup(buf);
}

static bool links_to(const char *dir, const char *name, const char *target)
{
    char *got = read_link(dir, name);
    bool same = got != NULL && strcmp(got, target) == 0;

    free(got);
    return same;
}

static int set_link(const char *dir, const char *name, const char *target, char **err)
{
    char *path = xasprintf("%s/%s", dir, name);
    int rc = links_to(dir, name, target) ? 0 : atomic_symlink(target, path, err);

    free(path);
    return rc;
}

/* ---- generation directories ---- */

static char *new_generation(const char *dir, char **err)
{
    char *gen = xasprintf("%s/" GEN_PREFIX "XXXXXX", dir);

    if (mkdtemp(gen) == NULL || chmod(gen, GEN_DIR_MODE) != 0) {
        *err = xasprintf("cannot create a directory in %s: %s", dir, strerror(errno));
        (void)rmdir(gen);
        free(gen);
        return NULL;
    }
    return gen;
}

static void remove_generation(const char *dir, const char *name)
{
    char *gen = xasprintf("%s/%s", dir, name);
    char *crt = xasprintf("%s/" CRT_FILE, gen), *key = xasprintf("%s/" KEY_FILE, gen);

    (void)unlink(crt);
    (void)unlink(key);
    if (rmdir(gen) != 0 && errno != ENOENT)
        log_warn("cannot remove the old certificate directory %s", gen);
    free(key);
    free(crt);
    free(gen);
}

/* Points .live at the generation `gen` (a path in `dir`) and syncs the directory. */
static int switch_live(const char *dir, const char *gen, char **err)
{
    char *live = xasprintf("%s/" LIVE, dir);
    int rc = atomic_symlink(strrchr(gen, '/') + 1, live, err);

    free(live);
    return rc == 0 ? atomic_dir_sync(dir, err) : -1;
}

/* Step 1: a generation holding the pair, synced, not yet pointed at. Its path, or NULL. */
static char *write_generation(const char *dir, const char *cert_pem, const char *key_pem,
                              char **err)
{
    char *gen = new_generation(dir, err), *crt, *key;
    int rc;

    if (gen == NULL)
        return NULL;
    crt = xasprintf("%s/" CRT_FILE, gen);
    key = xasprintf("%s/" KEY_FILE, gen);
    rc = atomic_file_create(key, key_pem, strlen(key_pem), CERT_FILES_KEY_MODE, err) < 0 ||
                 atomic_file_create(crt, cert_pem, strlen(cert_pem), CERT_FILES_CERT_MODE, err) <
                     0 ||
                 atomic_dir_sync(gen, err) < 0
             ? -1
             : 0;
    free(key);
    free(crt);
    if (rc < 0) {
        remove_generation(dir, strrchr(gen, '/') + 1);
        free(gen);
        return NULL;
    }
    return gen;
}

/* Step 0: the own plain files of the layout before the links become the live generation. */
static int adopt_plain_files(const char *dir, char **err)
{
    char *live = xasprintf("%s/" LIVE, dir), *crt = xasprintf("%s/" CRT_FILE, dir),
         *key = xasprintf("%s/" KEY_FILE, dir), *gen = NULL, *gcrt = NULL, *gkey = NULL;
    struct stat st;
    int rc = 0;

    if (lstat(live, &st) == 0 || lstat(crt, &st) != 0 || !S_ISREG(st.st_mode) ||
        lstat(key, &st) != 0 || !S_ISREG(st.st_mode))
        goto done; /* already adopted, or nothing to adopt */
    rc = -1;
    if ((gen = new_generation(dir, err)) == NULL)
        goto done;
    gcrt = xasprintf("%s/" CRT_FILE, gen);
    gkey = xasprintf("%s/" KEY_FILE, gen);
    if (link(key, gkey) != 0 || link(crt, gcrt) != 0) {
        *err = xasprintf("cannot link %s into %s: %s", CERT_FILES_NAME, gen, strerror(errno));
        remove_generation(dir, strrchr(gen, '/') + 1);
    } else if (atomic_dir_sync(gen, err) == 0) {
        rc = switch_live(dir, gen, err);
    }
done:
    free(gkey);
    free(gcrt);
    free(gen);
    free(key);
    free(crt);
    free(live);
    return rc;
}

/* ---- the names ---- */

/* Step 2 for one name: its .key, then its .crt. */
static int link_name(const char *dir, const char *base, char **err)
{
    char *key = xasprintf("%s.key", base), *crt = xasprintf("%s.crt", base);
    int rc = set_link(dir, key, LINK_TO_KEY, err) < 0 || crashed("half-linked", err) ||
                     set_link(dir, crt, LINK_TO_CRT, err) < 0
                 ? -1
                 : 0;

    free(crt);
    free(key);
    return rc;
}

/* ".crt.<pid>.link" after a '.' and the name: the temporary link of atomic_symlink, the longest
 * file name made for a domain (a pid has at most 10 digits). */
#define LINK_NAME_OVERHEAD (1 + 4 + 1 + 10 + 5)

bool cert_files_name_fits(const char *dir, const char *name)
{
    long max = pathconf(dir, _PC_NAME_MAX);

    if (max <= 0)
        max = 255; /* NAME_MAX on Linux: the limit when the directory does not say */
    return strlen(name) + LINK_NAME_OVERHEAD <= (size_t)max;
}

static int link_names(const char *dir, const char *const *domains, size_t n, char **err)
{
    if (link_name(dir, CERT_FILES_NAME, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!cert_files_name_fits(dir, domains[i]))
            continue; /* covered by the certificate, but no file name can hold it */
        if (crashed("link", err) || link_name(dir, domains[i], err) < 0)
            return -1;
    }
    return 0;
}

static void remove_pair(const char *dir, const char *base)
{
    char *crt = xasprintf("%s/%s.crt", dir, base), *key = xasprintf("%s/%s.key", dir, base);

    (void)unlink(crt);
    (void)unlink(key);
    free(key);
    free(crt);
}

static bool has_suffix(const char *name, const char *suffix)
{
    size_t len = strlen(name), slen = strlen(suffix);

    return len >= slen && strcmp(name + len - slen, suffix) == 0;
}

/* An entry of the directory that is a link of ours for no name of the set: its base name
 * (caller frees), else NULL. Names of the set are recognised without reading their links. */
static char *stale_pair(const char *dir, const char *name, const char *const *domains, size_t n)
{
    size_t len = strlen(name);

    if (name[0] == '.' || (!has_suffix(name, ".crt") && !has_suffix(name, ".key")) ||
        name_in_set(name, len - 4, domains, n))
        return NULL;
    if (!links_to(dir, name, LINK_TO_CRT) && !links_to(dir, name, LINK_TO_KEY))
        return NULL;
    return xstrndup(name, len - 4);
}

/* A temporary link left by a crash of atomic_symlink: ".<name>.<pid>.link". */
static bool leftover_link(const char *name)
{
    return name[0] == '.' && has_suffix(name, ".link");
}

static void remove_entry(const char *dir, const char *name)
{
    char *path = xasprintf("%s/%s", dir, name);

    (void)unlink(path);
    free(path);
}

/* Step 5: every entry of the directory that is no longer needed. */
static void tidy(const char *dir, const char *current_gen, const char *const *domains, size_t n)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (d == NULL) {
        log_warn("cannot list %s to remove old certificate files", dir);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        char *stale;

        if (strncmp(e->d_name, GEN_PREFIX, strlen(GEN_PREFIX)) == 0) {
            if (strcmp(e->d_name, current_gen) != 0)
                remove_generation(dir, e->d_name);
        } else if (leftover_link(e->d_name)) {
            remove_entry(dir, e->d_name);
        } else if ((stale = stale_pair(dir, e->d_name, domains, n)) != NULL) {
            remove_pair(dir, stale); /* the .crt first */
            free(stale);
        }
    }
    closedir(d);
}

/* No .live yet: nothing has been installed here, so no name gives a pair that must be kept. */
static bool first_install(const char *dir)
{
    char *live = xasprintf("%s/" LIVE, dir);
    struct stat st;
    bool none = lstat(live, &st) != 0 && errno == ENOENT;

    free(live);
    return none;
}

static int check_names(const char *const *domains, size_t n, char **err)
{
    for (size_t i = 0; i < n; i++) {
        if (!safe_name(domains[i])) {
            *err = xasprintf("'%s' cannot be a file name", domains[i]);
            return -1;
        }
    }
    return 0;
}

static int install_locked(const char *dir, const char *const *domains, size_t n,
                          const char *const *old, size_t n_old, const char *cert_pem,
                          const char *key_pem, char **err)
{
    char *gen, *pending;

    if (check_names(domains, n, err) < 0 || crashed("start", err) ||
        adopt_plain_files(dir, err) < 0 || crashed("adopted", err))
        return -1;
    if ((gen = write_generation(dir, cert_pem, key_pem, err)) == NULL)
        return -1;
    /* A first install points .live at its generation before any name links into it, so that
     * no link, even of an install that stops half-way, ever points at nothing. */
    if (first_install(dir) && switch_live(dir, gen, err) < 0) {
        free(gen);
        return -1;
    }
    if (crashed("written", err) || link_names(dir, domains, n, err) < 0 || crashed("linked", err) ||
        atomic_dir_sync(dir, err) < 0 || crashed("synced", err) || switch_live(dir, gen, err) < 0 ||
        crashed("switched", err)) {
        free(gen);
        return -1;
    }
    for (size_t i = 0; i < n_old; i++)
        if (safe_name(old[i]) && !in_list(old[i], domains, n))
            remove_pair(dir, old[i]);
    tidy(dir, strrchr(gen, '/') + 1, domains, n);
    pending = cert_files_path(dir, CERT_FILE_PENDING_KEY);
    (void)unlink(pending);
    free(pending);
    free(gen);
    return 0;
}

int cert_files_install(const char *dir, const char *const *domains, size_t n,
                       const char *const *old, size_t n_old, const char *cert_pem,
                       const char *key_pem, char **err)
{
    int lock, rc;

    if (check_names(domains, n, err) < 0 || (lock = cert_files_lock(dir, err)) < 0)
        return -1;
    rc = install_locked(dir, domains, n, old, n_old, cert_pem, key_pem, err);
    cert_files_unlock(lock);
    return rc;
}

/* ---- start-up repair ---- */

/* The generation `name` holds both files. */
static bool generation_complete(const char *dir, const char *name)
{
    char *crt = xasprintf("%s/%s/" CRT_FILE, dir, name),
         *key = xasprintf("%s/%s/" KEY_FILE, dir, name);
    struct stat st;
    bool ok =
        stat(crt, &st) == 0 && S_ISREG(st.st_mode) && stat(key, &st) == 0 && S_ISREG(st.st_mode);

    free(key);
    free(crt);
    return ok;
}

/* The most recently written complete generation (caller frees), or NULL. */
static char *newest_generation(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char *best = NULL;
    struct timespec best_at = {0};

    if (d == NULL)
        return NULL;
    while ((e = readdir(d)) != NULL) {
        char *path;
        struct stat st;
        if (strncmp(e->d_name, GEN_PREFIX, strlen(GEN_PREFIX)) != 0 ||
            !generation_complete(dir, e->d_name))
            continue;
        path = xasprintf("%s/%s", dir, e->d_name);
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
            (best == NULL || st.st_mtim.tv_sec > best_at.tv_sec ||
             (st.st_mtim.tv_sec == best_at.tv_sec && st.st_mtim.tv_nsec > best_at.tv_nsec))) {
            free(best);
            best = xstrdup(e->d_name);
            best_at = st.st_mtim;
        }
        free(path);
    }
    closedir(d);
    return best;
}

/* .live leads to a complete generation, or is made to, or goes. Returns repairs made. */
static int repair_live(const char *dir, char **live_gen)
{
    char *target = read_link(dir, LIVE), *gen, *path;
    int n = 0;

    *live_gen = NULL;
    if (target != NULL && strchr(target, '/') == NULL && generation_complete(dir, target)) {
        *live_gen = target;
        return 0;
    }
    if (target == NULL) /* no .live: a first install never finished, or the old layout */
        return 0;
    if ((gen = newest_generation(dir)) != NULL) {
        char *gpath = xasprintf("%s/%s", dir, gen), *err = NULL;
        log_warnx("certs: repair dir=%s .live pointed at %s, which is gone or incomplete; now "
                  "at %s",
                  dir, target, gen);
        if (switch_live(dir, gpath, &err) == 0) {
            *live_gen = gen;
            gen = NULL;
            n++;
        } else {
            log_warnx("certs: repair failed: %s", err);
            free(err);
        }
        free(gpath);
        free(gen);
    } else {
        log_warnx("certs: repair dir=%s .live pointed at %s, which is gone, and no complete "
                  "certificate is left; removing the links into it",
                  dir, target);
        path = xasprintf("%s/" LIVE, dir);
        if (unlink(path) == 0)
            n++;
        free(path);
    }
    free(target);
    return n;
}

/* A link of ours (into .live) that leads nowhere now. */
static bool dangling_link(const char *dir, const char *name)
{
    char *path;
    struct stat st;
    bool dangling;

    if (!links_to(dir, name, LINK_TO_CRT) && !links_to(dir, name, LINK_TO_KEY))
        return false;
    path = xasprintf("%s/%s", dir, name);
    dangling = stat(path, &st) != 0;
    free(path);
    return dangling;
}

/* Other generations, temporary links and links into a missing .live. Returns repairs made. */
static int repair_entries(const char *dir, const char *live_gen)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        if (strncmp(name, GEN_PREFIX, strlen(GEN_PREFIX)) == 0) {
            if (live_gen != NULL && strcmp(name, live_gen) == 0)
                continue;
            log_info("certs: repair dir=%s removing unused generation %s", dir, name);
            remove_generation(dir, name);
            n++;
        } else if (leftover_link(name) || (live_gen == NULL && dangling_link(dir, name))) {
            log_info("certs: repair dir=%s removing %s", dir, name);
            remove_entry(dir, name);
            n++;
        }
    }
    closedir(d);
    return n;
}

int cert_files_repair(const char *dir, char **err)
{
    struct stat st;
    char *live_gen = NULL, *live;
    int lock, n;

    if (stat(dir, &st) != 0) {
        if (errno == ENOENT)
            return 0; /* nothing written yet: the first install creates nothing here either */
        *err = xasprintf("cannot read %s: %s", dir, strerror(errno));
        return -1;
    }
    if ((lock = cert_files_lock(dir, err)) < 0)
        return -1;
    n = repair_live(dir, &live_gen);
    /* Without .live but with the old layout's plain files, nothing is ours to collect. */
    live = read_link(dir, LIVE);
    if (live_gen != NULL || live == NULL)
        n += repair_entries(dir, live_gen);
    free(live);
    if (n > 0) {
        char *e2 = NULL;
        if (atomic_dir_sync(dir, &e2) < 0) {
            log_warnx("certs: repair: %s", e2);
            free(e2);
        }
        log_info("certs: repaired dir=%s repairs=%d live=%s", dir, n, live_gen ? live_gen : "-");
    }
    free(live_gen);
    cert_files_unlock(lock);
    return n;
}
