// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * wasmshark probes: follow a set of target processes (and every descendant)
 * and report the syscalls that matter for a WASM runtime's behaviour.
 *
 * Syscalls are seen one of three ways, chosen by the loader (one object):
 *  - lean on trampolines (the default where the kernel allows them):
 *    fentry/fexit on the kernel functions that do the operations the rules
 *    need (ksys_mmap_pgoff, do_mprotect_pkey, ...), every syscall ABI at once.
 *  - lean on tracepoints (where trampolines are refused): one tracepoint per
 *    syscall the rules need (tp/syscalls/sys_enter_mmap, ...).
 *    Either way every other syscall of every process on the host runs no
 *    program at all.
 *  - exact: the two syscall tracepoints sys_enter and sys_exit, attached as
 *    BTF tracepoints: a program runs for every syscall on the host, which buys
 *    exact per-syscall counts and the anonymous-memory check on every syscall.
 * All feed the same handlers through struct call. Process lifetime comes
 * from the sched tracepoints.
 *
 * Every handler does the same: filter early (syscall number, a cheap argument
 * test, then the targets map), fill a record, and either stash it until the
 * syscall returns or submit it to the ring buffer. A failed reservation is
 * counted in `drops`. Opens are hooked at their exit only: the fd returned
 * leads to the file itself, and a process nobody follows pays one lookup.
 * What a file is (its path from the dentries, links, filesystem, memfd or
 * not) is read from the kernel's objects, never from a path the caller gave.
 */
#include "kernel_types.h"
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define PROT_WRITE 0x2
#define PROT_EXEC 0x4
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define ENOTSOCK 88
/* /proc/PID/stat reports start time in USER_HZ (100) ticks */
#define NS_PER_TICK 10000000ULL
/* argv pointers counted past the captured slots */
#define WS_MAX_ARGC_COUNTED 64

/* x86_64 syscall numbers (the object is built for x86_64 only) */
#define NR_mmap 9
#define NR_mprotect 10
#define NR_connect 42
#define NR_execve 59
#define NR_memfd_create 319
#define NR_execveat 322
#define NR_pkey_mprotect 329
/* opens, reported from their exit */
#define NR_open 2
#define NR_creat 85
#define NR_openat 257
#define NR_open_by_handle_at 304
#define NR_openat2 437
/* reported as EV_SYSCALL */
#define NR_ptrace 101
#define NR_init_module 175
#define NR_kexec_load 246
#define NR_process_vm_readv 310
#define NR_process_vm_writev 311
#define NR_finit_module 313
#define NR_kexec_file_load 320
#define NR_bpf 321
#define NR_userfaultfd 323
#define NR_io_uring_setup 425

/* Set between open and load. */
const volatile bool follow_children = true;
const volatile bool count_syscalls = false;
const volatile bool check_syscall_sites = true;
/* report every successful exec on the host, followed or not (a watch finding runtimes) */
const volatile bool watch_execs = false;
/* walk the user stack at alert-worthy events (EV_STACK); off: no stack is ever walked */
const volatile bool capture_stacks = true;
/*
 * Ring-buffer headroom: once less than this many bytes are free, only the
 * first event of its kind for a process may take a slot, so a flood cannot
 * hide a process's first W+X mapping, exec or connect. Set from the size.
 */
const volatile __u32 headroom = 1 << 20;
/* wake the reader only once this much is waiting; it also polls every few ms */
const volatile __u32 wakeup_bytes = 64 << 10;

/*
 * Stash entries waiting for their syscall to return. While it is zero,
 * sys_exit returns after one load, so bystanders never pay a hash lookup.
 */
__u64 pending_stashed = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);             /* tgid */
	__type(value, struct target);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);   /* resized by the loader */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EV_TYPE_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WS_MAX_SYSCALLS);
	__type(key, __u32);
	__type(value, __u64);
} syscall_counts SEC(".maps");

/* Arguments seen at syscall entry, keyed by tid, until the syscall returns. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct ev_mem);
} mem_stash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct ev_connect);
} connect_stash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct ev_memfd);
} memfd_stash SEC(".maps");

/*
 * The exec record as stashed between entry and result, with the caller's
 * pointers: right after fork the caller's strings may sit in pages the child
 * has not touched yet, which BPF cannot fault in. The kernel faults them in
 * while it executes the call, so a failed exec reads them again at exit, and
 * a successful one takes argv from the new image's stack.
 */
struct exec_stash {
	struct ev_exec ev;
	__u64 filename_ptr;
	__u64 argv_ptr;
	/* the caller's user stack, walked at entry: a successful exec replaces it */
	__s64 stack_len;
	__u64 stack[WS_STACK_DEPTH];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct exec_stash);
} exec_stash SEC(".maps");

/*
 * Opens already reported, by process, file and access: a runtime reopening
 * the same files costs one lookup here and no record. The start time keeps a
 * reused pid from inheriting entries; the generation keeps a file that took
 * over a deleted one's inode number from passing for it.
 */
struct open_key {
	__u64 sb;
	__u64 ino;
	__u64 start_ticks;
	__u32 tgid;
	__u32 generation;
	__u32 write;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct open_key);
	__type(value, __u8);
} opens_seen SEC(".maps");

/* A path walk in progress: the path so far ends the scratch buffer's first WS_PATH_LEN bytes. */
struct path_walk {
	struct dentry *d;
	struct mount *mnt;
	__u32 off;      /* where the path so far begins */
	__u32 flags;    /* WS_FILE_* once the walk ended */
};

/*
 * A path is assembled here back to front, then copied into its record. The
 * walk's state lives here too, not on the stack: the verifier does not track
 * what a map value holds, so every step starts from the same state whatever
 * the steps before it did (on kernels without bpf_loop() it verifies every
 * step of the walk, and tracked offsets would multiply its paths).
 */
struct path_buf {
	char buf[2 * WS_PATH_LEN];
	struct path_walk w;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_buf);
} path_scratch SEC(".maps");

/* ev_exec is too large for the BPF stack: it is built here, then stashed. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_stash);
} exec_scratch SEC(".maps");

/*
 * The entry half of mmap/mprotect, connect and memfd_create is built here
 * before it is stashed: on the stack, the three together with exact mode's
 * one handler for every syscall would leave no room under the verifier's
 * 512 bytes on some kernels.
 */
union entry_record {
	struct ev_mem mem;
	struct ev_connect connect;
	struct ev_memfd memfd;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, union entry_record);
} entry_scratch SEC(".maps");

/* This CPU's entry record, zeroed. */
static __always_inline union entry_record *entry_record(void)
{
	__u32 zero = 0;
	union entry_record *r = bpf_map_lookup_elem(&entry_scratch, &zero);

	if (r)
		__builtin_memset(r, 0, sizeof(*r));
	return r;
}

/*
 * ---- what differs by kernel ----
 * The object is built twice from this file: as is for kernels with
 * bpf_loop(), bpf_find_vma(), bpf_task_pt_regs() and
 * bpf_get_current_task_btf() (5.17 on), and with WS_LEGACY for kernels from
 * the ring buffer's 5.8 to 5.16, which do the same work the long way. The
 * loader probes the kernel and loads one of the two.
 */

static __always_inline struct task_struct *current_task(void)
{
#ifdef WS_LEGACY
	return (struct task_struct *)bpf_get_current_task();
#else
	return bpf_get_current_task_btf();
#endif
}

/* thread_info.status of the current task: TS_COMPAT while a 32-bit syscall runs */
static __always_inline __u32 current_status(void)
{
#ifdef WS_LEGACY
	return BPF_CORE_READ(current_task(), thread_info.status);
#else
	return bpf_get_current_task_btf()->thread_info.status;
#endif
}

/* The user registers the current syscall was entered with. */
static __always_inline struct pt_regs *current_user_regs(void)
{
#ifdef WS_LEGACY
	/* task_pt_regs() on x86_64: the top of the 16 KiB kernel stack */
	void *stack = BPF_CORE_READ(current_task(), stack);

	return (struct pt_regs *)(stack + 16384 - bpf_core_type_size(struct pt_regs));
#else
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
#endif
}

/* The mapping around an address of the current process. */
struct vma_info {
	__u64 start;
	__u64 end;
	__u64 flags;
	struct file *file;
	__u32 found;
	__u32 _pad;
};

static __always_inline void read_vma(struct vma_info *vi, struct vm_area_struct *vma)
{
	vi->start = BPF_CORE_READ(vma, vm_start);
	vi->end = BPF_CORE_READ(vma, vm_end);
	vi->flags = BPF_CORE_READ(vma, vm_flags);
	vi->file = BPF_CORE_READ(vma, vm_file);
	vi->found = 1;
}

#ifdef WS_LEGACY
/* deep enough for any red-black tree of vm.max_map_count (65530) mappings */
#define WS_VMA_TREE_DEPTH 36

/* find_vma() by hand, without the mmap lock: a mapping changing under it reads as not found */
static __always_inline void lookup_vma(unsigned long addr, struct vma_info *vi)
{
	struct mm_struct___rb *mm = (void *)BPF_CORE_READ(current_task(), mm);
	struct rb_node *n = BPF_CORE_READ(mm, mm_rb.rb_node);
	unsigned long off = bpf_core_field_offset(struct vm_area_struct___rb, vm_rb);
	struct vm_area_struct *vma;
	int i;

	for (i = 0; i < WS_VMA_TREE_DEPTH && n; i++) {
		vma = (void *)n - off;
		if (addr < BPF_CORE_READ(vma, vm_end)) {
			if (BPF_CORE_READ(vma, vm_start) <= addr) {
				read_vma(vi, vma);
				return;
			}
			n = BPF_CORE_READ(n, rb_left);
		} else {
			n = BPF_CORE_READ(n, rb_right);
		}
	}
}
#else
static long lookup_vma_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	read_vma(data, vma);
	return 0;
}

/* Not found also when the mmap lock is contended: bpf_find_vma() only tries it. */
static __always_inline void lookup_vma(unsigned long addr, struct vma_info *vi)
{
	bpf_find_vma(bpf_get_current_task_btf(), addr, lookup_vma_cb, vi, 0);
}
#endif

static __always_inline void count_drop(__u32 kind)
{
	__u64 *n = bpf_map_lookup_elem(&drops, &kind);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/*
 * A slot in the ring buffer for an event of `kind` by process t. Past the
 * headroom mark only a first of its kind gets one; a refusal is counted, for
 * the kind and for the process.
 */
static __always_inline void *reserve(struct target *t, __u32 size, __u32 type, __u32 kind)
{
	/* no target: an exit (kind 0) always may, a host exec (watch_execs) never may */
	bool first = t ? kind && !(t->kinds_seen & kind) : !kind;
	void *rec = NULL;

	if (first || bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) -
			     bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > headroom)
		rec = bpf_ringbuf_reserve(&events, size, 0);
	if (!rec) {
		count_drop(type);
		if (t)
			__sync_fetch_and_add(&t->dropped, 1);
		return NULL;
	}
	if (t && kind)
		t->kinds_seen |= kind;
	return rec;
}

/* When a lone record last asked for the reader to be woken (bpf_ktime_get_ns). */
__u64 last_lone_wakeup = 0;
#define LONE_WAKEUP_GAP_NS (10ULL * 1000 * 1000)

/*
 * Batched wake-ups: a flood wakes the reader once wakeup_bytes are waiting,
 * not once a record; the reader polls every 10 ms while records flow. A
 * record after a quiet spell (at most one every 10 ms) is submitted with the
 * kernel's default, which wakes the reader if it has caught up: so an idle
 * reader can sleep, and the first event after a quiet spell is not kept
 * waiting.
 */
static __always_inline void submit(void *rec)
{
	__u64 flags = BPF_RB_NO_WAKEUP, now;

	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes) {
		flags = BPF_RB_FORCE_WAKEUP;
	} else {
		now = bpf_ktime_get_ns();
		if (now - last_lone_wakeup > LONE_WAKEUP_GAP_NS) {
			last_lone_wakeup = now;
			flags = 0;
		}
	}
	bpf_ringbuf_submit(rec, flags);
}

/* Stash the entry half of a syscall; the exit half finds it by tid. */
static __always_inline void stash(void *map, __u32 tid, void *value)
{
	if (bpf_map_update_elem(map, &tid, value, BPF_NOEXIST) == 0) {
		__sync_fetch_and_add(&pending_stashed, 1);
		return;
	}
	/* an entry left by an interrupted syscall: replace it, the count stands */
	if (bpf_map_update_elem(map, &tid, value, BPF_EXIST))
		count_drop(WS_DROP_STASH);
}

static __always_inline void unstash(void *map, __u32 tid)
{
	if (bpf_map_delete_elem(map, &tid) == 0)
		__sync_fetch_and_sub(&pending_stashed, 1);
}


/*
 * The target entry for tgid, or NULL. An entry whose start time does not
 * match the running process belongs to an earlier process with the same
 * PID: it is removed and the process is not followed.
 */
static __always_inline struct target *lookup_target(__u32 tgid)
{
	struct target *t = bpf_map_lookup_elem(&targets, &tgid);
	struct task_struct *task;
	__u64 start;

	if (!t)
		return NULL;
	/* once matched, the entry is this process's until its exit removes it */
	if (t->verified)
		return t;
	task = (struct task_struct *)bpf_get_current_task();
	start = BPF_CORE_READ(task, group_leader, start_boottime) / NS_PER_TICK;
	if (start != t->start_ticks) {
		bpf_map_delete_elem(&targets, &tgid);
		return NULL;
	}
	t->verified = 1;
	return t;
}

/*
 * One syscall as the handlers see it, from either kind of hook: its
 * arguments (x86_64: rdi, rsi, rdx, r10, r8, r9), and the user instruction
 * and stack pointers it was issued with.
 */
struct call {
	unsigned long args[6];
	__u64 ip;
	__u64 sp;
	long nr;
	bool compat;    /* made through int 0x80: pointers in memory are 32 bits */
	void *ctx;      /* the program's context, for the stack walk; NULL where there is no user stack (io_uring) */
};

static __always_inline void fill_hdr(struct ev_hdr *h, __u16 type, __u16 size, __u64 pid_tgid)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	h->type = type;
	h->size = size;
	h->tid = (__u32)pid_tgid;
	h->tgid = pid_tgid >> 32;
	h->ts_ns = bpf_ktime_get_ns();
	h->ppid = BPF_CORE_READ(task, real_parent, tgid);
	h->uid = (__u32)bpf_get_current_uid_gid();
	h->ret = 0;
	h->ip = 0;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

/* The calling process's target entry, already verified at entry (exit halves, stashed records). */
static __always_inline struct target *current_target(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	return bpf_map_lookup_elem(&targets, &tgid);
}

/*
 * ---- user stacks: where an alert-worthy event came from ----
 * emit_stack() is called once an event's record is filled and before it is
 * submitted: the stack record is reserved after it, so it follows it in the
 * ring, and carries its tid and timestamp. Only the handlers of events a rule
 * alerts on call it; ordinary syscalls never walk a stack. A stack record
 * may use the headroom: it only ever follows an event that got a slot.
 */
/* A stack walked on this CPU, and when this CPU last copied a stack (a scan). */
struct stack_scratch {
	struct ev_stack walked;
	__u64 last_scan_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack_scratch);
} stack_scratch SEC(".maps");

/* at most one 8 KiB stack copy per CPU in this long: a burst of events copies one, the rest walk */
#define WS_SCAN_GAP_NS (10ULL * 1000 * 1000)

static __always_inline void stack_head(struct ev_stack *s, const struct ev_hdr *ev, __u16 size)
{
	__builtin_memcpy(&s->hdr, ev, sizeof(s->hdr));
	s->hdr.type = EV_STACK;
	s->hdr.size = size;
	s->event_type = ev->type;
}

static __always_inline struct ev_stack *stack_record(const struct ev_hdr *ev)
{
	struct ev_stack *s = reserve(NULL, sizeof(*s), EV_STACK, 0);

	if (s)
		stack_head(s, ev, sizeof(*s));
	return s;
}

static __always_inline void stack_done(struct ev_stack *s, long len)
{
	s->nr = len > 0 ? len / sizeof(__u64) : 0;
	s->err = len < 0 ? len : 0;
	submit(s);
}

#define WS_SCAN_CHUNK 128 /* words read at a time: the stack may end within the window */

/*
 * The walk stopped early: the stack words from the user stack pointer up go
 * with the frames. A chunk past the end of the stack reads as zeros.
 */
static __always_inline void emit_scanned_stack(const struct ev_hdr *ev, struct ev_stack *walked, long len)
{
	/*
	 * sp is read before the reservation: with a call between the two, the
	 * compiler tests the record for NULL twice, and verifiers before 6.2
	 * follow the second test's impossible branch with the record held
	 * ("Unreleased reference").
	 */
	__u64 sp = BPF_CORE_READ(current_user_regs(), sp);
	struct ev_stack_scan *s = reserve(NULL, sizeof(*s), EV_STACK, 0);
	__u32 n = 0;
	bool ended = false;
	int i;

	if (!s)
		return;
	bpf_probe_read_kernel(&s->stack, sizeof(s->stack), walked);
	stack_head(&s->stack, ev, sizeof(*s));
	s->sp = sp;
	s->_pad = 0;
#pragma unroll
	for (i = 0; i < WS_STACK_SCAN_WORDS / WS_SCAN_CHUNK; i++) {
		if (bpf_probe_read_user(&s->scan[i * WS_SCAN_CHUNK], WS_SCAN_CHUNK * sizeof(__u64),
					(const void *)(sp + i * WS_SCAN_CHUNK * sizeof(__u64))))
			ended = true;
		else if (!ended)
			n += WS_SCAN_CHUNK;
	}
	s->scan_len = n;
	stack_done(&s->stack, len);
}

/*
 * The current user stack, for the event whose (unsubmitted) record is ev.
 * Stacks yield to events: past the headroom mark none is walked (counted as
 * a stack drop), so a flood of alert-worthy events cannot crowd out others.
 */
static __always_inline void emit_stack(void *ctx, const struct ev_hdr *ev)
{
	__u32 zero = 0;
	struct stack_scratch *sc = bpf_map_lookup_elem(&stack_scratch, &zero);
	struct ev_stack *walked, *s;
	__u64 now;
	long len;

	if (!capture_stacks || !sc)
		return;
	if (bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) - bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) <= headroom) {
		count_drop(EV_STACK);
		return;
	}
	walked = &sc->walked;
	len = bpf_get_stack(ctx, walked->frames, sizeof(walked->frames), BPF_F_USER_STACK);
	if (len >= 0 && len < WS_STACK_SCAN_BELOW * (long)sizeof(__u64)) {
		now = bpf_ktime_get_ns();
		if (now - sc->last_scan_ns >= WS_SCAN_GAP_NS) {
			sc->last_scan_ns = now;
			emit_scanned_stack(ev, walked, len);
			return;
		}
	}
	s = stack_record(ev);
	if (!s)
		return;
	bpf_probe_read_kernel(s->frames, sizeof(s->frames), walked->frames);
	stack_done(s, len);
}

/* A stack walked earlier (exec: at entry, before the image was replaced). */
static __always_inline void emit_saved_stack(const struct ev_hdr *ev, const __u64 *frames, long len)
{
	struct ev_stack *s;

	if (!capture_stacks)
		return;
	s = stack_record(ev);
	if (!s)
		return;
	if (len <= 0 || bpf_probe_read_kernel(s->frames, sizeof(s->frames), frames))
		len = len < 0 ? len : 0;
	stack_done(s, len);
}

/* Copy a stashed record into the ring buffer with the syscall's result (and its stack, given ctx). */
static __always_inline void submit_stashed(void *ctx, void *stashed, __u32 size, __u32 type, __u32 kind, long ret)
{
	struct ev_hdr *rec = reserve(current_target(), size, type, kind);

	if (!rec)
		return;
	bpf_probe_read_kernel(rec, size, stashed);
	rec->ret = (__s32)ret;
	rec->ts_ns = bpf_ktime_get_ns();
	if (ctx)
		emit_stack(ctx, rec);
	submit(rec);
}

/* ---- files: the file behind an fd or a mapping ---- */

/* The open file at fd in the current process, or NULL. */
static __always_inline struct file *fd_file(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *f = NULL;

	if (fd < 0 || (__u64)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]))
		return NULL;
	return f;
}

/*
 * A memfd: a pseudo dentry (its own parent, in no directory) named
 * "memfd:NAME", with no link, on the kernel's internal tmpfs or hugetlbfs.
 * A file on disk can take the name, never the rest.
 */
static __always_inline bool is_memfd(struct file *f)
{
	struct dentry *d = BPF_CORE_READ(f, f_path.dentry);
	struct inode *inode = BPF_CORE_READ(f, f_inode);
	__u32 magic = BPF_CORE_READ(inode, i_sb, s_magic);
	char name[8] = {};

	if (BPF_CORE_READ(d, d_parent) != d || BPF_CORE_READ(inode, i_nlink) != 0)
		return false;
	if (magic != TMPFS_MAGIC && magic != HUGETLBFS_MAGIC)
		return false;
	bpf_probe_read_kernel(name, 6, BPF_CORE_READ(d, d_name.name));
	return name[0] == 'm' && name[1] == 'e' && name[2] == 'm' && name[3] == 'f' && name[4] == 'd' &&
	       name[5] == ':';
}

/* dentries and mount points walked for one path: deeper paths are reported truncated */
#define WS_PATH_DEPTH 64
/* without bpf_loop() the verifier walks every step: fewer there */
#define WS_PATH_DEPTH_LEGACY 32
#define WS_NAME_MASK (WS_PATH_LEN - 1)


/*
 * One step up from the walk's dentry: across a mount point, or one name
 * prepended. A bpf_loop() callback: the verifier checks it once, not once
 * per step.
 */
#ifdef WS_LEGACY
static __always_inline
#else
static
#endif
long path_step(__u32 index, void *unused)
{
	__u32 zero = 0, off, len;
	struct path_buf *s = bpf_map_lookup_elem(&path_scratch, &zero);
	struct dentry *d, *parent;
	struct mount *mnt, *up;

	if (!s)
		return 1;
	d = s->w.d;
	mnt = s->w.mnt;
	off = s->w.off;
	if (d == BPF_CORE_READ(mnt, mnt.mnt_root)) {
		up = BPF_CORE_READ(mnt, mnt_parent);
		if (up == mnt) {
			s->w.flags = 0; /* the namespace's root */
			return 1;
		}
		s->w.d = BPF_CORE_READ(mnt, mnt_mountpoint);
		s->w.mnt = up;
		return 0;
	}
	parent = BPF_CORE_READ(d, d_parent);
	len = BPF_CORE_READ(d, d_name.len);
	if (len == 0 || len + 1 > off)
		return 1; /* does not fit: stays truncated */
	off -= len + 1;
	/* the masks change nothing (off + len stays below WS_PATH_LEN): they bound it for the verifier */
	s->buf[off & WS_NAME_MASK] = '/';
	bpf_probe_read_kernel(&s->buf[(off + 1) & WS_NAME_MASK], len & WS_NAME_MASK, BPF_CORE_READ(d, d_name.name));
	s->w.off = off;
	if (parent == d) {
		s->w.flags = WS_FILE_DETACHED;
		return 1;
	}
	s->w.d = parent;
	return 0;
}

/*
 * What identifies f, and its path: from its dentry up to the root of the
 * mount namespace, crossing mount points as d_path() does. Assembled back to
 * front in a scratch buffer; a path that does not fit keeps its tail.
 */
static __always_inline void fill_dentry(struct ev_file *out, struct dentry *d, struct vfsmount *vfs,
					struct inode *inode, struct file *f)
{
	__u32 zero = 0, off, flags;
	struct path_buf *s = bpf_map_lookup_elem(&path_scratch, &zero);
	struct super_block *sb = BPF_CORE_READ(inode, i_sb);

	out->ino = BPF_CORE_READ(inode, i_ino);
	out->dev = BPF_CORE_READ(sb, s_dev);
	out->magic = BPF_CORE_READ(sb, s_magic);
	out->nlink = BPF_CORE_READ(inode, i_nlink);
	out->mode = BPF_CORE_READ(inode, i_mode);
	out->path[0] = 0;
	out->flags = WS_FILE_TRUNCATED;
	if (!s)
		return;
	s->w.d = d;
	s->w.mnt = (void *)vfs - bpf_core_field_offset(struct mount, mnt);
	s->w.off = WS_PATH_LEN - 1;
	s->w.flags = WS_FILE_TRUNCATED; /* until the walk reaches a root */
	s->buf[WS_PATH_LEN - 1] = 0;
#ifdef WS_LEGACY
	for (int i = 0; i < WS_PATH_DEPTH_LEGACY; i++)
		if (path_step(i, NULL))
			break;
#else
	bpf_loop(WS_PATH_DEPTH, path_step, NULL, 0);
#endif
	flags = s->w.flags;
	if (f && flags == WS_FILE_DETACHED && is_memfd(f))
		flags |= WS_FILE_MEMFD;
	out->flags = flags;
	off = s->w.off & WS_NAME_MASK;
	bpf_probe_read_kernel(out->path, WS_PATH_LEN - off, &s->buf[off]);
}

static __always_inline void fill_file(struct ev_file *out, struct file *f)
{
	fill_dentry(out, BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt), BPF_CORE_READ(f, f_inode), f);
}

static __always_inline void clear_file(struct ev_file *out)
{
	out->ino = 0;
	out->dev = 0;
	out->magic = 0;
	out->nlink = 0;
	out->mode = 0;
	out->flags = 0;
	out->path[0] = 0;
}

/* The file mapped at addr in the current process; NULL for anonymous memory. */
static __always_inline struct file *mapped_file(unsigned long addr)
{
	struct vma_info vi = {};

	lookup_vma(addr, &vi);
	return vi.file;
}

/* ---- memory: mmap / mprotect / pkey_mprotect ---- */

static __always_inline __u32 mem_kind(__u16 type, __u32 prot)
{
	if (type == EV_MMAP)
		return prot & PROT_WRITE ? WS_KIND_MMAP_WX : WS_KIND_MMAP_X;
	return prot & PROT_WRITE ? WS_KIND_PROTECT_WX : WS_KIND_PROTECT_X;
}

static __always_inline int stash_mem(__u16 type, struct call *c, unsigned long addr,
				     unsigned long len, __u32 prot, __u32 flags, __s32 fd,
				     unsigned long off, __u64 old_flags, __u64 pid_tgid)
{
	union entry_record *r = entry_record();
	struct ev_mem *m;

	if (!r)
		return 0;
	m = &r->mem;
	fill_hdr(&m->hdr, type, sizeof(*m), pid_tgid);
	m->hdr.ip = c->ip;
	/* the caller's return address sits near the stack pointer: user space resolves it */
	bpf_probe_read_user(m->stack, sizeof(m->stack), (const void *)c->sp);
	m->addr = addr;
	m->len = len;
	m->off = off;
	m->old_flags = old_flags;
	m->prot = prot;
	m->flags = flags;
	m->fd = fd;
	stash(&mem_stash, (__u32)pid_tgid, m);
	return 0;
}

/*
 * Memory that is a file's carries the file, looked up when the call returned
 * (the mapping is in place then): code mapped from a memfd or from a deleted
 * file is told apart from a library on disk.
 */
static __always_inline int exit_mem(void *ctx, __u32 tid, long ret)
{
	struct ev_mem *m = bpf_map_lookup_elem(&mem_stash, &tid);
	struct ev_mem_file *rf;
	struct ev_mem *rec;
	struct file *f = NULL;
	__u32 kind;

	if (!m)
		return 0;
	kind = mem_kind(m->hdr.type, m->prot);
	if (ret >= 0)
		f = mapped_file(m->hdr.type == EV_MMAP ? ret : m->addr);
	if (f) {
		rf = reserve(current_target(), sizeof(*rf), m->hdr.type, kind);
		if (rf) {
			__builtin_memcpy(&rf->mem, m, sizeof(rf->mem));
			rf->mem.hdr.size = sizeof(*rf);
			rf->mem.result = ret;
			rf->mem.hdr.ret = 0;
			/*
			 * The same file mapped right below: an object laid out as a dynamic
			 * loader does (headers, then code). User space reads the file's magic
			 * while the mapping is there; this tells it when it is gone.
			 */
			if (m->hdr.type == EV_MMAP && ret > 4096 && mapped_file(ret - 1) == f)
				rf->mem.placed = WS_PLACED_IMAGE;
			fill_file(&rf->file, f);
			emit_stack(ctx, &rf->mem.hdr);
			submit(rf);
		}
	} else {
		rec = reserve(current_target(), sizeof(*rec), m->hdr.type, kind);
		if (rec) {
			__builtin_memcpy(rec, m, sizeof(*rec));
			rec->result = ret;
			rec->hdr.ret = ret < 0 ? (__s32)ret : 0;
			emit_stack(ctx, &rec->hdr);
			submit(rec);
		}
	}
	unstash(&mem_stash, tid);
	return 0;
}

static __always_inline int enter_mmap(struct call *c, __u64 id)
{
	unsigned long prot = c->args[2];

	if (!(prot & PROT_EXEC))
		return 0;
	return stash_mem(EV_MMAP, c, c->args[0], c->args[1], prot, c->args[3], (__s32)c->args[4],
			 c->args[5], WS_VM_UNKNOWN, id);
}

/*
 * mprotect is reported only when it makes memory executable that was not,
 * or makes executable memory writable: re-protecting code that stays as it
 * was (a JIT flipping its own pages back) is not news.
 */
static __always_inline int enter_protect(__u16 type, struct call *c, __u64 id)
{
	unsigned long addr, prot = c->args[2];
	struct vma_info vi = {};
	__u64 old;

	if (!(prot & PROT_EXEC))
		return 0;
	addr = c->args[0];
	lookup_vma(addr, &vi);
	old = vi.found ? vi.flags : WS_VM_UNKNOWN;
	if (old != WS_VM_UNKNOWN && (old & VM_EXEC) &&
	    !((prot & PROT_WRITE) && !(old & VM_WRITE)))
		return 0;
	return stash_mem(type, c, addr, c->args[1], prot,
			 type == EV_PKEY_MPROTECT ? c->args[3] : 0, -1, 0, old, id);
}

/* ---- exec ---- */

/*
 * A shell's stdin or stdout on a network socket is how a reverse shell
 * serves its caller. Unix sockets do not count: Node (libuv) gives every
 * child it spawns with pipes a socketpair for its stdio.
 */
static __always_inline bool fd_is_net_socket(long fd)
{
	struct file *f = fd_file(fd);
	struct socket *sock;
	__u16 family;

	if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return false;
	sock = BPF_CORE_READ(f, private_data);
	family = BPF_CORE_READ(sock, sk, __sk_common.skc_family);
	return family == AF_INET || family == AF_INET6;
}

static __always_inline bool stdio_is_socket(void)
{
	return fd_is_net_socket(0) || fd_is_net_socket(1);
}


/* argv from the caller's array of pointers; returns how many were counted. */
static __always_inline __u32 read_argv_ptrs(struct ev_exec *e, const char *const *argv)
{
	const char *arg;
	__u32 argc = 0;
	int i;

	for (i = 0; i < WS_MAX_ARGS; i++) {
		if (argc < i || bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			continue;
		bpf_probe_read_user_str(e->argv[i], WS_ARG_LEN, arg);
		argc++;
	}
	for (i = WS_MAX_ARGS; i < WS_MAX_ARGC_COUNTED && argc == i; i++) {
		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			break;
		argc++;
	}
	return argc;
}

/*
 * argv as the new image received it: the NUL-separated block the kernel
 * copied to the new stack, from mm->arg_start. One read, no parsing here.
 */
static __always_inline void read_new_args(struct ev_exec *e)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	unsigned long start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long n = BPF_CORE_READ(task, mm, arg_end) - start;
	const unsigned long room = sizeof(e->argv) - 1; /* a power of two, less one */

	if (n > room)
		n = room;
	n &= room;
	if (bpf_probe_read_user(e->argv, n, (const void *)start))
		n = 0;
	e->args_len = n;
	e->flags |= WS_EXEC_ARGS_RAW;
}

static __always_inline int enter_exec(struct call *c, __u64 id, const char *filename,
				      const char *const *argv, __s32 dfd, __u32 at_flags, __u32 flags)
{
	__u32 zero = 0;
	struct exec_stash *s;
	struct ev_exec *e;

	s = bpf_map_lookup_elem(&exec_scratch, &zero);
	if (!s)
		return 0;
	e = &s->ev;
	fill_hdr(&e->hdr, EV_EXEC, sizeof(*e), id);
	e->hdr.ip = c->ip;
	e->dfd = dfd;
	e->at_flags = at_flags;
	e->flags = flags;
	e->args_len = 0;
	e->_pad = 0;
	e->image[0] = 0;
	e->filename[0] = 0;
	bpf_probe_read_user_str(e->filename, sizeof(e->filename), filename);
	e->argc = read_argv_ptrs(e, argv);
	s->filename_ptr = (__u64)filename;
	s->argv_ptr = (__u64)argv;
	s->stack_len = capture_stacks ? bpf_get_stack(c->ctx, s->stack, sizeof(s->stack), BPF_F_USER_STACK) : 0;
	stash(&exec_stash, (__u32)id, s);
	return 0;
}

/* A failed exec returns to the old image: report it from the stash. */
static __always_inline int exit_exec(void *ctx, __u32 tid, long ret)
{
	struct exec_stash *s = bpf_map_lookup_elem(&exec_stash, &tid);

	if (!s)
		return 0;
	if (ret < 0) {
		if (s->ev.filename[0] == 0)
			bpf_probe_read_user_str(s->ev.filename, sizeof(s->ev.filename),
						(const char *)s->filename_ptr);
		if (s->ev.argc == 0 || s->ev.argv[0][0] == 0)
			s->ev.argc = read_argv_ptrs(&s->ev, (const char *const *)s->argv_ptr);
		submit_stashed(ctx, &s->ev, sizeof(s->ev), EV_EXEC, WS_KIND_EXEC, ret);
	}
	unstash(&exec_stash, tid);
	return 0;
}

/*
 * A successful exec: the new image is in place (comm already renamed).
 * old_pid is the tid that called exec, which keys the stash even when a
 * secondary thread exec'd and took over the leader's pid. With watch_execs,
 * an exec by a process nobody follows is reported too (WS_EXEC_HOST): that is
 * how a watch learns of a runtime started after it, without polling.
 */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u64 id = bpf_get_current_pid_tgid(), ip = 0;
	__u32 key = old_pid;
	struct exec_stash *stashed = NULL;
	struct target *t = lookup_target(id >> 32);
	struct ev_exec *e;
	bool walked = false;

	if (!t && !watch_execs)
		return 0;
	e = reserve(t, sizeof(*e), EV_EXEC, WS_KIND_EXEC);
	if (!e) {
		unstash(&exec_stash, key);
		return 0;
	}
	if (t)
		stashed = bpf_map_lookup_elem(&exec_stash, &key);
	if (stashed) {
		bpf_probe_read_kernel(e, sizeof(*e), &stashed->ev);
		ip = stashed->ev.hdr.ip;
		walked = true;
	} else {
		e->dfd = -100;
		e->at_flags = 0;
		e->flags = WS_EXEC_NO_ENTER | (t ? 0 : WS_EXEC_HOST);
		e->_pad = 0;
		e->filename[0] = 0;
	}
	/* the header describes the task as it is now, in its new image */
	fill_hdr(&e->hdr, EV_EXEC, sizeof(*e), id);
	e->hdr.ip = ip;
	bpf_probe_read_kernel_str(e->image, sizeof(e->image), BPF_CORE_READ(bprm, filename));
	/* for a plain execve the kernel's copy of the path is the caller's path */
	if (e->filename[0] == 0 && !(e->flags & WS_EXEC_AT))
		bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename));
	read_new_args(e);
	e->argc = BPF_CORE_READ(bprm, argc);
	if (stdio_is_socket())
		e->flags |= WS_EXEC_STDIO_SOCKET;
	/* the old image's stack, as it was when exec was called */
	if (walked && stashed)
		emit_saved_stack(&e->hdr, stashed->stack, stashed->stack_len);
	if (stashed)
		unstash(&exec_stash, key);
	submit(e);
	return 0;
}

/* ---- connect ---- */

static __always_inline __u16 socket_type(__s32 fd)
{
	struct file *f = fd_file(fd);
	struct socket *sock;

	if (!f)
		return 0;
	sock = BPF_CORE_READ(f, private_data);
	if (!sock)
		return 0;
	return BPF_CORE_READ(sock, type);
}

static __always_inline int enter_connect(struct call *c, __u64 id)
{
	union entry_record *r = entry_record();
	struct ev_connect *ev;
	const void *uaddr;
	__u32 addrlen;

	if (!r)
		return 0;
	ev = &r->connect;
	uaddr = (const void *)c->args[1];
	addrlen = c->args[2];
	fill_hdr(&ev->hdr, EV_CONNECT, sizeof(*ev), id);
	ev->hdr.ip = c->ip;
	ev->fd = (__s32)c->args[0];
	ev->addrlen = addrlen;
	ev->sock_type = socket_type(ev->fd);
	if (addrlen >= 2)
		bpf_probe_read_user(&ev->family, sizeof(ev->family), uaddr);

	if (ev->family == AF_INET && addrlen >= 8) {
		__u16 port;

		bpf_probe_read_user(&port, sizeof(port), uaddr + 2);
		ev->port = bpf_ntohs(port);
		bpf_probe_read_user(ev->addr, 4, uaddr + 4);
	} else if (ev->family == AF_INET6 && addrlen >= 24) {
		__u16 port;

		bpf_probe_read_user(&port, sizeof(port), uaddr + 2);
		ev->port = bpf_ntohs(port);
		bpf_probe_read_user(ev->addr, 16, uaddr + 8);
	} else if (ev->family == AF_UNIX && addrlen > 2) {
		/* the whole sun_path; near the end of a mapping only the string part is readable */
		if (bpf_probe_read_user(ev->path, sizeof(ev->path), uaddr + 2))
			bpf_probe_read_user_str(ev->path, sizeof(ev->path), uaddr + 2);
	}
	stash(&connect_stash, (__u32)id, ev);
	return 0;
}

static __always_inline int exit_connect(void *ctx, __u32 tid, long ret)
{
	struct ev_connect *c = bpf_map_lookup_elem(&connect_stash, &tid);

	if (!c)
		return 0;
	if (ret == -ENOTSOCK)
		c->sock_type = 0;
	submit_stashed(ctx, c, sizeof(*c), EV_CONNECT, WS_KIND_CONNECT, ret);
	unstash(&connect_stash, tid);
	return 0;
}

/* ---- memfd_create ---- */

static __always_inline int enter_memfd_create(struct call *c, __u64 id)
{
	union entry_record *r = entry_record();
	struct ev_memfd *m;

	if (!r)
		return 0;
	m = &r->memfd;
	fill_hdr(&m->hdr, EV_MEMFD, sizeof(*m), id);
	m->hdr.ip = c->ip;
	m->flags = c->args[1];
	bpf_probe_read_user_str(m->name, sizeof(m->name), (const char *)c->args[0]);
	stash(&memfd_stash, (__u32)id, m);
	return 0;
}

static __always_inline int exit_memfd_create(void *ctx, __u32 tid, long ret)
{
	struct ev_memfd *m = bpf_map_lookup_elem(&memfd_stash, &tid);

	if (!m)
		return 0;
	submit_stashed(ctx, m, sizeof(*m), EV_MEMFD, WS_KIND_MEMFD, ret);
	unstash(&memfd_stash, tid);
	return 0;
}

/* ---- open: open, openat, openat2, creat, open_by_handle_at ---- */

/* /proc/PID/mem (or /proc/PID/task/TID/mem): procfs, named "mem". */
static __always_inline bool is_proc_mem(struct file *f, struct inode *inode)
{
	struct dentry *d = BPF_CORE_READ(f, f_path.dentry);
	char name[4] = {};

	if (BPF_CORE_READ(inode, i_sb, s_magic) != PROC_SUPER_MAGIC || BPF_CORE_READ(d, d_name.len) != 3)
		return false;
	bpf_probe_read_kernel(name, 3, BPF_CORE_READ(d, d_name.name));
	return name[0] == 'm' && name[1] == 'e' && name[2] == 'm';
}

/*
 * Opens worth a stack walk: /proc/PID/mem, a file opened for writing, and
 * anything under /etc, /root or /home, where the secrets the rules look
 * for live. A runtime's own reads (its libraries, its code) walk nothing.
 */
static __always_inline bool sensitive_open(const struct ev_open *rec)
{
	const char *p = rec->file.path;

	if ((rec->flags & WS_OPEN_PROC_MEM) || (rec->f_mode & FMODE_WRITE))
		return true;
	if (p[0] != '/')
		return false;
	if (p[1] == 'e' && p[2] == 't' && p[3] == 'c' && p[4] == '/')
		return true;
	if (p[1] == 'r' && p[2] == 'o' && p[3] == 'o' && p[4] == 't' && p[5] == '/')
		return true;
	return p[1] == 'h' && p[2] == 'o' && p[3] == 'm' && p[4] == 'e' && p[5] == '/';
}

/*
 * Only the exit is hooked: the fd the call returned leads to the file the
 * kernel opened, whatever path, dfd, symlinks or /proc/self led there. For a
 * process nobody follows the cost is the targets lookup; a followed process
 * pays a record only the first time it opens a file for reading or writing.
 */
static __always_inline int exit_open(void *ctx, long nr, long ret, __u32 via)
{
	__u64 id;
	struct target *t;
	struct file *f;
	struct inode *inode;
	struct open_key key = {};
	struct ev_open *rec;
	__u32 fflags, fmode, flags = via;
	__u8 one = 1;

	if (ret < 0)
		return 0;
	id = bpf_get_current_pid_tgid();
	t = lookup_target(id >> 32);
	if (!t)
		return 0;
	f = fd_file(ret);
	if (!f)
		return 0;
	inode = BPF_CORE_READ(f, f_inode);
	fflags = BPF_CORE_READ(f, f_flags);
	/* a directory or an O_PATH handle gives no access to any content */
	if ((BPF_CORE_READ(inode, i_mode) & S_IFMT) == S_IFDIR || (fflags & O_PATH))
		return 0;
	fmode = BPF_CORE_READ(f, f_mode);
	key.sb = (__u64)BPF_CORE_READ(inode, i_sb);
	key.ino = BPF_CORE_READ(inode, i_ino);
	key.generation = BPF_CORE_READ(inode, i_generation);
	key.start_ticks = t->start_ticks;
	key.tgid = id >> 32;
	key.write = fmode & FMODE_WRITE;
	if (bpf_map_lookup_elem(&opens_seen, &key))
		return 0;
	/* its own kind: a flood of ordinary opens cannot hide a first /proc/PID/mem */
	if (is_proc_mem(f, inode))
		flags |= WS_OPEN_PROC_MEM;
	rec = reserve(t, sizeof(*rec), EV_OPEN, flags & WS_OPEN_PROC_MEM ? WS_KIND_PROC_MEM : WS_KIND_OPEN);
	if (!rec)
		return 0; /* not remembered: the next open of it tries again */
	bpf_map_update_elem(&opens_seen, &key, &one, BPF_ANY);
	fill_hdr(&rec->hdr, EV_OPEN, sizeof(*rec), id);
	rec->hdr.ret = ret;
	rec->nr = nr;
	rec->f_flags = fflags;
	rec->f_mode = fmode;
	rec->flags = flags;
	fill_file(&rec->file, f);
	if (ctx && sensitive_open(rec))
		emit_stack(ctx, &rec->hdr);
	submit(rec);
	return 0;
}

/* ---- checks on every hooked syscall ---- */

static __always_inline void count_syscall(long nr)
{
	__u32 key = nr;
	__u64 *n;

	if (key >= WS_MAX_SYSCALLS)
		return;
	n = bpf_map_lookup_elem(&syscall_counts, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
}

/*
 * Shellcode doing raw syscalls: the syscall instruction sits in anonymous
 * memory rather than in a file's code (libc, the runtime) or the vDSO. The
 * code ranges a process's syscalls come from are few and stable, so they are
 * cached in its target entry and the VMA lookup runs only on a miss. A memfd
 * is anonymous memory with a file around it: code there is never cached.
 */
static __always_inline void check_syscall_site(struct target *t, struct call *c, __u64 id)
{
	struct vma_info vi = {};
	struct ev_anon_syscall *a;
	__u64 ip = c->ip, vdso;
	bool memfd;
	int i;

	for (i = 0; i < WS_CODE_CACHE; i++)
		if (ip - t->code_start[i] < t->code_end[i] - t->code_start[i])
			return;
	lookup_vma(ip, &vi);
	if (!vi.found)
		return; /* not a VMA (vsyscall) or the mm lock is busy: cannot tell */
	vdso = (__u64)BPF_CORE_READ(current_task(), mm, context.vdso);
	memfd = vi.file && is_memfd(vi.file);
	if ((vi.file && !memfd) || vi.start == vdso) {
		i = t->code_next++ % WS_CODE_CACHE;
		if (i >= 0 && i < WS_CODE_CACHE) {
			t->code_start[i] = vi.start;
			t->code_end[i] = vi.end;
		}
		return;
	}
	if (t->last_anon_page == ip >> 12)
		return;
	t->last_anon_page = ip >> 12;
	a = reserve(t, sizeof(*a), EV_ANON_SYSCALL, memfd ? WS_KIND_MEMFD_SYSCALL : WS_KIND_ANON_SYSCALL);
	if (!a)
		return;
	fill_hdr(&a->hdr, EV_ANON_SYSCALL, sizeof(*a), id);
	a->hdr.ip = ip;
	a->vma_start = vi.start;
	a->vma_end = vi.end;
	a->vm_flags = vi.flags;
	a->nr = c->nr;
	a->flags = memfd ? WS_SITE_MEMFD : 0;
	if (memfd)
		fill_file(&a->file, vi.file);
	else
		clear_file(&a->file);
	emit_stack(c->ctx, &a->hdr);
	submit(a);
}

static __always_inline int notable_syscall(struct target *t, struct call *c, __u64 id, __u32 flags)
{
	struct ev_syscall *e = reserve(t, sizeof(*e), EV_SYSCALL, WS_KIND_SYSCALL);
	bool compat = flags & WS_SYSCALL_COMPAT;

	if (!e)
		return 0;
	fill_hdr(&e->hdr, EV_SYSCALL, sizeof(*e), id);
	e->hdr.ip = c->ip;
	e->nr = c->nr;
	e->flags = flags;
	e->args[0] = compat ? 0 : c->args[0];
	e->args[1] = compat ? 0 : c->args[1];
	e->args[2] = compat ? 0 : c->args[2];
	e->remote_addr = 0;
	/* where in the other process: the first remote iovec's base (zero if it cannot be read) */
	if (!compat && (c->nr == NR_process_vm_readv || c->nr == NR_process_vm_writev))
		bpf_probe_read_user(&e->remote_addr, c->compat ? sizeof(__u32) : sizeof(e->remote_addr),
				    (const void *)c->args[3]);
	if (c->ctx)
		emit_stack(c->ctx, &e->hdr);
	submit(e);
	return 0;
}

/*
 * ==== names changed and sockets made: persistence, tampering, raw sockets ====
 * rename, link, symlink onto a name, unlink and truncate by a followed
 * process, at entry (the attempt is the finding, as for notable syscalls):
 * each costs a process nobody follows one targets lookup, on these syscalls
 * only. The caller's name is relative to a directory the kernel holds (cwd
 * or dfd): that directory's path is read here, the two are joined in user
 * space.
 */
#define NR_socket 41
#define NR_truncate 76
#define NR_ftruncate 77
#define NR_rename 82
#define NR_link 86
#define NR_unlink 87
#define NR_symlink 88
#define NR_unlinkat 263
#define NR_renameat 264
#define NR_linkat 265
#define NR_symlinkat 266
#define NR_renameat2 316
#define AT_FDCWD -100
#define AF_PACKET 17
#define SOCK_RAW 3
#define SOCK_PACKET 10
#define SOCK_TYPE_MASK 0xf

/*
 * One name change. name and source are the caller's strings, or kernel
 * copies (WS_VIA_URING: an io_uring request's struct filename names).
 */
static __always_inline int report_path(struct target *t, __u64 id, __u64 ip, long nr, __s32 dfd,
				       const char *name, const char *source, __u32 via)
{
	struct ev_path *p = reserve(t, sizeof(*p), EV_PATH, WS_KIND_PATH);
	struct task_struct *task;
	struct file *f = NULL;

	if (!p)
		return 0;
	fill_hdr(&p->hdr, EV_PATH, sizeof(*p), id);
	p->hdr.ip = ip;
	p->nr = nr;
	p->flags = via;
	p->dfd = dfd;
	p->_pad = 0;
	p->name[0] = 0;
	p->source[0] = 0;
	if (via) {
		bpf_probe_read_kernel_str(p->name, sizeof(p->name), name);
		bpf_probe_read_kernel_str(p->source, sizeof(p->source), source);
	} else {
		bpf_probe_read_user_str(p->name, sizeof(p->name), name);
		bpf_probe_read_user_str(p->source, sizeof(p->source), source);
	}
	clear_file(&p->at);
	if (nr == NR_ftruncate) {
		f = fd_file(dfd);
		if (f) {
			fill_file(&p->at, f);
			p->flags |= WS_PATH_FILE;
		}
	} else if (p->name[0] != '/') {
		if (dfd == AT_FDCWD) {
			task = (struct task_struct *)bpf_get_current_task();
			struct dentry *d = BPF_CORE_READ(task, fs, pwd.dentry);

			fill_dentry(&p->at, d, BPF_CORE_READ(task, fs, pwd.mnt), BPF_CORE_READ(d, d_inode), NULL);
			p->flags |= WS_PATH_AT;
		} else if ((f = fd_file(dfd))) {
			fill_file(&p->at, f);
			p->flags |= WS_PATH_AT;
		}
	}
	submit(p);
	return 0;
}

/* The syscall's arguments: which name changes, relative to which dfd, and its source. */
static __always_inline int enter_path(struct target *t, struct call *c, __u64 id)
{
	const char *a0 = (const char *)c->args[0], *a1 = (const char *)c->args[1];
	const char *a2 = (const char *)c->args[2], *a3 = (const char *)c->args[3];

	switch (c->nr) {
	case NR_rename:
	case NR_link:
	case NR_symlink:
		return report_path(t, id, c->ip, c->nr, AT_FDCWD, a1, a0, 0);
	case NR_unlink:
	case NR_truncate:
		return report_path(t, id, c->ip, c->nr, AT_FDCWD, a0, NULL, 0);
	case NR_ftruncate:
		return report_path(t, id, c->ip, c->nr, (__s32)c->args[0], NULL, NULL, 0);
	case NR_unlinkat:
		return report_path(t, id, c->ip, c->nr, (__s32)c->args[0], a1, NULL, 0);
	case NR_symlinkat:
		return report_path(t, id, c->ip, c->nr, (__s32)c->args[1], a2, a0, 0);
	default: /* renameat, renameat2, linkat */
		return report_path(t, id, c->ip, c->nr, (__s32)c->args[2], a3, a1, 0);
	}
}

/* Packet and raw sockets only: ordinary TCP/UDP sockets are judged at connect. */
static __always_inline bool raw_socket(unsigned long family, unsigned long type)
{
	type &= SOCK_TYPE_MASK;
	return family == AF_PACKET || type == SOCK_RAW || type == SOCK_PACKET;
}

static __always_inline int enter_socket(struct target *t, struct call *c, __u64 id)
{
	return raw_socket(c->args[0], c->args[1]) ? notable_syscall(t, c, id, 0) : 0;
}

/* The entry half of a syscall by a followed process: the same for both kinds of hook. */
static __always_inline int on_enter(struct target *t, struct call *c, __u64 id)
{
	if (check_syscall_sites)
		check_syscall_site(t, c, id);

	switch (c->nr) {
	case NR_mmap:
		return enter_mmap(c, id);
	case NR_mprotect:
		return enter_protect(EV_MPROTECT, c, id);
	case NR_pkey_mprotect:
		return enter_protect(EV_PKEY_MPROTECT, c, id);
	case NR_execve:
		return enter_exec(c, id, (const char *)c->args[0], (const char *const *)c->args[1],
				  -100 /* AT_FDCWD */, 0, 0);
	case NR_execveat:
		return enter_exec(c, id, (const char *)c->args[1], (const char *const *)c->args[2],
				  (__s32)c->args[0], c->args[4], WS_EXEC_AT);
	case NR_connect:
		return enter_connect(c, id);
	case NR_memfd_create:
		return enter_memfd_create(c, id);
	case NR_rename:
	case NR_link:
	case NR_unlink:
	case NR_symlink:
	case NR_truncate:
	case NR_ftruncate:
	case NR_unlinkat:
	case NR_renameat:
	case NR_linkat:
	case NR_symlinkat:
	case NR_renameat2:
		return enter_path(t, c, id);
	case NR_socket:
		return enter_socket(t, c, id);
	case NR_io_uring_setup:
	case NR_ptrace:
	case NR_process_vm_readv:
	case NR_process_vm_writev:
	case NR_init_module:
	case NR_finit_module:
	case NR_kexec_load:
	case NR_kexec_file_load:
	case NR_bpf:
	case NR_userfaultfd:
		return notable_syscall(t, c, id, 0);
	default:
		return 0;
	}
}

/* The exit half: opens, and syscalls whose entry stashed something. */
static __always_inline int on_return(void *ctx, long nr, long ret)
{
	__u32 tid;

	switch (nr) {
	case NR_open:
	case NR_openat:
	case NR_openat2:
	case NR_creat:
	case NR_open_by_handle_at:
		return exit_open(ctx, nr, ret, 0);
	}
	if (!pending_stashed)
		return 0;
	tid = (__u32)bpf_get_current_pid_tgid();
	switch (nr) {
	case NR_mmap:
	case NR_mprotect:
	case NR_pkey_mprotect:
		return exit_mem(ctx, tid, ret);
	case NR_execve:
	case NR_execveat:
		return exit_exec(ctx, tid, ret);
	case NR_connect:
		return exit_connect(ctx, tid, ret);
	case NR_memfd_create:
		return exit_memfd_create(ctx, tid, ret);
	default:
		return 0;
	}
}

/* ---- the 32-bit ABI: int 0x80 from a 64-bit process ---- */

/*
 * i386 syscall numbers (arch/x86/entry/syscalls/syscall_32.tbl) of the calls
 * the handlers judge, as their x86_64 twins; -1 for the rest. Arguments come
 * in ebx, ecx, edx, esi, edi, ebp, 32 bits each; the calls take the same
 * arguments in the same order (mmap2's offset is in pages, never read).
 */
static __always_inline long native_nr(long nr32)
{
	switch (nr32) {
	case 5: return NR_open;
	case 8: return NR_creat;
	case 26: return NR_ptrace;
	case 125: return NR_mprotect;
	case 192: return NR_mmap; /* mmap2 */
	case 128: return NR_init_module;
	case 283: return NR_kexec_load;
	case 295: return NR_openat;
	case 342: return NR_open_by_handle_at;
	case 347: return NR_process_vm_readv;
	case 348: return NR_process_vm_writev;
	case 350: return NR_finit_module;
	case 356: return NR_memfd_create;
	case 357: return NR_bpf;
	case 362: return NR_connect;
	case 374: return NR_userfaultfd;
	case 380: return NR_pkey_mprotect;
	case 425: return NR_io_uring_setup;
	case 437: return NR_openat2;
	default: return -1;
	}
}

#define NR32_old_mmap 90   /* mmap(struct mmap_arg_struct *): six 32-bit words in memory */
#define NR32_socketcall 102 /* socketcall(call, u32 args[]): SYS_CONNECT is call 3 */

/*
 * A followed process's 32-bit syscall: the first is reported as such (the
 * ABI itself is news in a 64-bit process), then it is judged as its x86_64
 * twin would be. Execs are reported by sched_process_exec whatever the ABI.
 */
static __always_inline int compat_enter(void *ctx, struct target *t, struct pt_regs *regs, long nr32, __u64 id)
{
	struct call c = {};
	__u32 words[6] = {};
	int i;

	c.ctx = ctx;
	c.ip = BPF_CORE_READ(regs, ip);
	c.sp = BPF_CORE_READ(regs, sp);
	c.compat = true;
	if (!t->compat_seen) {
		t->compat_seen = 1;
		c.nr = nr32;
		notable_syscall(t, &c, id, WS_SYSCALL_COMPAT);
	}
	words[0] = BPF_CORE_READ(regs, bx);
	words[1] = BPF_CORE_READ(regs, cx);
	words[2] = BPF_CORE_READ(regs, dx);
	words[3] = BPF_CORE_READ(regs, si);
	words[4] = BPF_CORE_READ(regs, di);
	words[5] = BPF_CORE_READ(regs, bp);
	if (nr32 == NR32_old_mmap) {
		c.nr = NR_mmap;
		bpf_probe_read_user(words, sizeof(words), (const void *)(unsigned long)words[0]);
	} else if (nr32 == NR32_socketcall) {
		if (words[0] != 3)
			return 0;
		c.nr = NR_connect;
		bpf_probe_read_user(words, 3 * sizeof(__u32), (const void *)(unsigned long)words[1]);
	} else {
		c.nr = native_nr(nr32);
		if (c.nr < 0)
			return 0;
	}
	for (i = 0; i < 6; i++)
		c.args[i] = words[i];
	/* old mmap's offset is in bytes, mmap2's in pages: neither is read */
	return on_enter(t, &c, id);
}

/* The x86_64 twin of the 32-bit syscall now returning, or -1. */
static __always_inline long compat_exit_nr(long nr32)
{
	if (nr32 == NR32_old_mmap)
		return NR_mmap;
	if (nr32 == NR32_socketcall)
		return NR_connect; /* on_return finds a stash only for a connect */
	return native_nr(nr32);
}

/* ---- exact mode: every syscall on the host, through sys_enter / sys_exit ---- */

/*
 * regs is a trusted kernel pointer here (a BTF tracepoint), read directly
 * with CO-RE offsets rather than through bpf_probe_read_kernel: ~10 ns less
 * per syscall.
 */
SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long nr)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct target *t = lookup_target(id >> 32);
	struct call c;

	if (!t)
		return 0;
	/* int 0x80 from a 64-bit process uses the i386 table: its numbers mean other syscalls */
	if (current_status() & TS_COMPAT)
		return compat_enter(ctx, t, regs, nr, id);
	c.nr = nr;
	c.compat = false;
	c.ctx = ctx;
	c.ip = regs->ip;
	c.sp = regs->sp;
	c.args[0] = regs->di;
	c.args[1] = regs->si;
	c.args[2] = regs->dx;
	c.args[3] = regs->r10;
	c.args[4] = regs->r8;
	c.args[5] = regs->r9;
	/* a load-time constant: a branch switched off is dropped by the verifier */
	if (count_syscalls)
		count_syscall(nr);
	return on_enter(t, &c, id);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	long nr = regs->orig_ax;

	if (current_status() & TS_COMPAT) {
		nr = compat_exit_nr(nr);
		if (nr < 0)
			return 0;
	}
	return on_return(ctx, nr, ret);
}

/* ---- lean mode: one tracepoint per syscall the rules need ---- */

/* The syscall tracepoints' records (events/syscalls/sys_{enter,exit}_NAME/format). */
struct syscall_enter_args {
	__u64 common;
	int nr;
	int _pad;
	unsigned long args[6]; /* only the syscall's own are valid */
};

struct syscall_exit_args {
	__u64 common;
	int nr;
	int _pad;
	long ret;
};

/*
 * nargs: the syscall's own argument count. The kernel refuses to attach a
 * program that reads past the end of its tracepoint's record.
 */
static __always_inline int lean_enter(struct syscall_enter_args *ctx, long nr, int nargs)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct target *t = lookup_target(id >> 32);
	struct pt_regs *regs;
	struct call c;
	int i;

	if (!t)
		return 0;
	/* the user registers the syscall was entered with: where it came from */
	regs = current_user_regs();
	c.nr = nr;
	c.compat = false;
	c.ctx = ctx;
	c.ip = BPF_CORE_READ(regs, ip);
	c.sp = BPF_CORE_READ(regs, sp);
	for (i = 0; i < 6; i++)
		c.args[i] = i < nargs ? ctx->args[i] : 0;
	return on_enter(t, &c, id);
}

#define LEAN_ENTER(name, nargs)                                  \
	SEC("tp/syscalls/sys_enter_" #name)                      \
	int lean_enter_##name(struct syscall_enter_args *ctx)    \
	{                                                        \
		return lean_enter(ctx, NR_##name, nargs);        \
	}

#define LEAN_EXIT(name)                                          \
	SEC("tp/syscalls/sys_exit_" #name)                       \
	int lean_exit_##name(struct syscall_exit_args *ctx)      \
	{                                                        \
		return on_return(ctx, NR_##name, ctx->ret);      \
	}

/* syscalls whose result matters: entry stashed, exit reports */
LEAN_ENTER(mmap, 6)
LEAN_EXIT(mmap)
LEAN_ENTER(mprotect, 3)
LEAN_EXIT(mprotect)
LEAN_ENTER(pkey_mprotect, 4)
LEAN_EXIT(pkey_mprotect)
LEAN_ENTER(execve, 3)
LEAN_EXIT(execve)
LEAN_ENTER(execveat, 5)
LEAN_EXIT(execveat)
LEAN_ENTER(connect, 3)
LEAN_EXIT(connect)
LEAN_ENTER(memfd_create, 2)
LEAN_EXIT(memfd_create)
/* opens: the exit alone (the fd leads to the file) */
LEAN_EXIT(open)
LEAN_EXIT(openat)
LEAN_EXIT(openat2)
LEAN_EXIT(creat)
LEAN_EXIT(open_by_handle_at)
/* notable syscalls: reported at entry (a kernel without one has no tracepoint for it: skipped) */
LEAN_ENTER(io_uring_setup, 2)
LEAN_ENTER(ptrace, 4)
LEAN_ENTER(process_vm_readv, 6)
LEAN_ENTER(process_vm_writev, 6)
LEAN_ENTER(init_module, 3)
LEAN_ENTER(finit_module, 3)
LEAN_ENTER(kexec_load, 4)
LEAN_ENTER(kexec_file_load, 5)
LEAN_ENTER(bpf, 3)
LEAN_ENTER(userfaultfd, 1)

/* names changed and packet/raw sockets (the section above on_enter): entry only, the attempt is the finding */
LEAN_ENTER(rename, 2)
LEAN_ENTER(renameat, 4)
LEAN_ENTER(renameat2, 5)
LEAN_ENTER(link, 2)
LEAN_ENTER(linkat, 5)
LEAN_ENTER(symlink, 2)
LEAN_ENTER(symlinkat, 3)
LEAN_ENTER(unlink, 1)
LEAN_ENTER(unlinkat, 3)
LEAN_ENTER(truncate, 2)
LEAN_ENTER(ftruncate, 2)
LEAN_ENTER(socket, 3)

/*
 * The per-syscall tracepoints skip 32-bit syscalls: where a 64-bit process
 * can make them (IA-32 emulation on), these two see them instead. They run
 * for every syscall on the host, so the first test is the cheapest one: a
 * 64-bit syscall returns after one load. The loader attaches them only where
 * int 0x80 works.
 */
SEC("tp_btf/sys_enter")
int BPF_PROG(lean_compat_enter, struct pt_regs *regs, long nr)
{
	__u64 id;
	struct target *t;

	if (!(current_status() & TS_COMPAT))
		return 0;
	id = bpf_get_current_pid_tgid();
	t = lookup_target(id >> 32);
	if (!t)
		return 0;
	return compat_enter(ctx, t, regs, nr, id);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(lean_compat_exit, struct pt_regs *regs, long ret)
{
	long nr;

	if (!(current_status() & TS_COMPAT))
		return 0;
	nr = compat_exit_nr(regs->orig_ax);
	if (nr < 0)
		return 0;
	return on_return(ctx, nr, ret);
}

/*
 * ==== trampolines: fentry/fexit on the kernel functions that do the work ====
 * The default where the kernel allows them (the loader tries one first): a
 * program runs only when the operation itself runs, whatever syscall ABI or
 * path led there, and no task is put on the slow syscall path. Memory and
 * connects are hooked on the functions every ABI shares (ksys_mmap_pgoff,
 * do_mprotect_pkey, __sys_connect); the other syscalls, opens included, on
 * their per-ABI entry points (__x64_sys_NAME, and
 * __ia32_sys_NAME or __ia32_compat_sys_NAME where int 0x80 works). The
 * loader leaves out a program whose function this kernel's BTF lacks, and
 * coverage names it. Each feeds the same handlers as the tracepoints do.
 */

/*
 * A call into a shared kernel function by a followed process: where it came
 * from, and its ABI. The first 32-bit syscall of a process is reported as
 * such, as compat_enter() does. NULL when nobody follows the caller.
 */
static __always_inline struct target *tramp_call(void *ctx, struct call *c, long nr, __u64 id)
{
	struct target *t = lookup_target(id >> 32);
	struct pt_regs *regs;

	if (!t)
		return NULL;
	c->ctx = ctx;
	regs = current_user_regs();
	c->ip = BPF_CORE_READ(regs, ip);
	c->sp = BPF_CORE_READ(regs, sp);
	c->compat = current_status() & TS_COMPAT;
	if (c->compat && !t->compat_seen) {
		t->compat_seen = 1;
		c->nr = BPF_CORE_READ(regs, orig_ax);
		notable_syscall(t, c, id, WS_SYSCALL_COMPAT);
	}
	c->nr = nr;
	return t;
}

/* mmap, mmap2 and old_mmap of every ABI; the result is the address mapped */
SEC("fexit/ksys_mmap_pgoff")
int BPF_PROG(tramp_mmap, unsigned long addr, unsigned long len, unsigned long prot, unsigned long flags,
	     unsigned long fd, unsigned long pgoff, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call c = {};
	struct target *t = tramp_call(ctx, &c, NR_mmap, id);

	if (!t)
		return 0;
	c.args[0] = addr;
	c.args[1] = len;
	c.args[2] = prot;
	c.args[3] = flags;
	c.args[4] = fd;
	c.args[5] = pgoff << 12; /* in bytes, as x86_64's mmap takes it */
	on_enter(t, &c, id);
	return on_return(ctx, NR_mmap, ret);
}

/* mprotect and pkey_mprotect of every ABI: the old protection is read before the call */
SEC("fentry/do_mprotect_pkey")
int BPF_PROG(tramp_mprotect_enter, unsigned long start, unsigned long len, unsigned long prot, int pkey)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call c = {};
	struct target *t = tramp_call(ctx, &c, pkey == -1 ? NR_mprotect : NR_pkey_mprotect, id);

	if (!t)
		return 0;
	c.args[0] = start;
	c.args[1] = len;
	c.args[2] = prot;
	c.args[3] = pkey;
	return on_enter(t, &c, id);
}

SEC("fexit/do_mprotect_pkey")
int BPF_PROG(tramp_mprotect_exit, unsigned long start, unsigned long len, unsigned long prot, int pkey, int ret)
{
	return on_return(ctx, pkey == -1 ? NR_mprotect : NR_pkey_mprotect, ret);
}

/* connect of every ABI, socketcall's included; the caller's address is still in place at exit */
SEC("fexit/__sys_connect")
int BPF_PROG(tramp_connect, int fd, void *uaddr, int addrlen, int ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call c = {};
	struct target *t = tramp_call(ctx, &c, NR_connect, id);

	if (!t)
		return 0;
	c.args[0] = fd;
	c.args[1] = (unsigned long)uaddr;
	c.args[2] = addrlen;
	on_enter(t, &c, id);
	return on_return(ctx, NR_connect, ret);
}

/*
 * An x86_64 syscall's entry point. Its argument is the caller's registers,
 * the task's own user registers: read from the task, as 5.10's BTF describes
 * that argument as a struct it does not define (the verifier refuses to read
 * it there).
 */
static __always_inline int tramp_x64_enter(void *ctx, long nr)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct target *t = lookup_target(id >> 32);
	struct pt_regs *regs;
	struct call c;

	if (!t)
		return 0;
	regs = current_user_regs();
	c.ctx = ctx;
	c.nr = nr;
	c.compat = false;
	c.ip = BPF_CORE_READ(regs, ip);
	c.sp = BPF_CORE_READ(regs, sp);
	c.args[0] = BPF_CORE_READ(regs, di);
	c.args[1] = BPF_CORE_READ(regs, si);
	c.args[2] = BPF_CORE_READ(regs, dx);
	c.args[3] = BPF_CORE_READ(regs, r10);
	c.args[4] = BPF_CORE_READ(regs, r8);
	c.args[5] = BPF_CORE_READ(regs, r9);
	return on_enter(t, &c, id);
}

/* A 32-bit syscall's entry point (int 0x80): judged as its x86_64 twin. */
static __always_inline int tramp_ia32_enter(void *ctx, long nr32)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct target *t = lookup_target(id >> 32);

	if (!t)
		return 0;
	return compat_enter(ctx, t, current_user_regs(), nr32, id);
}

#define TRAMP_ENTER(name)                                              \
	SEC("fentry/__x64_sys_" #name)                                 \
	int BPF_PROG(tramp_enter_##name)                               \
	{                                                              \
		return tramp_x64_enter(ctx, NR_##name);                     \
	}

#define TRAMP_EXIT(name)                                               \
	SEC("fexit/__x64_sys_" #name)                                  \
	int BPF_PROG(tramp_exit_##name, void *regs, long ret)          \
	{                                                              \
		return on_return(ctx, NR_##name, ret);                      \
	}

/* func: the kernel's i386 entry point; nr32: its i386 syscall number */
#define TRAMP_IA32_ENTER(func, nr32)                                   \
	SEC("fentry/" #func)                                           \
	int BPF_PROG(tramp_##func)                                     \
	{                                                              \
		return tramp_ia32_enter(ctx, nr32);                         \
	}

#define TRAMP_IA32_EXIT(func, name)                                    \
	SEC("fexit/" #func)                                            \
	int BPF_PROG(tramp_exit_##func, void *regs, long ret)          \
	{                                                              \
		return on_return(ctx, NR_##name, ret);                      \
	}

/* exec: the caller's arguments at entry; a failed one is reported at exit, a successful one by on_exec */
TRAMP_ENTER(execve)
TRAMP_EXIT(execve)
TRAMP_ENTER(execveat)
TRAMP_EXIT(execveat)
TRAMP_ENTER(memfd_create)
TRAMP_EXIT(memfd_create)
/* opens: the exit alone (the fd leads to the file). Not do_sys_openat2: 5.10 inlines it into the open syscalls */
TRAMP_EXIT(open)
TRAMP_EXIT(openat)
TRAMP_EXIT(openat2)
TRAMP_EXIT(creat)
TRAMP_EXIT(open_by_handle_at)
TRAMP_ENTER(io_uring_setup)
TRAMP_ENTER(ptrace)
TRAMP_ENTER(process_vm_readv)
TRAMP_ENTER(process_vm_writev)
TRAMP_ENTER(init_module)
TRAMP_ENTER(finit_module)
TRAMP_ENTER(kexec_load)
TRAMP_ENTER(kexec_file_load)
TRAMP_ENTER(bpf)
TRAMP_ENTER(userfaultfd)
TRAMP_ENTER(rename)
TRAMP_ENTER(renameat)
TRAMP_ENTER(renameat2)
TRAMP_ENTER(link)
TRAMP_ENTER(linkat)
TRAMP_ENTER(symlink)
TRAMP_ENTER(symlinkat)
TRAMP_ENTER(unlink)
TRAMP_ENTER(unlinkat)
TRAMP_ENTER(truncate)
TRAMP_ENTER(ftruncate)
TRAMP_ENTER(socket)

/*
 * The same through int 0x80, where it is a syscall (the loader checks).
 * Some calls changed entry points between kernels (compat_ to plain): both
 * are listed, the loader keeps the one this kernel has.
 */
TRAMP_IA32_EXIT(__ia32_compat_sys_open, open)
TRAMP_IA32_EXIT(__ia32_compat_sys_openat, openat)
TRAMP_IA32_EXIT(__ia32_sys_openat2, openat2)
TRAMP_IA32_EXIT(__ia32_sys_creat, creat)
TRAMP_IA32_EXIT(__ia32_compat_sys_open_by_handle_at, open_by_handle_at)
TRAMP_IA32_ENTER(__ia32_sys_memfd_create, 356)
TRAMP_IA32_EXIT(__ia32_sys_memfd_create, memfd_create)
TRAMP_IA32_ENTER(__ia32_compat_sys_ptrace, 26)
TRAMP_IA32_ENTER(__ia32_sys_init_module, 128)
TRAMP_IA32_ENTER(__ia32_sys_finit_module, 350)
TRAMP_IA32_ENTER(__ia32_compat_sys_kexec_load, 283)
TRAMP_IA32_ENTER(__ia32_sys_process_vm_readv, 347)
TRAMP_IA32_ENTER(__ia32_compat_sys_process_vm_readv, 347)
TRAMP_IA32_ENTER(__ia32_sys_process_vm_writev, 348)
TRAMP_IA32_ENTER(__ia32_compat_sys_process_vm_writev, 348)
TRAMP_IA32_ENTER(__ia32_sys_bpf, 357)
TRAMP_IA32_ENTER(__ia32_sys_userfaultfd, 374)
TRAMP_IA32_ENTER(__ia32_sys_io_uring_setup, 425)

/*
 * ==== io_uring: requests judged as the syscalls they replace ====
 * A ring does opens, connects and renames without the syscalls hooked
 * above, and a ring made before monitoring or received over a socket shows
 * no io_uring_setup. The kernel's io_uring tracepoints fire only for
 * processes that use a ring: every other process pays nothing for them.
 *
 * Completion (io_uring_complete) gives a request's result: an OPENAT's fd
 * leads to the file as an open's does, a CONNECT's socket to its peer.
 * Submission (io_uring_submit_req) gives the names of RENAMEAT, LINKAT,
 * SYMLINKAT and UNLINKAT while the kernel's copies of them still exist
 * (the operation frees them). Both run in the process that owns the work:
 * the submitter, its io-wq workers or its SQPOLL thread, all of its thread
 * group since 5.12, sharing its fd table. The request's fields used here
 * (io_kiocb.cqe, .cmd) exist from 6.0 on; the loader leaves these programs
 * out on kernels whose BTF lacks them, and coverage says so. Not in the
 * legacy object: its kernels (before 5.17) have none of this.
 */
#ifndef WS_LEGACY
#define IORING_OP_CONNECT 16
#define IORING_OP_OPENAT 18
#define IORING_OP_OPENAT2 28
#define IORING_OP_RENAMEAT 35
#define IORING_OP_UNLINKAT 36
#define IORING_OP_SYMLINKAT 38
#define IORING_OP_LINKAT 39
#define IORING_OP_SOCKET 45
#define AT_REMOVEDIR 0x200

/* the request's per-operation data (struct io_open, io_connect, ...) */
static __always_inline void *uring_cmd(struct io_kiocb *req)
{
	return (void *)req + bpf_core_field_offset(struct io_kiocb, cmd);
}

/* The peer the socket is connected to; failing that (a refused connect), the address the caller gave. */
static __always_inline int uring_connect(struct target *t, struct io_kiocb *req, int res, __u64 id)
{
	struct socket *sock = BPF_CORE_READ(req, file, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	struct io_connect *conn = uring_cmd(req);
	struct ev_connect *ev;
	const void *uaddr;
	__u16 port;

	if (!sk)
		return 0;
	ev = reserve(t, sizeof(*ev), EV_CONNECT, WS_KIND_CONNECT);
	if (!ev)
		return 0;
	fill_hdr(&ev->hdr, EV_CONNECT, sizeof(*ev), id);
	ev->hdr.ret = res;
	ev->fd = -1; /* a request names its socket by fd or fixed slot: not kept */
	ev->sock_type = BPF_CORE_READ(sock, type);
	ev->flags = WS_VIA_URING;
	ev->_pad2 = 0;
	__builtin_memset(ev->addr, 0, sizeof(ev->addr));
	__builtin_memset(ev->path, 0, sizeof(ev->path));
	ev->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	ev->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (ev->port == 0) {
		/* the kernel resets the peer of a failed connect: read the request's address (the caller's memory) */
		uaddr = BPF_CORE_READ(conn, addr);
		bpf_probe_read_user(&ev->family, sizeof(ev->family), uaddr);
		bpf_probe_read_user(&port, sizeof(port), uaddr + 2);
		ev->port = bpf_ntohs(port);
		if (ev->family == AF_INET)
			bpf_probe_read_user(ev->addr, 4, uaddr + 4);
		else if (ev->family == AF_INET6)
			bpf_probe_read_user(ev->addr, 16, uaddr + 8);
		else if (ev->family == AF_UNIX)
			bpf_probe_read_user_str(ev->path, sizeof(ev->path), uaddr + 2);
	} else if (ev->family == AF_INET) {
		bpf_core_read(ev->addr, 4, &sk->__sk_common.skc_daddr);
	} else if (ev->family == AF_INET6) {
		bpf_core_read(ev->addr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	ev->addrlen = ev->family == AF_INET6 ? 28 : ev->family == AF_INET ? 16 : 2 + sizeof(ev->path);
	submit(ev);
	return 0;
}

SEC("tp_btf/io_uring_complete")
int BPF_PROG(on_uring_complete, void *ring, struct io_kiocb *req)
{
	__u64 id;
	struct target *t;
	struct io_socket *sk;
	struct call c = {};
	__u8 op;
	int res;

	/* 5.10 to 5.19 pass other arguments here: there the loader does not attach this */
	if (!bpf_core_field_exists(struct io_kiocb, cqe) || !bpf_core_field_exists(struct io_kiocb, cmd) || !req)
		return 0;
	id = bpf_get_current_pid_tgid();
	t = lookup_target(id >> 32);
	if (!t)
		return 0;
	op = BPF_CORE_READ(req, opcode);
	res = BPF_CORE_READ(req, cqe.res);
	switch (op) {
	case IORING_OP_OPENAT:
	case IORING_OP_OPENAT2:
		/* a fixed-file open's result is a slot of the ring, not an fd */
		if (BPF_CORE_READ((struct io_open *)uring_cmd(req), file_slot))
			return 0;
		return exit_open(NULL, op == IORING_OP_OPENAT ? NR_openat : NR_openat2, res, WS_OPEN_URING);
	case IORING_OP_CONNECT:
		return uring_connect(t, req, res, id);
	case IORING_OP_SOCKET:
		sk = uring_cmd(req);
		c.nr = NR_socket;
		c.args[0] = BPF_CORE_READ(sk, domain);
		c.args[1] = BPF_CORE_READ(sk, type);
		if (res < 0 || !raw_socket(c.args[0], c.args[1]))
			return 0;
		return notable_syscall(t, &c, id, WS_VIA_URING);
	default:
		return 0;
	}
}

/* The request names live until the operation runs: read them at submission (the attempt). */
SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(on_uring_submit, struct io_kiocb *req)
{
	__u64 id;
	struct target *t;
	struct io_rename *rn;
	struct io_unlink *un;
	__u8 op;

	if (!bpf_core_field_exists(struct io_kiocb, cmd) || !req)
		return 0;
	op = BPF_CORE_READ(req, opcode);
	if (op != IORING_OP_RENAMEAT && op != IORING_OP_LINKAT && op != IORING_OP_SYMLINKAT && op != IORING_OP_UNLINKAT)
		return 0;
	id = bpf_get_current_pid_tgid();
	t = lookup_target(id >> 32);
	if (!t)
		return 0;
	if (op == IORING_OP_UNLINKAT) {
		un = uring_cmd(req);
		return report_path(t, id, 0, NR_unlinkat, BPF_CORE_READ(un, dfd), BPF_CORE_READ(un, filename, name), NULL,
				   WS_VIA_URING);
	}
	/* io_rename and io_link (symlinkat, linkat) hold the same fields under the same names */
	rn = uring_cmd(req);
	if (op == IORING_OP_RENAMEAT)
		return report_path(t, id, 0, NR_renameat, BPF_CORE_READ(rn, new_dfd), BPF_CORE_READ(rn, newpath, name),
				   BPF_CORE_READ(rn, oldpath, name), WS_VIA_URING);
	{
		struct io_link *ln = uring_cmd(req);

		return report_path(t, id, 0, op == IORING_OP_LINKAT ? NR_linkat : NR_symlinkat, BPF_CORE_READ(ln, new_dfd),
				   BPF_CORE_READ(ln, newpath, name), BPF_CORE_READ(ln, oldpath, name), WS_VIA_URING);
	}
}
#endif /* !WS_LEGACY */

/* ---- process lifetime ---- */

/*
 * Runs in the parent before the child is first scheduled, so a child of a
 * target is in the set before it can execute a single instruction.
 */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct target *t = lookup_target(id >> 32);
	struct ev_fork *f;
	__u32 child_tgid, flags = 0;

	if (!t)
		return 0;
	child_tgid = BPF_CORE_READ(child, tgid);
	if (child_tgid == (id >> 32)) {
		flags |= WS_FORK_THREAD;
	} else if (follow_children) {
		struct target nt = {
			.start_ticks = BPF_CORE_READ(child, start_boottime) / NS_PER_TICK,
			.root_tgid = t->root_tgid,
		};

		if (bpf_map_update_elem(&targets, &child_tgid, &nt, BPF_ANY))
			count_drop(EV_FORK);
	}
	f = reserve(t, sizeof(*f), EV_FORK, WS_KIND_FORK);
	if (!f)
		return 0;
	fill_hdr(&f->hdr, EV_FORK, sizeof(*f), id);
	f->child_tgid = child_tgid;
	f->child_tid = BPF_CORE_READ(child, pid);
	f->flags = flags;
	f->_pad = 0;
	BPF_CORE_READ_STR_INTO(&f->child_comm, child, comm);
	/* a new process, not a thread: where in the parent it was made */
	if (!(flags & WS_FORK_THREAD))
		emit_stack(ctx, &f->hdr);
	submit(f);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *task)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id, dropped;
	struct target *t = bpf_map_lookup_elem(&targets, &tgid);
	struct ev_exit *x;

	if (!t)
		return 0;
	/* a thread killed mid-syscall must not leave an entry a later tid could pick up */
	unstash(&mem_stash, tid);
	unstash(&exec_stash, tid);
	unstash(&connect_stash, tid);
	unstash(&memfd_stash, tid);
	/* do_exit() has already decremented signal->live: zero means the whole process is gone */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	dropped = t->dropped;
	bpf_map_delete_elem(&targets, &tgid);
	/* a process exits once: its exit may always use the headroom */
	x = reserve(NULL, sizeof(*x), EV_EXIT, 0);
	if (!x)
		return 0;
	fill_hdr(&x->hdr, EV_EXIT, sizeof(*x), id);
	x->exit_code = BPF_CORE_READ(task, exit_code);
	x->dropped = dropped;
	submit(x);
	return 0;
}
