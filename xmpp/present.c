/* Results for people (one form of plain fields) and for programs (the XEP-0004 tables). */
#include "xmpp/present.h"

#include "util/xmalloc.h"
#include "xmpp/form_render.h"
#include "xmpp/stanza.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CELL_SEP " · "
#define EMPTY_CELL "-"

/* A text that is already in the reader's language. */
static struct text same(const char *s)
{
    return (struct text){s, s};
}

static void add_fixed_line(form_t *out, const char *line)
{
    struct text t = same(line);

    if (line && *line)
        form_add_fixed(out, &t);
}

/* `var`, or var_2, var_3... when the merged form has it already (two results with the same
 * field). Caller frees. */
static char *free_var(const form_t *out, const char *var)
{
    char *v = xstrdup(var);

    for (unsigned i = 2; form_field(out, v) != NULL; i++) {
        free(v);
        v = xasprintf("%s_%u", var, i);
    }
    return v;
}

/* Results are read, not filled in: list fields show their values as text. */
static enum field_type shown_type(enum field_type t)
{
    if (t == FIELD_LIST_SINGLE)
        return FIELD_TEXT_SINGLE;
    if (t == FIELD_LIST_MULTI)
        return FIELD_TEXT_MULTI;
    return t;
}

static void copy_fields(form_t *out, const form_t *in, const char *lang)
{
    for (size_t i = 0; i < form_field_count(in); i++) {
        const form_field_t *f = form_field_at(in, i);
        enum field_type type = form_field_type(f);
        const char *label = form_field_label(f, lang);
        struct text lt = same(label);
        form_field_t *o;
        char *var;

        if (type == FIELD_FIXED) {
            add_fixed_line(out, form_field_fixed_text(f, lang));
            for (size_t v = 0; v < form_field_value_count(f); v++)
                add_fixed_line(out, form_field_value(f, v));
            continue;
        }
        if (type == FIELD_HIDDEN || form_field_var(f) == NULL)
            continue;
        var = free_var(out, form_field_var(f));
        o = form_add_field(out, var, shown_type(type), label ? &lt : NULL);
        free(var);
        for (size_t v = 0; v < form_field_value_count(f); v++)
            form_field_add_value(o, form_field_value(f, v));
    }
}

/* Cells [from, cols) as people read them, joined, on one line: a cell with a line break would
 * split the row. Caller frees. */
static char *cells_line(const form_t *t, size_t row, size_t from, const char *lang)
{
    size_t cols = form_column_count(t), len = 0;
    char *line = xstrdup("");

    for (size_t c = from; c < cols; c++) {
        const char *cell = form_cell_display(t, row, c, lang);
        char *next =
            xasprintf("%s%s%s", line, c > from ? CELL_SEP : "", cell && *cell ? cell : EMPTY_CELL);
        free(line);
        line = next;
    }
    len = strlen(line);
    for (size_t i = 0; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    return line;
}

static bool jid_list(const form_t *t)
{
    enum field_type ty = form_column_type(t, 0);

    return form_column_count(t) == 1 && (ty == FIELD_JID_SINGLE || ty == FIELD_JID_MULTI);
}

static void add_header(form_t *out, const form_t *t, const char *lang)
{
    char *line = xstrdup("");

    if (form_column_count(t) < 2)
        goto done;
    for (size_t c = 0; c < form_column_count(t); c++) {
        const char *l = form_column_label(t, c, lang);
        char *next = xasprintf("%s%s%s", line, c ? CELL_SEP : "", l ? l : form_column_var(t, c));
        free(line);
        line = next;
    }
    add_fixed_line(out, line);
done:
    free(line);
}

/* Each row is a field of its own, labelled by its first cell (its position when the table has
 * one column), the other cells its value: poezio shows a text-multi one value at a time and
 * cannot scroll past fixed lines, but shows a field per line and scrolls through them with the
 * arrows; profanity, Gajim and Psi show label and value on a line. */
static void add_row(form_t *out, const form_t *t, size_t row, const char *lang, bool jids)
{
    bool one = form_column_count(t) < 2;
    const char *first = one ? NULL : form_cell_display(t, row, 0, lang);
    char *label = one ? xasprintf("%zu", row + 1) : xstrdup(first && *first ? first : EMPTY_CELL);
    char *value = cells_line(t, row, one ? 0 : 1, lang);
    char *want = xasprintf("%s-%zu", PRESENT_ROW_VAR, row + 1);
    char *var = free_var(out, want);
    struct text lt;
    form_field_t *f;

    for (char *c = label; *c; c++) /* a label is one line */
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    lt = same(label);
    f = form_add_field(out, var, jids ? FIELD_JID_SINGLE : FIELD_TEXT_SINGLE, &lt);
    form_field_add_value(f, value);
    free(var);
    free(want);
    free(value);
    free(label);
}

static void add_table(form_t *out, const form_t *t, const char *lang, const struct present_page *pg)
{
    size_t total = form_row_count(t);
    size_t first = pg ? pg->first : 0, count = pg ? pg->count : SIZE_MAX;
    char *where;

    if (first > total)
        first = total;
    if (count > total - first)
        count = total - first;
    /* Where this page is, then the columns, then a line per row. */
    where = present_rows_text(first, count, total, pg, lang);
    add_fixed_line(out, where);
    free(where);
    add_header(out, t, lang);
    for (size_t r = first; r < first + count; r++)
        add_row(out, t, r, lang, jid_list(t));
}

char *present_rows_text(size_t first, size_t count, size_t total, const struct present_page *pg,
                        const char *lang)
{
    bool ko = i18n_is_korean(lang);
    char *base, *out;

    if (total == 0)
        return xstrdup(ko ? "행 없음" : "No rows");
    if (total == 1)
        base = xstrdup(ko ? "1행" : "1 row");
    else if (ko)
        base = xasprintf("%zu행 중 %zu–%zu행", total, first + 1, first + count);
    else
        base = xasprintf("Rows %zu–%zu of %zu", first + 1, first + count, total);
    if (pg == NULL || pg->pages < 2)
        return base;
    if (ko)
        out = xasprintf("%s (%zu쪽 중 %zu쪽, 다음/이전으로 이동)", base, pg->pages, pg->page + 1);
    else
        out = xasprintf("%s (page %zu of %zu; next and prev move)", base, pg->page + 1, pg->pages);
    free(base);
    return out;
}

form_t *present_for_people(form_t *const *forms, size_t n, const char *lang, const char *fallback,
                           const char *const *lines, size_t n_lines,
                           const struct present_page *page)
{
    form_t *out = form_new(FORM_RESULT);
    const char *title = NULL;

    for (size_t i = 0; i < n && title == NULL; i++)
        title = form_get_title(forms[i], lang);
    if (title == NULL)
        title = fallback;
    if (title) {
        struct text t = same(title);
        form_set_title(out, &t);
    }
    for (size_t i = 0; i < n_lines; i++)
        add_fixed_line(out, lines[i]);
    for (size_t i = 0; i < n; i++) {
        const char *t = form_get_title(forms[i], lang);
        if (t && title && strcmp(t, title) != 0)
            add_fixed_line(out, t); /* a later result's heading */
        for (size_t k = 0; k < form_instructions_count(forms[i]); k++)
            add_fixed_line(out, form_get_instructions(forms[i], k, lang));
        copy_fields(out, forms[i], lang);
        if (form_column_count(forms[i]) > 0)
            add_table(out, forms[i], lang, page);
    }
    return out;
}

#define CHOICES_SHOWN 40 /* options named in a choices line at most */

/* "Domains: a.example, b.example and 3 more" for a list field. Caller frees. */
static char *choices_line(const form_field_t *f, const char *lang)
{
    bool ko = i18n_is_korean(lang);
    size_t n = form_field_option_count(f);
    const char *label = form_field_label(f, lang);
    char *line =
        xasprintf(ko ? "%s 선택지: " : "%s, to choose from: ", label ? label : form_field_var(f));

    for (size_t i = 0; i < n && i < CHOICES_SHOWN; i++) {
        const char *v = form_field_option_value(f, i), *l = form_field_option_label(f, i, lang);
        char *next = strcmp(l, v) == 0 ? xasprintf("%s%s%s", line, i ? ", " : "", v)
                                       : xasprintf("%s%s%s (%s)", line, i ? ", " : "", l, v);
        free(line);
        line = next;
    }
    if (n > CHOICES_SHOWN) {
        char *next = ko ? xasprintf("%s 외 %zu개", line, n - CHOICES_SHOWN)
                        : xasprintf("%s and %zu more", line, n - CHOICES_SHOWN);
        free(line);
        line = next;
    }
    return line;
}

form_t *present_stage(const form_t *stage, const char *const *lines, size_t n_lines,
                      const char *lang)
{
    form_t *out = form_copy(stage);
    size_t at = 0;

    for (size_t i = 0; i < form_field_count(out); i++) {
        const form_field_t *f = form_field_at(out, i);
        enum field_type t = form_field_type(f);
        if ((t == FIELD_LIST_SINGLE || t == FIELD_LIST_MULTI) && form_field_open(f)) {
            const char *label = form_field_label(f, lang);
            char *var = xasprintf("%s%s", form_field_var(f), FORM_OTHER_SUFFIX);
            char *l = xasprintf(i18n_is_korean(lang) ? "%s (직접 입력)" : "%s (or type it)",
                                label ? label : form_field_var(f));
            struct text lt = same(l);
            if (form_field(out, var) == NULL)
                form_insert_field(out, i + 1, var, FIELD_TEXT_SINGLE, &lt);
            free(var);
            free(l);
            f = form_field_at(out, i);
        }
        if ((t == FIELD_LIST_SINGLE || t == FIELD_LIST_MULTI) && form_field_value_count(f) == 0 &&
            form_field_option_count(f) > 0) {
            char *line = choices_line(f, lang);
            struct text lt = same(line);
            form_insert_fixed(out, i++, &lt);
            free(line);
        }
    }

    for (size_t i = 0; i < n_lines; i++) {
        struct text t = same(lines[i]);
        if (lines[i] && *lines[i])
            form_insert_fixed(out, at++, &t);
    }
    return out;
}

xmpp_stanza_t *present_for_programs(xmpp_ctx_t *ctx, form_t *const *forms, size_t n,
                                    const char *lang, const struct present_page *page)
{
    xmpp_stanza_t *results;

    if (n == 0)
        return NULL;
    results = xmpp_stanza_new(ctx);
    xmpp_stanza_set_name(results, "results");
    xmpp_stanza_set_ns(results, NS_IMD_RESULTS);
    for (size_t i = 0; i < n; i++) {
        xmpp_stanza_t *x = page ? form_to_stanza_rows(ctx, forms[i], lang, page->first, page->count)
                                : form_to_stanza(ctx, forms[i], lang);
        xmpp_stanza_add_child_ex(results, x, 0);
    }
    return results;
}
