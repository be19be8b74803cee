/* Replays a fuzz corpus through LLVMFuzzerTestOneInput without libFuzzer, as a TAP test: the
 * files named on the command line, or every file of $IMD_SRCDIR/tests/fuzz/corpus/FUZZ_CORPUS. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_FILE (1024 * 1024)
#define REPLAY_MAX_FILES 4096

static int replay(const char *path)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *buf = malloc(REPLAY_MAX_FILE);
    size_t n;

    if (fp == NULL || buf == NULL) {
        if (fp)
            fclose(fp);
        free(buf);
        return -1;
    }
    n = fread(buf, 1, REPLAY_MAX_FILE, fp);
    fclose(fp);
    LLVMFuzzerTestOneInput(buf, n); /* a crash or abort fails the whole program */
    free(buf);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects the regular files of `dir`, sorted; returns their count. */
static size_t list_dir(const char *dir, char **out)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL && n < REPLAY_MAX_FILES) {
        if (e->d_name[0] == '.')
            continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        out[n] = malloc(len);
        if (out[n] == NULL)
            break;
        snprintf(out[n++], len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    qsort(out, n, sizeof(*out), by_name);
    return n;
}

int main(int argc, char **argv)
{
    static char *files[REPLAY_MAX_FILES];
    size_t n = 0;
    int failed = 0;

    if (argc > 1) {
        for (int i = 1; i < argc && n < REPLAY_MAX_FILES; i++)
            files[n++] = strdup(argv[i]);
    } else {
        const char *src = getenv("IMD_SRCDIR");
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", src ? src : ".", FUZZ_CORPUS);
        n = list_dir(dir, files);
        if (n == 0) {
            printf("1..0 # SKIP no corpus in %s\n", dir);
            return 0;
        }
    }
    printf("1..%zu\n", n);
    for (size_t i = 0; i < n; i++) {
        fflush(stdout);
        int rc = replay(files[i]);
        printf("%s %zu - %s\n", rc == 0 ? "ok" : "not ok", i + 1, files[i]);
        failed |= rc != 0;
        free(files[i]);
    }
    return failed;
}
