/* Benchmarks for the goals of the domains issue (bench/README.md records the results):
 * domains/list over 10,000 domains, the sync audit over 1,000,000 users in 50 domains, and the
 * default-domain job over 100,000 users with the loop's longest stall while it runs.
 * Usage: bench_imd [-u USERS] [-d DOMAINS] [-l LIST_DOMAINS] [-j JOB_USERS] [-b BATCH] [DIR]. */
#include "component/app.h"
#include "component/engine/ckpt.h"
#include "component/engine/cert.h"
#include "component/engine/cert_files.h"
#include "component/cmd/commands.h"
#include "component/daemon/daemon.h"
#include "component/engine/dir_sync.h"
#include "component/engine/job.h"
#include "component/engine/sync.h"
#include "store/store_directory.h"
#include "store/store_domain.h"
#include "store/store_user.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
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

/* CPU time of this process (user + system), ms: on a shared machine, what the work cost. */
static double cpu_ms(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* The store's part of users/import, before (store_user_upsert: savepoint, node lookup, read,
 * write) and after (store_user_import_row: one statement), `users` rows in transactions of
 * `per_tx` (one users/import call), twice: all new, then all unchanged. */
static void bench_import_rows(const char *dir, long users, long domains, long per_tx)
{
    static const char *const how[] = {"store_user_upsert", "store_user_import_row"};
    char uid[32], uri[96], what[160];

    for (int fast = 0; fast < 2; fast++) {
        struct store *st = fresh_store(dir, fast ? "import_fast" : "import_slow");
        struct store_settings set;
        if (store_settings_get(st, &set) != STORE_OK)
            fatalx("settings: %s", store_errmsg(st));
        for (int round = 0; round < 2; round++) {
            double t0 = now_ms(), c0 = cpu_ms();
            for (long i = 0; i < users; i++) {
                /* as the import job's slices run: foreign keys unchecked */
                if (i % per_tx == 0 && (fast ? store_begin_bulk(st) : store_begin(st)) != STORE_OK)
                    fatalx("begin: %s", store_errmsg(st));
                snprintf(uid, sizeof(uid), "u%07ld", i);
                snprintf(uri, sizeof(uri), "u%07ld@dept%02ld.example.com", i, i % domains);
                enum store_rc rc = fast ? store_user_import_row(st, &set, uid, uri, 0, true, NULL)
                                        : store_user_upsert(st, uid, uri, NULL, NULL);
                if (rc != STORE_OK)
                    fatalx("import: %s", store_errmsg(st));
                if ((i + 1) % per_tx == 0 || i + 1 == users)
                    if (store_commit(st) != STORE_OK)
                        fatalx("commit: %s", store_errmsg(st));
            }
            snprintf(what, sizeof(what),
                     "store: %ld users %s with %s, %ld per transaction (CPU %.0f ms)", users,
                     round ? "again (unchanged)" : "new", how[fast], per_tx, cpu_ms() - c0);
            report(what, now_ms() - t0, "");
        }
        store_settings_clear(&set);
        store_close(st);
    }
}

static xmpp_stanza_t *run_command(struct app *app, const char *xml)
{
    xmpp_stanza_t *iq = xmpp_stanza_new_from_string(app->ctx, xml);
    xmpp_stanza_t *reply = adhoc_handle(app->adhoc, iq, "uid:0", true);

    xmpp_stanza_release(iq);
    return reply;
}

/* An app with a fresh store `name` and every command registered, as the daemon has them. */
static void commands_app(struct app *app, const char *dir, const char *name)
{
    app->store = fresh_store(dir, name);
    app->ctx = xmpp_ctx_new(NULL, NULL);
    app->adhoc = adhoc_new(app->ctx, NULL);
    if (commands_register(app) < 0)
        fatalx("commands_register");
}

static void commands_app_free(struct app *app)
{
    adhoc_free(app->adhoc);
    xmpp_ctx_free(app->ctx);
    store_close(app->store);
}

/* `users` users "uNNNNNNN" with addresses in 50 domains, through the import's row writer,
 * 10,000 per transaction (`bulk`: without per-statement foreign key checks, as the import
 * job's slices). */
static void import_rows(struct store *st, const struct store_settings *set, long users, bool bulk)
{
    char uid[32], uri[96];

    for (long i = 0; i < users; i++) {
        if (i % 10000 == 0 && (bulk ? store_begin_bulk(st) : store_begin(st)) != STORE_OK)
            fatalx("begin: %s", store_errmsg(st));
        snprintf(uid, sizeof(uid), "u%07ld", i);
        snprintf(uri, sizeof(uri), "u%07ld@dept%02ld.example.com", i, i % 50);
        if (store_user_import_row(st, set, uid, uri, 0, true, NULL) != STORE_OK)
            fatalx("import: %s", store_errmsg(st));
        if (((i + 1) % 10000 == 0 || i + 1 == users) && store_commit(st) != STORE_OK)
            fatalx("commit: %s", store_errmsg(st));
    }
}

static void bench_list(const char *dir, long n)
{
    struct app app = {0};
    char name[64];
    double best = 1e12;

    commands_app(&app, dir, "list");
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
    commands_app_free(&app);
}

/*
 * domains/list with a default domain that `users` users have their IM address in (issue 12: the
 * default domain is listed with that count). The count alone through the store (a lookup in the
 * counter the schema's triggers keep), and the statement it replaced (a LIKE walk of the users
 * table), on a second connection to the same file, for comparison. Best of 5 each; the import
 * that fills the table (store_user_import_row, 10,000 per transaction) pays for the triggers.
 */
static void bench_default_list(const char *dir, long users)
{
    struct app app = {0};
    struct store_settings set;
    char what[160];
    double best[3] = {1e12, 1e12, 1e12}, t0, c0;
    int64_t count = 0, old_count = 0;
    char *path = xasprintf("%s/default.db", dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *like = NULL;

    commands_app(&app, dir, "default");
    if (store_settings_get(app.store, &set) != STORE_OK)
        fatalx("settings: %s", store_errmsg(app.store));
    free(set.default_domain);
    set.default_domain = xstrdup("corp.example.com");
    if (store_settings_set(app.store, &set) != STORE_OK)
        fatalx("settings: %s", store_errmsg(app.store));
    t0 = now_ms(), c0 = cpu_ms();
    import_rows(app.store, &set, users, false);
    snprintf(what, sizeof(what), "set-up: %ld new users, store_user_import_row (CPU %.0f ms)",
             users, cpu_ms() - c0);
    report(what, now_ms() - t0, "");
    store_settings_clear(&set);

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT count(*) FROM users WHERE im_address LIKE '%@' || ?1", -1,
                           &like, NULL) != SQLITE_OK ||
        sqlite3_bind_text(like, 1, "corp.example.com", -1, SQLITE_STATIC) != SQLITE_OK)
        fatalx("%s: %s", path, sqlite3_errmsg(db));
    for (int round = 0; round < 5; round++) {
        double t;
        t0 = now_ms();
        xmpp_stanza_t *r = run_command(
            &app, "<iq type='set' id='b'><command xmlns='http://jabber.org/protocol/commands' "
                  "node='domains/list' action='execute'><x xmlns='jabber:x:data' type='submit'/>"
                  "</command></iq>");
        t = now_ms() - t0;
        if (strcmp(xmpp_stanza_get_type(r), "result") != 0)
            fatalx("domains/list did not answer with a result");
        xmpp_stanza_release(r);
        best[0] = t < best[0] ? t : best[0];

        t0 = now_ms();
        if (store_user_count_im_domain(app.store, "corp.example.com", &count) != STORE_OK)
            fatalx("count: %s", store_errmsg(app.store));
        t = now_ms() - t0;
        best[1] = t < best[1] ? t : best[1];

        t0 = now_ms();
        if (sqlite3_step(like) != SQLITE_ROW)
            fatalx("LIKE count: %s", sqlite3_errmsg(db));
        old_count = sqlite3_column_int64(like, 0);
        sqlite3_reset(like);
        t = now_ms() - t0;
        best[2] = t < best[2] ? t : best[2];
    }
    if (count != users || old_count != users)
        fatalx("default domain: counted %lld (before: %lld), expected %ld", (long long)count,
               (long long)old_count, users);
    snprintf(what, sizeof(what), "domains/list, default domain with %ld users (best of 5)", users);
    report(what, best[0], "a few ms (the loop)");
    snprintf(what, sizeof(what), "store_user_count_im_domain, %ld users (best of 5: %.1f us)",
             users, best[1] * 1e3);
    report(what, best[1], "");
    snprintf(what, sizeof(what), "before: the LIKE '%%@domain' walk, %ld users (best of 5)", users);
    report(what, best[2], "");
    sqlite3_finalize(like);
    sqlite3_close(db);
    free(path);
    commands_app_free(&app);
}

/* users/list through the command registry: one request per page (`filter`, `page`: the form's
 * fields), the reply checked to hold the page's first and last users. */
static double users_page(struct app *app, long page, long users)
{
    char xml[512], want[2][32];
    size_t len;
    char *text = NULL;
    long first = (page - 1) * 100, last = first + 99 < users - 1 ? first + 99 : users - 1;

    snprintf(xml, sizeof(xml),
             "<iq type='set' id='b'><command xmlns='http://jabber.org/protocol/commands' "
             "node='users/list' action='execute'><x xmlns='jabber:x:data' type='submit'>"
             "<field var='filter'><value></value></field><field var='page'><value>%ld</value>"
             "</field></x></command></iq>",
             page);
    double t0 = now_ms();
    xmpp_stanza_t *r = run_command(app, xml);
    double t = now_ms() - t0;
    if (strcmp(xmpp_stanza_get_type(r), "result") != 0 || xmpp_stanza_to_text(r, &text, &len) != 0)
        fatalx("users/list page %ld did not answer with a result", page);
    snprintf(want[0], sizeof(want[0]), ">u%07ld<", first);
    snprintf(want[1], sizeof(want[1]), ">u%07ld<", last);
    if (strstr(text, want[0]) == NULL || strstr(text, want[1]) == NULL)
        fatalx("users/list page %ld: users %s...%s missing", page, want[0], want[1]);
    xmpp_free(app->ctx, text);
    xmpp_stanza_release(r);
    return t;
}

/*
 * users/list over `users` users (u0000000 ...): the first page, the middle one and the last, best
 * of 5 each, every request after a write to users (what an admin finds after any change), then
 * the same page asked again without a write between; and a script's walk through pages 1 to
 * `walk` in order, one request each (the total time).
 */
static void bench_users_list(const char *dir, long users, long walk)
{
    struct app app = {0};
    struct store_settings set;
    char what[160];
    long pages = (users + 99) / 100, which[3] = {1, pages / 2, pages};
    const char *names[3] = {"first page", "middle page", "last page"};
    double t0, c0;

    commands_app(&app, dir, "users_list");
    if (store_settings_get(app.store, &set) != STORE_OK)
        fatalx("settings: %s", store_errmsg(app.store));
    t0 = now_ms(), c0 = cpu_ms();
    import_rows(app.store, &set, users, true);
    store_settings_clear(&set);
    snprintf(what, sizeof(what), "set-up: %ld users for users/list (CPU %.0f ms)", users,
             cpu_ms() - c0);
    report(what, now_ms() - t0, "");
    for (int k = 0; k < 3; k++) {
        double cold = 1e12, warm = 1e12, t;
        for (int round = 0; round < 5; round++) {
            /* a change to users between requests: nothing learned before it may be used */
            if (store_user_set_im_address(app.store, "u0000000",
                                          round % 2 ? "a@corp.example.com"
                                                    : "b@corp.example.com") != STORE_OK)
                fatalx("write: %s", store_errmsg(app.store));
            t = users_page(&app, which[k], users);
            cold = t < cold ? t : cold;
            t = users_page(&app, which[k], users);
            warm = t < warm ? t : warm;
        }
        snprintf(what, sizeof(what),
                 "users/list, %ld users, %s (page %ld), after a write (best of 5)", users, names[k],
                 which[k]);
        report(what, cold, "interactive");
        snprintf(what, sizeof(what),
                 "users/list, %ld users, %s (page %ld), asked again (best of 5)", users, names[k],
                 which[k]);
        report(what, warm, "interactive");
    }
    if (walk > pages)
        walk = pages;
    int64_t stepped = store_user_pages_stepped(app.store);
    t0 = now_ms(), c0 = cpu_ms();
    for (long p = 1; p <= walk; p++)
        users_page(&app, p, users);
    snprintf(what, sizeof(what),
             "users/list, %ld users, a walk through pages 1-%ld (CPU %.0f ms; users stepped over "
             "to find where pages start: %lld)",
             users, walk, cpu_ms() - c0,
             (long long)(store_user_pages_stepped(app.store) - stepped));
    report(what, now_ms() - t0, "linear in the pages walked");
    /* the same walk in the store alone: what the command adds is the reply's rendering */
    t0 = now_ms(), c0 = cpu_ms();
    for (long p = 1; p <= walk; p++) {
        struct store_user *u;
        size_t n;
        int64_t total;
        if (store_user_page(app.store, NULL, p, 100, &u, &n, &total) != STORE_OK || n == 0)
            fatalx("store_user_page %ld: %s", p, store_errmsg(app.store));
        store_user_list_free(u, n);
    }
    snprintf(what, sizeof(what), "store_user_page alone, %ld users, pages 1-%ld (CPU %.0f ms)",
             users, walk, cpu_ms() - c0);
    report(what, now_ms() - t0, "");
    commands_app_free(&app);
}

/* certs/regenerate's work per key type with 50 domains: the key, the self-signed certificate
 * and the files of Prosody's layout, as the command does it, in a directory that already holds
 * the set (a regeneration with an unchanged domain set); then the files of a first install (50
 * new names, an empty directory each run). Median of a few runs; RSA key generation varies a
 * lot from one key to the next. */
#define CERT_BENCH_DOMAINS 50
#define CERT_BENCH_RUNS 9

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return v[n / 2];
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

/* An empty `path`, whatever was there. */
static void fresh_dir(const char *path)
{
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
        fatal("remove %s", path);
    if (mkdir(path, 0700) < 0)
        fatal("mkdir %s", path);
}

static void bench_first_install(const char *dir, const char *const *list, const char *c,
                                const char *k)
{
    char *certdir = xasprintf("%s/certs-first", dir), *err = NULL, what[160];
    double files[CERT_BENCH_RUNS];

    for (int r = 0; r < CERT_BENCH_RUNS; r++) {
        fresh_dir(certdir);
        double t0 = now_ms();
        if (cert_files_install(certdir, list, CERT_BENCH_DOMAINS, NULL, 0, c, k, &err) < 0)
            fatalx("certs: %s", err);
        files[r] = now_ms() - t0;
    }
    snprintf(what, sizeof(what), "certs files, first install of %d new names (median of %d)",
             CERT_BENCH_DOMAINS, CERT_BENCH_RUNS);
    report(what, median(files, CERT_BENCH_RUNS), "-");
    free(certdir);
}

static void bench_certs(const char *dir)
{
    static const int runs[CERT_KEY_TYPE_COUNT] = {9, 5, 3, 9, 9};
    char names[CERT_BENCH_DOMAINS][32], *certdir = xasprintf("%s/certs", dir), *err = NULL;
    const char *list[CERT_BENCH_DOMAINS];
    struct cert_names cn = {
        .common_name = "dept00.example.com", .domains = list, .n_domains = CERT_BENCH_DOMAINS};
    char *first_key = NULL, *first_cert = NULL;

    for (int i = 0; i < CERT_BENCH_DOMAINS; i++) {
        snprintf(names[i], sizeof(names[i]), "dept%02d.example.com", i);
        list[i] = names[i];
    }
    fresh_dir(certdir);
    for (int t = 0; t < CERT_KEY_TYPE_COUNT; t++) {
        double key[CERT_BENCH_RUNS], sign[CERT_BENCH_RUNS], files[CERT_BENCH_RUNS],
            total[CERT_BENCH_RUNS];
        for (int r = -1; r < runs[t]; r++) { /* run -1 installs the set: not measured */
            double t0 = now_ms();
            char *k = cert_key_generate((enum cert_key_type)t, &err);
            double t1 = now_ms();
            char *c = k ? cert_self_sign(k, &cn, 0, 365, &err) : NULL;
            double t2 = now_ms();
            if (c == NULL ||
                cert_files_install(certdir, list, CERT_BENCH_DOMAINS, NULL, 0, c, k, &err) < 0)
                fatalx("certs: %s", err);
            if (r >= 0) {
                key[r] = t1 - t0, sign[r] = t2 - t1, files[r] = now_ms() - t2;
                total[r] = now_ms() - t0;
            }
            if (t == CERT_KEY_EC_P256 && first_key == NULL) {
                first_key = k, first_cert = c;
                continue;
            }
            free(k);
            free(c);
        }
        char what[160];
        snprintf(what, sizeof(what),
                 "certs/regenerate %s, %d domains, unchanged set (median of %d: key %.1f + "
                 "sign %.1f + files %.1f ms)",
                 cert_key_type_name((enum cert_key_type)t), CERT_BENCH_DOMAINS, runs[t],
                 median(key, runs[t]), median(sign, runs[t]), median(files, runs[t]));
        report(what, median(total, runs[t]),
               t == CERT_KEY_EC_P256    ? "< 10 ms"
               : t == CERT_KEY_RSA_2048 ? "dominated by key generation"
                                        : "-");
    }
    bench_first_install(dir, list, first_cert, first_key);
    free(first_key);
    free(first_cert);
    free(certdir);
}

/* The sync audit over the populated store: the first run adds every domain, the second finds
 * nothing to do (the nightly case). */
static void bench_sync(struct store *st, long users, long domains)
{
    struct sync_report r = {0};
    char *err = NULL, what[128];

    for (int round = 0; round < 2; round++) {
        double t0 = now_ms();
        if (sync_run(st, 0, &r, &err) != 0) /* no peers in the bench store */
            fatalx("sync_run: %s", err ? err : "failed");
        double t = now_ms() - t0;
        snprintf(what, sizeof(what), "sync audit, %ld users in %ld domains (%s)", users, domains,
                 round == 0 ? "adds every domain" : "nothing to do");
        report(what, t, "< 1000 ms");
        sync_report_clear(&r);
    }
}

/* The default-domain job on a real loop: a 1 ms timer stands in for a ping and records the
 * longest gap between its ticks, which is how long a ping could wait for the loop. */
struct job_bench {
    struct job_runner *jr;
    struct ckpt_sched *ckpt;
    uv_timer_t tick;
    double last, worst;
};

static void job_tick(uv_timer_t *t)
{
    struct job_bench *b = t->data;
    double now = now_ms();

    if (now - b->last > b->worst)
        b->worst = now - b->last;
    b->last = now;
    if (!job_runner_busy(b->jr)) {
        uv_timer_stop(t);
        ckpt_sched_stop(b->ckpt); /* lets the loop run out */
    }
}

static void bench_job(const char *dir, long users, long job_batch)
{
    struct app app = {0};
    struct config cfg = {0};
    uv_loop_t loop;
    struct job_bench b = {0};
    char what[128];

    uv_loop_init(&loop);
    cfg.store_path = xasprintf("%s/job.db", dir); /* fresh_store's name for "job" */
    app.cfg = &cfg;
    app.loop = &loop;
    app.ctx = xmpp_ctx_new(NULL, NULL);
    app.adhoc = adhoc_new(app.ctx, NULL);
    app.store = fresh_store(dir, "job");
    populate_users(app.store, users, 50);
    if (store_domain_insert(app.store, "new.example.com", STORE_MANAGED_ADMIN, true) != STORE_OK)
        fatalx("insert: %s", store_errmsg(app.store));
    b.ckpt = ckpt_sched_start(&app); /* as the daemon does */
    b.jr = app.jobs = job_runner_new(&app);
    if (job_batch > 0)
        job_runner_set_batch(b.jr, job_batch);
    store_begin(app.store);
    if (job_create(app.store, STORE_JOB_DEFAULT_DOMAIN, "new.example.com", NULL) != STORE_OK)
        fatalx("job_create: %s", store_errmsg(app.store));
    store_commit(app.store);
    uv_timer_init(&loop, &b.tick);
    b.tick.data = &b;
    double t0 = now_ms();
    b.last = t0;
    job_runner_kick(b.jr);
    uv_timer_start(&b.tick, job_tick, 1, 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    double t = now_ms() - t0;
    snprintf(what, sizeof(what), "default-domain job over %ld users (%ld per batch)", users,
             job_batch > 0 ? job_batch : (long)JOB_BATCH_ROWS);
    report(what, t, "< 2000 ms");
    report("  longest wait of the loop during that job (a ping's worst case)", b.worst, "< 50 ms");
    job_runner_stop(b.jr);
    uv_close((uv_handle_t *)&b.tick, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    job_runner_free(b.jr);
    ckpt_sched_free(b.ckpt);
    free(cfg.store_path);
    adhoc_free(app.adhoc);
    xmpp_ctx_free(app.ctx);
    store_close(app.store);
    uv_loop_close(&loop);
}

/* directory/sync against the slapd bench/bench_directory.py starts (IMD_BENCH_LDAP_* in the
 * environment): the whole job on a real loop, while a 1 ms timer records the longest gap
 * between its ticks (what a ping would wait at worst). Two runs: the first adds every user,
 * the second finds them all unchanged. */
struct dir_bench {
    struct store *st;
    char phase[16];
    double phase_start;
    struct ckpt_sched *ckpt;
    int64_t job;
    uv_timer_t tick;
    double last, worst;
    double last_cpu, worst_cpu; /* the loop thread's own CPU time between two ticks */
    unsigned ticks;
};

static double thread_cpu_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Prints how long each phase of the run took, as the store records it. */
static void dir_phase(struct dir_bench *b, double now, bool end)
{
    struct store_dir_run r;
    const char *name;

    if (store_dir_run_get(b->st, b->job, &r) != STORE_OK)
        return;
    name = end ? "end" : store_dir_phase_name(r.phase);
    if (strcmp(name, b->phase) != 0) {
        if (b->phase[0])
            printf("|   phase %s | %.1f ms | - |\n", b->phase, now - b->phase_start);
        snprintf(b->phase, sizeof(b->phase), "%s", name);
        b->phase_start = now;
    }
    store_dir_run_clear(&r);
}

static void dir_tick(uv_timer_t *t)
{
    struct dir_bench *b = t->data;
    double now = now_ms();
    struct store_job j;

    double cpu = thread_cpu_ms();

    if (now - b->last > b->worst)
        b->worst = now - b->last;
    if (cpu - b->last_cpu > b->worst_cpu)
        b->worst_cpu = cpu - b->last_cpu;
    b->last = now;
    b->last_cpu = cpu;
    if (++b->ticks % 10 != 0 || store_job_get(b->st, b->job, &j) != STORE_OK)
        return;
    dir_phase(b, now, j.state != STORE_JOB_RUNNING);
    if (j.state != STORE_JOB_RUNNING) {
        if (j.state != STORE_JOB_COMPLETED)
            fatalx("directory sync job ended %s: %s", store_job_state_name(j.state),
                   j.error ? j.error : "");
        uv_timer_stop(t);
        uv_stop(t->loop); /* the checkpointer's timer stays for the next run */
    }
    store_job_clear(&j);
}

static void dir_bench_run(struct app *app, struct dir_bench *b, const char *what)
{
    char line[160];
    double t0, c0 = cpu_ms();

    store_begin(app->store);
    if (dir_sync_create(app, STORE_DIR_FULL, false, &b->job, NULL) != STORE_OK)
        fatalx("dir_sync_create: %s", store_errmsg(app->store));
    store_commit(app->store);
    b->worst = b->worst_cpu = 0;
    b->last_cpu = thread_cpu_ms();
    b->phase[0] = '\0';
    t0 = b->last = now_ms();
    job_runner_kick(app->jobs);
    uv_timer_start(&b->tick, dir_tick, 1, 1);
    uv_run(app->loop, UV_RUN_DEFAULT);
    snprintf(line, sizeof(line), "directory/sync of %s entries, %s", getenv("IMD_BENCH_LDAP_N"),
             what);
    report(line, now_ms() - t0, "< 10000 ms");
    report("  longest wait of the loop during that sync (a ping's worst case)", b->worst,
           "< 50 ms");
    report("  longest CPU time the loop thread spent between two ticks (the stall on an idle "
           "CPU)",
           b->worst_cpu, "< 50 ms");
    report("  CPU time of the daemon's side (loop and thread pool; slapd not counted)",
           cpu_ms() - c0, "-");
}

static void bench_directory(const char *dir)
{
    struct app app = {0};
    struct config cfg;
    uv_loop_t loop;
    struct dir_bench b = {0};
    const char *page = getenv("IMD_BENCH_LDAP_PAGE");

    if (getenv("IMD_BENCH_LDAP_URI") == NULL) {
        printf("| directory/sync | skipped: run bench/bench_directory.py (it starts slapd) | |\n");
        return;
    }
    config_defaults(&cfg);
    cfg.dir_uri = xstrdup(getenv("IMD_BENCH_LDAP_URI"));
    cfg.dir_base = xstrdup(getenv("IMD_BENCH_LDAP_BASE"));
    cfg.dir_ca_file = xstrdup(getenv("IMD_BENCH_LDAP_CA"));
    cfg.dir_bind_dn = xstrdup(getenv("IMD_BENCH_LDAP_DN"));
    cfg.dir_bind_password = xstrdup(getenv("IMD_BENCH_LDAP_PW"));
    if (page)
        cfg.dir_page_size = atoi(page);
    uv_loop_init(&loop);
    app.cfg = &cfg;
    app.loop = &loop;
    app.ctx = xmpp_ctx_new(NULL, NULL);
    app.adhoc = adhoc_new(app.ctx, NULL);
    app.store = b.st = fresh_store(dir, "directory");
    free(cfg.store_path);
    cfg.store_path = xasprintf("%s/directory.db", dir); /* fresh_store's name */
    b.ckpt = ckpt_sched_start(&app);
    app.jobs = job_runner_new(&app);
    app.dirsync = dir_sync_new(&app);
    uv_timer_init(&loop, &b.tick);
    b.tick.data = &b;
    dir_bench_run(&app, &b, "first run (every user added)");
    dir_bench_run(&app, &b, "second run (every user unchanged)");
    ckpt_sched_stop(b.ckpt);
    job_runner_stop(app.jobs);
    dir_sync_stop(app.dirsync);
    uv_close((uv_handle_t *)&b.tick, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    dir_sync_free(app.dirsync);
    job_runner_free(app.jobs);
    ckpt_sched_free(b.ckpt);
    adhoc_free(app.adhoc);
    xmpp_ctx_free(app.ctx);
    store_close(app.store);
    uv_loop_close(&loop);
    config_free(&cfg);
}

/* True when `section` is in the comma list `only` (NULL: every section). */
static bool wants(const char *only, const char *section)
{
    size_t len = strlen(section);

    for (const char *p = only; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, section, len) == 0 && (p[len] == ',' || p[len] == '\0'))
            return true;
    return only == NULL;
}

/* certs/import's check of a pasted chain, on the event loop: the leaf followed by copies of it.
 * The longest chain accepted (CERT_CHAIN_MAX), and the largest paste (CERT_PEM_MAX bytes of
 * certificates), which must be refused after CERT_CHAIN_MAX + 1 decodings, not all of them. */
static void bench_chain_size(const char *key, const char *leaf, size_t bytes,
                             enum cert_import_rc expect)
{
    const char *names[] = {"chain.example.com"};
    size_t one = strlen(leaf), copies = bytes / one;
    char *pem = xmalloc(copies * one + 1), what[160];
    double best = 1e300;

    for (size_t i = 0; i < copies; i++)
        memcpy(pem + i * one, leaf, one);
    pem[copies * one] = '\0';
    for (int r = 0; r < 5; r++) {
        char *clean = NULL, *why = NULL;
        double t0 = now_ms();
        enum cert_import_rc rc = cert_check_import(key, pem, names, 1, time(NULL), &clean, &why);
        double t = now_ms() - t0;
        if (rc != expect)
            fatalx("chain: %s", why);
        best = t < best ? t : best;
        free(clean);
        free(why);
    }
    snprintf(what, sizeof(what), "certs/import check of a %zu-certificate paste, %zu KiB, %s (best of 5)",
             copies, copies * one / 1024, expect == CERT_IMPORT_OK ? "accepted" : "refused");
    report(what, best, "a few ms (the loop)");
    free(pem);
}

static void bench_chain(void)
{
    const char *names[] = {"chain.example.com"};
    struct cert_names cn = {.common_name = names[0], .domains = names, .n_domains = 1};
    char *err = NULL, *key = cert_key_generate(CERT_KEY_EC_P256, &err), *leaf;

    if (key == NULL || (leaf = cert_self_sign(key, &cn, 0, 30, &err)) == NULL)
        fatalx("chain: %s", err);
    bench_chain_size(key, leaf, CERT_CHAIN_MAX * strlen(leaf), CERT_IMPORT_OK);
    bench_chain_size(key, leaf, CERT_PEM_MAX - 1, CERT_IMPORT_CHAIN_TOO_LONG);
    free(leaf);
    free(key);
}

int main(int argc, char **argv)
{
    const char *only = NULL;
    long users = 1000000, domains = 50, list_domains = 10000, job_users = 100000, job_batch = 0;
    long walk = 1000;
    const char *dir;
    int c;

    while ((c = getopt(argc, argv, "u:d:l:j:b:s:w:")) != -1) {
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
        case 'j':
            job_users = atol(optarg);
            break;
        case 'b':
            job_batch = atol(optarg);
            break;
        case 's':
            only = optarg;
            break;
        case 'w':
            walk = atol(optarg);
            break;
        default:
            fprintf(stderr, "usage: bench_imd [-u users] [-d domains] [-l list_domains] [-j "
                            "job_users] [-b job_batch] [-w walk_pages] [-s "
                            "list,default,users,certs,chain,sync,job,import,directory] [dir]\n");
            return 2;
        }
    }
    dir = optind < argc ? argv[optind] : ".";
    daemon_malloc_policy(); /* as the daemon runs */
    log_set_level(LOG_LEVEL_ERROR);
    xmpp_initialize();
    printf("| benchmark | result | goal |\n|---|---|---|\n");
    if (wants(only, "list"))
        bench_list(dir, list_domains);
    if (wants(only, "default")) {
        if (users > 100000)
            bench_default_list(dir, 100000);
        bench_default_list(dir, users);
    }
    if (wants(only, "users"))
        bench_users_list(dir, users, walk);
    if (wants(only, "certs"))
        bench_certs(dir);
    if (wants(only, "chain"))
        bench_chain();
    if (wants(only, "sync")) {
        struct store *st = fresh_store(dir, "users");
        double t0 = now_ms();
        populate_users(st, users, domains);
        char what[96];
        snprintf(what, sizeof(what), "import %ld users in %ld domains (one transaction)", users,
                 domains);
        report(what, now_ms() - t0, "set-up, no goal");
        bench_sync(st, users, domains);
        store_close(st);
    }
    if (wants(only, "job"))
        bench_job(dir, job_users, job_batch);
    if (wants(only, "import"))
        bench_import_rows(dir, users, domains, 5000);
    if (wants(only, "directory"))
        bench_directory(dir);
    xmpp_shutdown();
    return 0;
}
