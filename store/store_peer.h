/* Intercluster peers in the store: the peer list (from the config file or the peers command),
 * what each peer last said (domains with user counts, default domain, address scheme, findings)
 * replaced in one piece per answer, and this cluster's own data version marker. */
#ifndef IMD_STORE_PEER_H
#define IMD_STORE_PEER_H

#include "store/store.h"

/* One peer. Strings are malloc'd and owned by the struct (store_peer_clear()); the optional
 * ones are NULL until a peer answered. */
struct store_peer {
    int64_t id;
    char *jid;        /* the peer's component JID, lower case */
    bool from_config; /* listed in [peers] jids: the command cannot remove it */
    int64_t added_at;
    int64_t last_attempt; /* unix seconds; 0: never asked */
    int64_t last_sync;    /* the last answer taken; 0: never (no data) */
    char *last_error;     /* why the last refresh failed; NULL when it did not */
    char *version;        /* the peer's data version marker at last_sync */
    char *default_domain;
    char *im_address_scheme;
    int64_t domains;    /* peer_domains rows */
    int64_t users;      /* sum of their user counts */
    int64_t uri_hashes; /* directory URI hashes the peer sent */
    bool uris_partial;  /* the peer has more URIs than the protocol carries */
    int64_t dup_uris;   /* local directory URIs the peer has too */
    char *dup_example;  /* one of them (a local URI), NULL when none */
};

/* One domain of a peer as it said. */
struct store_peer_domain {
    char *name;      /* lower case */
    char *sent_name; /* as the peer spelled it */
    bool configured; /* the peer configures it (else only its users have it) */
    int64_t users;
};

/* Everything one answer brings, written by store_peer_replace(); all borrowed. */
struct store_peer_data {
    const char *version;
    const char *default_domain;
    const char *im_address_scheme;
    const struct store_peer_domain *domains;
    size_t n_domains;
    int64_t uri_hashes;
    bool uris_partial;
    int64_t dup_uris;
    const char *dup_example; /* NULL: none */
};

/* Per domain over every peer: how many peers configure it and their users in it. */
struct store_peer_total {
    char *name;
    int64_t configured_by;
    int64_t users;
};

/* Adds a peer (jid borrowed, stored lower-cased). STORE_CONFLICT when it exists. */
enum store_rc store_peer_add(struct store *st, const char *jid, bool from_config);
/* STORE_NOTFOUND when there is no such peer; its domains go with it. */
enum store_rc store_peer_remove(struct store *st, const char *jid);
/* Makes the [peers] jids of the config file (n of them) present and marked from_config, and
 * unmarks rows no longer in the file (kept as if added by command: never dropped silently). */
enum store_rc store_peer_sync_config(struct store *st, char *const *jids, size_t n);

enum store_rc store_peer_get(struct store *st, const char *jid, struct store_peer *out);
/* Every peer in JID order; free with store_peer_list_free(). */
enum store_rc store_peer_list(struct store *st, struct store_peer **out, size_t *n);
/* One peer's domains in name order; free with store_peer_domains_free(). */
enum store_rc store_peer_domains(struct store *st, const char *jid, struct store_peer_domain **out,
                                 size_t *n);
/*
 * `peer_since` below: peer data counts only for peers whose last good answer (last_sync) is at
 * or after it (unix seconds; 0: every peer that ever answered). Older peers are expired: their
 * data stays in the store and is listed, but is not used (peers_counted_since() computes it).
 */
/* *out: some counted peer configures `name` (any case). */
enum store_rc store_peer_configures(struct store *st, const char *name, int64_t peer_since,
                                    bool *out);
/* Per-domain totals over the counted peers, in name order; free with store_peer_totals_free(). */
enum store_rc store_peer_totals(struct store *st, int64_t peer_since, struct store_peer_total **out,
                                size_t *n);

/*
 * Replaces what the peer said (its domains and the answer's fields), sets last_sync and
 * last_attempt to `now`, clears last_error and marks peering as seen. Atomic (a savepoint:
 * joins an open transaction). STORE_NOTFOUND: no such peer; STORE_ERR: a value the schema
 * refuses (nothing changed).
 */
enum store_rc store_peer_replace(struct store *st, const char *jid, const struct store_peer_data *d,
                                 int64_t now);
/* The peer answered "unchanged": last_sync = last_attempt = now, no error. */
enum store_rc store_peer_mark_fresh(struct store *st, const char *jid, int64_t now);
/* The refresh failed: last_attempt = now, last_error = `error` (borrowed); data kept. */
enum store_rc store_peer_mark_failed(struct store *st, const char *jid, const char *error,
                                     int64_t now);

/* True when peer data decides about peer-only domains: some peer answered once (ever), and
 * every peer listed now has answered at least once. An expired peer has answered once, so it
 * never holds this back; a peer that never answered does, however long ago it was added. */
enum store_rc store_peer_authoritative(struct store *st, bool *out);

/* This cluster's data version marker ("epoch-counter"), malloc'd. */
enum store_rc store_peer_own_version(struct store *st, char **out);

/* Local directory URIs (lower case) of users with id > after_id, in id order, at most limit;
 * *last_id gets the id of the last one; it is left as it was when there is none and on any
 * failure (nothing returned then), so a cursor passed as after_id and last_id never moves past
 * rows the caller did not get. Free with store_peer_strings_free(). */
enum store_rc store_peer_local_uris(struct store *st, int64_t after_id, int64_t limit, char ***out,
                                    size_t *n, int64_t *last_id);

void store_peer_clear(struct store_peer *p);
void store_peer_list_free(struct store_peer *list, size_t n);
void store_peer_domains_free(struct store_peer_domain *list, size_t n);
void store_peer_totals_free(struct store_peer_total *list, size_t n);
void store_peer_strings_free(char **v, size_t n);

#endif
