/*
 * test_cuda.c — the CUDA kernels (kernels/ntg_cuda.so, built when nvcc is there) on the GPU,
 * against the CPU: every op, a training step, sampling and the training driver, with the
 * tolerances of device_checks.h.  Skips, as a whole, when the library was not built or no CUDA
 * device is visible (test/run.sh counts it as skipped); test_cuda_emu runs the same checks on
 * the emulated kernels everywhere.
 */
#include <sys/stat.h>

#include "device_checks.h"

int
main(void)
{
	char		path[1200];
	struct stat st;
	const NnDeviceApi *api;
	NnDeviceInfo info;
	NtgError	err = {0};

	dc_path(path, sizeof(path), "../../../kernels/ntg_cuda.so");
	if (stat(path, &st) != 0)
		skip_all("no CUDA device: ntg_cuda.so was not built (no nvcc, or NTG_CUDA=no)");
	nn_device_set_library(path);
	if (nn_device_open(&api, &info, &err) != NTG_OK)
	{
		char		why[600];

		snprintf(why, sizeof(why), "no CUDA device: %s", err.detail);
		skip_all(why);
	}
	ok(strcmp(api->flavor, "cuda") == 0 && api->start() == 0,
	   "the CUDA kernels start on %s (compute capability %d.%d, %.1f GB)", info.name, info.major,
	   info.minor, info.total_bytes / 1e9);
	device_check_ops(api, "cuda");
	device_check_step(api, "cuda");
	device_check_sampling(api, "cuda");
	device_check_driver(api, "cuda");
	return done_testing();
}
