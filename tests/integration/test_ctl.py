# Integration tests of the local control socket and imdomainctl (built in IMD_BUILDDIR): listing,
# running commands with var=value arguments, --json output, exit statuses, the uid check, the
# frame limit, and all of it while the router is down.
import json
import os
import pty
import re
import shutil
import socket
import sqlite3
import stat
import struct
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # keep the source tree clean (distcheck has it read-only)
import harness as h  # noqa: E402
from harness import check  # noqa: E402

JID = "domains.example.test"
NOBODY = 65534
FRAME_MAX = 1024 * 1024  # CTL_FRAME_MAX in component/daemon/ctl_proto.h


def ctl_binary():
    return os.path.join(h.builddir(), "imdomainctl")


def _offline_daemon(settings=None):
    """A daemon whose router port is closed: only the control socket can reach it."""
    d = h.Daemon(None, router_port=h.free_port(), settings=settings, wait_connected=False)
    check(d.wait_log(r"control socket listening", 10), "no 'control socket listening' line")
    d.socket = d.sections["control"]["socket"]
    return d


def _online():
    """Prosody + a connected daemon (commands that talk to the router need it)."""
    p = h.Prosody()
    return p, h.Daemon(p)


def ctl(d, *args, user=None, input_text=None, sock=None):
    """Runs imdomainctl -s SOCKET ARGS...; user=NOBODY runs it as nobody. Returns
    (exit status, stdout, stderr)."""
    if not os.access(ctl_binary(), os.X_OK):
        raise h.Skip("no imdomainctl at %s" % ctl_binary())
    argv = [ctl_binary(), "-s", sock or d.socket] + list(args)
    if user is not None:
        # Not under valgrind (h.run_tool): it would check setpriv, not imdomainctl.
        argv = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] + argv
        r = subprocess.run(argv, input=input_text, capture_output=True, text=True,
                           timeout=30 * h.SLOW)
    else:
        r = h.run_tool(argv, input=input_text, capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout, r.stderr


def ctl_json(d, *args):
    """imdomainctl --json ARGS: (exit status, parsed JSON, stderr)."""
    rc, out, err = ctl(d, "--json", *args)
    try:
        doc = json.loads(out)
    except ValueError as e:
        raise h.TestFailure("--json printed something that is not JSON (%s): %r; stderr %r"
                            % (e, out, err))
    return rc, doc, err


class RawCtl:
    """A raw control-socket client: 4-byte big-endian length + one XML <iq> per frame."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10 * h.SLOW)
        self.sock.connect(path)
        h.defer(self.close)

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, xml):
        data = xml.encode() if isinstance(xml, str) else xml
        self.send_raw(struct.pack(">I", len(data)) + data)

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def recv(self):
        """The next answer as an element, or None at EOF."""
        hdr = self._read(4)
        if hdr is None:
            return None
        n = struct.unpack(">I", hdr)[0]
        check(n <= FRAME_MAX, "answer frame of %d bytes" % n)
        body = self._read(n)
        check(body is not None, "EOF inside a frame")
        return h.ET.fromstring(body.decode())

    def eof(self):
        """True if the daemon closed the connection (nothing more to read)."""
        try:
            return self.sock.recv(1) == b""
        except OSError:
            return True

    def roundtrip(self, xml):
        self.send(xml)
        reply = self.recv()
        check(reply is not None, "the daemon closed instead of answering %s" % xml)
        return reply

    def close(self):
        self.sock.close()


def _error(reply):
    err = reply.find("error")
    if err is None:
        err = reply.find("{%s}error" % h.NS_CLIENT)
    check(err is not None, "not an error: %s" % h.ET.tostring(reply, "unicode"))
    conds = [c.tag.split("}")[1] for c in err if c.tag.startswith("{%s}" % h.NS_STANZAS)
             and not c.tag.endswith("}text")]
    return err.get("type"), conds


def _items(reply):
    q = reply.find("{%s}query" % h.NS_DISCO_ITEMS)
    check(q is not None, "no disco#items query: %s" % h.ET.tostring(reply, "unicode"))
    return [(i.get("jid"), i.get("node"), i.get("name"))
            for i in q.findall("{%s}item" % h.NS_DISCO_ITEMS)]


# ---------------------------------------------------------------------------------------------
# The socket itself


def test_socket_mode():
    "the control socket is created with the configured mode (0600 by default in the tests)"
    d = _offline_daemon()
    st = os.stat(d.socket)
    check(stat.S_ISSOCK(st.st_mode), "not a socket")
    check(stat.S_IMODE(st.st_mode) == 0o600, "mode %o" % stat.S_IMODE(st.st_mode))
    d.stop()
    check(not os.path.exists(d.socket), "the socket file is left behind after a clean stop")


def test_list_router_down():
    "imdomainctl list works while the router is down (exit 0, --json is a list of nodes)"
    d = _offline_daemon()
    rc, out, err = ctl(d, "list")
    check(rc == 0, "exit %d, stderr %r" % (rc, err))
    rc, doc, err = ctl_json(d, "list")
    check(rc == 0, "exit %d, stderr %r" % (rc, err))
    check(isinstance(doc, list), "not a list: %r" % doc)
    for entry in doc:
        check(set(entry) == {"node", "name"} and entry["node"] and entry["name"],
              "entry %r" % entry)
    lines = [ln for ln in out.splitlines() if ln.strip()]
    check(len(lines) == len(doc), "text list %r vs json %r" % (lines, doc))
    for entry, line in zip(doc, lines):
        check(line.split()[0] == entry["node"], "line %r for %r" % (line, entry))
    check("router link" not in out)
    check(d.running(), "the daemon exited")


def test_raw_disco_items():
    "a raw framed disco#items on the commands node answers with the same items as `list`"
    d = _offline_daemon()
    c = RawCtl(d.socket)
    reply = c.roundtrip("<iq type='get' id='d1'><query xmlns='%s' node='%s'/></iq>"
                        % (h.NS_DISCO_ITEMS, h.NS_COMMANDS))
    check(reply.get("type") == "result" and reply.get("id") == "d1",
          h.ET.tostring(reply, "unicode"))
    items = _items(reply)
    rc, doc, _ = ctl_json(d, "list")
    check(rc == 0)
    check([n for _, n, _ in items] == [e["node"] for e in doc], "%r vs %r" % (items, doc))
    for jid, node, name in items:
        check(jid == JID and node and name, "item %r" % ((jid, node, name),))
    # Several requests on one connection, answered in order.
    c.send("<iq type='get' id='a'><query xmlns='%s' node='%s'/></iq>"
           % (h.NS_DISCO_ITEMS, h.NS_COMMANDS))
    c.send("<iq type='get' id='b'><query xmlns='%s' node='nope'/></iq>" % h.NS_DISCO_ITEMS)
    first, second = c.recv(), c.recv()
    check(first.get("id") == "a" and first.get("type") == "result", h.ET.tostring(first))
    check(second.get("id") == "b" and second.get("type") == "error", h.ET.tostring(second))
    check(_error(second)[1] == ["item-not-found"], h.ET.tostring(second, "unicode"))


def test_raw_disco_info():
    "disco#info on the commands node over the socket: automation/command-list"
    d = _offline_daemon()
    c = RawCtl(d.socket)
    reply = c.roundtrip("<iq type='get' id='i1'><query xmlns='%s' node='%s'/></iq>"
                        % (h.NS_DISCO_INFO, h.NS_COMMANDS))
    check(reply.get("type") == "result", h.ET.tostring(reply, "unicode"))
    ids = reply.findall("{%s}query/{%s}identity" % (h.NS_DISCO_INFO, h.NS_DISCO_INFO))
    check([(i.get("category"), i.get("type")) for i in ids] == [("automation", "command-list")],
          h.ET.tostring(reply, "unicode"))


def test_raw_not_a_command():
    "over the socket, an iq that is neither a command nor disco gets service-unavailable"
    d = _offline_daemon()
    c = RawCtl(d.socket)
    reply = c.roundtrip("<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>")
    check(reply.get("type") == "error" and reply.get("id") == "p1",
          h.ET.tostring(reply, "unicode"))
    check(_error(reply) == ("cancel", ["service-unavailable"]), h.ET.tostring(reply, "unicode"))


def test_raw_not_an_iq():
    "a frame that is not one <iq> element: bad-request, and the connection still works"
    d = _offline_daemon()
    c = RawCtl(d.socket)
    for junk in ("<message><body>hi</body></message>", "not xml at all", "<iq type='get'"):
        reply = c.roundtrip(junk)
        check(reply.tag in ("iq", "{%s}iq" % h.NS_CLIENT) and reply.get("type") == "error",
              "%r: %s" % (junk, h.ET.tostring(reply, "unicode")))
        check(_error(reply)[1] == ["bad-request"], "%r: %s"
              % (junk, h.ET.tostring(reply, "unicode")))
    reply = c.roundtrip("<iq type='get' id='ok'><query xmlns='%s' node='%s'/></iq>"
                        % (h.NS_DISCO_ITEMS, h.NS_COMMANDS))
    check(reply.get("type") == "result", h.ET.tostring(reply, "unicode"))


def test_frame_limit():
    "a frame above 1 MiB: policy-violation, disconnected; a frame of exactly 1 MiB is read"
    d = _offline_daemon()
    c = RawCtl(d.socket)
    c.send_raw(struct.pack(">I", FRAME_MAX + 1))
    reply = c.recv()
    check(reply is not None, "no answer to the oversized frame")
    check(_error(reply)[1] == ["policy-violation"], h.ET.tostring(reply, "unicode"))
    check(c.eof(), "still connected after an oversized frame")
    check(d.wait_log(r"control: uid:\d+ sent a frame of %d bytes" % (FRAME_MAX + 1), 5),
          "no log line for the oversized frame")
    # Exactly at the limit: read in full and answered (here: not a known payload).
    big = "<iq type='get' id='big'><query xmlns='urn:example:big'>%s</query></iq>"
    pad = FRAME_MAX - len(big % "")
    c2 = RawCtl(d.socket)
    c2.send(big % ("x" * pad))
    reply = c2.recv()
    check(reply is not None and reply.get("id") == "big", "no answer to a 1 MiB frame")
    check(_error(reply)[1] == ["service-unavailable"], h.ET.tostring(reply, "unicode"))
    rc, _, err = ctl(d, "list")
    check(rc == 0, "list after the oversized frame: exit %d %r" % (rc, err))


def test_frame_split():
    "a request split into single bytes is reassembled"
    d = _offline_daemon()
    c = RawCtl(d.socket)
    data = ("<iq type='get' id='s'><query xmlns='%s' node='%s'/></iq>"
            % (h.NS_DISCO_ITEMS, h.NS_COMMANDS)).encode()
    frame = struct.pack(">I", len(data)) + data
    for i in range(len(frame)):
        c.send_raw(frame[i:i + 1])
    reply = c.recv()
    check(reply is not None and reply.get("id") == "s" and reply.get("type") == "result",
          "reply %r" % (reply,))


# ---------------------------------------------------------------------------------------------
# Who may connect


def _open_dir():
    """A directory nobody can traverse (the test dirs are 0700): for a socket others can reach."""
    path = tempfile.mkdtemp(prefix="imd-ctl.", dir="/tmp")
    os.chmod(path, 0o711)
    h.defer(shutil.rmtree, path, True)
    return path


def _need_nobody():
    if os.geteuid() != 0:
        raise h.Skip("running as uid %d: cannot run imdomainctl as another user"
                      % os.geteuid())
    if shutil.which("setpriv") is None:
        raise h.Skip("setpriv is not installed")
    if not os.access(ctl_binary(), os.X_OK):
        raise h.Skip("no imdomainctl at %s" % ctl_binary())
    probe = subprocess.run(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                            "--clear-groups", ctl_binary(), "--help"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        raise h.Skip("user nobody cannot run %s (a private build directory?): %s"
                     % (ctl_binary(), probe.stderr.strip()))


def test_refused_uid():
    "a uid that is neither root, the daemon's nor in the group gets forbidden: exit 3"
    _need_nobody()
    sock = os.path.join(_open_dir(), "ctl.sock")
    d = _offline_daemon({"control": {"socket": sock, "mode": "0666"}})
    for args in (("list",), ("run", "domains/list")):
        rc, out, err = ctl(d, *args, user=NOBODY)
        check(rc == 3, "%s as nobody: exit %d, stdout %r, stderr %r" % (args, rc, out, err))
        check("forbidden" in err, "stderr %r" % err)
        check("may not use the imdomaind control socket" in err, "stderr %r" % err)
    rc, out, err = ctl(d, "--json", "list", user=NOBODY)
    check(rc == 3, "exit %d" % rc)
    doc = json.loads(out)
    check(doc["status"] == "error" and doc["condition"] == "forbidden", "json %r" % doc)
    check(d.wait_log(r"control: refused uid:%d \(not allowed\)" % NOBODY, 5),
          "no refusal in the log")
    # root still gets in on the same socket.
    rc, _, err = ctl(d, "list")
    check(rc == 0, "root: exit %d %r" % (rc, err))


def test_refused_by_mode():
    "with mode 0600 another user cannot even connect: non-zero exit naming the socket"
    _need_nobody()
    sock = os.path.join(_open_dir(), "ctl.sock")
    d = _offline_daemon({"control": {"socket": sock, "mode": "0600"}})
    rc, out, err = ctl(d, "list", user=NOBODY)
    check(rc != 0, "nobody connected through a 0600 socket: %r" % out)
    check("cannot connect to %s" % sock in err and "Permission denied" in err, "stderr %r" % err)


def test_group_lets_in():
    "a member of [control] group gets in through a 0660 socket"
    _need_nobody()
    sock = os.path.join(_open_dir(), "ctl.sock")
    d = _offline_daemon({"control": {"socket": sock, "mode": "0660", "group": "nogroup"}})
    st = os.stat(sock)
    check(stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == NOBODY,
          "mode %o gid %d" % (stat.S_IMODE(st.st_mode), st.st_gid))
    rc, out, err = ctl(d, "list", user=NOBODY)  # nobody's primary group is nogroup
    check(rc == 0, "exit %d, stderr %r" % (rc, err))


# ---------------------------------------------------------------------------------------------
# imdomainctl run


def test_run_unknown_node():
    "run of an unknown node: exit 2 with item-not-found and the daemon's text"
    d = _offline_daemon()
    rc, out, err = ctl(d, "run", "no/such-command")
    check(rc == 2, "exit %d, stdout %r, stderr %r" % (rc, out, err))
    check("item-not-found" in err and "no/such-command" in err, "stderr %r" % err)
    rc, doc, err = ctl_json(d, "run", "no/such-command")
    check(rc == 2)
    check(doc["status"] == "error" and doc["condition"] == "item-not-found", "json %r" % doc)
    check("no/such-command" in doc["text"], "json %r" % doc)
    rc, doc, err = ctl_json(d, "-l", "ko", "run", "no/such-command")
    check(rc == 2 and "명령이 없습니다" in doc["text"], "Korean text %r" % doc)


def test_run_add_and_list():
    "run domains/add domain=... then domains/list: exit 0, text and --json outcomes"
    d = _offline_daemon()
    rc, out, err = ctl(d, "run", "domains/add", "domain=Ctl.Example.ORG")
    check(rc == 0, "exit %d, stdout %r, stderr %r" % (rc, out, err))
    check("info:" in out and "ctl.example.org" in out, "stdout %r" % out)
    rc, out, err = ctl(d, "run", "domains/list")
    check(rc == 0, "exit %d %r" % (rc, err))
    check("ctl.example.org" in out, "stdout %r" % out)
    rc, doc, err = ctl_json(d, "run", "domains/list", "filter=ctl")
    check(rc == 0, "exit %d %r" % (rc, err))
    check(doc["status"] == "completed" and doc["node"] == "domains/list", "json %r" % doc)
    check(doc["notes"] and doc["notes"][0]["type"] == "info", "notes %r" % doc["notes"])
    table = doc["forms"][0]
    check(table["type"] == "result", "form %r" % table)
    check([c["var"] for c in table["columns"]][:1] == ["domain"], "columns %r" % table)
    check([row["domain"] for row in table["rows"]] == ["ctl.example.org"], "rows %r" % table)
    check(table["rows"][0]["managed_by"] == "admin", "row %r" % table["rows"][0])
    rc, doc, err = ctl_json(d, "run", "domains/list", "filter=nothing-like-this")
    check(rc == 0 and doc["forms"][0]["rows"] == [], "json %r" % doc)


def test_run_multi_stage():
    "run domains/update domain=A new_name=B fills both stages and completes"
    d = _offline_daemon()
    check(ctl(d, "run", "domains/add", "domain=a.example.org")[0] == 0)
    rc, out, err = ctl(d, "run", "domains/update", "domain=a.example.org",
                       "new_name=b.example.org")
    check(rc == 0, "exit %d, stdout %r, stderr %r" % (rc, out, err))
    check("unused" not in err and "not used" not in err, "stderr %r" % err)
    rc, doc, _ = ctl_json(d, "run", "domains/list")
    check([row["domain"] for row in doc["forms"][0]["rows"]] == ["b.example.org"], "%r" % doc)
    # An argument no stage asked for is reported.
    rc, out, err = ctl(d, "run", "domains/list", "colour=blue")
    check(rc == 0 and "argument colour was not used" in err, "exit %d %r" % (rc, err))


def test_run_error_note():
    "a completed command with an error note (a duplicate domain): exit 1, the note on stderr"
    d = _offline_daemon()
    check(ctl(d, "run", "domains/add", "domain=dup.example.org")[0] == 0)
    rc, out, err = ctl(d, "run", "domains/add", "domain=dup.example.org")
    check(rc == 1, "exit %d, stdout %r, stderr %r" % (rc, out, err))
    check("error:" in err and "dup.example.org" in err, "stderr %r" % err)
    rc, doc, _ = ctl_json(d, "run", "domains/add", "domain=DUP.example.org")
    check(rc == 1 and doc["status"] == "completed", "json %r" % doc)
    check([n["type"] for n in doc["notes"]] == ["error"], "notes %r" % doc["notes"])


def test_run_bad_payload():
    "a value the command refuses: exit 2 with bad-request (bad-payload) and the reason"
    d = _offline_daemon()
    rc, out, err = ctl(d, "run", "domains/add", "domain=bad_name!")
    check(rc == 2, "exit %d, stdout %r, stderr %r" % (rc, out, err))
    check("bad-request (bad-payload)" in err, "stderr %r" % err)
    rc, doc, _ = ctl_json(d, "run", "domains/list", "managed_by=nobody")
    check(rc == 2, "exit %d" % rc)
    check(doc["condition"] == "bad-request" and doc["command_condition"] == "bad-payload"
          and "managed_by" in doc["text"], "json %r" % doc)


def test_run_missing_required():
    "a required field without a value and no terminal: exit 1 naming it, the session canceled"
    d = _offline_daemon()
    rc, out, err = ctl(d, "run", "domains/add", input_text="")
    check(rc == 1, "exit %d, stdout %r, stderr %r" % (rc, out, err))
    check("missing value for required field 'domain'" in err and "domain=VALUE" in err,
          "stderr %r" % err)
    rows = _audit_rows(d)
    check(rows == [("uid:0", "domains/add", "canceled")], "audit %r" % rows)


def test_run_korean():
    "-l ko: Korean notes and errors"
    d = _offline_daemon()
    rc, out, err = ctl(d, "-l", "ko", "run", "domains/add", "domain=ko.example.org")
    check(rc == 0 and "추가" in out, "exit %d, stdout %r" % (rc, out))
    rc, doc, _ = ctl_json(d, "-l", "ko", "run", "domains/list")
    check(rc == 0 and "도메인" in doc["notes"][0]["text"], "json %r" % doc)
    rc, out, _ = ctl(d, "-l", "ko", "list")
    check(rc == 0 and "IM 주소 도메인 목록" in out, "list %r" % out)


def test_run_one_stage():
    "a command that completes on execute (sync/audit): exit 0 with its result fields in JSON"
    d = _offline_daemon()
    rc, doc, err = ctl_json(d, "run", "sync/audit")
    check(rc == 0, "exit %d %r" % (rc, err))
    check(doc["status"] == "completed" and doc["node"] == "sync/audit", "json %r" % doc)
    fields = doc["forms"][0]["fields"]
    check("added" in fields and fields["added"] == ["0"], "fields %r" % fields)


def test_run_paged_table():
    "a table longer than a page (users/import of 150 lines) comes out whole, in order, once"
    d = _offline_daemon()
    users = ["u%03d,u%03d@example.org" % (i, i) for i in range(150)]
    rc, doc, err = ctl_json(d, "run", "users/import", *["users=" + u for u in users])
    check(rc == 0, "exit %d %r" % (rc, err))
    check(doc["status"] == "completed", "json %r" % doc["status"])
    rows = doc["forms"][0]["rows"]
    check([r["userid"] for r in rows] == ["u%03d" % i for i in range(150)],
          "%d rows: %r ... %r" % (len(rows), rows[:2], rows[-2:]))
    check(doc["forms"][0]["columns"], "no columns")
    rc, out, err = ctl(d, "run", "domains/list")
    check(rc == 0, "exit %d %r" % (rc, err))
    rc, out, err = ctl(d, "run", "users/import", *["users=" + u for u in users])
    check(rc == 0, "exit %d %r" % (rc, err))
    body = [ln.split("\t")[1] for ln in out.splitlines() if re.match(r"\d+\tu\d{3}\t", ln)]
    check(body == ["u%03d" % i for i in range(150)], "text output has %d rows" % len(body))


def test_run_prompts_on_terminal():
    "on a terminal, a missing required field is asked for (label [var]: ) and the run goes on"
    d = _offline_daemon()
    if not os.access(ctl_binary(), os.X_OK):
        raise h.Skip("no imdomainctl at %s" % ctl_binary())
    master, slave = pty.openpty()
    proc = subprocess.Popen([ctl_binary(), "-s", d.socket, "run", "domains/add"], stdin=slave,
                            stderr=slave, stdout=subprocess.PIPE)
    os.close(slave)
    h.defer(os.close, master)
    h.defer(lambda: proc.poll() is None and proc.kill())
    seen = b""
    while b"[domain]: " not in seen:
        chunk = os.read(master, 4096)
        check(chunk, "the terminal closed before the prompt: %r" % seen)
        seen += chunk
    check(b"Domain [domain]: " in seen, "prompt %r" % seen)
    os.write(master, b"pty.example.org\n")
    out, _ = proc.communicate(timeout=30 * h.SLOW)
    check(proc.returncode == 0, "exit %d, stdout %r" % (proc.returncode, out))
    check(b"pty.example.org" in out, "stdout %r" % out)
    rc, doc, _ = ctl_json(d, "run", "domains/list")
    check([r["domain"] for r in doc["forms"][0]["rows"]] == ["pty.example.org"], "%r" % doc)


def _command_xml(ident, node, action=None, sid=None, form=""):
    attrs = " node='%s'" % node
    attrs += " action='%s'" % action if action else ""
    attrs += " sessionid='%s'" % sid if sid else ""
    return "<iq type='set' id='%s'><command xmlns='%s'%s>%s</command></iq>" % (
        ident, h.NS_COMMANDS, attrs, form)


def _status(reply):
    cmd = reply.find("{%s}command" % h.NS_COMMANDS)
    return None if cmd is None else cmd.get("status")


def test_busy_session():
    "a session whose step waits for the reload hook answers resource-constraint; the answer follows"
    d = _offline_daemon({"router": {"reload_hook": "/bin/sleep 2"}})
    c = RawCtl(d.socket)
    first = c.roundtrip(_command_xml("s", "domains/add"))
    check(_status(first) == "executing", h.ET.tostring(first, "unicode"))
    sid = first.find("{%s}command" % h.NS_COMMANDS).get("sessionid")
    form = h.make_form({"domain": "late.example.org"}, "urn:imdomaind:domains/add")
    # Both in one write: the cancel is read while the completion waits for the hook.
    c.send_raw(b"".join(struct.pack(">I", len(x)) + x for x in (
        _command_xml("done", "domains/add", "complete", sid, form).encode(),
        _command_xml("busy", "domains/add", "cancel", sid).encode())))
    busy = c.recv()
    check(busy is not None and busy.get("id") == "busy", "first answer %r"
          % (busy if busy is None else h.ET.tostring(busy, "unicode")))
    check(_error(busy) == ("wait", ["resource-constraint"]), h.ET.tostring(busy, "unicode"))
    done = c.recv()
    check(done is not None and done.get("id") == "done" and _status(done) == "completed",
          "late answer %r" % (done if done is None else h.ET.tostring(done, "unicode")))
    rc, doc, _ = ctl_json(d, "run", "domains/list")
    check([r["domain"] for r in doc["forms"][0]["rows"]] == ["late.example.org"], "%r" % doc)
    # The session ended with the completion: the cancel that was refused did not undo it.
    again = c.roundtrip(_command_xml("again", "domains/add", "cancel", sid))
    check(_error(again)[1] == ["not-allowed"], h.ET.tostring(again, "unicode"))


def _audit_rows(d):
    """(actor, node, outcome) of the audit records, read from the stopped daemon's store."""
    check(d.stop() == 0, "the daemon did not stop cleanly")
    con = sqlite3.connect(d.store)
    try:
        return con.execute("SELECT actor, node, outcome FROM audit_log ORDER BY id").fetchall()
    finally:
        con.close()


def test_audit_actor_uid():
    "runs over the socket are audited with actor uid:N; the router need not be up"
    d = _offline_daemon()
    ctl(d, "run", "domains/add", "domain=au.example.org")
    ctl(d, "run", "domains/add", "domain=au.example.org")
    ctl(d, "run", "no/such-command")
    rows = _audit_rows(d)
    me = "uid:%d" % os.geteuid()
    check(rows == [(me, "domains/add", "ok"), (me, "domains/add", "refused"),
                   (me, "no/such-command", "refused")], "audit %r" % rows)


def test_usage():
    "bad usage: exit 1 with the usage text; an argument that is not var=value is refused"
    d = _offline_daemon()
    for args in ((), ("frobnicate",), ("run",)):
        rc, out, err = ctl(d, *args)
        check(rc == 1 and "usage: imdomainctl" in err, "%r: exit %d %r" % (args, rc, err))
    rc, out, err = ctl(d, "run", "domains/list", "novalue")
    check(rc == 1 and "not var=value" in err, "exit %d %r" % (rc, err))
    rc, out, err = ctl(d, "--help")
    check(rc == 0 and "usage: imdomainctl" in out, "--help: exit %d %r" % (rc, out))


def test_no_daemon():
    "no daemon on the socket: exit 1, the message says so"
    path = os.path.join(h.tmpdir("nod"), "ctl.sock")
    if not os.access(ctl_binary(), os.X_OK):
        raise h.Skip("no imdomainctl at %s" % ctl_binary())
    r = h.run_tool([ctl_binary(), "-s", path, "list"], capture_output=True, text=True,
                   timeout=30)
    check(r.returncode == 1, "exit %d" % r.returncode)
    check("cannot connect to %s" % path in r.stderr and "is imdomaind running?" in r.stderr,
          r.stderr)
    # The environment names the socket too.
    d = _offline_daemon()
    env = dict(os.environ, IMDOMAINCTL_SOCKET=d.socket)
    r = h.run_tool([ctl_binary(), "list"], capture_output=True, text=True, timeout=30, env=env)
    check(r.returncode == 0, "IMDOMAINCTL_SOCKET: exit %d %r" % (r.returncode, r.stderr))


h.tap.run([
    test_socket_mode,
    test_list_router_down,
    test_raw_disco_items,
    test_raw_disco_info,
    test_raw_not_a_command,
    test_raw_not_an_iq,
    test_frame_limit,
    test_frame_split,
    test_refused_uid,
    test_refused_by_mode,
    test_group_lets_in,
    test_run_unknown_node,
    test_run_add_and_list,
    test_run_multi_stage,
    test_run_error_note,
    test_run_bad_payload,
    test_run_missing_required,
    test_run_prompts_on_terminal,
    test_run_korean,
    test_run_one_stage,
    test_run_paged_table,
    test_busy_session,
    test_audit_actor_uid,
    test_usage,
    test_no_daemon,
])
