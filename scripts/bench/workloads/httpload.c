/*
 * A bounded HTTP/1.1 load loop for the bench's busy-runtime section: CONNS
 * keep-alive connections to 127.0.0.1:PORT, each sending `GET /` again as
 * soon as its previous response is complete, until REQUESTS responses have
 * come back or SECS seconds have passed, whichever is first.
 *
 *   httpload PORT CONNS REQUESTS SECS
 *
 * Prints one line when done:
 *   requests N errors E seconds S p50_us A p99_us B max_us C cpu_ns U
 * (S: first request sent to last response received; cpu_ns: this client's
 * own user+system time). A response that is not `200` with a Content-Length
 * is an error, and the connection is closed and counted once. Loopback only:
 * it cannot be pointed at another host.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 64
#define BUF_SIZE 16384

struct conn {
	int fd;
	long long sent_ns;
	size_t have;
	char buf[BUF_SIZE];
};

static const char request[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

static int open_conn(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_request(struct conn *c)
{
	c->have = 0;
	c->sent_ns = now_ns();
	return write(c->fd, request, sizeof(request) - 1) == (ssize_t)(sizeof(request) - 1) ? 0 : -1;
}

/*
 * The length of the complete response at the start of c->buf, 0 while it is
 * incomplete, -1 if it is not a 200 with a Content-Length.
 */
static long complete_response(struct conn *c)
{
	char *end, *cl;
	long body;

	c->buf[c->have] = 0;
	end = strstr(c->buf, "\r\n\r\n");
	if (!end)
		return c->have >= BUF_SIZE - 1 ? -1 : 0;
	if (strncmp(c->buf, "HTTP/1.1 200 ", 13) != 0)
		return -1;
	cl = strcasestr(c->buf, "\r\ncontent-length:");
	if (!cl || cl > end)
		return -1;
	body = strtol(cl + 17, NULL, 10);
	if (body < 0 || end + 4 - c->buf + body >= BUF_SIZE)
		return -1;
	return (size_t)(end + 4 - c->buf + body) <= c->have ? end + 4 - c->buf + body : 0;
}

int main(int argc, char **argv)
{
	static struct conn conns[MAX_CONNS];
	struct pollfd pfd[MAX_CONNS];
	long long start, deadline, last = 0, *lat;
	long port, nconns, max_requests, done = 0, errors = 0, open = 0, i;
	double secs;
	struct rusage ru;

	if (argc != 5 || (port = atol(argv[1])) <= 0 || port > 65535 || (nconns = atol(argv[2])) <= 0 ||
	    nconns > MAX_CONNS || (max_requests = atol(argv[3])) <= 0 || (secs = atof(argv[4])) <= 0) {
		fprintf(stderr, "usage: httpload PORT CONNS(1-%d) REQUESTS SECS\n", MAX_CONNS);
		return 2;
	}
	lat = malloc(max_requests * sizeof(*lat));
	if (!lat) {
		perror("malloc");
		return 1;
	}
	for (i = 0; i < nconns; i++) {
		conns[i].fd = open_conn(port);
		if (conns[i].fd < 0) {
			fprintf(stderr, "httpload: cannot connect to 127.0.0.1:%ld: %s\n", port, strerror(errno));
			return 1;
		}
		open++;
	}
	start = now_ns();
	deadline = start + (long long)(secs * 1e9);
	for (i = 0; i < nconns; i++)
		if (send_request(&conns[i]))
			return perror("write"), 1;

	/* one request outstanding per connection; stop sending once the count or the time is reached */
	while (open > 0) {
		int n = 0, timeout = (int)((deadline - now_ns()) / 1000000) + 1;

		if (timeout <= 0)
			break;
		for (i = 0; i < nconns; i++) {
			pfd[i].fd = conns[i].fd;
			pfd[i].events = POLLIN;
		}
		n = poll(pfd, nconns, timeout);
		if (n < 0 && errno != EINTR)
			return perror("poll"), 1;
		for (i = 0; i < nconns && n > 0; i++) {
			struct conn *c = &conns[i];
			ssize_t got;
			long len;

			if (c->fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			got = read(c->fd, c->buf + c->have, BUF_SIZE - 1 - c->have);
			if (got > 0)
				c->have += got;
			len = got > 0 ? complete_response(c) : -1;
			if (len == 0)
				continue;
			if (len < 0 || (size_t)len != c->have) {
				/* closed, malformed, or more than one response: this connection is done */
				errors++;
				close(c->fd);
				c->fd = -1;
				pfd[i].fd = -1;
				open--;
				continue;
			}
			last = now_ns();
			if (done < max_requests)
				lat[done++] = last - c->sent_ns;
			if (done + open - 1 >= max_requests || last >= deadline || send_request(c)) {
				close(c->fd);
				c->fd = -1;
				open--;
			}
		}
	}
	for (i = 0; i < nconns; i++)
		if (conns[i].fd >= 0)
			close(conns[i].fd);

	getrusage(RUSAGE_SELF, &ru);
	qsort(lat, done, sizeof(*lat), cmp_ll);
#define Q(q) (done ? lat[(long)((done - 1) * (q))] / 1000 : 0)
	printf("requests %ld errors %ld seconds %.6f p50_us %lld p99_us %lld max_us %lld cpu_ns %lld\n", done, errors,
	       done ? (last - start) / 1e9 : 0.0, Q(0.5), Q(0.99), Q(1.0),
	       (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
		       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL);
	return done > 0 && errors == 0 ? 0 : 1;
}
