#!/usr/bin/env bash
# Rebuild bpf/wasmshark.bpf.o from source (CO-RE, one object for every kernel with BTF).
# The object is committed; users never need clang. CI runs this with --check to prove
# the committed object is what the source builds to.
#
#   scripts/build-bpf.sh            rebuild bpf/wasmshark.bpf.o
#   scripts/build-bpf.sh --check    rebuild into a temp file and compare with the committed one
#   scripts/build-bpf.sh --out F    write the object to F
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
clang=${CLANG:-$(command -v clang-14 || command -v clang)}
strip=${LLVM_STRIP:-$(command -v llvm-strip-14 || command -v llvm-strip)}
arch_inc=/usr/include/$(uname -m)-linux-gnu

out="$root/bpf/wasmshark.bpf.o"
check=0
while [ $# -gt 0 ]; do
	case "$1" in
	--check) check=1 ;;
	--out) out=$2; shift ;;
	*) echo "build-bpf: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ "$check" = 1 ] && out=$(mktemp --suffix=.bpf.o)

# Relative paths only: the object's BTF line info must not depend on where the tree lives.
cd "$root/bpf"
"$clang" -g -O2 -target bpf -D__TARGET_ARCH_x86 -I"$arch_inc" -I. \
	-Wall -Werror -Wno-unused-function -fdebug-prefix-map="$PWD"=. \
	-c wasmshark.bpf.c -o "$out"
# Drop DWARF, keep .BTF and .BTF.ext (CO-RE relocations live there).
"$strip" -g "$out"

if [ "$check" = 1 ]; then
	if cmp -s "$out" "$root/bpf/wasmshark.bpf.o"; then
		echo "bpf/wasmshark.bpf.o matches its source"
		rm -f "$out"
	else
		echo "bpf/wasmshark.bpf.o is stale: run scripts/build-bpf.sh and commit the result" >&2
		rm -f "$out"
		exit 1
	fi
else
	echo "built ${out#$root/} ($(stat -c %s "$out") bytes) with $("$clang" --version | head -1)"
fi
