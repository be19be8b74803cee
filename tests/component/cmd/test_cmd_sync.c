/* Unit tests for sync/audit (component/cmd/cmd_sync.c, the notes of component/engine/sync.c)
 * through the XEP-0050 framework on a store in a temporary directory (tests/lib/cmd_fixture), with
 * odd data: directory URIs whose domain breaks the naming rules (skipped, with a warning that says
 * how to fix them), an admin-managed domain the users now need (flipped to system-managed), a user
 * without a directory URI; the counts in the answer, in English and Korean; a second run has
 * nothing to do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "component/cmd/commands.h"
#include "store/store_domain.h"
#include "store/store_user.h"
#include "tests/lib/cmd_fixture.h"
#include "util/log.h"

static int setup(void **state)
{
    return cmd_fx_setup(state, "cmd-sync", NULL, cmd_sync_register);
}

/* sync/audit in `lang`: answered at once, as there is no router to apply to. */
static xmpp_stanza_t *audit(struct cmd_fx *fx, const char *lang)
{
    xmpp_stanza_t *r = req(fx, lang, "sync/audit", NULL, "execute", NULL);

    assert_false(fx->deferred);
    return r;
}

static void test_odd_data(void **state)
{
    struct cmd_fx *fx = *state;
    struct store_domain d;
    xmpp_stanza_t *r;

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
    xmpp_stanza_release(r);
    assert_int_equal(store_domain_exists(fx->app.store, "new.example"), STORE_OK);
    assert_int_equal(store_domain_exists(fx->app.store, "abc.1om"), STORE_NOTFOUND);
    assert_int_equal(store_domain_get(fx->app.store, "corp.example", &d), STORE_OK);
    assert_int_equal(d.managed_by, STORE_MANAGED_SYSTEM);
    store_domain_clear(&d);
    /* again, in Korean: nothing to change, the bad URI still reported */
    r = audit(fx, "ko");
    assert_has(r, "변경할 내용이 없습니다");
    assert_has(r, "사용자의 디렉터리 URI를 고친 뒤(users/import) 감사를 다시 실행하십시오.");
    xmpp_stanza_release(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_odd_data, setup, cmd_fx_teardown),
    };
    log_set_level(LOG_LEVEL_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
