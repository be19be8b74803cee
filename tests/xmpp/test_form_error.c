/* Unit tests for the error sentences of a refused form (xmpp/form_error.c): Korean, and
 * shortened quotes of long values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/lib/form_fixture.h"
#include "util/log.h"
#include "xmpp/form.h"
#include "xmpp/form_check.h"
#include "xmpp/form_error.h"
#include "xmpp/form_parse.h"
#include "xmpp/form_render.h"
#include "xmpp/i18n.h"
#include "xmpp/stanza.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int setup(void **state)
{
    *state = xmpp_ctx_new(NULL, NULL);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    xmpp_ctx_free(*state);
    return 0;
}

static void test_errors_korean(void **state)
{
    char *why = NULL;

    assert_null(submit(state, F("days", "0"), &why, "ko"));
    assert_string_equal(why,
                        "필드 'domain'(도메인): 필수 항목입니다; 필드 'days'(유효 기간(일)): 1 "
                        "이상 3650 이하의 정수여야 합니다");
    free(why);
    assert_null(submit(state, OK_DOMAIN F("admin", "x@@y"), &why, "ko-KR"));
    assert_string_equal(why, "필드 'admin': 'x@@y'은(는) 올바른 JID가 아닙니다");
    free(why);
}

static void test_long_value_in_error(void **state)
{
    char fields[512], *why = NULL;
    char longv[200];

    memset(longv, 'z', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = '\0';
    snprintf(fields, sizeof(fields), OK_DOMAIN "<field var='days'><value>%s</value></field>",
             longv);
    assert_null(submit(state, fields, &why, NULL));
    assert_contains(why, "zzz...' is not a whole number");
    assert_true(strlen(why) < 150);
    free(why);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors_korean),
        cmocka_unit_test(test_long_value_in_error),
    };
    log_set_level(LOG_LEVEL_ERROR); /* a duplicate field is logged */
    return cmocka_run_group_tests(tests, setup, teardown);
}
