# Integration-test harness for imdomaind: a TAP runner, temporary directories and ports, a
# private Prosody, the daemon under test, synchronous slixmpp clients and a fake XEP-0114 router.
# Standard library plus slixmpp only; run with /usr/bin/python3.
"""Integration-test harness for imdomaind.

Typical test file::

    import harness as h

    def test_ping():
        p = h.Prosody()
        d = h.Daemon(p)
        c = h.Client(p, "admin")
        assert c.ping(d.jid)

    h.tap.run([test_ping])

Everything a test starts (processes, clients, listeners) is registered with the running test and
torn down after it, whatever the outcome. Environment:
  IMD_BUILDDIR   where imdomaind was built (default: the current directory)
  PROSODY, PROSODYCTL  router binaries (default /usr/bin/prosody, /usr/bin/prosodyctl)
  IMD_VALGRIND=1 run the daemon under valgrind (timeouts grow accordingly)
  IMD_TEST_SMALL=1  the tests with large data sets (test_jobs, test_ctl_import, test_import_job)
                 use smaller ones, see sized(); on by default under IMD_VALGRIND=1, where the full
                 sizes take hours; IMD_TEST_SMALL=0 keeps the full sizes there too
  IMD_KEEP=1     keep the temporary directories (their path is printed)
  IMD_TEST_TIMEOUT  seconds per test case (default 60)
"""

import asyncio
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import xml.etree.ElementTree as ET

VALGRIND = os.environ.get("IMD_VALGRIND") == "1"
# Everything that waits on the daemon waits this much longer under valgrind.
SLOW = 10 if VALGRIND else 1
# Smaller data sets for the tests that import or rewrite tens of thousands of users: under
# valgrind the daemon is 20-50 times slower, and a 100,000-user case alone would take hours.
SMALL = os.environ.get("IMD_TEST_SMALL", "1" if VALGRIND else "0") == "1"


def sized(full, small):
    """How many rows a large-data test uses: `full` normally, `small` under IMD_TEST_SMALL=1
    (default with IMD_VALGRIND=1). `small` must still cover what the test is about (above a
    threshold, several batches or slices, time to stop a job in the middle)."""
    return small if SMALL else full


KEEP = os.environ.get("IMD_KEEP") == "1"

NS_CLIENT = "jabber:client"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_STREAMS = "http://etherx.jabber.org/streams"
NS_STREAM_ERR = "urn:ietf:params:xml:ns:xmpp-streams"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
NS_COMMANDS = "http://jabber.org/protocol/commands"
NS_DATA = "jabber:x:data"
NS_IMD_RESULTS = "urn:imdomaind:results"
NS_PING = "urn:xmpp:ping"
NS_VERSION = "jabber:iq:version"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


class TestFailure(AssertionError):
    """An expectation of a test did not hold."""


class Skip(Exception):
    """Raise from a test to report it as `ok N - name # SKIP reason`."""


class TestTimeout(Exception):
    """The test case ran out of time (IMD_TEST_TIMEOUT)."""


# ---------------------------------------------------------------------------------------------
# Temporary directories, ports, cleanups


class _Scope:
    """What one test case started: cleanups run in reverse order, logs shown on failure."""

    def __init__(self, directory):
        self.dir = directory
        self.cleanups = []
        self.logs = []  # (label, path)
        self.counter = 0

    def subdir(self, prefix):
        self.counter += 1
        path = os.path.join(self.dir, "%s%d" % (prefix, self.counter))
        os.makedirs(path)
        return path


_root_dir = None
_scope = None


def root_dir():
    """The per-file temporary directory (created on first use)."""
    global _root_dir
    if _root_dir is None:
        _root_dir = tempfile.mkdtemp(prefix="imd-it.", dir="/tmp")
    return _root_dir


def scope():
    global _scope
    if _scope is None:  # used outside tap.run (interactive use)
        _scope = _Scope(tempfile.mkdtemp(dir=root_dir()))
    return _scope


def defer(fn, *args):
    """Runs fn(*args) when the current test case ends."""
    scope().cleanups.append((fn, args))


def tmpdir(prefix="x"):
    """A fresh directory inside the current test case's directory."""
    return scope().subdir(prefix)


def show_log(label, path):
    """Asks for the tail of a log file to be printed if the current test case fails."""
    scope().logs.append((label, path))


_ports_given = set()


def free_port():
    """A loopback TCP port nobody listens on right now (bind to port 0, close, reuse), and not
    one this process handed out before: once closed, the kernel may give the same port to the
    next bind, and two picks in a row (a router's c2s and component ports) then collided (the
    router served c2s where the daemon looked for its component port)."""
    for _ in range(1000):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port
    raise RuntimeError("no loopback port left that this test has not used")


def wait_port(port, timeout, host="127.0.0.1", proc=None):
    """Polls a TCP connect until it succeeds; False on timeout or if proc died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def wait_for(predicate, timeout, interval=0.05):
    """Polls predicate() until it is true; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def read_text(path):
    try:
        with open(path, "r", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def _wait_file_regex(path, regex, timeout, start=0, proc=None):
    """Waits for regex in the file's text after offset `start`; returns the match or None."""
    pattern = re.compile(regex)
    deadline = time.monotonic() + timeout
    while True:
        m = pattern.search(read_text(path), start)
        if m:
            return m
        if time.monotonic() >= deadline:
            return None
        if proc is not None and proc.poll() is not None:
            # One last look: the process may have written the line just before exiting.
            return pattern.search(read_text(path), start)
        time.sleep(0.05)


# The daemon's store keeps the users per IM address domain (im_domain_users) as it writes users.
# A test that writes users behind its back builds the counts again, as the store's migration
# does, so that domains/list stays true.
RECOUNT_IM_DOMAINS_SQL = (
    "DELETE FROM im_domain_users;"
    " INSERT INTO im_domain_users (domain, users)"
    " SELECT lower(substr(im_address, length(rtrim(im_address, replace(im_address, '@', ''))) + 1)),"
    " count(*) FROM users WHERE instr(im_address, '@') > 0 GROUP BY 1;")


def recount_im_domains(db):
    """Commits db's open transaction, then rebuilds im_domain_users from its users."""
    db.executescript(RECOUNT_IM_DOMAINS_SQL)


def check(cond, message="check failed"):
    """assert that survives python -O."""
    if not cond:
        raise TestFailure(message)


def _stop_process(proc, timeout):
    """SIGTERM, wait, then SIGKILL; returns the exit status."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


# ---------------------------------------------------------------------------------------------
# TAP runner


class _Tap:
    """A tiny TAP producer: tap.run([test_fn, ...]) prints a plan and one line per case."""

    def __init__(self):
        self.timeout = float(os.environ.get("IMD_TEST_TIMEOUT", "60")) * SLOW

    @staticmethod
    def _emit(line):
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def comment(self, text):
        for line in str(text).rstrip("\n").split("\n"):
            self._emit("# " + line)

    def _on_alarm(self, signum, frame):
        raise TestTimeout("test case exceeded %g s" % self.timeout)

    def _run_cleanups(self, sc):
        """Runs every cleanup; returns the text of the failures (TestFailure) they raised."""
        failures = []
        while sc.cleanups:
            fn, args = sc.cleanups.pop()
            try:
                fn(*args)
            except TestFailure as e:
                failures.append("at the end of the test: %s" % e)
            except Exception:  # a cleanup problem must not hide the test's own result
                self.comment("cleanup: " + traceback.format_exc().rstrip())
        return "\n".join(failures)

    def _show_logs(self, sc):
        for label, path in sc.logs:
            lines = read_text(path).splitlines()
            self.comment("---- %s (%s), last %d lines:" % (label, path, min(len(lines), 40)))
            self.comment("\n".join(lines[-40:]) or "(empty)")

    def _one(self, index, fn):
        global _scope
        name = (fn.__doc__ or fn.__name__).strip().split("\n")[0]
        sc = _Scope(os.path.join(root_dir(), "t%02d" % index))
        os.makedirs(sc.dir)
        _scope = sc
        outcome, detail = "ok", None
        signal.signal(signal.SIGALRM, self._on_alarm)
        signal.setitimer(signal.ITIMER_REAL, self.timeout)
        try:
            fn()
        except Skip as e:
            outcome, detail = "skip", str(e)
        except BaseException as e:  # interrupts too: report, clean up, then stop
            outcome, detail = "fail", traceback.format_exc()
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            late = self._run_cleanups(sc)
            if late and outcome != "fail":
                outcome, detail = "fail", late
            _scope = None
        if outcome == "ok":
            self._emit("ok %d - %s" % (index, name))
            return True
        if outcome == "skip":
            self._emit("ok %d - %s # SKIP %s" % (index, name, detail))
            return True
        self._emit("not ok %d - %s" % (index, name))
        self.comment(detail)
        self._show_logs(sc)
        self.comment("test files in %s%s" % (sc.dir, "" if KEEP else " (set IMD_KEEP=1 to keep)"))
        return False

    def run(self, tests):
        """Runs each test function; exits 0 if all passed (or skipped), 1 otherwise."""
        self._emit("1..%d" % len(tests))
        failed = 0
        # Killed from outside (make's timeout, ^C): still stop the processes we started.
        signal.signal(signal.SIGTERM, _on_sigterm)
        try:
            for i, fn in enumerate(tests, 1):
                if not self._one(i, fn):
                    failed += 1
        finally:
            _shutdown_loop()
            if KEEP:
                self.comment("kept test files in %s" % root_dir())
            elif _root_dir is not None:
                shutil.rmtree(_root_dir, ignore_errors=True)
        sys.exit(1 if failed else 0)


def _on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


tap = _Tap()


# ---------------------------------------------------------------------------------------------
# Prosody, the router


def _lua_str(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


class Prosody:
    """A private Prosody on loopback: one VirtualHost, component entries, plaintext c2s.

    components: {jid: secret}. include: a path Included at the end of the config (created empty
    if missing), e.g. the daemon's vhosts file. Started by the constructor unless start=False.
    """

    KIND = "prosody"
    BIN = os.environ.get("PROSODY") or "/usr/bin/prosody"
    CTL = os.environ.get("PROSODYCTL") or "/usr/bin/prosodyctl"
    MODULES = ["roster", "saslauth", "disco", "ping", "presence", "admin_adhoc", "posix"]

    def __init__(self, host="example.test", components=None, admins=None, include=None,
                 extra="", start=True):
        if components is None:
            components = {"domains." + host: "s3cret"}
        self.host = host
        self.components = dict(components)
        self.admins = list(admins) if admins is not None else ["admin@" + host]
        self.include = include
        self.extra = extra
        self.dir = tmpdir("prosody")
        self.config = os.path.join(self.dir, "prosody.cfg.lua")
        self.log = os.path.join(self.dir, "log", "prosody.log")
        self.c2s_port = free_port()
        self.component_port = free_port()
        self.proc = None
        self._stdout = None
        os.makedirs(os.path.dirname(self.log))
        os.makedirs(os.path.join(self.dir, "data"))
        self.write_config()
        show_log("prosody log", self.log)
        defer(self.stop)
        if start:
            self.start()

    def write_config(self):
        d = self.dir
        lines = [
            "-- generated by tests/integration/harness.py",
            "daemonize = false",
            "run_as_root = %s" % ("true" if os.geteuid() == 0 else "false"),
            "pidfile = %s" % _lua_str(os.path.join(d, "prosody.pid")),
            "data_path = %s" % _lua_str(os.path.join(d, "data")),
            "admin_socket = %s" % _lua_str(os.path.join(d, "admin.sock")),
            "log = { { levels = { min = \"debug\" }, to = \"file\", filename = %s } }"
            % _lua_str(self.log),
            "interfaces = { \"127.0.0.1\" }",
            "c2s_ports = { %d }" % self.c2s_port,
            "component_ports = { %d }" % self.component_port,
            "component_interfaces = { \"127.0.0.1\" }",
            "s2s_ports = { }",
            "http_ports = { }",
            "https_ports = { }",
            "network_settings = { nagle = false }",
            "c2s_require_encryption = false",
            "allow_unencrypted_plain_auth = true",
            "authentication = \"internal_plain\"",
            "storage = \"internal\"",
            "modules_enabled = { %s }" % ", ".join(_lua_str(m) for m in self.MODULES),
            "modules_disabled = { \"s2s\", \"offline\" }",
            "admins = { %s }" % ", ".join(_lua_str(a) for a in self.admins),
            self.extra,
            "VirtualHost %s" % _lua_str(self.host),
        ]
        for jid, secret in self.components.items():
            lines.append("Component %s" % _lua_str(jid))
            lines.append("    component_secret = %s" % _lua_str(secret))
        if self.include:
            if not os.path.exists(self.include):
                open(self.include, "a").close()
            lines.append("Include %s" % _lua_str(self.include))
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, timeout=10):
        """Starts Prosody in the foreground and waits until the component port accepts."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("prosody already running")
        if not os.access(self.BIN, os.X_OK):
            raise Skip("Prosody is not installed (%s)" % self.BIN)
        self._stdout = open(os.path.join(self.dir, "stdout.log"), "ab")
        self.proc = subprocess.Popen([self.BIN, "--config", self.config, "-F"],
                                     stdin=subprocess.DEVNULL, stdout=self._stdout,
                                     stderr=subprocess.STDOUT, cwd=self.dir)
        ok = (wait_port(self.component_port, timeout, proc=self.proc)
              and wait_port(self.c2s_port, timeout, proc=self.proc))
        if not ok:
            out = read_text(os.path.join(self.dir, "stdout.log"))
            self.kill()
            raise RuntimeError("prosody did not start (config %s):\n%s" % (self.config, out))
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10):
        """SIGTERM and reap; returns the exit status (None if it was not started)."""
        if self.proc is None:
            return None
        rc = _stop_process(self.proc, timeout)
        if self._stdout:
            self._stdout.close()
            self._stdout = None
        return rc

    def kill(self):
        """SIGKILL and reap (a crash, as far as the daemon can tell)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.wait()

    def restart(self, timeout=10):
        """Stops (if running) and starts again on the same ports."""
        self.stop()
        # Wait until the old listener is gone so we do not mistake it for the new one.
        wait_for(lambda: not _port_open(self.component_port), 5)
        return self.start(timeout)

    def reload(self):
        """SIGHUP: Prosody re-reads its config (and the Included vhosts file)."""
        self.proc.send_signal(signal.SIGHUP)

    def register(self, user, password, host=None):
        """Creates an account with prosodyctl (works whether Prosody runs or not)."""
        r = subprocess.run([self.CTL, "--config", self.config, "register", user,
                            host or self.host, password],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("prosodyctl register %s failed (%d): %s%s"
                               % (user, r.returncode, r.stdout, r.stderr))
        return "%s@%s" % (user, host or self.host)

    def log_text(self):
        return read_text(self.log)

    def wait_log(self, regex, timeout=5):
        return _wait_file_regex(self.log, regex, timeout * SLOW)


class Ejabberd:
    """A private ejabberd 23.01 on loopback, with the same interface as Prosody: one host,
    component entries (one ejabberd_service listener), plaintext c2s, its own Erlang node name,
    spool (Mnesia), logs and ejabberdctl.cfg. Needs epmd, which the first node starts and every
    node shares (that is fine: names are unique).

    include: a YAML file named in `include_config_file` (created as an empty document if
    missing), e.g. the daemon's generated hosts file; its `hosts` are added to ours. extra: raw
    YAML appended to the top level. certfiles: glob patterns for `certfiles`.
    """

    CTL = os.environ.get("EJABBERDCTL") or "/usr/sbin/ejabberdctl"
    KIND = "ejabberd"

    def __init__(self, host="example.test", components=None, admins=None, include=None,
                 extra="", certfiles=None, starttls=False, start=True, s2s=None):
        """s2s: None (no federation), or {"ip", "port", "ca_file", "dns_port"}: an s2s
        listener on ip:port, STARTTLS required, peers' certificates checked against ca_file,
        and names resolved (SRV, A) through the DNS server on 127.0.0.1:dns_port (the inetrc
        the harness writes; there is no other DNS here)."""
        if components is None:
            components = {"domains." + host: "s3cret"}
        self.s2s = dict(s2s) if s2s else None
        self.host = host
        self.components = dict(components)
        self.admins = list(admins) if admins is not None else ["admin@" + host]
        self.include = include
        self.extra = extra
        self.certfiles = list(certfiles or [])
        self.starttls = starttls  # offer STARTTLS on c2s (optional: plaintext logins still work)
        self.dir = tmpdir("ejabberd")
        self.config = os.path.join(self.dir, "ejabberd.yml")
        self.ctl_config = os.path.join(self.dir, "ejabberdctl.cfg")
        self.spool = os.path.join(self.dir, "spool")
        self.logs = os.path.join(self.dir, "logs")
        self.log = os.path.join(self.logs, "ejabberd.log")
        self.node = "imdtest%s@localhost" % secrets.token_hex(6)
        self.c2s_port = free_port()
        self.component_port = free_port()
        self.proc = None
        self._stdout = None
        os.makedirs(self.spool)
        os.makedirs(self.logs)
        with open(os.path.join(self.dir, "inetrc"), "w") as f:
            if self.s2s:
                # resolv_conf first: reading /etc/resolv.conf would replace the nameserver
                f.write('{resolv_conf,""}.\n{lookup,["file","dns"]}.\n'
                        '{host,{127,0,0,1}, ["localhost"]}.\n'
                        '{nameserver,{127,0,0,1},%d}.\n{timeout,2}.\n{retry,2}.\n'
                        % self.s2s["dns_port"])
            else:
                f.write('{lookup,["file","native"]}.\n{host,{127,0,0,1}, ["localhost"]}.\n')
        with open(self.ctl_config, "w") as f:
            # As root the script would switch to the ejabberd user; +sbwt none: without it the
            # VM's schedulers busy-wait at 100% CPU.
            f.write("EXEC_CMD=as_current_user\n"
                    "ERL_OPTIONS=\"-env ERL_CRASH_DUMP_BYTES 0 +sbwt none +sbwtdcpu none "
                    "+sbwtdio none +S 1:1 +A 2\"\n"
                    "EJABBERD_PID_PATH=%s\n"
                    "EJABBERD_BYPASS_WARNINGS=true\n" % os.path.join(self.dir, "ejabberd.pid"))
        self.write_config()
        show_log("ejabberd log", self.log)
        defer(self.kill)  # a graceful stop takes seconds; the spool is thrown away anyway
        if start:
            self.start()

    def write_config(self):
        lines = [
            "# generated by tests/integration/harness.py",
            "loglevel: info",
            "log_rotate_count: 0",
        ]
        if self.include:
            if not os.path.exists(self.include):
                with open(self.include, "w") as f:
                    f.write("# no hosts yet\n")
            lines += ["include_config_file:", "  - %s" % _yaml_str(self.include)]
        lines += ["hosts:", "  - %s" % _yaml_str(self.host)]
        if self.certfiles:
            lines += ["certfiles:"] + ["  - %s" % _yaml_str(c) for c in self.certfiles]
        lines += [
            "listen:",
            "  -",
            "    port: %d" % self.c2s_port,
            "    ip: \"127.0.0.1\"",
            "    module: ejabberd_c2s",
            "    starttls: %s" % ("true" if self.starttls else "false"),
            "  -",
            "    port: %d" % self.component_port,
            "    ip: \"127.0.0.1\"",
            "    module: ejabberd_service",
            "    hosts:",
        ]
        for jid, secret in self.components.items():
            lines += ["      %s:" % _yaml_str(jid), "        password: %s" % _yaml_str(secret)]
        if not self.components:
            lines[-1] = "    password: %s" % _yaml_str(secrets.token_hex(16))
        if self.s2s:
            lines += [
                "  -",
                "    port: %d" % self.s2s["port"],
                "    ip: %s" % _yaml_str(self.s2s["ip"]),
                "    module: ejabberd_s2s_in",
                "s2s_access: all",
                "s2s_use_starttls: required",
                "ca_file: %s" % _yaml_str(self.s2s["ca_file"]),
                "s2s_dns_timeout: 5",
                "s2s_dns_retries: 1",
                "outgoing_s2s_families: [ipv4]",
                "s2s_timeout: 30",
            ]
        else:
            lines += ["s2s_access: none"]
        lines += [
            "auth_method: internal",
            "auth_password_format: plain",
            "acl:",
            "  admin:",
            "    user:",
        ] + ["      - %s" % _yaml_str(a) for a in self.admins] + [
            "access_rules:",
            "  c2s:",
            "    allow: all",
            "  local:",
            "    allow: all",
            "shaper_rules:",
            "  max_user_sessions: 10",
            "modules:",
            "  mod_disco: {}",
            "  mod_ping: {}",
            "  mod_roster: {}",
            "  mod_adhoc: {}",
            "  mod_version: {}",
            # In-band registration: the harness creates accounts over c2s in milliseconds
            # (ejabberdctl starts an Erlang VM per call: a second or more).
            "  mod_register:",
            "    access: all",
            "    ip_access: all",
            "registration_timeout: infinity",
            self.extra,
        ]
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")

    def _ctl(self, *args):
        return [self.CTL, "--config-dir", self.dir, "--config", self.config,
                "--ctl-config", self.ctl_config, "--logs", self.logs, "--spool", self.spool,
                "--node", self.node] + list(args)

    def start(self, timeout=30):
        """Starts ejabberd in the foreground (its own session, so stop() reaches the VM under
        the script) and waits until both ports accept."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("ejabberd already running")
        if not os.access(self.CTL, os.X_OK):
            raise Skip("ejabberd is not installed (%s)" % self.CTL)
        self._stdout = open(os.path.join(self.dir, "stdout.log"), "ab")
        self.proc = subprocess.Popen(self._ctl("foreground"), stdin=subprocess.DEVNULL,
                                     stdout=self._stdout, stderr=subprocess.STDOUT,
                                     cwd=self.dir, start_new_session=True)
        ok = (wait_port(self.component_port, timeout * SLOW, proc=self.proc)
              and wait_port(self.c2s_port, timeout * SLOW, proc=self.proc))
        # The ports accept before ejabberd answers streams (seconds, the first time): ready
        # means a client stream gets its features.
        ok = ok and wait_for(lambda: self._features_ok(), timeout * SLOW, interval=0.2)
        if not ok:
            out = read_text(os.path.join(self.dir, "stdout.log"))
            self.kill()
            raise RuntimeError("ejabberd did not start (config %s):\n%s"
                               % (self.config, out[-3000:]))
        return self

    def _features_ok(self):
        try:
            return "</stream:features>" in self._c2s_exchange(self.host, timeout=5 * SLOW)
        except OSError:
            return False

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _signal_group(self, signum):
        try:
            os.killpg(self.proc.pid, signum)
        except ProcessLookupError:
            pass

    def stop(self, timeout=15):
        """SIGTERM to the node (the Erlang VM stops cleanly) and reap; the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
        rc = self.proc.wait()
        # The script exits before the VM under it: wait for the whole group to be gone.
        if not wait_for(lambda: not self._group_alive(), timeout):
            self._signal_group(signal.SIGKILL)
            wait_for(lambda: not self._group_alive(), 5)
        if self._stdout:
            self._stdout.close()
            self._stdout = None
        return rc

    def _group_alive(self):
        try:
            os.killpg(self.proc.pid, 0)
            return True
        except (ProcessLookupError, PermissionError):
            return False

    def kill(self):
        """SIGKILL to the VM and the script (a crash, as far as the daemon can tell)."""
        if self.proc is None:
            return None
        self._signal_group(signal.SIGKILL)
        rc = self.proc.wait()
        wait_for(lambda: not self._group_alive(), 5)
        return rc

    def restart(self, timeout=30):
        self.stop()
        wait_for(lambda: not _port_open(self.component_port), 5)
        return self.start(timeout)

    def ctl(self, *args, check_rc=True):
        """Runs `ejabberdctl ARGS` against this node; (exit status, output)."""
        r = subprocess.run(self._ctl(*args), stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=60 * SLOW, cwd=self.dir)
        out = "\n".join(l for l in (r.stdout + r.stderr).splitlines()
                        if "inet_config" not in l and "ERROR REPORT" not in l and l.strip())
        if check_rc and r.returncode != 0:
            raise RuntimeError("ejabberdctl %s failed (%d): %s" % (" ".join(args),
                                                                   r.returncode, out))
        return r.returncode, out

    def hook_command(self, *args):
        """`ejabberdctl ARGS` for this node as one line for a hook setting (short: the config
        directory holds ejabberd.yml and ejabberdctl.cfg under their default names)."""
        return " ".join([self.CTL, "--config-dir", self.dir, "--node", self.node] + list(args))

    def reload(self):
        """ejabberdctl reload_config: re-reads ejabberd.yml and the included hosts file."""
        self.ctl("reload_config")

    def _c2s_exchange(self, host, payload=None, timeout=15):
        """Opens a client stream to `host`, waits for the stream features, sends `payload` (if
        any) and returns what came back up to the end of the reply to id 'h1'."""
        with socket.create_connection(("127.0.0.1", self.c2s_port), timeout=timeout) as s:
            s.sendall(("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                       "xmlns:stream='%s' to='%s' version='1.0'>" % (NS_STREAMS, _esc(host)))
                      .encode())
            data = b""
            while b"</stream:features>" not in data and b"</stream:error>" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            if payload is None or b"</stream:features>" not in data:
                return data.decode("utf-8", "replace")
            s.sendall(payload.encode())
            data = b""
            while not re.search(rb"id=['\"]h1['\"][^>]*(/>|>.*?</iq>)", data, re.S):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            return data.decode("utf-8", "replace")

    def register(self, user, password, host=None):
        """Creates an account (ejabberd must be running): in-band registration (XEP-0077) over
        c2s, or ejabberdctl when that does not succeed. An account that exists (conflict) is
        kept as it is: tests use one password per user, and ejabberdctl (a VM start per call)
        takes seconds on a loaded machine."""
        host = host or self.host
        try:
            reply = self._c2s_exchange(host, "<iq type='set' id='h1'><query xmlns='jabber:iq:"
                                       "register'><username>%s</username><password>%s"
                                       "</password></query></iq>" % (_esc(user), _esc(password)))
        except OSError:
            reply = ""
        if re.search(r"type=['\"]result['\"]", reply) or "<conflict" in reply:
            return "%s@%s" % (user, host)
        rc, out = self.ctl("register", user, host, password, check_rc=False)
        if rc != 0 and "already registered" in out:
            self.ctl("change_password", user, host, password)
        elif rc != 0:
            raise RuntimeError("ejabberdctl register %s failed (%d): %s" % (user, rc, out))
        return "%s@%s" % (user, host)

    def log_text(self):
        return read_text(self.log)

    def wait_log(self, regex, timeout=5):
        return _wait_file_regex(self.log, regex, timeout * SLOW)


def _yaml_str(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


# The router the parametrised tests run against: Router(...) builds one of this class.
ROUTER = Prosody


def Router(**kw):
    """A router of the kind the running test case asked for (Prosody unless under_ejabberd)."""
    return ROUTER(**kw)


def under_ejabberd(tests):
    """The same test functions once more, run with Router() building an Ejabberd; their names
    get " [ejabberd]"."""
    out = []
    for fn in tests:
        def wrapped(fn=fn):
            global ROUTER
            ROUTER = Ejabberd
            try:
                fn()
            finally:
                ROUTER = Prosody
        name = (fn.__doc__ or fn.__name__).strip().split("\n")[0]
        wrapped.__doc__ = name + " [ejabberd]"
        wrapped.__name__ = fn.__name__ + "_ejabberd"
        out.append(wrapped)
    return out


def _port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------
# The daemon under test


def builddir():
    return os.environ.get("IMD_BUILDDIR") or os.getcwd()


def daemon_binary():
    return os.path.join(builddir(), "imdomaind")


def srcdir():
    return os.environ.get("IMD_SRCDIR") or os.path.join(os.path.dirname(__file__), "..", "..")


def valgrind_argv(log_dir):
    """The valgrind command line for a daemon run: memcheck, errors and definite leaks fail
    (exit status 99), one log per process in log_dir (see valgrind_reports), the library
    suppressions of tests/valgrind.supp. Same options as `make check-valgrind`'s unit tests."""
    return ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
            "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite",
            "--num-callers=30",
            "--suppressions=" + os.path.join(srcdir(), "tests", "valgrind.supp"),
            "--log-file=" + os.path.join(log_dir, "valgrind.%p.log")]


def valgrind_reports(log_dir):
    """The valgrind logs in log_dir that are not empty: with -q valgrind writes only errors."""
    found = []
    for name in sorted(os.listdir(log_dir)):
        path = os.path.join(log_dir, name)
        if name.startswith("valgrind.") and read_text(path).strip():
            found.append(path)
    return found


def run_tool(argv, **kw):
    """subprocess.run(argv, **kw) for one of our programs other than the daemon (imdomainctl):
    under IMD_VALGRIND=1 it runs under the daemon's valgrind options, and a report in its log
    fails the test case (the exit status alone would not: a test may expect a failing one)."""
    if not VALGRIND:
        return subprocess.run(argv, **kw)
    log_dir = tmpdir("vg")
    if "timeout" in kw:
        kw["timeout"] *= SLOW
    r = subprocess.run(valgrind_argv(log_dir) + list(argv), **kw)
    reports = valgrind_reports(log_dir)
    for path in reports:
        show_log("valgrind", path)
    if reports:
        raise TestFailure("valgrind reported errors in %s: %s"
                          % (os.path.basename(argv[0]), ", ".join(reports)))
    return r


class Daemon:
    """imdomaind with a generated config in its own directory.

    router: a Prosody or FakeRouter (supplies router_port), or None with router_port given.
    settings: {section: {key: value}} merged over the defaults below (value None drops a key).
    extra_lines: raw text appended to the config (for bad-config tests).
    Started (waiting for "connected to router") by the constructor unless start=False.
    """

    def __init__(self, router=None, jid=None, secret=None, admins=None, settings=None,
                 extra_lines="", router_port=None, session_timeout=600, start=True,
                 wait_connected=True):
        if jid is None:
            jid = next(iter(router.components)) if router is not None else "domains.example.test"
        if secret is None:
            secret = (router.components.get(jid, "s3cret") if router is not None
                      else "s3cret")
        self.jid = jid
        self.secret = secret
        self.dir = tmpdir("imd")
        self.config = os.path.join(self.dir, "imdomaind.conf")
        self.log = os.path.join(self.dir, "imdomaind.log")
        self.store = os.path.join(self.dir, "imdomaind.db")
        self.socket = os.path.join(self.dir, "ctl.sock")
        self.vhosts_file = os.path.join(self.dir, "vhosts.cfg.lua")
        if router_port is None:
            router_port = router.component_port
        host = router.host if router is not None else "example.test"
        if admins is None:
            admins = ["admin@" + host]
        self.sections = {
            "component": {
                "jid": jid,
                "secret": secret,
                "router_host": "127.0.0.1",
                "router_port": router_port,
                "reconnect_max": 1,
                "keepalive": 60,
            },
            "admins": {"jids": ", ".join(admins)},
            "store": {"path": self.store},
            "control": {"socket": self.socket, "mode": "0600"},
            "log": {"level": "debug"},
            "commands": {"session_timeout": session_timeout},
        }
        if getattr(router, "KIND", None) == "ejabberd":  # it spreads stanzas among instances
            self.sections["router"] = {"kind": "ejabberd"}
        for section, values in (settings or {}).items():
            target = self.sections.setdefault(section, {})
            for key, value in values.items():
                if value is None:
                    target.pop(key, None)
                else:
                    target[key] = value
        self.extra_lines = extra_lines
        self.proc = None
        self._log_fh = None
        self.write_config()
        show_log("imdomaind log", self.log)
        defer(self._cleanup)
        if start:
            self.start(wait_connected=wait_connected)

    def write_config(self):
        out = ["; generated by tests/integration/harness.py"]
        for section, values in self.sections.items():
            out.append("[%s]" % section)
            for key, value in values.items():
                out.append("%s = %s" % (key, value))
            out.append("")
        with open(self.config, "w") as f:
            f.write("\n".join(out) + self.extra_lines)

    def argv(self, *args):
        cmd = [daemon_binary()] + list(args)
        if VALGRIND:
            cmd = valgrind_argv(self.dir) + cmd
        return cmd

    def start(self, wait_connected=True, timeout=10):
        """Starts `imdomaind -f CONFIG -v`; waits for "connected to router" if asked."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("daemon already running")
        if not os.access(daemon_binary(), os.X_OK):
            raise Skip("no daemon binary at %s" % daemon_binary())
        self._log_start = self.log_size()
        self._log_fh = open(self.log, "ab")
        self.proc = subprocess.Popen(self.argv("-f", self.config, "-v"),
                                     stdin=subprocess.DEVNULL, stdout=self._log_fh,
                                     stderr=subprocess.STDOUT, cwd=self.dir)
        if wait_connected:
            self.wait_connected(timeout)
        return self

    def wait_connected(self, timeout=10, after=None):
        """Waits until the daemon is connected and serves (after byte offset `after`): under
        ejabberd it bounces requests for the few milliseconds in which it makes sure that no
        other instance serves the JID."""
        start = self._log_start if after is None else after
        if not self.wait_log(r"instance: serving as ", timeout, start=start):
            raise TestFailure("imdomaind did not log 'connected to router' and 'instance: "
                              "serving' within %g s (exit status %s)"
                              % (timeout * SLOW, self.proc.poll()))

    def log_size(self):
        """Current log length; pass to wait_log(start=...) to look only at later lines."""
        try:
            return os.path.getsize(self.log)
        except FileNotFoundError:
            return 0

    def log_text(self):
        return read_text(self.log)

    def wait_log(self, regex, timeout=5, start=0):
        """Waits for regex in the log (from byte offset start); the match or None."""
        return _wait_file_regex(self.log, regex, timeout * SLOW, start=start, proc=self.proc)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout=10):
        """Waits for the process to exit by itself; its status, or None on timeout."""
        try:
            return self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            return None

    def signal(self, signum):
        self.proc.send_signal(signum)

    def stop(self, timeout=10):
        """SIGTERM, wait (SIGKILL after the timeout); returns the exit status."""
        if self.proc is None:
            return None
        rc = _stop_process(self.proc, timeout * SLOW)
        self._close_log()
        return rc

    def kill(self):
        """SIGKILL and reap."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.kill()
        rc = self.proc.wait()
        self._close_log()
        return rc

    def _close_log(self):
        if self._log_fh:
            self._log_fh.close()
            self._log_fh = None

    def _cleanup(self):
        was_running = self.running()
        rc = self.stop()
        reports = valgrind_reports(self.dir) if VALGRIND else []
        for path in reports:
            show_log("valgrind", path)
        # A crash, a sanitizer report or a valgrind error at shutdown fails the test.
        if was_running and rc != 0:
            raise TestFailure("imdomaind exited with status %s on SIGTERM at the end of the test"
                              % rc)
        # Also a valgrind report of a run that ended earlier (exit status checked by the test,
        # imdomaind -n, a child that failed before its exec).
        if reports:
            raise TestFailure("valgrind reported errors in imdomaind: %s" % ", ".join(reports))

    def check_config(self):
        """Runs `imdomaind -n -f CONFIG`; returns (exit status, stdout, stderr)."""
        if not os.access(daemon_binary(), os.X_OK):
            raise Skip("no daemon binary at %s" % daemon_binary())
        r = subprocess.run(self.argv("-n", "-f", self.config), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=30 * SLOW, cwd=self.dir)
        return r.returncode, r.stdout, r.stderr


# ---------------------------------------------------------------------------------------------
# XMPP clients (slixmpp in one background event loop; synchronous wrappers)

_loop = None
_loop_thread = None
_closed_clients = []


def _event_loop():
    global _loop, _loop_thread
    if _loop is None:
        _loop = asyncio.new_event_loop()
        _loop_thread = threading.Thread(target=_loop.run_forever, name="slixmpp", daemon=True)
        _loop_thread.start()
    return _loop


def _shutdown_loop():
    global _loop
    if _loop is not None:
        async def drain():
            # slixmpp leaves tasks behind after disconnect; end them quietly before stopping.
            me = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not me]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        try:
            asyncio.run_coroutine_threadsafe(drain(), _loop).result(5)
        except Exception:
            pass
        _loop.call_soon_threadsafe(_loop.stop)
        _loop_thread.join(5)
        _loop = None
        del _closed_clients[:]


def _run(coro, timeout):
    """Runs a coroutine on the client loop and waits for its result."""
    fut = asyncio.run_coroutine_threadsafe(coro, _event_loop())
    try:
        return fut.result(timeout)
    except BaseException:
        fut.cancel()
        raise


class StanzaError(Exception):
    """An IQ came back with type='error'."""

    def __init__(self, reply):
        self.reply = reply
        self.type, self.condition, self.app = error_condition(reply)
        Exception.__init__(self, "%s/%s%s" % (self.type, self.condition,
                                              " + " + self.app if self.app else ""))


def error_condition(reply):
    """(type, defined condition, application condition) of an error stanza element."""
    if isinstance(reply, Command):
        reply = reply.reply
    err = reply.find("{%s}error" % NS_CLIENT)
    if err is None:
        err = reply.find("error")
    if err is None:
        return (None, None, None)
    cond = app = None
    for child in err:
        ns, _, local = child.tag[1:].partition("}")
        if ns == NS_STANZAS and local != "text":
            cond = local
        elif ns != NS_STANZAS:
            app = local
    return (err.get("type"), cond, app)


def _strip_ns(tag):
    return tag.split("}", 1)[1] if tag.startswith("{") else tag


class Command:
    """A parsed XEP-0050 <command/> reply."""

    def __init__(self, reply):
        self.reply = reply
        self.el = reply.find("{%s}command" % NS_COMMANDS)
        if self.el is None:
            raise TestFailure("no <command/> in reply: " + ET.tostring(reply, "unicode"))
        self.node = self.el.get("node")
        self.status = self.el.get("status")
        self.sessionid = self.el.get("sessionid")
        self.lang = self.el.get(XML_LANG)
        actions = self.el.find("{%s}actions" % NS_COMMANDS)
        self.actions = [] if actions is None else [_strip_ns(a.tag) for a in actions]
        self.default_action = None if actions is None else actions.get("execute")
        self.notes = [(n.get("type", "info"), n.text or "")
                      for n in self.el.findall("{%s}note" % NS_COMMANDS)]
        # What people's clients show: the one data form among <command/>'s children.
        self.people = self.el.find("{%s}x" % NS_DATA)
        # What programs read: results as XEP-0004 forms with their tables, in our payload
        # (xmpp/present.h); an input stage has only the form people see.
        data = self.el.find("{%s}results" % NS_IMD_RESULTS)
        self.forms = ([] if data is None else data.findall("{%s}x" % NS_DATA)) or (
            [] if self.people is None else [self.people])
        self.form = self.forms[0] if self.forms else None

    def field(self, var):
        """The <field/> element with that var in the form, or None."""
        if self.form is None:
            return None
        for f in self.form.findall("{%s}field" % NS_DATA):
            if f.get("var") == var:
                return f
        return None

    def values(self, var):
        f = self.field(var)
        return [] if f is None else [v.text or "" for v in f.findall("{%s}value" % NS_DATA)]

    def value(self, var):
        vals = self.values(var)
        return vals[0] if vals else None

    def form_type(self):
        return self.value("FORM_TYPE")

    def rejected(self):
        """The error note of a stage shown again after a refused value (the session kept,
        status executing), or None."""
        errors = [text for kind, text in self.notes if kind == "error"]
        return errors[0] if self.status == "executing" and errors else None

    def items(self):
        """Rows of a result table: list of {var: [values]}."""
        rows = []
        if self.form is None:
            return rows
        for item in self.form.findall("{%s}item" % NS_DATA):
            row = {}
            for f in item.findall("{%s}field" % NS_DATA):
                row[f.get("var")] = [v.text or "" for v in f.findall("{%s}value" % NS_DATA)]
            rows.append(row)
        return rows

    def __repr__(self):
        return "<Command node=%s status=%s session=%s actions=%s notes=%s>" % (
            self.node, self.status, self.sessionid, self.actions, self.notes)


def _esc(s):
    return (str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("'", "&apos;").replace('"', "&quot;"))


def make_form(fields, form_type=None, ftype="submit"):
    """XML text of a data form: fields is {var: value or [values]} (order kept)."""
    parts = ["<x xmlns='jabber:x:data' type='%s'>" % ftype]
    if form_type:
        parts.append("<field var='FORM_TYPE' type='hidden'><value>%s</value></field>"
                     % _esc(form_type))
    for var, value in fields.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        if isinstance(value, bool):
            values = ["1" if value else "0"]
        parts.append("<field var='%s'>%s</field>" % (
            _esc(var), "".join("<value>%s</value>" % _esc(v) for v in values)))
    parts.append("</x>")
    return "".join(parts)


class Client:
    """A logged-in slixmpp 1.8.3 client with synchronous helpers.

    Client(prosody, "admin") registers admin@HOST (password "pw-admin") unless register=False,
    logs in over plaintext c2s on loopback and waits for session start.
    """

    def __init__(self, prosody, user, password=None, register=True, resource="test",
                 timeout=10):
        try:  # here, so files that do not need a client run without it
            import slixmpp
        except ImportError:
            raise Skip("slixmpp is not installed for %s" % sys.executable)

        self._slixmpp = slixmpp
        self.prosody = prosody
        password = password or "pw-" + user
        if register:
            prosody.register(user, password)
        self.jid = "%s@%s/%s" % (user, prosody.host, resource)
        self.bare = "%s@%s" % (user, prosody.host)
        self.timeout = timeout * SLOW
        self.xmpp = _run(self._connect(password, prosody.c2s_port), self.timeout + 5)
        defer(self.close)

    async def _connect(self, password, port):
        x = self._slixmpp.ClientXMPP(self.jid, password)
        x['feature_mechanisms'].unencrypted_plain = True
        started = asyncio.get_running_loop().create_future()

        def on_start(_event):
            if not started.done():
                started.set_result(True)

        def on_fail(_event):
            if not started.done():
                started.set_exception(RuntimeError("authentication failed for " + self.jid))

        x.add_event_handler("session_start", on_start)
        x.add_event_handler("failed_auth", on_fail)
        x.connect(("127.0.0.1", port), disable_starttls=True)
        await asyncio.wait_for(started, self.timeout)
        x.send_presence()
        return x

    def close(self):
        if self.xmpp is None:
            return
        x, self.xmpp = self.xmpp, None
        # slixmpp leaves tasks that only hold weak references behind; keep the object alive
        # until the loop is drained, or Python complains that pending tasks were destroyed.
        _closed_clients.append(x)

        async def bye():
            x.disconnect(wait=0.5)
            try:
                await asyncio.wait_for(x.disconnected, 3)
            except Exception:
                pass
        try:
            _run(bye(), 5)
        except Exception:
            pass

    # -- raw IQs

    def iq(self, xml, timeout=None):
        """Sends one IQ given as XML text (jabber:client default namespace implied) and returns
        the reply as an ElementTree element, result or error alike. An id is added if absent."""
        timeout = (timeout or 10) * SLOW
        el = ET.fromstring(xml) if isinstance(xml, str) else xml
        if el.tag == "iq":  # give the unqualified stanza its client namespace
            el = _qualify(el, NS_CLIENT)
        return _run(self._iq(el, timeout), timeout + 5)

    async def _iq(self, el, timeout):
        from slixmpp.exceptions import IqError, IqTimeout
        from slixmpp.stanza import Iq

        stanza = Iq(self.xmpp, xml=el)
        if not stanza["id"]:
            stanza["id"] = self.xmpp.new_id()
        try:
            reply = await stanza.send(timeout=timeout)
        except IqError as e:
            reply = e.iq
        except IqTimeout:
            raise TestFailure("no reply within %g s to %s" % (timeout, ET.tostring(el, "unicode")))
        return ET.fromstring(str(reply))

    def iq_ok(self, xml, timeout=None):
        """Like iq() but raises StanzaError unless the reply is a result."""
        reply = self.iq(xml, timeout)
        if reply.get("type") != "result":
            raise StanzaError(reply)
        return reply

    # -- common requests

    def disco_info(self, jid, node=None):
        """{'identities': [(category, type, name)], 'features': [...], 'forms': [...]}."""
        q = "<query xmlns='%s'%s/>" % (NS_DISCO_INFO, " node='%s'" % _esc(node) if node else "")
        reply = self.iq_ok("<iq type='get' to='%s'>%s</iq>" % (_esc(jid), q))
        query = reply.find("{%s}query" % NS_DISCO_INFO)
        return {
            "identities": [(i.get("category"), i.get("type"), i.get("name"))
                           for i in query.findall("{%s}identity" % NS_DISCO_INFO)],
            "features": [f.get("var") for f in query.findall("{%s}feature" % NS_DISCO_INFO)],
            "forms": query.findall("{%s}x" % NS_DATA),
            "node": query.get("node"),
        }

    def disco_items(self, jid, node=None):
        """[(jid, node, name)] of the items."""
        q = "<query xmlns='%s'%s/>" % (NS_DISCO_ITEMS, " node='%s'" % _esc(node) if node else "")
        reply = self.iq_ok("<iq type='get' to='%s'>%s</iq>" % (_esc(jid), q))
        query = reply.find("{%s}query" % NS_DISCO_ITEMS)
        return [(i.get("jid"), i.get("node"), i.get("name"))
                for i in query.findall("{%s}item" % NS_DISCO_ITEMS)]

    def ping(self, jid, timeout=None):
        """XEP-0199: True if answered with a result; raises StanzaError otherwise."""
        self.iq_ok("<iq type='get' to='%s'><ping xmlns='%s'/></iq>" % (_esc(jid), NS_PING),
                   timeout)
        return True

    def version(self, jid):
        """XEP-0092: (name, version, os) - missing elements are None."""
        reply = self.iq_ok("<iq type='get' to='%s'><query xmlns='%s'/></iq>"
                           % (_esc(jid), NS_VERSION))
        q = reply.find("{%s}query" % NS_VERSION)

        def text(tag):
            el = q.find("{%s}%s" % (NS_VERSION, tag))
            return None if el is None else (el.text or "")
        return (text("name"), text("version"), text("os"))

    def command(self, jid, node, action="execute", sessionid=None, form=None, lang=None,
                form_type=None, raise_error=True, timeout=None):
        """One XEP-0050 request. action None sends no action attribute (like Psi). form is a
        dict for make_form() or ready XML text. Returns a Command, or raises StanzaError (when
        raise_error) / returns the raw error element."""
        attrs = ["xmlns='%s'" % NS_COMMANDS, "node='%s'" % _esc(node)]
        if action:
            attrs.append("action='%s'" % action)
        if sessionid:
            attrs.append("sessionid='%s'" % _esc(sessionid))
        if lang:
            attrs.append("xml:lang='%s'" % _esc(lang))
        body = ""
        if form is not None:
            body = form if isinstance(form, str) else make_form(form, form_type)
        reply = self.iq("<iq type='set' to='%s'><command %s>%s</command></iq>"
                        % (_esc(jid), " ".join(attrs), body), timeout)
        if reply.get("type") != "result":
            if raise_error:
                raise StanzaError(reply)
            return reply
        return Command(reply)

    def execute(self, jid, node, **kw):
        return self.command(jid, node, "execute", **kw)

    def next(self, jid, node, sessionid, form=None, **kw):
        return self.command(jid, node, "next", sessionid=sessionid, form=form, **kw)

    def prev(self, jid, node, sessionid, **kw):
        return self.command(jid, node, "prev", sessionid=sessionid, **kw)

    def complete(self, jid, node, sessionid, form=None, **kw):
        return self.command(jid, node, "complete", sessionid=sessionid, form=form, **kw)

    def cancel(self, jid, node, sessionid, **kw):
        return self.command(jid, node, "cancel", sessionid=sessionid, **kw)

    def commands(self, jid):
        """Nodes listed under the commands disco node."""
        return [node for _, node, _ in self.disco_items(jid, NS_COMMANDS)]


def _qualify(el, ns):
    """Puts unqualified elements of a tree into namespace ns (children keep their own)."""
    if not el.tag.startswith("{"):
        el.tag = "{%s}%s" % (ns, el.tag)
        for child in el:
            _qualify(child, ns)
    return el


# ---------------------------------------------------------------------------------------------
# A fake router: the router side of XEP-0114, for fault injection


def handshake_digest(stream_id, secret):
    return hashlib.sha1((stream_id + secret).encode()).hexdigest()


class RouterConn:
    """One component connection accepted by FakeRouter. Bytes from the daemon accumulate in
    .data (bytes); a reader thread sets .closed at EOF."""

    def __init__(self, sock, router):
        self.sock = sock
        self.router = router
        self.data = b""
        self.stream_id = secrets.token_hex(8)
        self.to = None
        self.handshake = None  # what the daemon sent
        self.authenticated = False
        self.problem = None  # why the handshake did not complete, if it did not
        self._close_answered = False
        self.mark = 0
        self.closed = threading.Event()
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._reader, daemon=True)
        self._thread.start()

    def _reader(self):
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                chunk = b""
            with self._cond:
                if not chunk:
                    self.closed.set()
                    self._cond.notify_all()
                    return
                self.data += chunk
                self._cond.notify_all()
            if (self.router.answer_close and not self._close_answered
                    and b"</stream:stream>" in self.data):
                # Like a real router: close our side too, so the daemon need not wait.
                self._close_answered = True
                self.send("</stream:stream>")
                try:
                    self.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

    def text(self):
        return self.data.decode("utf-8", "replace")

    def wait_data(self, regex, timeout=5, start=0):
        """Waits for regex (on the decoded text from char offset start); the match or None."""
        pattern = re.compile(regex, re.S)
        deadline = time.monotonic() + timeout * SLOW
        with self._cond:
            while True:
                m = pattern.search(self.text(), start)
                if m or self.closed.is_set():
                    return m
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(min(left, 0.2))

    def wait_closed(self, timeout=5):
        return self.closed.wait(timeout * SLOW)

    def send(self, data):
        """Raw bytes (or text) to the daemon; False if the socket is gone."""
        if isinstance(data, str):
            data = data.encode()
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def _serve_handshake(self, timeout):
        """Plays the router side up to <handshake/>; sets .authenticated or .problem."""
        m = self.wait_data(r"<(?:stream:)?stream\b[^>]*>", timeout)
        if not m:
            self.problem = "no stream header from the daemon"
            return
        header = m.group(0)
        to = re.search(r"\bto=(['\"])(.*?)\1", header)
        self.to = to.group(2) if to else None
        check("jabber:component:accept" in header, "header lacks jabber:component:accept: "
              + header)
        refusal = self.router.refuse
        if refusal in ("host-unknown", "improper-addressing"):
            self.send("<?xml version='1.0'?><stream:stream xmlns:stream='%s' "
                      "xmlns='jabber:component:accept'><stream:error><%s xmlns='%s'/>"
                      "</stream:error></stream:stream>" % (NS_STREAMS, refusal, NS_STREAM_ERR))
            return
        self.send("<?xml version='1.0'?>%s<stream:stream xmlns:stream='%s' "
                  "xmlns='jabber:component:accept' id='%s' from='%s'>"
                  % (self.router.header_prefix, NS_STREAMS, self.stream_id,
                     _esc(self.to or "")))
        hs = self.wait_data(r"<handshake>([^<]*)</handshake>", timeout, start=m.end())
        if not hs:
            self.problem = "no handshake from the daemon"
            return
        self.handshake = hs.group(1)
        want = handshake_digest(self.stream_id, self.router.secret)
        if refusal or self.handshake != want:
            cond = refusal or "not-authorized"
            self.send("<stream:error><%s xmlns='%s'/></stream:error></stream:stream>"
                      % (cond, NS_STREAM_ERR))
            return
        self.authenticated = True
        self.mark = len(self.text())  # where the post-handshake traffic begins
        self.send("<handshake/>")


class FakeRouter:
    """Listens on a free loopback port and accepts component connections, doing the router's
    side of the XEP-0114 handshake (SHA-1 of id + secret, lower-case hex).

    refuse: None, or a stream error condition to answer the handshake with ("not-authorized",
    "conflict"), or "host-unknown" to refuse at the header. Use with Daemon(router=...).
    """

    def __init__(self, jid="domains.example.test", secret="s3cret", refuse=None):
        self.host = "example.test"
        self.components = {jid: secret}
        self.jid = jid
        self.secret = secret
        self.refuse = refuse
        # Sent between the XML declaration and the stream header (e.g. a DOCTYPE).
        self.header_prefix = ""
        # Answer the daemon's </stream:stream> with ours and close, as routers do.
        self.answer_close = True
        self.component_port = free_port()
        self.conns = []
        self._lock = threading.Condition()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", self.component_port))
        self._sock.listen(8)
        self._stopped = False
        self._thread = threading.Thread(target=self._acceptor, daemon=True)
        self._thread.start()
        defer(self.close)

    def _acceptor(self):
        while not self._stopped:
            try:
                sock, _ = self._sock.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = RouterConn(sock, self)
            threading.Thread(target=self._handshake, args=(conn,), daemon=True).start()

    def _handshake(self, conn):
        try:
            conn._serve_handshake(10 * SLOW)
        except Exception as e:
            conn.problem = "handshake: %r" % e
        with self._lock:
            self.conns.append(conn)
            self._lock.notify_all()

    def accept(self, timeout=10, index=None):
        """Waits for connection number `index` (default: the next one not yet returned) to be
        through the handshake (or to have failed it: see .authenticated, .problem); returns
        it."""
        if index is None:
            index = getattr(self, "_next", 0)
        deadline = time.monotonic() + timeout * SLOW
        with self._lock:
            while len(self.conns) <= index:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TestFailure("no component connection #%d within %g s"
                                      % (index + 1, timeout * SLOW))
                self._lock.wait(min(left, 0.2))
            self._next = index + 1
            return self.conns[index]

    def close(self):
        self._stopped = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        try:
            self._sock.close()
        except OSError:
            pass
        for c in list(self.conns):
            c.close()
