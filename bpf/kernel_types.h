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
	/* the 32-bit ABI's arguments: ebx, ecx, edx, esi, edi, ebp */
	unsigned long bx;
	unsigned long cx;
	unsigned long bp;
};

struct sock;
struct socket {
	short type;
	struct sock *sk;
};

struct qstr {
	__u32 len;
	const unsigned char *name;
};

struct super_block {
	__u32 s_dev;
	unsigned long s_magic;
};

struct inode {
	unsigned short i_mode;
	unsigned int i_nlink;
	unsigned long i_ino;
	__u32 i_generation;
	struct super_block *i_sb;
};

struct inode;
struct dentry {
	struct dentry *d_parent;
	struct qstr d_name;
	struct inode *d_inode;
};

struct vfsmount {
	struct dentry *mnt_root;
};

/* the kernel's own mount, around the vfsmount a path holds: how a path crosses mount points */
struct mount {
	struct mount *mnt_parent;
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
};

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
};

struct file {
	void *private_data;
	struct path f_path;
	struct inode *f_inode;
	unsigned int f_flags;
	unsigned int f_mode;
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
	struct fs_struct *fs;
	struct signal_struct *signal;
	void *stack;
};

struct vm_area_struct {
	unsigned long vm_start;
	unsigned long vm_end;
	unsigned long vm_flags;
	struct file *vm_file;
};

/*
 * Before the maple tree (6.1) a process's VMAs hang in a red-black tree; the
 * legacy object walks it where bpf_find_vma() is missing (before 5.17).
 * The ___rb flavours match the kernel's mm_struct and vm_area_struct.
 */
struct rb_node {
	struct rb_node *rb_right;
	struct rb_node *rb_left;
};

struct rb_root {
	struct rb_node *rb_node;
};

struct mm_struct___rb {
	struct rb_root mm_rb;
};

struct vm_area_struct___rb {
	struct rb_node vm_rb;
};

struct linux_binprm {
	int argc;
	const char *filename;
};
/* a process's working directory: where a relative path in a path-changing syscall starts */
struct fs_struct {
	struct path pwd;
};
/* ---- io_uring (read at completion; the fields exist from 5.19/6.0 on) ---- */
struct io_cqe {
	__s32 res;
};
/* the per-operation data of a request (6.0 on) */
struct io_cmd_data {
	struct file *file;
};
struct io_kiocb {
	struct file *file;
	struct io_cmd_data cmd;
	__u8 opcode;
	struct io_cqe cqe;
};
/* an OPENAT/OPENAT2 request's data: a non-zero file_slot opens into the ring's fixed files, not the fd table */
struct io_open {
	__u32 file_slot;
};
/* rename/link/symlink/unlink requests hold kernel copies of their names */
struct filename {
	const char *name;
};
struct io_rename {
	int new_dfd;
	struct filename *oldpath;
	struct filename *newpath;
};
struct io_unlink {
	int dfd;
	struct filename *filename;
};
/* symlinkat and linkat requests */
struct io_link {
	int new_dfd;
	struct filename *oldpath;
	struct filename *newpath;
};
struct io_socket {
	int domain;
	int type;
};
/* the caller's address; the kernel copies it when it issues the request */
struct io_connect {
	void *addr;
	int addr_len;
};
/* a socket's peer, as connect() left it (the *_daddr fields sit in anonymous unions: CO-RE finds them) */
struct in6_addr___ws {
	__u8 s6_addr[16];
};
struct sock_common {
	unsigned short skc_family;
	__u32 skc_daddr;
	__u16 skc_dport;
	struct in6_addr___ws skc_v6_daddr;
};
struct sock {
	struct sock_common __sk_common;
};

#pragma clang attribute pop

/* thread_info.status (arch/x86/include/asm/thread_info.h): a 32-bit syscall is active */
#define TS_COMPAT 0x0002

/* vm_flags bits (include/linux/mm.h), stable since the beginning */
#define VM_READ 0x1UL
#define VM_WRITE 0x2UL
#define VM_EXEC 0x4UL

/* i_mode file types (include/uapi/linux/stat.h) */
#define S_IFMT 00170000
#define S_IFDIR 0040000
#define S_IFSOCK 0140000

/* superblock magics (include/uapi/linux/magic.h) */
#define TMPFS_MAGIC 0x01021994
#define HUGETLBFS_MAGIC 0x958458f6
#define PROC_SUPER_MAGIC 0x9fa0

/* file->f_mode (include/linux/fs.h) and f_flags */
#define FMODE_WRITE 0x2
#define O_PATH 010000000

#endif /* WASMSHARK_KERNEL_TYPES_H */
