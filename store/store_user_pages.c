/*
 * users/list's numbered pages without LIMIT/OFFSET's walk over every user before the page.
 *
 * Page k of `per` users starts after the user at place (k - 1) * per - 1 of the filtered users
 * in userid order (userids are unique in that order, so a userid is a whole key). The store
 * remembers, per filter, a few places and the userid found there ("marks"): the page's last
 * user when a page is read, and the user before it. The next page of a walk then starts at a
 * mark (one keyset read of `per` users, as cheap at the end as at the start), the page before
 * one is found by stepping back `per` users from it, and a page asked for out of order is found
 * from the nearest mark, the start or the end (the count says where the end is), stepping over
 * only the users between, through the userid index alone when there is no filter.
 *
 * Marks and the count hold for one state of the data: they are dropped as soon as anything was
 * written to the database, by this connection (sqlite3_total_changes) or by another one (PRAGMA
 * data_version); none are kept from a page read inside a caller's transaction (a rollback
 * would restore the data without moving either), and every page is read in one snapshot. So
 * each page is exactly the users LIMIT/OFFSET would give at that moment, whatever was added or
 * removed between two pages.
 *
 * Bounded: WALKS_MAX filters (the least recently used one is forgotten), MARKS_MAX marks per
 * filter (likewise), and neither userids nor filters longer than MARK_KEY_MAX bytes are kept:
 * at most WALKS_MAX * (MARKS_MAX + 1) strings of MARK_KEY_MAX bytes (about 0.5 MiB; userids of
 * 20 bytes: about 10 KiB).
 */
#include "store/store_impl.h"
#include "store/store_user.h"
#include "util/xmalloc.h"

#include <stdlib.h>
#include <string.h>

#define WALKS_MAX 8       /* filters remembered at once (admins paging at the same time) */
#define MARKS_MAX 64      /* places remembered per filter */
#define MARK_KEY_MAX 1024 /* longer userids are not kept as marks (memory bound) */

struct mark {
    int64_t place; /* from 0, in the filter's order */
    char *key;     /* the userid there */
    uint64_t used; /* for choosing the one to forget */
};

struct walk {
    bool live;
    char *like;            /* the filter's LIKE pattern; NULL: every user */
    int64_t changes, data; /* the data's state when total and marks were learnt */
    int64_t total;         /* users the filter matches; -1: not counted in that state */
    struct mark marks[MARKS_MAX];
    size_t n;
    uint64_t used;
};

struct user_pages {
    struct walk walks[WALKS_MAX];
    uint64_t tick;
    int64_t stepped; /* users stepped over to find where pages start (store_user_pages_stepped) */
};

static void walk_forget(struct walk *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->marks[i].key);
    w->n = 0;
    w->total = -1;
}

void store_user_pages_free(struct store *st)
{
    if (st->pages == NULL)
        return;
    for (size_t i = 0; i < WALKS_MAX; i++) {
        walk_forget(&st->pages->walks[i]);
        free(st->pages->walks[i].like);
    }
    free(st->pages);
    st->pages = NULL;
}

int64_t store_user_pages_stepped(const struct store *st)
{
    return st->pages ? st->pages->stepped : 0;
}

static bool same_like(const char *a, const char *b)
{
    return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* The walk of filter `like`, or a forgotten one (the least recently used) made its. */
static struct walk *walk_of(struct user_pages *p, const char *like)
{
    struct walk *w = NULL;

    for (size_t i = 0; i < WALKS_MAX; i++) {
        struct walk *c = &p->walks[i];
        if (c->live && same_like(c->like, like)) {
            w = c;
            break;
        }
        if (w == NULL || (w->live && (!c->live || c->used < w->used)))
            w = c;
    }
    if (!w->live || !same_like(w->like, like)) {
        walk_forget(w);
        free(w->like);
        w->like = like ? xstrdup(like) : NULL;
        w->live = true;
        w->changes = w->data = -1;
    }
    w->used = ++p->tick;
    return w;
}

/* Remembers that `key` is at `place`, forgetting the least recently used mark when full. */
static void remember(struct user_pages *p, struct walk *w, int64_t place, const char *key)
{
    struct mark *m = NULL;

    if (strlen(key) > MARK_KEY_MAX)
        return;
    for (size_t i = 0; i < w->n; i++)
        if (w->marks[i].place == place) {
            w->marks[i].used = ++p->tick;
            return;
        }
    if (w->n < MARKS_MAX) {
        m = &w->marks[w->n++];
    } else {
        m = &w->marks[0];
        for (size_t i = 1; i < w->n; i++)
            if (w->marks[i].used < m->used)
                m = &w->marks[i];
        free(m->key);
    }
    *m = (struct mark){place, xstrdup(key), ++p->tick};
}

/* The state of the data: what this connection changed, and other connections' commits. */
static enum store_rc data_state(struct store *st, int64_t *changes, int64_t *data)
{
#if SQLITE_VERSION_NUMBER >= 3037000
    *changes = sqlite3_total_changes64(st->db);
#else
    *changes = sqlite3_total_changes(st->db);
#endif
    return store_scalar(st, store_stmt(st, STMT_DATA_VERSION, ""), "reading the data version",
                        data);
}

/* In *key (malloc'd) the userid at `place` (< w->total), stepping over as few users as the
 * marks allow. */
static enum store_rc key_at(struct store *st, struct walk *w, int64_t place, char **key)
{
    struct user_pages *p = st->pages;
    const struct mark *from = NULL;
    int64_t cost = place, steps; /* from the start: over `place` users */
    bool back = false, end = false;
    sqlite3_stmt *s;
    enum store_rc rc;

    if (w->total - 1 - place < cost) { /* from the end */
        cost = w->total - 1 - place;
        end = back = true;
    }
    for (size_t i = 0; i < w->n; i++) {
        const struct mark *m = &w->marks[i];
        int64_t c = m->place >= place ? m->place - place : place - m->place;
        if (c < cost || (c == 0 && from == NULL)) {
            cost = c;
            from = m;
            back = m->place > place;
            end = false;
        }
    }
    if (from != NULL && cost == 0) {
        w->marks[from - w->marks].used = ++p->tick;
        *key = xstrdup(from->key);
        return STORE_OK;
    }
    steps = from ? cost - 1 : cost; /* a mark is a place itself: the users between, not it */
    if (end)
        s = store_stmt(st, STMT_USER_KEY_LAST, "ti", w->like, steps);
    else
        s = store_stmt(st, back ? STMT_USER_KEY_BEFORE : STMT_USER_KEY_AFTER, "tti", w->like,
                       from ? from->key : "", steps);
    rc = store_row(st, s, "finding where a page of users starts");
    if (rc != STORE_OK)
        return rc;
    *key = store_col_str(s, 0);
    store_stmt_done(s);
    p->stepped += steps;
    remember(p, w, place, *key);
    return STORE_OK;
}

/* The page inside the caller's snapshot (store_user_page()); `keep`: what is learnt holds
 * after it. */
static enum store_rc page_in_snapshot(struct store *st, const char *like, const char *filter,
                                      int64_t page, int64_t per, bool keep, struct store_user **out,
                                      size_t *n, int64_t *total)
{
    struct walk *w = walk_of(st->pages, like);
    int64_t changes = 0, data = 0, first;
    char *after = NULL;
    enum store_rc rc;

    if ((rc = data_state(st, &changes, &data)) != STORE_OK)
        return rc;
    if (changes != w->changes || data != w->data) {
        walk_forget(w); /* learnt in another state of the data */
        w->changes = changes;
        w->data = data;
    }
    if (w->total < 0 && (rc = store_user_count(st, filter, &w->total)) != STORE_OK)
        goto out;
    *total = w->total;
    if (page - 1 >= w->total / per + (w->total % per != 0)) /* past the end: nothing to read */
        goto out;
    first = (page - 1) * per;
    if (first > 0 && (rc = key_at(st, w, first - 1, &after)) != STORE_OK) {
        if (rc == STORE_NOTFOUND)
            rc = store_fail_arg(st, "users changed while paging");
        goto out;
    }
    rc = store_user_list(st, filter, after, per, out, n);
    free(after);
    if (rc == STORE_OK && *n > 0)
        remember(st->pages, w, first + (int64_t)*n - 1, (*out)[*n - 1].userid);
out:
    if (!keep || rc != STORE_OK) {
        walk_forget(w);
        w->changes = w->data = -1;
    }
    if (!keep) { /* nothing of it stays, not even the filter */
        free(w->like);
        w->like = NULL;
        w->live = false;
    }
    return rc;
}

enum store_rc store_user_page(struct store *st, const char *filter, int64_t page, int64_t per,
                              struct store_user **out, size_t *n, int64_t *total)
{
    char *like = store_like_pattern(filter);
    enum store_rc rc;

    *out = NULL;
    *n = 0;
    *total = 0;
    if (page < 1 || per < 1) {
        free(like);
        return store_fail_arg(st, "listing users: page and page size start at 1");
    }
    if (st->pages == NULL)
        st->pages = xcalloc(1, sizeof(*st->pages));
    /* Inside the caller's transaction the data may still be rolled back, and a rollback does
     * not move sqlite3_total_changes: what is learnt there is not kept. */
    bool keep = sqlite3_get_autocommit(st->db) && (like == NULL || strlen(like) <= MARK_KEY_MAX);
    /* One snapshot: another connection's commit cannot fall between the count, the search for
     * the page's start and the read. */
    if ((rc = store_atomic_begin(st)) == STORE_OK)
        rc = store_atomic_end(st,
                              page_in_snapshot(st, like, filter, page, per, keep, out, n, total));
    free(like);
    if (rc != STORE_OK) {
        store_user_list_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}
