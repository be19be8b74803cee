/* XEP-0050 ad-hoc commands: the reply stanzas: results with their actions, notes and forms
 * (presented for people and for programs, xmpp/present.h), and the stanza errors. */
#include "xmpp/adhoc_internal.h"

#include "util/xmalloc.h"
#include "xmpp/form_check.h"
#include "xmpp/form_render.h"
#include "xmpp/present.h"
#include "xmpp/stanza.h"

#include <stdlib.h>
#include <string.h>

static const char *const note_names[] = {"info", "warn", "error"};

/* ---- replies ---- */

xmpp_stanza_t *adhoc_reply_iq(const struct req *r, const char *type)
{
    xmpp_stanza_t *reply = xmpp_stanza_new(r->a->ctx);
    const char *id = xmpp_stanza_get_id(r->iq);
    const char *from = xmpp_stanza_get_from(r->iq);
    const char *to = xmpp_stanza_get_to(r->iq);

    xmpp_stanza_set_name(reply, "iq");
    xmpp_stanza_set_type(reply, type);
    if (id)
        xmpp_stanza_set_id(reply, id);
    if (from)
        xmpp_stanza_set_to(reply, from);
    if (to)
        xmpp_stanza_set_from(reply, to);
    return reply;
}

/* RFC 6120 §8.3.3: the error type that goes with each condition we use. */
static const char *error_type(const char *cond)
{
    static const char *const map[][2] = {{"bad-request", "modify"},
                                         {"not-acceptable", "modify"},
                                         {"policy-violation", "modify"},
                                         {"jid-malformed", "modify"},
                                         {"forbidden", "auth"},
                                         {"not-authorized", "auth"},
                                         {"resource-constraint", "wait"},
                                         {"unexpected-request", "wait"},
                                         {"remote-server-timeout", "wait"}};

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(cond, map[i][0]) == 0)
            return map[i][1];
    return "cancel";
}

xmpp_stanza_t *adhoc_error_reply(const struct req *r, const char *cond, const char *app,
                                 const char *text)
{
    xmpp_stanza_t *reply = adhoc_reply_iq(r, "error");
    xmpp_stanza_t *cmd, *err, *t;

    if (r->node) { /* echo what was asked, so clients can match the error to a command */
        cmd = stanza_add_element(reply, "command", NS_COMMANDS);
        xmpp_stanza_set_attribute(cmd, "node", r->node);
        if (r->sid)
            xmpp_stanza_set_attribute(cmd, "sessionid", r->sid);
    }
    err = stanza_add_element(reply, "error", NULL);
    xmpp_stanza_set_type(err, error_type(cond));
    stanza_add_element(err, cond, NS_STANZAS);
    if (text && *text) {
        t = stanza_add_element(err, "text", NS_STANZAS);
        xmpp_stanza_set_attribute(t, "xml:lang", i18n_tag(r->lang));
        xmpp_stanza_t *body = xmpp_stanza_new(r->a->ctx);
        xmpp_stanza_set_text(body, text);
        xmpp_stanza_add_child_ex(t, body, 0);
    }
    if (app)
        stanza_add_element(err, app, NS_COMMANDS);
    return reply;
}

xmpp_stanza_t *adhoc_error_text(const struct req *r, const char *cond, const char *app,
                                const struct text *text)
{
    return adhoc_error_reply(r, cond, app, text_get(text, r->lang));
}

/* An error whose text is made with printf in the request's language. */
xmpp_stanza_t *adhoc_error_owned(const struct req *r, const char *cond, const char *app, char *text)
{
    xmpp_stanza_t *reply = adhoc_error_reply(r, cond, app, text);

    free(text);
    return reply;
}

xmpp_stanza_t *adhoc_command_el(xmpp_stanza_t *reply, const struct req *r, const char *sid,
                                const char *status)
{
    xmpp_stanza_t *cmd = stanza_add_element(reply, "command", NS_COMMANDS);

    xmpp_stanza_set_attribute(cmd, "node", r->node);
    if (sid)
        xmpp_stanza_set_attribute(cmd, "sessionid", sid);
    xmpp_stanza_set_attribute(cmd, "status", status);
    xmpp_stanza_set_attribute(cmd, "xml:lang", i18n_tag(r->lang));
    return cmd;
}

void adhoc_add_actions(xmpp_stanza_t *cmd, unsigned allowed, enum adhoc_action dflt)
{
    xmpp_stanza_t *acts = stanza_add_element(cmd, "actions", NULL);
    static const enum adhoc_action order[] = {ADHOC_PREV, ADHOC_NEXT, ADHOC_COMPLETE};

    xmpp_stanza_set_attribute(acts, "execute", adhoc_action_names[dflt]);
    for (size_t i = 0; i < 3; i++)
        if (allowed & (1u << order[i]))
            stanza_add_element(acts, adhoc_action_names[order[i]], NULL);
}

void adhoc_add_notes(xmpp_stanza_t *cmd, const struct notes *n)
{
    for (size_t i = 0; i < n->n; i++) {
        xmpp_stanza_t *note = stanza_add_element(cmd, "note", NULL);
        xmpp_stanza_t *t = xmpp_stanza_new(xmpp_stanza_get_context(cmd));
        xmpp_stanza_set_attribute(note, "type", note_names[n->v[i].type]);
        xmpp_stanza_set_text(t, n->v[i].text);
        xmpp_stanza_add_child_ex(note, t, 0);
    }
}

static const struct text T_WARN = {"Warning: ", "주의: "};
static const struct text T_ERROR = {"Error: ", "오류: "};

/* The notes as lines for inside the form (poezio shows no notes beside a form, profanity only
 * the first): warnings and errors say what they are. Free with lines_free. */
static char **note_lines(const struct req *r, const struct notes *n)
{
    char **lines = xcalloc(n->n + 1, sizeof(*lines));

    for (size_t i = 0; i < n->n; i++) {
        const struct text *fmt = n->v[i].type == ADHOC_NOTE_ERROR  ? &T_ERROR
                                 : n->v[i].type == ADHOC_NOTE_WARN ? &T_WARN
                                                                   : NULL;
        lines[i] = xasprintf("%s%s", fmt ? text_get(fmt, r->lang) : "", n->v[i].text);
    }
    return lines;
}

static void lines_free(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

/* An input stage: the form with the notes inside it too. */
static void add_stage_form(xmpp_stanza_t *cmd, const struct req *r, const form_t *form,
                           const struct notes *notes)
{
    char **lines = note_lines(r, notes);
    form_t *shown = present_stage(form, (const char *const *)lines, notes->n, r->lang);

    xmpp_stanza_add_child_ex(cmd, form_to_stanza(r->a->ctx, shown, r->lang), 0);
    form_free(shown);
    lines_free(lines, notes->n);
}

/* Results: one form for people (notes inside, tables as lines), then the results as they are
 * for programs. A reply of several notes and no result gets a form too, so that the clients
 * that show one note or none show them all. */
void adhoc_add_results(xmpp_stanza_t *cmd, const struct req *r, form_t *const *forms, size_t n,
                       const struct notes *notes, const struct present_page *page)
{
    char **lines;
    form_t *people;
    xmpp_stanza_t *data;

    if (n == 0 && notes->n < 2)
        return;
    lines = note_lines(r, notes);
    people = present_for_people(forms, n, r->lang, text_get(&r->reg->def->name, r->lang),
                                (const char *const *)lines, notes->n, page);
    xmpp_stanza_add_child_ex(cmd, form_to_stanza(r->a->ctx, people, r->lang), 0);
    form_free(people);
    lines_free(lines, notes->n);
    if ((data = present_for_programs(r->a->ctx, forms, n, r->lang, page)) != NULL)
        xmpp_stanza_add_child_ex(cmd, data, 0);
}

/* The top stage, its fields holding `entered` (may be NULL) where it has them. */
static xmpp_stanza_t *stage_reply(const struct req *r, const struct session *s,
                                  const struct notes *notes, const form_t *entered)
{
    const struct stage *top = &s->stages[s->depth - 1];
    xmpp_stanza_t *reply = adhoc_reply_iq(r, "result");
    xmpp_stanza_t *cmd = adhoc_command_el(reply, r, s->id, "executing");

    adhoc_add_actions(cmd, top->allowed, top->dflt);
    adhoc_add_notes(cmd, notes);
    if (entered) {
        form_t *again = form_prefill(top->shown, entered);
        add_stage_form(cmd, r, again, notes);
        form_free(again);
    } else {
        add_stage_form(cmd, r, top->shown, notes);
    }
    return reply;
}

xmpp_stanza_t *adhoc_executing_reply(const struct req *r, const struct session *s,
                                     const struct notes *notes)
{
    return stage_reply(r, s, notes, s->stages[s->depth - 1].answer);
}

/* A rejected value: the same stage again with what was entered and `problem` (already naming
 * the field) as an error note, inside the form too; then the step's other notes. */
xmpp_stanza_t *adhoc_rejected_reply(const struct req *r, const struct session *s,
                                    const form_t *entered, const char *problem,
                                    const struct notes *more)
{
    struct notes n = {0};
    xmpp_stanza_t *reply;

    adhoc_notes_add(&n, ADHOC_NOTE_ERROR, problem);
    for (size_t i = 0; more && i < more->n; i++)
        adhoc_notes_add(&n, more->v[i].type, more->v[i].text);
    reply = stage_reply(r, s, &n, entered);
    adhoc_notes_clear(&n);
    return reply;
}

xmpp_stanza_t *adhoc_ended_reply(const struct req *r, const char *sid, const char *status,
                                 const struct notes *notes, form_t *const *forms, size_t n)
{
    xmpp_stanza_t *reply = adhoc_reply_iq(r, "result");
    xmpp_stanza_t *cmd = adhoc_command_el(reply, r, sid, status);

    adhoc_add_notes(cmd, notes);
    adhoc_add_results(cmd, r, forms, n, notes, NULL);
    return reply;
}

/* ---- errors about the request ---- */

xmpp_stanza_t *adhoc_bad_action(const struct req *r, enum adhoc_action act, unsigned allowed)
{
    char offered[64] = "";

    for (enum adhoc_action i = ADHOC_NEXT; i <= ADHOC_COMPLETE; i++) {
        if (allowed & (1u << i)) {
            strcat(offered, adhoc_action_names[i]);
            strcat(offered, ", ");
        }
    }
    strcat(offered, "cancel");
    if (i18n_is_korean(r->lang))
        return adhoc_error_owned(
            r, "bad-request", "bad-action",
            xasprintf("이 단계에서는 '%s' 동작을 쓸 수 없습니다. 가능한 동작: %s",
                      adhoc_action_names[act], offered));
    return adhoc_error_owned(r, "bad-request", "bad-action",
                             xasprintf("'%s' is not offered at this stage; offered: %s",
                                       adhoc_action_names[act], offered));
}

xmpp_stanza_t *adhoc_expired_reply(const struct req *r)
{
    uint64_t ms = r->a->lim.timeout_ms;
    bool ko = i18n_is_korean(r->lang);
    bool minutes = ms % 60000 == 0;
    unsigned long long n = minutes ? ms / 60000 : (ms + 999) / 1000;
    const char *unit = ko        ? (minutes ? "분" : "초")
                       : minutes ? (n == 1 ? " minute" : " minutes")
                                 : (n == 1 ? " second" : " seconds");
    char *t;

    if (ko)
        t = xasprintf("세션 '%.64s'은(는) 끝났습니다(완료, 취소 또는 %llu%s 넘게 입력 없음). "
                      "명령을 다시 시작하세요",
                      r->sid, n, unit);
    else
        t = xasprintf("session '%.64s' has ended (completed, canceled, or idle for more than "
                      "%llu%s); start the command again",
                      r->sid, n, unit);
    return adhoc_error_owned(r, "not-allowed", "session-expired", t);
}

xmpp_stanza_t *adhoc_bad_sessionid(const struct req *r)
{
    if (i18n_is_korean(r->lang))
        return adhoc_error_owned(
            r, "bad-request", "bad-sessionid",
            xasprintf("'%s' 명령에 당신의 세션 '%.64s'이(가) 없습니다", r->node, r->sid));
    return adhoc_error_owned(
        r, "bad-request", "bad-sessionid",
        xasprintf("no open session '%.64s' of yours for '%s'", r->sid, r->node));
}
