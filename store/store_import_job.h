/* A large users/import kept in the store (schema user_imports): the lines as the admin sent them,
 * in parts; the run's phase, cursor and counts; every line's verdict. The import job
 * (component/engine/import_job.c) applies the lines in slices from here, so a restart goes on. */
#ifndef IMD_STORE_IMPORT_JOB_H
#define IMD_STORE_IMPORT_JOB_H

#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum store_import_phase {
    STORE_IMPORT_UPLOAD, /* "upload": parts arriving; no job yet */
    STORE_IMPORT_APPLY,  /* "apply": the job applies the lines after `cursor` */
    STORE_IMPORT_AUDIT,  /* "audit": every line applied; the sync audit is due */
    STORE_IMPORT_DONE,   /* "done" */
};

/* Verdict counts, in the order of enum import_verdict (added, updated, unchanged, removed,
 * rejected). */
#define STORE_IMPORT_COUNTS 5

/* One import; strings malloc'd and owned (store_import_clear()). */
struct store_import {
    int64_t id;
    int64_t job_id; /* 0 while uploading */
    enum store_import_phase phase;
    int64_t lines; /* lines received (blank and comment lines included) */
    char *lang;    /* the uploader's language: reasons are written in it (NULL: English) */
    char *actor;   /* who sent it, for the audit log */
    bool edit_directory;
    bool audit;     /* run the sync audit at the end */
    bool canceled;  /* Cancel asked: the audit runs on what was applied, then the job ends */
    int64_t cursor; /* the last line applied */
    int64_t counts[STORE_IMPORT_COUNTS];
    char *summary; /* the audit's summary line, once done */
};

/* A line worth reading (updated, removed, rejected); strings owned. */
struct store_import_verdict {
    int64_t line;
    char *userid;
    char *verdict; /* "updated", "removed", "rejected" */
    char *reason;
};

/* Deletes every import that is not of an unfinished job (an upload a restart or a closed
 * connection left, the rows of finished imports), then creates an upload. `lang` may be NULL.
 * Its id (user_imports.id, AUTOINCREMENT) is larger than any before: a session that kept the id
 * of a deleted import never reaches this one. */
enum store_rc store_import_create(struct store *st, const char *actor, const char *lang,
                                  bool edit_directory, bool audit, int64_t *id);
/* Deletes the imports still uploading (at start-up: their sender is gone), or one of them
 * (`id` > 0). */
enum store_rc store_import_discard_upload(struct store *st, int64_t id);
/* Deletes the imports still uploading but `keep` (0: none kept): those whose sender is gone,
 * when the caller knows that `keep` is the only one a live session of this process sends. */
enum store_rc store_import_discard_uploads_but(struct store *st, int64_t keep);

/* How many imports are being uploaded (by a live session: the others were discarded). */
enum store_rc store_import_uploading(struct store *st, int64_t *n);

/* Appends a part: `text` (`len` bytes, lines separated by '\n'), holding `lines` lines numbered
 * from `first_line`. STORE_NOTFOUND (nothing stored) when `id` is no upload: discarded, or its
 * job started. Ids are never handed out again (schema 10), so a stale id finds nothing. */
enum store_rc store_import_add_part(struct store *st, int64_t id, int64_t first_line, int64_t lines,
                                    const char *text, size_t len);

enum store_rc store_import_get(struct store *st, int64_t id, struct store_import *out);
enum store_rc store_import_get_by_job(struct store *st, int64_t job_id, struct store_import *out);
/* Writes job_id, phase, lines, cursor, counts, canceled and summary, by id. */
enum store_rc store_import_update(struct store *st, const struct store_import *r);
void store_import_clear(struct store_import *r);

/* The part holding line `line`: its first line number, line count and text (malloc'd,
 * NUL-terminated, *len bytes). STORE_NOTFOUND when no part holds it. */
enum store_rc store_import_part_at(struct store *st, int64_t id, int64_t line, int64_t *first_line,
                                   int64_t *lines, char **text, size_t *len);

/* A slice's verdicts: one character a line from `first_line` (see import_job.c). */
enum store_rc store_import_add_codes(struct store *st, int64_t id, int64_t first_line,
                                     const char *codes);
/* One line worth reading. */
enum store_rc store_import_add_verdict(struct store *st, int64_t id, int64_t line,
                                       const char *userid, const char *verdict, const char *reason);
/* The lines worth reading after line `after`, in line order, at most `limit`. */
enum store_rc store_import_verdicts(struct store *st, int64_t id, int64_t after, int64_t limit,
                                    struct store_import_verdict **out, size_t *n);
void store_import_verdicts_free(struct store_import_verdict *v, size_t n);

const char *store_import_phase_name(enum store_import_phase p);

#endif
