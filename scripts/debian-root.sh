# Throwaway Debian roots for CI and packaging, sourced by .ci/run and
# scripts/build-debs.sh (needs root).
#   root_make SUITE DIR   a fresh root of SUITE (bookworm, trixie) at DIR: a copy
#                         of the cached minbase root ~/.cache/fresh-SUITE (made
#                         once with debootstrap when absent; never changed after),
#                         with apt sources, resolv.conf, /proc, /sys, /dev and a
#                         shared download cache for .debs mounted
#   root_run DIR CMD      run CMD with bash in the root, in a clean environment
#   root_remove DIR       unmount everything under DIR, then delete it (refuses
#                         to delete while anything is still mounted there)
# Every root made is remembered; root_remove_all (for an EXIT trap) removes them.
# SPDX-License-Identifier: LGPL-2.1-or-later

UPM_ROOTS_MADE=()

# The mirror of the host's apt sources when it has deb822 ones, else Debian's.
root_mirror() {
  local src=/etc/apt/sources.list.d/debian.sources m=""
  [ -f "$src" ] && m=$(awk '/^URIs:/{print $2; exit}' "$src")
  echo "${m:-http://deb.debian.org/debian}"
}

root_base() { # SUITE -> path of the cached base root, made when missing
  local suite=$1 base=${UPM_ROOT_CACHE:-$HOME/.cache}/fresh-$1
  if [ ! -x "$base/bin/bash" ]; then
    command -v debootstrap >/dev/null ||
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
    rm -rf "$base.tmp"
    debootstrap --variant=minbase "$suite" "$base.tmp" "$(root_mirror)" >/dev/null || return 1
    mv "$base.tmp" "$base"
  fi
  echo "$base"
}

root_sources() { # SUITE -> deb822 sources for it (main, updates, security)
  local m
  m=$(root_mirror)
  cat <<EOF
Types: deb
URIs: $m
Suites: $1 $1-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${m%/debian}/debian-security
Suites: $1-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
}

root_make() {
  local suite=$1 r=$2 base cache
  base=$(root_base "$suite") || return 1
  [ ! -e "$r" ] || { echo "root_make: $r exists" >&2; return 1; }
  UPM_ROOTS_MADE+=("$r")
  cp -a "$base" "$r" || return 1
  rm -f "$r/etc/apt/sources.list"
  mkdir -p "$r/etc/apt/sources.list.d"
  root_sources "$suite" >"$r/etc/apt/sources.list.d/debian.sources"
  cp /etc/resolv.conf "$r/etc/resolv.conf"
  # A throwaway root needs no fsync per unpacked file (as sbuild and Debian's
  # container images do); it makes package installs several times faster.
  echo force-unsafe-io >"$r/etc/dpkg/dpkg.cfg.d/upm-unsafe-io"
  # Downloaded .debs are kept between runs (same suite, same files); the root
  # itself stays fresh.
  cache=${UPM_APT_CACHE:-$HOME/.cache/upm-apt}/$suite
  mkdir -p "$cache/partial"
  mount --bind "$cache" "$r/var/cache/apt/archives"
  mount -t proc proc "$r/proc"
  # rslave: unmounting these later must not propagate back to the host.
  mount --rbind /sys "$r/sys" && mount --make-rslave "$r/sys"
  mount --rbind /dev "$r/dev" && mount --make-rslave "$r/dev"
}

root_run() {
  local r=$1
  shift
  chroot "$r" /usr/bin/env -i HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin bash -c "$*"
}

root_mounts() { # DIR -> the mount points at or under DIR, deepest first
  awk -v r="$(readlink -f "$1")" '$5 == r || index($5, r "/") == 1 {print $5}' \
    /proc/self/mountinfo | sort -r
}

root_remove() {
  local r=$1 m
  [ -d "$r" ] || return 0
  for m in $(root_mounts "$r"); do
    umount -R "$m" 2>/dev/null || umount -R -l "$m" 2>/dev/null || true
  done
  if [ -n "$(root_mounts "$r")" ]; then
    echo "root_remove: still mounted under $r, left in place:" >&2
    root_mounts "$r" >&2
    return 1
  fi
  rm -rf "$r"
}

root_remove_all() {
  local r
  for r in "${UPM_ROOTS_MADE[@]}"; do root_remove "$r" || true; done
  UPM_ROOTS_MADE=()
}
