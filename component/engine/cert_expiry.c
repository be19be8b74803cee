/* Certificate expiry levels and their sentences (see cert_expiry.h). */
#include "component/engine/cert_expiry.h"

#include "component/engine/cert.h"
#include "component/engine/cert_files.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <stdlib.h>

#define DAY_SECONDS 86400

const char *cert_expiry_level_name(enum cert_expiry_level level)
{
    static const char *const names[] = {"none", "ok", "warning", "critical"};

    return (unsigned)level < 4 ? names[level] : "none";
}

void cert_expiry_classify(time_t not_after, time_t now, int warn_days, int critical_days,
                          struct cert_expiry *out)
{
    double left = difftime(not_after, now);

    out->not_after = not_after;
    out->expired = left <= 0;
    /* Rounded down, also below zero: a certificate that expired an hour ago has -1 days. */
    out->days_left =
        (long)(left >= 0 ? left / DAY_SECONDS : -((-left + DAY_SECONDS - 1) / DAY_SECONDS));
    if (left <= (double)critical_days * DAY_SECONDS)
        out->level = CERT_EXPIRY_CRITICAL;
    else if (left <= (double)warn_days * DAY_SECONDS)
        out->level = CERT_EXPIRY_WARNING;
    else
        out->level = CERT_EXPIRY_OK;
}

void cert_expiry_check(const struct config *cfg, time_t now, struct cert_expiry *out)
{
    struct cert_info info;
    char *pem, *err = NULL;

    out->level = CERT_EXPIRY_NONE;
    out->not_after = 0;
    out->days_left = 0;
    out->expired = false;
    if (cfg == NULL || cfg->cert_dir == NULL || cfg->cert_dir[0] == '\0')
        return;
    pem = cert_files_read(cfg->cert_dir, CERT_FILE_CERT, &err);
    if (pem == NULL || cert_inspect(pem, &info, &err) < 0) {
        log_debug("certs: no certificate to check for expiry: %s", err ? err : "?");
        free(err);
        free(pem);
        return;
    }
    cert_expiry_classify(info.not_after, now, cfg->cert_warn_days, cfg->cert_critical_days, out);
    cert_info_clear(&info);
    free(pem);
}

char *cert_expiry_sentence(const struct cert_expiry *e, const char *lang)
{
    char day[16];
    bool ko = i18n_is_korean(lang);

    if (e->level != CERT_EXPIRY_WARNING && e->level != CERT_EXPIRY_CRITICAL)
        return NULL;
    strftime(day, sizeof(day), "%Y-%m-%d", gmtime(&e->not_after));
    if (e->expired)
        return xasprintf(ko ? "cup-xmpp-s2s 인증서가 %s에 만료되었습니다. 페더레이션이 끊깁니다. "
                              "certs/regenerate로 새로 만들거나 certs/csr과 certs/import로 "
                              "CA 서명 인증서를 설치하세요."
                            : "The cup-xmpp-s2s certificate expired on %s: federation fails. "
                              "Make a new one with certs/regenerate, or install a CA-signed one "
                              "with certs/csr and certs/import.",
                         day);
    return xasprintf(ko ? "cup-xmpp-s2s 인증서가 %ld일 뒤(%s)에 만료됩니다. 만료되면 페더레이션이 "
                          "끊깁니다. certs/regenerate로 새로 만들거나 certs/csr과 certs/import로 "
                          "갱신하세요."
                        : "The cup-xmpp-s2s certificate expires in %ld days (%s): federation "
                          "fails when it lapses. Renew it with certs/regenerate, or with certs/csr "
                          "and certs/import.",
                     e->days_left, day);
}

void cert_expiry_note(adhoc_call_t *call, const struct cert_expiry *e)
{
    char *s = cert_expiry_sentence(e, call->lang);

    if (s == NULL)
        return;
    adhoc_note_str(call, ADHOC_NOTE_WARN, s);
    free(s);
}

void cert_expiry_log(const struct config *cfg)
{
    struct cert_expiry e;
    char day[16];

    cert_expiry_check(cfg, time(NULL), &e);
    if (e.level != CERT_EXPIRY_WARNING && e.level != CERT_EXPIRY_CRITICAL)
        return;
    strftime(day, sizeof(day), "%Y-%m-%d", gmtime(&e.not_after));
    log_warnx("certs: cup-xmpp-s2s expires soon level=%s days_left=%ld not_after=%s dir=%s",
              cert_expiry_level_name(e.level), e.days_left, day, cfg->cert_dir);
}
