#!/usr/bin/env bash
# The README's test command in a fresh Debian root: a throwaway copy of the
# cached minbase root of SUITE (scripts/debian-root.sh), a clean clone of this
# checkout's HEAD in it, ./run-tests.sh there (which installs its own Debian
# packages with scripts/deps.sh). Ends with run-tests.sh's "N passed, N failed"
# line (or "0 passed, 1 failed" when it could not run) and the time taken.
# Every mount is undone and the root deleted on every way out.
# usage: scripts/suite-in-root.sh [SUITE] [meson test arguments...]   (as root)
# SPDX-License-Identifier: LGPL-2.1-or-later
set -uo pipefail
cd "$(dirname "$0")/.."
suite=${1:-trixie}
shift || true
. scripts/debian-root.sh

[ "$(id -u)" = 0 ] || { echo "suite-in-root.sh: needs root (chroot, mount)" >&2; echo "0 passed, 1 failed"; exit 1; }
work=$(mktemp -d -p "${TMPDIR:-/var/tmp}" "upm-$suite.XXXXXX")
r=$work/root
trap 'root_remove_all; rmdir "$work" 2>/dev/null' EXIT
trap 'exit 130' INT TERM

SECONDS=0
fail() { echo "suite-in-root.sh: $*" >&2; echo "0 passed, 1 failed"; exit 1; }
root_make "$suite" "$r" || fail "could not make a $suite root"
mkdir -p "$r/work"
git clone -q "$PWD" "$r/work/project" || fail "could not clone $PWD"
echo "== $suite root ready after ${SECONDS}s ($(cat "$r/etc/debian_version"))"
args=""
[ $# -eq 0 ] || args=$(printf ' %q' "$@")
root_run "$r" "cd /work/project && ./run-tests.sh$args"
rc=$?
echo "== $suite: run-tests.sh exited $rc after ${SECONDS}s in all"
exit $rc
