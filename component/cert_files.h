/* cup-xmpp-s2s on disk, in the layout Prosody reads: `<dir>/<domain>.crt` and `<domain>.key`
 * for every domain of the set (key mode 0600), plus imdomaind's own copies `cup-xmpp-s2s.crt`,
 * `cup-xmpp-s2s.key` and the key a CSR was made for, `cup-xmpp-s2s.pending.key`. Every file is
 * replaced atomically (util/atomic_file: temporary file, sync, rename, sync of the directory);
 * an install syncs all its temporaries at once before the first rename. */
#ifndef IMD_CERT_FILES_H
#define IMD_CERT_FILES_H

#include <stddef.h>

#define CERT_FILES_NAME "cup-xmpp-s2s"
#define CERT_FILES_KEY_MODE 0600
#define CERT_FILES_CERT_MODE 0644

enum cert_file { CERT_FILE_CERT, CERT_FILE_KEY, CERT_FILE_PENDING_KEY };

/* The path of one of imdomaind's own files in `dir` (caller frees). */
char *cert_files_path(const char *dir, enum cert_file which);

/* Reads one of imdomaind's own files (caller frees); NULL with *err when it is missing or
 * unreadable (errno is kept: ENOENT means there is none yet). */
char *cert_files_read(const char *dir, enum cert_file which, char **err);

/* Replaces the pending key. 0, or -1 with *err. */
int cert_files_write_pending(const char *dir, const char *key_pem, char **err);

/*
 * Installs `cert_pem` (leaf first, then its chain) and `key_pem` for every name of `domains`
 * and as imdomaind's own copies, removes the pending key, and removes `<name>.crt/.key` for each
 * name of `old` (the previous set) no longer in `domains`. 0, or -1 with *err at the first
 * failure (files already replaced stay replaced: running it again finishes the job).
 */
int cert_files_install(const char *dir, const char *const *domains, size_t n,
                       const char *const *old, size_t n_old, const char *cert_pem,
                       const char *key_pem, char **err);

#endif
