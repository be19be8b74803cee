# The directory client's failures against real servers, through directory/test and
# directory/sync (real daemon, Prosody, slapd, slixmpp): TLS diagnostics on a second slapd set-up
# with its own test CA (a certificate for another name, an expired one, a CA file missing or not
# PEM, StartTLS refused, ldaps:// pointed at the plain port, failover across URIs), binds the
# server refuses (anonymous disallowed, confidentiality required, a bind DN that is no DN, a
# diagnostic message with bytes XML cannot carry, a server that never answers), searches that fail (a base that is no DN or not there, a referral,
# the paged-results size limit, a page that never comes, a connection cut between pages, a
# server unwilling to search), and the
# sync job when the directory goes away half-way (nothing applied, Cancel empties the staging,
# Retry reads it all again), when the daemon stops while a page is in flight (the restart reads
# again from the start) and when it comes back without [directory]. Misbehaving servers are
# ldap_fault.py's, in this process; slapd is slapd.py's.
import os
import socket
import sqlite3
import sys

sys.dont_write_bytecode = True  # keep the source tree clean (distcheck has it read-only)
import harness as h  # noqa: E402
from harness import check  # noqa: E402
import ldap_fault as lf  # noqa: E402
import slapd as ldap  # noqa: E402

JID = "domains.example.test"
WAIT = 60


def ft(node):
    return "urn:imdomaind:" + node


def _daemon(server, prosody, **directory):
    settings = {"router": {"vhosts_file": os.path.join(h.tmpdir("vh"), "vhosts.cfg.lua")},
                "directory": server.directory_settings(**directory)}
    return h.Daemon(prosody, settings=settings)


def _probe(server, prosody, **directory):
    """directory/test on a fresh daemon whose [directory] is `server`'s with `directory` over
    it: (the completed Command, the daemon's log text)."""
    d = _daemon(server, prosody, **directory)
    c = h.Client(prosody, "admin", register=False)
    try:
        r = c.execute(JID, "directory/test", timeout=30 * h.SLOW)
    finally:
        c.close()
    check(r.status == "completed", repr(r))
    d.stop()
    return r, d.log_text()


def _fails(r, kind, *words):
    got = (r.value("error_kind"), r.value("error") or "")
    check(got[0] == kind, "kind %r, not %r: %r" % (got[0], kind, got[1]))
    for w in words:
        check(w in got[1], "%r not in %r" % (w, got[1]))
    check(any(t == "error" and got[1] in n for t, n in r.notes), repr(r.notes))
    return got[1]


def _prosody():
    p = h.Prosody()
    p.register("admin", "pw-admin")
    return p


def _has_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_tls_diagnostics():
    "TLS: a certificate for another name (IP and DNS), a CA file missing or not PEM, an expired certificate, ldaps:// at the plain port, all named; failover to a working URI"
    p = _prosody()
    other = ldap.Slapd(ldap.person("a", "a@corp.example"), names="DNS:ldap.elsewhere.test")
    r, _ = _probe(other, p)
    _fails(r, "tls", "TLS failure: ldaps://127.0.0.1:%d: " % other.ldaps_port,
           "(/CN=ldap.example.test) is not valid for the name 127.0.0.1")
    r, _ = _probe(other, p, uri="ldaps://localhost:%d" % other.ldaps_port)
    _fails(r, "tls", "is not valid for the name localhost")
    # the same name problem behind StartTLS
    r, _ = _probe(other, p, tls=False, starttls=True)
    _fails(r, "tls", "ldap://127.0.0.1:%d: " % other.ldap_port, "is not valid for the name")
    # a CA file that is not there: libldap refuses even a plain ldap:// URI; the file is named
    r, _ = _probe(other, p, tls=False, ca="/nonexistent/test-ca.pem")
    _fails(r, "tls", "cannot read the CA file /nonexistent/test-ca.pem (ca_file): No such file")
    # one that holds no certificate: libldap takes it, the handshake fails, OpenSSL says why
    junk = os.path.join(h.tmpdir("ca"), "junk.pem")
    with open(junk, "w") as f:
        f.write("not a certificate\n")
    r, _ = _probe(other, p, ca=junk)
    _fails(r, "tls", "TLS failure: cannot load the CA file %s: " % junk)
    # one whose PEM armour holds no certificate: the TLS library refuses it at once
    broken = os.path.join(h.tmpdir("ca"), "broken.pem")
    with open(broken, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nAAAA!!!!\n-----END CERTIFICATE-----\n")
    r, _ = _probe(other, p, ca=broken)
    _fails(r, "tls", "the TLS library cannot use the CA file %s (ca_file): it needs PEM "
           "certificates" % broken)
    # the system's certificate directory instead of a bundle
    cadir = h.tmpdir("certs")
    r, _ = _probe(other, p, ca=cadir)
    _fails(r, "tls", "the CA file %s (ca_file) is a directory: name a file of PEM certificates"
           % cadir)
    expired = ldap.Slapd(ldap.person("a", "a@corp.example"), expired=True)
    r, _ = _probe(expired, p)
    _fails(r, "tls", "is not trusted: certificate has expired",
           "CA file %s" % expired.ca[0])
    r, _ = _probe(expired, p, uri="ldaps://127.0.0.1:%d" % expired.ldap_port)
    _fails(r, "tls", "ldaps://127.0.0.1:%d: TLS handshake failed: " % expired.ldap_port)
    # two URIs, the first refused: libldap goes on to the second, which answers
    good = ldap.Slapd([ldap.person("a", "a@corp.example"), ldap.person("b", "b@corp.example")])
    dead = h.free_port()
    r, _ = _probe(good, p, uri="ldaps://127.0.0.1:%d ldaps://127.0.0.1:%d"
                  % (dead, good.ldaps_port))
    check(r.value("error_kind") is None, repr(r.value("error")))
    check(r.value("server") == "127.0.0.1:%d" % good.ldaps_port, repr(r.value("server")))
    check(r.value("entries") == "2", repr(r.value("entries")))
    # both fail, differently: the answer names each URI's problem, the kind is TLS
    r, _ = _probe(good, p, uri="ldaps://127.0.0.1:%d,ldaps://127.0.0.1:%d"
                  % (dead, other.ldaps_port), ca=other.ca[0])
    _fails(r, "tls", "TLS failure: cannot connect to 127.0.0.1:%d: Connection refused; "
           "ldaps://127.0.0.1:%d: " % (dead, other.ldaps_port),
           "is not valid for the name 127.0.0.1")


def test_starttls_refusals():
    "StartTLS: a server without TLS refuses it, one that hangs up gives no answer, one that is no LDAP server does not parse; without StartTLS they are named too"
    p = _prosody()
    plain = ldap.Slapd(ldap.person("a", "a@corp.example"), tls=False)
    r, _ = _probe(plain, p, tls=False, starttls=True)
    _fails(r, "tls", "TLS failure: ldap://127.0.0.1:%d: the server refused StartTLS "
           "(result code 2)" % plain.ldap_port)
    # without StartTLS the same server works
    r, _ = _probe(plain, p, tls=False)
    check(r.value("entries") == "1", repr(r.value("error")))
    closer = lf.FaultyLdap(lf.CLOSE)
    r, _ = _probe(plain, p, uri=closer.url(), starttls=True)
    _fails(r, "tls", "%s: no answer to StartTLS" % closer.url())
    # ldaps:// to it: the handshake ends at once
    r, _ = _probe(plain, p, uri="ldaps://127.0.0.1:%d" % closer.port, tls=False)
    _fails(r, "tls", "ldaps://127.0.0.1:%d: TLS handshake failed: " % closer.port)
    garbage = lf.FaultyLdap(lf.GARBAGE)
    r, _ = _probe(plain, p, uri=garbage.url(), starttls=True)
    _fails(r, "tls", "%s: the answer to StartTLS does not parse" % garbage.url())
    # without StartTLS there is no TLS to judge: the answer says TCP works and LDAP did not (it
    # once carried an uninitialised buffer here, which the router refused as not-well-formed
    # XML, dropping the answer and the component's stream)
    for server in (garbage, closer):
        r, log = _probe(plain, p, uri=server.url(), starttls=False)
        _fails(r, "unreachable", "the directory is unreachable (Can't contact LDAP server): %s: "
               "a TCP connection works, but the LDAP exchange over it failed (is it an LDAP "
               "server?)" % server.url())
        check("router link lost" not in log, "the router dropped the link")


def test_bind_refusals():
    "binds: anonymous disallowed, confidentiality required, a bind DN that is no DN, a diagnostic message with bytes XML cannot carry, a server that never answers; IPv6 works"
    p = _prosody()
    strict = ldap.Slapd(ldap.person("a", "a@corp.example"),
                        conf="disallow bind_anon\nsecurity simple_bind=128", ipv6=_has_ipv6(),
                        names="IP:127.0.0.1,IP:::1")
    r, _ = _probe(strict, p, bind_dn=None, bind_password_file=None)
    _fails(r, "credentials", "the directory refused the bind as (anonymous): "
           "Inappropriate authentication", "anonymous bind disallowed")
    check(r.value("bind_dn") == "(anonymous)", repr(r.value("bind_dn")))
    r, _ = _probe(strict, p, tls=False)
    _fails(r, "credentials", "refused the bind as %s: Confidentiality required" % ldap.READER_DN)
    r, log = _probe(strict, p, bind_dn="not a dn")
    _fails(r, "error", "the bind failed: Invalid DN syntax")
    check(ldap.READER_PW not in log, "the password was logged")
    # TLS satisfies the server: StartTLS over IPv6, and the server is named [address]:port
    if strict.ipv6:
        r, _ = _probe(strict, p, uri="ldap://[::1]:%d" % strict.ldap_port, starttls=True)
        check(r.value("error_kind") is None, repr(r.value("error")))
        check(r.value("server") == "[::1]:%d" % strict.ldap_port, repr(r.value("server")))
    else:
        h.tap.comment("no IPv6 loopback here: the [::1] case is left out")
    # a server's diagnostic message reaches the answer as it came, except bytes XML cannot
    # carry: a control character or Latin-1 once made the router close the component's stream
    # as not-well-formed, so the answer never came
    odd = lf.FaultyLdap(lf.REFUSE, message=b"locked \x01 out \x1b[31m caf\xe9 \xed\x95\x9c")
    r, log = _probe(strict, p, uri=odd.url(), tls=False)
    _fails(r, "credentials", "bad credentials: the directory refused the bind as %s (check "
           "bind_dn and the password in bind_password_file): locked ? out ?[31m caf? \ud55c"
           % ldap.READER_DN)
    check("router link lost" not in log, "the router dropped the link")
    check("router link: replaced bytes XML does not allow" in log, "no warning logged")
    silent = lf.FaultyLdap(lf.SILENT)
    r, _ = _probe(strict, p, uri=silent.url(), timeout=1)
    _fails(r, "timeout", "the directory did not answer within 1 s (timeout)")


def test_search_failures():
    "searches: a base that is no DN or not there, a referral, the paged-results size limit, a page that never comes, a connection cut between pages, a server unwilling to search"
    p = _prosody()
    people = [ldap.person("u%02d" % i, "u%02d@corp.example" % i) for i in range(12)]
    ref = ("dn: ou=branch,%s\nobjectClass: referral\nobjectClass: extensibleObject\n"
           "ou: branch\nref: ldap://ldap.branch.test/ou=people,dc=branch,dc=test\n" % ldap.PEOPLE)
    s = ldap.Slapd(people + [ref], prtotal="10")
    r, _ = _probe(s, p, base="not a dn")
    _fails(r, "base", "the base not a dn is not a DN: Invalid DN syntax")
    r, _ = _probe(s, p, base="ou=gone," + ldap.PEOPLE)
    _fails(r, "base", "the base ou=gone,%s does not exist in the directory" % ldap.PEOPLE)
    r, _ = _probe(s, p, base="ou=branch," + ldap.PEOPLE)
    _fails(r, "base", "the base ou=branch,%s is a referral to "
           "ldap://ldap.branch.test/ou=people,dc=branch,dc=test" % ldap.PEOPLE)
    # the subtree holds the referral too: entries are read, the reference is not followed
    r, _ = _probe(s, p, page_size=20, filter="(uid=u0*)")
    check(r.value("entries") == "10", repr((r.value("entries"), r.value("error"))))
    # 12 entries, at most 10 through paging in all: the third page of 4 hits the limit
    r, _ = _probe(s, p, page_size=4)
    _fails(r, "error", "the directory's size limit stopped the search",
           "allow paged results past it for the bind DN")
    relay = lf.FaultyLdap(lf.RELAY, s.ldap_port, on_search=(1, "stall"))
    r, _ = _probe(s, p, uri=relay.url(), tls=False, timeout=2)
    _fails(r, "timeout", "a page of the search took longer than 2 s (timeout)")
    relay = lf.FaultyLdap(lf.RELAY, s.ldap_port, on_search=(2, "cut"))
    r, _ = _probe(s, p, uri=relay.url(), tls=False, page_size=5, filter="(uid=u0*)")
    _fails(r, "unreachable", "the directory went away during the search")
    check(relay.searches == 2, "searches: %d" % relay.searches)
    # a result code without a sentence of its own: the server's words reach the admin
    unwilling = lf.FaultyLdap(lf.UNWILLING, message=b"paged results are off on this replica")
    r, _ = _probe(s, p, uri=unwilling.url(), tls=False)
    _fails(r, "error", "the search failed: Server is unwilling to perform: "
           "paged results are off on this replica")
    check(unwilling.searches == 1, "searches: %d" % unwilling.searches)


# ---------------------------------------------------------------------------------------------
# directory/sync


def _query(d, sql, *args):
    db = sqlite3.connect(d.store, timeout=10)
    try:
        db.execute("PRAGMA busy_timeout = 10000")
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def _users(d):
    return sorted(u for (u,) in _query(d, "SELECT userid FROM users"))


def _job(d, job_id):
    rows = _query(d, "SELECT state, error FROM jobs WHERE id = ?", job_id)
    return rows[0] if rows else None


def _wait_job(d, job_id, states=("completed", "failed", "canceled")):
    got = []

    def done():
        got[:] = [_job(d, job_id)]
        return got[0] is not None and got[0][0] in states
    check(h.wait_for(done, WAIT * h.SLOW), "job %s still %r" % (job_id, got))
    return got[0]


def _sync(c):
    first = c.execute(JID, "directory/sync")
    check(first.status == "executing", repr(first))
    done = c.complete(JID, "directory/sync", first.sessionid, form={"mode": "full", "confirm": "0"},
                      form_type=ft("directory/sync"))
    check(done.status == "completed" and done.value("job"), repr(done))
    return int(done.value("job"))


def _status(c, job_id):
    first = c.command(JID, "jobs/status")
    check(first.status == "executing", "jobs/status: %r" % first)
    return c.command(JID, "jobs/status", "next", first.sessionid, {"job": str(job_id)})


def _staged(d):
    return _query(d, "SELECT count(*) FROM directory_entries")[0][0]


def test_directory_goes_away_mid_sync():
    "slapd stops between two pages: the job fails naming it, nothing applied; Cancel empties the staging; Retry after a restart reads everything once"
    p = _prosody()
    people = [ldap.person("u%02d" % i, "u%02d@corp.example" % i) for i in range(10)]
    s = ldap.Slapd(people)
    relay = lf.FaultyLdap(lf.RELAY, s.ldap_port)
    d = _daemon(s, p, uri=relay.url(), tls=False, page_size=4)
    c = h.Client(p, "admin", register=False)
    job = _sync(c)
    check(_wait_job(d, job)[0] == "completed", repr(_job(d, job)))
    check(len(_users(d)) == 10, repr(_users(d)))
    s.modify("dn: uid=u00,%s\nchangetype: delete\n" % ldap.PEOPLE)  # not to be applied
    # the next run's second page request finds slapd gone
    relay.searches, relay.on_search = 0, (2, s.stop)
    job = _sync(c)
    state = _wait_job(d, job)
    check(state[0] == "failed" and state[1].startswith(
        "the directory went away during the search: Can't contact LDAP server"), repr(state))
    check(len(_users(d)) == 10, "users changed: %r" % _users(d))
    check(_staged(d) == 4, "the first page is staged: %d" % _staged(d))
    view = _status(c, job)
    check(view.status == "executing", repr(view))
    check(any("failed, 4 entries read, none applied, attempt 1; error: the directory went away"
              in n for _, n in view.notes), repr(view.notes))
    canceled = c.command(JID, "jobs/status", "cancel", view.sessionid)
    check(canceled.status == "canceled", repr(canceled))
    check(_job(d, job)[0] == "canceled" and _staged(d) == 0,
          "%r, staged %d" % (_job(d, job), _staged(d)))
    view = _status(c, job)
    check((view.value("entries_read"), view.value("phase"), view.value("added")) ==
          ("4", "done", "0"), repr((view.value("entries_read"), view.value("phase"))))
    check(len(_users(d)) == 10, "users changed: %r" % _users(d))
    # again; then slapd comes back and Retry reads all nine entries once
    s.start()
    relay.searches = 0
    job = _sync(c)
    check(_wait_job(d, job)[0] == "failed", repr(_job(d, job)))
    relay.on_search = None
    s.start()
    view = _status(c, job)
    check("went away" in " ".join(n for _, n in view.notes), repr(view.notes))
    retried = c.command(JID, "jobs/status", "next", view.sessionid)
    check(retried.status in ("executing", "completed"), repr(retried))
    check(_wait_job(d, job)[0] == "completed", repr(_job(d, job)))
    check(_users(d) == ["u%02d" % i for i in range(1, 10)], repr(_users(d)))
    view = _status(c, job)
    check((view.value("entries_read"), view.value("removed")) == ("9", "1"),
          repr((view.value("entries_read"), view.value("removed"))))
    rows = _query(d, "SELECT attempts FROM jobs WHERE id = ?", job)
    check(rows == [(2,)], repr(rows))


def test_stop_while_fetching_resumes():
    "SIGTERM while a page is in flight: the fetch is dropped, the daemon exits cleanly, the next start reads from the beginning and completes"
    p = _prosody()
    people = [ldap.person("u%02d" % i, "u%02d@corp.example" % i) for i in range(10)]
    s = ldap.Slapd(people)
    relay = lf.FaultyLdap(lf.RELAY, s.ldap_port, on_search=(2, "stall"))
    d = _daemon(s, p, uri=relay.url(), tls=False, page_size=4, timeout=3)
    c = h.Client(p, "admin", register=False)
    job = _sync(c)

    def first_page_stored():
        rows = _query(d, "SELECT fetched FROM directory_runs WHERE job_id = ?", job)
        return relay.searches >= 2 and rows and rows[0][0] == 4
    check(h.wait_for(first_page_stored, WAIT * h.SLOW), "the first page was not stored")
    c.close()
    check(d.stop() == 0, "imdomaind did not exit cleanly")
    check("fetch of job %d dropped reason=stopping" % job in d.log_text(), "no drop logged")
    check(_job(d, job)[0] == "running" and _staged(d) == 4, repr((_job(d, job), _staged(d))))
    relay.on_search = None
    d.start()
    check(_wait_job(d, job)[0] == "completed", repr(_job(d, job)))
    check(len(_users(d)) == 10, repr(_users(d)))
    rows = _query(d, "SELECT fetched, phase FROM directory_runs WHERE job_id = ?", job)
    check(rows == [(10, "done")], "read again from the start: %r" % rows)


def test_sync_left_without_directory_fails():
    "a sync left mid-read by a daemon restarted without [directory] fails naming why, instead of holding the one job slot for ever; Cancel ends it"
    p = _prosody()
    s = ldap.Slapd([ldap.person("u%02d" % i, "u%02d@corp.example" % i) for i in range(6)])
    relay = lf.FaultyLdap(lf.RELAY, s.ldap_port, on_search=(2, "stall"))
    d = _daemon(s, p, uri=relay.url(), tls=False, page_size=4)
    c = h.Client(p, "admin", register=False)
    job = _sync(c)
    check(h.wait_for(lambda: relay.searches >= 2, WAIT * h.SLOW), "no second page asked for")
    c.close()
    d.kill()
    del d.sections["directory"]
    d.write_config()
    d.start()
    state = _wait_job(d, job, states=("failed", "completed", "canceled"))
    check(state == ("failed", "no directory is configured ([directory] uri)"), repr(state))
    c = h.Client(p, "admin", register=False)
    view = _status(c, job)
    check(view.status == "executing", repr(view))
    canceled = c.command(JID, "jobs/status", "cancel", view.sessionid)
    check(canceled.status == "canceled", repr(canceled))
    check(_job(d, job)[0] == "canceled" and _staged(d) == 0, repr((_job(d, job), _staged(d))))
    check(_users(d) == [], repr(_users(d)))


def _sql(d, sql):
    db = sqlite3.connect(d.store, timeout=10)
    try:
        db.execute("PRAGMA busy_timeout = 10000")
        db.executescript(sql)
    finally:
        db.close()


def test_store_refuses_a_page():
    "the store refusing a page it read fails the job before anything is applied, naming the store's error; Retry once the store takes it again reads everything"
    p = _prosody()
    s = ldap.Slapd([ldap.person("u%02d" % i, "u%02d@corp.example" % i) for i in range(10)])
    d = _daemon(s, p, page_size=4)
    c = h.Client(p, "admin", register=False)
    # as a full disk would: the second page's rows cannot be written
    _sql(d, "CREATE TRIGGER full_disk BEFORE INSERT ON directory_entries WHEN NEW.userid = 'u05'"
            " BEGIN SELECT RAISE(ABORT, 'injected: database or disk is full'); END;")
    job = _sync(c)
    state = _wait_job(d, job)
    check(state[0] == "failed" and state[1].startswith("storing the entries read failed: ")
          and "injected: database or disk is full" in state[1], repr(state))
    check(_users(d) == [] and _staged(d) == 4, repr((_users(d), _staged(d))))
    _sql(d, "DROP TRIGGER full_disk")
    view = _status(c, job)
    retried = c.command(JID, "jobs/status", "next", view.sessionid)
    check(retried.status in ("executing", "completed"), repr(retried))
    check(_wait_job(d, job)[0] == "completed", repr(_job(d, job)))
    check(len(_users(d)) == 10, repr(_users(d)))
    rows = _query(d, "SELECT fetched FROM directory_runs WHERE job_id = ?", job)
    check(rows == [(10,)], repr(rows))


h.tap.run([
    test_tls_diagnostics,
    test_starttls_refusals,
    test_bind_refusals,
    test_search_failures,
    test_directory_goes_away_mid_sync,
    test_stop_while_fetching_resumes,
    test_sync_left_without_directory_fails,
    test_store_refuses_a_page,
])
