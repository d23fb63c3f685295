/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The few kernel-internal types the probes read, declared with only the
 * fields used. preserve_access_index makes every access a CO-RE relocation,
 * so libbpf fixes the offsets up against the running kernel's BTF at load:
 * the layout here does not have to match any kernel.
 *
 * UAPI types (__u32, BPF_MAP_TYPE_*, ...) come from the system's linux/ headers.
 */
#ifndef WASMSHARK_KERNEL_TYPES_H
#define WASMSHARK_KERNEL_TYPES_H

#include <linux/types.h>

typedef _Bool bool;
enum { false = 0, true = 1 };
typedef int pid_t;

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

typedef struct {
	int counter;
} atomic_t;

struct pt_regs {
	unsigned long r10;
	unsigned long r9;
	unsigned long r8;
	unsigned long dx;
	unsigned long si;
	unsigned long di;
	unsigned long orig_ax;
	unsigned long ip;
	unsigned long sp;
};

struct socket {
	short type;
};

struct file {
	void *private_data;
};

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
};

struct files_struct {
	struct fdtable *fdt;
};

typedef struct {
	void *vdso;
} mm_context_t;

struct mm_struct {
	unsigned long arg_start;
	unsigned long arg_end;
	mm_context_t context;
};

struct signal_struct {
	atomic_t live;
};

struct thread_info {
	__u32 status;
};

struct task_struct {
	struct thread_info thread_info;
	int pid;
	int tgid;
	int exit_code;
	__u64 start_boottime;
	char comm[16];
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	struct mm_struct *mm;
	struct files_struct *files;
	struct signal_struct *signal;
};

struct vm_area_struct {
	unsigned long vm_start;
	unsigned long vm_end;
	unsigned long vm_flags;
	struct file *vm_file;
};

struct linux_binprm {
	int argc;
	const char *filename;
};

#pragma clang attribute pop

/* thread_info.status (arch/x86/include/asm/thread_info.h): a 32-bit syscall is active */
#define TS_COMPAT 0x0002

/* vm_flags bits (include/linux/mm.h), stable since the beginning */
#define VM_READ 0x1UL
#define VM_WRITE 0x2UL
#define VM_EXEC 0x4UL

#endif /* WASMSHARK_KERNEL_TYPES_H */
