#!/usr/bin/env bash
# Check that every C source and header of the tree is formatted by the one
# .clang-format at the root. Prints the files that are not and exits 1.
# The style file is written for clang-format 14 (Debian 12); other major
# versions format some constructs differently, so without clang-format 14
# the check is skipped (exit 77, meson's "skipped").
# usage: scripts/check-format.sh [--fix]
# SPDX-License-Identifier: LGPL-2.1-or-later
set -uo pipefail
cd "$(dirname "$0")/.."

find_clang_format() {
  local c
  for c in clang-format-14 clang-format; do
    if command -v "$c" > /dev/null \
        && "$c" --version | grep -qE 'version 14\.'; then
      echo "$c"
      return 0
    fi
  done
  return 1
}

if ! cf=$(find_clang_format); then
  echo "check-format: skipped, clang-format 14 not found (scripts/deps.sh test installs it on Debian 12)"
  exit 77
fi

if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.c' '*.h')
else
  mapfile -t files < <(find . -name '*.[ch]' -not -path './build*' | sed 's|^\./||' | sort)
fi

if [ "${1:-}" = --fix ]; then
  "$cf" -i "${files[@]}"
  exit 0
fi

bad=0
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  if ! "$cf" --dry-run --Werror "$f" > /dev/null 2>&1; then
    echo "not formatted: $f   (fix: $cf -i $f, or scripts/check-format.sh --fix)"
    bad=$((bad + 1))
  fi
done
echo "check-format: ${#files[@]} files, $bad not formatted ($("$cf" --version))"
[ "$bad" -eq 0 ]
