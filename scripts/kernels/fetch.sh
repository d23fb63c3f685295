#!/usr/bin/env bash
# fetch.sh - download Debian's stock cloud kernels for the BPF multi-kernel tests.
#
# For every requested kernel label the matching Debian suite is queried for the
# linux-image-cloud-amd64 metapackage, the kernel image package it depends on
# is downloaded, and its bzImage is unpacked to:
#
#   $CACHE/<label>/vmlinuz    the kernel image, bootable with qemu -kernel
#   $CACHE/<label>/version    the kernel release string (uname -r)
#   $CACHE/<label>/package    "<package> <package version>"
#   $CACHE/<label>/config     the kernel's build configuration
#
# Labels and suites: 5.10 -> bullseye, 6.1 -> bookworm, 6.12 -> trixie.
# Apt runs with a private configuration below $CACHE/.apt, so the machine's
# own apt sources, lists and caches are never touched.  Kernels already in the
# cache are skipped (use --force to resolve and download them again).
#
# Usage:
#   scripts/kernels/fetch.sh [--cache DIR] [--force] [KERNEL ...]
#     KERNEL   5.10, 6.1 or 6.12 (default: all three)
#     --cache  cache directory (default: $WASMSHARK_KERNEL_CACHE, else
#              <repo>/.cache/kernels)
#     --force  re-resolve and re-download even if the kernel is cached
#
# Environment:
#   WASMSHARK_KERNEL_CACHE          default cache directory
#   WASMSHARK_DEBIAN_MIRROR         Debian mirror (default: taken from
#                                   /etc/apt/sources*, else deb.debian.org)
#   WASMSHARK_DEBIAN_SECURITY_MIRROR  security mirror (same defaulting)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
ALL_LABELS=(5.10 6.1 6.12)
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

die() { echo "fetch.sh: error: $*" >&2; exit 1; }
warn() { echo "fetch.sh: warning: $*" >&2; }
usage() { sed -n '/^# Usage:/,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

suite_for() {
  case "$1" in
    5.10) echo bullseye ;;
    6.1) echo bookworm ;;
    6.12) echo trixie ;;
    *) return 1 ;;
  esac
}

CACHE="${WASMSHARK_KERNEL_CACHE:-$ROOT/.cache/kernels}"
FORCE=0
LABELS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --cache) [ $# -ge 2 ] || die "--cache needs a directory"; CACHE="$2"; shift 2 ;;
    --cache=*) CACHE="${1#--cache=}"; shift ;;
    --force) FORCE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) suite_for "$1" >/dev/null || die "unknown kernel '$1' (expected one of: ${ALL_LABELS[*]})"
       LABELS+=("$1"); shift ;;
  esac
done
[ ${#LABELS[@]} -gt 0 ] || LABELS=("${ALL_LABELS[@]}")

for tool in apt-get apt-cache dpkg-deb; do
  command -v "$tool" >/dev/null || die "'$tool' not found; this script needs a Debian-based host"
done
[ -r "$KEYRING" ] || die "$KEYRING missing; apt-get install debian-archive-keyring"

mkdir -p "$CACHE"
CACHE="$(cd "$CACHE" && pwd)"

# Print "URI SUITE" for every Debian entry of the host's apt sources, both the
# one-line (*.list) and the deb822 (*.sources) formats.
host_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    awk '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ }
                       print $i, $(i + 1) }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    awk 'function flush() { n = split(u, us, " "); m = split(s, ss, " ")
                            for (a = 1; a <= n; a++) for (b = 1; b <= m; b++) print us[a], ss[b]
                            u = ""; s = "" }
         /^[ \t]*$/ { flush(); next }
         /^URIs:/ { sub(/^URIs:[ \t]*/, ""); u = $0 }
         /^Suites:/ { sub(/^Suites:[ \t]*/, ""); s = $0 }
         END { flush() }' "$f"
  done
}

pick_mirror() { # $1 = regex on suite names; prints the first matching URI
  host_sources 2>/dev/null | awk -v re="$1" '$2 ~ re { print $1; exit }'
}

MIRROR="${WASMSHARK_DEBIAN_MIRROR:-$(pick_mirror '^(oldoldstable|oldstable|stable|testing|bullseye|bookworm|trixie|forky)$')}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
SEC_MIRROR="${WASMSHARK_DEBIAN_SECURITY_MIRROR:-$(pick_mirror '-security$')}"
SEC_MIRROR="${SEC_MIRROR:-http://deb.debian.org/debian-security}"
MIRROR="${MIRROR%/}"
SEC_MIRROR="${SEC_MIRROR%/}"

# Write a private apt configuration for one suite and refresh its lists.
# Sets APT_CONFIG for the caller.
apt_setup() {
  local suite="$1" dir log
  dir="$CACHE/.apt/$suite"
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/state" "$dir/empty.d"
  : > "$dir/status"
  {
    echo "deb [signed-by=$KEYRING] $MIRROR $suite main"
    echo "deb [signed-by=$KEYRING] $MIRROR $suite-updates main"
    echo "deb [signed-by=$KEYRING] $SEC_MIRROR $suite-security main"
  } > "$dir/sources.list"
  # APT_CONFIG is read before the system configuration directories, so
  # pointing those at nothing here keeps every host setting and hook out.
  {
    echo "Dir::Etc::main \"$dir/empty.d/none\";"
    echo "Dir::Etc::parts \"$dir/empty.d\";"
    echo "Dir::Etc::sourcelist \"$dir/sources.list\";"
    echo "Dir::Etc::sourceparts \"$dir/empty.d\";"
    echo "Dir::Etc::preferences \"$dir/empty.d/none\";"
    echo "Dir::Etc::preferencesparts \"$dir/empty.d\";"
    echo "Dir::State \"$dir/state\";"
    echo "Dir::State::Lists \"$dir/lists\";"
    echo "Dir::State::status \"$dir/status\";"
    echo "Dir::Cache \"$dir/cache\";"
    echo "Dir::Cache::pkgcache \"\";"
    echo "Dir::Cache::srcpkgcache \"\";"
    echo "Dir::Log \"$dir/state\";"
    echo "APT::Architecture \"amd64\";"
    echo "APT::Architectures { \"amd64\"; };"
    echo "APT::Sandbox::User \"root\";"
    echo "Acquire::Languages \"none\";"
    echo "Acquire::GzipIndexes \"true\";"
    echo "Acquire::Retries \"1\";"
    echo "Acquire::http::Timeout \"30\";"
    echo "Acquire::https::Timeout \"30\";"
    # Snapshot mirrors serve Release files whose Valid-Until has passed.
    case "$MIRROR $SEC_MIRROR" in
      *snapshot.debian.org*) echo "Acquire::Check-Valid-Until \"false\";" ;;
    esac
  } > "$dir/apt.conf"
  export APT_CONFIG="$dir/apt.conf"

  log="$dir/update.log"
  apt-get -q update > "$log" 2>&1 || true
  # The base suite is required; -updates/-security only add newer kernels.
  if ! compgen -G "$dir/lists/*_dists_${suite}_main_binary-amd64_Packages*" >/dev/null; then
    die "cannot reach Debian suite '$suite' at $MIRROR (details: $log)"
  fi
  local extra
  for extra in "$suite-updates" "$suite-security"; do
    compgen -G "$dir/lists/*_dists_${extra}_*Release" >/dev/null ||
      warn "suite '$extra' unavailable, using '$suite' without it (details: $log)"
  done
}

fetch_one() {
  local label="$1" suite dest tmp pkg ver deb vmlinuz release
  suite="$(suite_for "$label")"
  dest="$CACHE/$label"
  if [ "$FORCE" = 0 ] && [ -s "$dest/vmlinuz" ] && [ -s "$dest/version" ]; then
    printf '%-5s %-9s %s (cached: %s)\n' "$label" "$suite" "$(cat "$dest/version")" \
      "$(cat "$dest/package" 2>/dev/null || echo unknown)"
    return 0
  fi

  apt_setup "$suite"
  pkg="$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
         awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')"
  [ -n "$pkg" ] || die "could not resolve linux-image-cloud-amd64 in suite '$suite'"
  ver="$(apt-cache show --no-all-versions "$pkg" 2>/dev/null | awk '$1 == "Version:" { print $2; exit }')"
  [ -n "$ver" ] || die "no installable version of $pkg in suite '$suite'"

  tmp="$CACHE/.tmp-$label"
  rm -rf "$tmp"
  mkdir -p "$tmp/root"
  ( cd "$tmp" && apt-get -q download "$pkg=$ver" > download.log 2>&1 ) ||
    die "download of $pkg=$ver failed (details: $tmp/download.log)"
  deb="$(compgen -G "$tmp/*.deb" | head -n 1)"
  [ -n "$deb" ] || die "download of $pkg=$ver produced no .deb"
  dpkg-deb -x "$deb" "$tmp/root"
  vmlinuz="$(compgen -G "$tmp/root/boot/vmlinuz-*" | head -n 1)"
  [ -n "$vmlinuz" ] || die "$pkg has no /boot/vmlinuz-*"
  release="${vmlinuz##*/vmlinuz-}"

  rm -rf "$dest"
  mkdir -p "$dest"
  cp "$vmlinuz" "$dest/vmlinuz"
  [ -f "$tmp/root/boot/config-$release" ] && cp "$tmp/root/boot/config-$release" "$dest/config"
  echo "$release" > "$dest/version"
  echo "$pkg $ver" > "$dest/package"
  printf '%s\n' "$(stat -c %s "$deb")" > "$dest/deb-size"
  rm -rf "$tmp" "$CACHE/.apt/$suite/lists" "$CACHE/.apt/$suite/cache"
  printf '%-5s %-9s %s (downloaded: %s %s)\n' "$label" "$suite" "$release" "$pkg" "$ver"
}

for label in "${LABELS[@]}"; do
  fetch_one "$label"
done
