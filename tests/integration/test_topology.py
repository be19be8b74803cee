# topology, topology/edit and services through a real Prosody: nodes and groups with the guide's
# naming and group rules, and the control center with hooks that fail, reported per node and
# service, and "start what we stopped" as one action.
import os
import stat
import subprocess
import sys
import time

sys.dont_write_bytecode = True
import harness as h  # noqa: E402
from harness import check  # noqa: E402
import topo_common as tc  # noqa: E402

JID = tc.JID
A, B = "cup-a.example.test", "cup-b.example.test"

HOOK = """#!/bin/sh
# $1 node, $2 service, $3 operation; one line per call in the log
echo "$3 $1 $2" >> "%s"
[ "$1" = "%s" ] && [ "$2" = "sync-agent" ] && [ "$3" = "stop" ] && exit 3
[ "$2" = "sip-proxy" ] && [ "$3" = "activate" ] && [ -e "%s" ] && sleep 30
exit 0
"""


def _hooked_daemon(p, script_text, hook_timeout):
    """A daemon whose start and stop hooks run `script_text` (a shell script; %s is the path
    of its call log). Returns (daemon, call log path)."""
    calls = os.path.join(h.tmpdir("hook"), "calls.log")
    script = os.path.join(os.path.dirname(calls), "hook.sh")
    with open(script, "w") as f:
        f.write(script_text % calls)
    os.chmod(script, stat.S_IRWXU)
    argv = "%s {node} {service} {operation}" % script
    return tc.daemon(p, settings={"services": {"start_hook": argv, "stop_hook": argv,
                                               "hook_timeout": hook_timeout}}), calls


def _services(c, operation, nodes=(), services=()):
    r = c.execute(JID, "services")
    r = c.complete(JID, "services", r.sessionid,
                   form={"nodes": list(nodes), "services": list(services),
                         "operation": operation}, timeout=60)
    return r, [(row["node"][0], row["service"][0], row["ok"][0], row["outcome"][0])
               for row in r.items()]


def _states(c):
    r = c.execute(JID, "services")
    out = {}
    for f in r.form.findall("{%s}field" % h.NS_DATA):
        if f.get("type") == "fixed":
            text = f.find("{%s}value" % h.NS_DATA).text
            node_service, state = text.rsplit(": ", 1)
            out[tuple(node_service.split(" "))] = state
    c.cancel(JID, "services", r.sessionid)
    return out


def test_edit_nodes_and_groups():
    "topology/edit: nodes, groups of at most two, naming rules; topology shows them"
    p = h.Prosody()
    d = tc.daemon(p)
    c = h.Client(p, "admin")
    tc.add_node(c, A, "publisher", "g1")
    tc.add_node(c, B, "subscriber", "g1")
    r = tc.edit(c, "add-node", {"name": "cup-c.example.test", "role": "subscriber",
                                "release": "15.0", "group": "g1"})
    check(tc.error_notes(r) and "two nodes" in tc.error_notes(r)[0], "third node: %r" % r)
    r = tc.edit(c, "add-node", {"name": "cup-c.example.test", "role": "publisher",
                                "release": "15.0", "group": "g2"})
    check(tc.error_notes(r) and "publisher" in tc.error_notes(r)[0], "second publisher: %r" % r)
    # A hostname-only node is fine while every node shares one DNS domain...
    tc.add_node(c, "cupc", "subscriber", "g2")
    # ... and then no node may come from another one.
    r = tc.edit(c, "add-node", {"name": "cup-d.other.test", "role": "subscriber",
                                "release": "15.0", "group": "g2"})
    why = " ".join(tc.error_notes(r))
    check("cupc" in why and "example.test, other.test" in why, "naming refusal %r" % why)
    r = tc.edit(c, "remove-node", {"node": "cupc"})
    check(not tc.error_notes(r), "remove: %r" % r)
    tc.add_node(c, "cup-c.other.test", "subscriber", "g2", release="9.1.1")
    r = c.execute(JID, "topology/edit")
    r = c.next(JID, "topology/edit", r.sessionid, form={"action": "add-node"})
    err = c.complete(JID, "topology/edit", r.sessionid,
                     form={"name": "bad_name.example.test", "role": "subscriber",
                           "group": "g2"})
    check(err.rejected() and err.sessionid == r.sessionid, "bad name: %r" % err)
    c.cancel(JID, "topology/edit", r.sessionid)
    t = c.execute(JID, "topology")
    rows = {row["node"][0]: row for row in t.items()}
    check(set(rows) == {A, B, "cup-c.other.test"}, "nodes %r" % sorted(rows))
    check(rows[A]["role"] == ["publisher"] and rows[B]["group"] == ["g1"], "rows %r" % rows)
    r = tc.edit(c, "update-node", {"node": "cup-c.other.test", "release": "14.0"})
    check(not tc.error_notes(r), "update: %r" % r)
    rows = {row["node"][0]: row for row in c.execute(JID, "topology").items()}
    check(rows["cup-c.other.test"]["release"] == ["14.0"], "release %r" % rows)
    # Removing the only node of g2 removes the group too.
    r = tc.edit(c, "remove-node", {"node": "cup-c.other.test"})
    check(not tc.error_notes(r), "remove: %r" % r)


def test_services_hooks_and_start_stopped():
    "services: a failing hook is reported per node and service; start-stopped restarts ours"
    p = h.Prosody()
    hang = os.path.join(h.tmpdir("hang"), "hang")
    d, calls = _hooked_daemon(p, HOOK % ("%s", B, hang), 2)
    c = h.Client(p, "admin")
    tc.add_node(c, A, "publisher", "g1")
    tc.add_node(c, B, "subscriber", "g1")
    r, rows = _services(c, "stop-all")
    by = {(n, s): (ok, out) for n, s, ok, out in rows}
    # The guide: stop the three network services, then deactivate the two feature services.
    check([s for n, s, _, _ in rows if n == A] ==
          ["client-profile-agent", "sync-agent", "xcp-router", "sip-proxy", "presence-engine"],
          "order on a: %r" % rows)
    check(by[(B, "client-profile-agent")] == ("yes", "stopped"), "b cpa: %r" % rows)
    check(all(by[(A, s)][0] == "yes" for s in ("sync-agent", "xcp-router")), "a: %r" % rows)
    check(by[(B, "sync-agent")] == ("no", "failed: stop hook exited with status 3"),
          "b sync-agent: %r" % (by[(B, "sync-agent")],))
    check(by[(B, "xcp-router")][1].startswith("skipped"), "b router: %r" % (by[(B, "xcp-router")],))
    check(any(kind == "warn" for kind, _ in r.notes), "no warning note: %r" % r.notes)
    states = _states(c)
    check((A, "xcp-router") in states, "states %r" % states)
    check(states[(A, "xcp-router")] == "stopped" and states[(A, "sip-proxy")] == "deactivated",
          "a states %r" % states)
    check(states[(B, "sync-agent")] == "running" and states[(B, "xcp-router")] == "running",
          "b states %r" % states)
    # Step 6, on the nodes where we stopped something: restart the three network services
    # (those already down are just started), then activate what we deactivated.
    r, rows = _services(c, "start-stopped")
    check([(n, s) for n, s, _, _ in rows if n == A] ==
          [(A, "xcp-router"), (A, "client-profile-agent"), (A, "sync-agent"),
           (A, "sip-proxy"), (A, "presence-engine")], "start-stopped %r" % rows)
    check(all(ok == "yes" for n, _, ok, _ in rows if n == A), "start-stopped %r" % rows)
    # On b we stopped client-profile-agent only; restarting the network services stops the
    # running sync-agent first, and the hook refuses that on b: the rest is skipped.
    check([(s, ok) for n, s, ok, _ in rows if n == B] ==
          [("sync-agent", "no"), ("xcp-router", "no"), ("xcp-router", "no"),
           ("client-profile-agent", "no"), ("sync-agent", "no")], "b restart %r" % rows)
    # A hook that hangs is killed at the timeout and reported; the service is left down.
    _services(c, "deactivate", nodes=[A], services=["sip-proxy"])
    open(hang, "w").close()
    r, rows = _services(c, "activate", nodes=[A], services=["sip-proxy"])
    check(rows[0][2] == "no" and "timed out" in rows[0][3], "hang: %r" % rows)
    check(_states(c)[(A, "sip-proxy")] == "deactivated", "state after the timeout")
    # stop is for network services: a feature service is refused with a reason.
    r = c.execute(JID, "services")
    err = c.complete(JID, "services", r.sessionid,
                     form={"services": ["sip-proxy"], "operation": "stop"})
    check(err.rejected() and err.sessionid == r.sessionid, "stop sip-proxy: %r" % err)
    c.cancel(JID, "services", r.sessionid)


def test_stop_while_hook_runs():
    "the daemon stopped while a hook runs: the run is given up and the daemon exits cleanly"
    p = h.Prosody()
    d, calls = _hooked_daemon(p, "#!/bin/sh\necho \"$3 $1 $2\" >> '%s'\nexec sleep 30\n", 60)
    c = h.Client(p, "admin")
    tc.add_node(c, A, "publisher", "g1")
    # Over the control socket, so that the request waits while this test goes on.
    run = subprocess.Popen([os.path.join(h.builddir(), "imdomainctl"), "-s", d.socket, "run",
                            "services", "nodes=" + A, "services=sync-agent", "operation=stop"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    h.defer(run.kill)
    deadline = time.monotonic() + 10 * h.SLOW
    while not (os.path.exists(calls) and "stop" in h.read_text(calls)):
        check(time.monotonic() < deadline, "the stop hook did not start")
        time.sleep(0.05)
    # SIGTERM while the hook sleeps; under IMD_VALGRIND=1 a leak makes the exit status 99.
    check(d.stop() == 0, "exit status after a stop during a hook")
    out, _ = run.communicate(timeout=10 * h.SLOW)
    check(run.returncode != 0, "a run given up was reported done: %r" % out)


h.tap.run([
    test_edit_nodes_and_groups,
    test_services_hooks_and_start_stopped,
    test_stop_while_hook_runs,
])
