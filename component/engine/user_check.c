/* The provisioning rules for a user (userid and directory URI), shared by users/import and the
 * directory sync so that both give the same verdicts with the same reasons. */
#include "component/engine/user_check.h"

#include "component/engine/domain_rules.h"
#include "util/xmalloc.h"
#include "xmpp/i18n.h"

#include <stdlib.h>
#include <string.h>

static const struct text R_URI_FORM = {
    "the directory URI must be name@domain, with exactly one @ and a name without spaces, "
    "control characters or \" & ' / : < >",
    "디렉터리 URI는 @가 정확히 하나인 이름@도메인 형식이어야 하며, 이름에 공백, 제어 문자, "
    "\" & ' / : < >가 없어야 합니다"};
static const struct text R_URI_LONG = {"the directory URI is longer than 1024 bytes",
                                       "디렉터리 URI가 1024바이트를 넘습니다"};
static const struct text R_USERID_CHAR = {
    "the userid holds a space, a control character or one of \" & ' / : < > @, which an IM "
    "address cannot hold",
    "사용자 ID에 공백, 제어 문자 또는 \" & ' / : < > @ 중 하나가 있어 IM 주소에 쓸 수 없습니다"};
static const struct text R_USERID_LONG = {"the userid is longer than 255 bytes",
                                          "사용자 ID가 255바이트를 넘습니다"};
static const struct text R_USERID_EMPTY = {"empty userid", "사용자 ID가 비어 있습니다"};
/* Bytes an XMPP localpart cannot hold (RFC 7622 3.3.1), plus space and controls. */
bool user_check_localpart(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        if (*p <= ' ' || *p == 0x7f || strchr("\"&'/:<>@", *p) != NULL)
            return false;
    return true;
}

/* NULL when fine, else the reason in `lang` (malloc'd). */
char *user_check_userid(const char *userid, const char *lang)
{
    if (userid[0] == '\0')
        return xstrdup(text_get(&R_USERID_EMPTY, lang));
    if (strlen(userid) > USERID_MAX)
        return xstrdup(text_get(&R_USERID_LONG, lang));
    if (!user_check_localpart(userid))
        return xstrdup(text_get(&R_USERID_CHAR, lang));
    return NULL;
}

/* An empty URI is fine (the user has none); else name@domain with a valid domain. */
char *user_check_uri(const char *uri, const char *lang)
{
    const char *at = strchr(uri, '@');
    char *name;
    bool name_ok;

    if (uri[0] == '\0')
        return NULL;
    if (strlen(uri) > URI_MAX)
        return xstrdup(text_get(&R_URI_LONG, lang));
    if (at == NULL || at == uri || strchr(at + 1, '@') != NULL)
        return xstrdup(text_get(&R_URI_FORM, lang));
    name = xstrndup(uri, (size_t)(at - uri));
    name_ok = user_check_localpart(name);
    free(name);
    if (!name_ok)
        return xstrdup(text_get(&R_URI_FORM, lang));
    enum domain_rule rule = domain_rules_check(at + 1, NULL);
    if (rule == DOMAIN_OK)
        return NULL;
    return xasprintf(i18n_is_korean(lang) ? "디렉터리 URI의 도메인 부분이 잘못되었습니다: %s"
                                          : "the domain part of the directory URI is invalid: %s",
                     domain_rules_explain(rule, lang));
}
