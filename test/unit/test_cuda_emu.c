/*
 * test_cuda_emu.c — the CUDA kernels' sources, compiled by the C compiler into an emulated library
 * (test/unit/bin/ntg_cuda_emu.so: each launch runs its threads one after the other on the host,
 * kernels/cu_emulate.h), loaded through the same loader and table as ntg_cuda.so, against the CPU:
 * every op, a training step, sampling and the training driver (device_checks.h), on any machine.
 *
 * What this shows: the kernels' indexing, arithmetic and bounds, the cuBLAS argument lists (the
 * emulation multiplies in cuBLAS's own column-major convention), the host code that drives the
 * device (llama_device.c, llama_device_sample.c, the loader, the driver's device choice), and that
 * no kernel depends on the order of its threads (the ops run again in the reverse order and must
 * give the same bits).  What it cannot show: anything of a real GPU (concurrency, the device's
 * rounding, launch limits, cuBLAS itself, speed): test_cuda does that where a GPU is.
 */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <stdlib.h>

#include "device_checks.h"

/* A host cleanup hook as a backend's: remembers the last registration. */
static NtgCleanup last_guard;
static int	registrations;

static NtgCleanup *
fake_register(void (*fn) (void *), void *arg)
{
	registrations++;
	last_guard.fn = fn;
	last_guard.arg = arg;
	return &last_guard;
}

static void
check_cleanup(const NnDeviceApi *api)
{
	NtgSeqSet	s;
	LlamaModel *m;
	NtgError	err = {0};

	dc_rows(&s);
	m = dc_model(&s, 0.0);
	ntg_set_cleanup_hook(fake_register);
	ok(llama_set_device(&m->base, api, &err) == NTG_OK && registrations == 1 && last_guard.fn,
	   "emulated: the device buffers are registered for cleanup with the memory");
	ntg_model_destroy(&m->base);
	ok(last_guard.fn == NULL, "emulated: destroying the model cancels the registration");
	m = dc_model(&s, 0.0);
	llama_set_device(&m->base, api, &err);
	last_guard.fn(last_guard.arg);	/* what a memory context reset does */
	last_guard.fn = NULL;
	ntg_model_destroy(&m->base);
	ok(1, "emulated: a model whose buffers the host released is destroyed without a double free");
	ntg_set_cleanup_hook(NULL);
	ntg_seqset_free(&s);
}

int
main(void)
{
	char		path[1200];
	const NnDeviceApi *api;
	NnDeviceInfo info;
	NtgError	err = {0};
	uint64_t	ascending;
	int			rc;

	dc_path(path, sizeof(path), "ntg_cuda_emu.so");
	nn_device_set_library(path);
	/* the driver library is looked for first: without it the kernels library is not loaded */
	nn_device_set_driver("libntg-no-such-driver.so.0");
	rc = nn_device_open(&api, &info, &err);
	ok(rc == NTG_ERR_NO_DEVICE && strstr(err.detail, "No CUDA device is visible: the NVIDIA driver is not installed") != NULL &&
	   dlopen(path, RTLD_LAZY | RTLD_NOLOAD) == NULL,
	   "without the driver library there is no device and the kernels library stays unloaded (%s)",
	   err.detail);
	nn_device_set_driver("libc.so.6");	/* a driver that is there: the check lets it through */
	nn_device_reset();
	rc = nn_device_open(&api, &info, &err);
	if (!ok(rc == NTG_OK && strcmp(api->flavor, "emulated") == 0,
			"the emulated library loads through the device loader (%s)",
			rc == NTG_OK ? "ok" : err.detail))
		return done_testing();
	ok(info.count == 1 && api->start() == 0, "it has one device: %s", info.name);
	unsetenv("NTG_CUDA_EMULATE_ORDER");
	device_check_ops(api, "emulated");
	ascending = dc_digest;
	dc_digest = 1469598103934665603u;
	setenv("NTG_CUDA_EMULATE_ORDER", "reverse", 1);
	device_check_ops(api, "emulated, threads in reverse order");
	ok(dc_digest == ascending, "no kernel depends on the order of its threads: the same bits");
	unsetenv("NTG_CUDA_EMULATE_ORDER");
	device_check_step(api, "emulated");
	device_check_sampling(api, "emulated");
	device_check_driver(api, "emulated");
	check_cleanup(api);
	return done_testing();
}
