/* Presence sessions benchmark: a fake router (the server side of XEP-0114) drives the real
 * imdomaind with presence stanzas and measures stanzas per second (wall clock and per second of
 * the daemon's own CPU) and the daemon's RSS growth per tracked session.
 * Usage: bench_presence [-u USERS[,USERS...]] [-D IMDOMAIND] [-s userid|directory-uri] [DIR]. */
#include "store/store_settings.h"
#include "store/store_topo.h"
#include "store/store_user.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define JID "presence.bench.test"
#define SECRET "bench-secret"
#define STREAM_ID "bench-stream-1"
#define PHASE_MAX_S 300.0    /* every phase gives up after this long */
#define HANDSHAKE_MAX_S 30.0 /* daemon start and handshake */
#define IO_CHUNK 65536

struct bench {
    long users;
    enum store_im_scheme scheme;
    const char *daemon, *dir;
    char db[512], conf[512], log[512];
    pid_t pid;
    int fd;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The IM address of user i under the bench's scheme. */
static void im_of(const struct bench *b, long i, char *out, size_t size)
{
    if (b->scheme == STORE_SCHEME_DIRECTORY_URI)
        snprintf(out, size, "first%07ld.last@corp.example.com", i);
    else
        snprintf(out, size, "u%07ld@bench.test", i);
}

/* ---- set-up: the store and the daemon's configuration ---- */

static void set_addresses(struct store *st, enum store_im_scheme scheme)
{
    int64_t after = 0, last = 0, n = 1;

    while (n > 0) {
        if (store_users_derive_im_batch(st, scheme, "bench.test", after, STORE_USER_BATCH_MAX,
                                        &last, &n) != STORE_OK)
            fatalx("derive: %s", store_errmsg(st));
        after = last;
    }
}

/* Two nodes, users alternately on each, addresses by the scheme; one transaction. */
static void populate(struct bench *b)
{
    char *err = NULL, uid[32], uri[96];
    struct store *st;

    unlink(b->db);
    if ((st = store_open(b->db, &err)) == NULL)
        fatalx("store %s: %s", b->db, err);
    if (store_begin(st) != STORE_OK ||
        store_node_insert(st, "pub.bench.test", STORE_NODE_PUBLISHER, "15.0", NULL) != STORE_OK ||
        store_node_insert(st, "sub.bench.test", STORE_NODE_SUBSCRIBER, "15.0", NULL) != STORE_OK)
        fatalx("nodes: %s", store_errmsg(st));
    for (long i = 0; i < b->users; i++) {
        snprintf(uid, sizeof(uid), "u%07ld", i);
        snprintf(uri, sizeof(uri), "first%07ld.last@corp.example.com", i);
        if (store_user_upsert(st, uid, uri, i % 2 ? "sub.bench.test" : "pub.bench.test", NULL) !=
            STORE_OK)
            fatalx("upsert: %s", store_errmsg(st));
    }
    set_addresses(st, b->scheme);
    if (store_commit(st) != STORE_OK || store_close(st) != 0)
        fatalx("commit: %s", store_errmsg(st));
}

static void write_config(struct bench *b, int port)
{
    FILE *f = fopen(b->conf, "w");

    if (f == NULL)
        fatal("%s", b->conf);
    fprintf(f,
            "[component]\njid = %s\nsecret = %s\nrouter_host = 127.0.0.1\nrouter_port = %d\n"
            "reconnect_max = 1\nkeepalive = 600\n[admins]\njids = admin@bench.test\n"
            "[store]\npath = %s\n[control]\nsocket = %s/presence-ctl.sock\n"
            "[log]\nlevel = info\n",
            JID, SECRET, port, b->db, b->dir);
    fclose(f);
}

/* ---- the fake router's socket ---- */

static int listen_loopback(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        fatal("listen");
    *port = ntohs(a.sin_port);
    return fd;
}

static void spawn_daemon(struct bench *b)
{
    int logfd = open(b->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    if (logfd < 0)
        fatal("%s", b->log);
    if ((b->pid = fork()) < 0)
        fatal("fork");
    if (b->pid == 0) {
        dup2(logfd, 1);
        dup2(logfd, 2);
        execl(b->daemon, b->daemon, "-f", b->conf, (char *)NULL);
        _exit(127);
    }
    close(logfd);
}

static int accept_within(int lfd, double seconds)
{
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    int fd, one = 1;

    if (poll(&p, 1, (int)(seconds * 1000)) != 1)
        fatalx("the daemon did not connect within %.0f s (see its log)", seconds);
    if ((fd = accept(lfd, NULL, NULL)) < 0)
        fatal("accept");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/*
 * Writes out[0..len) while reading whatever the daemon sends, until `needle` has been seen
 * `want` times after everything was written, or `deadline`. Returns how many times it was seen.
 * Occurrences split across reads are found: the tail of each read is kept.
 */
static long pump(int fd, const char *out, size_t len, const char *needle, long want,
                 double deadline)
{
    char buf[IO_CHUNK + 64];
    size_t nl = strlen(needle), keep = 0, off = 0, have;
    long seen = 0;

    while (now_s() < deadline && (off < len || seen < want)) {
        struct pollfd p = {.fd = fd, .events = POLLIN | (off < len ? POLLOUT : 0)};
        if (poll(&p, 1, 100) < 0 && errno != EINTR)
            fatal("poll");
        if (p.revents & POLLOUT) {
            ssize_t w = write(fd, out + off, len - off < IO_CHUNK ? len - off : IO_CHUNK);
            if (w < 0 && errno != EAGAIN)
                fatal("write");
            off += w > 0 ? (size_t)w : 0;
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(fd, buf + keep, IO_CHUNK);
            if (r == 0 || (r < 0 && errno != EAGAIN))
                fatalx("the daemon closed the stream (see its log)");
            if (r < 0)
                continue;
            have = keep + (size_t)r;
            buf[have] = '\0';
            /* the kept tail is shorter than the needle: nothing is counted twice */
            for (char *at = buf; nl > 0 && (at = strstr(at, needle)) != NULL; at += nl)
                seen++;
            keep = nl == 0 ? 0 : have < nl - 1 ? have : nl - 1;
            memmove(buf, buf + have - keep, keep);
        }
    }
    return seen;
}

static void sha1_hex(const char *in, char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (EVP_Digest(in, strlen(in), md, &n, EVP_sha1(), NULL) != 1)
        fatalx("sha1");
    for (unsigned int i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Reads until `end` appears, into buf (bounded); fatal after the deadline. */
static void read_until(int fd, char *buf, size_t size, const char *end, double deadline)
{
    size_t have = 0;

    buf[0] = '\0';
    while (strstr(buf, end) == NULL) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t r;
        if (now_s() > deadline || have + 1 >= size)
            fatalx("handshake: no '%s' from the daemon", end);
        if (poll(&p, 1, 100) <= 0)
            continue;
        if ((r = read(fd, buf + have, size - have - 1)) <= 0 && errno != EAGAIN)
            fatalx("handshake: the daemon closed the stream");
        have += r > 0 ? (size_t)r : 0;
        buf[have] = '\0';
    }
}

static void send_all(int fd, const char *s)
{
    pump(fd, s, strlen(s), "", 0, now_s() + HANDSHAKE_MAX_S);
}

/* The router's side of XEP-0114: header, then SHA-1(id + secret) checked. */
static void handshake(struct bench *b)
{
    char buf[4096], want[41], *got;
    double deadline = now_s() + HANDSHAKE_MAX_S;

    read_until(b->fd, buf, sizeof(buf), ">", deadline);
    send_all(b->fd,
             "<?xml version='1.0'?><stream:stream xmlns:stream="
             "'http://etherx.jabber.org/streams' xmlns='jabber:component:accept' id='" STREAM_ID
             "' from='" JID "'>");
    read_until(b->fd, buf, sizeof(buf), "</handshake>", deadline);
    sha1_hex(STREAM_ID SECRET, want);
    got = strstr(buf, "<handshake>");
    if (got == NULL || strncmp(got + strlen("<handshake>"), want, 40) != 0)
        fatalx("handshake: wrong digest from the daemon");
    send_all(b->fd, "<handshake/>");
}

/* ---- the daemon's CPU time and memory ---- */

static double cpu_s(pid_t pid)
{
    char path[64], line[1024], *p;
    unsigned long ut = 0, st = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if ((f = fopen(path, "r")) == NULL || fgets(line, sizeof(line), f) == NULL)
        fatal("%s", path);
    fclose(f);
    p = strrchr(line, ')'); /* fields after the command name: state is field 3 */
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        fatalx("cannot parse %s", path);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if ((f = fopen(path, "r")) == NULL)
        fatal("%s", path);
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* ---- phases ---- */

/* One presence per user (type NULL: available; `extra` inside), then a disco#info iq whose
 * answer (id `mark`) says the daemon has handled everything before it. */
static char *build(const struct bench *b, const char *type, const char *extra, const char *mark,
                   size_t *len)
{
    size_t cap = (size_t)b->users * 160 + 512, n = 0;
    char *out = xmalloc(cap), im[96];

    for (long i = 0; i < b->users; i++) {
        im_of(b, i, im, sizeof(im));
        n += (size_t)snprintf(out + n, cap - n,
                              "<presence from='%s/bench' to='" JID "'%s%s%s>%s</presence>", im,
                              type ? " type='" : "", type ? type : "", type ? "'" : "", extra);
    }
    n += (size_t)snprintf(out + n, cap - n,
                          "<iq type='get' id='%s' from='admin@bench.test/b' to='" JID "'>"
                          "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
                          mark);
    *len = n;
    return out;
}

static void phase(struct bench *b, const char *what, const char *type, const char *extra,
                  const char *mark)
{
    size_t len;
    char *out = build(b, type, extra, mark, &len);
    long rss0 = rss_kb(b->pid);
    double c0 = cpu_s(b->pid), t0 = now_s(), t, c;

    if (pump(b->fd, out, len, mark, 1, t0 + PHASE_MAX_S) < 1)
        fatalx("%s: no answer within %.0f s", what, PHASE_MAX_S);
    t = now_s() - t0;
    c = cpu_s(b->pid) - c0;
    printf("| %s, %ld users | %.0f stanzas/s (wall %.2f s), %.0f stanzas/s per CPU s "
           "(daemon %.2f s) | RSS %+ld kB (%+.0f B/session) |\n",
           what, b->users, (double)b->users / t, t, c > 0 ? (double)b->users / c : 0.0, c,
           rss_kb(b->pid) - rss0, (double)(rss_kb(b->pid) - rss0) * 1024.0 / (double)b->users);
    fflush(stdout);
    free(out);
}

/* Asks the daemon (XEP-0133 get-online-users-num, as the admin) how many users it counts: a
 * run whose presence the daemon did not take must not pass for a fast one. */
static long online_users(struct bench *b)
{
    char buf[8192], *v;

    send_all(b->fd, "<iq type='set' id='count' from='admin@bench.test/b' to='" JID "'>"
                    "<command xmlns='http://jabber.org/protocol/commands' node="
                    "'http://jabber.org/protocol/admin#get-online-users-num' action='execute'/>"
                    "</iq>");
    read_until(b->fd, buf, sizeof(buf), "</iq>", now_s() + HANDSHAKE_MAX_S);
    v = strstr(buf, "onlineusersnum");
    v = v ? strstr(v, "<value>") : NULL;
    return v ? atol(v + strlen("<value>")) : -1;
}

static void check_online(struct bench *b, long want)
{
    long n = online_users(b);

    if (n != want)
        fatalx("the daemon counts %ld online users, %ld expected", n, want);
}

/* After the handshake the daemon probes every user: wait for all probes before measuring. */
static void wait_probes(struct bench *b)
{
    double t0 = now_s();
    long seen = pump(b->fd, "", 0, "probe", b->users, t0 + PHASE_MAX_S);

    printf("| probes after connect, %ld users | %ld of %ld in %.2f s | RSS %ld kB |\n", b->users,
           seen, b->users, now_s() - t0, rss_kb(b->pid));
    fflush(stdout);
}

static void stop_daemon(struct bench *b)
{
    double deadline = now_s() + 30;
    int status;

    close(b->fd);
    kill(b->pid, SIGTERM);
    while (waitpid(b->pid, &status, WNOHANG) == 0) {
        if (now_s() > deadline) {
            kill(b->pid, SIGKILL);
            waitpid(b->pid, &status, 0);
            break;
        }
        usleep(10000);
    }
}

static void run(struct bench *b)
{
    int lfd, port;
    double t0 = now_s();

    snprintf(b->db, sizeof(b->db), "%s/presence.db", b->dir);
    snprintf(b->conf, sizeof(b->conf), "%s/presence.conf", b->dir);
    snprintf(b->log, sizeof(b->log), "%s/presence-daemon.log", b->dir);
    populate(b);
    printf("| set-up: %ld users in the store (%s) | %.1f s | |\n", b->users,
           store_im_scheme_name(b->scheme), now_s() - t0);
    lfd = listen_loopback(&port);
    write_config(b, port);
    spawn_daemon(b);
    b->fd = accept_within(lfd, HANDSHAKE_MAX_S);
    close(lfd);
    handshake(b);
    wait_probes(b);
    phase(b, "available (new sessions)", NULL, "", "m1");
    check_online(b, b->users);
    phase(b, "available again (presence updates)", NULL, "<show>away</show>", "m2");
    check_online(b, b->users);
    phase(b, "unavailable (sessions end)", "unavailable", "", "m3");
    check_online(b, 0);
    stop_daemon(b);
}

int main(int argc, char **argv)
{
    struct bench b = {.daemon = "./imdomaind", .scheme = STORE_SCHEME_USERID_AT_DEFAULT};
    const char *counts = "100000,1000000";
    int c;

    while ((c = getopt(argc, argv, "u:D:s:")) != -1) {
        if (c == 'u')
            counts = optarg;
        else if (c == 'D')
            b.daemon = optarg;
        else if (c == 's' && store_im_scheme_parse(optarg, &b.scheme) == 0)
            continue;
        else {
            fprintf(stderr, "usage: bench_presence [-u N[,N...]] [-D imdomaind] "
                            "[-s userid@default|directory-uri] [dir]\n");
            return 2;
        }
    }
    b.dir = optind < argc ? argv[optind] : ".";
    log_set_level(LOG_LEVEL_ERROR);
    signal(SIGPIPE, SIG_IGN);
    printf("| presence benchmark | throughput | memory |\n|---|---|---|\n");
    for (const char *p = counts; *p; p += strcspn(p, ","), p += *p == ',') {
        b.users = atol(p);
        if (b.users > 0 && b.users <= 10000000)
            run(&b);
    }
    return 0;
}
