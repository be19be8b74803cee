# federation/check's verdict against peers that are wrong in ways real servers disagree on, with
# ejabberd as the daemon's router: a certificate valid for the domain by its subject CN only (SAN
# names another: ejabberd accepts the CN, Prosody does not), a peer that accepts the connection
# and never speaks, and a name that does not resolve (reported under resolve). The peers are
# scripted s2s servers of this file (stream header, STARTTLS, TLS with a test certificate).
import os
import socket
import ssl
import subprocess
import sys
import threading

sys.dont_write_bytecode = True  # keep the source tree clean (distcheck has it read-only)
import harness as h  # noqa: E402
from harness import check  # noqa: E402

JID = "domains.example.test"
PEER = "peer.example.test"
NODE = "federation/check"


def _cert(directory, cn, san):
    """A self-signed certificate (CN=cn, SAN DNS:san) and its key: (cert path, key path)."""
    crt, key = os.path.join(directory, "peer.crt"), os.path.join(directory, "peer.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "30", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=DNS:" + san, "-keyout", key, "-out", crt],
                   check=True, capture_output=True, timeout=30)
    return crt, key


class ScriptedPeer:
    """Listens on a free loopback port. mode "tls": s2s stream, STARTTLS, TLS handshake with the
    given certificate; mode "silent": accepts and never says anything."""

    def __init__(self, mode, crt=None, key=None):
        self.mode = mode
        self.crt, self.key = crt, key
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._serve, daemon=True).start()
        h.defer(self.close)

    def close(self):
        for s in [self.sock] + self.conns:
            try:
                s.close()
            except OSError:
                pass

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            if self.mode == "tls":
                threading.Thread(target=self._tls, args=(conn,), daemon=True).start()

    def _tls(self, conn):
        try:
            conn.settimeout(10)
            data = b""
            while b">" not in data.split(b"<stream:stream", 1)[-1]:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            conn.sendall(("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
                          "xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='%s' "
                          "version='1.0'><stream:features><starttls xmlns='urn:ietf:params:xml:"
                          "ns:xmpp-tls'><required/></starttls></stream:features>" % PEER).encode())
            data = b""
            while b"starttls" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            conn.sendall(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.crt, self.key)
            tls = ctx.wrap_socket(conn, server_side=True)
            tls.recv(1)  # until the probe closes
        except (OSError, ssl.SSLError):
            pass


def _rows(r):
    return {row["step"][0]: (row["result"][0], row["detail"][0]) for row in r.items()}


def _check(c, domain, lang=None):
    first = c.execute(JID, NODE, lang=lang)
    r = c.complete(JID, NODE, first.sessionid, form={"domain": domain},
                   form_type="urn:imdomaind:" + NODE, lang=lang, timeout=30)
    check(r.status == "completed", "federation/check: %r" % r)
    return r


def _setup(resolve, ca_file=None):
    p = h.Ejabberd()
    settings = {"federation": {"timeout": 2, "resolve": resolve}}
    if ca_file:
        settings["certs"] = {"ca_file": ca_file}
    d = h.Daemon(p, settings=settings)
    return p, d, h.Client(p, "admin")


def test_cn_only_certificate():
    "SAN wrong, CN right: name is a warning, the check goes on, the verdict says who accepts it"
    crt, key = _cert(h.tmpdir("cert"), PEER, "other.example.test")
    peer = ScriptedPeer("tls", crt, key)
    _, _, c = _setup("%s=127.0.0.1:%d" % (PEER, peer.port), ca_file=crt)
    r = _check(c, PEER)
    rows = _rows(r)
    for step in ("resolve", "connect", "stream", "starttls", "chain"):
        check(rows[step][0] == "ok", "%s: %r" % (step, rows[step]))
    check(rows["name"][0] == "warning", "name: %r" % (rows["name"],))
    check("only the subject CN names %s; the SAN list names: other.example.test" % PEER
          in rows["name"][1], rows["name"][1])
    check("ejabberd accepts the CN" in rows["name"][1], rows["name"][1])
    # Our ejabberd cannot reach the scripted peer by s2s (no DNS for it): the ping fails, and
    # the verdict gives the CN-only name as the likely cause and says who refuses it.
    check(rows["ping"][0] == "failed", "ping: %r" % (rows["ping"],))
    verdict = " ".join(t for _, t in r.notes)
    check("fails at step ping" in verdict, "verdict %r" % verdict)
    check("The likely cause: its certificate names %s by its subject CN only" % PEER in verdict,
          "verdict %r" % verdict)
    check("servers that follow RFC 6125 (Prosody does) refuse that, ejabberd accepts it"
          in verdict, "verdict %r" % verdict)
    # An untrusted chain does not stop the name step: both are reported.
    c2 = _setup("%s=127.0.0.1:%d" % (PEER, peer.port))[2]
    rows = _rows(_check(c2, PEER))
    check(rows["chain"][0] == "failed" and rows["name"][0] == "warning", "rows %r" % rows)


def test_silent_peer():
    "a peer that accepts the connection and never speaks: a timeout with where and how long"
    peer = ScriptedPeer("silent")
    _, _, c = _setup("%s=127.0.0.1:%d" % (PEER, peer.port))
    rows = _rows(_check(c, PEER))
    check(rows["connect"][0] == "ok", "connect: %r" % (rows["connect"],))
    check(rows["stream"][0] == "failed", "stream: %r" % (rows["stream"],))
    check("127.0.0.1 port %d accepted the connection but sent nothing within 2.0 s" % peer.port
          in rows["stream"][1], rows["stream"][1])


def test_unknown_name():
    "a name that does not resolve is reported under resolve, and connect is not run"
    _, _, c = _setup("%s=no-such-host.invalid:5269" % PEER)
    r = _check(c, PEER)
    rows = _rows(r)
    check(rows["resolve"][0] == "failed", "resolve: %r" % (rows["resolve"],))
    check("cannot resolve no-such-host.invalid" in rows["resolve"][1], rows["resolve"][1])
    check(rows["connect"][0] == "not run", "connect: %r" % (rows["connect"],))
    verdict = " ".join(t for _, t in r.notes)
    check("fails at step resolve" in verdict, "verdict %r" % verdict)


h.tap.run([
    test_cn_only_certificate,
    test_silent_peer,
    test_unknown_name,
])
