#!/usr/bin/env bash
# The main job, from a fresh machine: install what is needed, build
# sembox, and run a real multi-process SysV semaphore program (the seed
# test suite, which forks children with posix_spawn) under `sembox run`,
# with a look at the sandbox's namespace from inside and outside.
# Usage: bash scripts/demo.sh [PROG ARGS...]   (default: the seed suite)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
mkdir -p bin
CGO_ENABLED=0 go build -o bin/sembox ./cmd/sembox
make -s -C tests/seed sem_test
if (($#)); then
  exec bin/sembox run -- "$@"
fi
echo "== the seed suite under sembox (fresh IPC namespace outside, so the host is untouched)"
unshare --ipc sh -c '
  bin/sembox run --trace=/tmp/sembox-demo.trace -- sh -c "tests/seed/sem_test && echo && echo \"== ipcs -s inside the sandbox\" && ipcs -s"
  echo "== ipcs -s outside, after sembox exited (the set test_no_rmsem left is gone)"
  ipcs -s'
echo "== served calls (first 10 of $(wc -l < /tmp/sembox-demo.trace), from --trace)"
head -10 /tmp/sembox-demo.trace
