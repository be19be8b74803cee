# Integration tests of users/import, users/list and sync/audit through a real Prosody with a slixmpp
# admin: per-line verdicts, domains appearing system-managed, flips both ways, the router's vhosts
# file, Korean texts, and a ~500 KiB import in one stanza.
import os
import sqlite3
import sys

sys.dont_write_bytecode = True  # keep the source tree clean (distcheck has it read-only)
import harness as h  # noqa: E402
from harness import check  # noqa: E402

JID = "domains.example.test"
IMPORT = "users/import"
LIST = "users/list"
AUDIT = "sync/audit"


def _setup(daemon_settings=None, prosody_extra=""):
    """Prosody + a daemon writing a vhosts file + a logged-in admin client."""
    p = h.Prosody(extra=prosody_extra)
    settings = {"router": {"vhosts_file": os.path.join(h.tmpdir("vh"), "vhosts.cfg.lua")}}
    settings.update(daemon_settings or {})
    d = h.Daemon(p, settings=settings)
    c = h.Client(p, "admin")
    return p, d, c


def ft(node):
    return "urn:imdomaind:" + node


def import_lines(c, lines, lang=None):
    """users/import in one request (form and execute together, as slixmpp scripts do)."""
    r = c.execute(JID, IMPORT, form={"users": list(lines)}, form_type=ft(IMPORT), lang=lang,
                  timeout=30)
    check(r.status in ("completed", "executing"), "import: %r" % r)
    return r


def verdicts(r):
    """{line number: (userid, result, reason)} of the import's verdict table."""
    return {int(row["line"][0]): (row["userid"][0], row["result"][0], row["reason"][0])
            for row in r.items()}


def domains(d):
    """{name: (managed_by, configured_local)} read from the daemon's store."""
    db = sqlite3.connect("file:%s?mode=ro" % d.store, uri=True, timeout=10)
    try:
        return {n: (m, bool(l)) for n, m, l in
                db.execute("SELECT name, managed_by, configured_local FROM domains")}
    finally:
        db.close()


def store_sql(d, sql, *args):
    """A change behind the daemon's back, as another provisioning channel would make it."""
    db = sqlite3.connect(d.store, timeout=10)
    try:
        db.execute(sql, args)
        db.commit()
        if " users " in sql:
            h.recount_im_domains(db)
    finally:
        db.close()


def notes_text(r):
    return " | ".join(text for _, text in r.notes)


def test_import_verdicts_and_domains():
    "import: good lines kept, bad lines get reasons, new domains appear system-managed"
    _, d, c = _setup()
    r = import_lines(c, [
        "alice,alice@sales.example.com",
        "bob,bob@sales.example.com,no-such-node",
        ",nobody@sales.example.com",
        "carol,carol@Abc.1om",
        "dave,dave-at-nowhere",
        "",
        "erin,erin@eng.example.com",
    ])
    check(r.status == "completed", "status %r" % r.status)
    v = verdicts(r)
    check(sorted(v) == [1, 2, 3, 4, 5, 7], "lines %r" % sorted(v))
    check(v[1][1] == "added" and v[7][1] == "added", "verdicts %r" % v)
    check(v[2][1] == "rejected" and "unknown node no-such-node" in v[2][2], "line 2 %r" % (v[2],))
    check(v[3][2] == "empty userid", "line 3 %r" % (v[3],))
    check("the last label must not start with a digit" in v[4][2], "line 4 %r" % (v[4],))
    check("name@domain" in v[5][2], "line 5 %r" % (v[5],))
    text = notes_text(r)
    check("2 added, 0 updated, 0 unchanged, 0 removed, 4 rejected." in text, "notes %r" % text)
    check("2 domain(s) added" in text, "notes %r" % text)
    doms = domains(d)
    check(doms == {"sales.example.com": ("system", True), "eng.example.com": ("system", True)},
          "domains %r" % doms)
    vh = h.read_text(d.sections["router"]["vhosts_file"])
    for name in ("sales.example.com", "eng.example.com"):
        check('VirtualHost "%s"' % name in vh, "%s not in the vhosts file:\n%s" % (name, vh))


def test_removal_flips_to_admin():
    "removing the last user of a domain (-userid lines) flips it system -> admin, still listed"
    _, d, c = _setup()
    import_lines(c, ["u1,u1@a.example", "u2,u2@a.example", "u3,u3@b.example"])
    check(domains(d)["a.example"] == ("system", True), "a.example %r" % (domains(d),))
    r = import_lines(c, ["-u1"])
    check(verdicts(r)[1][1] == "removed", "verdicts %r" % verdicts(r))
    check(domains(d)["a.example"][0] == "system", "one user left, yet %r" % (domains(d),))
    r = import_lines(c, ["-u2", "-u2"])
    v = verdicts(r)
    check(v[1][1] == "removed" and v[2][2] == "no such user to remove", "verdicts %r" % v)
    check("1 flipped system-managed to admin-managed" in notes_text(r), "notes %r" % r.notes)
    check(domains(d)["a.example"] == ("admin", True), "a.example %r" % (domains(d),))
    check(domains(d)["b.example"] == ("system", True), "b.example %r" % (domains(d),))
    # A user moving back flips it again.
    import_lines(c, ["u3,u3@a.example"])
    check(domains(d) == {"a.example": ("system", True), "b.example": ("admin", True)},
          "domains %r" % (domains(d),))


def test_sync_audit_command():
    "sync/audit: nothing to do says so; changes made behind the daemon's back are found"
    _, d, c = _setup()
    r = c.execute(JID, AUDIT)
    check(r.status == "completed", "status %r" % r)
    check("Nothing to do" in notes_text(r), "notes %r" % r.notes)
    check(r.value("added") == "0" and r.value("users_scanned") == "0", "form %r" % r)

    import_lines(c, ["u1,u1@kept.example"])
    store_sql(d, "INSERT INTO users (userid, directory_uri, uri_domain, im_address)"
                 " VALUES ('x1', 'x1@other.example', 'other.example', 'x1@other.example')")
    store_sql(d, "UPDATE domains SET managed_by = 'admin' WHERE name = 'kept.example'")
    store_sql(d, "INSERT INTO domains (name, managed_by, configured_local, created_at, updated_at)"
                 " VALUES ('gone.example', 'system', 1, 0, 0)")
    store_sql(d, "INSERT INTO domains (name, managed_by, configured_local, created_at, updated_at)"
                 " VALUES ('peer.example', 'system', 0, 0, 0)")
    r = c.execute(JID, AUDIT)
    check(r.status == "completed", "status %r" % r)
    check(r.value("users_scanned") == "2", "users_scanned %r" % r.value("users_scanned"))
    check(r.value("added") == "1" and r.value("admin_to_system") == "1"
          and r.value("system_to_admin") == "1", "counts %r" % r)
    doms = domains(d)
    check(doms == {"kept.example": ("system", True), "other.example": ("system", True),
                   "gone.example": ("admin", True), "peer.example": ("system", False)},
          "domains %r" % doms)
    # Run again: idempotent.
    r = c.execute(JID, AUDIT)
    check("Nothing to do" in notes_text(r), "second run: %r" % r.notes)


def test_korean():
    "Korean labels, reasons and notes"
    _, d, c = _setup()
    r = import_lines(c, ["kim,kim@seoul.example", "lee,lee@abc.1om"], lang="ko")
    check(r.lang == "ko", "lang %r" % r.lang)
    reported = r.form.find("{%s}reported" % h.NS_DATA)
    labels = {f.get("var"): f.get("label") for f in reported}
    check(labels.get("userid") == "사용자 ID" and labels.get("reason") == "이유",
          "labels %r" % labels)
    v = verdicts(r)
    check("디렉터리 URI의 도메인 부분이 잘못되었습니다" in v[2][2], "reason %r" % (v[2],))
    text = notes_text(r)
    check("추가 1, 변경 0, 그대로 0, 삭제 0, 거부 1." in text, "notes %r" % text)
    r = c.execute(JID, AUDIT, lang="ko")
    check("변경할 내용이 없습니다" in notes_text(r), "notes %r" % r.notes)
    r = c.execute(JID, LIST, form={"filter": "kim", "page": "1"}, form_type=ft(LIST), lang="ko")
    check("1 / 1 페이지(사용자 1명)." in notes_text(r), "notes %r" % r.notes)


def test_list_paging():
    "users/list: filter and pages of 100 with 'page X of Y'"
    _, d, c = _setup()
    import_lines(c, ["user%03d,user%03d@list.example" % (i, i) for i in range(230)])
    r = c.execute(JID, LIST, form={"filter": "", "page": "3"}, form_type=ft(LIST))
    check(r.status == "completed", "status %r" % r)
    rows = r.items()
    check(len(rows) == 30 and rows[0]["userid"] == ["user200"], "rows %r" % rows[:2])
    check(rows[0]["directory_uri"] == ["user200@list.example"], "row %r" % rows[0])
    check("Page 3 of 3 (230 users)." in notes_text(r), "notes %r" % r.notes)
    r = c.execute(JID, LIST, form={"filter": "user01", "page": "1"}, form_type=ft(LIST))
    check(len(r.items()) == 10, "filtered rows %d" % len(r.items()))


def test_half_megabyte_import():
    "a ~500 KiB stanza of lines is imported in one call (router and daemon limits raised; "
    "[users] import_job_lines too, else 9500 lines would run as a job)"
    _, d, c = _setup(daemon_settings={"component": {"max_stanza_size": "1M"},
                                      "users": {"import_job_lines": 50000}},
                     prosody_extra="c2s_stanza_size_limit = 1024 * 1024")
    lines = ["user%05d,user%05d@dept%02d.example.com" % (i, i, i % 50) for i in range(9500)]
    size = sum(len(x) + len("<value></value>") for x in lines)
    check(450 * 1024 < size < 512 * 1024, "payload of %d bytes" % size)
    r = import_lines(c, lines)
    text = notes_text(r)
    check("9500 added" in text, "notes %r" % text)
    check("50 domain(s) added" in text, "notes %r" % text)
    check(len(domains(d)) == 50, "domains %d" % len(domains(d)))
    check(c.ping(JID), "the daemon stopped answering")


h.tap.run([
    test_import_verdicts_and_domains,
    test_removal_flips_to_admin,
    test_sync_audit_command,
    test_korean,
    test_list_paging,
    test_half_megabyte_import,
])
