#!/usr/bin/env bash
# Build the Debian packages (debian/) and check them, per distribution, in one
# command (as root: chroot, mount):
#   1. a fresh root (scripts/debian-root.sh: copy of the cached minbase root),
#      the source tree copied in (tracked and untracked-but-not-ignored files of
#      this checkout), its build dependencies installed (apt-get build-dep),
#      `dpkg-buildpackage -us -uc -b`, then lintian on the result: any error
#      fails, warnings are listed;
#   2. ANOTHER fresh root of the same distribution where apt installs the built
#      .debs (so their dependencies resolve from the archive, with nothing else
#      named), then `gst-inspect-1.0 upmbin`, a caption pipeline (which must
#      post captions) and `upm-inspect` on the installed default model.
# The .debs (and the -dbgsym ones, not installed) are left in OUTDIR/SUITE/; the
# lintian output (errors, warnings and infos) in OUTDIR/SUITE/lintian.txt.
# Ends with the lintian summary, the time of every stage and "N passed, N failed"
# (one per distribution and stage). Roots are unmounted and deleted on every way out.
# usage: scripts/build-debs.sh OUTDIR [SUITE...]   (SUITEs: bookworm trixie; default both)
# SPDX-License-Identifier: LGPL-2.1-or-later
set -uo pipefail
[ $# -ge 1 ] || { sed -n "2,18p" "$0"; exit 2; }
out=$(mkdir -p "$1" && readlink -f "$1")
shift
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(bookworm trixie)
cd "$(dirname "$0")/.."
src=$PWD
. scripts/debian-root.sh
[ "$(id -u)" = 0 ] || { echo "build-debs.sh: needs root (chroot, mount)" >&2; exit 1; }
# Its own .deb download cache: .ci/run's roots may run apt at the same time.
export UPM_APT_CACHE=${UPM_APT_CACHE:-$HOME/.cache/upm-apt-debs}

work=$(mktemp -d -p "${TMPDIR:-/var/tmp}" upm-debs.XXXXXX)
trap 'root_remove_all; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

version=$(dpkg-parsechangelog -l debian/changelog -S Version 2>/dev/null ||
  sed -n '1s/.*(\(.*\)).*/\1/p' debian/changelog)
passed=0 failed=0
times=() summary=()

stage() { # NAME CMD...: run and time one stage, count it
  local name=$1 t0=$SECONDS rc
  shift
  echo "=== $name"
  "$@"
  rc=$?
  times+=("$(printf '%-34s %5d s  %s' "$name" $((SECONDS - t0)) "$([ $rc = 0 ] && echo ok || echo "FAILED ($rc)")")")
  if [ $rc = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  return $rc
}

copy_source() { # ROOT: this checkout's files (no build dirs, no .git)
  mkdir -p "$1/build/gst-uniperceiver"
  git -C "$src" ls-files -z --cached --others --exclude-standard |
    (cd "$src" && tar --null -T - -cf - 2>/dev/null) |
    tar -xf - -C "$1/build/gst-uniperceiver"
}

build_debs() { # SUITE ROOT
  local suite=$1 r=$2
  root_make "$suite" "$r" || return 1
  copy_source "$r" || return 1
  root_run "$r" 'set -e; apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends dpkg-dev build-essential lintian >/dev/null
    cd /build/gst-uniperceiver && apt-get build-dep -y -q ./ >/dev/null
    dpkg-query -W -f="build dependencies: meson \${Version}, " meson
    dpkg-query -W -f="GStreamer \${Version}, lintian " libgstreamer1.0-dev
    dpkg-query -W -f="\${Version}\n" lintian
    dpkg-buildpackage -us -uc -b' || return 1
  mkdir -p "$out/$suite"
  rm -f "$out/$suite"/*.deb
  cp "$r"/build/*.deb "$r"/build/*.changes "$r"/build/*.buildinfo "$out/$suite/"
}

tags() { # LEVEL: ": tag (package), ..." of lintian.txt, nothing when none
  local t
  t=$(sed -n "s/^$1: \([^:]*\): \([^ ]*\).*/\2 (\1)/p" "$out/$suite/lintian.txt" | sort -u | paste -sd, - | sed 's/,/, /g')
  [ -z "$t" ] || printf ' [%s]' "$t"
}

run_lintian() { # SUITE ROOT: errors fail, warnings are listed
  local suite=$1 r=$2 rc
  root_run "$r" 'cd /build && lintian --fail-on error --display-info \
    gst-uniperceiver_*.changes' >"$out/$suite/lintian.txt" 2>&1
  rc=$?
  cat "$out/$suite/lintian.txt"
  local e w i
  e=$(grep -c '^E: ' "$out/$suite/lintian.txt")
  w=$(grep -c '^W: ' "$out/$suite/lintian.txt")
  i=$(grep -c '^I: ' "$out/$suite/lintian.txt")
  summary+=("$suite: $e errors, $w warnings$(tags W), $i infos$(tags I)")
  [ $rc = 0 ] && [ "$e" = 0 ]
}

install_and_run() { # SUITE ROOT
  local suite=$1 r=$2
  root_make "$suite" "$r" || return 1
  mkdir -p "$r/debs"
  cp "$out/$suite"/*.deb "$r/debs/"
  rm -f "$r"/debs/*-dbgsym_*.deb
  root_run "$r" 'set -e; apt-get update -q >/dev/null
    apt-get install -y -q /debs/*.deb >/dev/null
    echo "installed: $(dpkg-query -W -f="\${db:Status-Abbrev}\n" | grep -c ^ii) packages"
    cd /tmp
    set -x
    gst-inspect-1.0 upmbin
    gst-launch-1.0 videotestsrc num-buffers=60 ! upmbin task=caption ! fakesink
    upm-inspect /usr/share/gst-uniperceiver/uniperceiver-synth-moe.upm >/dev/null
    set +x
    # The same pipeline again with its messages: it must have captioned clips.
    gst-launch-1.0 -m videotestsrc num-buffers=60 ! upmbin task=caption ! fakesink \
      | grep "upm-result, task=(string)caption" >/tmp/captions.txt || true
    echo "captions posted: $(wc -l </tmp/captions.txt), the first:"
    head -1 /tmp/captions.txt | grep -o "text=(string)[^,]*"
    [ -s /tmp/captions.txt ]'
}

SECONDS=0
for suite in "${suites[@]}"; do
  b=$work/$suite-build i=$work/$suite-install
  if stage "$suite: build ($version)" build_debs "$suite" "$b"; then
    stage "$suite: lintian" run_lintian "$suite" "$b"
    root_remove "$b"
    stage "$suite: install + run" install_and_run "$suite" "$i"
    root_remove "$i"
  else
    root_remove "$b"
  fi
done

echo
echo "=== lintian"
printf '%s\n' "${summary[@]}"
echo "=== time per stage"
printf '%s\n' "${times[@]}"
printf '%-34s %5d s\n' "total" "$SECONDS"
echo "packages in $out: $(cd "$out" && ls ./*/*.deb 2>/dev/null | wc -l) .debs"
echo "$passed passed, $failed failed"
[ $failed = 0 ]
