/* IM address domains in the store: insert, look up, rename, delete, list and count them, and
 * count local users per domain (from the users' directory URIs). Names are kept lower-case and
 * compared case-insensitively; checking the name rules is the caller's job (domain_rules.h). */
#ifndef IMD_STORE_DOMAIN_H
#define IMD_STORE_DOMAIN_H

#include "store/store.h"

enum store_managed_by {
    STORE_MANAGED_ADMIN,  /* "admin": added by hand, or no longer used: may be edited */
    STORE_MANAGED_SYSTEM, /* "system": used by at least one user: may not be edited */
};

/* One domain. `name` is malloc'd and owned by the struct (store_domain_clear()). */
struct store_domain {
    int64_t id;
    char *name; /* lower case */
    enum store_managed_by managed_by;
    bool configured_local; /* false: listed only because a peer configures or uses it */
    int64_t local_users;   /* users here whose directory URI is in this domain */
    int64_t created_at;    /* unix seconds */
    int64_t updated_at;
};

/* One (domain, user count) pair; `domain` is malloc'd and owned by the array. */
struct store_domain_users {
    char *domain;
    int64_t users;
};

/* Adds `name` (borrowed; stored lower-cased). STORE_CONFLICT if it exists in any case. */
enum store_rc store_domain_insert(struct store *st, const char *name,
                                  enum store_managed_by managed_by, bool configured_local);

/* Looks `name` up in any case. Fills *out (may be NULL to test existence only). */
enum store_rc store_domain_get(struct store *st, const char *name, struct store_domain *out);

/* STORE_OK when `name` exists in any case, STORE_NOTFOUND when not, STORE_ERR on failure. */
enum store_rc store_domain_exists(struct store *st, const char *name);

/* Renames `from` to `to` (both borrowed, any case; `to` is stored lower-cased), keeping the id,
 * the flags and created_at. STORE_NOTFOUND: no `from`; STORE_CONFLICT: `to` is another domain. */
enum store_rc store_domain_rename(struct store *st, const char *from, const char *to);

/* STORE_NOTFOUND when there is no such domain. */
enum store_rc store_domain_delete(struct store *st, const char *name);
enum store_rc store_domain_set_managed_by(struct store *st, const char *name,
                                          enum store_managed_by managed_by);
enum store_rc store_domain_set_local(struct store *st, const char *name, bool configured_local);

/*
 * Domains in name order whose name contains `filter` (borrowed, any case; NULL or "" for all):
 * at most `limit` (<= 0: no limit) of those after the name `after` (NULL: from the first), a
 * keyset page (names are unique). *out is a malloc'd array of *n entries (NULL when none) that
 * the caller frees with store_domain_list_free().
 */
enum store_rc store_domain_list(struct store *st, const char *filter, const char *after,
                                int64_t limit, struct store_domain **out, size_t *n);

/* How many domains store_domain_list() would return without `after` and `limit`. */
enum store_rc store_domain_count(struct store *st, const char *filter, int64_t *count);

/*
 * In one query, every distinct domain found in the users' directory URIs with its number of
 * users, in name order: the input of the sync audit. Domains nobody uses are absent (see
 * store_domain.local_users for those). Free with store_domain_users_free().
 */
enum store_rc store_domain_user_counts(struct store *st, struct store_domain_users **out,
                                       size_t *n);

/* One domain as the sync audit sees it: listed in the domains table, used by local users, or
 * both. `name` is malloc'd and owned by the array (store_domain_usage_free()). */
struct store_domain_usage {
    char *name;                       /* lower case */
    bool listed;                      /* a row of the domains table; false: only users have it */
    enum store_managed_by managed_by; /* STORE_MANAGED_ADMIN when not listed */
    bool configured_local;            /* false when not listed */
    int64_t local_users;              /* users whose directory URI is in this domain */
    bool peer_configured;             /* some counted peer configures it (as it last said) */
    int64_t peer_users;               /* users of every counted peer in it (as they last said) */
};

/*
 * In one statement with one grouped walk of the users' domain index: every listed domain with
 * its local and peer user counts, plus every domain that local or peer users have, or a peer
 * configures, and the table lacks, in name order. Peer data counts only for peers whose last
 * good answer (last_sync) is at or after `peer_since` (unix seconds; 0: every peer that ever
 * answered): older ones are expired (peers_counted_since() in component/engine/peers.h).
 * The input of the sync audit (component/engine/sync.h), sized for a million users. Free with
 * store_domain_usage_free().
 */
enum store_rc store_domain_usage(struct store *st, int64_t peer_since,
                                 struct store_domain_usage **out, size_t *n);
/* As store_domain_usage(), but local_users is 1 (in use) or 0: the domains in use are found one
 * index seek each, without reading every user (the import job's audit at 1,000,000 users). */
enum store_rc store_domain_usage_walk(struct store *st, int64_t peer_since,
                                      struct store_domain_usage **out, size_t *n);

void store_domain_clear(struct store_domain *d);
void store_domain_list_free(struct store_domain *list, size_t n);
void store_domain_users_free(struct store_domain_users *list, size_t n);
void store_domain_usage_free(struct store_domain_usage *list, size_t n);

/* "admin" / "system" (static), and the reverse: 0, or -1 if unknown. */
const char *store_managed_by_name(enum store_managed_by managed_by);
int store_managed_by_parse(const char *name, enum store_managed_by *out);

#endif
