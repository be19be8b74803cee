#!/usr/bin/python3
# topology/edit's user actions run to completion through a real Prosody and a slixmpp admin:
# assign-users puts the named users on a node, balance-users spreads the unassigned ones over
# the least loaded nodes, remove-node leaves its users unassigned; users/list and sessions show
# the result. An unknown user or node changes nothing.
import sys

sys.dont_write_bytecode = True
import harness as h  # noqa: E402
from harness import check  # noqa: E402
import topo_common as tc  # noqa: E402

JID = tc.JID
A, B = "cup-a.example.test", "cup-b.example.test"
USERS = ["u1", "u2", "u3", "u4", "u5"]


def assigned(c):
    """{userid: node or ''} from users/list."""
    r = tc.one_shot(c, "users/list", {"filter": "", "page": "1"})
    check(r.status == "completed", "users/list: %r" % r)
    return {row["userid"][0]: (row.get("node") or [""])[0] for row in r.items()}


def per_node(c):
    return {node: users for node, (_, _, users) in tc.sessions(c).items()}


def test_assign_balance_remove():
    "assign-users, balance-users, remove-node: users/list and sessions show who is on which node"
    p = h.Prosody()
    tc.daemon(p)
    c = h.Client(p, "admin")
    tc.add_node(c, A, "publisher", "g1")
    tc.add_node(c, B, "subscriber", "g1")
    tc.import_users(c, ["%s,%s@corp.example" % (u, u) for u in USERS])
    check(set(assigned(c).values()) == {""}, "assigned before: %r" % assigned(c))

    r = tc.edit(c, "assign-users", {"users": ["u1", "u2"], "node": A})
    check(not tc.error_notes(r), "assign: %r" % r)
    check(any("2 users assigned to %s" % A in t for _, t in r.notes), "assign note %r" % r.notes)
    check(assigned(c) == {"u1": A, "u2": A, "u3": "", "u4": "", "u5": ""}, repr(assigned(c)))

    # The least loaded node takes the next user; a tie goes to the first by name.
    r = tc.edit(c, "balance-users", {})
    check(not tc.error_notes(r), "balance: %r" % r)
    check(any("3 unassigned users spread" in t for _, t in r.notes), "balance note %r" % r.notes)
    check(assigned(c) == {"u1": A, "u2": A, "u3": B, "u4": B, "u5": A}, repr(assigned(c)))
    check(per_node(c) == {A: 3, B: 2}, "sessions table %r" % per_node(c))
    r = tc.edit(c, "balance-users", {}, lang="ko")
    check(any("0명" in t for _, t in r.notes), "nothing left to balance: %r" % r.notes)

    # An unknown node or user: a clear error and nothing changes (one transaction).
    before = assigned(c)
    r = tc.edit(c, "assign-users", {"users": ["u1", "nobody"], "node": B})
    check(tc.error_notes(r), "an unknown user was accepted: %r" % r)
    check(assigned(c) == before, "a refused assignment changed %r" % assigned(c))

    # Removing a node leaves its users unassigned; balancing puts them on what is left.
    r = tc.edit(c, "remove-node", {"node": B})
    check(not tc.error_notes(r), "remove: %r" % r)
    check(assigned(c) == {"u1": A, "u2": A, "u3": "", "u4": "", "u5": A}, repr(assigned(c)))
    tc.edit(c, "balance-users", {})
    check(set(assigned(c).values()) == {A}, repr(assigned(c)))
    check(per_node(c) == {A: 5}, "sessions table %r" % per_node(c))


h.tap.run([
    test_assign_balance_remove,
])
