#!/usr/bin/python3
# The daemon's memory while a control socket client sends requests and never reads the answers:
# one client pushes disco#items requests as fast as the daemon takes them for SECONDS; the
# daemon's RSS (/proc/PID/status VmRSS) is sampled every second. Prints Markdown table rows.
# Usage (from the build directory): bench_ctl_rss.py [SECONDS]; run by `make bench`.
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import harness as h  # noqa: E402

REQ = ("<iq type='get' id='x'><query xmlns='http://jabber.org/protocol/disco#items' "
       "node='http://jabber.org/protocol/commands'/></iq>").encode()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def bench(seconds):
    d = h.Daemon(None, router_port=h.free_port(), wait_connected=False,
                 settings={"log": {"level": "info"}})
    if not d.wait_log(r"control socket listening", 10):
        raise h.TestFailure("the daemon did not start")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(d.socket)
    s.setblocking(False)
    batch = (struct.pack(">I", len(REQ)) + REQ) * 64
    pending, sent = b"", 0
    t0 = time.monotonic()
    samples = [(0, rss_kib(d.proc.pid), 0)]
    next_sample = 1
    while time.monotonic() - t0 < seconds:
        if not pending:
            pending = batch
        try:
            n = s.send(pending)
            pending, sent = pending[n:], sent + n
        except BlockingIOError:
            time.sleep(0.005)
        if time.monotonic() - t0 >= next_sample:
            samples.append((next_sample, rss_kib(d.proc.pid), sent))
            next_sample += 1
    print("\n| seconds | daemon RSS | requests accepted |\n|---|---|---|")
    for t, rss, n in samples:
        if t in (0, 1, 2, 5, 10, 20, 30) or t == samples[-1][0]:
            print("| %d | %.1f MB | %.1f MB |" % (t, rss / 1024, n / 1e6))
    s.close()


if __name__ == "__main__":
    # The TAP runner gives the daemon private directories and stops it at the end; only the
    # table rows reach stdout (the runner's lines are comments).
    h.tap.run([lambda: bench(int(sys.argv[1]) if len(sys.argv) > 1 else 30)])
