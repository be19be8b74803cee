#!/usr/bin/python3
# users/import end to end: a CSV of N users (default 1,000,000) through `imdomainctl run
# users/import users=@FILE` over the control socket to a daemon whose router is down
# (tests/integration/harness.py), timed from start to exit. Meanwhile a second control
# connection asks disco#items every 5 ms: its longest wait for an answer is the longest the
# daemon's loop was unavailable. The daemon's peak RSS is VmHWM at the end. Prints Markdown
# table rows. Then (bench_xmpp) 100,000 users over XMPP from slixmpp through a private Prosody in
# pages of 3000 lines sent to one session ('more' on but for the last), then the job followed to
# its end, while a second client pings the component every 5 ms. Usage (from the build
# directory): bench_import.py [-n USERS] [-x XMPP_USERS] [-r ROUNDS] [-s ctl|xmpp].
import getopt
import os
import re
import resource
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
os.environ.setdefault("IMD_TEST_TIMEOUT", "1800")  # a million users take longer than a test
import harness as h  # noqa: E402

PROBE_S = 0.005


def probe(path, stop, waits):
    """disco#items on the control socket every PROBE_S until stop is set; RTTs in ms."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    q = ("<iq type='get' id='p'><query xmlns='http://jabber.org/protocol/disco#items'"
         " node='http://jabber.org/protocol/commands'/></iq>").encode()
    while not stop.is_set():
        t0 = time.monotonic()
        s.sendall(struct.pack(">I", len(q)) + q)
        hdr = b""
        while len(hdr) < 4:
            hdr += s.recv(4 - len(hdr))
        n = struct.unpack(">I", hdr)[0]
        while n > 0:
            n -= len(s.recv(n))
        waits.append((time.monotonic() - t0) * 1e3)
        time.sleep(PROBE_S)
    s.close()


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def one_round(users, csv):
    d = h.Daemon(None, router_port=h.free_port(), wait_connected=False)
    if not d.wait_log(r"control socket listening", 10):
        raise SystemExit("the daemon did not open its control socket")
    sock = d.sections["control"]["socket"]
    stop, waits = threading.Event(), []
    t = threading.Thread(target=probe, args=(sock, stop, waits))
    t.start()
    t0 = time.monotonic()
    r = subprocess.run([os.path.join(h.builddir(), "imdomainctl"), "-s", sock, "run",
                        "users/import", "users=@" + csv], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    elapsed = time.monotonic() - t0
    stop.set()
    t.join()
    rss = vm_hwm_kib(d.proc.pid)
    slices = [(float(a), float(b)) for a, b in
              re.findall(r"import: slice .* ms=([0-9.]+) cpu_ms=([0-9.]+)", d.log_text())]
    done = re.findall(r"import: job done .*\(ms=([0-9.]+) cpu_ms=([0-9.]+)\)", d.log_text())
    parts = [float(x) for x in re.findall(r"import: upload .* store_ms=([0-9.]+)", d.log_text())]
    if parts:
        print("# upload: %d parts; longest %.1f ms to join and store one (the parse before it"
              " is not counted)" % (len(parts), max(parts)))
    tails = [float(x) for x in re.findall(r"import: slice .* tail_ms=([0-9.]+)", d.log_text())]
    if slices:
        print("# job: %d slices; longest %.1f ms wall, %.1f ms CPU; the end (audit) %s ms wall,"
              " %s ms CPU" % (len(slices), max(a for a, _ in slices), max(b for _, b in slices),
                               done[0][0] if done else "?", done[0][1] if done else "?"))
        walls = sorted(a for a, _ in slices)
        print("# slices' wall ms: median %.1f, 99th percentile %.1f; over 50 ms: %d; the tail"
              " (verdicts, counts, commit) longest %.1f ms" %
              (walls[len(walls) // 2], walls[min(len(walls) - 1, len(walls) * 99 // 100)],
               sum(1 for a in walls if a > 50), max(tails) if tails else 0.0))
    if waits:
        w = sorted(waits)
        print("# probe: %d answers; median %.1f ms, 99th percentile %.1f ms, over 50 ms: %d" %
              (len(w), w[len(w) // 2], w[min(len(w) - 1, len(w) * 99 // 100)],
               sum(1 for x in w if x > 50)))
    with open("/proc/%d/stat" % d.proc.pid) as f:
        st = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    print("# CPU: daemon %.2f s user + %.2f s sys; imdomainctl (and children so far) %.2f s user"
          " + %.2f s sys" % (int(st[11]) / tick, int(st[12]) / tick, ru.ru_utime, ru.ru_stime))
    d.stop()
    if r.returncode != 0:
        raise SystemExit("imdomainctl exit %d: %s" % (r.returncode, r.stderr[-500:]))
    return elapsed, max(waits) if waits else 0.0, rss


USERS = 1000000
XMPP_USERS = 100000
XMPP_PAGE = 3000  # lines a users/import page over XMPP (about 180 KiB: under 256 KiB stanzas)


def bench_xmpp():
    "users/import over XMPP in pages"
    p = h.Prosody()
    d = h.Daemon(p)
    admin = h.Client(p, "admin")
    pinger = h.Client(p, "pinger")
    lines = ["xuser%07d,xuser%07d@dept%02d.example.com" % (i, i, i % 50)
             for i in range(XMPP_USERS)]
    done = threading.Event()
    rtts = []

    def pings():
        while not done.is_set():
            t0 = time.monotonic()
            pinger.ping(d.jid)
            rtts.append((time.monotonic() - t0) * 1e3)
            time.sleep(PROBE_S)

    t = threading.Thread(target=pings)
    t.start()
    t0 = time.monotonic()
    added = 0
    # Above [users] import_job_lines the pages go to one session with 'more' on, the last with
    # it off; then the job is followed (next) until it completes with its counts.
    r = admin.execute(d.jid, "users/import")
    sid = r.sessionid
    for start in range(0, XMPP_USERS, XMPP_PAGE):
        part = lines[start:start + XMPP_PAGE]
        last = start + XMPP_PAGE >= XMPP_USERS
        r = admin.complete(d.jid, "users/import", sid,
                           form=h.make_form({"users": part, "more": not last},
                                            "urn:imdomaind:users/import"), timeout=120)
    while r.status == "executing":
        time.sleep(0.1)
        r = admin.next(d.jid, "users/import", sid, timeout=120)
    note = " ".join(n for _, n in r.notes)
    m = re.search(r"(\d+) added", note)
    added += int(m.group(1)) if m else 0
    elapsed = time.monotonic() - t0
    done.set()
    t.join()
    rss = vm_hwm_kib(d.proc.pid)
    if added != XMPP_USERS:
        raise h.TestFailure("%d users added of %d" % (added, XMPP_USERS))
    print("| users/import of %d users over XMPP (slixmpp, pages of %d lines to one session, then"
          " the job followed)"
          " | %.2f s; longest ping wait %.0f ms; daemon peak RSS %.0f MiB | |"
          % (XMPP_USERS, XMPP_PAGE, elapsed, max(rtts) if rtts else 0.0, rss / 1024.0))
    sys.stdout.flush()


def bench():
    "users/import through imdomainctl"
    with tempfile.NamedTemporaryFile("w", suffix=".csv") as f:
        for i in range(USERS):
            f.write("user%07d,user%07d@dept%02d.example.com\n" % (i, i, i % 50))
        f.flush()
        elapsed, stall, rss = one_round(USERS, f.name)
        print("| users/import of %d users through imdomainctl (@FILE, control socket) |"
              " %.2f s; longest loop wait %.0f ms; daemon peak RSS %.0f MiB | < 10 s, < 50 ms |"
              % (USERS, elapsed, stall, rss / 1024.0))
        sys.stdout.flush()


def main():
    global USERS
    global XMPP_USERS
    rounds, only = 1, ""
    opts, _ = getopt.getopt(sys.argv[1:], "n:x:r:s:")
    for o, v in opts:
        if o == "-n":
            USERS = int(v)
        elif o == "-x":
            XMPP_USERS = int(v)
        elif o == "-r":
            rounds = int(v)
        elif o == "-s":
            only = v  # "ctl" or "xmpp"
    h.tap.run(([bench] if "xmpp" not in only else []) * rounds +
              ([bench_xmpp] if "ctl" not in only else []) * rounds)


if __name__ == "__main__":
    main()
