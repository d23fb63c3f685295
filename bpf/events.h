/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Records the kernel side hands to user space through the ring buffer.
 *
 * Every record is fixed-size and pointer-free and starts with struct ev_hdr.
 * This header is the single source of truth for the layout: the addon
 * static_asserts sizes and offsets, and src/sources/bpf/layout.ts mirrors
 * them (test/10.decode checks the mirror against the numbers printed by
 * scripts/print-layout.c).
 */
#ifndef WASMSHARK_EVENTS_H
#define WASMSHARK_EVENTS_H

#define WS_COMM_LEN 16
#define WS_PATH_LEN 256     /* exec filename / image, memfd name */
#define WS_MAX_ARGS 8       /* argv slots captured per exec */
#define WS_ARG_LEN 128      /* bytes per argv slot, NUL included */
#define WS_SUN_PATH_LEN 108 /* sizeof(((struct sockaddr_un *)0)->sun_path) */
#define WS_MAX_SYSCALLS 512 /* syscall counter slots; x86_64 numbers stay below */
#define WS_STACK_WORDS 16   /* user stack words captured with memory events (call-site attribution) */
#define WS_CODE_CACHE 4     /* file-backed code ranges remembered per target (syscall-site check) */
#define WS_STACK_DEPTH 32   /* user frames walked (frame pointers) for an EV_STACK record */
#define WS_STACK_SCAN_WORDS 1024 /* user stack words copied when the walk came up short (8 KiB) */
#define WS_STACK_SCAN_BELOW 8    /* a walk of fewer frames than this copies the stack too */

/* ev_hdr.type */
enum ev_type {
	EV_MMAP = 1,          /* mmap() with PROT_EXEC */
	EV_MPROTECT = 2,      /* mprotect() adding PROT_EXEC, or PROT_WRITE to executable memory */
	EV_PKEY_MPROTECT = 3, /* pkey_mprotect(), same condition */
	EV_EXEC = 4,          /* execve()/execveat(), after it succeeded or failed */
	EV_CONNECT = 5,       /* connect(), after it returned */
	EV_MEMFD = 6,         /* memfd_create(), after it returned */
	EV_FORK = 7,          /* a target created a process or thread; a new process joined the set */
	EV_EXIT = 8,          /* the last thread of a target process exited; it left the set */
	EV_ANON_SYSCALL = 9,  /* a syscall issued from anonymous executable memory (not a file, not the vDSO) */
	EV_SYSCALL = 10,      /* a syscall a WASM runtime has no use for: io_uring_setup, ptrace, module loading, ... */
	EV_OPEN = 11,         /* a file a target opened (open, openat, openat2, creat, open_by_handle_at) */
	EV_PATH = 12,         /* a name changed: rename, link, symlink, unlink, truncate (at entry, or an io_uring request's completion) */
	EV_STACK = 13,        /* the user stack of the event reserved just before it (same tid and ts_ns) */
	EV_TYPE_MAX = 14,
};

/* ev_exec.flags */
#define WS_EXEC_AT 0x1        /* execveat() rather than execve() */
#define WS_EXEC_STDIO_SOCKET 0x10 /* the new image's stdin or stdout is a TCP/UDP socket (a shell served over the network) */
#define WS_EXEC_HOST 0x8      /* an exec by a process nobody follows (watch_execs): a candidate target */
#define WS_EXEC_NO_ENTER 0x2  /* the entry was not seen: filename is the kernel's */
#define WS_EXEC_ARGS_RAW 0x4  /* argv holds the new image's argument block (args_len bytes of
                                 NUL-separated strings) rather than one string per slot */

/* ev_fork.flags */
#define WS_FORK_THREAD 0x1    /* CLONE_THREAD: a thread of the same process */

/* ev_file.flags */
#define WS_FILE_MEMFD 0x1     /* an in-memory file from memfd_create: no directory holds it */
#define WS_FILE_DETACHED 0x2  /* its dentry is in no directory (memfd, other pseudo files): path is its name alone */
#define WS_FILE_TRUNCATED 0x4 /* the path did not fit: its leading part is missing */

/* ev_open.flags */
#define WS_OPEN_PROC_MEM 0x1  /* a /proc/PID/mem file (procfs, named "mem") */
#define WS_OPEN_URING 0x2     /* opened by an io_uring request (IORING_OP_OPENAT/OPENAT2), not a syscall */

/* ev_connect.flags, ev_syscall.flags, ev_path.flags: made by an io_uring request rather than its syscall */
#define WS_VIA_URING 0x100

/* ev_path.flags */
#define WS_PATH_FILE 0x1      /* `at` is the file itself (ftruncate), not the directory a relative name starts from */
#define WS_PATH_AT 0x2        /* `at` holds the directory a relative name starts from (cwd or dfd) */

/* ev_anon_syscall.flags */
#define WS_SITE_MEMFD 0x1     /* the syscall instruction is in a mapping of a memfd, not anonymous memory */

/* ev_mem.placed */
#define WS_PLACED_IMAGE 0x1   /* mmap: the page below maps the same file: a segment of a loaded
                                 image, as a dynamic loader lays one out */

/* ev_mem.old_flags when the kernel could not look the mapping up */
#define WS_VM_UNKNOWN 0xffffffffffffffffULL

struct ev_hdr {
	__u16 type;             /* enum ev_type */
	__u16 size;             /* whole record, this header included */
	__u32 tid;
	__u64 ts_ns;            /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 tgid;
	__u32 ppid;             /* tgid of real_parent */
	__u32 uid;
	__s32 ret;              /* syscall result: fd, 0 or -errno (mmap: 0 or -errno, address in ev_mem.result) */
	__u64 ip;               /* user-space instruction pointer at the syscall, 0 if unknown */
	char comm[WS_COMM_LEN];
};

/*
 * The file behind an fd or a mapping, read from the kernel's own objects when
 * the syscall returned: what was opened or mapped, not a path string the
 * caller passed (relative paths, symlinks, /proc/self and dfds are resolved).
 */
struct ev_file {
	__u64 ino;
	__u32 dev;              /* the superblock's device (kernel encoding: major << 20 | minor) */
	__u32 magic;            /* the superblock's magic: TMPFS_MAGIC, PROC_SUPER_MAGIC, ... */
	__u32 nlink;            /* names in directories: 0 for memfd, O_TMPFILE and unlinked files */
	__u16 mode;             /* i_mode: type and permission bits */
	__u16 flags;            /* WS_FILE_* */
	char path[WS_PATH_LEN]; /* from the dentries up to the root of the mount namespace */
};

/* EV_MMAP, EV_MPROTECT, EV_PKEY_MPROTECT (as struct ev_mem_file when the memory is a file's) */
struct ev_mem {
	struct ev_hdr hdr;
	__u64 addr;
	__u64 len;
	__u64 off;              /* mmap offset */
	__u64 old_flags;        /* mprotect: vm_flags of the VMA at addr before the call */
	__s64 result;           /* mmap: mapped address or -errno; mprotect: 0 or -errno */
	__u32 prot;
	__u32 flags;            /* mmap flags; pkey for pkey_mprotect */
	__s32 fd;
	__u32 placed;           /* WS_PLACED_*: how a file's mapping sits among the others */
	__u64 stack[WS_STACK_WORDS]; /* raw words from the user stack pointer up: the caller's return
	                                address is among the first (resolved in user space) */
};

/* A memory event on a file-backed mapping: the call, then the file (hdr.size tells the two apart). */
struct ev_mem_file {
	struct ev_mem mem;
	struct ev_file file;
};

/* EV_EXEC */
struct ev_exec {
	struct ev_hdr hdr;
	__s32 dfd;              /* execveat dirfd */
	__u32 at_flags;         /* execveat flags */
	__u32 argc;             /* arguments counted, up to the read limit; argv holds the first WS_MAX_ARGS */
	__u32 flags;            /* WS_EXEC_* */
	__u32 args_len;         /* WS_EXEC_ARGS_RAW: bytes of argv used */
	__u32 _pad;
	char filename[WS_PATH_LEN];         /* as passed by the caller */
	char image[WS_PATH_LEN];            /* binprm filename of the new image, on success */
	char argv[WS_MAX_ARGS][WS_ARG_LEN];
};

/* EV_CONNECT */
struct ev_connect {
	struct ev_hdr hdr;
	__s32 fd;
	__u16 family;           /* AF_INET, AF_INET6, AF_UNIX, ... */
	__u16 port;             /* host order */
	__u16 sock_type;        /* SOCK_STREAM, SOCK_DGRAM, ... (0 if unknown) */
	__u16 flags;            /* WS_VIA_URING: the peer was read from the socket when the request completed */
	__u32 addrlen;
	__u8 addr[16];          /* IPv4 in the first 4 bytes, or IPv6 */
	char path[WS_SUN_PATH_LEN]; /* AF_UNIX; abstract names start with NUL */
	__u32 _pad2;
};

/* EV_MEMFD */
struct ev_memfd {
	struct ev_hdr hdr;
	__u32 flags;
	__u32 _pad;
	char name[WS_PATH_LEN];
};

/* EV_FORK: the header describes the creating task */
struct ev_fork {
	struct ev_hdr hdr;
	__u32 child_tgid;
	__u32 child_tid;
	__u32 flags;            /* WS_FORK_* */
	__u32 _pad;
	char child_comm[WS_COMM_LEN];
};

/* EV_EXIT: the header describes the exiting (last) thread */
struct ev_exit {
	struct ev_hdr hdr;
	__u32 exit_code;        /* wait(2) status: code << 8 | signal */
	__u32 dropped;          /* this process's events lost to a full ring buffer */
};

/* EV_ANON_SYSCALL: hdr.ip is where the syscall instruction was */
struct ev_anon_syscall {
	struct ev_hdr hdr;
	__u64 vma_start;        /* the mapping holding hdr.ip: anonymous, or a memfd's (WS_SITE_MEMFD) */
	__u64 vma_end;
	__u64 vm_flags;
	__u32 nr;               /* syscall number */
	__u32 flags;            /* WS_SITE_* */
	struct ev_file file;    /* WS_SITE_MEMFD: the memfd; otherwise zero */
};

/* ev_syscall.flags */
#define WS_SYSCALL_COMPAT 0x1 /* the 32-bit ABI (int 0x80): nr is an i386 number, args are not read */

/* EV_SYSCALL: the syscall and its first arguments, as issued (hdr.ret is not filled) */
struct ev_syscall {
	struct ev_hdr hdr;
	__u32 nr;
	__u32 flags;            /* WS_SYSCALL_* */
	__u64 args[3];
	__u64 remote_addr;      /* process_vm_readv/writev: the first remote iovec's address (0 if unreadable) */
};

/* EV_OPEN: hdr.ret is the fd; reported once per process, file and access (read or write) */
struct ev_open {
	struct ev_hdr hdr;
	__u32 nr;               /* which open syscall */
	__u32 f_flags;          /* the open file's flags: O_ACCMODE, O_APPEND, ... (the kernel drops O_CREAT, O_TRUNC) */
	__u32 f_mode;           /* FMODE_READ 0x1, FMODE_WRITE 0x2, ... */
	__u32 flags;            /* WS_OPEN_* */
	struct ev_file file;
};

/*
 * EV_PATH: a syscall (or io_uring request) that changes what a name refers
 * to. The name is the caller's string; `at` is where the kernel starts a
 * relative one (the working directory or the dfd's directory), read from the
 * kernel's objects, so user space joins the two into an absolute path.
 */
struct ev_path {
	struct ev_hdr hdr;
	__u32 nr;               /* the syscall (x86_64 number) or its io_uring twin's */
	__u32 flags;            /* WS_PATH_*, WS_VIA_URING */
	__s32 dfd;              /* the dfd the name is relative to (AT_FDCWD -100) */
	__u32 _pad;
	struct ev_file at;      /* WS_PATH_AT: its directory; WS_PATH_FILE: the file itself */
	char name[WS_PATH_LEN];   /* what changes: rename/link destination, the new symlink, unlinked or truncated path */
	char source[WS_PATH_LEN]; /* rename/link: the old name; symlink: the text the link points to */
};

/*
 * EV_STACK: where in the process an alert-worthy event came from (exec,
 * a child's creation, connect, memory made executable, memfd, anonymous-code
 * syscalls, notable syscalls, sensitive opens). It follows its event in the
 * ring buffer and carries the event's tid and ts_ns in its header, so user
 * space joins the two; ordinary syscalls never get one. The frames are the
 * kernel's frame-pointer walk of the user stack: code built without frame
 * pointers ends the walk early, and the record then has fewer frames.
 */
struct ev_stack {
	struct ev_hdr hdr;      /* type EV_STACK; tid, tgid and ts_ns are the event's */
	__u16 event_type;       /* the event's hdr.type */
	__u16 nr;               /* frames captured */
	__s32 err;              /* bpf_get_stack()'s error, 0 if it walked */
	__u64 frames[WS_STACK_DEPTH]; /* innermost first: frames[0] is the user ip at the syscall */
};

/*
 * EV_STACK when the walk stopped early (code without frame pointers on the
 * way, as in Rust and C libraries built without them): the stack itself from
 * the user stack pointer up, so user space can find the frames of code that
 * keeps frame pointers (a JIT's) further up and walk on from there.
 * hdr.size tells it from a plain ev_stack.
 */
struct ev_stack_scan {
	struct ev_stack stack;
	__u64 sp;               /* the user stack pointer at the syscall: scan[0]'s address */
	__u32 scan_len;         /* words read before the stack ended (the rest are zero) */
	__u32 _pad;
	__u64 scan[WS_STACK_SCAN_WORDS];
};

/* targets map value: a process being followed */
struct target {
	__u64 start_ticks;      /* start time in clock ticks since boot, as /proc/PID/stat field 22 */
	__u32 root_tgid;        /* the process the user asked for, or the one this one descends from */
	__u32 verified;         /* set by the kernel once start_ticks matched the live process */
	/* the kernel's own cache, zero from user space: file-backed code ranges syscalls came from */
	__u64 code_start[WS_CODE_CACHE];
	__u64 code_end[WS_CODE_CACHE];
	__u64 last_anon_page;   /* one EV_ANON_SYSCALL per page until the page changes */
	__u32 code_next;
	__u32 compat_seen;      /* a 32-bit syscall was reported (once per process) */
	__u32 kinds_seen;       /* WS_KIND_* bits: which kinds of event this process has had delivered */
	__u32 dropped;          /* this process's events lost to a full ring buffer */
};

/*
 * Kinds of event whose first occurrence per process may use the ring
 * buffer's reserved headroom: a process flooding the buffer with one kind
 * cannot hide the first event of another (see WS_HEADROOM in the program).
 */
#define WS_KIND_MMAP_WX 0x1
#define WS_KIND_MMAP_X 0x2
#define WS_KIND_PROTECT_WX 0x4
#define WS_KIND_PROTECT_X 0x8
#define WS_KIND_EXEC 0x10
#define WS_KIND_CONNECT 0x20
#define WS_KIND_MEMFD 0x40
#define WS_KIND_ANON_SYSCALL 0x80
#define WS_KIND_SYSCALL 0x100
#define WS_KIND_FORK 0x200
#define WS_KIND_OPEN 0x400
#define WS_KIND_PROC_MEM 0x800
#define WS_KIND_MEMFD_SYSCALL 0x1000
#define WS_KIND_PATH 0x2000
#define WS_KIND_URING 0x4000

/* drops map: per-CPU counters, index = ev_type; index 0 counts stash-map overflow */
#define WS_DROP_STASH 0

#endif /* WASMSHARK_EVENTS_H */
