#!/usr/bin/env bash
# Gives apt the deb-src entries that `apt-get source` needs: every "deb"
# source configured (deb822 *.sources files and the one-line sources.list)
# gets a matching deb-src entry in a file of our own,
# /etc/apt/sources.list.d/sembox-deb-src.{sources,list}.
#
# Idempotent: when that file exists it changes nothing. With --update it
# runs `apt-get update -qq` after writing new entries (so that apt-cache and
# apt-get source see them); without it the caller updates. Needs root.
# Used by tests/postgres/build.sh and the upstream tests of tests/clients.
set -euo pipefail

update=
case "${1:-}" in
  --update) update=1 ;;
  "") ;;
  *) echo "usage: debsrc.sh [--update]" >&2; exit 2 ;;
esac

SRC_FILE=/etc/apt/sources.list.d/sembox-deb-src.sources
if [ -f "$SRC_FILE" ] || [ -f "${SRC_FILE%.sources}.list" ]; then
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "debsrc.sh: must run as root to write $SRC_FILE" >&2; exit 1; }

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && [ "$f" != "$SRC_FILE" ] || continue
  # Paragraphs whose Types has "deb" (but no deb-src yet) become deb-src
  # paragraphs; other paragraphs are dropped.
  awk -v RS= -v ORS='\n\n' '
    /(^|\n)Enabled:[ \t]*no/ { next }
    match($0, /(^|\n)Types:[^\n]*/) {
      t = substr($0, RSTART, RLENGTH)
      if (t ~ /deb-src/ || t !~ /[ \t]deb([ \t]|$)/) next
      sub(/(^|\n)Types:[^\n]*/, (RSTART > 1 ? "\n" : "") "Types: deb-src")
      print
    }' "$f" >>"$tmp"
done
if [ -f /etc/apt/sources.list ]; then
  lines=$(sed -n 's/^[[:space:]]*deb[[:space:]]\+/deb-src /p' /etc/apt/sources.list)
  if [ -n "$lines" ]; then
    printf '%s\n' "$lines" >"${SRC_FILE%.sources}.list"
  fi
fi
if [ -s "$tmp" ]; then
  { echo "# Written by sembox scripts/debsrc.sh: source packages for apt-get source."
    cat "$tmp"; } >"$SRC_FILE"
fi
[ -f "$SRC_FILE" ] || [ -f "${SRC_FILE%.sources}.list" ] ||
  { echo "debsrc.sh: no deb source found to derive a deb-src entry from" >&2; exit 1; }
echo "debsrc.sh: wrote deb-src entries:"
cat "$SRC_FILE" "${SRC_FILE%.sources}.list" 2>/dev/null || true
if [ -n "$update" ]; then
  echo "debsrc.sh: apt-get update -qq"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
fi
