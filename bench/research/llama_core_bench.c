/*
 * llama_core_bench.c — the paper's efficiency protocol on the plain-C core, without PostgreSQL:
 * train a llama generator on a TSV of labeled rows for E epochs, then generate S rows per class
 * one at a time (batch 1) and batched (all S rows of a class through the KV cache together).
 * Prints a short table on stderr and ONE JSON line on stdout, with the same keys as
 * bench/torch_llama.py, so a script can put the two side by side:
 *
 *   {"s_per_epoch":..., "ms_per_sample_single":..., "ms_per_sample_batched":..., "model_bytes":...,
 *    "params":..., "final_loss":..., "peak_rss_mb":..., "cpu_s_per_epoch":...,
 *    "cpu_ms_per_sample_single":..., "cpu_ms_per_sample_batched":...}
 * (wall-clock figures first; the cpu_ ones are the process's CPU time, steadier on a shared
 * machine).
 *
 * usage: llama_core_bench --tsv FILE [--epochs 10] [--batch-size 32] [--samples 100] [--seed 1]
 *                         [--threads 1] [--lr 0.001] [--dim 160] [--hidden-dim 320]
 *                         [--layers 4] [--heads 8] [--gen-out FILE] [--param KEY=NUMBER]...
 *                         [--kind llama]
 * --kind trains another generator kind of the registry (mamba, ...) with its own defaults: the
 * llama shape options and --lr then do not apply (use --param), and generation is timed through
 * the generic sample() (n = 1 per call one at a time, all rows of a class in one call batched).
 * --gen-out writes, after training, as many generated rows per class as the training set has
 * (label<TAB>values), for bench/research/llama_quality.py.  For tuning (bench/research/llama_tune.py):
 * --gen-every K writes them every K epochs instead, one file GEN_OUT.eEPOCH.tTEMP per temperature
 * of --temperatures T1,T2,... (default 1); --stratified 1 writes them with stratified draws
 * (model.h).  The environment
 * variable NTG_BENCH_GEN_FACTOR=F writes F times as many rows (llama_tune.py --rows-factor), and
 * NTG_BENCH_COPY_GUARD=B samples them with copy_guard on at copy_budget B (copy_guard.c).
 * The TSV holds label<TAB>comma-separated signed PLs (bench/research/make_protocol_tsv.py writes one).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common/seqset.h"
#include "models/model.h"
#include "models/llama.h"
#include "models/token_sampling.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of the process: on a shared machine the fairer clock (bench/README: both harnesses
 * report wall and CPU time). */
static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int
read_tsv(const char *path, NtgSeqSet *set)
{
	FILE	   *f = fopen(path, "r");
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();
	char		line[65536];
	int32_t		vals[4096];
	NtgError	err;

	if (f == NULL)
	{
		perror(path);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL)
	{
		char	   *tab = strchr(line, '\t');
		char	   *p;
		int			n = 0;

		if (tab == NULL)
			continue;
		*tab = '\0';
		p = tab + 1;
		while (*p != '\0' && *p != '\n' && n < 4096)
		{
			char	   *end;
			long		v = strtol(p, &end, 10);

			if (end == p)
				break;
			vals[n++] = (int32_t) v;
			p = (*end == ',') ? end + 1 : end;
		}
		ntg_seqset_builder_add(b, line, vals, n, &err);
	}
	fclose(f);
	return ntg_seqset_builder_finish(b, set, &err) == NTG_OK ? 0 : -1;
}

static int	stratified = 0;		/* --stratified 1: stratified draws for the written rows */

/* As many rows per class as the training set has (times NTG_BENCH_GEN_FACTOR, if set), through
 * the generic sample(), as label<TAB>comma-separated values (for bench/research/llama_quality.py). */
static int
write_generated(NtgModel *model, const NtgSeqSet *set, const char *path, uint64_t seed,
				double temperature)
{
	FILE	   *f = fopen(path, "w");
	int		   *counts = calloc(set->n_classes, sizeof(int));
	NtgRng		rng;
	NtgError	err;
	const char *guard = getenv("NTG_BENCH_COPY_GUARD");	/* copy control: the budget, if set */
	NtgSampleOptions o = {NTG_TOKEN_N_OPTIONS, {temperature, 0, 1.0, stratified, guard != NULL,
												guard != NULL ? atof(guard) : 1.0}};
	const char *factor = getenv("NTG_BENCH_GEN_FACTOR");	/* diagnostics: F times as many rows */

	if (f == NULL)
	{
		perror(path);
		return -1;
	}
	ntg_seqset_class_counts(set, counts);
	for (int c = 0; factor != NULL && c < set->n_classes; c++)
		counts[c] *= atoi(factor);
	ntg_rng_seed(&rng, seed);
	for (int c = 0; c < set->n_classes; c++)
	{
		int32_t    *out = malloc((size_t) (counts[c] + 1) * model->max_len * sizeof(int32_t));
		int		   *len = malloc((counts[c] + 1) * sizeof(int));

		if (ntg_model_sample(model, c, counts[c], &o, &rng, out, len, &err) != NTG_OK)
		{
			fprintf(stderr, "sample: %s\n", err.msg);
			return -1;
		}
		for (int r = 0; r < counts[c]; r++)
		{
			fprintf(f, "%s\t", set->classes[c]);
			for (int j = 0; j < len[r]; j++)
				fprintf(f, j ? ",%d" : "%d", out[(size_t) r * model->max_len + j]);
			fputc('\n', f);
		}
		free(out);
		free(len);
	}
	free(counts);
	fclose(f);
	return 0;
}

/* write_generated for each temperature of the comma-separated list temps, into
 * PREFIX.eEPOCH.tTEMP (the tuning files of bench/research/llama_tune.py), or into prefix itself when
 * epoch < 0 and there is one temperature of 1. */
static int
write_generated_all(NtgModel *model, const NtgSeqSet *set, const char *prefix, int epoch,
					const char *temps, uint64_t seed)
{
	const char *t = temps;

	if (epoch < 0 && strcmp(temps, "1") == 0)
		return write_generated(model, set, prefix, seed, 1.0);
	while (*t != '\0')
	{
		char	   *end;
		double		temp = strtod(t, &end);
		char		path[4096];

		if (end == t || temp <= 0.0)
		{
			fprintf(stderr, "--temperatures wants positive numbers separated by commas\n");
			return -1;
		}
		snprintf(path, sizeof(path), "%s.e%d.t%.*s", prefix, epoch, (int) (end - t), t);
		if (write_generated(model, set, path, seed, temp) != 0)
			return -1;
		t = (*end == ',') ? end + 1 : end;
	}
	return 0;
}

/* Add key = v unless --param already gave it. */
static void
param_default(NtgParams *p, const char *key, double v)
{
	NtgError	err;

	for (int i = 0; i < p->n; i++)
		if (strcmp(p->items[i].key, key) == 0)
			return;
	ntg_params_add_number(p, key, v, &err);
}

int
main(int argc, char **argv)
{
	const char *tsv = NULL;
	const char *gen_out = NULL;
	const char *temps = "1";
	const NtgModelKind *kind = &ntg_llama_kind;
	int			gen_every = 0;
	int			epochs = 10,
				batch = 32,
				samples = 100,
				threads = 1;
	long		seed = 1;
	double		lr = 1e-3;
	int			dim = 160,
				hidden = 320,
				layers = 4,
				heads = 8;
	NtgSeqSet	set;
	NtgParams	p = {0};
	NtgModel *model;
	NtgTrainPlan topts;
	NtgError	err;
	NtgRng		rng;
	double		t0,
				c0,
				train_cpu,
				single_cpu,
				batched_cpu,
				train_s,
				single_s,
				batched_s,
				loss = 0.0;
	int32_t    *out;
	int		   *out_len;
	uint8_t    *blob;
	size_t		blob_len;
	struct rusage ru;

	for (int i = 1; i + 1 < argc; i += 2)
	{
		if (strcmp(argv[i], "--tsv") == 0)
			tsv = argv[i + 1];
		else if (strcmp(argv[i], "--epochs") == 0)
			epochs = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--batch-size") == 0)
			batch = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--samples") == 0)
			samples = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--seed") == 0)
			seed = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--param") == 0)
		{
			/* any numeric hyperparameter: --param weight_decay=0.1 */
			char		key[64];
			const char *eq = strchr(argv[i + 1], '=');

			if (eq == NULL || eq - argv[i + 1] >= (long) sizeof(key))
			{
				fprintf(stderr, "--param wants KEY=NUMBER\n");
				return 2;
			}
			memcpy(key, argv[i + 1], eq - argv[i + 1]);
			key[eq - argv[i + 1]] = '\0';
			ntg_params_add_number(&p, key, atof(eq + 1), &err);
		}
		else if (strcmp(argv[i], "--gen-out") == 0)
			gen_out = argv[i + 1];
		else if (strcmp(argv[i], "--gen-every") == 0)
			gen_every = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--temperatures") == 0)
			temps = argv[i + 1];
		else if (strcmp(argv[i], "--stratified") == 0)
			stratified = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--threads") == 0)
			threads = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--lr") == 0)
			lr = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--dim") == 0)
			dim = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--hidden-dim") == 0)
			hidden = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--layers") == 0)
			layers = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--heads") == 0)
			heads = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--kind") == 0)
		{
			kind = ntg_model_kind_find(argv[i + 1]);
			if (kind == NULL || !(kind->caps & NTG_CAP_GENERATE))
			{
				fprintf(stderr, "--kind wants a generator kind: %s\n",
						ntg_model_kind_names(NTG_CAP_GENERATE));
				return 2;
			}
		}
		else
		{
			fprintf(stderr, "unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (tsv == NULL || read_tsv(tsv, &set) != 0)
	{
		fprintf(stderr, "usage: %s --tsv FILE [--epochs E] [--batch-size B] [--samples S] [--seed X]\n",
				argv[0]);
		return 2;
	}
	param_default(&p, "epochs", epochs);
	param_default(&p, "batch_size", batch);
	param_default(&p, "seed", (double) seed);
	param_default(&p, "blas_threads", threads);
	if (kind == &ntg_llama_kind)
	{
		param_default(&p, "lr", lr);
		param_default(&p, "dim", dim);
		param_default(&p, "hidden_dim", hidden);
		param_default(&p, "n_layers", layers);
		param_default(&p, "n_heads", heads);
	}
	if (kind->create(&p, &set, &model, &topts, &err) != NTG_OK ||
		ntg_params_check_used(&p, kind->name, &err) != NTG_OK)
	{
		fprintf(stderr, "create: %s\n", err.msg);
		return 1;
	}
	model->copies = ntg_copy_index_build(&set);	/* as the training driver keeps it */
	ntg_rng_seed(&rng, (uint64_t) seed);
	t0 = now();
	c0 = cpu_now();
	for (int e = 0; e < epochs; e++)
	{
		if (kind->train_epoch(model, &set, e, &rng, &loss, &err) != NTG_OK)
		{
			fprintf(stderr, "train: %s\n", err.msg);
			return 1;
		}
		fprintf(stderr, "epoch %d: loss %.4f (%.2f s)\n", e + 1, loss, now() - t0);
		if (gen_out != NULL && gen_every > 0 && (e + 1) % gen_every == 0 &&
			write_generated_all(model, &set, gen_out, e + 1, temps, (uint64_t) seed + 2) != 0)
			return 1;
	}
	train_s = now() - t0;
	train_cpu = cpu_now() - c0;

	out = malloc((size_t) samples * model->max_len * sizeof(int32_t));
	out_len = malloc(samples * sizeof(int));
	ntg_rng_seed(&rng, (uint64_t) seed + 1);
	t0 = now();
	c0 = cpu_now();
	for (int c = 0; c < model->n_classes; c++)
	{
		if (kind == &ntg_llama_kind)
			llama_sample_batched((LlamaModel *) model, c, samples, 1,
								 &(NtgTokenSampling) {1.0, 0, 1.0, 0}, &rng, out, out_len, &err);
		else
			for (int r = 0; r < samples; r++)
				kind->sample(model, c, 1, &(NtgSampleOptions) {NTG_TOKEN_N_OPTIONS, {1.0, 0, 1.0, 0}},
							 &rng, out, out_len, &err);
	}
	single_s = now() - t0;
	single_cpu = cpu_now() - c0;
	t0 = now();
	c0 = cpu_now();
	for (int c = 0; c < model->n_classes; c++)
	{
		if (kind == &ntg_llama_kind)
			llama_sample_batched((LlamaModel *) model, c, samples, samples,
								 &(NtgTokenSampling) {1.0, 0, 1.0, 0}, &rng, out, out_len, &err);
		else
			kind->sample(model, c, samples, &(NtgSampleOptions) {NTG_TOKEN_N_OPTIONS, {1.0, 0, 1.0, 0}},
						 &rng, out, out_len, &err);
	}
	batched_s = now() - t0;
	batched_cpu = cpu_now() - c0;
	if (gen_out != NULL && gen_every == 0 &&
		write_generated_all(model, &set, gen_out, -1, temps, (uint64_t) seed + 2) != 0)
		return 1;
	ntg_model_save(model, &blob, &blob_len, &err);
	getrusage(RUSAGE_SELF, &ru);

	fprintf(stderr, "ntg %s core: %d rows, %d classes, %lld parameters\n", kind->name,
			set.n_rows, set.n_classes, (long long) model->n_params);
	fprintf(stderr, "  training   %8.3f s/epoch (batch %d, %d epochs)\n", train_s / (epochs > 0 ? epochs : 1),
			batch, epochs);
	fprintf(stderr, "  generation %8.3f ms/sample one at a time, %.3f ms/sample batched (%d per class)\n",
			single_s * 1e3 / (samples * model->n_classes),
			batched_s * 1e3 / (samples * model->n_classes), samples);
	fprintf(stderr, "  model      %zu bytes\n", blob_len);
	printf("{\"s_per_epoch\": %.4f, \"ms_per_sample_single\": %.4f, \"ms_per_sample_batched\": %.4f, "
		   "\"model_bytes\": %zu, \"params\": %lld, \"final_loss\": %.4f, \"peak_rss_mb\": %.1f, "
		   "\"cpu_s_per_epoch\": %.4f, \"cpu_ms_per_sample_single\": %.4f, "
		   "\"cpu_ms_per_sample_batched\": %.4f}\n",
		   train_s / (epochs > 0 ? epochs : 1), single_s * 1e3 / (samples * model->n_classes),
		   batched_s * 1e3 / (samples * model->n_classes), blob_len, (long long) model->n_params,
		   loss, ru.ru_maxrss / 1024.0, train_cpu / (epochs > 0 ? epochs : 1),
		   single_cpu * 1e3 / (samples * model->n_classes),
		   batched_cpu * 1e3 / (samples * model->n_classes));
	return 0;
}
