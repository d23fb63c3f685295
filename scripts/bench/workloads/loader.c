/*
 * Loads a BPF object, attaches every program by its section name, says
 * "ready N" on stdout, and detaches when stdin closes. The bench's floors
 * (bench/floor.bpf.c and the ones it generates from wasmshark's object) go
 * through this (bpftool 7.1 cannot autoattach), and so do the bench's
 * --explain variants of wasmshark's own object:
 *
 *   loader OBJECT.o [NAME=0|1 ...] [--section SEC ...] [--target PID ...]
 *
 * --section loads and attaches only the programs in these sections (the
 * object has a lean and an exact set of syscall programs; the bench chooses
 * as the library does). NAME=V sets a `const volatile bool` in .rodata
 * before loading; --target puts PID in the object's `targets` map as
 * wasmshark's addTarget does (start time from /proc/PID/stat, the rest zero),
 * and sets its bit in a `followed` bitmap if the object has one (floor.bpf.c
 * with FLOOR_BITMAP).
 */
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LINKS 256
#define MAX_TARGETS 16
#define MAX_SECTIONS 256

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, args) : 0;
}

static int set_rodata(struct bpf_object *obj, const char *name, int value)
{
	struct bpf_map *rodata = bpf_object__find_map_by_name(obj, ".rodata");
	struct btf *btf = bpf_object__btf(obj);
	const struct btf_var_secinfo *vs;
	const struct btf_type *sec;
	size_t size = 0;
	char *data;
	int id, i;

	data = rodata ? (char *)bpf_map__initial_value(rodata, &size) : NULL;
	id = btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -1;
	if (!data || id < 0)
		return -ENOENT;
	sec = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(sec);
	for (i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, var->name_off), name) == 0 && vs->offset < size) {
			data[vs->offset] = value;
			return 0;
		}
	}
	return -ENOENT;
}

static int add_target(struct bpf_object *obj, unsigned pid)
{
	struct bpf_map *targets = bpf_object__find_map_by_name(obj, "targets"), *bitmap;
	unsigned long long ticks;
	char path[64], stat[1024], *p;
	unsigned char value[512] = {0};
	size_t vsize;
	FILE *f;
	int i;

	if (!targets || (vsize = bpf_map__value_size(targets)) > sizeof(value) || vsize < 12)
		return -ENOENT;
	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	f = fopen(path, "r");
	if (!f || !fgets(stat, sizeof(stat), f)) {
		if (f)
			fclose(f);
		return -ESRCH;
	}
	fclose(f);
	/* start time is field 22; the fields after the parenthesised command start at 3 */
	p = strrchr(stat, ')');
	for (i = 3; p && i <= 22; i++)
		p = strchr(p + 1, ' ');
	if (!p)
		return -EINVAL;
	ticks = strtoull(p + 1, NULL, 10);
	memcpy(value, &ticks, 8);
	memcpy(value + 8, &pid, 4);
	if (bpf_map__update_elem(targets, &pid, sizeof(pid), value, vsize, BPF_ANY))
		return -errno;
	bitmap = bpf_object__find_map_by_name(obj, "followed");
	if (bitmap) {
		unsigned word = pid >> 6;
		unsigned long long bits = 0;

		bpf_map__lookup_elem(bitmap, &word, sizeof(word), &bits, sizeof(bits), 0);
		bits |= 1ULL << (pid & 63);
		return bpf_map__update_elem(bitmap, &word, sizeof(word), &bits, sizeof(bits), BPF_ANY);
	}
	return 0;
}

static void *detach_one(void *link)
{
	bpf_link__destroy(link);
	return NULL;
}

/*
 * Each perf-event tracepoint waits out an RCU grace period as it goes (~25 ms
 * here): a floor of 30 tracepoints would take most of a second one by one.
 * Detached in parallel, as the library does.
 */
static void detach_all(struct bpf_link **links, int n)
{
	pthread_t threads[MAX_LINKS];
	bool started[MAX_LINKS];
	int i;

	for (i = 0; i < n; i++) {
		started[i] = pthread_create(&threads[i], NULL, detach_one, links[i]) == 0;
		if (!started[i])
			bpf_link__destroy(links[i]);
	}
	for (i = 0; i < n; i++)
		if (started[i])
			pthread_join(threads[i], NULL);
}

int main(int argc, char **argv)
{
	struct bpf_link *links[MAX_LINKS];
	unsigned targets[MAX_TARGETS];
	const char *sections[MAX_SECTIONS];
	struct bpf_program *prog;
	struct bpf_object *obj;
	int n = 0, ntargets = 0, nsections = 0, err = 0, i;
	char buf[256];

	if (argc < 2) {
		fprintf(stderr, "usage: loader OBJECT.o [NAME=0|1 ...] [--target PID ...]\n");
		return 2;
	}
	libbpf_set_print(quiet);
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || libbpf_get_error(obj)) {
		fprintf(stderr, "loader: cannot open %s\n", argv[1]);
		return 1;
	}
	for (i = 2; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (strcmp(argv[i], "--target") == 0 && i + 1 < argc && ntargets < MAX_TARGETS) {
			targets[ntargets++] = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--section") == 0 && i + 1 < argc && nsections < MAX_SECTIONS) {
			sections[nsections++] = argv[++i];
		} else if (eq) {
			*eq = 0;
			if (set_rodata(obj, argv[i], atoi(eq + 1))) {
				fprintf(stderr, "loader: no .rodata setting %s\n", argv[i]);
				return 2;
			}
		} else {
			fprintf(stderr, "loader: bad argument %s\n", argv[i]);
			return 2;
		}
	}
	if (nsections) {
		bpf_object__for_each_program(prog, obj) {
			bool wanted = false;

			for (i = 0; i < nsections && !wanted; i++)
				wanted = strcmp(bpf_program__section_name(prog), sections[i]) == 0;
			bpf_program__set_autoload(prog, wanted);
		}
	}
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "loader: cannot load %s: %s\n", argv[1], strerror(-err));
		return 1;
	}
	for (i = 0; i < ntargets; i++) {
		if ((err = add_target(obj, targets[i]))) {
			fprintf(stderr, "loader: cannot follow %u: %s\n", targets[i], strerror(-err));
			return 1;
		}
	}
	bpf_object__for_each_program(prog, obj) {
		struct bpf_link *link;

		if (!bpf_program__autoload(prog))
			continue;
		link = n < MAX_LINKS ? bpf_program__attach(prog) : NULL;

		if (!link || libbpf_get_error(link)) {
			fprintf(stderr, "loader: cannot attach %s: %s\n", bpf_program__name(prog), strerror(errno));
			err = 1;
			break;
		}
		links[n++] = link;
	}
	if (!err) {
		printf("ready %d\n", n);
		fflush(stdout);
		while (read(0, buf, sizeof(buf)) > 0)
			;
	}
	detach_all(links, n);
	bpf_object__close(obj);
	return err;
}
