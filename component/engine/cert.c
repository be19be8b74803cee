/* cup-xmpp-s2s with OpenSSL 3: keys, self-signed certificates, CSRs, inspection and import
 * checks. Only EVP, X509, PEM and BIO calls; every OpenSSL return is checked here and turned
 * into a sentence for the caller. No state: safe from worker threads. */
#include "component/engine/cert.h"

#include "util/xmalloc.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SERIAL_BYTES 16 /* 128 random bits (CA/B forum asks for at least 64) */
#define OID_XMPP_ADDR "1.3.6.1.5.5.7.8.5"
#define DAY_SECONDS (24L * 60 * 60)

static const struct {
    const char *name;
    const char *algorithm; /* EVP name */
    unsigned bits;         /* RSA */
    const char *group;     /* EC */
} key_types[CERT_KEY_TYPE_COUNT] = {
    [CERT_KEY_RSA_2048] = {"rsa-2048", "RSA", 2048, NULL},
    [CERT_KEY_RSA_3072] = {"rsa-3072", "RSA", 3072, NULL},
    [CERT_KEY_RSA_4096] = {"rsa-4096", "RSA", 4096, NULL},
    [CERT_KEY_EC_P256] = {"ec-p256", "EC", 0, "P-256"},
    [CERT_KEY_EC_P384] = {"ec-p384", "EC", 0, "P-384"},
};

void cert_thread_done(void)
{
    OPENSSL_thread_stop();
}

const char *cert_key_type_name(enum cert_key_type type)
{
    return (unsigned)type < CERT_KEY_TYPE_COUNT ? key_types[type].name : "unknown";
}

int cert_key_type_parse(const char *name, enum cert_key_type *out)
{
    for (unsigned i = 0; name != NULL && i < CERT_KEY_TYPE_COUNT; i++)
        if (strcasecmp(name, key_types[i].name) == 0) {
            *out = (enum cert_key_type)i;
            return 0;
        }
    return -1;
}

/* ---- errors ---- */

/* Sets *err to "what: OpenSSL's first queued reason" and empties OpenSSL's queue. */
static void ssl_fail(char **err, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256];

    ERR_clear_error();
    if (err == NULL)
        return;
    if (e == 0) {
        *err = xstrdup(what);
        return;
    }
    ERR_error_string_n(e, buf, sizeof(buf));
    *err = xasprintf("%s: %s", what, buf);
}

static void set_why(char **why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_why(char **why, const char *fmt, ...)
{
    va_list ap;
    char buf[1024];

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    *why = xstrdup(buf);
}

/* ---- PEM in and out ---- */

/* The contents of a memory BIO as a NUL-terminated string (caller frees). */
static char *bio_string(BIO *bio)
{
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);

    return len >= 0 ? xstrndup(data ? data : "", (size_t)len) : NULL;
}

static EVP_PKEY *key_from_pem(const char *pem, char **err)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;

    BIO_free(bio);
    if (key == NULL)
        ssl_fail(err, "the private key does not parse");
    return key;
}

static X509 *cert_from_pem(const char *pem, char **err)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

    BIO_free(bio);
    if (x == NULL)
        ssl_fail(err, "the certificate does not parse");
    return x;
}

static char *key_to_pem(EVP_PKEY *key, char **err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;

    if (bio && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1)
        pem = bio_string(bio);
    else
        ssl_fail(err, "cannot encode the private key");
    BIO_free(bio);
    return pem;
}

static char *x509_to_pem(X509 *x, char **err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;

    if (bio && PEM_write_bio_X509(bio, x) == 1)
        pem = bio_string(bio);
    else
        ssl_fail(err, "cannot encode the certificate");
    BIO_free(bio);
    return pem;
}

/* ---- keys ---- */

char *cert_key_generate(enum cert_key_type type, char **err)
{
    EVP_PKEY *key = NULL;
    char *pem;

    if ((unsigned)type >= CERT_KEY_TYPE_COUNT) {
        *err = xstrdup("unknown key type");
        return NULL;
    }
    if (key_types[type].group != NULL)
        key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", key_types[type].group);
    else
        key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)key_types[type].bits);
    if (key == NULL) {
        ssl_fail(err, "key generation failed");
        return NULL;
    }
    pem = key_to_pem(key, err);
    EVP_PKEY_free(key);
    return pem;
}

static bool key_is_p384(EVP_PKEY *key)
{
    return EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) == 384;
}

/* "RSA 2048", "EC P-256", or the algorithm and size for anything else. */
static char *describe_key(EVP_PKEY *key)
{
    char group[64];
    size_t len = 0;

    if (EVP_PKEY_is_a(key, "RSA"))
        return xasprintf("RSA %d", EVP_PKEY_get_bits(key));
    if (EVP_PKEY_is_a(key, "EC") &&
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &len) == 1) {
        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
            return xstrdup("EC P-256");
        if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
            return xstrdup("EC P-384");
        return xasprintf("EC %s", group);
    }
    return xasprintf("%s %d", EVP_PKEY_get0_type_name(key), EVP_PKEY_get_bits(key));
}

char *cert_key_describe(const char *key_pem, char **err)
{
    EVP_PKEY *key = key_from_pem(key_pem, err);
    char *desc;

    if (key == NULL)
        return NULL;
    desc = describe_key(key);
    EVP_PKEY_free(key);
    return desc;
}

/* ---- names and extensions ---- */

/* Letters, digits, hyphens and dots (and a leading "*." for wildcards): what DOMAIN.md allows,
 * checked again here because nothing else stands between a name and an ASN.1 string. */
static bool name_ok(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len > 255)
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
            return false;
    return true;
}

static int add_dns(GENERAL_NAMES *gens, const char *prefix, const char *name)
{
    char *value = xasprintf("%s%s", prefix, name);
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    int ok = ia5 && gn && ASN1_STRING_set(ia5, value, (int)strlen(value)) == 1;

    free(value);
    if (ok) {
        GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
        if (sk_GENERAL_NAME_push(gens, gn) > 0)
            return 0;
        GENERAL_NAME_free(gn);
        return -1;
    }
    ASN1_IA5STRING_free(ia5);
    GENERAL_NAME_free(gn);
    return -1;
}

/* id-on-xmppAddr (RFC 6120 §13.7.1.4): otherName with a UTF8String value. */
static int add_xmpp_addr(GENERAL_NAMES *gens, const char *name)
{
    ASN1_OBJECT *oid = OBJ_txt2obj(OID_XMPP_ADDR, 1);
    ASN1_UTF8STRING *utf8 = ASN1_UTF8STRING_new();
    ASN1_TYPE *value = ASN1_TYPE_new();
    GENERAL_NAME *gn = GENERAL_NAME_new();

    if (oid && utf8 && value && gn && ASN1_STRING_set(utf8, name, (int)strlen(name)) == 1) {
        ASN1_TYPE_set(value, V_ASN1_UTF8STRING, utf8);
        if (GENERAL_NAME_set0_othername(gn, oid, value) == 1) {
            if (sk_GENERAL_NAME_push(gens, gn) > 0)
                return 0;
            GENERAL_NAME_free(gn);
            return -1;
        }
        utf8 = NULL; /* now owned by value */
    }
    ASN1_OBJECT_free(oid);
    ASN1_UTF8STRING_free(utf8);
    ASN1_TYPE_free(value);
    GENERAL_NAME_free(gn);
    return -1;
}

/* The subjectAltName list for `names`, or NULL with *err. */
static GENERAL_NAMES *build_sans(const struct cert_names *names, char **err)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();

    if (names->n_domains == 0 || names->n_domains > CERT_MAX_NAMES) {
        *err = xasprintf("a certificate needs between 1 and %d domains (got %zu)", CERT_MAX_NAMES,
                         names->n_domains);
        sk_GENERAL_NAME_free(gens);
        return NULL;
    }
    for (size_t i = 0; gens && i < names->n_domains; i++) {
        const char *d = names->domains[i];
        if (!name_ok(d)) {
            *err = xasprintf("'%s' is not a domain name a certificate can carry", d);
            GENERAL_NAMES_free(gens);
            return NULL;
        }
        if (add_dns(gens, "", d) < 0 || (names->wildcards && add_dns(gens, "*.", d) < 0) ||
            (names->xmpp_addr && add_xmpp_addr(gens, d) < 0)) {
            GENERAL_NAMES_free(gens);
            gens = NULL;
        }
    }
    if (gens == NULL)
        ssl_fail(err, "cannot build the subject alternative names");
    return gens;
}

static X509_NAME *build_subject(const char *cn, char **err)
{
    X509_NAME *subject = X509_NAME_new();

    if (!name_ok(cn)) {
        *err = xasprintf("'%s' is not a domain name a certificate can carry", cn);
        X509_NAME_free(subject);
        return NULL;
    }
    if (subject == NULL || X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                                      (const unsigned char *)cn, -1, -1, 0) != 1) {
        ssl_fail(err, "cannot build the subject name");
        X509_NAME_free(subject);
        return NULL;
    }
    return subject;
}

/* Key usage fitting the key: RSA key exchange needs keyEncipherment, ECDSA only signs. */
static const char *key_usage_for(EVP_PKEY *key)
{
    return EVP_PKEY_is_a(key, "RSA") ? "critical,digitalSignature,keyEncipherment"
                                     : "critical,digitalSignature";
}

/* The extensions every certificate and request carries, SANs apart. */
struct ext_value {
    int nid;
    const char *value;
};

static int add_conf_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    int ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;

    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

static int add_cert_extensions(X509 *x, EVP_PKEY *key, GENERAL_NAMES *sans)
{
    const struct ext_value exts[] = {
        {NID_basic_constraints, "critical,CA:FALSE"},   {NID_key_usage, key_usage_for(key)},
        {NID_ext_key_usage, "serverAuth,clientAuth"},   {NID_subject_key_identifier, "hash"},
        {NID_authority_key_identifier, "keyid:always"}, /* after the SKI: it copies it */
    };
    X509V3_CTX ctx;

    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
        if (add_conf_ext(x, &ctx, exts[i].nid, exts[i].value) < 0)
            return -1;
    return X509_add1_ext_i2d(x, NID_subject_alt_name, sans, 0, 0) == 1 ? 0 : -1;
}

/* A positive 128-bit random serial with its top bits set so it always encodes in 16 bytes. */
static int set_random_serial(X509 *x)
{
    unsigned char bytes[SERIAL_BYTES];
    BIGNUM *bn;
    int ok;

    if (RAND_bytes(bytes, sizeof(bytes)) != 1)
        return -1;
    bytes[0] = (unsigned char)((bytes[0] & 0x7f) | 0x40);
    if ((bn = BN_bin2bn(bytes, sizeof(bytes), NULL)) == NULL)
        return -1;
    ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok ? 0 : -1;
}

static int set_validity(X509 *x, time_t not_before, int days)
{
    time_t start = not_before ? not_before : time(NULL);

    if (X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &start) == NULL)
        return -1;
    return X509_time_adj_ex(X509_getm_notAfter(x), days, 0, &start) ? 0 : -1;
}

static const EVP_MD *digest_for(EVP_PKEY *key)
{
    return key_is_p384(key) ? EVP_sha384() : EVP_sha256();
}

/* Fills a fresh certificate; the caller signs it. */
static int fill_cert(X509 *x, EVP_PKEY *key, const struct cert_names *names, time_t not_before,
                     int days, char **err)
{
    X509_NAME *subject = build_subject(names->common_name, err);
    GENERAL_NAMES *sans = subject ? build_sans(names, err) : NULL;
    int rc = -1;

    if (subject == NULL || sans == NULL)
        goto fail;
    if (X509_set_version(x, X509_VERSION_3) != 1 || set_random_serial(x) < 0 ||
        X509_set_subject_name(x, subject) != 1 || X509_set_issuer_name(x, subject) != 1 ||
        set_validity(x, not_before, days) < 0 || X509_set_pubkey(x, key) != 1 ||
        add_cert_extensions(x, key, sans) < 0) {
        ssl_fail(err, "cannot build the certificate");
        goto fail;
    }
    rc = 0;
fail:
    GENERAL_NAMES_free(sans);
    X509_NAME_free(subject);
    return rc;
}

char *cert_self_sign(const char *key_pem, const struct cert_names *names, time_t not_before,
                     int days, char **err)
{
    EVP_PKEY *key;
    X509 *x = NULL;
    char *pem = NULL;

    if (days < 1 || days > CERT_MAX_DAYS) {
        *err = xasprintf("validity must be 1 to %d days (got %d)", CERT_MAX_DAYS, days);
        return NULL;
    }
    if ((key = key_from_pem(key_pem, err)) == NULL)
        return NULL;
    if ((x = X509_new()) == NULL) {
        ssl_fail(err, "cannot build the certificate");
        goto fail;
    }
    if (fill_cert(x, key, names, not_before, days, err) < 0)
        goto fail;
    if (X509_sign(x, key, digest_for(key)) <= 0) {
        ssl_fail(err, "cannot sign the certificate");
        goto fail;
    }
    pem = x509_to_pem(x, err);
fail:
    X509_free(x);
    EVP_PKEY_free(key);
    return pem;
}

/* ---- requests ---- */

static int add_req_extensions(X509_REQ *req, EVP_PKEY *key, GENERAL_NAMES *sans)
{
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    const struct ext_value conf[] = {
        {NID_key_usage, key_usage_for(key)},
        {NID_ext_key_usage, "serverAuth,clientAuth"},
    };
    X509_EXTENSION *ext;
    int rc = -1;

    if (exts == NULL)
        return -1;
    for (size_t i = 0; i < sizeof(conf) / sizeof(conf[0]); i++) {
        if ((ext = X509V3_EXT_conf_nid(NULL, NULL, conf[i].nid, conf[i].value)) == NULL ||
            sk_X509_EXTENSION_push(exts, ext) <= 0) {
            X509_EXTENSION_free(ext);
            goto fail;
        }
    }
    if ((ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, sans)) == NULL ||
        sk_X509_EXTENSION_push(exts, ext) <= 0) {
        X509_EXTENSION_free(ext);
        goto fail;
    }
    rc = X509_REQ_add_extensions(req, exts) == 1 ? 0 : -1;
fail:
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return rc;
}

static char *req_to_pem(X509_REQ *req, char **err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;

    if (bio && PEM_write_bio_X509_REQ(bio, req) == 1)
        pem = bio_string(bio);
    else
        ssl_fail(err, "cannot encode the request");
    BIO_free(bio);
    return pem;
}

char *cert_make_csr(const char *key_pem, const struct cert_names *names, char **err)
{
    EVP_PKEY *key = key_from_pem(key_pem, err);
    X509_REQ *req = key ? X509_REQ_new() : NULL;
    X509_NAME *subject = req ? build_subject(names->common_name, err) : NULL;
    GENERAL_NAMES *sans = subject ? build_sans(names, err) : NULL;
    char *pem = NULL;

    if (sans == NULL)
        goto fail;
    if (X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
        X509_REQ_set_subject_name(req, subject) != 1 || X509_REQ_set_pubkey(req, key) != 1 ||
        add_req_extensions(req, key, sans) < 0 || X509_REQ_sign(req, key, digest_for(key)) <= 0) {
        ssl_fail(err, "cannot build the request");
        goto fail;
    }
    pem = req_to_pem(req, err);
fail:
    if (key != NULL && req == NULL)
        ssl_fail(err, "cannot build the request");
    GENERAL_NAMES_free(sans);
    X509_NAME_free(subject);
    X509_REQ_free(req);
    EVP_PKEY_free(key);
    return pem;
}

/* ---- inspection ---- */

static char *name_oneline(const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *s = NULL;

    if (bio && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0)
        s = bio_string(bio);
    BIO_free(bio);
    return s ? s : xstrdup("?");
}

static time_t asn1_time_t(const ASN1_TIME *t)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    return ASN1_TIME_to_tm(t, &tm) == 1 ? timegm(&tm) : 0;
}

static char *san_text(const GENERAL_NAME *gn)
{
    int type;
    const void *value = GENERAL_NAME_get0_value(gn, &type);
    ASN1_OBJECT *oid = NULL;
    ASN1_TYPE *other = NULL;
    char text[64];

    if (type == GEN_DNS)
        return xasprintf("DNS:%.*s", ASN1_STRING_length(value),
                         (const char *)ASN1_STRING_get0_data(value));
    if (type == GEN_OTHERNAME && GENERAL_NAME_get0_otherName(gn, &oid, &other) == 1 &&
        OBJ_obj2txt(text, sizeof(text), oid, 1) > 0 && strcmp(text, OID_XMPP_ADDR) == 0 &&
        other->type == V_ASN1_UTF8STRING)
        return xasprintf("xmppAddr:%.*s", ASN1_STRING_length(other->value.utf8string),
                         (const char *)ASN1_STRING_get0_data(other->value.utf8string));
    return xstrdup("other");
}

static void read_sans(X509 *x, struct cert_info *out)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int n = gens ? sk_GENERAL_NAME_num(gens) : 0;

    out->sans = xcalloc(n > 0 ? (size_t)n : 1, sizeof(*out->sans));
    for (int i = 0; i < n; i++)
        out->sans[out->n_sans++] = san_text(sk_GENERAL_NAME_value(gens, i));
    GENERAL_NAMES_free(gens);
}

static void read_fingerprint(X509 *x, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    out[0] = '\0';
    if (X509_digest(x, EVP_sha256(), md, &len) != 1)
        return;
    for (unsigned i = 0; i < len && i < 32; i++)
        snprintf(out + i * 3, 4, i + 1 < len ? "%02X:" : "%02X", md[i]);
}

static char *read_serial(X509 *x)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    char *s = xstrdup(hex ? hex : "?");

    OPENSSL_free(hex);
    BN_free(bn);
    return s;
}

static void fill_info(X509 *x, struct cert_info *out)
{
    EVP_PKEY *pub = X509_get0_pubkey(x);

    out->subject = name_oneline(X509_get_subject_name(x));
    out->issuer = name_oneline(X509_get_issuer_name(x));
    read_sans(x, out);
    out->key = pub ? describe_key(pub) : xstrdup("unknown");
    out->serial = read_serial(x);
    out->not_before = asn1_time_t(X509_get0_notBefore(x));
    out->not_after = asn1_time_t(X509_get0_notAfter(x));
    read_fingerprint(x, out->fingerprint);
    out->self_signed = X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0 &&
                       X509_verify(x, pub) == 1;
    ERR_clear_error();
}

int cert_inspect(const char *pem, struct cert_info *out, char **err)
{
    X509 *x;

    memset(out, 0, sizeof(*out));
    if ((x = cert_from_pem(pem, err)) == NULL)
        return -1;
    fill_info(x, out);
    X509_free(x);
    return 0;
}

void cert_info_clear(struct cert_info *info)
{
    if (info == NULL)
        return;
    for (size_t i = 0; i < info->n_sans; i++)
        free(info->sans[i]);
    free(info->sans);
    free(info->subject);
    free(info->issuer);
    free(info->key);
    free(info->serial);
    memset(info, 0, sizeof(*info));
}

/* RFC 6125 §6.4.3: a wildcard stands for exactly one whole left-most label. */
static bool dns_matches(const char *pattern, const char *domain)
{
    const char *dot;

    if (strcasecmp(pattern, domain) == 0)
        return true;
    if (strncmp(pattern, "*.", 2) != 0 || (dot = strchr(domain, '.')) == NULL || dot == domain)
        return false;
    return strcasecmp(pattern + 1, dot) == 0;
}

static bool has_dns_san(const struct cert_info *info)
{
    for (size_t i = 0; i < info->n_sans; i++)
        if (strncmp(info->sans[i], "DNS:", 4) == 0)
            return true;
    return false;
}

/* The CN value of an RFC 2253 subject ("CN=x,O=y"), copied into buf. */
static bool subject_cn(const char *subject, char *buf, size_t size)
{
    const char *p = strstr(subject, "CN=");
    size_t len;

    if (p == NULL || (p != subject && p[-1] != ','))
        return false;
    p += 3;
    len = strcspn(p, ",+");
    if (len >= size)
        return false;
    memcpy(buf, p, len);
    buf[len] = '\0';
    return true;
}

bool cert_info_covers(const struct cert_info *info, const char *domain)
{
    char cn[256];

    for (size_t i = 0; i < info->n_sans; i++)
        if (strncmp(info->sans[i], "DNS:", 4) == 0 && dns_matches(info->sans[i] + 4, domain))
            return true;
    return !has_dns_san(info) && info->subject && subject_cn(info->subject, cn, sizeof(cn)) &&
           strcasecmp(cn, domain) == 0;
}

char *cert_info_missing(const struct cert_info *info, const char *const *domains, size_t n)
{
    char *list = NULL;

    for (size_t i = 0; i < n; i++) {
        if (cert_info_covers(info, domains[i]))
            continue;
        char *longer = list ? xasprintf("%s, %s", list, domains[i]) : xstrdup(domains[i]);
        free(list);
        list = longer;
    }
    return list;
}

/* ---- import ---- */

/* Every certificate in `pem`, in order; NULL when there is none or one does not parse, and
 * *too_long set when there are more than CERT_CHAIN_MAX (none is decoded past that). One
 * BIO reads the blocks one after the other: a BIO per certificate would measure the rest of the
 * text each time, quadratic in the number of certificates pasted. The reader skips what lies
 * between blocks and blocks of other kinds, and stops at the end with PEM_R_NO_START_LINE; any
 * other error is a certificate that does not parse. */
static STACK_OF(X509) * read_chain(const char *pem, bool *too_long)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    STACK_OF(X509) *chain = bio ? sk_X509_new_null() : NULL;
    X509 *x;
    unsigned long e;

    *too_long = false;
    ERR_clear_error();
    while (chain && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (sk_X509_push(chain, x) <= 0) {
            X509_free(x);
            goto fail;
        }
        if (sk_X509_num(chain) > CERT_CHAIN_MAX) {
            *too_long = true;
            goto fail;
        }
    }
    e = ERR_peek_last_error();
    if (chain == NULL || sk_X509_num(chain) == 0 || ERR_GET_LIB(e) != ERR_LIB_PEM ||
        ERR_GET_REASON(e) != PEM_R_NO_START_LINE)
        goto fail;
    ERR_clear_error();
    BIO_free(bio);
    return chain;
fail:
    sk_X509_pop_free(chain, X509_free);
    BIO_free(bio);
    ERR_clear_error();
    return NULL;
}

static char *chain_to_pem(STACK_OF(X509) * chain)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;
    int ok = bio != NULL;

    for (int i = 0; ok && i < sk_X509_num(chain); i++)
        ok = PEM_write_bio_X509(bio, sk_X509_value(chain, i)) == 1;
    if (ok)
        pem = bio_string(bio);
    BIO_free(bio);
    return pem;
}

static enum cert_import_rc check_validity(X509 *leaf, time_t now, char **why)
{
    time_t t = now;

    if (X509_cmp_time(X509_get0_notBefore(leaf), &t) > 0) {
        set_why(why, "the certificate is not valid yet (valid from %ld, unix time)",
                (long)asn1_time_t(X509_get0_notBefore(leaf)));
        return CERT_IMPORT_NOT_YET_VALID;
    }
    if (X509_cmp_time(X509_get0_notAfter(leaf), &t) < 0) {
        set_why(why, "the certificate has expired (valid until %ld, unix time)",
                (long)asn1_time_t(X509_get0_notAfter(leaf)));
        return CERT_IMPORT_EXPIRED;
    }
    return CERT_IMPORT_OK;
}

static enum cert_import_rc check_leaf(X509 *leaf, const char *key_pem, const char *const *domains,
                                      size_t n, time_t now, char **why)
{
    char *err = NULL;
    EVP_PKEY *key = key_from_pem(key_pem, &err);
    struct cert_info info;
    enum cert_import_rc rc;
    char *missing;

    if (key == NULL) {
        set_why(why, "the pending key cannot be read (%s); make a new CSR", err);
        free(err);
        return CERT_IMPORT_KEY_MISMATCH;
    }
    rc = EVP_PKEY_eq(X509_get0_pubkey(leaf), key) == 1 ? CERT_IMPORT_OK : CERT_IMPORT_KEY_MISMATCH;
    EVP_PKEY_free(key);
    ERR_clear_error();
    if (rc != CERT_IMPORT_OK) {
        set_why(why, "the certificate is not for the pending key: sign the latest CSR");
        return rc;
    }
    if ((rc = check_validity(leaf, now, why)) != CERT_IMPORT_OK)
        return rc;
    memset(&info, 0, sizeof(info));
    fill_info(leaf, &info);
    missing = cert_info_missing(&info, domains, n);
    if (missing)
        set_why(why, "the certificate does not cover: %s", missing);
    else
        set_why(why, "the certificate matches the key and covers every domain");
    cert_info_clear(&info);
    free(missing);
    return missing ? CERT_IMPORT_GAPS : CERT_IMPORT_OK;
}

enum cert_import_rc cert_check_import(const char *key_pem, const char *chain_pem,
                                      const char *const *domains, size_t n, time_t now,
                                      char **clean, char **why)
{
    STACK_OF(X509) * chain;
    enum cert_import_rc rc;
    bool too_long = false;

    *clean = NULL;
    if (chain_pem == NULL || strlen(chain_pem) > CERT_PEM_MAX ||
        (chain = read_chain(chain_pem, &too_long)) == NULL) {
        if (too_long) {
            set_why(why, "the chain holds more than %d certificates: paste the server's "
                         "certificate and its intermediates only, not a whole CA bundle",
                    CERT_CHAIN_MAX);
            return CERT_IMPORT_CHAIN_TOO_LONG;
        }
        set_why(why, "no readable certificate: paste the PEM text, from -----BEGIN "
                     "CERTIFICATE----- to -----END CERTIFICATE-----, the server's certificate "
                     "first");
        return CERT_IMPORT_GARBAGE;
    }
    rc = check_leaf(sk_X509_value(chain, 0), key_pem, domains, n, now, why);
    if (rc == CERT_IMPORT_OK || rc == CERT_IMPORT_GAPS)
        *clean = chain_to_pem(chain);
    sk_X509_pop_free(chain, X509_free);
    return rc;
}
