/* For fuzz targets that run commands against a store: one in-memory store, migrated and filled
 * once, and put back to exactly that state before each input (a fresh store per input would cost
 * its migrations every time, which made these targets ten times slower). */
#ifndef IMD_FUZZ_STORE_H
#define IMD_FUZZ_STORE_H

#include "store/store.h"

/* Opens ":memory:" and calls fill(st) once; aborts on any failure. */
struct store *fuzz_store_open(void (*fill)(struct store *st));
/* Puts the store back to its state right after fill(). */
void fuzz_store_reset(struct store *st);

#endif
