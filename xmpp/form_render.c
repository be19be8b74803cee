/* XEP-0004 data forms on the wire, outbound: a form_t rendered as <x xmlns='jabber:x:data'/>
 * (XEP-0122 validation included), texts in the request's language, tables a page at a time. */
#include "xmpp/form_render.h"

#include "xmpp/form_internal.h"
#include "xmpp/stanza.h"

#include <stdio.h>

static const char *const dt_names[] = {[FORM_DT_STRING] = "xs:string",
                                       [FORM_DT_INTEGER] = "xs:integer",
                                       [FORM_DT_DATE] = "xs:date",
                                       [FORM_DT_DATETIME] = "xs:dateTime"};

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
        set_text_attr(fe, "label", form_otext_get(&f->label, lang));
        if (f->desc.en)
            stanza_add_text_element(fe, "desc", form_otext_get(&f->desc, lang));
        if (f->required)
            stanza_add_element(fe, "required", NULL);
        render_validate(fe, f);
    }
    if (f->fixed.en)
        stanza_add_text_element(fe, "value", form_otext_get(&f->fixed, lang));
    for (size_t i = 0; i < f->values.n; i++)
        stanza_add_text_element(fe, "value", f->values.v[i]);
    for (size_t i = 0; !submit && i < f->n_options; i++) {
        xmpp_stanza_t *o = stanza_add_element(fe, "option", NULL);
        const char *label = form_otext_get(&f->options[i].label, lang);
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
        set_text_attr(fe, "label", form_otext_get(&form->cols[c].label, lang));
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
    xmpp_stanza_set_type(x, form_kind_names[form->kind]);
    if (form->title.en && !submit)
        stanza_add_text_element(x, "title", form_otext_get(&form->title, lang));
    for (size_t i = 0; i < form->n_instr && !submit; i++)
        stanza_add_text_element(x, "instructions", form_otext_get(&form->instr[i], lang));
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
