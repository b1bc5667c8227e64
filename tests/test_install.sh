#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# test_install.sh BUILD PREFIX LIBDIR BINDIR DATADIR PLUGINDIR GIR(yes|no)
#   install_meta.py TYPELIBDIR:
# installs the build (meson install --destdir) into a scratch directory and
# uses it from another directory with only the standard variables pointing at
# the staged prefix (what /usr/local or /usr give without them): the plugin
# in gst-inspect-1.0 and a pipeline on the installed default model, the
# tools, a C program built with pkg-config against the installed library,
# the installed label sets, and the metas read from Python through the
# installed typelib. Prints TAP.
set -u

build=$1 prefix=$2 libdir=$3 bindir=$4 datadir=$5 plugindir=$6 gir=$7 meta_py=$8 typelibdir=$9
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
n=0
failed=0

ok () {
  n=$((n + 1))
  if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=1; fi
}
under () { case $1 in /*) echo "$2$1" ;; *) echo "$2$prefix/$1" ;; esac; }

echo "1..12"
dest=$tmp/dest
timeout 300 meson install -C "$build" --no-rebuild --destdir "$dest" --quiet \
  >"$tmp/install.log" 2>&1
ok $? "meson install --destdir"
root=$dest$prefix
lib=$(under "$libdir" "$dest") bin=$(under "$bindir" "$dest")
data=$(under "$datadir" "$dest")/gst-uniperceiver
plugins=$(under "$plugindir" "$dest") typelibs=$(under "$typelibdir" "$dest")

# From another directory, with a clean environment: the standard variables
# for the prefix, nothing of the source or build tree (but the sanitizer
# runtime and options scripts/sanitize.sh runs the suite with: its
# instrumented plugin loads only with the runtime preloaded).
mkdir "$tmp/elsewhere" && cd "$tmp/elsewhere" || exit 1
sanitizer_env=""
for v in LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
  eval "val=\${$v:-}"
  [ -n "$val" ] && sanitizer_env="$sanitizer_env $v=$val"
done
run () {
  # shellcheck disable=SC2086 # one word per VAR=value
  env -i PATH="$bin:/usr/bin:/bin" HOME="$tmp/elsewhere" LANG=C.UTF-8 \
    OPENBLAS_NUM_THREADS=2 GST_REGISTRY="$tmp/registry.bin" \
    GST_PLUGIN_PATH="$plugins" LD_LIBRARY_PATH="$lib" \
    GI_TYPELIB_PATH="$typelibs" PKG_CONFIG_PATH="$lib/pkgconfig" \
    $sanitizer_env timeout 300 "$@"
}

run gst-inspect-1.0 uniperceiver >"$tmp/plugin.txt" 2>&1
grep -q "Filename *$plugins/libgstuniperceiver.so" "$tmp/plugin.txt"
ok $? "gst-inspect-1.0 finds the installed plugin"
elements=$(sed -n 's/^ *\(upm[a-z]*\): .*/\1/p' "$tmp/plugin.txt")
count=0 bad=0
for e in $elements; do
  count=$((count + 1))
  run gst-inspect-1.0 "$e" >/dev/null 2>&1 || { echo "# gst-inspect-1.0 $e failed"; bad=1; }
done
echo "# elements: $(echo $elements)"
[ "$bad" = 0 ] && [ "$count" -ge 6 ]
ok $? "gst-inspect-1.0 on each of the $count elements"

run env GST_DEBUG=upmmodel:4 GST_DEBUG_NO_COLOR=1 gst-launch-1.0 -m videotestsrc num-buffers=30 \
  ! upmbin task=caption ! fakesink >"$tmp/launch.txt" 2>&1
status=$?
grep -q "loaded model $data/uniperceiver-synth-moe.upm" "$tmp/launch.txt" &&
  grep -q "upm-result" "$tmp/launch.txt"
ok $(( status | $? )) "a caption pipeline runs on the installed default model"
[ "$status" = 0 ] || tail -5 "$tmp/launch.txt" | sed 's/^/# /'

run upm-run --help >"$tmp/run.txt" 2>&1 && grep -q "Usage" "$tmp/run.txt"
ok $? "upm-run --help"
run upm-inspect "$data/uniperceiver-synth-moe.upm" >/dev/null 2>&1
ok $? "upm-inspect validates the installed model"

cat >"$tmp/use.c" <<'CEOF'
#include <upm.h>
#include <stdio.h>
int
main (int argc, char **argv)
{
  GError *error = NULL;
  guint n = 0;
  char **labels = upm_labels_load_named (argv[1], &n, &error);
  UpmModel *model = upm_model_load (upm_default_model_path (), &error);
  if (labels == NULL || model == NULL)
    {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }
  printf ("%s %u %s\n", upm_default_model_path (), n, labels[0]);
  upm_model_unref (model);
  g_strfreev (labels);
  return 0;
}
CEOF
cp "$tmp/use.c" . && run sh -c 'cc -o use use.c $(pkg-config --cflags --libs uniperceiver)' \
  >"$tmp/cc.txt" 2>&1
ok $? "a C program builds with pkg-config uniperceiver"
[ -x use ] || sed 's/^/# /' "$tmp/cc.txt"
readelf -d use 2>/dev/null | grep -q 'NEEDED.*libuniperceiver.so.0'
ok $? "it links libuniperceiver.so.0"
run ./use k400 >"$tmp/use.txt" 2>&1
grep -q "^$data/uniperceiver-synth-moe.upm 400 " "$tmp/use.txt"
ok $? "the library finds the installed model and label sets"
sed 's/^/# /' "$tmp/use.txt"
# A label set that only the installed labels directory has.
printf 'first\nsecond\n' >"$data/labels/installcheck.txt"
run ./use installcheck >"$tmp/use2.txt" 2>&1
grep -q " 2 first$" "$tmp/use2.txt"
ok $? "@name label sets are looked up in the installed data"

run sh -c 'cc -o meta -x c - $(pkg-config --cflags --libs gstupmmeta-1.0)' \
  >"$tmp/cc2.txt" 2>&1 <<'CEOF'
#include <upmmeta.h>
int
main (void)
{
  gst_init (NULL, NULL);
  return gst_upm_gate_name (GST_UPM_GATE_FFN) == NULL;
}
CEOF
[ $? = 0 ] && run ./meta
ok $? "a C program builds and runs with pkg-config gstupmmeta-1.0"

if [ "$gir" != yes ]; then
  echo "ok 12 # SKIP built without introspection"
elif ! /usr/bin/python3 -c 'import gi' 2>/dev/null; then
  echo "ok 12 # SKIP no PyGObject (python3-gi)"
else
  run /usr/bin/python3 "$meta_py" >"$tmp/py.txt" 2>&1
  ok $? "Python reads the metas through the installed GstUpm-1.0 typelib"
  sed 's/^/# /' "$tmp/py.txt" | tail -5
fi
exit $failed
