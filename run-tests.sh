#!/usr/bin/env bash
# The test command: install what is missing, build, run every test, and end
# with one line "N passed, N failed". Exit status 0 only when all passed.
# SPDX-License-Identifier: LGPL-2.1-or-later
set -uo pipefail
cd "$(dirname "$0")"
scripts/deps.sh test || exit 1
scripts/build.sh || { echo "0 passed, 1 failed"; exit 1; }
meson test -C build --print-errorlogs --num-processes 2 "$@"
rc=$?
/usr/bin/python3 scripts/test-summary.py build/meson-logs/testlog.txt || rc=1
exit $rc
