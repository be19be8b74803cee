/* Replacing a file so that readers see the old content or the new one, never a mix, and the
 * new one survives a crash once the call returned: temporary file in the same directory with
 * the final mode, fsync, rename over the old name, fsync of the directory. Also the pieces to
 * switch several files at once (component/engine/cert_files.c): files created in a directory nobody
 * reads yet, symbolic links replaced by rename, directory syncs. */
#ifndef IMD_ATOMIC_FILE_H
#define IMD_ATOMIC_FILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Replaces `path` by `len` bytes of `data` with permission bits `mode` (umask not applied).
 * Returns 0, or -1 with *err (a sentence the caller frees; `err` may be NULL) and the old file
 * untouched and no temporary file left behind. A failure to sync the directory after the rename
 * only weakens durability: it is logged, not returned.
 */
int atomic_file_write(const char *path, const void *data, size_t len, mode_t mode, char **err);

/*
 * Creates `path`, which must not exist, with `len` bytes of `data` and permission bits `mode`,
 * synced (fsync) before it returns; the directory is not synced. For a file nobody reads before
 * the caller publishes it (a new directory that a symlink switched by rename will point to).
 * 0, or -1 with *err and no file left behind.
 */
int atomic_file_create(const char *path, const void *data, size_t len, mode_t mode, char **err);

/*
 * Makes `path` a symbolic link to `target`: created when `path` does not exist, otherwise
 * replaced at once by a new link renamed over it (a reader finds the old entry or the new one,
 * never none). Not synced: the caller syncs the directory. 0, or -1 with *err.
 */
int atomic_symlink(const char *target, const char *path, char **err);

/* fsync of a directory (its entries: creations, renames). 0, or -1 with *err. */
int atomic_dir_sync(const char *dir, char **err);

#endif
