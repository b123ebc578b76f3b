/*
 * aligned_rows.c — what the alignment of a model's stored weights costs one-row sampling, on the
 * plain-C core: the same stored float model computed from in place (borrowed, as from a mapped
 * model file) with its value placed so that the weights start 0, 8, 16 and 32 bytes past a cache
 * line.  ntg stores a model's float weights from a 64-byte boundary of the value (offset 0 here);
 * values stored before that put them anywhere 8-byte aligned.  The measurement behind
 * docs/models.md's "loading, caches and the cost of small calls".
 *
 *   aligned_rows --tsv ROWS [--kind llama|mamba] [--epochs 1] [--calls 300] [--rounds 20]
 *                [--model FILE]
 *
 * ROWS: label<TAB>v1,v2,... (bench/make_rows.py efficiency).  The model is the kind at its default
 * shape trained --epochs epochs without dropout or token noise (bench/first_call.sh's), or read
 * from --model FILE when it exists (written there otherwise).  Each round times --calls one-row
 * calls (each with its own seed, cycling over the classes) at every offset in turn, so that other
 * load on the machine falls on all of them alike; CPU time of this process, one thread.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/blob.h"
#include "common/rng.h"
#include "models/llama.h"
#include "models/mamba.h"
#include "models/model.h"

#include "core_bench.h"

#define N_OFFSETS 4
static const int offsets[N_OFFSETS] = {0, 8, 16, 32};

/* Bytes from the value's start to its first float tensor (where the weights start). */
static long
weights_at(const uint8_t *buf, size_t len)
{
	NtgBlob		blob;
	NtgError	err;
	long		at = -1;

	if (ntg_blob_parse(buf, len, &blob, &err) != NTG_OK)
		return -1;
	for (int i = 0; i < blob.n_tensors && at < 0; i++)
		if (blob.tensors[i].dtype == NTG_DTYPE_F32 && strncmp(blob.tensors[i].name, "sampling.", 9) != 0 &&
			blob.tensors[i].nbytes >= 4096)
			at = (long) ((const uint8_t *) blob.tensors[i].data - buf);
	ntg_blob_free(&blob);
	return at;
}

int
main(int argc, char **argv)
{
	const char *tsv = NULL,
			   *model_path = NULL;
	const NtgModelKind *kind = &ntg_llama_kind;
	int			calls = 300,
				rounds = 20;
	NtgParams	p = {0};
	NtgSeqSet	train = {0},
				test = {0};
	NtgError	err;
	uint8_t    *fbuf;
	size_t		flen;
	long		at;
	NtgModel   *m[N_OFFSETS];
	double		total[N_OFFSETS] = {0};
	int32_t		out[64];
	int			out_len[1];

	ntg_params_add_integer(&p, "seed", 1, &err);
	ntg_params_add_integer(&p, "epochs", 1, &err);
	for (int i = 1; i + 1 < argc; i += 2)
	{
		if (strcmp(argv[i], "--tsv") == 0)
			tsv = argv[i + 1];
		else if (strcmp(argv[i], "--kind") == 0)
			kind = ntg_model_kind_find(argv[i + 1]);
		else if (strcmp(argv[i], "--model") == 0)
			model_path = argv[i + 1];
		else if (strcmp(argv[i], "--calls") == 0)
			calls = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--rounds") == 0)
			rounds = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--epochs") == 0)
			ntg_params_add_integer(&p, "epochs", atoi(argv[i + 1]), &err);
		else
		{
			fprintf(stderr, "unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (kind != &ntg_llama_kind && kind != &ntg_mamba_kind)
	{
		fprintf(stderr, "--kind: llama or mamba\n");
		return 2;
	}
	if (kind == &ntg_llama_kind)
	{
		ntg_params_add_number(&p, "dropout", 0, &err);
		ntg_params_add_number(&p, "token_noise", 0, &err);
	}
	if (tsv == NULL || read_rows(tsv, &train, &test) != 0)
	{
		fprintf(stderr, "usage: %s --tsv ROWS [--kind K] [--epochs E] [--calls N] [--rounds R] [--model FILE]\n",
				argv[0]);
		return 2;
	}
	if (load_or_train(model_path, kind, &train, &p, &fbuf, &flen) != 0)
		return 1;
	if ((at = weights_at(fbuf, flen)) < 0)
	{
		fprintf(stderr, "the stored value has no float weights\n");
		return 1;
	}
	/* place a copy of the value so that its weights start offsets[k] bytes past a cache line */
	for (int k = 0; k < N_OFFSETS; k++)
	{
		uint8_t    *block = aligned_alloc(4096, flen + 8192);
		size_t		shift = (size_t) ((offsets[k] - at % 64 + 128) % 64);

		memcpy(block + shift, fbuf, flen);
		if (ntg_model_from_bytes_borrow(block + shift, flen, &m[k], &err) != NTG_OK)
		{
			fprintf(stderr, "load: %s\n", err.msg);
			return 1;
		}
	}
	for (int r = 0; r < rounds; r++)
		for (int k = 0; k < N_OFFSETS; k++)
		{
			double		t0 = cpu_now();

			for (int c = 0; c < calls; c++)
			{
				NtgRng		rng;

				ntg_rng_seed(&rng, (uint64_t) r * 100000 + c);
				if (ntg_model_sample(m[k], c % m[k]->n_classes, 1, &m[k]->sampling, &rng, out,
									 out_len, &err) != NTG_OK)
				{
					fprintf(stderr, "sample: %s\n", err.msg);
					return 1;
				}
			}
			total[k] += cpu_now() - t0;
		}
	printf("%s at its default shape, %zu bytes stored (weights at byte %ld of the value); one-row "
		   "calls, ms per call (CPU), mean of %d rounds x %d calls, offsets in turn\n",
		   kind->name, flen, at, rounds, calls);
	printf("| weights start | ms per one-row call | against 64-byte aligned |\n|---|---|---|\n");
	for (int k = 0; k < N_OFFSETS; k++)
		printf("| %s | %.4f | %.2fx |\n", offsets[k] == 0 ? "on a cache line (ntg now)" :
			   offsets[k] == 8 ? "8 bytes past one" : offsets[k] == 16 ? "16 bytes past one" :
			   "32 bytes past one", total[k] / rounds / calls * 1e3, total[k] / total[0]);
	return 0;
}
