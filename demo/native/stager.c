/*
 * The demo miner's native host function: stages a "payload" in W+X memory
 * backed by a memfd, the way fileless droppers do. It writes a single `ret`
 * and never runs it. Built into demo/prebuilt/stager.node by scripts/prebuild.sh.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static napi_value stage(napi_env env, napi_callback_info info)
{
	napi_value out;
	int fd = memfd_create("payload", MFD_CLOEXEC);
	void *p = MAP_FAILED;

	if (fd >= 0 && ftruncate(fd, 4096) == 0)
		p = mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_SHARED, fd, 0);
	if (fd >= 0)
		close(fd);
	if (p != MAP_FAILED)
		memset(p, 0xc3, 1);
	napi_get_boolean(env, p != MAP_FAILED, &out);
	return out;
}

NAPI_MODULE_INIT()
{
	napi_value fn;
	napi_create_function(env, "stage", NAPI_AUTO_LENGTH, stage, NULL, &fn);
	napi_set_named_property(env, exports, "stage", fn);
	return exports;
}
