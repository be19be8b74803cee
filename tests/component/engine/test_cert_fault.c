/* component/cert when OpenSSL fails under it: the random source for the serial and the memory
 * BIOs the PEM texts are written to. Their calls from this binary are wrapped at link time
 * (test-only; libcrypto's own calls are not), and each failure must give no PEM and a sentence
 * naming what could not be done; with the faults off the same calls work again. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "component/engine/cert.h"

static bool fail_rand, fail_bio_new;
static int rand_fails, bio_fails;

int __real_RAND_bytes(unsigned char *buf, int num);
BIO *__real_BIO_new(const BIO_METHOD *type);
int __wrap_RAND_bytes(unsigned char *buf, int num);
BIO *__wrap_BIO_new(const BIO_METHOD *type);

int __wrap_RAND_bytes(unsigned char *buf, int num)
{
    if (fail_rand) {
        rand_fails++;
        return 0;
    }
    return __real_RAND_bytes(buf, num);
}

BIO *__wrap_BIO_new(const BIO_METHOD *type)
{
    if (fail_bio_new) {
        bio_fails++;
        return NULL;
    }
    return __real_BIO_new(type);
}

static const char *const one[] = {"a.example.test"};
static const struct cert_names names1 = {
    .common_name = "a.example.test", .domains = one, .n_domains = 1};

static void assert_starts(const char *s, const char *prefix)
{
    assert_non_null(s);
    if (strncmp(s, prefix, strlen(prefix)) != 0)
        fail_msg("'%s' does not start with '%s'", s, prefix);
}

static char *must_key(void)
{
    char *err = NULL, *key = cert_key_generate(CERT_KEY_EC_P256, &err);

    if (key == NULL)
        fail_msg("key: %s", err);
    return key;
}

/* No random serial: no certificate. */
static void test_no_randomness(void **state)
{
    char *key = must_key(), *err = NULL, *pem;
    (void)state;

    fail_rand = true;
    rand_fails = 0;
    assert_null(cert_self_sign(key, &names1, 0, 30, &err));
    fail_rand = false;
    assert_true(rand_fails > 0);
    assert_starts(err, "cannot build the certificate");
    free(err);
    err = NULL;
    pem = cert_self_sign(key, &names1, 0, 30, &err);
    assert_non_null(pem);
    assert_starts(pem, "-----BEGIN CERTIFICATE-----");
    free(pem);
    free(key);
}

/* No memory BIO for the PEM text: the key, the certificate and the request each say which
 * text could not be encoded. */
static void test_no_output_bio(void **state)
{
    char *key = must_key(), *err = NULL, *csr;
    (void)state;

    fail_bio_new = true;
    bio_fails = 0;
    assert_null(cert_key_generate(CERT_KEY_EC_P256, &err));
    assert_starts(err, "cannot encode the private key");
    free(err);
    err = NULL;
    assert_null(cert_self_sign(key, &names1, 0, 30, &err));
    assert_starts(err, "cannot encode the certificate");
    free(err);
    err = NULL;
    assert_null(cert_make_csr(key, &names1, &err));
    assert_starts(err, "cannot encode the request");
    free(err);
    err = NULL;
    fail_bio_new = false;
    assert_int_equal(bio_fails, 3);
    csr = cert_make_csr(key, &names1, &err);
    assert_non_null(csr);
    assert_starts(csr, "-----BEGIN CERTIFICATE REQUEST-----");
    free(csr);
    free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_randomness),
        cmocka_unit_test(test_no_output_bio),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
