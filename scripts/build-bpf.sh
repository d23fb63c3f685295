#!/usr/bin/env bash
# Rebuild the BPF objects from source (CO-RE: each works on every kernel with BTF
# that has the helpers it calls):
#   bpf/wasmshark.bpf.o          kernels with bpf_loop() and bpf_find_vma() (5.17 on)
#   bpf/wasmshark.legacy.bpf.o   the same source with -DWS_LEGACY, for 5.8 to 5.16
# The objects are committed; users never need clang. CI runs this with --check to
# prove the committed objects are what the source builds to.
#
#   scripts/build-bpf.sh            rebuild both objects
#   scripts/build-bpf.sh --check    rebuild into temp files and compare with the committed ones
#   scripts/build-bpf.sh --out DIR  write the objects into DIR
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
clang=${CLANG:-$(command -v clang-14 || command -v clang)}
strip=${LLVM_STRIP:-$(command -v llvm-strip-14 || command -v llvm-strip)}
arch_inc=/usr/include/$(uname -m)-linux-gnu

out="$root/bpf"
check=0
while [ $# -gt 0 ]; do
	case "$1" in
	--check) check=1 ;;
	--out) out=$2; shift ;;
	*) echo "build-bpf: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ "$check" = 1 ] && out=$(mktemp -d)

# Relative paths only: the object's BTF line info must not depend on where the tree lives.
cd "$root/bpf"
build() { # OBJECT [CFLAGS...]
	local obj=$1
	shift
	"$clang" -g -O2 -target bpf -D__TARGET_ARCH_x86 -I"$arch_inc" -I. "$@" \
		-Wall -Werror -Wno-unused-function -fdebug-prefix-map="$PWD"=. \
		-c wasmshark.bpf.c -o "$out/$obj"
	# Drop DWARF, keep .BTF and .BTF.ext (CO-RE relocations live there).
	"$strip" -g "$out/$obj"
}
build wasmshark.bpf.o
build wasmshark.legacy.bpf.o -DWS_LEGACY

status=0
for obj in wasmshark.bpf.o wasmshark.legacy.bpf.o; do
	if [ "$check" = 1 ]; then
		if cmp -s "$out/$obj" "$root/bpf/$obj"; then
			echo "bpf/$obj matches its source"
		else
			echo "bpf/$obj is stale: run scripts/build-bpf.sh and commit the result" >&2
			status=1
		fi
	else
		echo "built ${out#$root/}/$obj ($(stat -c %s "$out/$obj") bytes) with $("$clang" --version | head -1)"
	fi
done
[ "$check" = 1 ] && rm -rf "$out"
exit $status
