/* Directory entry → user mapping: attribute values to userid, directory URI and node, with the
 * verdict users/import would give (component/engine/user_check.h). */
#include "component/engine/dir_map.h"

#include "component/engine/user_check.h"
#include "util/xmalloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A malloc'd copy of `s` without leading and trailing blanks. */
static char *trimmed(const char *s)
{
    const char *end;

    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
        end--;
    return xstrndup(s, (size_t)(end - s));
}

char *dir_map_uri(const char *raw)
{
    char *t = trimmed(raw), *out;

    if (strncasecmp(t, "sip:", 4) != 0)
        return t;
    out = trimmed(t + 4);
    free(t);
    return out;
}

void dir_map_entry(const struct dir_entry *e, const char *userid_attr, struct dir_mapped *out)
{
    memset(out, 0, sizeof(*out));
    out->userid = trimmed(e->userid ? e->userid : "");
    out->uri = e->uri ? dir_map_uri(e->uri) : xstrdup("");
    out->node = e->node ? trimmed(e->node) : NULL;
    if (e->userid == NULL) {
        out->reason_en = xasprintf("the entry has no %s attribute", userid_attr);
        out->reason_ko = xasprintf("항목에 %s 속성이 없습니다", userid_attr);
        return;
    }
    if ((out->reason_en = user_check_userid(out->userid, "en")) != NULL) {
        out->reason_ko = user_check_userid(out->userid, "ko");
        return;
    }
    if ((out->reason_en = user_check_uri(out->uri, "en")) != NULL)
        out->reason_ko = user_check_uri(out->uri, "ko");
}

void dir_mapped_clear(struct dir_mapped *m)
{
    free(m->userid);
    free(m->uri);
    free(m->node);
    free(m->reason_en);
    free(m->reason_ko);
    memset(m, 0, sizeof(*m));
}

char *dir_map_im_address(enum store_im_scheme scheme, const char *default_domain,
                         const char *userid, const char *uri)
{
    if (scheme == STORE_SCHEME_DIRECTORY_URI && uri != NULL && uri[0] != '\0')
        return xstrdup(uri);
    return xasprintf("%s@%s", userid, default_domain);
}
