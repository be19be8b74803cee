/* A submission checked against the form that was shown: XEP-0004 field types, XEP-0122
 * datatypes and ranges, JIDs and list options, one error per failing field; and the shown
 * form filled in again with what was entered. */
#include "xmpp/form_check.h"

#include "util/xmalloc.h"
#include "xmpp/form_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static bool is_multi(enum field_type t)
{
    return t == FIELD_JID_MULTI || t == FIELD_LIST_MULTI || t == FIELD_TEXT_MULTI;
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

    if (!form_parse_ll(v, &n))
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
            form_strv_push(&out->values, xstrdup(raw));
            continue;
        }
        err = check_value(decl, raw, &v);
        if (err != FORM_ERR_NONE) {
            struct form_error *e = form_add_error(errs, decl->var, err, raw);
            e->has_min = decl->has_min;
            e->has_max = decl->has_max;
            e->min = decl->min;
            e->max = decl->max;
            continue;
        }
        form_strv_push(&out->values, v);
    }
    if (!is_multi(decl->type) && out->values.n > 1)
        form_add_error(errs, decl->var, FORM_ERR_MULTIPLE, NULL);
    else if (decl->required && !any)
        form_add_error(errs, decl->var, FORM_ERR_MISSING, NULL);
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
        form_strv_copy(&out->values, &picked->values);
    }
    for (size_t i = 0; i < o->values.n; i++) {
        char *copy = xstrdup(o->values.v[i]), *save = NULL;
        const char *sep = decl->type == FIELD_LIST_MULTI ? ", \t\r\n" : "\r\n";
        for (char *t = strtok_r(copy, sep, &save); t; t = strtok_r(NULL, sep, &save)) {
            if (is_blank(t))
                continue;
            if (out == NULL)
                out = xcalloc(1, sizeof(*out));
            form_strv_push(&out->values, xstrdup(t));
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
        form_add_error(errs, NULL, FORM_ERR_KIND, NULL);
    if (shown->form_type && sub->form_type && strcmp(shown->form_type, sub->form_type) != 0) {
        struct form_error *e = form_add_error(errs, NULL, FORM_ERR_FORM_TYPE, sub->form_type);
        e->expected = xstrdup(shown->form_type);
    }
}

form_t *form_check(const form_t *shown, const form_t *submitted, struct form_errors *errs)
{
    size_t before = errs->n;
    form_t *out = form_new(FORM_SUBMIT);

    check_header(shown, submitted, errs);
    out->form_type = form_strdup_or_null(shown->form_type);
    for (size_t i = 0; i < shown->n_fields; i++) {
        const form_field_t *decl = shown->fields[i];
        form_field_t *of;

        if (decl->var == NULL || decl->type == FIELD_FIXED)
            continue;
        of = form_append_field(out, decl->var, decl->type);
        if (decl->type == FIELD_HIDDEN) {
            form_strv_copy(&of->values, &decl->values);
            continue;
        }
        if (count_var(submitted, decl->var) > 1) {
            form_add_error(errs, decl->var, FORM_ERR_DUPLICATE, NULL);
            continue;
        }
        /* A field left out keeps the value shown (a script that changes one setting sends
         * one field); it is checked like a submitted one, so a required empty field still
         * fails. */
        const form_field_t *given = form_field(submitted, decl->var);
        form_field_t *typed = decl->open ? other_values(decl, submitted) : NULL;
        check_field(decl, typed ? typed : given ? given : decl, of, errs);
        if (typed)
            form_field_free(typed);
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
        form_strv_clear(&f->values);
        form_strv_copy(&f->values, &vf->values);
    }
    return copy;
}
