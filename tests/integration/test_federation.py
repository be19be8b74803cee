#!/usr/bin/python3
# cup-xmpp-s2s proven by real federation: two Prosody instances (127.0.0.2 and 127.0.0.3) with
# s2s_secure_auth, each trusting the other's certificate; imdomaind administers A and writes A's
# certificate. Names resolve through a tiny DNS server of this file (Prosody's lua-unbound
# forwards to it), since there is no DNS here. Also federation/check against a good peer, a
# peer with a wrong-name certificate and an unreachable one.
import os
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time

import harness as h

A_IP, B_IP, FAKE_IP, GONE_IP = "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"
A, B, C = "a.example.test", "b.example.test", "c.example.test"
IMD = "imd." + A


# ---------------------------------------------------------------------------------------------
# DNS: SRV _xmpp-server._tcp.<domain> and A <domain> from a table; empty answers otherwise


class TinyDNS:
    def __init__(self):
        self.records = {}  # domain -> (ip, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = False
        threading.Thread(target=self._serve, daemon=True).start()
        h.defer(self.close)

    def close(self):
        self.stop = True
        self.sock.close()

    @staticmethod
    def _name(labels):
        return b"".join(bytes([len(l)]) + l.encode() for l in labels.split(".") if l) + b"\0"

    def _answer(self, q):
        tid, flags, qd = struct.unpack(">HHH", q[:6])
        i, labels = 12, []
        while q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode())
            i += 1 + q[i]
        qtype = struct.unpack(">H", q[i + 1:i + 3])[0]
        question = q[12:i + 5]
        name = ".".join(labels).lower()
        rr = b""
        if qtype == 33 and name.startswith("_xmpp-server._tcp."):
            target = name[len("_xmpp-server._tcp."):]
            if target in self.records:
                port = self.records[target][1]
                rdata = struct.pack(">HHH", 0, 5, port) + self._name(target)
                rr = b"\xc0\x0c" + struct.pack(">HHIH", 33, 1, 60, len(rdata)) + rdata
        elif qtype == 1 and name in self.records:
            rdata = socket.inet_aton(self.records[name][0])
            rr = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + rdata
        # NOERROR even without an answer: the resolver may ask for parent names first (qname
        # minimisation), and NXDOMAIN there would hide every name below.
        head = struct.pack(">HHHHHH", tid, 0x8180, 1, 1 if rr else 0, 0, 0)
        return head + question + rr

    def _serve(self):
        while not self.stop:
            try:
                q, addr = self.sock.recvfrom(512)
                self.sock.sendto(self._answer(q), addr)
            except OSError:
                return
            except Exception:  # a query we do not parse: no answer
                continue


# ---------------------------------------------------------------------------------------------
# Certificates made with the openssl tool (B's, and the fake peer's)


def make_cert(directory, name, sans):
    crt, key = os.path.join(directory, name + ".crt"), os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt, "-days",
                    "90", "-subj", "/CN=" + sans[0], "-addext",
                    "subjectAltName=" + ",".join("DNS:" + s for s in sans), "-addext",
                    "extendedKeyUsage=serverAuth,clientAuth"],
                   check=True, capture_output=True)
    return crt, key


# ---------------------------------------------------------------------------------------------
# A fake s2s peer: stream header, STARTTLS, then a certificate for some other name


class FakePeer:
    def __init__(self, crt, key):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(crt, key)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((FAKE_IP, 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()
        h.defer(self.sock.close)

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                conn.settimeout(5)
                conn.recv(4096)
                conn.sendall(b"<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
                             b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0' "
                             b"id='x'><stream:features><starttls "
                             b"xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>")
                conn.recv(4096)
                conn.sendall(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
                tls = self.ctx.wrap_socket(conn, server_side=True)
                tls.recv(1)
                tls.close()
            except (OSError, ssl.SSLError):
                conn.close()


# ---------------------------------------------------------------------------------------------
# The two routers and the daemon


def prosody_extra(ip, port, certs, cafile, dns_port):
    modules = ", ".join('"%s"' % m for m in h.Prosody.MODULES + ["tls"])
    return "\n".join([
        "modules_enabled = { %s }" % modules,
        'modules_disabled = { "offline" }',
        's2s_ports = { %d }' % port,
        's2s_interfaces = { "%s" }' % ip,
        "s2s_secure_auth = true",
        "s2s_require_encryption = true",
        'certificates = "%s"' % certs,
        'ssl = { cafile = "%s" }' % cafile,
        'unbound = { resolvconf = false; hoststxt = false; forward = "127.0.0.1@%d"; '
        # unbound answers NXDOMAIN for test. itself (RFC 6761) unless told not to
        'options = { ["do-not-query-localhost:"] = "no"; ["local-zone:"] = "test. transparent" } }'
        % dns_port,
    ])


class Federation:
    """Prosody A (administered by imdomaind, hosts a.example.test and c.example.test), Prosody
    B (b.example.test) and a daemon on A. A's certificate does not exist until regenerated."""

    def __init__(self):
        root = h.tmpdir("fed")
        self.dns = TinyDNS()
        self.port_a, self.port_b = h.free_port(), h.free_port()
        for d in (A, C, IMD):
            self.dns.records[d] = (A_IP, self.port_a)
        self.dns.records[B] = (B_IP, self.port_b)
        self.certs_a = os.path.join(root, "certs-a")
        self.certs_b = os.path.join(root, "certs-b")
        os.makedirs(self.certs_a)
        os.makedirs(self.certs_b)
        self.b_crt, _ = make_cert(self.certs_b, B, [B])
        include = os.path.join(root, "a-hosts.cfg.lua")
        with open(include, "w") as f:
            f.write('VirtualHost "%s"\n' % C)
        self.pa = h.Prosody(host=A, components={IMD: "s3cret"}, include=include,
                            extra=prosody_extra(A_IP, self.port_a, self.certs_a, self.b_crt,
                                                self.dns.port))
        self.a_crt = os.path.join(self.certs_a, A + ".crt")
        self.pb = None
        self.fake_crt, fake_key = make_cert(root, "other", ["other.example.test"])
        self.fake = FakePeer(self.fake_crt, fake_key)
        self.trust = os.path.join(root, "trust.pem")
        with open(self.trust, "w") as f:
            f.write(h.read_text(self.b_crt) + h.read_text(self.fake_crt))
        resolve = "%s=%s:%d wrong.example.test=%s:%d gone.example.test=%s:%d" % (
            B, B_IP, self.port_b, FAKE_IP, self.fake.port, GONE_IP, h.free_port())
        self.d = h.Daemon(self.pa, jid=IMD, settings={
            "certs": {"dir": self.certs_a, "key_type": "ec-p256", "days": 90,
                      "ca_file": self.trust},
            "router": {"reload_hook": "/bin/kill -HUP %d" % self.pa.proc.pid},
            "federation": {"resolve": resolve, "timeout": 5},
        })
        self.admin = h.Client(self.pa, "admin")

    def start_b(self):
        """B trusts A's certificate file, so it starts once that exists."""
        self.pb = h.Prosody(host=B, extra=prosody_extra(B_IP, self.port_b, self.certs_b,
                                                        self.a_crt, self.dns.port))

    def run(self, node, fields):
        first = self.admin.execute(self.d.jid, node)
        return self.admin.complete(self.d.jid, node, first.sessionid,
                                   form=h.make_form(fields, "urn:imdomaind:" + node))

    def add_domain(self, name):
        r = self.run("domains/add", {"domain": name})
        h.check(r.status == "completed", "domains/add %s: %r" % (name, r.notes))
        h.check(not any(t == "error" for t, _ in r.notes), "domains/add: %r" % r.notes)

    def regenerate(self):
        r = self.run("certs/regenerate", {"key_type": "ec-p256", "days": "90",
                                          "xmpp_addr": False})
        h.check(not any(t == "error" for t, _ in r.notes), "regenerate: %r" % r.notes)
        h.check(any("installed" in text for _, text in r.notes), "regenerate: %r" % r.notes)
        return r

    def show(self):
        r = self.admin.execute(self.d.jid, "certs/show")
        h.check(r.status == "completed", "certs/show: %r" % r.notes)
        return r


class OnHost:
    """Lets h.Client log in to another VirtualHost of the same Prosody."""

    def __init__(self, prosody, host):
        self.prosody, self.host, self.c2s_port = prosody, host, prosody.c2s_port

    def register(self, user, password):
        return self.prosody.register(user, password, host=self.host)


def reaches(client, jid, timeout=8):
    """A ping crossed the s2s link: a result, or an error from the remote end itself (the test
    clients do not answer pings), not one our own server made up for a failed s2s link."""
    try:
        reply = client.iq("<iq type='get' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>" % jid,
                          timeout)
    except Exception:  # no answer at all
        return False
    if reply.get("type") == "result":
        return True
    return h.error_condition(reply)[1] not in ("remote-server-not-found", "remote-server-timeout")


# ---------------------------------------------------------------------------------------------


def test_certificate_follows_domain_set():
    f = Federation()
    f.add_domain(A)
    f.regenerate()
    h.check(os.path.exists(f.a_crt), "no %s" % f.a_crt)
    h.check(os.stat(os.path.join(f.certs_a, A + ".key")).st_mode & 0o777 == 0o600,
            "key mode is not 0600")
    h.check(f.show().value("status") == "current", "certs/show is not current")
    f.start_b()
    ua = h.Client(f.pa, "ua")
    ub = h.Client(f.pb, "ub")
    h.check(reaches(ub, ua.jid, timeout=15), "B cannot ping a user on A")

    f.add_domain(C)
    shown = f.show()
    h.check(shown.value("status") == "stale", "certs/show after domains/add: %r"
            % shown.value("status"))
    h.check(C in shown.values("missing"), "missing: %r" % shown.values("missing"))
    uc = h.Client(OnHost(f.pa, C), "uc")
    h.check(not reaches(ub, uc.jid), "B reached %s before the certificate covered it" % C)

    f.regenerate()
    f.pb.reload()  # B trusts A's certificate file: let it read the new one
    time.sleep(0.5)
    h.check(f.show().value("status") == "current", "certs/show after regenerate")
    h.check(h.wait_for(lambda: reaches(ub, uc.jid, timeout=5), 20),
            "B cannot reach %s after certs/regenerate" % C)


def check_rows(r):
    return {row["step"][0]: (row["result"][0], row["detail"][0]) for row in r.items()}


def test_federation_check():
    f = Federation()
    f.add_domain(A)
    f.regenerate()
    f.start_b()

    good = check_rows(f.run("federation/check", {"domain": B}))
    for step in ("resolve", "connect", "stream", "starttls", "chain", "name"):
        h.check(good[step][0] == "ok", "good peer, %s: %r" % (step, good[step]))
    if "no router link" in good["ping"][1]:
        h.tap.comment("ping step not run: the daemon does not give commands its router link")
    else:
        h.check(good["ping"][0] == "ok", "good peer, ping: %r" % (good["ping"],))

    r = f.run("federation/check", {"domain": "wrong.example.test"})
    wrong = check_rows(r)
    h.check(wrong["chain"][0] == "ok", "wrong name, chain: %r" % (wrong["chain"],))
    h.check(wrong["name"][0] == "failed", "wrong name, name: %r" % (wrong["name"],))
    h.check("other.example.test" in wrong["name"][1], wrong["name"][1])
    h.check(any("fails at step name" in t for _, t in r.notes), "verdict: %r" % r.notes)

    r = f.run("federation/check", {"domain": "gone.example.test"})
    gone = check_rows(r)
    h.check(gone["resolve"][0] == "ok" and gone["connect"][0] == "failed",
            "unreachable: %r" % gone)
    h.check(any("fails at step connect" in t for _, t in r.notes), "verdict: %r" % r.notes)


def test_import_refusals():
    f = Federation()
    f.add_domain(A)
    r = f.run("certs/import", {"certificate": "not a certificate"})
    h.check(any(t == "error" and "make a CSR" in x for t, x in r.notes), r.notes)
    f.regenerate()
    r = f.run("certs/import", {"certificate": "not a certificate"})
    h.check(any(t == "error" and "no readable certificate" in x for t, x in r.notes), r.notes)
    r = f.run("certs/import", {"certificate": h.read_text(f.b_crt).splitlines()})
    h.check(any(t == "error" and "pending key" in x for t, x in r.notes), r.notes)
    csr = f.run("certs/csr", {"key_type": "ec-p256", "xmpp_addr": False})
    h.check("-----BEGIN CERTIFICATE REQUEST-----" in csr.values("csr"), csr.values("csr"))


# ---------------------------------------------------------------------------------------------
# certs/import of a CA-signed certificate, over XMPP and over the control socket


def make_ca(directory):
    crt, key = os.path.join(directory, "ca.crt"), os.path.join(directory, "ca.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt, "-days",
                    "30", "-subj", "/CN=imdomaind test CA", "-addext",
                    "basicConstraints=critical,CA:TRUE", "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign"], check=True, capture_output=True)
    return crt, key


def ca_sign(ca, csr_lines, out):
    """Signs a CSR (its PEM lines) with the test CA, keeping the CSR's names; returns the
    certificate's PEM lines and its SHA-256 fingerprint as openssl prints it."""
    csr = out + ".csr"
    with open(csr, "w") as f:
        f.write("\n".join(csr_lines) + "\n")
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
                    "-CAcreateserial", "-days", "30", "-copy_extensions", "copy", "-out", out],
                   check=True, capture_output=True)
    fp = subprocess.run(["openssl", "x509", "-in", out, "-noout", "-fingerprint", "-sha256"],
                        check=True, capture_output=True, text=True).stdout
    return h.read_text(out).splitlines(), fp.strip().split("=", 1)[1]


def served_fingerprint(ip, port, host):
    """The SHA-256 fingerprint (AA:BB:.. form) of the certificate Prosody presents for `host`
    on its s2s port after STARTTLS."""
    import hashlib
    sock = socket.create_connection((ip, port), timeout=10)
    try:
        sock.sendall(("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
                      "xmlns:stream='http://etherx.jabber.org/streams' version='1.0' "
                      "from='%s' to='%s'>" % (B, host)).encode())
        buf = b""
        while b"</stream:features>" not in buf:
            chunk = sock.recv(4096)
            h.check(chunk, "the s2s port closed before its features: %r" % buf)
            buf += chunk
        sock.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        buf = b""
        while b"proceed" not in buf:
            chunk = sock.recv(4096)
            h.check(chunk, "no <proceed/>: %r" % buf)
            buf += chunk
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        tls = ctx.wrap_socket(sock, server_hostname=host)
        der = tls.getpeercert(binary_form=True)
        tls.close()
    finally:
        sock.close()
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def imdomainctl(d, *args):
    argv = [os.path.join(h.builddir(), "imdomainctl"), "-s", d.socket, "--json"] + list(args)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60 * h.SLOW)
    import json
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        raise h.TestFailure("imdomainctl %r: %r %r" % (args, r.stdout, r.stderr))
    return r.returncode, doc


def test_import_ca_signed():
    "certs/csr, a CA signs it, certs/import installs it: shown, and served by Prosody to B"
    f = Federation()
    f.add_domain(A)
    ca = make_ca(os.path.dirname(f.certs_a))
    csr = f.run("certs/csr", {"key_type": "ec-p256", "xmpp_addr": False})
    lines, fp = ca_sign(ca, csr.values("csr"), os.path.join(os.path.dirname(f.certs_a), "x.crt"))
    r = f.run("certs/import", {"certificate": lines})
    h.check(r.status == "completed", "certs/import: %r" % r.notes)
    h.check(not any(t == "error" for t, _ in r.notes), "certs/import: %r" % r.notes)
    h.check(any("installed" in text for _, text in r.notes), "certs/import: %r" % r.notes)
    h.check(f.d.running(), "imdomaind died on certs/import")
    h.check(os.path.realpath(f.a_crt) != f.a_crt, "%s is not a link into a generation" % f.a_crt)
    shown = f.show()
    h.check(shown.value("status") == "current", "certs/show: %r" % shown.value("status"))
    h.check(shown.value("fingerprint").upper() == fp.upper(),
            "certs/show fingerprint %r, imported %r" % (shown.value("fingerprint"), fp))
    # Prosody A was told to reload: it presents the imported certificate, and B, which trusts
    # only the test CA, federates with A on it.
    h.check(h.wait_for(lambda: served_fingerprint(A_IP, f.port_a, A) == fp.upper(), 10),
            "Prosody A does not present the imported certificate")
    f.pb = h.Prosody(host=B, extra=prosody_extra(B_IP, f.port_b, f.certs_b, ca[0], f.dns.port))
    ua = h.Client(f.pa, "ua")
    ub = h.Client(f.pb, "ub")
    h.check(reaches(ub, ua.jid, timeout=15), "B (trusting the CA) cannot reach a user on A")

    # The same over the control socket with imdomainctl.
    rc, doc = imdomainctl(f.d, "run", "certs/csr", "key_type=ec-p256", "xmpp_addr=false")
    h.check(rc == 0 and doc["status"] == "completed", "imdomainctl certs/csr: %r" % doc)
    csr_lines = next(form["fields"]["csr"] for form in doc["forms"] if "csr" in form["fields"])
    lines, fp2 = ca_sign(ca, csr_lines, os.path.join(os.path.dirname(f.certs_a), "y.crt"))
    h.check(fp2 != fp, "the CA signed the same certificate twice")
    rc, doc = imdomainctl(f.d, "run", "certs/import", *["certificate=" + l for l in lines])
    h.check(rc == 0 and doc["status"] == "completed", "imdomainctl certs/import: %r" % doc)
    h.check(any("installed" in n["text"] for n in doc["notes"]), "notes: %r" % doc["notes"])
    h.check(f.d.running(), "imdomaind died on certs/import over the control socket")
    rc, doc = imdomainctl(f.d, "run", "certs/show")
    fields = doc["forms"][0]["fields"]
    h.check(fields["fingerprint"] == [fp2] or fields["fingerprint"] == fp2,
            "certs/show over the socket: %r" % fields)
    h.check(h.wait_for(lambda: served_fingerprint(A_IP, f.port_a, A) == fp2.upper(), 10),
            "Prosody A does not present the certificate imported over the control socket")


# ---------------------------------------------------------------------------------------------
# Stopping while work runs on the thread pool: the late result must be dropped safely (under the
# sanitizer build or IMD_VALGRIND=1 any use of freed state fails the test through the exit code)


def in_background(fn, *args):
    """Runs fn in a thread; its outcome (or exception) does not matter, only that it ends."""
    def run():
        try:
            fn(*args)
        except Exception:  # the daemon goes away mid-request: any error is fine here
            pass
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def stop_now(d, since):
    d.signal(signal.SIGTERM)
    rc = d.wait_exit(30)
    h.check(rc == 0, "imdomaind exited with %r when stopped during the work" % rc)
    h.check(d.wait_log(r"stopped status=0", 1, start=since), "no 'stopped status=0'")


def test_stop_during_key_generation():
    "SIGTERM while an RSA-4096 key is made: exit 0, the key is dropped, no file is written"
    f = Federation()
    f.add_domain(A)
    for attempt in range(3):
        since = f.d.log_size()
        in_background(f.run, "certs/regenerate", {"key_type": "rsa-4096", "days": "30",
                                                  "xmpp_addr": False})
        h.check(f.d.wait_log(r"certs: generating op=regenerate key_type=rsa-4096", 10,
                             start=since), "the generation did not start")
        stop_now(f.d, since)
        if f.d.wait_log(r"certs: result dropped op=regenerate", 1, start=since):
            h.check(not os.path.exists(f.a_crt), "a certificate was installed while stopping")
            return
        h.tap.comment("the key was ready before the signal arrived (attempt %d)" % attempt)
        os.path.exists(f.a_crt) and os.unlink(f.a_crt)
        f.d.start()
    raise h.TestFailure("never stopped the daemon while it generated a key")


class SilentPeer:
    """Accepts TCP connections (the kernel's backlog does) and never says a word."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind((FAKE_IP, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        h.defer(self.sock.close)


def test_stop_during_federation_check():
    "SIGTERM while federation/check waits for a silent peer: exit 0, no ping sent"
    f = Federation()
    f.add_domain(A)
    silent = SilentPeer()
    f.d.sections["federation"]["resolve"] += " silent.example.test=%s:%d" % (FAKE_IP, silent.port)
    f.d.stop()
    f.d.write_config()
    f.d.start()
    since = f.d.log_size()
    in_background(f.run, "federation/check", {"domain": "silent.example.test"})
    h.check(f.d.wait_log(r"federation/check: domain=silent.example.test probing", 10,
                         start=since), "the probe did not start")
    time.sleep(0.3)  # most likely waiting for the silent peer now; either way it must stop
    stop_now(f.d, since)
    h.check(f.d.wait_log(r"federation/check: domain=silent.example.test result dropped "
                         r"reason=stopping", 1, start=since), "the probe's result was not dropped")


import sys
if __name__ != "__main__":  # imported for its helpers (test_federation_ejabberd.py)
    pass
elif len(sys.argv) > 1:
    h.tap.run([globals()[n] for n in sys.argv[1:]])
else:
    h.tap.run([test_certificate_follows_domain_set, test_federation_check, test_import_refusals,
               test_import_ca_signed,
               test_stop_during_key_generation, test_stop_during_federation_check])
