#!/usr/bin/env bash
# Builds PostgreSQL 15 from Debian's source package with System V semaphores
# (Debian's binary packages use POSIX semaphores, which sembox does not
# serve), into a cache directory outside the repository:
#
#   $PG_CACHE            (default /var/cache/sembox/postgres-15)
#     src/               apt-get source output (postgresql-15-*/ is the tree)
#     install/           --prefix of the build; bin/postgres, bin/pgbench ...
#     install/.sembox-built   stamp written last; its presence skips everything
#     build.log          configure + make output of the last build
#
# PostgreSQL's own regression suite is built in the source tree
# (src/test/regress: pg_regress, regress.so and contrib/spi's modules), and
# run from there by session.sh against an installed server (PG_REGRESS=1).
#
# Idempotent: with the stamp and install/bin/postgres present it exits at
# once, so CI reruns reuse the cache. A build interrupted half way is resumed
# (make is incremental). Needs root (apt-get). About 10 minutes on 2 cores.
set -euo pipefail

PG_CACHE=${PG_CACHE:-/var/cache/sembox/postgres-15}
INSTALL=$PG_CACHE/install
STAMP=$INSTALL/.sembox-built

done_already() {
  [ -f "$STAMP" ] && [ -x "$INSTALL/bin/postgres" ] && [ -x "$INSTALL/bin/pgbench" ] &&
    [ -f "$INSTALL/lib/libpqwalreceiver.so" ] &&
    compgen -G "$PG_CACHE/src/postgresql-15-*/src/test/regress/regress.so" >/dev/null
}

if done_already; then
  echo "build.sh: cached build in $INSTALL ($(cat "$STAMP"))"
  exit 0
fi

[ "$(id -u)" = 0 ] || { echo "build.sh: must run as root (apt-get)"; exit 1; }

mkdir -p "$PG_CACHE"
chmod 755 "$(dirname "$PG_CACHE")" "$PG_CACHE"
# One build at a time (two test runs may start together).
exec 9>"$PG_CACHE/.lock"
flock 9
if done_already; then
  echo "build.sh: cached build in $INSTALL ($(cat "$STAMP"))"
  exit 0
fi

start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive

# --- 1. deb-src entries for the mirror apt is configured with -------------
# scripts/debsrc.sh writes them once (idempotent); apt-get update follows.
"$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/debsrc.sh"

# --- 2. build dependencies (minimal build: no ICU, readline, zlib) --------
echo "build.sh: $(date +%T) apt-get update"
apt-get update -qq
need=(build-essential dpkg-dev bison flex perl pkg-config)
echo "build.sh: installing ${need[*]}"
apt-get install -y -qq "${need[@]}" >/dev/null

# --- 3. the source package --------------------------------------------------
mkdir -p "$PG_CACHE/src"
cd "$PG_CACHE/src"
tree=$(find . -maxdepth 1 -type d -name 'postgresql-15-*' | sort | tail -1)
if [ -z "$tree" ] || [ ! -f "$tree/configure" ]; then
  rm -rf ./postgresql-15-* ./postgresql-15_*
  # The newest version first; a mirror may not carry every suite's sources
  # (e.g. security updates only as binaries), so older ones are fallbacks.
  fetched=
  for v in $(apt-cache showsrc postgresql-15 | sed -n 's/^Version: //p' | sort -rV | uniq); do
    echo "build.sh: apt-get source postgresql-15=$v"
    if apt-get source -qq postgresql-15="$v" 2>&1 | grep -v '^W: Download is performed unsandboxed'; then :; fi
    if [ -n "$(find . -maxdepth 1 -type d -name 'postgresql-15-*')" ]; then fetched=$v; break; fi
    rm -rf ./postgresql-15_*
  done
  [ -n "$fetched" ] || { echo "build.sh: could not fetch any postgresql-15 source version"; exit 1; }
  tree=$(find . -maxdepth 1 -type d -name 'postgresql-15-*' | sort | tail -1)
  [ -n "$tree" ] || { echo "build.sh: apt-get source left no postgresql-15-* directory"; exit 1; }
fi
tree=$(cd "$tree" && pwd)
echo "build.sh: source tree $tree"
cd "$tree"

# --- 4. configure, make, make install --------------------------------------
log=$PG_CACHE/build.log
: >"$log"
if [ ! -f config.status ] || ! grep -q 'PREFERRED_SEMAPHORES=SYSV' config.status; then
  echo "build.sh: $(date +%T) configure (log: $log)"
  ./configure --prefix="$INSTALL" PREFERRED_SEMAPHORES=SYSV \
    --without-icu --without-readline --without-zlib >>"$log" 2>&1 ||
    { tail -40 "$log"; exit 1; }
  semline=$(grep 'which semaphore API to use' "$log" || true)
  echo "build.sh: configure: $semline"
  case "$semline" in
    *"System V"*) ;;
    *) echo "build.sh: configure did not choose System V semaphores"; exit 1 ;;
  esac
fi
grep -q '^#define USE_SYSV_SEMAPHORES 1' src/include/pg_config.h ||
  { echo "build.sh: pg_config.h lacks USE_SYSV_SEMAPHORES"; exit 1; }

jobs=$(nproc)
rm -rf "$INSTALL"
if [ "${PG_BUILD_ALL:-}" = 1 ]; then
  echo "build.sh: $(date +%T) make -j$jobs (log: $log)"
  make -j"$jobs" >>"$log" 2>&1 || { tail -60 "$log"; exit 1; }
  echo "build.sh: $(date +%T) make install"
  make install >>"$log" 2>&1 || { tail -40 "$log"; exit 1; }
else
  # Only what the test runs (the server, its share files, time zones,
  # snowball dictionaries, plpgsql and encoding conversions that initdb
  # installs, the walreceiver module the regression suite's subscriptions
  # load, libpq, initdb, pg_ctl, psql, pgbench): skips ecpg, pg_dump,
  # pg_basebackup, pg_upgrade and the rest. PG_BUILD_ALL=1 builds all.
  dirs=(src/backend src/backend/utils/mb/conversion_procs src/backend/snowball
    src/backend/replication/libpqwalreceiver
    src/timezone src/interfaces/libpq src/fe_utils src/pl/plpgsql
    src/bin/initdb src/bin/pg_ctl src/bin/psql src/bin/pgbench)
  for d in "${dirs[@]}"; do
    echo "build.sh: $(date +%T) make -j$jobs -C $d (log: $log)"
    make -j"$jobs" -C "$d" >>"$log" 2>&1 || { tail -60 "$log"; exit 1; }
  done
  echo "build.sh: $(date +%T) make install"
  for d in "${dirs[@]}"; do
    make -C "$d" install >>"$log" 2>&1 || { tail -40 "$log"; exit 1; }
  done
fi
echo "build.sh: $(date +%T) make -j$jobs -C src/test/regress (the regression suite)"
make -j"$jobs" -C src/test/regress all >>"$log" 2>&1 || { tail -40 "$log"; exit 1; }
chmod -R a+rX "$PG_CACHE/install" "$tree/src/test/regress" "$tree/contrib/spi"

end=$(date +%s)
version=$("$INSTALL/bin/postgres" --version)
echo "$version; SysV semaphores; built $(date -u +%FT%TZ) in $((end - start)) s from $(basename "$tree")" >"$STAMP"
echo "build.sh: done: $(cat "$STAMP")"
