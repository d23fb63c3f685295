#!/usr/bin/env bash
# Build position-independent static libbpf and libelf into deps/ so the addon
# links them in and needs nothing but libc at run time.
#
# Debian ships libbpf.a and libelf.a, but compiled as PIE code (libelf with
# local-exec TLS), which cannot go into a shared object such as a .node file.
# So this builds the same versions Debian packages (libbpf 1.1.2, elfutils
# 0.188) from Debian's source packages, with -fPIC. zlib's libz.a links as it is.
#
#   scripts/build-deps.sh          build deps/lib/{libbpf,libelf}.a unless present
#   scripts/build-deps.sh --force  rebuild
#
# Needs: root (apt-get source through a private list), gcc, make, pkg-config,
# libelf-dev and zlib1g-dev for headers. Takes ~20 s.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
deps="$root/deps"
force=0
[ "${1:-}" = "--force" ] && force=1

if [ "$force" = 0 ] && [ -f "$deps/lib/libbpf.a" ] && [ -f "$deps/lib/libelf.a" ]; then
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

echo "deps: fetching Debian source packages libbpf and elfutils"
apt-get "${apt_opts[@]}" update
(cd "$work" && apt-get "${apt_opts[@]}" source --download-only libbpf=1.1.2-0+deb12u1 elfutils=0.188-2.1)

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

echo "deps: building libelf (elfutils 0.188) with -fPIC"
elf=$(unpack elfutils)
(cd "$elf" && ./configure -q --disable-debuginfod --disable-libdebuginfod \
	--without-bzlib --without-lzma --without-zstd --disable-nls >/dev/null &&
	make -s -C lib -j"$jobs" >/dev/null && make -s -C libelf -j"$jobs" libelf_pic.a >/dev/null)
cp "$elf/libelf/libelf_pic.a" "$deps/lib/libelf.a"

echo "deps: building libbpf 1.1.2 with -fPIC"
bpf=$(unpack libbpf)
mkdir -p "$work/libbpf-obj"
make -s -C "$bpf/src" -j"$jobs" BUILD_STATIC_ONLY=1 OBJDIR="$work/libbpf-obj" \
	CFLAGS="-g -O2 -fPIC -Wall" DESTDIR="$deps" PREFIX= LIBDIR=/lib INCLUDEDIR=/include \
	install >/dev/null

rm -rf "$work"
echo "deps: built $(cd "$root" && ls deps/lib/*.a | tr '\n' ' ')"
