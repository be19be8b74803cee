/* Unit tests for component/cmd/cmd_certs.c's answers when something is missing or the store
 * fails, driven through the XEP-0050 framework (synchronous: the key is made in the step) on a
 * file store with the failing VFS of tests/lib/store_fault.c: no certificate directory, no
 * domain, no certificate yet; the store unreadable before anything is written (an
 * internal-server-error, no file written); the store full after the files are written (the
 * error says so, the store keeps the set it had, and the next regenerate records it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "component/cmd/commands.h"
#include "component/config.h"
#include "store/store_domain.h"
#include "store/store_settings.h"
#include "tests/lib/reply.h"
#include "tests/lib/store_fault.h"
#include "tests/lib/tmpstore.h"
#include "util/log.h"
#include "xmpp/stanza.h"

#include <dirent.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ADMIN "admin@example.com/laptop"
#define NS_CMD "http://jabber.org/protocol/commands"
#define KEY_FORM                                                                                   \
    "<x xmlns='jabber:x:data' type='submit'><field var='key_type'><value>ec-p256</value>"        \
    "</field></x>"

struct fx {
    char dir[64];
    char path[128];
    char certs[128];
    uv_loop_t loop;
    struct config cfg;
    struct app app;
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    char *err = NULL;

    log_set_level(LOG_LEVEL_ERROR);
    if (fx == NULL || store_fault_install() != 0 ||
        tmpstore_make(fx->dir, sizeof(fx->dir), fx->path, sizeof(fx->path), "certs") < 0)
        return -1;
    snprintf(fx->certs, sizeof(fx->certs), "%s/certs", fx->dir);
    if (mkdir(fx->certs, 0700) != 0)
        return -1;
    config_defaults(&fx->cfg);
    fx->cfg.cert_dir = strdup(fx->certs); /* config_free frees it */
    uv_loop_init(&fx->loop);
    fx->app.loop = &fx->loop;
    fx->app.cfg = &fx->cfg;
    fx->app.ctx = xmpp_ctx_new(NULL, NULL);
    fx->app.store = store_open(fx->path, &err);
    fx->app.adhoc = adhoc_new(fx->app.ctx, NULL);
    if (fx->app.store == NULL || cmd_certs_register(&fx->app) < 0)
        return -1;
    *state = fx;
    return 0;
}

static int remove_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* The certificate directory and what the commands wrote into it (generations, links). */
static int remove_certs(const char *dir)
{
    return nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    store_fault_disarm();
    adhoc_free(fx->app.adhoc);
    apply_free(fx->app.apply);
    store_close(fx->app.store);
    xmpp_ctx_free(fx->app.ctx);
    config_free(&fx->cfg);
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    assert_int_equal(remove_certs(fx->certs), 0);
    assert_int_equal(tmpstore_remove(fx->dir, fx->path), 0);
    free(fx);
    return 0;
}

/* A command run to its end in one request: `node` with `form` (may be NULL: the first stage
 * only). */
static xmpp_stanza_t *run(struct fx *fx, const char *lang, const char *node, const char *form)
{
    char *xml = NULL;

    assert_true(asprintf(&xml,
                         "<iq type='set' id='q' from='" ADMIN "' to='imd.example'%s%s%s>"
                         "<command xmlns='" NS_CMD "' node='%s' action='%s'>%s</command></iq>",
                         lang ? " xml:lang='" : "", lang ? lang : "", lang ? "'" : "", node,
                         form ? "complete" : "execute", form ? form : "") > 0);
    xmpp_stanza_t *iq = xmpp_stanza_new_from_string(fx->app.ctx, xml);
    assert_non_null(iq);
    xmpp_stanza_t *reply = adhoc_handle(fx->app.adhoc, iq, ADMIN, true);
    xmpp_stanza_release(iq);
    free(xml);
    assert_non_null(reply);
    return reply;
}

static void assert_says(xmpp_stanza_t *reply, const char *needle)
{
    char *t = NULL;
    size_t len = 0;

    xmpp_stanza_to_text(reply, &t, &len);
    if (strstr(t, needle) == NULL)
        fail_msg("no '%s' in %s", needle, t);
    xmpp_free(xmpp_stanza_get_context(reply), t);
}

static bool is_error(xmpp_stanza_t *reply, const char *cond)
{
    xmpp_stanza_t *e = stanza_child(reply, "error", NULL);

    return strcmp(xmpp_stanza_get_type(reply), "error") == 0 && e && stanza_child(e, cond, NULL);
}

/* Entries in the certificate directory. */
static int cert_files(struct fx *fx)
{
    DIR *d = opendir(fx->certs);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* settings.cert_domain_set, "" when NULL (read past the failing VFS). */
static void cert_set(struct fx *fx, char *out, size_t size)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;

    assert_int_equal(sqlite3_open_v2(fx->path, &db, SQLITE_OPEN_READONLY,
                                     store_fault_passthrough()),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT cert_domain_set FROM settings", -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    const unsigned char *v = sqlite3_column_text(s, 0);
    snprintf(out, size, "%s", v ? (const char *)v : "");
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static void add_domain(struct fx *fx, const char *name)
{
    assert_int_equal(store_domain_insert(fx->app.store, name, STORE_MANAGED_ADMIN, true), STORE_OK);
}

/* ---- tests ---- */

/* No [certs] dir: every command says how to set it, nothing else happens. */
static void test_no_cert_dir(void **state)
{
    struct fx *fx = *state;
    const char *nodes[] = {"certs/show", "certs/regenerate"};

    char *dir = fx->cfg.cert_dir;
    fx->cfg.cert_dir = NULL;
    add_domain(fx, "a.example");
    for (size_t i = 0; i < 2; i++) {
        xmpp_stanza_t *r = run(fx, NULL, nodes[i], i ? KEY_FORM : NULL);
        assert_string_equal(reply_status(r), "completed");
        assert_true(reply_has_note(r, "error", "set [certs] dir in imdomaind.conf"));
        xmpp_stanza_release(r);
    }
    fx->cfg.cert_dir = dir;
    assert_int_equal(cert_files(fx), 0);
}

/* No domain yet: regenerate refuses (in Korean here) and writes nothing; show says there is no
 * certificate yet. */
static void test_nothing_yet(void **state)
{
    struct fx *fx = *state;
    xmpp_stanza_t *r = run(fx, "ko", "certs/regenerate", KEY_FORM);

    assert_true(reply_has_note(r, "error", "먼저 domains/add로 추가하세요"));
    xmpp_stanza_release(r);
    r = run(fx, NULL, "certs/show", NULL);
    assert_true(reply_has_note(r, "error", "No cup-xmpp-s2s certificate exists yet"));
    xmpp_stanza_release(r);
    assert_int_equal(cert_files(fx), 0);
}

/* The store cannot be read when regenerate loads the domain set, and when show compares: an
 * internal-server-error naming the store, no file written, and both work once it can. */
static void test_store_unreadable(void **state)
{
    struct fx *fx = *state;
    char set[256];

    add_domain(fx, "a.example");
    assert_int_equal(store_fault_sql(fx->path, "UPDATE settings SET audit_time = '03:00'"), 0);
    store_fault_arm(STORE_FAULT_READ, STORE_FAULT_ANY, 0, -1, SQLITE_IOERR_READ);
    xmpp_stanza_t *r = run(fx, NULL, "certs/regenerate", KEY_FORM);
    store_fault_disarm();
    assert_true(is_error(r, "internal-server-error"));
    assert_says(r, "store: ");
    assert_says(r, "disk I/O error");
    xmpp_stanza_release(r);
    assert_int_equal(cert_files(fx), 0);

    r = run(fx, NULL, "certs/regenerate", KEY_FORM);
    assert_string_equal(reply_status(r), "completed");
    xmpp_stanza_release(r);
    cert_set(fx, set, sizeof(set));
    assert_string_equal(set, "a.example");
    int files = cert_files(fx);
    assert_true(files > 0);

    assert_int_equal(store_fault_sql(fx->path, "UPDATE settings SET audit_time = '04:00'"), 0);
    store_fault_arm(STORE_FAULT_READ, STORE_FAULT_ANY, 0, -1, SQLITE_IOERR_READ);
    r = run(fx, NULL, "certs/show", NULL);
    store_fault_disarm();
    assert_true(is_error(r, "internal-server-error"));
    assert_says(r, "store: ");
    xmpp_stanza_release(r);
    r = run(fx, NULL, "certs/show", NULL);
    assert_string_equal(reply_status(r), "completed");
    assert_says(r, "current");
    xmpp_stanza_release(r);
    assert_int_equal(cert_files(fx), files);
}

/* The disk fills up at each write of recording the new set in turn, after the files were
 * written: the error says the files are written but the store failed, the store keeps the set
 * it had (show calls the certificate stale: the files and the record differ), and the next
 * regenerate on a good disk records the new set. */
static void test_store_full_after_files(void **state)
{
    struct fx *fx = *state;
    char set[256];
    int round = 0;

    add_domain(fx, "a.example");
    xmpp_stanza_t *r = run(fx, NULL, "certs/regenerate", KEY_FORM);
    assert_string_equal(reply_status(r), "completed");
    xmpp_stanza_release(r);
    add_domain(fx, "b.example");
    for (;; round++) {
        assert_true(round < 50);
        store_fault_arm(STORE_FAULT_WRITE, STORE_FAULT_WAL, round, -1, SQLITE_FULL);
        r = run(fx, NULL, "certs/regenerate", KEY_FORM);
        int hit = store_fault_hits();
        store_fault_disarm();
        cert_set(fx, set, sizeof(set));
        if (!reply_has_note(r, "error", "The certificate was not installed")) {
            assert_string_equal(reply_status(r), "completed");
            assert_string_equal(set, "a.example,b.example");
            xmpp_stanza_release(r);
            break;
        }
        assert_true(hit > 0);
        assert_true(reply_has_note(r, "error", "the files are written but the store failed: "));
        assert_true(reply_has_note(r, "error", "full"));
        xmpp_stanza_release(r);
        assert_string_equal(set, "a.example");
        r = run(fx, NULL, "certs/show", NULL);
        assert_says(r, "stale");
        xmpp_stanza_release(r);
    }
    assert_true(round > 0);
    print_message("# %d writes failed in turn\n", round);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_cert_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nothing_yet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_unreadable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_full_after_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
