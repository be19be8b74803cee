/* For tests: store faults, two kinds, both only in test binaries.
 *
 * A refusal by SQL (the way the integration tests inject one too): a trigger written into a
 * store file through a second connection, RAISE(ABORT) on a row; the store sees a constraint
 * failure (STORE_CONFLICT) on that statement.
 *
 * A failing disk: an sqlite VFS that wraps the default one, registered as the default, which
 * fails chosen reads, writes, syncs or truncations of the main database or its WAL with the
 * error a real disk gives (SQLITE_IOERR_*, SQLITE_FULL); the store sees STORE_ERR. Nothing in the
 * daemon knows about it. In-memory stores (":memory:") do no file I/O: use a file. */
#ifndef IMD_TEST_STORE_FAULT_H
#define IMD_TEST_STORE_FAULT_H

#include <stdint.h>

/* Runs `sql` on the store file `path` through a connection of its own (a trigger to create or
 * drop, a change behind the store's back), on the real disk even while a fault is armed. 0, or
 * -1 with the reason printed. */
int store_fault_sql(const char *path, const char *sql);
/* The name of the VFS under the failing one (NULL before store_fault_install): a test's own
 * connections pass it to sqlite3_open_v2 to read the file whatever is armed. */
const char *store_fault_passthrough(void);

enum store_fault_op { STORE_FAULT_READ, STORE_FAULT_WRITE, STORE_FAULT_SYNC, STORE_FAULT_TRUNCATE };
enum store_fault_file { STORE_FAULT_ANY, STORE_FAULT_DB, STORE_FAULT_WAL };

/* Registers the failing VFS as sqlite's default (once; later calls do nothing). Call before
 * the store is opened: a connection keeps the VFS it was opened with. 0, or -1. */
int store_fault_install(void);
/* From now on, after `skip` more calls of `op` on `file` pass, the next `times` such calls
 * (-1: all) fail with `code` (an sqlite result code such as SQLITE_IOERR_WRITE or SQLITE_FULL).
 * Replaces what was armed before and zeroes the count of failures. */
void store_fault_arm(enum store_fault_op op, enum store_fault_file file, int skip, int times,
                     int code);
/* Every call passes again. */
void store_fault_disarm(void);
/* Calls failed since the last store_fault_arm: a test shows its fault really happened. */
int store_fault_hits(void);
/* Calls of `op` on `file` seen since the last store_fault_arm (failed or not). */
int64_t store_fault_calls(void);

#endif
