/* XEP-0004 data forms on the wire, inbound: <x xmlns='jabber:x:data'/> read into a form_t,
 * structure and size limits only (the values are checked by form_check). */
#include "xmpp/form_parse.h"

#include "util/xmalloc.h"
#include "xmpp/form_internal.h"
#include "xmpp/stanza.h"

#include <stdlib.h>
#include <string.h>

/* ---- parsing ---- */

static enum field_type field_type_parse(const char *s)
{
    for (int i = FIELD_NONE + 1; s && i <= FIELD_TEXT_SINGLE; i++)
        if (strcmp(s, form_field_type_name((enum field_type)i)) == 0)
            return (enum field_type)i;
    return FIELD_NONE;
}

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
            f->has_min = form_parse_ll(xmpp_stanza_get_attribute(c, "min"), &f->min);
            f->has_max = form_parse_ll(xmpp_stanza_get_attribute(c, "max"), &f->max);
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
            form_strv_push(&f->values, s);
    } else if (is_el(c, "required")) {
        f->required = true;
    } else if (is_el(c, "desc") && element_text(c, &s) == 0) {
        struct text t = {s, NULL};
        form_otext_set(&f->desc, &t);
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
    f = form_append_field(form, var, type);
    form_otext_set(&f->label, label ? &t : NULL);
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
    for (size_t i = 0; i < sizeof(form_kind_names) / sizeof(form_kind_names[0]); i++) {
        if (strcmp(s, form_kind_names[i]) == 0) {
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
        form_otext_set(&form->title, &t);
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
        form_add_error(errs, NULL, FORM_ERR_NOT_A_FORM, NULL);
        return NULL;
    }
    if (!kind_parse(xmpp_stanza_get_type(x), &kind)) {
        form_add_error(errs, NULL, FORM_ERR_KIND, NULL);
        return NULL;
    }
    form = form_new(kind);
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(x); c && !b.over; c = xmpp_stanza_get_next(c))
        parse_child(form, c, &b);
    if (b.over) {
        form_add_error(errs, NULL, FORM_ERR_TOO_BIG, NULL);
        form_free(form);
        return NULL;
    }
    return form;
}
