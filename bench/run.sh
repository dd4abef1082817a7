#!/usr/bin/env bash
# Benchmark: uncontended semop natively (fresh IPC namespace), under
# sembox, and under sembox's bare trap-and-answer floor, in one run.
# Usage: bash bench/run.sh [calls]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200000}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
gcc -O2 -o "$tmp/semloop" bench/semloop.c
gcc -O2 -o "$tmp/openloop" bench/openloop.c
go build -o "$tmp/sembox" ./cmd/sembox
best() { # best of 3 runs of "$@"
  local b=
  for _ in 1 2 3; do v=$("$@"); if [ -z "$b" ] || [ "$v" -lt "$b" ]; then b=$v; fi; done
  echo "$b"
}
native=$(best unshare --ipc "$tmp/semloop" "$n")
floor=$(best unshare --ipc "$tmp/sembox" run --bench-floor -- "$tmp/semloop" "$n")
sembox=$(best unshare --ipc "$tmp/sembox" run -- "$tmp/semloop" "$n")
printf '%-34s %10s\n' "uncontended semop" "ns/call"
printf '%-34s %10d\n' "native" "$native" "trap-and-answer floor" "$floor" "sembox" "$sembox"
awk -v s="$sembox" -v f="$floor" -v n="$native" 'BEGIN {
  printf "sembox / floor  = %.2f (goal <= 1.15)\nsembox / native = %.1f\n", s/f, s/n }'

o_native=$(best unshare --ipc "$tmp/openloop" 50000)
o_sembox=$(best unshare --ipc "$tmp/sembox" run -- "$tmp/openloop" 50000)
o_noproc=$(best unshare --ipc "$tmp/sembox" run --no-proc -- "$tmp/openloop" 50000)
printf '\n%-34s %10s\n' "open+close of another file" "ns/call"
printf '%-34s %10d\n' "native" "$o_native" "sembox (serving /proc views)" "$o_sembox" "sembox --no-proc" "$o_noproc"
