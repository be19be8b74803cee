#!/usr/bin/python3
# directory/sync at scale: a private slapd (tests/integration/slapd.py: its own config, database,
# test CA, ldaps://) loaded with N generated entries by slapadd, then `bench_imd -s directory`,
# which runs the real sync job on a libuv loop twice (every user added, then every user
# unchanged) and reports the time and the loop's longest stall. Prints Markdown table rows.
# Usage (from the build directory): bench_directory.py [-n ENTRIES] [-p PAGE_SIZE]; run by
# `make bench`.
import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness as h  # noqa: E402
import slapd as ldap  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=100000)
    ap.add_argument("-p", type=int, default=1000)
    args = ap.parse_args()
    build = h.builddir()
    t0 = time.monotonic()
    entries = [ldap.person("u%06d" % i, "u%06d@dept%02d.example.com" % (i, i % 50))
               for i in range(args.n)]
    s = ldap.Slapd(entries, sizelimit="1000")
    print("| slapd set-up: %d entries loaded by slapadd | %.1f s | set-up, no goal |"
          % (args.n, time.monotonic() - t0))
    sys.stdout.flush()
    env = dict(os.environ, IMD_BENCH_LDAP_URI=s.url(tls=True), IMD_BENCH_LDAP_BASE=ldap.PEOPLE,
               IMD_BENCH_LDAP_CA=s.ca[0], IMD_BENCH_LDAP_DN=ldap.READER_DN,
               IMD_BENCH_LDAP_PW=ldap.READER_PW, IMD_BENCH_LDAP_N=str(args.n),
               IMD_BENCH_LDAP_PAGE=str(args.p))
    out = h.tmpdir("bench")
    try:
        # IMD_BENCH_WRAP: a profiler command line to run bench_imd under ("perf record -g --")
        wrap = os.environ.get("IMD_BENCH_WRAP", "").split()
        r = subprocess.run(wrap + [os.path.join(build, "bench", "bench_imd"), "-s", "directory",
                                   out],
                           env=env, capture_output=True, text=True, timeout=600)
        for line in r.stdout.splitlines():
            if line.startswith("| directory") or line.startswith("|   "):
                print(line)
        if r.returncode != 0:
            print("bench_imd failed (%d): %s" % (r.returncode, r.stderr), file=sys.stderr)
            return 1
    finally:
        s.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
