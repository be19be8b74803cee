#!/usr/bin/python3
# One [certs] dir and more than one process: a second process holding the directory's lock
# makes certs/regenerate refuse cleanly (nothing changes); two daemons sharing the directory and
# regenerating at the same time leave every name with a working pair; and a directory a crash
# left with .live pointing at a missing generation is repaired at start-up.
import glob
import os
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean (distcheck has it read-only)
import harness as h  # noqa: E402
from harness import check  # noqa: E402

DOMAIN = "a.example.test"
LIVE = ".cup-xmpp-s2s.live"
LOCK = ".cup-xmpp-s2s.lock"


def run(admin, jid, node, fields):
    first = admin.execute(jid, node)
    return admin.complete(jid, node, first.sessionid,
                          form=h.make_form(fields, "urn:imdomaind:" + node), timeout=60 * h.SLOW)


def regenerate(admin, jid):
    return run(admin, jid, "certs/regenerate", {"key_type": "ec-p256", "days": "30",
                                                "xmpp_addr": False})


def installed(r):
    return any("installed" in t for _, t in r.notes) and not any(t == "error" for t, _ in r.notes)


def check_dir(certs):
    """Every certificate and key name resolves (no dangling link) and .live leads to a
    generation holding both files."""
    live = os.path.join(certs, LIVE)
    check(os.path.isdir(live), ".live leads nowhere: %r" % (os.readlink(live)
                                                          if os.path.islink(live) else None))
    for name in ("cup-xmpp-s2s", DOMAIN):
        for ext in (".crt", ".key"):
            path = os.path.join(certs, name + ext)
            check(os.path.exists(path), "%s dangles or is missing" % path)


def setup(jids=("imd.example.test",)):
    p = h.Prosody(components={j: "s3cret" for j in jids})
    certs = h.tmpdir("certs")
    daemons = [h.Daemon(p, jid=j, settings={"certs": {"dir": certs, "key_type": "ec-p256",
                                                      "days": 30}}) for j in jids]
    admin = h.Client(p, "admin")
    for d in daemons:
        r = run(admin, d.jid, "domains/add", {"domain": DOMAIN})
        check(r.status == "completed", "domains/add: %r" % r.notes)
    return p, certs, daemons, admin


def test_lock_held_by_another_process():
    "a second process holds the certificate directory's lock: certs/regenerate refuses clearly"
    p, certs, (d,), admin = setup()
    check(installed(regenerate(admin, d.jid)), "the first regeneration failed")
    before = os.readlink(os.path.join(certs, LIVE))
    # -o: only flock(1) itself holds the lock, not the sleep it runs
    holder = subprocess.Popen(["flock", "-x", "-o", os.path.join(certs, LOCK), "sleep", "60"],
                              start_new_session=True)
    h.defer(lambda: holder.poll() is None and os.killpg(holder.pid, signal.SIGKILL))
    time.sleep(0.3)  # flock(1) has the lock once it runs sleep
    r = regenerate(admin, d.jid)
    check(any(t == "error" and "another process" in text for t, text in r.notes),
          "no refusal naming the other process: %r" % r.notes)
    check(not installed(r), "installed while another process held the lock: %r" % r.notes)
    check(os.readlink(os.path.join(certs, LIVE)) == before, "the directory changed")
    check_dir(certs)
    os.killpg(holder.pid, signal.SIGKILL)
    holder.wait()
    check(installed(regenerate(admin, d.jid)), "no regeneration once the lock was released")
    check_dir(certs)


def test_two_daemons_share_a_dir():
    "two daemons regenerating into one directory at once: each installs or refuses, never breaks it"
    p, certs, daemons, admin = setup(("imd1.example.test", "imd2.example.test"))
    for rnd in range(4):
        results = {}

        def one(d):
            results[d.jid] = regenerate(admin, d.jid)
        threads = [threading.Thread(target=one, args=(d,)) for d in daemons]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        for jid, r in results.items():
            check(installed(r) or any("another process" in t for _, t in r.notes),
                  "round %d, %s: %r" % (rnd, jid, r.notes))
        check(any(installed(r) for r in results.values()), "round %d: neither installed" % rnd)
        check_dir(certs)
        gens = glob.glob(os.path.join(certs, ".cup-xmpp-s2s.gen-*"))
        check(len(gens) == 1, "round %d: generations %r" % (rnd, gens))
        # Each sees the certificate that is there (the other's covers the other's component
        # name, so it may be stale for this one; two instances sharing a directory should
        # administer the same names), never "no certificate".
        for d in daemons:
            shown = admin.execute(d.jid, "certs/show")
            check(shown.value("status") in ("current", "stale") and shown.value("fingerprint"),
                  "%s: certs/show %r" % (d.jid, shown.notes))


def test_startup_repair():
    ".live pointing at a missing generation (a crash, two processes): repaired at start-up"
    p, certs, (d,), admin = setup()
    check(installed(regenerate(admin, d.jid)), "the regeneration failed")
    live = os.path.join(certs, LIVE)
    gen = os.readlink(live)
    d.stop()
    os.unlink(live)
    os.symlink(".cup-xmpp-s2s.gen-GONE00", live)
    os.mkdir(os.path.join(certs, ".cup-xmpp-s2s.gen-HALF00"))  # a half-written leftover
    check(not os.path.exists(os.path.join(certs, DOMAIN + ".crt")), "the test did not break it")
    since = d.log_size()
    d.start()
    check(d.wait_log(r"certs: repaired dir=\S+ repairs=2 live=%s" % gen.replace(".", r"\."), 5,
                     start=since), "no repair line")
    check(os.readlink(live) == gen, ".live now %r, want %r" % (os.readlink(live), gen))
    check_dir(certs)
    check(not os.path.exists(os.path.join(certs, ".cup-xmpp-s2s.gen-HALF00")), "leftover kept")
    shown = admin.execute(d.jid, "certs/show")
    check(shown.value("status") == "current", "certs/show after the repair: %r" % shown.notes)


if len(sys.argv) > 1:
    h.tap.run([globals()[n] for n in sys.argv[1:]])
else:
    h.tap.run([test_lock_held_by_another_process, test_two_daemons_share_a_dir,
               test_startup_repair])
