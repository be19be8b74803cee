/* The certificate expiry alarm: how close cup-xmpp-s2s is to its notAfter, as a level that
 * certs/show, domains/list, status and the daily log line share ([certs] warn_days and
 * critical_days). Federation dies silently when the certificate lapses; this is the alarm. */
#ifndef IMD_CERT_EXPIRY_H
#define IMD_CERT_EXPIRY_H

#include <stdbool.h>
#include <time.h>

#include "component/config.h"
#include "xmpp/adhoc.h"
#include "xmpp/adhoc_outcome.h"

#define CERT_EXPIRY_LOG_INTERVAL_MS (24u * 3600u * 1000u) /* the log line comes once a day */

enum cert_expiry_level {
    CERT_EXPIRY_NONE,     /* no [certs] dir, or no certificate in it: nothing to expire */
    CERT_EXPIRY_OK,       /* more than warn_days left */
    CERT_EXPIRY_WARNING,  /* within warn_days */
    CERT_EXPIRY_CRITICAL, /* within critical_days, or expired */
};

struct cert_expiry {
    enum cert_expiry_level level;
    time_t not_after; /* 0 with CERT_EXPIRY_NONE */
    long days_left;   /* whole days until not_after, rounded down; negative once expired */
    bool expired;     /* not_after is past */
};

/* "none", "ok", "warning", "critical" (static). */
const char *cert_expiry_level_name(enum cert_expiry_level level);

/* The level of a certificate valid until `not_after` at `now`: critical when at most
 * `critical_days` days are left (or it expired), warning when at most `warn_days`. Fills *out. */
void cert_expiry_classify(time_t not_after, time_t now, int warn_days, int critical_days,
                          struct cert_expiry *out);

/* Reads imdomaind's certificate from cfg->cert_dir and classifies it at `now`. No `cfg` (unit
 * tests), a missing directory setting or certificate gives CERT_EXPIRY_NONE; so does an unreadable one (logged
 * at debug: certs/show says why). */
void cert_expiry_check(const struct config *cfg, time_t now, struct cert_expiry *out);

/* One sentence on `e` in `lang` ("The certificate expires in 10 days (2026-12-13): ..."), or
 * NULL for NONE and OK. Caller frees. */
char *cert_expiry_sentence(const struct cert_expiry *e, const char *lang);

/* Adds that sentence as a warning note for WARNING and CRITICAL (not an error note: the command
 * itself did not fail); nothing otherwise. */
void cert_expiry_note(adhoc_call_t *call, const struct cert_expiry *e);

/* The daily log line: checks now and logs a warning when the level is WARNING or CRITICAL. */
void cert_expiry_log(const struct config *cfg);

#endif
