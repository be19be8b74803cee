/* cup-xmpp-s2s on disk, in the layout Prosody reads: `<dir>/<domain>.crt` and `<domain>.key`
 * for every domain of the set, plus imdomaind's own names `cup-xmpp-s2s.crt` and
 * `cup-xmpp-s2s.key`, all of them relative symbolic links into one generation directory:
 *
 *   <domain>.crt -> .cup-xmpp-s2s.live/cup-xmpp-s2s.crt      (and .key the same way)
 *   .cup-xmpp-s2s.live -> .cup-xmpp-s2s.gen-XXXXXX             (switched by one rename)
 *   .cup-xmpp-s2s.gen-XXXXXX/cup-xmpp-s2s.crt (0644), cup-xmpp-s2s.key (0600)
 *
 * so a regeneration writes two files and switches one link, whatever the number of domains,
 * and the certificate and its key change together. The key a CSR was made for is a plain file,
 * `cup-xmpp-s2s.pending.key` (0600), replaced atomically (util/atomic_file). Hidden names keep
 * Prosody's certificate index out of the generation directories (it skips directories whose
 * name starts with a dot, and follows the links: stat, not lstat). */
#ifndef IMD_CERT_FILES_H
#define IMD_CERT_FILES_H

#include <stdbool.h>
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
 * whose file names fit (cert_files_name_fits; the others are skipped) and as imdomaind's own
 * files, removes the pending key, and removes the links of names no
 * longer in `domains` (and `<name>.crt/.key` of each name of `old`, the previous set, whatever
 * they are: files of the layout before the links). 0, or -1 with *err at the first failure:
 * every name then still gives the old pair or already the new one (see cert_files.c), and
 * running it again finishes the job.
 */
int cert_files_install(const char *dir, const char *const *domains, size_t n,
                       const char *const *old, size_t n_old, const char *cert_pem,
                       const char *key_pem, char **err);

/*
 * Two processes sharing one directory (two instances, a restart overlapping a regeneration)
 * would each remove the other's generation. So every change (cert_files_install,
 * cert_files_write_pending, cert_files_repair) holds an flock on `<dir>/.cup-xmpp-s2s.lock`
 * (created 0600, never removed, holding the pid of its last taker) and refuses at once with a
 * clear *err ("another process ... is changing the certificates") when someone else holds it:
 * never a wait on the loop; the admin runs the command again.
 */
/* Takes the lock: the fd to give to cert_files_unlock, or -1 with *err. */
int cert_files_lock(const char *dir, char **err);
void cert_files_unlock(int fd);

/* Start-up repair of what a crash (or two processes before the lock) left, under the lock:
 * .live pointing at a missing or incomplete generation is pointed at the newest complete one,
 * or removed with the links that led into it when there is none; generations nothing points at
 * and temporary links are removed. Returns the number of repairs (0: all was well), or -1 with
 * *err (the lock is held, or the directory cannot be read): nothing was touched then. */
int cert_files_repair(const char *dir, char **err);

/* Whether `name` (a domain) can have its `<name>.crt`/`.key` links in `dir`: the longest file
 * name made for it (the temporary link ".<name>.crt.<pid>.link") fits the directory's name
 * limit (NAME_MAX, 255 bytes on Linux). A legal domain of up to 255 characters may not: the
 * certificate still names it, but it gets no file of its own (cert_files_install skips it). */
bool cert_files_name_fits(const char *dir, const char *name);

/* For tests only (NULL otherwise): called at every point of an install where the process could
 * die; when it returns true the install stops right there, cleans nothing up, and returns -1
 * as if it had crashed. `step` names the point. */
extern bool (*cert_files_crash_point)(const char *step);

#endif
