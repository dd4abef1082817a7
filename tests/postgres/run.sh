#!/usr/bin/env bash
# PostgreSQL 15 (System V semaphores, built by build.sh) under sembox, and the
# same natively for comparison. Run as root; every PostgreSQL process runs as
# the unprivileged user $PG_USER (created if missing), and so does sembox:
#
#   unshare --ipc -- setpriv --reuid U --regid G -- sembox run --trace=F -- session.sh sembox ...
#   unshare --ipc -- setpriv --reuid U --regid G --                          session.sh native ...
#
# session.sh does initdb, starts the server on 127.0.0.1:PORT, runs ipcs -s
# inside, pgbench -i -s 5, pgbench -c 8 -j 2 -T 20 and a clean pg_ctl stop.
# With PG_REGRESS=1 each session also runs PostgreSQL's own regression suite
# (pg_regress, parallel_schedule) against its server: every test must pass.
# This script checks: zero failed transactions in both runs; sembox exits 0;
# no process of $PG_USER is left; the postmaster's semaphore sets (from the
# trace, and from ipcs -s inside when sembox serves /proc/sysvipc/sem) match
# the native run's count, and every created set was removed again. It prints
# both tps and their ratio.
#
# Environment: PG_CACHE (/var/cache/sembox/postgres-15), PG_USER (sembox-pg),
# SEMBOX (a built sembox binary; default: go build ./cmd/sembox), SEMBOX_TRACE=0
# (no --trace: the set counts then rest on ipcs -s inside alone), KEEP_TMP=1
# (keep the work dir), and session.sh's PGBENCH_* / PG_SERVER_OPTS.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PG_CACHE=${PG_CACHE:-/var/cache/sembox/postgres-15}
PG_USER=${PG_USER:-sembox-pg}
bindir=$PG_CACHE/install/bin

log() { echo "run.sh: $*"; }
die() { echo "run.sh: FAIL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (useradd, unshare --ipc)"
[ -f "$PG_CACHE/install/.sembox-built" ] && [ -x "$bindir/postgres" ] ||
  die "no PostgreSQL build in $PG_CACHE/install (run build.sh first)"
log "postgres: $(cat "$PG_CACHE/install/.sembox-built")"

if ! id -u "$PG_USER" >/dev/null 2>&1; then
  log "creating system user $PG_USER"
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_USER"
fi
uid=$(id -u "$PG_USER") gid=$(id -g "$PG_USER")

# One run at a time: runs share $PG_USER, and the checks below count its
# processes. (Several checkouts of the repository may run the suite at once.)
exec 8>"$PG_CACHE/.run.lock"
if ! flock -n 8; then
  log "another run holds $PG_CACHE/.run.lock; waiting (up to 7 minutes)"
  flock -w 420 8 || die "timed out waiting for $PG_CACHE/.run.lock"
fi
# Holding the lock, any process of $PG_USER is a leftover of a run that died.
if pgrep -u "$uid" >/dev/null; then
  log "killing leftover processes of $PG_USER:"
  pgrep -a -u "$uid" || true
  pkill -KILL -u "$uid" || true
  sleep 1
fi

tmp=$(mktemp -d /tmp/sembox-pg.XXXXXX)
chmod 755 "$tmp"
cleanup() {
  # Leave nothing behind even when a check failed half way (we hold the
  # lock, so every process of $PG_USER is ours).
  pkill -KILL -u "$uid" 2>/dev/null || true
  if [ "${KEEP_TMP:-}" = 1 ]; then log "work dir kept: $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

if [ -n "${SEMBOX:-}" ]; then
  cp "$SEMBOX" "$tmp/sembox"
else
  log "go build ./cmd/sembox"
  (cd "$root" && go build -o "$tmp/sembox" ./cmd/sembox)
fi
cp "$here/session.sh" "$tmp/session.sh"
chmod 755 "$tmp/sembox" "$tmp/session.sh"
mkdir "$tmp/native" "$tmp/sembox-run"
chown "$uid:$gid" "$tmp/native" "$tmp/sembox-run"

free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  return 1
}

as_user=(setpriv --reuid="$uid" --regid="$gid" --clear-groups --
  env -i PATH=/usr/bin:/bin HOME="$tmp" LANG=C LC_ALL=C
  PGBENCH_SCALE="${PGBENCH_SCALE:-5}" PGBENCH_CLIENTS="${PGBENCH_CLIENTS:-8}"
  PGBENCH_THREADS="${PGBENCH_THREADS:-2}" PGBENCH_SECONDS="${PGBENCH_SECONDS:-20}"
  PG_SERVER_OPTS="${PG_SERVER_OPTS:-}")
timeout_s=$((${PGBENCH_SECONDS:-20} + 240))
if [ "${PG_REGRESS:-}" = 1 ]; then
  regress=$(find "$PG_CACHE/src" -maxdepth 4 -path '*/postgresql-15-*/src/test/regress' -type d | sort | tail -1)
  [ -n "$regress" ] && [ -x "$regress/pg_regress" ] && [ -f "$regress/regress.so" ] ||
    die "PG_REGRESS=1: no built src/test/regress under $PG_CACHE/src (run build.sh)"
  as_user+=(PG_REGRESS_DIR="$regress")
  timeout_s=$((timeout_s + 600)) # ~40 s natively, ~55 s under sembox on an idle machine
fi

# value KEY FILE: the last "SESSION KEY=value" line of FILE.
value() { sed -n "s/^SESSION $1=//p" "$2" | tail -1; }

nothing_left() {
  local what=$1
  for _ in $(seq 50); do
    pgrep -u "$uid" >/dev/null || { log "$what: no process of $PG_USER left"; return 0; }
    sleep 0.1
  done
  pgrep -a -u "$uid"
  die "$what: processes of $PG_USER left behind"
}

# --- under sembox -----------------------------------------------------------
port=$(free_port) || die "no free port"
trace=$tmp/sembox-run/trace.log
trace_flag=(--trace="$trace")
[ "${SEMBOX_TRACE:-1}" = 1 ] || { trace_flag=(); trace=; }
out=$tmp/sembox-run/out.log
log "== under sembox (port $port, trace ${trace:-off})"
set +e
timeout -k 10 "$timeout_s" unshare --ipc -- "${as_user[@]}" \
  "$tmp/sembox" run "${trace_flag[@]}" -- bash "$tmp/session.sh" sembox-run "$tmp" "$port" "$bindir" 2>&1 8>&- | tee "$out"
sembox_rc=${PIPESTATUS[0]}
set -e
log "sembox exited $sembox_rc"
[ "$sembox_rc" = 0 ] || die "sembox run exited $sembox_rc"
[ "$(value ok "$out")" = 1 ] || die "session under sembox did not finish"
nothing_left "sembox"

# --- natively ---------------------------------------------------------------
port=$(free_port) || die "no free port"
nout=$tmp/native/out.log
log "== natively (port $port)"
set +e
timeout -k 10 "$timeout_s" unshare --ipc -- "${as_user[@]}" \
  bash "$tmp/session.sh" native "$tmp" "$port" "$bindir" 2>&1 8>&- | tee "$nout"
native_rc=${PIPESTATUS[0]}
set -e
[ "$native_rc" = 0 ] || die "native session exited $native_rc"
nothing_left "native"

# --- semaphore sets -----------------------------------------------------------
native_sets=$(value ipcs_sets_running "$nout")
native_nsems=$(value ipcs_nsems_running "$nout")
[ "$native_sets" -gt 0 ] || die "native: ipcs -s shows no semaphore set: not a System V build?"
[ "$(value ipcs_sets_stopped "$nout")" = 0 ] || die "native: semaphore sets left after stop"

calls=off
if [ -n "$trace" ]; then
  pm=$(value postmaster_pid "$out")
  # Sets the postmaster created: its successful IPC_CREAT semgets.
  pm_sets=$(grep -E "^\[pid $pm\] semget\(.*IPC_CREAT.* = [0-9]+$" "$trace" | wc -l)
  pm_nsems=$(grep -E "^\[pid $pm\] semget\(.*IPC_CREAT.* = [0-9]+$" "$trace" |
    sed -E 's/^.*semget\([^,]*, ([0-9]+),.*/\1/' | awk '{n += $1} END {print n + 0}')
  all_created=$(grep -cE '\] semget\(.*IPC_CREAT.* = [0-9]+$' "$trace" || true)
  all_rmid=$(grep -cE '\] semctl\([0-9]+, [0-9]+, IPC_RMID.* = 0$' "$trace" || true)
  calls=$(wc -l <"$trace")
  log "trace: $calls served calls; $all_created sets created in the whole sandbox (initdb included), $all_rmid removed with IPC_RMID"
  log "trace: postmaster (pid $pm) created $pm_sets sets, $pm_nsems semaphores; natively ipcs -s showed $native_sets sets, $native_nsems semaphores"
  [ "$pm_sets" = "$native_sets" ] || die "postmaster created $pm_sets sets under sembox, $native_sets natively"
  [ "$pm_nsems" = "$native_nsems" ] || die "postmaster created $pm_nsems semaphores under sembox, $native_nsems natively"
  [ "$all_created" = "$all_rmid" ] || die "$all_created sets created but $all_rmid removed"
fi

inside_sets=$(value ipcs_sets_running "$out")
if "$tmp/sembox" help 2>&1 | grep -q '/proc/sysvipc/sem'; then
  # This sembox serves /proc/sysvipc/sem: ipcs inside must see the server's sets.
  log "ipcs -s inside sembox showed $inside_sets sets while the server ran"
  [ "$inside_sets" = "$native_sets" ] || die "ipcs -s inside sembox showed $inside_sets sets, want $native_sets"
  [ "$(value ipcs_sets_stopped "$out")" = 0 ] || die "ipcs -s inside sembox shows sets after stop"
else
  [ -n "$trace" ] || die "SEMBOX_TRACE=0 needs a sembox that serves /proc/sysvipc/sem (no evidence otherwise)"
  log "this sembox does not serve /proc/sysvipc/sem: ipcs -s inside showed $inside_sets sets (kernel's empty namespace); evidence is the trace"
fi

# --- throughput ---------------------------------------------------------------
stps=$(value tps "$out") ntps=$(value tps "$nout")
ratio=$(awk -v s="$stps" -v n="$ntps" 'BEGIN {printf "%.3f", s / n}')
log "native tps = $ntps ($(value processed "$nout") transactions, $(value failed "$nout") failed)"
log "sembox tps = $stps ($(value processed "$out") transactions, $(value failed "$out") failed)"
if [ "${PG_REGRESS:-}" = 1 ]; then
  log "regression suite: native: $(value regress_summary "$nout") in $(value regress_seconds "$nout") s; sembox: $(value regress_summary "$out") in $(value regress_seconds "$out") s"
  [ "$(value regress_summary "$out")" = "$(value regress_summary "$nout")" ] || die "regression suite: sembox and native differ"
fi
echo "RESULT native_tps=$ntps sembox_tps=$stps ratio=$ratio sets=$native_sets nsems=$native_nsems trace_calls=$calls"
log "ok"
