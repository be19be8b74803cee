/* For the unit tests of component/cmd: the app on a temporary store, and talking to it. */
#include "tests/lib/cmd_fixture.h"

#include "component/engine/apply.h"
#include "component/engine/job.h"
#include "component/engine/peers.h"
#include "component/engine/services.h"
#include "tests/lib/tmpstore.h"
#include "xmpp/stanza.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CMD_OPEN "<command xmlns='http://jabber.org/protocol/commands' node='%s'"

struct cmd_fx *cmd_fx_open(const char *tag, int (*prepare)(struct cmd_fx *fx))
{
    struct cmd_fx *fx = calloc(1, sizeof(*fx));
    char *err = NULL;

    if (fx == NULL || tmpstore_make(fx->dir, sizeof(fx->dir), fx->db, sizeof(fx->db), tag) != 0)
        return NULL;
    snprintf(fx->vhosts, sizeof(fx->vhosts), "%s/vhosts.cfg.lua", fx->dir);
    if (prepare != NULL && prepare(fx) != 0)
        return NULL;
    fx->app.store = store_open(fx->db, &err);
    if (fx->app.store == NULL)
        return NULL;
    fx->ctx = xmpp_ctx_new(NULL, NULL);
    uv_loop_init(&fx->loop);
    fx->app.loop = &fx->loop;
    fx->app.ctx = fx->ctx;
    fx->app.adhoc = adhoc_new(fx->ctx, NULL);
    return fx;
}

void cmd_fx_stop(struct cmd_fx *fx)
{
    /* Their handles are closed before the loop runs dry; the runner's is inside it, so it is
     * freed after. */
    peers_stop(fx->app.peers);
    peers_free(fx->app.peers);
    job_runner_stop(fx->app.jobs);
    apply_free(fx->app.apply);
    adhoc_free(fx->app.adhoc);
    services_free(fx->app.services);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    job_runner_free(fx->app.jobs);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    assert_int_equal(store_close(fx->app.store), 0);
    xmpp_ctx_free(fx->ctx);
    if (fx->free_cfg)
        config_free(&fx->cfg);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void cmd_fx_close(struct cmd_fx *fx)
{
    cmd_fx_stop(fx);
    unlink(fx->vhosts); /* when an apply wrote it */

    if (fx->subdir[0] != '\0') /* the files first, then the directories */
        assert_int_equal(nftw(fx->subdir, remove_one, 8, FTW_DEPTH | FTW_PHYS), 0);
    assert_int_equal(tmpstore_remove(fx->dir, fx->db), 0);
    free(fx);
}

int cmd_fx_setup(void **state, const char *tag, int (*prepare)(struct cmd_fx *fx),
                 int (*reg)(struct app *app))
{
    struct cmd_fx *fx = cmd_fx_open(tag, prepare);

    if (fx == NULL)
        return -1;
    assert_int_equal(reg(&fx->app), 0);
    *state = fx;
    return 0;
}

int cmd_fx_teardown(void **state)
{
    cmd_fx_close(*state);
    return 0;
}

const char *cmd_fx_subdir(struct cmd_fx *fx, const char *name)
{
    snprintf(fx->subdir, sizeof(fx->subdir), "%s/%s", fx->dir, name);
    if (mkdir(fx->subdir, 0700) != 0) {
        fx->subdir[0] = '\0';
        return NULL;
    }
    return fx->subdir;
}

void cmd_fx_apply(struct cmd_fx *fx, const char *hook, unsigned timeout_ms)
{
    char *err = NULL;

    fx->app.apply = apply_new(&fx->loop, fx->vhosts, hook, timeout_ms, &err);
    if (fx->app.apply == NULL)
        fail_msg("apply_new: %s", err ? err : "?");
}

void add_node(struct cmd_fx *fx, const char *name, enum store_node_role role, const char *group)
{
    assert_int_equal(store_node_insert(fx->app.store, name, role, "15.0", group), STORE_OK);
    assert_int_equal(services_init_node(&fx->app, name), 0);
}

static void on_late(void *ud, xmpp_stanza_t *reply)
{
    struct cmd_fx *fx = ud;

    assert_null(fx->late);
    fx->late = reply;
}

xmpp_stanza_t *send_iq(struct cmd_fx *fx, const char *who, bool admin, const char *lang,
                       const char *command)
{
    char *xml = NULL;
    xmpp_stanza_t *iq, *reply;

    assert_true(asprintf(&xml, "<iq type='set' id='q1' from='%s' to='imd.example'%s%s%s>%s</iq>",
                         who, lang ? " xml:lang='" : "", lang ? lang : "", lang ? "'" : "",
                         command) > 0);
    iq = xmpp_stanza_new_from_string(fx->ctx, xml);
    assert_non_null(iq);
    reply = fx->at_once ? adhoc_handle(fx->app.adhoc, iq, who, admin)
                        : adhoc_handle_async(fx->app.adhoc, iq, who, admin, on_late, fx);
    fx->deferred = reply == NULL;
    while (reply == NULL && fx->late == NULL)
        assert_true(uv_run(&fx->loop, UV_RUN_ONCE) >= 0);
    if (reply == NULL) {
        reply = fx->late;
        fx->late = NULL;
    }
    xmpp_stanza_release(iq);
    free(xml);
    return reply;
}

xmpp_stanza_t *req(struct cmd_fx *fx, const char *lang, const char *node, const char *sid,
                   const char *action, const char *fields)
{
    char *cmd = NULL;
    xmpp_stanza_t *reply;

    assert_true(asprintf(&cmd, CMD_OPEN "%s%s%s%s%s%s>%s%s%s</command>", node,
                         sid ? " sessionid='" : "", sid ? sid : "", sid ? "'" : "",
                         action ? " action='" : "", action ? action : "", action ? "'" : "",
                         fields ? "<x xmlns='jabber:x:data' type='submit'>" : "",
                         fields ? fields : "", fields ? "</x>" : "") > 0);
    reply = send_iq(fx, ADMIN, true, lang, cmd);
    free(cmd);
    return reply;
}

xmpp_stanza_t *req_field(struct cmd_fx *fx, const char *lang, const char *node, const char *sid,
                         const char *action, const char *var, const char *value)
{
    char *field = NULL;
    xmpp_stanza_t *reply;

    if (var)
        assert_true(asprintf(&field, "<field var='%s'><value>%s</value></field>", var, value) > 0);
    reply = req(fx, lang, node, sid, action, field);
    free(field);
    return reply;
}

char *text_of(xmpp_stanza_t *st)
{
    char *buf = NULL, *copy;
    size_t len = 0;

    assert_int_equal(xmpp_stanza_to_text(st, &buf, &len), XMPP_EOK);
    copy = strdup(buf);
    xmpp_free(xmpp_stanza_get_context(st), buf);
    return copy;
}

void assert_has(xmpp_stanza_t *st, const char *needle)
{
    char *s = text_of(st);
    if (strstr(s, needle) == NULL)
        fail_msg("'%s' not found in: %s", needle, s);
    free(s);
}

void assert_lacks(xmpp_stanza_t *st, const char *needle)
{
    char *s = text_of(st);
    if (strstr(s, needle) != NULL)
        fail_msg("'%s' found in: %s", needle, s);
    free(s);
}

const char *status_of(xmpp_stanza_t *reply)
{
    xmpp_stanza_t *cmd = stanza_child(reply, "command", NS_COMMANDS);
    return cmd ? xmpp_stanza_get_attribute(cmd, "status") : "(no command)";
}

void expect_status(xmpp_stanza_t *reply, const char *want, char sid[64])
{
    if (strcmp(xmpp_stanza_get_type(reply), "result") != 0 || strcmp(status_of(reply), want)) {
        char *s = text_of(reply);
        fail_msg("expected status %s, got: %s", want, s);
    }
    if (sid)
        snprintf(
            sid, 64, "%s",
            xmpp_stanza_get_attribute(stanza_child(reply, "command", NS_COMMANDS), "sessionid"));
}

void expect_error(xmpp_stanza_t *reply, const char *cond, const char *app)
{
    xmpp_stanza_t *err = stanza_child(reply, "error", NULL);

    if (strcmp(xmpp_stanza_get_type(reply), "error") != 0) {
        char *s = text_of(reply);
        fail_msg("expected an error %s, got: %s", cond, s);
    }
    assert_non_null(stanza_child(err, cond, "urn:ietf:params:xml:ns:xmpp-stanzas"));
    if (app)
        assert_non_null(stanza_child(err, app, NS_COMMANDS));
}

const char *expect_rejected(xmpp_stanza_t *reply)
{
    xmpp_stanza_t *cmd = stanza_child(reply, "command", NS_COMMANDS);
    xmpp_stanza_t *note = cmd ? stanza_child(cmd, "note", NULL) : NULL;

    if (cmd == NULL || strcmp(xmpp_stanza_get_type(reply), "result") != 0 ||
        strcmp(xmpp_stanza_get_attribute(cmd, "status"), "executing") != 0) {
        char *s = text_of(reply);
        fail_msg("expected the stage again, got: %s", s);
    }
    assert_non_null(note);
    assert_string_equal(xmpp_stanza_get_attribute(note, "type"), "error");
    assert_non_null(stanza_child(cmd, "x", "jabber:x:data"));
    return xmpp_stanza_get_text_ptr(xmpp_stanza_get_children(note));
}
