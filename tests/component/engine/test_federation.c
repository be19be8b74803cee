/* Unit tests for component/federation's probe up to the stream step, without DNS: the
 * configured resolve map, a numeric address, a name looked up on the bounded resolver thread
 * (localhost), a name that does not resolve, a closed port, a peer that never speaks, and
 * scripted peers that go wrong in the stream and STARTTLS steps. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "component/engine/federation.h"

/* A listening socket on 127.0.0.1 that never accepts (the kernel completes connects). */
static int silent_listener(unsigned *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* A port nobody listens on: bound, then closed. */
static unsigned closed_port(void)
{
    unsigned port;

    close(silent_listener(&port));
    return port;
}

static void probe(const char *overrides, unsigned timeout_ms, struct fed_report *r)
{
    struct fed_options o = {.domain = "peer.example.test",
                            .from = "us.example.test",
                            .overrides = overrides,
                            .timeout_ms = timeout_ms};

    federation_probe(&o, r);
}

static void assert_step(const struct fed_report *r, enum fed_step step, enum fed_state state,
                        const char *detail_part)
{
    const struct fed_step_result *s = &r->steps[step];

    if (s->state != state || strstr(s->detail, detail_part) == NULL)
        fail_msg("step %s: state %d, detail '%s' (wanted state %d and '%s')",
                 federation_step_name(step), s->state, s->detail, state, detail_part);
}

static void test_override_numeric_silent_peer(void **state)
{
    struct fed_report r;
    char map[128];
    unsigned port;
    int fd = silent_listener(&port);

    (void)state;
    snprintf(map, sizeof(map), "other.example.test=10.0.0.1:1 peer.example.test=127.0.0.1:%u",
             port);
    probe(map, 500, &r); /* the silent peer makes the stream step wait this long */
    assert_step(&r, FED_RESOLVE, FED_OK, "configured in [federation] resolve");
    assert_step(&r, FED_CONNECT, FED_OK, "connected to 127.0.0.1");
    assert_step(&r, FED_STREAM, FED_FAILED, "127.0.0.1 port "); /* where it connected */
    assert_step(&r, FED_STREAM, FED_FAILED,
                "accepted the connection but sent nothing within 0.5 s");
    assert_int_equal(r.steps[FED_STARTTLS].state, FED_NOT_RUN);
    assert_int_equal(federation_first_failure(&r), FED_STREAM);
    close(fd);
}

/* "localhost" is a name, not an address: it goes through the resolver thread, and the connect
 * that follows is refused (a closed port), which proves the name was resolved. */
static void test_name_through_resolver_thread(void **state)
{
    struct fed_report r;
    char map[128];

    (void)state;
    snprintf(map, sizeof(map), "peer.example.test=localhost:%u", closed_port());
    probe(map, 10000, &r);
    assert_step(&r, FED_CONNECT, FED_FAILED, "Connection refused");
}

static void test_name_that_does_not_resolve(void **state)
{
    struct fed_report r;

    (void)state;
    probe("peer.example.test=no-such-host.invalid:5269", 2000, &r);
    /* Reported under resolve, where it happens, not under connect. */
    assert_step(&r, FED_RESOLVE, FED_FAILED, "no-such-host.invalid:5269");
    assert_step(&r, FED_RESOLVE, FED_FAILED, "cannot resolve no-such-host.invalid");
    assert_int_equal(r.steps[FED_CONNECT].state, FED_NOT_RUN);
    assert_int_equal(federation_first_failure(&r), FED_RESOLVE);
}

/* No entry of the resolve map is for this domain: the probe asks DNS for the SRV record of a
 * name that cannot exist (RFC 6761 .test), finds none (NXDOMAIN, or no DNS server at all),
 * falls back to the domain on 5269 as RFC 6120 says, and that name does not resolve either. */
static void test_no_srv_record(void **state)
{
    struct fed_report r;

    (void)state;
    probe("other.example.test=127.0.0.1:5269, peer.example.test.other=127.0.0.1:1", 2000, &r);
    assert_step(&r, FED_RESOLVE, FED_FAILED,
                "no SRV record: falling back to peer.example.test:5269; ");
    assert_int_equal(r.steps[FED_CONNECT].state, FED_NOT_RUN);
    assert_int_equal(federation_first_failure(&r), FED_RESOLVE);
}

/* A peer that accepts, reads the header and closes without a word; another that answers with
 * something that is not XMPP and closes. */
struct peer_script {
    int listener;
    const char *says; /* NULL: nothing */
};

static void *peer_run(void *arg)
{
    struct peer_script *s = arg;
    char buf[1024];
    int fd = accept(s->listener, NULL, NULL);

    if (fd >= 0) {
        (void)recv(fd, buf, sizeof(buf), 0);
        if (s->says)
            (void)send(fd, s->says, strlen(s->says), 0);
        close(fd);
    }
    return NULL;
}

static void probe_scripted(const char *says, struct fed_report *r)
{
    struct peer_script s = {.says = says};
    unsigned port;
    char map[128];
    pthread_t t;

    s.listener = silent_listener(&port);
    assert_int_equal(pthread_create(&t, NULL, peer_run, &s), 0);
    snprintf(map, sizeof(map), "peer.example.test=127.0.0.1:%u", port);
    probe(map, 5000, r);
    pthread_join(t, NULL);
    close(s.listener);
}

static void test_peer_closes(void **state)
{
    struct fed_report r;

    (void)state;
    probe_scripted(NULL, &r);
    assert_step(&r, FED_STREAM, FED_FAILED, "closed the connection without sending anything");
    probe_scripted("HTTP/1.1 400 Bad Request\r\n\r\n", &r);
    assert_step(&r, FED_STREAM, FED_FAILED,
                "closed the connection before its stream features; 28 bytes received: HTTP/1.1 "
                "400");
}

/* A peer that plays a scripted s2s exchange: before each answer it reads what the probe sent
 * (one recv), then sends the answer; after the last it waits for the probe to close. */
struct peer_dialogue {
    int listener;
    const char *const *answers; /* NULL-terminated */
};

static void *dialogue_run(void *arg)
{
    struct peer_dialogue *d = arg;
    char buf[4096];
    int fd = accept(d->listener, NULL, NULL);

    if (fd < 0)
        return NULL;
    for (const char *const *a = d->answers; *a; a++)
        if (recv(fd, buf, sizeof(buf), 0) <= 0 || send(fd, *a, strlen(*a), MSG_NOSIGNAL) < 0)
            break;
    while (recv(fd, buf, sizeof(buf), 0) > 0)
        ;
    close(fd);
    return NULL;
}

static void probe_dialogue(const char *const *answers, const char *ca_file, unsigned timeout_ms,
                           struct fed_report *r)
{
    struct peer_dialogue d = {.answers = answers};
    struct fed_options o = {.domain = "peer.example.test",
                            .from = "us.example.test",
                            .ca_file = ca_file,
                            .timeout_ms = timeout_ms};
    unsigned port;
    char map[128];
    pthread_t t;

    d.listener = silent_listener(&port);
    snprintf(map, sizeof(map), "peer.example.test=127.0.0.1:%u", port);
    o.overrides = map;
    assert_int_equal(pthread_create(&t, NULL, dialogue_run, &d), 0);
    federation_probe(&o, r);
    pthread_join(t, NULL);
    close(d.listener);
}

#define HEADER                                                                                     \
    "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "                                   \
    "xmlns:stream='http://etherx.jabber.org/streams' from='peer.example.test' id='s1' "            \
    "version='1.0'>"
#define TLS_FEATURES                                                                               \
    "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"    \
    "</stream:features>"

/* Stream answers that are not features: a stream error, features without STARTTLS, more bytes
 * than the features may take, and a header followed by silence. */
static void test_stream_answers(void **state)
{
    static const char *const error[] = {
        HEADER "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
               "</stream:error></stream:stream>",
        NULL};
    static const char *const plain[] = {
        HEADER "<stream:features><dialback xmlns='urn:xmpp:features:dialback'/>"
               "</stream:features>",
        NULL};
    static const char *const silent_after_header[] = {HEADER, NULL};
    static char flood[FED_FEATURES_MAX + 100];
    const char *const too_long[] = {flood, NULL};
    struct fed_report r;

    (void)state;
    probe_dialogue(error, NULL, 5000, &r);
    assert_step(&r, FED_STREAM, FED_FAILED,
                "the server answered with a stream error: <stream:error><host-unknown");
    assert_int_equal(r.steps[FED_STARTTLS].state, FED_NOT_RUN);

    probe_dialogue(plain, NULL, 5000, &r);
    assert_step(&r, FED_STREAM, FED_OK, "stream opened; features received");
    assert_step(&r, FED_STARTTLS, FED_FAILED, "the server does not offer STARTTLS");
    assert_int_equal(federation_first_failure(&r), FED_STARTTLS);

    memcpy(flood, HEADER, strlen(HEADER));
    memset(flood + strlen(HEADER), ' ', sizeof(flood) - 1 - strlen(HEADER));
    flood[sizeof(flood) - 1] = '\0';
    probe_dialogue(too_long, NULL, 5000, &r);
    assert_step(&r, FED_STREAM, FED_FAILED, "no stream features in the first 16384 bytes");

    /* The header, then nothing until the step's time is up. */
    probe_dialogue(silent_after_header, NULL, 2000, &r);
    assert_step(&r, FED_STREAM, FED_FAILED, "no stream features within 2.0 s; 153 bytes");
}

/* STARTTLS offered, then: refused; accepted with a CA file that cannot be loaded; accepted
 * and followed by bytes that are not TLS. */
static void test_starttls_failures(void **state)
{
    static const char *const refused[] = {
        HEADER TLS_FEATURES, "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>",
        NULL};
    static const char *const proceed[] = {
        HEADER TLS_FEATURES, "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", NULL};
    static const char *const not_tls[] = {HEADER TLS_FEATURES,
                                          "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
                                          "HTTP/1.1 400 Bad Request\r\n\r\n", NULL};
    char ca[] = "/tmp/imd-fed-ca-XXXXXX";
    struct fed_report r;
    int fd;

    (void)state;
    probe_dialogue(refused, NULL, 5000, &r);
    assert_step(&r, FED_STREAM, FED_OK, "STARTTLS offered");
    assert_step(&r, FED_STARTTLS, FED_FAILED, "STARTTLS refused or no answer");

    /* A CA file that holds no certificate (an admin's typo'd path gets the same). */
    fd = mkstemp(ca);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "not a certificate\n", 18), 18);
    close(fd);
    probe_dialogue(proceed, ca, 5000, &r);
    assert_step(&r, FED_STARTTLS, FED_FAILED, "TLS setup failed (CA file /tmp/imd-fed-ca-");
    assert_int_equal(r.steps[FED_CHAIN].state, FED_NOT_RUN);
    unlink(ca);
    probe_dialogue(proceed, "/nonexistent/imd-ca.pem", 5000, &r);
    assert_step(&r, FED_STARTTLS, FED_FAILED,
                "TLS setup failed (CA file /nonexistent/imd-ca.pem): ");

    probe_dialogue(not_tls, NULL, 5000, &r);
    assert_step(&r, FED_STARTTLS, FED_FAILED, "TLS handshake failed: ");
    assert_int_equal(federation_first_failure(&r), FED_STARTTLS);
}

/* ---- the certificate steps: a peer that completes STARTTLS with a certificate of ours ---- */

/* A self-signed certificate with subject CN `cn` and subjectAltName `san` (NULL: none). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *san)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_get_subject_name(x);
    X509V3_CTX ctx;

    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, key);
    if (san) {
        X509_EXTENSION *e;
        X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
        e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
        assert_non_null(e);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    return x;
}

struct tls_peer {
    int listener;
    X509 *cert;
    EVP_PKEY *key;
};

/* Plays the s2s exchange up to STARTTLS, then the TLS handshake with its certificate. */
static void *tls_peer_run(void *arg)
{
    struct tls_peer *t = arg;
    static const char *const before[] = {
        HEADER TLS_FEATURES, "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", NULL};
    char buf[4096];
    int fd = accept(t->listener, NULL, NULL);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL *ssl = NULL;

    if (fd < 0 || ctx == NULL)
        goto out;
    for (const char *const *a = before; *a; a++)
        if (recv(fd, buf, sizeof(buf), 0) <= 0 || send(fd, *a, strlen(*a), MSG_NOSIGNAL) < 0)
            goto out;
    SSL_CTX_use_certificate(ctx, t->cert);
    SSL_CTX_use_PrivateKey(ctx, t->key);
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1)
        while (SSL_read(ssl, buf, sizeof(buf)) > 0)
            ;
out:
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    if (fd >= 0)
        close(fd);
    return NULL;
}

static void probe_tls(X509 *cert, EVP_PKEY *key, const char *ca_file, struct fed_report *r)
{
    struct tls_peer t = {.cert = cert, .key = key};
    struct fed_options o = {.domain = "peer.example.test",
                            .from = "us.example.test",
                            .ca_file = ca_file,
                            .timeout_ms = 5000};
    unsigned port;
    char map[128];
    pthread_t th;

    t.listener = silent_listener(&port);
    snprintf(map, sizeof(map), "peer.example.test=127.0.0.1:%u", port);
    o.overrides = map;
    assert_int_equal(pthread_create(&th, NULL, tls_peer_run, &t), 0);
    federation_probe(&o, r);
    pthread_join(th, NULL);
    close(t.listener);
}

/* What the admin reads about the peer's certificate: a chain not trusted (with the CA file
 * used), a name only the subject CN carries (tolerated: some servers accept it), the SAN's DNS
 * names listed (other kinds left out), a certificate with no SAN named by its subject, and a
 * trusted chain with a wrong name. */
static void test_certificate_steps(void **state)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cn_only, *no_san, *good;
    char ca[] = "/tmp/imd-fed-ca-XXXXXX";
    struct fed_report r;
    FILE *f;
    int fd;

    (void)state;
    assert_non_null(key);
    cn_only = make_cert(key, "peer.example.test", "DNS:a.example,IP:127.0.0.1,DNS:b.example");
    probe_tls(cn_only, key, NULL, &r);
    assert_step(&r, FED_STARTTLS, FED_OK, "TLS");
    assert_step(&r, FED_CHAIN, FED_FAILED, "not trusted: ");
    assert_step(&r, FED_CHAIN, FED_FAILED,
                "(issuer /CN=peer.example.test; CA file system default)");
    assert_step(&r, FED_NAME, FED_TOLERATED,
                "only the subject CN names peer.example.test; the SAN list names: a.example, "
                "b.example (RFC 6125");
    assert_int_equal(federation_first_failure(&r), FED_CHAIN);

    /* trusted through the CA file, but for another name, and no SAN at all */
    no_san = make_cert(key, "wrong.example", NULL);
    fd = mkstemp(ca);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_int_equal(PEM_write_X509(f, no_san), 1);
    fclose(f);
    probe_tls(no_san, key, ca, &r);
    assert_step(&r, FED_CHAIN, FED_OK, "trusted (issuer /CN=wrong.example)");
    assert_step(&r, FED_NAME, FED_FAILED,
                "the certificate is not valid for peer.example.test (it names: /CN=wrong.example)");
    assert_int_equal(federation_first_failure(&r), FED_NAME);
    unlink(ca);

    /* the name in the SAN: valid, whatever the chain says */
    good = make_cert(key, "x", "DNS:peer.example.test");
    probe_tls(good, key, NULL, &r);
    assert_step(&r, FED_CHAIN, FED_FAILED, "not trusted");
    assert_step(&r, FED_NAME, FED_OK, "the certificate is valid for peer.example.test");
    X509_free(cn_only);
    X509_free(no_san);
    X509_free(good);
    EVP_PKEY_free(key);
}

static void test_closed_port(void **state)
{
    struct fed_report r;
    char map[128];

    (void)state;
    snprintf(map, sizeof(map), "peer.example.test=127.0.0.1:%u", closed_port());
    probe(map, 10000, &r);
    assert_step(&r, FED_CONNECT, FED_FAILED, "Connection refused");
    assert_int_equal(federation_first_failure(&r), FED_CONNECT);
}

static void test_step_names(void **state)
{
    (void)state;
    assert_string_equal(federation_step_name(FED_RESOLVE), "resolve");
    assert_string_equal(federation_step_name(FED_PING), "ping");
    assert_string_equal(federation_step_name((enum fed_step)99), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_override_numeric_silent_peer),
        cmocka_unit_test(test_name_through_resolver_thread),
        cmocka_unit_test(test_name_that_does_not_resolve),
        cmocka_unit_test(test_no_srv_record),
        cmocka_unit_test(test_closed_port),
        cmocka_unit_test(test_peer_closes),
        cmocka_unit_test(test_stream_answers),
        cmocka_unit_test(test_starttls_failures),
        cmocka_unit_test(test_certificate_steps),
        cmocka_unit_test(test_step_names),
    };

    signal(SIGPIPE, SIG_IGN); /* as the daemon: a peer that hangs up mid-TLS is no signal */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
