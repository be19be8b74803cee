/* The hosted domain set: the local domains of the store plus the default domain. */
#include "component/engine/hosted.h"

#include "component/engine/domain_rules.h"
#include "store/store_domain.h"
#include "store/store_settings.h"
#include "store/store_user.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "xmpp/i18n.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *hosted_default(struct app *app, enum store_rc *rc)
{
    struct store_settings s = {0};
    char *out = NULL;

    *rc = store_settings_get(app->store, &s);
    if (*rc == STORE_OK && strcasecmp(s.default_domain, DOMAIN_PLACEHOLDER) != 0) {
        out = xstrdup(s.default_domain);
        for (char *p = out; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    }
    store_settings_clear(&s);
    return out;
}

bool hosted_is_default(struct app *app, const char *name)
{
    enum store_rc rc;
    char *d = name ? hosted_default(app, &rc) : NULL;
    bool yes = d != NULL && strcasecmp(d, name) == 0;

    if (name != NULL && rc != STORE_OK)
        log_warnx("hosted: cannot read the default domain: %s", store_errmsg(app->store));
    free(d);
    return yes;
}

enum store_rc hosted_default_users(struct app *app, const char *dflt, int64_t *n)
{
    return store_user_count_im_domain(app->store, dflt, n);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

enum store_rc hosted_names(struct app *app, char ***names, size_t *n)
{
    struct store_domain *list = NULL;
    size_t nl = 0, k = 0;
    enum store_rc rc;
    char *dflt = hosted_default(app, &rc);
    bool have_default = dflt == NULL;
    char **out;

    *names = NULL;
    *n = 0;
    if (rc != STORE_OK ||
        (rc = store_domain_list(app->store, NULL, NULL, 0, &list, &nl)) != STORE_OK) {
        free(dflt);
        return rc;
    }
    out = xcalloc(nl + 1, sizeof(*out));
    for (size_t i = 0; i < nl; i++) {
        if (!list[i].configured_local)
            continue;
        have_default |= dflt != NULL && strcmp(list[i].name, dflt) == 0;
        out[k++] = xstrdup(list[i].name);
    }
    if (!have_default)
        out[k++] = dflt;
    else
        free(dflt);
    qsort(out, k, sizeof(*out), cmp_names);
    store_domain_list_free(list, nl);
    *names = out;
    *n = k;
    return STORE_OK;
}

void hosted_names_free(char **names, size_t n)
{
    for (size_t i = 0; names != NULL && i < n; i++)
        free(names[i]);
    free(names);
}

enum store_rc hosted_count(struct app *app, size_t *n)
{
    char **names = NULL;
    enum store_rc rc = hosted_names(app, &names, n);

    hosted_names_free(names, *n);
    return rc;
}

char *hosted_default_refusal(const char *name, int64_t users, const char *lang)
{
    return xasprintf(i18n_is_korean(lang)
                         ? "%s은(는) 클러스터의 기본 도메인입니다(사용자 %lld명의 IM 주소가 이 "
                           "도메인에 있습니다). 기본 도메인은 여기서 이름을 바꾸거나 삭제할 수 "
                           "없습니다. 먼저 default-domain으로 기본 도메인을 바꾸세요(이름 변경도 "
                           "default-domain 작업으로 합니다)."
                         : "%s is the cluster's default domain (%lld users have their IM address "
                           "in it): it cannot be renamed or deleted here. Change the default "
                           "first with default-domain (a rename of the default goes through that "
                           "job too).",
                     name, (long long)users);
}
