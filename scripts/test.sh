#!/usr/bin/env bash
# The whole test suite: static checks, the Go tests (engine, differential
# tests against the host kernel, integration tests that run C programs
# natively and under `sembox run`) and the seed suite. Needs root for the
# fresh IPC namespaces the differential tests compare against.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted"; exit 1; fi
echo "== go vet"
go vet ./...
GOARCH=arm64 go vet ./... >/dev/null

echo "== go test -race"
go test -race -count=1 -timeout 20m ./... 2>&1 | tee /tmp/sembox-test.log

# The fallbacks sembox uses on kernels without SYNC_WAKE_UP (< 6.6) and
# thread pidfds (< 6.9), forced on this kernel (see FeaturesEnv in
# internal/supervisor).
echo "== fallbacks for older kernels (SEMBOX_KERNEL_OFF=all)"
SEMBOX_KERNEL_OFF=all go test -count=1 -timeout 15m ./tests/integration/ ./tests/torture/ 2>&1 | tee -a /tmp/sembox-test.log
SEMBOX_KERNEL_OFF=all go test -count=1 -timeout 10m -run 'UnderSembox' ./internal/semscript/ 2>&1 | tee -a /tmp/sembox-test.log

# The /proc views by trapped opens: the path sembox takes where it cannot
# mount (not root, no /dev/fuse); a root run takes the FUSE mount path.
echo "== /proc views by trapped opens (SEMBOX_PROC_VIEWS=trap)"
SEMBOX_PROC_VIEWS=trap go test -count=1 -timeout 10m -run 'UtilLinux|Perl|Python|PHP' ./tests/clients/ 2>&1 | tee -a /tmp/sembox-test.log
