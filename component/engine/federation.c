/* The federation probe (see federation.h): plain blocking sockets with per-step deadlines,
 * libc's resolver for SRV (its own retry and timeout set from the step's), getaddrinfo on a
 * thread we stop waiting for at the deadline, OpenSSL for STARTTLS. Runs on a worker thread,
 * so it keeps no state beyond its arguments. */
#include "component/engine/federation.h"

#include <arpa/nameser.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <resolv.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define NS_TLS "urn:ietf:params:xml:ns:xmpp-tls"
#define HOST_MAX 256
#define RESOLVE_TIMED_OUT 1 /* beside getaddrinfo's EAI_* codes, which are negative */

static const char *const step_names[FED_STEPS] = {"resolve", "connect", "stream", "starttls",
                                                  "chain",   "name",    "ping"};

const char *federation_step_name(enum fed_step step)
{
    return (unsigned)step < FED_STEPS ? step_names[step] : "?";
}

int federation_first_failure(const struct fed_report *report)
{
    for (int i = 0; i < FED_STEPS; i++)
        if (report->steps[i].state == FED_FAILED)
            return i;
    return -1;
}

/* ---- bookkeeping ---- */

struct probe {
    const struct fed_options *opts;
    struct fed_report *report;
    struct timespec started; /* of the current step */
    char host[HOST_MAX];     /* where to connect */
    unsigned port;
    struct addrinfo *addrs; /* the resolve step's addresses for host:port */
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
};

static unsigned elapsed_ms(const struct timespec *since)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (unsigned)((now.tv_sec - since->tv_sec) * 1000 +
                      (now.tv_nsec - since->tv_nsec) / 1000000);
}

static void step_begin(struct probe *p)
{
    clock_gettime(CLOCK_MONOTONIC, &p->started);
}

static int step_end(struct probe *p, enum fed_step step, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records the step's outcome; returns 0 when it succeeded, -1 otherwise. */
static int step_end(struct probe *p, enum fed_step step, bool ok, const char *fmt, ...)
{
    struct fed_step_result *r = &p->report->steps[step];
    va_list ap;

    r->state = ok ? FED_OK : FED_FAILED;
    r->ms = elapsed_ms(&p->started);
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
    va_end(ap);
    return ok ? 0 : -1;
}

/* ---- resolve ---- */

/* "domain=host:port" among blank- or comma-separated entries. */
static bool find_override(struct probe *p)
{
    const char *o = p->opts->overrides;
    size_t dlen = strlen(p->opts->domain);

    while (o && *o) {
        o += strspn(o, " \t,");
        size_t len = strcspn(o, " \t,");
        const char *colon = memchr(o, ':', len);
        if (len > dlen + 1 && strncasecmp(o, p->opts->domain, dlen) == 0 && o[dlen] == '=' &&
            colon && (size_t)(colon - o - dlen - 1) < sizeof(p->host)) {
            snprintf(p->host, sizeof(p->host), "%.*s", (int)(colon - o - dlen - 1), o + dlen + 1);
            p->port = (unsigned)strtoul(colon + 1, NULL, 10);
            return p->port > 0 && p->port < 65536;
        }
        o += len;
    }
    return false;
}

static unsigned get16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

/* Walks the answer section of a DNS reply (RFC 1035 §4.1) by hand: libc has the resolver but
 * the ns_* parser lives in libresolv. Keeps the SRV record with the lowest priority. */
int federation_best_srv(const unsigned char *msg, int len, char *host, size_t host_size,
                        unsigned *port)
{
    const unsigned char *end = msg + len, *cur = msg + HFIXEDSZ;
    unsigned qd, an, best = 65536;
    int n, found = 0;

    if (len < HFIXEDSZ)
        return 0;
    qd = get16(msg + 4);
    an = get16(msg + 6);
    for (unsigned i = 0; i < qd && cur < end; i++) {
        if ((n = dn_skipname(cur, end)) < 0)
            return 0;
        cur += n + QFIXEDSZ;
    }
    for (unsigned i = 0; i < an && cur < end; i++) {
        char target[HOST_MAX];
        if ((n = dn_skipname(cur, end)) < 0 || cur + n + RRFIXEDSZ > end)
            return found;
        cur += n;
        unsigned type = get16(cur), rdlen = get16(cur + 8);
        cur += RRFIXEDSZ;
        if (cur + rdlen > end)
            return found;
        if (type == T_SRV && rdlen >= 7 && get16(cur) < best &&
            dn_expand(msg, end, cur + 6, target, sizeof(target)) >= 0) {
            best = get16(cur);
            *port = get16(cur + 4);
            snprintf(host, host_size, "%s", target);
            found = 1;
        }
        cur += rdlen;
    }
    return found;
}

/* The SRV record with the lowest priority; 1 found, 0 none, -1 "service not available". */
static int lookup_srv(struct probe *p)
{
    unsigned char answer[4096];
    char qname[HOST_MAX + 32];
    struct __res_state rs;
    int len, found;

    memset(&rs, 0, sizeof(rs));
    if (res_ninit(&rs) != 0)
        return 0;
    rs.retrans = (int)(p->opts->timeout_ms / 1000 ? p->opts->timeout_ms / 1000 : 1);
    rs.retry = 1;
    snprintf(qname, sizeof(qname), "_xmpp-server._tcp.%s", p->opts->domain);
    len = res_nquery(&rs, qname, C_IN, T_SRV, answer, sizeof(answer));
    res_nclose(&rs);
    if (len < HFIXEDSZ)
        return 0;
    found = federation_best_srv(answer, len, p->host, sizeof(p->host), &p->port);
    return found && (strcmp(p->host, ".") == 0 || p->host[0] == '\0') ? -1 : found;
}

static int resolve_addresses(struct probe *p, char *why, size_t size);

/* Where to connect (the configured map, SRV, or the domain on 5269) and that name's addresses:
 * a name that does not resolve fails here, not at connect. */
static int step_resolve(struct probe *p)
{
    char how[HOST_MAX + 96], why[HOST_MAX + 128];
    int srv;

    step_begin(p);
    if (find_override(p)) {
        snprintf(how, sizeof(how), "%s:%u (configured in [federation] resolve)", p->host, p->port);
    } else if ((srv = lookup_srv(p)) < 0) {
        return step_end(p, FED_RESOLVE, false,
                        "_xmpp-server._tcp.%s says the service is not available (target \".\")",
                        p->opts->domain);
    } else if (srv > 0) {
        snprintf(how, sizeof(how), "SRV _xmpp-server._tcp.%s: %s:%u", p->opts->domain, p->host,
                 p->port);
    } else {
        snprintf(p->host, sizeof(p->host), "%s", p->opts->domain);
        p->port = FED_DEFAULT_PORT;
        snprintf(how, sizeof(how), "no SRV record: falling back to %s:%u", p->host, p->port);
    }
    if (resolve_addresses(p, why, sizeof(why)) < 0)
        return step_end(p, FED_RESOLVE, false, "%s; %s", how, why);
    return step_end(p, FED_RESOLVE, true, "%s", how);
}

/* ---- connect: getaddrinfo with a deadline ---- */

/*
 * libc's getaddrinfo has no timeout of its own (resolv.conf's timeout times attempts times
 * servers, and NSS modules on top). A numeric address is parsed at once; a name is looked up on
 * a thread of its own that we wait for until the step's deadline. When the deadline passes the
 * lookup is abandoned: the thread finishes by itself and frees everything (the last of the two
 * references frees the struct), so nothing it touches belongs to the probe.
 */
struct lookup {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;   /* the waiting probe and the lookup thread */
    bool done;  /* getaddrinfo returned: rc and list are set */
    int rc;     /* getaddrinfo's */
    struct addrinfo *list;
    char host[HOST_MAX];
    char port[8];
};

static void lookup_unref(struct lookup *l)
{
    int left;

    pthread_mutex_lock(&l->mu);
    left = --l->refs;
    pthread_mutex_unlock(&l->mu);
    if (left > 0)
        return;
    if (l->list)
        freeaddrinfo(l->list);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static void *lookup_run(void *arg)
{
    struct lookup *l = arg;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    struct addrinfo *list = NULL;
    int rc = getaddrinfo(l->host, l->port, &hints, &list);

    pthread_mutex_lock(&l->mu);
    l->rc = rc;
    l->list = rc == 0 ? list : NULL;
    l->done = true;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    lookup_unref(l);
    return NULL;
}

static struct lookup *lookup_new(const char *host, const char *port)
{
    struct lookup *l = calloc(1, sizeof(*l));
    pthread_condattr_t ca;

    if (l == NULL)
        return NULL;
    pthread_mutex_init(&l->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cv, &ca);
    pthread_condattr_destroy(&ca);
    l->refs = 2;
    snprintf(l->host, sizeof(l->host), "%s", host);
    snprintf(l->port, sizeof(l->port), "%s", port);
    return l;
}

static bool lookup_start(struct lookup *l)
{
    pthread_attr_t attr;
    pthread_t tid;
    int rc;

    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&tid, &attr, lookup_run, l);
    pthread_attr_destroy(&attr);
    return rc == 0;
}

/* Waits until the lookup is done or the deadline passed; the result moves to *out. */
static int lookup_wait(struct lookup *l, unsigned timeout_ms, struct addrinfo **out)
{
    struct timespec deadline;
    int rc = 0;

    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&l->mu);
    while (!l->done && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&l->cv, &l->mu, &deadline);
    if (l->done) {
        *out = l->list;
        l->list = NULL;
        rc = l->rc;
    } else {
        rc = RESOLVE_TIMED_OUT;
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

/* getaddrinfo for `host`:`port` within `timeout_ms`: 0 with *out (caller frees), an EAI_* code,
 * or RESOLVE_TIMED_OUT. */
static int resolve_bounded(const char *host, const char *port, unsigned timeout_ms,
                           struct addrinfo **out)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST};
    struct lookup *l;
    int rc;

    *out = NULL;
    if (getaddrinfo(host, port, &hints, out) == 0)
        return 0;
    if ((l = lookup_new(host, port)) == NULL)
        return EAI_MEMORY;
    if (!lookup_start(l)) {
        l->refs = 1;
        lookup_unref(l);
        return EAI_SYSTEM;
    }
    rc = lookup_wait(l, timeout_ms, out);
    lookup_unref(l);
    return rc;
}

static const char *resolve_error(int rc)
{
    return rc == RESOLVE_TIMED_OUT ? "no answer within the step's timeout" : gai_strerror(rc);
}

/* ---- connect ---- */

static int connect_timed(const struct addrinfo *ai, unsigned timeout_ms, int *err)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    socklen_t len = sizeof(*err);

    if (fd < 0) {
        *err = errno;
        return -1;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    *err = errno;
    if (*err == EINPROGRESS) {
        int r = poll(&pfd, 1, (int)timeout_ms);
        *err = r == 0 ? ETIMEDOUT : r < 0 ? errno : 0;
        if (r > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &len) < 0)
            *err = errno;
        if (*err == 0)
            return fd;
    }
    close(fd);
    return -1;
}

/* Blocking from here on, with the step timeout on every read and write. */
static void set_blocking(int fd, unsigned timeout_ms)
{
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};

    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* The addresses of p->host within the step's timeout, into p->addrs; -1 with `why`. */
static int resolve_addresses(struct probe *p, char *why, size_t size)
{
    char port[8];
    int rc;

    snprintf(port, sizeof(port), "%u", p->port);
    if ((rc = resolve_bounded(p->host, port, p->opts->timeout_ms, &p->addrs)) != 0) {
        snprintf(why, size, "cannot resolve %s: %s", p->host, resolve_error(rc));
        return -1;
    }
    return 0;
}

static int step_connect(struct probe *p)
{
    struct addrinfo *list = p->addrs;
    char addr[NI_MAXHOST] = "?";
    int err = 0;

    step_begin(p);
    p->addrs = NULL;
    /* One deadline for the whole step: every address tried. */
    for (struct addrinfo *ai = list; ai && p->fd < 0; ai = ai->ai_next) {
        unsigned spent = elapsed_ms(&p->started);
        if (spent >= p->opts->timeout_ms) {
            err = ETIMEDOUT;
            break;
        }
        p->fd = connect_timed(ai, p->opts->timeout_ms - spent, &err);
        getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr), NULL, 0, NI_NUMERICHOST);
    }
    freeaddrinfo(list);
    if (p->fd < 0)
        return step_end(p, FED_CONNECT, false, "cannot connect to %s port %u (%s): %s", p->host,
                        p->port, addr, strerror(err));
    set_blocking(p->fd, p->opts->timeout_ms);
    return step_end(p, FED_CONNECT, true, "connected to %s port %u", addr, p->port);
}

/* ---- the s2s stream ---- */

static int send_text(int fd, const char *s)
{
    size_t len = strlen(s);

    while (len > 0) {
        ssize_t w = send(fd, s, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        len -= (size_t)w;
    }
    return 0;
}

#define READ_CLOSED -1   /* the peer closed the connection */
#define READ_TIMEOUT -2  /* nothing more within the step's timeout */
#define READ_TOO_LONG -3 /* the buffer filled up first */
#define READ_ERROR -4

/* Reads until one of `ends` shows up; returns its index, or a READ_* code. *got (if not NULL)
 * is the number of bytes read. */
static int read_until_n(int fd, char *buf, size_t size, const char *const *ends, size_t n_ends,
                        size_t *got)
{
    size_t len = 0;

    buf[0] = '\0';
    if (got)
        *got = 0;
    while (len + 1 < size) {
        ssize_t r = recv(fd, buf + len, size - 1 - len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            return READ_CLOSED;
        if (r < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? READ_TIMEOUT : READ_ERROR;
        if (got)
            *got = len + (size_t)r;
        len += (size_t)r;
        buf[len] = '\0';
        for (size_t i = 0; i < n_ends; i++)
            if (strstr(buf, ends[i]))
                return (int)i;
    }
    return READ_TOO_LONG;
}

static int read_until(int fd, char *buf, size_t size, const char *const *ends, size_t n_ends)
{
    return read_until_n(fd, buf, size, ends, n_ends, NULL);
}

static int step_stream(struct probe *p, bool *tls_offered)
{
    static const char *const ends[] = {"</stream:features>", "<stream:features/>",
                                       "</stream:stream>", "<stream:error"};
    char header[1024], *buf = malloc(FED_FEATURES_MAX);
    int got;

    step_begin(p);
    snprintf(header, sizeof(header),
             "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
             "xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' "
             "version='1.0' to='%s'%s%s%s>",
             p->opts->domain, p->opts->from ? " from='" : "", p->opts->from ? p->opts->from : "",
             p->opts->from ? "'" : "");
    if (buf == NULL || send_text(p->fd, header) < 0) {
        free(buf);
        return step_end(p, FED_STREAM, false, "cannot send the stream header: %s", strerror(errno));
    }
    size_t n = 0;
    got = read_until_n(p->fd, buf, FED_FEATURES_MAX, ends, 4, &n);
    *tls_offered = got >= 0 && got < 2 && strstr(buf, NS_TLS) != NULL;
    if (got < 0 || got >= 2) {
        unsigned secs = p->opts->timeout_ms / 1000, tenths = p->opts->timeout_ms % 1000 / 100;
        int rc;
        if (got == READ_TIMEOUT && n == 0)
            rc = step_end(p, FED_STREAM, false,
                          "%s port %u accepted the connection but sent nothing within %u.%u s "
                          "(not an XMPP server, or one that hangs)",
                          p->host, p->port, secs, tenths);
        else if (got == READ_TIMEOUT)
            rc = step_end(p, FED_STREAM, false,
                          "no stream features within %u.%u s; %zu bytes received: %.200s", secs,
                          tenths, n, buf);
        else if (got == READ_CLOSED && n == 0)
            rc = step_end(p, FED_STREAM, false,
                          "%s port %u closed the connection without sending anything", p->host,
                          p->port);
        else if (got == READ_CLOSED)
            rc = step_end(p, FED_STREAM, false,
                          "the server closed the connection before its stream features; "
                          "%zu bytes received: %.200s",
                          n, buf);
        else if (got == READ_TOO_LONG)
            rc = step_end(p, FED_STREAM, false, "no stream features in the first %d bytes: %.200s",
                          FED_FEATURES_MAX, buf);
        else if (got == READ_ERROR)
            rc = step_end(p, FED_STREAM, false, "reading the stream failed: %s", strerror(errno));
        else
            rc = step_end(p, FED_STREAM, false, "the server answered with a stream error: %.200s",
                          strstr(buf, "<stream:error") ? strstr(buf, "<stream:error") : buf);
        free(buf);
        return rc;
    }
    free(buf);
    return step_end(p, FED_STREAM, true, "stream opened; features received%s",
                    *tls_offered ? ", STARTTLS offered" : "");
}

static void ssl_error_text(char *buf, size_t size)
{
    unsigned long e = ERR_get_error();

    if (e == 0)
        snprintf(buf, size, "connection closed or timed out");
    else
        ERR_error_string_n(e, buf, size);
    ERR_clear_error();
}

static int tls_setup(struct probe *p, char *why, size_t size)
{
    if ((p->ctx = SSL_CTX_new(TLS_client_method())) == NULL)
        goto fail;
    SSL_CTX_set_verify(p->ctx, SSL_VERIFY_NONE, NULL); /* judged below, step by step */
    if (p->opts->ca_file && *p->opts->ca_file
            ? SSL_CTX_load_verify_locations(p->ctx, p->opts->ca_file, NULL) != 1
            : SSL_CTX_set_default_verify_paths(p->ctx) != 1) {
        ssl_error_text(why, size);
        return -1;
    }
    if ((p->ssl = SSL_new(p->ctx)) == NULL || SSL_set_fd(p->ssl, p->fd) != 1 ||
        SSL_set_tlsext_host_name(p->ssl, p->opts->domain) != 1)
        goto fail;
    return 0;
fail:
    ssl_error_text(why, size);
    return -1;
}

static int step_starttls(struct probe *p, bool offered)
{
    static const char *const ends[] = {"<proceed", "<failure", "</stream:stream>"};
    char buf[2048], why[256];

    step_begin(p);
    if (!offered)
        return step_end(p, FED_STARTTLS, false, "the server does not offer STARTTLS");
    if (send_text(p->fd, "<starttls xmlns='" NS_TLS "'/>") < 0 ||
        read_until(p->fd, buf, sizeof(buf), ends, 3) != 0)
        return step_end(p, FED_STARTTLS, false, "STARTTLS refused or no answer");
    if (tls_setup(p, why, sizeof(why)) < 0)
        return step_end(p, FED_STARTTLS, false, "TLS setup failed (CA file %s): %s",
                        p->opts->ca_file ? p->opts->ca_file : "default", why);
    if (SSL_connect(p->ssl) != 1) {
        ssl_error_text(why, sizeof(why));
        return step_end(p, FED_STARTTLS, false, "TLS handshake failed: %s", why);
    }
    return step_end(p, FED_STARTTLS, true, "%s, %s", SSL_get_version(p->ssl),
                    SSL_get_cipher_name(p->ssl));
}

/* ---- the certificate ---- */

static int step_chain(struct probe *p, X509 *peer)
{
    long v = SSL_get_verify_result(p->ssl);
    char issuer[256] = "?";

    step_begin(p);
    if (peer == NULL)
        return step_end(p, FED_CHAIN, false, "the server sent no certificate");
    X509_NAME_oneline(X509_get_issuer_name(peer), issuer, sizeof(issuer));
    if (v != X509_V_OK)
        return step_end(p, FED_CHAIN, false, "not trusted: %s (issuer %s; CA file %s)",
                        X509_verify_cert_error_string(v), issuer,
                        p->opts->ca_file ? p->opts->ca_file : "system default");
    return step_end(p, FED_CHAIN, true, "trusted (issuer %s)", issuer);
}

/* The certificate's dNSNames, for the failure detail. */
static void dns_names(X509 *x, char *buf, size_t size)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    size_t len = 0;

    buf[0] = '\0';
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && len + 1 < size; i++) {
        int type;
        const ASN1_STRING *s = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(gens, i), &type);
        if (type == GEN_DNS)
            len += (size_t)snprintf(buf + len, size - len, "%s%.*s", len ? ", " : "",
                                    ASN1_STRING_length(s), (const char *)ASN1_STRING_get0_data(s));
    }
    GENERAL_NAMES_free(gens);
    if (buf[0] == '\0')
        X509_NAME_oneline(X509_get_subject_name(x), buf, (int)size);
}

static int step_name(struct probe *p, X509 *peer)
{
    char names[FED_DETAIL_MAX - 64];

    step_begin(p);
    if (X509_check_host(peer, p->opts->domain, 0, 0, NULL) == 1)
        return step_end(p, FED_NAME, true, "the certificate is valid for %s", p->opts->domain);
    dns_names(peer, names, sizeof(names));
    /* RFC 6125 ignores the subject CN once there are dNSName SANs, but some servers (ejabberd)
     * still accept a CN that matches: say so, and let the ping through the router tell. */
    if (X509_check_host(peer, p->opts->domain, 0, X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT, NULL) ==
        1) {
        step_end(p, FED_NAME, false,
                 "only the subject CN names %s; the SAN list names: %s (RFC 6125 servers such "
                 "as Prosody refuse it, ejabberd accepts the CN)",
                 p->opts->domain, names);
        p->report->steps[FED_NAME].state = FED_TOLERATED;
        return 0;
    }
    return step_end(p, FED_NAME, false, "the certificate is not valid for %s (it names: %s)",
                    p->opts->domain, names);
}

static int check_certificate(struct probe *p)
{
    X509 *peer = SSL_get1_peer_certificate(p->ssl);
    /* Both steps whatever the chain says: the name is worth knowing either way. */
    int chain = step_chain(p, peer);
    int rc = peer != NULL && step_name(p, peer) == 0 && chain == 0 ? 0 : -1;

    X509_free(peer);
    return rc;
}

void federation_probe(const struct fed_options *opts, struct fed_report *report)
{
    struct probe p = {.opts = opts, .report = report, .fd = -1};
    bool tls = false;

    memset(report, 0, sizeof(*report));
    if (step_resolve(&p) == 0 && step_connect(&p) == 0 && step_stream(&p, &tls) == 0 &&
        step_starttls(&p, tls) == 0)
        (void)check_certificate(&p);
    if (p.ssl)
        SSL_shutdown(p.ssl);
    SSL_free(p.ssl);
    SSL_CTX_free(p.ctx);
    if (p.fd >= 0)
        close(p.fd);
    if (p.addrs)
        freeaddrinfo(p.addrs);
    /* Runs on a thread-pool thread that outlives OpenSSL's cleanup at exit: free this thread's
     * OpenSSL state now (the next probe re-creates it). */
    OPENSSL_thread_stop();
}
