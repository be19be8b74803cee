#!/usr/bin/python3
# Real s2s federation with ejabberd as one side. One ejabberd (E, e.example.test) and two Prosody
# servers: A (a.example.test), and B2 (b2.example.test) whose certificate names b2 only in its
# subject CN (the SAN list names another host). imdomaind serves both routers: DA is A's
# component, DE is E's (router kind ejabberd); each manages its router's cup-xmpp-s2s
# certificate ([certs] dir; E finds it through `certfiles` globs, A through `certificates`).
# Names resolve through test_federation's tiny DNS server: Prosody forwards to it (unbound),
# ejabberd asks it through the inetrc the harness writes. Everything is on loopback with free
# ports; one ejabberd start for the whole file (it costs seconds).
#
# Proven here: messages cross A <-> E both ways while each side presents the certificate
# imdomaind installed; federation/check from each daemon against the other (a real peer that
# is fine) is all ok; against B2 the check goes on past the name step and the verdict says what
# works: through ejabberd the peer federates (CN accepted), Prosody (RFC 6125) refuses it.
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean (distcheck has it read-only)
import harness as h  # noqa: E402
import test_federation as tf  # noqa: E402  (helpers only: it runs its cases as a script)

A_IP, E_IP, B2_IP = "127.0.0.2", "127.0.0.6", "127.0.0.7"
A, E, B2 = "a.example.test", "e.example.test", "b2.example.test"
IMD_A, IMD_E = "imd." + A, "imd." + E


class DNS(tf.TinyDNS):
    """test_federation's DNS server, except that an SRV record's target is the host's IP
    address written as a name, and such names have an A record: ejabberd (p1_xmpp 1.6.1) looks
    SRV records up with inet_res, which the inetrc points here, but the target's address with
    net:getaddrinfo, i.e. the system resolver, which knows nothing of these names; an address
    it parses without asking anyone."""

    def _answer(self, q):
        import socket
        import struct
        tid = struct.unpack(">H", q[:2])[0]
        i, labels = 12, []
        while q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode())
            i += 1 + q[i]
        qtype = struct.unpack(">H", q[i + 1:i + 3])[0]
        question = q[12:i + 5]
        name = ".".join(labels).lower()
        ips = {ip for ip, _ in self.records.values()}
        rr = b""
        if qtype == 33 and name.startswith("_xmpp-server._tcp."):
            target = name[len("_xmpp-server._tcp."):]
            if target in self.records:
                ip, port = self.records[target]
                rdata = struct.pack(">HHH", 0, 5, port) + self._name(ip)
                rr = b"\xc0\x0c" + struct.pack(">HHIH", 33, 1, 60, len(rdata)) + rdata
        elif qtype == 1 and (name in self.records or name in ips):
            ip = self.records[name][0] if name in self.records else name
            rdata = socket.inet_aton(ip)
            rr = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + rdata
        head = struct.pack(">HHHHHH", tid, 0x8180, 1, 1 if rr else 0, 0, 0)
        return head + question + rr


def cn_only_cert(directory, name, san):
    """A self-signed certificate with subject CN `name` and a SAN list naming only `san`."""
    crt, key = os.path.join(directory, name + ".crt"), os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt, "-days",
                    "90", "-subj", "/CN=" + name, "-addext", "subjectAltName=DNS:" + san,
                    "-addext", "extendedKeyUsage=serverAuth,clientAuth"],
                   check=True, capture_output=True)
    return crt


def bundle(path, *certs):
    with open(path, "w") as f:
        f.write("".join(h.read_text(c) for c in certs))
    return path


class Inbox:
    """Collects the chat messages a client receives: [(bare sender, body)]."""

    def __init__(self, client):
        self.got = []
        client.xmpp.add_event_handler(
            "message", lambda m: self.got.append((str(m["from"].bare), str(m["body"]))))

    def has(self, sender, body, timeout):
        return h.wait_for(lambda: (sender, body) in self.got, timeout * h.SLOW, interval=0.1)


def send(client, to, body):
    async def go():
        client.xmpp.send_message(mto=to, mbody=body, mtype="chat")
    h._run(go(), 5)


def run(admin, d, node, fields):
    first = admin.execute(d.jid, node)
    return admin.complete(d.jid, node, first.sessionid,
                          form=h.make_form(fields, "urn:imdomaind:" + node), timeout=60)


def regenerate(admin, d, domain):
    r = run(admin, d, "domains/add", {"domain": domain})
    h.check(r.status == "completed" and not any(t == "error" for t, _ in r.notes),
            "domains/add %s: %r" % (domain, r.notes))
    r = run(admin, d, "certs/regenerate", {"key_type": "ec-p256", "days": "90",
                                           "xmpp_addr": False})
    h.check(any("installed" in text for _, text in r.notes) and
            not any(t == "error" for t, _ in r.notes), "regenerate: %r" % r.notes)
    shown = admin.execute(d.jid, "certs/show")
    h.check(shown.value("status") == "current", "certs/show: %r" % shown.value("status"))
    return shown.value("fingerprint").upper()


def verdict(r):
    return " ".join(t for _, t in r.notes)


def test_prosody_and_ejabberd_federate():
    "ejabberd <-> Prosody s2s: messages cross with imdomaind's certificates; federation/check"
    root = h.tmpdir("fed")
    dns = DNS()
    port_a, port_e, port_b2 = h.free_port(), h.free_port(), h.free_port()
    dns.records[A] = dns.records[IMD_A] = (A_IP, port_a)  # the components' own names too:
    dns.records[E] = dns.records[IMD_E] = (E_IP, port_e)  # peers answer their pings there
    dns.records[B2] = (B2_IP, port_b2)
    certs_a, certs_e, certs_b2 = (os.path.join(root, n) for n in ("ca", "ce", "cb2"))
    for d in (certs_a, certs_e, certs_b2):
        os.makedirs(d)
    b2_crt = cn_only_cert(certs_b2, B2, "other.example.test")
    a_crt, e_crt = os.path.join(certs_a, A + ".crt"), os.path.join(certs_e, E + ".crt")
    resolve = "%s=%s:%d %s=%s:%d %s=%s:%d" % (A, A_IP, port_a, E, E_IP, port_e, B2, B2_IP,
                                             port_b2)

    # A first: its certificate must exist before E (which trusts it) starts.
    trust_a = bundle(os.path.join(root, "trust-a.pem"), b2_crt)
    pa = h.Prosody(host=A, components={IMD_A: "s3cret"},
                   extra=tf.prosody_extra(A_IP, port_a, certs_a, trust_a, dns.port))
    da = h.Daemon(pa, jid=IMD_A, settings={
        "certs": {"dir": certs_a, "key_type": "ec-p256", "days": 90, "ca_file": trust_a},
        "router": {"reload_hook": "/bin/kill -HUP %d" % pa.proc.pid},
        "federation": {"resolve": resolve, "timeout": 5}})
    admin_a = h.Client(pa, "admin")
    fp_a = regenerate(admin_a, da, A)

    trust_e = bundle(os.path.join(root, "trust-e.pem"), a_crt, b2_crt)
    pe = h.Ejabberd(host=E, components={IMD_E: "s3cret"},
                    certfiles=[certs_e + "/*.crt", certs_e + "/*.key"],
                    s2s={"ip": E_IP, "port": port_e, "ca_file": trust_e, "dns_port": dns.port})
    de = h.Daemon(pe, jid=IMD_E, settings={
        "router": {"kind": "ejabberd", "reload_hook": pe.hook_command("reload_config"),
                   "hook_timeout": 120},
        "certs": {"dir": certs_e, "key_type": "ec-p256", "days": 90, "ca_file": trust_e},
        "federation": {"resolve": resolve, "timeout": 5}})
    admin_e = h.Client(pe, "admin")
    fp_e = regenerate(admin_e, de, E)
    # The reload hook made ejabberd read the new certificate; A learns to trust it.
    bundle(trust_a, b2_crt, e_crt)
    pa.reload()

    # Each side serves for s2s the certificate its daemon installed.
    h.check(h.wait_for(lambda: tf.served_fingerprint(E_IP, port_e, E) == fp_e, 15),
            "ejabberd does not present the certificate imdomaind installed for s2s")
    h.check(tf.served_fingerprint(A_IP, port_a, A) == fp_a,
            "Prosody does not present the certificate imdomaind installed for s2s")

    # Messages cross both ways.
    ua, ue = h.Client(pa, "ua"), h.Client(pe, "ue")
    box_a, box_e = Inbox(ua), Inbox(ue)
    t0 = time.monotonic()
    send(ua, ue.bare, "hello from Prosody")
    h.check(box_e.has(ua.bare, "hello from Prosody", 30), "A -> E: not delivered (%r)"
            % box_e.got)
    h.tap.comment("A -> E delivered %.2f s after sending (s2s set up)" % (time.monotonic() - t0))
    send(ue, ua.bare, "hello from ejabberd")
    h.check(box_a.has(ue.bare, "hello from ejabberd", 30), "E -> A: not delivered (%r)"
            % box_a.got)

    # federation/check against a real peer that is fine, from each side.
    for admin, d, peer, router in ((admin_e, de, A, "ejabberd"), (admin_a, da, E, "Prosody")):
        r = run(admin, d, "federation/check", {"domain": peer})
        rows = tf.check_rows(r)
        for step in ("resolve", "connect", "stream", "starttls", "chain", "name", "ping"):
            h.check(rows[step][0] == "ok", "%s -> %s, %s: %r" % (router, peer, step, rows[step]))
        h.check(not any(t in ("error", "warn") for t, _ in r.notes),
                "%s -> %s verdict: %r" % (router, peer, r.notes))

    # B2: a certificate valid for b2 by its CN only. ejabberd accepts the CN and federates,
    # Prosody (RFC 6125: a SAN list means the CN is not looked at) refuses.
    pb2 = h.Prosody(host=B2, extra=tf.prosody_extra(
        B2_IP, port_b2, certs_b2, bundle(os.path.join(root, "trust-b2.pem"), a_crt, e_crt),
        dns.port))
    ub2 = h.Client(pb2, "ub2")
    box_b2 = Inbox(ub2)
    send(ue, ub2.bare, "hello b2 from ejabberd")
    h.check(box_b2.has(ue.bare, "hello b2 from ejabberd", 30),
            "E -> B2: not delivered although ejabberd accepts the CN (%r)" % box_b2.got)

    r = run(admin_e, de, "federation/check", {"domain": B2})
    rows = tf.check_rows(r)
    h.tap.comment("ejabberd -> B2: %r; verdict: %s" % (rows, verdict(r)))
    for step in ("resolve", "connect", "stream", "starttls", "chain", "ping"):
        h.check(rows[step][0] == "ok", "ejabberd -> B2, %s: %r" % (step, rows[step]))
    h.check(rows["name"][0] == "warning" and "other.example.test" in rows["name"][1],
            "ejabberd -> B2, name: %r" % (rows["name"],))
    text = verdict(r)
    h.check("works through our router" in text and "will refuse %s" % B2 in text,
            "ejabberd -> B2 verdict: %s" % text)

    r = run(admin_a, da, "federation/check", {"domain": B2})
    rows = tf.check_rows(r)
    h.tap.comment("Prosody -> B2: %r; verdict: %s" % (rows, verdict(r)))
    h.check(rows["name"][0] == "warning", "Prosody -> B2, name: %r" % (rows["name"],))
    h.check(rows["ping"][0] == "failed", "Prosody -> B2, ping: %r" % (rows["ping"],))
    h.check("likely cause" in verdict(r), "Prosody -> B2 verdict: %s" % verdict(r))
    h.check(not tf.reaches(ua, ub2.jid, timeout=10), "Prosody A federated with B2's CN-only "
            "certificate")


h.tap.run([test_prosody_and_ejabberd_federate])
