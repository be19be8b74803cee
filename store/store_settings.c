/* Cluster settings: the single row of the settings table, read and written as one struct. */

#include "store/store_settings.h"
#include "store/store_impl.h"

#include <stdlib.h>
#include <string.h>

static const char *const scheme_names[] = {
    [STORE_SCHEME_USERID_AT_DEFAULT] = "userid@default",
    [STORE_SCHEME_DIRECTORY_URI] = "directory-uri",
};

#define N_SCHEMES (sizeof(scheme_names) / sizeof(scheme_names[0]))

const char *store_im_scheme_name(enum store_im_scheme scheme)
{
    return (size_t)scheme < N_SCHEMES ? scheme_names[scheme] : "unknown";
}

int store_im_scheme_parse(const char *name, enum store_im_scheme *out)
{
    int i = store_name_index(scheme_names, N_SCHEMES, name);
    if (i < 0)
        return -1;
    *out = (enum store_im_scheme)i;
    return 0;
}

enum store_rc store_settings_get(struct store *st, struct store_settings *out)
{
    sqlite3_stmt *s = store_stmt(st, STMT_SETTINGS_GET, "");
    enum store_rc rc;

    memset(out, 0, sizeof(*out));
    if ((rc = store_row(st, s, "reading settings")) != STORE_OK)
        return rc;
    out->default_domain = store_col_str(s, 0);
    /* The schema's CHECK admits only known names, so a miss cannot happen. */
    if (store_im_scheme_parse((const char *)sqlite3_column_text(s, 1), &out->im_address_scheme))
        out->im_address_scheme = STORE_SCHEME_USERID_AT_DEFAULT;
    out->tls_federation = sqlite3_column_int(s, 2) != 0;
    out->wildcard_sans = sqlite3_column_int(s, 3) != 0;
    out->cucm_domain_sip_proxy = store_col_str(s, 4);
    out->audit_time = store_col_str(s, 5);
    out->domains_applied = sqlite3_column_int(s, 6) != 0;
    out->apply_error = store_col_str_or_null(s, 7);
    out->cert_domain_set = store_col_str_or_null(s, 8);
    store_stmt_done(s);
    return STORE_OK;
}

enum store_rc store_settings_set(struct store *st, const struct store_settings *in)
{
    sqlite3_stmt *s =
        store_stmt(st, STMT_SETTINGS_SET, "ttbbttbtt", in->default_domain,
                   store_im_scheme_name(in->im_address_scheme), (int)in->tls_federation,
                   (int)in->wildcard_sans, in->cucm_domain_sip_proxy, in->audit_time,
                   (int)in->domains_applied, in->apply_error, in->cert_domain_set);
    return store_exec_one(st, s, "writing settings");
}

enum store_rc store_settings_set_applied(struct store *st, bool applied, const char *error)
{
    sqlite3_stmt *s = store_stmt(st, STMT_SETTINGS_SET_APPLIED, "bt", (int)applied, error);
    return store_exec_one(st, s, "recording applied state");
}

void store_settings_clear(struct store_settings *s)
{
    if (s == NULL)
        return;
    free(s->default_domain);
    free(s->cucm_domain_sip_proxy);
    free(s->audit_time);
    free(s->apply_error);
    free(s->cert_domain_set);
    memset(s, 0, sizeof(*s));
}
