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
#include "tests/lib/cmd_fixture.h"
#include "tests/lib/reply.h"
#include "tests/lib/store_fault.h"
#include "util/log.h"
#include "xmpp/stanza.h"

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_FIELD "<field var='key_type'><value>ec-p256</value></field>"

/* [certs] dir: "<dir>/certs", which the fixture removes with what the commands wrote into it
 * (generations, links). */
static int certs_config(struct cmd_fx *fx)
{
    const char *certs = cmd_fx_subdir(fx, "certs");

    if (certs == NULL)
        return -1;
    config_defaults(&fx->cfg);
    fx->cfg.cert_dir = strdup(certs);
    fx->app.cfg = &fx->cfg;
    fx->free_cfg = true;
    return 0;
}

/* Requests cannot wait (at_once): the key is made in the step. */
static int setup(void **state)
{
    if (store_fault_install() != 0 ||
        cmd_fx_setup(state, "certs", certs_config, cmd_certs_register) != 0)
        return -1;
    ((struct cmd_fx *)*state)->at_once = true;
    return 0;
}

static int teardown(void **state)
{
    store_fault_disarm();
    return cmd_fx_teardown(state);
}

/* A command run to its end in one request: `node` with `fields` (may be NULL: the first stage
 * only). */
static xmpp_stanza_t *run(struct cmd_fx *fx, const char *lang, const char *node, const char *fields)
{
    return req(fx, lang, node, NULL, fields ? "complete" : "execute", fields);
}

/* Entries in the certificate directory. */
static int cert_files(struct cmd_fx *fx)
{
    DIR *d = opendir(fx->subdir);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* settings.cert_domain_set, "" when NULL (read past the failing VFS). */
static void cert_set(struct cmd_fx *fx, char *out, size_t size)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;

    assert_int_equal(sqlite3_open_v2(fx->db, &db, SQLITE_OPEN_READONLY, store_fault_passthrough()),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT cert_domain_set FROM settings", -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    const unsigned char *v = sqlite3_column_text(s, 0);
    snprintf(out, size, "%s", v ? (const char *)v : "");
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static void add_domain(struct cmd_fx *fx, const char *name)
{
    assert_int_equal(store_domain_insert(fx->app.store, name, STORE_MANAGED_ADMIN, true), STORE_OK);
}

/* ---- tests ---- */

/* No [certs] dir: every command says how to set it, nothing else happens. */
static void test_no_cert_dir(void **state)
{
    struct cmd_fx *fx = *state;
    const char *nodes[] = {"certs/show", "certs/regenerate"};

    char *dir = fx->cfg.cert_dir;
    fx->cfg.cert_dir = NULL;
    add_domain(fx, "a.example");
    for (size_t i = 0; i < 2; i++) {
        xmpp_stanza_t *r = run(fx, NULL, nodes[i], i ? KEY_FIELD : NULL);
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
    struct cmd_fx *fx = *state;
    xmpp_stanza_t *r = run(fx, "ko", "certs/regenerate", KEY_FIELD);

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
    struct cmd_fx *fx = *state;
    char set[256];

    add_domain(fx, "a.example");
    assert_int_equal(store_fault_sql(fx->db, "UPDATE settings SET audit_time = '03:00'"), 0);
    store_fault_arm(STORE_FAULT_READ, STORE_FAULT_ANY, 0, -1, SQLITE_IOERR_READ);
    xmpp_stanza_t *r = run(fx, NULL, "certs/regenerate", KEY_FIELD);
    store_fault_disarm();
    expect_error(r, "internal-server-error", NULL);
    assert_has(r, "store: ");
    assert_has(r, "disk I/O error");
    xmpp_stanza_release(r);
    assert_int_equal(cert_files(fx), 0);

    r = run(fx, NULL, "certs/regenerate", KEY_FIELD);
    assert_string_equal(reply_status(r), "completed");
    xmpp_stanza_release(r);
    cert_set(fx, set, sizeof(set));
    assert_string_equal(set, "a.example");
    int files = cert_files(fx);
    assert_true(files > 0);

    assert_int_equal(store_fault_sql(fx->db, "UPDATE settings SET audit_time = '04:00'"), 0);
    store_fault_arm(STORE_FAULT_READ, STORE_FAULT_ANY, 0, -1, SQLITE_IOERR_READ);
    r = run(fx, NULL, "certs/show", NULL);
    store_fault_disarm();
    expect_error(r, "internal-server-error", NULL);
    assert_has(r, "store: ");
    xmpp_stanza_release(r);
    r = run(fx, NULL, "certs/show", NULL);
    assert_string_equal(reply_status(r), "completed");
    assert_has(r, "current");
    xmpp_stanza_release(r);
    assert_int_equal(cert_files(fx), files);
}

/* The disk fills up at each write of recording the new set in turn, after the files were
 * written: the error says the files are written but the store failed, the store keeps the set
 * it had (show calls the certificate stale: the files and the record differ), and the next
 * regenerate on a good disk records the new set. */
static void test_store_full_after_files(void **state)
{
    struct cmd_fx *fx = *state;
    char set[256];
    int round = 0;

    add_domain(fx, "a.example");
    xmpp_stanza_t *r = run(fx, NULL, "certs/regenerate", KEY_FIELD);
    assert_string_equal(reply_status(r), "completed");
    xmpp_stanza_release(r);
    add_domain(fx, "b.example");
    for (;; round++) {
        assert_true(round < 50);
        store_fault_arm(STORE_FAULT_WRITE, STORE_FAULT_WAL, round, -1, SQLITE_FULL);
        r = run(fx, NULL, "certs/regenerate", KEY_FIELD);
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
        assert_has(r, "stale");
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
    log_set_level(LOG_LEVEL_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
