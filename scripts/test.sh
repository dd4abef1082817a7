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
