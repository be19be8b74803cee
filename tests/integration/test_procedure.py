# procedure/domain-change end to end: a real Prosody, the daemon and slixmpp users with
# presence sessions on two nodes. The seven steps run in order, the daemon restarts in the
# middle and the procedure resumes where it stopped; a second run is canceled after a restart.
import os
import sqlite3
import sys

sys.dont_write_bytecode = True
import harness as h  # noqa: E402
from harness import check  # noqa: E402
import topo_common as tc  # noqa: E402
from proc_common import at_step as _at_step  # noqa: E402
from proc_common import fixed as _fixed  # noqa: E402
from proc_common import resume as _resume  # noqa: E402
from proc_common import title as _title  # noqa: E402

JID = tc.JID
NODE = "procedure/domain-change"
NODES = ("cup-a.example.test", "cup-b.example.test")


def _presence(c, **kw):
    async def send():
        c.xmpp.send_presence(**kw)
    h._run(send(), 5)


def _restart_with(d, sql):
    """Stops the daemon, runs `sql` on its store, starts it again."""
    d.stop()
    db = sqlite3.connect(d.store)
    db.execute(sql)
    db.commit()
    db.close()
    d.start()


def _setup(users):
    """Prosody, the daemon (settle time 0, a certificate directory, TLS federation on), two
    nodes in group g1 with HA on, and `users` users split over them, online and subscribed."""
    p = h.Prosody()
    certs = h.tmpdir("certs")
    d = tc.daemon(p, {"ha": {"settle_time": 0},
                      "certs": {"dir": certs, "key_type": "ec-p256", "days": 90}})
    _restart_with(d, "UPDATE settings SET tls_federation = 1")
    admin = h.Client(p, "admin")
    tc.add_node(admin, NODES[0], "publisher", "g1")
    tc.add_node(admin, NODES[1], "subscriber", "g1")
    names = ["u%02d" % i for i in range(users)]
    tc.import_users(admin, ["%s,%s@%s,%s" % (u, u, p.host, NODES[i % 2])
                            for i, u in enumerate(names)])
    clients = {u: h.Client(p, u) for u in names}
    for c in clients.values():
        _presence(c, pto=JID, ptype="subscribe")
    r = tc.one_shot(admin, "ha/enable", {})
    check(not tc.error_notes(r), "ha/enable: %r" % r.notes)
    half = users // 2
    want = {NODES[0]: users - half, NODES[1]: half}
    check(h.wait_for(lambda: {n: v[0] for n, v in tc.sessions(admin).items()} == want,
                     15 * h.SLOW, interval=0.2), "sessions %r" % tc.sessions(admin))
    return p, d, admin, clients, certs


def _ha(admin):
    t = admin.execute(JID, "topology")
    return {row["ha"][0] for row in t.items()}


def _run_step2(admin):
    """Step 2 may wait for the HA setting to sync: a refusal says so and ends the run's view;
    resume and try again until the services stop."""
    last = []

    def attempt():
        r = _resume(admin, 2)
        r = admin.next(JID, NODE, r.sessionid)
        last[:] = [r]
        if r.status == "completed":
            why = " ".join(tc.error_notes(r))
            check("wait" in why and "stays at step 2" in why, "refusal %r" % r.notes)
            return None
        return r
    check(h.wait_for(attempt, 15 * h.SLOW, interval=0.3), "step 2 never ran: %r" % last)
    return last[0]


def test_seven_steps_with_restart():
    "all 7 steps with 2 nodes and 6 online users; the daemon restarts at step 3 and resumes"
    p, d, admin, clients, certs = _setup(6)
    # Step 1: shows the counts it is about to record.
    r = admin.execute(JID, NODE)
    _at_step(r, 1)
    check("node %s: 3 sessions, none recorded" % NODES[0] in _fixed(r), "lines %r" % _fixed(r))
    sid = r.sessionid
    r = admin.next(JID, NODE, sid)
    _at_step(r, 2)
    check("node %s: 3 sessions, 3 recorded" % NODES[1] in _fixed(r), "recorded %r" % _fixed(r))
    check(_ha(admin) == {"off"}, "HA still on")
    admin.cancel(JID, NODE, sid)
    # Step 2, once the setting has synced: every service stops, sessions are no longer counted.
    r = _run_step2(admin)
    _at_step(r, 3)
    check(h.wait_for(lambda: all(v[0] == 0 for v in tc.sessions(admin).values()),
                     10 * h.SLOW, interval=0.2), "sessions still counted")
    # The daemon restarts in the middle of the procedure: it resumes at step 3.
    admin.cancel(JID, NODE, r.sessionid)
    d.stop()
    d.start()
    r = _resume(admin, 3)
    check(r.field("add") is not None and r.field("delete") is not None, "no step 3 fields")
    # Step 3: a bad name is refused with the rule, and the stage stays.
    bad = admin.next(JID, NODE, r.sessionid, form={"add": ["-bad.example.test"]})
    check(bad.rejected() and bad.sessionid == r.sessionid and
          bad.values("add") == ["-bad.example.test"], "bad name: %r" % bad)
    r = admin.next(JID, NODE, r.sessionid,
                   form={"default_domain": "", "add": ["new.example.test", "old.example.test"],
                         "rename": [], "delete": []})
    _at_step(r, 4)
    listed = {row["domain"][0] for row in tc.one_shot(admin, "domains/list", {}).items()}
    check({"new.example.test", "old.example.test"} <= listed, "domains %r" % listed)
    # Step 4: TLS federation is on, so cup-xmpp-s2s is regenerated (a late answer).
    r = admin.next(JID, NODE, r.sessionid, timeout=60)
    _at_step(r, 5)
    check(any("cup-xmpp-s2s installed" in text for _, text in r.notes), "notes %r" % r.notes)
    check(os.path.exists(os.path.join(certs, "new.example.test.crt")), "no certificate file")
    # Step 5: start what step 2 stopped; step 6 shows the sessions coming back.
    r = admin.next(JID, NODE, r.sessionid)
    check(r.status == "executing", "step 5: %r" % r)
    sid = r.sessionid
    seen = []

    def back():
        res = r if not seen else admin.next(JID, NODE, sid)
        seen.append(res)
        return "step 7 of 7" in _title(res)
    check(h.wait_for(back, 20 * h.SLOW, interval=0.3), "sessions never back: %r" % seen[-1])
    check("step 6 of 7" in _title(seen[0]), "step 5 did not lead to step 6: %r" % seen[0])
    # Step 7: HA comes back; the run is done and a new one would start at step 1.
    r = admin.complete(JID, NODE, sid)
    check(r.status == "completed" and not tc.error_notes(r), "step 7: %r" % r)
    check(_ha(admin) == {"on"}, "HA not on")
    r = admin.execute(JID, NODE)
    _at_step(r, 1)
    admin.cancel(JID, NODE, r.sessionid)


def test_step6_shows_counts_and_step7_guard():
    "step 6 counts sessions per node against the recorded ones; step 7 refuses while short"
    p, d, admin, clients, certs = _setup(4)
    _restart_with(d, "UPDATE settings SET tls_federation = 0")
    r = admin.execute(JID, NODE)
    r = admin.next(JID, NODE, r.sessionid)
    admin.cancel(JID, NODE, r.sessionid)
    r = _run_step2(admin)
    r = admin.next(JID, NODE, r.sessionid, form={"add": [], "rename": [], "delete": []})
    _at_step(r, 4)
    r = admin.next(JID, NODE, r.sessionid)
    _at_step(r, 5)
    check(any("TLS federation is off" in text for _, text in r.notes), "notes %r" % r.notes)
    clients["u01"].close()  # node b loses one of its two users while the services are down
    r = admin.next(JID, NODE, r.sessionid)
    _at_step(r, 6)
    sid = r.sessionid
    line = "node %s: 1 sessions, 2 recorded" % NODES[1]

    def short():
        res = admin.next(JID, NODE, sid)
        return line in _fixed(res) and res
    res = h.wait_for(short, 15 * h.SLOW, interval=0.3)
    check(res, "never %r" % line)
    _at_step(res, 6)
    check(any("1 sessions, 2 recorded" in text for _, text in res.notes), "notes %r" % res.notes)
    clients["u01"] = h.Client(p, "u01", register=False)
    check(h.wait_for(lambda: "step 7 of 7" in _title(admin.next(JID, NODE, sid)),
                     15 * h.SLOW, interval=0.3), "never reached step 7")
    r = admin.complete(JID, NODE, sid)
    check(r.status == "completed" and not tc.error_notes(r), "step 7: %r" % r)


def test_default_domain_then_cancel_after_restart():
    "step 3 changes the default domain through its job; after a restart, cancel says what is left"
    p, d, admin, clients, certs = _setup(2)
    r = admin.execute(JID, NODE)
    r = admin.next(JID, NODE, r.sessionid)
    _at_step(r, 2)
    # Canceling the session only closes the view.
    c = admin.cancel(JID, NODE, r.sessionid)
    check(c.status == "canceled" and any("resume" in t for _, t in c.notes), "cancel %r" % c)
    r = _run_step2(admin)
    r = admin.next(JID, NODE, r.sessionid, form={"default_domain": "New.Example.test"})
    # The job's view refreshes on next until the job has ended, then step 4 follows.
    seen = [r]

    def at_step4():
        if "step 4 of 7" not in _title(seen[-1]):
            seen.append(admin.next(JID, NODE, r.sessionid))
        return "step 4 of 7" in _title(seen[-1])
    check(h.wait_for(at_step4, 15 * h.SLOW, interval=0.2), "job never ended: %r" % seen[-1])
    check(any("default domain: new.example.test;" in line for line in _fixed(seen[-1])),
          "lines %r" % _fixed(seen[-1]))
    d.stop()
    d.start()
    r = _resume(admin, 4)
    admin.cancel(JID, NODE, r.sessionid)
    r = admin.execute(JID, NODE)
    r = admin.next(JID, NODE, r.sessionid, form={"action": "cancel"})
    check(r.status == "completed", "cancel: %r" % r)
    warn = " ".join(t for k, t in r.notes if k == "warn")
    check("HA is still off on group g1" in warn and "%s (" % NODES[0] in warn
          and "start-stopped" in warn, "leftovers %r" % r.notes)
    check(_ha(admin) == {"off"}, "nothing is undone")
    r = admin.execute(JID, NODE, lang="ko")
    check("1/7단계" in _title(r), "a new run starts at step 1: %r" % _title(r))


h.tap.run([
    test_seven_steps_with_restart,
    test_step6_shows_counts_and_step7_guard,
    test_default_domain_then_cancel_after_restart,
])
