/* Writing cup-xmpp-s2s where the router reads it; see cert_files.h for the layout. */
#include "component/cert_files.h"

#include "util/atomic_file.h"
#include "util/xmalloc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h> /* unlink */

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
static int write_file(const char *dir, const char *name, const char *data, mode_t mode,
                      char **err)
{
    char *path = xasprintf("%s/%s", dir, name);
    int rc = atomic_file_write(path, data, strlen(data), mode, err);

    free(path);
    return rc;
}

int cert_files_write_pending(const char *dir, const char *key_pem, char **err)
{
    char *name = xasprintf("%s%s", CERT_FILES_NAME, own_suffix[CERT_FILE_PENDING_KEY]);
    int rc = write_file(dir, name, key_pem, CERT_FILES_KEY_MODE, err);

    free(name);
    return rc;
}

/* The .crt and .key of one name. The key first: Prosody pairs a .crt with its .key, and a new
 * .crt beside an old .key would be a pair that does not match. */
static int add_pair(struct atomic_batch *b, const char *base, const char *cert_pem,
                    const char *key_pem, char **err)
{
    char *crt = xasprintf("%s.crt", base), *key = xasprintf("%s.key", base);
    int rc = atomic_batch_add(b, key, key_pem, strlen(key_pem), CERT_FILES_KEY_MODE, err) < 0 ||
                     atomic_batch_add(b, crt, cert_pem, strlen(cert_pem), CERT_FILES_CERT_MODE,
                                      err) < 0
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

/* Every pair written as temporaries, synced once, then renamed (see atomic_batch). */
static int write_pairs(const char *dir, const char *const *domains, size_t n,
                       const char *cert_pem, const char *key_pem, char **err)
{
    struct atomic_batch *b = atomic_batch_new(dir);
    int rc = 0;

    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!safe_name(domains[i])) {
            *err = xasprintf("'%s' cannot be a file name", domains[i]);
            rc = -1;
        } else {
            rc = add_pair(b, domains[i], cert_pem, key_pem, err);
        }
    }
    if (rc == 0)
        rc = add_pair(b, CERT_FILES_NAME, cert_pem, key_pem, err);
    if (rc == 0)
        rc = atomic_batch_commit(b, err);
    atomic_batch_free(b);
    return rc;
}

int cert_files_install(const char *dir, const char *const *domains, size_t n,
                       const char *const *old, size_t n_old, const char *cert_pem,
                       const char *key_pem, char **err)
{
    char *pending;

    if (write_pairs(dir, domains, n, cert_pem, key_pem, err) < 0)
        return -1;
    for (size_t i = 0; i < n_old; i++)
        if (safe_name(old[i]) && !in_list(old[i], domains, n))
            remove_pair(dir, old[i]);
    pending = cert_files_path(dir, CERT_FILE_PENDING_KEY);
    (void)unlink(pending); /* the renames synced the directory; these unlinks may wait */
    free(pending);
    return 0;
}
