/* Unit tests for component/cert: every key type gives a certificate that parses back with the
 * expected extensions (checked with OpenSSL's API and with `openssl x509 -text`), keys match,
 * CSRs verify, and the import check refuses what it must with a clear reason. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "component/cert.h"

static const char *const three[] = {"a.example.test", "b.example.test", "c.example.test"};

static const struct cert_names names3 = {
    .common_name = "a.example.test", .domains = three, .n_domains = 3};

/* ---- helpers ---- */

static char *must_key(enum cert_key_type t)
{
    char *err = NULL;
    char *key = cert_key_generate(t, &err);

    if (key == NULL)
        fail_msg("key %s: %s", cert_key_type_name(t), err);
    return key;
}

static char *must_cert(const char *key, const struct cert_names *names, time_t start, int days)
{
    char *err = NULL;
    char *pem = cert_self_sign(key, names, start, days, &err);

    if (pem == NULL)
        fail_msg("self-sign: %s", err);
    return pem;
}

static X509 *parse_x509(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);

    BIO_free(bio);
    assert_non_null(x);
    return x;
}

static EVP_PKEY *parse_key(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);

    BIO_free(bio);
    assert_non_null(k);
    return k;
}

/* Runs `openssl <args> -in FILE` over `pem` and returns its standard output (caller frees). */
static char *openssl_text(const char *args, const char *pem)
{
    char path[] = "/tmp/imd-cert-XXXXXX";
    int fd = mkstemp(path);
    char cmd[256], *out = calloc(1, 65536);
    size_t len = 0, got;
    FILE *p;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, pem, strlen(pem)), (ssize_t)strlen(pem));
    close(fd);
    snprintf(cmd, sizeof(cmd), "openssl %s -in %s 2>&1", args, path);
    p = popen(cmd, "r");
    assert_non_null(p);
    while ((got = fread(out + len, 1, 65535 - len, p)) > 0)
        len += got;
    pclose(p);
    unlink(path);
    return out;
}

static bool has_ext(X509 *x, int nid, int critical)
{
    int i = X509_get_ext_by_NID(x, nid, -1);

    return i >= 0 && (critical < 0 || X509_EXTENSION_get_critical(X509_get_ext(x, i)) == critical);
}

/* ---- every key type ---- */

static void check_structure(X509 *x, enum cert_key_type t)
{
    int md = 0, pk = 0;
    uint32_t xku;

    assert_int_equal(X509_get_version(x), X509_VERSION_3);
    assert_int_equal(ASN1_STRING_length(X509_get0_serialNumber(x)), 16);
    assert_true(has_ext(x, NID_basic_constraints, 1));
    assert_true(has_ext(x, NID_key_usage, 1));
    assert_true(has_ext(x, NID_subject_key_identifier, 0));
    assert_true(has_ext(x, NID_authority_key_identifier, 0));
    assert_true(has_ext(x, NID_subject_alt_name, 0));
    xku = X509_get_extended_key_usage(x);
    assert_true(xku & XKU_SSL_SERVER);
    assert_true(xku & XKU_SSL_CLIENT);
    assert_int_equal(X509_check_ca(x), 0);
    assert_int_equal(X509_get_signature_info(x, &md, &pk, NULL, NULL), 1);
    assert_int_equal(md, t == CERT_KEY_EC_P384 ? NID_sha384 : NID_sha256);
}

static void check_openssl_text(const char *pem, enum cert_key_type t)
{
    char *text = openssl_text("x509 -text -noout", pem);

    assert_non_null(strstr(text, "Version: 3"));
    assert_non_null(strstr(text, "Subject: CN = a.example.test"));
    assert_non_null(strstr(text, "DNS:a.example.test, DNS:b.example.test, DNS:c.example.test"));
    assert_non_null(strstr(text, "TLS Web Server Authentication, TLS Web Client Authentication"));
    assert_non_null(strstr(text, "X509v3 Subject Key Identifier"));
    assert_non_null(strstr(text, "X509v3 Authority Key Identifier"));
    assert_non_null(strstr(text, "CA:FALSE"));
    assert_non_null(strstr(text, "Digital Signature"));
    assert_null(strstr(text, "othername"));
    assert_null(strstr(text, "*."));
    assert_non_null(strstr(text, t == CERT_KEY_EC_P384   ? "ecdsa-with-SHA384"
                                 : t >= CERT_KEY_EC_P256 ? "ecdsa-with-SHA256"
                                                         : "sha256WithRSAEncryption"));
    free(text);
}

static void test_each_key_type(void **state)
{
    static const char *const desc[] = {"RSA 2048", "RSA 3072", "RSA 4096", "EC P-256", "EC P-384"};
    (void)state;

    for (unsigned t = 0; t < CERT_KEY_TYPE_COUNT; t++) {
        char *key = must_key((enum cert_key_type)t);
        char *pem = must_cert(key, &names3, 0, 30);
        X509 *x = parse_x509(pem);
        EVP_PKEY *k = parse_key(key);
        char *err = NULL, *d = cert_key_describe(key, &err);

        check_structure(x, (enum cert_key_type)t);
        check_openssl_text(pem, (enum cert_key_type)t);
        assert_int_equal(X509_check_private_key(x, k), 1);
        assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), k), 1);
        assert_string_equal(d, desc[t]);
        free(d);
        EVP_PKEY_free(k);
        X509_free(x);
        free(pem);
        free(key);
    }
}

static void test_key_type_names(void **state)
{
    enum cert_key_type t;
    (void)state;

    for (unsigned i = 0; i < CERT_KEY_TYPE_COUNT; i++) {
        assert_int_equal(cert_key_type_parse(cert_key_type_name((enum cert_key_type)i), &t), 0);
        assert_int_equal(t, i);
    }
    assert_int_equal(cert_key_type_parse("EC-P256", &t), 0);
    assert_int_equal(t, CERT_KEY_EC_P256);
    assert_int_equal(cert_key_type_parse("rsa-1024", &t), -1);
    assert_int_equal(cert_key_type_parse("", &t), -1);
    assert_int_equal(cert_key_type_parse(NULL, &t), -1);
}

/* ---- options ---- */

static void test_wildcards_and_xmpp_addr(void **state)
{
    struct cert_names n = names3;
    char *key = must_key(CERT_KEY_EC_P256), *pem, *text;
    struct cert_info info;
    char *err = NULL;
    (void)state;

    n.wildcards = true;
    n.xmpp_addr = true;
    pem = must_cert(key, &n, 0, 30);
    text = openssl_text("x509 -text -noout", pem);
    assert_non_null(strstr(text, "DNS:a.example.test, DNS:*.a.example.test, othername:"));
    assert_int_equal(cert_inspect(pem, &info, &err), 0);
    assert_int_equal(info.n_sans, 9);
    assert_string_equal(info.sans[0], "DNS:a.example.test");
    assert_string_equal(info.sans[1], "DNS:*.a.example.test");
    assert_string_equal(info.sans[2], "xmppAddr:a.example.test");
    assert_true(cert_info_covers(&info, "imd.a.example.test"));
    assert_false(cert_info_covers(&info, "x.imd.a.example.test"));
    cert_info_clear(&info);
    free(text);
    free(pem);
    free(key);
}

static void test_refuses_bad_names(void **state)
{
    static const char *const bad[] = {"ok.test", "bad,name"};
    struct cert_names n = {.common_name = "ok.test", .domains = bad, .n_domains = 2};
    char *key = must_key(CERT_KEY_EC_P256), *err = NULL;
    (void)state;

    assert_null(cert_self_sign(key, &n, 0, 30, &err));
    assert_non_null(strstr(err, "'bad,name'"));
    free(err);
    err = NULL;
    n.n_domains = 0;
    assert_null(cert_self_sign(key, &n, 0, 30, &err));
    assert_non_null(strstr(err, "between 1 and"));
    free(err);
    err = NULL;
    assert_null(cert_self_sign(key, &names3, 0, 0, &err));
    assert_non_null(strstr(err, "validity"));
    free(err);
    err = NULL;
    assert_null(cert_self_sign("not a key", &names3, 0, 30, &err));
    assert_non_null(strstr(err, "private key does not parse"));
    free(err);
    free(key);
}

/* ---- inspection ---- */

static void test_inspect(void **state)
{
    char *key = must_key(CERT_KEY_EC_P256), *pem = must_cert(key, &names3, 0, 10);
    char *err = NULL, *fp = openssl_text("x509 -noout -fingerprint -sha256", pem);
    struct cert_info info;
    time_t now = time(NULL);
    (void)state;

    assert_int_equal(cert_inspect(pem, &info, &err), 0);
    assert_string_equal(info.subject, "CN=a.example.test");
    assert_string_equal(info.issuer, "CN=a.example.test");
    assert_true(info.self_signed);
    assert_string_equal(info.key, "EC P-256");
    assert_int_equal(info.n_sans, 3);
    assert_string_equal(info.sans[2], "DNS:c.example.test");
    assert_true(info.not_before <= now && info.not_before > now - 60);
    assert_int_equal(info.not_after - info.not_before, 10 * 86400);
    assert_non_null(strstr(fp, info.fingerprint));
    assert_int_equal(strlen(info.fingerprint), 95);
    assert_true(cert_info_covers(&info, "B.Example.Test"));
    assert_false(cert_info_covers(&info, "d.example.test"));
    assert_false(cert_info_covers(&info, "x.a.example.test"));
    cert_info_clear(&info);
    assert_int_equal(cert_inspect("garbage", &info, &err), -1);
    assert_non_null(strstr(err, "does not parse"));
    free(err);
    free(fp);
    free(pem);
    free(key);
}

static void test_missing_names_gaps(void **state)
{
    static const char *const want[] = {"a.example.test", "new.example.test", "c.example.test",
                                       "z.test"};
    char *key = must_key(CERT_KEY_EC_P256), *pem = must_cert(key, &names3, 0, 10);
    char *err = NULL, *missing;
    struct cert_info info;
    (void)state;

    assert_int_equal(cert_inspect(pem, &info, &err), 0);
    missing = cert_info_missing(&info, want, 4);
    assert_string_equal(missing, "new.example.test, z.test");
    free(missing);
    assert_null(cert_info_missing(&info, three, 3));
    cert_info_clear(&info);
    free(pem);
    free(key);
}

/* ---- requests ---- */

static void test_csr_verifies(void **state)
{
    char *key = must_key(CERT_KEY_RSA_2048), *err = NULL;
    char *csr = cert_make_csr(key, &names3, &err), *text;
    BIO *bio;
    X509_REQ *req;
    (void)state;

    assert_non_null(csr);
    bio = BIO_new_mem_buf(csr, -1);
    req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
    assert_non_null(req);
    assert_int_equal(X509_REQ_verify(req, X509_REQ_get0_pubkey(req)), 1);
    text = openssl_text("req -verify -noout -text", csr);
    assert_non_null(strstr(text, "verify OK"));
    assert_non_null(strstr(text, "Subject: CN = a.example.test"));
    assert_non_null(strstr(text, "DNS:a.example.test, DNS:b.example.test, DNS:c.example.test"));
    assert_non_null(strstr(text, "TLS Web Server Authentication"));
    free(text);
    X509_REQ_free(req);
    BIO_free(bio);
    free(csr);
    free(key);
}

/* ---- import ---- */

static void test_import_accepts_match(void **state)
{
    char *key = must_key(CERT_KEY_EC_P256), *pem = must_cert(key, &names3, 0, 10);
    char *chain = NULL, *why = NULL, *noisy = NULL;
    (void)state;

    noisy = calloc(1, strlen(pem) * 2 + 64);
    sprintf(noisy, "subject=CN = a.example.test\n%s\nintermediate:\n%s", pem, pem);
    assert_int_equal(cert_check_import(key, noisy, three, 3, time(NULL), &chain, &why),
                     CERT_IMPORT_OK);
    assert_non_null(strstr(why, "covers every domain"));
    assert_non_null(chain);
    assert_int_equal(strncmp(chain, "-----BEGIN CERTIFICATE-----", 27), 0);
    assert_null(strstr(chain, "subject="));
    assert_non_null(strstr(chain + 27, "-----BEGIN CERTIFICATE-----")); /* the chain is kept */
    free(chain);
    free(why);
    free(noisy);
    free(pem);
    free(key);
}

static void test_import_refusals(void **state)
{
    static const char *const four[] = {"a.example.test", "b.example.test", "c.example.test",
                                       "d.example.test"};
    char *key = must_key(CERT_KEY_EC_P256), *other = must_key(CERT_KEY_EC_P256);
    char *pem = must_cert(key, &names3, 0, 10);
    char *old = must_cert(key, &names3, time(NULL) - 40 * 86400, 30);
    char *chain = NULL, *why = NULL;
    time_t now = time(NULL);
    (void)state;

    assert_int_equal(cert_check_import(other, pem, three, 3, now, &chain, &why),
                     CERT_IMPORT_KEY_MISMATCH);
    assert_null(chain);
    assert_non_null(strstr(why, "not for the pending key"));
    free(why);
    assert_int_equal(cert_check_import(key, old, three, 3, now, &chain, &why), CERT_IMPORT_EXPIRED);
    assert_non_null(strstr(why, "expired"));
    free(why);
    assert_int_equal(cert_check_import(key, pem, three, 3, now - 86400, &chain, &why),
                     CERT_IMPORT_NOT_YET_VALID);
    assert_non_null(strstr(why, "not valid yet"));
    free(why);
    assert_int_equal(cert_check_import(key,
                                       "-----BEGIN CERTIFICATE-----\nAAAA\n"
                                       "-----END CERTIFICATE-----\n",
                                       three, 3, now, &chain, &why),
                     CERT_IMPORT_GARBAGE);
    assert_non_null(strstr(why, "no readable certificate"));
    free(why);
    assert_int_equal(cert_check_import(key, "hello", three, 3, now, &chain, &why),
                     CERT_IMPORT_GARBAGE);
    free(why);
    assert_int_equal(cert_check_import(key, pem, four, 4, now, &chain, &why), CERT_IMPORT_GAPS);
    assert_string_equal(why, "the certificate does not cover: d.example.test");
    assert_non_null(chain);
    free(chain);
    free(why);
    free(old);
    free(pem);
    free(other);
    free(key);
}

static void test_serials_differ(void **state)
{
    char *key = must_key(CERT_KEY_EC_P256), *a = must_cert(key, &names3, 0, 10);
    char *b = must_cert(key, &names3, 0, 10), *err = NULL;
    struct cert_info ia, ib;
    (void)state;

    assert_int_equal(cert_inspect(a, &ia, &err), 0);
    assert_int_equal(cert_inspect(b, &ib, &err), 0);
    assert_int_equal(strlen(ia.serial), 32);
    assert_string_not_equal(ia.serial, ib.serial);
    cert_info_clear(&ia);
    cert_info_clear(&ib);
    free(b);
    free(a);
    free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_key_type),
        cmocka_unit_test(test_key_type_names),
        cmocka_unit_test(test_wildcards_and_xmpp_addr),
        cmocka_unit_test(test_refuses_bad_names),
        cmocka_unit_test(test_inspect),
        cmocka_unit_test(test_missing_names_gaps),
        cmocka_unit_test(test_csr_verifies),
        cmocka_unit_test(test_import_accepts_match),
        cmocka_unit_test(test_import_refusals),
        cmocka_unit_test(test_serials_differ),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
