/* Unit tests for XEP-0030 on the component JID (xmpp/disco.c), through the dispatcher as the
 * router delivers a query: the identity and features on the JID, an empty item list there (it
 * has no sub-entities; the commands are items of their node), node queries handed to the
 * provider with the requester and language, and item-not-found for a node nobody answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/log.h"
#include "xmpp/disco.h"
#include "xmpp/stanza.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ME "imd.example"
#define ASKER "admin@example.com/laptop"

struct fx {
    uv_loop_t loop;
    xmpp_ctx_t *ctx;
    dispatch_t *d;
    disco_t *disco;
    xmpp_stanza_t *sent; /* the last answer sent (owned) */
    int n_sent;
    char node[64], lang[8]; /* what the provider was asked */
    int items;
};

static int capture(void *ud, xmpp_stanza_t *stanza)
{
    struct fx *fx = ud;

    if (fx->sent)
        xmpp_stanza_release(fx->sent);
    fx->sent = xmpp_stanza_copy(stanza);
    fx->n_sent++;
    return 0;
}

/* Answers the node "cmds" only (as the daemon answers the commands node). */
static int provider(void *ud, const char *node, int items, xmpp_stanza_t *query, const char *from,
                    const char *lang)
{
    struct fx *fx = ud;
    xmpp_stanza_t *it;

    snprintf(fx->node, sizeof(fx->node), "%s", node);
    snprintf(fx->lang, sizeof(fx->lang), "%s", lang ? lang : "");
    fx->items = items;
    assert_string_equal(from, ASKER);
    if (strcmp(node, "cmds") != 0)
        return -1;
    it = stanza_add_element(query, items ? "item" : "identity", NULL);
    xmpp_stanza_set_attribute(it, "name", "one");
    return 0;
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    if (fx == NULL || uv_loop_init(&fx->loop) != 0)
        return -1;
    fx->ctx = xmpp_ctx_new(NULL, NULL);
    fx->d = dispatch_new(&fx->loop, fx->ctx, capture, fx);
    fx->disco = disco_new(fx->d, fx->ctx, "component", "generic", "imdomaind");
    disco_add_feature(fx->disco, "urn:example:one");
    disco_set_node_provider(fx->disco, provider, fx);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    disco_free(fx->disco);
    dispatch_free(fx->d);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    if (fx->sent)
        xmpp_stanza_release(fx->sent);
    xmpp_ctx_free(fx->ctx);
    free(fx);
    return 0;
}

/* Routes a get of <query xmlns=ns node=node/> to the component; returns the answer as text
 * (malloc'd). */
static char *ask(struct fx *fx, const char *ns, const char *node)
{
    char xml[512], *buf = NULL, *copy;
    size_t len = 0;
    xmpp_stanza_t *iq;
    int before = fx->n_sent;

    snprintf(xml, sizeof(xml),
             "<iq type='get' id='d1' from='" ASKER "' to='" ME "'>"
             "<query xmlns='%s'%s%s%s/></iq>",
             ns, node ? " node='" : "", node ? node : "", node ? "'" : "");
    iq = xmpp_stanza_new_from_string(fx->ctx, xml);
    assert_non_null(iq);
    /* set here: libstrophe's string parser keeps it as "lang", the daemon's as "xml:lang" */
    xmpp_stanza_set_attribute(iq, "xml:lang", "ko");
    dispatch_stanza(fx->d, iq);
    xmpp_stanza_release(iq);
    assert_int_equal(fx->n_sent, before + 1);
    assert_int_equal(xmpp_stanza_to_text(fx->sent, &buf, &len), XMPP_EOK);
    copy = strdup(buf);
    xmpp_free(fx->ctx, buf);
    return copy;
}

static void assert_has(const char *got, const char *want)
{
    if (strstr(got, want) == NULL)
        fail_msg("'%s' lacks '%s'", got, want);
}

static void test_root_info(void **state)
{
    char *r = ask(*state, NS_DISCO_INFO, NULL);

    assert_has(r, "type=\"result\"");
    assert_has(r, "<identity category=\"component\" type=\"generic\" name=\"imdomaind\"/>");
    assert_has(r, "<feature var=\"" NS_DISCO_INFO "\"/><feature var=\"" NS_DISCO_ITEMS
                  "\"/><feature var=\"urn:example:one\"/>");
    free(r);
}

/* The JID itself lists nothing: an empty result, not an error (XEP-0030 §4.2). */
static void test_root_items_empty(void **state)
{
    struct fx *fx = *state;
    char *r = ask(fx, NS_DISCO_ITEMS, NULL);
    xmpp_stanza_t *q = stanza_child(fx->sent, "query", NS_DISCO_ITEMS);

    assert_has(r, "type=\"result\"");
    assert_non_null(q);
    assert_null(stanza_first_element(q));
    assert_string_equal(fx->node, ""); /* the provider is not asked about the JID itself */
    free(r);
}

static void test_node_to_provider(void **state)
{
    struct fx *fx = *state;
    char *r = ask(fx, NS_DISCO_ITEMS, "cmds");

    assert_has(r, "type=\"result\"");
    assert_has(r, "<query xmlns=\"" NS_DISCO_ITEMS "\" node=\"cmds\"><item name=\"one\"/>");
    assert_string_equal(fx->node, "cmds");
    assert_string_equal(fx->lang, "ko");
    assert_int_equal(fx->items, 1);
    free(r);
    r = ask(fx, NS_DISCO_INFO, "cmds");
    assert_has(r, "<query xmlns=\"" NS_DISCO_INFO "\" node=\"cmds\"><identity name=\"one\"/>");
    assert_int_equal(fx->items, 0);
    free(r);
}

static void test_unknown_node(void **state)
{
    char *r = ask(*state, NS_DISCO_INFO, "nope");

    assert_has(r, "type=\"error\"");
    assert_has(r, "<item-not-found");
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_root_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_root_items_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_to_provider, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_node, setup, teardown),
    };

    log_set_level(LOG_LEVEL_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
