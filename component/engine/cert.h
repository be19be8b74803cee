/* cup-xmpp-s2s keys and certificates behind one narrow interface (OpenSSL 3 EVP / X509 only):
 * key generation, self-signed certificates and CSRs over a domain set, inspection, and the
 * checks an imported CA-signed certificate must pass. Everything goes in and out as PEM text,
 * so callers never see OpenSSL types; every function is safe to call from a worker thread. */
#ifndef IMD_CERT_H
#define IMD_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define CERT_DEFAULT_DAYS 365
#define CERT_MAX_DAYS 3650      /* ten years: anything longer is a typo */
#define CERT_MAX_NAMES 4096     /* domains in one certificate */
#define CERT_PEM_MAX (1u << 20) /* bytes of PEM accepted for an import (a chain fits easily) */
/* Certificates accepted in an imported chain, the leaf included. Real chains hold two to five;
 * decoding one costs OpenSSL 3 about half a millisecond on the event loop, so a paste of
 * CERT_PEM_MAX bytes of certificates would hold the loop for a second (bench_imd -s chain). */
#define CERT_CHAIN_MAX 16
#define CERT_FP_LEN (32 * 3)    /* "AB:CD:...": 32 bytes as hex pairs with colons, plus NUL */

enum cert_key_type {
    CERT_KEY_RSA_2048,
    CERT_KEY_RSA_3072,
    CERT_KEY_RSA_4096,
    CERT_KEY_EC_P256,
    CERT_KEY_EC_P384,
};
#define CERT_KEY_TYPE_COUNT 5

/* "rsa-2048", ... "ec-p384" (static), and the reverse: 0, or -1 when unknown. */
const char *cert_key_type_name(enum cert_key_type type);
int cert_key_type_parse(const char *name, enum cert_key_type *out);

/* Frees OpenSSL's state of the calling thread (its random generators, its error queue). Call it
 * when work on a thread-pool thread is done: those threads outlive OpenSSL's own cleanup at
 * exit, which would otherwise leave that state behind. The next use re-creates it. */
void cert_thread_done(void);

/* The names a certificate or CSR is made for; everything borrowed. */
struct cert_names {
    const char *common_name;    /* subject CN: the default domain */
    const char *const *domains; /* one dNSName SAN each, in this order */
    size_t n_domains;
    bool wildcards; /* also *.domain for each domain */
    bool xmpp_addr; /* also an id-on-xmppAddr otherName for each (ejabberd 23.01 breaks on it) */
};

/* A new private key as unencrypted PKCS#8 PEM (caller frees), or NULL with *err (a sentence the
 * caller frees). RSA-4096 takes about a second: never call this on the event loop. */
char *cert_key_generate(enum cert_key_type type, char **err);

/* A self-signed X.509 v3 certificate for `names` signed by `key_pem`: random 128-bit serial,
 * valid from `not_before` (0: now) for `days`, SHA-256 (SHA-384 for P-384), basic constraints
 * CA:FALSE, key usage, serverAuth + clientAuth, subject and authority key ids. PEM (caller
 * frees) or NULL with *err. */
char *cert_self_sign(const char *key_pem, const struct cert_names *names, time_t not_before,
                     int days, char **err);

/* A PKCS#10 request for `names` signed by `key_pem`, asking for the same extensions. */
char *cert_make_csr(const char *key_pem, const struct cert_names *names, char **err);

/* What certs/show reports about a certificate. Strings owned by the struct. */
struct cert_info {
    char *subject; /* RFC 2253 one-liner */
    char *issuer;
    char **sans; /* "DNS:name", "xmppAddr:name", or "other" */
    size_t n_sans;
    char *key;    /* "RSA 2048", "EC P-256", ... */
    char *serial; /* hex */
    time_t not_before, not_after;
    char fingerprint[CERT_FP_LEN]; /* SHA-256 of the DER */
    bool self_signed;
};

/* Reads the first certificate of `pem` into *out (zeroed first). 0, or -1 with *err. */
int cert_inspect(const char *pem, struct cert_info *out, char **err);
void cert_info_clear(struct cert_info *info);
/* True when a dNSName SAN matches `domain` (case-insensitively, `*.x` for one label left of x);
 * the CN counts only when the certificate has no dNSName at all (RFC 6125 §6.4.4). */
bool cert_info_covers(const struct cert_info *info, const char *domain);
/* The entries of `domains` the certificate does not cover, comma-separated (caller frees), or
 * NULL when it covers them all. */
char *cert_info_missing(const struct cert_info *info, const char *const *domains, size_t n);
/* The key as "RSA 2048" / "EC P-256" (caller frees), or NULL with *err. */
char *cert_key_describe(const char *key_pem, char **err);

enum cert_import_rc {
    CERT_IMPORT_OK,
    CERT_IMPORT_GARBAGE,      /* no certificate in the text, or one that does not parse */
    CERT_IMPORT_KEY_MISMATCH, /* the leaf is not for our pending key */
    CERT_IMPORT_NOT_YET_VALID,
    CERT_IMPORT_EXPIRED,
    CERT_IMPORT_GAPS, /* all fine except that some domains are not covered: *why names them */
    CERT_IMPORT_CHAIN_TOO_LONG, /* more than CERT_CHAIN_MAX certificates */
};

/*
 * The checks an imported certificate must pass, in this order: `chain_pem` holds one or more
 * certificates (the leaf first, then its chain; anything between the PEM blocks is ignored),
 * the leaf's public key is the one of `key_pem`, it is valid at `now`, it covers `domains`.
 * On OK and GAPS, *clean (caller frees) gets the certificates re-encoded as plain PEM, leaf
 * first: what the router should read. Otherwise *clean is NULL. *why (caller frees) always gets
 * one English sentence: what was found, or why it was refused.
 */
enum cert_import_rc cert_check_import(const char *key_pem, const char *chain_pem,
                                      const char *const *domains, size_t n, time_t now,
                                      char **clean, char **why);

#endif
