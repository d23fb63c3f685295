// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The floor: empty programs on the hooks a monitor uses. Whatever a program
 * costs above these is its own; what these cost is the kernel's price for
 * having the hook at all (every task on the slow syscall path).
 *
 * Built by scripts/bench.js at run time:
 *   -DFLOOR_WASMSHARK  raw_tp sys_enter + sys_exit, tp_btf sched fork/exec/exit
 *   -DFLOOR_BPFTRACE   the four syscall tracepoints of the seed's bpftrace probes
 *   -DFLOOR_LOOKUP     (with FLOOR_WASMSHARK, for --explain) what wasmshark does
 *                      for a syscall of a process it does not follow: one hash
 *                      lookup of the tgid at entry, one load of a global at exit
 *   -DFLOOR_BITMAP     (with FLOOR_LOOKUP) a proposed cheaper test: one bit per
 *                      tgid in an array map (lookups the verifier inlines), the
 *                      hash lookup only when the bit is set
 *   -DFLOOR_EXIT_TP    (with FLOOR_WASMSHARK) raw sys_exit replaced by the exit
 *                      tracepoints of the seven syscalls wasmshark needs a
 *                      result from: a program runs at exit only for those
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#ifdef FLOOR_WASMSHARK
#ifdef FLOOR_LOOKUP
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u64[16]);
} targets SEC(".maps");

__u64 pending = 0;

#ifdef FLOOR_BITMAP
/* bit (tgid & 63) of word (tgid >> 6): 65536 words cover pid_max 4194304 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u64);
} followed SEC(".maps");
#endif

SEC("tp_btf/sys_enter")
int floor_sys_enter(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
#ifdef FLOOR_BITMAP
	__u32 word = tgid >> 6;
	__u64 *bits = bpf_map_lookup_elem(&followed, &word);

	if (!bits || !(*bits & (1ULL << (tgid & 63))))
		return 0;
#endif
	return bpf_map_lookup_elem(&targets, &tgid) ? 1 : 0;
}

SEC("tp_btf/sys_exit")
int floor_sys_exit(void *ctx) { return pending ? 1 : 0; }
#else
SEC("tp_btf/sys_enter")
int floor_sys_enter(void *ctx) { return 0; }

#ifdef FLOOR_EXIT_TP
SEC("tracepoint/syscalls/sys_exit_mmap")
int floor_exit_mmap(void *ctx) { return 0; }

SEC("tracepoint/syscalls/sys_exit_mprotect")
int floor_exit_mprotect(void *ctx) { return 0; }

SEC("tracepoint/syscalls/sys_exit_pkey_mprotect")
int floor_exit_pkey_mprotect(void *ctx) { return 0; }

SEC("tracepoint/syscalls/sys_exit_execve")
int floor_exit_execve(void *ctx) { return 0; }

SEC("tracepoint/syscalls/sys_exit_execveat")
int floor_exit_execveat(void *ctx) { return 0; }

SEC("tracepoint/syscalls/sys_exit_connect")
int floor_exit_connect(void *ctx) { return 0; }

SEC("tracepoint/syscalls/sys_exit_memfd_create")
int floor_exit_memfd_create(void *ctx) { return 0; }
#else
SEC("tp_btf/sys_exit")
int floor_sys_exit(void *ctx) { return 0; }
#endif
#endif

SEC("tp_btf/sched_process_fork")
int floor_fork(void *ctx) { return 0; }

SEC("tp_btf/sched_process_exec")
int floor_exec(void *ctx) { return 0; }

SEC("tp_btf/sched_process_exit")
int floor_exit(void *ctx) { return 0; }
#endif

#ifdef FLOOR_BPFTRACE
SEC("tracepoint/syscalls/sys_enter_execve")
int floor_execve(void *ctx) { return 0; }

SEC("tracepoint/syscalls/sys_enter_mmap")
int floor_mmap(void *ctx) { return 0; }

SEC("tracepoint/syscalls/sys_enter_mprotect")
int floor_mprotect(void *ctx) { return 0; }

SEC("tracepoint/syscalls/sys_enter_connect")
int floor_connect(void *ctx) { return 0; }
#endif
