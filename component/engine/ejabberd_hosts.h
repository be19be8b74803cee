/* The ejabberd include file listing the local IM address domains as ejabberd's `hosts`, for
 * `include_config_file` in ejabberd.yml: ejabberd merges the included `hosts` with its own, and
 * `ejabberdctl reload_config` starts the hosts added and stops the hosts removed (ejabberd
 * 23.01). Replaced atomically, like the Prosody file. */
#ifndef IMD_EJABBERD_HOSTS_H
#define IMD_EJABBERD_HOSTS_H

#include <stddef.h>

#define EJABBERD_HOSTS_FILE_MODE 0644 /* ejabberd runs as its own user and must read the file */

/*
 * Writes `path` with a header comment and a `hosts:` list of `domains` (borrowed; n entries,
 * NULL and "" refused), sorted bytewise with exact duplicates dropped, each name a YAML
 * double-quoted string. An empty set gives a file with only the comments: ejabberd refuses an
 * empty `hosts` list ("Empty list is not allowed") but accepts an empty document. Atomic as
 * vhosts_write(). Returns 0, or -1 with `path` untouched and *err (if not NULL) set to a
 * sentence the caller frees.
 */
int ejabberd_hosts_write(const char *path, const char *const *domains, size_t n, char **err);

#endif
