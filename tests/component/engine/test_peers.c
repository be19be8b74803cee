/* Unit tests for component/peers: the [peers] configuration, the URI hash, the checks on a
 * peer's answer page (each limit and each kind of garbage), the answering side (paging over
 * domains then URI hashes, "unchanged", peer-only rows never echoed, bad cursors), the sync
 * audit's peer rules, and the consistency findings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "component/app.h"
#include "component/config.h"
#include "component/engine/peers.h"
#include "component/engine/sync.h"
#include "store/store_domain.h"
#include "store/store_peer.h"
#include "store/store_settings.h"
#include "store/store_user.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fx {
    struct config cfg;
    struct app app;
    xmpp_ctx_t *ctx;
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    char *err = NULL;

    config_defaults(&fx->cfg);
    fx->cfg.jid = xstrdup("a.example.test");
    fx->app.cfg = &fx->cfg;
    fx->app.store = store_open(":memory:", &err);
    fx->ctx = xmpp_ctx_new(NULL, NULL);
    fx->app.ctx = fx->ctx;
    *state = fx;
    return fx->app.store ? 0 : -1;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    store_close(fx->app.store);
    xmpp_ctx_free(fx->ctx);
    config_free(&fx->cfg);
    free(fx);
    return 0;
}

/* ---- configuration ---- */

static int load(struct config *cfg, const char *text)
{
    char path[] = "/tmp/imd-peers-conf-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    FILE *errs = fopen("/dev/null", "w");
    int n;

    fputs(text, f);
    fclose(f);
    config_defaults(cfg);
    n = config_load(cfg, path, errs);
    fclose(errs);
    unlink(path);
    return n;
}

static void test_config(void **state)
{
    struct config cfg;

    (void)state;
    assert_int_equal(load(&cfg, "[peers]\njids = B.Example.Test , c.example.test\nrefresh = 60\n"),
                     0);
    assert_int_equal(cfg.n_peers, 2);
    assert_string_equal(cfg.peers[0], "b.example.test");
    assert_int_equal(cfg.peer_refresh, 60);
    assert_int_equal(cfg.peer_timeout, 10);
    assert_int_equal(cfg.peer_forget_after, 7 * 86400);
    config_free(&cfg);
    /* a user JID is not a component; refresh 0 is out of range */
    assert_int_equal(load(&cfg, "[peers]\njids = admin@example.test\nrefresh = 0\n"), 2);
    assert_int_equal(cfg.n_peers, 0);
    config_free(&cfg);
}

/* [peers] forget_after: 0 (never) or longer than refresh; negative is out of range. */
static void test_config_forget_after(void **state)
{
    static const char base[] = "[component]\njid = a.example.test\nsecret = s\n"
                               "[peers]\nrefresh = 60\n";
    struct config cfg;
    FILE *errs = fopen("/dev/null", "w");
    char *text;

    (void)state;
    text = xasprintf("%sforget_after = 61\n", base);
    assert_int_equal(load(&cfg, text) + config_finish(&cfg, "t", errs), 0);
    assert_int_equal(cfg.peer_forget_after, 61);
    config_free(&cfg);
    free(text);
    text = xasprintf("%sforget_after = 0\n", base);
    assert_int_equal(load(&cfg, text) + config_finish(&cfg, "t", errs), 0);
    assert_int_equal(cfg.peer_forget_after, 0);
    config_free(&cfg);
    free(text);
    /* a peer would expire between two refreshes */
    text = xasprintf("%sforget_after = 60\n", base);
    assert_int_equal(load(&cfg, text) + config_finish(&cfg, "t", errs), 1);
    config_free(&cfg);
    free(text);
    text = xasprintf("%sforget_after = -1\n", base);
    assert_int_equal(load(&cfg, text), 1);
    config_free(&cfg);
    free(text);
    fclose(errs);
}

/* ---- the hash ---- */

static void test_uri_hash(void **state)
{
    char a[PEER_HASH_HEX + 1], b[PEER_HASH_HEX + 1], c[PEER_HASH_HEX + 1];

    (void)state;
    peer_uri_hash("Carol@Dup.Example", a);
    peer_uri_hash("carol@dup.example", b);
    peer_uri_hash("carol@dup.example2", c);
    assert_int_equal(strlen(a), PEER_HASH_HEX);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
}

/* ---- parsing answers ---- */

static xmpp_stanza_t *parse_xml(struct fx *fx, const char *xml)
{
    xmpp_stanza_t *s = xmpp_stanza_new_from_string(fx->ctx, xml);
    assert_non_null(s);
    return s;
}

/* Parses `xml`; returns the error (malloc'd) or NULL, with *out filled on success. */
static char *parse(struct fx *fx, const char *xml, struct peer_page *out)
{
    xmpp_stanza_t *s = parse_xml(fx, xml);
    char *err = NULL;
    int rc = peer_page_parse(s, out, &err);

    xmpp_stanza_release(s);
    assert_true((rc == 0) == (err == NULL));
    return err;
}

#define HDR "<peer xmlns='urn:imdomaind:peer:0' version='e-1' default-domain='x.example' "

static void expect_error(struct fx *fx, const char *xml, const char *words)
{
    struct peer_page p;
    char *err = parse(fx, xml, &p);

    assert_non_null(err);
    if (strstr(err, words) == NULL)
        fail_msg("error '%s' lacks '%s'", err, words);
    free(err);
}

static void test_parse_good(void **state)
{
    struct fx *fx = *state;
    struct peer_page p;

    assert_null(parse(fx,
                      HDR "scheme='directory-uri' next='u:0:0'>"
                          "<domain name='A.Example' configured='true' users='0'/>"
                          "<domain name='b.example' configured='false' users='12'/>"
                          "<uri hash='0123456789abcdef'/></peer>",
                      &p));
    assert_string_equal(p.version, "e-1");
    assert_false(p.unchanged);
    assert_string_equal(p.im_address_scheme, "directory-uri");
    assert_string_equal(p.next, "u:0:0");
    assert_int_equal(p.n_domains, 2);
    assert_string_equal(p.domains[0].name, "A.Example");
    assert_true(p.domains[0].configured);
    assert_int_equal(p.domains[1].users, 12);
    assert_int_equal(p.n_hashes, 1);
    peer_page_clear(&p);
    assert_null(
        parse(fx, "<peer xmlns='urn:imdomaind:peer:0' version='e-1' unchanged='true'/>", &p));
    assert_true(p.unchanged);
    peer_page_clear(&p);
    /* the placeholder default domain is a valid answer */
    assert_null(parse(fx,
                      "<peer xmlns='urn:imdomaind:peer:0' version='v' "
                      "default-domain='DOMAIN.NOT.SET' scheme='userid@default'/>",
                      &p));
    peer_page_clear(&p);
}

static void test_parse_garbage(void **state)
{
    struct fx *fx = *state;

    expect_error(fx, "<peer xmlns='urn:other' version='1'/>", "no <peer xmlns");
    expect_error(fx, "<query xmlns='urn:imdomaind:peer:0' version='1'/>", "no <peer xmlns");
    expect_error(fx, "<peer xmlns='urn:imdomaind:peer:0'/>", "no version marker");
    expect_error(fx, "<peer xmlns='urn:imdomaind:peer:0' version='a b'/>", "no version marker");
    expect_error(fx, HDR "scheme='email'/>", "address scheme");
    expect_error(fx,
                 "<peer xmlns='urn:imdomaind:peer:0' version='1' default-domain='bad..x' "
                 "scheme='userid@default'/>",
                 "default domain");
    expect_error(fx,
                 HDR "scheme='userid@default'><domain name='Abc.1om' configured='true' "
                     "users='0'/></peer>",
                 "breaks the domain rules");
    expect_error(fx,
                 HDR "scheme='userid@default'><domain name='a.example' configured='yes' "
                     "users='0'/></peer>",
                 "'configured' must be");
    expect_error(fx,
                 HDR "scheme='userid@default'><domain name='a.example' configured='true' "
                     "users='1234567890'/></peer>",
                 "'users' a count");
    expect_error(fx, HDR "scheme='userid@default'><uri hash='0123456789ABCDEF'/></peer>",
                 "lower-case hex");
    expect_error(fx, HDR "scheme='userid@default'><script/></peer>", "unexpected element");
}

static void test_parse_limits(void **state)
{
    struct fx *fx = *state;
    size_t cap = 64 * 1024;
    char *xml = malloc(cap);
    size_t len = (size_t)snprintf(xml, cap, HDR "scheme='userid@default'>");

    for (int i = 0; i <= PEER_PAGE_DOMAINS; i++)
        len += (size_t)snprintf(xml + len, cap - len,
                                "<domain name='d%d.example' configured='true' users='1'/>", i);
    snprintf(xml + len, cap - len, "</peer>");
    expect_error(fx, xml, "more than 200 domains in one page");
    len = (size_t)snprintf(xml, cap, HDR "scheme='userid@default'>");
    for (int i = 0; i <= PEER_PAGE_URIS; i++)
        len += (size_t)snprintf(xml + len, cap - len, "<uri hash='%016x'/>", i);
    snprintf(xml + len, cap - len, "</peer>");
    expect_error(fx, xml, "more than 1000 directory URI hashes");
    free(xml);
}

/* ---- answering ---- */

/* Builds the answer to (known, after); returns it serialised (malloc'd) or NULL with *err. */
static char *answer(struct fx *fx, const char *known, const char *after, char **err)
{
    bool bad = false;
    xmpp_stanza_t *p = peer_answer_build(&fx->app, known, after, err, &bad);
    char *buf = NULL, *out;
    size_t len = 0;

    if (p == NULL)
        return NULL;
    assert_int_equal(xmpp_stanza_to_text(p, &buf, &len), XMPP_EOK);
    out = xstrdup(buf);
    xmpp_free(fx->ctx, buf);
    xmpp_stanza_release(p);
    return out;
}

static struct peer_page answer_page(struct fx *fx, const char *known, const char *after)
{
    char *err = NULL, *xml = answer(fx, known, after, &err);
    struct peer_page p;

    assert_non_null(xml);
    assert_null(parse(fx, xml, &p));
    free(xml);
    return p;
}

static void test_answer_paging(void **state)
{
    struct fx *fx = *state;
    struct peer_page p;
    char *err = NULL, *version, name[64];
    size_t domains = 0;

    for (int i = 0; i < PEER_PAGE_DOMAINS + 5; i++) {
        snprintf(name, sizeof(name), "d%03d.example", i);
        assert_int_equal(store_domain_insert(fx->app.store, name, STORE_MANAGED_ADMIN, true),
                         STORE_OK);
    }
    assert_int_equal(
        store_domain_insert(fx->app.store, "peer.example", STORE_MANAGED_SYSTEM, false), STORE_OK);
    assert_int_equal(store_user_upsert(fx->app.store, "u1", "U1@Used.Example", NULL, NULL),
                     STORE_OK);
    assert_int_equal(store_user_upsert(fx->app.store, "u2", "", NULL, NULL), STORE_OK);
    /* first page: 200 domains, then a cursor into the domains */
    p = answer_page(fx, NULL, NULL);
    assert_int_equal(p.n_domains, PEER_PAGE_DOMAINS);
    assert_string_equal(p.next, "d:d199.example");
    assert_string_equal(p.default_domain, "DOMAIN.NOT.SET");
    domains += p.n_domains;
    version = xstrdup(p.version);
    peer_page_clear(&p);
    /* second page: the rest; the peer-only row is not echoed; the used domain is */
    p = answer_page(fx, NULL, "d:d199.example");
    domains += p.n_domains;
    assert_int_equal(domains, PEER_PAGE_DOMAINS + 6);
    assert_string_equal(p.domains[p.n_domains - 1].name, "used.example");
    assert_false(p.domains[p.n_domains - 1].configured);
    assert_int_equal(p.domains[p.n_domains - 1].users, 1);
    for (size_t i = 0; i < p.n_domains; i++)
        assert_string_not_equal(p.domains[i].name, "peer.example");
    assert_string_equal(p.next, "u:0:0");
    peer_page_clear(&p);
    /* the URI page: one hash (users without a URI are skipped), no next */
    p = answer_page(fx, NULL, "u:0:0");
    assert_int_equal(p.n_hashes, 1);
    {
        char h[PEER_HASH_HEX + 1];
        peer_uri_hash("u1@used.example", h);
        assert_string_equal(p.hashes[0], h);
    }
    assert_null(p.next);
    peer_page_clear(&p);
    /* unchanged while nothing changes; a change moves the marker */
    p = answer_page(fx, version, NULL);
    assert_true(p.unchanged);
    peer_page_clear(&p);
    assert_int_equal(store_domain_delete(fx->app.store, "d000.example"), STORE_OK);
    p = answer_page(fx, version, NULL);
    assert_false(p.unchanged);
    peer_page_clear(&p);
    free(version);
    /* cursors we never issue */
    assert_null(answer(fx, NULL, "x:1", &err));
    assert_non_null(strstr(err, "unknown paging cursor"));
    free(err);
    assert_null(answer(fx, NULL, "u:1:999999999", &err));
    free(err);
}

static void test_is_peer(void **state)
{
    struct fx *fx = *state;

    fx->cfg.peers[0] = xstrdup("b.example.test");
    fx->cfg.n_peers = 1;
    assert_true(peers_is_peer(&fx->app, "B.Example.Test"));
    assert_true(peers_is_peer(&fx->app, "b.example.test/res"));
    assert_false(peers_is_peer(&fx->app, "admin@b.example.test"));
    assert_false(peers_is_peer(&fx->app, "c.example.test"));
    assert_false(peers_is_peer(&fx->app, NULL));
    assert_int_equal(store_peer_add(fx->app.store, "c.example.test", false), STORE_OK);
    assert_true(peers_is_peer(&fx->app, "c.example.test"));
}

/* ---- the audit's peer rules ---- */

static void peer_says(struct fx *fx, const char *jid, const struct store_peer_domain *d, size_t n)
{
    struct store_peer_data data = {"v", "DOMAIN.NOT.SET", "userid@default", d, n, 0, false, 0,
                                   NULL};
    enum store_rc rc = store_peer_add(fx->app.store, jid, false);

    assert_true(rc == STORE_OK || rc == STORE_CONFLICT);
    assert_int_equal(store_peer_replace(fx->app.store, jid, &data, 100), STORE_OK);
}

/* Peers answered at 100 (peer_says): since 0 counts them, since 101 finds them expired. */
static void audit_since(struct fx *fx, int64_t since, struct sync_report *r)
{
    assert_int_equal(sync_run(fx->app.store, since, r, NULL), 0);
}

static void audit(struct fx *fx, struct sync_report *r)
{
    audit_since(fx, 0, r);
}

static void assert_domain(struct fx *fx, const char *name, enum store_managed_by by, bool local)
{
    struct store_domain d;

    assert_int_equal(store_domain_get(fx->app.store, name, &d), STORE_OK);
    assert_int_equal(d.managed_by, by);
    assert_int_equal(d.configured_local, local);
    store_domain_clear(&d);
}

/* What peer b says in the audit tests: one domain its users use, one it configures, one it
 * configures and uses that is also local here (add_local_both()). */
#define PEER_SAYS_THREE                                                                            \
    {                                                                                              \
        {"used.example", NULL, false, 4}, {"conf.example", NULL, true, 0},                         \
        {                                                                                          \
            "both.example", NULL, true, 2                                                          \
        }                                                                                          \
    }

static void add_local_both(struct fx *fx)
{
    assert_int_equal(store_domain_insert(fx->app.store, "both.example", STORE_MANAGED_ADMIN, true),
                     STORE_OK);
}

static void test_sync_peer_rules(void **state)
{
    struct fx *fx = *state;
    struct store_peer_domain said[] = PEER_SAYS_THREE;
    struct sync_report r;

    add_local_both(fx);
    assert_int_equal(store_domain_insert(fx->app.store, "old.example", STORE_MANAGED_SYSTEM, false),
                     STORE_OK);
    /* a peer that never answered: peer-only rows are left alone */
    assert_int_equal(store_peer_add(fx->app.store, "c.example.test", false), STORE_OK);
    peer_says(fx, "b.example.test", said, 3);
    audit(fx, &r);
    assert_int_equal(r.peer_added.n, 2);
    assert_int_equal(r.removed.n, 0);
    assert_int_equal(r.to_system.n, 1); /* both.example: peer users use it */
    sync_report_clear(&r);
    assert_domain(fx, "used.example", STORE_MANAGED_SYSTEM, false);
    assert_domain(fx, "conf.example", STORE_MANAGED_ADMIN, false);
    assert_domain(fx, "both.example", STORE_MANAGED_SYSTEM, true);
    assert_domain(fx, "old.example", STORE_MANAGED_SYSTEM, false);
    /* every peer has answered: old.example is gone everywhere; the peer drops its users */
    assert_int_equal(store_peer_remove(fx->app.store, "c.example.test"), STORE_OK);
    said[0].users = 0;
    said[2].users = 0;
    peer_says(fx, "b.example.test", said, 3);
    audit(fx, &r);
    assert_int_equal(r.removed.n, 2);
    assert_string_equal(r.removed.v[0], "old.example");
    assert_string_equal(r.removed.v[1], "used.example");
    sync_report_clear(&r);
    assert_domain(fx, "both.example", STORE_MANAGED_ADMIN, true);
    /* used.example: no users, not configured by the peer: gone */
    assert_int_equal(store_domain_exists(fx->app.store, "used.example"), STORE_NOTFOUND);
    assert_domain(fx, "conf.example", STORE_MANAGED_ADMIN, false);
    /* the peer removed: its configured-only domain goes; the local one stays */
    assert_int_equal(store_peer_remove(fx->app.store, "b.example.test"), STORE_OK);
    audit(fx, &r);
    sync_report_clear(&r);
    assert_int_equal(store_domain_exists(fx->app.store, "conf.example"), STORE_NOTFOUND);
    assert_domain(fx, "both.example", STORE_MANAGED_ADMIN, true);
}

/* The cutoff itself: forget_after before now; 0 counts every peer; never-answered peers are
 * not expired (they have nothing to forget). */
static void test_cutoff(void **state)
{
    struct fx *fx = *state;

    fx->cfg.peer_forget_after = 50;
    assert_int_equal(peers_counted_since(&fx->cfg, 1000), 950);
    assert_false(peers_expired(950, 950)); /* exactly forget_after old: still counts */
    assert_true(peers_expired(949, 950));
    assert_false(peers_expired(0, 950)); /* never answered */
    fx->cfg.peer_forget_after = 0;
    assert_int_equal(peers_counted_since(&fx->cfg, 1000), 0);
    assert_false(peers_expired(1, 0));
}

/* What the audit does with an expired peer: its peer-only domains are no longer on any peer
 * (gone once every peer that is not expired has answered), a domain also configured locally
 * stays local, and the peer answering again brings them back. */
static void test_sync_expired_peer(void **state)
{
    struct fx *fx = *state;
    struct store_peer_domain said[] = PEER_SAYS_THREE;
    struct sync_report r;

    add_local_both(fx);
    peer_says(fx, "b.example.test", said, 3); /* answered at 100 */
    audit_since(fx, 100, &r);                 /* fresh */
    assert_int_equal(r.peer_added.n, 2);
    sync_report_clear(&r);
    /* stale but counted: the refresh fails, the answer of 100 still counts */
    assert_int_equal(store_peer_mark_failed(fx->app.store, "b.example.test", "gone", 150),
                     STORE_OK);
    audit_since(fx, 90, &r);
    assert_false(sync_report_changed(&r));
    sync_report_clear(&r);
    assert_domain(fx, "used.example", STORE_MANAGED_SYSTEM, false);
    /* expired, but a peer that never answered holds peer-only domains back */
    assert_int_equal(store_peer_add(fx->app.store, "c.example.test", false), STORE_OK);
    audit_since(fx, 101, &r);
    assert_int_equal(r.removed.n, 0);
    assert_int_equal(r.to_admin.n, 1); /* both.example: local, no counted users */
    sync_report_clear(&r);
    assert_domain(fx, "used.example", STORE_MANAGED_SYSTEM, false);
    assert_domain(fx, "both.example", STORE_MANAGED_ADMIN, true);
    /* every peer not expired has answered: the expired peer's peer-only domains go */
    assert_int_equal(store_peer_remove(fx->app.store, "c.example.test"), STORE_OK);
    audit_since(fx, 101, &r);
    assert_int_equal(r.removed.n, 2);
    sync_report_clear(&r);
    assert_int_equal(store_domain_exists(fx->app.store, "used.example"), STORE_NOTFOUND);
    assert_int_equal(store_domain_exists(fx->app.store, "conf.example"), STORE_NOTFOUND);
    assert_domain(fx, "both.example", STORE_MANAGED_ADMIN, true);
    /* its data is kept; answering again (the data counts again) brings the domains back */
    assert_int_equal(store_peer_mark_fresh(fx->app.store, "b.example.test", 200), STORE_OK);
    audit_since(fx, 101, &r);
    assert_int_equal(r.peer_added.n, 2);
    assert_int_equal(r.to_system.n, 1);
    sync_report_clear(&r);
    assert_domain(fx, "used.example", STORE_MANAGED_SYSTEM, false);
    assert_domain(fx, "conf.example", STORE_MANAGED_ADMIN, false);
    assert_domain(fx, "both.example", STORE_MANAGED_SYSTEM, true);
}

/* ---- findings ---- */

static bool has_finding(struct fx *fx, const char *words)
{
    struct peer_finding *v = NULL;
    size_t n = 0;
    bool found = false;

    assert_int_equal(peer_findings(&fx->app, &v, &n), STORE_OK);
    for (size_t i = 0; i < n; i++)
        found = found || strstr(v[i].en, words) != NULL;
    peer_findings_free(v, n);
    return found;
}

static void test_findings(void **state)
{
    struct fx *fx = *state;
    struct store_peer_domain said[] = {{"shared.example", "Shared.EXAMPLE", true, 0},
                                       {"other.example", "Other.Example", true, 0}};
    struct store_peer_data d = {"v",   "b.example", "directory-uri",    said, 2, 10,
                                false, 3,           "carol@dup.example"};

    assert_false(has_finding(fx, "differs"));
    assert_int_equal(
        store_domain_insert(fx->app.store, "shared.example", STORE_MANAGED_ADMIN, true), STORE_OK);
    assert_int_equal(store_peer_add(fx->app.store, "b.example.test", false), STORE_OK);
    assert_int_equal(store_peer_mark_failed(fx->app.store, "b.example.test", "timed out", 5),
                     STORE_OK);
    assert_true(has_finding(fx, "Peer b.example.test has never answered (timed out)"));
    assert_int_equal(store_peer_replace(fx->app.store, "b.example.test", &d, 100), STORE_OK);
    assert_true(has_finding(fx, "default domain differs: DOMAIN.NOT.SET here, b.example"));
    assert_true(has_finding(fx, "IM address scheme differs: userid@default here, directory-uri"));
    assert_true(has_finding(fx, "3 directory URI(s) exist both here and on peer b.example.test "
                                "(for example carol@dup.example)"));
    assert_true(has_finding(fx, "Domain shared.example is configured here and on peer "
                                "b.example.test as Shared.EXAMPLE"));
    /* only domains configured on both count */
    assert_false(has_finding(fx, "Other.Example"));
    assert_false(has_finding(fx, "stale"));
    assert_int_equal(store_peer_mark_failed(fx->app.store, "b.example.test", "gone", 200),
                     STORE_OK);
    /* an answer of 1970 is stale, still counted, only while nothing expires */
    fx->cfg.peer_forget_after = 0;
    assert_true(has_finding(fx, "Peer b.example.test is stale: its last refresh failed (gone); "
                                "the peer data shown is from 1970-01-01 00:01:40 UTC and still "
                                "counts."));
    assert_false(has_finding(fx, "expired"));
    fx->cfg.peer_forget_after = 7 * 86400;
    assert_false(has_finding(fx, "is stale"));
    assert_true(has_finding(fx, "Peer b.example.test is expired: no good answer for "));
    assert_true(has_finding(fx, "(since 1970-01-01 00:01:40 UTC; its last refresh failed: gone), "
                                "longer than [peers] forget_after (604800 s). Its data is kept "
                                "and shown but no longer counts"));
    assert_true(has_finding(fx, "or remove it (peers remove, or from [peers] jids)."));
}

/* The age in an expired peer's finding, in both languages. */
static void test_expired_age(void **state)
{
    struct fx *fx = *state;
    struct store_peer_data d = {"v", "DOMAIN.NOT.SET", "userid@default", NULL, 0, 0, false, 0,
                                NULL};
    int64_t now = (int64_t)time(NULL);
    struct peer_finding *v = NULL;
    size_t n = 0;

    fx->cfg.peer_forget_after = 3600;
    assert_int_equal(store_peer_add(fx->app.store, "b.example.test", false), STORE_OK);
    /* 8 days and 2 hours ago: far from any boundary, whatever second the test runs in */
    assert_int_equal(
        store_peer_replace(fx->app.store, "b.example.test", &d, now - 8 * 86400 - 7200 - 30),
        STORE_OK);
    assert_int_equal(peer_findings(&fx->app, &v, &n), STORE_OK);
    assert_int_equal(n, 1);
    assert_non_null(strstr(v[0].en, "no good answer for 8d 2h (since "));
    assert_non_null(strstr(v[0].ko, "8일 2시간 동안 정상 응답이 없었습니다"));
    assert_null(strstr(v[0].en, "last refresh failed")); /* no failure recorded */
    peer_findings_free(v, n);
    /* fresh again: no finding */
    assert_int_equal(store_peer_mark_fresh(fx->app.store, "b.example.test", now), STORE_OK);
    assert_int_equal(peer_findings(&fx->app, &v, &n), STORE_OK);
    assert_int_equal(n, 0);
    peer_findings_free(v, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_config_forget_after),
        cmocka_unit_test(test_uri_hash),
        cmocka_unit_test_setup_teardown(test_parse_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_is_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_peer_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_findings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cutoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_expired_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_age, setup, teardown),
    };
    log_set_level(LOG_LEVEL_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
