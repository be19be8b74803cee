# Integration tests of imdomainctl for real admin work: users/import of 100,000 lines through
# var=@FILE and var=@- (split into calls the daemon accepts, verdicts joined and numbered from
# the first line), exit statuses for rejected lines, and no hidden side effects: jobs/status on a
# failed job neither retries nor cancels unless action=next or action=cancel asks for it.
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # keep the source tree clean (distcheck has it read-only)
# 100,000-line imports take minutes under the sanitizers on a busy machine, not one.
os.environ.setdefault("IMD_TEST_TIMEOUT", "900")
import harness as h  # noqa: E402
from harness import check  # noqa: E402

NEW = "new.example"
OLD = "DOMAIN.NOT.SET"
WAIT = 60


def ctl_binary():
    return os.path.join(h.builddir(), "imdomainctl")


def _daemon(settings=None):
    """A daemon reached through its control socket only (the router port is closed)."""
    d = h.Daemon(None, router_port=h.free_port(), settings=settings, wait_connected=False)
    check(d.wait_log(r"control socket listening", 10), "no 'control socket listening' line")
    d.socket = d.sections["control"]["socket"]
    return d


def ctl(d, *args, stdin=None, timeout=600):
    """imdomainctl -s SOCKET ARGS: (exit status, stdout, stderr). `stdin`: text or a file."""
    if not os.access(ctl_binary(), os.X_OK):
        raise h.Skip("no imdomainctl at %s" % ctl_binary())
    argv = [ctl_binary(), "-s", d.socket] + list(args)
    kw = {"stdin": stdin} if hasattr(stdin, "read") else {"input": stdin}
    r = h.run_tool(argv, capture_output=True, text=True, timeout=timeout, **kw)
    return r.returncode, r.stdout, r.stderr


def ctl_json(d, *args, **kw):
    rc, out, err = ctl(d, "--json", *args, **kw)
    try:
        return rc, json.loads(out), err
    except ValueError as e:
        raise h.TestFailure("--json printed something that is not JSON (%s): %r; stderr %r"
                            % (e, out[:2000], err))


def _db(d):
    db = sqlite3.connect(d.store, timeout=10)
    db.execute("PRAGMA busy_timeout = 10000")
    return db


def _scalar(d, sql, *args):
    db = _db(d)
    try:
        return db.execute(sql, args).fetchone()
    finally:
        db.close()


def _csv(lines):
    f = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False)
    h.defer(os.unlink, f.name)
    f.write("".join(ln + "\n" for ln in lines))
    f.close()
    return f.name


# ---------------------------------------------------------------------------------------------
# users/import from files


def test_import_100k_file_then_stdin():
    "100,000 lines through users=@FILE (all added), then the same through users=@- (all "
    "unchanged); above [users] import_job_lines both run as a job: counts, no line listed"
    d = _daemon()
    n = h.sized(100000, 12000)  # above import_job_lines (5000) either way
    lines = ["u%06d,u%06d@Corp.example" % (i, i) for i in range(n)]
    path = _csv(lines)
    rc, doc, err = ctl_json(d, "run", "users/import", "users=@" + path)
    check(rc == 0, "exit %d %r" % (rc, err[-2000:]))
    rows = doc["forms"][0]["rows"]
    # A job's answer lists only the lines worth reading (updated, removed, rejected).
    check(rows == [], "%d verdicts listed" % len(rows))
    check(doc["summary"]["added"] == n and doc["summary"]["lines"] == n, repr(doc["summary"]))
    check(doc["status"] == "completed", doc["status"])
    check(_scalar(d, "SELECT count(*) FROM users")[0] == n, "users in the store")
    check(_scalar(d, "SELECT count(*) FROM domains WHERE name = 'corp.example'")[0] == 1,
          "the sync audit did not add corp.example")
    with open(path) as f:
        rc, out, err = ctl(d, "run", "users/import", "users=@-", stdin=f)
    check(rc == 0, "exit %d %r" % (rc, err[-2000:]))
    verdicts = [ln.split("\t") for ln in out.splitlines() if ln[:1].isdigit()]
    check(verdicts == [], "%d verdict lines" % len(verdicts))
    check("summary: %d lines: 0 added, 0 updated, %d unchanged, 0 removed, 0 rejected" % (n, n)
          in out, "no summary in %r" % out[-500:])


def test_import_rejected_lines_numbered():
    "a rejected line deep in a large file keeps its line number; exit 5; good lines are kept"
    d = _daemon()
    lines = ["v%05d,v%05d@example.org" % (i, i) for i in range(12000)]
    lines[10499] = "bad user,x@example.org"         # line 10500, in the third call
    lines[3] = "# a comment"                          # no verdict
    lines[7] = "x" * 9000 + ",long@example.org"       # too long for one form value
    rc, doc, err = ctl_json(d, "run", "users/import", "users=@" + _csv(lines))
    check(rc == 5, "exit %d %r" % (rc, err[-1000:]))
    rejected = [(r["line"], r["result"]) for r in doc["forms"][0]["rows"]
                if r["result"] == "rejected"]
    check(rejected == [("8", "rejected"), ("10500", "rejected")], repr(rejected))
    check(doc["summary"]["added"] == 11997, repr(doc["summary"]))
    check(_scalar(d, "SELECT count(*) FROM users")[0] == 11997, "users in the store")
    rc, out, err = ctl(d, "run", "users/import", "users=@-", stdin="-v00001\n\n-nobody\n")
    check(rc == 5, "exit %d %r %r" % (rc, out, err))
    check("1\tv00001\tremoved" in out and "3\tnobody\trejected" in out, "stdout %r" % out)


def test_import_options_and_no_users():
    "users/import in parts with audit= and edit_directory_users= beside users=: audit=0 skips "
    "the sync audit (no system-managed domain), then audit=1 on the last part adds it; no "
    "argument reported unused; without users= the missing field is named"
    d = _daemon()
    # ~60 KiB: more than one call (32 KiB each) but fewer lines than a job (5000)
    path = _csv(["p%04d,p%04d@Parts.example" % (i, i) for i in range(2000)])
    rc, out, err = ctl(d, "run", "users/import", "users=@" + path, "audit=0",
                       "edit_directory_users=0")
    check(rc == 0, "exit %d %r %r" % (rc, out[-500:], err[-1000:]))
    check("summary: 2000 lines: 2000 added" in out, "summary %r" % out[-300:])
    check("was not used" not in err, "stderr %r" % err[-500:])
    check(_scalar(d, "SELECT count(*) FROM users")[0] == 2000, "users in the store")
    check(_scalar(d, "SELECT count(*) FROM domains WHERE name = 'parts.example'")[0] == 0,
          "audit=0, yet the sync audit added parts.example")
    rc, out, err = ctl(d, "run", "users/import", "users=@" + path, "audit=1")
    check(rc == 0, "exit %d %r" % (rc, err[-1000:]))
    check("summary: 2000 lines: 0 added, 0 updated, 2000 unchanged" in out,
          "summary %r" % out[-300:])
    check(_scalar(d, "SELECT count(*) FROM domains WHERE name = 'parts.example'")[0] == 1,
          "audit=1 on the last part did not add parts.example")
    # users= missing: not the import path; the daemon refuses the required field, by name
    rc, out, err = ctl(d, "run", "users/import", "audit=0")
    check(rc != 0, "exit %d without users=: %r %r" % (rc, out, err))
    check("missing value for required field 'users' (pass users=VALUE)" in err, "stderr %r" % err)
    check(_scalar(d, "SELECT count(*) FROM users")[0] == 2000, "users changed")


def test_export_commas_round_trip():
    "users with a comma in the userid or the URI's name (as the directory makes them): "
    "users/export -o quotes those fields, and users/import of the file into an empty store "
    "gives back the same users"
    d = _daemon()
    db = _db(d)
    db.execute("INSERT INTO nodes (name, role) VALUES ('cup-a', 'publisher')")
    db.commit()
    db.close()
    lines = ['"smith,j","j,smith@Corp.example",cup-a', '"doe,a",', 'plain,p@corp.example']
    rc, out, err = ctl(d, "run", "users/import", "users=@" + _csv(lines))
    check(rc == 0, "exit %d %r %r" % (rc, out, err))

    def users():
        db = _db(d)
        try:
            return sorted(db.execute("SELECT u.userid, u.directory_uri, n.name FROM users u"
                                     " LEFT JOIN nodes n ON n.id = u.node_id").fetchall())
        finally:
            db.close()
    before = users()
    check(before == [("doe,a", "", None), ("plain", "p@corp.example", None),
                     ("smith,j", "j,smith@Corp.example", "cup-a")], repr(before))
    path = _csv([])
    rc, out, err = ctl(d, "-o", path, "run", "users/export")
    check(rc == 0 and "left out" not in out + err, "export: exit %d %r %r" % (rc, out, err))
    exported = h.read_text(path).splitlines()
    check(sorted(exported[1:]) == sorted(lines), "exported %r" % exported)
    rc, out, err = ctl(d, "run", "users/import", *["users=-" + u[0].join('""') for u in before])
    check(rc == 0 and _scalar(d, "SELECT count(*) FROM users")[0] == 0,
          "removal: exit %d %r %r" % (rc, out, err))
    rc, out, err = ctl(d, "run", "users/import", "users=@" + path)
    check(rc == 0 and "3 added" in out, "re-import: exit %d %r %r" % (rc, out, err))
    check(users() == before, "after the round trip %r, before %r" % (users(), before))


def test_export_to_full_disk():
    "users/export -o /dev/full: exit status non-zero and 'cannot write /dev/full', whether "
    "the error comes while writing (a large export) or at the close (a small one)"
    if not os.path.exists("/dev/full"):
        raise h.Skip("no /dev/full")
    d = _daemon()
    _insert_users(d, 3)
    rc, out, err = ctl(d, "-o", "/dev/full", "run", "users/export")
    check(rc != 0, "small export to /dev/full: exit %d %r" % (rc, err))
    check("cannot write /dev/full: No space left on device" in err, "stderr %r" % err)
    db = _db(d)
    db.executemany("INSERT INTO users (userid, directory_uri, uri_domain, im_address)"
                   " VALUES (?, '', '', ?)", (("w%06d" % i, "w%06d@%s" % (i, OLD))
                                              for i in range(3000)))
    db.commit()
    h.recount_im_domains(db)
    db.close()
    rc, out, err = ctl(d, "-o", "/dev/full", "run", "users/export")
    check(rc != 0, "large export to /dev/full: exit %d %r" % (rc, err))
    check("cannot write /dev/full: No space left on device" in err, "stderr %r" % err)


def test_many_arguments():
    "no fixed argument limit: 600 users=LINE arguments in one run"
    d = _daemon()
    rc, out, err = ctl(d, "run", "users/import", *["users=w%03d,w%03d@example.org" % (i, i)
                                                    for i in range(600)])
    check(rc == 0, "exit %d %r" % (rc, err))
    check("summary: 600 lines: 600 added" in out, "stdout %r" % out[-300:])


def _present_prefix(d, prefix, n):
    """How many of prefix000000.. are in the store, checking that they are the first ones."""
    db = _db(d)
    try:
        ids = [r[0] for r in db.execute("SELECT userid FROM users WHERE userid LIKE ? ORDER BY"
                                        " userid", (prefix + "%",))]
    finally:
        db.close()
    check(ids == ["%s%06d" % (prefix, i) for i in range(len(ids))],
          "not a prefix of the input: %d users, the last %r" % (len(ids), ids[-1:]))
    check(len(ids) < n, "the import ended before the restart")
    return len(ids)


def _interrupted_import(d, prefix, n, stop):
    """Starts importing n users, calls stop() once some are in, returns (imdomainctl's stderr,
    users in)."""
    path = _csv(["%s%06d,%s%06d@stop.example" % (prefix, i, prefix, i) for i in range(n)])
    proc = subprocess.Popen([ctl_binary(), "-s", d.socket, "run", "users/import", "users=@" +
                             path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    h.defer(lambda: proc.poll() is None and proc.kill())
    some = h.wait_for(lambda: _scalar(d, "SELECT count(*) FROM users WHERE userid LIKE ?",
                                      prefix + "%")[0] >= 2000, 60 * h.SLOW, 0.01)
    check(some, "no users arrived")
    stop()
    _, err = proc.communicate(timeout=30 * h.SLOW)
    check(proc.returncode == 1, "imdomainctl: exit %d %r" % (proc.returncode, err))
    check("were imported, the rest not: run the same import again" in err, "stderr %r" % err)
    return path, _present_prefix(d, prefix, n)


def _restart(d):
    mark = d.log_size()
    d.start(wait_connected=False)
    check(d.wait_log(r"control socket listening", 10, start=mark), "no control socket")


def test_restart_mid_import():
    "kill -9 and SIGTERM in the middle of a large import sent in calls (under [users] "
    "import_job_lines each: no job): the store holds a prefix of whole calls, and the same "
    "import run again completes (those lines unchanged, the rest added)"
    d = _daemon(settings={"users": {"import_job_lines": 50000}})
    n = h.sized(40000, 15000)  # calls of 5000 lines: stopped after the first, before the last
    for prefix, stop in (("k", d.kill), ("t", d.stop)):
        path, k = _interrupted_import(d, prefix, n, stop)
        h.tap.comment("%s: %d of %d users in at the stop" % (prefix, k, n))
        _restart(d)
        rc, doc, err = ctl_json(d, "run", "users/import", "users=@" + path)
        check(rc == 0, "exit %d %r" % (rc, err[-1000:]))
        s = doc["summary"]
        check(s["unchanged"] == k and s["added"] == n - k, "%d in before: %r" % (k, s))
        check(_scalar(d, "SELECT count(*) FROM users WHERE userid LIKE ?", prefix + "%")[0] == n)


# ---------------------------------------------------------------------------------------------
# users/export


def test_export_then_import_unchanged():
    "users/export to a file (-o), paged, then users/import of that file: every line unchanged"
    # Not a multiple of the export's 2000 users a page: the last page, which completes, has
    # fewer rows and the --json output once lost them.
    d = _daemon()
    db = _db(d)
    db.execute("INSERT INTO nodes (name, role) VALUES ('cup-a', 'publisher')")
    db.execute("INSERT INTO nodes (name, role) VALUES ('cup-b', 'subscriber')")
    db.commit()
    db.close()
    n = 12345
    lines = []
    for i in range(n):
        uri = "" if i % 7 == 0 else "e%05d@Dept%d.example" % (i, i % 5)
        node = ["", ",cup-a", ",cup-b"][i % 3]
        lines.append("e%05d,%s%s" % (i, uri, node))
    rc, out, err = ctl(d, "run", "users/import", "users=@" + _csv(lines))
    check(rc == 0, "exit %d %r" % (rc, err[-1000:]))
    path = _csv([])
    rc, out, err = ctl(d, "-o", path, "run", "users/export")
    check(rc == 0, "export: exit %d %r %r" % (rc, out[-500:], err[-500:]))
    with open(path) as f:
        exported = f.read().splitlines()
    check(exported[0].startswith("# userid,directory_uri,node"), "header %r" % exported[:1])
    check(len(exported) == n + 1, "%d lines exported for %d users" % (len(exported), n))
    check(sorted(exported[1:]) == sorted(lines),
          "the export differs from what was imported")
    rc, doc, err = ctl_json(d, "run", "users/import", "users=@" + path)
    check(rc == 0, "re-import: exit %d %r" % (rc, err[-1000:]))
    rows = doc["forms"][0]["rows"]
    # a job (12,346 lines): only updated, removed and rejected lines are listed
    check(rows == [], "%d verdicts: %r" % (len(rows), sorted(set(r["result"] for r in rows))))
    check(doc["summary"]["unchanged"] == n, repr(doc["summary"]))
    # --json without -o: the pages' lines joined in one field
    rc, doc, err = ctl_json(d, "run", "users/export")
    check(rc == 0, "exit %d %r" % (rc, err))
    check(doc["forms"][0]["fields"]["users"] == exported, "--json lines differ")


# ---------------------------------------------------------------------------------------------
# No hidden side effects


def _insert_users(d, n):
    db = _db(d)
    db.executemany("INSERT INTO users (userid, directory_uri, uri_domain, im_address)"
                   " VALUES (?, '', '', ?)", (("u%06d" % i, "u%06d@%s" % (i, OLD))
                                              for i in range(n)))
    db.commit()
    h.recount_im_domains(db)
    db.close()


def _fault(d, userid, domain):
    db = _db(d)
    db.execute("CREATE TRIGGER fault BEFORE UPDATE OF im_address ON users"
               " WHEN NEW.userid = '%s' AND NEW.im_address = '%s@%s'"
               " BEGIN SELECT RAISE(ABORT, 'injected fault'); END" % (userid, userid, domain))
    db.commit()
    db.close()


def _unfault(d):
    db = _db(d)
    db.execute("DROP TRIGGER fault")
    db.commit()
    db.close()


def _job(d, job_id):
    return _scalar(d, "SELECT state, done, attempts FROM jobs WHERE id = ?", job_id)


def _wait_state(d, job_id, states):
    found = h.wait_for(lambda: (_job(d, job_id) or (None,))[0] in states, WAIT * h.SLOW, 0.02)
    check(found, "job %d did not reach %s: %r" % (job_id, states, _job(d, job_id)))


def test_failed_job_not_touched_unless_asked():
    "jobs/status on a failed job shows its choices (exit 4) and changes nothing; action=next "
    "retries once; action=cancel rolls back"
    d = _daemon()
    _insert_users(d, 3000)
    _fault(d, "u001500", NEW)
    rc, out, err = ctl(d, "run", "default-domain", "domain=" + NEW)
    check(rc == 0, "default-domain: exit %d %r %r" % (rc, out, err))
    _wait_state(d, 1, ("failed",))
    before = _job(d, 1)
    for _ in range(3):
        rc, out, err = ctl(d, "run", "jobs/status", "job=1")
        check(rc == 4, "exit %d, stdout %r, stderr %r" % (rc, out, err))
        check("action=next" in out and "action=cancel" in out and "action=complete" in out,
              "choices not shown: %r" % out)
        check("injected fault" in out, "the failure is not shown: %r" % out)
    rc, doc, err = ctl_json(d, "run", "jobs/status", "job=1")
    check(rc == 4 and doc["status"] == "executing", "exit %d %r" % (rc, doc))
    check(sorted(doc["choices"]) == ["cancel", "complete", "next"] and doc["default"] == "next",
          repr(doc))
    check(h.wait_for(lambda: _job(d, 1) == before, 2), "looking changed the job: %r -> %r"
          % (before, _job(d, 1)))
    check(_job(d, 1)[0] == "failed" and _job(d, 1)[2] == 1, repr(_job(d, 1)))
    audit = _scalar(d, "SELECT count(*) FROM audit_log WHERE node = 'jobs/status' AND details ="
                    " 'the control connection closed'")[0]
    check(audit == 4, "%d jobs/status runs recorded as ended with their connection" % audit)
    # an action the stage does not offer is refused, and changes nothing
    rc, out, err = ctl(d, "run", "jobs/status", "job=1", "action=prev")
    check(rc == 1 and "not offered" in err, "exit %d %r" % (rc, err))
    check(_job(d, 1)[0] == "failed" and _job(d, 1)[2] == 1, repr(_job(d, 1)))
    # complete closes the view and leaves the job failed
    rc, out, err = ctl(d, "run", "jobs/status", "job=1", "action=complete")
    check(rc == 0, "exit %d %r" % (rc, err))
    check(_job(d, 1)[0] == "failed" and _job(d, 1)[2] == 1, repr(_job(d, 1)))
    # Retry once, the fault still there: fails again, attempt 2, and stops at the choices
    rc, out, err = ctl(d, "run", "jobs/status", "job=1", "action=next")
    check(rc == 0, "exit %d %r %r" % (rc, out, err))
    _wait_state(d, 1, ("failed",))
    check(_job(d, 1)[2] == 2, "attempts %r" % (_job(d, 1),))
    # Cancel: rolls back to the old domain
    rc, out, err = ctl(d, "-a", "cancel", "run", "jobs/status", "job=1")
    check(rc == 0 and "Cancel started" in out + err, "exit %d %r %r" % (rc, out, err))
    _wait_state(d, 1, ("canceled",))
    check(_scalar(d, "SELECT count(*) FROM users WHERE im_address <> userid || '@' || ?",
                  OLD)[0] == 0, "users left with the new address")
    # the same change, then Retry once the fault is gone
    rc, out, err = ctl(d, "run", "default-domain", "domain=" + NEW)
    check(rc == 0, "exit %d %r" % (rc, err))
    _wait_state(d, 2, ("failed",))
    _unfault(d)
    rc, out, err = ctl(d, "run", "jobs/status", "job=2", "action=next")
    check(rc == 0, "exit %d %r %r" % (rc, out, err))
    _wait_state(d, 2, ("completed",))
    check(_job(d, 2)[2] == 2, "attempts %r" % (_job(d, 2),))


def test_refusal_cancels_session():
    "a refused submission (bad payload) ends the session: the run is recorded canceled"
    d = _daemon()
    rc, out, err = ctl(d, "run", "domains/add", "domain=bad_name!")
    check(rc == 2, "exit %d %r" % (rc, err))
    rows = _scalar(d, "SELECT count(*) FROM audit_log WHERE node = 'domains/add' AND"
                   " outcome = 'canceled'")[0]
    check(rows == 1, "%d canceled runs recorded" % rows)


h.tap.run([
    test_import_100k_file_then_stdin,
    test_import_rejected_lines_numbered,
    test_import_options_and_no_users,
    test_many_arguments,
    test_export_then_import_unchanged,
    test_export_commas_round_trip,
    test_export_to_full_disk,
    test_restart_mid_import,
    test_failed_job_not_touched_unless_asked,
    test_refusal_cancels_session,
])
