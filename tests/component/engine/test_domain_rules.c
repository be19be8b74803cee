/* Unit tests for component/domain_rules: every example of the guide, the exact rule each
 * refused name breaks, normalisation, and the English and Korean explanations. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "component/engine/domain_rules.h"

struct name_case {
    const char *name;
    enum domain_rule rule;
    const char *normalized; /* for DOMAIN_OK */
    size_t pos;             /* for refusals: where the problem is */
};

/* Names built at run time: long labels and long names. */
static char label63[64], label64[65], name255[256], name256[257], name1000[1001];
static char long_bad_char[257], long_label_mid[80];

static void build_long_names(void)
{
    memset(label63, 'a', 63);
    label63[63] = '\0';
    memset(label64, 'b', 64);
    label64[64] = '\0';
    /* Four 63-character labels and three dots: exactly 255 characters. */
    snprintf(name255, sizeof(name255), "%s.%s.%s.%s", label63, label63, label63, label63);
    name255[0] = 'Z';
    memcpy(name256, name255, 255);
    name256[255] = 'x';
    name256[256] = '\0';
    memset(name1000, 'c', 1000);
    name1000[1000] = '\0';
    memset(long_bad_char, 'd', 256);
    long_bad_char[10] = '_';
    long_bad_char[256] = '\0';
    snprintf(long_label_mid, sizeof(long_label_mid), "im.%s.com", label64);
}

static const char *lower(const char *s, char *buf)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++)
        buf[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
    buf[i] = '\0';
    return buf;
}

static void check_case(const struct name_case *c)
{
    char out[DOMAIN_NAME_BUF];
    size_t pos = 12345;
    enum domain_rule got;

    memcpy(out, "junk", 5);
    got = domain_rules_check_at(c->name, out, &pos);
    if (got != c->rule)
        fail_msg("\"%.40s\": got %s, want %s", c->name ? c->name : "(null)", domain_rules_name(got),
                 domain_rules_name(c->rule));
    if (c->rule == DOMAIN_OK) {
        assert_string_equal(out, c->normalized);
        assert_int_equal(pos, 0);
    } else {
        assert_string_equal(out, "");
        if (pos != c->pos)
            fail_msg("\"%.40s\": position %zu, want %zu", c->name, pos, c->pos);
    }
    /* The short form agrees and accepts a NULL output buffer. */
    assert_int_equal(domain_rules_check(c->name, NULL), c->rule);
}

static void test_guide_examples(void **state)
{
    static const struct name_case cases[] = {
        /* "Abc.1om is an example of an invalid domain" */
        {"Abc.1om", DOMAIN_TLD_DIGIT, NULL, 4},
        /* Its valid counterpart, upper case allowed and normalised. */
        {"Abc.com", DOMAIN_OK, "abc.com", 0},
        /* The installer's placeholder may not be added (any case). */
        {"DOMAIN.NOT.SET", DOMAIN_RESERVED, NULL, 0},
        {"domain.not.set", DOMAIN_RESERVED, NULL, 0},
        {"Domain.Not.Set", DOMAIN_RESERVED, NULL, 0},
        /* "A domain label cannot start with a hyphen." */
        {"-abc.com", DOMAIN_LABEL_LEADING_HYPHEN, NULL, 0},
        {"abc.-com", DOMAIN_LABEL_LEADING_HYPHEN, NULL, 4},
        /* "Allowed values are a-zA-Z, 0-9, hyphen and dot." */
        {"example.com", DOMAIN_OK, "example.com", 0},
        {"a_b.com", DOMAIN_BAD_CHAR, NULL, 1},
        /* "The last label (for example .com) must not start with a digit." */
        {"example.123", DOMAIN_TLD_DIGIT, NULL, 8},
        {"example.c0m", DOMAIN_OK, "example.c0m", 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_case(&cases[i]);
}

static void test_valid_names(void **state)
{
    char want[DOMAIN_NAME_BUF];
    const struct name_case cases[] = {
        {"Example.COM", DOMAIN_OK, "example.com", 0},
        {"localhost", DOMAIN_OK, "localhost", 0},
        {"a", DOMAIN_OK, "a", 0},
        {"Z", DOMAIN_OK, "z", 0},
        {"im.example.test", DOMAIN_OK, "im.example.test", 0},
        {"xn--bcher-kva.example", DOMAIN_OK, "xn--bcher-kva.example", 0},
        {"a-b.c-d", DOMAIN_OK, "a-b.c-d", 0},
        {"x--y.com", DOMAIN_OK, "x--y.com", 0},
        {"1abc.com", DOMAIN_OK, "1abc.com", 0},
        {"123.example.com", DOMAIN_OK, "123.example.com", 0},
        {"cisco.com", DOMAIN_OK, "cisco.com", 0},
        {"A.B.C.D.E", DOMAIN_OK, "a.b.c.d.e", 0},
        {"sub.Domain.example.ORG", DOMAIN_OK, "sub.domain.example.org", 0},
        {"domain.not.set.example", DOMAIN_OK, "domain.not.set.example", 0},
        {"not.set", DOMAIN_OK, "not.set", 0},
        {"example.c-9", DOMAIN_OK, "example.c-9", 0},
        {label63, DOMAIN_OK, label63, 0},
        {name255, DOMAIN_OK, lower(name255, want), 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_case(&cases[i]);
}

static void test_invalid_names(void **state)
{
    const struct name_case cases[] = {
        {"", DOMAIN_EMPTY, NULL, 0},
        {NULL, DOMAIN_EMPTY, NULL, 0},
        {name256, DOMAIN_TOO_LONG, NULL, 255},
        {name1000, DOMAIN_TOO_LONG, NULL, 255},
        {long_bad_char, DOMAIN_TOO_LONG, NULL, 255},
        {"exa mple.com", DOMAIN_BAD_CHAR, NULL, 3},
        {"example.com/", DOMAIN_BAD_CHAR, NULL, 11},
        {"user@example.com", DOMAIN_BAD_CHAR, NULL, 4},
        {"ex*ample.com", DOMAIN_BAD_CHAR, NULL, 2},
        {"b\303\274cher.de", DOMAIN_BAD_CHAR, NULL, 1},
        {"example.com\t", DOMAIN_BAD_CHAR, NULL, 11},
        {"[::1]", DOMAIN_BAD_CHAR, NULL, 0},
        {"*.example.com", DOMAIN_BAD_CHAR, NULL, 0},
        {".example.com", DOMAIN_EMPTY_LABEL, NULL, 0},
        {"example.com.", DOMAIN_EMPTY_LABEL, NULL, 12},
        {"example..com", DOMAIN_EMPTY_LABEL, NULL, 8},
        {".", DOMAIN_EMPTY_LABEL, NULL, 0},
        {"..", DOMAIN_EMPTY_LABEL, NULL, 0},
        {label64, DOMAIN_LABEL_TOO_LONG, NULL, 0},
        {long_label_mid, DOMAIN_LABEL_TOO_LONG, NULL, 3},
        {"-", DOMAIN_LABEL_LEADING_HYPHEN, NULL, 0},
        {"abc-.com", DOMAIN_LABEL_TRAILING_HYPHEN, NULL, 0},
        {"abc.com-", DOMAIN_LABEL_TRAILING_HYPHEN, NULL, 4},
        {"im.a-.example", DOMAIN_LABEL_TRAILING_HYPHEN, NULL, 3},
        {"1.2.3.4", DOMAIN_TLD_DIGIT, NULL, 6},
        {"9", DOMAIN_TLD_DIGIT, NULL, 0},
        {"example.1", DOMAIN_TLD_DIGIT, NULL, 8},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_case(&cases[i]);
}

/* A name breaking several rules gets the first in the documented order. */
static void test_rule_order(void **state)
{
    static const struct name_case cases[] = {
        {"a_b..c", DOMAIN_BAD_CHAR, NULL, 1},
        {"-a..b", DOMAIN_EMPTY_LABEL, NULL, 3},
        {"-abc.1om", DOMAIN_LABEL_LEADING_HYPHEN, NULL, 0},
        {"abc.-1om", DOMAIN_LABEL_LEADING_HYPHEN, NULL, 4},
        {"abc.1om-", DOMAIN_LABEL_TRAILING_HYPHEN, NULL, 4},
        {"-abc-.com", DOMAIN_LABEL_LEADING_HYPHEN, NULL, 0},
        {"DOMAIN.NOT.SET.", DOMAIN_EMPTY_LABEL, NULL, 15},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_case(&cases[i]);
}

/* Every single byte as a one-character name: only letters pass. */
static void test_every_byte(void **state)
{
    char name[2] = {0, 0};
    char out[DOMAIN_NAME_BUF];

    for (int c = 1; c < 256; c++) {
        enum domain_rule want;

        name[0] = (char)c;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            want = DOMAIN_OK;
        else if (c >= '0' && c <= '9')
            want = DOMAIN_TLD_DIGIT;
        else if (c == '-')
            want = DOMAIN_LABEL_LEADING_HYPHEN;
        else if (c == '.')
            want = DOMAIN_EMPTY_LABEL;
        else
            want = DOMAIN_BAD_CHAR;
        if (domain_rules_check(name, out) != want)
            fail_msg("byte 0x%02x: got %s", c, domain_rules_name(domain_rules_check(name, out)));
    }
}

static void test_normalized_is_stable(void **state)
{
    char out[DOMAIN_NAME_BUF], again[DOMAIN_NAME_BUF];

    assert_int_equal(domain_rules_check(name255, out), DOMAIN_OK);
    assert_int_equal(strlen(out), 255);
    assert_int_equal(domain_rules_check(out, again), DOMAIN_OK);
    assert_string_equal(out, again);
}

static void test_explain_examples(void **state)
{
    assert_string_equal(domain_rules_explain(DOMAIN_TLD_DIGIT, "en"),
                        "the last label must not start with a digit");
    assert_string_equal(domain_rules_explain(DOMAIN_TLD_DIGIT, "ko"),
                        "마지막 레이블(예: .com)은 숫자로 시작할 수 없습니다");
    assert_string_equal(domain_rules_explain(DOMAIN_LABEL_LEADING_HYPHEN, "en"),
                        "a label must not start with a hyphen");
    assert_string_equal(domain_rules_explain(DOMAIN_LABEL_LEADING_HYPHEN, "ko"),
                        "도메인 레이블은 하이픈으로 시작할 수 없습니다");
    assert_string_equal(domain_rules_explain(DOMAIN_TOO_LONG, "en"),
                        "the domain name must be at most 255 characters long");
    assert_string_equal(domain_rules_explain(DOMAIN_TOO_LONG, "ko"),
                        "도메인 이름은 최대 255자까지 입력할 수 있습니다");
    assert_non_null(strstr(domain_rules_explain(DOMAIN_RESERVED, "en"), "DOMAIN.NOT.SET"));
    assert_non_null(strstr(domain_rules_explain(DOMAIN_RESERVED, "ko"), "DOMAIN.NOT.SET"));
    assert_non_null(strstr(domain_rules_explain(DOMAIN_BAD_CHAR, "en"), "a-z, A-Z"));
    assert_non_null(strstr(domain_rules_explain(DOMAIN_BAD_CHAR, "ko"), "a-zA-Z"));
}

static void test_explain_languages(void **state)
{
    const char *ko = domain_rules_explain(DOMAIN_EMPTY_LABEL, "ko");
    const char *en = domain_rules_explain(DOMAIN_EMPTY_LABEL, "en");

    assert_string_not_equal(ko, en);
    assert_string_equal(domain_rules_explain(DOMAIN_EMPTY_LABEL, "ko-KR"), ko);
    assert_string_equal(domain_rules_explain(DOMAIN_EMPTY_LABEL, "ko_KR.UTF-8"), ko);
    assert_string_equal(domain_rules_explain(DOMAIN_EMPTY_LABEL, "KO"), ko);
    assert_string_equal(domain_rules_explain(DOMAIN_EMPTY_LABEL, NULL), en);
    assert_string_equal(domain_rules_explain(DOMAIN_EMPTY_LABEL, "fr"), en);
    assert_string_equal(domain_rules_explain(DOMAIN_EMPTY_LABEL, "en-GB"), en);
    assert_string_equal(domain_rules_explain(DOMAIN_EMPTY_LABEL, ""), en);
}

/* Every rule has its own sentence in both languages and its own short name. */
static void test_explain_every_rule(void **state)
{
    const enum domain_rule last = DOMAIN_DUPLICATE;

    for (int a = DOMAIN_OK; a <= (int)last; a++) {
        const char *en = domain_rules_explain((enum domain_rule)a, "en");
        const char *ko = domain_rules_explain((enum domain_rule)a, "ko");

        assert_true(strlen(en) > 10);
        assert_true(strlen(ko) > 10);
        assert_string_not_equal(en, ko);
        /* Korean text is UTF-8 with Hangul, which starts with a byte of at least 0xea. */
        assert_true(strchr(ko, '\xeb') != NULL || strchr(ko, '\xec') != NULL ||
                    strchr(ko, '\xea') != NULL || strchr(ko, '\xed') != NULL);
        for (int b = a + 1; b <= (int)last; b++) {
            assert_string_not_equal(en, domain_rules_explain((enum domain_rule)b, "en"));
            assert_string_not_equal(ko, domain_rules_explain((enum domain_rule)b, "ko"));
            assert_string_not_equal(domain_rules_name((enum domain_rule)a),
                                    domain_rules_name((enum domain_rule)b));
        }
    }
    assert_string_equal(domain_rules_name(DOMAIN_TLD_DIGIT), "tld-digit");
    assert_string_equal(domain_rules_name((enum domain_rule)99), "unknown");
    assert_string_equal(domain_rules_explain((enum domain_rule)99, "en"), "unknown rule");
    assert_non_null(domain_rules_explain((enum domain_rule)99, "ko"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* verdicts */
        cmocka_unit_test(test_guide_examples),
        cmocka_unit_test(test_valid_names),
        cmocka_unit_test(test_invalid_names),
        cmocka_unit_test(test_rule_order),
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_normalized_is_stable),
        /* explanations */
        cmocka_unit_test(test_explain_examples),
        cmocka_unit_test(test_explain_languages),
        cmocka_unit_test(test_explain_every_rule),
    };

    build_long_names();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
