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

Expected order for lib/ (issue 18): context, heads and caption on top, then
the encoder, the experts (moe), model / vocab / vision / gguf, and the
threads and kernels at the bottom. The check itself knows no file names.
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


def strongly_connected(graph):
    """Tarjan's algorithm (iterative): the components with a cycle."""
    index, low, on_stack, stack, comps = {}, {}, set(), [], []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    comps.append(sorted(comp))
    return comps


def find_cycle(graph, comp):
    """One cycle through the first object of a component: a list of objects."""
    members = set(comp)
    start = comp[0]
    # Breadth-first from start's successors back to start, inside comp.
    prev = {}
    frontier = [start]
    seen = {start}
    while frontier:
        nxt = []
        for node in frontier:
            for child in sorted(graph[node]):
                if child not in members:
                    continue
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    path.reverse()
                    return path + [start]
                if child not in seen:
                    seen.add(child)
                    prev[child] = node
                    nxt.append(child)
        frontier = nxt
    return comp + [comp[0]]


def layers(graph):
    """Level of each object: 0 when it uses none of the others, else one
    more than the highest level it uses."""
    level = {}

    def visit(node):
        if node not in level:
            level[node] = 0  # acyclic: never read before it is set
            level[node] = max((visit(c) + 1 for c in graph[node]), default=0)
        return level[node]

    for node in graph:
        visit(node)
    return level


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nm", default=os.environ.get("NM", "nm"))
    parser.add_argument("files", nargs="+", help="static libraries or objects")
    args = parser.parse_args()
    if not shutil.which(args.nm):
        print("check-layering: %s not found" % args.nm, file=sys.stderr)
        return 2
    sys.setrecursionlimit(10000)
    objects = read_symbols(args.nm, args.files)
    if not objects:
        print("check-layering: no objects in %s" % " ".join(args.files), file=sys.stderr)
        return 2
    graph = build_graph(objects)
    cycles = strongly_connected(graph)
    if cycles:
        for comp in cycles:
            path = find_cycle(graph, comp)
            print("check-layering: cycle between %s:" % ", ".join(comp))
            for a, b in zip(path, path[1:]):
                print("  %s -> %s (uses %s)" % (a, b, graph[a][b]))
        return 1
    level = layers(graph)
    print("check-layering: %d objects, no cycle; top to bottom:" % len(graph))
    for lv in sorted(set(level.values()), reverse=True):
        objs = sorted(o for o in graph if level[o] == lv)
        for obj in objs:
            uses = ", ".join(sorted(graph[obj])) or "-"
            print("  %2d %-24s uses %s" % (lv, obj, uses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
