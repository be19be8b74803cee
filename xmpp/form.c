/* XEP-0004 data forms: the model, its rendering to and parsing from <x xmlns='jabber:x:data'/>,
 * and the checks of a submission against the form that was shown (with XEP-0122). */
#include "xmpp/form.h"

#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/stanza.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_VALUE_MAX 64 /* bytes of an offending value quoted back in an error */

struct otext {
    char *en, *ko;
};

struct strv {
    char **v;
    size_t n, cap;
};

struct form_option {
    char *value;
    struct otext label;
};

struct form_field {
    char *var;
    enum field_type type;
    struct otext label, desc, fixed;
    bool required, open;
    struct strv values;
    struct form_option *options;
    size_t n_options;
    enum form_datatype dt;
    bool has_min, has_max;
    long long min, max;
};

struct form_column {
    char *var;
    enum field_type type;
    struct otext label;
    struct form_option *shown; /* value labels for people (form_column_value_label) */
    size_t n_shown;
};

struct form {
    enum form_kind kind;
    char *form_type;
    struct otext title;
    struct otext *instr;
    size_t n_instr;
    form_field_t **fields;
    size_t n_fields;
    struct form_column *cols;
    size_t n_cols;
    char **cells; /* n_rows * n_cols, row-major; NULL cells allowed */
    size_t n_rows;
};

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

static const char *const kind_names[] = {[FORM_FORM] = "form",
                                         [FORM_SUBMIT] = "submit",
                                         [FORM_RESULT] = "result",
                                         [FORM_CANCEL] = "cancel"};

static const char *const dt_names[] = {[FORM_DT_STRING] = "xs:string",
                                       [FORM_DT_INTEGER] = "xs:integer",
                                       [FORM_DT_DATE] = "xs:date",
                                       [FORM_DT_DATETIME] = "xs:dateTime"};

/* ---- small helpers ---- */

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static void otext_set(struct otext *o, const struct text *t)
{
    free(o->en);
    free(o->ko);
    o->en = t ? dup_or_null(t->en) : NULL;
    o->ko = t ? dup_or_null(t->ko) : NULL;
}

static void otext_copy(struct otext *dst, const struct otext *src)
{
    struct text t = {src->en, src->ko};
    otext_set(dst, &t);
}

static void otext_free(struct otext *o)
{
    free(o->en);
    free(o->ko);
    o->en = o->ko = NULL;
}

static const char *otext_get(const struct otext *o, const char *lang)
{
    struct text t = {o->en, o->ko};
    return text_get(&t, lang);
}

static void strv_push_owned(struct strv *s, char *str)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4;
        s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = str;
}

static void strv_clear(struct strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static void strv_copy(struct strv *dst, const struct strv *src)
{
    for (size_t i = 0; i < src->n; i++)
        strv_push_owned(dst, xstrdup(src->v[i]));
}

static bool is_multi(enum field_type t)
{
    return t == FIELD_JID_MULTI || t == FIELD_LIST_MULTI || t == FIELD_TEXT_MULTI;
}

const char *form_field_type_name(enum field_type type)
{
    if ((size_t)type >= sizeof(type_names) / sizeof(type_names[0]))
        return "";
    return type_names[type];
}

static enum field_type field_type_parse(const char *s)
{
    for (size_t i = 1; s && i < sizeof(type_names) / sizeof(type_names[0]); i++)
        if (strcmp(s, type_names[i]) == 0)
            return (enum field_type)i;
    return FIELD_NONE;
}

/* ---- building ---- */

form_t *form_new(enum form_kind kind)
{
    form_t *form = xcalloc(1, sizeof(*form));

    form->kind = kind;
    return form;
}

static void field_free(form_field_t *f)
{
    free(f->var);
    otext_free(&f->label);
    otext_free(&f->desc);
    otext_free(&f->fixed);
    strv_clear(&f->values);
    for (size_t i = 0; i < f->n_options; i++) {
        free(f->options[i].value);
        otext_free(&f->options[i].label);
    }
    free(f->options);
    free(f);
}

void form_free(form_t *form)
{
    if (form == NULL)
        return;
    for (size_t i = 0; i < form->n_fields; i++)
        field_free(form->fields[i]);
    free(form->fields);
    for (size_t i = 0; i < form->n_instr; i++)
        otext_free(&form->instr[i]);
    free(form->instr);
    for (size_t i = 0; i < form->n_cols; i++) {
        free(form->cols[i].var);
        otext_free(&form->cols[i].label);
        for (size_t j = 0; j < form->cols[i].n_shown; j++) {
            free(form->cols[i].shown[j].value);
            otext_free(&form->cols[i].shown[j].label);
        }
        free(form->cols[i].shown);
    }
    free(form->cols);
    for (size_t i = 0; i < form->n_rows * form->n_cols; i++)
        free(form->cells[i]);
    free(form->cells);
    otext_free(&form->title);
    free(form->form_type);
    free(form);
}

void form_set_form_type(form_t *form, const char *uri)
{
    free(form->form_type);
    form->form_type = dup_or_null(uri);
}

void form_set_title(form_t *form, const struct text *title)
{
    otext_set(&form->title, title);
}

void form_add_instructions(form_t *form, const struct text *text)
{
    form->instr = xrealloc(form->instr, (form->n_instr + 1) * sizeof(*form->instr));
    memset(&form->instr[form->n_instr], 0, sizeof(*form->instr));
    otext_set(&form->instr[form->n_instr++], text);
}

/* Appends without looking for an existing var: the parser keeps duplicates so that the check
 * can name them. */
static form_field_t *append_field(form_t *form, const char *var, enum field_type type)
{
    form_field_t *f = xcalloc(1, sizeof(*f));

    f->var = dup_or_null(var);
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
    f = append_field(form, var, type);
    otext_set(&f->label, label);
    return f;
}

form_field_t *form_add_fixed(form_t *form, const struct text *text)
{
    form_field_t *f = append_field(form, NULL, FIELD_FIXED);

    otext_set(&f->fixed, text);
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
    otext_set(&field->desc, desc);
}

void form_field_set_required(form_field_t *field, bool required)
{
    field->required = required;
}

void form_field_add_value(form_field_t *field, const char *value)
{
    strv_push_owned(&field->values, xstrdup(value ? value : ""));
}

void form_field_add_bool(form_field_t *field, bool value)
{
    form_field_add_value(field, value ? "1" : "0");
}

void form_field_add_int(form_field_t *field, long long value)
{
    strv_push_owned(&field->values, xasprintf("%lld", value));
}

void form_field_clear_values(form_field_t *field)
{
    strv_clear(&field->values);
}

void form_field_add_option(form_field_t *field, const char *value, const struct text *label)
{
    struct form_option *o;

    field->options = xrealloc(field->options, (field->n_options + 1) * sizeof(*field->options));
    o = &field->options[field->n_options++];
    memset(o, 0, sizeof(*o));
    o->value = xstrdup(value ? value : "");
    otext_set(&o->label, label);
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
    otext_copy(&dst->label, &src->label);
    otext_copy(&dst->desc, &src->desc);
    otext_copy(&dst->fixed, &src->fixed);
    dst->required = src->required;
    dst->open = src->open;
    dst->dt = src->dt;
    dst->has_min = src->has_min;
    dst->has_max = src->has_max;
    dst->min = src->min;
    dst->max = src->max;
    strv_copy(&dst->values, &src->values);
    for (size_t i = 0; i < src->n_options; i++) {
        struct text t = {src->options[i].label.en, src->options[i].label.ko};
        form_field_add_option(dst, src->options[i].value, src->options[i].label.en ? &t : NULL);
    }
}

form_t *form_copy(const form_t *form)
{
    form_t *c = form_new(form->kind);

    c->form_type = dup_or_null(form->form_type);
    otext_copy(&c->title, &form->title);
    for (size_t i = 0; i < form->n_instr; i++) {
        struct text t = {form->instr[i].en, form->instr[i].ko};
        form_add_instructions(c, &t);
    }
    for (size_t i = 0; i < form->n_fields; i++) {
        const form_field_t *f = form->fields[i];
        field_copy_into(append_field(c, f->var, f->type), f);
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
    otext_set(&c->label, label);
}

void form_add_row(form_t *form, const char *const *cells)
{
    size_t base = form->n_rows * form->n_cols;

    if (form->n_cols == 0)
        return;
    form->cells = xrealloc(form->cells, (base + form->n_cols) * sizeof(*form->cells));
    for (size_t i = 0; i < form->n_cols; i++)
        form->cells[base + i] = dup_or_null(cells[i]);
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
    return col < form->n_cols ? otext_get(&form->cols[col].label, lang) : NULL;
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
        otext_set(&c->shown[c->n_shown++].label, label);
        return;
    }
    log_warnx("form: value label for unknown column var=%s", var ? var : "");
}

const char *form_cell_display(const form_t *form, size_t row, size_t col, const char *lang)
{
    const char *v = form_cell(form, row, col);

    for (size_t i = 0; v && i < form->cols[col].n_shown; i++)
        if (strcmp(form->cols[col].shown[i].value, v) == 0)
            return otext_get(&form->cols[col].shown[i].label, lang);
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
    return otext_get(&form->title, lang);
}

size_t form_instructions_count(const form_t *form)
{
    return form->n_instr;
}

const char *form_get_instructions(const form_t *form, size_t i, const char *lang)
{
    return i < form->n_instr ? otext_get(&form->instr[i], lang) : NULL;
}

const char *form_field_option_label(const form_field_t *field, size_t i, const char *lang)
{
    const char *l;

    if (i >= field->n_options)
        return NULL;
    l = otext_get(&field->options[i].label, lang);
    return l ? l : field->options[i].value;
}

const char *form_field_fixed_text(const form_field_t *field, const char *lang)
{
    return field->fixed.en ? otext_get(&field->fixed, lang) : NULL;
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
    return otext_get(&field->label, lang);
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

/* ---- rendering ---- */

static void set_text_attr(xmpp_stanza_t *st, const char *name, const char *value)
{
    if (value != NULL)
        xmpp_stanza_set_attribute(st, name, value);
}

static void render_validate(xmpp_stanza_t *fe, const form_field_t *f)
{
    xmpp_stanza_t *v, *r;
    char num[32];

    if (f->dt == FORM_DT_STRING && !f->open)
        return;
    v = stanza_add_element(fe, "validate", NS_XDATA_VALIDATE);
    xmpp_stanza_set_attribute(v, "datatype", dt_names[f->dt]);
    if (f->open) {
        stanza_add_element(v, "open", NULL);
    } else if (f->dt == FORM_DT_INTEGER && (f->has_min || f->has_max)) {
        r = stanza_add_element(v, "range", NULL);
        if (f->has_min) {
            snprintf(num, sizeof(num), "%lld", f->min);
            xmpp_stanza_set_attribute(r, "min", num);
        }
        if (f->has_max) {
            snprintf(num, sizeof(num), "%lld", f->max);
            xmpp_stanza_set_attribute(r, "max", num);
        }
    }
}

static void render_field(xmpp_stanza_t *x, const form_field_t *f, bool submit, const char *lang,
                         size_t nth_fixed)
{
    xmpp_stanza_t *fe = stanza_add_element(x, "field", NULL);

    set_text_attr(fe, "var", f->var);
    if (f->var == NULL && f->type == FIELD_FIXED) {
        /* poezio keys fields by var: fixed fields without one would collapse into one. */
        char var[32];
        snprintf(var, sizeof(var), "%s%zu", FORM_FIXED_VAR_PREFIX, nth_fixed);
        xmpp_stanza_set_attribute(fe, "var", var);
    }
    if (!submit) {
        if (f->type != FIELD_NONE)
            xmpp_stanza_set_attribute(fe, "type", form_field_type_name(f->type));
        set_text_attr(fe, "label", otext_get(&f->label, lang));
        if (f->desc.en)
            stanza_add_text_element(fe, "desc", otext_get(&f->desc, lang));
        if (f->required)
            stanza_add_element(fe, "required", NULL);
        render_validate(fe, f);
    }
    if (f->fixed.en)
        stanza_add_text_element(fe, "value", otext_get(&f->fixed, lang));
    for (size_t i = 0; i < f->values.n; i++)
        stanza_add_text_element(fe, "value", f->values.v[i]);
    for (size_t i = 0; !submit && i < f->n_options; i++) {
        xmpp_stanza_t *o = stanza_add_element(fe, "option", NULL);
        const char *label = otext_get(&f->options[i].label, lang);
        /* Never an option without a label: poezio shows only labels, profanity "(null)". */
        xmpp_stanza_set_attribute(o, "label", label ? label : f->options[i].value);
        stanza_add_text_element(o, "value", f->options[i].value);
    }
}

static void render_form_type(xmpp_stanza_t *x, const form_t *form)
{
    xmpp_stanza_t *fe = stanza_add_element(x, "field", NULL);

    xmpp_stanza_set_attribute(fe, "var", "FORM_TYPE");
    xmpp_stanza_set_attribute(fe, "type", "hidden");
    stanza_add_text_element(fe, "value", form->form_type);
}

static void render_table(xmpp_stanza_t *x, const form_t *form, const char *lang, size_t first,
                         size_t count)
{
    xmpp_stanza_t *rep = stanza_add_element(x, "reported", NULL);

    for (size_t c = 0; c < form->n_cols; c++) {
        xmpp_stanza_t *fe = stanza_add_element(rep, "field", NULL);
        xmpp_stanza_set_attribute(fe, "var", form->cols[c].var);
        if (form->cols[c].type != FIELD_NONE)
            xmpp_stanza_set_attribute(fe, "type", form_field_type_name(form->cols[c].type));
        set_text_attr(fe, "label", otext_get(&form->cols[c].label, lang));
    }
    for (size_t r = first; r < form->n_rows && r - first < count; r++) {
        xmpp_stanza_t *item = stanza_add_element(x, "item", NULL);
        for (size_t c = 0; c < form->n_cols; c++) {
            const char *cell = form->cells[r * form->n_cols + c];
            xmpp_stanza_t *fe = stanza_add_element(item, "field", NULL);
            xmpp_stanza_set_attribute(fe, "var", form->cols[c].var);
            stanza_add_text_element(fe, "value", cell ? cell : "");
        }
    }
}

xmpp_stanza_t *form_to_stanza_rows(xmpp_ctx_t *ctx, const form_t *form, const char *lang,
                                   size_t first, size_t count)
{
    xmpp_stanza_t *x = xmpp_stanza_new(ctx);
    bool submit = form->kind == FORM_SUBMIT;
    size_t fixed = 0;

    xmpp_stanza_set_name(x, "x");
    xmpp_stanza_set_ns(x, NS_DATA);
    xmpp_stanza_set_type(x, kind_names[form->kind]);
    if (form->title.en && !submit)
        stanza_add_text_element(x, "title", otext_get(&form->title, lang));
    for (size_t i = 0; i < form->n_instr && !submit; i++)
        stanza_add_text_element(x, "instructions", otext_get(&form->instr[i], lang));
    if (form->form_type)
        render_form_type(x, form);
    for (size_t i = 0; i < form->n_fields; i++)
        if (!submit || form->fields[i]->var) {
            const form_field_t *f = form->fields[i];
            render_field(x, f, submit, lang, f->var == NULL ? ++fixed : 0);
        }
    if (form->n_cols > 0)
        render_table(x, form, lang, first, count);
    return x;
}

xmpp_stanza_t *form_to_stanza(xmpp_ctx_t *ctx, const form_t *form, const char *lang)
{
    return form_to_stanza_rows(ctx, form, lang, 0, form->n_rows);
}

/* ---- errors ---- */

/* Copies at most ERR_VALUE_MAX bytes of `v`, not cutting a UTF-8 sequence in two. */
static char *short_value(const char *v)
{
    size_t n = strlen(v);

    if (n <= ERR_VALUE_MAX)
        return xstrdup(v);
    n = ERR_VALUE_MAX;
    while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
        n--;
    char *s = xmalloc(n + 4);
    memcpy(s, v, n);
    memcpy(s + n, "...", 4);
    return s;
}

static struct form_error *add_error(struct form_errors *errs, const char *var, enum form_err code,
                                    const char *value)
{
    struct form_error *e;

    errs->v = xrealloc(errs->v, (errs->n + 1) * sizeof(*errs->v));
    e = &errs->v[errs->n++];
    memset(e, 0, sizeof(*e));
    e->var = dup_or_null(var);
    e->code = code;
    e->value = value ? short_value(value) : NULL;
    return e;
}

void form_errors_clear(struct form_errors *errs)
{
    for (size_t i = 0; i < errs->n; i++) {
        free(errs->v[i].var);
        free(errs->v[i].value);
        free(errs->v[i].expected);
    }
    free(errs->v);
    errs->v = NULL;
    errs->n = 0;
}

struct sb {
    char *s;
    size_t len;
};

static void sb_printf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sb *b, const char *fmt, ...)
{
    va_list ap;
    char *piece;

    va_start(ap, fmt);
    if (vasprintf(&piece, fmt, ap) < 0)
        fatalx("form: out of memory");
    va_end(ap);
    size_t n = strlen(piece);
    b->s = xrealloc(b->s, b->len + n + 1);
    memcpy(b->s + b->len, piece, n + 1);
    b->len += n;
    free(piece);
}

static void reason_range(struct sb *b, const struct form_error *e, bool ko)
{
    if (e->has_min && e->has_max) {
        if (ko)
            sb_printf(b, "%lld 이상 %lld 이하의 정수여야 합니다", e->min, e->max);
        else
            sb_printf(b, "must be a whole number from %lld to %lld", e->min, e->max);
    } else if (e->has_min) {
        if (ko)
            sb_printf(b, "%lld 이상의 정수여야 합니다", e->min);
        else
            sb_printf(b, "must be a whole number of at least %lld", e->min);
    } else {
        if (ko)
            sb_printf(b, "%lld 이하의 정수여야 합니다", e->max);
        else
            sb_printf(b, "must be a whole number of at most %lld", e->max);
    }
}

static void reason_form(struct sb *b, const struct form_error *e, bool ko)
{
    const char *v = e->value ? e->value : "";

    switch (e->code) {
    case FORM_ERR_NOT_A_FORM:
        sb_printf(b, "%s",
                  ko ? "데이터 폼(jabber:x:data)이 필요합니다"
                     : "a data form (jabber:x:data) is needed here");
        break;
    case FORM_ERR_KIND:
        sb_printf(b, "%s",
                  ko ? "폼의 type은 'submit'이어야 합니다" : "the form's type must be 'submit'");
        break;
    case FORM_ERR_FORM_TYPE:
        if (ko)
            sb_printf(b, "FORM_TYPE이 '%s'이어야 하는데 '%s'입니다", e->expected ? e->expected : "",
                      v);
        else
            sb_printf(b, "the FORM_TYPE is '%s' but this stage expects '%s'", v,
                      e->expected ? e->expected : "");
        break;
    default:
        sb_printf(b, "%s",
                  ko ? "폼이 너무 큽니다(필드, 값, 행 수 또는 값 길이 한도 초과)"
                     : "the form is too large (too many fields, values or rows, "
                       "or a value too long)");
        break;
    }
}

static void reason_field(struct sb *b, const struct form_error *e, bool ko)
{
    const char *v = e->value ? e->value : "";

    switch (e->code) {
    case FORM_ERR_DUPLICATE:
        sb_printf(b, "%s", ko ? "필드가 두 번 이상 들어 있습니다" : "the field is given twice");
        break;
    case FORM_ERR_MISSING:
        sb_printf(b, "%s", ko ? "필수 항목입니다" : "a value is required");
        break;
    case FORM_ERR_MULTIPLE:
        sb_printf(b, "%s", ko ? "값은 하나만 줄 수 있습니다" : "only one value is allowed");
        break;
    case FORM_ERR_BOOLEAN:
        if (ko)
            sb_printf(b, "'%s'은(는) 참/거짓 값(1, 0, true, false)이 아닙니다", v);
        else
            sb_printf(b, "'%s' is not a boolean (1, 0, true or false)", v);
        break;
    case FORM_ERR_INTEGER:
        if (ko)
            sb_printf(b, "'%s'은(는) 정수가 아닙니다", v);
        else
            sb_printf(b, "'%s' is not a whole number", v);
        break;
    case FORM_ERR_RANGE:
        reason_range(b, e, ko);
        break;
    case FORM_ERR_DATE:
        if (ko)
            sb_printf(b, "'%s'은(는) 날짜(예: 2024-05-01)가 아닙니다", v);
        else
            sb_printf(b, "'%s' is not a date like 2024-05-01", v);
        break;
    case FORM_ERR_DATETIME:
        if (ko)
            sb_printf(b, "'%s'은(는) 날짜와 시각(예: 2024-05-01T12:00:00Z)이 아닙니다", v);
        else
            sb_printf(b, "'%s' is not a date and time like 2024-05-01T12:00:00Z", v);
        break;
    case FORM_ERR_JID:
        if (ko)
            sb_printf(b, "'%s'은(는) 올바른 JID가 아닙니다", v);
        else
            sb_printf(b, "'%s' is not a valid JID", v);
        break;
    case FORM_ERR_OPTION:
        if (ko)
            sb_printf(b, "'%s'은(는) 제시된 선택지에 없습니다", v);
        else
            sb_printf(b, "'%s' is not one of the offered choices", v);
        break;
    case FORM_ERR_LENGTH:
        if (ko)
            sb_printf(b, "값이 %d바이트보다 깁니다", FORM_MAX_VALUE_LEN);
        else
            sb_printf(b, "a value is longer than %d bytes", FORM_MAX_VALUE_LEN);
        break;
    default:
        reason_form(b, e, ko);
        break;
    }
}

char *form_errors_text(const struct form_errors *errs, const form_t *shown, const char *lang)
{
    bool ko = i18n_is_korean(lang);
    struct sb b = {xstrdup(""), 0};

    for (size_t i = 0; i < errs->n; i++) {
        const struct form_error *e = &errs->v[i];
        const form_field_t *f = e->var && shown ? form_field(shown, e->var) : NULL;
        const char *label = f ? form_field_label(f, lang) : NULL;

        if (i > 0)
            sb_printf(&b, "; ");
        if (e->var == NULL) {
            reason_form(&b, e, ko);
            continue;
        }
        if (label)
            sb_printf(&b, ko ? "필드 '%s'(%s): " : "field '%s' (%s): ", e->var, label);
        else
            sb_printf(&b, ko ? "필드 '%s': " : "field '%s': ", e->var);
        reason_field(&b, e, ko);
    }
    return b.s;
}

bool form_errors_malformed(const struct form_errors *errs)
{
    for (size_t i = 0; i < errs->n; i++) {
        switch (errs->v[i].code) {
        case FORM_ERR_NOT_A_FORM:
        case FORM_ERR_KIND:
        case FORM_ERR_FORM_TYPE:
        case FORM_ERR_TOO_BIG:
        case FORM_ERR_DUPLICATE:
            return true;
        default:
            if (errs->v[i].var == NULL)
                return true;
            break;
        }
    }
    return false;
}

char *form_field_problem(const form_t *shown, const char *var, const char *why, const char *lang)
{
    const form_field_t *f = var && shown ? form_field(shown, var) : NULL;
    const char *label = f ? form_field_label(f, lang) : NULL;

    if (var == NULL)
        return xstrdup(why ? why : "");
    if (label)
        return xasprintf("%s [%s]: %s", label, var, why ? why : "");
    return xasprintf("%s: %s", var, why ? why : "");
}

char *form_errors_text_people(const struct form_errors *errs, const form_t *shown, const char *lang)
{
    bool ko = i18n_is_korean(lang);
    struct sb b = {xstrdup(""), 0};

    for (size_t i = 0; i < errs->n; i++) {
        struct sb why = {xstrdup(""), 0};
        char *line;

        if (errs->v[i].var)
            reason_field(&why, &errs->v[i], ko);
        else
            reason_form(&why, &errs->v[i], ko);
        line = form_field_problem(shown, errs->v[i].var, why.s, lang);
        sb_printf(&b, "%s%s", i > 0 ? "; " : "", line);
        free(line);
        free(why.s);
    }
    return b.s;
}

/* ---- parsing ---- */

static bool is_el(xmpp_stanza_t *st, const char *name)
{
    const char *n = xmpp_stanza_is_tag(st) ? xmpp_stanza_get_name(st) : NULL;
    return n && strcmp(n, name) == 0;
}

/* The text of an element as a malloc'd string (never NULL); -1 when over the length limit. */
static int element_text(xmpp_stanza_t *el, char **out)
{
    xmpp_ctx_t *ctx = xmpp_stanza_get_context(el);
    char *t = xmpp_stanza_get_text(el);

    *out = NULL;
    if (t && strlen(t) > FORM_MAX_VALUE_LEN) {
        xmpp_free(ctx, t);
        return -1;
    }
    *out = xstrdup(t ? t : "");
    if (t)
        xmpp_free(ctx, t);
    return 0;
}

static bool parse_ll(const char *s, long long *out)
{
    char *end;

    if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
        return false;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno == 0 && *end == '\0';
}

static enum form_datatype datatype_parse(const char *s)
{
    static const char *const ints[] = {
        "xs:integer",         "xs:int",         "xs:long",
        "xs:short",           "xs:byte",        "xs:nonNegativeInteger",
        "xs:positiveInteger", "xs:unsignedInt", NULL};

    for (size_t i = 0; s && ints[i]; i++)
        if (strcmp(s, ints[i]) == 0)
            return FORM_DT_INTEGER;
    if (s && strcmp(s, "xs:date") == 0)
        return FORM_DT_DATE;
    if (s && strcmp(s, "xs:dateTime") == 0)
        return FORM_DT_DATETIME;
    return FORM_DT_STRING;
}

static void parse_validate(form_field_t *f, xmpp_stanza_t *v)
{
    f->dt = datatype_parse(xmpp_stanza_get_attribute(v, "datatype"));
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(v); c; c = xmpp_stanza_get_next(c)) {
        if (is_el(c, "open")) {
            f->open = true;
        } else if (is_el(c, "range") && f->dt == FORM_DT_INTEGER) {
            f->has_min = parse_ll(xmpp_stanza_get_attribute(c, "min"), &f->min);
            f->has_max = parse_ll(xmpp_stanza_get_attribute(c, "max"), &f->max);
        }
    }
}

struct budget {
    size_t values; /* left over the whole form */
    bool over;
};

/* Takes `n` values from the form's budget; `have` + `n` must also stay within `limit`. */
static bool spend(struct budget *b, size_t n, size_t have, size_t limit)
{
    if (b->values < n || have >= limit || limit - have < n) {
        b->over = true;
        return false;
    }
    b->values -= n;
    return true;
}

static void parse_option(form_field_t *f, xmpp_stanza_t *o, struct budget *b)
{
    xmpp_stanza_t *v = stanza_child(o, "value", NULL);
    const char *label = xmpp_stanza_get_attribute(o, "label");
    struct text t = {label, NULL};
    char *value;

    if (v == NULL || !spend(b, 1, f->n_options, FORM_MAX_OPTIONS))
        return;
    if (element_text(v, &value) < 0) {
        b->over = true;
        return;
    }
    form_field_add_option(f, value, label ? &t : NULL);
    free(value);
}

static void parse_field_child(form_field_t *f, xmpp_stanza_t *c, struct budget *b)
{
    char *s;

    if (is_el(c, "value")) {
        if (!spend(b, 1, f->values.n, FORM_MAX_VALUES))
            return;
        if (element_text(c, &s) < 0)
            b->over = true;
        else
            strv_push_owned(&f->values, s);
    } else if (is_el(c, "required")) {
        f->required = true;
    } else if (is_el(c, "desc") && element_text(c, &s) == 0) {
        struct text t = {s, NULL};
        otext_set(&f->desc, &t);
        free(s);
    } else if (is_el(c, "option")) {
        parse_option(f, c, b);
    } else if (is_el(c, "validate")) {
        const char *ns = xmpp_stanza_get_ns(c);
        if (ns && strcmp(ns, NS_XDATA_VALIDATE) == 0)
            parse_validate(f, c);
    }
}

static void parse_field(form_t *form, xmpp_stanza_t *fe, struct budget *b)
{
    const char *var = xmpp_stanza_get_attribute(fe, "var");
    const char *label = xmpp_stanza_get_attribute(fe, "label");
    enum field_type type = field_type_parse(xmpp_stanza_get_attribute(fe, "type"));
    struct text t = {label, NULL};
    form_field_t *f;

    if (var && strcmp(var, "FORM_TYPE") == 0) { /* XEP-0068; whatever type it claims */
        xmpp_stanza_t *v = stanza_child(fe, "value", NULL);
        char *s;
        if (form->form_type == NULL && v && element_text(v, &s) == 0)
            form->form_type = s;
        return;
    }
    if (form->n_fields >= FORM_MAX_FIELDS) {
        b->over = true;
        return;
    }
    f = append_field(form, var, type);
    otext_set(&f->label, label ? &t : NULL);
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(fe); c && !b->over;
         c = xmpp_stanza_get_next(c))
        parse_field_child(f, c, b);
}

static void parse_reported(form_t *form, xmpp_stanza_t *rep)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(rep); c; c = xmpp_stanza_get_next(c)) {
        const char *var = xmpp_stanza_get_attribute(c, "var");
        const char *label = xmpp_stanza_get_attribute(c, "label");
        struct text t = {label, NULL};
        if (!is_el(c, "field") || var == NULL || form->n_cols >= FORM_MAX_COLUMNS)
            continue;
        form_add_column(form, var, field_type_parse(xmpp_stanza_get_attribute(c, "type")),
                        label ? &t : NULL);
    }
}

static void parse_item(form_t *form, xmpp_stanza_t *item, struct budget *b)
{
    char **cells;

    if (form->n_cols == 0)
        return;
    if (form->n_rows >= FORM_MAX_ROWS || !spend(b, form->n_cols, 0, FORM_MAX_TOTAL_VALUES))
        return;
    cells = xcalloc(form->n_cols, sizeof(*cells));
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(item); c; c = xmpp_stanza_get_next(c)) {
        const char *var = xmpp_stanza_get_attribute(c, "var");
        xmpp_stanza_t *v = is_el(c, "field") ? stanza_child(c, "value", NULL) : NULL;
        for (size_t i = 0; v && var && i < form->n_cols; i++) {
            if (cells[i] == NULL && strcmp(form->cols[i].var, var) == 0) {
                if (element_text(v, &cells[i]) < 0)
                    b->over = true;
                break;
            }
        }
    }
    form_add_row(form, (const char *const *)cells);
    for (size_t i = 0; i < form->n_cols; i++)
        free(cells[i]);
    free(cells);
}

static bool kind_parse(const char *s, enum form_kind *out)
{
    if (s == NULL) {
        *out = FORM_SUBMIT; /* lenient: a missing type is read as a submission */
        return true;
    }
    for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++) {
        if (strcmp(s, kind_names[i]) == 0) {
            *out = (enum form_kind)i;
            return true;
        }
    }
    return false;
}

static void parse_child(form_t *form, xmpp_stanza_t *c, struct budget *b)
{
    char *s;

    if (is_el(c, "field")) {
        parse_field(form, c, b);
    } else if (is_el(c, "title") && element_text(c, &s) == 0) {
        struct text t = {s, NULL};
        otext_set(&form->title, &t);
        free(s);
    } else if (is_el(c, "instructions") && element_text(c, &s) == 0) {
        struct text t = {s, NULL};
        if (form->n_instr < FORM_MAX_FIELDS)
            form_add_instructions(form, &t);
        free(s);
    } else if (is_el(c, "reported") && form->n_cols == 0) {
        parse_reported(form, c);
    } else if (is_el(c, "item")) {
        parse_item(form, c, b);
    }
}

form_t *form_from_stanza(xmpp_stanza_t *x, struct form_errors *errs)
{
    const char *ns = x ? xmpp_stanza_get_ns(x) : NULL;
    struct budget b = {FORM_MAX_TOTAL_VALUES, false};
    enum form_kind kind;
    form_t *form;

    if (x == NULL || !is_el(x, "x") || ns == NULL || strcmp(ns, NS_DATA) != 0) {
        add_error(errs, NULL, FORM_ERR_NOT_A_FORM, NULL);
        return NULL;
    }
    if (!kind_parse(xmpp_stanza_get_type(x), &kind)) {
        add_error(errs, NULL, FORM_ERR_KIND, NULL);
        return NULL;
    }
    form = form_new(kind);
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(x); c && !b.over; c = xmpp_stanza_get_next(c))
        parse_child(form, c, &b);
    if (b.over) {
        add_error(errs, NULL, FORM_ERR_TOO_BIG, NULL);
        form_free(form);
        return NULL;
    }
    return form;
}

/* ---- checking ---- */

/* A copy of `v` without leading and trailing white space. */
static char *trimmed(const char *v)
{
    size_t n;

    while (isspace((unsigned char)*v))
        v++;
    n = strlen(v);
    while (n > 0 && isspace((unsigned char)v[n - 1]))
        n--;
    return xstrndup(v, n);
}

static bool is_blank(const char *v)
{
    while (isspace((unsigned char)*v))
        v++;
    return *v == '\0';
}

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static int num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* YYYY-MM-DD with a real day of that month; returns the length consumed or 0. */
static size_t date_ok(const char *s)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d;

    if (strlen(s) < 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
        !digits(s + 8, 2))
        return 0;
    y = num(s, 4);
    m = num(s + 5, 2);
    d = num(s + 8, 2);
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return 0;
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 0;
    return 10;
}

/* XEP-0082 DateTime: date, 'T', hh:mm:ss, optional fraction, then Z or +hh:mm / -hh:mm. */
static bool datetime_ok(const char *s)
{
    const char *t;

    if (date_ok(s) == 0 || s[10] != 'T')
        return false;
    t = s + 11;
    if (strlen(t) < 8 || !digits(t, 2) || t[2] != ':' || !digits(t + 3, 2) || t[5] != ':' ||
        !digits(t + 6, 2) || num(t, 2) > 23 || num(t + 3, 2) > 59 || num(t + 6, 2) > 60)
        return false;
    t += 8;
    if (*t == '.') {
        size_t n = strspn(t + 1, "0123456789");
        if (n == 0)
            return false;
        t += 1 + n;
    }
    if (strcmp(t, "Z") == 0)
        return true;
    return (t[0] == '+' || t[0] == '-') && strlen(t) == 6 && digits(t + 1, 2) && t[3] == ':' &&
           digits(t + 4, 2) && num(t + 1, 2) <= 23 && num(t + 4, 2) <= 59;
}

static bool jid_part_ok(const char *s, size_t n, const char *forbidden)
{
    if (n == 0 || n > 1023)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || strchr(forbidden, c) != NULL)
            return false;
    }
    return true;
}

static bool domain_ok(const char *s, size_t n)
{
    if (n > 0 && s[n - 1] == '.') /* RFC 7622: a trailing dot is stripped */
        n--;
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']')
        return jid_part_ok(s + 1, n - 2, " []/@") && strchr(s, ':') != NULL;
    if (!jid_part_ok(s, n, " \"&'/:<>@,;\\[]()"))
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '.' && (i == 0 || s[i - 1] == '.' || i == n - 1))
            return false;
    return true;
}

/* RFC 7622 structure: [local@]domain[/resource], each part 1..1023 bytes, the localpart
 * without the characters it forbids, no controls. Not a full PRECIS check. */
static bool jid_ok(const char *jid)
{
    const char *slash = strchr(jid, '/');
    size_t bare = slash ? (size_t)(slash - jid) : strlen(jid);
    const char *at = memchr(jid, '@', bare);

    if (slash && !jid_part_ok(slash + 1, strlen(slash + 1), ""))
        return false;
    if (at) {
        if (!jid_part_ok(jid, (size_t)(at - jid), " \"&'/:<>@"))
            return false;
        return domain_ok(at + 1, bare - (size_t)(at - jid) - 1);
    }
    return domain_ok(jid, bare);
}

static bool option_ok(const form_field_t *decl, const char *v)
{
    if (decl->open)
        return true;
    for (size_t i = 0; i < decl->n_options; i++)
        if (strcmp(decl->options[i].value, v) == 0)
            return true;
    return false;
}

static enum form_err check_integer(const form_field_t *decl, const char *v, char **out)
{
    long long n;

    if (!parse_ll(v, &n))
        return FORM_ERR_INTEGER;
    if ((decl->has_min && n < decl->min) || (decl->has_max && n > decl->max))
        return FORM_ERR_RANGE;
    *out = xasprintf("%lld", n);
    return FORM_ERR_NONE;
}

/* Checks one non-blank value; returns FORM_ERR_NONE when fine (and sets *out to the
 * normalised value, owned by the caller), else the reason. */
static enum form_err check_value(const form_field_t *decl, const char *raw, char **out)
{
    enum form_err err = FORM_ERR_NONE;
    char *v = trimmed(raw);

    *out = NULL;
    switch (decl->type) {
    case FIELD_BOOLEAN:
        if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0)
            *out = xstrdup("1");
        else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0)
            *out = xstrdup("0");
        else
            err = FORM_ERR_BOOLEAN;
        break;
    case FIELD_JID_SINGLE:
    case FIELD_JID_MULTI:
        err = jid_ok(v) ? FORM_ERR_NONE : FORM_ERR_JID;
        break;
    case FIELD_LIST_SINGLE:
    case FIELD_LIST_MULTI:
        err = option_ok(decl, v) ? FORM_ERR_NONE : FORM_ERR_OPTION;
        break;
    default:
        if (decl->dt == FORM_DT_INTEGER)
            err = check_integer(decl, v, out);
        else if (decl->dt == FORM_DT_DATE)
            err = date_ok(v) == 10 && v[10] == '\0' ? FORM_ERR_NONE : FORM_ERR_DATE;
        else if (decl->dt == FORM_DT_DATETIME)
            err = datetime_ok(v) ? FORM_ERR_NONE : FORM_ERR_DATETIME;
        else
            *out = xstrdup(raw); /* free text keeps its spaces */
        break;
    }
    if (err == FORM_ERR_NONE && *out == NULL) {
        *out = v;
        return err;
    }
    free(v);
    return err;
}

static void check_field(const form_field_t *decl, const form_field_t *in, form_field_t *out,
                        struct form_errors *errs)
{
    bool text_multi = decl->type == FIELD_TEXT_MULTI;
    bool any = false;

    for (size_t i = 0; in && i < in->values.n; i++) {
        const char *raw = in->values.v[i];
        char *v;
        enum form_err err;

        if (is_blank(raw) && !text_multi)
            continue; /* clients send <value/> for a field left empty */
        any = any || !is_blank(raw);
        if (text_multi) {
            strv_push_owned(&out->values, xstrdup(raw));
            continue;
        }
        err = check_value(decl, raw, &v);
        if (err != FORM_ERR_NONE) {
            struct form_error *e = add_error(errs, decl->var, err, raw);
            e->has_min = decl->has_min;
            e->has_max = decl->has_max;
            e->min = decl->min;
            e->max = decl->max;
            continue;
        }
        strv_push_owned(&out->values, v);
    }
    if (!is_multi(decl->type) && out->values.n > 1)
        add_error(errs, decl->var, FORM_ERR_MULTIPLE, NULL);
    else if (decl->required && !any)
        add_error(errs, decl->var, FORM_ERR_MISSING, NULL);
}

/* What was typed into the text field beside an open list, as values of the list; NULL when
 * nothing was. */
static form_field_t *other_values(const form_field_t *decl, const form_t *submitted)
{
    char *var = xasprintf("%s%s", decl->var, FORM_OTHER_SUFFIX);
    const form_field_t *o = form_field(submitted, var);
    form_field_t *out = NULL;

    free(var);
    if (o == NULL || (decl->type != FIELD_LIST_SINGLE && decl->type != FIELD_LIST_MULTI))
        return NULL;
    /* A list-multi keeps what was picked too; a list-single takes the typed value instead. */
    const form_field_t *picked = form_field(submitted, decl->var);
    if (decl->type == FIELD_LIST_MULTI && picked && picked->values.n > 0) {
        out = xcalloc(1, sizeof(*out));
        strv_copy(&out->values, &picked->values);
    }
    for (size_t i = 0; i < o->values.n; i++) {
        char *copy = xstrdup(o->values.v[i]), *save = NULL;
        const char *sep = decl->type == FIELD_LIST_MULTI ? ", \t\r\n" : "\r\n";
        for (char *t = strtok_r(copy, sep, &save); t; t = strtok_r(NULL, sep, &save)) {
            if (is_blank(t))
                continue;
            if (out == NULL)
                out = xcalloc(1, sizeof(*out));
            strv_push_owned(&out->values, xstrdup(t));
        }
        free(copy);
    }
    return out;
}

static size_t count_var(const form_t *form, const char *var)
{
    size_t n = 0;

    for (size_t i = 0; i < form->n_fields; i++)
        if (form->fields[i]->var && strcmp(form->fields[i]->var, var) == 0)
            n++;
    return n;
}

static void check_header(const form_t *shown, const form_t *sub, struct form_errors *errs)
{
    if (sub->kind != FORM_SUBMIT)
        add_error(errs, NULL, FORM_ERR_KIND, NULL);
    if (shown->form_type && sub->form_type && strcmp(shown->form_type, sub->form_type) != 0) {
        struct form_error *e = add_error(errs, NULL, FORM_ERR_FORM_TYPE, sub->form_type);
        e->expected = xstrdup(shown->form_type);
    }
}

form_t *form_check(const form_t *shown, const form_t *submitted, struct form_errors *errs)
{
    size_t before = errs->n;
    form_t *out = form_new(FORM_SUBMIT);

    check_header(shown, submitted, errs);
    out->form_type = dup_or_null(shown->form_type);
    for (size_t i = 0; i < shown->n_fields; i++) {
        const form_field_t *decl = shown->fields[i];
        form_field_t *of;

        if (decl->var == NULL || decl->type == FIELD_FIXED)
            continue;
        of = append_field(out, decl->var, decl->type);
        if (decl->type == FIELD_HIDDEN) {
            strv_copy(&of->values, &decl->values);
            continue;
        }
        if (count_var(submitted, decl->var) > 1) {
            add_error(errs, decl->var, FORM_ERR_DUPLICATE, NULL);
            continue;
        }
        /* A field left out keeps the value shown (a script that changes one setting sends
         * one field); it is checked like a submitted one, so a required empty field still
         * fails. */
        const form_field_t *given = form_field(submitted, decl->var);
        form_field_t *typed = decl->open ? other_values(decl, submitted) : NULL;
        check_field(decl, typed ? typed : given ? given : decl, of, errs);
        if (typed)
            field_free(typed);
    }
    if (errs->n != before) {
        form_free(out);
        return NULL;
    }
    return out;
}

form_t *form_prefill(const form_t *shown, const form_t *values)
{
    form_t *copy = form_copy(shown);

    for (size_t i = 0; values && i < copy->n_fields; i++) {
        form_field_t *f = copy->fields[i];
        const form_field_t *vf = f->var ? form_field(values, f->var) : NULL;
        if (vf == NULL || f->type == FIELD_FIXED || f->type == FIELD_HIDDEN)
            continue;
        strv_clear(&f->values);
        strv_copy(&f->values, &vf->values);
    }
    return copy;
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
