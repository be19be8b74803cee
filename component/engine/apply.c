/* Domain set -> router. One run at a time; callers that arrive during a run wait for the next
 * one, which uses the newest set, so the router always ends on the latest state. */
#include "component/engine/apply.h"

#include "component/engine/ejabberd_hosts.h"
#include "component/engine/hook.h"
#include "component/engine/vhosts.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

struct waiter {
    apply_done_cb cb;
    void *arg;
    struct waiter *next;
};

struct apply {
    uv_loop_t *loop;
    char *vhosts_file;
    enum apply_format format;
    char **hook_argv; /* NULL when no hook */
    unsigned timeout_ms;
    hook_t *running;
    struct waiter *current; /* waiting for the running hook */
    struct waiter *queued;  /* arrived during the run: wait for the next */
    char **next_set;        /* the newest set to apply after the run */
    size_t next_n;
};

static void free_set(char **set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(set[i]);
    free(set);
}

static char **copy_set(const char *const *domains, size_t n)
{
    char **set = xcalloc(n ? n : 1, sizeof(*set));
    for (size_t i = 0; i < n; i++)
        set[i] = xstrdup(domains[i]);
    return set;
}

static void notify(struct waiter *w, int ok, const char *detail)
{
    while (w) {
        struct waiter *next = w->next;
        w->cb(w->arg, ok, detail);
        free(w);
        w = next;
    }
}

apply_t *apply_new(uv_loop_t *loop, const char *vhosts_file, const char *reload_hook,
                   unsigned hook_timeout_ms, char **err)
{
    apply_t *a = xcalloc(1, sizeof(*a));
    size_t argc = 0;

    a->loop = loop;
    a->timeout_ms = hook_timeout_ms;
    if (vhosts_file && *vhosts_file)
        a->vhosts_file = xstrdup(vhosts_file);
    if (reload_hook && *reload_hook) {
        if (hook_split_argv(reload_hook, &a->hook_argv, &argc, err) < 0) {
            free(a->vhosts_file);
            free(a);
            return NULL;
        }
        if (argc == 0) {
            hook_free_argv(a->hook_argv);
            a->hook_argv = NULL;
        }
    }
    return a;
}

void apply_set_format(apply_t *a, enum apply_format format)
{
    a->format = format;
}

int apply_configured(const apply_t *a)
{
    return a->vhosts_file != NULL || a->hook_argv != NULL;
}

static void start_run(apply_t *a, const char *const *domains, size_t n);

static void on_hook_done(const struct hook_result *res, void *arg)
{
    apply_t *a = arg;
    struct waiter *done = a->current;
    int ok = !res->timed_out && res->term_signal == 0 && res->exit_status == 0;
    char *why = hook_result_describe(res);
    char *detail;

    if (ok) {
        detail = xasprintf("router reloaded (%s)", a->hook_argv[0]);
    } else {
        /* Up to 300 bytes of what it said, without its last newline: the detail ends a
         * sentence in a note and a log line. */
        size_t len = res->output ? (res->output_len > 300 ? 300 : res->output_len) : 0;
        while (len > 0 && isspace((unsigned char)res->output[len - 1]))
            len--;
        detail = xasprintf("the reload hook %s %s%s%.*s", a->hook_argv[0], why, len ? ": " : "",
                           (int)len, len ? res->output : "");
        log_warnx("apply: %s", detail);
    }
    free(why);
    a->running = NULL;
    a->current = NULL;
    notify(done, ok, detail);
    free(detail);
    if (a->queued) {
        char **set = a->next_set;
        size_t n = a->next_n;
        a->next_set = NULL;
        a->next_n = 0;
        a->current = a->queued;
        a->queued = NULL;
        start_run(a, (const char *const *)set, n);
        free_set(set, n);
    }
}

/* Writes the file and starts the hook; waiters in a->current are told the outcome. */
static void start_run(apply_t *a, const char *const *domains, size_t n)
{
    char *err = NULL;

    int written = 0;
    if (a->vhosts_file)
        written = a->format == APPLY_FORMAT_EJABBERD
                      ? ejabberd_hosts_write(a->vhosts_file, domains, n, &err)
                      : vhosts_write(a->vhosts_file, domains, n, &err);
    if (written < 0) {
        char *detail = xasprintf("cannot write %s: %s", a->vhosts_file, err ? err : "?");
        log_warnx("apply: %s", detail);
        free(err);
        struct waiter *w = a->current;
        a->current = NULL;
        notify(w, 0, detail);
        free(detail);
        return;
    }
    if (a->hook_argv == NULL) {
        struct waiter *w = a->current;
        a->current = NULL;
        notify(w, 1, a->vhosts_file ? "router file written (no reload hook configured)"
                                    : "nothing to apply");
        return;
    }
    struct hook_opts opts = {.timeout_ms = a->timeout_ms};
    a->running = hook_run(a->loop, (const char *const *)a->hook_argv, &opts, on_hook_done, a,
                          &err);
    if (a->running == NULL) {
        char *detail = xasprintf("the reload hook could not start: %s", err ? err : "?");
        log_warnx("apply: %s", detail);
        free(err);
        struct waiter *w = a->current;
        a->current = NULL;
        notify(w, 0, detail);
        free(detail);
    }
}

void apply_domains(apply_t *a, const char *const *domains, size_t n, apply_done_cb cb,
                   void *arg)
{
    struct waiter *w = xcalloc(1, sizeof(*w));

    w->cb = cb;
    w->arg = arg;
    if (a->running) {
        /* Coalesce: the newest set wins; every waiter hears about the run that carries it. */
        free_set(a->next_set, a->next_n);
        a->next_set = copy_set(domains, n);
        a->next_n = n;
        w->next = a->queued;
        a->queued = w;
        return;
    }
    a->current = w;
    start_run(a, domains, n);
}

void apply_free(apply_t *a)
{
    if (a == NULL)
        return;
    if (a->running)
        hook_cancel(a->running);
    notify(a->current, 0, "daemon stopping");
    notify(a->queued, 0, "daemon stopping");
    free_set(a->next_set, a->next_n);
    free(a->vhosts_file);
    hook_free_argv(a->hook_argv);
    free(a);
}
