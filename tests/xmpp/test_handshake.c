/* Unit tests for the XEP-0114 handshake digest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "xmpp/handshake.h"

static void test_xep0114_vector(void **state)
{
    char out[HANDSHAKE_DIGEST_LEN + 1];

    /* The example in XEP-0114 section 3. */
    assert_int_equal(handshake_digest("3BF96D32", "test", out), 0);
    assert_string_equal(out, "aaee83c26aeeafcbabeabfcbcd50df997e0a2a1e");
}

static void test_lower_case_and_empty(void **state)
{
    char out[HANDSHAKE_DIGEST_LEN + 1];

    assert_int_equal(handshake_digest("", "", out), 0);
    assert_string_equal(out, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    for (int i = 0; i < HANDSHAKE_DIGEST_LEN; i++)
        assert_false(out[i] >= 'A' && out[i] <= 'F');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xep0114_vector),
        cmocka_unit_test(test_lower_case_and_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
