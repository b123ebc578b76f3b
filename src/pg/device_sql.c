/*
 * device_sql.c — the setting ntg.device (auto | cpu | cuda) and ntg.device_status().
 *
 * The CUDA kernels are a library of their own, ntg_cuda.so in the server's library directory,
 * loaded by the core (nn/nn_device.c) the first time a backend asks for a device: never at load
 * time, never in the postmaster (a CUDA context does not survive fork()), and never when the
 * setting is 'cpu'.  A server without the library, the driver or a GPU runs everything on the
 * CPU; 'cuda' then fails with 55000 and the reason.  NTG_CUDA_LIBRARY in the server's
 * environment names another library file (the tests load the emulated kernels that way).
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "models/model.h"
#include "nn/nn_device.h"
#include "models_sql.h"
#include "ntg_glue.h"

int			ntg_device_mode = NTG_DEVICE_AUTO;

const struct config_enum_entry ntg_device_options[] = {
	{"auto", NTG_DEVICE_AUTO, false},
	{"cpu", NTG_DEVICE_CPU, false},
	{"cuda", NTG_DEVICE_CUDA, false},
	{NULL, 0, false}
};

NtgDeviceMode
ntg_pg_device_mode(void)
{
	static bool located = false;

	if (!located)
	{
		const char *env = getenv("NTG_CUDA_LIBRARY");
		char		path[MAXPGPATH];

		/* the server's environment may name another build of the kernels (tests do) */
		if (env != NULL && env[0] != '\0')
			snprintf(path, sizeof(path), "%s", env);
		else
		{
			snprintf(path, sizeof(path), "%s/ntg_cuda%s", pkglib_path, DLSUFFIX);
			/* no driver, no device: spares new backends loading the kernels to learn it */
			nn_device_set_driver("libcuda.so.1");
		}
		nn_device_set_library(path);
		located = true;
	}
	return (NtgDeviceMode) ntg_device_mode;
}

void
ntg_pg_device_check(void)
{
	const NnDeviceApi *dev;
	NtgError	err;

	NTG_PG_CHECK(ntg_device_resolve(ntg_pg_device_mode(), &dev, &err), &err);
}

/*
 * ntg.device_status() -> (setting, device, detail, launches): the setting, where training and
 * generation run under it ('cuda' or 'cpu'; NULL when 'cuda' is set and no device is usable:
 * they then fail), what the backend found (the device, or why there is none), and how many
 * kernels and matrix products this backend has run on it.  Looks for the device even under
 * 'cpu' (that is what the detail reports), which loads the kernels library.
 */
PG_FUNCTION_INFO_V1(ntg_device_status);
Datum
ntg_device_status(PG_FUNCTION_ARGS)
{
	NtgDeviceMode mode = ntg_pg_device_mode();
	const NnDeviceApi *api;
	NnDeviceInfo info;
	NtgError	err;
	TupleDesc	desc;
	Datum		v[4];
	bool		nulls[4] = {false, false, false, false};
	char		detail[512];
	bool		found;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	desc = BlessTupleDesc(desc);
	found = nn_device_open(&api, &info, &err) == NTG_OK;
	if (found && strcmp(api->flavor, "cuda") != 0)
		snprintf(detail, sizeof(detail), "%s", info.name);
	else if (found)
		snprintf(detail, sizeof(detail),
				 "%s, compute capability %d.%d, %.1f GB (device 0 of %d); CUDA runtime %d.%d, driver %d.%d",
				 info.name, info.major, info.minor, info.total_bytes / 1e9, info.count,
				 info.runtime_version / 1000, info.runtime_version % 1000 / 10,
				 info.driver_version / 1000, info.driver_version % 1000 / 10);
	else
		snprintf(detail, sizeof(detail), "%s", err.detail);
	v[0] = CStringGetTextDatum(ntg_device_options[mode == NTG_DEVICE_AUTO ? 0 :
												 mode == NTG_DEVICE_CPU ? 1 : 2].name);
	if (mode == NTG_DEVICE_CPU || (mode == NTG_DEVICE_AUTO && !found))
		v[1] = CStringGetTextDatum("cpu");
	else if (found)
		v[1] = CStringGetTextDatum("cuda");
	else
		nulls[1] = true;
	v[2] = CStringGetTextDatum(detail);
	v[3] = Int64GetDatum(found ? (int64) api->launches() : 0);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, v, nulls)));
}
