#!/usr/bin/python3
# certs/csr run to completion through a real Prosody and a slixmpp admin: the request is one a CA
# can sign for exactly the current domain set (its signature verifies, every domain is a dNSName
# SAN, the key type is the one asked for), its key is the pending key on disk (0600) and nothing
# the router serves changes. A second request replaces the pending key. (certs/import of the
# signed request, its other half, is proven with the rest of issue 11's defects.)
import os
import stat
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean (distcheck has it read-only)
import harness as h  # noqa: E402
from harness import check  # noqa: E402

JID = "domains.example.test"
DOMAINS = ["one.example.test", "two.example.test"]


def ft(node):
    return "urn:imdomaind:" + node


def openssl(*args, stdin=None):
    r = subprocess.run(["openssl"] + list(args), input=stdin, capture_output=True, text=True,
                       timeout=30)
    check(r.returncode == 0, "openssl %s: %s" % (" ".join(args), r.stderr))
    return r.stdout + r.stderr


def _setup():
    p = h.Prosody()
    certs = h.tmpdir("certs")
    d = h.Daemon(p, settings={"certs": {"dir": certs, "key_type": "rsa-2048"}})
    c = h.Client(p, "admin")
    for name in DOMAINS:
        r = c.execute(JID, "domains/add", form={"domain": name}, form_type=ft("domains/add"))
        check(r.status == "completed", "domains/add %s: %r" % (name, r))
    return d, c, certs


def _csr(c, key_type):
    first = c.execute(JID, "certs/csr")
    check(first.status == "executing" and first.field("key_type") is not None, repr(first))
    r = c.complete(JID, "certs/csr", first.sessionid,
                   form={"key_type": key_type, "xmpp_addr": False}, form_type=ft("certs/csr"),
                   timeout=60)
    check(r.status == "completed", "certs/csr: %r" % r)
    check(not [t for k, t in r.notes if k == "error"], "certs/csr: %r" % r.notes)
    return "\n".join(r.values("csr")) + "\n"


def _pending(certs):
    path = os.path.join(certs, "cup-xmpp-s2s.pending.key")
    check(os.path.exists(path), "no pending key in %s: %r" % (certs, os.listdir(certs)))
    mode = stat.S_IMODE(os.stat(path).st_mode)
    check(mode == 0o600, "pending key mode %o" % mode)
    return openssl("pkey", "-in", path, "-pubout")


def test_csr_for_the_domain_set():
    "certs/csr: a verifiable request for every domain and the pending key; nothing served changes"
    _, c, certs = _setup()
    before = sorted(os.listdir(certs))
    pem = _csr(c, "ec-p384")
    check(pem.startswith("-----BEGIN CERTIFICATE REQUEST-----"), pem[:80])
    openssl("req", "-verify", "-noout", stdin=pem)  # the self-signature holds
    text = openssl("req", "-noout", "-text", stdin=pem)
    for name in DOMAINS:
        check("DNS:" + name in text, "%s not among the SANs: %s" % (name, text))
    check("secp384r1" in text or "P-384" in text, "not an EC P-384 key: %s" % text)
    check("xmppAddr" not in text and "1.3.6.1.5.5.7.8.5" not in text, "xmppAddr was not asked for")
    csr_pub = openssl("req", "-noout", "-pubkey", stdin=pem)
    check(csr_pub == _pending(certs), "the CSR is not for the pending key")
    served = [f for f in os.listdir(certs) if f.endswith(".crt")]
    after = sorted(before + ["cup-xmpp-s2s.pending.key"])
    check(served == [] and sorted(os.listdir(certs)) == after,
          "a CSR changed what the router reads: %r" % os.listdir(certs))

    # A second request replaces the pending key; the first one is for a key that is gone.
    pem2 = _csr(c, "rsa-2048")
    text2 = openssl("req", "-noout", "-text", stdin=pem2)
    check("Public-Key: (2048 bit)" in text2 and "rsaEncryption" in text2, text2)
    pub2 = openssl("req", "-noout", "-pubkey", stdin=pem2)
    check(pub2 == _pending(certs) and pub2 != csr_pub, "the pending key was not replaced")


h.tap.run([
    test_csr_for_the_domain_set,
])
