/* Shared by the unit tests of component/cmd, and of the engine where they drive it through
 * commands (engine/test_import_job) (cmd_fixture.c): an app on a real store in a fresh temporary
 * directory, with its xmpp context, uv loop and ad-hoc registry (the test registers its
 * commands), and requests sent through adhoc_handle_async that run the loop until a deferred
 * answer comes. What the commands or the test hang on the app (services, peers, the job runner,
 * the router apply) the fixture stops and frees, as the daemon does.
 * Ownership: the replies send_iq, req and req_field return are the caller's to release; the asserts
 * and expect_* borrow the reply and release nothing; text_of returns a string to free(). */
#ifndef IMD_TEST_CMD_FIXTURE_H
#define IMD_TEST_CMD_FIXTURE_H

#include <stdbool.h>
#include <strophe.h>
#include <uv.h>

#include "component/app.h"
#include "component/config.h"
#include "store/store_topo.h"

#define ADMIN "admin@example.com/laptop"

struct cmd_fx {
    char dir[64];
    char db[96];
    /* Zeroed; a test that needs a config fills it and points app.cfg at it. */
    struct config cfg;
    bool free_cfg; /* set when cfg holds allocations (config_defaults): cmd_fx_stop frees them */
    xmpp_ctx_t *ctx;
    uv_loop_t loop;
    struct app app;
    char vhosts[112];    /* "<dir>/vhosts.cfg.lua": the file cmd_fx_apply's apply writes */
    char subdir[112];    /* cmd_fx_subdir's, or "" */
    xmpp_stanza_t *late; /* a deferred reply, once sent */
    bool deferred;       /* the last send_iq's answer came later, through the loop */
    void *data;          /* the test file's own; the file frees it */
    /* Set by a test: requests go through adhoc_handle, as from a caller that cannot wait, so no
     * step may defer (a command may answer otherwise then: cmd_peers' refresh). */
    bool at_once;
};

/* Makes the store "/tmp/imd-<tag>-*" and, once `prepare` (NULL: none) returned 0, opens it and
 * builds the app around it (no command registered). NULL on failure. */
struct cmd_fx *cmd_fx_open(const char *tag, int (*prepare)(struct cmd_fx *fx));
/* Frees the registry and what the app holds (services, peers, job runner, apply: each when
 * made), runs the loop dry, closes the store, frees the context and the config (free_cfg); the
 * directory and `fx` stay, for a test that removes files of its own first. */
void cmd_fx_stop(struct cmd_fx *fx);
/* cmd_fx_stop, removes fx->vhosts when written and the subdirectory (asserted), then asserts
 * the directory is removed, and frees `fx`. */
void cmd_fx_close(struct cmd_fx *fx);
/* A cmocka setup: cmd_fx_open, then asserts `reg` (a cmd_*_register) succeeds; *state is the
 * fixture. -1 when the fixture cannot be made. */
int cmd_fx_setup(void **state, const char *tag, int (*prepare)(struct cmd_fx *fx),
                 int (*reg)(struct app *app));
/* A cmocka teardown: cmd_fx_close(*state). */
int cmd_fx_teardown(void **state);

/* Makes the directory "<dir>/<name>" for files the commands write (certificates, say), which
 * cmd_fx_close removes with everything in it. One a fixture; a prepare hook may make it.
 * Returns its path (fx->subdir), or NULL. */
const char *cmd_fx_subdir(struct cmd_fx *fx, const char *name);

/* Gives the app a router apply that writes fx->vhosts and runs `hook` (a program) to reload,
 * killed after `timeout_ms`: commands that change the hosted domains then answer once the hook
 * ends (deferred). */
void cmd_fx_apply(struct cmd_fx *fx, const char *hook, unsigned timeout_ms);

/* Adds node `name` of `role` in `group` to the store with its services in their first state
 * (services_init_node). */
void add_node(struct cmd_fx *fx, const char *name, enum store_node_role role, const char *group);

/* Sends <iq type='set'> holding `command` from `who` (lang NULL: no xml:lang); runs the loop
 * until a deferred answer comes (then fx->deferred is true); with fx->at_once, through
 * adhoc_handle. */
xmpp_stanza_t *send_iq(struct cmd_fx *fx, const char *who, bool admin, const char *lang,
                       const char *command);
/* One request as ADMIN: `node`, `action` (NULL: none), session `sid` (NULL: new), and
 * `fields` (NULL: no form), a run of <field/> elements. */
xmpp_stanza_t *req(struct cmd_fx *fx, const char *lang, const char *node, const char *sid,
                   const char *action, const char *fields);
/* req with one field, `var` holding `value` (var NULL: no form). */
xmpp_stanza_t *req_field(struct cmd_fx *fx, const char *lang, const char *node, const char *sid,
                         const char *action, const char *var, const char *value);

char *text_of(xmpp_stanza_t *st);
void assert_has(xmpp_stanza_t *st, const char *needle);
void assert_lacks(xmpp_stanza_t *st, const char *needle);
/* The command's status, or "(no command)". */
const char *status_of(xmpp_stanza_t *reply);
/* Asserts a result with status `want` and copies the session id into sid (may be NULL). */
void expect_status(xmpp_stanza_t *reply, const char *want, char sid[64]);
/* Asserts an iq error with the stanza condition `cond` and, unless NULL, the XEP-0050 condition
 * `app`. */
void expect_error(xmpp_stanza_t *reply, const char *cond, const char *app);
/* A refused value in a session: the same stage again (executing) with an error note, the form
 * still there to correct. Returns the note's text (borrowed from the reply). */
const char *expect_rejected(xmpp_stanza_t *reply);

#endif
