/* Unit tests for store/store_import_job: finding the stored part that holds a line (parts of
 * any size, gaps a lost part would leave, an empty part), the lines worth reading paged in line
 * order, what a new upload clears, and that an import's id is never handed out again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_import_job.h"
#include "util/log.h"

struct fx {
    struct store *st;
    int64_t id;
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    char *err = NULL;

    fx->st = store_open(":memory:", &err);
    if (fx->st == NULL ||
        store_import_create(fx->st, "admin@example.test", NULL, false, true, &fx->id) != STORE_OK)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    store_close(fx->st);
    free(fx);
    return 0;
}

static void part(struct fx *fx, int64_t first, int64_t lines, const char *text)
{
    assert_int_equal(store_import_add_part(fx->st, fx->id, first, lines, text, strlen(text)),
                     STORE_OK);
}

/* The part holding `line` starts at `first` and reads `text`; or no part holds it (first 0). */
static void assert_part_at(struct fx *fx, int64_t line, int64_t first, const char *text)
{
    int64_t f = -1, n = -1;
    char *t = NULL;
    size_t len = 0;
    enum store_rc rc = store_import_part_at(fx->st, fx->id, line, &f, &n, &t, &len);

    if (first == 0) {
        assert_int_equal(rc, STORE_NOTFOUND);
        assert_null(t);
        return;
    }
    assert_int_equal(rc, STORE_OK);
    assert_int_equal(f, first);
    assert_int_equal(len, strlen(text));
    assert_string_equal(t, text);
    assert_true(line >= f && line < f + n);
    free(t);
}

static void assert_part_at_id(struct fx *fx, int64_t id, int64_t line)
{
    int64_t f, l;
    char *t = NULL;
    size_t len;

    assert_int_equal(store_import_part_at(fx->st, id, line, &f, &l, &t, &len), STORE_NOTFOUND);
    assert_null(t);
}

/* Lines 1-3 and 4-6 in two parts, 7-9 missing (a part that never came), 10 alone, then an
 * empty part of one blank line. */
static void test_part_at(void **state)
{
    struct fx *fx = *state;

    part(fx, 1, 3, "a,a@x\nb,b@x\nc,c@x");
    part(fx, 4, 3, "d,d@x\ne,e@x\nf,f@x");
    part(fx, 10, 1, "j,j@x");
    part(fx, 11, 1, "");
    assert_part_at(fx, 0, 0, NULL); /* lines count from 1 */
    assert_part_at(fx, 1, 1, "a,a@x\nb,b@x\nc,c@x");
    assert_part_at(fx, 3, 1, "a,a@x\nb,b@x\nc,c@x");
    assert_part_at(fx, 4, 4, "d,d@x\ne,e@x\nf,f@x");
    assert_part_at(fx, 6, 4, "d,d@x\ne,e@x\nf,f@x");
    assert_part_at(fx, 7, 0, NULL); /* the gap: not the previous part's */
    assert_part_at(fx, 9, 0, NULL);
    assert_part_at(fx, 10, 10, "j,j@x");
    assert_part_at(fx, 11, 11, "");
    assert_part_at(fx, 12, 0, NULL); /* past the end */
}

/* The lines worth reading, after a line, at most so many, in line order whatever the order
 * they were written in. */
static void test_verdicts_paged(void **state)
{
    struct fx *fx = *state;
    struct store_import_verdict *v = NULL;
    size_t n = 0;

    assert_int_equal(store_import_add_verdict(fx->st, fx->id, 9, "i", "removed", NULL), STORE_OK);
    assert_int_equal(store_import_add_verdict(fx->st, fx->id, 2, "b", "rejected", "bad URI"),
                     STORE_OK);
    assert_int_equal(store_import_add_verdict(fx->st, fx->id, 5, "e", "updated", NULL), STORE_OK);
    assert_int_equal(store_import_verdicts(fx->st, fx->id, 0, 2, &v, &n), STORE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].line, 2);
    assert_string_equal(v[0].userid, "b");
    assert_string_equal(v[0].verdict, "rejected");
    assert_string_equal(v[0].reason, "bad URI");
    assert_int_equal(v[1].line, 5);
    store_import_verdicts_free(v, n);
    assert_int_equal(store_import_verdicts(fx->st, fx->id, 5, 2, &v, &n), STORE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].line, 9);
    store_import_verdicts_free(v, n);
    assert_int_equal(store_import_verdicts(fx->st, fx->id, 9, 2, &v, &n), STORE_OK);
    assert_int_equal(n, 0);
    store_import_verdicts_free(v, n);
}

/* A new upload clears what an earlier one left (its parts with it); uploads can be discarded all
 * but the one a live session sends. */
static void test_new_upload_clears(void **state)
{
    struct fx *fx = *state;
    struct store_import r;
    int64_t second = 0, third = 0, n = -1;

    part(fx, 1, 1, "a,a@x");
    assert_int_equal(store_import_create(fx->st, "admin@example.test", "ko", true, false, &second),
                     STORE_OK);
    assert_int_equal(store_import_uploading(fx->st, &n), STORE_OK);
    assert_int_equal(n, 1); /* the first one is gone */
    assert_int_equal(store_import_get(fx->st, second, &r), STORE_OK);
    assert_int_equal(r.phase, STORE_IMPORT_UPLOAD);
    assert_int_equal(r.lines, 0);
    assert_string_equal(r.lang, "ko");
    assert_true(r.edit_directory);
    assert_false(r.audit);
    store_import_clear(&r);
    /* its parts went with it: the new upload holds none */
    assert_part_at_id(fx, second, 1);
    assert_part_at_id(fx, fx->id, 1);
    /* the next upload replaces this one too */
    assert_int_equal(store_import_create(fx->st, "", NULL, false, true, &third), STORE_OK);
    assert_int_equal(store_import_uploading(fx->st, &n), STORE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(store_import_get(fx->st, third, &r), STORE_OK);
    assert_null(r.lang);
    assert_false(r.edit_directory);
    store_import_clear(&r);
    /* the start-up clean-up spares the upload a live session sends, and only that one */
    assert_int_equal(store_import_discard_uploads_but(fx->st, third), STORE_OK);
    assert_int_equal(store_import_uploading(fx->st, &n), STORE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(store_import_discard_uploads_but(fx->st, third + 1), STORE_OK);
    assert_int_equal(store_import_uploading(fx->st, &n), STORE_OK);
    assert_int_equal(n, 0);
}

/* An import's id is never handed out again, though a new upload deletes every import before it
 * (the table is then empty) and a session discards its own: a session keeps its import's id to
 * append parts and read the verdicts, and an id that came back would reach a newer import (of
 * another session). The old id then addresses nothing: no part is appended to it, and none to
 * an import whose upload is over. */
static void test_ids_never_come_back(void **state)
{
    struct fx *fx = *state;
    struct store_import r;
    int64_t second = 0, third = 0, fourth = 0;

    part(fx, 1, 2, "a,a@x\nb,b@x");
    assert_int_equal(store_import_create(fx->st, "other@example.test", NULL, false, true, &second),
                     STORE_OK);
    assert_true(second > fx->id);
    assert_int_equal(store_import_get(fx->st, fx->id, &r), STORE_NOTFOUND);
    assert_int_equal(store_import_add_part(fx->st, fx->id, 3, 1, "c,c@x", 5), STORE_NOTFOUND);
    assert_part_at_id(fx, fx->id, 3);
    assert_part_at_id(fx, second, 3);
    assert_int_equal(store_import_get(fx->st, second, &r), STORE_OK);
    assert_int_equal(r.lines, 0); /* the stale part counted nowhere */
    store_import_clear(&r);

    /* the session's own discard (a closed connection), then the next upload */
    assert_int_equal(store_import_discard_upload(fx->st, second), STORE_OK);
    assert_int_equal(store_import_create(fx->st, "", NULL, false, true, &third), STORE_OK);
    assert_true(third > second);

    /* a finished import's rows go when the next upload starts; its id stays unused */
    assert_int_equal(store_import_get(fx->st, third, &r), STORE_OK);
    r.phase = STORE_IMPORT_DONE;
    assert_int_equal(store_import_update(fx->st, &r), STORE_OK);
    store_import_clear(&r);
    assert_int_equal(store_import_add_part(fx->st, third, 1, 1, "d,d@x", 5), STORE_NOTFOUND);
    assert_part_at_id(fx, third, 1);
    assert_int_equal(store_import_create(fx->st, "", NULL, false, true, &fourth), STORE_OK);
    assert_true(fourth > third);
    assert_int_equal(store_import_get(fx->st, third, &r), STORE_NOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_part_at, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verdicts_paged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_upload_clears, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ids_never_come_back, setup, teardown),
    };

    log_set_level(LOG_LEVEL_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
