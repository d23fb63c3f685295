/* Prints the record layout of bpf/events.h as JSON, for test/10.decode.test.ts. */
#include <linux/types.h>
#include <stddef.h>
#include <stdio.h>

#include "../bpf/events.h"

#define F(type, field) printf("\"%s.%s\": %zu,\n", #type, #field, offsetof(struct type, field))
#define S(type) printf("\"%s\": %zu,\n", #type, sizeof(struct type))

int main(void)
{
	printf("{\n");
	S(ev_hdr); F(ev_hdr, type); F(ev_hdr, size); F(ev_hdr, tid); F(ev_hdr, ts_ns);
	F(ev_hdr, tgid); F(ev_hdr, ppid); F(ev_hdr, uid); F(ev_hdr, ret); F(ev_hdr, ip); F(ev_hdr, comm);
	S(ev_mem); F(ev_mem, addr); F(ev_mem, len); F(ev_mem, off); F(ev_mem, old_flags);
	F(ev_mem, result); F(ev_mem, prot); F(ev_mem, flags); F(ev_mem, fd); F(ev_mem, placed); F(ev_mem, stack);
	S(ev_exec); F(ev_exec, dfd); F(ev_exec, at_flags); F(ev_exec, argc); F(ev_exec, flags); F(ev_exec, args_len);
	F(ev_exec, filename); F(ev_exec, image); F(ev_exec, argv);
	S(ev_connect); F(ev_connect, fd); F(ev_connect, family); F(ev_connect, port);
	F(ev_connect, sock_type); F(ev_connect, addrlen); F(ev_connect, addr); F(ev_connect, path);
	S(ev_memfd); F(ev_memfd, flags); F(ev_memfd, name);
	S(ev_fork); F(ev_fork, child_tgid); F(ev_fork, child_tid); F(ev_fork, flags); F(ev_fork, child_comm);
	S(ev_exit); F(ev_exit, exit_code); F(ev_exit, dropped);
	S(ev_anon_syscall); F(ev_anon_syscall, vma_start); F(ev_anon_syscall, vma_end);
	F(ev_anon_syscall, vm_flags); F(ev_anon_syscall, nr);
	S(ev_syscall); F(ev_syscall, nr); F(ev_syscall, flags); F(ev_syscall, args); F(ev_syscall, remote_addr);
	F(ev_anon_syscall, flags); F(ev_anon_syscall, file);
	S(ev_file); F(ev_file, ino); F(ev_file, dev); F(ev_file, magic); F(ev_file, nlink); F(ev_file, mode);
	F(ev_file, flags); F(ev_file, path);
	S(ev_mem_file); F(ev_mem_file, file);
	S(ev_path); F(ev_path, nr); F(ev_path, flags); F(ev_path, dfd); F(ev_path, at); F(ev_path, name); F(ev_path, source);
	F(ev_connect, flags);
	S(ev_stack); F(ev_stack, event_type); F(ev_stack, nr); F(ev_stack, err); F(ev_stack, frames);
	S(ev_stack_scan); F(ev_stack_scan, sp); F(ev_stack_scan, scan_len); F(ev_stack_scan, scan);
	printf("\"WS_STACK_SCAN_WORDS\": %d, \"WS_STACK_SCAN_BELOW\": %d,\n", WS_STACK_SCAN_WORDS, WS_STACK_SCAN_BELOW);
	printf("\"EV_STACK\": %d, \"WS_STACK_DEPTH\": %d,\n", EV_STACK, WS_STACK_DEPTH);
	printf("\"EV_PATH\": %d, \"WS_OPEN_URING\": %d, \"WS_VIA_URING\": %d, \"WS_PATH_FILE\": %d, \"WS_PATH_AT\": %d, \"WS_EXEC_STDIO_SOCKET\": %d,\n",
	       EV_PATH, WS_OPEN_URING, WS_VIA_URING, WS_PATH_FILE, WS_PATH_AT, WS_EXEC_STDIO_SOCKET);
	S(ev_open); F(ev_open, nr); F(ev_open, f_flags); F(ev_open, f_mode); F(ev_open, flags); F(ev_open, file);
	printf("\"EV_MMAP\": %d, \"EV_MPROTECT\": %d, \"EV_PKEY_MPROTECT\": %d, \"EV_EXEC\": %d,\n",
	       EV_MMAP, EV_MPROTECT, EV_PKEY_MPROTECT, EV_EXEC);
	printf("\"EV_CONNECT\": %d, \"EV_MEMFD\": %d, \"EV_FORK\": %d, \"EV_EXIT\": %d,\n",
	       EV_CONNECT, EV_MEMFD, EV_FORK, EV_EXIT);
	printf("\"EV_ANON_SYSCALL\": %d, \"EV_SYSCALL\": %d, \"EV_OPEN\": %d, \"EV_TYPE_MAX\": %d, \"WS_STACK_WORDS\": %d,\n",
	       EV_ANON_SYSCALL, EV_SYSCALL, EV_OPEN, EV_TYPE_MAX, WS_STACK_WORDS);
	printf("\"WS_PLACED_IMAGE\": %d,\n", WS_PLACED_IMAGE);
	printf("\"WS_FILE_MEMFD\": %d, \"WS_FILE_DETACHED\": %d, \"WS_FILE_TRUNCATED\": %d, \"WS_OPEN_PROC_MEM\": %d, \"WS_SITE_MEMFD\": %d,\n",
	       WS_FILE_MEMFD, WS_FILE_DETACHED, WS_FILE_TRUNCATED, WS_OPEN_PROC_MEM, WS_SITE_MEMFD);
	printf("\"WS_COMM_LEN\": %d, \"WS_PATH_LEN\": %d, \"WS_MAX_ARGS\": %d, \"WS_ARG_LEN\": %d,\n",
	       WS_COMM_LEN, WS_PATH_LEN, WS_MAX_ARGS, WS_ARG_LEN);
	printf("\"WS_SUN_PATH_LEN\": %d, \"WS_MAX_SYSCALLS\": %d, \"WS_DROP_STASH\": %d,\n",
	       WS_SUN_PATH_LEN, WS_MAX_SYSCALLS, WS_DROP_STASH);
	printf("\"WS_SYSCALL_COMPAT\": %d,\n", WS_SYSCALL_COMPAT);
	printf("\"WS_EXEC_AT\": %d, \"WS_EXEC_NO_ENTER\": %d, \"WS_EXEC_ARGS_RAW\": %d, \"WS_EXEC_HOST\": %d,\n",
	       WS_EXEC_AT, WS_EXEC_NO_ENTER, WS_EXEC_ARGS_RAW, WS_EXEC_HOST);
	printf("\"WS_FORK_THREAD\": %d\n}\n", WS_FORK_THREAD);
	return 0;
}
