/* The Prosody include file listing one VirtualHost per local IM address domain, replaced
 * atomically so that Prosody never reads a half-written file. */
#ifndef IMD_VHOSTS_H
#define IMD_VHOSTS_H

#include <stddef.h>

#define VHOSTS_FILE_MODE 0644 /* Prosody runs as its own user and must read the file */

/*
 * Writes `path` with a header comment and one `VirtualHost "name"` line per entry of `domains`
 * (borrowed; n entries, NULL and "" refused), sorted bytewise with exact duplicates dropped,
 * each name escaped as a Lua string. Names are expected to be validated and lower-cased
 * already (domain_rules). The file is built in a temporary file of the same directory, synced,
 * given mode VHOSTS_FILE_MODE, renamed over `path`, and the directory is synced. If `path` is a
 * symbolic link the link itself is replaced. An empty set gives a file with only the header.
 * Returns 0, or -1 with `path` untouched, no temporary file left, and *err (if not NULL) set to
 * a sentence the caller frees.
 */
/* `domains` (borrowed) sorted bytewise, in a new array of n + 1 pointers into it that the
 * caller frees (duplicates stay adjacent for the writer to skip); NULL with *err (if not NULL,
 * naming `path`) when an entry is NULL or "". Shared by the router files' writers. */
const char **vhosts_sorted(const char *path, const char *const *domains, size_t n, char **err);

int vhosts_write(const char *path, const char *const *domains, size_t n, char **err);

/*
 * As vhosts_write(), and after each VirtualHost line writes `extra` (borrowed, may be NULL or
 * ""): lines of Prosody configuration for every host, e.g. "    modules_disabled = { \"s2s\" }".
 * It is written verbatim (a missing final newline is added), so it must come from the
 * administrator's configuration, never from a client.
 */
int vhosts_write_extra(const char *path, const char *const *domains, size_t n, const char *extra,
                       char **err);

#endif
