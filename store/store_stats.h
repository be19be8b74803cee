/* Figures about the store itself, for status: its size in pages and bytes. */
#ifndef IMD_STORE_STATS_H
#define IMD_STORE_STATS_H

#include "store/store.h"

/* The main database's size in bytes (page_count * page_size; the WAL file is apart). */
enum store_rc store_size_bytes(struct store *st, int64_t *out);

#endif
