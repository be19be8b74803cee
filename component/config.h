/* The daemon's configuration: INI file parsed with libinih, defaults, validation with file:line.
 * Every key is documented in imdomaind.conf.example and README.md. */
#ifndef IMD_CONFIG_H
#define IMD_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#define CONFIG_MAX_ADMINS 64
#define CONFIG_MAX_PEERS 64

/* [router] kind */
#define CONFIG_ROUTER_PROSODY 0
#define CONFIG_ROUTER_EJABBERD 1

struct config {
    /* [component] */
    char *jid;
    char *secret; /* never logged */
    char *secret_file;
    char *router_host;
    int router_port;
    size_t max_stanza_size;
    int max_depth;
    int max_children;   /* of one element, in stanzas and control frames */
    int max_attributes; /* of one element */
    int keepalive;      /* seconds */
    int reconnect_max;  /* seconds */
    size_t send_queue_max;
    /* [admins] bare JIDs, lower-case */
    char *admins[CONFIG_MAX_ADMINS];
    size_t n_admins;
    /* [store] */
    char *store_path;
    /* [control] */
    char *control_socket;
    mode_t control_mode;
    char *control_group;
    int control_max_clients;  /* connections at once */
    int control_idle_timeout; /* seconds */
    /* [log] */
    int log_level; /* enum log_level */
    int log_syslog;
    /* [commands] */
    int session_timeout;
    int max_sessions_per_jid;
    int max_sessions;
    /* [router] */
    int router_kind;   /* CONFIG_ROUTER_*: the format of vhosts_file */
    char *vhosts_file; /* the file the router includes (Prosody Lua or ejabberd YAML) */
    char *reload_hook;
    int hook_timeout;
    /* [certs] cup-xmpp-s2s */
    char *cert_dir;      /* where the router reads <domain>.crt/.key; NULL: files not written */
    char *cert_key_type; /* default key type for certs/regenerate and certs/csr */
    int cert_days;       /* default validity of a self-signed certificate */
    char *cert_ca_file;  /* trust anchors for federation/check; NULL: the system's */
    int cert_warn_days;     /* a certificate expiring within this many days is a warning */
    int cert_critical_days; /* ... and within this many, critical (<= cert_warn_days) */
    char *cert_key_group;   /* the router's group: keys 0640 in it (NULL: keys 0600) */
    gid_t cert_key_gid;     /* cert_key_group resolved by config_finish; (gid_t)-1: none */
    /* [federation] */
    int federation_timeout;   /* seconds per federation/check step */
    char *federation_resolve; /* "domain=host:port ..." answered before DNS (tests, split DNS) */
    /* [ha] */
    int settle_time; /* seconds to wait after ha/disable before domain changes (guide: 120) */
    /* [services] argv templates run per node and service; {node} {service} {operation} are
     * replaced in each word. NULL or "": the state is recorded only. */
    char *start_hook;
    char *stop_hook;
    char *status_hook;
    int service_hook_timeout; /* seconds */
    /* [peers] intercluster peers: component JIDs, lower-case */
    char *peers[CONFIG_MAX_PEERS];
    size_t n_peers;
    int peer_refresh; /* seconds between refreshes of every peer's data */
    int peer_timeout; /* seconds to wait for one answer of a peer */
    /* seconds after a peer's last good answer when its data stops counting (expired); 0: never */
    int peer_forget_after;
    /* [directory] users and directory URIs from LDAP (component/engine/directory.h); dir_uri NULL: no
     * directory configured, directory/test and directory/sync say so */
    char *dir_uri;      /* ldap:// or ldaps:// URIs separated by blanks, tried in order */
    int dir_starttls;   /* StartTLS on ldap:// URIs (required to succeed when set) */
    char *dir_ca_file;  /* PEM trust anchors for the directory's certificate; NULL: system's */
    char *dir_bind_dn;  /* NULL: anonymous */
    char *dir_bind_password_file;
    char *dir_bind_password; /* the file's first line, loaded by config_finish; never logged */
    char *dir_base;
    char *dir_filter;       /* default (objectClass=inetOrgPerson) */
    char *dir_userid_attr;  /* default uid (sAMAccountName for Active Directory) */
    char *dir_uri_attr;     /* default mail (msRTCSIP-PrimaryUserAddress: sip: is stripped) */
    char *dir_node_attr;    /* NULL: node assignments are left alone */
    int dir_page_size;      /* RFC 2696 page size */
    char *dir_schedule;     /* "HH:MM": a full sync every day at that local time; NULL: none */
    int dir_timeout;        /* seconds per directory operation (connect, bind, each page) */
    int dir_max_drop;       /* percent: a full sync that finds more fewer users than this waits
                             * for confirmation */
    int import_job_lines;   /* [users] import_job_lines: a users/import of more lines runs as a
                             * job (import_job.c) */
};

/* Fills `cfg` with the built-in defaults. */
void config_defaults(struct config *cfg);

/* Reads `path` over the defaults. Each problem is printed to `errs` as "path:line: message";
 * returns the number of problems (0 on success). */
int config_load(struct config *cfg, const char *path, FILE *errs);

/* Advice on a configuration that works but departs from the guide: [ha] settle_time below its
 * 2 minutes. A malloc'd sentence (one line) or NULL. `imdomaind -n` prints it and the daemon
 * logs it at start-up. */
char *config_warnings(const struct config *cfg);

/* Checks cross-key rules (a JID and a secret are present, the secret file is readable) and
 * loads secret_file into secret. Problems are printed to `errs`; returns their number. */
int config_finish(struct config *cfg, const char *path, FILE *errs);

/* True when the bare form of `jid` (full or bare, any case) is a configured admin. */
int config_is_admin(const struct config *cfg, const char *jid);

void config_free(struct config *cfg);

#endif
