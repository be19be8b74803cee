/* Unit tests for ha/disable and ha/enable (component/cmd/cmd_ha.c) through the XEP-0050
 * framework on a real store: disabling the chosen groups records each node's sessions and
 * warns when [ha] settle_time is shorter than the guide's 2 minutes (English and Korean);
 * enabling is refused while a service is down (HA stays off) and then turns every group on;
 * on a full disk, each write failing in turn, ha/disable says nothing was changed and HA stays
 * on until the disk works. */
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
#include "tests/lib/store_fault.h"
#include "util/log.h"
#include "xmpp/stanza.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NODE_A "imp1.example.test"
#define NODE_B "imp2.example.test"
#define NODE_C "imp3.example.test"

/* g1 (imp1, imp2) and g2 (imp3), HA on in both, every service up. */
static int setup(void **state)
{
    struct cmd_fx *fx;

    log_set_level(LOG_LEVEL_ERROR);
    if (store_fault_install() != 0 || (fx = cmd_fx_open("cmdha", NULL)) == NULL)
        return -1;
    fx->cfg.settle_time = 60;
    fx->app.cfg = &fx->cfg;
    fx->at_once = true; /* as from a caller that cannot wait */
    assert_int_equal(cmd_ha_register(&fx->app), 0);
    assert_int_equal(store_group_insert(fx->app.store, "g1", true), STORE_OK);
    assert_int_equal(store_group_insert(fx->app.store, "g2", true), STORE_OK);
    add_node(fx, NODE_A, STORE_NODE_PUBLISHER, "g1");
    add_node(fx, NODE_B, STORE_NODE_SUBSCRIBER, "g1");
    add_node(fx, NODE_C, STORE_NODE_SUBSCRIBER, "g2");
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    store_fault_disarm();
    cmd_fx_close(*state);
    return 0;
}

/* ha/<what> in two stages: the form, then the submitted form with `groups` (NULL: none
 * chosen) and complete. The reply as text (malloc'd). */
static char *ha(struct cmd_fx *fx, const char *what, const char *lang, const char *groups)
{
    char node[32], sid[64], *fields = NULL, *text;
    xmpp_stanza_t *r;

    snprintf(node, sizeof(node), "ha/%s", what);
    r = req(fx, lang, node, NULL, "execute", NULL);
    expect_status(r, "executing", sid);
    xmpp_stanza_release(r);
    if (groups)
        assert_true(asprintf(&fields, "<field var='groups'>%s</field>", groups) > 0);
    r = req(fx, lang, node, sid, "complete", fields ? fields : "");
    free(fields);
    text = text_of(r);
    xmpp_stanza_release(r);
    return text;
}

static void assert_text(const char *text, const char *needle)
{
    if (strstr(text, needle) == NULL)
        fail_msg("'%s' not in: %s", needle, text);
}

static bool ha_on(struct cmd_fx *fx, const char *group)
{
    struct store_group g;
    bool on;

    assert_int_equal(store_group_get(fx->app.store, group, &g), STORE_OK);
    on = g.ha_enabled;
    store_group_clear(&g);
    return on;
}

static size_t recorded(struct cmd_fx *fx)
{
    struct store_recorded *r = NULL;
    size_t n = 0;

    assert_int_equal(store_recorded_list(fx->app.store, NULL, &r, &n), STORE_OK);
    store_recorded_list_free(r, n);
    return n;
}

static void test_disable_records_and_warns(void **state)
{
    struct cmd_fx *fx = *state;
    char *r = ha(fx, "disable", "en", "<value>g1</value>");

    assert_text(r, "status=\"completed\"");
    assert_text(r, "HA disabled on 1 group. Wait 60 s for the setting to sync");
    assert_text(r, "[ha] settle_time is 60 s, shorter than the guide's 2 minutes.");
    assert_text(r, "<value>" NODE_A "</value>");
    assert_text(r, "<value>" NODE_B "</value>");
    free(r);
    assert_false(ha_on(fx, "g1"));
    assert_true(ha_on(fx, "g2"));
    assert_int_equal(recorded(fx), 2);
    /* none chosen: every group; only g2 was still on */
    r = ha(fx, "disable", "ko", NULL);
    assert_text(r, "그룹 1개에서 HA를 껐습니다");
    assert_text(r, "[ha] settle_time이 60초로 가이드의 2분보다 짧습니다.");
    assert_text(r, "<value>" NODE_C "</value>");
    free(r);
    assert_false(ha_on(fx, "g2"));
    assert_int_equal(recorded(fx), 3);
}

static void test_enable_refused_then_done(void **state)
{
    struct cmd_fx *fx = *state;
    char *r = ha(fx, "disable", "en", NULL);

    free(r);
    assert_int_equal(
        store_service_set(fx->app.store, NODE_C, SERVICE_PRESENCE_ENGINE, "deactivated"), STORE_OK);
    r = ha(fx, "enable", "en", NULL);
    assert_text(r, "status=\"completed\"");
    assert_text(r, "<note type=\"error\">");
    assert_text(r, "presence-engine");
    assert_text(r, "<value>" NODE_C "</value>"); /* the numbers of every node come along */
    free(r);
    assert_false(ha_on(fx, "g1"));
    assert_false(ha_on(fx, "g2"));
    assert_int_equal(store_service_set(fx->app.store, NODE_C, SERVICE_PRESENCE_ENGINE, "activated"),
                     STORE_OK);
    r = ha(fx, "enable", "en", NULL);
    assert_text(r, "HA enabled on 2 groups.");
    free(r);
    assert_true(ha_on(fx, "g1"));
    assert_true(ha_on(fx, "g2"));
}

static void test_disable_disk_full(void **state)
{
    struct cmd_fx *fx = *state;
    int round = 0;

    for (;; round++) {
        assert_true(round < 50);
        store_fault_arm(STORE_FAULT_WRITE, STORE_FAULT_WAL, round, -1, SQLITE_FULL);
        char *r = ha(fx, "disable", "en", NULL);
        int hit = store_fault_hits();
        store_fault_disarm();
        if (strstr(r, "HA disabled on 2 groups.") != NULL) {
            free(r);
            break;
        }
        assert_true(hit > 0);
        assert_text(r, "The redundancy groups could not be read or written: see the daemon's log. "
                       "Nothing was changed.");
        free(r);
        assert_true(ha_on(fx, "g1"));
        assert_true(ha_on(fx, "g2"));
        assert_int_equal(recorded(fx), 0);
    }
    assert_true(round > 0);
    assert_false(ha_on(fx, "g1"));
    assert_false(ha_on(fx, "g2"));
    assert_int_equal(recorded(fx), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_disable_records_and_warns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enable_refused_then_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disable_disk_full, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
