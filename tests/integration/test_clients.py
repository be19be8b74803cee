# What an admin sees in a real terminal client: profanity (Debian's, as packaged) runs under
# tmux against the daemon through Prosody, and the test reads the captured screen, the way a
# person would. domains/list shows every domain; domains/delete shows the names it offers and
# deletes one; users/import shows the rejected line and its reason; a wrong settings value comes
# back with the form filled in and the field named by its label, and the same session then
# completes. (CLIENTS.md: profanity shows only plain fields and one note; no tables.)
import os
import re
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean (distcheck has it read-only)
import harness as h  # noqa: E402
from harness import check  # noqa: E402

JID = "domains.example.test"
PROFANITY = os.environ.get("PROFANITY") or shutil.which("profanity") or "/usr/bin/profanity"
TMUX = shutil.which("tmux") or "/usr/bin/tmux"


class Terminal:
    """A private tmux server (its own socket) running one program; the screen as text."""

    def __init__(self, argv, env, width=200, height=60):
        for prog in (TMUX, argv[0]):
            if not os.access(prog, os.X_OK):
                raise h.Skip("%s is not installed" % prog)
        self.socket = os.path.join(h.tmpdir("tmux"), "sock")
        envs = ["%s=%s" % kv for kv in sorted(env.items())]
        self._tmux("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height),
                   "env", *envs, *argv)
        self._tmux("set-option", "-t", "t", "history-limit", "20000")
        h.defer(self.close)

    def _tmux(self, *args):
        return subprocess.run([TMUX, "-S", self.socket] + list(args), capture_output=True,
                              text=True, timeout=20, check=True).stdout

    def close(self):
        subprocess.run([TMUX, "-S", self.socket, "kill-server"], capture_output=True, timeout=20)

    def type(self, line):
        """Types `line` literally, then Enter."""
        self._tmux("send-keys", "-t", "t", "-l", line)
        self._tmux("send-keys", "-t", "t", "Enter")

    def screen(self):
        """Everything the window has shown (history included), wrapped lines joined."""
        return self._tmux("capture-pane", "-p", "-J", "-t", "t", "-S", "-20000")

    def wait(self, regex, timeout=15, after=0):
        """Waits until `regex` shows up past character `after` of the screen; returns
        (match, screen)."""
        deadline = time.monotonic() + timeout * h.SLOW
        while True:
            text = self.screen()
            m = re.compile(regex).search(text, after)
            if m:
                return m, text
            if time.monotonic() > deadline:
                raise h.TestFailure("screen never showed %r; it shows:\n%s" % (regex, text[after:]))
            time.sleep(0.2)


def _profanity(p):
    home = h.tmpdir("home")
    term = Terminal([PROFANITY], {"HOME": home, "TERM": "xterm-256color", "LANG": "C.UTF-8"})
    term.wait(r"Type '/help' to show complete help")
    term.type("/connect admin@%s server 127.0.0.1 port %d tls disable" % (p.host, p.c2s_port))
    term.wait(r"(?i)password")
    term.type("pw-admin")
    term.wait(r"logged in successfully")
    return term


def _run(term, node, title):
    """Starts `node`; returns the screen offset where its form begins. profanity shows the
    form in a window of its own (closed again by /form cancel), so offsets count from there."""
    term.type("/cmd exec %s %s" % (node, JID))
    _, screen = term.wait(r"Form title: " + re.escape(title))
    return screen.rindex("Form title: " + title)


def _tag(screen, label, after):
    """The profanity tag ("field3") of the field labelled `label` shown past `after`."""
    # Not the text field beside an open list ("Domains (or type it)").
    tags = re.findall(r"\[(field\d+)\] " + re.escape(label) + r"\b(?! \(or type it\))",
                      screen[after:])
    check(tags, "no field %r on screen:\n%s" % (label, screen[after:]))
    return tags[-1]


def test_profanity_sees_every_result():
    "profanity: domains/list, domains/delete, users/import and a wrong value, read off the screen"
    p = h.Prosody()
    d = h.Daemon(p)
    c = h.Client(p, "admin")
    for name in ("alpha.example", "beta.example", "gamma.example"):
        r = c.execute(JID, "domains/add", form={"domain": name})
        check(r.status == "completed", repr(r))
    term = _profanity(p)

    # domains/list: the filters have an explicit "any", and every domain is on screen.
    at = _run(term, "domains/list", "Find and list IM address domains")
    _, screen = term.wait(r"\[any\] any", after=at)
    term.type("/form submit")
    m, screen = term.wait(r"Rows 1–3 of 3", after=at)
    shown = screen[m.end():]
    for name in ("alpha.example", "beta.example", "gamma.example"):
        check(re.search(r"\[field\d+\] %s: admin · local" % re.escape(name), shown),
              "%s not listed:\n%s" % (name, shown))
    check("3 domains." in screen[at:], "the count note is not in the form:\n" + screen[at:])
    term.type("/form cancel")

    # domains/delete: the names it offers are on screen before anything is chosen.
    at = _run(term, "domains/delete", "Delete IM address domains")
    m, screen = term.wait(r"Domains, to choose from: (.*)", after=at)
    check(m.group(1).strip() == "alpha.example, beta.example, gamma.example",
          "offered %r" % m.group(1))
    term.type("/%s add gamma.example" % _tag(screen, "Domains", at))
    term.type("/form submit")
    _, screen = term.wait(r"This domain will be deleted: gamma\.example\.", after=at)
    term.type("/%s on" % _tag(screen, "Delete them", at))
    term.type("/form submit")
    term.wait(r"Deleted 1 domain: gamma\.example\.", after=at)
    term.wait(r"\[field\d+\] gamma\.example: deleted", after=at)
    term.type("/form cancel")
    rows = c.execute(JID, "domains/list", form={}).items()
    check(sorted(r["domain"][0] for r in rows) == ["alpha.example", "beta.example"], rows)

    # users/import: the rejected line and its reason, and the warning inside the form.
    at = _run(term, "users/import", "Import users")
    _, screen = term.wait(r"\[field\d+\] Users, one a line", after=at)
    tag = _tag(screen, "Users, one a line", at)
    term.type("/%s add alice,alice@alpha.example" % tag)
    term.type("/%s add bob,not a uri" % tag)
    term.type("/form submit")
    m, screen = term.wait(r"\[field\d+\] 2: bob · REJECTED · (.*)", after=at)
    check(m.group(1).startswith("the directory URI must be name@domain"), "reason %r" % m.group(1))
    check(re.search(r"\[field\d+\] 1: alice · added", screen[at:]), screen[at:])
    check("1 added, 0 updated, 0 unchanged, 0 removed, 1 rejected." in screen[at:], screen[at:])
    check("Warning: Rejected lines changed nothing" in screen[at:], screen[at:])
    term.type("/form cancel")

    # settings: a wrong value comes back in the same form, filled in, the field named.
    at = _run(term, "settings", "Cluster settings")
    _, screen = term.wait(r"Nightly sync audit time: 02:00", after=at)
    term.type("/%s on" % _tag(screen, "TLS XMPP federation", at))
    audit = _tag(screen, "Nightly sync audit time", at)
    term.type("/%s 25:99" % audit)
    term.type("/form submit")
    # profanity redraws the window with the form that came back.
    m, screen = term.wait(r"Error: Nightly sync audit time \[audit_time\]: '25:99' is not a "
                          r"24-hour HH:MM time")
    shown = screen[m.end():]
    check(re.search(r"\[field\d+\] Nightly sync audit time: 25:99", shown), shown)
    check(re.search(r"\[field\d+\] TLS XMPP federation: TRUE", shown), shown)
    term.type("/%s 03:00" % _tag(screen, "Nightly sync audit time", m.end()))
    term.type("/form submit")
    # The outcome is a form too (two notes: profanity would show only the first otherwise).
    term.wait(r"Form title: Cluster settings *\n.*\n.* - saved: tls_federation: off → on; "
              r"audit_time: 02:00 → 03:00 *\n.* - Warning: run certs/regenerate")
    s = c.execute(JID, "settings")
    check(s.value("audit_time") == "03:00" and s.value("tls_federation") in ("1", "true"),
          repr(s.values("audit_time")))
    c.cancel(JID, "settings", s.sessionid)


h.tap.run([test_profanity_sees_every_result])
