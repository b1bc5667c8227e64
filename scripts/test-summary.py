#!/usr/bin/env python3
# Print "N passed, N failed[, N skipped]" from the summary block that
# `meson test` writes at the end of build/meson-logs/testlog.txt.
# SPDX-License-Identifier: LGPL-2.1-or-later
import re
import sys

counts = {}
with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
    for line in f:
        m = re.match(r"^(Ok|Expected Fail|Fail|Unexpected Pass|Skipped|Timeout):\s+(\d+)\s*$", line)
        if m:
            counts[m.group(1)] = int(m.group(2))  # the last block wins
if not counts:
    print("0 passed, 1 failed (no meson test summary found)")
    sys.exit(1)
passed = counts.get("Ok", 0) + counts.get("Expected Fail", 0)
failed = counts.get("Fail", 0) + counts.get("Unexpected Pass", 0) + counts.get("Timeout", 0)
skipped = counts.get("Skipped", 0)
tail = f", {skipped} skipped" if skipped else ""
print(f"{passed} passed, {failed} failed{tail}")
sys.exit(1 if failed else 0)
