#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The portable build against the last native one, side by side in one run.
#
#   bench/portable.sh MODEL.upm [--runs N] [--threads N] [--rounds N]
#                     [--build DIR] [--ref COMMIT]
#
# Until commit 6a2034f the whole library was built with -mavx2 -mfma -mf16c
# (option native=true): a binary for this CPU only. Since then the kernels
# are built per ISA level and picked at run time. This script builds the
# last native commit (--ref, default 6a2034f^) once in a git worktree under
# bench/native-ref/ (git-ignored; -Dnative=true, the library only), links
# bench/encode-time.c against it and against this build, and runs both,
# this build with UPM_CPU=avx2 (the kernels the native build had),
# alternately, --rounds times each, fp32 on both (no UPM_PRECISION): the
# Base clip and image encode, medians of --runs. One JSON line per run on stdout, with "build": "native"
# or "portable"; bench/report.py compares the medians (target: the
# portable build at UPM_CPU=avx2 >= 0.97x the native build's speed).
# Prints nothing and exits 3 where the reference cannot be built (a
# shallow clone without the commit, no network needed otherwise).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
model=
runs=3
threads=0
rounds=3
build="$root/build"
ref=6a2034f^

while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --ref) ref=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d'; exit 0 ;;
    -*) echo "portable.sh: unknown argument $1" >&2; exit 2 ;;
    *) model=$1; shift ;;
  esac
done
[ -n "$model" ] || { echo "portable.sh: which model?" >&2; exit 2; }

commit=$(git -C "$root" rev-parse --verify --quiet "$ref^{commit}") || {
  echo "portable.sh: $ref is not in this clone; no native reference" >&2
  exit 3
}
short=$(printf %.12s "$commit")
refdir="$here/native-ref/$short"
if [ ! -f "$refdir/build/lib/libuniperceiver.a" ]; then
  echo "portable.sh: building the native reference $short (once) ..." >&2
  if [ ! -d "$refdir/src" ]; then
    mkdir -p "$refdir"
    git -C "$root" worktree add --detach "$refdir/src" "$commit" > /dev/null 2>&1 || {
      echo "portable.sh: git worktree add $short failed" >&2
      exit 3
    }
  fi
  (cd "$refdir/src" && meson setup "$refdir/build" -Dnative=true -Dtests=false \
    -Dgstreamer=disabled > /dev/null && ninja -C "$refdir/build" lib/libuniperceiver.a > /dev/null) || {
    echo "portable.sh: the native reference did not build" >&2
    exit 3
  }
fi
# The engine's static library: lib/libuniperceiver-static.a since the shared
# libuniperceiver.so.0 took the plain name.
static=$(ninja -C "$build" -t targets all | sed -n 's/^\(lib\/libuniperceiver\(-static\)\{0,1\}\.a\):.*/\1/p' | head -1)
ninja -C "$build" "$static" > /dev/null

# bench/encode-time.c linked against each build's static libraries, with
# the same flags (no -m flag: the driver only calls the library).
driver() { # SRC BUILD OUT
  cc -O2 -I "$1/lib" -I "$2/lib" -I "$2" $(pkg-config --cflags glib-2.0) "$here/encode-time.c" \
    -o "$3" -Wl,--start-group $(find "$2/lib" -name '*.a' | sort) -Wl,--end-group \
    $(pkg-config --libs glib-2.0 gio-2.0 gobject-2.0 json-glib-1.0) \
    -L/usr/lib/x86_64-linux-gnu/openblas-pthread -Wl,-rpath,/usr/lib/x86_64-linux-gnu/openblas-pthread \
    -lopenblas -lm -lpthread
}
driver "$refdir/src" "$refdir/build" "$refdir/encode-time"
driver "$root" "$build" "$refdir/encode-time-portable"

tag() { sed "s/^{/{\"build\": \"$1\", \"ref\": \"$short\", /"; }
[ "$threads" -gt 0 ] && export OPENBLAS_NUM_THREADS=$threads
i=0
while [ "$i" -lt "$rounds" ]; do
  env -u UPM_PRECISION -u UPM_CPU "$refdir/encode-time" "$model" "$runs" | tag native
  env -u UPM_PRECISION UPM_CPU=avx2 "$refdir/encode-time-portable" "$model" "$runs" | tag portable
  i=$((i + 1))
done
