#!/usr/bin/env bash
# run.sh - run a payload inside Debian's stock kernels under qemu.
#
# Boots every requested kernel (fetched with fetch.sh into the kernel cache)
# in qemu with software emulation (TCG, 2 vCPUs, 1 GiB) and a small busybox
# initramfs.  The initramfs holds PAYLOAD_DIR's contents at /payload and an
# /init that mounts proc, sysfs, devtmpfs, devpts, tracefs, debugfs,
# securityfs, bpffs and cgroup2, then runs `cd /payload && CMD ARGS` as root
# with stdin from /dev/null, and powers the VM off.
#
# The payload's stdout+stderr travel on their own serial port (ttyS1, raw
# mode), separate from the kernel console (ttyS0), so kernel messages never
# mix into it.  Per kernel label this writes:
#   $OUT/<label>.log   whole console log (kernel messages, the
#                      "@@KERNEL-START <release> <uptime>" and
#                      "@@KERNEL-EXIT <code>" marker lines, qemu errors)
#   $OUT/<label>.out   exactly what the payload printed (carriage returns
#                      removed)
# and prints one summary line per kernel (also saved as $OUT/summary.txt; a
# kernel that did not boot is booted once more, and its last line counts):
#   <label> <release> boot=<s> total=<s> exit=<code> <ok|FAIL reason>
# where boot is the time from starting qemu to the start marker.  The exit
# status is non-zero if any kernel did not boot, timed out or the payload
# exited non-zero.
#
# Usage:
#   scripts/kernels/run.sh [--kernels 5.10,6.1,6.12] [--timeout SECS]
#                          [--out DIR] [--cache DIR] PAYLOAD_DIR -- CMD [ARGS...]
#     --kernels  comma-separated labels (default: 5.10,6.1,6.12); missing
#                kernels are fetched with fetch.sh first
#     --timeout  seconds per kernel before qemu is killed (default: 240)
#     --out      output directory (default: <cache>/out)
#     --cache    kernel cache (default: $WASMSHARK_KERNEL_CACHE, else
#                <repo>/.cache/kernels); initramfs images are kept in
#                <cache>/initramfs, keyed on their content
#   Example:
#     scripts/kernels/run.sh --kernels 6.1 ./build/probe -- ./probe --verbose
#
# Environment:
#   WASMSHARK_KERNEL_CACHE   default cache directory
#   WASMSHARK_BUSYBOX        static busybox binary (default: /bin/busybox)
#   WASMSHARK_VM_MEMORY      guest memory in MiB (default: 1024)
#   WASMSHARK_VM_CPUS        virtual CPUs (default: 1; with 2, TCG once let a CPU run
#                            code another was patching: "Oops: int3" in do_exit while
#                            the probes' tracepoints were being switched off)
#   WASMSHARK_KERNEL_APPEND  extra kernel command line arguments
#
# Needs: apt-get install qemu-system-x86 busybox-static cpio
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
# Bump when the image layout or /init changes, to invalidate cached images.
IMAGE_FORMAT=1

die() { echo "run.sh: error: $*" >&2; exit 2; }
note() { echo "run.sh: $*" >&2; }
usage() { sed -n '/^# Usage:/,/^# Environment:/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

CACHE="${WASMSHARK_KERNEL_CACHE:-$ROOT/.cache/kernels}"
KERNELS="5.10,6.1,6.12"
TIMEOUT=240
OUT=""
PAYLOAD=""
while [ $# -gt 0 ]; do
  case "$1" in
    --kernels|--timeout|--out|--cache)
      [ $# -ge 2 ] || die "$1 needs a value"
      case "$1" in
        --kernels) KERNELS="$2" ;; --timeout) TIMEOUT="$2" ;;
        --out) OUT="$2" ;; --cache) CACHE="$2" ;;
      esac
      shift 2 ;;
    --kernels=*) KERNELS="${1#*=}"; shift ;;
    --timeout=*) TIMEOUT="${1#*=}"; shift ;;
    --out=*) OUT="${1#*=}"; shift ;;
    --cache=*) CACHE="${1#*=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) [ -z "$PAYLOAD" ] || die "unexpected argument '$1' (did you forget '--' before the command?)"
       PAYLOAD="$1"; shift ;;
  esac
done
[ -n "$PAYLOAD" ] || die "missing PAYLOAD_DIR (see --help)"
[ -d "$PAYLOAD" ] || die "payload directory '$PAYLOAD' does not exist"
[ $# -gt 0 ] || die "missing command after '--' (see --help)"
[[ "$TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive number of seconds"
IFS=, read -r -a LABELS <<< "$KERNELS"
[ ${#LABELS[@]} -gt 0 ] || die "--kernels is empty"
for label in "${LABELS[@]}"; do
  case "$label" in 5.10|6.1|6.12) ;; *) die "unknown kernel '$label' (expected 5.10, 6.1 or 6.12)" ;; esac
done

command -v qemu-system-x86_64 >/dev/null ||
  die "qemu-system-x86_64 not found; apt-get install qemu-system-x86 busybox-static"
command -v cpio >/dev/null || die "cpio not found; apt-get install cpio"
BUSYBOX="${WASMSHARK_BUSYBOX:-/bin/busybox}"
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found; apt-get install busybox-static"
# A dynamically linked busybox would need its libraries inside the image.
if head -c 8192 "$BUSYBOX" | grep -aq '/lib64/ld-linux'; then
  die "$BUSYBOX is dynamically linked; apt-get install busybox-static"
fi
MEMORY="${WASMSHARK_VM_MEMORY:-1024}"
CPUS="${WASMSHARK_VM_CPUS:-1}"

mkdir -p "$CACHE"
CACHE="$(cd "$CACHE" && pwd)"
OUT="${OUT:-$CACHE/out}"
mkdir -p "$OUT"
PAYLOAD="$(cd "$PAYLOAD" && pwd)"

# Fetch any kernel that is not cached yet.
missing=()
for label in "${LABELS[@]}"; do
  [ -s "$CACHE/$label/vmlinuz" ] && [ -s "$CACHE/$label/version" ] || missing+=("$label")
done
if [ ${#missing[@]} -gt 0 ]; then
  "$SCRIPT_DIR/fetch.sh" --cache "$CACHE" "${missing[@]}" >&2 || exit 2
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/wasmshark-kernels.XXXXXX")"
QEMU_PID=""
# shellcheck disable=SC2317  # invoked through the traps below
cleanup() {
  if [ -n "$QEMU_PID" ]; then kill "$QEMU_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
# initramfs

# The guest's /init.  Marker lines go to the console; the payload's output
# goes to ttyS1 only.
write_init() {
  cat <<'INIT'
#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TERM=dumb
say() { echo "$*" > /dev/console; }
try_mount() { # TYPE DIR
  mkdir -p "$2"
  mount -t "$1" "$1" "$2" 2>/dev/null || say "@@KERNEL-NOTE cannot mount $1 at $2"
}
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
try_mount devpts /dev/pts
try_mount tmpfs /dev/shm
try_mount tracefs /sys/kernel/tracing
try_mount debugfs /sys/kernel/debug
try_mount securityfs /sys/kernel/security
try_mount bpf /sys/fs/bpf
try_mount cgroup2 /sys/fs/cgroup
mkdir -p /tmp /run /root
chmod 1777 /tmp
ln -sf /proc/self/fd /dev/fd 2>/dev/null
hostname wasmshark-vm 2>/dev/null
if [ ! -c /dev/ttyS1 ] || ! stty -F /dev/ttyS1 raw -echo; then
  say "@@KERNEL-ERROR no usable /dev/ttyS1 for the payload output"
  rc=125
else
  say "@@KERNEL-START $(uname -r) $(cut -d' ' -f1 /proc/uptime)"
  (cd /payload && exec sh /etc/payload.sh) < /dev/null > /dev/ttyS1 2>&1
  rc=$?
fi
# Drop init's own console handles: the marker's open is then the last one,
# and closing it waits until the UART has sent everything.
exec < /dev/null > /dev/null 2>&1
echo "@@KERNEL-EXIT $rc" > /dev/console
# That close does not wait for the UART when something else still holds the
# console (a child the payload left behind): give it a moment to drain, or
# the marker can be lost with the power.
sleep 1
poweroff -f
echo o > /proc/sysrq-trigger
sleep 10
INIT
}

# Quote each argument for the guest's POSIX shell.
write_payload_cmd() {
  local arg out="exec"
  for arg in "$@"; do
    out+=" '${arg//\'/\'\\\'\'}'"
  done
  printf '%s\n' "$out"
}

build_initramfs() {
  local key dir img stage path
  dir="$CACHE/initramfs"
  mkdir -p "$dir"
  write_init > "$WORK/init"
  write_payload_cmd "$@" > "$WORK/payload.sh"
  key="$({
    echo "format $IMAGE_FORMAT"
    sha256sum < "$BUSYBOX"
    sha256sum < "$WORK/init"
    sha256sum < "$WORK/payload.sh"
    tar -C "$PAYLOAD" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - . | sha256sum
  } | sha256sum | cut -c1-24)"
  img="$dir/$key.cpio"
  if [ -s "$img" ]; then
    touch "$img"
    echo "$img"
    return 0
  fi
  stage="$WORK/stage"
  rm -rf "$stage"
  mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,etc,payload}
  cp "$BUSYBOX" "$stage/bin/busybox"
  chmod 0755 "$stage/bin/busybox"
  "$BUSYBOX" --list-full | while read -r path; do
    [ "$path" = bin/busybox ] && continue
    mkdir -p "$stage/$(dirname "$path")"
    ln -sf /bin/busybox "$stage/$path"
  done
  install -m 0755 "$WORK/init" "$stage/init"
  install -m 0644 "$WORK/payload.sh" "$stage/etc/payload.sh"
  cp -a "$PAYLOAD/." "$stage/payload/"
  ( cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
      cpio -o -H newc -R 0:0 --reproducible --quiet ) > "$img.tmp"
  mv "$img.tmp" "$img"
  rm -rf "$stage"
  # Keep only the most recent images.
  find "$dir" -maxdepth 1 -name '*.cpio' -printf '%T@ %p\n' | sort -rn | tail -n +11 |
    cut -d' ' -f2- | while read -r path; do rm -f "$path"; done
  echo "$img"
}

# ---------------------------------------------------------------------------
# qemu

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

run_kernel() { # LABEL IMAGE; prints the summary line, returns non-zero on failure
  local label="$1" img="$2" kdir="$CACHE/$1" release console payload_raw qerr
  local t0 tstart="" tend qrc=0 code="" status="ok" boot="-"
  release="$(cat "$kdir/version")"
  console="$WORK/$label.console"
  payload_raw="$WORK/$label.payload"
  qerr="$WORK/$label.qemu"
  rm -f "$console" "$payload_raw" "$qerr"
  : > "$console"
  : > "$payload_raw"

  t0="$(now)"
  timeout --kill-after=5 "$TIMEOUT" qemu-system-x86_64 \
    -accel tcg -cpu max -smp "$CPUS" -m "$MEMORY" \
    -nodefaults -no-user-config -display none -no-reboot \
    -serial "file:$console" -serial "file:$payload_raw" \
    -kernel "$kdir/vmlinuz" -initrd "$img" \
    -append "console=ttyS0 8250.nr_uarts=4 panic=-1 quiet ${WASMSHARK_KERNEL_APPEND:-}" \
    < /dev/null > "$qerr" 2>&1 &
  QEMU_PID=$!
  while kill -0 "$QEMU_PID" 2>/dev/null; do
    if [ -z "$tstart" ] && grep -aq '@@KERNEL-START' "$console"; then
      tstart="$(now)"
    fi
    sleep 0.1
  done
  wait "$QEMU_PID" || qrc=$?
  QEMU_PID=""
  tend="$(now)"
  if [ -z "$tstart" ] && grep -aq '@@KERNEL-START' "$console"; then tstart="$tend"; fi

  tr -d '\r' < "$console" > "$OUT/$label.log"
  if [ -s "$qerr" ]; then sed 's/^/qemu: /' "$qerr" >> "$OUT/$label.log"; fi
  tr -d '\r' < "$payload_raw" > "$OUT/$label.out"

  [ -n "$tstart" ] && boot="$(elapsed "$t0" "$tstart")"
  code="$(grep -ao '@@KERNEL-EXIT [0-9]*' "$OUT/$label.log" | tail -n 1 | cut -d' ' -f2 || true)"
  if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
    status="FAIL timeout after ${TIMEOUT}s"
  elif [ -z "$tstart" ]; then
    status="FAIL did not boot (qemu exit $qrc)"
  elif [ -z "$code" ]; then
    status="FAIL no exit marker (qemu exit $qrc; console ends: $(grep -av '^\s*$' "$OUT/$label.log" | tail -n 2 | tr '\n' '|' | cut -c1-200))"
  elif [ "$code" != 0 ]; then
    status="FAIL payload exit $code"
  fi
  if grep -aq '@@KERNEL-ERROR' "$OUT/$label.log"; then
    status="FAIL $(grep -ao '@@KERNEL-ERROR.*' "$OUT/$label.log" | head -n 1 | cut -d' ' -f2-)"
  fi
  printf '%-5s %-27s boot=%-6s total=%-6s exit=%-4s %s\n' "$label" "$release" \
    "${boot}s" "$(elapsed "$t0" "$tend")s" "${code:--}" "$status" | tee -a "$OUT/summary.txt"
  [ "$status" = ok ]
}

IMG="$(build_initramfs "$@")"
note "initramfs $IMG ($(du -h "$IMG" | cut -f1))"
: > "$OUT/summary.txt"
failed=0
for label in "${LABELS[@]}"; do
  if run_kernel "$label" "$IMG"; then continue; fi
  # A kernel that panics before init (under a loaded host, TCG can fail the
  # kernel's early timer check) gets one more boot; the summary keeps the last.
  if tail -n 1 "$OUT/summary.txt" | grep -q 'FAIL did not boot'; then
    note "$label did not boot; booting it once more"
    sed -i '$d' "$OUT/summary.txt"
    run_kernel "$label" "$IMG" || failed=1
  else
    failed=1
  fi
done
exit "$failed"
