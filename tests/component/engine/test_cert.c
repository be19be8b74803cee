/* Unit tests for component/cert: every key type gives a certificate that parses back with the
 * expected extensions (checked with OpenSSL's API and with `openssl x509 -text`), keys match,
 * CSRs verify, and the import check refuses what it must with a clear reason. The files
 * (component/cert_files): Prosody's layout as links into one generation, a regeneration that
 * leaves the links alone, stale names removed, the plain files of the layout before the links
 * taken over, and an install stopped at every point where it could crash leaving every name
 * with a matching pair, all old or all new. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "component/engine/cert.h"
#include "component/engine/cert_files.h"

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

static char *repeat(const char *sep, const char *pem, int times)
{
    size_t one = strlen(sep) + strlen(pem);
    char *out = calloc(1, one * (size_t)times + 1);

    assert_non_null(out);
    for (int i = 0; i < times; i++) {
        strcat(out, sep);
        strcat(out, pem);
    }
    return out;
}

static size_t count_blocks(const char *pem)
{
    size_t n = 0;

    for (const char *p = pem; (p = strstr(p, "-----BEGIN CERTIFICATE-----")) != NULL; p++)
        n++;
    return n;
}

/* The chain is read block after block: text and other blocks between certificates are skipped,
 * a broken certificate anywhere refuses the whole paste, and a chain longer than CERT_CHAIN_MAX
 * is refused with its own verdict (the leaf and 15 intermediates are the most accepted). */
static void test_import_chain_limits(void **state)
{
    char *key = must_key(CERT_KEY_EC_P256), *pem = must_cert(key, &names3, 0, 10);
    char *chain = NULL, *why = NULL, *paste, *mixed;
    time_t now = time(NULL);
    (void)state;

    paste = repeat("issuer: somebody\n", pem, CERT_CHAIN_MAX);
    assert_int_equal(cert_check_import(key, paste, three, 3, now, &chain, &why), CERT_IMPORT_OK);
    assert_int_equal(count_blocks(chain), CERT_CHAIN_MAX);
    free(chain);
    free(why);
    free(paste);

    paste = repeat("\n", pem, CERT_CHAIN_MAX + 1);
    assert_int_equal(cert_check_import(key, paste, three, 3, now, &chain, &why),
                     CERT_IMPORT_CHAIN_TOO_LONG);
    assert_null(chain);
    assert_non_null(strstr(why, "more than 16 certificates"));
    free(why);
    free(paste);

    /* the pending key's own block pasted between the certificates is skipped, not decoded */
    mixed = calloc(1, 2 * strlen(pem) + strlen(key) + 1);
    sprintf(mixed, "%s%s%s", pem, key, pem);
    assert_int_equal(cert_check_import(key, mixed, three, 3, now, &chain, &why), CERT_IMPORT_OK);
    assert_int_equal(count_blocks(chain), 2);
    assert_null(strstr(chain, "PRIVATE KEY"));
    free(chain);
    free(why);
    free(mixed);

    /* a second certificate that does not parse refuses the paste */
    mixed = calloc(1, strlen(pem) + 128);
    sprintf(mixed, "%s-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", pem);
    assert_int_equal(cert_check_import(key, mixed, three, 3, now, &chain, &why),
                     CERT_IMPORT_GARBAGE);
    assert_null(chain);
    free(why);
    free(mixed);
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

/* ---- keys the daemon does not make but may be given ---- */

/* A private key of any algorithm OpenSSL knows, as PKCS#8 PEM (caller frees). */
static char *foreign_key(const char *alg, const char *group)
{
    EVP_PKEY *k = group ? EVP_PKEY_Q_keygen(NULL, NULL, alg, group)
                        : EVP_PKEY_Q_keygen(NULL, NULL, alg);
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL, *pem;
    long len;

    assert_non_null(k);
    assert_int_equal(PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL), 1);
    len = BIO_get_mem_data(bio, &data);
    pem = strndup(data, (size_t)len);
    BIO_free(bio);
    EVP_PKEY_free(k);
    return pem;
}

static void test_unknown_key_type(void **state)
{
    char *err = NULL;
    (void)state;

    assert_null(cert_key_generate(CERT_KEY_TYPE_COUNT, &err));
    assert_string_equal(err, "unknown key type");
    free(err);
    assert_string_equal(cert_key_type_name(CERT_KEY_TYPE_COUNT), "unknown");
}

/* An EC key on a curve other than P-256/P-384 is named by its group; a key of another
 * algorithm by OpenSSL's type name and size. */
static void test_describe_other_keys(void **state)
{
    char *p521 = foreign_key("EC", "secp521r1"), *ed = foreign_key("ED25519", NULL);
    char *err = NULL, *d;
    (void)state;

    d = cert_key_describe(p521, &err);
    assert_non_null(d);
    assert_string_equal(d, "EC secp521r1");
    free(d);
    d = cert_key_describe(ed, &err);
    assert_non_null(d);
    assert_string_equal(d, "ED25519 256");
    free(d);
    assert_null(cert_key_describe("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                                  &err));
    assert_non_null(strstr(err, "the private key does not parse"));
    free(err);
    free(ed);
    free(p521);
}

/* A P-521 key signs (SHA-256) with the ECDSA key usage: no keyEncipherment. */
static void test_self_sign_p521(void **state)
{
    char *key = foreign_key("EC", "secp521r1"), *pem = must_cert(key, &names3, 0, 5);
    char *err = NULL, *text = openssl_text("x509 -noout -text", pem);
    struct cert_info info;
    X509 *x = parse_x509(pem);
    EVP_PKEY *k = parse_key(key);
    (void)state;

    assert_int_equal(X509_verify(x, k), 1);
    assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
    assert_true(has_ext(x, NID_key_usage, 1));
    assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
    assert_non_null(strstr(text, "NIST CURVE: P-521"));
    assert_int_equal(cert_inspect(pem, &info, &err), 0);
    assert_string_equal(info.key, "EC secp521r1");
    assert_true(info.self_signed);
    cert_info_clear(&info);
    cert_info_clear(NULL);
    EVP_PKEY_free(k);
    X509_free(x);
    free(text);
    free(pem);
    free(key);
}

/* Ed25519 takes no separate digest, and the daemon always names one: both the certificate and
 * the request are refused with OpenSSL's reason, never half made. */
static void test_ed25519_refused(void **state)
{
    char *key = foreign_key("ED25519", NULL), *err = NULL;
    (void)state;

    assert_null(cert_self_sign(key, &names3, 0, 30, &err));
    assert_non_null(err);
    assert_true(strncmp(err, "cannot sign the certificate", 27) == 0);
    free(err);
    err = NULL;
    assert_null(cert_make_csr(key, &names3, &err));
    assert_non_null(err);
    assert_true(strncmp(err, "cannot build the request", 24) == 0);
    free(err);
    free(key);
}

/* The common name is checked like every SAN, for certificates and requests alike. */
static void test_refuses_bad_common_name(void **state)
{
    static const char *const bad[] = {"ok.test", "bad name.test"};
    struct cert_names n = {.common_name = "bad/cn.test", .domains = three, .n_domains = 1};
    char *key = must_key(CERT_KEY_EC_P256), *err = NULL;
    (void)state;

    assert_null(cert_self_sign(key, &n, 0, 30, &err));
    assert_string_equal(err, "'bad/cn.test' is not a domain name a certificate can carry");
    free(err);
    err = NULL;
    assert_null(cert_make_csr(key, &n, &err));
    assert_string_equal(err, "'bad/cn.test' is not a domain name a certificate can carry");
    free(err);
    err = NULL;
    n.common_name = "ok.test";
    n.domains = bad;
    n.n_domains = 2;
    assert_null(cert_make_csr(key, &n, &err));
    assert_string_equal(err, "'bad name.test' is not a domain name a certificate can carry");
    free(err);
    err = NULL;
    assert_null(cert_make_csr("not a key", &names3, &err));
    assert_non_null(strstr(err, "private key does not parse"));
    free(err);
    free(key);
}

/* A certificate made elsewhere with the given SANs (OpenSSL's config syntax). */
static char *cert_with_sans(EVP_PKEY *k, const char *cn, const char *san)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_get_subject_name(x);
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL, *pem;
    long len;

    assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
    assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                                (const unsigned char *)cn, -1, -1, 0),
                     1);
    assert_int_equal(X509_set_issuer_name(x, name), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
    assert_int_equal(X509_set_pubkey(x, k), 1);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    assert_int_equal(PEM_write_bio_X509(bio, x), 1);
    len = BIO_get_mem_data(bio, &data);
    pem = strndup(data, (size_t)len);
    BIO_free(bio);
    X509_free(x);
    return pem;
}

/* IP and e-mail SANs show as "other"; without any DNS SAN the CN is what covers a domain, with
 * one it no longer counts (RFC 6125 §6.4.4). */
static void test_inspect_other_sans(void **state)
{
    char *key = must_key(CERT_KEY_EC_P256), *err = NULL;
    EVP_PKEY *k = parse_key(key);
    char *pem = cert_with_sans(k, "cn.example.test", "IP:192.0.2.1,email:a@example.test");
    char *dns = cert_with_sans(k, "cn.example.test", "DNS:x.example.test,IP:192.0.2.1");
    struct cert_info info;
    (void)state;

    assert_int_equal(cert_inspect(pem, &info, &err), 0);
    assert_int_equal(info.n_sans, 2);
    assert_string_equal(info.sans[0], "other");
    assert_string_equal(info.sans[1], "other");
    assert_string_equal(info.subject, "CN=cn.example.test");
    assert_true(info.self_signed);
    assert_true(cert_info_covers(&info, "CN.example.test"));
    assert_false(cert_info_covers(&info, "x.example.test"));
    cert_info_clear(&info);
    assert_int_equal(cert_inspect(dns, &info, &err), 0);
    assert_int_equal(info.n_sans, 2);
    assert_string_equal(info.sans[0], "DNS:x.example.test");
    assert_string_equal(info.sans[1], "other");
    assert_true(cert_info_covers(&info, "x.example.test"));
    assert_false(cert_info_covers(&info, "cn.example.test"));
    cert_info_clear(&info);
    EVP_PKEY_free(k);
    free(dns);
    free(pem);
    free(key);
}

/* The pending key itself unreadable (a damaged key file): refused as a key mismatch with the
 * reason and a way out, and no cleaned chain. */
static void test_import_unreadable_pending_key(void **state)
{
    char *key = must_key(CERT_KEY_EC_P256), *pem = must_cert(key, &names3, 0, 10);
    char *chain = NULL, *why = NULL;
    (void)state;

    assert_int_equal(cert_check_import("damaged", pem, three, 3, time(NULL), &chain, &why),
                     CERT_IMPORT_KEY_MISMATCH);
    assert_null(chain);
    assert_non_null(strstr(why, "the pending key cannot be read (the private key does not parse"));
    assert_non_null(strstr(why, "make a new CSR"));
    free(why);
    free(pem);
    free(key);
}

/* ---- the files ---- */

/* The files do not parse what they hold: short texts stand for a certificate and its key. */
struct pair {
    const char *crt, *key;
};

static const struct pair P1 = {"certificate one\n", "key one\n"};
static const struct pair P2 = {"certificate two\n", "key two\n"};

static const char *const set_old[] = {"a.example.test", "b.example.test", "c.example.test"};
static const char *const set_new[] = {"b.example.test", "c.example.test", "d.example.test"};
static const char *const every_name[] = {"a.example.test", "b.example.test", "c.example.test",
                                         "d.example.test", CERT_FILES_NAME};

static int remove_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static char *fresh_dir(void)
{
    char *dir = strdup("/tmp/imd-certfiles-XXXXXX");

    assert_non_null(mkdtemp(dir));
    return dir;
}

static void drop_dir(char *dir)
{
    nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

/* What `dir`/`name` gives a reader following links (caller frees), or NULL. */
static char *read_name(const char *dir, const char *name)
{
    char path[256], *buf = calloc(1, 256);
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if ((fp = fopen(path, "r")) == NULL) {
        free(buf);
        return NULL;
    }
    assert_true(fread(buf, 1, 255, fp) < 255);
    fclose(fp);
    return buf;
}

/* The pair `base`.crt and `base`.key give: &P1, &P2, NULL when no .crt is there (a lone .key
 * is ignored by Prosody). Fails on a .crt without its key or a mixed pair. */
static const struct pair *pair_of(const char *dir, const char *base)
{
    char name[128], *crt, *key;
    const struct pair *found = NULL;

    snprintf(name, sizeof(name), "%s.crt", base);
    crt = read_name(dir, name);
    snprintf(name, sizeof(name), "%s.key", base);
    key = read_name(dir, name);
    if (crt != NULL) {
        if (key == NULL)
            fail_msg("%s.crt without its key", base);
        if (strcmp(crt, P1.crt) == 0 && strcmp(key, P1.key) == 0)
            found = &P1;
        else if (strcmp(crt, P2.crt) == 0 && strcmp(key, P2.key) == 0)
            found = &P2;
        else
            fail_msg("%s: '%s' with '%s' is not a pair", base, crt, key);
    }
    free(crt);
    free(key);
    return found;
}

/* Every name of `set` (and the own name) gives `p`. */
static bool complete(const char *dir, const char *const *set, size_t n, const struct pair *p)
{
    if (pair_of(dir, CERT_FILES_NAME) != p)
        return false;
    for (size_t i = 0; i < n; i++)
        if (pair_of(dir, set[i]) != p)
            return false;
    return true;
}

static int install(const char *dir, const char *const *set, const char *const *old,
                   const struct pair *p, char **err)
{
    return cert_files_install(dir, set, 3, old, old ? 3 : 0, p->crt, p->key, err);
}

static bool expected_link(const char *name, const char *const *set)
{
    char want[128];

    for (size_t i = 0; i <= 3; i++) {
        const char *base = i < 3 ? set[i] : CERT_FILES_NAME;
        for (int k = 0; k < 2; k++) {
            snprintf(want, sizeof(want), "%s.%s", base, k == 0 ? "crt" : "key");
            if (strcmp(name, want) == 0)
                return true;
        }
    }
    return false;
}

/* The directory holds the links of `set` and the own name, .live and one generation: no stale
 * name, no old generation, no temporary, no pending key. */
static void assert_only_layout(const char *dir, const char *const *set)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int links = 0, gens = 0, live = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (strcmp(e->d_name, "." CERT_FILES_NAME ".live") == 0)
            live++;
        else if (strcmp(e->d_name, "." CERT_FILES_NAME ".lock") == 0)
            continue; /* the lock file stays: removing it would race with its next taker */
        else if (strncmp(e->d_name, "." CERT_FILES_NAME ".gen-", 18) == 0)
            gens++;
        else if (expected_link(e->d_name, set))
            links++;
        else
            fail_msg("unexpected %s in %s", e->d_name, dir);
    }
    closedir(d);
    assert_int_equal(links, 4 * 2);
    assert_int_equal(gens, 1);
    assert_int_equal(live, 1);
}

static mode_t mode_of(const char *dir, const char *name, bool follow)
{
    char path[256];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_int_equal(follow ? stat(path, &st) : lstat(path, &st), 0);
    return st.st_mode;
}

static void test_files_layout(void **state)
{
    char *dir = fresh_dir(), *err = NULL, *got, target[256];
    ssize_t len;

    (void)state;
    assert_int_equal(install(dir, set_old, NULL, &P1, &err), 0);
    assert_true(complete(dir, set_old, 3, &P1));
    for (size_t i = 0; i < 3; i++) {
        char name[128], path[256];
        snprintf(name, sizeof(name), "%s.key", set_old[i]);
        assert_true(S_ISLNK(mode_of(dir, name, false)));
        assert_int_equal(mode_of(dir, name, true) & 07777, CERT_FILES_KEY_MODE);
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        len = readlink(path, target, sizeof(target) - 1);
        assert_true(len > 0);
        assert_int_not_equal(target[0], '/'); /* relative: the directory can move */
    }
    got = cert_files_read(dir, CERT_FILE_CERT, &err);
    assert_string_equal(got, P1.crt);
    free(got);
    assert_only_layout(dir, set_old);
    drop_dir(dir);
}

static ino_t inode_of(const char *dir, const char *name)
{
    char path[256];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_int_equal(lstat(path, &st), 0);
    return st.st_ino;
}

static void put_file(const char *dir, const char *name, const char *text, mode_t mode)
{
    char path[256];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_non_null(fp = fopen(path, "w"));
    fputs(text, fp);
    fclose(fp);
    assert_int_equal(chmod(path, mode), 0);
}

/* What crashes leave: a temporary link and a generation nothing points at. */
static void leave_crash_garbage(const char *dir)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/.b.example.test.crt.99999.link", dir);
    assert_int_equal(symlink("." CERT_FILES_NAME ".live/" CERT_FILES_NAME ".crt", path), 0);
    snprintf(path, sizeof(path), "%s/." CERT_FILES_NAME ".gen-abcdef", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    put_file(path, CERT_FILES_NAME ".key", "half-written key\n", CERT_FILES_KEY_MODE);
}

/* The same set again with a new pair: the links stay as they are, one generation remains, the
 * pending key and what crashes left are gone. */
static void test_files_regenerate_keeps_links(void **state)
{
    char *dir = fresh_dir(), *err = NULL;
    ino_t before;

    (void)state;
    assert_int_equal(install(dir, set_old, NULL, &P1, &err), 0);
    before = inode_of(dir, "b.example.test.crt");
    assert_int_equal(cert_files_write_pending(dir, "pending key\n", &err), 0);
    leave_crash_garbage(dir);
    assert_int_equal(install(dir, set_old, set_old, &P2, &err), 0);
    assert_true(complete(dir, set_old, 3, &P2));
    assert_int_equal(inode_of(dir, "b.example.test.crt"), before);
    assert_only_layout(dir, set_old); /* the pending key is gone */
    drop_dir(dir);
}

/* a.example.test leaves the set: its links go, d.example.test gets its own. */
static void test_files_stale_names_removed(void **state)
{
    char *dir = fresh_dir(), *err = NULL;

    (void)state;
    assert_int_equal(install(dir, set_old, NULL, &P1, &err), 0);
    assert_int_equal(install(dir, set_new, NULL, &P2, &err), 0); /* found by their links */
    assert_true(complete(dir, set_new, 3, &P2));
    assert_null(read_name(dir, "a.example.test.key"));
    assert_only_layout(dir, set_new);
    drop_dir(dir);
}

/* The layout before the links: plain files for every name and the own name. */
static void plain_layout(const char *dir, const char *const *set, const struct pair *p)
{
    char name[128];

    for (size_t i = 0; i <= 3; i++) {
        const char *base = i < 3 ? set[i] : CERT_FILES_NAME;
        snprintf(name, sizeof(name), "%s.key", base);
        put_file(dir, name, p->key, CERT_FILES_KEY_MODE);
        snprintf(name, sizeof(name), "%s.crt", base);
        put_file(dir, name, p->crt, CERT_FILES_CERT_MODE);
    }
}

static void test_files_take_over_plain_files(void **state)
{
    char *dir = fresh_dir(), *err = NULL;

    (void)state;
    plain_layout(dir, set_old, &P1);
    assert_int_equal(install(dir, set_new, set_old, &P2, &err), 0);
    assert_true(complete(dir, set_new, 3, &P2));
    assert_null(read_name(dir, "a.example.test.crt"));
    assert_null(read_name(dir, "a.example.test.key"));
    assert_true(S_ISLNK(mode_of(dir, "b.example.test.crt", false)));
    assert_true(S_ISLNK(mode_of(dir, CERT_FILES_NAME ".key", false)));
    assert_only_layout(dir, set_new);
    drop_dir(dir);
}

static int crash_once_at, crash_once_count;

static bool crash_once(const char *step)
{
    (void)step;
    return ++crash_once_count == crash_once_at;
}

static void test_files_refuse_bad_names(void **state)
{
    static const char *const bad[] = {"a.example.test", "../etc", "c.example.test"};
    char *dir = fresh_dir(), *err = NULL;

    (void)state;
    assert_int_equal(install(dir, set_old, NULL, &P1, &err), 0);
    assert_int_equal(install(dir, bad, NULL, &P2, &err), -1);
    assert_non_null(strstr(err, "cannot be a file name"));
    free(err);
    assert_true(complete(dir, set_old, 3, &P1));
    drop_dir(dir);
}

/* Every symbolic link in `dir` (not below) leads to a file. */
static void assert_no_dangling(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        char *path = NULL;
        struct stat lst, st;
        assert_true(asprintf(&path, "%s/%s", dir, e->d_name) > 0);
        if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode) && stat(path, &st) != 0)
            fail_msg("%s links to nothing", path);
        free(path);
    }
    closedir(d);
}

/* The longest legal domain (255 characters): covered, but no file name can hold it, so it gets
 * no link; every other name is installed, on a first install and on a regeneration, and no
 * link ever points at nothing. */
static void test_files_name_too_long(void **state)
{
    char long_name[256], *dir = fresh_dir(), *err = NULL;
    const char *set[3] = {"a.example.test", long_name, "c.example.test"};

    (void)state;
    for (int i = 0; i < 255; i++)
        long_name[i] = i % 64 == 63 ? '.' : 'x';
    long_name[255] = '\0';
    assert_false(cert_files_name_fits(dir, long_name));
    assert_true(cert_files_name_fits(dir, "a.example.test"));
    for (int round = 0; round < 2; round++) {
        const struct pair *p = round ? &P2 : &P1;
        assert_int_equal(cert_files_install(dir, set, 3, NULL, 0, p->crt, p->key, &err), 0);
        assert_true(pair_of(dir, "a.example.test") == p && pair_of(dir, "c.example.test") == p);
        assert_true(pair_of(dir, CERT_FILES_NAME) == p);
        assert_no_dangling(dir);
    }
    drop_dir(dir);
}

/* A first install stopped at any point leaves no link that points at nothing. */
static void test_files_first_install_never_dangles(void **state)
{
    (void)state;
    for (int at = 1; at < 20; at++) {
        char *dir = fresh_dir(), *err = NULL;
        int rc;
        cert_files_crash_point = NULL;
        crash_once_at = at;
        crash_once_count = 0;
        cert_files_crash_point = crash_once;
        rc = install(dir, set_old, NULL, &P1, &err);
        cert_files_crash_point = NULL;
        assert_no_dangling(dir);
        free(err);
        drop_dir(dir);
        if (rc == 0)
            break;
    }
}

/* ---- crashes ---- */

static int crash_at, crash_count;

static bool crash_here(const char *step)
{
    (void)step;
    return ++crash_count == crash_at;
}

/* Every name that has a .crt gives a matching pair (pair_of fails otherwise), and the set is
 * either the old one complete or the new one complete. */
static void check_consistent(const char *dir, const char *const *old_set, const char *step)
{
    for (size_t i = 0; i < sizeof(every_name) / sizeof(*every_name); i++)
        (void)pair_of(dir, every_name[i]);
    if (!complete(dir, old_set, 3, &P1) && !complete(dir, set_new, 3, &P2))
        fail_msg("stopped at point %d (%s): neither the old set nor the new one", crash_at, step);
}

/* Installs set_new over `prepare`'s state, stopped at point 1, 2, ... until an install runs to
 * the end; after each stop the files are consistent, and an install run again completes. */
static void crash_everywhere(void (*prepare)(const char *dir), const char *const *old_set)
{
    int points = 0;

    for (crash_at = 1;; crash_at++) {
        char *dir = fresh_dir(), *err = NULL;
        int rc;

        prepare(dir);
        crash_count = 0;
        cert_files_crash_point = crash_here;
        rc = install(dir, set_new, old_set, &P2, &err);
        cert_files_crash_point = NULL;
        if (rc == 0) {
            assert_true(complete(dir, set_new, 3, &P2));
            drop_dir(dir);
            break;
        }
        assert_non_null(strstr(err, "(test)"));
        check_consistent(dir, old_set, err);
        free(err);
        err = NULL;
        assert_int_equal(install(dir, set_new, old_set, &P2, &err), 0);
        assert_true(complete(dir, set_new, 3, &P2));
        assert_null(read_name(dir, "a.example.test.key"));
        assert_only_layout(dir, set_new);
        drop_dir(dir);
        points++;
    }
    /* start, adopted, written, a link and a half link per name, linked, synced, switched */
    assert_true(points >= 3 * 2 + 6);
}

static void links_with_p1(const char *dir)
{
    char *err = NULL;

    assert_int_equal(install(dir, set_old, NULL, &P1, &err), 0);
}

static void plain_with_p1(const char *dir)
{
    plain_layout(dir, set_old, &P1);
}

static void test_files_crash_at_every_point(void **state)
{
    (void)state;
    crash_everywhere(links_with_p1, set_old);
}

static void test_files_crash_while_taking_over(void **state)
{
    (void)state;
    crash_everywhere(plain_with_p1, set_old);
}

/* ---- two processes, one directory ---- */

static char *nested_dir, *nested_err;
static int nested_rc;

/* While one install is between writing its generation and switching to it, a second one (as
 * from another process: flock locks belong to the open file, so a second open in this process
 * conflicts the same way) tries its own. */
static bool install_meanwhile(const char *step)
{
    if (strcmp(step, "written") == 0)
        nested_rc = install(nested_dir, set_old, NULL, &P1, &nested_err);
    return false;
}

static void test_files_second_installer_refused(void **state)
{
    char *dir = fresh_dir(), *err = NULL;

    (void)state;
    assert_int_equal(install(dir, set_old, NULL, &P1, &err), 0);
    nested_dir = dir;
    nested_rc = 0;
    cert_files_crash_point = install_meanwhile;
    assert_int_equal(install(dir, set_new, set_old, &P2, &err), 0);
    cert_files_crash_point = NULL;
    assert_int_equal(nested_rc, -1);
    assert_non_null(nested_err);
    assert_non_null(strstr(nested_err, "another process"));
    free(nested_err);
    nested_err = NULL;
    /* The first one finished as if alone: every name gives its pair, nothing dangles. */
    assert_true(complete(dir, set_new, 3, &P2));
    assert_only_layout(dir, set_new);
    /* The pending key is guarded the same way. */
    int fd = cert_files_lock(dir, &err);
    assert_true(fd >= 0);
    assert_int_equal(cert_files_write_pending(dir, "k\n", &err), -1);
    assert_non_null(strstr(err, "another process"));
    free(err);
    err = NULL;
    assert_int_equal(cert_files_repair(dir, &err), -1);
    free(err);
    err = NULL;
    cert_files_unlock(fd);
    assert_int_equal(cert_files_write_pending(dir, "k\n", &err), 0);
    drop_dir(dir);
}

static void set_live(const char *dir, const char *target)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/." CERT_FILES_NAME ".live", dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(symlink(target, path), 0);
}

/* What two processes left before the lock: .live pointing at a generation the other removed,
 * while the other's generation still exists. Start-up repair points .live at the newest
 * complete generation, and every name gives a pair again. */
static void test_files_repair_live_to_missing(void **state)
{
    char *dir = fresh_dir(), *err = NULL;

    (void)state;
    assert_int_equal(install(dir, set_old, NULL, &P1, &err), 0);
    assert_int_equal(cert_files_repair(dir, &err), 0); /* nothing to do */
    set_live(dir, "." CERT_FILES_NAME ".gen-GONE01");
    assert_null(pair_of(dir, "a.example.test"));
    /* a generation a crash left half written (no key) is not taken */
    char half[256];
    snprintf(half, sizeof(half), "%s/." CERT_FILES_NAME ".gen-HALF01", dir);
    assert_int_equal(mkdir(half, 0755), 0);
    assert_true(cert_files_repair(dir, &err) > 0);
    assert_true(complete(dir, set_old, 3, &P1));
    assert_only_layout(dir, set_old);
    drop_dir(dir);
}

/* No generation at all behind .live: the dangling links and .live go, so nothing claims a
 * certificate that does not exist, and the next install starts clean. */
static void test_files_repair_nothing_left(void **state)
{
    char *dir = fresh_dir(), *err = NULL, path[600];
    DIR *d;
    struct dirent *e;

    (void)state;
    assert_int_equal(install(dir, set_old, NULL, &P1, &err), 0);
    set_live(dir, "." CERT_FILES_NAME ".gen-GONE01");
    d = opendir(dir);
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "." CERT_FILES_NAME ".gen-", 18) == 0 &&
            strcmp(e->d_name, "." CERT_FILES_NAME ".gen-GONE01") != 0) {
            snprintf(path, sizeof(path), "%s/%s/" CERT_FILES_NAME ".crt", dir, e->d_name);
            assert_int_equal(unlink(path), 0);
            snprintf(path, sizeof(path), "%s/%s/" CERT_FILES_NAME ".key", dir, e->d_name);
            assert_int_equal(unlink(path), 0);
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            assert_int_equal(rmdir(path), 0);
        }
    closedir(d);
    assert_true(cert_files_repair(dir, &err) > 0);
    d = opendir(dir);
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            strcmp(e->d_name, "." CERT_FILES_NAME ".lock") != 0)
            fail_msg("%s left after the repair", e->d_name);
    closedir(d);
    assert_int_equal(install(dir, set_new, NULL, &P2, &err), 0);
    assert_true(complete(dir, set_new, 3, &P2));
    drop_dir(dir);
}

/* Where the directory cannot be used: the lock, the start-up repair and the key-group probe say
 * which path and why, and a missing directory is left missing. A regular file stands where a
 * directory is expected, which refuses root as well. */
static void test_files_unusable_dir(void **state)
{
    char *dir = fresh_dir(), *err = NULL, file[PATH_MAX], sub[PATH_MAX + 8], want[PATH_MAX * 2];
    FILE *f;
    struct stat st;
    (void)state;

    snprintf(file, sizeof(file), "%s/plain", dir);
    snprintf(sub, sizeof(sub), "%s/certs", file);
    f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);

    assert_int_equal(cert_files_lock(sub, &err), -1);
    snprintf(want, sizeof(want), "cannot open the lock file %s/.cup-xmpp-s2s.lock: %s", sub,
             strerror(ENOTDIR));
    assert_string_equal(err, want);
    free(err);
    err = NULL;

    assert_int_equal(cert_files_repair(sub, &err), -1);
    snprintf(want, sizeof(want), "cannot read %s: %s", sub, strerror(ENOTDIR));
    assert_string_equal(err, want);
    free(err);
    err = NULL;

    snprintf(sub, sizeof(sub), "%s/none", dir);
    assert_int_equal(cert_files_repair(sub, &err), 0);
    assert_null(err);
    assert_int_equal(stat(sub, &st), -1);
    assert_int_equal(errno, ENOENT);

    /* an install stops at the lock: nothing is written, the file is untouched */
    assert_int_equal(cert_files_install(file, three, 3, NULL, 0, "crt", "key", &err), -1);
    assert_non_null(strstr(err, "cannot open the lock file"));
    free(err);
    err = NULL;
    assert_int_equal(stat(file, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_size, 0);

    cert_files_set_key_group(getegid());
    assert_int_equal(cert_files_check_key_group(file, &err), -1);
    snprintf(want, sizeof(want), "cannot create a file in %s: %s", file, strerror(ENOTDIR));
    assert_string_equal(err, want);
    free(err);
    cert_files_set_key_group(CERT_FILES_NO_GROUP);
    drop_dir(dir);
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
        cmocka_unit_test(test_import_chain_limits),
        cmocka_unit_test(test_serials_differ),
        cmocka_unit_test(test_unknown_key_type),
        cmocka_unit_test(test_describe_other_keys),
        cmocka_unit_test(test_self_sign_p521),
        cmocka_unit_test(test_ed25519_refused),
        cmocka_unit_test(test_refuses_bad_common_name),
        cmocka_unit_test(test_inspect_other_sans),
        cmocka_unit_test(test_import_unreadable_pending_key),
        cmocka_unit_test(test_files_layout),
        cmocka_unit_test(test_files_regenerate_keeps_links),
        cmocka_unit_test(test_files_stale_names_removed),
        cmocka_unit_test(test_files_take_over_plain_files),
        cmocka_unit_test(test_files_refuse_bad_names),
        cmocka_unit_test(test_files_name_too_long),
        cmocka_unit_test(test_files_first_install_never_dangles),
        cmocka_unit_test(test_files_crash_at_every_point),
        cmocka_unit_test(test_files_crash_while_taking_over),
        cmocka_unit_test(test_files_second_installer_refused),
        cmocka_unit_test(test_files_repair_live_to_missing),
        cmocka_unit_test(test_files_repair_nothing_left),
        cmocka_unit_test(test_files_unusable_dir),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
