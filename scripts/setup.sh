#!/usr/bin/env bash
# One-time set-up on Debian 12 (bookworm), as root: system packages, the
# static libbpf/libelf the addon links in, npm dependencies, and the build.
#
#   sudo scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
	echo "setup: run as root (it installs Debian packages): sudo scripts/setup.sh" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "setup: installing Debian packages"
apt-get update -qq
# clang/llvm: rebuild and check the BPF object; libbpf-dev, libelf-dev, zlib1g-dev:
# headers and libz.a; bpftool: tests audit what stays loaded; util-linux: setpriv;
# bpftrace: the baseline `npm run bench` compares against (not a dependency);
# rsyslog, prometheus: real receivers for the output tests, each started by its test
# on its own socket or loopback port (the services Debian may start are not used);
# python3-venv: the tests install wasmtime from pip into a venv of their own;
# qemu-system-x86, busybox-static, cpio: the kernel matrix (npm run test:kernels).
apt-get install -y -qq --no-install-recommends \
	clang-14 llvm-14 libbpf-dev libelf-dev zlib1g-dev bpftool bpftrace \
	gcc g++ make python3 python3-venv pkg-config util-linux ca-certificates \
	rsyslog prometheus qemu-system-x86 busybox-static cpio >/dev/null

scripts/build-deps.sh
echo "setup: npm ci"
npm ci --no-audit --no-fund
echo "setup: building"
npm run build --silent
echo "setup: done"
