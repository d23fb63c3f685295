/*
 * Paced W+X load for the bench (test/fixtures/trigger.c bursts at full speed;
 * these hold a rate):
 *
 *   paced [--wait] rate R SECS      W+X mmap+munmap at R per second for SECS s
 *   paced [--wait] procs N GAP_US M N children, one every GAP_US µs, each
 *                                   doing M W+X mmaps 100 µs apart
 *   paced [--wait] getppid N        N getppid() calls; prints ns per call (the
 *                                   cheapest syscall: hook costs show plainly)
 *   paced run CMD [ARGS...]         run CMD as a child: "child PID" first, and
 *                                   "rusage USER_NS SYS_NS" once it has exited
 *
 * `run` gives the CPU time of a load generator (trigger churn prints wall
 * time, which on a shared machine includes time spent preempted).
 * Prints "events elapsed_ns" when done. --wait blocks until a line arrives
 * on stdin, so the bench can follow the process before it acts.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void sleep_until(long long ns)
{
	struct timespec t = {.tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL))
		;
}

static void wx_once(void)
{
	void *p = mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	munmap(p, 4096);
}

/* Catch up to the schedule every millisecond: R/1000 events per tick on average. */
static int rate(long r, double secs)
{
	long long start = now_ns(), end = start + (long long)(secs * 1e9), t;
	long done = 0;

	while ((t = now_ns()) < end) {
		long due = (long)((double)(t - start) * r / 1e9) + 1;
		while (done < due)
			wx_once(), done++;
		long long next = start + ((t - start) / 1000000 + 1) * 1000000;
		sleep_until(next < end ? next : end);
	}
	printf("%ld %lld\n", done, now_ns() - start);
	return 0;
}

static int procs(long n, long gap_us, long m)
{
	long long start = now_ns();

	for (long i = 0; i < n; i++) {
		sleep_until(start + i * gap_us * 1000LL);
		pid_t pid = fork();
		if (pid == 0) {
			for (long j = 0; j < m; j++) {
				if (j)
					usleep(100);
				wx_once();
			}
			_exit(0);
		}
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		waitpid(pid, NULL, 0);
	}
	printf("%ld %lld\n", n * m, now_ns() - start);
	return 0;
}

static int getppid_loop(long n)
{
	long long start = now_ns();

	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	printf("%.1f\n", (double)(now_ns() - start) / n);
	return 0;
}

static int run(char **argv)
{
	struct rusage ru;
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execv(argv[0], argv);
		perror("execv");
		_exit(127);
	}
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	printf("child %d\n", pid);
	fflush(stdout);
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("wait4");
		return 1;
	}
	printf("rusage %lld %lld\n", ru.ru_utime.tv_sec * 1000000000LL + ru.ru_utime.tv_usec * 1000LL,
	       ru.ru_stime.tv_sec * 1000000000LL + ru.ru_stime.tv_usec * 1000LL);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv)
{
	int i = 1;
	if (argc > 2 && strcmp(argv[1], "run") == 0)
		return run(argv + 2);
	if (i < argc && strcmp(argv[i], "--wait") == 0) {
		char line[16];
		if (!fgets(line, sizeof(line), stdin))
			return 3;
		i++;
	}
	if (i + 2 < argc && strcmp(argv[i], "rate") == 0)
		return rate(atol(argv[i + 1]), atof(argv[i + 2]));
	if (i + 1 < argc && strcmp(argv[i], "getppid") == 0)
		return getppid_loop(atol(argv[i + 1]));
	if (i + 3 < argc && strcmp(argv[i], "procs") == 0)
		return procs(atol(argv[i + 1]), atol(argv[i + 2]), atol(argv[i + 3]));
	fprintf(stderr, "usage: paced [--wait] rate R SECS | procs N GAP_US M | getppid N | run CMD [ARGS...]\n");
	return 2;
}
