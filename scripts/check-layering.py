#!/usr/bin/env python3
"""Check that the objects of a library depend on each other one way only.

Usage: check-layering.py [--nm NM] FILE...

Each FILE is a static library (its members are the objects) or an object
file. The script runs `nm` on them, and draws an edge A -> B when object A
uses (has undefined) a global symbol that object B defines. Self-edges are
ignored, as are symbols defined outside the files given (libc, GLib, BLAS).
If the graph has a cycle, it names the objects of the cycle and a symbol of
each edge, and exits 1. Otherwise it prints the objects in layer order, top
(used by nothing among them) to bottom, and exits 0.

docs/architecture.md draws the order this prints for lib/. The check
itself knows no file names.
Python 3 standard library only.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys

# nm -P: "FILE[MEMBER]: NAME TYPE [VALUE [SIZE]]" or "FILE: NAME TYPE ...".
NM_LINE = re.compile(r"^(?P<file>.*?)(?:\[(?P<member>[^\]]+)\])?: (?P<name>\S+) (?P<type>\S)(?: |$)")
UNDEFINED = {"U", "w", "v"}


def object_name(path, member):
    """A short, readable name of an object: its member or file name, less
    the directory of meson's objects (which encodes subdirectories in the
    file name)."""
    name = member if member else path
    if ".a.p/" in name:
        return name.split(".a.p/", 1)[1]
    return os.path.basename(name)


def read_symbols(nm, files):
    """{object: (defined global symbols, undefined symbols)}."""
    objects = {}
    out = subprocess.run(
        [nm, "-A", "-P"] + list(files),
        check=True,
        stdout=subprocess.PIPE,
        universal_newlines=True,
    ).stdout
    for line in out.splitlines():
        m = NM_LINE.match(line)
        if not m:
            continue
        obj = object_name(m.group("file"), m.group("member"))
        defined, undefined = objects.setdefault(obj, (set(), set()))
        kind = m.group("type")
        if kind in UNDEFINED:
            undefined.add(m.group("name"))
        elif kind.isupper():
            defined.add(m.group("name"))
    return objects


def build_graph(objects):
    """{object: {used object: a symbol of that use}}."""
    definers = {}
    for obj, (defined, _) in objects.items():
        for sym in defined:
            definers.setdefault(sym, set()).add(obj)
    graph = {obj: {} for obj in objects}
    for obj, (defined, undefined) in objects.items():
        for sym in sorted(undefined):
            owners = definers.get(sym, set())
            if obj in owners:
                continue
            for owner in owners:
                graph[obj].setdefault(owner, sym)
    return graph


def layers_or_cycle(graph):
    """({object: level}, None), the level 0 when the object uses none of the
    others, else one more than the highest level it uses; or (None, cycle)
    when no order exists: a list of objects, the first repeated at the end.
    """
    level = {}
    remaining = set(graph)
    while remaining:
        ready = [o for o in remaining if all(u in level for u in graph[o])]
        if not ready:
            return None, cycle_in(graph, remaining)
        for obj in ready:
            level[obj] = max((level[u] + 1 for u in graph[obj]), default=0)
        remaining.difference_update(ready)
    return level, None


def cycle_in(graph, remaining):
    """A cycle among the objects left unordered: each of them uses another
    of them, so a walk through them repeats an object."""
    obj, path, seen = min(remaining), [], {}
    while obj not in seen:
        seen[obj] = len(path)
        path.append(obj)
        obj = min(u for u in graph[obj] if u in remaining)
    return path[seen[obj]:] + [obj]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nm", default=os.environ.get("NM", "nm"))
    parser.add_argument("files", nargs="+", help="static libraries or objects")
    args = parser.parse_args()
    if not shutil.which(args.nm):
        print("check-layering: %s not found" % args.nm, file=sys.stderr)
        return 2
    objects = read_symbols(args.nm, args.files)
    if not objects:
        print("check-layering: no objects in %s" % " ".join(args.files), file=sys.stderr)
        return 2
    graph = build_graph(objects)
    level, cycle = layers_or_cycle(graph)
    if cycle:
        print("check-layering: cycle between %s:" % ", ".join(sorted(set(cycle))))
        for a, b in zip(cycle, cycle[1:]):
            print("  %s -> %s (uses %s)" % (a, b, graph[a][b]))
        return 1
    print("check-layering: %d objects, no cycle; top to bottom:" % len(graph))
    for lv in sorted(set(level.values()), reverse=True):
        objs = sorted(o for o in graph if level[o] == lv)
        for obj in objs:
            uses = ", ".join(sorted(graph[obj])) or "-"
            print("  %2d %-24s uses %s" % (lv, obj, uses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
