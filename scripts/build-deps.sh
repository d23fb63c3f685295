#!/usr/bin/env bash
# Build position-independent static libbpf and libelf into deps/ so the addon
# links them in and needs nothing but libc at run time.
#
# Debian ships libbpf.a and libelf.a, but compiled as PIE code (libelf with
# local-exec TLS), which cannot go into a shared object such as a .node file.
# So this builds the same upstream versions Debian packages (libbpf 1.1.2,
# elfutils 0.188) from Debian's source packages, with -fPIC. zlib's libz.a
# links as it is. The Debian revision is not pinned: a point release replaces
# the old source on the mirror, so the newest source of the same upstream
# version is taken, its upstream version checked in the unpacked tree, and
# what was built recorded in deps/VERSIONS and deps/include/wasmshark_deps.h
# (compiled into the addon: `wasmshark --version --verbose`).
#
#   scripts/build-deps.sh          build deps/lib/{libbpf,libelf}.a and deps/VERSIONS unless present
#   scripts/build-deps.sh --force  rebuild
#
# Needs: root (apt-get source through a private list), gcc, make, pkg-config,
# libelf-dev and zlib1g-dev for headers. Takes ~20 s.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
deps="$root/deps"
force=0
[ "${1:-}" = "--force" ] && force=1

if [ "$force" = 0 ] && [ -f "$deps/lib/libbpf.a" ] && [ -f "$deps/lib/libelf.a" ] && [ -f "$deps/VERSIONS" ]; then
	echo "deps: deps/lib/libbpf.a and deps/lib/libelf.a present (--force to rebuild)"
	exit 0
fi

work="$deps/src"
rm -rf "$work"
mkdir -p "$work/apt-lists" "$deps/lib" "$deps/include"

# A private source list: the machine's own apt configuration is left as it is.
list="$work/sources.list"
: >"$list"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
	[ -f "$f" ] && sed -n 's/^deb /deb-src /p' "$f" >>"$list"
done
srcparts="$work/sources.d"
mkdir -p "$srcparts"
for f in /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] && sed 's/^Types: deb$/Types: deb-src/' "$f" >"$srcparts/$(basename "$f")"
done
apt_opts=(-o "Dir::Etc::sourcelist=$list" -o "Dir::Etc::sourceparts=$srcparts"
	-o "Dir::State::Lists=$work/apt-lists" -o "APT::Sandbox::User=root" -qq)

LIBBPF_UPSTREAM=1.1.2
ELFUTILS_UPSTREAM=0.188

# The newest Debian source version of package $1 whose upstream version is $2.
source_version() {
	apt-cache "${apt_opts[@]}" showsrc "$1" 2>/dev/null | sed -n 's/^Version: //p' |
		grep -E "^([0-9]+:)?$(printf '%s' "$2" | sed 's/\./\\./g')-" | sort -V | tail -n 1
}

echo "deps: fetching Debian source packages libbpf $LIBBPF_UPSTREAM and elfutils $ELFUTILS_UPSTREAM"
apt-get "${apt_opts[@]}" update
libbpf_src=$(source_version libbpf "$LIBBPF_UPSTREAM")
elfutils_src=$(source_version elfutils "$ELFUTILS_UPSTREAM")
if [ -z "$libbpf_src" ] || [ -z "$elfutils_src" ]; then
	echo "deps: no Debian source for libbpf $LIBBPF_UPSTREAM (found: ${libbpf_src:-none}) or elfutils $ELFUTILS_UPSTREAM (found: ${elfutils_src:-none}) in the configured suites" >&2
	exit 1
fi
(cd "$work" && apt-get "${apt_opts[@]}" source --download-only "libbpf=$libbpf_src" "elfutils=$elfutils_src")

# Upstream tarballs as Debian ships them. Debian's patches are left out: libbpf
# has none, and elfutils' touch its tools, tests and other ports, not Linux libelf.
unpack() { # name -> directory
	local name=$1 tarball
	tarball=$(ls "$work"/"$name"_*.orig.tar.* | grep -v '\.asc$')
	mkdir -p "$work/$name"
	tar -xf "$tarball" -C "$work/$name" --strip-components=1
	echo "$work/$name"
}

jobs=$(nproc)

# What the tarball holds must be the upstream version we build against.
check_version() { # name expected found
	if [ "$2" != "$3" ]; then
		echo "deps: $1 source is upstream version '$3', expected $2" >&2
		exit 1
	fi
}

echo "deps: building libelf (elfutils $ELFUTILS_UPSTREAM, Debian $elfutils_src) with -fPIC"
elf=$(unpack elfutils)
check_version elfutils "$ELFUTILS_UPSTREAM" "$(grep -m1 '^AC_INIT' "$elf/configure.ac" | grep -oE '\[[0-9][0-9.]*\]' | head -n1 | tr -d '[]')"
(cd "$elf" && ./configure -q --disable-debuginfod --disable-libdebuginfod \
	--without-bzlib --without-lzma --without-zstd --disable-nls >/dev/null &&
	make -s -C lib -j"$jobs" >/dev/null && make -s -C libelf -j"$jobs" libelf_pic.a >/dev/null)
cp "$elf/libelf/libelf_pic.a" "$deps/lib/libelf.a"

echo "deps: building libbpf $LIBBPF_UPSTREAM (Debian $libbpf_src) with -fPIC"
bpf=$(unpack libbpf)
# libbpf's headers carry major.minor only; the patch level is the release tarball's
check_version libbpf "$LIBBPF_UPSTREAM" "$(sed -n 's/^#define LIBBPF_MAJOR_VERSION \([0-9]*\)$/\1/p' "$bpf/src/libbpf_version.h").$(sed -n 's/^#define LIBBPF_MINOR_VERSION \([0-9]*\)$/\1/p' "$bpf/src/libbpf_version.h").${LIBBPF_UPSTREAM##*.}"
check_version "libbpf tarball" "$LIBBPF_UPSTREAM" "$(basename "$(ls "$work"/libbpf_*.orig.tar.* | grep -v '\.asc$')" | sed 's/^libbpf_//; s/\.orig\.tar\..*//')"
mkdir -p "$work/libbpf-obj"
make -s -C "$bpf/src" -j"$jobs" BUILD_STATIC_ONLY=1 OBJDIR="$work/libbpf-obj" \
	CFLAGS="-g -O2 -fPIC -Wall" DESTDIR="$deps" PREFIX= LIBDIR=/lib INCLUDEDIR=/include \
	install >/dev/null

sum() { sha256sum "$(ls "$work"/"$1"_*.orig.tar.* | grep -v '\.asc$')" | cut -c1-16; }
built="libbpf $LIBBPF_UPSTREAM (Debian source $libbpf_src, orig sha256 $(sum libbpf)…); elfutils $ELFUTILS_UPSTREAM (Debian source $elfutils_src, orig sha256 $(sum elfutils)…)"
printf '%s\n' "$built" | tr ';' '\n' | sed 's/^ //' >"$deps/VERSIONS"
printf '/* written by scripts/build-deps.sh */\n#define WASMSHARK_DEPS "%s"\n' "$built" >"$deps/include/wasmshark_deps.h"

rm -rf "$work"
echo "deps: built $(cd "$root" && ls deps/lib/*.a | tr '\n' ' ')"
