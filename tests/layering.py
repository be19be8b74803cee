#!/usr/bin/env python3
"""The one direction of includes (doc/architecture.md), checked over the source tree.

Every `#include "..."` of the production code (util/, store/, xmpp/, component/, tools/) must
point at a folder its own folder may use:

    component/daemon/  -> component/ (all of it), store/, xmpp/, util/
    component/cmd/     -> component/cmd/, the engine layer, store/, xmpp/, util/
    the engine layer   -> itself, store/, xmpp/, util/
                          (component/engine/ plus app.* and config.*, the context it gets)
    xmpp/              -> xmpp/, util/          (no SQL, no product rules)
    store/             -> store/, util/         (plain C types, never stanzas)
    util/              -> util/
    tools/             -> component/daemon/ctl_proto.h (the control socket's framing), util/

and no two modules (a .c and its .h are one module) may reach each other through includes,
directly or round a longer circle. A private header (`foo_internal.h`, `store_impl.h`) is
included only by its own family (same folder, names starting with `foo`) and is not a module. Prints TAP; `--tree DIR` checks another tree (the test of
this checker feeds it a deliberately bad one).
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
SOURCE_DIRS = ("util", "store", "xmpp", "component", "tools")


def layer(path):
    """The layer a file or an included path belongs to, or None outside the checked tree."""
    parts = path.split("/")
    if parts[0] == "component":
        if len(parts) == 2:  # app.*, config.*: the context the engines get
            return "engine"
        return {"cmd": "cmd", "engine": "engine", "daemon": "daemon"}.get(parts[1], "component?")
    return parts[0] if parts[0] in SOURCE_DIRS else None


ALLOWED = {
    "util": {"util"},
    "store": {"store", "util"},
    "xmpp": {"xmpp", "util"},
    "engine": {"engine", "store", "xmpp", "util"},
    "cmd": {"cmd", "engine", "store", "xmpp", "util"},
    "daemon": {"daemon", "cmd", "engine", "store", "xmpp", "util"},
}
# Single files a layer may use beyond its folders, with the reason.
EXCEPTIONS = {
    ("tools", "component/daemon/ctl_proto.h"): "imdomainctl speaks the control socket's framing",
    ("tools", "util"): None,
}


def module(path):
    return os.path.splitext(path)[0]


def private_family(path):
    """For a private header (`foo_internal.h`, `foo_impl.h`): its folder and family prefix."""
    base = os.path.basename(path)
    for suffix in ("_internal.h", "_impl.h"):
        if base.endswith(suffix):
            return os.path.dirname(path), base[: -len(suffix)]
    return None


def leaks(files):
    """Private headers included from outside their family (folder and name prefix)."""
    bad = []
    for src, incs in sorted(files.items()):
        for inc in incs:
            fam = private_family(inc)
            if fam is None:
                continue
            folder, prefix = fam
            if os.path.dirname(src) != folder or not os.path.basename(src).startswith(prefix):
                bad.append((src, inc, "private to %s/%s*" % (folder, prefix)))
    return bad


def scan(tree):
    """{file: [included project paths]} for the production sources under `tree`."""
    out = {}
    for top in SOURCE_DIRS:
        for root, _, files in os.walk(os.path.join(tree, top)):
            for name in files:
                if not name.endswith((".c", ".h")):
                    continue
                full = os.path.join(root, name)
                rel = os.path.relpath(full, tree).replace(os.sep, "/")
                with open(full, encoding="utf-8", errors="replace") as f:
                    incs = INCLUDE.findall(f.read())
                out[rel] = [i for i in incs if layer(i) is not None]
    return out


def wrong_way(files):
    bad = []
    for src, incs in sorted(files.items()):
        have = layer(src)
        for inc in incs:
            want = layer(inc)
            if have == "tools":
                if (have, inc) in EXCEPTIONS or want == "util":
                    continue
                bad.append((src, inc, "tools/ may use util/ and the control socket framing only"))
            elif want not in ALLOWED.get(have, set()):
                bad.append((src, inc, "%s may not include %s" % (have, want)))
    return bad


def circles(files):
    """Strongly connected groups of more than one module in the module include graph."""
    graph = {}
    for src, incs in files.items():
        # A private header is part of the family that shares it, not a module of its own: its
        # edges would only join a module to itself.
        if private_family(src) is not None:
            continue
        incs = [i for i in incs if private_family(i) is None]
        m = module(src)
        graph.setdefault(m, set())
        for inc in incs:
            if module(inc) != m:
                graph[m].add(module(inc))
    index, low, stack, on, groups, counter = {}, {}, [], set(), [], [0]

    def visit(v):  # Tarjan, iterative enough for a tree of a few hundred files
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def main(argv):
    tree = os.environ.get("IMD_SRCDIR") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if len(argv) > 2 and argv[1] == "--tree":
        tree = argv[2]
    files = scan(tree)
    bad = wrong_way(files) + leaks(files)
    loops = circles(files)
    print("1..3")
    print("%s 1 - %d source files scanned" % ("ok" if files else "not ok", len(files)))
    print("%s 2 - every include points down a layer or within one" % ("not ok" if bad else "ok"))
    for src, inc, why in bad:
        print("#   %s includes %s: %s" % (src, inc, why))
    print("%s 3 - no circle of includes between modules" % ("not ok" if loops else "ok"))
    for g in loops:
        print("#   circle: %s" % " <-> ".join(g))
    return 1 if (bad or loops or not files) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
