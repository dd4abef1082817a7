#!/usr/bin/env bash
# sembox benchmark: every figure natively (a fresh IPC namespace) and under
# sembox, with the ratio, in one run of about 4-5 minutes. Not a test.
#
# Usage (as root, from anywhere): bash bench/run.sh [PART...]
#
# Prints the table and writes it to bench/RESULTS.md, and the chart of
# ratios to bench/results.png (needs gnuplot; skipped with a note if
# missing). Blocking figures are measured twice: pinned to CPU 0
# (`taskset -c 0` around the native program and around the whole sembox
# run) and unpinned. Each figure is the best of a few runs, except where
# noted; see bench/README.md for what each figure is and the goals.
#
# With PARTs (semop par open semget pingpong mutex stress apache sets wake
# mem recvwin sigflood nsjoin state uwsgi svsematest pgbench runsc), only those figures are measured and their rows
# printed; RESULTS.md and the chart are then written only if BENCH_OUT is
# set (a partial table never replaces bench/RESULTS.md).
#
# Environment: BENCH_OUT=DIR writes RESULTS.md and results.png to DIR
# instead of bench/. BENCH_SEMBOX=PATH uses that sembox binary instead of
# building one. BENCH_RUNSC=PATH: gVisor's runsc for the optional runsc
# figures (default /var/cache/sembox-runsc/runsc; absent: those are n/a).
# PG_CACHE: the PostgreSQL build of tests/postgres/build.sh for the pgbench
# figures (default /var/cache/sembox/postgres-15; absent: those are n/a).
set -uo pipefail
cd "$(dirname "$0")/.."
allparts=(semop par open semget pingpong mutex stress apache sets wake idlecpu mem recvwin sigflood siglat nsjoin state uwsgi svsematest pgbench runsc)
parts=("$@")
for a in "${parts[@]}"; do
  [[ " ${allparts[*]} " == *" $a "* ]] || { echo "bench: unknown part $a (parts: ${allparts[*]})" >&2; exit 2; }
done
# want PART : true if PART is to be measured (every part without arguments)
want() { [ ${#parts[@]} = 0 ] || [[ " ${parts[*]} " == *" $1 "* ]]; }
out=${BENCH_OUT:-bench}
writeout=1
[ ${#parts[@]} -gt 0 ] && [ -z "${BENCH_OUT:-}" ] && writeout=0
[ $writeout = 1 ] && mkdir -p "$out"

need=(gcc unshare taskset awk)
[ -z "${BENCH_SEMBOX:-}" ] && need+=(go)
want stress && need+=(stress-ng)
want apache && need+=(apache2 ab)
want uwsgi && need+=(ab)
# Real programs from Debian packages: installed here if missing (the test
# suite does not need them).
aptneed() { # aptneed COMMAND PACKAGE... : apt-get install PACKAGEs unless COMMAND exists
  local c=$1; shift
  command -v "$c" >/dev/null && return
  echo "bench: installing $* (for $c)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >/dev/null 2>&1 ||
    { apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >/dev/null 2>&1; } ||
    echo "bench: apt-get install $* failed" >&2
}
want uwsgi && aptneed uwsgi_python3 uwsgi-core uwsgi-plugin-python3 && need+=(uwsgi)
want svsematest && aptneed svsematest rt-tests && need+=(svsematest)
# gVisor's runsc, optional: where it is missing its figures are n/a
RUNSC=${BENCH_RUNSC:-/var/cache/sembox-runsc/runsc}
[ -x "$RUNSC" ] || RUNSC=
for c in "${need[@]}"; do
  command -v "$c" >/dev/null || { echo "bench: $c is missing (bash scripts/setup.sh installs it)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench: run as root (unshare --ipc)" >&2; exit 1; }

started=$(date +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
tmp=$(mktemp -d /tmp/sembox-bench.XXXXXX)
chmod 755 "$tmp" # apache's www-data children read their docroot under it
cleanup() {
  # apache2 processes of ours still running (found by our unique config
  # path, ended by pid)
  for p in $(pgrep -f "$tmp/apache" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  # uWSGI's processes likewise (their command lines name $tmp/uwsgi)
  for p in $(pgrep -f "$tmp/uwsgi/" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  hog_stop
  rm -rf "$tmp"
}
# hog_start / hog_stop: two busy loops (nice 0, unpinned) competing for
# this machine's CPUs with the program measured.
hogs=()
hog_start() { local i; for i in 1 2; do (while :; do :; done) & hogs+=($!); done; }
hog_stop() {
  local p
  for p in "${hogs[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  hogs=()
}
trap cleanup EXIT

echo "bench: building" >&2
for p in semloop openloop pingpong mutex semgetloop; do
  gcc -O2 -o "$tmp/$p" "bench/$p.c" || exit 1
done
gcc -O2 -pthread -o "$tmp/scale" bench/scale.c || exit 1
for p in recvwin sigflood statepause siglat notifwalk; do
  gcc -O2 -Wall -Werror -pthread -o "$tmp/$p" "bench/$p.c" || exit 1
done
# the C floor: trap-and-answer in a tight single-threaded C loop
gcc -O2 -Wall -Werror -o "$tmp/cfloor" bench/cfloor.c || exit 1
if [ -n "${BENCH_SEMBOX:-}" ]; then
  cp "$BENCH_SEMBOX" "$tmp/sembox" || exit 1
else
  go build -o "$tmp/sembox" ./cmd/sembox || exit 1
fi
SB=("$tmp/sembox" run --)
SBNP=("$tmp/sembox" run --no-proc --)
FLOOR=("$tmp/sembox" run --bench-floor --)
PIN=(taskset -c 0)

declare -A R # results by key

# once CMD... : the first line of CMD's output, or "nan" if it failed.
once() {
  local o
  if o=$("$@" 2>"$tmp/err"); then
    echo "${o%%$'\n'*}"
  else
    echo "bench: failed: $* : $(tail -3 "$tmp/err")" >&2
    echo nan
  fi
}
# pick min|max BEST V : the better of two results ("nan" loses).
pick() {
  awk -v b="$2" -v v="$3" -v d="$1" 'BEGIN {
    if (v == "nan") print b; else if (b == "nan") print v;
    else if (d == "min") print (v + 0 < b + 0 ? v : b); else print (v + 0 > b + 0 ? v : b) }'
}
# measure REPS min|max KEY1 CMD1 [KEY2 CMD2 ...] : REPS rounds, each running
# CMD1, CMD2, ... in turn (so that they share whatever else the machine is
# doing); R[KEYi] = the best result of CMDi. CMDi is a string run by eval
# (in this shell: it sees the caller's variables), printing one number.
measure() {
  local reps=$1 dir=$2 i j v
  shift 2
  local -a keys=() cmds=()
  while (($#)); do keys+=("$1"); cmds+=("$2"); shift 2; done
  for j in "${!keys[@]}"; do R[${keys[$j]}]=nan; done
  for ((i = 0; i < reps; i++)); do
    for j in "${!keys[@]}"; do
      v=$(eval "once ${cmds[$j]}")
      R[${keys[$j]}]=$(pick "$dir" "${R[${keys[$j]}]}" "$v")
    done
  done
}
# field N LINE : the Nth word of LINE ("nan" if absent)
field() { local n=$1; shift; awk -v n="$n" '{ print (NF >= n ? $n : "nan") }' <<<"$*"; }
say() { printf '  %-52s %s   [%d s]\n' "$1" "$2" $(($(date +%s) - started)) >&2; }

# pinned|unpinned -> the command prefix
pinfor() { if [ "$1" = pinned ]; then echo "${PIN[*]}"; fi; }

if want nsjoin; then
  # A shared namespace's server on a socket of our own; every member joins it.
  NSSOCK="$tmp/bench-ns.sock"
  JOIN=("$tmp/sembox" run --ns "$NSSOCK" --)
  echo "bench: uncontended semop, joined to a shared namespace vs anonymous (best of 7 x 50000 calls, interleaved)" >&2
  measure 7 min nsjoin.anon 'unshare --ipc "${SB[@]}" "$tmp/semloop" 50000' \
    nsjoin.joined 'unshare --ipc "${JOIN[@]}" "$tmp/semloop" 50000'
  say "anonymous / joined ns" "${R[nsjoin.anon]} / ${R[nsjoin.joined]}"
  # Server memory per member: 50 members parked in sleep(1).
  spid=$(pgrep -f "ns serve --socket $NSSOCK" | head -1)
  if [ -n "$spid" ]; then
    rss0=$(awk '/VmRSS/ { print $2 }' /proc/$spid/status)
    for i in $(seq 50); do "${JOIN[@]}" sleep 3 & done
    sleep 1.5
    rss1=$(awk '/VmRSS/ { print $2 }' /proc/$spid/status)
    members=$("$tmp/sembox" ns ls --json 2>/dev/null | grep -c '"pid"' || true)
    wait
    R[nsjoin.kb]=$(awk -v a="$rss0" -v b="$rss1" 'BEGIN { printf "%.0f", (b - a) / 50 }')
    say "server RSS per member (50 sleeping members)" "${R[nsjoin.kb]} KiB"
  else
    R[nsjoin.kb]=nan
  fi
  "$tmp/sembox" ns rm "$NSSOCK" 2>/dev/null
fi

if want semop; then
  echo "bench: uncontended semop (best of 7 x 50000 calls, interleaved)" >&2
  measure 7 min semop.native 'unshare --ipc "$tmp/semloop" 50000' \
    semop.cfloor 'unshare --ipc "$tmp/cfloor" "$tmp/semloop" 50000' \
    semop.floor 'unshare --ipc "${FLOOR[@]}" "$tmp/semloop" 50000' \
    semop.sembox 'unshare --ipc "${SB[@]}" "$tmp/semloop" 50000'
  say "native / C floor / floor / sembox ns" "${R[semop.native]} / ${R[semop.cfloor]} / ${R[semop.floor]} / ${R[semop.sembox]}"
fi

# par4 PIN LAUNCHER... : 4 processes, each 25000 uncontended semops at once;
# prints the aggregate calls/s.
par4() {
  local p; p=$(pinfor "$1"); shift
  $p unshare --ipc "$@" sh -c 'for i in 1 2 3 4; do "$0" 25000 & done; wait' "$tmp/semloop" |
    awk '{ s += 1e9 / $1; n++ } END { if (n != 4) exit 1; printf "%.0f\n", s }'
}
if want par; then
  for pin in pinned unpinned; do
    echo "bench: 4 uncontended callers at once, $pin (best of 2)" >&2
    measure 2 max par.$pin.native 'par4 $pin' par.$pin.cfloor 'par4 $pin "$tmp/cfloor"' \
      par.$pin.floor 'par4 $pin "${FLOOR[@]}"' par.$pin.sembox 'par4 $pin "${SB[@]}"'
    say "native / C floor / floor / sembox calls/s" "${R[par.$pin.native]} / ${R[par.$pin.cfloor]} / ${R[par.$pin.floor]} / ${R[par.$pin.sembox]}"
  done
fi

if want open; then
  echo "bench: open+close of an ordinary file (best of 3 x 50000)" >&2
  # open.sembox: the views on the path a default run takes here (as root:
  # the FUSE mount path, no open trapped); open.trap: the trapped-open
  # fallback, forced
  measure 3 min open.native 'unshare --ipc "$tmp/openloop" 50000' \
    open.sembox 'unshare --ipc "${SB[@]}" "$tmp/openloop" 50000' \
    open.trap 'env SEMBOX_PROC_VIEWS=trap unshare --ipc "${SB[@]}" "$tmp/openloop" 50000' \
    open.noproc 'unshare --ipc "${SBNP[@]}" "$tmp/openloop" 50000'
  say "native / sembox / trapped opens / --no-proc ns" "${R[open.native]} / ${R[open.sembox]} / ${R[open.trap]} / ${R[open.noproc]}"
fi

if want semget; then
  echo "bench: semget(IPC_PRIVATE)+IPC_RMID (best of 3 x 10000 cycles)" >&2
  measure 3 min semget.native 'unshare --ipc "$tmp/semgetloop" 10000' \
    semget.sembox 'unshare --ipc "${SB[@]}" "$tmp/semgetloop" 10000'
  say "native / sembox us" "${R[semget.native]} / ${R[semget.sembox]}"
fi

for pin in pinned unpinned; do
  p=$(pinfor $pin)
  if want pingpong; then
    echo "bench: ping-pong, $pin (best of 2 x 5000 round trips)" >&2
    measure 2 min pp.$pin.native '$p unshare --ipc "$tmp/pingpong" 5000' \
      pp.$pin.sembox '$p unshare --ipc "${SB[@]}" "$tmp/pingpong" 5000'
    say "native / sembox us per round trip" "${R[pp.$pin.native]} / ${R[pp.$pin.sembox]}"
  fi

  if want mutex; then
    echo "bench: SEM_UNDO mutex, 4 processes, $pin (best of 2 x 1 s)" >&2
    measure 2 max mutex.$pin.native '$p unshare --ipc "$tmp/mutex" 4 1' \
      mutex.$pin.sembox '$p unshare --ipc "${SB[@]}" "$tmp/mutex" 4 1'
    say "native / sembox ops/s" "${R[mutex.$pin.native]} / ${R[mutex.$pin.sembox]}"
  fi
done

# stress-ng's "bogo ops/s (real time)" column of its sem-sysv line.
stressng() {
  "$@" stress-ng --sem-sysv 2 --timeout 5s --metrics-brief --temp-path "$tmp" >"$tmp/stress.out" 2>&1 || return 1
  awk '/ sem-sysv +[0-9]/ && NF >= 8 { v = $(NF - 1) } END { if (v == "") exit 1; print v }' "$tmp/stress.out"
}
if want stress; then
  for pin in pinned unpinned; do
    p=$(pinfor $pin)
    echo "bench: stress-ng --sem-sysv 2 --timeout 5s, $pin (best of 2)" >&2
    measure 2 max stress.$pin.native 'stressng $p unshare --ipc' \
      stress.$pin.sembox 'stressng $p unshare --ipc "${SB[@]}"'
    say "native / sembox bogo ops/s" "${R[stress.$pin.native]} / ${R[stress.$pin.sembox]}"
  done
fi

# apache2, mpm_prefork, 2 loopback listeners (so the accept mutex is used),
# `Mutex sysvsem default`, its own ServerRoot; loaded by ab on 127.0.0.1.
# floor: every semop trapped and answered 0 unseen (so the mutex excludes
# nothing), opens not trapped: what any seccomp-notify server could reach.
apache() { # apache pinned|unpinned native|sembox|noproc|floor -> req/s
  local pin=$1 mode=$2 launcher=() root p1 p2 bg i
  local p; p=$(pinfor "$pin")
  root=$(mktemp -d "$tmp/apache.XXXXXX") && chmod 755 "$root" && mkdir -m 755 "$root/htdocs" "$root/logs" || { echo nan; return; }
  head -c 1024 /dev/zero | tr '\0' x >"$root/htdocs/index.html"
  p1=$((20000 + RANDOM % 20000))
  while command -v ss >/dev/null && ss -ltn | grep -qE ":($p1|$((p1 + 1)))\b"; do p1=$((20000 + RANDOM % 20000)); done
  p2=$((p1 + 1))
  cat >"$root/httpd.conf" <<EOF
ServerRoot "$root"
ServerName 127.0.0.1
Listen 127.0.0.1:$p1
Listen 127.0.0.1:$p2
LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
User www-data
Group www-data
# Every mutex, the prefork accept mutex included, is a System V semaphore.
Mutex sysvsem default
PidFile "$root/logs/httpd.pid"
ErrorLog "$root/logs/error.log"
LogLevel warn
# As Debian's stock apache2.conf: no .htaccess look-ups (without this line,
# every request opens .htaccess in each directory from / down).
<Directory />
  AllowOverride None
</Directory>
DocumentRoot "$root/htdocs"
StartServers 4
MinSpareServers 4
MaxSpareServers 8
MaxRequestWorkers 16
<Directory "$root/htdocs">
  Require all granted
</Directory>
EOF
  case $mode in
    sembox) launcher=("${SB[@]}") ;;
    noproc) launcher=("${SBNP[@]}") ;;
    floor) launcher=("$tmp/sembox" run --bench-floor --no-proc --) ;;
  esac
  # Its own session: on shutdown a foreground apache2 signals its whole
  # process group.
  $p setsid unshare --ipc "${launcher[@]}" apache2 -f "$root/httpd.conf" -DFOREGROUND >"$root/logs/stdout" 2>&1 &
  bg=$!
  i=0
  until [ -s "$root/logs/httpd.pid" ] && ab -q -n 200 -c 4 "http://127.0.0.1:$p1/index.html" >/dev/null 2>&1; do
    sleep 0.1; i=$((i + 1))
    if [ $i -ge 100 ] || ! kill -0 $bg 2>/dev/null; then
      echo "bench: apache2 ($pin $mode) did not start: $(tail -3 "$root/logs/error.log" "$root/logs/stdout" 2>/dev/null)" >&2
      kill -KILL $bg 2>/dev/null; wait $bg 2>/dev/null; echo nan; return
    fi
  done
  # Bounded load: at most 8000 requests or 2 s, 8 at a time, no keep-alive
  # (so every request goes through the accept mutex).
  $p ab -t 2 -n 8000 -c 8 "http://127.0.0.1:$p1/index.html" >"$root/ab.out" 2>&1
  kill -TERM "$(cat "$root/logs/httpd.pid")" 2>/dev/null
  i=0
  while kill -0 $bg 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  kill -KILL $bg 2>/dev/null
  wait $bg 2>/dev/null
  for q in $(pgrep -f "$root/httpd.conf"); do kill -KILL "$q" 2>/dev/null; done
  # every request must have been answered 200 with the whole page
  awk '/Failed requests:/ { f = $3 } /Non-2xx responses:/ { e = $3 } /Document Length:/ { l = $3 }
    /Requests per second:/ { r = $4 }
    END { if (r == "" || f > 0 || e > 0 || l != 1024) print "nan"; else print r }' "$root/ab.out"
  if grep -q "Non-2xx\|Failed requests: *[1-9]" "$root/ab.out"; then
    echo "bench: apache2 ($pin $mode): bad answers: $(grep -E 'Failed|Non-2xx|Document Length' "$root/ab.out" | tr -s ' \n' ' ')" >&2
  fi
}
if want apache; then
  for pin in pinned unpinned; do
    echo "bench: apache2 natively, under sembox, --no-proc and the floor, $pin (best of 3)" >&2
    measure 3 max apache.$pin.native 'apache $pin native' apache.$pin.sembox 'apache $pin sembox' \
      apache.$pin.noproc 'apache $pin noproc' apache.$pin.floor 'apache $pin floor'
    say "native / sembox / --no-proc / floor req/s" "${R[apache.$pin.native]} / ${R[apache.$pin.sembox]} / ${R[apache.$pin.noproc]} / ${R[apache.$pin.floor]}"
  done
fi

# uWSGI 2.0 (Debian's uwsgi-core and python3 plugin), prefork: a master and
# 4 workers on one loopback HTTP socket, `--lock-engine ipcsem
# --thunder-lock` (every lock is a System V semaphore; the workers take the
# thunder lock around accept()), serving a counter app: each request takes
# uWSGI's user lock, increments a 64-bit counter in a shared area and
# answers it (13 bytes). `ab -c 8` for 5 s (at most 200,000 requests), no
# keep-alive, 127.0.0.1 only. The driver script checks every answer (200,
# 13 bytes) and that the counter is at least the number of answered
# requests (no update lost: the lock excluded) and prints the req/s. Natively,
# under the floor (every semaphore call answered 0 unseen: the locks
# exclude nothing, so the counter is not checked), and under sembox; under
# gVisor's runsc (`--network=none`: uWSGI and ab both inside the sandbox)
# where runsc is present.
uwsgi_setup() {
  mkdir -p "$tmp/uwsgi" || return 1
  cat >"$tmp/uwsgi/app.py" <<'EOF'
import uwsgi

def application(env, start_response):
    uwsgi.lock()
    n = uwsgi.sharedarea_read64(0, 0) + 1
    uwsgi.sharedarea_write64(0, 0, n)
    uwsgi.unlock()
    body = b"%012d\n" % n
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
EOF
  # drive.sh PORT CHECK SECONDS [LAUNCHER...] : start uWSGI under LAUNCHER,
  # wait for it, load it with ab, stop it; prints "REQ/S COMPLETE COUNTER".
  # CHECK=1: fail unless the counter covers every answered request.
  cat >"$tmp/uwsgi/drive.sh" <<'EOF'
dir=$(dirname "$0") port=$1 check=$2 secs=$3
shift 3
pidf="$dir/pid.$port"
rm -f "$pidf"
"$@" uwsgi --plugin python3 --http-socket "127.0.0.1:$port" --wsgi-file "$dir/app.py" \
  --master --processes 4 --lock-engine ipcsem --thunder-lock --sharedarea 1 \
  --disable-logging --die-on-term --pidfile "$pidf" >"$dir/log.$port" 2>&1 &
bg=$!
stop() {
  [ -s "$pidf" ] && kill -TERM "$(cat "$pidf")" 2>/dev/null
  local i=0
  while kill -0 $bg 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  kill -KILL $bg 2>/dev/null
  wait $bg 2>/dev/null
}
# the counter, read with one request (bash's /dev/tcp: no curl needed)
counter() {
  local l c=nan
  exec 3<>"/dev/tcp/127.0.0.1/$port" || { echo nan; return; }
  printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  while read -r -t 5 l <&3; do [[ $l =~ ^[0-9]{12}$ ]] && c=$((10#$l)); done
  exec 3<&-
  echo $c
}
i=0
until [ -s "$pidf" ] && ab -q -s 5 -n 20 -c 4 "http://127.0.0.1:$port/" >/dev/null 2>&1; do
  sleep 0.1; i=$((i + 1))
  if [ $i -ge 300 ] || ! kill -0 $bg 2>/dev/null; then
    echo "uwsgi did not start: $(tail -3 "$dir/log.$port")" >&2; stop; exit 1
  fi
done
ab -q -s 5 -t "$secs" -n 200000 -c 8 "http://127.0.0.1:$port/" >"$dir/ab.$port" 2>&1
c=$(counter)
stop
awk -v c="$c" -v check="$check" '/Complete requests:/ { n = $3 } /Failed requests:/ { f = $3 }
  /Non-2xx responses:/ { e = $3 } /Document Length:/ { l = $3 } /Requests per second:/ { r = $4 }
  END {
    if (r == "" || f > 0 || e > 0 || l != 13) { print "bad answers (failed " f ", non-2xx " e ", length " l ")" > "/dev/stderr"; exit 1 }
    # 20 warm-up requests, the ones ab answered, then the one that read it
    if (check && (c == "nan" || c + 0 < n + 21)) { print "counter " c " < " n + 21 " requests answered: an update was lost" > "/dev/stderr"; exit 1 }
    print r, n, c }' "$dir/ab.$port"
EOF
}
uwsgi_port() { # a free loopback port
  local p=$((20000 + RANDOM % 20000))
  while command -v ss >/dev/null && ss -ltn | grep -qE ":$p\b"; do p=$((20000 + RANDOM % 20000)); done
  echo $p
}
uwsgi_rps() { # uwsgi_rps native|floor|sembox|runsc -> req/s
  local port check=1 launcher=()
  port=$(uwsgi_port)
  case $1 in
    floor) launcher=("${FLOOR[@]}") check=0 ;;
    sembox) launcher=("${SB[@]}") ;;
    runsc)
      [ -n "$RUNSC" ] || { echo nan; return; }
      timeout -k 5 90 "$RUNSC" --network=none do bash "$tmp/uwsgi/drive.sh" "$port" 1 5 | awk '{ print $1 }'
      return ;;
  esac
  timeout -k 5 60 unshare --ipc bash "$tmp/uwsgi/drive.sh" "$port" $check 5 "${launcher[@]}" | awk '{ print $1 }'
}
if want uwsgi; then
  uwsgi_setup || exit 1
  # Proof that uWSGI's locks are System V semaphores served by sembox: a
  # traced run of 200 requests counts the semop/semtimedop calls.
  port=$(uwsgi_port)
  R[uwsgi.semops]=nan
  if v=$(timeout -k 5 60 unshare --ipc bash "$tmp/uwsgi/drive.sh" "$port" 1 1 "$tmp/sembox" run --trace="$tmp/uwsgi/trace" -- 2>"$tmp/err"); then
    n=$(field 2 "$v")
    R[uwsgi.semops]=$(awk -v n="$n" '/\] sem(timed)?op\(/ { c++ } END { printf "%.1f", (n + 21 > 0) ? c / (n + 21) : 0 }' "$tmp/uwsgi/trace")
  else
    echo "bench: failed: traced uwsgi run: $(tail -3 "$tmp/err")" >&2
  fi
  say "uwsgi under sembox --trace: semop calls per request" "${R[uwsgi.semops]}"
  echo "bench: uWSGI ipcsem + thunder lock, 4 workers, ab -c 8 for 5 s: native, floor, sembox${RUNSC:+, runsc} (best of 2)" >&2
  measure 2 max uwsgi.native 'uwsgi_rps native' uwsgi.floor 'uwsgi_rps floor' uwsgi.sembox 'uwsgi_rps sembox' \
    uwsgi.runsc 'uwsgi_rps runsc'
  say "native / floor / sembox / runsc req/s" "${R[uwsgi.native]} / ${R[uwsgi.floor]} / ${R[uwsgi.sembox]} / ${R[uwsgi.runsc]}"
fi

# rt-tests' svsematest: a sender thread V's a semaphore every 100 µs and
# the receiver thread, parked in P, records the time from the V to its
# wake-up; 10,000 wake-ups, threads SCHED_OTHER (priority 0, unpinned); its
# avg and max µs from its JSON output. Natively, under sembox and under
# runsc (where present; svsematest's main thread asks for SCHED_FIFO, which
# gVisor refuses with EINVAL, so under runsc bench/nosched.so answers that
# call 0). No floor: with semaphores answered unseen there is no wake-up.
svsem() { # svsem native|sembox|runsc -> "AVG MAX"
  local j="$tmp/svsem.$1.json" l=()
  rm -f "$j"
  case $1 in
    sembox) l=("${SB[@]}") ;;
    runsc)
      [ -n "$RUNSC" ] || { echo nan nan; return; }
      # the sandbox's root is an overlay: the JSON is printed, not kept
      timeout -k 5 90 "$RUNSC" --network=none do env LD_PRELOAD="$tmp/nosched.so" \
        sh -c 'svsematest -q -i 100 -l 10000 --json=/tmp/svsem.json >/dev/null && cat /tmp/svsem.json' >"$j" 2>"$tmp/err" ||
        echo "bench: failed: svsematest under runsc: $(tail -3 "$tmp/err")" >&2 ;;
  esac
  if [ "$1" != runsc ]; then
    timeout -k 5 90 unshare --ipc "${l[@]}" svsematest -q -i 100 -l 10000 --json="$j" >/dev/null 2>"$tmp/err" ||
      echo "bench: failed: svsematest $1: $(tail -3 "$tmp/err")" >&2
  fi
  awk '/"receiver"/ { r = 1 } r && /"avg"/ { gsub(/[",]/, ""); a = $2 } r && /"max"/ { gsub(/[",]/, ""); m = $2 }
    END { print (a == "" ? "nan" : a), (m == "" ? "nan" : m) }' "$j" 2>/dev/null || echo nan nan
}
if want svsematest; then
  [ -n "$RUNSC" ] && { gcc -O2 -Wall -Werror -shared -fPIC -o "$tmp/nosched.so" bench/nosched.c || exit 1; }
  echo "bench: svsematest -i 100 -l 10000 (wake-up latency; best of 3, interleaved)" >&2
  ms=(native sembox)
  [ -n "$RUNSC" ] && ms+=(runsc)
  for m in native sembox runsc; do R[svsem.$m.avg]=nan R[svsem.$m.max]=nan; done
  for _ in 1 2 3; do
    for m in "${ms[@]}"; do
      v=$(svsem $m)
      R[svsem.$m.avg]=$(pick min "${R[svsem.$m.avg]}" "$(field 1 "$v")")
      R[svsem.$m.max]=$(pick min "${R[svsem.$m.max]}" "$(field 2 "$v")")
    done
  done
  say "avg native / sembox / runsc us" "${R[svsem.native.avg]} / ${R[svsem.sembox.avg]} / ${R[svsem.runsc.avg]}"
  say "max native / sembox / runsc us" "${R[svsem.native.max]} / ${R[svsem.sembox.max]} / ${R[svsem.runsc.max]}"
fi

# PostgreSQL 15 (System V semaphores, built by tests/postgres/build.sh) and
# pgbench, by tests/postgres/run.sh: as the unprivileged user sembox-pg,
# initdb, the server on 127.0.0.1, pgbench -i -s 5, then pgbench -c 8 -j 2
# -T 10 (TPC-B-like: selects, updates, an insert), under sembox (this
# bench's binary, no trace) and natively, each in a fresh IPC namespace; it
# fails unless both runs had no failed transaction and the postmaster made
# as many sets under sembox as natively. Its RESULT line gives both tps.
# Pinned: taskset -c 0 around the whole run.sh (server, pgbench and
# sembox). No floor: semops answered 0 unseen do not lock PostgreSQL's
# lightweight locks, so a database cannot run correctly under it. Not built
# (the build takes ~10 minutes): skipped, n/a.
PG_CACHE=${PG_CACHE:-/var/cache/sembox/postgres-15}
pgb() { # pgb pinned|unpinned -> "NATIVE_TPS SEMBOX_TPS SETS NSEMS"
  local p log="$tmp/pgbench.$1.log" v
  p=$(pinfor "$1")
  if $p env SEMBOX="$tmp/sembox" SEMBOX_TRACE=0 KEEP_TMP=0 PG_CACHE="$PG_CACHE" PGBENCH_SCALE=5 PGBENCH_CLIENTS=8 \
    PGBENCH_THREADS=2 PGBENCH_SECONDS=10 PG_SERVER_OPTS= bash tests/postgres/run.sh >"$log" 2>&1 &&
    v=$(grep '^RESULT ' "$log" | tail -1) && [ -n "$v" ]; then
    awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); m[kv[1]] = kv[2] }
      n = split("native_tps sembox_tps sets nsems", k, " ")
      for (i = 1; i <= n; i++) printf "%s%s", (m[k[i]] == "" ? "nan" : m[k[i]]), (i < n ? " " : "\n") }' <<<"$v"
  else
    echo "bench: failed: tests/postgres/run.sh ($1): $(grep -E 'FAIL|waiting' "$log" | tail -3 | tr '\n' ' ')" >&2
    echo nan nan nan nan
  fi
}
if want pgbench; then
  for pin in pinned unpinned; do R[pgb.$pin.native]=nan R[pgb.$pin.sembox]=nan; done
  R[pgb.sets]=nan R[pgb.nsems]=nan R[pgb.skip]=
  if [ -f "$PG_CACHE/install/.sembox-built" ] && [ -x "$PG_CACHE/install/bin/postgres" ] && [ -x "$PG_CACHE/install/bin/pgbench" ]; then
    for pin in pinned unpinned; do
      echo "bench: PostgreSQL pgbench -c 8 -j 2 -T 10 (tests/postgres/run.sh: sembox, then native), $pin (best of 2)" >&2
      for _ in 1 2; do
        v=$(pgb $pin)
        R[pgb.$pin.native]=$(pick max "${R[pgb.$pin.native]}" "$(field 1 "$v")")
        R[pgb.$pin.sembox]=$(pick max "${R[pgb.$pin.sembox]}" "$(field 2 "$v")")
        [ "$(field 3 "$v")" != nan ] && R[pgb.sets]=$(field 3 "$v") R[pgb.nsems]=$(field 4 "$v")
      done
      say "native / sembox tps" "${R[pgb.$pin.native]} / ${R[pgb.$pin.sembox]}"
    done
  else
    R[pgb.skip]=1
    echo "bench: pgbench skipped: no PostgreSQL build in $PG_CACHE/install (build it once, ~10 min: bash tests/postgres/build.sh)" >&2
  fi
fi

# The uncontended semop loop (semloop.c, as in `semop`) natively, under
# sembox and under gVisor's runsc (`runsc --network=none do`, its default
# platform), interleaved. runsc's start-up is outside the loop's own timing.
if want runsc; then
  echo "bench: uncontended semop, native / sembox / runsc (best of 5 x 50000 calls, interleaved)" >&2
  rsc=(rs.runsc 'timeout -k 5 60 "$RUNSC" --network=none do "$tmp/semloop" 50000')
  [ -n "$RUNSC" ] || { rsc=(); echo "bench: no runsc at ${BENCH_RUNSC:-/var/cache/sembox-runsc/runsc}: runsc figures n/a" >&2; }
  measure 5 min rs.native 'unshare --ipc "$tmp/semloop" 50000' rs.sembox 'unshare --ipc "${SB[@]}" "$tmp/semloop" 50000' "${rsc[@]}"
  [ -n "$RUNSC" ] || R[rs.runsc]=nan
  say "native / sembox / runsc ns" "${R[rs.native]} / ${R[rs.sembox]} / ${R[rs.runsc]}"
fi

if want sets; then
  echo "bench: scale: 32,000 sets created and removed (best of 3)" >&2
  # Fields of `scale sets`: total create and remove ms, then the first and the
  # last eighth of the creations, and of the removals (each best of 3).
  fields=(create remove create.first create.last remove.first remove.last)
  for mode in native sembox; do for f in "${fields[@]}"; do R[sets.$mode.$f]=nan; done; done
  for _ in 1 2 3; do
    for mode in native sembox; do
      if [ $mode = native ]; then l=(); else l=("${SB[@]}"); fi
      v=$(once unshare --ipc "${l[@]}" "$tmp/scale" sets 32000)
      for i in "${!fields[@]}"; do
        R[sets.$mode.${fields[$i]}]=$(pick min "${R[sets.$mode.${fields[$i]}]}" "$(field $((i + 1)) "$v")")
      done
    done
  done
  for op in create remove; do
    say "32000 sets: $op native / sembox ms" "${R[sets.native.$op]} / ${R[sets.sembox.$op]}"
    say "  first / last 4000: native; sembox ms" "${R[sets.native.$op.first]} / ${R[sets.native.$op.last]}; ${R[sets.sembox.$op.first]} / ${R[sets.sembox.$op.last]}"
  done
fi

if want wake; then
  echo "bench: scale: wake-up latency with parked waiters (median of 30 wake-ups)" >&2
  wake() { # wake pinned|unpinned native|sembox W -> median us
    local p l=()
    p=$(pinfor "$1")
    [ "$2" = sembox ] && l=("${SB[@]}")
    $p unshare --ipc "${l[@]}" "$tmp/scale" wake "$3" 30 | awk '{ print $1 }'
  }
  for w in 0 1000; do
    measure 3 min wake.$w.native 'wake unpinned native $w' wake.$w.sembox 'wake unpinned sembox $w'
    say "$w parked, unpinned: native / sembox us" "${R[wake.$w.native]} / ${R[wake.$w.sembox]}"
  done
  for pin in pinned unpinned; do
    # Parking 10,000 waiters under sembox takes 10-40 s: pinned once; twice
    # unpinned, the figure the growth from 1,000 waiters is judged on.
    reps=2; [ $pin = pinned ] && reps=1
    measure $reps min wake.10000.$pin.native 'wake $pin native 10000' wake.10000.$pin.sembox 'wake $pin sembox 10000'
    say "10000 parked, $pin: native / sembox us" "${R[wake.10000.$pin.native]} / ${R[wake.10000.$pin.sembox]}"
  done
  # The kernel's part, with no sembox: a C listener that leaves N
  # notifications pending (bench/notifwalk.c), one trapped call's round
  # trip (median of 2,000; best of 3), unpinned.
  walk() { "$tmp/notifwalk" "$1" 2000 | awk '{ print $2 / 1000 }'; }
  for w in 0 1000 10000; do
    measure 3 min walk.$w 'walk $w'
    say "C listener, $w pending: trapped call us" "${R[walk.$w]}"
  done
fi

if want idlecpu; then
  echo "bench: scale: supervisor CPU with parked calls and no signals (the last 20 s of 40 parked)" >&2
  for w in 1000 10000; do
    R[idle.$w]=$(SCALE_IDLE=40 once unshare --ipc "${SB[@]}" "$tmp/scale" wake $w 1 | awk '{ print (NF >= 4 ? $4 : "nan") }')
    say "$w parked: supervisor CPU %" "${R[idle.$w]}"
  done
fi

# Signal-to-EINTR latency of a blocked semop by how the signal comes:
# sent from inside (kill, tgkill), by a timer the process armed
# (setitimer, a POSIX timer; 20 ms each), or as from outside (a pipe's
# SIGIO, which no trapped call sends: the polling fallback), with 0,
# 1,000 and 10,000 other calls parked; native and sembox in turn, unpinned.
if want siglat; then
  echo "bench: signal-to-EINTR latency (kill, tgkill, setitimer, POSIX timer)" >&2
  for parked in 0 1000 10000; do
    trials=100; [ $parked = 10000 ] && trials=40
    for how in kill tgkill setitimer timer sigio; do
      for m in native sembox; do
        l=(); [ $m = sembox ] && l=("${SB[@]}")
        v=$(once unshare --ipc "${l[@]}" "$tmp/siglat" $how $trials $parked)
        R[siglat.$how.$parked.$m.p50]=$(field 1 "$v") R[siglat.$how.$parked.$m.p99]=$(field 2 "$v")
      done
      say "$how, $parked parked: p50 native / sembox us" "${R[siglat.$how.$parked.native.p50]} / ${R[siglat.$how.$parked.sembox.p50]}"
      say "$how, $parked parked: p99 native / sembox us" "${R[siglat.$how.$parked.native.p99]} / ${R[siglat.$how.$parked.sembox.p99]}"
    done
  done
  # Pinned (`taskset -c 0` around the native program and the whole sembox
  # run): every wake-up is a switch on one CPU, no cross-CPU wake-up.
  for parked in 0 1000; do
    for how in kill tgkill setitimer timer; do
      for m in native sembox; do
        l=(); [ $m = sembox ] && l=("${SB[@]}")
        v=$(once "${PIN[@]}" unshare --ipc "${l[@]}" "$tmp/siglat" $how 100 $parked)
        R[siglat.pinned.$how.$parked.$m.p50]=$(field 1 "$v") R[siglat.pinned.$how.$parked.$m.p99]=$(field 2 "$v")
      done
      say "$how, $parked parked, pinned: p50 native / sembox us" "${R[siglat.pinned.$how.$parked.native.p50]} / ${R[siglat.pinned.$how.$parked.sembox.p50]}"
    done
  done
fi

if want mem; then
  echo "bench: scale: memory for semaphores (sets of 1000, every value written)" >&2
  for sets in 100 1000; do
    # sembox: growth of the supervisor's VmRSS (best of 2); native: the
    # growth of Slab in /proc/meminfo, where the kernel allocates the sets
    # (median of 3: other work moves it too).
    b=nan
    for _ in 1 2; do
      v=$(once unshare --ipc "${SB[@]}" "$tmp/scale" mem $sets 1000)
      d=$(awk -v a="$(field 1 "$v")" -v c="$(field 3 "$v")" 'BEGIN { print (a == "nan" || c == "nan") ? "nan" : c - a }')
      b=$(awk -v b="$b" -v v="$d" 'BEGIN { print (b == "nan" || (v != "nan" && v + 0 < b + 0)) ? v : b }')
    done
    R[mem.$sets.sembox]=$b
    R[mem.$sets.native]=$(for _ in 1 2 3; do field 4 "$(once unshare --ipc "$tmp/scale" mem $sets 1000)"; done |
      sort -g | sed -n 2p)
    say "$((sets * 1000)) semaphores: kernel / sembox kB" "${R[mem.$sets.native]} / ${R[mem.$sets.sembox]}"
  done
fi

# med V... : the median of the numbers given ("nan" if none; "nan"s are
# left out). rng V... : their range, "MIN-MAX".
med() { printf '%s\n' "$@" | awk '$1 != "nan"' | sort -g | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "nan" }'; }
rng() { printf '%s\n' "$@" | awk '$1 != "nan"' | sort -g | awk 'NR == 1 { a = $1 } { b = $1 } END { print NR ? (a == b ? a : a "-" b) : "n/a" }'; }
# window FILE : "P50 P99 CUT" of the line of `sembox run --bench-recv-window`
# in FILE (sembox's stderr): the window's percentiles (us) and the % of
# stamped semops cut short before receipt ("nan" for what is missing).
window() {
  awk '/receive window: n=/ {
      for (i = 1; i <= NF; i++) if ($i ~ /^(n|p50|p99)=/) { split($i, a, "="); sub(/us$/, "", a[2]); w[a[1]] = a[2] }
      if (match($0, /cut short before receipt: [0-9]+/)) { split(substr($0, RSTART, RLENGTH), c, ": "); w["cut"] = c[2] } }
    END { printf "%s %s %s\n", ("p50" in w) ? w["p50"] : "nan", ("p99" in w) ? w["p99"] : "nan",
      ("cut" in w && w["n"] + w["cut"] > 0) ? sprintf("%.1f", 100 * w["cut"] / (w["n"] + w["cut"])) : "nan" }' "$1"
}

# The receive window: from the trap of a call to its receipt by a
# supervisor worker, the time in which a signal aborts the call (EINTR, or
# a restart under SA_RESTART) even where Linux would complete it. recvwin
# passes its CLOCK_MONOTONIC time as semop's (ignored) 4th argument and
# sembox --bench-recv-window prints the distribution. Median of 3 runs.
if want recvwin; then
  for load in idle hog; do
    echo "bench: receive window, stamped uncontended semop, $load (3 x 20000 calls)" >&2
    [ $load = hog ] && hog_start
    w50=() w99=()
    for _ in 1 2 3; do
      if unshare --ipc "$tmp/sembox" run --bench-recv-window -- "$tmp/recvwin" 20000 >/dev/null 2>"$tmp/rw.err"; then
        read -r a b _ <<<"$(window "$tmp/rw.err")"
      else
        echo "bench: failed: recvwin: $(tail -3 "$tmp/rw.err")" >&2
        a=nan b=nan
      fi
      w50+=("$a") w99+=("$b")
    done
    [ $load = hog ] && hog_stop
    R[rw.$load.p50]=$(med "${w50[@]}") R[rw.$load.p50.range]=$(rng "${w50[@]}")
    R[rw.$load.p99]=$(med "${w99[@]}") R[rw.$load.p99.range]=$(rng "${w99[@]}")
    say "window p50; p99 us (3 runs)" "${R[rw.$load.p50.range]}; ${R[rw.$load.p99.range]}"
  done
fi

# The signal flood of issue 8: 6 processes pass 3 tokens (P, V) for 2 s
# while one process sends ~100,000 signals/s to them (half of them with
# SA_RESTART handlers); the share of V calls (which never block) that fail
# with EINTR (natively none). Under sembox the calls are stamped too: the
# receive window under the flood. Median of 3 interleaved runs.
if want sigflood; then
  for load in idle hog; do
    echo "bench: V calls failing with EINTR under a signal flood, $load (3 x 2 s, interleaved)" >&2
    [ $load = hog ] && hog_start
    declare -A F=() # space-separated values per run, by "MODE.FIELD"
    for _ in 1 2 3; do
      for m in native sembox; do
        if [ $m = native ]; then
          v=$(once unshare --ipc "$tmp/sigflood" 2)
          w="nan nan nan"
        else
          v=$(once unshare --ipc "$tmp/sembox" run --bench-recv-window -- "$tmp/sigflood" 2)
          w="nan nan nan"
          [ "$v" != nan ] && w=$(window "$tmp/err") # nothing from a failed run
        fi
        F[$m.pct]+=" $(field 1 "$v")" F[$m.sigps]+=" $(field 4 "$v")" F[$m.nrpct]+=" $(field 6 "$v")"
        F[$m.p50]+=" $(field 1 "$w")" F[$m.p99]+=" $(field 2 "$w")" F[$m.cut]+=" $(field 3 "$w")"
      done
    done
    [ $load = hog ] && hog_stop
    for k in "${!F[@]}"; do
      # shellcheck disable=SC2086 # F's values are lists of numbers
      R[flood.$load.$k]=$(med ${F[$k]}) R[flood.$load.$k.range]=$(rng ${F[$k]})
    done
    say "V EINTR % native; sembox (3 runs)" "${R[flood.$load.native.pct.range]}; ${R[flood.$load.sembox.pct.range]}"
    say "  without SA_RESTART: native; sembox" "${R[flood.$load.native.nrpct.range]}; ${R[flood.$load.sembox.nrpct.range]}"
    say "  semops cut short before receipt %" "${R[flood.$load.sembox.cut.range]}"
    say "  signals/s native; sembox" "${R[flood.$load.native.sigps.range]}; ${R[flood.$load.sembox.sigps.range]}"
    say "  window under the flood p50; p99 us" "${R[flood.$load.sembox.p50.range]}; ${R[flood.$load.sembox.p99.range]}"
  done
fi

# Checkpoint and restore (issue 10) of a shared namespace of 32,000 sets
# holding 1,000,000 semaphores. statepause, a member, creates them, then
# for 20 s times uncontended semops issued at random moments while a
# thread runs `sembox ns save` every 150 ms: the latency of a semop that
# started during a save against one that did not (the image locks every
# set at once: a semop waits at most for the copy). Then `sembox ns save`
# as a whole command (median of 5), the file's size, and the restore: a
# server started from the file with one member (`sembox run --ns --state
# FILE -- true`), and the same without a file (best of 3 each). The
# in-process phases come from the Go benchmark (BenchmarkSave, 5 rounds)
# if go is installed. No native figure: the kernel cannot do this.
if want state; then
  echo "bench: checkpoint/restore, 32,000 sets / 1,000,000 semaphores (semops during saves 20 s; ns save x5; restore x3)" >&2
  SSOCK="$tmp/bench-state.sock" SFILE="$tmp/state.img" ESOCK="$tmp/bench-empty.sock"
  v=$(once "$tmp/sembox" run --ns "$SSOCK" --state "$SFILE" -- "$tmp/statepause" 32000 1000000 20 "$tmp/sembox" "$SSOCK")
  i=1
  for k in idle.p50 idle.p99 idle.max save.p50 save.p99 save.max savecmd.inloop saves n.idle n.save; do
    R[state.$k]=$(field $i "$v")
    i=$((i + 1))
  done
  ts=()
  for _ in 1 2 3 4 5; do
    a=$(date +%s%N)
    if "$tmp/sembox" ns save "$SSOCK" 2>"$tmp/err"; then
      ts+=("$(awk -v a="$a" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')")
    else
      echo "bench: failed: sembox ns save: $(tail -3 "$tmp/err")" >&2
    fi
  done
  R[state.savecmd]=$(med "${ts[@]}")
  "$tmp/sembox" ns rm "$SSOCK" 2>/dev/null # saved once more, stopped
  R[state.mb]=$(stat -c %s "$SFILE" 2>/dev/null | awk '{ printf "%.2f", $1 / 1e6 }')
  [ -n "${R[state.mb]}" ] || R[state.mb]=nan
  R[state.restore]=nan R[state.start]=nan
  for _ in 1 2 3; do
    a=$(date +%s%N)
    if "$tmp/sembox" run --ns "$SSOCK" --state "$SFILE" -- true 2>"$tmp/err"; then
      b=$(date +%s%N)
      R[state.restore]=$(pick min "${R[state.restore]}" "$(awk -v x=$((b - a)) 'BEGIN { printf "%.1f", x / 1e6 }')")
    else
      echo "bench: failed: restore: $(tail -3 "$tmp/err")" >&2
    fi
    "$tmp/sembox" ns rm "$SSOCK" 2>/dev/null # saves again (not timed)
    a=$(date +%s%N)
    "$tmp/sembox" run --ns "$ESOCK" -- true 2>/dev/null && b=$(date +%s%N) &&
      R[state.start]=$(pick min "${R[state.start]}" "$(awk -v x=$((b - a)) 'BEGIN { printf "%.1f", x / 1e6 }')")
    "$tmp/sembox" ns rm "$ESOCK" 2>/dev/null
  done
  for k in image pause write read restore; do R[state.go.$k]=nan; done
  if command -v go >/dev/null; then
    go test ./internal/image -run '^$' -bench 'BenchmarkSave/sets=32000/sems=1000000$' -benchtime 5x >"$tmp/gobench" 2>&1 ||
      echo "bench: failed: go test -bench BenchmarkSave: $(tail -3 "$tmp/gobench")" >&2
    for k in image pause write read restore; do
      x=$(awk -v m="$k-ms" '/^BenchmarkSave/ { for (i = 2; i < NF; i++) if ($(i + 1) == m) print $i }' "$tmp/gobench")
      [ -n "$x" ] && R[state.go.$k]=$x
    done
  fi
  say "semop p50/p99/max us, no save; during a save" "${R[state.idle.p50]}/${R[state.idle.p99]}/${R[state.idle.max]}; ${R[state.save.p50]}/${R[state.save.p99]}/${R[state.save.max]}"
  say "ns save ms; file MB; start from the file; without ms" "${R[state.savecmd]}; ${R[state.mb]}; ${R[state.restore]}; ${R[state.start]}"
  say "in process: image (pause) / write / read / restore ms" "${R[state.go.image]} (${R[state.go.pause]}) / ${R[state.go.write]} / ${R[state.go.read]} / ${R[state.go.restore]}"
fi

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$(($(date +%s) - started))

# ---- the report ----------------------------------------------------------
# row LABEL UNIT NATIVE SEMBOX KIND GOALTEXT VERDICT CHARTLABEL
#   KIND: time (lower is better) or rate (higher is better): the chart's
#   slowdown is sembox/native for times, native/sembox for rates.
rows="$tmp/rows"
: >"$rows"
row() { printf '%s\t' "$@" >>"$rows"; printf '\n' >>"$rows"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b + 0 == 0) print "nan"; else printf "%.3g", a / b }'; }
# rawratio: the same unrounded, for verdicts
rawratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b + 0 == 0) print "nan"; else printf "%.6f", a / b }'; }
# verdict EXPR-with-x VALUE : met / MISSED / n/a
verdict() { awk -v x="$2" "BEGIN { if (x == \"nan\") print \"n/a\"; else if ($1) print \"met\"; else print \"**MISSED**\" }"; }
fmt() { awk -v v="$1" 'BEGIN { if (v == "nan") print "n/a"; else if (v + 0 >= 100) printf "%.0f", v; else if (v + 0 >= 10) printf "%.1f", v; else printf "%.2f", v }'; }

# linear: growth for 8x (sets) or 10x (waiters, memory) must stay within
# 1.25x of proportional.
lin() { # lin SMALL BIG FACTOR -> "growth" and verdict (on the unrounded growth)
  local g; g=$(rawratio "$2" "$1")
  echo "$(ratio "$2" "$1") $(verdict "x <= $3 * 1.25" "$g")"
}

if want semop; then
  sf=$(awk -v a="${R[semop.sembox]}" -v b="${R[semop.floor]}" 'BEGIN { if (a == "nan" || b == "nan" || b + 0 == 0) print "nan"; else printf "%.2f", a / b }')
  # the C floor: the mechanism's own limit (bench/cfloor.c)
  row "uncontended semop: C trap-and-answer floor" "ns/op" "${R[semop.native]}" "${R[semop.cfloor]}" time "-" "-" "semop C floor"
  ffx=$(rawratio "${R[semop.floor]}" "${R[semop.cfloor]}")
  row "uncontended semop: trap-and-answer floor" "ns/op" "${R[semop.native]}" "${R[semop.floor]}" time \
    "sembox floor ≤ 1.05 × C floor: **$(fmt "$ffx") ×**" "$(verdict 'x <= 1.05' "$ffx")" "semop floor"
  scx=$(rawratio "${R[semop.sembox]}" "${R[semop.cfloor]}")
  # verdicts use the unrounded ratio
  sfx=$(rawratio "${R[semop.sembox]}" "${R[semop.floor]}")
  row "uncontended semop" "ns/op" "${R[semop.native]}" "${R[semop.sembox]}" time "sembox ≤ 1.15 × floor: **$sf ×**" "$(verdict 'x <= 1.15' "$sfx")" "semop"
  row "uncontended semop, against the C floor (same run)" "ns/op" "${R[semop.native]}" "${R[semop.sembox]}" time \
    "sembox ≤ 1.15 × C floor: **$(fmt "$scx") ×**" "$(verdict 'x <= 1.15' "$scx")" "semop vs C floor"
fi
if want par; then
  for pin in pinned unpinned; do
    row "4 uncontended callers at once, $pin: C floor" "calls/s" "${R[par.$pin.native]}" "${R[par.$pin.cfloor]}" rate "-" "-" "4 callers C floor $pin"
    row "4 uncontended callers at once, $pin: floor" "calls/s" "${R[par.$pin.native]}" "${R[par.$pin.floor]}" rate "-" "-" "4 callers floor $pin"
    row "4 uncontended callers at once, $pin: sembox" "calls/s" "${R[par.$pin.native]}" "${R[par.$pin.sembox]}" rate "-" "-" "4 callers $pin"
  done
fi
if want pingpong; then
  for pin in pinned unpinned; do
    row "ping-pong round trip, 2 procs, $pin" "µs" "${R[pp.$pin.native]}" "${R[pp.$pin.sembox]}" time "-" "-" "ping-pong $pin"
  done
fi
if want mutex; then
  for pin in pinned unpinned; do
    row "SEM_UNDO mutex, 4 procs, $pin" "ops/s" "${R[mutex.$pin.native]}" "${R[mutex.$pin.sembox]}" rate "-" "-" "mutex $pin"
  done
fi
if want semget; then
  row "semget(IPC_PRIVATE)+IPC_RMID cycle" "µs" "${R[semget.native]}" "${R[semget.sembox]}" time "-" "-" "semget+RMID"
fi
if want stress; then
  g=$(rawratio "${R[stress.pinned.sembox]}" "${R[stress.pinned.native]}")
  row "stress-ng --sem-sysv 2, pinned" "bogo ops/s" "${R[stress.pinned.native]}" "${R[stress.pinned.sembox]}" rate "≥ 0.1 × native" "$(verdict 'x >= 0.1' "$g")" "stress-ng pinned"
  g=$(rawratio "${R[stress.unpinned.sembox]}" "${R[stress.unpinned.native]}")
  row "stress-ng --sem-sysv 2, unpinned" "bogo ops/s" "${R[stress.unpinned.native]}" "${R[stress.unpinned.sembox]}" rate "≥ 0.5 × native" "$(verdict 'x >= 0.5' "$g")" "stress-ng unpinned"
fi
if want apache; then
  for pin in pinned unpinned; do
    g=$(rawratio "${R[apache.$pin.sembox]}" "${R[apache.$pin.native]}")
    row "apache2 sysvsem accept mutex, $pin" "req/s" "${R[apache.$pin.native]}" "${R[apache.$pin.sembox]}" rate "≥ 0.95 × native" "$(verdict 'x >= 0.95' "$g")" "apache $pin"
    g=$(rawratio "${R[apache.$pin.noproc]}" "${R[apache.$pin.native]}")
    row "apache2, $pin, sembox --no-proc" "req/s" "${R[apache.$pin.native]}" "${R[apache.$pin.noproc]}" rate "≥ 0.95 × native" "$(verdict 'x >= 0.95' "$g")" "apache $pin no-proc"
    row "apache2, $pin, trap-and-answer floor (mutex not enforced), --no-proc" "req/s" "${R[apache.$pin.native]}" "${R[apache.$pin.floor]}" rate "-" "-" "apache $pin floor"
  done
fi
if want uwsgi; then
  g=$(rawratio "${R[uwsgi.sembox]}" "${R[uwsgi.native]}")
  row "uWSGI ipcsem locks + thunder lock, 4 workers, counter app, unpinned" "req/s" "${R[uwsgi.native]}" "${R[uwsgi.sembox]}" rate \
    "sembox / native: **$(fmt "$g") ×**; ${R[uwsgi.semops]} semops per request" "-" "uwsgi"
  g=$(rawratio "${R[uwsgi.floor]}" "${R[uwsgi.native]}")
  row "uWSGI, trap-and-answer floor (locks not enforced)" "req/s" "${R[uwsgi.native]}" "${R[uwsgi.floor]}" rate "-" "-" "uwsgi floor"
  row "uWSGI, gVisor runsc (--network=none: uWSGI and ab both in the sandbox)" "req/s" "${R[uwsgi.native]}" "${R[uwsgi.runsc]}" rate \
    "sembox / runsc: **$(fmt "$(rawratio "${R[uwsgi.sembox]}" "${R[uwsgi.runsc]}")") ×**" "-" "uwsgi runsc"
fi
if want svsematest; then
  for q in avg max; do
    row "rt-tests svsematest wake-up latency, 10,000 wake-ups, unpinned: $q" "µs" "${R[svsem.native.$q]}" "${R[svsem.sembox.$q]}" time "-" "-" "svsematest $q"
    row "rt-tests svsematest, gVisor runsc: $q" "µs" "${R[svsem.native.$q]}" "${R[svsem.runsc.$q]}" time \
      "sembox / runsc: **$(fmt "$(rawratio "${R[svsem.sembox.$q]}" "${R[svsem.runsc.$q]}")") ×**" "-" "svsematest runsc $q"
  done
fi
if want pgbench; then
  for pin in pinned unpinned; do
    if [ -n "${R[pgb.skip]}" ]; then
      note="skipped: PostgreSQL not built (\`bash tests/postgres/build.sh\`, ~10 min)"
    else
      note="sembox / native: **$(fmt "$(rawratio "${R[pgb.$pin.sembox]}" "${R[pgb.$pin.native]}")") ×**"
      [ "${R[pgb.sets]}" != nan ] && note+="; ${R[pgb.sets]} sets (${R[pgb.nsems]} semaphores), as many under sembox"
    fi
    row "PostgreSQL pgbench -c 8 -j 2 (built-in TPC-B-like script), $pin" "tps" "${R[pgb.$pin.native]}" "${R[pgb.$pin.sembox]}" rate "$note" "-" "pgbench $pin"
  done
fi
if want runsc; then
  row "uncontended semop, gVisor runsc (same rounds as the next row)" "ns/op" "${R[rs.native]}" "${R[rs.runsc]}" time "-" "-" "semop runsc"
  row "uncontended semop, sembox (same rounds as runsc)" "ns/op" "${R[rs.native]}" "${R[rs.sembox]}" time \
    "sembox / runsc: **$(fmt "$(rawratio "${R[rs.sembox]}" "${R[rs.runsc]}")") ×**" "-" "semop (runsc rounds)"
fi
if want sets; then
  for op in create remove; do
    # linear: the last 4,000 calls (with ~28,000 other sets) may cost at most
    # 1.25 x the first 4,000 (an almost empty namespace)
    read -r g v <<<"$(lin "${R[sets.sembox.$op.first]}" "${R[sets.sembox.$op.last]}" 1)"
    gn=$(ratio "${R[sets.native.$op.last]}" "${R[sets.native.$op.first]}")
    row "32,000 sets ${op}d (total)" "ms" "${R[sets.native.$op]}" "${R[sets.sembox.$op]}" time \
      "linear: last 4,000 calls / first 4,000 = **$g ×** (native $gn ×)" "$v" "32k sets ${op}d"
  done
fi
if want wake; then
  row "wake-up latency, 0 parked, unpinned" "µs" "${R[wake.0.native]}" "${R[wake.0.sembox]}" time "-" "-" "wake 0 parked"
  row "wake-up latency, 1,000 parked, unpinned" "µs" "${R[wake.1000.native]}" "${R[wake.1000.sembox]}" time "-" "-" "wake 1k parked"
  read -r g v <<<"$(lin "${R[wake.1000.sembox]}" "${R[wake.10000.unpinned.sembox]}" 10)"
  gn=$(ratio "${R[wake.10000.unpinned.native]}" "${R[wake.1000.native]}")
  for pin in pinned unpinned; do
    if [ $pin = pinned ]; then gt="-" gv="-"; else
      gt="linear: 1,000→10,000 parked (10×) took **$g ×** (native $gn ×)" gv=$v
    fi
    row "wake-up latency, 10,000 parked, $pin" "µs" "${R[wake.10000.$pin.native]}" "${R[wake.10000.$pin.sembox]}" time "$gt" "$gv" "wake 10k parked $pin"
  done
  gk=$(ratio "${R[walk.10000]}" "${R[walk.1000]}")
  for w in 0 1000 10000; do
    gt="-"; [ $w = 10000 ] && gt="the kernel's own growth 1,000→10,000: **$gk ×**"
    row "the kernel alone: a trapped call answered at once by a C listener with $w notifications left pending (bench/notifwalk.c)" "µs" nan "${R[walk.$w]}" time "$gt" "-" "C listener $w pending"
  done
fi
if want mem; then
  m1=$(awk -v v="${R[mem.1000.native]}" 'BEGIN { print v == "nan" ? "nan" : v / 1024 }')
  m2=$(awk -v v="${R[mem.1000.sembox]}" 'BEGIN { print v == "nan" ? "nan" : v / 1024 }')
  read -r g v <<<"$(lin "${R[mem.100.sembox]}" "${R[mem.1000.sembox]}" 10)"
  row "memory per 1,000,000 semaphores (kernel: Slab growth; sembox: supervisor VmRSS growth)" "MB" "$m1" "$m2" time \
    "linear: 100,000→1,000,000 (10×) grew **$g ×**" "$v" "memory per 1M sems"
fi
if want open; then
  ox=$(rawratio "${R[open.sembox]}" "${R[open.native]}")
  row "open+close of an ordinary file, /proc views served (mount path as root)" "ns" "${R[open.native]}" "${R[open.sembox]}" time \
    "≤ 1.05 × native: **$(fmt "$ox") ×**" "$(verdict 'x <= 1.05' "$ox")" "open()"
  row "open+close of an ordinary file, /proc views by trapped opens (fallback)" "ns" "${R[open.native]}" "${R[open.trap]}" time "-" "-" "open() trapped"
  row "open+close of an ordinary file, --no-proc" "ns" "${R[open.native]}" "${R[open.noproc]}" time "-" "-" "open() no-proc"
fi
if want siglat; then
  for parked in 0 1000 10000; do
    for how in kill tgkill setitimer timer sigio; do
      p50=${R[siglat.$how.$parked.sembox.p50]} p99=${R[siglat.$how.$parked.sembox.p99]}
      if [ $how = sigio ]; then # as from outside the sandbox: found by polling, reported as it is
        row "signal→EINTR from outside (a pipe's SIGIO: polling), $parked other calls parked: p50" "µs" "${R[siglat.$how.$parked.native.p50]}" "$p50" time "-" "-" "siglat outside $parked p50"
        row "signal→EINTR from outside (a pipe's SIGIO: polling), $parked other calls parked: p99" "µs" "${R[siglat.$how.$parked.native.p99]}" "$p99" time "-" "-" "siglat outside $parked p99"
        continue
      fi
      row "signal→EINTR by $how, $parked other calls parked: p50" "µs" "${R[siglat.$how.$parked.native.p50]}" "$p50" time \
        "≤ 100 µs" "$(verdict 'x <= 100' "$p50")" "siglat $how $parked p50"
      row "signal→EINTR by $how, $parked other calls parked: p99" "µs" "${R[siglat.$how.$parked.native.p99]}" "$p99" time \
        "≤ 1,000 µs" "$(verdict 'x <= 1000' "$p99")" "siglat $how $parked p99"
    done
  done
  for parked in 0 1000; do
    for how in kill tgkill setitimer timer; do
      p50=${R[siglat.pinned.$how.$parked.sembox.p50]} p99=${R[siglat.pinned.$how.$parked.sembox.p99]}
      row "signal→EINTR by $how, $parked other calls parked, pinned: p50" "µs" "${R[siglat.pinned.$how.$parked.native.p50]}" "$p50" time \
        "≤ 100 µs" "$(verdict 'x <= 100' "$p50")" "siglat $how $parked pinned p50"
      row "signal→EINTR by $how, $parked other calls parked, pinned: p99" "µs" "${R[siglat.pinned.$how.$parked.native.p99]}" "$p99" time \
        "≤ 1,000 µs" "$(verdict 'x <= 1000' "$p99")" "siglat $how $parked pinned p99"
    done
  done
fi
if want idlecpu; then
  row "supervisor CPU, 1,000 calls parked, no signals (signal polling)" "% of a CPU" nan "${R[idle.1000]}" time "-" "-" "idle CPU 1k parked"
  row "supervisor CPU, 10,000 calls parked, no signals (signal polling)" "% of a CPU" nan "${R[idle.10000]}" time \
    "≤ 2 % of a CPU" "$(verdict 'x <= 2' "${R[idle.10000]}")" "idle CPU 10k parked"
fi
loadtext() { if [ "$1" = hog ]; then echo "2 busy loops"; else echo idle; fi; }
if want recvwin; then
  for load in idle hog; do
    for q in p50 p99; do
      row "receive window (trap → receipt by a worker), uncontended semop, $(loadtext $load): $q" "µs" nan "${R[rw.$load.$q]}" time "-" "-" "recv window $q $load"
    done
  done
fi
if want sigflood; then
  for load in idle hog; do
    x=${R[flood.$load.sembox.pct]}
    row "semop V (never blocks) failing with EINTR: 6 procs pass 3 tokens under ~100,000 signals/s, $(loadtext $load)" "% of V calls" \
      "${R[flood.$load.native.pct]}" "$x" time "≤ 1 % of V calls" "$(verdict 'x <= 1' "$x")" "V EINTR flood $load"
  done
fi
if want nsjoin; then
  jr=$(rawratio "${R[nsjoin.joined]}" "${R[nsjoin.anon]}")
  row "uncontended semop, anonymous sandbox (same run as the next row)" "ns/op" nan "${R[nsjoin.anon]}" time "-" "-" "semop anonymous"
  row "uncontended semop, member of a shared namespace (--ns)" "ns/op" nan "${R[nsjoin.joined]}" time \
    "joined ≤ 1.2 × anonymous: **$(fmt "$jr") ×**" "$(verdict 'x <= 1.2' "$jr")" "semop joined"
  row "shared namespace server: memory per member (50 sleeping members)" "KiB" nan "${R[nsjoin.kb]}" time "-" "-" "server KiB/member"
fi
if want state; then
  S="32,000 sets / 1,000,000 semaphores"
  row "checkpoint, $S: \`sembox ns save\` (whole command, median of 5)" "ms" nan "${R[state.savecmd]}" time "-" "-" "ns save"
  row "checkpoint, $S, in process: image (sets locked: ${R[state.go.pause]} ms) + write, fsync, rename" "ms" nan \
    "$(awk -v a="${R[state.go.image]}" -v b="${R[state.go.write]}" 'BEGIN { print (a == "nan" || b == "nan") ? "nan" : a + b }')" time "-" "-" "save in process"
  row "restore, $S: \`sembox run --ns --state FILE -- true\` (server start from the file, one member; best of 3)" "ms" nan "${R[state.restore]}" time "-" "-" "restore"
  row "the same without a state file (best of 3)" "ms" nan "${R[state.start]}" time "-" "-" "start without state"
  row "restore, $S, in process: read, check, build the namespace" "ms" nan \
    "$(awk -v a="${R[state.go.read]}" -v b="${R[state.go.restore]}" 'BEGIN { print (a == "nan" || b == "nan") ? "nan" : a + b }')" time "-" "-" "restore in process"
  row "state file, $S" "MB" nan "${R[state.mb]}" time "-" "-" "state file"
  for q in p50 p99 max; do
    row "semop issued during a save ($S, one member): $q" "µs" nan "${R[state.save.$q]}" time "-" "-" "semop in save $q"
    row "semop without a save (same run): $q" "µs" nan "${R[state.idle.$q]}" time "-" "-" "semop no save $q"
  done
fi

# a partial run (PARTs without BENCH_OUT) only prints its table
[ $writeout = 0 ] && out=$tmp
machine="$(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -srm)"
{
  echo "# sembox benchmark results"
  echo
  echo "Generated by \`bash bench/run.sh\` (see [README.md](README.md)); do not edit by hand."
  echo
  echo "* Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "* Machine: $machine"
  echo "* Load average (1, 5, 15 min): $load_before before, $load_after after; run took ${elapsed} s"
  echo "  (the run itself raises the load: stress-ng, apache2's children and 10,000 parked threads)"
  awk -v a="${load_before%% *}" 'BEGIN { if (a > 1.5)
    print "* **Warning: the machine was busy before the run (1-minute load above 1.5): these figures are noisy.**" }'
  echo "* Native = the program in a fresh IPC namespace (\`unshare --ipc\`); sembox = \`unshare --ipc sembox run -- …\`."
  echo "  *Pinned* = \`taskset -c 0\` around the native program and around the whole sembox run (supervisor included)."
  echo "* Ratio = sembox / native (for rates < 1 is slower, for times > 1 is slower)."
  echo "* Floor = \`sembox run --bench-floor\` (every trapped call answered 0 unseen); C floor = \`bench/cfloor.c\`, the same"
  echo "  trap-and-answer from a single-threaded C loop: the limit of the mechanism (see README.md)."
  echo
  echo "| figure | unit | native | sembox | sembox / native | goal | verdict |"
  echo "|---|---|---:|---:|---:|---|---|"
  while IFS=$'\t' read -r label unit n s kind goal verdict _; do
    r=$(ratio "$s" "$n")
    echo "| $label | $unit | $(fmt "$n") | $(fmt "$s") | ${r/#nan/-} | $goal | $verdict |"
  done <"$rows"
  echo
  if want sets && want mem; then
    echo "Scale details: the first / last 4,000 of the 32,000 creations took ${R[sets.sembox.create.first]} / ${R[sets.sembox.create.last]} ms" \
      "under sembox (native ${R[sets.native.create.first]} / ${R[sets.native.create.last]}), removals" \
      "${R[sets.sembox.remove.first]} / ${R[sets.sembox.remove.last]} ms (native ${R[sets.native.remove.first]} / ${R[sets.native.remove.last]});" \
      "100,000 semaphores: kernel ${R[mem.100.native]} kB, sembox ${R[mem.100.sembox]} kB;" \
      "1,000,000: kernel ${R[mem.1000.native]} kB, sembox ${R[mem.1000.sembox]} kB."
    echo
  fi
  if want recvwin; then
    echo "Receive window details (\`sembox run --bench-recv-window\`: time from a stamped semop's trap to its receipt by a" \
      "supervisor worker, in which a signal aborts the call; median of 3 runs of 20,000 calls in the table), ranges over the 3 runs:" \
      "idle p50 ${R[rw.idle.p50.range]} µs, p99 ${R[rw.idle.p99.range]} µs; with 2 busy loops (nice 0, unpinned)" \
      "p50 ${R[rw.hog.p50.range]} µs, p99 ${R[rw.hog.p99.range]} µs."
    echo
  fi
  if want sigflood; then
    echo "Signal flood details (\`sigflood 2\`: 6 processes, half with SA_RESTART handlers, pass 3 tokens with P and V for 2 s;" \
      "one process sends SIGUSR1 and SIGRTMIN to random ones, alternating kill() and tgkill(); median of 3 runs in the table)," \
      "ranges over the 3 runs: V calls failing with EINTR, idle: native ${R[flood.idle.native.pct.range]} %," \
      "sembox ${R[flood.idle.sembox.pct.range]} %; with 2 busy loops: native ${R[flood.hog.native.pct.range]} %," \
      "sembox ${R[flood.hog.sembox.pct.range]} %; of the V calls of the workers without SA_RESTART alone, idle: native" \
      "${R[flood.idle.native.nrpct.range]} %, sembox ${R[flood.idle.sembox.nrpct.range]} %; with 2 busy loops: native" \
      "${R[flood.hog.native.nrpct.range]} %, sembox ${R[flood.hog.sembox.nrpct.range]} % (an SA_RESTART worker does not see" \
      "its calls cut short: the kernel makes them again). Trapped semops (P and V, every worker) cut short before receipt," \
      "idle: ${R[flood.idle.sembox.cut.range]} %; with 2 busy loops: ${R[flood.hog.sembox.cut.range]} %. Signals sent per second, idle: native ${R[flood.idle.native.sigps.range]}," \
      "sembox ${R[flood.idle.sembox.sigps.range]}; with 2 busy loops: native ${R[flood.hog.native.sigps.range]}," \
      "sembox ${R[flood.hog.sembox.sigps.range]}. Receive window under the flood (a call restarted under SA_RESTART keeps" \
      "its first stamp), idle: p50 ${R[flood.idle.sembox.p50.range]} µs, p99 ${R[flood.idle.sembox.p99.range]} µs;" \
      "with 2 busy loops: p50 ${R[flood.hog.sembox.p50.range]} µs, p99 ${R[flood.hog.sembox.p99.range]} µs."
    echo
  fi
  if want state; then
    echo "Checkpoint details (\`bench/statepause.c\`: one member, uncontended semops at random moments, 0-200 µs apart, for 20 s" \
      "while \`sembox ns save\` runs every 150 ms): ${R[state.saves]} saves, ${R[state.n.save]} semops started during one" \
      "(from the spawn of \`sembox ns save\` to its end, median ${R[state.savecmd.inloop]} ms) and ${R[state.n.idle]} without;" \
      "in process (Go benchmark, 5 rounds): image ${R[state.go.image]} ms of which the sets were locked ${R[state.go.pause]} ms," \
      "write ${R[state.go.write]} ms, read ${R[state.go.read]} ms, namespace built ${R[state.go.restore]} ms."
    echo
  fi
  echo "![sembox cost relative to native](results.png)"
} >"$out/RESULTS.md"
cat "$out/RESULTS.md"

# ---- the chart -----------------------------------------------------------
if [ $writeout = 0 ]; then
  echo "bench: partial run: RESULTS.md and the chart not written (set BENCH_OUT=DIR to write them)" >&2
elif command -v gnuplot >/dev/null; then
  # slowdown (>1 = sembox worse) and colour: 1 met, 2 missed, 3 no goal.
  # The goal of uncontended semop is against the floor: that bar follows.
  # So are the floor's and sembox's against the C floor: those bars are
  # floor/C floor and sembox/C floor.
  awk -F'\t' -v s="${R[semop.sembox]:-nan}" -v f="${R[semop.floor]:-nan}" -v cf="${R[semop.cfloor]:-nan}" '{
      if ($3 == "nan" || $4 == "nan" || $3 + 0 == 0 || $4 + 0 == 0) next
      r = ($5 == "rate") ? $3 / $4 : $4 / $3
      c = ($7 == "met") ? 1 : ($7 ~ /MISSED/) ? 2 : 3
      if ($8 == "semop") {
        printf "\"%s\"\t%g\t%d\n", $8, r, 3
        if (s != "nan" && f != "nan") printf "\"semop vs floor\"\t%g\t%d\n", s / f, c
      } else if ($8 == "semop floor") {
        printf "\"%s\"\t%g\t%d\n", $8, r, 3
        if (f != "nan" && cf != "nan" && cf + 0 != 0) printf "\"floor vs C floor\"\t%g\t%d\n", f / cf, c
      } else if ($8 == "semop vs C floor") {
        if (s != "nan" && cf != "nan" && cf + 0 != 0) printf "\"%s\"\t%g\t%d\n", $8, s / cf, c
      } else printf "\"%s\"\t%g\t%d\n", $8, r, c
    }' "$rows" >"$tmp/chart.dat"
  if [ ! -s "$tmp/chart.dat" ]; then
    echo "bench: no row has both figures (all n/a): no chart" >&2
  elif ! gnuplot <<EOF 2>"$tmp/gnuplot.err"; then
set terminal pngcairo size 1600,800 font "DejaVu Sans,11"
set output "$out/results.png"
set title "sembox vs native, $(date -u '+%Y-%m-%d'), $(nproc) CPUs, load $load_before\n(slowdown: sembox/native for times, native/sembox for rates; >1 = sembox slower; semop vs floor = sembox/floor; vs C floor = floor or sembox / C floor)\ncolour = verdict of the figure's goal in RESULTS.md (for 32k sets, wake 10k and memory the goal is linear scaling, not the ratio shown)"
set logscale y 10
set yrange [0.05:*]
set ylabel "slowdown (×, log scale)"
set grid ytics
set style fill solid 0.85 border -1
set boxwidth 0.7
set xtics rotate by -40 left nomirror
set bmargin 10
set tmargin 5
set rmargin 10
set key top left
set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 1.5 dt 2 lc rgb "black"
plot "$tmp/chart.dat" using 0:(\$3 == 1 ? \$2 : 1/0):xtic(1) with boxes lc rgb "#2e8b57" title "goal met", \
     "" using 0:(\$3 == 2 ? \$2 : 1/0) with boxes lc rgb "#d62728" title "goal missed", \
     "" using 0:(\$3 == 3 ? \$2 : 1/0) with boxes lc rgb "#7f7f7f" title "no goal", \
     "" using 0:2:(\$2 >= 100 ? sprintf("%.0f", \$2) : sprintf("%.3g", \$2)) with labels offset 0,0.8 font ",10" notitle
EOF
    echo "bench: gnuplot failed: $(cat "$tmp/gnuplot.err")" >&2
  elif [ -s "$out/results.png" ]; then
    echo "bench: wrote $out/RESULTS.md and $out/results.png in ${elapsed} s" >&2
  fi
else
  echo "bench: gnuplot not installed: no chart (apt-get install gnuplot-nox)" >&2
fi
