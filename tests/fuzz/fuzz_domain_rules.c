/* libFuzzer target for component/domain_rules: any input gets exactly one verdict, and an
 * accepted name normalises to a lower-case name of the same length that is accepted again. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "component/engine/domain_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_accepted(const char *name, const char *out, size_t pos)
{
    char again[DOMAIN_NAME_BUF];
    size_t len = strlen(name);

    if (pos != 0 || strlen(out) != len || len > DOMAIN_NAME_MAX)
        abort();
    for (size_t i = 0; i < len; i++) {
        if (out[i] >= 'A' && out[i] <= 'Z')
            abort();
        if ((out[i] | 0x20) != (name[i] | 0x20))
            abort();
    }
    if (domain_rules_check(out, again) != DOMAIN_OK || strcmp(out, again) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *name = malloc(size + 1);
    char out[DOMAIN_NAME_BUF];
    size_t pos = (size_t)-1;
    enum domain_rule rule;

    if (name == NULL)
        return 0;
    memcpy(name, data, size);
    name[size] = '\0'; /* an embedded NUL ends the name, as it would in a C string */
    rule = domain_rules_check_at(name, out, &pos);
    if (rule == DOMAIN_OK)
        check_accepted(name, out, pos);
    else if (out[0] != '\0' || rule == DOMAIN_DUPLICATE || pos > strlen(name))
        abort();
    if (domain_rules_explain(rule, "en") == NULL || domain_rules_explain(rule, "ko") == NULL)
        abort();
    if (strcmp(domain_rules_name(rule), "unknown") == 0)
        abort();
    free(name);
    return 0;
}
