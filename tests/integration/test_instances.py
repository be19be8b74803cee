# One serving instance per component JID. ejabberd accepts several connections for one component
# JID and spreads stanzas among them; imdomaind instances find each other by announcing
# themselves to their own JID, and the one that started later stands by (disconnects, retries
# with backoff) until the active one goes away.
import re
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean (distcheck has it read-only)
import harness as h  # noqa: E402
from harness import check  # noqa: E402

JID = "domains.example.test"
# The standby's backoff cap (seconds). It re-connects to check whether the active instance is
# still there; for the few milliseconds until the two have recognised each other the router
# may hand it a stanza, so the "exactly one serves" requests run while its backoff is at the
# cap (a retry every 4-8 s), and the take-over is awaited for up to this long.
STANDBY_RECONNECT_MAX = 8


def _commands_visible(c):
    """True if the instance that answered lists commands for this admin (only d1 has admin@ as
    an admin, so the answer tells which instance took the request)."""
    return len(c.commands(JID)) > 0


def test_one_serves_under_ejabberd():
    "ejabberd, two instances on one JID: the later stands by, exactly one serves, it takes over"
    p = h.Ejabberd()
    d1 = h.Daemon(p)  # admins: admin@example.test
    time.sleep(0.05)  # start times are in ms: make "later" unambiguous
    d2 = h.Daemon(p, admins=["other@example.test"], wait_connected=False,
                  settings={"component": {"reconnect_max": STANDBY_RECONNECT_MAX}})
    t0 = time.monotonic()
    m = d2.wait_log(r"another instance serves %s \(started [^)]*\): the router would split "
                    r"stanzas between us, so this one stands by; disconnecting and retrying"
                    % re.escape(JID), 60)
    check(m, "the later instance did not stand by within a minute")
    h.tap.comment("the later instance stood by %.2f s after it was started"
                  % (time.monotonic() - t0))
    check(d1.wait_log(r"another instance connected as %s .*it must stand by" % re.escape(JID),
                      5), "the earlier instance did not log the other one")
    check(d2.running() and d1.running(), "an instance exited")
    check(d2.wait_log(r"reconnecting in ([4-9]\d{3}) ms", 3 * STANDBY_RECONNECT_MAX),
          "the standby's backoff did not grow to its cap")
    # Exactly one serves: every request is answered by d1 (d2 would list no commands).
    c = h.Client(p, "admin")
    answers = [_commands_visible(c) for _ in range(20)]
    check(all(answers), "requests answered by the standby: %d of 20" % answers.count(False))
    # Two-stage runs (filter form, then the table) keep their session: 10 of 20 failed with
    # "no open session" when both instances served.
    for i in range(10):
        r = c.execute(JID, "domains/list")
        check(r.status == "executing" and r.sessionid, "run %d, stage 1: %r" % (i, r))
        r = c.complete(JID, "domains/list", r.sessionid, form={},
                       form_type="urn:imdomaind:domains/list")
        check(r.status == "completed", "run %d, stage 2: %r" % (i, r))
    # The active one goes away: the standby takes over within its backoff.
    mark = d2.log_size()
    d1.kill()
    t0 = time.monotonic()
    d2.wait_connected(STANDBY_RECONNECT_MAX + 5, after=mark)
    took = time.monotonic() - t0
    h.tap.comment("the standby took over %.2f s after the active one was killed" % took)
    check(took <= STANDBY_RECONNECT_MAX + 2, "took over after %.1f s" % took)
    # It stays: no further step-down once it is alone.
    check(not d2.wait_log(r"stands by", 2 * h.SLOW, start=d2.log_size()), "stood by again")
    check(h.wait_for(lambda: not _commands_visible(c), 5), "d2 does not answer")
    check(c.ping(JID))


def test_alone_never_steps_down():
    "one instance alone (ejabberd and Prosody): its own announcements come back and are ignored"
    for kind in (h.Ejabberd, h.Prosody):
        p = kind()
        d = h.Daemon(p)
        c = h.Client(p, "admin")
        check(c.ping(JID))
        check(not d.wait_log(r"stands by|another instance", 1), "%s: %s" % (p.KIND, d.log_text()))


def _disco(conn, ident):
    conn.send("<iq type='get' id='%s' from='admin@example.test/x' to='%s'><query xmlns='%s'/>"
              "</iq>" % (ident, JID, h.NS_DISCO_INFO))
    return conn.wait_data(r"<iq[^>]*id=['\"]%s['\"][^>]*>.*?</iq>" % ident, 5)


def test_unsettled_bounces_then_serves():
    "ejabberd kind, scripted router: wait errors until 32 announcements came back; silent: stands by"
    r = h.FakeRouter(JID, "s3cret")
    d = h.Daemon(r, wait_connected=False, settings={"router": {"kind": "ejabberd"}})
    # A router that hands none of the announcements back (another connection takes them and
    # does not answer, as a hung instance would): requests bounce, and it stands by.
    first = r.accept()
    check(first.authenticated, "no handshake: %r" % first.text())
    m = _disco(first, "q1")
    check(m and "type='wait'" in m.group(0).replace('"', "'") and "resource-constraint" in
          m.group(0) and "checking whether another instance serves" in m.group(0),
          "not a wait bounce: %r" % (m and m.group(0)))
    check(d.wait_log(r"only 0 of this instance's announcements to %s came back within 5000 ms"
                     % re.escape(JID), 10), "it did not stand by")
    check(d.wait_log(r"instance: standby \(", 1), "no standby line")
    check(not d.wait_log(r"instance: serving", 0.1), "it served without its announcements")
    # The next connection hands every announcement back: it serves, and answers.
    again = r.accept(15)
    check(again.authenticated, "no second handshake")
    seen = 0
    t0 = time.monotonic()
    while not d.wait_log(r"instance: serving as", 0.01) and time.monotonic() - t0 < 10 * h.SLOW:
        msgs = re.findall(r"<message[^>]*>.*?</message>", again.text()[again.mark:], re.S)
        for msg in msgs[seen:]:
            again.send(msg)
        seen = len(msgs)
    check(d.wait_log(r"instance: serving as %s \(32 of its own announcements came back"
                     % re.escape(JID), 1), "not serving after its announcements came back")
    check(d.wait_log(r"instance: active \(it serves the JID\)", 1), "not active")
    m = _disco(again, "q2")
    check(m and "type='result'" in m.group(0).replace('"', "'"), "no answer: %r"
          % (m and m.group(0)))


h.tap.run([
    test_one_serves_under_ejabberd,
    test_alone_never_steps_down,
    test_unsettled_bounces_then_serves,
])
