# Integration tests of users/import as a job (issue 13, item 3): above [users] import_job_lines
# the lines are kept in the store, applied in slices by the job runner with progress in
# jobs/status, resumed after kill -9, audited once at the end; imdomainctl sends them in parts
# and follows the job. The small path (one transaction per call) stays as it was.
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean (distcheck has it read-only)
os.environ.setdefault("IMD_TEST_TIMEOUT", "900")
import harness as h  # noqa: E402
from harness import check  # noqa: E402
import json  # noqa: E402
import socket  # noqa: E402
import struct  # noqa: E402
import sqlite3  # noqa: E402
import tempfile  # noqa: E402


def ctl_binary():
    return os.path.join(h.builddir(), "imdomainctl")


def _daemon(settings=None):
    """A daemon reached through its control socket only (the router port is closed)."""
    d = h.Daemon(None, router_port=h.free_port(), settings=settings, wait_connected=False)
    check(d.wait_log(r"control socket listening", 10), "no 'control socket listening' line")
    d.socket = d.sections["control"]["socket"]
    return d


def _restart(d):
    mark = d.log_size()
    d.start(wait_connected=False)
    check(d.wait_log(r"control socket listening", 10, start=mark), "no control socket")


def ctl(d, *args, stdin=None, timeout=600):
    """imdomainctl -s SOCKET ARGS: (exit status, stdout, stderr)."""
    if not os.access(ctl_binary(), os.X_OK):
        raise h.Skip("no imdomainctl at %s" % ctl_binary())
    r = h.run_tool([ctl_binary(), "-s", d.socket] + list(args), capture_output=True,
                   text=True, timeout=timeout, input=stdin)
    return r.returncode, r.stdout, r.stderr


def ctl_json(d, *args, **kw):
    rc, out, err = ctl(d, "--json", *args, **kw)
    try:
        return rc, json.loads(out), err
    except ValueError as e:
        raise h.TestFailure("--json printed something that is not JSON (%s): %r; stderr %r"
                            % (e, out[:2000], err))


def _scalar(d, sql, *args):
    db = sqlite3.connect(d.store, timeout=10)
    try:
        db.execute("PRAGMA busy_timeout = 10000")
        return db.execute(sql, args).fetchone()
    finally:
        db.close()


def _csv(lines):
    f = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False)
    h.defer(os.unlink, f.name)
    f.write("".join(ln + "\n" for ln in lines))
    f.close()
    return f.name


def _job(d):
    """(id, state, done, total) of the newest user-import job, or None."""
    return _scalar(d, "SELECT id, state, done, total FROM jobs WHERE kind = 'user-import'"
                      " ORDER BY id DESC LIMIT 1")


def _start_import(d, path, *extra):
    proc = subprocess.Popen([ctl_binary(), "-s", d.socket, "--json", "run", "users/import",
                             "users=@" + path] + list(extra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    h.defer(lambda: proc.poll() is None and proc.kill())
    return proc


def test_job_100k_progress_and_effect():
    "100,000 lines (above the threshold) run as a job: progress in slices in the store and in "
    "jobs/status, every user in, the audit once, then the same file again: all unchanged"
    d = _daemon()
    n = h.sized(100000, 12000)  # above import_job_lines (5000) either way
    lines = ["j%06d,j%06d@Jobs.example" % (i, i) for i in range(n)]
    lines[500] = "bad user,x@jobs.example"
    lines[n - 2] = "# comment"
    path = _csv(lines)
    mark = d.log_size()
    proc = _start_import(d, path)
    seen = set()
    # The job's row, as the slices commit it (a sample; how many depends on the machine).
    while proc.poll() is None:
        j = _job(d)
        if j is not None:
            seen.add((j[1], j[2], j[3]))
        time.sleep(0.002)
    out, err = proc.communicate()
    doc = json.loads(out)
    check(proc.returncode == 5, "exit %d %r" % (proc.returncode, err[-1000:]))
    s = doc["summary"]
    check(s["added"] == n - 2 and s["rejected"] == 1 and s["lines"] == n, repr(s))
    rows = doc["forms"][0]["rows"]
    check([(r["line"], r["userid"], r["result"]) for r in rows] == [("501", "bad user",
                                                                      "rejected")], repr(rows))
    check(_scalar(d, "SELECT count(*) FROM users WHERE userid LIKE 'j%'")[0] == n - 2, "users")
    check(_scalar(d, "SELECT managed_by FROM domains WHERE name = 'jobs.example'") ==
          ("system",), "the audit did not add jobs.example")
    job = _job(d)
    check(job[1] == "completed" and job[2] == n and job[3] == n, "job row %r" % (job,))
    running = sorted(x[1] for x in seen if x[0] == "running")
    h.tap.comment("job %d: %d distinct progress rows seen while running: %r" %
                  (job[0], len(running), running[:12]))
    check(any(0 < x < n for x in running), "no intermediate progress seen: %r" % sorted(seen))
    log = d.log_text()[mark:]
    check(len(re.findall(r"sync: audit ", log)) == 1, "audits: %r" %
          re.findall(r"sync: audit .*", log))
    # jobs/status: the finished job with its counts and the rejected line
    rc, st, err = ctl_json(d, "run", "jobs/status", "job=%d" % job[0])
    check(rc == 0, "jobs/status exit %d %r" % (rc, err))
    f = {k: v[0] if len(v) == 1 else v for k, v in st["forms"][0]["fields"].items()}
    check(f["state"] == "completed" and f["done"] == str(n) and f["added"] == str(n - 2),
          repr(f))
    check(f["rejected_lines"] == "501 bad user: " + rows[0]["reason"], repr(f))
    # the same file again: a second job, every line unchanged
    rc, doc, err = ctl_json(d, "run", "users/import", "users=@" + path)
    check(rc == 5, "exit %d %r" % (rc, err[-1000:]))
    check(doc["summary"]["unchanged"] == n - 2, repr(doc["summary"]))
    check(_job(d)[0] == job[0] + 1, "no second job")


def test_job_resumes_after_kill9():
    "kill -9 while the job applies: after the restart it goes on and ends with exactly the "
    "right users, one audit and one router apply"
    d = _daemon()
    n = h.sized(200000, 20000)
    path = _csv(["r%06d,r%06d@Resume.example" % (i, i) for i in range(n)])
    proc = _start_import(d, path)
    got = h.wait_for(lambda: (_job(d) or (0, "", 0, 0))[2] > 0, 120 * h.SLOW, 0.002)
    check(got, "the job never made progress")
    d.kill()
    before = _job(d)
    proc.communicate(timeout=60 * h.SLOW)
    check(proc.returncode == 1, "imdomainctl exit %d" % proc.returncode)
    h.tap.comment("killed at %r" % (before,))
    check(before[1] == "running" and 0 < before[2] < n, "not in the middle: %r" % (before,))
    mark = d.log_size()
    _restart(d)
    check(h.wait_for(lambda: _job(d)[1] == "completed", 300 * h.SLOW, 0.05), "not completed: %r"
          % (_job(d),))
    check(_scalar(d, "SELECT count(*), count(DISTINCT userid) FROM users WHERE userid LIKE 'r%'")
          == (n, n), "users after the restart")
    check(_scalar(d, "SELECT sum(added), sum(unchanged) FROM user_imports") == (n, 0),
          "counts %r" % (_scalar(d, "SELECT added, unchanged, cursor FROM user_imports"),))
    log = d.log_text()[mark:]
    check("job: resuming id=%d kind=user-import" % before[0] in log, "no resume line")
    check(len(re.findall(r"sync: audit ", log)) == 1, "audits after the restart")
    check(_scalar(d, "SELECT count(*) FROM audit_log WHERE node = 'job/user-import'"
                     " AND outcome = 'ok'")[0] == 1, "audit log")
    check(_scalar(d, "SELECT 1 FROM domains WHERE name = 'resume.example'") == (1,), "domain")


def test_small_path_and_upload_discarded():
    "at or under the threshold the import is one call per part as before (no job); an upload "
    "whose sender goes away is discarded and changes nothing"
    d = _daemon()
    lines = ["s%04d,s%04d@small.example" % (i, i) for i in range(5000)]
    rc, doc, err = ctl_json(d, "run", "users/import", "users=@" + _csv(lines))
    check(rc == 0, "exit %d %r" % (rc, err[-1000:]))
    rows = doc["forms"][0]["rows"]
    check(len(rows) == 5000 and all(r["result"] == "added" for r in rows), "%d rows" % len(rows))
    check(_job(d) is None, "a job for a small import")
    # an upload interrupted: imdomainctl killed between parts (SIGSTOP holds it there)
    big = _csv(["x%06d,x%06d@gone.example" % (i, i) for i in range(h.sized(300000, 50000))])
    proc = _start_import(d, big)
    check(h.wait_for(lambda: _scalar(d, "SELECT count(*) FROM user_import_parts")[0] > 0,
                     60 * h.SLOW, 0.005), "no part arrived")
    proc.kill()
    proc.communicate()
    check(h.wait_for(lambda: _scalar(d, "SELECT count(*) FROM user_imports WHERE phase ="
                                        " 'upload'")[0] == 0, 30 * h.SLOW, 0.05),
          "the upload stayed")
    check(_job(d) is None, "a job from an interrupted upload")
    check(_scalar(d, "SELECT count(*) FROM users WHERE userid LIKE 'x%'")[0] == 0, "users")


def test_export_import_unchanged_job():
    "users/export, then users/import of the export as a job: every line unchanged"
    d = _daemon()
    n = 12000
    lines = ["e%05d,%s" % (i, "" if i % 7 == 0 else "e%05d@d%d.example" % (i, i % 5))
             for i in range(n)]
    rc, out, err = ctl(d, "run", "users/import", "users=@" + _csv(lines))
    check(rc == 0, "exit %d %r" % (rc, err[-1000:]))
    path = _csv([])
    rc, out, err = ctl(d, "-o", path, "run", "users/export")
    check(rc == 0, "export exit %d" % rc)
    rc, out, err = ctl(d, "run", "users/import", "users=@" + path)
    check(rc == 0, "exit %d %r" % (rc, err[-1000:]))
    check("summary: %d lines: 0 added, 0 updated, %d unchanged, 0 removed, 0 rejected"
          % (n + 1, n) in out, "summary %r" % out[-400:])
    check(_scalar(d, "SELECT count(*) FROM jobs WHERE kind = 'user-import' AND state ="
                     " 'completed'")[0] == 2, "two jobs")


def _inject(d, sql):
    db = sqlite3.connect(d.store, timeout=10)
    try:
        db.execute("PRAGMA busy_timeout = 10000")
        db.executescript(sql)
        db.commit()
    finally:
        db.close()


def test_failed_job_retry_and_cancel():
    "a slice the store refuses fails the job with the lines before it applied: imdomainctl "
    "exits 1 naming jobs/status; Cancel audits what was applied and ends it canceled; Retry "
    "goes on from the cursor"
    d = _daemon()
    n = h.sized(40000, 16000)
    bad = n * 3 // 4  # 30000 of 40000; above IMPORT_SLICE_LINES (10000): a slice applies first
    # A verdict row the store refuses: the slice holding line `bad` (a rejected line) fails.
    _inject(d, "CREATE TRIGGER inject BEFORE INSERT ON user_import_verdicts"
               " WHEN NEW.line = %d BEGIN SELECT RAISE(ABORT, 'injected fault'); END;" % bad)
    for rnd, how in enumerate(("cancel", "retry")):
        lines = ["f%d%05d,f%d%05d@fail%d.example" % (rnd, i, rnd, i, rnd) for i in range(n)]
        lines[bad - 1] = "bad user %d,x@y.example" % rnd
        rc, out, err = ctl(d, "run", "users/import", "users=@" + _csv(lines))
        job = _job(d)
        check(rc == 1 and "failed" in err and "jobs/status job=%d" % job[0] in err,
              "exit %d %r" % (rc, err[-800:]))
        check(job[1] == "failed" and 0 < job[2] < bad, "job %r" % (job,))
        error = _scalar(d, "SELECT error FROM jobs WHERE id = ?", job[0])[0]
        check(error.startswith("the store failed at line %d: " % bad) and "injected fault" in error,
              "the job's error does not name the line and the store's message: %r" % error)
        applied = _scalar(d, "SELECT count(*) FROM users WHERE userid LIKE ?", "f%d%%" % rnd)[0]
        check(applied == job[2], "%d users in, cursor %d" % (applied, job[2]))
        if how == "cancel":
            rc, out, err = ctl(d, "-a", "cancel", "run", "jobs/status", "job=%d" % job[0])
            check(rc == 0, "cancel: exit %d %r %r" % (rc, out[-500:], err[-500:]))
            check(h.wait_for(lambda: _job(d)[1] == "canceled", 60 * h.SLOW, 0.05),
                  "not canceled: %r" % (_job(d),))
            check(_scalar(d, "SELECT count(*) FROM users WHERE userid LIKE 'f0%'")[0] == applied,
                  "lines applied after the cancel")
            check(_scalar(d, "SELECT 1 FROM domains WHERE name = 'fail0.example'") == (1,),
                  "the cancel's audit did not add the domain")
            check(_scalar(d, "SELECT count(*) FROM audit_log WHERE node = 'job/user-import'"
                             " AND outcome = 'canceled'")[0] == 1, "no canceled record")
        else:
            _inject(d, "DROP TRIGGER inject;")
            rc, out, err = ctl(d, "run", "jobs/status", "job=%d" % job[0], "action=next")
            check(rc == 0, "retry: exit %d %r %r" % (rc, out[-500:], err[-500:]))
            check(h.wait_for(lambda: _job(d)[1] == "completed", 120 * h.SLOW, 0.05),
                  "not completed: %r" % (_job(d),))
            check(_scalar(d, "SELECT count(*) FROM users WHERE userid LIKE 'f1%'")[0] == n - 1,
                  "users after the retry")
            check(_scalar(d, "SELECT attempts, done FROM jobs WHERE id = ?", job[0]) == (2, n),
                  "attempts/done %r" % (_scalar(d, "SELECT attempts, done FROM jobs"
                                                   " WHERE id = ?", job[0]),))


NS_CMD = "http://jabber.org/protocol/commands"


class _RawCtl:
    """The control socket's framing by hand (4-byte big-endian length, one <iq>): a client that
    can stop between two parts and cancel, which imdomainctl never does."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60 * h.SLOW)
        self.sock.connect(path)
        h.defer(self.sock.close)
        self.n = 0

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            check(chunk, "EOF from the daemon")
            buf += chunk
        return buf

    def command(self, action, sid=None, form=""):
        """One users/import request; the answer's <command/> (or the <iq/> of an error)."""
        self.n += 1
        xml = ("<iq type='set' id='r%d'><command xmlns='%s' node='users/import' action='%s'%s>"
               "%s</command></iq>" % (self.n, NS_CMD, action,
                                      " sessionid='%s'" % sid if sid else "", form)).encode()
        self.sock.sendall(struct.pack(">I", len(xml)) + xml)
        body = self._read(struct.unpack(">I", self._read(4))[0])
        iq = h.ET.fromstring(body.decode())
        cmd = iq.find("{%s}command" % NS_CMD)
        return iq if iq.get("type") == "error" or cmd is None else cmd


def _part_form(lines, more):
    values = "".join("<value>%s</value>" % "\n".join(lines[i:i + 100])
                     for i in range(0, len(lines), 100))
    return ("<x xmlns='jabber:x:data' type='submit'><field var='users'>%s</field>"
            "<field var='more'><value>%d</value></field></x>" % (values, 1 if more else 0))


def test_cancel_during_upload():
    "an admin cancels users/import between two parts: the session ends canceled, the stored "
    "part is discarded at once (logged), no job starts and no user is added; a new import then "
    "goes through"
    d = _daemon()
    c = _RawCtl(d.socket)
    cmd = c.command("execute")
    check(cmd.get("status") == "executing", "execute: %r" % h.ET.tostring(cmd))
    sid = cmd.get("sessionid")
    lines = ["c%04d,c%04d@cancel.example" % (i, i) for i in range(3000)]
    mark = d.log_size()
    cmd = c.command("complete", sid, _part_form(lines[:1500], True))
    check(cmd.get("status") == "executing", "part 1: %r" % h.ET.tostring(cmd))
    check(_scalar(d, "SELECT count(*), sum(lines) FROM user_import_parts") == (1, 1500),
          "the part in the store: %r" % (_scalar(d, "SELECT count(*), sum(lines)"
                                                    " FROM user_import_parts"),))
    cmd = c.command("cancel", sid)
    check(cmd.get("status") == "canceled", "cancel: %r" % h.ET.tostring(cmd))
    check(d.wait_log(r"import: upload \d+ discarded lines=1500 reason=session-ended", 10,
                     start=mark), "no discard in the log")
    check(_scalar(d, "SELECT count(*) FROM user_imports") == (0,), "the upload stayed")
    check(_scalar(d, "SELECT count(*) FROM user_import_parts") == (0,), "the part stayed")
    check(_job(d) is None, "a job from a canceled upload")
    check(_scalar(d, "SELECT count(*) FROM users WHERE userid LIKE 'c%'") == (0,), "users")
    # The same lines again, through imdomainctl: the canceled upload is not in the way.
    rc, out, err = ctl(d, "run", "users/import", "users=@" + _csv(lines))
    check(rc == 0, "exit %d %r" % (rc, err[-800:]))
    check(_scalar(d, "SELECT count(*) FROM users WHERE userid LIKE 'c%'") == (3000,),
          "users after the second import")


h.tap.run([
    test_job_100k_progress_and_effect,
    test_job_resumes_after_kill9,
    test_small_path_and_upload_discarded,
    test_export_import_unchanged_job,
    test_failed_job_retry_and_cancel,
    test_cancel_during_upload,
])
