/* IM address domain names: validity rules from the administration guide (plus the DNS rules it
 * leaves implicit), lower-case normalisation, and bilingual explanations of each refusal. */

#include "component/engine/domain_rules.h"

#include <string.h>
#include <strings.h>

struct rule_text {
    const char *name;
    const char *en;
    const char *ko;
};

/* Indexed by enum domain_rule. */
static const struct rule_text rule_texts[] = {
    [DOMAIN_OK] = {"ok", "the domain name is valid", "올바른 도메인 이름입니다"},
    [DOMAIN_EMPTY] = {"empty", "the domain name must not be empty",
                      "도메인 이름은 비워 둘 수 없습니다"},
    [DOMAIN_TOO_LONG] = {"too-long", "the domain name must be at most 255 characters long",
                         "도메인 이름은 최대 255자까지 입력할 수 있습니다"},
    [DOMAIN_BAD_CHAR] =
        {"bad-char",
         "only letters (a-z, A-Z), digits (0-9), hyphens (-) and dots (.) are "
         "allowed",
         "영문 대/소문자(a-zA-Z), 숫자(0-9), 하이픈(-), 점(.)만 사용할 수 있습니다"},
    [DOMAIN_EMPTY_LABEL] = {"empty-label",
                            "labels must not be empty: no leading, trailing or doubled dot",
                            "빈 레이블은 허용되지 않습니다. 이름은 점으로 시작하거나 끝날 수 "
                            "없고 점을 연달아 쓸 수 없습니다"},
    [DOMAIN_LABEL_TOO_LONG] = {"label-too-long", "each label must be 1 to 63 characters long",
                               "각 도메인 레이블은 1자에서 63자 사이여야 합니다"},
    [DOMAIN_LABEL_LEADING_HYPHEN] = {"label-leading-hyphen", "a label must not start with a hyphen",
                                     "도메인 레이블은 하이픈으로 시작할 수 없습니다"},
    [DOMAIN_LABEL_TRAILING_HYPHEN] = {"label-trailing-hyphen", "a label must not end with a hyphen",
                                      "도메인 레이블은 하이픈으로 끝날 수 없습니다"},
    [DOMAIN_TLD_DIGIT] = {"tld-digit", "the last label must not start with a digit",
                          "마지막 레이블(예: .com)은 숫자로 시작할 수 없습니다"},
    [DOMAIN_RESERVED] = {"reserved",
                         "DOMAIN.NOT.SET is a reserved placeholder and cannot be used as a domain",
                         "DOMAIN.NOT.SET은 예약된 자리 표시자이므로 도메인으로 사용할 수 "
                         "없습니다"},
    [DOMAIN_DUPLICATE] = {"duplicate",
                          "the domain name must be unique in the cluster (case is ignored)",
                          "도메인 이름은 클러스터에서 고유해야 합니다(대/소문자 구분 없음)"},
};

#define N_RULES (sizeof(rule_texts) / sizeof(rule_texts[0]))

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Deliberately locale-independent: isalnum() would accept more under some locales. */
static int is_allowed(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.';
}

static enum domain_rule check_chars(const char *name, size_t len, size_t *pos)
{
    for (size_t i = 0; i < len; i++) {
        if (!is_allowed((unsigned char)name[i])) {
            *pos = i;
            return DOMAIN_BAD_CHAR;
        }
    }
    return DOMAIN_OK;
}

/* Applies one label rule to every label in turn; labels are [start, end). */
static enum domain_rule check_label(const char *name, size_t start, size_t end,
                                    enum domain_rule rule)
{
    size_t n = end - start;

    switch (rule) {
    case DOMAIN_EMPTY_LABEL:
        return n == 0 ? rule : DOMAIN_OK;
    case DOMAIN_LABEL_TOO_LONG:
        return n > DOMAIN_LABEL_MAX ? rule : DOMAIN_OK;
    case DOMAIN_LABEL_LEADING_HYPHEN:
        return name[start] == '-' ? rule : DOMAIN_OK;
    case DOMAIN_LABEL_TRAILING_HYPHEN:
        return name[end - 1] == '-' ? rule : DOMAIN_OK;
    default:
        return DOMAIN_OK;
    }
}

static enum domain_rule check_labels(const char *name, size_t len, enum domain_rule rule,
                                     size_t *pos)
{
    size_t start = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i < len && name[i] != '.')
            continue;
        if (check_label(name, start, i, rule) != DOMAIN_OK) {
            *pos = start;
            return rule;
        }
        start = i + 1;
    }
    return DOMAIN_OK;
}

static enum domain_rule check_structure(const char *name, size_t len, size_t *pos)
{
    static const enum domain_rule label_rules[] = {
        DOMAIN_EMPTY_LABEL,
        DOMAIN_LABEL_TOO_LONG,
        DOMAIN_LABEL_LEADING_HYPHEN,
        DOMAIN_LABEL_TRAILING_HYPHEN,
    };
    const char *last;

    for (size_t i = 0; i < sizeof(label_rules) / sizeof(label_rules[0]); i++) {
        if (check_labels(name, len, label_rules[i], pos) != DOMAIN_OK)
            return label_rules[i];
    }
    last = strrchr(name, '.');
    last = last ? last + 1 : name;
    if (is_digit((unsigned char)*last)) {
        *pos = (size_t)(last - name);
        return DOMAIN_TLD_DIGIT;
    }
    return DOMAIN_OK;
}

static enum domain_rule check_name(const char *name, size_t *pos)
{
    size_t len;
    enum domain_rule rule;

    *pos = 0;
    if (name == NULL || name[0] == '\0')
        return DOMAIN_EMPTY;
    len = strnlen(name, DOMAIN_NAME_MAX + 1);
    if (len > DOMAIN_NAME_MAX) {
        *pos = DOMAIN_NAME_MAX;
        return DOMAIN_TOO_LONG;
    }
    if ((rule = check_chars(name, len, pos)) != DOMAIN_OK)
        return rule;
    if ((rule = check_structure(name, len, pos)) != DOMAIN_OK)
        return rule;
    if (strcasecmp(name, DOMAIN_PLACEHOLDER) == 0)
        return DOMAIN_RESERVED;
    return DOMAIN_OK;
}

enum domain_rule domain_rules_check_at(const char *name, char *normalized_out, size_t *pos)
{
    size_t where, i;
    enum domain_rule rule = check_name(name, &where);

    if (pos != NULL)
        *pos = where;
    if (normalized_out == NULL)
        return rule;
    normalized_out[0] = '\0';
    if (rule != DOMAIN_OK)
        return rule;
    for (i = 0; name[i] != '\0'; i++) {
        unsigned char c = (unsigned char)name[i];
        normalized_out[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    normalized_out[i] = '\0';
    return rule;
}

enum domain_rule domain_rules_check(const char *name, char *normalized_out)
{
    return domain_rules_check_at(name, normalized_out, NULL);
}

const char *domain_rules_explain(enum domain_rule rule, const char *lang)
{
    const struct rule_text *t;

    if ((size_t)rule >= N_RULES)
        return lang != NULL && strncasecmp(lang, "ko", 2) == 0 ? "알 수 없는 규칙입니다"
                                                               : "unknown rule";
    t = &rule_texts[rule];
    return lang != NULL && strncasecmp(lang, "ko", 2) == 0 ? t->ko : t->en;
}

const char *domain_rules_name(enum domain_rule rule)
{
    if ((size_t)rule >= N_RULES)
        return "unknown";
    return rule_texts[rule].name;
}
