/*
 * A "malicious host function": a Node native addon whose functions make
 * executable memory, as an attacker's native code inside a runtime would.
 *   stage()   - mmap W+X directly
 *   protect() - mmap RW, then mprotect to RWX: V8's own pattern, from the wrong code
 */
#include <node_api.h>
#include <string.h>
#include <sys/mman.h>

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

NAPI_MODULE_INIT()
{
	napi_value fn;
	napi_create_function(env, "stage", NAPI_AUTO_LENGTH, stage, NULL, &fn);
	napi_set_named_property(env, exports, "stage", fn);
	napi_create_function(env, "protect", NAPI_AUTO_LENGTH, protect, NULL, &fn);
	napi_set_named_property(env, exports, "protect", fn);
	return exports;
}
