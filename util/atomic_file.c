/* Atomic file replacement (see atomic_file.h), shared by the vhosts file and the certificate
 * files. */
#include "util/atomic_file.h"

#include "util/log.h"
#include "util/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void set_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_err(char **err, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) == -1)
        fatalx("out of memory");
    va_end(ap);
    *err = msg;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, data, len);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

/* The rename is already done: a failure here only weakens durability, so it is logged. */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0) {
        log_warn("cannot open directory %s to sync it", dir);
        return;
    }
    if (fsync(fd) != 0)
        log_warn("cannot sync directory %s", dir);
    close(fd);
}

/* Splits `path` into a directory (caller frees) and a base name (borrowed from `path`). */
static char *split_path(const char *path, const char **base)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL) {
        *base = path;
        return xstrdup(".");
    }
    *base = slash + 1;
    return slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path));
}

static int fill_temp(int fd, const char *tmp, const void *data, size_t len, mode_t mode,
                     bool sync, char **err)
{
    if (fchmod(fd, mode) != 0) {
        set_err(err, "cannot set the mode of %s: %s", tmp, strerror(errno));
        return -1;
    }
    if (write_all(fd, data, len) != 0) {
        set_err(err, "cannot write %s: %s", tmp, strerror(errno));
        return -1;
    }
    if (sync && fsync(fd) != 0) {
        set_err(err, "cannot sync %s: %s", tmp, strerror(errno));
        return -1;
    }
    return 0;
}

/* The content of `path` in a new temporary file beside it, closed (and synced when asked).
 * Returns the temporary's name (caller frees), or NULL with *err and nothing left behind. */
static char *make_temp(const char *path, const void *data, size_t len, mode_t mode, bool sync,
                       char **err)
{
    const char *base;
    char *dir = split_path(path, &base);
    char *tmp = xasprintf("%s/.%s.XXXXXX", dir, base);
    int fd = -1;

    if (*base == '\0') {
        set_err(err, "cannot write %s: the path names a directory", path);
        goto fail;
    }
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
        set_err(err, "cannot create a temporary file in %s: %s", dir, strerror(errno));
        goto fail;
    }
    if (fill_temp(fd, tmp, data, len, mode, sync, err) != 0) {
        close(fd);
        goto remove;
    }
    if (close(fd) != 0) {
        set_err(err, "cannot write %s: %s", tmp, strerror(errno));
        goto remove;
    }
    free(dir);
    return tmp;
remove:
    if (unlink(tmp) != 0)
        log_warn("cannot remove the temporary file %s", tmp);
fail:
    free(tmp);
    free(dir);
    return NULL;
}

static int rename_temp(const char *tmp, const char *path, char **err)
{
    if (rename(tmp, path) == 0)
        return 0;
    set_err(err, "cannot replace %s: %s", path, strerror(errno));
    if (unlink(tmp) != 0)
        log_warn("cannot remove the temporary file %s", tmp);
    return -1;
}

int atomic_file_write(const char *path, const void *data, size_t len, mode_t mode, char **err)
{
    char *tmp = make_temp(path, data, len, mode, true, err), *dir;
    const char *base;

    if (tmp == NULL)
        return -1;
    if (rename_temp(tmp, path, err) < 0) {
        free(tmp);
        return -1;
    }
    dir = split_path(path, &base);
    sync_dir(dir);
    free(dir);
    free(tmp);
    return 0;
}

/* ---- several files of one directory, synced together ---- */

struct atomic_entry {
    char *tmp;  /* NULL once renamed */
    char *path;
};

struct atomic_batch {
    char *dir;
    struct atomic_entry *e;
    size_t n;
};

struct atomic_batch *atomic_batch_new(const char *dir)
{
    struct atomic_batch *b = xcalloc(1, sizeof(*b));

    b->dir = xstrdup(dir);
    return b;
}

int atomic_batch_add(struct atomic_batch *b, const char *name, const void *data, size_t len,
                     mode_t mode, char **err)
{
    char *path = xasprintf("%s/%s", b->dir, name);
    char *tmp = strchr(name, '/') ? NULL : make_temp(path, data, len, mode, false, err);

    if (tmp == NULL) {
        if (strchr(name, '/'))
            set_err(err, "cannot write %s: '%s' is not a plain file name", path, name);
        free(path);
        return -1;
    }
    b->e = xrealloc(b->e, (b->n + 1) * sizeof(*b->e));
    b->e[b->n].tmp = tmp;
    b->e[b->n].path = path;
    b->n++;
    return 0;
}

/* One syncfs makes every temporary durable before any rename: hundreds of files cost one flush
 * instead of one fsync each. */
int atomic_batch_commit(struct atomic_batch *b, char **err)
{
    int fd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0 || syncfs(fd) != 0) {
        set_err(err, "cannot sync the files in %s: %s", b->dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    for (size_t i = 0; i < b->n; i++) {
        int rc = rename_temp(b->e[i].tmp, b->e[i].path, err);
        free(b->e[i].tmp);
        b->e[i].tmp = NULL;
        if (rc < 0)
            return -1;
    }
    sync_dir(b->dir);
    return 0;
}

void atomic_batch_free(struct atomic_batch *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++) {
        if (b->e[i].tmp && unlink(b->e[i].tmp) != 0)
            log_warn("cannot remove the temporary file %s", b->e[i].tmp);
        free(b->e[i].tmp);
        free(b->e[i].path);
    }
    free(b->e);
    free(b->dir);
    free(b);
}
