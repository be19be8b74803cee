#!/usr/bin/python3
# Proof that imdomaind keeps answering while it makes an RSA-4096 key: a private Prosody and the
# daemon (tests/integration/harness.py), certs/regenerate rsa-4096 started in the background,
# and an XEP-0199 ping to the component every 20 ms until the command answers. Prints one
# Markdown table row each for the pings before and during the generation (median and max RTT).
# Usage (from the build directory): bench_pings.py [-n ROUNDS]; run by `make bench`.
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import harness as h  # noqa: E402

DOMAIN = "a.example.test"
INTERVAL_S = 0.020


def run(admin, jid, node, fields):
    first = admin.execute(jid, node)
    return admin.complete(jid, node, first.sessionid,
                          form=h.make_form(fields, "urn:imdomaind:" + node), timeout=120)


def ping_rtts(client, jid, still_running, at_least=0):
    """Pings every INTERVAL_S while still_running() (or at_least times); RTTs in ms."""
    rtts = []
    while still_running() or len(rtts) < at_least:
        t0 = time.monotonic()
        client.ping(jid)
        rtt = time.monotonic() - t0
        rtts.append(rtt * 1e3)
        time.sleep(max(0.0, INTERVAL_S - rtt))
    return rtts


def row(what, rtts, goal):
    print("| %s | median %.1f ms, max %.1f ms over %d pings | %s |"
          % (what, statistics.median(rtts), max(rtts), len(rtts), goal), flush=True)


def bench():
    certs = h.tmpdir("certs")
    p = h.Prosody(host=DOMAIN, components={"imd." + DOMAIN: "s3cret"})
    d = h.Daemon(p, jid="imd." + DOMAIN, settings={"certs": {"dir": certs},
                                                   "log": {"level": "info"}})
    admin = h.Client(p, "admin")
    pinger = h.Client(p, "pinger")
    r = run(admin, d.jid, "domains/add", {"domain": DOMAIN})
    if r.status != "completed":
        raise h.TestFailure("domains/add: %r" % r.notes)
    row("ping RTT, idle", ping_rtts(pinger, d.jid, lambda: False, at_least=50), "baseline")
    outcome = {}

    def regenerate():
        t0 = time.monotonic()
        outcome["reply"] = run(admin, d.jid, "certs/regenerate",
                               {"key_type": "rsa-4096", "days": "30", "xmpp_addr": False})
        outcome["s"] = time.monotonic() - t0

    worker = threading.Thread(target=regenerate)
    worker.start()
    rtts = ping_rtts(pinger, d.jid, worker.is_alive)
    worker.join()
    notes = outcome["reply"].notes
    if not any("installed" in text for _, text in notes):
        raise h.TestFailure("certs/regenerate: %r" % notes)
    row("ping RTT during certs/regenerate rsa-4096 (%.2f s)" % outcome["s"], rtts,
        "answers throughout (max far below the generation time)")


def main():
    rounds = int(sys.argv[sys.argv.index("-n") + 1]) if "-n" in sys.argv else 1
    # Quiet TAP output: only the table rows reach stdout (the runner's lines are comments).
    h.tap.run([bench] * rounds)


if __name__ == "__main__":
    main()
