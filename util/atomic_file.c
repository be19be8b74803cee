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
                     char **err)
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

int atomic_file_write(const char *path, const void *data, size_t len, mode_t mode, char **err)
{
    const char *base;
    char *dir = split_path(path, &base);
    char *tmp = xasprintf("%s/.%s.XXXXXX", dir, base);
    int fd = -1, created = 0;

    if (*base == '\0') {
        set_err(err, "cannot write %s: the path names a directory", path);
        goto fail;
    }
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
        set_err(err, "cannot create a temporary file in %s: %s", dir, strerror(errno));
        goto fail;
    }
    created = 1;
    if (fill_temp(fd, tmp, data, len, mode, err) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        set_err(err, "cannot write %s: %s", tmp, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        set_err(err, "cannot replace %s: %s", path, strerror(errno));
        goto fail;
    }
    sync_dir(dir);
    free(tmp);
    free(dir);
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    if (created && unlink(tmp) != 0)
        log_warn("cannot remove the temporary file %s", tmp);
    free(tmp);
    free(dir);
    return -1;
}
