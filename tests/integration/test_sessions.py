# Presence sessions through a real Prosody: provisioned users subscribe to the component and
# are counted per full JID and per node through logins, logouts, several resources and a daemon
# restart; strangers are refused; ha/enable waits for the sessions to come back.
import asyncio
import sys

sys.dont_write_bytecode = True
import harness as h  # noqa: E402
from harness import check  # noqa: E402
import topo_common as tc  # noqa: E402

JID = tc.JID
NODES = ("cup-a.example.test", "cup-b.example.test")
USERS = 20


def _presence(c, **kw):
    async def send():
        c.xmpp.send_presence(**kw)
    h._run(send(), 5)


def _cluster(users=USERS, settings=None):
    """Prosody, the daemon, an admin, two nodes in one group and `users` users split over them,
    each logged in and subscribed to the component."""
    p = h.Router()
    d = tc.daemon(p, settings)
    admin = h.Client(p, "admin")
    tc.add_node(admin, NODES[0], "publisher", "g1")
    tc.add_node(admin, NODES[1], "subscriber", "g1")
    names = ["u%02d" % i for i in range(users)]
    tc.import_users(admin, ["%s,%s@%s,%s" % (u, u, p.host, NODES[i % 2])
                            for i, u in enumerate(names)])
    clients = {}
    for u in names:
        clients[u] = h.Client(p, u)
        _presence(clients[u], pto=JID, ptype="subscribe")
    return p, d, admin, clients


def _expect(admin, a, b, timeout=15):
    """Waits until the sessions table says a sessions on node A and b on node B."""
    want = {NODES[0]: a, NODES[1]: b}
    got = h.wait_for(lambda: {n: v[0] for n, v in tc.sessions(admin).items()} == want and want,
                     timeout * h.SLOW, interval=0.2)
    last = tc.sessions(admin)
    check(got, "sessions %r, expected %r" % (last, want))
    return last


def test_counts_through_logins_and_logouts():
    "20 users on 2 nodes: exact counts through subscriptions, resources, logouts"
    p, d, admin, clients = _cluster()
    table = _expect(admin, 10, 10)
    check(table[NODES[0]] == (10, 10, 10), "node a row %r" % (table[NODES[0]],))
    # A second resource of u00 (node a) counts once more; its user is not counted twice.
    extra = h.Client(p, "u00", register=False, resource="two")
    table = _expect(admin, 11, 10)
    check(table[NODES[0]][1] == 10, "online users on a: %r" % (table[NODES[0]],))
    r = admin.execute(JID, "http://jabber.org/protocol/admin#get-online-users-num")
    check(r.value("onlineusersnum") == "20", "online users %r" % r.value("onlineusersnum"))
    extra.close()
    _expect(admin, 10, 10)
    for u in ("u01", "u03", "u05"):  # node b
        clients[u].close()
    _expect(admin, 10, 7)
    # The same presence again (a status change) does not count twice.
    _presence(clients["u00"], pstatus="busy", pshow="dnd")
    _expect(admin, 10, 7)


def test_stranger_refused():
    "a subscription from someone who is not provisioned is refused"
    p, d, admin, clients = _cluster(users=2)
    stranger = h.Client(p, "mallory")
    start = d.log_size()
    _presence(stranger, pto=JID, ptype="subscribe")
    check(d.wait_log(r"subscription refused jid=mallory@", 10, start=start), "not refused")
    _expect(admin, 1, 1)


def test_restart_rebuilds_table():
    "after a daemon restart, probes rebuild exactly the same counts"
    p, d, admin, clients = _cluster()
    h.Client(p, "u02", register=False, resource="two")
    _expect(admin, 11, 10)
    d.stop()
    d.start()
    _expect(admin, 11, 10)
    clients["u04"].close()
    _expect(admin, 10, 10)


def test_ha_enable_waits_for_sessions():
    "ha/enable is refused while sessions are short of the recorded numbers, then accepted"
    p, d, admin, clients = _cluster(users=6)
    tc.one_shot(admin, "ha/enable", {})  # HA on to begin with
    _expect(admin, 3, 3)
    r = tc.one_shot(admin, "ha/disable", {})
    rows = {row["node"][0]: row["recorded"][0] for row in r.items()}
    check(rows == {NODES[0]: "3", NODES[1]: "3"}, "recorded %r" % rows)
    clients["u01"].close()
    clients["u03"].close()
    _expect(admin, 3, 1)
    r = tc.one_shot(admin, "ha/enable", {})
    why = " ".join(tc.error_notes(r))
    check("node %s: 1 sessions, 3 recorded" % NODES[1] in why, "refusal %r" % why)
    check(NODES[0] + ":" not in why, "node a is fine: %r" % why)
    for u in ("u01", "u03"):
        clients[u] = h.Client(p, u, register=False)
    _expect(admin, 3, 3)
    r = tc.one_shot(admin, "ha/enable", {})
    check(not tc.error_notes(r), "still refused: %r" % r.notes)
    t = admin.execute(JID, "topology")
    check(all(row["ha"][0] == "on" for row in t.items()), "HA not on: %r" % t.items())


def test_small_cluster_and_restart():
    "4 users on 2 nodes: counts through a logout, and rebuilt by probes after a daemon restart"
    p, d, admin, clients = _cluster(users=4)
    _expect(admin, 2, 2)
    clients["u01"].close()  # node b
    _expect(admin, 2, 1)
    d.stop()
    d.start()
    _expect(admin, 2, 1)


h.tap.run([
    test_counts_through_logins_and_logouts,
    test_stranger_refused,
    test_restart_rebuilds_table,
    test_ha_enable_waits_for_sessions,
    test_small_cluster_and_restart,
] + h.under_ejabberd([
    test_counts_through_logins_and_logouts,
    test_stranger_refused,
    test_small_cluster_and_restart,
]))
