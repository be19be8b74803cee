# Integration tests of intercluster peering: two imdomaind instances (two component JIDs on one
# Prosody), each with its own users; peer-only domains, delete semantics, mismatch findings, a
# peer going away and coming back, a non-peer refused, and a fake component posing as a peer that
# answers garbage or too much (clear error, local data intact).
import socket
import sqlite3
import sys
import threading
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # keep the source tree clean (distcheck has it read-only)
import harness as h  # noqa: E402
from harness import check  # noqa: E402

A = "a.example.test"
B = "b.example.test"
FAKE = "fake.example.test"
NS_PEER = "urn:imdomaind:peer:0"
SECRET = "s3cret"


def ft(node):
    return "urn:imdomaind:" + node


def _setup(a_peers=B, b_peers=A, refresh=3600, with_b=True, forget_after=604800):
    """Prosody with three components; daemon A (and B) peering with each other."""
    p = h.Prosody(components={A: SECRET, B: SECRET, FAKE: SECRET})
    a = h.Daemon(p, jid=A, settings={"peers": {"jids": a_peers, "refresh": refresh,
                                               "timeout": 3, "forget_after": forget_after}})
    b = None
    if with_b:
        b = h.Daemon(p, jid=B, settings={"peers": {"jids": b_peers, "refresh": 3600,
                                                   "timeout": 3}})
    c = h.Client(p, "admin")
    return p, a, b, c


def peers(c, jid, action="list", peer=""):
    r = c.execute(jid, "peers", form={"action": action, "jid": peer}, form_type=ft("peers"),
                  timeout=30)
    check(r.status == "completed", "peers %s: %r" % (action, r))
    return r


def peer_rows(r):
    return {row["jid"][0]: {k: v[0] if v else "" for k, v in row.items()} for row in r.items()}


def import_users(c, jid, lines):
    r = c.execute(jid, "users/import", form={"users": list(lines)}, form_type=ft("users/import"),
                  timeout=30)
    check(r.status == "completed", "import: %r" % r)


def add_domain(c, jid, name):
    r = c.execute(jid, "domains/add", form={"domain": name}, form_type=ft("domains/add"))
    check(r.status == "completed" and not [n for n in r.notes if n[0] == "error"],
          "add %s: %r" % (name, r))


def listing(c, jid):
    """({domain: row}, notes text) of domains/list."""
    r = c.execute(jid, "domains/list", form={}, form_type=ft("domains/list"))
    check(r.status == "completed", "list: %r" % r)
    rows = {row["domain"][0]: {k: v[0] for k, v in row.items()} for row in r.items()}
    return rows, " | ".join(t for _, t in r.notes)


def delete_domain(c, jid, name):
    r = c.execute(jid, "domains/delete", form={"domains": [name]}, form_type=ft("domains/delete"))
    check(r.status == "executing", "delete pick: %r" % r)
    r = c.complete(jid, "domains/delete", r.sessionid, form={"confirm": True},
                   form_type=ft("domains/delete"))
    check(r.status == "completed", "delete: %r" % r)
    return {row["domain"][0]: row["outcome"][0] for row in r.items()}


def store_sql(d, sql, *args):
    db = sqlite3.connect(d.store, timeout=10)
    try:
        db.execute(sql, args)
        db.commit()
    finally:
        db.close()


def store_rows(d, sql):
    db = sqlite3.connect("file:%s?mode=ro" % d.store, uri=True, timeout=10)
    try:
        return sorted(db.execute(sql).fetchall())
    finally:
        db.close()


def notes_of(r):
    return " | ".join(t for _, t in r.notes)


# ---------------------------------------------------------------------------------------------
# A component posing as a peer


class FakePeer:
    """Connects to Prosody as a component and answers peer iqs with answer(payload) -> XML of
    the <peer/> payload (or None for no answer). Can also send iqs and wait for the reply."""

    def __init__(self, prosody, jid, answer):
        self.jid = jid
        self.answer = answer
        self.asked = []
        self.replies = {}
        self.cond = threading.Condition()
        self.sock = socket.create_connection(("127.0.0.1", prosody.component_port), timeout=10)
        self.parser = ET.XMLPullParser(events=("start", "end"))
        self.depth = 0
        self.sock.sendall(("<stream:stream xmlns='jabber:component:accept' xmlns:stream="
                           "'http://etherx.jabber.org/streams' to='%s'>" % jid).encode())
        self.stream_id = None
        self.ready = False
        self.thread = threading.Thread(target=self._reader, daemon=True)
        self.thread.start()
        h.defer(self.close)
        check(h.wait_for(lambda: self.stream_id is not None, 10), "no stream header")
        self.sock.sendall(("<handshake>%s</handshake>"
                           % h.handshake_digest(self.stream_id, SECRET)).encode())
        check(h.wait_for(lambda: self.ready, 10), "the fake peer's handshake failed")

    def _reader(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            self.parser.feed(data)
            for ev, el in self.parser.read_events():
                self._event(ev, el)

    def _event(self, ev, el):
        if ev == "start":
            self.depth += 1
            if self.depth == 1:
                self.stream_id = el.get("id")
            return
        self.depth -= 1
        if self.depth != 1:
            return
        tag = el.tag.split("}", 1)[-1]
        if tag == "handshake":
            self.ready = True
        elif tag == "iq":
            self._iq(el)

    def _iq(self, el):
        kind = el.get("type")
        if kind in ("result", "error"):
            with self.cond:
                self.replies[el.get("id")] = el
                self.cond.notify_all()
            return
        payload = el.find("{%s}peer" % NS_PEER)
        if payload is None:
            return
        self.asked.append(dict(payload.attrib))
        body = self.answer(payload)
        if body is None:
            return
        self.send("<iq type='result' id='%s' to='%s' from='%s'>%s</iq>"
                  % (el.get("id"), el.get("from"), self.jid, body))

    def send(self, text):
        self.sock.sendall(text.encode())

    def request(self, to, iq_id="q1", timeout=10):
        self.send("<iq type='get' id='%s' to='%s' from='%s'><peer xmlns='%s'/></iq>"
                  % (iq_id, to, self.jid, NS_PEER))
        with self.cond:
            self.cond.wait_for(lambda: iq_id in self.replies, timeout * h.SLOW)
        return self.replies.get(iq_id)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def good_page(domains, version="v1", default="DOMAIN.NOT.SET", scheme="userid@default",
              uris=(), nxt=None):
    parts = ["<peer xmlns='%s' version='%s' default-domain='%s' scheme='%s'%s>"
             % (NS_PEER, version, default, scheme, " next='%s'" % nxt if nxt else "")]
    for name, configured, users in domains:
        parts.append("<domain name='%s' configured='%s' users='%d'/>"
                     % (name, "true" if configured else "false", users))
    for u in uris:
        parts.append("<uri hash='%s'/>" % u)
    parts.append("</peer>")
    return "".join(parts)


# ---------------------------------------------------------------------------------------------


def test_peer_only_and_delete():
    "peer-only domains are system-managed here; a local delete of a domain a peer configures leaves it peer-only; gone everywhere, it goes"
    _, a, b, c = _setup()
    import_users(c, A, ["alice,alice@shared.example"])
    import_users(c, B, ["bob,bob@bonly.example", "bea,bea@bonly.example"])
    add_domain(c, A, "both.example")
    add_domain(c, B, "both.example")
    r = peers(c, A, "refresh", B)
    row = peer_rows(r)[B]
    check(row["status"] == "ok" and row["error"] == "", "peer row %r" % row)
    check(row["users"] == "2" and row["domains"] == "2", "peer row %r" % row)
    rows, _ = listing(c, A)
    check(rows["bonly.example"]["managed_by"] == "system"
          and rows["bonly.example"]["where"] == "peer-only"
          and rows["bonly.example"]["peer_users"] == "2"
          and rows["bonly.example"]["local_users"] == "0", "bonly %r" % rows)
    check(rows["both.example"]["where"] == "local+peer"
          and rows["both.example"]["managed_by"] == "admin", "both %r" % rows)
    check(rows["shared.example"]["where"] == "local", "shared %r" % rows)
    # B learns about A's domains too (its own refresh)
    peers(c, B, "refresh", A)
    rows_b, _ = listing(c, B)
    check(rows_b["shared.example"]["where"] == "peer-only"
          and rows_b["shared.example"]["peer_users"] == "1", "B's view %r" % rows_b)
    # a refresh with nothing changed since the last one is answered "unchanged" (B's own data
    # changed when it learnt about A's domains: one refresh takes that in first)
    peers(c, A, "refresh", B)
    start = a.log_size()
    peers(c, A, "refresh", B)
    check(a.wait_log(r"peer=b\.example\.test unchanged", start=start), "no unchanged answer")
    # the local delete leaves it peer-only
    out = delete_domain(c, A, "both.example")
    check(out == {"both.example": "peer-only"}, "delete outcome %r" % out)
    rows, _ = listing(c, A)
    check(rows["both.example"]["where"] == "peer-only", "after delete %r" % rows)
    # deleted on B too (once B knows A no longer configures it): gone everywhere, so gone
    # here at the next refresh
    peers(c, B, "refresh", A)
    check(delete_domain(c, B, "both.example") == {"both.example": "deleted"}, "B delete")
    peers(c, A, "refresh", B)
    rows, _ = listing(c, A)
    check("both.example" not in rows, "still listed %r" % rows)
    check("bonly.example" in rows, "bonly gone %r" % rows)


def test_mismatch_findings():
    "default domain, address scheme and the same directory URI on two clusters are findings in peers and domains/list"
    _, a, b, c = _setup()
    import_users(c, A, ["carol,carol@dup.example", "ann,ann@dup.example"])
    import_users(c, B, ["carol2,Carol@DUP.example", "ben,ben@other.example"])
    store_sql(a, "UPDATE settings SET default_domain = 'a.example'")
    store_sql(b, "UPDATE settings SET default_domain = 'b.example',"
                 " im_address_scheme = 'directory-uri'")
    r = peers(c, A, "refresh", B)
    text = notes_of(r)
    check("default domain differs: a.example here, b.example on peer " + B in text, text)
    check("IM address scheme differs: userid@default here, directory-uri" in text, text)
    check("1 directory URI(s) exist both here and on peer %s (for example carol@dup.example)"
          % B in text, text)
    _, notes = listing(c, A)
    check("default domain differs" in notes and "directory URI(s) exist both" in notes, notes)
    r = c.execute(A, "peers", form={"action": "list", "jid": ""}, form_type=ft("peers"),
                  lang="ko")
    check("기본 도메인이 다릅니다" in notes_of(r), notes_of(r))


def test_peer_goes_away_and_comes_back():
    "a peer that stops answering is stale with its data kept and labelled; back, it is fresh (the timer refreshes)"
    _, a, b, c = _setup(refresh=1)
    import_users(c, B, ["bob,bob@bonly.example"])
    check(h.wait_for(lambda: peer_rows(peers(c, A)).get(B, {}).get("status") == "ok"
                     and peer_rows(peers(c, A))[B]["users"] == "1", 15),
          "the timer did not refresh B")
    b.stop()
    check(h.wait_for(lambda: peer_rows(peers(c, A))[B]["status"] == "stale", 20),
          "B not stale: %r" % peer_rows(peers(c, A)))
    r = peers(c, A)
    row = peer_rows(r)[B]
    check(row["error"] != "" and row["users"] == "1", "stale row %r" % row)
    check("Peer %s is stale" % B in notes_of(r), notes_of(r))
    rows, notes = listing(c, A)
    check(rows["bonly.example"]["peer_users"] == "1"
          and rows["bonly.example"]["managed_by"] == "system", "kept %r" % rows)
    check("is stale" in notes, notes)
    b.start()
    check(h.wait_for(lambda: peer_rows(peers(c, A))[B]["status"] == "ok", 20),
          "B not fresh again: %r" % peer_rows(peers(c, A)))
    check("is stale" not in notes_of(peers(c, A)), "still labelled stale")


def test_peer_expires_and_comes_back():
    "past [peers] forget_after a silent peer is expired: data kept and shown, no longer counted (its peer-only domain goes); back, it counts again"
    forget = 5 * h.SLOW
    _, a, b, c = _setup(refresh=1, forget_after=forget)
    import_users(c, B, ["bob,bob@bonly.example"])
    add_domain(c, A, "both.example")
    add_domain(c, B, "both.example")
    check(h.wait_for(lambda: peer_rows(peers(c, A)).get(B, {}).get("users") == "1", 15),
          "the timer did not refresh B")
    rows, _ = listing(c, A)
    check(rows["bonly.example"]["where"] == "peer-only"
          and rows["both.example"]["where"] == "local+peer", "before %r" % rows)
    b.stop()
    # stale: failing, but its last answer is younger than forget_after and still counts
    check(h.wait_for(lambda: peer_rows(peers(c, A))[B]["status"] != "ok", 10),
          "B still ok: %r" % peer_rows(peers(c, A)))
    rows, notes = listing(c, A)
    status = peer_rows(peers(c, A))[B]["status"]
    check(status == "stale", "B went %s before the stale period could be seen" % status)
    check(rows["bonly.example"]["peer_users"] == "1"
          and rows["bonly.example"]["managed_by"] == "system"
          and rows["both.example"]["where"] == "local+peer", "stale, not counted %r" % rows)
    check("still counts" in notes, notes)
    # expired: the audit runs at the first failing refresh past forget_after
    check(h.wait_for(lambda: "bonly.example" not in listing(c, A)[0], forget + 15),
          "the expired peer's domain stays: %r" % (listing(c, A)[0],))
    r = peers(c, A)
    row = peer_rows(r)[B]
    check(row["status"] == "expired" and row["users"] == "1" and row["domains"] == "2",
          "expired row %r" % row)
    text = notes_of(r)
    check("Peer %s is expired: no good answer for " % B in text
          and "no longer counts for the sync audit" in text
          and "Make the peer answer again" in text and "peers remove" in text, text)
    r = c.execute(A, "peers", form={"action": "list", "jid": ""}, form_type=ft("peers"),
                  lang="ko")
    check("만료되었습니다" in notes_of(r), notes_of(r))
    rows, notes = listing(c, A)
    check(rows["both.example"]["where"] == "local" and rows["both.example"]["peer_users"] == "0",
          "both while expired %r" % rows)
    check("is expired" in notes, notes)
    # the data is kept in the store
    check(store_rows(a, "SELECT domain, users FROM peer_domains")
          == [("bonly.example", 1), ("both.example", 0)],
          "%r" % store_rows(a, "SELECT domain, users FROM peer_domains"))
    check(a.wait_log(r"peer=b\.example\.test expired"), "no expiry in the log")
    # back: asked in full, counted again, its domain back
    b.start()
    check(h.wait_for(lambda: "bonly.example" in listing(c, A)[0], 20),
          "B's domain not back: %r" % (listing(c, A)[0],))
    rows, _ = listing(c, A)
    check(rows["bonly.example"]["where"] == "peer-only"
          and rows["bonly.example"]["managed_by"] == "system"
          and rows["bonly.example"]["peer_users"] == "1"
          and rows["both.example"]["where"] == "local+peer", "back %r" % rows)
    check(peer_rows(peers(c, A))[B]["status"] == "ok", "B not ok again")


def test_non_peer_forbidden():
    "only configured peers are answered: a user or another component gets forbidden"
    p, a, _, c = _setup(with_b=False)
    reply = c.iq("<iq type='get' to='%s'><peer xmlns='%s'/></iq>" % (A, NS_PEER))
    check(reply.get("type") == "error" and h.error_condition(reply)[1] == "forbidden",
          ET.tostring(reply, "unicode"))
    fake = FakePeer(p, FAKE, lambda payload: None)
    reply = fake.request(A)
    check(reply is not None and reply.get("type") == "error"
          and reply.find(".//{urn:ietf:params:xml:ns:xmpp-stanzas}forbidden") is not None,
          "fake got %r" % (reply if reply is None else ET.tostring(reply, "unicode")))
    # once added as a peer, it is answered
    add_domain(c, A, "mine.example")
    peers(c, A, "add", FAKE)
    reply = fake.request(A, "q2")
    payload = reply.find("{%s}peer" % NS_PEER)
    check(reply.get("type") == "result" and payload is not None, ET.tostring(reply, "unicode"))
    names = [d.get("name") for d in payload.findall("{%s}domain" % NS_PEER)]
    check(names == ["mine.example"] and payload.get("next") == "u:0:0", ET.tostring(payload))
    # a bad cursor is a bad request
    fake.send("<iq type='get' id='q3' to='%s' from='%s'><peer xmlns='%s' after='zz'/></iq>"
              % (A, FAKE, NS_PEER))
    with fake.cond:
        fake.cond.wait_for(lambda: "q3" in fake.replies, 10)
    check(fake.replies["q3"].find(".//{urn:ietf:params:xml:ns:xmpp-stanzas}bad-request")
          is not None, "bad cursor accepted")


def test_garbage_and_oversized():
    "a peer answering garbage or too much: a clear error, the peer stale, local data intact"
    p, a, _, c = _setup(a_peers="", with_b=False)
    answers = {"mode": "good"}

    def answer(payload):
        mode = answers["mode"]
        if mode == "good":
            return good_page([("Shared.Example", True, 0), ("fakeonly.example", False, 3)])
        if mode == "unknown-element":
            return "<peer xmlns='%s' version='v2' default-domain='x.example' " \
                   "scheme='userid@default'><script/></peer>" % NS_PEER
        if mode == "bad-name":
            return good_page([("bad..name", True, 0)], version="v3")
        if mode == "bad-count":
            return good_page([("x.example", True, -4)], version="v4")
        if mode == "too-many-per-page":
            return good_page([("d%03d.example" % i, True, 0) for i in range(201)], version="v5")
        if mode == "endless":  # 200 domains a page, always another page
            n = len(fake.asked)
            return good_page([("p%d-%03d.example" % (n, i), True, 0) for i in range(200)],
                             version="v6", nxt="d:more")
        return "<nonsense/>"

    fake = FakePeer(p, FAKE, answer)
    add_domain(c, A, "shared.example")
    import_users(c, A, ["alice,alice@local.example"])
    r = peers(c, A, "add", FAKE)
    row = peer_rows(r)[FAKE]
    check(row["status"] == "ok", "good answer not taken: %r" % row)
    check("Domain shared.example is configured here and on peer %s as Shared.Example" % FAKE
          in notes_of(r), notes_of(r))
    rows, _ = listing(c, A)
    check(rows["fakeonly.example"]["where"] == "peer-only"
          and rows["fakeonly.example"]["peer_users"] == "3", "fake's domain %r" % rows)
    before = (store_rows(a, "SELECT name, managed_by, configured_local FROM domains"),
              store_rows(a, "SELECT domain, sent_name, configured, users FROM peer_domains"))
    expect = {
        "unknown-element": "unexpected element <script/>",
        "bad-name": "breaks the domain rules",
        "bad-count": "'users' a count",
        "too-many-per-page": "more than 200 domains in one page",
        "endless": "more than 10000 domains",
        "other": "no <peer xmlns='urn:imdomaind:peer:0'/> payload",
    }
    for mode, words in expect.items():
        answers["mode"] = mode
        row = peer_rows(peers(c, A, "refresh", FAKE))[FAKE]
        check(row["status"] == "stale" and words in row["error"],
              "%s: row %r" % (mode, row))
        after = (store_rows(a, "SELECT name, managed_by, configured_local FROM domains"),
                 store_rows(a, "SELECT domain, sent_name, configured, users FROM peer_domains"))
        check(after == before, "%s changed local data: %r != %r" % (mode, after, before))
    check(c.ping(A), "the daemon stopped answering")
    # a peer answering nothing at all times out, stale too
    answers["mode"] = "good"
    fake.answer = lambda payload: None
    row = peer_rows(peers(c, A, "refresh", FAKE))[FAKE]
    check(row["status"] == "stale" and "no answer within 3 s" in row["error"], "%r" % row)
    # removed: its peer-only domain goes (no peer left says it exists)
    r = peers(c, A, "remove", FAKE)
    check(FAKE not in peer_rows(r), "still listed")
    rows, _ = listing(c, A)
    check("fakeonly.example" not in rows and "shared.example" in rows, "after remove %r" % rows)


def test_configured_peer_not_removable():
    "a peer from the configuration file cannot be removed by command; bad JIDs are refused"
    _, a, _, c = _setup(with_b=False)
    r = peers(c, A, "remove", B)
    check(any(k == "error" and "[peers] jids" in t for k, t in r.notes), "%r" % r)
    check(B in peer_rows(peers(c, A)), "configured peer gone")
    r = c.execute(A, "peers", form={"action": "add", "jid": "bad..jid"}, form_type=ft("peers"),
                  raise_error=False)
    check(h.error_condition(r)[1] == "bad-request", "bad jid: %r" % ET.tostring(r, "unicode"))
    r = peers(c, A, "add", A)
    check(any(k == "error" and "own peer" in t for k, t in r.notes), "%r" % r)


def test_stop_while_asking():
    "SIGTERM while a peer's answer is awaited: a clean exit, nothing recorded as a failure"
    p = h.Prosody(components={A: SECRET, FAKE: SECRET})
    fake = FakePeer(p, FAKE, lambda payload: None)  # asked, never answers
    a = h.Daemon(p, jid=A, settings={"peers": {"jids": FAKE, "refresh": 3600, "timeout": 60}})
    check(h.wait_for(lambda: fake.asked, 15), "the timer never asked the peer")
    check(a.stop() == 0, "exit status on SIGTERM with an iq in flight")
    check(store_rows(a, "SELECT jid, last_error FROM peers") == [(FAKE, None)],
          "%r" % store_rows(a, "SELECT jid, last_error FROM peers"))


h.tap.run([
    test_peer_only_and_delete,
    test_mismatch_findings,
    test_peer_goes_away_and_comes_back,
    test_peer_expires_and_comes_back,
    test_non_peer_forbidden,
    test_garbage_and_oversized,
    test_configured_peer_not_removable,
    test_stop_while_asking,
])
