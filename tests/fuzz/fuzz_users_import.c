/* libFuzzer target for users/import (component/cmd/cmd_users.c): the input is what an admin pastes,
 * run through the real command against a store with one node (reset for each input): bytes up to a
 * NUL are one <value/> of the `users` field (so values may hold any line shape), every line is
 * checked, kept or rejected, and the sync audit runs. Properties: the command always completes (or
 * refuses a call of more than 50,000 lines with bad-payload), never with an internal error;
 * afterwards every stored user has a userid an IM address can hold. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "component/cmd/commands.h"
#include "store/store_topo.h"
#include "tests/fuzz/fuzz_store.h"
#include "store/store_user.h"
#include "util/log.h"
#include "xmpp/stanza.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ADMIN "admin@example.com/r"

static xmpp_ctx_t *ctx;
static uv_loop_t loop;
static struct store *fuzz_st;

static void fill(struct store *s)
{
    if (store_node_insert(s, "pub.example", STORE_NODE_PUBLISHER, "15.0", NULL) != STORE_OK)
        abort();
}

static xmpp_stanza_t *elem(xmpp_stanza_t *parent, const char *name, const char *ns)
{
    return stanza_add_element(parent, name, ns);
}

/* The one-shot request: <command action='complete'> with a submitted form. */
static xmpp_stanza_t *request(const uint8_t *data, size_t size, const char *lang)
{
    xmpp_stanza_t *iq = xmpp_iq_new(ctx, "set", "q1");
    xmpp_stanza_t *cmd, *x, *field;
    const uint8_t *p = data, *end = data + size;

    xmpp_stanza_set_from(iq, ADMIN);
    xmpp_stanza_set_to(iq, "imd.example");
    if (lang)
        xmpp_stanza_set_attribute(iq, "xml:lang", lang);
    cmd = elem(iq, "command", "http://jabber.org/protocol/commands");
    xmpp_stanza_set_attribute(cmd, "node", "users/import");
    xmpp_stanza_set_attribute(cmd, "action", "complete");
    x = elem(cmd, "x", "jabber:x:data");
    xmpp_stanza_set_type(x, "submit");
    field = elem(x, "field", NULL);
    xmpp_stanza_set_attribute(field, "var", "users");
    while (p <= end) {
        const uint8_t *nul = memchr(p, '\0', (size_t)(end - p));
        size_t len = nul ? (size_t)(nul - p) : (size_t)(end - p);
        char *v = strndup((const char *)p, len);
        /* What XML can carry: control characters other than tab, CR and LF never arrive. */
        for (char *c = v; *c; c++)
            if ((unsigned char)*c < 0x20 && *c != '\t' && *c != '\n' && *c != '\r')
                *c = '?';
        stanza_add_text_element(field, "value", v);
        free(v);
        p += len + 1;
    }
    return iq;
}

static void check_reply(xmpp_stanza_t *reply)
{
    const char *type = xmpp_stanza_get_type(reply);
    xmpp_stanza_t *cmd = stanza_child(reply, "command", NULL);
    xmpp_stanza_t *err = stanza_child(reply, "error", NULL);

    if (type && strcmp(type, "result") == 0 && cmd &&
        strcmp(xmpp_stanza_get_attribute(cmd, "status"), "completed") == 0)
        return;
    if (type && strcmp(type, "error") == 0 && err && stanza_child(err, "bad-payload", NULL) != NULL)
        return; /* too many lines, or a value that is not text the framework takes */
    abort();
}

static bool localpart_ok(const char *s)
{
    if (*s == '\0')
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == 0x7f || strchr("\"&'/:<>@", *p) != NULL)
            return false;
    return true;
}

static void check_store(struct store *st)
{
    struct store_user *u = NULL;
    size_t n = 0;

    if (store_user_list(st, NULL, NULL, 100000, &u, &n) != STORE_OK)
        abort();
    for (size_t i = 0; i < n; i++)
        if (!localpart_ok(u[i].userid) || strlen(u[i].userid) > 255)
            abort();
    store_user_list_free(u, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct app app = {0};
    xmpp_stanza_t *iq, *reply;
    int64_t users = -1;

    if (ctx == NULL) {
        log_set_level(LOG_LEVEL_ERROR);
        ctx = xmpp_ctx_new(NULL, NULL);
        uv_loop_init(&loop);
        fuzz_st = fuzz_store_open(fill);
    }
    fuzz_store_reset(fuzz_st);
    if (store_user_count(fuzz_st, NULL, &users) != STORE_OK || users != 0)
        abort(); /* the reset did not take */
    app.loop = &loop;
    app.ctx = ctx;
    app.store = fuzz_st;
    app.adhoc = adhoc_new(ctx, NULL);
    if (cmd_users_register(&app) < 0)
        abort();
    iq = request(data, size, size % 2 ? "ko" : NULL);
    reply = adhoc_handle(app.adhoc, iq, ADMIN, true);
    check_reply(reply);
    check_store(app.store);
    xmpp_stanza_release(reply);
    xmpp_stanza_release(iq);
    adhoc_free(app.adhoc);
    return 0;
}
