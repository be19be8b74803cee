/* External hooks (e.g. "prosodyctl reload"): run a program from an argv array, never through a
 * shell, on the libuv loop, with a timeout and the first few KiB of its output for the report. */
#ifndef IMD_HOOK_H
#define IMD_HOOK_H

#include <stddef.h>
#include <uv.h>

#define HOOK_OUTPUT_MAX 4096    /* bytes of stdout+stderr kept; the rest is read and dropped */
#define HOOK_KILL_GRACE_MS 2000 /* default time between SIGTERM and SIGKILL after a timeout */
#define HOOK_DRAIN_MS 200       /* how long to wait for the output's end after the exit */
#define HOOK_ARGV_MAX 256       /* words accepted by hook_split_argv() */

/* A running hook; owned by this module, valid until its callback returns or hook_cancel(). */
typedef struct hook hook_t;

struct hook_opts {
    unsigned timeout_ms;    /* 0: no timeout */
    unsigned kill_grace_ms; /* 0: HOOK_KILL_GRACE_MS */
    const char *const *env; /* NULL-terminated "K=V" list (borrowed); NULL: inherit ours */
};

struct hook_result {
    int exit_status;      /* exit code, meaningful when term_signal == 0 */
    int term_signal;      /* signal that ended the program, or 0 */
    int timed_out;        /* 1 when the timeout fired and we had to kill it */
    const char *output;   /* stdout and stderr interleaved, NUL-terminated; borrowed for the
                           * callback's duration only (may contain any bytes) */
    size_t output_len;    /* at most HOOK_OUTPUT_MAX */
    int output_truncated; /* 1 when the program wrote more than HOOK_OUTPUT_MAX bytes */
};

/* Called exactly once when the program has ended and its output is collected. */
typedef void (*hook_done_cb)(const struct hook_result *res, void *arg);

/*
 * Starts argv[0] (PATH is searched when it has no '/') with argv (borrowed, NULL-terminated;
 * copied by libuv before this returns), stdin from /dev/null, stdout and stderr into one pipe.
 * On success returns the running hook; `cb` runs later on `loop`. On failure (no such program,
 * not executable, bad arguments) returns NULL, sets *err (if not NULL) to a sentence the caller
 * frees, e.g. "cannot run /usr/bin/nope: no such file or directory", and never calls `cb`.
 */
hook_t *hook_run(uv_loop_t *loop, const char *const *argv, const struct hook_opts *opts,
                 hook_done_cb cb, void *arg, char **err);

/*
 * Gives up a running hook without calling its callback: sends SIGTERM (there is no grace
 * period: this is for shutdown) and closes its handles; the hook frees itself once they are
 * closed, so run the loop afterwards. Call it for every running hook before anything closes
 * all the loop's handles (uv_walk): a handle closed behind this module's back leaks the hook.
 * Calling it from inside the hook's own callback does nothing.
 */
void hook_cancel(hook_t *h);

/* A sentence for logs and replies, e.g. "exited with status 1", "killed by signal 9",
 * "timed out and was killed (signal 15)". The caller frees it. */
char *hook_result_describe(const struct hook_result *res);

/*
 * Splits a configuration string into words without any shell expansion: words are separated
 * by blanks (space, tab, CR, LF); "double quotes" group blanks into a word and may join a word's
 * parts (a"b c"d is one word); a backslash takes the next character literally, inside quotes
 * too; single quotes are ordinary characters. On success stores a NULL-terminated array in
 * *argv_out (free with hook_free_argv), the word count in *argc_out (may be 0 for a blank
 * string), and returns 0. On an unterminated quote, a trailing backslash or more than
 * HOOK_ARGV_MAX words returns -1 and sets *err (if not NULL; the caller frees it).
 */
int hook_split_argv(const char *s, char ***argv_out, size_t *argc_out, char **err);

/* Frees an array from hook_split_argv(); NULL is allowed. */
void hook_free_argv(char **argv);

#endif
