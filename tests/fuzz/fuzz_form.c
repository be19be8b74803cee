/* libFuzzer target for xmpp/form (and the ad-hoc framework around it): bytes are parsed as a
 * stanza, then as a data form; a parsed form renders and parses back to the same shape, and is
 * checked against a form declaring every field type. An <iq/> also goes through adhoc_handle. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "xmpp/adhoc.h"
#include "xmpp/adhoc_outcome.h"
#include "xmpp/form.h"
#include "xmpp/form_check.h"
#include "xmpp/form_parse.h"
#include "xmpp/form_render.h"
#include "xmpp/stanza.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static xmpp_ctx_t *ctx;
static form_t *decl;
static adhoc_t *adhoc;

/* The form every parsed one is checked against: one field of each type, short vars so that
 * the fuzzer finds them. */
static form_t *declared(void)
{
    form_t *f = form_new(FORM_FORM);
    form_field_t *fl;

    form_set_form_type(f, FORM_TYPE_PREFIX "fuzz");
    form_field_set_required(form_add_field(f, "a", FIELD_TEXT_SINGLE, NULL), true);
    form_field_set_range(form_add_field(f, "b", FIELD_TEXT_SINGLE, NULL), true, -5, true, 5);
    form_add_field(f, "c", FIELD_BOOLEAN, NULL);
    fl = form_add_field(f, "d", FIELD_LIST_SINGLE, NULL);
    form_field_add_option(fl, "x", NULL);
    fl = form_add_field(f, "e", FIELD_LIST_MULTI, NULL);
    form_field_add_option(fl, "x", NULL);
    form_field_add_option(fl, "y", NULL);
    form_add_field(f, "f", FIELD_JID_SINGLE, NULL);
    form_add_field(f, "g", FIELD_JID_MULTI, NULL);
    form_add_field(f, "h", FIELD_TEXT_MULTI, NULL);
    form_field_set_datatype(form_add_field(f, "i", FIELD_TEXT_SINGLE, NULL), FORM_DT_DATETIME);
    form_field_set_datatype(form_add_field(f, "j", FIELD_TEXT_PRIVATE, NULL), FORM_DT_DATE);
    form_field_add_value(form_add_field(f, "k", FIELD_HIDDEN, NULL), "v");
    return f;
}

/* A two-stage command with a result table, for the adhoc_handle path. */
static void fuzz_step(adhoc_call_t *c)
{
    if (c->stage < 2) {
        adhoc_show(c, form_copy(decl), ADHOC_ALLOW_NEXT | ADHOC_ALLOW_PREV, ADHOC_NEXT);
        return;
    }
    form_t *t = form_new(FORM_RESULT);
    form_add_column(t, "a", FIELD_TEXT_SINGLE, NULL);
    for (int i = 0; i < 3; i++)
        form_add_row(t, (const char *const[]){form_value(c->form, "a")});
    adhoc_complete(c, t);
}

static const struct adhoc_command fuzz_cmd = {"fuzz", {"Fuzz", NULL}, false, fuzz_step, NULL};

static void init(void)
{
    struct adhoc_limits lim = {.page_rows = 2};

    log_set_level(LOG_LEVEL_ERROR);
    ctx = xmpp_ctx_new(NULL, NULL);
    decl = declared();
    adhoc = adhoc_new(ctx, &lim);
    if (ctx == NULL || adhoc_register(adhoc, &fuzz_cmd, NULL) < 0)
        abort();
}

/* The data form in `st`: itself, or under <command/> of an iq. */
static xmpp_stanza_t *find_form(xmpp_stanza_t *st)
{
    xmpp_stanza_t *cmd = stanza_child(st, "command", NULL);

    if (strcmp(xmpp_stanza_get_name(st), "x") == 0)
        return st;
    return stanza_child(cmd ? cmd : st, "x", NULL);
}

/* Fields a rendering keeps: a submission sends only those with a var. */
static size_t kept_fields(const form_t *f)
{
    size_t n = 0;

    for (size_t i = 0; i < form_field_count(f); i++)
        if (form_get_kind(f) != FORM_SUBMIT || form_field_var(form_field_at(f, i)) != NULL)
            n++;
    return n;
}

static void round_trip(form_t *f)
{
    struct form_errors errs = {0};
    xmpp_stanza_t *out = form_to_stanza(ctx, f, "ko");
    form_t *back = form_from_stanza(out, &errs);

    if (back == NULL || form_field_count(back) != kept_fields(f) ||
        form_row_count(back) != form_row_count(f) ||
        form_column_count(back) != form_column_count(f) ||
        (form_get_form_type(f) == NULL) != (form_get_form_type(back) == NULL))
        abort();
    form_free(back);
    xmpp_stanza_release(out);
    form_errors_clear(&errs);
}

static void check(form_t *f)
{
    struct form_errors errs = {0};
    form_t *ok = form_check(decl, f, &errs);
    char *why = form_errors_text(&errs, decl, "en");

    if ((ok == NULL) != (errs.n > 0) || (ok != NULL && form_value(ok, "a") == NULL))
        abort();
    if (ok) {
        form_t *again = form_prefill(decl, ok);
        form_free(again);
    }
    free(why);
    form_free(ok);
    form_errors_clear(&errs);
    ok = form_check(f, f, &errs); /* the parsed form as its own declaration */
    form_free(ok);
    form_errors_clear(&errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct form_errors errs = {0};
    char *text;
    xmpp_stanza_t *st;

    if (ctx == NULL)
        init();
    text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    st = xmpp_stanza_new_from_string(ctx, text);
    free(text);
    if (st == NULL || !xmpp_stanza_is_tag(st)) {
        if (st)
            xmpp_stanza_release(st);
        return 0;
    }
    form_t *f = form_from_stanza(find_form(st), &errs);
    if ((f == NULL) != (errs.n > 0))
        abort();
    if (f) {
        round_trip(f);
        check(f);
        form_free(f);
    }
    free(form_errors_text(&errs, NULL, "ko"));
    form_errors_clear(&errs);
    if (strcmp(xmpp_stanza_get_name(st), "iq") == 0) {
        xmpp_stanza_t *reply = adhoc_handle(adhoc, st, "fuzz@example.com/r", size % 2 == 0);
        if (reply == NULL)
            abort();
        xmpp_stanza_release(reply);
    }
    xmpp_stanza_release(st);
    return 0;
}
