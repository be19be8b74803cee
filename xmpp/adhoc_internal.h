/* Private to xmpp/adhoc*.c: the structs of the XEP-0050 framework and the functions its parts
 * share. Nothing outside xmpp/adhoc*.c includes this; commands and the daemon use adhoc.h,
 * adhoc_outcome.h, adhoc_later.h, adhoc_session.h and adhoc_disco.h.
 * Ownership: the registry (struct adhoc) owns its sessions and the ids of ended ones; a session
 * owns its stages' forms, its state (freed with state_free) and, while paging, the results; a
 * struct req borrows everything for one request; a struct adhoc_later owns its copy of the
 * request and the outcome recorded on it. */
#ifndef IMD_ADHOC_INTERNAL_H
#define IMD_ADHOC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <strophe.h>

#include "xmpp/adhoc.h"
#include "xmpp/adhoc_later.h"
#include "xmpp/adhoc_session.h"
#include "xmpp/form.h"
#include "xmpp/i18n.h"

struct present_page; /* xmpp/present.h */

#define SESSIONID_BYTES 16
#define SESSIONID_LEN (SESSIONID_BYTES * 2)

struct note {
    enum adhoc_note_type type;
    char *text;
};

struct notes {
    struct note *v;
    size_t n;
};

enum out_kind { OUT_NONE, OUT_SHOW, OUT_REPLACE, OUT_COMPLETE, OUT_REFUSE, OUT_REJECT, OUT_DEFER };

struct req;

struct adhoc_outcome {
    enum out_kind kind;
    form_t *form; /* OUT_SHOW / OUT_REPLACE */
    unsigned allowed;
    enum adhoc_action dflt;
    form_t **results; /* OUT_COMPLETE */
    size_t n_results;
    struct notes notes;
    char *cond, *app_cond, *text; /* OUT_REFUSE; OUT_REJECT: app_cond is the var */
    unsigned stage;               /* of the call: >= 1 when it answers a submission */
    const struct req *req;        /* the request being answered, for adhoc_defer */
    struct session *s;            /* its session, for adhoc_defer */
    struct adhoc_later *later;    /* OUT_DEFER */
};

struct stage {
    form_t *shown;  /* as shown, FORM_TYPE included */
    form_t *answer; /* the last checked submission of this stage, for `prev` */
    unsigned allowed;
    enum adhoc_action dflt;
};

struct reg {
    const struct adhoc_command *def;
    void *ctx;
};

struct session {
    char id[SESSIONID_LEN + 1];
    char *owner; /* full JID */
    char *bare;  /* for the per-JID limit */
    const struct reg *cmd;
    uint64_t last;
    struct stage stages[ADHOC_MAX_STAGES];
    unsigned depth;
    void *state;
    void (*state_free)(void *state);
    /* Paging a completed command's long tables. */
    bool paging;
    form_t **results;
    size_t n_results, page, pages;
    struct notes notes;
    struct adhoc_later *busy; /* a step is waiting to answer; requests wait */
    struct session *next;
};

struct ended {
    char id[SESSIONID_LEN + 1];
    char *owner;
    uint64_t at;
};

struct adhoc {
    xmpp_ctx_t *ctx;
    struct adhoc_limits lim;
    struct reg cmds[ADHOC_MAX_COMMANDS];
    size_t n_cmds;
    struct session *sessions;
    unsigned n_sessions;
    struct ended ended[ADHOC_MAX_ENDED]; /* a ring, oldest at `ended_tail` */
    size_t ended_tail, n_ended;
    adhoc_end_fn on_end;
    void *on_end_ud;
};

/* One request being handled. */
struct req {
    adhoc_t *a;
    xmpp_stanza_t *iq, *cmd, *x;
    const struct reg *reg;
    const char *node, *sid, *action, *lang, *requester;
    bool is_admin;
    uint64_t now;
    adhoc_send_fn send; /* NULL: the answer cannot be deferred */
    void *send_ud;
};

/* A deferred answer: a copy of the request, and the outcome the command records later. */
struct adhoc_later {
    adhoc_t *a;
    struct session *s;
    const struct reg *reg;
    xmpp_stanza_t *iq; /* copy of the request */
    char *requester;
    bool is_admin, fresh;
    unsigned stage;
    enum adhoc_action act;
    adhoc_send_fn send;
    void *send_ud;
    adhoc_call_t call;
    struct adhoc_outcome out;
    /* The step that deferred is still running: its call (to take the state from) and whether
     * adhoc_later_finish came already; adhoc_apply() then answers now instead of sending late. */
    adhoc_call_t *step_call;
    bool finished_in_step;
};

/* The wire names of enum adhoc_action ("execute", "next", ...). */
extern const char *const adhoc_action_names[5];

/* ---- the registry and the request (adhoc.c) ---- */

/* xml:lang of the payload, else of the iq. libstrophe's own string parser (used by the control
 * socket and tests) keeps the attribute as plain "lang", so that is read too. */
const char *adhoc_lang_of(xmpp_stanza_t *iq, xmpp_stanza_t *cmd);
const struct reg *adhoc_find_cmd(const adhoc_t *a, const char *node);
bool adhoc_may_run(const struct reg *r, bool is_admin);

/* ---- outcomes, notes and results (adhoc_outcome.c) ---- */

void adhoc_notes_add(struct notes *n, enum adhoc_note_type type, const char *text);
void adhoc_notes_clear(struct notes *n);
void adhoc_results_free(form_t **results, size_t n);
void adhoc_outcome_clear(struct adhoc_outcome *o);

/* ---- sessions and the ids of ended ones (adhoc_session.c) ---- */

const struct ended *adhoc_ended_find(const adhoc_t *a, const char *id, uint64_t now);
void adhoc_stage_clear(struct stage *st);
/* Unlinks and frees `s`; `remember` keeps its id so that late requests hear session-expired. */
void adhoc_session_end(adhoc_t *a, struct session *s, bool remember, uint64_t now);
struct session *adhoc_session_find(const adhoc_t *a, const char *id);
/* Tells the end hook that the run of `s` is over. A paging session already ended its run when
 * its step completed. */
void adhoc_run_ended(const adhoc_t *a, const struct session *s, enum adhoc_end how,
                     const char *note);
bool adhoc_idle_too_long(const adhoc_t *a, const struct session *s, uint64_t now);
struct session *adhoc_session_new(adhoc_t *a, const struct req *r);
/* At a limit, the requester's own oldest idle session makes room (a client that never cancels,
 * a forgotten form, must not lock its admin out); only others' sessions are never touched. */
xmpp_stanza_t *adhoc_over_limit(const struct req *r);

/* ---- reply stanzas and errors (adhoc_reply.c); each returns a new stanza the caller owns ---- */

xmpp_stanza_t *adhoc_reply_iq(const struct req *r, const char *type);
xmpp_stanza_t *adhoc_error_reply(const struct req *r, const char *cond, const char *app,
                                 const char *text);
xmpp_stanza_t *adhoc_error_text(const struct req *r, const char *cond, const char *app,
                                const struct text *text);
/* An error whose text is made with printf in the request's language. */
xmpp_stanza_t *adhoc_error_owned(const struct req *r, const char *cond, const char *app,
                                 char *text);
xmpp_stanza_t *adhoc_command_el(xmpp_stanza_t *reply, const struct req *r, const char *sid,
                                const char *status);
void adhoc_add_actions(xmpp_stanza_t *cmd, unsigned allowed, enum adhoc_action dflt);
void adhoc_add_notes(xmpp_stanza_t *cmd, const struct notes *n);
/* Results: one form for people (notes inside, tables as lines), then the results as they are
 * for programs. A reply of several notes and no result gets a form too, so that the clients
 * that show one note or none show them all. */
void adhoc_add_results(xmpp_stanza_t *cmd, const struct req *r, form_t *const *forms, size_t n,
                       const struct notes *notes, const struct present_page *page);
xmpp_stanza_t *adhoc_executing_reply(const struct req *r, const struct session *s,
                                     const struct notes *notes);
/* A rejected value: the same stage again with what was entered and `problem` (already naming
 * the field) as an error note, inside the form too; then the step's other notes. */
xmpp_stanza_t *adhoc_rejected_reply(const struct req *r, const struct session *s,
                                    const form_t *entered, const char *problem,
                                    const struct notes *more);
xmpp_stanza_t *adhoc_ended_reply(const struct req *r, const char *sid, const char *status,
                                 const struct notes *notes, form_t *const *forms, size_t n);
xmpp_stanza_t *adhoc_bad_action(const struct req *r, enum adhoc_action act, unsigned allowed);
xmpp_stanza_t *adhoc_expired_reply(const struct req *r);
xmpp_stanza_t *adhoc_bad_sessionid(const struct req *r);

/* ---- paging long result tables (adhoc_page.c) ---- */

xmpp_stanza_t *adhoc_page_action(const struct req *r, struct session *s, enum adhoc_action act,
                                 bool given);
bool adhoc_has_long_table(const adhoc_t *a, form_t *const *forms, size_t n);
/* The session keeps the results of `o` (taken) and shows their first page. */
xmpp_stanza_t *adhoc_page_start(const struct req *r, struct session *s, struct adhoc_outcome *o);

/* ---- running a step and applying its outcome (adhoc_step.c) ---- */

void adhoc_call_init(adhoc_call_t *c, const struct req *r, struct session *s,
                     struct adhoc_outcome *o);
void adhoc_run_step(const struct req *r, struct session *s, unsigned stage, enum adhoc_action act,
                    const form_t *form, struct adhoc_outcome *o);
/* Turns a step's outcome into the reply. `fresh`: the session was made by this request, so a
 * refusal drops it unseen. */
xmpp_stanza_t *adhoc_apply(const struct req *r, struct session *s, struct adhoc_outcome *o,
                           bool fresh);
/* Parses and checks the submission `x` (may be NULL) against the top stage of `s`. Returns the
 * checked form, or NULL with *err set to the reply: the stage again with what was entered for
 * a bad value (unless `fresh`: the form came with the first request), else an error. */
form_t *adhoc_check_submission(const struct req *r, const struct session *s, xmpp_stanza_t *x,
                               bool fresh, xmpp_stanza_t **err);

/* ---- deferred answers (adhoc_later.c) ---- */

void adhoc_req_from_later(struct req *r, struct adhoc_later *l);
void adhoc_later_free(struct adhoc_later *l);
/* The step deferred. Usually the session now waits for adhoc_later_finish; but when the step
 * finished the late answer before it returned (a hook that ran at once), that answer is the
 * reply to this request, given now. */
xmpp_stanza_t *adhoc_deferred(const struct req *r, struct session *s, struct adhoc_outcome *o,
                              bool fresh);

#endif
