/* Atomic file replacement (see atomic_file.h), shared by the vhosts file and the certificate
 * files. */
#include "util/atomic_file.h"

#include "util/log.h"
#include "util/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
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

int atomic_dir_sync(const char *dir, char **err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0 || fsync(fd) != 0) {
        set_err(err, "cannot sync the directory %s: %s", dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* The rename is already done: a failure here only weakens durability, so it is logged. */
static void sync_dir(const char *dir)
{
    char *err = NULL;

    if (atomic_dir_sync(dir, &err) != 0) {
        log_warn("%s", err);
        free(err);
    }
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

static int fill_temp(int fd, const char *tmp, const void *data, size_t len, mode_t mode, char **err)
{
    if (fchmod(fd, mode) != 0) {
        set_err(err, "cannot set the mode of %s: %s", tmp, strerror(errno));
        return -1;
    }
    if (write_all(fd, data, len) != 0) {
        set_err(err, "cannot write %s: %s", tmp, strerror(errno));
        return -1;
    }
    if (fsync(fd) != 0) {
        set_err(err, "cannot sync %s: %s", tmp, strerror(errno));
        return -1;
    }
    return 0;
}

/* Fills the new file `name` open on `fd`, syncs and closes it; on failure removes it. */
static int fill_new(int fd, const char *name, const void *data, size_t len, mode_t mode, char **err)
{
    if (fill_temp(fd, name, data, len, mode, err) != 0) {
        close(fd);
    } else if (close(fd) != 0) {
        set_err(err, "cannot write %s: %s", name, strerror(errno));
    } else {
        return 0;
    }
    if (unlink(name) != 0)
        log_warn("cannot remove the unfinished file %s", name);
    return -1;
}

/* The content of `path` in a new temporary file beside it, synced and closed. Returns the
 * temporary's name (caller frees), or NULL with *err and nothing left behind. */
static char *make_temp(const char *path, const void *data, size_t len, mode_t mode, char **err)
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
    if (fill_new(fd, tmp, data, len, mode, err) != 0)
        goto fail;
    free(dir);
    return tmp;
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
    char *tmp = make_temp(path, data, len, mode, err), *dir;
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

int atomic_file_create(const char *path, const void *data, size_t len, mode_t mode, char **err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    if (fd < 0) {
        set_err(err, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    return fill_new(fd, path, data, len, mode, err);
}

/* ---- symbolic links ---- */

/* A new link beside `path` under a name no reader looks for (a leftover from a crash is
 * replaced the next time). */
static char *make_temp_link(const char *target, const char *path, char **err)
{
    const char *base;
    char *dir = split_path(path, &base);
    char *tmp = xasprintf("%s/.%s.%ld.link", dir, base, (long)getpid());

    free(dir);
    if (symlink(target, tmp) != 0 &&
        (errno != EEXIST || unlink(tmp) != 0 || symlink(target, tmp) != 0)) {
        set_err(err, "cannot create a link beside %s: %s", path, strerror(errno));
        free(tmp);
        return NULL;
    }
    return tmp;
}

int atomic_symlink(const char *target, const char *path, char **err)
{
    char *tmp;
    int rc;

    if (symlink(target, path) == 0)
        return 0;
    if (errno != EEXIST) {
        set_err(err, "cannot create the link %s: %s", path, strerror(errno));
        return -1;
    }
    if ((tmp = make_temp_link(target, path, err)) == NULL)
        return -1;
    rc = rename_temp(tmp, path, err);
    free(tmp);
    return rc;
}
