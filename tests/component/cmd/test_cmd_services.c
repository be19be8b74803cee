/* Unit tests for the services command (component/cmd/cmd_services.c) through the XEP-0050
 * framework on a real store, services without hooks: the form shows each service's state (not
 * the "stopped by imdomaind" marks); the guide's failover rule refuses to take services down on
 * a node whose group has HA on (English and Korean), nothing changed, unless the admin ticks
 * "fail over on purpose"; bringing services up is never refused; a plan that does not suit the
 * services (activate a network service) brings the form back with the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "component/app.h"
#include "component/cmd/commands.h"
#include "component/config.h"
#include "component/engine/services.h"
#include "store/store_topo.h"
#include "tests/lib/cmd_fixture.h"
#include "util/log.h"
#include "xmpp/stanza.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NODE_A "imp1.example.test"
#define NODE_B "imp2.example.test"
#define NODE_C "imp3.example.test"
#define F(var, v) "<field var='" var "'><value>" v "</value></field>"

/* g1 (imp1, imp2) with HA on, g2 (imp3) with HA off; every service up. */
static int setup(void **state)
{
    struct cmd_fx *fx;

    log_set_level(LOG_LEVEL_ERROR);
    if ((fx = cmd_fx_open("cmdsv", NULL)) == NULL)
        return -1;
    fx->app.cfg = &fx->cfg;
    fx->at_once = true; /* as from a caller that cannot wait */
    fx->app.services = services_new(&fx->app);
    assert_int_equal(cmd_services_register(&fx->app), 0);
    assert_int_equal(store_group_insert(fx->app.store, "g1", true), STORE_OK);
    assert_int_equal(store_group_insert(fx->app.store, "g2", false), STORE_OK);
    add_node(fx, NODE_A, STORE_NODE_PUBLISHER, "g1");
    add_node(fx, NODE_B, STORE_NODE_SUBSCRIBER, "g1");
    add_node(fx, NODE_C, STORE_NODE_SUBSCRIBER, "g2");
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    cmd_fx_close(*state);
    return 0;
}

/* The form (stage 0, its text into *form when asked), then `fields` with complete. The reply as
 * text (malloc'd). */
static char *services(struct cmd_fx *fx, const char *lang, const char *fields, char **form)
{
    char sid[64], *text;
    xmpp_stanza_t *r = req(fx, lang, "services", NULL, "execute", NULL);
    xmpp_stanza_t *cmd = stanza_child(r, "command", NS_COMMANDS);

    assert_non_null(cmd);
    snprintf(sid, sizeof(sid), "%s", xmpp_stanza_get_attribute(cmd, "sessionid"));
    if (form != NULL)
        *form = text_of(r);
    xmpp_stanza_release(r);
    r = req(fx, lang, "services", sid, "complete", fields);
    text = text_of(r);
    xmpp_stanza_release(r);
    return text;
}

static void assert_text(char *text, const char *needle, bool present)
{
    if ((strstr(text, needle) != NULL) != present)
        fail_msg("'%s' %s in: %s", needle, present ? "not" : "unexpectedly", text);
}

static const char *state_of(struct cmd_fx *fx, const char *node, const char *service)
{
    static char buf[32];
    struct store_service s;

    assert_int_equal(store_service_get(fx->app.store, node, service, &s), STORE_OK);
    snprintf(buf, sizeof(buf), "%s", s.state);
    store_service_clear(&s);
    return buf;
}

#define STOP_ROUTER_A_C                                                                            \
    "<field var='nodes'><value>" NODE_A "</value><value>" NODE_C                                   \
    "</value></field>" F("services", "xcp-router") F("operation", "stop")

static void test_stop_refused_under_ha(void **state)
{
    struct cmd_fx *fx = *state;
    char *form = NULL, *r = services(fx, "en", STOP_ROUTER_A_C, &form);

    assert_text(form, NODE_A " xcp-router: running", true);
    assert_text(form, "var=\"failover\"", true);
    assert_text(r, "status=\"completed\"", true);
    assert_text(r,
                "HA is on for the redundancy group of " NODE_A " (g1): 'Stop' takes services "
                "down there, which causes a failover.",
                true);
    assert_text(r, NODE_C " (g2)", false); /* HA is off there */
    assert_text(r, "Nothing was changed.", true);
    free(form);
    free(r);
    assert_string_equal(state_of(fx, NODE_A, "xcp-router"), "running");
    assert_string_equal(state_of(fx, NODE_C, "xcp-router"), "running");
    /* every node (none chosen) in Korean: both of g1 named */
    r = services(fx, "ko", F("operation", "stop-all"), NULL);
    assert_text(r, "HA가 켜진 이중화 그룹의 노드입니다: " NODE_A " (g1), " NODE_B " (g1)", true);
    free(r);
    assert_string_equal(state_of(fx, NODE_C, "sip-proxy"), "activated");
}

static void test_failover_on_purpose(void **state)
{
    struct cmd_fx *fx = *state;
    char *form = NULL, *r = services(fx, "en", STOP_ROUTER_A_C F("failover", "true"), NULL);

    assert_text(r, "6 actions done.", true); /* the router and the two services on it, twice */
    free(r);
    assert_string_equal(state_of(fx, NODE_A, "xcp-router"), "stopped");
    assert_string_equal(state_of(fx, NODE_A, "sync-agent"), "stopped");
    assert_string_equal(state_of(fx, NODE_C, "client-profile-agent"), "stopped");
    assert_string_equal(state_of(fx, NODE_B, "xcp-router"), "running");
    /* the form lists the states, not the "stopped by imdomaind" marks */
    r = services(fx, "en",
                 "<field var='nodes'><value>" NODE_A "</value></field><field "
                 "var='services'><value>xcp-router</value><value>sync-agent</value><value>"
                 "client-profile-agent</value></field>" F("operation", "start"),
                 &form);
    assert_text(form, NODE_A " xcp-router: stopped", true);
    assert_text(form, SERVICES_MARK_PREFIX, false);
    /* starting is never refused, HA or not */
    assert_text(r, "3 actions done.", true);
    free(form);
    free(r);
    assert_string_equal(state_of(fx, NODE_A, "xcp-router"), "running");
}

static void test_plan_refused(void **state)
{
    struct cmd_fx *fx = *state;
    char *r = services(fx, "en",
                       "<field var='nodes'><value>" NODE_C
                       "</value></field>" F("services", "xcp-router") F("operation", "activate"),
                       NULL);

    /* the form comes back with the reason, to choose again */
    assert_text(r, "status=\"executing\"", true);
    assert_text(r, "<note type=\"error\">start, stop and restart apply to the network services",
                true);
    free(r);
    assert_string_equal(state_of(fx, NODE_C, "xcp-router"), "running");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stop_refused_under_ha, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failover_on_purpose, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plan_refused, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
