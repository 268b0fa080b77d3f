#!/usr/bin/env bash
# CI step: start the emulator in the background on a free port, wait for its ready file,
# run the tests against it, stop it. Needs `mock-server` on PATH and Go 1.19 or newer.
set -euo pipefail
dir=$(mktemp -d)
mock-server --addr 127.0.0.1:0 --ready-file "$dir/ready.json" --quiet &
server=$!
trap 'kill "$server"; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [ -s "$dir/ready.json" ] && break; sleep 0.1; done
[ -s "$dir/ready.json" ] || { echo "mock-server wrote no ready file"; exit 1; }
MOCK_READY_FILE="$dir/ready.json" go test -count=1 ./
