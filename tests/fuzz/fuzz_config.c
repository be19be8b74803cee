/* libFuzzer target for the configuration file (component/config.c, on libinih): the input is the
 * file. It is read through a memfd, so config_load runs exactly as on a real file, then
 * config_finish checks the cross-key rules (with secret_file dropped: the fuzzer must not make
 * the target read files it names), and every hook template is split as the daemon splits it.
 * Properties: the problem count is what was printed (one line each), loading the same text twice
 * over fresh defaults gives the same result, and values stay in their documented ranges. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "component/config.h"
#include "component/engine/hook.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count_lines(const char *s, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++)
        n += s[i] == '\n';
    return n;
}

/* Loads the file at `path` over fresh defaults; the problems' text goes to *msgs. */
static int load(const char *path, struct config *cfg, char **msgs, size_t *msgs_len)
{
    FILE *errs = open_memstream(msgs, msgs_len);
    int n;

    if (errs == NULL)
        abort();
    config_defaults(cfg);
    n = config_load(cfg, path, errs);
    fclose(errs);
    return n;
}

static void split_hook(const char *tmpl)
{
    char **argv = NULL, *err = NULL;
    size_t argc = 0;

    if (tmpl == NULL)
        return;
    if (hook_split_argv(tmpl, &argv, &argc, &err) == 0) {
        if (argv == NULL || argv[argc] != NULL)
            abort();
        hook_free_argv(argv);
    } else if (err == NULL) {
        abort(); /* a refusal says why */
    }
    free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config a, b;
    char *ma = NULL, *mb = NULL, path[64];
    size_t la = 0, lb = 0;
    int fd = memfd_create("imdomaind.conf", 0), na, nb;

    if (fd < 0)
        abort();
    log_set_level(LOG_LEVEL_ERROR);
    if (size > 0 && write(fd, data, size) != (ssize_t)size)
        abort();
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    na = load(path, &a, &ma, &la);
    nb = load(path, &b, &mb, &lb);
    close(fd);
    if (na != nb || la != lb || memcmp(ma, mb, la) != 0 || (size_t)na != count_lines(ma, la))
        abort();
    if (a.max_depth < 4 || a.max_depth > 1024 || a.max_stanza_size < 4096 ||
        a.n_admins > CONFIG_MAX_ADMINS || a.n_peers > CONFIG_MAX_PEERS)
        abort();
    for (size_t i = 0; i < a.n_admins; i++)
        if (!config_is_admin(&a, a.admins[i]))
            abort();
    free(a.secret_file);
    a.secret_file = NULL;
    config_finish(&a, "fuzz.conf", NULL);
    split_hook(a.reload_hook);
    split_hook(a.start_hook);
    split_hook(a.stop_hook);
    split_hook(a.status_hook);
    config_free(&a);
    config_free(&b);
    free(ma);
    free(mb);
    return 0;
}
