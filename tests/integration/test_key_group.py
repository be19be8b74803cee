#!/usr/bin/python3
# [certs] key_group: imdomaind runs as an unprivileged user (nobody), Prosody as its Debian user
# prosody; the certificate directory is the daemon's and readable by Prosody's group. With
# key_group = prosody, certs/regenerate writes the key 0640 in that group and Prosody, started
# again, serves the imdomaind-managed certificate on STARTTLS; without it the key is 0600 and
# Prosody cannot load it. `imdomaind -n` refuses a group that does not exist or that the
# daemon's user is not a member of.
import os
import socket
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean (distcheck has it read-only)
import harness as h  # noqa: E402
from harness import check  # noqa: E402
from as_users import DaemonAs, ProsodyAsProsody, ids, open_path  # noqa: E402

HOST = "a.example.test"
JID = "domains." + HOST


def need_users():
    if os.geteuid() != 0:
        raise h.Skip("needs root to run Prosody and imdomaind as other users")
    if ids("prosody", "prosody") is None or ids("nobody", "nogroup") is None:
        raise h.Skip("no prosody or nobody user")


def cert_dir():
    """The daemon's certificate directory as an admin would make it for Prosody: owned by the
    daemon's user, group prosody, 0750 (like Debian's /etc/prosody/certs, root:prosody 0750,
    but writable by imdomaind)."""
    certs = os.path.join(h.tmpdir("router"), "certs")
    os.makedirs(certs)
    open_path(os.path.dirname(certs))
    os.chown(certs, ids("nobody", "nogroup")[0], ids("prosody", "prosody")[1])
    os.chmod(certs, 0o750)
    return certs


def setup(key_group):
    need_users()
    certs = cert_dir()
    p = ProsodyAsProsody(host=HOST, extra='certificates = %s' % h._lua_str(certs),
                         modules=["tls"])
    settings = {"certs": {"dir": certs, "key_type": "ec-p256", "days": 30}}
    if key_group:
        settings["certs"]["key_group"] = key_group
    d = DaemonAs(p, "nobody", "nogroup", [ids("prosody", "prosody")[1]], jid=JID,
                 settings=settings)
    c = h.Client(p, "admin", register=False)
    return p, d, c, certs


def run(c, node, fields):
    first = c.execute(JID, node)
    return c.complete(JID, node, first.sessionid,
                      form=h.make_form(fields, "urn:imdomaind:" + node), timeout=60 * h.SLOW)


def regenerate(c):
    r = run(c, "domains/add", {"domain": HOST})
    check(r.status == "completed", "domains/add: %r" % r.notes)
    r = run(c, "certs/regenerate", {"key_type": "ec-p256", "days": "30", "xmpp_addr": False})
    check(not any(t == "error" for t, _ in r.notes), "regenerate: %r" % r.notes)


def offers_starttls(p):
    """Whether Prosody's c2s stream features for HOST offer STARTTLS (it does only when it has
    a TLS context, i.e. could load a certificate and its key for the host)."""
    with socket.create_connection(("127.0.0.1", p.c2s_port), timeout=10 * h.SLOW) as s:
        s.sendall(("<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' "
                   "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
                   % HOST).encode())
        got = b""
        while b"</stream:features>" not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    check(b"</stream:features>" in got, "no stream features: %r" % got)
    return b"urn:ietf:params:xml:ns:xmpp-tls" in got


def served_certificate(p):
    """The leaf certificate Prosody shows on c2s STARTTLS for HOST (PEM), or ""."""
    if not offers_starttls(p):
        return ""
    out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % p.c2s_port,
                          "-starttls", "xmpp", "-xmpphost", HOST, "-servername", HOST],
                         input="", capture_output=True, text=True, timeout=30).stdout
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    if begin not in out:
        return ""
    return out[out.index(begin):out.index(end) + len(end)]


def fingerprint(pem):
    return subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256"], input=pem,
                          capture_output=True, text=True, timeout=30).stdout.strip()


def test_prosody_reads_the_group_key():
    "imdomaind as nobody, key_group = prosody: the key is 0640 nobody:prosody and Prosody (user prosody) serves the certificate"
    p, d, c, certs = setup("prosody")
    regenerate(c)
    key = os.path.join(certs, HOST + ".key")
    st = os.stat(key)  # through the link, the generation's file
    check(st.st_mode & 0o7777 == 0o640, "key mode %o" % (st.st_mode & 0o7777))
    check(st.st_gid == ids("prosody", "prosody")[1] and st.st_uid == ids("nobody", "nogroup")[0],
          "key owner %d:%d" % (st.st_uid, st.st_gid))
    # Others: no access (the check runs as imdtest, or as nobody's neighbour 'daemon').
    other = "imdtest" if ids("imdtest", "imdtest") else "daemon"
    r = subprocess.run(["setpriv", "--reuid=" + other, "--regid=" + other, "--clear-groups",
                        "cat", key], capture_output=True, text=True, timeout=30)
    check(r.returncode != 0 and "Permission denied" in r.stderr, "%s read the key: %r"
          % (other, r.stderr))
    r = subprocess.run(["setpriv", "--reuid=prosody", "--regid=prosody", "--init-groups",
                        "head", "-c", "27", key], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and r.stdout.startswith("-----BEGIN"), "prosody: %r" % r.stderr)
    mark = d.log_size()
    p.restart()  # Prosody indexes its certificate directory at start
    d.wait_connected(30, after=mark)
    pem = served_certificate(p)
    check(pem, "no certificate on STARTTLS for %s: %s" % (HOST, h.read_text(p.log)[-3000:]))
    want = fingerprint(h.read_text(os.path.join(certs, "cup-xmpp-s2s.crt")))
    check(fingerprint(pem) == want, "served %s, imdomaind wrote %s" % (fingerprint(pem), want))
    check(d.wait_log(r"certs: repair", 0.2) is None, "nothing to repair at the start")


def test_without_group_prosody_cannot():
    "the same without key_group: the key is 0600 and Prosody cannot load it (no imdomaind certificate served)"
    p, d, c, certs = setup(None)
    regenerate(c)
    st = os.stat(os.path.join(certs, HOST + ".key"))
    check(st.st_mode & 0o7777 == 0o600, "key mode %o" % (st.st_mode & 0o7777))
    p.restart()
    check(not offers_starttls(p), "Prosody offers STARTTLS with a key it cannot read")
    check(p.wait_log(r"Should be able to do TLS but no context available", 5),
          "Prosody did not say it has no TLS context")


def test_restart_with_group_repairs():
    "key_group set later: the next start of imdomaind gives the existing key to the group"
    p, d, c, certs = setup(None)
    regenerate(c)
    d.stop()
    d.sections["certs"]["key_group"] = "prosody"
    d.write_config()
    d.start()
    check(d.wait_log(r"certs: repair dir=.* mode 0600 -> 0640", 5), "no repair logged")
    st = os.stat(os.path.join(certs, HOST + ".key"))
    check(st.st_mode & 0o7777 == 0o640 and st.st_gid == ids("prosody", "prosody")[1],
          "key %o gid %d" % (st.st_mode & 0o7777, st.st_gid))
    check("BEGIN" not in h.read_text(d.log), "key material in the log")


def test_check_config_refusals():
    "imdomaind -n as imdtest: a missing group and a group it is not in are typed refusals; with the group it passes"
    need_users()
    if ids("imdtest", "imdtest") is None:
        raise h.Skip("no user imdtest")
    prosody_gid = ids("prosody", "prosody")[1]
    for group, groups, want, status in [
            ("no-such-group", [], "certs.key_group: the group 'no-such-group' does not exist", 1),
            ("prosody", [], "certs.key_group: imdomaind runs as user imdtest, which is not a "
                            "member of the group 'prosody'", 1),
            ("prosody", [prosody_gid], None, 0)]:
        d = DaemonAs(None, "imdtest", "imdtest", groups, start=False, router_port=5347,
                     settings={"certs": {"dir": h.tmpdir("certs"), "key_group": group}})
        rc, out, err = d.check_config()
        if status:
            check(rc != 0 and want in err, "%s %r: exit %d %r" % (group, groups, rc, err))
        else:
            check(rc == 0, "%s %r: exit %d %r %r" % (group, groups, rc, out, err))


h.tap.run([
    test_prosody_reads_the_group_key,
    test_without_group_prosody_cannot,
    test_restart_with_group_repairs,
    test_check_config_refusals,
])
