#!/usr/bin/env bash
# buildapr.sh TREE VERSION: builds APR's library and its test program
# (test/testall) from the Debian source TREE, once, in a cache outside the
# repository, and prints "testall=PATH" as its last line:
#
#   $SEMBOX_BUILD_CACHE/apr-VERSION/     (default /var/cache/sembox/build)
#     apr-*/                  a copy of TREE, configured and built
#     .built                  stamp written last
#
# About 2.5 minutes on 2 cores (configure is most of it); later runs reuse
# the build. A flock makes a second run wait for the first one's build.
set -euo pipefail
tree=$1 version=$2
cache=${SEMBOX_BUILD_CACHE:-/var/cache/sembox/build}
dir=$cache/apr-$version
stamp=$dir/.built
src=$dir/$(basename "$tree")

ready() { [ -f "$stamp" ] && [ -x "$src/test/testall" ]; }
if ready; then echo "testall=$src/test/testall"; exit 0; fi
mkdir -p "$dir"
chmod 755 "$cache" "$dir"
exec 9>"$dir/.lock"
flock 9
if ready; then echo "testall=$src/test/testall"; exit 0; fi

rm -rf "$src"
cp -a "$tree" "$src"
cd "$src"
log=$dir/build.log
echo "buildapr.sh: $(date +%T) configure, make (log: $log)" >&2
{ ./configure && make -j"$(nproc)" && make -j"$(nproc)" -C test testall; } >"$log" 2>&1 ||
  { tail -40 "$log" >&2; exit 1; }
chmod -R a+rX "$dir"
echo "built $(date -u +%FT%TZ)" >"$stamp"
echo "testall=$src/test/testall"
