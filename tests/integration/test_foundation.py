# Integration tests of the XEP-0114 foundation: discovery, ping, version and errors through a real
# Prosody; refusals, restarts and the command line; malformed input from a fake router.
import re
import signal
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean (distcheck has it read-only)
import harness as h  # noqa: E402
from harness import check  # noqa: E402

JID = "domains.example.test"
ADMIN_FROM = "admin@example.test/fake"


def _setup():
    """A router (Prosody, or ejabberd under h.under_ejabberd) + a connected daemon + a logged-in
    admin client."""
    p = h.Router()
    d = h.Daemon(p)
    c = h.Client(p, "admin")
    return p, d, c


# ---------------------------------------------------------------------------------------------
# Through Prosody


def test_disco_info():
    "disco#info on the component JID: identity and features"
    _, _, c = _setup()
    info = c.disco_info(JID)
    cats = [cat for cat, _, _ in info["identities"]]
    check(any(cat in ("component", "automation") for cat in cats),
          "identities: %r" % info["identities"])
    for ns in (h.NS_DISCO_INFO, h.NS_DISCO_ITEMS, h.NS_COMMANDS, h.NS_PING, h.NS_VERSION):
        check(ns in info["features"], "feature %s missing from %r" % (ns, info["features"]))
    check(len(set(info["features"])) == len(info["features"]), "duplicate features")


def test_disco_items():
    "disco#items on the component JID and on the commands node answer with a result"
    _, _, c = _setup()
    items = c.disco_items(JID)
    for jid, _, _ in items:
        check(jid, "item without a jid: %r" % items)
    cmds = c.disco_items(JID, h.NS_COMMANDS)
    for jid, node, _ in cmds:
        check(jid == JID and node, "command item %r" % ((jid, node),))


def test_ping():
    "XEP-0199 ping to the component is answered"
    _, _, c = _setup()
    check(c.ping(JID))


def test_version():
    "XEP-0092 version: name imdomaind, version non-empty"
    _, _, c = _setup()
    name, version, _ = c.version(JID)
    check(name == "imdomaind", "name %r" % name)
    check(version, "empty version %r" % version)


def test_unknown_iq():
    "an iq get/set of an unknown namespace gets service-unavailable"
    _, _, c = _setup()
    for kind in ("get", "set"):
        r = c.iq("<iq type='%s' to='%s'><foo xmlns='urn:example:unknown'/></iq>" % (kind, JID))
        check(r.get("type") == "error", "reply to %s: %s" % (kind, h.ET.tostring(r, "unicode")))
        etype, cond, _ = h.error_condition(r)
        check(cond == "service-unavailable", "%s: condition %r" % (kind, cond))
        check(etype == "cancel", "%s: error type %r" % (kind, etype))


def test_wrong_secret():
    "wrong secret: exit status 2, the log names the JID and both possible causes"
    p = h.Router()
    d = h.Daemon(p, secret="not-the-secret", wait_connected=False)
    rc = d.wait_exit(10)
    check(rc == 2, "exit status %r" % rc)
    check(re.search(r"the router refused the handshake for JID %s \(not-authorized\): either "
                    r"the secret is wrong or the router has no component entry for %s"
                    % (re.escape(JID), re.escape(JID)), d.log_text()),
          "no 'refused the handshake ... secret is wrong or ... no component entry' line")


def test_unknown_component():
    "a JID without a Component entry: exit status 2, the log says the router does not know it"
    p = h.Router()
    d = h.Daemon(p, jid="nope.example.test", secret="s3cret", wait_connected=False)
    rc = d.wait_exit(10)
    check(rc == 2, "exit status %r" % rc)
    if p.KIND == "ejabberd":  # not-authorized, as for a wrong secret: both causes are named
        want = r"either the secret is wrong or the router has no component entry for nope"
    else:  # Prosody: host-unknown
        want = r"has no Component entry for nope\.example\.test"
    check(re.search(want, d.log_text()), "no %r line" % want)


def test_router_restart():
    "the router killed and restarted: the daemon is back within seconds and answers a ping"
    p, d, c = _setup()
    check(c.ping(JID))
    c.close()
    mark = d.log_size()
    p.kill()
    check(d.wait_log(r"router link: down", 5, start=mark), "the daemon did not notice")
    p.start()
    t0 = time.monotonic()  # ejabberd takes seconds to start: count from when it listens
    d.wait_connected(10, after=mark)
    took = time.monotonic() - t0
    check(took < 6 * h.SLOW, "took %.1f s to connect again" % took)
    # ejabberd keeps accounts in Mnesia dets files that SIGKILL can leave without the last
    # writes (a crash, after all): register again there (kept if it survived).
    c2 = h.Client(p, "admin", register=(p.KIND == "ejabberd"))
    check(c2.ping(JID))
    check(d.running(), "the daemon exited")


def test_conflict():
    "a second daemon with the same JID: conflict is logged and retried, the first keeps working"
    p, d1, c = _setup()
    d2 = h.Daemon(p, wait_connected=False)
    check(d2.wait_log(r"another instance is connected as %s" % re.escape(JID), 10),
          "no conflict line in the second daemon's log")
    check(d2.running(), "the second daemon gave up (exit %r)" % d2.proc.poll())
    check(c.ping(JID))
    check(d1.running())
    # When the first goes away, the second takes over.
    mark = d2.log_size()
    check(d1.stop() == 0)
    d2.wait_connected(10, after=mark)
    check(c.ping(JID))


def test_check_config_ok():
    "imdomaind -n on a good config prints 'configuration OK'"
    p = h.Prosody(start=False)
    d = h.Daemon(p, start=False)
    rc, out, err = d.check_config()
    check(rc == 0, "exit %r, output %r %r" % (rc, out, err))
    check("configuration OK" in out, "stdout %r" % out)
    check("one serving instance per component JID (%s): active/standby, not load-balancing"
          % JID in out, "stdout %r" % out)


def _line_of(path, text):
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if line.startswith(text):
                return n
    raise AssertionError("%r not in %s" % (text, path))


def test_check_config_bad():
    "imdomaind -n on a config with an unknown key and a bad value: FILE:LINE for each, exit 1"
    p = h.Prosody(start=False)
    d = h.Daemon(p, start=False, settings={"component": {"bogus_key": "1"},
                                            "commands": {"session_timeout": "soon"}})
    rc, out, err = d.check_config()
    both = out + err
    check(rc == 1, "exit %r, output %r" % (rc, both))
    for key in ("bogus_key", "session_timeout"):
        where = "%s:%d:" % (d.config, _line_of(d.config, key))
        check(where in both, "%s not reported as %s in %r" % (key, where, both))
    check("configuration OK" not in both)
    # Starting for real with the same file fails the same way.
    d.start(wait_connected=False)
    check(d.wait_exit(10) == 1, "start with a bad config: exit %r" % d.proc.poll())


def test_sigterm():
    "SIGTERM: clean exit with status 0, promptly"
    _, d, c = _setup()
    check(c.ping(JID))
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    rc = d.wait_exit(5)
    check(rc == 0, "exit status %r" % rc)
    check(time.monotonic() - t0 < 3 * h.SLOW, "took %.1f s" % (time.monotonic() - t0))


# ---------------------------------------------------------------------------------------------
# Against the fake router


def _fake(settings=None):
    r = h.FakeRouter(JID, "s3cret")
    d = h.Daemon(r, settings=settings)
    conn = r.accept()
    check(conn.authenticated, "handshake: %s %r" % (conn.problem, conn.data))
    check(conn.to == JID, "stream header to=%r" % conn.to)
    return r, d, conn


def _ping_through(conn, ident):
    """Sends a ping as if from a client; waits for the daemon's result."""
    start = len(conn.text())
    conn.send("<iq type='get' id='%s' from='%s' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>"
              % (ident, ADMIN_FROM, JID))
    m = conn.wait_data(r"<iq\b[^>]*\bid=['\"]%s['\"][^>]*>" % re.escape(ident), 5, start=start)
    check(m, "no reply to ping %s; got %r" % (ident, conn.text()[start:]))
    tag = m.group(0)
    check(re.search(r"type=['\"]result['\"]", tag), "reply %s" % tag)
    check(re.search(r"to=['\"]%s['\"]" % re.escape(ADMIN_FROM), tag), "reply %s" % tag)
    return tag


def _expect_stream_error(r, d, conn, condition):
    """The daemon answers with <stream:error><condition/>, closes, reconnects and still works."""
    m = conn.wait_data(r"<stream:error>.*?</stream:error>", 5, start=conn.mark)
    check(m, "no stream error; got %r" % conn.text()[conn.mark:])
    check(re.search(r"<%s xmlns=['\"]%s['\"]\s*/>" % (condition, re.escape(h.NS_STREAM_ERR)),
                    m.group(0)), "expected %s, got %s" % (condition, m.group(0)))
    check(conn.wait_closed(5), "the daemon did not close the connection")
    again = r.accept()
    check(again.authenticated, "the reconnect failed: %r" % again.data)
    check(d.running(), "the daemon exited with %r" % d.proc.poll())
    _ping_through(again, "alive")


def test_fake_router_ping():
    "fake router: handshake digest accepted; ping answered; bytes split anyhow are fine"
    _, _, conn = _fake()
    _ping_through(conn, "p1")
    stanza = ("<iq type='get' id='p2' from='%s' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>"
              % (ADMIN_FROM, JID)).encode()
    for i in range(len(stanza)):
        conn.send(stanza[i:i + 1])
        time.sleep(0.001)
    check(conn.wait_data(r"id=['\"]p2['\"]", 5), "no reply to the byte-by-byte ping")


def test_reply_from():
    "replies carry from= the component JID (Prosody adds a missing one, others refuse)"
    _, _, conn = _fake()
    tag = _ping_through(conn, "f1")
    check(re.search(r"from=['\"]%s['\"]" % re.escape(JID), tag), "reply without from=%s: %s"
          % (JID, tag))
    start = len(conn.text())
    conn.send("<iq type='get' id='f2' from='%s' to='%s'><foo xmlns='urn:example:unknown'/></iq>"
              % (ADMIN_FROM, JID))
    m = conn.wait_data(r"<iq\b[^>]*\bid=['\"]f2['\"][^>]*>", 5, start=start)
    check(m, "no error reply: %r" % conn.text()[start:])
    check(re.search(r"from=['\"]%s['\"]" % re.escape(JID), m.group(0)),
          "error reply without from=%s: %s" % (JID, m.group(0)))


def test_no_reply_to_result_or_error():
    "iq result and error stanzas are never answered"
    _, _, conn = _fake()
    conn.send("<iq type='result' id='r1' from='%s' to='%s'/>" % (ADMIN_FROM, JID))
    conn.send("<iq type='error' id='e1' from='%s' to='%s'><error type='cancel'>"
              "<item-not-found xmlns='%s'/></error></iq>" % (ADMIN_FROM, JID, h.NS_STANZAS))
    _ping_through(conn, "after")
    check(not re.search(r"id=['\"](r1|e1)['\"]", conn.text()), "answered: %r" % conn.text())


def test_oversized_stanza():
    "a stanza above max_stanza_size: policy-violation, reconnect, still alive"
    r, d, conn = _fake({"component": {"max_stanza_size": 8192}})
    conn.send("<message from='%s' to='%s'><body>%s</body></message>"
              % (ADMIN_FROM, JID, "x" * 20000))
    _expect_stream_error(r, d, conn, "policy-violation")


def test_stanza_under_limit():
    "a stanza just under max_stanza_size is accepted without a stream error"
    r, d, conn = _fake({"component": {"max_stanza_size": 8192}})
    head = "<message from='%s' to='%s'><body>" % (ADMIN_FROM, JID)
    tail = "</body></message>"
    conn.send(head + "y" * (8192 - len(head) - len(tail) - 64) + tail)
    _ping_through(conn, "under")
    check("stream:error" not in conn.text(), conn.text()[conn.mark:][:300])
    check(len(r.conns) == 1, "the daemon reconnected")


def test_malformed_xml():
    "malformed XML: not-well-formed, reconnect"
    r, d, conn = _fake()
    conn.send("<message from='%s' to='%s'><body>a</bodyx></message>" % (ADMIN_FROM, JID))
    _expect_stream_error(r, d, conn, "not-well-formed")


def test_processing_instruction():
    "a processing instruction inside the stream: restricted-xml"
    r, d, conn = _fake()
    conn.send("<?evil data?>")
    _expect_stream_error(r, d, conn, "restricted-xml")


def test_comment():
    "an XML comment inside the stream: restricted-xml"
    r, d, conn = _fake()
    conn.send("<message from='%s' to='%s'><!-- hi --><body>a</body></message>"
              % (ADMIN_FROM, JID))
    _expect_stream_error(r, d, conn, "restricted-xml")


def test_doctype():
    "a DOCTYPE (entity expansion) before the router's stream header: restricted-xml"
    r = h.FakeRouter(JID, "s3cret")
    r.header_prefix = ("<!DOCTYPE stream:stream [<!ENTITY a 'aaaaaaaaaa'>"
                       "<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>]>")
    d = h.Daemon(r, wait_connected=False)
    first = r.accept()
    m = first.wait_data(r"<stream:error>.*?</stream:error>", 5)
    check(m and "<restricted-xml" in m.group(0), "got %r" % first.text())
    check(not first.authenticated, "the daemon answered a DOCTYPE header with a handshake")
    check(first.wait_closed(5), "not closed")
    r.header_prefix = ""
    again = r.accept()
    check(again.authenticated, "the reconnect failed: %r" % again.data)
    d.wait_connected(5)
    _ping_through(again, "alive")


def test_too_deep():
    "nesting deeper than max_depth: policy-violation, reconnect"
    r, d, conn = _fake({"component": {"max_depth": 8}})
    conn.send("<message from='%s' to='%s'>%s%s</message>"
              % (ADMIN_FROM, JID, "<a>" * 20, "</a>" * 20))
    _expect_stream_error(r, d, conn, "policy-violation")


def test_no_from():
    "stanzas without from (a router bug or a hostile router): dropped once at dispatch, no crash"
    _, d, conn = _fake({"peers": {"jids": "peer.example.org"}})
    payloads = {
        "n1": "<iq type='get' id='n1' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>",
        "n2": "<iq type='get' id='n2' to='%s'><query xmlns='jabber:iq:version'/></iq>",
        "n3": "<iq type='get' id='n3' to='%s'><query "
              "xmlns='http://jabber.org/protocol/disco#info'/></iq>",
        "n4": "<iq type='get' id='n4' to='%s'><query "
              "xmlns='http://jabber.org/protocol/disco#items' "
              "node='http://jabber.org/protocol/commands'/></iq>",
        "n5": "<iq type='set' id='n5' to='%s'><command "
              "xmlns='http://jabber.org/protocol/commands' node='domains/list'/></iq>",
        "n6": "<iq type='get' id='n6' to='%s'><query xmlns='urn:imdomaind:peer:0'/></iq>",
        "n7": "<iq type='get' id='n7' to='%s'><foo xmlns='urn:example:unknown'/></iq>",
        "n8": "<iq type='result' id='n8' to='%s'/>",
        "n9": "<iq type='get' id='n9' from='' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>",
    }
    start = len(conn.text())
    for ident, xml in payloads.items():
        conn.send(xml % JID)
    conn.send("<presence to='%s'/>" % JID)
    conn.send("<presence type='unavailable' to='%s'/>" % JID)
    conn.send("<message to='%s'><body>hi</body></message>" % JID)
    _ping_through(conn, "after-no-from")
    check(d.running(), "the daemon exited with %r" % d.proc.poll())
    answered = re.findall(r"id=['\"](n\d)['\"]", conn.text()[start:])
    check(not answered, "answered stanzas without from (to nobody): %r" % answered)
    check(d.wait_log(r"dispatch: dropped <iq/> without from", 2), "no log line for the drop")


def test_router_closes_stream():
    "the router closes the stream: the daemon closes its side and reconnects"
    r, d, conn = _fake()
    conn.send("</stream:stream>")
    check(conn.wait_data(r"</stream:stream>", 5, start=conn.mark), "no closing tag")
    check(conn.wait_closed(5), "not closed")
    again = r.accept()
    check(again.authenticated)
    _ping_through(again, "alive")


h.tap.run([
    test_disco_info,
    test_disco_items,
    test_ping,
    test_version,
    test_unknown_iq,
    test_wrong_secret,
    test_unknown_component,
    test_router_restart,
    test_conflict,
    test_check_config_ok,
    test_check_config_bad,
    test_sigterm,
    test_fake_router_ping,
    test_reply_from,
    test_no_reply_to_result_or_error,
    test_oversized_stanza,
    test_stanza_under_limit,
    test_malformed_xml,
    test_processing_instruction,
    test_comment,
    test_doctype,
    test_too_deep,
    test_no_from,
    test_router_closes_stream,
] + h.under_ejabberd([
    test_disco_info,
    test_ping,
    test_version,
    test_unknown_iq,
    test_wrong_secret,
    test_unknown_component,
    test_router_restart,
    test_sigterm,
]))
