#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The stronger baselines of the benchmark, in a Debian 13 (trixie) root:
# PyTorch 2.6 (oneDNN inside) in fp32 and with bf16 autocast, ONNX Runtime
# 1.21 (what upstream GStreamer's onnxinference runs on) in fp32 and with its
# dynamic int8 quantisation, on the encoder shapes of the C benchmark.
#
#   bench/trixie-baselines.sh [--prepare-only] [--root DIR] [ARGS of
#                             encoder_baselines.py: --runs N --threads N
#                             --tokens N --layers N --d N --heads N --ffn N]
#
# Needs root (debootstrap, chroot, mounts). The root is made once and cached
# in $UPM_TRIXIE_ROOT (default ~/.cache/upm-bench-trixie): a copy of the
# project's cached trixie base (~/.cache/fresh-trixie, made by
# shared/tools/fresh-check) when there is one, else a fresh debootstrap
# --variant=minbase, then apt-get install python3-torch python3-onnxruntime
# python3-onnx python3-numpy inside. Later runs reuse it (seconds).
#
# Prints JSON lines (one per row, each {"row": ..., ...}) on stdout; the
# progress goes to stderr. bench/run.sh writes them to trixie.jsonl and
# bench/report.py merges them with the C rows. The same measuring script
# (bench/encoder_baselines.py) runs with the host's PyTorch too.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=${UPM_TRIXIE_ROOT:-$HOME/.cache/upm-bench-trixie}
base=${FRESH_BASE:-$HOME/.cache/fresh-trixie}
prepare_only=0
# libopenblas0-pthread: Debian's PyTorch runs its fp32 GEMMs in whatever
# libblas.so.3 is installed; without it, the reference BLAS (about 1 GFLOP/s).
packages="python3-torch python3-onnxruntime python3-onnx python3-numpy libopenblas0-pthread"

# Ours first; the rest goes to encoder_baselines.py.
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root=$2; shift 2 ;;
    --prepare-only) prepare_only=1; shift ;;
    -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d'; exit 0 ;;
    *) break ;;
  esac
done

if [ "$(id -u)" != 0 ]; then
  echo "trixie-baselines.sh: needs root (debootstrap, chroot); skipped" >&2
  exit 77
fi

# The mirror the host uses (the same as fresh-check's).
mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian

mounted=""
unmount_all() {
  for m in $mounted; do umount -l "$m" 2>/dev/null || true; done
  mounted=""
}
trap unmount_all EXIT INT TERM

mount_root() {
  mount -t proc proc "$1/proc" && mounted="$1/proc $mounted"
  mount --rbind /sys "$1/sys" && mounted="$1/sys $mounted"
  mount --rbind /dev "$1/dev" && mounted="$1/dev $mounted"
}

in_root() {
  r=$1
  shift
  chroot "$r" /usr/bin/env -i HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

prepare() {
  tmp="$root.tmp"
  rm -rf "$tmp"
  if [ -x "$base/bin/bash" ]; then
    echo "trixie root: copying the cached base $base ..." >&2
    cp -a "$base" "$tmp"
  else
    command -v debootstrap > /dev/null || apt-get install -y -q debootstrap > /dev/null
    echo "trixie root: debootstrap trixie (several minutes) ..." >&2
    debootstrap --variant=minbase trixie "$tmp" "$mirror" > /dev/null
  fi
  rm -f "$tmp/etc/apt/sources.list"
  mkdir -p "$tmp/etc/apt/sources.list.d"
  cat > "$tmp/etc/apt/sources.list.d/debian.sources" << EOF
Types: deb
URIs: $mirror
Suites: trixie trixie-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cp /etc/resolv.conf "$tmp/etc/resolv.conf"
  mount_root "$tmp"
  echo "trixie root: apt-get install $packages (large: PyTorch) ..." >&2
  install_packages "$tmp"
  unmount_all
  mv "$tmp" "$root"
  echo "$packages" > "$root/.upm-bench-ready"
}

install_packages() {
  in_root "$1" apt-get update -q > /dev/null
  in_root "$1" apt-get install -y -q --no-install-recommends $packages > /dev/null
  in_root "$1" apt-get clean
}

# A root made with another package list gets the packages it lacks.
update() {
  echo "trixie root: apt-get install $packages ..." >&2
  mount_root "$root"
  install_packages "$root"
  unmount_all
  echo "$packages" > "$root/.upm-bench-ready"
}

# One preparation at a time (two bench runs started together).
mkdir -p "$(dirname "$root")"
exec 9> "$root.lock"
flock 9
if [ ! -e "$root/.upm-bench-ready" ]; then
  prepare
elif [ "$(cat "$root/.upm-bench-ready")" != "$packages" ]; then
  update
fi
if [ "$prepare_only" = 1 ]; then
  echo "trixie root ready: $root" >&2
  exit 0
fi

mkdir -p "$root/opt/upm-bench"
cp "$here/encoder_baselines.py" "$root/opt/upm-bench/"
mount_root "$root"
# The versions of what was measured, then the rows.
in_root "$root" sh -c '. /etc/os-release; printf "{\"row\": \"env\", \"os\": \"%s\"}\n" "$PRETTY_NAME"'
# PyTorch's fp32 GEMMs run in OpenBLAS (its own threads), its bf16 ones in
# oneDNN (torch's OpenMP threads): both set-ups, and report.py keeps the
# better time of each row. ONNX Runtime's rows once.
threads=2
prev=
for a in "$@"; do
  [ "$prev" = --threads ] && threads=$a
  prev=$a
done
in_root "$root" env OPENBLAS_NUM_THREADS=1 /usr/bin/python3 /opt/upm-bench/encoder_baselines.py \
  --label trixie --onnx "$@"
in_root "$root" env OPENBLAS_NUM_THREADS="$threads" /usr/bin/python3 /opt/upm-bench/encoder_baselines.py \
  --label trixie "$@" --torch-threads 1
