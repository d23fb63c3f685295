/*
 * Loads a BPF object, attaches every program by its section name, says
 * "ready" on stdout, and detaches when stdin closes. The bench's floor
 * (bench/floor.bpf.c) goes through this; bpftool 7.1 cannot autoattach.
 *
 *   loader OBJECT.o
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_LINKS 16

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, args) : 0;
}

int main(int argc, char **argv)
{
	struct bpf_link *links[MAX_LINKS];
	struct bpf_program *prog;
	struct bpf_object *obj;
	int n = 0, err = 0;
	char buf[256];

	if (argc != 2) {
		fprintf(stderr, "usage: loader OBJECT.o\n");
		return 2;
	}
	libbpf_set_print(quiet);
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || libbpf_get_error(obj)) {
		fprintf(stderr, "loader: cannot open %s\n", argv[1]);
		return 1;
	}
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "loader: cannot load %s: %s\n", argv[1], strerror(-err));
		return 1;
	}
	bpf_object__for_each_program(prog, obj) {
		struct bpf_link *link = bpf_program__attach(prog);

		if (!link || libbpf_get_error(link) || n == MAX_LINKS) {
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
	while (n > 0)
		bpf_link__destroy(links[--n]);
	bpf_object__close(obj);
	return err;
}
