# Integration tests of running imdomaind as a service: the status command (over XMPP and as
# `imdomainctl status` with monitoring-plugin exit statuses), the certificate expiry alarm in
# certs/show, domains/list, status and the log, and the sd_notify datagrams (READY, STATUS,
# WATCHDOG, STOPPING) received on a test NOTIFY_SOCKET.
import json
import os
import socket
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean (distcheck has it read-only)
import harness as h  # noqa: E402
from harness import check  # noqa: E402
from as_users import DaemonAs, ProsodyAsProsody, ids as _ids  # noqa: E402


def ctl_binary():
    return os.path.join(h.builddir(), "imdomainctl")


def status(d, *args, sock=None):
    """imdomainctl -s SOCKET status ARGS: (exit status, stdout, stderr)."""
    if not os.access(ctl_binary(), os.X_OK):
        raise h.Skip("no imdomainctl at %s" % ctl_binary())
    r = subprocess.run([ctl_binary(), "-s", sock or d.socket, "status"] + list(args),
                       capture_output=True, text=True, timeout=30 * h.SLOW)
    return r.returncode, r.stdout, r.stderr


def make_cert(directory, days):
    """A self-signed certificate valid for `days` as imdomaind's own cup-xmpp-s2s.crt."""
    key = os.path.join(directory, "test.key")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", str(days), "-subj",
                        "/CN=example.test", "-keyout", key, "-out",
                        os.path.join(directory, "cup-xmpp-s2s.crt")],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "openssl req failed: %s" % r.stderr)


def cert_daemon(days, router=True):
    """Prosody + a connected daemon whose certificate directory holds a certificate valid for
    `days` days."""
    certs = h.tmpdir("certs")
    make_cert(certs, days)
    p = h.Prosody()
    d = h.Daemon(p, settings={"certs": {"dir": certs}})
    return p, d


def first_line(out):
    return out.split("\n", 1)[0]


def test_status_connected_ok():
    """status of a connected daemon: exit 0, the OK summary first, every figure labelled"""
    p = h.Prosody()
    d = h.Daemon(p)
    # Just connected, the daemon may still be sending its start-up probes (a slow daemon, under
    # valgrind): the queue empties within moments.
    def drained():
        nonlocal rc, out, err
        rc, out, err = status(d)
        return "Bytes queued for the router: 0\n" in out
    rc = out = err = None
    h.wait_for(drained, 10 * h.SLOW, interval=0.2)
    check(rc == 0, "exit %d, stdout %r, stderr %r" % (rc, out, err))
    check(first_line(out).startswith("IMDOMAIND OK - router connected for "), out)
    check(" | uptime=" in first_line(out) and "sessions=0" in first_line(out), out)
    for label in ("Router link: connected", "Reconnects: 0", "Presence sessions tracked: 0",
                  "Store schema version:", "Version:", "Certificate expiry state: none",
                  "Bytes queued for the router: 0"):
        check(label in out, "%r not in %r" % (label, out))


def test_status_command_readable():
    """status over XMPP: one result form of labelled fields, no table rows, a summary note"""
    p = h.Prosody()
    d = h.Daemon(p)
    c = h.Client(p, "admin")
    check("status" in c.commands(d.jid), "status is not listed")
    cmd = c.execute(d.jid, "status")
    check(cmd.status == "completed", repr(cmd))
    check(cmd.items() == [], "status must not answer with <reported>/<item> rows")
    check(cmd.form.find("{%s}reported" % h.NS_DATA) is None, "a <reported/> in status")
    for f in cmd.form.findall("{%s}field" % h.NS_DATA):
        if f.get("type") != "hidden":
            check(f.get("label"), "field %s has no label" % f.get("var"))
    check(cmd.value("state") == "ok", repr(cmd.value("state")))
    check(cmd.value("router_link") == "connected", cmd.value("router_link"))
    check(cmd.value("version"), "no version")
    check(int(cmd.value("uptime_seconds")) >= 0, "uptime")
    check(cmd.value("last_audit_outcome") == "-", cmd.value("last_audit_outcome"))
    check(any(n[1].startswith("IMDOMAIND OK") for n in cmd.notes), cmd.notes)
    # After a sync audit, status names it and its outcome.
    c.execute(d.jid, "sync/audit")
    cmd = c.execute(d.jid, "status", lang="ko")
    check(cmd.value("last_audit_outcome") == "ok", cmd.value("last_audit_outcome"))
    check(cmd.value("last_audit") != "-", cmd.value("last_audit"))
    check(cmd.field("state").get("label") == "상태", "no Korean label")


def test_status_router_down_critical():
    """status with the router down: exit 2 (critical) and says why; back to 0 when it returns"""
    p = h.Prosody()
    d = h.Daemon(p)
    mark = d.log_size()
    p.stop()
    check(d.wait_log(r"router link lost", 10, start=mark), "the loss was not logged")
    rc, out, err = status(d)
    check(rc == 2, "exit %d, stdout %r" % (rc, out))
    check(first_line(out).startswith("IMDOMAIND CRITICAL - router link down since "), out)
    check("Router link: down" in out, out)
    mark = d.log_size()
    p.start()
    d.wait_connected(10 * h.SLOW, after=mark)
    rc, out, err = status(d)
    check(rc == 0, "exit %d after the router came back, stdout %r" % (rc, out))
    check("Reconnects: 1" in out, out)


def test_status_never_connected_critical():
    """status of a daemon that never reached its router: exit 2, --json carries the state"""
    d = h.Daemon(None, router_port=h.free_port(), wait_connected=False)
    check(d.wait_log(r"control socket listening", 10), "no control socket")
    rc, out, err = status(d)
    check(rc == 2, "exit %d, stdout %r" % (rc, out))
    check("not connected to the router yet" in first_line(out), out)
    rc, out, err = status(d, "--json")
    check(rc == 2, "--json exit %d" % rc)
    doc = json.loads(out)
    fields = doc["forms"][0]["fields"]
    check(fields["state"] == ["critical"], fields.get("state"))
    check(fields["router_link"] == ["connecting"], fields.get("router_link"))


def test_status_no_daemon_unknown():
    """imdomainctl status without a daemon: exit 3 and one UNKNOWN line on stdout"""
    rc, out, err = status(None, sock=os.path.join(h.tmpdir("none"), "nothing.sock"))
    check(rc == 3, "exit %d, stdout %r, stderr %r" % (rc, out, err))
    check(out.startswith("IMDOMAIND UNKNOWN - cannot connect to "), out)


def test_cert_10_days_warning():
    """a certificate 10 days from expiry: status exits 1; certs/show, domains/list, the log warn"""
    p, d = cert_daemon(10)
    rc, out, err = status(d)
    check(rc == 1, "exit %d, stdout %r" % (rc, out))
    line = first_line(out)
    check(line.startswith("IMDOMAIND WARNING - certificate expires in "), line)
    check("cert_days=9" in line or "cert_days=10" in line, line)
    check(d.wait_log(r"certs: cup-xmpp-s2s expires soon level=warning days_left=(9|10) ", 5),
          "no expiry line in the log")
    c = h.Client(p, "admin")
    show = c.execute(d.jid, "certs/show")
    check(show.value("expiry_state") == "warning", show.value("expiry_state"))
    check(show.value("days_left") in ("9", "10"), show.value("days_left"))
    check("expires in" in (show.value("expiry") or ""), show.value("expiry"))
    check(any(t == "warn" and "expires in" in x for t, x in show.notes), show.notes)
    lst = c.execute(d.jid, "domains/list", form={}, raise_error=True)
    if lst.status == "executing":
        lst = c.complete(d.jid, "domains/list", lst.sessionid, form={})
    check(any(t == "warn" and "expires in" in x for t, x in lst.notes), lst.notes)
    ko = c.execute(d.jid, "certs/show", lang="ko")
    check(any("만료됩니다" in x for _, x in ko.notes), ko.notes)


def test_cert_critical_and_ok():
    """within 7 days the certificate is critical (exit 2); with a year left status stays 0"""
    p, d = cert_daemon(3)
    rc, out, err = status(d)
    check(rc == 2, "exit %d, stdout %r" % (rc, out))
    check(first_line(out).startswith("IMDOMAIND CRITICAL - certificate expires in "), out)
    p2, d2 = cert_daemon(365)
    rc, out, err = status(d2)
    check(rc == 0, "exit %d, stdout %r" % (rc, out))
    check("certificate valid 364 more days" in first_line(out)
          or "certificate valid 365 more days" in first_line(out), out)


def test_cert_thresholds_configurable():
    """[certs] warn_days and critical_days move the thresholds"""
    certs = h.tmpdir("certs")
    make_cert(certs, 40)
    p = h.Prosody()
    d = h.Daemon(p, settings={"certs": {"dir": certs, "warn_days": 60, "critical_days": 45}})
    rc, out, err = status(d)
    check(rc == 2, "40 days left under critical_days=45: exit %d, %r" % (rc, out))
    bad = h.Daemon(p, settings={"certs": {"dir": certs, "warn_days": 5, "critical_days": 9}},
                   start=False)
    rc, out, err = bad.check_config()
    check(rc == 1 and "critical_days (9) must not be more than certs.warn_days (5)" in err,
          "exit %d, %r" % (rc, err))


class NotifySocket:
    """An AF_UNIX datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self):
        self.path = os.path.join(h.tmpdir("notify"), "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []
        h.defer(self.sock.close)

    def wait(self, predicate, timeout):
        """Reads datagrams until one satisfies predicate(text); returns it or None."""
        def poll():
            try:
                msg = self.sock.recv(4096).decode()
            except socket.timeout:
                return None
            self.messages.append(msg)
            return msg if predicate(msg) else None
        return h.wait_for(poll, timeout * h.SLOW, interval=0)


def start_notified(p, watchdog_usec):
    ns = NotifySocket()
    saved = {k: os.environ.get(k) for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
    os.environ["NOTIFY_SOCKET"] = ns.path
    os.environ["WATCHDOG_USEC"] = str(watchdog_usec)
    os.environ.pop("WATCHDOG_PID", None)
    try:
        d = h.Daemon(p, start=False)
        d.start(wait_connected=False)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return ns, d


def test_notify_ready_status_watchdog_stopping():
    """sd_notify: READY=1 once the control socket listens, STATUS= on the link, WATCHDOG=1, STOPPING=1"""
    p = h.Prosody()
    ns, d = start_notified(p, 300000)  # 0.3 s: a ping every 150 ms
    ready = ns.wait(lambda m: "READY=1" in m.split("\n"), 10)
    check(ready is not None, "no READY=1; got %r" % ns.messages)
    check(os.path.exists(d.socket), "READY=1 before the control socket exists")
    check("STATUS=" in ready, ready)
    up = ns.wait(lambda m: m.startswith("STATUS=router connected since "), 10)
    check(up is not None, "no STATUS on the router link; got %r" % ns.messages)
    before = sum(m == "WATCHDOG=1" for m in ns.messages)
    check(ns.wait(lambda m: m == "WATCHDOG=1", 5) is not None, "no WATCHDOG=1")
    check(ns.wait(lambda m: m == "WATCHDOG=1", 5) is not None, "only one WATCHDOG=1")
    check(sum(m == "WATCHDOG=1" for m in ns.messages) >= before + 2, ns.messages)
    p.stop()
    lost = ns.wait(lambda m: m.startswith("STATUS=router link lost at "), 10)
    check(lost is not None, "no STATUS on the lost link; got %r" % ns.messages[-5:])
    d.signal(15)
    check(d.wait_exit(10) == 0, "the daemon did not stop cleanly")
    check(ns.wait(lambda m: m.startswith("STOPPING=1"), 5) is not None or
          any(m.startswith("STOPPING=1") for m in ns.messages), "no STOPPING=1")


def test_notify_off_without_socket_and_other_pid():
    """no NOTIFY_SOCKET: nothing is sent; WATCHDOG_PID of another process: no watchdog"""
    p = h.Prosody()
    ns = NotifySocket()
    os.environ["NOTIFY_SOCKET"] = ns.path
    os.environ["WATCHDOG_USEC"] = "200000"
    os.environ["WATCHDOG_PID"] = "1"
    try:
        d = h.Daemon(p)
    finally:
        for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
            os.environ.pop(k, None)
    check(ns.wait(lambda m: "READY=1" in m, 10) is not None, "no READY=1")
    check(ns.wait(lambda m: m == "WATCHDOG=1", 1) is None,
          "WATCHDOG=1 although WATCHDOG_PID names another process")
    d2 = h.Daemon(p, jid=None, start=False)
    d2.sections["control"]["socket"] = d2.socket
    d2.write_config()
    # The second daemon gets no NOTIFY_SOCKET: the test socket hears nothing from it.
    n_before = len(ns.messages)
    d.stop()
    ns.wait(lambda m: m.startswith("STOPPING=1"), 3)
    d2.start()
    check(ns.wait(lambda m: "READY=1" in m, 2) is None, "a daemon without NOTIFY_SOCKET sent")
    check(len([m for m in ns.messages[n_before:] if "READY=1" in m]) == 0, ns.messages)


# ---- the reload hook without root: Prosody's admin socket and its group ----

def _reload_setup(with_group):
    if os.geteuid() != 0:
        raise h.Skip("needs root to run Prosody and imdomaind as other users")
    ids = _ids("prosody", "prosody")
    if ids is None or _ids("nobody", "nogroup") is None:
        raise h.Skip("no prosody or nobody user")
    vhosts = os.path.join(h.tmpdir("vhosts"), "vhosts.cfg.lua")
    os.chown(os.path.dirname(vhosts), _ids("nobody", "nogroup")[0], -1)
    open(vhosts, "w").close()
    os.chown(vhosts, _ids("nobody", "nogroup")[0], -1)
    p = ProsodyAsProsody(vhosts)
    d = DaemonAs(p, "nobody", "nogroup", [ids[1]] if with_group else [], settings={"router": {
        "vhosts_file": vhosts,
        "reload_hook": "%s --config %s shell config reload" % (h.Prosody.CTL, p.config)}})
    return p, d


def test_reload_hook_admin_shell_group():
    """reload hook as a non-root user in Prosody's group: prosodyctl shell config reload activates the new host"""
    p, d = _reload_setup(with_group=True)
    c = h.Client(p, "admin", register=False)
    r = c.execute(d.jid, "domains/add")
    r = c.complete(d.jid, "domains/add", r.sessionid, form={"domain": "new.example.test"})
    check(any("The router was updated" in n[1] for n in r.notes), r.notes)
    check(p.wait_log(r"activating host new\.example\.test", 10), "Prosody did not activate it")
    rc, out, err = status(d)
    check(rc == 0 and "Router files current: yes" in out, "exit %d, %r" % (rc, out))


def test_reload_hook_admin_shell_no_group():
    """the same user without Prosody's group: the hook fails, the change is not applied, status warns"""
    p, d = _reload_setup(with_group=False)
    c = h.Client(p, "admin", register=False)
    r = c.execute(d.jid, "domains/add")
    r = c.complete(d.jid, "domains/add", r.sessionid, form={"domain": "new.example.test"})
    check(any("The router was NOT updated" in n[1] for n in r.notes), r.notes)
    rc, out, err = status(d)
    check(rc == 1 and "the router was not updated" in first_line(out), "exit %d, %r" % (rc, out))


h.tap.run([
    test_status_connected_ok,
    test_status_command_readable,
    test_status_router_down_critical,
    test_status_never_connected_critical,
    test_status_no_daemon_unknown,
    test_cert_10_days_warning,
    test_cert_critical_and_ok,
    test_cert_thresholds_configurable,
    test_notify_ready_status_watchdog_stopping,
    test_notify_off_without_socket_and_other_pid,
    test_reload_hook_admin_shell_group,
    test_reload_hook_admin_shell_no_group,
])
