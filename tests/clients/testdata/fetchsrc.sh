#!/usr/bin/env bash
# fetchsrc.sh PKG DEBSRC: the unpacked Debian source of PKG, fetched once
# with `apt-get source` into a cache outside the repository and reused:
#
#   $SEMBOX_SRC_CACHE/PKG/          (default /var/cache/sembox/src/PKG)
#     PKG_*.dsc, PKG_*.tar.*        what apt-get source downloaded
#     PKG-VERSION/                  the unpacked tree (debian/patches applied)
#     .fetched                      stamp written last: "tree=... version=..."
#
# DEBSRC is scripts/debsrc.sh (writes the deb-src entries apt-get source
# needs). A flock on $SEMBOX_SRC_CACHE/.PKG.lock makes a second run wait for
# the first one's fetch. The last line of stdout is "tree=DIR version=V".
# Exit 0: ready; 3: the source could not be fetched (no network, no mirror
# with sources): the test skips; anything else: an error.
set -euo pipefail
pkg=$1 debsrc=$2
cache=${SEMBOX_SRC_CACHE:-/var/cache/sembox/src}
dir=$cache/$pkg
stamp=$dir/.fetched

ready() { [ -f "$stamp" ] && [ -d "$dir/$(sed -n 's/^tree=\([^ ]*\) .*/\1/p' "$stamp")" ]; }
report() { sed "s|^tree=|tree=$dir/|" "$stamp"; }

if ready; then report; exit 0; fi
mkdir -p "$cache"
chmod 755 "$cache"
exec 9>"$cache/.$pkg.lock"
flock 9
if ready; then report; exit 0; fi

"$debsrc" --update >&2

export DEBIAN_FRONTEND=noninteractive
tmp=$(mktemp -d "$cache/.$pkg.tmp.XXXXXX")
trap 'rm -rf "$tmp" "$tmp.log"' EXIT
chmod 755 "$tmp"
fetch() {
  local rc=0
  (cd "$tmp" && apt-get source -qq "$pkg") >"$tmp.log" 2>&1 || rc=$?
  # Root downloads unsandboxed when _apt cannot write here; that warning is noise.
  grep -v '^W: Download is performed unsandboxed' "$tmp.log" >&2 || true
  rm -f "$tmp.log"
  return "$rc"
}
if ! fetch; then
  echo "fetchsrc.sh: apt-get source $pkg failed; apt-get update -qq and one more try" >&2
  apt-get update -qq >&2 || echo "fetchsrc.sh: apt-get update failed too" >&2
  find "$tmp" -mindepth 1 -delete
  if ! fetch; then
    echo "fetchsrc.sh: cannot fetch the source of $pkg with apt-get source (no network or no deb-src mirror?)" >&2
    exit 3
  fi
fi
tree=$(cd "$tmp" && find . -maxdepth 1 -type d -name "$pkg-*" -printf '%f\n' | sort | tail -1)
[ -n "$tree" ] || { echo "fetchsrc.sh: apt-get source left no $pkg-* directory" >&2; ls -la "$tmp" >&2; exit 1; }
version=$(sed -n 's/^Version: //p' "$tmp"/"$pkg"_*.dsc | head -1)
echo "tree=$tree version=$version fetched=$(date -u +%FT%TZ)" >"$tmp/.fetched"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "fetchsrc.sh: fetched $pkg $version into $dir" >&2
report
