/* libFuzzer target for the certificate checks of certs/import (component/engine/cert.c): the input is
 * the PEM text an admin pastes, checked against a fixed pending key (the EC P-256 key below, a
 * test key and nothing else) and a fixed domain set at a fixed time. Properties: a re-encoded
 * chain comes back exactly when the verdict is OK or GAPS, and checking that clean text again
 * gives the same verdict and the same clean text; the reason is always set; the leaf inspects
 * the same way before and after cleaning. The input is also read as a
 * certificate for certs/show (cert_inspect) and as a key (cert_key_describe). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "component/engine/cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char key_pem[] = "-----BEGIN PRIVATE KEY-----\n"
                              "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgyLHZthAnd8AmOVtX\n"
                              "Bs2/LRgwlEm5IoyL0Jb10PrZ8A6hRANCAAQjxx2+5/etLIk/I4spioG9b8aGcyqV\n"
                              "n2XrhX4JARC2CtxRXREezwalBUyn55ke7D4jIpdnjnOI3zt7IJSlxhKg\n"
                              "-----END PRIVATE KEY-----\n";
static const char *const domains[] = {"example.com", "chat.example.com"};
#define NOW ((time_t)1780272000) /* 2026-06-01: the seed certificates are valid 2026-2036 */

static void same_info(const char *a, const char *b)
{
    struct cert_info ia, ib;
    char *err = NULL;

    if (cert_inspect(a, &ia, &err) < 0 || cert_inspect(b, &ib, &err) < 0)
        abort(); /* a certificate that passed the import checks must inspect */
    if (strcmp(ia.fingerprint, ib.fingerprint) != 0 || ia.n_sans != ib.n_sans ||
        strcmp(ia.subject, ib.subject) != 0 || ia.not_after != ib.not_after)
        abort();
    for (size_t i = 0; i < 2; i++)
        if (cert_info_covers(&ia, domains[i]) != cert_info_covers(&ib, domains[i]))
            abort();
    cert_info_clear(&ia);
    cert_info_clear(&ib);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *pem = malloc(size + 1), *clean = NULL, *why = NULL, *clean2 = NULL, *why2 = NULL;
    char *err = NULL, *desc;
    struct cert_info info;
    enum cert_import_rc rc, rc2;

    if (pem == NULL)
        return 0;
    memcpy(pem, data, size);
    pem[size] = '\0';
    rc = cert_check_import(key_pem, pem, domains, 2, NOW, &clean, &why);
    if (why == NULL || (clean != NULL) != (rc == CERT_IMPORT_OK || rc == CERT_IMPORT_GAPS))
        abort();
    if (clean) {
        rc2 = cert_check_import(key_pem, clean, domains, 2, NOW, &clean2, &why2);
        if (rc2 != rc || clean2 == NULL || strcmp(clean, clean2) != 0 || strcmp(why, why2) != 0)
            abort();
        /* the leaf is the first block named CERTIFICATE, whatever comes before it */
        same_info(strstr(pem, "-----BEGIN CERTIFICATE-----"), clean);
    }
    if (cert_inspect(pem, &info, &err) == 0) {
        char *missing = cert_info_missing(&info, domains, 2);
        free(missing);
        cert_info_clear(&info);
    } else {
        free(err);
    }
    err = NULL;
    desc = cert_key_describe(pem, &err);
    free(desc);
    free(err);
    free(clean);
    free(why);
    free(clean2);
    free(why2);
    free(pem);
    cert_thread_done();
    return 0;
}
