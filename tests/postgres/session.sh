#!/usr/bin/env bash
# One PostgreSQL session, run by run.sh as the unprivileged test user, either
# natively (in a fresh IPC namespace) or as the program of `sembox run`:
# initdb, start the server on 127.0.0.1:PORT (unix socket in DIR), count the
# semaphore sets with ipcs -s from inside, pgbench -i, a timed pgbench, a
# clean stop and ipcs -s again. Prints "SESSION key=value" lines for run.sh.
#
#   session.sh MODE DIR PORT BINDIR
#
# With PG_REGRESS_DIR (src/test/regress of the built tree, see build.sh) it
# then runs PostgreSQL's own regression suite against the server, as
# `make installcheck-parallel` does (pg_regress, parallel_schedule, up to 20
# tests at once), and fails unless every test passes.
#
# Environment: PGBENCH_SCALE (5), PGBENCH_CLIENTS (8), PGBENCH_THREADS (2),
# PGBENCH_SECONDS (20), PG_SERVER_OPTS (extra postgres -c options),
# PG_REGRESS_DIR.
set -uo pipefail

mode=$1 dir=$2 port=$3 bindir=$4
export PATH=$bindir:$PATH
scale=${PGBENCH_SCALE:-5} clients=${PGBENCH_CLIENTS:-8}
threads=${PGBENCH_THREADS:-2} seconds=${PGBENCH_SECONDS:-20}

data=$dir/$mode/data
sock=$dir/$mode/sock
logs=$dir/$mode
mkdir -p "$sock"
chmod 700 "$sock"

say() { echo "[$mode $(date +%T)] $*"; }
fail() { say "FAIL: $*"; stop_server; exit 1; }
started=
stop_server() {
  if [ -n "$started" ]; then
    started=
    pg_ctl -D "$data" -m fast -w -t 60 stop >>"$logs/pg_ctl.log" 2>&1
  fi
}

# Data rows of `ipcs -s` (lines whose first field is a hex key).
ipcs_sets() { ipcs -s | awk '$1 ~ /^0x[0-9a-f]+$/' ; }

say "initdb"
initdb -D "$data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C \
  >"$logs/initdb.log" 2>&1 || { tail -30 "$logs/initdb.log"; fail "initdb"; }

say "start server on 127.0.0.1:$port, socket dir $sock"
opts="-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$sock ${PG_SERVER_OPTS:-}"
pg_ctl -D "$data" -l "$logs/server.log" -o "$opts" -w -t 60 start \
  >"$logs/pg_ctl.log" 2>&1 || { cat "$logs/pg_ctl.log"; tail -30 "$logs/server.log"; fail "pg_ctl start"; }
started=1
postmaster=$(head -1 "$data/postmaster.pid")
echo "SESSION postmaster_pid=$postmaster"
maxconn=$(psql -X -A -t -h 127.0.0.1 -p "$port" -U postgres -c 'show max_connections' postgres) ||
  fail "psql over 127.0.0.1:$port"
echo "SESSION max_connections=$maxconn"

say "ipcs -s (inside) with the server running:"
ipcs -s
sets=$(ipcs_sets | wc -l)
nsems=$(ipcs_sets | awk '{n += $5} END {print n + 0}')
echo "SESSION ipcs_sets_running=$sets"
echo "SESSION ipcs_nsems_running=$nsems"

bench=(-h 127.0.0.1 -p "$port" -U postgres)
say "pgbench -i -s $scale"
pgbench "${bench[@]}" -i -s "$scale" postgres >"$logs/pgbench-init.log" 2>&1 ||
  { tail -20 "$logs/pgbench-init.log"; fail "pgbench -i"; }

say "pgbench -c $clients -j $threads -T $seconds"
pgbench "${bench[@]}" -c "$clients" -j "$threads" -T "$seconds" postgres \
  >"$logs/pgbench.log" 2>&1
rc=$?
cat "$logs/pgbench.log"
[ $rc = 0 ] || fail "pgbench exited $rc"
tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$logs/pgbench.log" | head -1)
processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$logs/pgbench.log")
failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$logs/pgbench.log")
[ -n "$tps" ] && [ -n "$processed" ] && [ -n "$failed" ] || fail "could not parse pgbench output"
echo "SESSION tps=$tps"
echo "SESSION processed=$processed"
echo "SESSION failed=$failed"
[ "$failed" = 0 ] || fail "$failed failed transactions"
[ "$processed" -gt 0 ] || fail "no transactions processed"

sets_after_bench=$(ipcs_sets | wc -l)
echo "SESSION ipcs_sets_after_bench=$sets_after_bench"

if [ -n "${PG_REGRESS_DIR:-}" ]; then
  reg=$PG_REGRESS_DIR
  say "pg_regress: PostgreSQL's regression suite, parallel_schedule"
  t0=$(date +%s)
  "$reg/pg_regress" --inputdir="$reg" --outputdir="$logs/regress" --bindir="$bindir" \
    --dlpath="$reg" --schedule="$reg/parallel_schedule" --max-concurrent-tests=20 \
    --host=127.0.0.1 --port="$port" --user=postgres >"$logs/regress.log" 2>&1
  rc=$?
  tail -3 "$logs/regress.log"
  echo "SESSION regress_seconds=$(($(date +%s) - t0))"
  echo "SESSION regress_summary=$(grep -E '^ *(All [0-9]+ tests passed|[0-9]+ of [0-9]+ tests failed)' "$logs/regress.log" | tr -s ' ' | sed 's/^ //; s/ *$//')"
  if [ $rc != 0 ]; then
    grep -E 'FAILED|failed \(ignored\)' "$logs/regress/regression.out"
    head -150 "$logs/regress/regression.diffs"
    fail "pg_regress exited $rc"
  fi
fi

say "pg_ctl stop"
started=
pg_ctl -D "$data" -m fast -w -t 60 stop >>"$logs/pg_ctl.log" 2>&1 ||
  { cat "$logs/pg_ctl.log"; fail "pg_ctl stop"; }
[ ! -e "$data/postmaster.pid" ] || fail "postmaster.pid still there after stop"
grep -q 'database system is shut down' "$logs/server.log" || fail "no clean shutdown in server.log"
# pg_ctl returns once postmaster.pid is gone, just before the postmaster
# exits; give it a moment (a zombie waiting for its reaper counts as gone).
alive() { [ -r "/proc/$1/stat" ] && ! awk '{exit $3 == "Z" ? 0 : 1}' "/proc/$1/stat" 2>/dev/null; }
for _ in $(seq 100); do alive "$postmaster" || break; sleep 0.1; done
if alive "$postmaster"; then fail "postmaster $postmaster still alive 10 s after pg_ctl stop"; fi

say "ipcs -s (inside) after stop:"
ipcs -s
echo "SESSION ipcs_sets_stopped=$(ipcs_sets | wc -l)"
echo "SESSION ok=1"
