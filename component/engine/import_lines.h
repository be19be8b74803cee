/* Applying users/import lines (`userid,directory_uri[,node]`, `-userid`, blank, `# comment`) to
 * the store, one line at a time, with a verdict per line handed to the caller. Shared by the
 * one-call import (cmd_users.c) and the import job (import_job.c): the same rules either way. */
#ifndef IMD_IMPORT_LINES_H
#define IMD_IMPORT_LINES_H

#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>

/* What a line did; the names are the `result` cells scripts match. */
enum import_verdict {
    IMPORT_ADDED,
    IMPORT_UPDATED,
    IMPORT_UNCHANGED,
    IMPORT_REMOVED,
    IMPORT_REJECTED,
    IMPORT_V_COUNT
};
extern const char *const import_verdict_names[IMPORT_V_COUNT];

/* Called once per line that is not blank or a comment; `userid` and `reason` (NULL when none;
 * in the applier's language) are borrowed for the call. */
typedef void (*import_verdict_fn)(void *ud, size_t lineno, const char *userid,
                                  enum import_verdict v, const char *reason);

struct import_lines;

/* `st` is borrowed; `lang` is copied. */
struct import_lines *import_lines_new(struct store *st, const char *lang, bool edit_directory,
                                      import_verdict_fn fn, void *ud);
void import_lines_free(struct import_lines *il);

/* Inside the caller's transaction, before the lines: reads what every line needs (settings,
 * whether any user came from the directory). */
enum store_rc import_lines_begin(struct import_lines *il);

/* One line of text (`len` bytes, not NUL-terminated). Returns -1 only when the store fails
 * (the caller rolls back), else 0. */
int import_lines_one(struct import_lines *il, size_t lineno, const char *text, size_t len);

#endif
