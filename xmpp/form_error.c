/* Why a received form was refused: the error list and its sentences, in English or Korean,
 * for programs (by var) and for people (by label). */
#include "xmpp/form_error.h"

#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/form_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_VALUE_MAX 64 /* bytes of an offending value quoted back in an error */

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

struct form_error *form_add_error(struct form_errors *errs, const char *var, enum form_err code,
                                  const char *value)
{
    struct form_error *e;

    errs->v = xrealloc(errs->v, (errs->n + 1) * sizeof(*errs->v));
    e = &errs->v[errs->n++];
    memset(e, 0, sizeof(*e));
    e->var = form_strdup_or_null(var);
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
