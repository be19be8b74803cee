/* Temporary store files for the unit tests. */
#include "tests/lib/tmpstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int tmpstore_make(char *dir, size_t dir_size, char *path, size_t path_size, const char *tag)
{
    snprintf(dir, dir_size, "/tmp/imd-%s-XXXXXX", tag);
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return -1;
    }
    snprintf(path, path_size, "%s/test.db", dir);
    return 0;
}

int tmpstore_remove(const char *dir, const char *path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    char p[512];

    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
        unlink(p);
    }
    return rmdir(dir);
}
