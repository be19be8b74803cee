# Integration tests of directory/test and directory/sync against a private OpenLDAP slapd (its own
# config, database, test CA and TLS) through a real Prosody with a slixmpp admin: bind, count and
# samples; first sync; a changed mail flips a domain's management; a removed entry; bad bind,
# TLS failure and unreachable change nothing and say why; an AD-style schema (sAMAccountName,
# msRTCSIP-PrimaryUserAddress with sip:); the safety stop on a mass disappearance; users/import
# refusing directory users; incremental sync.
import os
import sqlite3
import sys
import time

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
    d._prosody = p
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


# ---------------------------------------------------------------------------------------------
# directory/sync


def _notes(r):
    return " ".join(n for _, n in r.notes)


def test_first_sync():
    "first sync: users added with verdicts, bad entries rejected with a reason, domains system-managed, router told once"
    entries = _people(20, "corp.example") + _people(5, "sales.example", start=100) + [
        ldap.person("nomail"), ldap.person("badmail", "bad@@corp.example")]
    s = ldap.Slapd(entries)
    _, d, c = _setup(s, page_size=7)  # several pages
    job = _sync_done(c, d)
    users = _users(d)
    check(len(users) == 26, "users: %d" % len(users))
    check(users["u00000"] == ("u00000@corp.example", "directory"), repr(users["u00000"]))
    check(users["nomail"] == ("", "directory"), repr(users["nomail"]))
    check("badmail" not in users, "a bad entry was applied")
    doms = _domains(d)
    check(doms.get("corp.example") == "system" and doms.get("sales.example") == "system",
          repr(doms))
    vhosts = d.sections["router"]["vhosts_file"]

    def applied():
        return os.path.exists(vhosts) and "sales.example" in open(vhosts).read()
    check(h.wait_for(applied, 10 * h.SLOW), "the router's file was not written")
    check("corp.example" in open(vhosts).read(), open(vhosts).read())
    view = _status(c, job)
    check(view.status == "completed", repr(view))
    check(view.value("state") == "completed", repr(view.value("state")))
    check(view.value("entries_read") == "27", repr(view.value("entries_read")))
    check(view.value("added") == "26", repr(view.value("added")))
    check(view.value("rejected") == "1", repr(view.value("rejected")))
    rej = view.values("rejected_entries")
    check(len(rej) == 1 and rej[0].startswith("badmail: the directory URI must be name@domain"),
          repr(rej))
    check(view.value("server") == "127.0.0.1:%d" % s.ldaps_port, view.value("server"))
    # the same directory again: everything unchanged, nothing removed
    job2 = _sync_done(c, d)
    view = _status(c, job2)
    check(view.value("unchanged") == "26" and view.value("removed") == "0", repr(view.values))
    check(len(d.log_text().split("directory: sync done")) == 3, "two runs logged")
    check(ldap.READER_PW not in d.log_text(), "the bind password was logged")


def test_mail_change_flips_domain():
    "a changed mail attribute moves a user: the old domain's last user goes (admin-managed again), the new one is system-managed"
    s = ldap.Slapd([ldap.person("alice", "alice@old.example"),
                    ldap.person("bob", "bob@corp.example")])
    _, d, c = _setup(s)
    _sync_done(c, d)
    check(_domains(d) == {"old.example": "system", "corp.example": "system"}, repr(_domains(d)))
    s.modify("dn: uid=alice,%s\nchangetype: modify\nreplace: mail\nmail: alice@new.example\n"
             % ldap.PEOPLE)
    job = _sync_done(c, d)
    check(_users(d)["alice"][0] == "alice@new.example", repr(_users(d)["alice"]))
    doms = _domains(d)
    check(doms == {"old.example": "admin", "corp.example": "system", "new.example": "system"},
          repr(doms))
    view = _status(c, job)
    check(view.value("updated") == "1" and view.value("unchanged") == "1", repr(view.values))


def test_removed_entry_and_import_guard():
    "a removed entry removes its user (hand-made users stay); users/import leaves directory users alone unless told"
    s = ldap.Slapd(_people(6))
    _, d, c = _setup(s)
    r = c.execute(JID, "users/import", form={"users": ["hand,hand@corp.example"]},
                  form_type=ft("users/import"))
    check("1 added" in _notes(r), _notes(r))
    _sync_done(c, d)
    s.modify("dn: uid=u00002,%s\nchangetype: delete\n" % ldap.PEOPLE)
    job = _sync_done(c, d)
    users = _users(d)
    check("u00002" not in users and "u00001" in users, repr(sorted(users)))
    check(users["hand"] == ("hand@corp.example", "import"), repr(users["hand"]))
    view = _status(c, job)
    check(view.value("removed") == "1", repr(view.value("removed")))
    check(view.values("removed_users") == ["u00002 (u00002@corp.example)"],
          repr(view.values("removed_users")))
    # users/import refuses a directory user, then edits it when told to
    r = c.execute(JID, "users/import", form={"users": ["u00001,moved@else.example", "-u00003"]},
                  form_type=ft("users/import"))
    rows = {row["userid"][0]: (row["result"][0], row["reason"][0]) for row in r.items()}
    check(rows["u00001"][0] == "rejected" and "comes from the directory" in rows["u00001"][1],
          repr(rows))
    check(rows["u00003"][0] == "rejected", repr(rows))
    check(_users(d)["u00001"][0] == "u00001@corp.example", "changed anyway")
    r = c.execute(JID, "users/import", form={"users": ["u00001,moved@else.example"],
                                              "edit_directory_users": "1"},
                  form_type=ft("users/import"))
    check(r.items()[0]["result"][0] == "updated", repr(r.items()))
    check(_users(d)["u00001"][0] == "moved@else.example", "not edited")
    # the next sync puts the directory's value back
    _sync_done(c, d)
    check(_users(d)["u00001"][0] == "u00001@corp.example", "the directory did not win")


def _restart_with(d, base=None, **directory):
    """Restarts the daemon with [directory] = base (default: as it is) updated by `directory`."""
    d.stop()
    if base is not None:
        d.sections["directory"] = dict(base)
    d.sections["directory"].update(directory)
    d.write_config()
    d.start()


def test_bad_bind_and_tls_change_nothing():
    "a bad bind, a TLS failure and an unreachable directory fail the job with the reason and change nothing; Retry and Cancel work"
    s = ldap.Slapd(_people(6))
    _, d, c = _setup(s)
    _sync_done(c, d)
    before = (_users(d), _domains(d))
    s.modify("dn: uid=u00000,%s\nchangetype: delete\n" % ldap.PEOPLE)  # a change not to apply
    pwfile = os.path.join(h.tmpdir("pw"), "bad.pw")
    with open(pwfile, "w") as f:
        f.write("not-the-password\n")
    other_ca = ldap.make_ca(h.tmpdir("ca2"), "other-ca")
    good = dict(d.sections["directory"])
    cases = [({"bind_password_file": pwfile}, "bad credentials: the directory refused the bind"),
             ({"ca_file": other_ca[0]}, "TLS failure: ldaps://127.0.0.1:%d: the server's "
              "certificate (/CN=ldap.example.test) is not trusted" % s.ldaps_port),
             ({"uri": "ldap://127.0.0.1:%d" % s.ldap_port, "starttls": "true",
               "ca_file": other_ca[0]}, "is not trusted"),
             ({"uri": "ldaps://127.0.0.1:%d" % h.free_port()}, "the directory is unreachable")]
    for settings, words in cases:
        _restart_with(d, base=good, **settings)
        c.close()
        c = h.Client(d_prosody(d), "admin", register=False)
        job, _ = _sync(c)
        state = _wait_job(d, job)
        check(state[0] == "failed" and words in (state[1] or ""), "%r: %r" % (settings, state))
        check((_users(d), _domains(d)) == before, "%r changed something" % settings)
        view = _status(c, job)
        check(view.status == "executing" and "next" in view.actions, repr(view))
        check(words in _notes(view), repr(view.notes))
        canceled = c.command(JID, "jobs/status", "cancel", view.sessionid)
        check(canceled.status == "canceled", repr(canceled))
        check(_job(d, job)[0] == "canceled", repr(_job(d, job)))
        check(not any(p in d.log_text() for p in (ldap.READER_PW, "not-the-password")),
              "a password was logged")
    # the right settings again: Retry of a failed read reads again and applies
    _restart_with(d, base=good, bind_password_file=pwfile)
    c.close()
    c = h.Client(d_prosody(d), "admin", register=False)
    job, _ = _sync(c)
    check(_wait_job(d, job)[0] == "failed", "bad password again")
    _restart_with(d, base=good)
    c.close()
    c = h.Client(d_prosody(d), "admin", register=False)
    view = _status(c, job)
    retried = c.command(JID, "jobs/status", "next", view.sessionid)
    check(retried.status in ("executing", "completed"), repr(retried))
    check(_wait_job(d, job)[0] == "completed", repr(_job(d, job)))
    check("u00000" not in _users(d), "the retried sync did not apply")


def test_ad_schema():
    "an Active Directory look-alike: sAMAccountName and msRTCSIP-PrimaryUserAddress with sip: stripped"
    entries = [ldap.person("alice", "sip:alice@corp.example", ad=True),
               ldap.person("bob", "SIP:Bob@Sales.Example", ad=True),
               ldap.person("nosip", None, ad=True),
               ldap.person("plain", "plain@corp.example")]  # not objectClass=user
    s = ldap.Slapd(entries, ad_schema=True)
    _, d, c = _setup(s, filter="(objectClass=user)", userid_attr="sAMAccountName",
                     uri_attr="msRTCSIP-PrimaryUserAddress")
    r = _test(c)
    check(r.value("entries") == "3", repr(r.value("entries")))
    check(r.value("sample1_uri") == "alice@corp.example", repr(r.value("sample1_uri")))
    _sync_done(c, d)
    users = _users(d)
    check(users == {"alice": ("alice@corp.example", "directory"),
                    "bob": ("Bob@Sales.Example", "directory"),
                    "nosip": ("", "directory")}, repr(users))
    check(_domains(d) == {"corp.example": "system", "sales.example": "system"}, repr(_domains(d)))


def test_safety_stop():
    "a directory that suddenly returns far fewer users is held for confirmation: discard changes nothing, confirm applies"
    s = ldap.Slapd(_people(10))
    _, d, c = _setup(s)
    _sync_done(c, d)
    s.modify("\n".join("dn: uid=u%05d,%s\nchangetype: delete\n" % (i, ldap.PEOPLE)
                       for i in range(3, 10)))
    job, _ = _sync(c)
    state = _wait_job(d, job)
    check(state[0] == "failed" and state[1].startswith("safety stop: the directory returned 3 "
                                                       "entries but 10 users"), repr(state))
    check(len(_users(d)) == 10, "users removed before confirmation")
    held = c.execute(JID, "directory/sync")
    check(held.status == "executing" and held.field("confirm") is not None, repr(held))
    check(held.field("mode") is None, "the held form is not the start form")
    check(any("safety stop" in v for v in _fixed(held)), repr(_fixed(held)))
    done = c.complete(JID, "directory/sync", held.sessionid, form={"confirm": "0"},
                      form_type=ft("directory/sync"))
    check(done.status == "completed" and "nothing was changed" in _notes(done), repr(done))
    check(_job(d, job)[0] == "canceled" and len(_users(d)) == 10, repr(_job(d, job)))
    # again, then confirmed in directory/sync
    job, _ = _sync(c)
    check(_wait_job(d, job)[0] == "failed", "not held again")
    held = c.execute(JID, "directory/sync")
    done = c.complete(JID, "directory/sync", held.sessionid, form={"confirm": "1"},
                      form_type=ft("directory/sync"))
    check(done.status == "completed", repr(done))
    check(_wait_job(d, job)[0] == "completed", repr(_job(d, job)))
    check(sorted(_users(d)) == ["u00000", "u00001", "u00002"], repr(sorted(_users(d))))
    view = _status(c, job)
    check(view.value("removed") == "7", repr(view.value("removed")))


def test_empty_result_never_deletes():
    "a filter that matches nothing never deletes the cluster's users, even with max_drop = 100"
    s = ldap.Slapd(_people(3))
    _, d, c = _setup(s, max_drop=100)
    _sync_done(c, d)
    _restart_with(d, filter="(uid=nobody-has-this)")
    c.close()
    c = h.Client(d_prosody(d), "admin", register=False)
    job, _ = _sync(c)
    state = _wait_job(d, job)
    check(state[0] == "failed" and "returned 0 entries" in state[1], repr(state))
    check(len(_users(d)) == 3, "users deleted")


def test_incremental():
    "incremental sync reads only entries changed since the last sync (server clock); removals wait for a full one"
    s = ldap.Slapd(_people(6))
    _, d, c = _setup(s)
    job, done = _sync(c, mode="incremental")  # nothing to count from: full
    check("running a full sync" in _notes(done), _notes(done))
    check(_wait_job(d, job)[0] == "completed", repr(_job(d, job)))
    time.sleep(1.2)  # modifyTimestamp has one-second resolution
    s.modify("dn: uid=u00001,%s\nchangetype: modify\nreplace: mail\nmail: u1@moved.example\n\n"
             "dn: uid=u00004,%s\nchangetype: delete\n" % (ldap.PEOPLE, ldap.PEOPLE))
    job, done = _sync(c, mode="incremental")
    check("running a full sync" not in _notes(done), _notes(done))
    check(_wait_job(d, job)[0] == "completed", repr(_job(d, job)))
    view = _status(c, job)
    check(view.value("mode") == "incremental", repr(view.value("mode")))
    check(view.value("entries_read") == "1", repr(view.value("entries_read")))
    check(view.value("updated") == "1", repr(view.value("updated")))
    check(view.field("incremental_note") is not None, "no note on removals")
    users = _users(d)
    check(users["u00001"][0] == "u1@moved.example" and "u00004" in users, repr(users))
    _sync_done(c, d)  # full: the removal
    check("u00004" not in _users(d), "full sync did not remove")


def test_restart_mid_sync_resumes():
    "kill -9 while the sync applies, restart: the job resumes and ends completed with every user"
    s = ldap.Slapd(_people(3000))
    _, d, c = _setup(s, page_size=1000)
    job, _ = _sync(c)

    def applying():
        rows = _query(d, "SELECT phase FROM directory_runs WHERE job_id = ?", job)
        return rows and rows[0][0] in ("apply", "remove", "finish", "done")
    h.wait_for(applying, WAIT * h.SLOW, interval=0.005)
    d.kill()
    d.start()
    check(_wait_job(d, job)[0] == "completed", repr(_job(d, job)))
    check(len(_users(d)) == 3000, "users: %d" % len(_users(d)))


def d_prosody(d):
    return d._prosody


def _fixed(cmd):
    return [v.text or "" for f in cmd.form.findall("{%s}field" % h.NS_DATA)
            if f.get("type") == "fixed" for v in f.findall("{%s}value" % h.NS_DATA)]


h.tap.run([
    test_directory_test_ok,
    test_directory_test_failures,
    test_first_sync,
    test_mail_change_flips_domain,
    test_removed_entry_and_import_guard,
    test_bad_bind_and_tls_change_nothing,
    test_ad_schema,
    test_safety_stop,
    test_empty_result_never_deletes,
    test_incremental,
    test_restart_mid_sync_resumes,
])
