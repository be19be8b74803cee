/* The daemon's status as monitoring reads it: everything the status command shows, gathered in
 * one struct, and the verdict over it in the monitoring-plugin convention (OK, WARNING,
 * CRITICAL, UNKNOWN: the exit statuses 0 to 3 of `imdomainctl status`) with the reasons and a
 * one-line summary that Nagios and Icinga take as is. */
#ifndef IMD_STATUS_H
#define IMD_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "component/app.h"
#include "component/engine/cert_expiry.h"
#include "component/engine/health.h"

#define STATUS_NODE "status"
#define STATUS_MAX_PROBLEMS 32 /* reasons listed at most */

enum status_level { STATUS_OK = 0, STATUS_WARNING = 1, STATUS_CRITICAL = 2, STATUS_UNKNOWN = 3 };

struct status_peer {
    char *jid;         /* owned */
    const char *state; /* static: peers_state_name() */
};

/* Everything status shows. Strings are owned by the struct (status_report_clear). */
struct status_report {
    time_t now;
    time_t started_at;
    struct health link; /* a copy of app->health (queued filled in), or a connecting one */
    size_t queued;
    int64_t sessions;     /* presence sessions tracked (available full JIDs) */
    int64_t online_users; /* distinct users among them */
    char *job;            /* label of the unfinished job, NULL when none */
    bool job_failed;      /* it waits for Retry or Cancel */
    bool has_audit;       /* a sync audit was ever recorded */
    int64_t audit_time;
    char *audit_outcome; /* "ok", "error", ... */
    char *audit_details;
    struct status_peer *peers;
    size_t n_peers;
    struct cert_expiry cert;
    int64_t store_bytes; /* main database file */
    int64_t wal_bytes;   /* its write-ahead log (0 when absent) */
    int schema;          /* PRAGMA user_version */
    bool applied;        /* the router files reflect the domain set */
    char *apply_error;   /* why the last apply failed; NULL when it did not */
    bool store_failed;   /* some figure could not be read (the store's error is logged) */
};

/* Gathers the report from the daemon's state and store at `now`. Never fails: what cannot be
 * read is marked (store_failed) and judged UNKNOWN. */
void status_collect(struct app *app, time_t now, struct status_report *out);
void status_report_clear(struct status_report *r);

/* The verdict: the level and one sentence per reason in `lang` (caller frees with
 * status_problems_free). */
enum status_level status_evaluate(const struct status_report *r, const char *lang, char ***problems,
                                  size_t *n);
void status_problems_free(char **problems, size_t n);

/* "OK", "WARNING", "CRITICAL", "UNKNOWN" (static), and lower-case for form values. */
const char *status_level_name(enum status_level level);
const char *status_level_value(enum status_level level);

/* The monitoring-plugin line: "IMDOMAIND WARNING - <first reason> (+N more) | perfdata", or on
 * OK a short state of the router link, sessions and certificate. Caller frees. */
char *status_summary(const struct status_report *r, enum status_level level, char **problems,
                     size_t n, const char *lang);

/* "2d 3h 4m" from seconds into buf. */
void status_format_duration(int64_t seconds, char *buf, size_t size);

#endif
