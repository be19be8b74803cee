#!/usr/bin/python3
# A standby must not act. Two instances on one component JID sharing one store: the one that
# stands by (Prosody's `conflict`, or ejabberd's step-down) runs no job, no timed work and no
# command over its control socket; when the active one goes away it takes over and finishes
# the job the other left half done.
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean (distcheck has it read-only)
import harness as h  # noqa: E402
from harness import check  # noqa: E402

JID = "domains.example.test"
OLD, NEW = "DOMAIN.NOT.SET", "new.example"
USERS = 60000  # the job takes ~0.3 s on a quiet machine: long enough to freeze it half done
STANDBY_RECONNECT_MAX = 2


def _db(d):
    db = sqlite3.connect(d.store, timeout=10)
    db.execute("PRAGMA busy_timeout = 10000")
    return db


def _insert_users(d, n):
    db = _db(d)
    db.executemany("INSERT INTO users (userid, directory_uri, uri_domain, im_address)"
                   " VALUES (?, '', '', ?)", (("u%06d" % i, "u%06d@%s" % (i, OLD))
                                             for i in range(n)))
    db.commit()
    h.recount_im_domains(db)
    db.close()


def _job(d):
    db = _db(d)
    try:
        return db.execute("SELECT state, done, total FROM jobs ORDER BY id DESC LIMIT 1")\
            .fetchone()
    finally:
        db.close()


def _ctl_json(d, *args):
    argv = [os.path.join(h.builddir(), "imdomainctl"), "-s", d.socket, "--json"] + list(args)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60 * h.SLOW)
    try:
        return r.returncode, json.loads(r.stdout)
    except ValueError:
        raise h.TestFailure("imdomainctl %r: %r %r" % (args, r.stdout, r.stderr))


def _command_retrying(c, *args):
    """A request that lands on the standby while it reconnects is bounced with wait (the window
    README describes): retry as a client should, a few times."""
    for attempt in range(5):
        try:
            return c.command(*args)
        except h.StanzaError as e:
            if "wait/" not in str(e) or attempt == 4:
                raise
            h.tap.comment("bounced with %s (the standby's window): retrying" % e)
            time.sleep(0.2)


def test_standby_does_not_act():
    "two instances, one store: the standby runs no job and no command; it takes over and finishes"
    p = h.Router()
    d1 = h.Daemon(p)
    _insert_users(d1, USERS)
    time.sleep(0.05)  # start times are in ms: make "later" unambiguous under ejabberd
    d2 = h.Daemon(p, admins=["other@" + p.host], wait_connected=False, settings={
        "store": {"path": d1.store},
        "component": {"reconnect_max": STANDBY_RECONNECT_MAX}})
    check(d2.wait_log(r"instance: standby \(", 30), "the second instance did not stand by")
    check(not d2.wait_log(r"instance: active", 0.5), "the standby was active at some point")

    # Its control socket refuses commands (they would write the store the other one serves
    # from); status still answers.
    rc, doc = _ctl_json(d2, "run", "domains/add", "domain=standby.example")
    check(rc != 0 and "stands by" in json.dumps(doc), "domains/add on the standby: %r" % doc)
    rc, doc = _ctl_json(d2, "run", "status")
    check(rc == 0 and doc.get("status") == "completed", "status on the standby: %r" % doc)
    db = _db(d1)
    check(db.execute("SELECT count(*) FROM domains WHERE name = 'standby.example'")
          .fetchone()[0] == 0, "the standby's refused command changed the store")
    db.close()

    # The active one starts the default-domain job and is frozen half-way.
    c = h.Client(p, "admin")
    first = _command_retrying(c, JID, "default-domain")
    check(first.status == "executing", "default-domain: %r" % first)
    _command_retrying(c, JID, "default-domain", "complete", first.sessionid, {"domain": NEW})
    check(h.wait_for(lambda: (_job(d1) or ("", 0))[0] != "running" or _job(d1)[1] >= 4000,
                     30 * h.SLOW, 0.001), "the job made no progress")
    d1.signal(signal.SIGSTOP)
    state, done, total = _job(d1)
    if state != "running":
        d1.signal(signal.SIGCONT)
        raise h.Skip("the job ended before the active instance was frozen (%s)" % state)
    h.tap.comment("active instance frozen at %d of %d users" % (done, total))
    # The standby leaves the job alone, however long the other one is away (frozen, connected).
    time.sleep(3 * STANDBY_RECONNECT_MAX)
    check(_job(d1)[1] == done, "the job moved while its instance was frozen: %r" % (_job(d1),))
    check(not d2.wait_log(r"job: resuming|instance: active", 0.1),
          "the standby acted while the active one was frozen")

    # The active one dies: the standby takes over and finishes the job.
    mark = d2.log_size()
    d1.kill()
    t0 = time.monotonic()
    check(d2.wait_log(r"instance: active \(it serves the JID\)", 4 * STANDBY_RECONNECT_MAX + 10,
                      start=mark), "the standby did not take over")
    h.tap.comment("the standby was active %.2f s after the active one was killed"
                  % (time.monotonic() - t0))
    check(d2.wait_log(r"job: resuming id=1", 5, start=mark), "the standby did not resume the job")
    check(h.wait_for(lambda: _job(d1)[0] == "completed", 60 * h.SLOW, 0.05),
          "the job did not complete: %r" % (_job(d1),))
    check(_job(d1)[1] == USERS, "done %r" % (_job(d1),))
    db = _db(d1)  # the one store
    left = db.execute("SELECT count(*) FROM users WHERE im_address NOT LIKE ?",
                      ("%@" + NEW,)).fetchone()[0]
    db.close()
    check(left == 0, "%d users left with an old address" % left)
    # Now active, its control socket runs commands.
    rc, doc = _ctl_json(d2, "run", "domains/add", "domain=standby.example")
    check(rc == 0, "domains/add on the new active instance: %r" % doc)


# Each case starts two daemons, inserts the users, and after the take-over the new active one
# probes every user's presence while it finishes the job: more than the default 60 s under the
# sanitizers on a loaded machine.
h.tap.timeout *= 2
h.tap.run([test_standby_does_not_act] + h.under_ejabberd([test_standby_does_not_act]))
