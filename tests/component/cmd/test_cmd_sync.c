/* Unit tests for sync/audit (component/cmd/cmd_sync.c, the notes of component/engine/sync.c)
 * through the XEP-0050 framework on an in-memory store, with odd data: directory URIs whose
 * domain breaks the naming rules (skipped, with a warning that says how to fix them), an
 * admin-managed domain the users now need (flipped to system-managed), a user without a
 * directory URI; the counts in the answer, in English and Korean; a second run has nothing to
 * do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "component/app.h"
#include "component/cmd/commands.h"
#include "store/store_domain.h"
#include "store/store_user.h"
#include "util/log.h"
#include "xmpp/stanza.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN "admin@example.com/laptop"

struct fx {
    uv_loop_t loop;
    struct app app;
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    char *err = NULL;

    log_set_level(LOG_LEVEL_ERROR);
    uv_loop_init(&fx->loop);
    fx->app.loop = &fx->loop;
    fx->app.ctx = xmpp_ctx_new(NULL, NULL);
    fx->app.store = store_open(":memory:", &err);
    fx->app.adhoc = adhoc_new(fx->app.ctx, NULL);
    if (fx->app.store == NULL || cmd_sync_register(&fx->app) < 0)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    adhoc_free(fx->app.adhoc);
    store_close(fx->app.store);
    xmpp_ctx_free(fx->app.ctx);
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    free(fx);
    return 0;
}

/* sync/audit in `lang`; the reply as text (malloc'd). */
static char *audit(struct fx *fx, const char *lang)
{
    char xml[512], *buf = NULL, *copy;
    size_t len = 0;
    xmpp_stanza_t *iq, *r;

    snprintf(xml, sizeof(xml),
             "<iq type='set' id='q1' from='" ADMIN "' to='imd.example' xml:lang='%s'>"
             "<command xmlns='http://jabber.org/protocol/commands' node='sync/audit' "
             "action='execute'/></iq>",
             lang);
    iq = xmpp_stanza_new_from_string(fx->app.ctx, xml);
    assert_non_null(iq);
    r = adhoc_handle(fx->app.adhoc, iq, ADMIN, true);
    xmpp_stanza_release(iq);
    assert_non_null(r);
    assert_int_equal(xmpp_stanza_to_text(r, &buf, &len), XMPP_EOK);
    copy = strdup(buf);
    xmpp_free(fx->app.ctx, buf);
    xmpp_stanza_release(r);
    return copy;
}

static void assert_has(const char *text, const char *needle)
{
    if (strstr(text, needle) == NULL)
        fail_msg("'%s' not in: %s", needle, text);
}

static void test_odd_data(void **state)
{
    struct fx *fx = *state;
    struct store_domain d;
    char *r;

    assert_int_equal(store_domain_insert(fx->app.store, "corp.example", STORE_MANAGED_ADMIN, true),
                     STORE_OK);
    assert_int_equal(store_user_upsert(fx->app.store, "ann", "ann@corp.example", NULL, NULL),
                     STORE_OK);
    assert_int_equal(store_user_upsert(fx->app.store, "bob", "bob@new.example", NULL, NULL),
                     STORE_OK);
    assert_int_equal(store_user_upsert(fx->app.store, "cy", "cy@abc.1om", NULL, NULL), STORE_OK);
    assert_int_equal(store_user_upsert(fx->app.store, "dee", NULL, NULL, NULL), STORE_OK);
    r = audit(fx, "en");
    assert_has(r, "status=\"completed\"");
    assert_has(r, "Sync audit: 1 domain(s) added, 0 peer-only domain(s) now also local, 1 "
                  "flipped admin-managed to system-managed, 0 flipped system-managed to "
                  "admin-managed.");
    assert_has(r, "<note type=\"warn\">Some directory URIs have a domain part that breaks the "
                  "domain name rules; those domains were not added.");
    assert_has(r, "<value>abc.1om</value>");
    free(r);
    assert_int_equal(store_domain_exists(fx->app.store, "new.example"), STORE_OK);
    assert_int_equal(store_domain_exists(fx->app.store, "abc.1om"), STORE_NOTFOUND);
    assert_int_equal(store_domain_get(fx->app.store, "corp.example", &d), STORE_OK);
    assert_int_equal(d.managed_by, STORE_MANAGED_SYSTEM);
    store_domain_clear(&d);
    /* again, in Korean: nothing to change, the bad URI still reported */
    r = audit(fx, "ko");
    assert_has(r, "변경할 내용이 없습니다");
    assert_has(r, "사용자의 디렉터리 URI를 고친 뒤(users/import) 감사를 다시 실행하십시오.");
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_odd_data, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
