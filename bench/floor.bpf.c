// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The floor: empty programs on the hooks a monitor uses. Whatever a program
 * costs above these is its own; what these cost is the kernel's price for
 * having the hook at all (every task on the slow syscall path).
 *
 * Built by scripts/bench.js at run time, twice:
 *   -DFLOOR_WASMSHARK  raw_tp sys_enter + sys_exit, tp_btf sched fork/exec/exit
 *   -DFLOOR_BPFTRACE   the four syscall tracepoints of the seed's bpftrace probes
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#ifdef FLOOR_WASMSHARK
SEC("raw_tp/sys_enter")
int floor_sys_enter(void *ctx) { return 0; }

SEC("raw_tp/sys_exit")
int floor_sys_exit(void *ctx) { return 0; }

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
