/*
 * fuzz_capture.c — libFuzzer target: any bytes as a capture (ntg_capture_open_memory + run),
 * with and without a filter and timeouts, decapsulation, 0.1.0's client rule and no split, and a
 * small memory limit with long sequences (flows ended early).  The last byte picks the options.
 * Build and run with test/fuzz/run_fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"

static int
count(const NtgBiflow *f, void *arg)
{
	(*(uint64_t *) arg) += (uint64_t) f->npl + (f->sni ? 1 : 0);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	NtgCaptureOptions o;
	NtgCaptureReader *r = NULL;
	NtgCaptureStats st;
	NtgError	err;
	uint64_t	n = 0;

	ntg_capture_default_options(&o);
	o.progress_seconds = 0;
	if (size > 0 && (data[size - 1] & 1))
	{
		o.idle_timeout = 0.001;
		o.active_timeout = 0.01;
		o.n = 3;
	}
	if (size > 0 && (data[size - 1] & 2))
		o.filter = "tcp or udp port 53";
	if (size > 0 && (data[size - 1] & 4))
		o.decapsulate = true;
	if (size > 0 && (data[size - 1] & 8))
	{
		o.client_rule = NTG_CLIENT_FIRST;
		o.split_on_syn = false;
	}
	if (size > 0 && (data[size - 1] & 16))
	{
		o.n = 1000;
		o.memory_limit = 1;		/* the table's minimum, 1 MB */
	}
	ntg_error_clear(&err);
	if (ntg_capture_open_memory(data, size, &r, &err) == NTG_OK)
		ntg_capture_run(r, &o, count, &n, &st, &err);
	ntg_capture_close(r);
	return 0;
}
