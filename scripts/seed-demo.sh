#!/usr/bin/env bash
# The seed's W+X demo, end to end: build its wx_trigger, start it, monitor it
# with eBPF, write the report.
#
#   sudo npm run demo:seed [-- SECONDS]      (default 15, as in the seed)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-15}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

cc -O2 test/fixtures/wx_trigger.c -o "$work/wx_trigger"
"$work/wx_trigger" >/dev/null &
pid=$!
sleep 1
node dist/cli.js --pid "$pid" --bpf --timeout "$seconds" --output runtime.json
