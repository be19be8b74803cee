/* Unit tests for the XEP-0004 model (xmpp/form.c) and the language helpers it uses: building,
 * reading, copying and prefilling a form. */
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

static void test_i18n(void **state)
{
    static const struct text only_en = {"Hello", NULL};

    assert_true(i18n_is_korean("ko"));
    assert_true(i18n_is_korean("KO-kr"));
    assert_true(i18n_is_korean("ko-Kore-KR"));
    assert_true(i18n_is_korean("ko_KR"));
    assert_false(i18n_is_korean("kok"));
    assert_false(i18n_is_korean("en"));
    assert_false(i18n_is_korean(""));
    assert_false(i18n_is_korean(NULL));
    assert_string_equal(text_get(&T_DOMAIN, "ko"), "도메인");
    assert_string_equal(text_get(&T_DOMAIN, "en-GB"), "Domain");
    assert_string_equal(text_get(&only_en, "ko"), "Hello");
    assert_null(text_get(NULL, "ko"));
    assert_string_equal(i18n_tag("ko-KR"), "ko");
    assert_string_equal(i18n_tag(NULL), "en");
}

static void test_prefill_copy(void **state)
{
    form_t *shown = sample_form();
    form_t *vals = submit(state, OK_DOMAIN F("days", "9"), NULL, NULL);
    form_t *again = form_prefill(shown, vals);

    assert_string_equal(form_value(again, "domain"), "example.com");
    assert_string_equal(form_value(again, "days"), "9");
    assert_string_equal(form_value(again, "state"), "s1");
    assert_int_equal(form_field_option_count(form_field(again, "key_type")), 2);
    assert_true(form_wants_input(again));
    assert_string_equal(form_value(shown, "days"), "365"); /* the original is untouched */
    form_free(again);
    form_free(vals);
    /* A form of fixed and hidden fields asks for nothing. */
    form_t *info = form_new(FORM_FORM);
    form_add_fixed(info, &T_TITLE);
    form_add_field(info, "h", FIELD_HIDDEN, NULL);
    assert_false(form_wants_input(info));
    form_free(info);
    /* A duplicate var while building is reported and the first field reused. */
    form_field_t *d1 = form_field_mut(shown, "domain");
    assert_ptr_equal(form_add_field(shown, "domain", FIELD_BOOLEAN, NULL), d1);
    form_free(shown);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_i18n),
        cmocka_unit_test(test_prefill_copy),
    };
    log_set_level(LOG_LEVEL_ERROR); /* a duplicate field is logged */
    return cmocka_run_group_tests(tests, setup, teardown);
}
