/* The two things derived from every write to users, kept by the writers: the users per IM
 * address domain (im_domain_users, read by domains/list) and the data version peers compare
 * (peer_state.version). Triggers kept them until schema 9; see store_impl.h for why not now.
 *
 * A batch (the import's lines) counts its new users once at its end: they are the users with
 * ids above the highest id when it began (ids only grow: AUTOINCREMENT), whatever happened to
 * them in between. So while a batch is open, the per-row helpers leave those ids alone. */
#include "store/store_impl.h"

#include <stdint.h>

enum store_rc store_user_counts_shift(struct store *st, int64_t after, int64_t last, int sign)
{
    if (st->batch.open && last > st->batch.first)
        last = st->batch.first;
    if (last <= after)
        return STORE_OK;
    return store_exec(st, store_stmt(st, STMT_IM_COUNT_SHIFT, "iii", after, last, (int64_t)sign),
                      "counting users per IM address domain", NULL);
}

enum store_rc store_user_counts_add(struct store *st, const char *im_address, int delta)
{
    return store_exec(st, store_stmt(st, STMT_IM_COUNT_ADD, "ti", im_address, (int64_t)delta),
                      "counting users per IM address domain", NULL);
}

enum store_rc store_user_peers_stale(struct store *st)
{
    if (st->batch.open) {
        st->batch.peers_stale = true;
        return STORE_OK;
    }
    return store_exec(st, store_stmt(st, STMT_PEER_VERSION_BUMP, ""), "moving the data version",
                      NULL);
}

enum store_rc store_user_batch_start(struct store *st)
{
    int64_t first = 0;
    enum store_rc rc;

    if (st->batch.open)
        return STORE_OK;
    if (!store_in_transaction(st))
        return store_fail_arg(st, "a batch of users outside a transaction");
    rc = store_scalar(st, store_stmt(st, STMT_USER_MAX_ID, ""), "reading the last user id", &first);
    if (rc != STORE_OK)
        return rc;
    st->batch.open = true;
    st->batch.peers_stale = false;
    st->batch.first = first;
    return STORE_OK;
}

enum store_rc store_user_batch_finish(struct store *st)
{
    int64_t first = st->batch.first;
    bool stale = st->batch.peers_stale;
    enum store_rc rc;

    if (!st->batch.open)
        return STORE_OK;
    st->batch.open = false; /* from here on the helpers count every id */
    rc = store_user_counts_shift(st, first, INT64_MAX, 1);
    if (rc == STORE_OK && stale)
        rc = store_user_peers_stale(st);
    return rc;
}

void store_user_batch_discard(struct store *st)
{
    st->batch.open = false;
    st->batch.peers_stale = false;
}
