#!/usr/bin/env python3
"""Tests of tests/layering.py: a clean tree passes, and each kind of wrong include is caught
(a lower layer including a higher one, store/ and xmpp/ reaching each other, a circle between
two modules, a private header used outside its family). Prints TAP."""
import contextlib
import io
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import layering  # noqa: E402

CLEAN = {
    "util/log.h": [],
    "store/store.h": ["util/log.h"],
    "xmpp/form.h": ["util/log.h"],
    "xmpp/form_internal.h": ["xmpp/form.h"],
    "xmpp/form.c": ["xmpp/form.h", "xmpp/form_internal.h"],
    "xmpp/form_check.c": ["xmpp/form_internal.h"],
    "component/app.h": ["store/store.h", "xmpp/form.h"],
    "component/engine/sync.h": ["component/app.h"],
    "component/engine/sync.c": ["component/engine/sync.h", "component/engine/peers_window.h"],
    "component/engine/peers_window.h": [],
    "component/engine/peers.c": ["component/engine/sync.h", "component/engine/peers_window.h"],
    "component/cmd/cmd_sync.c": ["component/engine/sync.h"],
    "component/daemon/daemon.c": ["component/cmd/cmd_sync.h", "component/engine/sync.h"],
    "component/cmd/cmd_sync.h": [],
    "tools/imdomainctl.c": ["component/daemon/ctl_proto.h", "util/log.h"],
    "component/daemon/ctl_proto.h": [],
}

BAD = [
    ("an engine includes a command", {"component/engine/sync.c": ["component/cmd/cmd_sync.h"]}, 2),
    ("an engine includes the daemon", {"component/engine/sync.h": ["component/daemon/ctl_proto.h"]}, 2),
    ("a command includes the daemon", {"component/cmd/cmd_sync.c": ["component/daemon/ctl_proto.h"]}, 2),
    ("store includes xmpp", {"store/store.h": ["xmpp/form.h"]}, 2),
    ("xmpp includes store", {"xmpp/form.c": ["store/store.h"]}, 2),
    ("xmpp includes component", {"xmpp/form.c": ["component/app.h"]}, 2),
    ("util includes store", {"util/log.h": ["store/store.h"]}, 2),
    ("tools include an engine", {"tools/imdomainctl.c": ["component/engine/sync.h"]}, 2),
    ("a private header leaks", {"xmpp/present.c": ["xmpp/form_internal.h"]}, 2),
    ("two engines include each other",
     {"component/engine/peers_window.h": ["component/engine/sync.h"]}, 3),
    ("a circle of three",
     {"component/engine/a.c": ["component/engine/b.h"], "component/engine/b.c": ["component/engine/c.h"],
      "component/engine/c.c": ["component/engine/a.h"], "component/engine/a.h": [],
      "component/engine/b.h": [], "component/engine/c.h": []}, 3),
]


def write_tree(root, files):
    for path, incs in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write("/* test */\n" + "".join('#include "%s"\n' % i for i in incs) + "#include <stdio.h>\n")


def run(files):
    with tempfile.TemporaryDirectory() as root:
        write_tree(root, files)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = layering.main(["layering.py", "--tree", root])
        return rc, out.getvalue()


def main():
    print("1..%d" % (1 + len(BAD)))
    rc, out = run(CLEAN)
    ok = rc == 0 and "not ok" not in out
    print("%s 1 - a tree whose includes all point down passes" % ("ok" if ok else "not ok"))
    if not ok:
        print("# " + out.replace("\n", "\n# "))
    failed = not ok
    for n, (name, extra, which) in enumerate(BAD, start=2):
        files = dict(CLEAN)
        for path, incs in extra.items():
            files[path] = files.get(path, []) + incs
        rc, out = run(files)
        ok = rc == 1 and ("not ok %d " % which) in out
        print("%s %d - caught: %s" % ("ok" if ok else "not ok", n, name))
        if not ok:
            print("# " + out.replace("\n", "\n# "))
        failed |= not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
