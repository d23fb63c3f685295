/*
 * A "malicious host function": a Node native addon whose functions make
 * executable memory, as an attacker's native code inside a runtime would.
 *   stage()         - mmap W+X directly
 *   protect()       - mmap RW, then mprotect to RWX: V8's own pattern, from the wrong code
 *   memfdLoad(lib)  - copy a shared library into a memfd and dlopen it: no W+X, no file on disk
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static napi_value result(napi_env env, int ok)
{
	napi_value out;
	napi_get_boolean(env, ok, &out);
	return out;
}

static napi_value stage(napi_env env, napi_callback_info info)
{
	void *p = mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED)
		memset(p, 0xc3, 16);
	return result(env, p != MAP_FAILED);
}

static napi_value protect(napi_env env, napi_callback_info info)
{
	void *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return result(env, 0);
	memset(p, 0xc3, 16);
	return result(env, mprotect(p, 4096, PROT_READ | PROT_WRITE | PROT_EXEC) == 0);
}

static napi_value memfd_load(napi_env env, napi_callback_info info)
{
	size_t argc = 1, len;
	napi_value argv[1];
	char lib[4096], path[64], buf[65536];
	ssize_t n;

	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	if (argc < 1 || napi_get_value_string_utf8(env, argv[0], lib, sizeof(lib), &len) != napi_ok)
		return result(env, 0);
	int src = open(lib, O_RDONLY | O_CLOEXEC);
	int fd = memfd_create("host-payload", MFD_CLOEXEC);
	if (src < 0 || fd < 0)
		return result(env, 0);
	while ((n = read(src, buf, sizeof(buf))) > 0)
		if (write(fd, buf, n) != n)
			return result(env, 0);
	close(src);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	/* kept loaded, as a payload would stay */
	return result(env, dlopen(path, RTLD_NOW | RTLD_LOCAL) != NULL);
}

NAPI_MODULE_INIT()
{
	napi_value fn;
	napi_create_function(env, "stage", NAPI_AUTO_LENGTH, stage, NULL, &fn);
	napi_set_named_property(env, exports, "stage", fn);
	napi_create_function(env, "protect", NAPI_AUTO_LENGTH, protect, NULL, &fn);
	napi_set_named_property(env, exports, "protect", fn);
	napi_create_function(env, "memfdLoad", NAPI_AUTO_LENGTH, memfd_load, NULL, &fn);
	napi_set_named_property(env, exports, "memfdLoad", fn);
	return exports;
}
