/* Writing cup-xmpp-s2s where the router reads it; see cert_files.h for the layout. */
#include "component/cert_files.h"

#include "util/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);

    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* `dir`/`name` replaced by `data` with `mode`, through a temporary file in the same directory. */
static int write_atomic(const char *dir, const char *name, const char *data, mode_t mode,
                        char **err)
{
    char *tmp = xasprintf("%s/.%s.XXXXXX", dir, name);
    char *path = xasprintf("%s/%s", dir, name);
    int fd = mkstemp(tmp), rc = -1;

    if (fd < 0) {
        *err = xasprintf("cannot create a file in %s: %s", dir, strerror(errno));
        goto out;
    }
    if (fchmod(fd, mode) < 0 || write_all(fd, data, strlen(data)) < 0 || fsync(fd) < 0) {
        *err = xasprintf("cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        *err = xasprintf("cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    free(path);
    free(tmp);
    return rc;
}

int cert_files_write_pending(const char *dir, const char *key_pem, char **err)
{
    char *name = xasprintf("%s%s", CERT_FILES_NAME, own_suffix[CERT_FILE_PENDING_KEY]);
    int rc = write_atomic(dir, name, key_pem, CERT_FILES_KEY_MODE, err);

    free(name);
    if (rc == 0)
        sync_dir(dir);
    return rc;
}

/* The .crt and .key of one name. */
static int write_pair(const char *dir, const char *base, const char *cert_pem, const char *key_pem,
                      char **err)
{
    char *crt = xasprintf("%s.crt", base), *key = xasprintf("%s.key", base);
    /* The key first: Prosody pairs a .crt with its .key, and a new .crt beside an old .key
     * would be a pair that does not match. */
    int rc = write_atomic(dir, key, key_pem, CERT_FILES_KEY_MODE, err) < 0 ||
                     write_atomic(dir, crt, cert_pem, CERT_FILES_CERT_MODE, err) < 0
                 ? -1
                 : 0;

    free(key);
    free(crt);
    return rc;
}

static bool in_list(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

static void remove_pair(const char *dir, const char *base)
{
    char *crt = xasprintf("%s/%s.crt", dir, base), *key = xasprintf("%s/%s.key", dir, base);

    (void)unlink(crt);
    (void)unlink(key);
    free(key);
    free(crt);
}

/* Names that end up as file names: no path separators, no hidden files. */
static bool safe_name(const char *name)
{
    return name[0] != '\0' && name[0] != '.' && strchr(name, '/') == NULL;
}

int cert_files_install(const char *dir, const char *const *domains, size_t n,
                       const char *const *old, size_t n_old, const char *cert_pem,
                       const char *key_pem, char **err)
{
    char *pending = cert_files_path(dir, CERT_FILE_PENDING_KEY);

    for (size_t i = 0; i < n; i++) {
        if (!safe_name(domains[i])) {
            *err = xasprintf("'%s' cannot be a file name", domains[i]);
            free(pending);
            return -1;
        }
        if (write_pair(dir, domains[i], cert_pem, key_pem, err) < 0) {
            free(pending);
            return -1;
        }
    }
    if (write_pair(dir, CERT_FILES_NAME, cert_pem, key_pem, err) < 0) {
        free(pending);
        return -1;
    }
    for (size_t i = 0; i < n_old; i++)
        if (safe_name(old[i]) && !in_list(old[i], domains, n))
            remove_pair(dir, old[i]);
    (void)unlink(pending);
    free(pending);
    sync_dir(dir);
    return 0;
}
