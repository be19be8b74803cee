/* Applying the local domain set to the router: rewrite the router's include file atomically,
 * then run the reload hook (argv, no shell, with a timeout). Runs coalesce: a change made while
 * a reload runs is applied once more when it ends, with the newest set. */
#ifndef IMD_APPLY_H
#define IMD_APPLY_H

#include <stddef.h>
#include <uv.h>

typedef struct apply apply_t;

/* `ok` is 1 when the file was written and the hook (if any) exited 0; `detail` (borrowed for
 * the call) says what happened, in English, for notes and the audit log. */
typedef void (*apply_done_cb)(void *arg, int ok, const char *detail);

/* `vhosts_file` and `reload_hook` may be NULL or "" (then that part is skipped); both copied.
 * Returns NULL with *err (caller frees) when the hook's argument list does not parse. */
apply_t *apply_new(uv_loop_t *loop, const char *vhosts_file, const char *reload_hook,
                   unsigned hook_timeout_ms, char **err);
/* Cancels a running hook (its waiters get ok=0 "daemon stopping") and frees. */
void apply_free(apply_t *a);

/* The format of the router file: Prosody's VirtualHost lines (the default) or ejabberd's
 * `hosts` YAML (component/engine/ejabberd_hosts.h). */
enum apply_format { APPLY_FORMAT_PROSODY, APPLY_FORMAT_EJABBERD };
void apply_set_format(apply_t *a, enum apply_format format);

/* 1 when there is something to apply to (a file or a hook is configured). */
int apply_configured(const apply_t *a);

/* Applies `domains` (copied). `cb` is called exactly once, possibly before this returns when
 * nothing is configured or the file cannot be written. */
void apply_domains(apply_t *a, const char *const *domains, size_t n, apply_done_cb cb,
                   void *arg);

#endif
