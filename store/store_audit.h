/* The audit log in the store: who ran which command, when, with what outcome. */
#ifndef IMD_STORE_AUDIT_H
#define IMD_STORE_AUDIT_H

#include "store/store.h"

enum store_outcome {
    STORE_OUTCOME_OK,       /* "ok" */
    STORE_OUTCOME_REFUSED,  /* "refused": a rule or precondition said no */
    STORE_OUTCOME_ERROR,    /* "error" */
    STORE_OUTCOME_CANCELED, /* "canceled" */
};

/* One record; the strings are malloc'd and owned by the struct (store_audit_clear()). */
struct store_audit {
    int64_t id;
    int64_t time; /* unix seconds */
    char *actor;  /* a bare JID, or "uid:N" for the local control socket */
    char *node;   /* the command node, e.g. "domains/add" */
    enum store_outcome outcome;
    char *details; /* "" when none */
};

/*
 * Appends a record; strings are borrowed, `details` may be NULL. `time` 0 means now. *id (may be
 * NULL) gets its id. A record appended inside a transaction that is rolled back is lost too:
 * record refusals and errors after the rollback.
 */
enum store_rc store_audit_append(struct store *st, int64_t time, const char *actor,
                                 const char *node, enum store_outcome outcome, const char *details,
                                 int64_t *id);

/*
 * Records with time >= `since` (0: all) by `actor` (borrowed, exact match in any case; NULL or
 * "" for everyone), newest first, at most `limit` (<= 0: all). Free with store_audit_list_free().
 */
enum store_rc store_audit_list(struct store *st, int64_t since, const char *actor, int64_t limit,
                               struct store_audit **out, size_t *n);

/* Deletes records older than `before`; *removed (may be NULL) gets how many. */
enum store_rc store_audit_prune(struct store *st, int64_t before, int64_t *removed);

/* The newest record of `node` (borrowed) into *out, or STORE_NOTFOUND when there is none. */
enum store_rc store_audit_last(struct store *st, const char *node, struct store_audit *out);
void store_audit_clear(struct store_audit *rec);
void store_audit_list_free(struct store_audit *list, size_t n);

/* "ok", "refused", "error", "canceled" (static), and the reverse: 0, or -1 if unknown. */
const char *store_outcome_name(enum store_outcome outcome);
int store_outcome_parse(const char *name, enum store_outcome *out);

#endif
