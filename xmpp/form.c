/* XEP-0004 data forms: the model (fields, a result table, their texts in English and Korean)
 * and the small helpers the other parts of the module share (form_internal.h). Rendering,
 * parsing, error texts and the checks of a submission live in form_render.c, form_parse.c,
 * form_error.c and form_check.c. */
#include "xmpp/form.h"

#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/form_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {
    [FIELD_NONE] = "",
    [FIELD_BOOLEAN] = "boolean",
    [FIELD_FIXED] = "fixed",
    [FIELD_HIDDEN] = "hidden",
    [FIELD_JID_MULTI] = "jid-multi",
    [FIELD_JID_SINGLE] = "jid-single",
    [FIELD_LIST_MULTI] = "list-multi",
    [FIELD_LIST_SINGLE] = "list-single",
    [FIELD_TEXT_MULTI] = "text-multi",
    [FIELD_TEXT_PRIVATE] = "text-private",
    [FIELD_TEXT_SINGLE] = "text-single",
};

const char *const form_kind_names[] = {[FORM_FORM] = "form",
                                       [FORM_SUBMIT] = "submit",
                                       [FORM_RESULT] = "result",
                                       [FORM_CANCEL] = "cancel"};

/* ---- small helpers ---- */

char *form_strdup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void form_otext_set(struct otext *o, const struct text *t)
{
    free(o->en);
    free(o->ko);
    o->en = t ? form_strdup_or_null(t->en) : NULL;
    o->ko = t ? form_strdup_or_null(t->ko) : NULL;
}

void form_otext_copy(struct otext *dst, const struct otext *src)
{
    struct text t = {src->en, src->ko};
    form_otext_set(dst, &t);
}

void form_otext_free(struct otext *o)
{
    free(o->en);
    free(o->ko);
    o->en = o->ko = NULL;
}

const char *form_otext_get(const struct otext *o, const char *lang)
{
    struct text t = {o->en, o->ko};
    return text_get(&t, lang);
}

void form_strv_push(struct strv *s, char *str)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4;
        s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = str;
}

void form_strv_clear(struct strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

void form_strv_copy(struct strv *dst, const struct strv *src)
{
    for (size_t i = 0; i < src->n; i++)
        form_strv_push(dst, xstrdup(src->v[i]));
}

bool form_parse_ll(const char *s, long long *out)
{
    char *end;

    if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
        return false;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno == 0 && *end == '\0';
}

const char *form_field_type_name(enum field_type type)
{
    if ((size_t)type >= sizeof(type_names) / sizeof(type_names[0]))
        return "";
    return type_names[type];
}

/* ---- building ---- */

form_t *form_new(enum form_kind kind)
{
    form_t *form = xcalloc(1, sizeof(*form));

    form->kind = kind;
    return form;
}

void form_field_free(form_field_t *f)
{
    free(f->var);
    form_otext_free(&f->label);
    form_otext_free(&f->desc);
    form_otext_free(&f->fixed);
    form_strv_clear(&f->values);
    for (size_t i = 0; i < f->n_options; i++) {
        free(f->options[i].value);
        form_otext_free(&f->options[i].label);
    }
    free(f->options);
    free(f);
}

void form_free(form_t *form)
{
    if (form == NULL)
        return;
    for (size_t i = 0; i < form->n_fields; i++)
        form_field_free(form->fields[i]);
    free(form->fields);
    for (size_t i = 0; i < form->n_instr; i++)
        form_otext_free(&form->instr[i]);
    free(form->instr);
    for (size_t i = 0; i < form->n_cols; i++) {
        free(form->cols[i].var);
        form_otext_free(&form->cols[i].label);
        for (size_t j = 0; j < form->cols[i].n_shown; j++) {
            free(form->cols[i].shown[j].value);
            form_otext_free(&form->cols[i].shown[j].label);
        }
        free(form->cols[i].shown);
    }
    free(form->cols);
    for (size_t i = 0; i < form->n_rows * form->n_cols; i++)
        free(form->cells[i]);
    free(form->cells);
    form_otext_free(&form->title);
    free(form->form_type);
    free(form);
}

void form_set_form_type(form_t *form, const char *uri)
{
    free(form->form_type);
    form->form_type = form_strdup_or_null(uri);
}

void form_set_title(form_t *form, const struct text *title)
{
    form_otext_set(&form->title, title);
}

void form_add_instructions(form_t *form, const struct text *text)
{
    form->instr = xrealloc(form->instr, (form->n_instr + 1) * sizeof(*form->instr));
    memset(&form->instr[form->n_instr], 0, sizeof(*form->instr));
    form_otext_set(&form->instr[form->n_instr++], text);
}

/* Appends without looking for an existing var: the parser keeps duplicates so that the check
 * can name them. */
form_field_t *form_append_field(form_t *form, const char *var, enum field_type type)
{
    form_field_t *f = xcalloc(1, sizeof(*f));

    f->var = form_strdup_or_null(var);
    f->type = type;
    form->fields = xrealloc(form->fields, (form->n_fields + 1) * sizeof(*form->fields));
    form->fields[form->n_fields++] = f;
    return f;
}

form_field_t *form_add_field(form_t *form, const char *var, enum field_type type,
                             const struct text *label)
{
    form_field_t *f = var ? form_field_mut(form, var) : NULL;

    if (f != NULL) {
        log_warnx("form: duplicate field var=%s, reusing the first", var);
        return f;
    }
    f = form_append_field(form, var, type);
    form_otext_set(&f->label, label);
    return f;
}

form_field_t *form_add_fixed(form_t *form, const struct text *text)
{
    form_field_t *f = form_append_field(form, NULL, FIELD_FIXED);

    form_otext_set(&f->fixed, text);
    return f;
}

/* Moves the last field to position `pos`. */
static form_field_t *last_to(form_t *form, size_t pos)
{
    form_field_t *f = form->fields[form->n_fields - 1];

    if (pos < form->n_fields - 1) {
        memmove(&form->fields[pos + 1], &form->fields[pos],
                (form->n_fields - 1 - pos) * sizeof(*form->fields));
        form->fields[pos] = f;
    }
    return f;
}

form_field_t *form_insert_fixed(form_t *form, size_t pos, const struct text *text)
{
    form_add_fixed(form, text);
    return last_to(form, pos);
}

form_field_t *form_insert_field(form_t *form, size_t pos, const char *var, enum field_type type,
                                const struct text *label)
{
    size_t n = form->n_fields;
    form_field_t *f = form_add_field(form, var, type, label);

    return form->n_fields > n ? last_to(form, pos) : f;
}

bool form_field_open(const form_field_t *field)
{
    return field->open;
}

void form_field_set_desc(form_field_t *field, const struct text *desc)
{
    form_otext_set(&field->desc, desc);
}

void form_field_set_required(form_field_t *field, bool required)
{
    field->required = required;
}

void form_field_add_value(form_field_t *field, const char *value)
{
    form_strv_push(&field->values, xstrdup(value ? value : ""));
}

void form_field_add_bool(form_field_t *field, bool value)
{
    form_field_add_value(field, value ? "1" : "0");
}

void form_field_add_int(form_field_t *field, long long value)
{
    form_strv_push(&field->values, xasprintf("%lld", value));
}

void form_field_add_option(form_field_t *field, const char *value, const struct text *label)
{
    struct form_option *o;

    field->options = xrealloc(field->options, (field->n_options + 1) * sizeof(*field->options));
    o = &field->options[field->n_options++];
    memset(o, 0, sizeof(*o));
    o->value = xstrdup(value ? value : "");
    form_otext_set(&o->label, label);
}

void form_field_set_open(form_field_t *field, bool open)
{
    field->open = open;
}

void form_field_set_datatype(form_field_t *field, enum form_datatype dt)
{
    field->dt = dt;
}

void form_field_set_range(form_field_t *field, bool has_min, long long min, bool has_max,
                          long long max)
{
    field->dt = FORM_DT_INTEGER;
    field->has_min = has_min;
    field->min = has_min ? min : 0;
    field->has_max = has_max;
    field->max = has_max ? max : 0;
}

static void field_copy_into(form_field_t *dst, const form_field_t *src)
{
    form_otext_copy(&dst->label, &src->label);
    form_otext_copy(&dst->desc, &src->desc);
    form_otext_copy(&dst->fixed, &src->fixed);
    dst->required = src->required;
    dst->open = src->open;
    dst->dt = src->dt;
    dst->has_min = src->has_min;
    dst->has_max = src->has_max;
    dst->min = src->min;
    dst->max = src->max;
    form_strv_copy(&dst->values, &src->values);
    for (size_t i = 0; i < src->n_options; i++) {
        struct text t = {src->options[i].label.en, src->options[i].label.ko};
        form_field_add_option(dst, src->options[i].value, src->options[i].label.en ? &t : NULL);
    }
}

form_t *form_copy(const form_t *form)
{
    form_t *c = form_new(form->kind);

    c->form_type = form_strdup_or_null(form->form_type);
    form_otext_copy(&c->title, &form->title);
    for (size_t i = 0; i < form->n_instr; i++) {
        struct text t = {form->instr[i].en, form->instr[i].ko};
        form_add_instructions(c, &t);
    }
    for (size_t i = 0; i < form->n_fields; i++) {
        const form_field_t *f = form->fields[i];
        field_copy_into(form_append_field(c, f->var, f->type), f);
    }
    for (size_t i = 0; i < form->n_cols; i++) {
        struct text t = {form->cols[i].label.en, form->cols[i].label.ko};
        form_add_column(c, form->cols[i].var, form->cols[i].type, t.en ? &t : NULL);
        for (size_t j = 0; j < form->cols[i].n_shown; j++) {
            const struct otext *l = &form->cols[i].shown[j].label;
            form_column_value_label(c, form->cols[i].var, form->cols[i].shown[j].value,
                                    &(struct text){l->en, l->ko});
        }
    }
    for (size_t r = 0; r < form->n_rows; r++)
        form_add_row(c, (const char *const *)&form->cells[r * form->n_cols]);
    return c;
}

/* ---- tables ---- */

void form_add_column(form_t *form, const char *var, enum field_type type, const struct text *label)
{
    struct form_column *c;

    if (form->n_rows > 0) {
        log_warnx("form: column var=%s added after rows, ignored", var ? var : "");
        return;
    }
    form->cols = xrealloc(form->cols, (form->n_cols + 1) * sizeof(*form->cols));
    c = &form->cols[form->n_cols++];
    memset(c, 0, sizeof(*c));
    c->var = xstrdup(var ? var : "");
    c->type = type;
    form_otext_set(&c->label, label);
}

void form_add_row(form_t *form, const char *const *cells)
{
    size_t base = form->n_rows * form->n_cols;

    if (form->n_cols == 0)
        return;
    form->cells = xrealloc(form->cells, (base + form->n_cols) * sizeof(*form->cells));
    for (size_t i = 0; i < form->n_cols; i++)
        form->cells[base + i] = form_strdup_or_null(cells[i]);
    form->n_rows++;
}

size_t form_column_count(const form_t *form)
{
    return form->n_cols;
}

size_t form_row_count(const form_t *form)
{
    return form->n_rows;
}

const char *form_column_var(const form_t *form, size_t col)
{
    return col < form->n_cols ? form->cols[col].var : NULL;
}

const char *form_cell(const form_t *form, size_t row, size_t col)
{
    if (row >= form->n_rows || col >= form->n_cols)
        return NULL;
    return form->cells[row * form->n_cols + col];
}

size_t form_page_count(const form_t *form, size_t per_page)
{
    if (per_page == 0 || form->n_rows == 0)
        return 1;
    return (form->n_rows + per_page - 1) / per_page;
}

const char *form_column_label(const form_t *form, size_t col, const char *lang)
{
    return col < form->n_cols ? form_otext_get(&form->cols[col].label, lang) : NULL;
}

enum field_type form_column_type(const form_t *form, size_t col)
{
    return col < form->n_cols ? form->cols[col].type : FIELD_NONE;
}

void form_column_value_label(form_t *form, const char *var, const char *value,
                             const struct text *label)
{
    for (size_t i = 0; var && value && label && i < form->n_cols; i++) {
        struct form_column *c = &form->cols[i];
        if (strcmp(c->var, var) != 0)
            continue;
        c->shown = xrealloc(c->shown, (c->n_shown + 1) * sizeof(*c->shown));
        memset(&c->shown[c->n_shown], 0, sizeof(*c->shown));
        c->shown[c->n_shown].value = xstrdup(value);
        form_otext_set(&c->shown[c->n_shown++].label, label);
        return;
    }
    log_warnx("form: value label for unknown column var=%s", var ? var : "");
}

const char *form_cell_display(const form_t *form, size_t row, size_t col, const char *lang)
{
    const char *v = form_cell(form, row, col);

    for (size_t i = 0; v && i < form->cols[col].n_shown; i++)
        if (strcmp(form->cols[col].shown[i].value, v) == 0)
            return form_otext_get(&form->cols[col].shown[i].label, lang);
    return v;
}

/* ---- reading ---- */

enum form_kind form_get_kind(const form_t *form)
{
    return form->kind;
}

const char *form_get_form_type(const form_t *form)
{
    return form->form_type;
}

const char *form_get_title(const form_t *form, const char *lang)
{
    return form_otext_get(&form->title, lang);
}

size_t form_instructions_count(const form_t *form)
{
    return form->n_instr;
}

const char *form_get_instructions(const form_t *form, size_t i, const char *lang)
{
    return i < form->n_instr ? form_otext_get(&form->instr[i], lang) : NULL;
}

const char *form_field_option_label(const form_field_t *field, size_t i, const char *lang)
{
    const char *l;

    if (i >= field->n_options)
        return NULL;
    l = form_otext_get(&field->options[i].label, lang);
    return l ? l : field->options[i].value;
}

const char *form_field_fixed_text(const form_field_t *field, const char *lang)
{
    return field->fixed.en ? form_otext_get(&field->fixed, lang) : NULL;
}

size_t form_field_count(const form_t *form)
{
    return form->n_fields;
}

const form_field_t *form_field_at(const form_t *form, size_t i)
{
    return i < form->n_fields ? form->fields[i] : NULL;
}

form_field_t *form_field_mut(form_t *form, const char *var)
{
    for (size_t i = 0; var && i < form->n_fields; i++)
        if (form->fields[i]->var && strcmp(form->fields[i]->var, var) == 0)
            return form->fields[i];
    return NULL;
}

const form_field_t *form_field(const form_t *form, const char *var)
{
    return form_field_mut((form_t *)form, var);
}

const char *form_field_var(const form_field_t *field)
{
    return field->var;
}

enum field_type form_field_type(const form_field_t *field)
{
    return field->type;
}

bool form_field_required(const form_field_t *field)
{
    return field->required;
}

const char *form_field_label(const form_field_t *field, const char *lang)
{
    return form_otext_get(&field->label, lang);
}

size_t form_field_value_count(const form_field_t *field)
{
    return field->values.n;
}

const char *form_field_value(const form_field_t *field, size_t i)
{
    return i < field->values.n ? field->values.v[i] : NULL;
}

size_t form_field_option_count(const form_field_t *field)
{
    return field->n_options;
}

const char *form_field_option_value(const form_field_t *field, size_t i)
{
    return i < field->n_options ? field->options[i].value : NULL;
}

const char *form_value(const form_t *form, const char *var)
{
    const form_field_t *f = form ? form_field(form, var) : NULL;

    return f ? form_field_value(f, 0) : NULL;
}

size_t form_values(const form_t *form, const char *var, const char *const **out)
{
    const form_field_t *f = form ? form_field(form, var) : NULL;

    *out = f && f->values.n ? (const char *const *)f->values.v : NULL;
    return f ? f->values.n : 0;
}

bool form_bool(const form_t *form, const char *var, bool dflt)
{
    const char *v = form_value(form, var);

    if (v == NULL)
        return dflt;
    if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0)
        return true;
    if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0)
        return false;
    return dflt;
}

long long form_int(const form_t *form, const char *var, long long dflt)
{
    const char *v = form_value(form, var);
    char *end;
    long long n;

    if (v == NULL || *v == '\0')
        return dflt;
    errno = 0;
    n = strtoll(v, &end, 10);
    return (errno != 0 || *end != '\0') ? dflt : n;
}

bool form_wants_input(const form_t *form)
{
    if (form->kind != FORM_FORM)
        return false;
    for (size_t i = 0; i < form->n_fields; i++)
        if (form->fields[i]->type != FIELD_FIXED && form->fields[i]->type != FIELD_HIDDEN)
            return true;
    return false;
}
