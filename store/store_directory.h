/* The directory sync's tables: users.source (where a user came from), directory_runs (one row
 * per directory-sync job: mode, phase, counts) and directory_entries (the entries the current
 * or last sync read, with a verdict each: the staging that lets a sync read the whole directory
 * before it changes anything, and resume after a restart). */
#ifndef IMD_STORE_DIRECTORY_H
#define IMD_STORE_DIRECTORY_H

#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

enum store_dir_mode { STORE_DIR_FULL, STORE_DIR_INCREMENTAL };

/* Where a run is. fetch: reading pages into directory_entries; check: the safety stop; apply:
 * upserting entries (cursor = last entry id done); remove: deleting directory users no entry
 * names (cursor = last user id looked at; full runs only); finish: the audit; done. */
enum store_dir_phase {
    STORE_DIR_FETCH,
    STORE_DIR_CHECK,
    STORE_DIR_APPLY,
    STORE_DIR_REMOVE,
    STORE_DIR_FINISH,
    STORE_DIR_DONE,
};

/* One run; strings malloc'd (store_dir_run_clear()). */
struct store_dir_run {
    int64_t job_id;
    enum store_dir_mode mode;
    enum store_dir_phase phase;
    bool confirmed;     /* the safety stop was overridden */
    char *since;        /* incremental: entries modified after this GeneralizedTime; else NULL */
    int64_t started_at; /* unix seconds */
    char *server;       /* host:port that answered; NULL until known */
    bool saw_mtime;     /* the entries carried modifyTimestamp: incremental runs are possible */
    char *max_mtime;    /* the latest modifyTimestamp read (server clock); NULL if none */
    int64_t fetched;    /* entries read */
    int64_t existing;   /* users from the directory before the run */
    int64_t cursor;
    int64_t counts[5]; /* by enum store_dir_verdict */
    char *summary;     /* the audit's summary line when done */
};

enum store_dir_verdict {
    STORE_DIR_ADDED,
    STORE_DIR_UPDATED,
    STORE_DIR_UNCHANGED,
    STORE_DIR_REMOVED,
    STORE_DIR_REJECTED,
};

/* One staged entry; strings malloc'd by reads, borrowed by writes. */
struct store_dir_entry {
    int64_t id;
    char *dn;
    char *userid;
    char *uri;
    char *node;      /* NULL: the entry has no node attribute */
    int verdict;     /* enum store_dir_verdict, or -1 when not applied yet */
    char *reason_en; /* set for rejected entries */
    char *reason_ko;
    bool duplicate; /* (reads) an earlier entry has the same userid */
};

/* Creates the run for job `job_id` in phase fetch and empties directory_entries. */
enum store_rc store_dir_run_create(struct store *st, int64_t job_id, enum store_dir_mode mode,
                                   const char *since);
enum store_rc store_dir_run_get(struct store *st, int64_t job_id, struct store_dir_run *out);
/* Writes every field but job_id, mode and started_at. */
enum store_rc store_dir_run_update(struct store *st, const struct store_dir_run *r);
/* The newest run whose job completed (STORE_NOTFOUND: none). */
enum store_rc store_dir_run_last_completed(struct store *st, struct store_dir_run *out);
void store_dir_run_clear(struct store_dir_run *r);

/* Empties directory_entries. */
enum store_rc store_dir_entries_clear(struct store *st);
/* Appends `n` entries (verdict and reason as given: a rejection found while mapping). */
enum store_rc store_dir_entries_add(struct store *st, const struct store_dir_entry *v, size_t n);
/* At most `limit` entries with id > after_id in id order, with `duplicate` filled. */
enum store_rc store_dir_entries_batch(struct store *st, int64_t after_id, int64_t limit,
                                      struct store_dir_entry **out, size_t *n);
/* Records the verdicts of `n` entries (by id). */
enum store_rc store_dir_entries_set_verdicts(struct store *st, const struct store_dir_entry *v,
                                             size_t n);
/* The first `limit` entries with `verdict`, in id order. */
enum store_rc store_dir_entries_with(struct store *st, enum store_dir_verdict verdict,
                                     int64_t limit, struct store_dir_entry **out, size_t *n);
void store_dir_entries_free(struct store_dir_entry *v, size_t n);

/* Marks the users that entries first_id..last_id applied (added, updated, unchanged) as coming
 * from the directory. */
enum store_rc store_dir_mark_users(struct store *st, int64_t first_id, int64_t last_id);

/* Users from the directory. */
enum store_rc store_dir_count_users(struct store *st, int64_t *n);
/* Whether any user came from the directory: one index probe, whatever the count (the import
 * job asks once a slice). */
enum store_rc store_dir_any_user(struct store *st, bool *yes);

/* One removal step of a full run: looks at the next `limit` directory users after user id
 * `after_id` and deletes those no staged entry names (any case), recording each as a 'removed'
 * entry. *last gets the highest user id looked at (after_id when none: the step is done),
 * *looked how many were looked at, *removed how many went. Atomic. */
enum store_rc store_dir_remove_batch(struct store *st, int64_t after_id, int64_t limit,
                                     int64_t *last, int64_t *looked, int64_t *removed);

/* Whether user `userid` (any case) came from the directory; STORE_NOTFOUND when no such user. */
enum store_rc store_user_from_directory(struct store *st, const char *userid, bool *yes);

const char *store_dir_phase_name(enum store_dir_phase p);
const char *store_dir_verdict_name(enum store_dir_verdict v);

#endif
