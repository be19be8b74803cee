# procedure/domain-change to completion with renames, through a real Prosody that hosts what
# the daemon writes to its vhosts file, service hooks that fail on the first try of steps 2 and
# 5, and a certificate directory locked by another process on the first try of step 4. Each
# failure leaves the run at its step; the retry goes on, and the end state is checked in the
# store, the router, the certificate directory and the hooks' own log.
import fcntl
import os
import sqlite3
import stat
import subprocess
import sys

sys.dont_write_bytecode = True
import harness as h  # noqa: E402
from harness import check  # noqa: E402
import proc_common as pc  # noqa: E402
import topo_common as tc  # noqa: E402

JID, NODE = pc.JID, pc.NODE
A, B = "cup-a.example.test", "cup-b.example.test"
HOSTS_MODULE_DIR = os.path.join(os.environ.get("IMD_SRCDIR", "."), "contrib", "prosody")

# $1 node, $2 service, $3 operation. Each call is logged; a call listed in the fail file
# fails with status 3 (the file is the test's switch).
HOOK = """#!/bin/sh
echo "$3 $1 $2" >> '%(calls)s'
grep -qxF "$3 $1 $2" '%(fails)s' 2>/dev/null && exit 3
exit 0
"""

# The router's reload hook: Prosody's own reload, unless the test's switch file exists.
RELOAD = """#!/bin/sh
[ -e '%(switch)s' ] && { echo "reload refused by the test" >&2; exit 4; }
exec '%(ctl)s' --config '%(config)s' reload
"""


class _OnHost:
    """The Prosody as seen from another of its virtual hosts (for h.Client)."""

    def __init__(self, prosody, host):
        self.prosody, self.host, self.c2s_port = prosody, host, prosody.c2s_port

    def register(self, user, password):
        return self.prosody.register(user, password, host=self.host)


def _presence(c, **kw):
    async def send():
        c.xmpp.send_presence(**kw)
    h._run(send(), 5)


def _setup(users):
    """Prosody including the daemon's vhosts file (with the module that activates hosts on
    reload), the daemon with service hooks, a certificate directory and TLS federation on, two
    nodes in group g1 with HA on and `users` users online on them."""
    here = h.tmpdir("proc")
    vhosts = os.path.join(here, "vhosts.cfg.lua")
    modules = ", ".join('"%s"' % m for m in h.Prosody.MODULES + ["imdomaind_hosts"])
    p = h.Prosody(include=vhosts, extra='plugin_paths = { "%s" }\nmodules_enabled = { %s }'
                  % (HOSTS_MODULE_DIR, modules))
    certs = os.path.join(here, "certs")
    os.makedirs(certs)
    calls, fails = os.path.join(here, "calls.log"), os.path.join(here, "fails")
    script = os.path.join(here, "service-hook.sh")
    with open(script, "w") as f:
        f.write(HOOK % {"calls": calls, "fails": fails})
    os.chmod(script, stat.S_IRWXU)
    argv = "%s {node} {service} {operation}" % script
    reload, no_reload = os.path.join(here, "reload.sh"), os.path.join(here, "no-reload")
    with open(reload, "w") as f:
        f.write(RELOAD % {"switch": no_reload, "ctl": h.Prosody.CTL, "config": p.config})
    os.chmod(reload, stat.S_IRWXU)
    d = tc.daemon(p, {"ha": {"settle_time": 0},
                      "router": {"vhosts_file": vhosts, "reload_hook": reload},
                      "services": {"start_hook": argv, "stop_hook": argv, "hook_timeout": 20},
                      "certs": {"dir": certs, "key_type": "ec-p256", "days": 90}})
    d.stop()
    db = sqlite3.connect(d.store)
    db.execute("UPDATE settings SET tls_federation = 1")
    db.commit()
    db.close()
    d.start()
    admin = h.Client(p, "admin")
    # The domains the procedure renames and deletes exist before the nodes do (while services
    # run, the domain set may not change).
    for name in ("old1.example.test", "old2.example.test", "gone.example.test"):
        _add_domain(admin, name)
    tc.add_node(admin, A, "publisher", "g1")
    tc.add_node(admin, B, "subscriber", "g1")
    names = ["u%d" % i for i in range(users)]
    tc.import_users(admin, ["%s,%s@%s,%s" % (u, u, p.host, (A, B)[i % 2])
                            for i, u in enumerate(names)]
                    + ["sys1,sys1@used.example.test,%s" % A])
    clients = {u: h.Client(p, u) for u in names}
    for c in clients.values():
        _presence(c, pto=JID, ptype="subscribe")
    r = tc.one_shot(admin, "ha/enable", {})
    check(not tc.error_notes(r), "ha/enable: %r" % r.notes)
    want = {A: users - users // 2, B: users // 2}
    check(h.wait_for(lambda: {n: v[0] for n, v in tc.sessions(admin).items()} == want,
                     15 * h.SLOW, interval=0.2), "sessions %r" % tc.sessions(admin))
    return p, d, admin, clients, vhosts, certs, calls, fails, no_reload


def _domains(admin):
    return {row["domain"][0]: row for row in tc.one_shot(admin, "domains/list", {}).items()}


def _add_domain(admin, name):
    r = admin.execute(JID, "domains/add", form={"domain": name},
                      form_type="urn:imdomaind:domains/add", timeout=30)
    check(r.status == "completed" and not tc.error_notes(r), "domains/add %s: %r" % (name, r))


def _set_fails(fails, lines):
    with open(fails, "w") as f:
        f.write("".join(line + "\n" for line in lines))


def _calls(calls, start=0):
    return h.read_text(calls).splitlines()[start:]


def _cert_names(path):
    """The dNSName SANs of the certificate at `path`."""
    out = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", path],
                         capture_output=True, text=True, check=True).stdout
    return sorted(w.strip().split(":", 1)[1] for w in out.split("\n", 1)[1].split(","))


def test_renames_and_failures_to_completion():
    "7 steps with renames: failing hooks in steps 2 and 5 and a locked certs dir in step 4 retry"
    p, d, admin, clients, vhosts, certs, calls, fails, no_reload = _setup(4)
    check(p.wait_log(r"Activated host: old1\.example\.test", 10 * h.SLOW), "old1 not hosted")
    check(_domains(admin)["used.example.test"]["managed_by"] == ["system"], "used.example.test")

    # Step 1, then step 2 with the stop of sync-agent failing on node b.
    r = admin.execute(JID, NODE)
    pc.at_step(r, 1)
    r = admin.next(JID, NODE, r.sessionid)
    pc.at_step(r, 2)
    _set_fails(fails, ["stop %s sync-agent" % B])
    r = pc.next_until_ready(admin, r.sessionid)
    pc.at_step(r, 2)
    warn = pc.notes(r, "warn")
    check("%s sync-agent: failed: stop hook exited with status 3" % B in warn
          and "failed or were skipped; next tries the step again" in warn, "notes %r" % r.notes)
    check("node %s: 0 of 5 services up" % A in pc.fixed(r)
          and "node %s: 0 of 5 services up" % B not in pc.fixed(r), "lines %r" % pc.fixed(r))
    # The retry stops what still runs; node a is stopped already and is not touched again.
    _set_fails(fails, [])
    before = len(_calls(calls))
    r = admin.next(JID, NODE, r.sessionid, timeout=60)
    pc.at_step(r, 3)
    check("services actions done" in pc.notes(r, "info"), "notes %r" % r.notes)
    retried = _calls(calls, before)
    check(retried and all(" %s " % B in c for c in retried)
          and "stop %s sync-agent" % B in retried, "retry calls %r" % retried)
    check(h.wait_for(lambda: all(v[0] == 0 for v in tc.sessions(admin).values()),
                     10 * h.SLOW, interval=0.2), "sessions still counted")

    # Step 3: a malformed rename line is refused with the rule; the stage stays as entered.
    sid = r.sessionid
    bad = admin.next(JID, NODE, sid, form={"rename": ["a.example.test b.example.test c"]})
    check(bad.rejected() and "each rename line must be 'old-name new-name'" in bad.rejected()
          and bad.sessionid == sid
          and bad.values("rename") == ["a.example.test b.example.test c"], "bad line: %r" % bad)
    # A rename of a system-managed domain is refused with the rule; nothing of the step is made.
    r = admin.next(JID, NODE, sid, form={"add": ["new.example.test"],
                                         "rename": ["used.example.test other.example.test"]})
    why = pc.notes(r, "error")
    check(r.status == "completed" and "Step 3 cannot run" in why and "system-managed" in why
          and "stays at step 3" in why, "refusal %r" % r.notes)
    check("new.example.test" not in _domains(admin), "the refused step added a domain")
    # A rename onto a name that exists is refused too.
    r = pc.resume(admin, 3)
    r = admin.next(JID, NODE, r.sessionid,
                   form={"rename": ["old1.example.test gone.example.test"]})
    check("already exists" in pc.notes(r, "error"), "duplicate %r" % r.notes)
    # Both spellings of a rename, an add and a delete in one transaction. The router's reload
    # fails: the change stands, and the warning says the next change applies the whole set.
    open(no_reload, "w").close()
    r = pc.resume(admin, 3)
    r = admin.next(JID, NODE, r.sessionid, timeout=60,
                   form={"default_domain": "", "add": ["new.example.test"],
                         "rename": ["old1.example.test -> renamed1.example.test",
                                    "  OLD2.Example.Test   Renamed2.example.test "],
                         "delete": ["gone.example.test"]})
    pc.at_step(r, 4)
    warn = pc.notes(r, "warn")
    check("The router was NOT updated" in warn and "exited with status 4" in warn
          and "applies the whole set again" in warn, "notes %r" % r.notes)
    os.unlink(no_reload)
    listed = _domains(admin)
    check({"new.example.test", "renamed1.example.test", "renamed2.example.test"} <= set(listed)
          and not {"old1.example.test", "old2.example.test", "gone.example.test"} & set(listed),
          "domains %r" % sorted(listed))
    check(listed["renamed1.example.test"]["managed_by"] == ["admin"], "%r" % listed)
    text = h.read_text(vhosts)
    check('VirtualHost "renamed1.example.test"' in text and "old1.example.test" not in text
          and "gone.example.test" not in text, text)
    check("Activated host: renamed2.example.test" not in p.log_text(), "Prosody was reloaded")

    # Step 4 while another process holds the certificate directory's lock: refused, stays.
    lock = open(os.path.join(certs, ".cup-xmpp-s2s.lock"), "a+")
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    r = admin.next(JID, NODE, r.sessionid, timeout=60)
    pc.at_step(r, 4)
    check("another process is changing the certificates" in pc.notes(r, "error"),
          "notes %r" % r.notes)
    check(not os.path.exists(os.path.join(certs, "renamed1.example.test.crt")), "installed")
    fcntl.flock(lock, fcntl.LOCK_UN)
    lock.close()
    r = admin.next(JID, NODE, r.sessionid, timeout=60)
    pc.at_step(r, 5)
    check("cup-xmpp-s2s installed" in pc.notes(r, "info"), "notes %r" % r.notes)
    check(not os.path.exists(os.path.join(certs, "old1.example.test.crt")), os.listdir(certs))
    # Step 4 reloaded the router with the whole set: Prosody follows the renames now.
    check(p.wait_log(r"Activated host: renamed2\.example\.test", 10 * h.SLOW)
          and p.wait_log(r"Deactivating host: old1\.example\.test", 10 * h.SLOW),
          "Prosody did not follow the renames")
    newbie = h.Client(_OnHost(p, "renamed1.example.test"), "newbie")
    check(newbie.bare == "newbie@renamed1.example.test", newbie.bare)
    check(newbie.ping("renamed1.example.test"), "no ping on the renamed host")
    newbie.close()
    names = _cert_names(os.path.join(certs, "renamed1.example.test.crt"))
    check({"renamed1.example.test", "renamed2.example.test", "new.example.test",
           "used.example.test", p.host} <= set(names)
          and "old1.example.test" not in names, "certificate names %r" % names)

    # Step 5 with the start of xcp-router failing on node a: a's services stay down.
    _set_fails(fails, ["start %s xcp-router" % A])
    before = len(_calls(calls))
    r = admin.next(JID, NODE, r.sessionid, timeout=60)
    pc.at_step(r, 5)
    check("%s xcp-router: failed: start hook exited with status 3" % A in pc.notes(r, "warn"),
          "notes %r" % r.notes)
    check("start %s xcp-router" % A in _calls(calls, before), "calls %r" % _calls(calls))
    _set_fails(fails, [])
    r = admin.next(JID, NODE, r.sessionid, timeout=60)
    pc.at_step(r, 6)
    sid = r.sessionid
    check(h.wait_for(lambda: "step 7 of 7" in pc.title(admin.next(JID, NODE, sid)),
                     20 * h.SLOW, interval=0.3), "sessions never back")
    r = admin.complete(JID, NODE, sid)
    check(r.status == "completed" and not tc.error_notes(r), "step 7: %r" % r)
    check(pc.ha_states(admin) == {"on"}, "HA not on")
    # Every service was stopped once and started once on each node, in the guide's order.
    seen = _calls(calls)
    for node in (A, B):
        ours = [c.split(" ")[0] + " " + c.split(" ")[2] for c in seen if " %s " % node in c]
        check(ours[-5:] == ["start xcp-router", "start client-profile-agent", "start sync-agent",
                            "activate sip-proxy", "activate presence-engine"],
              "%s: %r" % (node, ours))
    r = admin.execute(JID, NODE)
    pc.at_step(r, 1)
    admin.cancel(JID, NODE, r.sessionid)


h.tap.timeout *= 3  # two dozen hook runs, a key and three router reloads on a loaded machine
h.tap.run([
    test_renames_and_failures_to_completion,
])
