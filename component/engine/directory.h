/* The directory client: connect to LDAP / Active Directory (failover across URIs, ldaps:// or
 * StartTLS against a CA file), bind, and read the users page by page (RFC 2696 paged results).
 * Every call here blocks on the network: run them on the libuv thread pool, never on the loop.
 * A failure is typed (unreachable, TLS, credentials, filter, base) with a sentence that names
 * the cause; a TLS failure is diagnosed again with OpenSSL so the sentence names the
 * certificate problem. The bind password is never logged or put in a sentence. */
#ifndef IMD_DIRECTORY_H
#define IMD_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>

#include "component/config.h"

#define DIR_PROBE_URIS_MAX 4 /* URIs a TLS failure diagnosis looks at */

enum dir_err {
    DIR_OK,
    DIR_NOT_CONFIGURED, /* no [directory] uri */
    DIR_UNREACHABLE,    /* no URI answered (refused, no route, timeout while connecting) */
    DIR_TLS,            /* TLS failed: certificate not trusted, wrong name, no TLS offered */
    DIR_CREDENTIALS,    /* the bind was refused */
    DIR_FILTER,         /* the server rejected the filter */
    DIR_BASE,           /* the base DN does not exist */
    DIR_TIMEOUT,        /* an operation took longer than [directory] timeout */
    DIR_OTHER,
};

/* What one connection needs, copied from the configuration (all strings owned). */
struct dir_params {
    char *uris;
    bool starttls;
    char *ca_file;
    char *bind_dn;
    char *password; /* never logged */
    char *base;
    char *filter; /* the full filter of this search (an incremental one ANDs a time) */
    char *userid_attr;
    char *uri_attr;
    char *node_attr; /* NULL: none */
    int page_size;
    int timeout_s;
};

/* One directory entry as read: the first value of each attribute, or NULL when the entry has
 * none. All owned by the page. */
struct dir_entry {
    char *dn;
    char *userid;
    char *uri;
    char *node;
};

/* One page of entries (dir_page_clear()). */
struct dir_page {
    struct dir_entry *v;
    size_t n;
    bool saw_mtime;     /* at least one entry carried modifyTimestamp */
    char max_mtime[32]; /* the latest modifyTimestamp seen (the server's clock), "" if none */
};

typedef struct dir_conn dir_conn_t;

/* The parameters of [directory] with `filter` (NULL: the configured one). Returns NULL when no
 * directory is configured. Free with dir_params_free(). */
struct dir_params *dir_params_new(const struct config *cfg, const char *filter);
void dir_params_free(struct dir_params *p);

/* "(&<filter>(!(modifyTimestamp<=STAMP)))": the entries changed after `stamp` (a
 * GeneralizedTime the server gave, so its clock, not ours), malloc'd. */
char *dir_filter_since(const char *filter, const char *stamp);

/*
 * Connects (the URIs in order), sets up TLS, binds. `p` is borrowed and must outlive the
 * connection. Returns the connection, or NULL with *err and *why (malloc'd, English) set.
 */
dir_conn_t *dir_open(const struct dir_params *p, enum dir_err *err, char **why);

/* The next page of the search. Returns 1 when more pages follow, 0 for the last one, -1 on
 * failure (*err, *why set; the page is empty). */
int dir_next_page(dir_conn_t *c, struct dir_page *page, enum dir_err *err, char **why);

/* The URI the connection uses (borrowed; for logs and answers). */
const char *dir_conn_uri(const dir_conn_t *c);

/* Unbinds and frees (NULL allowed). */
void dir_close(dir_conn_t *c);

void dir_page_clear(struct dir_page *page);

/* "unreachable", "tls", "credentials", "filter", "base", "timeout", "error" (static). */
const char *dir_err_name(enum dir_err err);

#endif
