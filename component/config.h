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
    int keepalive;     /* seconds */
    int reconnect_max; /* seconds */
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
};

/* Fills `cfg` with the built-in defaults. */
void config_defaults(struct config *cfg);

/* Reads `path` over the defaults. Each problem is printed to `errs` as "path:line: message";
 * returns the number of problems (0 on success). */
int config_load(struct config *cfg, const char *path, FILE *errs);

/* Checks cross-key rules (a JID and a secret are present, the secret file is readable) and
 * loads secret_file into secret. Problems are printed to `errs`; returns their number. */
int config_finish(struct config *cfg, const char *path, FILE *errs);

/* True when the bare form of `jid` (full or bare, any case) is a configured admin. */
int config_is_admin(const struct config *cfg, const char *jid);

void config_free(struct config *cfg);

#endif
