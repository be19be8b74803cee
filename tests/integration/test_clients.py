# What an admin sees in a real terminal client: profanity (Debian's, as packaged) runs under
# tmux against the daemon through Prosody, and the test reads the captured screen, the way a
# person would. domains/list shows every domain; domains/delete shows the names it offers and
# deletes one; users/import shows the rejected line and its reason; a wrong settings value comes
# back with the form filled in and the field named by its label, and the same session then
# completes. (CLIENTS.md: profanity shows only plain fields and one note; no tables.) poezio runs
# as the user imdtest (it refuses root; skipped without that user) in a terminal shorter than the
# list: domains/list shows every domain once the arrow keys scroll the form.
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep the source tree clean (distcheck has it read-only)
import harness as h  # noqa: E402
from harness import check  # noqa: E402

JID = "domains.example.test"
PROFANITY = os.environ.get("PROFANITY") or shutil.which("profanity") or "/usr/bin/profanity"
TMUX = shutil.which("tmux") or "/usr/bin/tmux"
POEZIO = os.environ.get("POEZIO") or shutil.which("poezio") or "/usr/bin/poezio"
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"
POEZIO_USER = "imdtest"  # poezio refuses to run as root


class Terminal:
    """A private tmux server (its own socket) running one program; the screen as text."""

    def __init__(self, argv, env, width=200, height=60, user=None):
        """Runs argv with env; as `user` (through runuser) when given."""
        for prog in (TMUX, argv[0]):
            if not os.access(prog, os.X_OK):
                raise h.Skip("%s is not installed" % prog)
        self.socket = os.path.join(h.tmpdir("tmux"), "sock")
        envs = ["%s=%s" % kv for kv in sorted(env.items())]
        as_user = [RUNUSER, "-u", user, "--"] if user else []
        self._tmux("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height),
                   *as_user, "env", *envs, *argv)
        self._tmux("set-option", "-t", "t", "history-limit", "20000")
        self.pane = int(self._tmux("list-panes", "-t", "t", "-F", "#{pane_pid}").split()[0])
        h.defer(self.close)

    def _tmux(self, *args):
        return subprocess.run([TMUX, "-S", self.socket] + list(args), capture_output=True,
                              text=True, timeout=20, check=True).stdout

    def close(self):
        # The program and what it started, ended by pid: a program under runuser can outlive
        # the tmux server (poezio was seen spinning after a kill-server).
        pids = _descendants(self.pane)
        subprocess.run([TMUX, "-S", self.socket, "kill-server"], capture_output=True, timeout=20)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def key(self, *keys):
        """Sends keys by tmux name (Enter, Down, C-y)."""
        self._tmux("send-keys", "-t", "t", *keys)

    def now(self):
        """What the window shows now."""
        return self._tmux("capture-pane", "-p", "-t", "t")

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


def _descendants(pid):
    """pid and every process under it."""
    out = [pid]
    for p in out:
        try:
            with open("/proc/%d/task/%d/children" % (p, p)) as f:
                out += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


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
    error = "Error: Nightly sync audit time [audit_time]: '25:99' is not a 24-hour HH:MM time"
    _, screen = term.wait(re.escape(error))
    # The redrawn form below the last error line, complete (a loaded machine captures it half
    # drawn; its tags then are not the ones profanity uses now).
    after = screen.rindex(error)
    term.wait(r"\[field\d+\] TLS XMPP federation: TRUE", after=after)
    m, screen = term.wait(r"\[(field\d+)\] Nightly sync audit time: 25:99", after=after)
    term.type("/%s 03:00" % m.group(1))
    term.type("/form submit")
    # The outcome is a form too (two notes: profanity would show only the first otherwise).
    term.wait(r"Form title: Cluster settings *\n.*\n.* - saved: tls_federation: off → on; "
              r"audit_time: 02:00 → 03:00 *\n.* - Warning: run certs/regenerate")
    s = c.execute(JID, "settings")
    check(s.value("audit_time") == "03:00" and s.value("tls_federation") in ("1", "true"),
          repr(s.values("audit_time")))
    c.cancel(JID, "settings", s.sessionid)


def _poezio(p):
    """poezio as POEZIO_USER (when run as root) with a private home, logged in to `p`."""
    user = None
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam(POEZIO_USER)
        except KeyError:
            raise h.Skip("poezio refuses root and there is no user %s" % POEZIO_USER)
        if not os.access(RUNUSER, os.X_OK):
            raise h.Skip("runuser is not installed")
    # Not under the case's directory: the test user cannot enter it.
    home = tempfile.mkdtemp(prefix="imd-poezio.")
    h.defer(shutil.rmtree, home, True)
    conf = os.path.join(home, ".config", "poezio")
    os.makedirs(conf)
    with open(os.path.join(conf, "poezio.cfg"), "w") as f:
        f.write("[Poezio]\njid = admin@%s\npassword = pw-admin\ncustom_host = 127.0.0.1\n"
                "custom_port = %d\nforce_encryption = false\nuse_bookmarks_method = local\n"
                % (p.host, p.c2s_port))
    if user:
        for d, _, files in os.walk(home):
            for n in [d] + [os.path.join(d, x) for x in files]:
                os.chown(n, user.pw_uid, user.pw_gid)
    env = {"HOME": home, "XDG_CONFIG_HOME": conf[:-len("/poezio")],
           "XDG_DATA_HOME": os.path.join(home, ".local", "share"),
           "XDG_CACHE_HOME": os.path.join(home, ".cache"), "TERM": "xterm-256color",
           "LANG": "C.UTF-8"}
    # A small terminal: the list is longer than the screen, so reading it means scrolling.
    term = Terminal([POEZIO], env, width=160, height=24, user=user and user.pw_name)
    term.wait(r"Authentication success")
    return term


def test_poezio_sees_every_domain():
    "poezio: domains/list shows every domain, scrolling with the arrow keys past one screen"
    for prog in (POEZIO, TMUX):
        if not os.access(prog, os.X_OK):
            raise h.Skip("%s is not installed" % prog)
    p = h.Prosody()
    h.Daemon(p)
    c = h.Client(p, "admin")
    names = ["d%02d.example" % i for i in range(30)]
    for name in names:
        r = c.execute(JID, "domains/add", form={"domain": name})
        check(r.status == "completed", repr(r))
    term = _poezio(p)
    term.key("/")
    term.wait(r"/")
    term._tmux("send-keys", "-t", "t", "-l", "ad-hoc " + JID)
    term.key("Enter")
    term.wait(r"domains/list +List IM address domains")
    term.key("Enter")  # the first command, domains/list
    term.wait(r"Find and list IM address domains(.|\n)*Configured where +any")
    term.key("C-y")  # send the filters as they are
    _, first = term.wait(r"Rows 1–30 of 30")
    check("30 domains." in first, "the count note is not in the form:\n" + first)
    check(names[-1] not in first, "the list fits one screen; nothing proves scrolling:\n" + first)
    # Down moves to the next field, and the form scrolls with it.
    seen = shown = first
    for _ in range(len(names) + 3):
        term.key("Down")
        # One step at a time: each Down moves the highlight, so wait for the screen to change
        # (a loaded machine must not scroll several rows between two captures).
        deadline = time.monotonic() + 2 * h.SLOW
        while time.monotonic() < deadline:
            now = term.now()
            if now != shown:
                break
            time.sleep(0.05)
        seen += now
        shown = now
    seen += term.wait(re.escape(names[-1]))[1]
    for name in names:
        check(re.search(r"%s +admin · local · 0 · 0" % re.escape(name), seen),
              "%s never shown:\n%s" % (name, seen))


h.tap.run([test_profanity_sees_every_result, test_poezio_sees_every_domain])
