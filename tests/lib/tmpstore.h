/* For tests: a store file in a fresh temporary directory, and its removal with the files sqlite
 * keeps beside it. */
#ifndef IMD_TEST_TMPSTORE_H
#define IMD_TEST_TMPSTORE_H

#include <stddef.h>

/* Makes /tmp/imd-<tag>-XXXXXX in `dir` (size bytes) and "<dir>/test.db" in `path`. Returns 0,
 * or -1 (with the reason printed) when the directory cannot be made. */
int tmpstore_make(char *dir, size_t dir_size, char *path, size_t path_size, const char *tag);

/* Deletes `path` with its -wal, -shm and -journal files, then `dir` (the store is closed).
 * Returns 0, or -1 when the directory is left behind (some other file is still in it). */
int tmpstore_remove(const char *dir, const char *path);

#endif
