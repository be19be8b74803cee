/* Unit tests for federation_best_srv (component/engine/federation.c): the hand-written walk over a DNS
 * answer that federation/check's resolve step uses for _xmpp-server._tcp records. The tests
 * have no DNS server to ask, so the messages are built here in RFC 1035 wire format: the lowest
 * priority wins, compressed names, other record types, cut-off and malformed messages. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "component/engine/federation.h"

#define T_SRV_ 33
#define T_CNAME_ 5
#define QNAME_OFFSET 12 /* the question's name starts right after the header */

struct msg {
    unsigned char b[1024];
    int len;
};

static void put16(struct msg *m, unsigned v)
{
    m->b[m->len++] = (unsigned char)(v >> 8);
    m->b[m->len++] = (unsigned char)v;
}

/* "a.b.c" as labels, ending with the root label. */
static void put_name(struct msg *m, const char *name)
{
    while (*name) {
        size_t l = strcspn(name, ".");
        m->b[m->len++] = (unsigned char)l;
        memcpy(m->b + m->len, name, l);
        m->len += (int)l;
        name += l;
        if (*name == '.')
            name++;
    }
    m->b[m->len++] = 0;
}

/* Header (id 1, a response) with qd questions and an answers, then the question for
 * _xmpp-server._tcp.example.org SRV IN. */
static void start(struct msg *m, unsigned an)
{
    memset(m, 0, sizeof(*m));
    put16(m, 1);
    put16(m, 0x8180);
    put16(m, 1);
    put16(m, an);
    put16(m, 0);
    put16(m, 0);
    put_name(m, "_xmpp-server._tcp.example.org");
    put16(m, T_SRV_);
    put16(m, 1);
}

/* An answer record: the owner is a pointer to the question's name. */
static void rr_head(struct msg *m, unsigned type, unsigned rdlen)
{
    put16(m, 0xC000 | QNAME_OFFSET);
    put16(m, type);
    put16(m, 1);
    put16(m, 0);
    put16(m, 300);
    put16(m, rdlen);
}

static void srv(struct msg *m, unsigned prio, unsigned port, const char *target)
{
    struct msg t = {.len = 0};
    put_name(&t, target);
    rr_head(m, T_SRV_, 6 + (unsigned)t.len);
    put16(m, prio);
    put16(m, 5);
    put16(m, port);
    memcpy(m->b + m->len, t.b, (size_t)t.len);
    m->len += t.len;
}

static void test_lowest_priority_wins(void **state)
{
    struct msg m;
    char host[256] = "";
    unsigned port = 0;

    (void)state;
    start(&m, 3);
    srv(&m, 20, 5270, "backup.example.org");
    srv(&m, 10, 5269, "xmpp.example.org");
    srv(&m, 30, 5271, "last.example.org");
    assert_int_equal(federation_best_srv(m.b, m.len, host, sizeof(host), &port), 1);
    assert_string_equal(host, "xmpp.example.org");
    assert_int_equal(port, 5269);
}

/* A target compressed against the question (the usual form of real answers), after a record
 * of another type, which is skipped. */
static void test_compressed_target_after_cname(void **state)
{
    struct msg m;
    char host[256] = "";
    unsigned port = 0;

    (void)state;
    start(&m, 2);
    rr_head(&m, T_CNAME_, 2);
    put16(&m, 0xC000 | QNAME_OFFSET);
    /* SRV 5 5 5222 "s2s" + pointer to "example.org" inside the question name. */
    rr_head(&m, T_SRV_, 6 + 4 + 2);
    put16(&m, 5);
    put16(&m, 0);
    put16(&m, 5222);
    m.b[m.len++] = 3;
    memcpy(m.b + m.len, "s2s", 3);
    m.len += 3;
    put16(&m, 0xC000 | (QNAME_OFFSET + 1 + 12 + 1 + 4)); /* past "_xmpp-server" and "_tcp" */
    assert_int_equal(federation_best_srv(m.b, m.len, host, sizeof(host), &port), 1);
    assert_string_equal(host, "s2s.example.org");
    assert_int_equal(port, 5222);
}

static void test_no_answers(void **state)
{
    struct msg m;
    char host[256] = "untouched";
    unsigned port = 7;

    (void)state;
    start(&m, 0);
    assert_int_equal(federation_best_srv(m.b, m.len, host, sizeof(host), &port), 0);
    assert_string_equal(host, "untouched");
    assert_int_equal(port, 7);
    /* Shorter than a header. */
    assert_int_equal(federation_best_srv(m.b, 11, host, sizeof(host), &port), 0);
}

/* A message cut inside the second record keeps the first; cut inside the first, none. */
static void test_cut_short(void **state)
{
    struct msg m;
    char host[256] = "";
    unsigned port = 0;
    int first_end;

    (void)state;
    start(&m, 2);
    srv(&m, 10, 5269, "one.example.org");
    first_end = m.len;
    srv(&m, 1, 5270, "two.example.org");
    for (int cut = first_end + 1; cut < m.len; cut++) {
        host[0] = '\0';
        assert_int_equal(federation_best_srv(m.b, cut, host, sizeof(host), &port), 1);
        assert_string_equal(host, "one.example.org");
        assert_int_equal(port, 5269);
    }
    for (int cut = QNAME_OFFSET; cut < first_end; cut++)
        assert_int_equal(federation_best_srv(m.b, cut, host, sizeof(host), &port), 0);
}

/* A question name whose label runs past the end, an SRV too short to hold its fixed part, and
 * an answer count larger than the records present. */
static void test_malformed(void **state)
{
    struct msg m;
    char host[256] = "";
    unsigned port = 0;

    (void)state;
    start(&m, 1);
    m.b[QNAME_OFFSET] = 60; /* "_xmpp-server" claims 60 bytes */
    assert_int_equal(federation_best_srv(m.b, QNAME_OFFSET + 20, host, sizeof(host), &port), 0);

    start(&m, 1);
    rr_head(&m, T_SRV_, 4);
    put16(&m, 1);
    put16(&m, 2);
    assert_int_equal(federation_best_srv(m.b, m.len, host, sizeof(host), &port), 0);

    start(&m, 5);
    srv(&m, 3, 5269, "only.example.org");
    assert_int_equal(federation_best_srv(m.b, m.len, host, sizeof(host), &port), 1);
    assert_string_equal(host, "only.example.org");

    /* rdlen past the end of the message. */
    start(&m, 1);
    rr_head(&m, T_SRV_, 200);
    put16(&m, 1);
    assert_int_equal(federation_best_srv(m.b, m.len, host, sizeof(host), &port), 0);
}

/* Target "." is RFC 2782's "service not available": found, with an empty or "." host, which
 * the resolve step reports as such. */
static void test_root_target(void **state)
{
    struct msg m;
    char host[256] = "x";
    unsigned port = 1;

    (void)state;
    start(&m, 1);
    rr_head(&m, T_SRV_, 7);
    put16(&m, 0);
    put16(&m, 0);
    put16(&m, 0);
    m.b[m.len++] = 0;
    assert_int_equal(federation_best_srv(m.b, m.len, host, sizeof(host), &port), 1);
    assert_true(strcmp(host, "") == 0 || strcmp(host, ".") == 0);
    assert_int_equal(port, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lowest_priority_wins),
        cmocka_unit_test(test_compressed_target_after_cname),
        cmocka_unit_test(test_no_answers),
        cmocka_unit_test(test_cut_short),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_root_target),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
