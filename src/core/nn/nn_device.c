/*
 * nn_device.c — finding the kernels library at run time (nn_device.h).
 *
 * dlopen() with RTLD_LOCAL: the library's symbols (its CUDA runtime, ops named like the CPU's)
 * never mix with the process's.  It is never unloaded: CUDA does not like being unloaded, and
 * the outcome, good or bad, is kept for the life of the process.
 */
#include "nn/nn_device.h"
#include "common/ntg_core.h"

#include <dlfcn.h>
#include <math.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static char lib_path[1024];
static char driver_soname[256];
static int	tried;
static const NnDeviceApi *opened;
static NnDeviceInfo opened_info;
static NtgError open_err;

void
nn_device_set_library(const char *path)
{
	snprintf(lib_path, sizeof(lib_path), "%s", path != NULL ? path : "");
}

void
nn_device_set_driver(const char *soname)
{
	snprintf(driver_soname, sizeof(driver_soname), "%s", soname != NULL ? soname : "");
}

void
nn_device_reset(void)
{
	tried = 0;
	opened = NULL;
	memset(&opened_info, 0, sizeof(opened_info));
	ntg_error_clear(&open_err);
}

static int
no_device(NtgError *err, const char *fmt, const char *arg)
{
	ntg_error(err, NTG_ERR_NO_DEVICE, "no CUDA device is available");
	ntg_error_detail(err, fmt, arg);
	return NTG_ERR_NO_DEVICE;
}

/* Load the library and probe; the outcome goes to opened / opened_info / open_err. */
static void
device_try_open(void)
{
	struct stat st;
	void	   *lib;
	NnDeviceEntry entry;
	const NnDeviceApi *api;

	memset(&opened_info, 0, sizeof(opened_info));
	if (lib_path[0] == '\0' || (stat(lib_path, &st) != 0 && errno == ENOENT))
	{
		no_device(&open_err, "ntg was built without CUDA kernels: %s is not installed.",
				  lib_path[0] ? lib_path : "ntg_cuda.so");
		return;
	}
	/* kept open when found: the kernels' runtime opens it again */
	if (driver_soname[0] != '\0' && dlopen(driver_soname, RTLD_LAZY | RTLD_LOCAL) == NULL)
	{
		no_device(&open_err, "No CUDA device is visible: the NVIDIA driver is not installed (%s).",
				  dlerror());
		return;
	}
	if ((lib = dlopen(lib_path, RTLD_NOW | RTLD_LOCAL)) == NULL)
	{
		no_device(&open_err, "The CUDA kernels could not be loaded: %s.", dlerror());
		return;
	}
	entry = (NnDeviceEntry) dlsym(lib, NN_DEVICE_ENTRY);
	if (entry == NULL || (api = entry(NN_DEVICE_ABI)) == NULL)
	{
		no_device(&open_err, "%s is not the CUDA kernels library of this version of ntg.", lib_path);
		return;
	}
	if (api->probe(&opened_info) <= 0)
	{
		no_device(&open_err, "No CUDA device is visible: %s.",
				  opened_info.error[0] ? opened_info.error : "the driver reports none");
		opened_info.count = 0;
		return;
	}
	opened = api;
}

int
nn_device_open(const NnDeviceApi **api, NnDeviceInfo *info, NtgError *err)
{
	if (!tried)
	{
		device_try_open();
		tried = 1;
	}
	*api = opened;
	if (info != NULL)
		*info = opened_info;
	if (opened != NULL)
		return NTG_OK;
	if (err != NULL)
		*err = open_err;
	return NTG_ERR_NO_DEVICE;
}

int
nn_device_error(const NnDeviceApi *api, const char *what, NtgError *err)
{
	ntg_error(err, NTG_ERR_DEVICE, "CUDA device error during %s", what);
	ntg_error_detail(err, "%s.", api->last_error());
	return NTG_ERR_DEVICE;
}

int
nn_device_norm(const NnDeviceApi *api, double *part, const float *g, size_t n, double *norm,
			   NtgError *err)
{
	double		host[NN_DEVICE_NORM_PARTS];
	double		ss = 0.0;

	api->sumsq(part, g, n);
	if (api->to_host(host, part, sizeof(host)) != 0)
		return nn_device_error(api, "the gradient norm", err);
	for (int k = 0; k < NN_DEVICE_NORM_PARTS; k++)
		ss += host[k];
	*norm = sqrt(ss);
	return NTG_OK;
}
