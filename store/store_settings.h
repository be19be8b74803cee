/* Cluster settings in the store: one row holding the default domain, the IM address scheme,
 * federation options, the audit time and whether the router files and certificate are current. */
#ifndef IMD_STORE_SETTINGS_H
#define IMD_STORE_SETTINGS_H

#include "store/store.h"

enum store_im_scheme {
    STORE_SCHEME_USERID_AT_DEFAULT, /* "userid@default": every IM address is userid@default */
    STORE_SCHEME_DIRECTORY_URI,     /* "directory-uri": the directory URI is the IM address */
};

/* Every string is malloc'd and owned by the struct: release with store_settings_clear(). */
struct store_settings {
    char *default_domain; /* "DOMAIN.NOT.SET" until an admin sets one */
    enum store_im_scheme im_address_scheme;
    bool tls_federation;
    bool wildcard_sans;          /* put *.domain SANs in cup-xmpp-s2s */
    char *cucm_domain_sip_proxy; /* "" when not set */
    char *audit_time;            /* "HH:MM", 24-hour, local time of the nightly sync audit */
    bool domains_applied;        /* the router files and reload hook reflect the domain set */
    char *apply_error;           /* why applying failed last time; NULL when it did not */
    char *cert_domain_set;       /* the sorted domain set the certificate covers; NULL: none */
};

/* Fills *out (whose old contents are not freed). On failure *out is zeroed. */
enum store_rc store_settings_get(struct store *st, struct store_settings *out);

/*
 * Writes every field of *in (borrowed). NULL strings: default_domain, cucm_domain_sip_proxy and
 * audit_time must not be NULL; apply_error and cert_domain_set NULL store SQL NULL. A value the
 * schema refuses (audit_time not "HH:MM", a default_domain over 255 characters) is STORE_ERR.
 * Changing default_domain clears domains_applied whatever in->domains_applied says, because the
 * router files name it; call store_settings_set_applied() once they are rewritten.
 */
enum store_rc store_settings_set(struct store *st, const struct store_settings *in);

/*
 * Records the outcome of writing the router files: applied true with error NULL after success,
 * false with a sentence (borrowed) after a failure. Note that adding, renaming or deleting a
 * local domain, or changing the default domain, sets domains_applied to false by itself (a
 * trigger, in the same transaction).
 */
enum store_rc store_settings_set_applied(struct store *st, bool applied, const char *error);

/* Frees the strings of *s and zeroes it; s may be NULL. */
void store_settings_clear(struct store_settings *s);

/* "userid@default" / "directory-uri" (static), and the reverse: 0, or -1 if unknown. */
const char *store_im_scheme_name(enum store_im_scheme scheme);
int store_im_scheme_parse(const char *name, enum store_im_scheme *out);

#endif
