#!/usr/bin/env python3
"""Write or check docs/plugins/gst_plugins_cache.json.

usage: plugins-cache.py (--update | --check) SCANNER PLUGIN CACHE

The cache is the element documentation of the plugin (elements, their
properties, signals and pad templates, the enums and base classes it marks
as plugin API) in the format GStreamer's hotdoc plugin extension reads and
the gst-plugins-* modules commit: upm-plugins-scanner writes it from the
built plugin; this script sorts it as they do (4-space indent, sorted keys).
--update rewrites CACHE; --check exits 1 when CACHE differs from the
built plugin, naming what differs. Python 3 standard library only.
"""

import argparse
import json
import os
import subprocess
import sys

# Plugin members that depend on where or how it was built, not on its code.
BUILD_DEPENDENT = ("url",)


def scan(scanner, plugin):
    env = dict(os.environ)
    # The plugin's own defaults only: no environment overrides.
    for name in ("UPM_DEFAULT_MODEL", "UPM_LABELS_DIR"):
        env.pop(name, None)
    out = subprocess.run([scanner, plugin], check=True, stdout=subprocess.PIPE,
                         env=env, timeout=300).stdout
    return json.loads(out)


def dump(cache):
    return json.dumps(cache, indent=4, sort_keys=True, ensure_ascii=False) + "\n"


def differences(old, new, path=""):
    """Paths (a/b/c) where old and new differ, first ones first."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new)):
            where = f"{path}/{key}"
            if key not in old:
                found.append(f"{where}: new")
            elif key not in new:
                found.append(f"{where}: gone")
            else:
                found += differences(old[key], new[key], where)
        return found
    if old != new:
        return [f"{path}: {json.dumps(old)[:80]} -> {json.dumps(new)[:80]}"]
    return []


def comparable(cache):
    return {name: {k: v for k, v in plugin.items() if k not in BUILD_DEPENDENT}
            for name, plugin in cache.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--update", action="store_true")
    mode.add_argument("--check", action="store_true")
    ap.add_argument("scanner")
    ap.add_argument("plugin")
    ap.add_argument("cache")
    args = ap.parse_args()

    built = scan(args.scanner, args.plugin)
    if args.update:
        with open(args.cache, "w", encoding="utf-8") as f:
            f.write(dump(built))
        print(f"wrote {args.cache}")
        return 0
    try:
        with open(args.cache, encoding="utf-8") as f:
            committed = json.load(f)
    except (OSError, ValueError) as e:
        print(f"error: cannot read {args.cache}: {e}", file=sys.stderr)
        return 1
    diff = differences(comparable(committed), comparable(built))
    if diff:
        print(f"{args.cache} is stale: {len(diff)} differences with the built plugin:")
        for line in diff[:40]:
            print("  " + line)
        print("regenerate it with: ninja -C BUILDDIR update-plugins-cache")
        return 1
    n = sum(len(p["elements"]) for p in built.values())
    print(f"{args.cache}: up to date ({n} elements)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
