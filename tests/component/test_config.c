/* Unit tests for configuration loading: defaults, every problem reported with file:line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "component/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *write_temp(const char *content)
{
    char *path = strdup("/tmp/imd-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    return path;
}

/* Loads `content` and returns what was reported, in a static buffer. */
static const char *load(struct config *cfg, const char *content, int *problems)
{
    static char out[4096];
    char *path = write_temp(content);
    FILE *errs = fmemopen(out, sizeof(out), "w");

    config_defaults(cfg);
    *problems = config_load(cfg, path, errs);
    *problems += config_finish(cfg, path, errs);
    fclose(errs);
    unlink(path);
    free(path);
    /* strip the random file name so tests can compare */
    char *p = strstr(out, "imd-config-");
    while (p) {
        memmove(p, p + 17, strlen(p + 17) + 1);
        p = strstr(p, "imd-config-");
    }
    return out;
}

static void test_good_file(void **state)
{
    struct config cfg;
    int n;
    load(&cfg,
         "[component]\njid = domains.example.test\nsecret = s3cret\nrouter_host = ::1\n"
         "router_port = 5348\nmax_stanza_size = 512K\n"
         "[admins]\njids = Admin@Example.TEST , ops@example.test\n"
         "[log]\nlevel = debug\n[control]\nmode = 0660\n",
         &n);
    assert_int_equal(n, 0);
    assert_string_equal(cfg.jid, "domains.example.test");
    assert_string_equal(cfg.router_host, "::1");
    assert_int_equal(cfg.router_port, 5348);
    assert_int_equal(cfg.max_stanza_size, 512 * 1024);
    assert_int_equal(cfg.control_mode, 0660);
    assert_int_equal(cfg.n_admins, 2);
    assert_true(config_is_admin(&cfg, "admin@example.test/phone"));
    assert_true(config_is_admin(&cfg, "OPS@example.test"));
    assert_false(config_is_admin(&cfg, "eve@example.test"));
    assert_false(config_is_admin(&cfg, "admin@example.test.evil"));
    config_free(&cfg);
}

static void test_defaults(void **state)
{
    struct config cfg;
    config_defaults(&cfg);
    assert_int_equal(cfg.router_port, 5347);
    assert_int_equal(cfg.max_stanza_size, 256 * 1024);
    assert_int_equal(cfg.session_timeout, 600);
    assert_int_equal(cfg.control_mode, 0600);
    config_free(&cfg);
}

static void test_every_problem_with_line(void **state)
{
    struct config cfg;
    int n;
    const char *out = load(&cfg,
                           "[component]\n"
                           "jid = d.example\n"
                           "secret = x\n"
                           "colour = blue\n"
                           "router_port = 70000\n"
                           "[nosuch]\n"
                           "a = b\n"
                           "[log]\n"
                           "level = loud\n"
                           "syslog = maybe\n"
                           "[admins]\n"
                           "jids = a@b/res\n",
                           &n);
    assert_int_equal(n, 6);
    assert_non_null(strstr(out, ":4: unknown key 'colour' in section [component]"));
    assert_non_null(strstr(out, ":5: component.router_port: '70000' is not a number"));
    assert_non_null(strstr(out, ":7: unknown section [nosuch]"));
    assert_non_null(strstr(out, ":9: log.level: 'loud'"));
    assert_non_null(strstr(out, ":10: log.syslog: 'maybe' is not a boolean"));
    assert_non_null(strstr(out, ":12: admins: 'a@b/res' is not a bare JID"));
    config_free(&cfg);
}

static void test_router_kind(void **state)
{
    struct config cfg;
    int n;
    const char *out;

    config_defaults(&cfg);
    assert_int_equal(cfg.router_kind, CONFIG_ROUTER_PROSODY);
    config_free(&cfg);
    load(&cfg, "[component]\njid = d.example\nsecret = x\n[router]\nkind = ejabberd\n", &n);
    assert_int_equal(n, 0);
    assert_int_equal(cfg.router_kind, CONFIG_ROUTER_EJABBERD);
    config_free(&cfg);
    out = load(&cfg, "[component]\njid = d.example\nsecret = x\n[router]\nkind = openfire\n", &n);
    assert_int_equal(n, 1);
    assert_non_null(strstr(out, ":5: router.kind: 'openfire' is not one of prosody, ejabberd"));
    config_free(&cfg);
}

static void test_secret_rules(void **state)
{
    struct config cfg;
    int n;
    const char *out = load(&cfg, "[component]\njid = d.example\n", &n);
    assert_int_equal(n, 1);
    assert_non_null(strstr(out, "component.secret or component.secret_file is required"));
    config_free(&cfg);

    char *secret = write_temp("from-file\nignored\n");
    char text[256];
    snprintf(text, sizeof(text), "[component]\njid = d.example\nsecret_file = %s\n", secret);
    load(&cfg, text, &n);
    assert_int_equal(n, 0);
    assert_string_equal(cfg.secret, "from-file");
    config_free(&cfg);
    unlink(secret);
    free(secret);

    out = load(&cfg, "[component]\njid = d.example\nsecret_file = /nonexistent/secret\n", &n);
    assert_int_equal(n, 1);
    assert_non_null(strstr(out, "/nonexistent/secret"));
    config_free(&cfg);

    out = load(&cfg, "[component]\njid = user@d.example\nsecret = s\n", &n);
    assert_int_equal(n, 1);
    assert_non_null(strstr(out, "must be a domain JID"));
    config_free(&cfg);
}

/* [certs] key_group: unset by default; resolved to its gid; a missing group is a problem. */
static void test_cert_key_group(void **state)
{
    struct config cfg;
    int n;
    const char *out;

    (void)state;
    load(&cfg, "[component]\njid = d.example\nsecret = x\n", &n);
    assert_int_equal(n, 0);
    assert_null(cfg.cert_key_group);
    assert_true(cfg.cert_key_gid == (gid_t)-1);
    config_free(&cfg);
    load(&cfg, "[component]\njid = d.example\nsecret = x\n[certs]\nkey_group = root\n", &n);
    if (geteuid() == 0) { /* root may use any group; an unprivileged run gets the refusal */
        assert_int_equal(n, 0);
        assert_true(cfg.cert_key_gid == 0);
    }
    config_free(&cfg);
    out = load(&cfg, "[component]\njid = d.example\nsecret = x\n[certs]\nkey_group = nosuchgrp\n",
               &n);
    assert_int_equal(n, 1);
    assert_non_null(strstr(out, "certs.key_group: the group 'nosuchgrp' does not exist"));
    config_free(&cfg);
}

/* [router] reload_hook and the [services] hooks: split as the daemon will split them; one it
 * cannot split (an unterminated double quote, a trailing backslash) is a problem here, not only
 * when the daemon starts (imdomaind -n said OK). */
static void test_hooks_split(void **state)
{
    struct config cfg;
    int n;
    const char *out;

    (void)state;
    load(&cfg,
         "[component]\njid = d.example\nsecret = x\n[router]\n"
         "reload_hook = /usr/bin/prosodyctl \"reload\"\n",
         &n);
    assert_int_equal(n, 0);
    config_free(&cfg);
    out = load(&cfg,
               "[component]\njid = d.example\nsecret = x\n[router]\n"
               "reload_hook = prosodyctl \"reload\n",
               &n);
    assert_int_equal(n, 1);
    assert_non_null(strstr(out, "router.reload_hook: "));
    config_free(&cfg);
    /* The [services] hooks, each named. */
    out = load(&cfg,
               "[component]\njid = d.example\nsecret = x\n[services]\n"
               "start_hook = /bin/systemctl start \"x\nstop_hook = \\\nstatus_hook = a\\\n",
               &n);
    assert_int_equal(n, 3);
    assert_non_null(strstr(out, "services.start_hook: "));
    assert_non_null(strstr(out, "services.stop_hook: "));
    assert_non_null(strstr(out, "services.status_hook: "));
    config_free(&cfg);
    load(&cfg,
         "[component]\njid = d.example\nsecret = x\n[services]\n"
         "start_hook = /bin/systemctl start \"my unit\"\nstatus_hook = /bin/true\n",
         &n);
    assert_int_equal(n, 0);
    config_free(&cfg);
}

/* [directory]: defaults, the password file, and every cross-key rule named. */
static void test_directory(void **state)
{
    struct config cfg;
    char text[1024], *pw = write_temp("s3cret-pw\n");
    int n;
    const char *out = load(&cfg, "[component]\njid = d.example\nsecret = s\n", &n);

    assert_int_equal(n, 0);
    assert_null(cfg.dir_uri);
    assert_string_equal(cfg.dir_filter, "(objectClass=inetOrgPerson)");
    assert_string_equal(cfg.dir_userid_attr, "uid");
    assert_string_equal(cfg.dir_uri_attr, "mail");
    assert_int_equal(cfg.dir_max_drop, 20);
    config_free(&cfg);

    snprintf(text, sizeof(text),
             "[component]\njid = d.example\nsecret = s\n[directory]\n"
             "uri = ldaps://a.example ldap://b.example:3389\nbase = ou=people,dc=example\n"
             "bind_dn = cn=reader,dc=example\nbind_password_file = %s\n"
             "userid_attr = sAMAccountName\nuri_attr = msRTCSIP-PrimaryUserAddress\n"
             "schedule = 03:30\nmax_drop = 35\n",
             pw);
    out = load(&cfg, text, &n);
    assert_int_equal(n, 0);
    assert_string_equal(cfg.dir_bind_password, "s3cret-pw");
    assert_string_equal(cfg.dir_uri_attr, "msRTCSIP-PrimaryUserAddress");
    assert_int_equal(cfg.dir_max_drop, 35);
    config_free(&cfg);
    unlink(pw);
    free(pw);

    out = load(&cfg,
               "[component]\njid = d.example\nsecret = s\n[directory]\n"
               "uri = http://x.example\nstarttls = true\nfilter = uid=x\n"
               "userid_attr = bad attr\nschedule = 25:00\nbind_dn = cn=x\n",
               &n);
    assert_int_equal(n, 6);
    assert_non_null(strstr(out, "directory.uri 'http://x.example' is not an ldap:// or ldaps://"));
    assert_non_null(strstr(out, "directory.base is required"));
    assert_non_null(strstr(out, "directory.filter 'uid=x' must be an LDAP filter"));
    assert_non_null(strstr(out, "directory.userid_attr 'bad attr'"));
    assert_non_null(strstr(out, "directory.schedule '25:00'"));
    assert_non_null(strstr(out, "directory.bind_dn needs bind_password_file"));
    config_free(&cfg);

    out = load(&cfg,
               "[component]\njid = d.example\nsecret = s\n[directory]\n"
               "uri = ldaps://x.example\nstarttls = true\nbase = dc=x\n",
               &n);
    assert_int_equal(n, 1);
    assert_non_null(strstr(out, "starttls is for ldap:// URLs"));
    config_free(&cfg);
}

static void test_syntax_error(void **state)
{
    struct config cfg;
    int n;
    const char *out = load(&cfg, "[component]\njid = d.example\nsecret = s\nthis is not ini\n", &n);
    assert_int_equal(n, 1);
    assert_non_null(strstr(out, ":4: syntax error"));
    config_free(&cfg);
}

static void test_missing_file(void **state)
{
    struct config cfg;
    char out[512] = "";
    FILE *errs = fmemopen(out, sizeof(out), "w");
    config_defaults(&cfg);
    assert_int_equal(config_load(&cfg, "/nonexistent/imdomaind.conf", errs), 1);
    fclose(errs);
    assert_non_null(strstr(out, "/nonexistent/imdomaind.conf: cannot open"));
    config_free(&cfg);
}

/* A file that opens but cannot be read (a directory) is a problem of its own, not an empty
 * file whose keys are then missing. */
static void test_unreadable_file(void **state)
{
    struct config cfg;
    char out[512] = "";
    FILE *errs = fmemopen(out, sizeof(out), "w");

    config_defaults(&cfg);
    assert_int_equal(config_load(&cfg, "/tmp", errs), 1);
    fclose(errs);
    assert_non_null(strstr(out, "/tmp:0: cannot read the file: Is a directory"));
    config_free(&cfg);
}

/* A list longer than inih's 200-byte line goes on indented lines (blanks or a tab; inih gives
 * each as the key again): all of it is read, each JID once; above the limit the list is
 * refused by name, once. Before, each line replaced the list: only the last line's JIDs were
 * admins. The key again, unindented (here in a second [admins] section), is an error and
 * changes nothing: adding to the list would give rights back to JIDs an earlier line named,
 * in a file written when a later line replaced them. */
static void test_long_lists(void **state)
{
    struct config cfg;
    int n;
    const char *out;
    char text[8192], *p = text;

    (void)state;
    p += sprintf(p, "[component]\njid = d.example\nsecret = s\n[admins]\njids = ");
    for (int i = 0; i < 30; i++)
        p += sprintf(p, "%sadmin%d@example.test,%s", i % 6 ? " " : "", i, i % 6 == 5 ? "\n  " : "");
    p += sprintf(p, "\n\tAdmin3@example.test, late@example.test\n");
    sprintf(p, "[peers]\njids = peer1.example.test,\n  peer2.example.test\n");
    out = load(&cfg, text, &n);
    if (n != 0)
        fail_msg("%s", out);
    assert_true(strlen(text) > 500);
    assert_int_equal(cfg.n_admins, 31);
    for (int i = 0; i < 30; i++) {
        char jid[64];
        snprintf(jid, sizeof(jid), "admin%d@example.test/res", i);
        assert_true(config_is_admin(&cfg, jid));
    }
    assert_true(config_is_admin(&cfg, "late@example.test"));
    assert_int_equal(cfg.n_peers, 2);
    assert_string_equal(cfg.peers[1], "peer2.example.test");
    config_free(&cfg);

    out = load(&cfg,
               "[component]\njid = d.example\nsecret = s\n[admins]\njids = new@example.test\n"
               "[log]\nlevel = info\n[admins]\njids = old@example.test,\n  older@example.test\n",
               &n);
    assert_int_equal(n, 1);
    assert_non_null(strstr(out, ":9: admins: the key is given twice (a long list goes on "
                                "indented lines below it)"));
    assert_true(config_is_admin(&cfg, "new@example.test"));
    assert_false(config_is_admin(&cfg, "old@example.test"));
    assert_false(config_is_admin(&cfg, "older@example.test"));
    config_free(&cfg);

    p = text + sprintf(text, "[component]\njid = d.example\nsecret = s\n[admins]\njids = ");
    for (int i = 0; i < CONFIG_MAX_ADMINS + 2; i++)
        p += sprintf(p, "a%d@example.test,\n  ", i);
    sprintf(p, "\n");
    out = load(&cfg, text, &n);
    assert_int_equal(n, 1);
    assert_non_null(strstr(out, "admins: more than 64 JIDs"));
    config_free(&cfg);
}

/* The input checks beside the ones above, each naming the value it refuses. */
static void test_input_checks(void **state)
{
    struct config cfg;
    int n;
    const char *out;
    char text[8192], *p = text;

    /* A line longer than inih's buffer is refused as a whole, not read in pieces (a JID cut
     * short, then the rest as a line of its own); the lines after it are read. */
    p += sprintf(p, "[component]\njid = d.example\nsecret = s\n[admins]\njids = ");
    for (int i = 0; i < 20; i++)
        p += sprintf(p, "%sadmin%d@example.test", i ? ", " : "", i);
    sprintf(p, "\n[log]\nlevel = loud\n");
    out = load(&cfg, text, &n);
    assert_int_equal(n, 2);
    assert_non_null(strstr(out, ":5: the line is longer than 198 bytes (not read): jids = ... (a "
                                "list goes on indented lines below its key)"));
    assert_null(strstr(out, "admin0@")); /* the value is not quoted: it may be a secret */
    assert_non_null(strstr(out, ":7: log.level: 'loud'"));
    assert_null(strstr(out, "not a bare JID"));
    assert_null(strstr(out, "syntax error"));
    assert_int_equal(cfg.n_admins, 0);
    config_free(&cfg);

    /* A long secret is refused without a byte of it in the message. */
    p = text + sprintf(text, "[component]\njid = d.example\nsecret = ");
    memset(p, 'S', 300);
    sprintf(p + 300, "\n");
    out = load(&cfg, text, &n);
    assert_non_null(strstr(out, ":3: the line is longer than 198 bytes (not read): secret = ..."));
    assert_null(strstr(out, "SS"));
    config_free(&cfg);

    /* kind = prosody spelled out (after another kind: the last one counts). */
    load(&cfg,
         "[component]\njid = d.example\nsecret = s\n[router]\nkind = ejabberd\n"
         "kind = prosody\n",
         &n);
    assert_int_equal(n, 0);
    assert_int_equal(cfg.router_kind, CONFIG_ROUTER_PROSODY);
    config_free(&cfg);

    /* secret and secret_file both; a secret file that is empty or whose first line is. */
    out = load(&cfg, "[component]\njid = d.example\nsecret = s\nsecret_file = /dev/null\n", &n);
    assert_int_equal(n, 1);
    assert_non_null(strstr(out, "component.secret and component.secret_file are both set"));
    config_free(&cfg);
    out = load(&cfg, "[component]\njid = d.example\nsecret_file = /dev/null\n", &n);
    assert_int_equal(n, 1);
    assert_non_null(strstr(out, "component.secret_file /dev/null: the file is empty"));
    config_free(&cfg);
    char *blank = write_temp("\nsecond line\n");
    snprintf(text, sizeof(text), "[component]\njid = d.example\nsecret_file = %s\n", blank);
    out = load(&cfg, text, &n);
    assert_int_equal(n, 1);
    assert_non_null(strstr(out, ": the first line is empty"));
    assert_null(cfg.secret);
    config_free(&cfg);
    unlink(blank);
    free(blank);

    /* [directory]: a uri of separators only, bad attribute names, no bind password file. */
    out = load(&cfg,
               "[component]\njid = d.example\nsecret = s\n[directory]\nuri = , ,\n"
               "base = dc=example\nuserid_attr = -uid\nuri_attr = mail$\nnode_attr = n x\n"
               "bind_dn = cn=reader\nbind_password_file = /nonexistent/pw\n",
               &n);
    assert_int_equal(n, 5);
    assert_non_null(strstr(out, "directory.uri ', ,' is not an ldap:// or ldaps:// URL"));
    assert_non_null(strstr(out, "directory.userid_attr '-uid' is not an attribute name"));
    assert_non_null(strstr(out, "directory.uri_attr 'mail$' is not an attribute name"));
    assert_non_null(strstr(out, "directory.node_attr 'n x' is not an attribute name"));
    assert_non_null(strstr(out, "directory.bind_password_file /nonexistent/pw: No such file"));
    config_free(&cfg);
    p = text + sprintf(text, "[component]\njid = d.example\nsecret = s\n[directory]\n"
                             "uri = ldap://x.example\nbase = dc=example\nuserid_attr = ");
    memset(p, 'a', 129);
    strcpy(p + 129, "\n");
    out = load(&cfg, text, &n);
    assert_int_equal(n, 1);
    assert_non_null(strstr(out, "directory.userid_attr 'aaaa"));
    config_free(&cfg);

    /* A hook whose command word is empty: nothing to run. */
    out = load(&cfg,
               "[component]\njid = d.example\nsecret = s\n[services]\nstart_hook = \"\" x\n"
               "[router]\nreload_hook = \"\"\n",
               &n);
    assert_int_equal(n, 2);
    assert_non_null(strstr(out, "services.start_hook: the command word is empty in '\"\" x'"));
    assert_non_null(strstr(out, "router.reload_hook: the command word is empty in '\"\"'"));
    config_free(&cfg);
}

/* Without an error stream the problems are counted all the same. */
static void test_problems_without_stream(void **state)
{
    struct config cfg;
    char *path = write_temp("[component]\njid = d.example\nsecret = s\ncolour = red\n"
                            "[log]\nlevel = loud\n");

    config_defaults(&cfg);
    assert_int_equal(config_load(&cfg, path, NULL), 2);
    assert_int_equal(config_finish(&cfg, path, NULL), 0);
    config_free(&cfg);
    unlink(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_problem_with_line),
        cmocka_unit_test(test_secret_rules),
        cmocka_unit_test(test_router_kind),
        cmocka_unit_test(test_directory),
        cmocka_unit_test(test_cert_key_group),
        cmocka_unit_test(test_hooks_split),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_unreadable_file),
        cmocka_unit_test(test_long_lists),
        cmocka_unit_test(test_input_checks),
        cmocka_unit_test(test_problems_without_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
