/*
 * test_device.c — the choice of device without a GPU (what CI and most servers have): the loader's
 * refusals, each with its reason (library not installed, not loadable, of another version, no
 * device), `auto` falling back to the CPU silently and giving the CPU's bits, `cuda` refused with
 * a hint, and kinds without a device path left on the CPU.  When a GPU is visible the checks that
 * need its absence are skipped; test_cuda covers that machine.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "device_checks.h"

static int
open_with(const char *path, NtgError *err)
{
	const NnDeviceApi *api;

	nn_device_reset();
	nn_device_set_library(path);
	return nn_device_open(&api, NULL, err);
}

static void
check_loader(void)
{
	char		path[1200];
	struct stat st;
	Dl_info		where;
	FILE	   *f;
	NtgError	err = {0};
	int			rc;

	rc = open_with("/nonexistent/ntg_cuda.so", &err);
	ok(rc == NTG_ERR_NO_DEVICE && strcmp(err.msg, "no CUDA device is available") == 0 &&
	   strstr(err.detail, "built without CUDA kernels") != NULL,
	   "a missing library: \"%s\" (%s)", err.msg, err.detail);
	rc = open_with("", &err);
	ok(rc == NTG_ERR_NO_DEVICE && strstr(err.detail, "built without CUDA kernels") != NULL,
	   "no library path: the same");
	snprintf(path, sizeof(path), "/tmp/ntg-test-device-%d.so", (int) getpid());
	if ((f = fopen(path, "w")) != NULL)
	{
		fputs("not a shared object\n", f);
		fclose(f);
	}
	rc = open_with(path, &err);
	ok(rc == NTG_ERR_NO_DEVICE && strstr(err.detail, "could not be loaded") != NULL,
	   "a file that is no library: %s", err.detail);
	unlink(path);
	if (dladdr((void *) cos, &where) != 0 && where.dli_fname != NULL)
	{
		rc = open_with(where.dli_fname, &err);
		ok(rc == NTG_ERR_NO_DEVICE && strstr(err.detail, "not the CUDA kernels library of this version") != NULL,
		   "a library without the entry point (%s): %s", where.dli_fname, err.detail);
	}
	else
		printf("ok %d # skip dladdr found no library of cos()\n", ++unit_run);
	dc_path(path, sizeof(path), "../../../kernels/ntg_cuda.so");
	if (stat(path, &st) != 0)
		printf("ok %d # skip ntg_cuda.so was not built (no nvcc, or NTG_CUDA=no)\n", ++unit_run);
	else if ((rc = open_with(path, &err)) == NTG_OK)
		printf("ok %d # skip a CUDA device is visible\n", ++unit_run);
	else
		ok(rc == NTG_ERR_NO_DEVICE && strstr(err.detail, "No CUDA device is visible") != NULL,
		   "the built CUDA kernels without a GPU: %s", err.detail);
}

/* Train through the driver under mode; stored bytes in *out. */
static int
train(NtgDeviceMode mode, const char *kind_name, uint8_t **out, size_t *n, int *on_device,
	  NtgError *err)
{
	NtgSeqSet	s;
	NtgParams	p = {0};
	NtgTraining t;
	NtgTrainHooks hooks = {0};
	const NtgModelKind *kind = ntg_model_kind_find(kind_name);
	int			rc;

	dc_rows(&s);
	if (strcmp(kind_name, "llama") == 0)
	{
		ntg_params_add_number(&p, "dim", 8, err);
		ntg_params_add_number(&p, "hidden_dim", 12, err);
		ntg_params_add_number(&p, "n_heads", 2, err);
		ntg_params_add_number(&p, "epochs", 2, err);
		ntg_params_add_number(&p, "batch_size", 4, err);
	}
	else
		ntg_params_add_number(&p, "n_estimators", 3, err);
	hooks.device = mode;
	hooks.quiet = 1;
	if ((rc = ntg_training_prepare(&t, kind, &p, &s, NULL, err)) == NTG_OK)
	{
		rc = ntg_training_run(&t, &hooks, err);
		if (rc == NTG_OK)
			rc = ntg_training_save(&t, out, n, err);
		*on_device = t.on_device;
		ntg_training_free(&t);
	}
	ntg_params_free(&p);
	return rc;
}

static void
check_modes(void)
{
	const NnDeviceApi *dev = (const NnDeviceApi *) 1;
	uint8_t    *a = NULL,
			   *b = NULL;
	size_t		na = 0,
				nb = 0;
	int			od = -1,
				rc;
	NtgError	err = {0};

	open_with("/nonexistent/ntg_cuda.so", &err);
	ok(ntg_device_resolve(NTG_DEVICE_CPU, &dev, &err) == NTG_OK && dev == NULL, "cpu: the CPU");
	dev = (const NnDeviceApi *) 1;
	ok(ntg_device_resolve(NTG_DEVICE_AUTO, &dev, &err) == NTG_OK && dev == NULL,
	   "auto without a device: the CPU, no error");
	rc = ntg_device_resolve(NTG_DEVICE_CUDA, &dev, &err);
	ok(rc == NTG_ERR_NO_DEVICE && dev == NULL && strstr(err.detail, "built without") != NULL &&
	   strcmp(err.hint, "Set ntg.device to 'auto' or 'cpu' to run on the CPU.") == 0,
	   "cuda without a device: refused, why, and a hint (%s)", err.hint);
	rc = train(NTG_DEVICE_CPU, "llama", &a, &na, &od, &err);
	ok(rc == NTG_OK && od == 0, "llama trains on the CPU (%s)", rc == NTG_OK ? "ok" : err.msg);
	rc = train(NTG_DEVICE_AUTO, "llama", &b, &nb, &od, &err);
	ok(rc == NTG_OK && od == 0, "llama trains under auto, on the CPU");
	ok(na == nb && na > 0 && memcmp(a, b, na) == 0,
	   "auto without a device stores the CPU's bytes, bit for bit (%zu bytes)", na);
	ntg_free(a), ntg_free(b);
	rc = train(NTG_DEVICE_CUDA, "llama", &a, &na, &od, &err);
	ok(rc == NTG_ERR_NO_DEVICE && strcmp(err.msg, "no CUDA device is available") == 0,
	   "llama under cuda without a device: the driver refuses (%s)", err.msg);
	rc = train(NTG_DEVICE_CUDA, "random_forest", &a, &na, &od, &err);
	ok(rc == NTG_OK && od == 0, "a kind without a device path trains on the CPU under cuda too");
	ntg_free(a);
}

int
main(void)
{
	check_loader();
	check_modes();
	return done_testing();
}
