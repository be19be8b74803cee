/* XEP-0050 ad-hoc commands: a completed command's long result tables, shown a page at a time
 * with next and prev while the session stays open. */
#include "xmpp/adhoc_internal.h"

#include "util/xmalloc.h"
#include "xmpp/present.h"

#include <stdlib.h>
#include <string.h>

/* ---- paging of long result tables ---- */

static void page_note(const struct req *r, const struct session *s, struct notes *n)
{
    size_t rows = 0, per = r->a->lim.page_rows;
    char *t;

    for (size_t i = 0; i < s->n_results; i++)
        if (form_row_count(s->results[i]) > rows)
            rows = form_row_count(s->results[i]);
    size_t first = s->page * per + 1, last = first - 1 + per < rows ? first - 1 + per : rows;
    if (i18n_is_korean(r->lang))
        t = xasprintf("전체 %zu행 중 %zu–%zu행 (%zu/%zu쪽). 다음/이전으로 이동합니다.", rows, first,
                      last, s->page + 1, s->pages);
    else
        t = xasprintf("Rows %zu–%zu of %zu (page %zu of %zu); use next and prev to move.", first,
                      last, rows, s->page + 1, s->pages);
    adhoc_notes_add(n, ADHOC_NOTE_INFO, t);
    free(t);
}

static xmpp_stanza_t *page_reply(const struct req *r, const struct session *s, bool final)
{
    size_t per = r->a->lim.page_rows;
    bool last = s->page + 1 >= s->pages;
    unsigned allowed =
        ADHOC_ALLOW_COMPLETE | (s->page > 0 ? ADHOC_ALLOW_PREV : 0) | (last ? 0 : ADHOC_ALLOW_NEXT);
    xmpp_stanza_t *reply = adhoc_reply_iq(r, "result");
    xmpp_stanza_t *cmd = adhoc_command_el(reply, r, s->id, final ? "completed" : "executing");
    struct notes notes = {0};

    struct present_page pg = {s->page * per, per, s->page, s->pages};

    for (size_t i = 0; i < s->notes.n; i++)
        adhoc_notes_add(&notes, s->notes.v[i].type, s->notes.v[i].text);
    page_note(r, s, &notes);
    if (!final)
        adhoc_add_actions(cmd, allowed, last ? ADHOC_COMPLETE : ADHOC_NEXT);
    adhoc_add_notes(cmd, &notes);
    adhoc_notes_clear(&notes);
    /* Inside the form the page position is the label of the rows. */
    adhoc_add_results(cmd, r, s->results, s->n_results, &s->notes, &pg);
    return reply;
}

xmpp_stanza_t *adhoc_page_action(const struct req *r, struct session *s, enum adhoc_action act,
                                 bool given)
{
    bool last = s->page + 1 >= s->pages;
    xmpp_stanza_t *reply;

    if (!given || act == ADHOC_EXECUTE)
        act = last ? ADHOC_COMPLETE : ADHOC_NEXT;
    if (act == ADHOC_NEXT && last)
        act = ADHOC_COMPLETE; /* poezio sends next on the last stage */
    if (act == ADHOC_PREV && s->page == 0)
        return NULL;
    if (act == ADHOC_NEXT)
        s->page++;
    else if (act == ADHOC_PREV)
        s->page--;
    reply = page_reply(r, s, act == ADHOC_COMPLETE);
    if (act == ADHOC_COMPLETE)
        adhoc_session_end(r->a, s, true, r->now);
    return reply;
}

bool adhoc_has_long_table(const adhoc_t *a, form_t *const *forms, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (form_row_count(forms[i]) > a->lim.page_rows)
            return true;
    return false;
}

/* The session keeps the results of `o` (taken) and shows their first page. */
xmpp_stanza_t *adhoc_page_start(const struct req *r, struct session *s, struct adhoc_outcome *o)
{
    s->paging = true;
    s->results = o->results;
    s->n_results = o->n_results;
    s->notes = o->notes;
    o->results = NULL;
    o->n_results = 0;
    memset(&o->notes, 0, sizeof(o->notes));
    s->pages = 1;
    for (size_t i = 0; i < s->n_results; i++) {
        size_t p = form_page_count(s->results[i], r->a->lim.page_rows);
        s->pages = p > s->pages ? p : s->pages;
    }
    return page_reply(r, s, false);
}
