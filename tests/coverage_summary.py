#!/usr/bin/env python3
"""Per-folder line and branch coverage from gcovr's JSON summary (gcovr --json-summary).

Usage: coverage_summary.py SUMMARY.json [--uncovered N]
Prints a Markdown table: one row per source folder (xmpp/ store/ component/ util/ tools/) and
the total, then with --uncovered the N files with the most lines left uncovered."""
import json
import sys

FOLDERS = ("xmpp", "store", "component", "util", "tools")


def pct(covered, total):
    return 100.0 * covered / total if total else 100.0


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        files = json.load(f)["files"]
    rows = {d: [0, 0, 0, 0] for d in FOLDERS}
    for fl in files:
        folder = fl["filename"].split("/", 1)[0]
        if folder not in rows:
            continue
        r = rows[folder]
        r[0] += fl["line_covered"]
        r[1] += fl["line_total"]
        r[2] += fl["branch_covered"]
        r[3] += fl["branch_total"]
    total = [sum(r[i] for r in rows.values()) for i in range(4)]
    print("| folder | lines | line % | branches | branch % |")
    print("|---|---:|---:|---:|---:|")
    for name, r in list(rows.items()) + [("total", total)]:
        label = name if name == "total" else name + "/"
        print(f"| {label} | {r[0]}/{r[1]} | {pct(r[0], r[1]):.1f} | {r[2]}/{r[3]} | "
              f"{pct(r[2], r[3]):.1f} |")
    if "--uncovered" in argv:
        n = int(argv[argv.index("--uncovered") + 1])
        print()
        print("| file | uncovered lines | line % | uncovered branches | branch % |")
        print("|---|---:|---:|---:|---:|")
        ranked = sorted((fl for fl in files if fl["filename"].split("/", 1)[0] in rows),
                        key=lambda fl: fl["line_total"] - fl["line_covered"], reverse=True)
        for fl in ranked[:n]:
            print(f"| {fl['filename']} | {fl['line_total'] - fl['line_covered']} | "
                  f"{pct(fl['line_covered'], fl['line_total']):.1f} | "
                  f"{fl['branch_total'] - fl['branch_covered']} | "
                  f"{pct(fl['branch_covered'], fl['branch_total']):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
