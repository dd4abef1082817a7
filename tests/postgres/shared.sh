#!/usr/bin/env bash
# PostgreSQL 15 (System V semaphores, built by build.sh) in a shared
# namespace: root makes the namespace (a socket in a 0755 directory, mode
# 0666), and PostgreSQL runs in it as the unprivileged user $PG_USER, each
# command its own `sembox run --ns PATH` (initdb; the server in the
# foreground). Checks: root's `sembox ipcs --ns PATH` shows the server's
# sets, owned by $PG_USER, as many as natively (ipcs_sets_running of a
# native session, or at least one); pgbench (outside, it uses no semaphore)
# has no failed transaction; after pg_ctl stop the sets are gone, the
# member has ended and `sembox ns rm PATH` succeeds.
#
# Environment: as run.sh (PG_CACHE, PG_USER, SEMBOX, PGBENCH_*).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PG_CACHE=${PG_CACHE:-/var/cache/sembox/postgres-15}
PG_USER=${PG_USER:-sembox-pg}
bindir=$PG_CACHE/install/bin
log() { echo "shared.sh: $*"; }
die() { echo "shared.sh: FAIL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"
[ -x "$bindir/postgres" ] || die "no PostgreSQL build in $PG_CACHE/install (run build.sh first)"
id -u "$PG_USER" >/dev/null 2>&1 ||
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_USER"
uid=$(id -u "$PG_USER") gid=$(id -g "$PG_USER")

exec 8>"$PG_CACHE/.run.lock"
flock -w 420 8 || die "timed out waiting for $PG_CACHE/.run.lock"
pkill -KILL -u "$uid" 2>/dev/null || true

tmp=$(mktemp -d /tmp/sembox-pgns.XXXXXX)
chmod 755 "$tmp"
sock=$tmp/ns/sem.sock
cleanup() {
  pkill -KILL -u "$uid" 2>/dev/null || true
  "$tmp/sembox" ns rm "$sock" >/dev/null 2>&1 || true
  pkill -KILL -f "ns serve --socket $sock " 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
if [ -n "${SEMBOX:-}" ]; then cp "$SEMBOX" "$tmp/sembox"; else (cd "$root" && go build -o "$tmp/sembox" ./cmd/sembox); fi
chmod 755 "$tmp/sembox"
mkdir -m 755 "$tmp/ns"
mkdir -m 700 "$tmp/pg"
chown "$uid:$gid" "$tmp/pg"
port=$((20000 + RANDOM % 20000))

log "root makes the namespace $sock (mode 0666)"
"$tmp/sembox" run --ns "$sock" --ns-mode 0666 -- true
[ "$(stat -c %a "$sock")" = 666 ] || die "socket mode $(stat -c %a "$sock"), want 666"

as_user=(setpriv --reuid="$uid" --regid="$gid" --clear-groups --
  env -i PATH="$bindir:/usr/bin:/bin" HOME="$tmp/pg" LANG=C LC_ALL=C)
member=("${as_user[@]}" "$tmp/sembox" run --ns "$sock" --)

log "initdb as $PG_USER, in the namespace"
"${member[@]}" initdb -D "$tmp/pg/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C \
  >"$tmp/initdb.log" 2>&1 || { tail -20 "$tmp/initdb.log"; die "initdb"; }

log "server as $PG_USER, in the namespace, port $port"
"${member[@]}" postgres -D "$tmp/pg/data" -c listen_addresses=127.0.0.1 -p "$port" \
  -c unix_socket_directories="$tmp/pg" >"$tmp/server.log" 2>&1 &
member_pid=$!
ready=
for _ in $(seq 300); do
  if "${as_user[@]}" pg_isready -q -h 127.0.0.1 -p "$port"; then ready=1; break; fi
  kill -0 "$member_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$ready" ] || { tail -20 "$tmp/server.log"; die "the server did not start"; }

rows=$("$tmp/sembox" ipcs --ns "$sock" | awk '$1 ~ /^0x[0-9a-f]+$/')
sets=$(printf '%s\n' "$rows" | grep -c . || true)
owners=$(printf '%s\n' "$rows" | awk '{print $3}' | sort -u | tr '\n' ' ')
log "root's sembox ipcs --ns: $sets sets, owned by: $owners"
[ "$sets" -gt 0 ] || die "no semaphore set visible to root"
[ "$owners" = "$PG_USER " ] || die "sets owned by '$owners', want $PG_USER"
inside=$("${member[@]}" ipcs -s | awk '$1 ~ /^0x[0-9a-f]+$/' | wc -l)
[ "$inside" = "$sets" ] || die "ipcs -s in another member shows $inside sets, root sees $sets"

bench=(-h 127.0.0.1 -p "$port" -U postgres)
"${as_user[@]}" pgbench "${bench[@]}" -i -s "${PGBENCH_SCALE:-2}" postgres >"$tmp/pgbench-init.log" 2>&1 ||
  { tail -20 "$tmp/pgbench-init.log"; die "pgbench -i"; }
"${as_user[@]}" pgbench "${bench[@]}" -c "${PGBENCH_CLIENTS:-8}" -j 2 -T "${PGBENCH_SECONDS:-10}" postgres >"$tmp/pgbench.log" 2>&1 ||
  { tail -20 "$tmp/pgbench.log"; die "pgbench"; }
failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$tmp/pgbench.log")
tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$tmp/pgbench.log" | head -1)
log "pgbench: tps $tps, $failed failed"
[ "$failed" = 0 ] || die "$failed failed transactions"

log "stop"
"${as_user[@]}" pg_ctl -D "$tmp/pg/data" -m fast -w -t 60 stop >"$tmp/stop.log" 2>&1 || { cat "$tmp/stop.log"; die "pg_ctl stop"; }
wait "$member_pid" || die "the member's sembox run exited $?"
left=$("$tmp/sembox" ipcs --ns "$sock" | awk '$1 ~ /^0x[0-9a-f]+$/' | wc -l)
[ "$left" = 0 ] || die "$left sets left after the stop"
"$tmp/sembox" ns rm "$sock" || die "ns rm"
echo "RESULT shared_sets=$sets shared_tps=$tps"
log "ok"
