#!/usr/bin/env bash
# Put the prebuilt binaries where the package loads them from, so installing
# the package never needs a compiler or an install script:
#   prebuilds/linux-x64/node.napi.glibc.node   the addon (node-gyp-build finds it first)
#   demo/prebuilt/stager.node                  the demo miner's native host function
# Refuses an addon that links libbpf, libelf or zlib dynamically: the package
# must run on machines that have none of them (run scripts/build-deps.sh first).
set -euo pipefail
cd "$(dirname "$0")/.."

addon=build/Release/wasmshark.node
if [ ! -f "$addon" ] || [ "${1:-}" = "--rebuild" ]; then
	npx node-gyp rebuild >/dev/null
fi
if ldd "$addon" | grep -Eq 'libbpf|libelf|libz\.'; then
	echo "prebuild: $addon links libbpf/libelf/zlib dynamically; run scripts/build-deps.sh, then npm run build:native" >&2
	exit 1
fi
mkdir -p prebuilds/linux-x64 demo/prebuilt
cp "$addon" prebuilds/linux-x64/node.napi.glibc.node

node_include="$(dirname "$(dirname "$(command -v node)")")/include/node"
cc -O2 -Wall -shared -fPIC -I"$node_include" demo/native/stager.c -o demo/prebuilt/stager.node
echo "prebuild: prebuilds/linux-x64/node.napi.glibc.node, demo/prebuilt/stager.node"
