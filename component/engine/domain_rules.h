/* IM address domain names: the guide's validity rules, normalisation to lower case, and a
 * sentence in English or Korean naming the rule a refused name breaks. */
#ifndef IMD_DOMAIN_RULES_H
#define IMD_DOMAIN_RULES_H

#include <stddef.h>

#define DOMAIN_NAME_MAX 255 /* characters, as the guide allows */
#define DOMAIN_LABEL_MAX 63 /* characters per dot-separated label, as DNS allows */
#define DOMAIN_NAME_BUF (DOMAIN_NAME_MAX + 1)
#define DOMAIN_PLACEHOLDER "DOMAIN.NOT.SET" /* the default domain before one is set */

/*
 * One value per rule. domain_rules_check() tests them in this order and reports the first that
 * fails, so a name that breaks several rules always gets the same answer.
 */
enum domain_rule {
    DOMAIN_OK = 0,
    DOMAIN_EMPTY,                 /* "" (or NULL) */
    DOMAIN_TOO_LONG,              /* more than DOMAIN_NAME_MAX characters */
    DOMAIN_BAD_CHAR,              /* anything but a-z A-Z 0-9 '-' '.' */
    DOMAIN_EMPTY_LABEL,           /* leading, trailing or doubled dot */
    DOMAIN_LABEL_TOO_LONG,        /* a label over DOMAIN_LABEL_MAX characters */
    DOMAIN_LABEL_LEADING_HYPHEN,  /* "-abc.com" */
    DOMAIN_LABEL_TRAILING_HYPHEN, /* "abc-.com": the guide is silent, DNS forbids it, so do we */
    DOMAIN_TLD_DIGIT,             /* "Abc.1om": the last label starts with a digit */
    DOMAIN_RESERVED,              /* DOMAIN.NOT.SET, in any case */
    /* Never returned by domain_rules_check(): the caller knows the cluster's domain set and
     * uses this value so that a duplicate is explained like every other refusal. */
    DOMAIN_DUPLICATE,
};

/*
 * Checks `name` (borrowed, NUL-terminated; NULL counts as empty). On DOMAIN_OK, writes the
 * lower-cased name to `normalized_out` (caller's buffer of at least DOMAIN_NAME_BUF bytes); on a
 * refusal writes "" there. `normalized_out` may be NULL when only the verdict is wanted.
 * Reads at most DOMAIN_NAME_MAX + 1 bytes of `name`, so a huge input costs nothing.
 */
enum domain_rule domain_rules_check(const char *name, char *normalized_out);

/*
 * As domain_rules_check(), and on a refusal stores in *pos (if not NULL) the byte offset in
 * `name` where the problem is: the bad character, the start of the offending label, or the
 * place of the empty label. Set to 0 for DOMAIN_OK, DOMAIN_EMPTY and DOMAIN_RESERVED.
 */
enum domain_rule domain_rules_check_at(const char *name, char *normalized_out, size_t *pos);

/*
 * A static sentence (never NULL, never freed) naming the rule, e.g. for DOMAIN_TLD_DIGIT
 * "the last label must not start with a digit". `lang` is a language tag or locale name:
 * anything starting with "ko" gives Korean (UTF-8), everything else (NULL too) English.
 */
const char *domain_rules_explain(enum domain_rule rule, const char *lang);

/* A short stable identifier of the rule for logs and the audit trail, e.g. "tld-digit". */
const char *domain_rules_name(enum domain_rule rule);

#endif
