/* See fuzz_store.h: the snapshot is the database image (sqlite3_serialize), loaded back with
 * sqlite3_deserialize; the store's prepared statements re-prepare themselves on the new schema. */
#include "tests/fuzz/fuzz_store.h"

#include "store/store_impl.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

static unsigned char *image;
static sqlite3_int64 image_size;

struct store *fuzz_store_open(void (*fill)(struct store *st))
{
    char *err = NULL;
    struct store *st = store_open(":memory:", &err);

    if (st == NULL)
        abort();
    if (fill)
        fill(st);
    image = sqlite3_serialize(st->db, "main", &image_size, 0);
    if (image == NULL)
        abort();
    return st;
}

void fuzz_store_reset(struct store *st)
{
    unsigned char *copy = sqlite3_malloc64((sqlite3_uint64)image_size);

    if (copy == NULL)
        abort();
    memcpy(copy, image, (size_t)image_size);
    if (sqlite3_deserialize(st->db, "main", copy, image_size, image_size,
                            SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE) !=
        SQLITE_OK)
        abort();
}
