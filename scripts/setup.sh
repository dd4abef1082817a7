#!/usr/bin/env bash
# Installs what sembox's build and tests need on a Debian machine (run as
# root). Safe to run again: installed packages are skipped quickly.
set -euo pipefail

# Debian packages the test suite uses (dpkg-dev: dpkg-source, which
# `apt-get source` needs for the upstream suites of tests/clients).
packages=(gcc libc6-dev make util-linux procps perl python3-sysv-ipc php-cli stress-ng apache2 apache2-utils gnuplot-nox man-db groff-base zsh
  fakeroot dpkg-dev dmsetup libjson-perl libstring-crc32-perl libtest-sharedfork-perl libmock-sub-perl)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

command -v go >/dev/null || { echo "setup: Go is required (https://go.dev/dl/)"; exit 1; }
echo "setup: ok ($(go version))"
