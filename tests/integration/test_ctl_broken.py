# imdomainctl against a control socket that misbehaves: a fake daemon (a Python thread on a UNIX
# socket) answers each frame as a test scripts it. Nothing here needs Prosody or imdomaind: what
# is checked is that imdomainctl reports a broken, refusing or endless daemon with a clear message
# and the documented exit status, never a crash, a hang or a wrong success. Under IMD_VALGRIND=1
# imdomainctl itself runs under valgrind (h.run_tool).
import json
import os
import socket
import struct
import sys
import threading
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # keep the source tree clean (distcheck has it read-only)
import harness as h  # noqa: E402
from harness import check  # noqa: E402

NS_COMMANDS = "http://jabber.org/protocol/commands"
NS_DATA = "jabber:x:data"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
FRAME_MAX = 1024 * 1024  # CTL_FRAME_MAX in component/daemon/ctl_proto.h


def ctl_binary():
    return os.path.join(h.builddir(), "imdomainctl")


class FakeDaemon:
    """Accepts control connections; answer(request_element) -> bytes of one frame's payload, a
    FakeDaemon.RAW(bytes) written as they are (header included) before closing, or None to
    close at once. Every
    request is kept in .requests (parsed)."""

    class RAW(bytes):
        pass

    class STALL(bytes):
        """Written as they are, then the connection stays open and silent until the test
        ends."""

    def __init__(self, answer):
        self.answer = answer
        self.requests = []
        self.release = threading.Event()
        h.defer(self.release.set)
        self.path = os.path.join(h.tmpdir("ctl"), "ctl.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(8)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        h.defer(self.sock.close)

    def _serve(self):
        while True:
            try:
                con, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(con,), daemon=True).start()

    @staticmethod
    def _read(con, n):
        data = b""
        while len(data) < n:
            chunk = con.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def _conn(self, con):
        with con:
            while True:
                hdr = self._read(con, 4)
                if hdr is None:
                    return
                body = self._read(con, struct.unpack(">I", hdr)[0])
                if body is None:
                    return
                req = ET.fromstring(body)
                self.requests.append(req)
                out = self.answer(req)
                if out is None:
                    return
                if isinstance(out, FakeDaemon.STALL):
                    con.sendall(out)
                    self.release.wait(60)
                    return
                if isinstance(out, FakeDaemon.RAW):
                    con.sendall(out)
                    return
                else:
                    con.sendall(struct.pack(">I", len(out)) + out)

    def run(self, *args, stdin=""):
        if not os.access(ctl_binary(), os.X_OK):
            raise h.Skip("no imdomainctl at %s" % ctl_binary())
        r = h.run_tool([ctl_binary(), "-s", self.path] + list(args), input=stdin,
                       capture_output=True, text=True, timeout=30)
        return r.returncode, r.stdout, r.stderr


def command_of(req):
    return req.find("{%s}command" % NS_COMMANDS)


def iq_result(req, inner):
    return ("<iq xmlns='jabber:client' type='result' id='%s'>%s</iq>"
            % (req.get("id"), inner)).encode()


def iq_error(req, inner):
    return ("<iq xmlns='jabber:client' type='error' id='%s'><error type='cancel'>%s</error></iq>"
            % (req.get("id"), inner)).encode()


def command(status, inner="", sid="s1", node="x/y", actions=""):
    sid_attr = " sessionid='%s'" % sid if sid is not None else ""
    return ("<command xmlns='%s' node='%s' status='%s'%s>%s%s</command>"
            % (NS_COMMANDS, node, status, sid_attr, actions, inner))


def form(fields, type_="form"):
    return "<x xmlns='%s' type='%s'>%s</x>" % (NS_DATA, type_, fields)


def test_broken_answers():
    "an answer that is not XML, too large, cut off, or without a status: exit 1 and the reason"
    cases = [
        (lambda req: b"<iq this is not xml", "imdomaind sent an answer that is not XML"),
        (lambda req: FakeDaemon.RAW(struct.pack(">I", FRAME_MAX + 1)),
         "answer too large (%d bytes)" % (FRAME_MAX + 1)),
        (lambda req: FakeDaemon.RAW(struct.pack(">I", 100) + b"<iq"), "cannot read the answer"),
        (lambda req: None, "imdomaind closed the control connection"),
        (lambda req: iq_result(req, ""), "imdomaind answered without a command status"),
    ]
    for answer, message in cases:
        f = FakeDaemon(answer)
        rc, out, err = f.run("run", "x/y")
        check(rc == 1 and message in err, "%r: exit %d, stderr %r" % (message, rc, err))
        check(out == "", "%r: something printed on stdout: %r" % (message, out))


def test_executing_without_session():
    "a stage answered without a sessionid: exit 1 and the reason (no crash)"
    f = FakeDaemon(lambda req: iq_result(req, command("executing", form(""), sid=None)))
    rc, out, err = f.run("run", "x/y")
    check(rc == 1 and "without a session id" in err, "exit %d, stderr %r" % (rc, err))


def test_error_json_escapes():
    "a stanza error in --json: condition, command condition and text, escaped; forbidden is exit 3"
    text = 'quote " backslash \\ tab \t newline \n return \r <&> 한국어'
    esc = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace(
        "\r", "&#13;")

    def answer(req):
        return iq_error(req, "<bad-request xmlns='%s'/><bad-payload xmlns='%s'/>"
                        "<text xmlns='%s'>%s</text>" % (NS_STANZAS, NS_COMMANDS, NS_STANZAS, esc))
    f = FakeDaemon(answer)
    rc, out, err = f.run("--json", "run", "x/y")
    check(rc == 2, "exit %d, stderr %r" % (rc, err))
    check("\\u000d" in out and "\r" not in out, "carriage return not escaped as \\u000d: %r" % out)
    doc = json.loads(out)
    check(doc == {"status": "error", "condition": "bad-request",
                  "command_condition": "bad-payload", "text": text}, "json %r" % doc)
    # Without --json: both conditions on stderr, the text on the next line.
    rc, out, err = f.run("run", "x/y")
    check(rc == 2 and "error: bad-request (bad-payload)" in err and "backslash" in err,
          "exit %d %r" % (rc, err))
    # forbidden is exit 3; an error without any condition is undefined-condition.
    f = FakeDaemon(lambda req: iq_error(req, "<forbidden xmlns='%s'/>" % NS_STANZAS))
    rc, out, err = f.run("--json", "list")
    check(rc == 3 and json.loads(out)["condition"] == "forbidden", "exit %d %r" % (rc, out))
    f = FakeDaemon(lambda req: iq_error(req, ""))
    rc, out, err = f.run("--json", "run", "x/y")
    check(rc == 2 and json.loads(out) == {"status": "error", "condition": "undefined-condition",
                                          "text": ""}, "exit %d %r" % (rc, out))


def test_json_control_characters():
    "--json output of a completed command: a value with control characters comes back intact"
    value = 'a\rb\tc"d\\e\nf'
    esc = value.replace("\r", "&#13;")
    f = FakeDaemon(lambda req: iq_result(req, command("completed", form(
        "<field var='v' type='text-single' label='V'><value>%s</value></field>" % esc,
        "result"))))
    rc, out, err = f.run("--json", "run", "x/y")
    check(rc == 0, "exit %d %r %r" % (rc, out, err))
    check(all(ord(c) >= 0x20 for c in out.rstrip("\n")), "raw control character in %r" % out)
    doc = json.loads(out)
    check(doc["forms"][0]["fields"]["v"] == [value], "the value came back as %r" % doc)


def test_never_completes():
    "a daemon that keeps asking for the next stage: exit 1 after 64 stages, the session canceled"
    def answer(req):
        cmd = command_of(req)
        if cmd.get("action") == "cancel":
            return iq_result(req, command("canceled"))
        return iq_result(req, command("executing", form(
            "<field var='a' type='text-single'><value>1</value></field>"),
            actions="<actions execute='next'><next/></actions>"))
    f = FakeDaemon(answer)
    rc, out, err = f.run("run", "x/y")
    check(rc == 1 and "did not complete after 64 stages" in err, "exit %d %r" % (rc, err))
    actions = [command_of(r).get("action") for r in f.requests]
    check(actions[0] == "execute" and actions[1:65] == ["next"] * 64 and actions[65:] == ["cancel"],
          "actions sent %r" % actions)


def test_answer_timeout():
    "a daemon that stops answering: exit 1 after -t seconds with the reason; bad -t refused"
    cases = [
        (FakeDaemon.STALL(b""), "no answer from imdomaind within 1 s (-t to wait longer)"),
        (FakeDaemon.STALL(struct.pack(">I", 100) + b"<iq"),
         "the answer stopped coming: nothing for 1 s (-t to wait longer)"),
    ]
    for stall, message in cases:
        f = FakeDaemon(lambda req, stall=stall: stall)
        rc, out, err = f.run("-t", "1", "run", "x/y")
        check(rc == 1 and message in err, "%r: exit %d, stderr %r" % (message, rc, err))
        check(len(f.requests) == 1, "%r: requests %d" % (message, len(f.requests)))
    # -t 0 waits for ever: the answer that comes after 2 s is taken
    def late(req):
        f.release.wait(2)
        return iq_result(req, command("completed", "<note type='info'>late</note>"))
    f = FakeDaemon(late)
    rc, out, err = f.run("-t", "0", "run", "x/y")
    check(rc == 0 and "late" in out, "exit %d %r %r" % (rc, out, err))
    for bad in ("-1", "x", "86401", ""):
        rc, out, err = f.run("-t", bad, "list")
        check(rc == 1 and "-t wants seconds" in err, "-t %r: exit %d %r" % (bad, rc, err))


def test_refused_value_and_missing_field():
    "an error note at an input stage: exit 2, the session canceled; a required field without value: exit 1"
    def refuse(req):
        cmd = command_of(req)
        if cmd.get("action") == "cancel":
            return iq_result(req, command("canceled"))
        return iq_result(req, command("executing", "<note type='error'>no such domain</note>" + form(
            "<field var='domain' type='text-single'/>")))
    f = FakeDaemon(refuse)
    rc, out, err = f.run("--json", "run", "x/y", "domain=nope")
    check(rc == 2, "exit %d %r" % (rc, err))
    check(json.loads(out) == {"status": "error", "condition": "bad-request",
                              "command_condition": "bad-payload", "text": "no such domain"}, out)
    check([command_of(r).get("action") for r in f.requests] == ["execute", "cancel"],
          "actions %r" % [command_of(r).get("action") for r in f.requests])

    def ask(req):
        cmd = command_of(req)
        if cmd.get("action") == "cancel":
            return iq_result(req, command("canceled"))
        return iq_result(req, command("executing", form(
            "<field var='domain' type='text-single' label='Domain'><required/></field>")))
    f = FakeDaemon(ask)
    rc, out, err = f.run("run", "x/y")  # stdin is not a terminal: no prompt
    check(rc == 1 and "missing value for required field 'domain'" in err, "exit %d %r" % (rc, err))
    check(command_of(f.requests[-1]).get("action") == "cancel", "session not canceled")


def test_choice_not_offered():
    "action=prev where only next and complete are offered: exit 1, the choices listed, nothing sent"
    f = FakeDaemon(lambda req: iq_result(req, command("executing", form(""),
                   actions="<actions execute='next'><next/><complete/></actions>")))
    rc, out, err = f.run("run", "x/y", "action=prev")
    check(rc == 1 and "action=prev is not offered" in err, "exit %d %r" % (rc, err))
    check("choices: action=next (default) action=complete action=cancel" in out, out)
    check(len(f.requests) == 1, "%d requests" % len(f.requests))


def test_status_broken():
    "status: a refusal, an answer without a state, an unknown state: exit 3 (UNKNOWN)"
    f = FakeDaemon(lambda req: iq_error(req, "<forbidden xmlns='%s'/>" % NS_STANZAS))
    rc, out, err = f.run("status")
    check(rc == 3 and "refused the status command (forbidden)" in (out + err),
          "exit %d %r %r" % (rc, out, err))
    f = FakeDaemon(lambda req: iq_result(req, command("completed", form("", "result"))))
    rc, out, err = f.run("status")
    check(rc == 3 and "without a state" in (out + err), "exit %d %r %r" % (rc, out, err))
    for state, code in (("ok", 0), ("warning", 1), ("critical", 2), ("odd", 3)):
        f = FakeDaemon(lambda req, s=state: iq_result(req, command("completed", form(
            "<field var='state'><value>%s</value></field>"
            "<field var='summary'><value>all %s</value></field>" % (s, s), "result"))))
        rc, out, err = f.run("status")
        check(rc == code and ("all %s" % state) in out, "%s: exit %d %r %r" % (state, rc, out, err))


def test_argument_files():
    "var=@FILE: a missing file, a NUL byte, @- twice, CRLF lines, @@ for a literal @"
    def echo(req):
        cmd = command_of(req)
        x = cmd.find("{%s}x" % NS_DATA)
        if x is None:
            return iq_result(req, command("executing", form(
                "<field var='users' type='text-multi'/><field var='note' type='text-single'/>")))
        fields = []
        for fl in x.findall("{%s}field" % NS_DATA):
            vals = "|".join(v.text or "" for v in fl.findall("{%s}value" % NS_DATA))
            fields.append("<field var='%s' type='text-single' label='%s'><value>%s</value></field>"
                          % (fl.get("var"), fl.get("var"), vals))
        return iq_result(req, command("completed", form("".join(fields), "result")))
    f = FakeDaemon(echo)
    d = h.tmpdir("args")
    rc, out, err = f.run("run", "x/y", "users=@" + os.path.join(d, "missing"))
    check(rc == 1 and "cannot open" in err and "missing" in err, "exit %d %r" % (rc, err))
    nul = os.path.join(d, "nul")
    with open(nul, "wb") as fh:
        fh.write(b"a\0b\n")
    rc, out, err = f.run("run", "x/y", "users=@" + nul)
    check(rc == 1 and "holds a NUL byte" in err, "exit %d %r" % (rc, err))
    rc, out, err = f.run("run", "x/y", "users=@-", "note=@-", stdin="x\n")
    check(rc == 1 and "only one argument can read standard input" in err, "exit %d %r" % (rc, err))
    crlf = os.path.join(d, "crlf")
    with open(crlf, "wb") as fh:
        fh.write(b"one\r\ntwo\r\nthree")
    rc, out, err = f.run("--json", "run", "x/y", "users=@" + crlf, "note=@@at")
    check(rc == 0, "exit %d %r" % (rc, err))
    check("one|two|three" in out and "\\r" not in out, "CRLF lines: %r" % out)
    check('"@at"' in out, "@@at is the value @at: %r" % out)


def test_socket_path_too_long():
    "a socket path longer than sun_path: exit 1 and the reason"
    if not os.access(ctl_binary(), os.X_OK):
        raise h.Skip("no imdomainctl at %s" % ctl_binary())
    r = h.run_tool([ctl_binary(), "-s", "/tmp/" + "x" * 200, "list"], capture_output=True,
                   text=True, timeout=30)
    check(r.returncode == 1 and "socket path too long" in r.stderr, "%d %r" % (r.returncode,
                                                                            r.stderr))


def pretty(xml):
    "an answer indented as a person would write it: whitespace text between all elements"
    return xml.replace("><", ">\n  <")


RESULT_FORM = form(
    "<title>Title</title><instructions>Read this</instructions>"
    "<field var='name' type='text-single' label='Name'><value>alice</value></field>"
    "<field var='count' type='text-single'><value>3</value></field>"
    "<field var='users' type='text-multi' label='Users'><value>a</value><value>b</value></field>"
    "<field var='tags' type='list-multi' label='Tags'><value>x</value><value>y</value></field>"
    "<field var='pair' label='Pair'><value>p</value><value>q</value></field>"
    "<field var='secret' type='hidden'><value>s</value></field>"
    "<field var='empty' type='text-single' label='Empty'><value/></field>"
    "<reported><field var='jid' label='JID'/><field var='role'/></reported>"
    "<item><field var='jid'><value>a@x</value></field><field var='role'><value>admin</value>"
    "</field></item>"
    "<item><field var='jid'><value>b@x</value></field><field var='role'/></item>", "result")


def test_result_form_text_and_json():
    "a completed form, compact or indented: the same text and --json (labels, multi, hidden, table)"
    # The values of a *-multi field one a line, of any other field joined by commas.
    notes = "<note>done</note><note type='warn'>careful</note><note type='info'/>"
    for shape in (lambda x: x, pretty):
        f = FakeDaemon(lambda req, shape=shape: iq_result(req, shape(command(
            "completed", notes + RESULT_FORM))))
        rc, out, err = f.run("run", "x/y")
        check(rc == 0, "exit %d %r" % (rc, err))
        check(out == "info: done\ninfo: \n== Title ==\nRead this\nName: alice\ncount: 3\n"
              "Users: a\n  b\nTags: x\n  y\nPair: p, q\nEmpty: \nJID\trole\na@x\tadmin\nb@x\t\n",
              "text output %r" % out)
        check(err == "warn: careful\n", "stderr %r" % err)
        rc, out, err = f.run("--json", "run", "x/y")
        check(rc == 0 and err == "", "exit %d %r" % (rc, err))
        doc = json.loads(out)
        check(doc["status"] == "completed" and doc["node"] == "x/y", "json %r" % doc)
        check(doc["notes"] == [{"type": "info", "text": "done"}, {"type": "warn", "text": "careful"},
                               {"type": "info", "text": ""}], "notes %r" % doc["notes"])
        check(doc["forms"] == [{
            "type": "result", "title": "Title",
            "fields": {"name": ["alice"], "count": ["3"], "users": ["a", "b"], "tags": ["x", "y"],
                       "pair": ["p", "q"],
                       "secret": ["s"], "empty": [""]},
            "columns": [{"var": "jid", "label": "JID"}, {"var": "role", "label": ""}],
            "rows": [{"jid": "a@x", "role": "admin"}, {"jid": "b@x", "role": ""}]}],
            "forms %r" % doc["forms"])


def test_error_note_completed():
    "a completed command with an error note: the note on stderr and a failure exit"
    f = FakeDaemon(lambda req: iq_result(req, command("completed",
                                                      "<note type='error'>it broke</note>")))
    rc, out, err = f.run("run", "x/y")
    check(rc != 0 and "error: it broke" in err and out == "", "exit %d %r %r" % (rc, out, err))


def test_list_output():
    "list: items with and without a name, other elements and whitespace skipped; text and --json"
    def answer(req):
        return iq_result(req, pretty(
            "<query xmlns='http://jabber.org/protocol/disco#items' node='%s'>"
            "<item jid='c' node='a/b' name='Do A'/><other/><item jid='c' node='c/d'/></query>"
            % NS_COMMANDS))
    f = FakeDaemon(answer)
    rc, out, err = f.run("list")
    check(rc == 0 and out.split("\n") == ["a/b" + " " * 42 + "Do A", "c/d" + " " * 42, ""],
          "exit %d %r %r" % (rc, out, err))
    rc, out, err = f.run("--json", "list")
    check(rc == 0 and json.loads(out) == [{"node": "a/b", "name": "Do A"},
                                          {"node": "c/d", "name": ""}], "%d %r" % (rc, out))
    q = f.requests[-1].find("{http://jabber.org/protocol/disco#items}query")
    check(f.requests[-1].get("type") == "get" and q is not None and q.get("node") == NS_COMMANDS,
          "request %r" % ET.tostring(f.requests[-1]))


def test_usage_errors():
    "bad command lines: usage on stderr and exit 1 (3 for status), nothing sent; -h on stdout"
    f = FakeDaemon(lambda req: None)
    for args, code in (([], 1), (["run"], 1), (["frobnicate"], 1), (["status", "extra"], 3),
                       (["-x", "list"], 1), (["-a", "sideways", "run", "x/y"], 1)):
        rc, out, err = f.run(*args)
        check(rc == code and err != "" and out == "", "%r: exit %d %r %r" % (args, rc, out, err))
    rc, out, err = f.run("-a", "sideways", "run", "x/y")
    check("--action takes next, prev, complete or cancel" in err, err)
    rc, out, err = f.run("run", "x/y", "novalue")
    check(rc == 1 and err != "", "an argument without = : exit %d %r" % (rc, err))
    rc, out, err = f.run("run", "x/y", "=value")
    check(rc == 1 and err != "", "an argument without a name: exit %d %r" % (rc, err))
    check(f.requests == [], "requests sent: %d" % len(f.requests))
    rc, out, err = f.run("-h")
    check(rc == 0 and "usage" in out.lower() and err == "", "-h: exit %d %r %r" % (rc, out, err))


def test_status_variants():
    "status --json after the command, an error without a condition, whitespace in the error"
    def ok(req):
        return iq_result(req, command("completed", form(
            "<field var='state'><value>warning</value></field>"
            "<field var='summary'><value>half full</value></field>", "result")))
    f = FakeDaemon(ok)
    for args in (("status", "--json"), ("status", "-j"), ("--json", "status")):
        rc, out, err = f.run(*args)
        doc = json.loads(out) if rc == 1 else None
        check(doc is not None and doc["forms"][0]["fields"] == {"state": ["warning"],
                                                                "summary": ["half full"]},
              "%r: exit %d %r" % (args, rc, out))
    check(all(command_of(r).get("node") == "status" for r in f.requests),
          "nodes %r" % [command_of(r).get("node") for r in f.requests])
    f = FakeDaemon(lambda req: iq_error(req, " "))
    rc, out, err = f.run("status")
    check(rc == 3 and "refused the status command (error)" in (out + err),
          "exit %d %r %r" % (rc, out, err))
    f = FakeDaemon(lambda req: iq_error(req, pretty("<a/><item-not-found xmlns='%s'/>"
                                                    % NS_STANZAS).replace("<a/>", "")))
    rc, out, err = f.run("status")
    check(rc == 3 and "(item-not-found)" in (out + err), "exit %d %r %r" % (rc, out, err))


def test_output_option():
    "-o FILE: the text-multi values one a line in the file; -o - on stdout; an unwritable file"
    def answer(req):
        return iq_result(req, pretty(command("completed", form(
            "<field var='n' type='text-single'><value>1</value></field>"
            "<field var='lines' type='text-multi'><value>one</value><value/><value>three</value>"
            "</field>", "result"))))
    f = FakeDaemon(answer)
    d = h.tmpdir("out")
    path = os.path.join(d, "lines.txt")
    rc, out, err = f.run("-o", path, "run", "x/y")
    check(rc == 0, "exit %d %r" % (rc, err))
    with open(path) as fh:
        check(fh.read() == "one\n\nthree\n", "file %r" % path)
    check("one" not in out, "the lines also on stdout: %r" % out)
    rc, out, err = f.run("-o", "-", "run", "x/y")
    check(rc == 0 and out.startswith("one\n\nthree\n"), "-o -: exit %d %r" % (rc, out))
    n = len(f.requests)
    rc, out, err = f.run("-o", os.path.join(d, "no", "such", "dir"), "run", "x/y")
    check(rc == 1 and "cannot write" in err, "exit %d %r" % (rc, err))
    check(len(f.requests) == n, "a request was sent")


def test_default_action():
    "a stage whose actions name no default: complete when offered, else next"
    for offered_, want in (("<next/><complete/>", None), ("<complete/>", "complete"),
                           ("<next/>", "next")):
        def answer(req, offered_=offered_):
            cmd = command_of(req)
            if cmd.get("action") in ("execute", None) and cmd.get("sessionid") is None:
                return iq_result(req, command("executing", form(
                    "<field var='a' type='text-single'/>"),
                    actions="<actions>%s</actions>" % offered_))
            return iq_result(req, command("completed", "<note>done %s</note>"
                                          % cmd.get("action")))
        f = FakeDaemon(answer)
        rc, out, err = f.run("--json", "run", "x/y")
        if want is None:  # a choice: stops and lists the choices, complete the default
            doc = json.loads(out)
            check(len(f.requests) == 1 and doc.get("choices") is not None,
                  "choice: exit %d %r %r" % (rc, out, err))
            check("complete" in json.dumps(doc["choices"]), "choices %r" % doc["choices"])
        else:
            check(rc == 0 and [command_of(r).get("action") for r in f.requests][1] == want,
                  "%s: exit %d %r %r" % (want, rc, out, err))


def test_action_unused_warning():
    "-a complete for a command that offers no choice: done, with a warning that it was not used"
    f = FakeDaemon(lambda req: iq_result(req, command("completed", "<note>ok</note>")))
    rc, out, err = f.run("-a", "complete", "run", "x/y")
    check(rc == 0 and "action=complete was not used" in err, "exit %d %r" % (rc, err))



def test_submitted_form():
    "the form sent back: fixed and nameless fields left out, defaults kept, one value for a single field"
    def answer(req):
        cmd = command_of(req)
        if cmd.get("sessionid") is None:
            return iq_result(req, pretty(command("executing", form(
                "<field type='fixed'><value>Read me</value></field>"
                "<field var='head' type='fixed'><value>Head</value></field>"
                "<field type='text-single'><value>nameless</value></field>"
                "<field var='one' type='text-single'/>"
                "<field var='many' type='text-multi'/>"
                "<field var='dflt' type='text-single'><value>d</value></field>"
                "<field var='blank' type='text-single'><value/></field>"
                "<field var='opt' type='text-single'/>"))))
        return iq_result(req, command("completed", "<note>ok</note>"))
    f = FakeDaemon(answer)
    lines = os.path.join(h.tmpdir("form"), "lines")
    with open(lines, "w") as fh:
        fh.write("first\nsecond\n")
    rc, out, err = f.run("run", "x/y", "one=@" + lines, "many=@" + lines)
    check(rc == 0 and out == "info: ok\n", "exit %d %r %r" % (rc, out, err))
    check("one takes one value; 2 given, the first is used" in err, "stderr %r" % err)
    check(len(f.requests) == 2, "%d requests" % len(f.requests))
    x = command_of(f.requests[1]).find("{%s}x" % NS_DATA)
    check(x is not None and x.get("type") == "submit", "no submitted form")
    sent = [(fl.get("var"), [v.text or "" for v in fl.findall("{%s}value" % NS_DATA)])
            for fl in x.findall("{%s}field" % NS_DATA)]
    check(sent == [("one", ["first"]), ("many", ["first", "second"]), ("dflt", ["d"]),
                   ("blank", [""]), ("opt", [])], "fields sent %r" % sent)


def test_cancel_at_choice():
    "action=cancel at a choice: the cancel sent, the session canceled, exit 0"
    def answer(req):
        cmd = command_of(req)
        if cmd.get("action") == "cancel":
            return iq_result(req, command("canceled", "<note>rolled back</note>"))
        return iq_result(req, command("executing", "<note type='error'>job failed</note>" + form(""),
                                      actions="<actions execute='next'><next/><complete/></actions>"))
    f = FakeDaemon(answer)
    rc, out, err = f.run("run", "x/y", "action=cancel")
    check(rc == 0 and "rolled back" in out, "exit %d %r %r" % (rc, out, err))
    check([command_of(r).get("action") for r in f.requests] == ["execute", "cancel"],
          "actions %r" % [command_of(r).get("action") for r in f.requests])
    check(command_of(f.requests[1]).find("{%s}x" % NS_DATA) is None, "a form sent with cancel")


def test_error_indented():
    "an indented stanza error with an unknown element and only a text: undefined-condition, the text"
    f = FakeDaemon(lambda req: iq_error(req, pretty(
        "<other xmlns='urn:example'/><text xmlns='%s'>why</text>" % NS_STANZAS)))
    rc, out, err = f.run("--json", "run", "x/y")
    check(rc == 2 and json.loads(out) == {"status": "error", "condition": "undefined-condition",
                                          "text": "why"}, "exit %d %r" % (rc, out))
    rc, out, err = f.run("list")
    check(rc == 2 and err == "imdomainctl: error: undefined-condition\nimdomainctl: why\n",
          "exit %d %r" % (rc, err))


def test_output_with_json():
    "-o FILE with --json: the lines in the file and the whole answer still on stdout"
    f = FakeDaemon(lambda req: iq_result(req, command("completed", form(
        "<field var='lines' type='text-multi'><value>l1</value><value>l2</value></field>",
        "result"))))
    path = os.path.join(h.tmpdir("outj"), "lines.txt")
    rc, out, err = f.run("--json", "-o", path, "run", "x/y")
    check(rc == 0, "exit %d %r" % (rc, err))
    with open(path) as fh:
        check(fh.read() == "l1\nl2\n", "file %r" % path)
    check(json.loads(out)["forms"][0]["fields"] == {"lines": ["l1", "l2"]}, out)



def test_paged_result():
    "a result in pages: next asked for each; -o writes every page, --json joins the pages shown"
    def page(n):
        return pretty(form(
            "<field var='all' type='text-multi'><value>v%d</value></field>"
            "<field var='total' type='text-single'><value>2</value></field>"
            "<reported><field var='u' label='User'/></reported>"
            "<item><field var='u'><value>u%d</value></field></item>" % (n, n), "result"))

    def answer(req):
        cmd = command_of(req)
        if cmd.get("sessionid") is None:
            seen[:] = []
            return iq_result(req, command("executing", page(1), actions="<actions><next/></actions>"))
        seen.append(1)
        if len(seen) == 1:
            return iq_result(req, command("executing", page(2), actions="<actions><next/></actions>"))
        # as users/export does: the last page completes
        return iq_result(req, command("completed", page(3)))
    seen = []
    f = FakeDaemon(answer)
    rc, out, err = f.run("--json", "run", "x/y", "unused=1")
    check(rc == 0, "exit %d %r" % (rc, err))
    check("argument unused was not used" in err, "stderr %r" % err)
    doc = json.loads(out)
    check(len(doc["forms"]) == 1, "forms %r" % doc["forms"])
    fm = doc["forms"][0]
    # Every page is joined in the first form, the completing one too: it answered next, so its
    # rows are new (they were lost before).
    check(fm["rows"] == [{"u": "u1"}, {"u": "u2"}, {"u": "u3"}], "rows %r" % fm["rows"])
    check(fm["fields"]["all"] == ["v1", "v2", "v3"] and fm["fields"]["total"] == ["2"],
          "fields %r" % fm["fields"])
    check([command_of(r).get("action") for r in f.requests] == ["execute", "next", "next"],
          "actions %r" % [command_of(r).get("action") for r in f.requests])
    del f.requests[:]
    # The text output shows all three rows too.
    rc, out, err = f.run("run", "x/y")
    check(rc == 0 and all(("u%d" % i) in out for i in (1, 2, 3)), "exit %d %r" % (rc, out))
    # -o FILE: each page's lines written as it comes, the completing page's last.
    path = os.path.join(h.tmpdir("paged"), "all.txt")
    rc, out, err = f.run("-o", path, "run", "x/y")
    check(rc == 0, "exit %d %r" % (rc, err))
    with open(path) as fh:
        got = fh.read()
        check(got == "v1\nv2\nv3\n", "file %r: %r" % (path, got))


def test_paged_table_last_page_repeated():
    "a page table: next while offered, complete on the last page, whose repeat is not joined twice"
    def page(n, last):
        return command("completed" if last == "done" else "executing", pretty(form(
            "<reported><field var='u' label='User'/></reported>"
            "<item><field var='u'><value>u%d</value></field></item>" % n, "result")),
            actions="" if last == "done" else
            "<actions execute='complete'><prev/><complete/></actions>" if last else
            "<actions execute='next'><next/><complete/></actions>")

    def answer(req):
        cmd = command_of(req)
        if cmd.get("sessionid") is None:
            return iq_result(req, page(1, False))
        if cmd.get("action") == "next":
            return iq_result(req, page(2, True))
        return iq_result(req, page(2, "done"))  # complete: the last page again
    f = FakeDaemon(answer)
    rc, out, err = f.run("--json", "run", "x/y")
    check(rc == 0, "exit %d %r" % (rc, err))
    check(json.loads(out)["forms"][0]["rows"] == [{"u": "u1"}, {"u": "u2"}], out)
    check([command_of(r).get("action") for r in f.requests] == ["execute", "next", "complete"],
          "actions %r" % [command_of(r).get("action") for r in f.requests])
    rc, out, err = f.run("run", "x/y")
    check(rc == 0 and out.count("u2") == 1 and "u1" in out, "exit %d %r" % (rc, out))


h.tap.run([
    test_broken_answers,
    test_executing_without_session,
    test_error_json_escapes,
    test_json_control_characters,
    test_never_completes,
    test_answer_timeout,
    test_refused_value_and_missing_field,
    test_choice_not_offered,
    test_status_broken,
    test_argument_files,
    test_socket_path_too_long,
    test_result_form_text_and_json,
    test_error_note_completed,
    test_list_output,
    test_usage_errors,
    test_status_variants,
    test_output_option,
    test_default_action,
    test_action_unused_warning,
    test_submitted_form,
    test_cancel_at_choice,
    test_error_indented,
    test_output_with_json,
    test_paged_result,
    test_paged_table_last_page_repeated,
])
