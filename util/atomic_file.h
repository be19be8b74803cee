/* Replacing a file so that readers see the old content or the new one, never a mix, and the
 * new one survives a crash once the call returned: temporary file in the same directory with
 * the final mode, fsync, rename over the old name, fsync of the directory. */
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
 * Many files of one directory replaced together (the certificate files of every domain): each
 * add writes a temporary file; commit syncs them all at once (syncfs), then renames them in the
 * order they were added and syncs the directory. A failed add or commit leaves the files not
 * yet renamed untouched; free removes the temporaries left. Errors as for atomic_file_write.
 */
struct atomic_batch;
struct atomic_batch *atomic_batch_new(const char *dir);
/* `name` is a file name inside the directory (no '/'). 0, or -1 with *err. */
int atomic_batch_add(struct atomic_batch *b, const char *name, const void *data, size_t len,
                     mode_t mode, char **err);
int atomic_batch_commit(struct atomic_batch *b, char **err);
void atomic_batch_free(struct atomic_batch *b);

#endif
