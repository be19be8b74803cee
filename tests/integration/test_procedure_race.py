# procedure/domain-change with two administrators at once: each answers a form the other has
# made stale (the run moved on, was canceled or finished meanwhile). The stale answer must not
# run a step twice or apply a step's changes late; it says so and shows where the run is now.
import sys

sys.dont_write_bytecode = True
import harness as h  # noqa: E402
from harness import check  # noqa: E402
import proc_common as pc  # noqa: E402
import topo_common as tc  # noqa: E402

JID, NODE = pc.JID, pc.NODE
A = "cup-a.example.test"
MOVED = "The procedure moved on (or ended) meanwhile"


def _setup():
    p = h.Prosody()
    d = tc.daemon(p, {"ha": {"settle_time": 0},
                      "admins": {"jids": "admin@%s, admin2@%s" % (p.host, p.host)}})
    one, two = h.Client(p, "admin"), h.Client(p, "admin2")
    tc.add_node(one, A, "publisher", "g1")
    r = tc.one_shot(one, "ha/enable", {})
    check(not tc.error_notes(r), "ha/enable: %r" % r.notes)
    return p, d, one, two


def _stale(r, step):
    """The answer to a stale form: a warning, and the form of the step the run is at."""
    check(MOVED in pc.notes(r, "warn"), "no warning: %r" % r.notes)
    pc.at_step(r, step)


def test_two_admins_move_the_run_on():
    "two admins: stale answers at steps 1, 2, 3 and 7 show where the run is and change nothing"
    p, d, one, two = _setup()
    # Both see step 1 of a run that does not exist yet; the first starts it.
    r1 = one.execute(JID, NODE)
    r2 = two.execute(JID, NODE)
    pc.at_step(r1, 1)
    pc.at_step(r2, 1)
    r1 = one.next(JID, NODE, r1.sessionid)
    pc.at_step(r1, 2)
    check(pc.ha_states(one) == {"off"}, "HA still on")
    # The second's next on step 1 does not start a second run: it is shown step 2.
    r2 = two.next(JID, NODE, r2.sessionid)
    _stale(r2, 2)
    r = one.execute(JID, NODE)
    check(any("started by admin@%s is at step 2" % p.host in line for line in pc.fixed(r)),
          "lines %r" % pc.fixed(r))
    one.cancel(JID, NODE, r.sessionid)
    # The second runs step 2; the first's step 2 form is stale and stops nothing twice.
    r2 = pc.next_until_ready(two, r2.sessionid)
    pc.at_step(r2, 3)
    r1 = one.next(JID, NODE, r1.sessionid)
    _stale(r1, 3)
    # The first makes step 3's change; the second's step 3 form, answered late, adds nothing.
    r1 = one.next(JID, NODE, r1.sessionid, form={"add": ["first.example.test"]}, timeout=30)
    pc.at_step(r1, 4)
    r2 = two.next(JID, NODE, r2.sessionid, form={"add": ["second.example.test"]}, timeout=30)
    _stale(r2, 4)
    listed = {row["domain"][0] for row in tc.one_shot(one, "domains/list", {}).items()}
    check("first.example.test" in listed and "second.example.test" not in listed,
          "domains %r" % sorted(listed))
    # Steps 4 and 5 (TLS federation is off; no users, so step 6 has nothing to wait for).
    r2 = two.next(JID, NODE, r2.sessionid)
    pc.at_step(r2, 5)
    check("TLS federation is off" in pc.notes(r2, "info"), "notes %r" % r2.notes)
    r2 = two.next(JID, NODE, r2.sessionid)
    pc.at_step(r2, 6)
    r2 = two.next(JID, NODE, r2.sessionid)
    pc.at_step(r2, 7)
    # Both look at step 7; the first completes it, the second's complete is stale.
    r1 = one.next(JID, NODE, r1.sessionid)
    _stale(r1, 7)
    r1 = one.complete(JID, NODE, r1.sessionid)
    check(r1.status == "completed" and "complete" in pc.notes(r1, "info"), "step 7: %r" % r1)
    check(pc.ha_states(one) == {"on"}, "HA not on")
    r2 = two.complete(JID, NODE, r2.sessionid)
    _stale(r2, 1)
    two.cancel(JID, NODE, r2.sessionid)
    check(pc.ha_states(one) == {"on"}, "the stale answer changed HA")


def test_run_canceled_under_a_view():
    "one admin cancels the run while the other watches step 6 or is offered to resume"
    p, d, one, two = _setup()
    r1 = one.execute(JID, NODE)
    r1 = one.next(JID, NODE, r1.sessionid)
    r1 = pc.next_until_ready(one, r1.sessionid)
    pc.at_step(r1, 3)
    r1 = one.next(JID, NODE, r1.sessionid, form={"add": [], "rename": [], "delete": []},
                  timeout=30)
    pc.at_step(r1, 4)
    r1 = one.next(JID, NODE, r1.sessionid)
    r1 = one.next(JID, NODE, r1.sessionid)
    pc.at_step(r1, 6)
    # The second is offered to resume, and cancels the run instead.
    r2 = two.execute(JID, NODE)
    r2 = two.next(JID, NODE, r2.sessionid, form={"action": "cancel"})
    check(r2.status == "completed" and "canceled" in pc.notes(r2, "info"), "cancel %r" % r2)
    check("HA is still off on group g1" in pc.notes(r2, "warn"), "leftovers %r" % r2.notes)
    # The first's step 6 view: next finds no run; it says so and offers a new one.
    r1 = one.next(JID, NODE, r1.sessionid)
    _stale(r1, 1)
    one.cancel(JID, NODE, r1.sessionid)
    # A choice answered after the run ended: resume finds none and offers a new run.
    r1 = one.execute(JID, NODE)
    r1 = one.next(JID, NODE, r1.sessionid)
    pc.at_step(r1, 2)
    r2 = two.execute(JID, NODE)
    check(r2.field("action") is not None, "no choice offered: %r" % r2)
    r = one.execute(JID, NODE)
    r = one.next(JID, NODE, r.sessionid, form={"action": "cancel"})
    check(r.status == "completed", "cancel %r" % r)
    r2 = two.next(JID, NODE, r2.sessionid, form={"action": "resume"})
    pc.at_step(r2, 1)
    two.cancel(JID, NODE, r2.sessionid)
    one.cancel(JID, NODE, r1.sessionid)


h.tap.run([
    test_two_admins_move_the_run_on,
    test_run_canceled_under_a_view,
])
