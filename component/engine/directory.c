/* The directory client on libldap (OpenLDAP's client library): connect with failover, TLS,
 * simple bind, RFC 2696 paged search. Blocking: the callers run it on the thread pool. When
 * libldap reports only "Connect error" for a TLS failure, an OpenSSL handshake against the
 * same address names the certificate problem (untrusted issuer, wrong name, expired). */
#include "component/engine/directory.h"

#include "util/log.h"
#include "util/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <ldap.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define WHY_MAX 512

struct dir_conn {
    const struct dir_params *p; /* borrowed */
    LDAP *ld;
    struct berval *cookie; /* the paged-results cookie; NULL before the first page */
    bool finished;
    char uri[128]; /* the address in use, "host:port" */
};

/* ---- parameters ---- */

static char *dup_or_null(const char *s)
{
    return s && *s ? xstrdup(s) : NULL;
}

struct dir_params *dir_params_new(const struct config *cfg, const char *filter)
{
    struct dir_params *p;

    if (cfg->dir_uri == NULL || cfg->dir_uri[0] == '\0')
        return NULL;
    p = xcalloc(1, sizeof(*p));
    p->uris = xstrdup(cfg->dir_uri);
    p->starttls = cfg->dir_starttls != 0;
    p->ca_file = dup_or_null(cfg->dir_ca_file);
    p->bind_dn = dup_or_null(cfg->dir_bind_dn);
    p->password = dup_or_null(cfg->dir_bind_password);
    p->base = xstrdup(cfg->dir_base ? cfg->dir_base : "");
    p->filter = xstrdup(filter ? filter : cfg->dir_filter);
    p->userid_attr = xstrdup(cfg->dir_userid_attr);
    p->uri_attr = xstrdup(cfg->dir_uri_attr);
    p->node_attr = dup_or_null(cfg->dir_node_attr);
    p->page_size = cfg->dir_page_size > 0 ? cfg->dir_page_size : 500;
    p->timeout_s = cfg->dir_timeout > 0 ? cfg->dir_timeout : 30;
    return p;
}

void dir_params_free(struct dir_params *p)
{
    if (p == NULL)
        return;
    free(p->uris);
    free(p->ca_file);
    free(p->bind_dn);
    if (p->password)
        explicit_bzero(p->password, strlen(p->password));
    free(p->password);
    free(p->base);
    free(p->filter);
    free(p->userid_attr);
    free(p->uri_attr);
    free(p->node_attr);
    free(p);
}

char *dir_filter_since(const char *filter, const char *stamp)
{
    return xasprintf("(&%s(!(modifyTimestamp<=%s)))", filter, stamp);
}

const char *dir_err_name(enum dir_err err)
{
    static const char *const names[] = {
        [DIR_OK] = "ok",
        [DIR_NOT_CONFIGURED] = "not-configured",
        [DIR_UNREACHABLE] = "unreachable",
        [DIR_TLS] = "tls",
        [DIR_CREDENTIALS] = "credentials",
        [DIR_FILTER] = "filter",
        [DIR_BASE] = "base",
        [DIR_TIMEOUT] = "timeout",
        [DIR_OTHER] = "error",
    };
    return (size_t)err < sizeof(names) / sizeof(names[0]) ? names[err] : "error";
}

/* ---- the TLS diagnosis (OpenSSL, independent of libldap's TLS library) ---- */

/* A TCP connection to host:port within timeout_s, or -1 with *why. */
static int tcp_connect(const char *host, int port, int timeout_s, char *why, size_t n)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    char service[16];
    int fd = -1, gai;

    snprintf(service, sizeof(service), "%d", port);
    snprintf(why, n, "cannot connect to %s:%d: no socket", host, port); /* socket() failing */
    if ((gai = getaddrinfo(host, service, &hints, &res)) != 0) {
        snprintf(why, n, "cannot resolve %s: %s", host, gai_strerror(gai));
        return -1;
    }
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        struct pollfd pfd;
        int err = 0;
        socklen_t len = sizeof(err);

        if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0)) < 0)
            continue;
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
            err = errno;
        } else {
            pfd = (struct pollfd){.fd = fd, .events = POLLOUT};
            if (poll(&pfd, 1, timeout_s * 1000) != 1)
                err = ETIMEDOUT;
            else
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        }
        if (err != 0) {
            snprintf(why, n, "cannot connect to %s:%d: %s", host, port, strerror(err));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        struct timeval tv = {.tv_sec = timeout_s};
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    return fd;
}

/* The StartTLS extended request (RFC 4511 4.14.1), message id 1, as fixed BER bytes; the
 * response must carry resultCode success (ENUMERATED 0). */
static int starttls_exchange(int fd, char *why, size_t n)
{
    static const unsigned char req[] = {
        0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16, '1', '.', '3', '.', '6', '.', '1',
        '.',  '4',  '.',  '1',  '.',  '1',  '4',  '6',  '6',  '.', '2', '0', '0', '3', '7'};
    unsigned char buf[512];
    ssize_t got;

    if (write(fd, req, sizeof(req)) != (ssize_t)sizeof(req) ||
        (got = read(fd, buf, sizeof(buf))) <= 0) {
        snprintf(why, n, "no answer to StartTLS");
        return -1;
    }
    for (ssize_t i = 0; i + 2 < got; i++)
        if (buf[i] == 0x0a && buf[i + 1] == 0x01)
            return buf[i + 2] == 0 ? 0
                                   : (snprintf(why, n,
                                               "the server refused StartTLS "
                                               "(result code %u)",
                                               buf[i + 2]),
                                      -1);
    snprintf(why, n, "the answer to StartTLS does not parse");
    return -1;
}

static void ssl_err_text(char *buf, size_t n)
{
    unsigned long e = ERR_peek_last_error();

    if (e == 0)
        snprintf(buf, n, "the connection closed during the handshake");
    else
        ERR_error_string_n(e, buf, n);
    ERR_clear_error();
}

/* Judges the certificate the server presented: chain against the CA file, then its name. */
static int judge_peer(SSL *ssl, const char *host, const char *ca_file, char *why, size_t n)
{
    X509 *peer = SSL_get1_peer_certificate(ssl);
    long v = SSL_get_verify_result(ssl);
    char issuer[200] = "?", subject[200] = "?";
    unsigned char ip[16];
    int name_ok, rc = -1;

    if (peer == NULL) {
        snprintf(why, n, "the server sent no certificate");
        return -1;
    }
    X509_NAME_oneline(X509_get_issuer_name(peer), issuer, sizeof(issuer));
    X509_NAME_oneline(X509_get_subject_name(peer), subject, sizeof(subject));
    if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1)
        name_ok = X509_check_ip_asc(peer, host, 0) == 1;
    else
        name_ok = X509_check_host(peer, host, 0, 0, NULL) == 1;
    if (v != X509_V_OK)
        snprintf(why, n, "the server's certificate (%s) is not trusted: %s (issuer %s; CA file %s)",
                 subject, X509_verify_cert_error_string(v), issuer,
                 ca_file ? ca_file : "system default");
    else if (!name_ok)
        snprintf(why, n, "the server's certificate (%s) is not valid for the name %s", subject,
                 host);
    else
        rc = 0;
    X509_free(peer);
    return rc;
}

/* 0: TLS to `uri` works (or TCP does, without TLS); 1: TCP did not connect; 2: TLS failed.
 * *why says what happened, in every case. */
static int probe_uri(const char *uri, const struct dir_params *p, char *why, size_t n)
{
    LDAPURLDesc *lud = NULL;
    SSL_CTX *ctx = NULL;
    SSL *ssl = NULL;
    int fd = -1, rc = 2, port;
    bool ldaps;
    char err[256];

    if (ldap_url_parse(uri, &lud) != LDAP_URL_SUCCESS) {
        snprintf(why, n, "%s does not parse as an LDAP URL", uri);
        return 1;
    }
    ldaps = strcasecmp(lud->lud_scheme, "ldaps") == 0;
    port = lud->lud_port ? lud->lud_port : ldaps ? 636 : 389;
    if ((fd = tcp_connect(lud->lud_host && *lud->lud_host ? lud->lud_host : "localhost", port,
                          p->timeout_s, why, n)) < 0) {
        rc = 1;
        goto out;
    }
    if (!ldaps && !p->starttls) {
        /* no TLS to judge: TCP works, so the LDAP exchange itself failed */
        snprintf(why, n,
                 "%s: a TCP connection works, but the LDAP exchange over it failed (is it "
                 "an LDAP server?)",
                 uri);
        rc = 0;
        goto out;
    }
    if (!ldaps && starttls_exchange(fd, err, sizeof(err)) < 0) {
        snprintf(why, n, "%s: %s", uri, err);
        goto out;
    }
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL || (p->ca_file ? SSL_CTX_load_verify_locations(ctx, p->ca_file, NULL)
                                   : SSL_CTX_set_default_verify_paths(ctx)) != 1) {
        ssl_err_text(err, sizeof(err));
        snprintf(why, n, "cannot load the CA file %s: %s", p->ca_file ? p->ca_file : "(default)",
                 err);
        goto out;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* judged below, with the reason */
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) {
        ssl_err_text(err, sizeof(err));
        snprintf(why, n, "%s: TLS handshake failed: %s", uri, err);
        goto out;
    }
    if (judge_peer(ssl, lud->lud_host, p->ca_file, err, sizeof(err)) == 0)
        rc = 0;
    snprintf(why, n, "%s: %s", uri, rc == 0 ? "TLS works" : err);
out:
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    if (fd >= 0)
        close(fd);
    ldap_free_urldesc(lud);
    return rc;
}

/* libldap said the server is down or the connection failed: find out why, URI by URI. */
static enum dir_err diagnose(const struct dir_params *p, const char *ldap_msg, char **why)
{
    char *copy = xstrdup(p->uris), *save = NULL, one[WHY_MAX], all[DIR_PROBE_URIS_MAX * WHY_MAX];
    size_t len = 0;
    int tried = 0;
    enum dir_err err = DIR_UNREACHABLE;

    all[0] = '\0';
    for (char *u = strtok_r(copy, " \t,", &save); u && tried < DIR_PROBE_URIS_MAX;
         u = strtok_r(NULL, " \t,", &save), tried++) {
        int rc = probe_uri(u, p, one, sizeof(one));
        if (rc == 2)
            err = DIR_TLS;
        if (rc != 0 || tried == 0)
            len += (size_t)snprintf(all + len, sizeof(all) - len, "%s%s", len ? "; " : "", one);
        if (len >= sizeof(all))
            len = sizeof(all) - 1;
    }
    free(copy);
    OPENSSL_thread_stop(); /* a pool thread: free its OpenSSL state now */
    if (err == DIR_TLS)
        *why = xasprintf("TLS failure: %s", all);
    else
        *why = xasprintf("the directory is unreachable (%s): %s", ldap_msg, all);
    return err;
}

/* ---- libldap ---- */

static void set_timeouts(LDAP *ld, int seconds)
{
    struct timeval tv = {.tv_sec = seconds};

    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
}

/* -1 with *why when the TLS context cannot be made: libldap loads the CA file here, for every
 * URI (ldap:// too), and says only "Bad parameter to an ldap routine", so name the file. */
static int setup_handle(LDAP *ld, const struct dir_params *p, char **why)
{
    int v3 = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, zero = 0;
    struct stat sb;

    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    set_timeouts(ld, p->timeout_s);
    ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
    if ((p->ca_file == NULL ||
         ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, p->ca_file) == LDAP_SUCCESS) &&
        ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero) == LDAP_SUCCESS)
        return 0;
    if (p->ca_file && access(p->ca_file, R_OK) != 0)
        *why = xasprintf("cannot read the CA file %s (ca_file): %s", p->ca_file, strerror(errno));
    else if (p->ca_file && stat(p->ca_file, &sb) == 0 && S_ISDIR(sb.st_mode))
        *why = xasprintf("the CA file %s (ca_file) is a directory: name a file of PEM "
                         "certificates in it, such as a bundle",
                         p->ca_file);
    else
        *why = xasprintf("the TLS library cannot use the CA file %s (ca_file): it needs PEM "
                         "certificates",
                         p->ca_file ? p->ca_file : "(system default)");
    return -1;
}

/* The diagnostic message libldap holds for the last operation ("" when none), malloc'd. */
static char *diag(LDAP *ld)
{
    char *m = NULL, *out;

    ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &m);
    out = xstrdup(m && *m ? m : "");
    ldap_memfree(m);
    return out;
}

/* Maps a failed bind or StartTLS. */
static enum dir_err open_failure(dir_conn_t *c, int rc, bool in_starttls, char **why)
{
    const struct dir_params *p = c->p;
    char *d = diag(c->ld);
    enum dir_err err;

    if (rc == LDAP_INVALID_CREDENTIALS) {
        err = DIR_CREDENTIALS;
        *why = xasprintf("bad credentials: the directory refused the bind as %s (check bind_dn "
                         "and the password in bind_password_file)%s%s",
                         p->bind_dn ? p->bind_dn : "(anonymous)", *d ? ": " : "", d);
    } else if (rc == LDAP_INAPPROPRIATE_AUTH || rc == LDAP_UNWILLING_TO_PERFORM ||
               rc == LDAP_STRONG_AUTH_REQUIRED || rc == LDAP_CONFIDENTIALITY_REQUIRED) {
        err = DIR_CREDENTIALS;
        *why = xasprintf("the directory refused the bind as %s: %s%s%s",
                         p->bind_dn ? p->bind_dn : "(anonymous)", ldap_err2string(rc),
                         *d ? ": " : "", d);
    } else if (rc == LDAP_TIMEOUT) {
        err = DIR_TIMEOUT;
        *why = xasprintf("the directory did not answer within %d s (timeout)", p->timeout_s);
    } else if (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || in_starttls) {
        err = diagnose(p, ldap_err2string(rc), why);
    } else {
        err = DIR_OTHER;
        *why = xasprintf("the bind failed: %s%s%s", ldap_err2string(rc), *d ? ": " : "", d);
    }
    free(d);
    return err;
}

/* "host:port" (IPv6: "[address]:port") of the socket in use. */
static void note_peer(dir_conn_t *c)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[64] = "?";
    int fd = -1, port = 0;
    bool v6 = false;

    snprintf(c->uri, sizeof(c->uri), "%s", c->p->uris);
    if (ldap_get_option(c->ld, LDAP_OPT_DESC, &fd) != LDAP_SUCCESS || fd < 0 ||
        getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
        v6 = true;
    }
    /* an IPv6 address in brackets, as in a URL: "::1:389" would not say where the port is */
    snprintf(c->uri, sizeof(c->uri), v6 ? "[%s]:%d" : "%s:%d", host, port);
}

dir_conn_t *dir_open(const struct dir_params *p, enum dir_err *err, char **why)
{
    dir_conn_t *c = xcalloc(1, sizeof(*c));
    struct berval cred = {0};
    int rc;

    c->p = p;
    *why = NULL;
    if ((rc = ldap_initialize(&c->ld, p->uris)) != LDAP_SUCCESS) {
        *err = DIR_OTHER;
        *why = xasprintf("cannot set up the LDAP client for %s: %s", p->uris, ldap_err2string(rc));
        dir_close(c);
        return NULL;
    }
    if (setup_handle(c->ld, p, why) < 0) {
        *err = DIR_TLS;
        dir_close(c);
        return NULL;
    }
    if (p->starttls && (rc = ldap_start_tls_s(c->ld, NULL, NULL)) != LDAP_SUCCESS) {
        *err = open_failure(c, rc, true, why);
        dir_close(c);
        return NULL;
    }
    if (p->password) {
        cred.bv_val = p->password;
        cred.bv_len = strlen(p->password);
    }
    rc = ldap_sasl_bind_s(c->ld, p->bind_dn ? p->bind_dn : "", LDAP_SASL_SIMPLE, &cred, NULL, NULL,
                          NULL);
    if (rc != LDAP_SUCCESS) {
        *err = open_failure(c, rc, false, why);
        dir_close(c);
        return NULL;
    }
    note_peer(c);
    *err = DIR_OK;
    return c;
}

const char *dir_conn_uri(const dir_conn_t *c)
{
    return c->uri;
}

/* The first value of `attr` in entry `e`, malloc'd, or NULL when it has none. */
static char *first_value(LDAP *ld, LDAPMessage *e, const char *attr)
{
    struct berval **vals;
    char *out = NULL;

    if (attr == NULL || (vals = ldap_get_values_len(ld, e, attr)) == NULL)
        return NULL;
    if (vals[0] != NULL)
        out = xstrndup(vals[0]->bv_val, vals[0]->bv_len);
    ldap_value_free_len(vals);
    return out;
}

static void read_entries(dir_conn_t *c, LDAPMessage *res, struct dir_page *page)
{
    int count = ldap_count_entries(c->ld, res);
    const struct dir_params *p = c->p;

    page->v = xcalloc(count > 0 ? (size_t)count : 1, sizeof(*page->v));
    for (LDAPMessage *e = ldap_first_entry(c->ld, res); e && page->n < (size_t)count;
         e = ldap_next_entry(c->ld, e)) {
        struct dir_entry *d = &page->v[page->n++];
        char *dn = ldap_get_dn(c->ld, e), *mtime;

        d->dn = xstrdup(dn ? dn : "");
        ldap_memfree(dn);
        d->userid = first_value(c->ld, e, p->userid_attr);
        d->uri = first_value(c->ld, e, p->uri_attr);
        d->node = first_value(c->ld, e, p->node_attr);
        if ((mtime = first_value(c->ld, e, "modifyTimestamp")) != NULL) {
            page->saw_mtime = true;
            /* GeneralizedTime of one server in one format: later sorts later */
            if (strlen(mtime) < sizeof(page->max_mtime) && strcmp(mtime, page->max_mtime) > 0)
                snprintf(page->max_mtime, sizeof(page->max_mtime), "%s", mtime);
        }
        free(mtime);
    }
}

/* Maps a failed search; `refs` are the referral URLs of a referral result (NULL: none). */
static enum dir_err search_failure(dir_conn_t *c, int rc, const char *d, char **refs, char **why)
{
    const struct dir_params *p = c->p;

    switch (rc) {
    case LDAP_REFERRAL: /* the base lives on another server; referrals are off (setup_handle) */
        *why = xasprintf("the base %s is a referral to %s: referrals are not followed, so set "
                         "uri and base to the server that holds these entries",
                         p->base, refs && refs[0] ? refs[0] : "another server");
        return DIR_BASE;
    case LDAP_FILTER_ERROR:
    case LDAP_INAPPROPRIATE_MATCHING:
        *why =
            xasprintf("bad filter %s: %s%s%s", p->filter, ldap_err2string(rc), *d ? ": " : "", d);
        return DIR_FILTER;
    case LDAP_NO_SUCH_OBJECT:
        *why = xasprintf("the base %s does not exist in the directory%s%s", p->base, *d ? ": " : "",
                         d);
        return DIR_BASE;
    case LDAP_INVALID_DN_SYNTAX:
        *why = xasprintf("the base %s is not a DN: %s", p->base, ldap_err2string(rc));
        return DIR_BASE;
    case LDAP_TIMEOUT:
    case LDAP_TIMELIMIT_EXCEEDED:
        *why = xasprintf("a page of the search took longer than %d s (timeout)", p->timeout_s);
        return DIR_TIMEOUT;
    case LDAP_SERVER_DOWN:
        *why = xasprintf("the directory went away during the search: %s", ldap_err2string(rc));
        return DIR_UNREACHABLE;
    case LDAP_SIZELIMIT_EXCEEDED:
        *why = xasprintf("the directory's size limit stopped the search (%s): allow paged "
                         "results past it for the bind DN, or lower page_size",
                         *d ? d : ldap_err2string(rc));
        return DIR_OTHER;
    default:
        *why = xasprintf("the search failed: %s%s%s", ldap_err2string(rc), *d ? ": " : "", d);
        return DIR_OTHER;
    }
}

int dir_next_page(dir_conn_t *c, struct dir_page *page, enum dir_err *err, char **why)
{
    const struct dir_params *p = c->p;
    char *attrs[] = {p->userid_attr, p->uri_attr, "modifyTimestamp", p->node_attr, NULL};
    LDAPControl *pctrl = NULL, *ctrls[2] = {NULL, NULL}, **sctrls = NULL, *found;
    LDAPMessage *res = NULL;
    struct berval cookie = {0};
    struct timeval tv = {.tv_sec = p->timeout_s};
    ber_int_t estimate = 0;
    int rc, result = LDAP_SUCCESS;
    char *d = NULL, *dmsg = NULL, **refs = NULL;

    memset(page, 0, sizeof(*page));
    *why = NULL;
    if (c->finished)
        return 0;
    rc = ldap_create_page_control(c->ld, (ber_int_t)p->page_size, c->cookie, 1, &pctrl);
    if (rc != LDAP_SUCCESS) {
        *err = DIR_OTHER;
        *why = xasprintf("cannot build the paged-results control: %s", ldap_err2string(rc));
        return -1;
    }
    ctrls[0] = pctrl;
    rc = ldap_search_ext_s(c->ld, p->base, LDAP_SCOPE_SUBTREE, p->filter, attrs, 0, ctrls, NULL,
                           &tv, 0, &res);
    ldap_control_free(pctrl);
    if (res != NULL && (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED || rc == LDAP_REFERRAL))
        rc = ldap_parse_result(c->ld, res, &result, NULL, &dmsg, &refs, &sctrls, 0);
    if (rc == LDAP_SUCCESS && result != LDAP_SUCCESS)
        rc = result;
    if (rc != LDAP_SUCCESS) {
        d = dmsg ? xstrdup(dmsg) : diag(c->ld);
        *err = search_failure(c, rc, d, refs, why);
        free(d);
        ldap_memfree(dmsg);
        ldap_memvfree((void **)refs);
        ldap_controls_free(sctrls);
        ldap_msgfree(res);
        return -1;
    }
    ldap_memfree(dmsg);
    ldap_memvfree((void **)refs);
    read_entries(c, res, page);
    ber_bvfree(c->cookie);
    c->cookie = NULL;
    found = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, sctrls, NULL);
    if (found == NULL ||
        ldap_parse_pageresponse_control(c->ld, found, &estimate, &cookie) != LDAP_SUCCESS ||
        cookie.bv_len == 0)
        c->finished = true; /* no cookie: that was the last page */
    else
        c->cookie = ber_bvdup(&cookie);
    ber_memfree(cookie.bv_val);
    ldap_controls_free(sctrls);
    ldap_msgfree(res);
    *err = DIR_OK;
    return c->finished ? 0 : 1;
}

void dir_close(dir_conn_t *c)
{
    if (c == NULL)
        return;
    if (c->ld)
        ldap_unbind_ext_s(c->ld, NULL, NULL);
    ber_bvfree(c->cookie);
    free(c);
}

void dir_page_clear(struct dir_page *page)
{
    for (size_t i = 0; page->v && i < page->n; i++) {
        free(page->v[i].dn);
        free(page->v[i].userid);
        free(page->v[i].uri);
        free(page->v[i].node);
    }
    free(page->v);
    memset(page, 0, sizeof(*page));
}
