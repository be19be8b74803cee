/* How the answer of a command is put in front of people and of programs.
 *
 * People run profanity, poezio, Gajim and Psi (CLIENTS.md): they show the first data form of a
 * <command/> and its plain fields, but not <reported/>/<item/> tables (rows invisible, or the
 * dialog hangs), and some show one note or none. So every answer carries exactly one form for
 * people: the notes as fixed fields on top, the fields of every result, and each table as a
 * fixed line saying which rows these are, a fixed header line and one text-single field per row
 * (jid-single for a list of JIDs) labelled by its first cell, the other cells its value, in the
 * reader's language. Not one text-multi: poezio shows it one value at a time; nor fixed lines
 * only: poezio cannot scroll past them. Programs (slixmpp scripts, imdomainctl --json) get
 * the results unchanged in a separate payload, <results xmlns='urn:imdomaind:results'/>, which
 * holds each result as the XEP-0004 form it is, <reported/> and <item/>s included; clients look
 * for the form among the direct children of <command/> and pass over this element. */
#ifndef IMD_PRESENT_H
#define IMD_PRESENT_H

#include <stddef.h>
#include <strophe.h>

#include "xmpp/form.h"

#define NS_IMD_RESULTS "urn:imdomaind:results"
/* var prefix of a table's row fields: "row-1", "row-2"... ("row-1_2"... for a later table). */
#define PRESENT_ROW_VAR "row"

/* The rows of each table to show: [first, first + count) of `total` at most, page `page` (from
 * 0) of `pages`; pages == 0 when the answer is not paged. */
struct present_page {
    size_t first, count;
    size_t page, pages;
};

/* One FORM_RESULT for people made of `forms` (borrowed): `lines` (texts already in `lang`,
 * notes say) as fixed fields first, then each form's title (after the first), instructions,
 * fields and table. Its title is the first form's, else `title` (may be NULL; the command's
 * name, say). `page` may be NULL (every row). The caller owns the result. */
form_t *present_for_people(form_t *const *forms, size_t n, const char *lang, const char *title,
                           const char *const *lines, size_t n_lines,
                           const struct present_page *page);

/* A copy of the input form `stage` (borrowed) with `lines` as fixed fields above its fields:
 * the notes of a stage, a rejected value, inside the form too. A list field with nothing
 * chosen gets a fixed line naming its choices before it (profanity lists the options of a list
 * only once one is chosen). */
form_t *present_stage(const form_t *stage, const char *const *lines, size_t n_lines,
                      const char *lang);

/* <results xmlns='urn:imdomaind:results'> with each of `forms` as the XEP-0004
 * <x type='result'/> it is (tables with only the rows of `page`, which may be NULL), or NULL
 * when n is 0. The caller owns the result. */
xmpp_stanza_t *present_for_programs(xmpp_ctx_t *ctx, form_t *const *forms, size_t n,
                                    const char *lang, const struct present_page *page);

/* "Rows 1–100 of 250 (page 1 of 3)" in `lang`; "No rows" when total is 0. Caller frees. */
char *present_rows_text(size_t first, size_t count, size_t total, const struct present_page *page,
                        const char *lang);

#endif
