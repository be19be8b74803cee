#!/usr/bin/python3
# The control socket against hostile or careless local clients: a frame nested 349,000 deep, a
# frame of too many children, a client that sends and never reads, idle connections (timeout,
# and the connection limit that closes the longest idle one instead of locking imdomainctl out).
import os
import re
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean (distcheck has it read-only)
import harness as h  # noqa: E402
from harness import check  # noqa: E402

FRAME_MAX = 1024 * 1024  # CTL_FRAME_MAX in component/daemon/ctl_proto.h
ITEMS = "<iq type='get' id='%s'><query xmlns='%s' node='%s'/></iq>"


def daemon(control=None, component=None):
    """A daemon whose router port is closed: only the control socket can reach it."""
    settings = {"control": control or {}, "component": component or {}}
    d = h.Daemon(None, router_port=h.free_port(), settings=settings, wait_connected=False)
    check(d.wait_log(r"control socket listening", 10), "no 'control socket listening' line")
    return d


def connect(d):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10 * h.SLOW)
    h.defer(s.close)
    deadline = time.monotonic() + 10 * h.SLOW
    while True:
        try:
            s.connect(d.socket)
            return s
        except BlockingIOError:  # the listen backlog is full: a slow (valgrind) daemon
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def frame(xml):
    data = xml.encode() if isinstance(xml, str) else xml
    return struct.pack(">I", len(data)) + data


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def recv_frame(s):
    hdr = recv_exact(s, 4)
    if hdr is None:
        return None
    body = recv_exact(s, struct.unpack(">I", hdr)[0])
    check(body is not None, "EOF inside a frame")
    return h.ET.fromstring(body.decode())


def error_of(reply):
    """The condition names (and any application condition) of an error answer."""
    err = next((c for c in reply if c.tag.split("}")[-1] == "error"), None)
    check(err is not None, "not an error: %s" % h.ET.tostring(reply, "unicode"))
    return [c.tag.split("}")[-1] for c in err if c.tag.split("}")[-1] != "text"]


def ctl_list(d):
    r = h.run_tool([os.path.join(h.builddir(), "imdomainctl"), "-s", d.socket, "list"],
                   capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout, r.stderr


def still_serves(d, s=None):
    s = s or connect(d)
    s.sendall(frame(ITEMS % ("alive", h.NS_DISCO_ITEMS, h.NS_COMMANDS)))
    reply = recv_frame(s)
    check(reply is not None and reply.get("id") == "alive" and reply.get("type") == "result",
          "no answer after the bad frame: %r" % (reply,))
    check(d.running(), "the daemon exited with %r" % d.proc.poll())


def test_deep_frame():
    "1 MiB of <iq> and 349,000 unclosed elements: policy-violation, no stack overflow"
    d = daemon()
    s = connect(d)
    body = b"<iq type='get' id='deep'>" + b"<a>" * ((FRAME_MAX - 25) // 3)
    check(len(body) <= FRAME_MAX, "frame of %d bytes" % len(body))
    s.sendall(frame(body))
    reply = recv_frame(s)
    check(reply is not None, "the daemon closed (crashed?) instead of answering")
    check(reply.get("type") == "error", h.ET.tostring(reply, "unicode"))
    check("policy-violation" in error_of(reply), h.ET.tostring(reply, "unicode"))
    check("deeper than 64" in h.ET.tostring(reply, "unicode"), h.ET.tostring(reply, "unicode"))
    still_serves(d, s)  # the same connection goes on: a bad frame changes nothing


def test_too_many_children_frame():
    "a frame with more children in one element than [component] max_children: policy-violation"
    d = daemon(component={"max_children": 1000})
    s = connect(d)
    s.sendall(frame("<iq type='get' id='wide'><query xmlns='urn:x'>%s</query></iq>"
                    % ("<a/>" * 1001)))
    reply = recv_frame(s)
    check(reply is not None and "policy-violation" in error_of(reply),
          "reply %r" % (h.ET.tostring(reply, "unicode") if reply is not None else None))
    s.sendall(frame("<iq type='get' id='ok'><query xmlns='urn:x'>%s</query></iq>"
                    % ("<a/>" * 1000)))
    reply = recv_frame(s)
    check(reply is not None and reply.get("id") == "ok" and
          "service-unavailable" in error_of(reply), "1000 children were not read")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def sanitized(pid):
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


PAUSED = r"control: uid:\d+ does not read its answers; reading paused"


def push_unread(d, s, seconds):
    """Sends disco#items requests and never reads the answers, until the daemon logs that it
    stopped reading (then 3 s more, to see that it takes nothing more) or `seconds` pass.
    Returns (bytes taken when it paused or None, bytes taken in all)."""
    req = frame(ITEMS % ("x", h.NS_DISCO_ITEMS, h.NS_COMMANDS)) * 64
    pending, sent, paused_at = b"", 0, None
    s.setblocking(False)
    t0 = next_look = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if paused_at is not None and time.monotonic() - paused_at[1] > 3:
            break
        if not pending:
            pending = req
        try:
            n = s.send(pending)
            pending, sent = pending[n:], sent + n
        except BlockingIOError:
            time.sleep(0.01)
        if paused_at is None and time.monotonic() >= next_look:
            next_look += 0.2
            if re.search(PAUSED, d.log_text()):
                paused_at = (sent, time.monotonic())
    s.setblocking(True)
    if pending:  # keep the frames whole: the rest of a partial batch
        s.settimeout(1)
        try:
            s.sendall(pending)
            sent += len(pending)
        except socket.timeout:
            pass
    return (paused_at[0] if paused_at else None), sent


def test_never_reads():
    "a client that sends and never reads: reading it stops at the high-water mark, RSS bounded"
    d = daemon()
    pid = d.proc.pid
    before = rss_kib(pid)
    s = connect(d)
    at_pause, sent = push_unread(d, s, 60 * h.SLOW)
    after = rss_kib(pid)
    h.tap.comment("took %r bytes of requests when it paused, %d in all; RSS %d -> %d KiB"
                  % (at_pause, sent, before, after))
    check(at_pause is not None, "the daemon kept reading %d bytes of requests whose answers "
          "pile up, and never paused" % sent)
    # After the pause only the kernel's socket buffers still take bytes.
    check(sent - at_pause < 4 * 1024 * 1024, "the daemon took %d bytes after it paused"
          % (sent - at_pause))
    # ASan's quarantine keeps freed memory on purpose; so does valgrind's queue of freed blocks,
    # beside its shadow memory.
    if not sanitized(pid) and not h.VALGRIND:
        check(after - before < 64 * 1024, "RSS grew from %d to %d KiB" % (before, after))
    # Others are served meanwhile.
    rc, out, err = ctl_list(d)
    check(rc == 0 and "domains/add" in out, "list while a client is paused: %d %r" % (rc, err))
    # The stuck client reads after all: everything it asked for is answered, in order.
    s.settimeout(30 * h.SLOW)
    answers = 0
    total = sent // len(frame(ITEMS % ("x", h.NS_DISCO_ITEMS, h.NS_COMMANDS)))
    while answers < total:
        reply = recv_frame(s)
        check(reply is not None and reply.get("type") == "result",
              "answer %d of %d: %r" % (answers, total, reply))
        answers += 1
    still_serves(d, s)


def test_idle_timeout():
    "a connection idle for [control] idle_timeout is closed, with a log line"
    d = daemon({"idle_timeout": 1})
    s = connect(d)
    t0 = time.monotonic()
    s.settimeout(10 * h.SLOW)
    check(s.recv(1) == b"", "the idle connection was not closed")
    check(time.monotonic() - t0 >= 0.9, "closed too early")
    check(d.wait_log(r"control: closing uid:\d+ reason=idle", 2), "no log line")
    rc, _, err = ctl_list(d)
    check(rc == 0, "list after an idle close: %r" % err)


def test_idle_clients_cannot_lock_out():
    "more idle connections than the limit: the longest idle ones are closed, imdomainctl works"
    d = daemon()
    idle = []
    for i in range(40):
        idle.append(connect(d))
        time.sleep(0.01)
    for attempt in range(3):
        rc, out, err = ctl_list(d)
        check(rc == 0 and "domains/add" in out,
              "imdomainctl list with 40 idle connections open: %d %r %r" % (rc, out, err))
    check(d.wait_log(r"control: closing uid:\d+ reason=connection-limit max_clients=32", 2),
          "no log line for the connection limit")
    # The first ones went first; the most recent ones are still open.
    idle[0].settimeout(5)
    check(idle[0].recv(1) == b"", "the oldest idle connection is still open")
    still_serves(d, idle[-1])


import sys as _sys  # noqa: E402
if len(_sys.argv) > 1:
    h.tap.run([globals()[n] for n in _sys.argv[1:]])
else:
    h.tap.run([
        test_deep_frame,
        test_too_many_children_frame,
        test_never_reads,
        test_idle_timeout,
        test_idle_clients_cannot_lock_out,
    ])
