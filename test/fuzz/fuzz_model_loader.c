/*
 * fuzz_model_loader.c — libFuzzer target for the stored-model loader (ntg_model_from_bytes).
 *
 * Each input is loaded twice: as it is (exercising the container checks, mostly the checksum) and
 * with its last four bytes replaced by the correct CRC-32C, so that mutations reach the structural
 * checks behind the checksum: tensor table, config, shapes, vocabulary.  A model that loads is
 * also used (sampled, or asked to classify a row), since a check that let a bad size through
 * would show there.  The seed corpus holds a tiny model of every registered kind.
 *
 * Build and run: test/fuzz/run_model_loader.sh [seconds] (clang with -fsanitize=fuzzer,address).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "models/model.h"

/* Whatever loads must work: a generator samples rows of sane length, a classifier gives
 * probabilities that are finite and sum to one. */
static void
exercise(NtgModel *m)
{
	if (m->n_classes <= 0 || m->max_len <= 0 || m->max_len > 4096)
		return;
	if (m->kind->caps & NTG_CAP_GENERATE)
	{
		NtgSampleOptions opts = m->sampling;
		NtgRng		rng;
		NtgError	err;
		int32_t    *out = malloc(sizeof(int32_t) * m->max_len);
		int			n_len;

		ntg_rng_seed(&rng, 1);
		for (int c = 0; c < m->n_classes && c < 8; c++)
			if (m->kind->sample(m, c, 1, &opts, &rng, out, &n_len, &err) == NTG_OK &&
				(n_len < 0 || n_len > m->max_len))
				abort();
		free(out);
	}
	if (m->kind->caps & NTG_CAP_CLASSIFY)
	{
		static const int32_t row[] = {100, -200, 300};
		double	   *p = malloc(sizeof(double) * m->n_classes);
		double		sum = 0;

		m->kind->predict_proba(m, row, 3, p);
		for (int c = 0; c < m->n_classes; c++)
		{
			if (!(p[c] >= 0 && p[c] <= 1))
				abort();
			sum += p[c];
		}
		if (fabs(sum - 1) > 1e-6)
			abort();
		free(p);
	}
}

static void
load_and_sample(const uint8_t *buf, size_t len)
{
	NtgModel *m = NULL;
	NtgError	err;

	if (ntg_model_from_bytes(buf, len, &m, &err) != NTG_OK)
	{
		if (err.code != NTG_ERR_CORRUPT)
			abort();			/* damage must be reported as corruption, nothing else */
		return;
	}
	exercise(m);
	ntg_model_destroy(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t    *copy;
	uint32_t	crc;

	load_and_sample(data, size);
	if (size < 4)
		return 0;
	copy = malloc(size);
	memcpy(copy, data, size);
	crc = ntg_crc32c(0, copy, size - 4);
	for (int i = 0; i < 4; i++)
		copy[size - 4 + i] = (uint8_t) (crc >> (8 * i));
	load_and_sample(copy, size);
	free(copy);
	return 0;
}
