/*
 * netdiffus_core_bench.c — the netdiffus generator on the plain-C core, without PostgreSQL: train
 * it through the training driver on a TSV of labeled rows (or load a saved model), time training
 * and generation, and write generated rows for the quality scripts.
 *
 * usage: netdiffus_core_bench --tsv FILE [--param KEY=VALUE]... [--save FILE] [--load FILE]
 *            [--gen-out FILE] [--gen-every K] [--sample KEY=NUMBER]... [--gen-seed X]
 *            [--time-samples S] [--time-single S]
 *
 *   --param KEY=VALUE   a hyperparameter (a number, else a string: --param beta_schedule=linear)
 *   --save / --load     the trained model's bytes (ntg_model_save); --load skips training
 *   --gen-out FILE      after training, as many rows per class as the TSV has, written as
 *                       label<TAB>comma-separated values; with --gen-every K also every K epochs,
 *                       into FILE.eEPOCH
 *   --sample K=V        a sampling option for the written rows (steps=20, ddim=1, guidance=1, ...)
 *   --gen-fraction F    write F times as many rows per class (at least 1): cheaper comparisons
 *   --time-samples S    time S rows per class generated together (ms/row)
 *   --time-single S     time S rows per class generated one call at a time (ms/row)
 *
 * Prints progress on stderr and ONE JSON line on stdout (s_per_epoch, ms_per_sample_batched,
 * ms_per_sample_single, params, model_bytes, final_loss, peak_rss_mb, and the CPU-time variants),
 * the keys bench/torch_netdiffus.py prints, so that scripts can put the two side by side.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common/seqset.h"
#include "models/model.h"
#include "models/train_driver.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

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

static NtgSampleOptions gen_opts;
static uint64_t gen_seed = 2;
static double gen_fraction = 1.0;	/* --gen-fraction: this part of the rows per class */

/* As many rows per class as set has, of the model's classes (by name). */
static int
write_generated(NtgModel *model, const NtgSeqSet *set, const char *path)
{
	FILE	   *f = fopen(path, "w");
	int		   *counts = calloc(set->n_classes, sizeof(int));
	NtgRng		rng;
	NtgError	err;

	if (f == NULL)
	{
		perror(path);
		return -1;
	}
	ntg_seqset_class_counts(set, counts);
	for (int c = 0; c < set->n_classes; c++)
		counts[c] = counts[c] * gen_fraction < 1.0 ? 1 : (int) (counts[c] * gen_fraction + 0.5);
	ntg_rng_seed(&rng, gen_seed);
	for (int c = 0; c < set->n_classes; c++)
	{
		int32_t    *out = malloc((size_t) (counts[c] + 1) * model->max_len * sizeof(int32_t));
		int		   *len = malloc((counts[c] + 1) * sizeof(int));
		int			mc = -1;

		for (int k = 0; k < model->n_classes; k++)
			if (strcmp(model->classes[k], set->classes[c]) == 0)
				mc = k;
		if (mc < 0 || model->kind->sample(model, mc, counts[c], &gen_opts, &rng, out, len, &err) != NTG_OK)
		{
			fprintf(stderr, "sample: %s\n", mc < 0 ? "class not in the model" : err.msg);
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

typedef struct Progress
{
	NtgTraining *t;
	const NtgSeqSet *set;
	const char *gen_out;
	int			gen_every;
	double		t0;
} Progress;

static void
epoch_done(const NtgEpochReport *r, void *arg)
{
	Progress   *p = arg;

	fprintf(stderr, "epoch %d/%d: loss %.5f, validation %.5f%s (%.1f s, %.1f s in all)\n", r->epoch,
			r->epochs, r->loss, r->val_loss, r->best_epoch == r->epoch ? " *" : "", r->seconds,
			now() - p->t0);
	if (p->gen_out != NULL && p->gen_every > 0 && r->epoch % p->gen_every == 0)
	{
		char		path[4096];

		snprintf(path, sizeof(path), "%s.e%d", p->gen_out, r->epoch);
		write_generated(p->t->model, p->set, path);
	}
}

/* Generate S rows of every class, in calls of `per_call` rows; seconds of wall and CPU time. */
static void
time_generation(NtgModel *model, int S, int per_call, double *wall, double *cpu)
{
	int32_t    *out = malloc((size_t) per_call * model->max_len * sizeof(int32_t));
	int		   *len = malloc(per_call * sizeof(int));
	NtgRng		rng;
	NtgError	err;
	double		t0 = now(),
				c0 = cpu_now();

	ntg_rng_seed(&rng, 11);
	for (int c = 0; c < model->n_classes; c++)
		for (int done = 0; done < S; done += per_call)
			if (model->kind->sample(model, c, per_call, &gen_opts, &rng, out, len, &err) != NTG_OK)
			{
				fprintf(stderr, "sample: %s\n", err.msg);
				exit(1);
			}
	*wall = now() - t0;
	*cpu = cpu_now() - c0;
	free(out);
	free(len);
}

static int
parse_kv(const char *arg, char *key, size_t size, const char **value)
{
	const char *eq = strchr(arg, '=');

	if (eq == NULL || (size_t) (eq - arg) >= size)
		return -1;
	memcpy(key, arg, eq - arg);
	key[eq - arg] = '\0';
	*value = eq + 1;
	return 0;
}

int
main(int argc, char **argv)
{
	const char *tsv = NULL,
			   *save = NULL,
			   *load = NULL,
			   *gen_out = NULL;
	int			gen_every = 0,
				time_samples = 0,
				time_single = 0;
	const NtgModelKind *kind = ntg_model_kind_find("netdiffus");
	NtgParams	p = {0};
	NtgSeqSet	set,
				copy;
	NtgTraining t = {0};
	NtgModel   *model = NULL;
	NtgError	err;
	double		s_epoch = 0,
				cpu_epoch = 0,
				loss = 0,
				bw = 0,
				bc = 0,
				sw = 0,
				sc = 0;
	uint8_t    *bytes = NULL;
	size_t		n_bytes = 0;
	struct rusage ru;
	char		key[64];
	const char *val;

	ntg_sample_options_defaults(kind, 0, &gen_opts);
	for (int i = 1; i + 1 < argc; i += 2)
	{
		if (strcmp(argv[i], "--tsv") == 0)
			tsv = argv[i + 1];
		else if (strcmp(argv[i], "--save") == 0)
			save = argv[i + 1];
		else if (strcmp(argv[i], "--load") == 0)
			load = argv[i + 1];
		else if (strcmp(argv[i], "--gen-out") == 0)
			gen_out = argv[i + 1];
		else if (strcmp(argv[i], "--gen-every") == 0)
			gen_every = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--gen-fraction") == 0)
			gen_fraction = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--gen-seed") == 0)
			gen_seed = strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--time-samples") == 0)
			time_samples = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--time-single") == 0)
			time_single = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--param") == 0 && parse_kv(argv[i + 1], key, sizeof(key), &val) == 0)
		{
			char	   *end;
			double		v = strtod(val, &end);

			if (end != val && *end == '\0')
				ntg_params_add_number(&p, key, v, &err);
			else
				ntg_params_add_string(&p, key, val, &err);
		}
		else if (strcmp(argv[i], "--sample") == 0 && parse_kv(argv[i + 1], key, sizeof(key), &val) == 0)
		{
			int			k = ntg_sample_option_index(kind, key);

			if (k < 0)
			{
				fprintf(stderr, "unknown sampling option %s (%s)\n", key, ntg_sample_option_names(kind));
				return 2;
			}
			gen_opts.value[k] = atof(val);
		}
		else
		{
			fprintf(stderr, "unknown or malformed option %s\n", argv[i]);
			return 2;
		}
	}
	if (tsv == NULL || read_tsv(tsv, &set) != 0)
	{
		fprintf(stderr, "usage: %s --tsv FILE [--param K=V]... (see the header)\n", argv[0]);
		return 2;
	}
	if (load != NULL)
	{
		FILE	   *f = fopen(load, "rb");
		long		n;

		if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0)
		{
			perror(load);
			return 1;
		}
		rewind(f);
		bytes = malloc(n);
		if (fread(bytes, 1, n, f) != (size_t) n ||
			ntg_model_from_bytes(bytes, n, &model, &err) != NTG_OK)
		{
			fprintf(stderr, "load: %s\n", err.msg);
			return 1;
		}
		fclose(f);
		free(bytes);
		bytes = NULL;
	}
	else
	{
		int		   *all = malloc(sizeof(int) * set.n_rows);
		Progress	prog = {&t, &set, gen_out, gen_every, now()};
		NtgTrainHooks hooks = {epoch_done, &prog, 1};
		double		c0 = cpu_now();

		for (int i = 0; i < set.n_rows; i++)
			all[i] = i;
		ntg_seqset_subset(&set, all, set.n_rows, &copy, &err);
		free(all);
		if (ntg_training_prepare(&t, kind, &p, &copy, NULL, &err) != NTG_OK ||
			ntg_training_run(&t, &hooks, &err) != NTG_OK)
		{
			fprintf(stderr, "train: %s\n", err.msg);
			return 1;
		}
		cpu_epoch = (cpu_now() - c0) / (t.epochs_run > 0 ? t.epochs_run : 1);
		s_epoch = t.epoch_seconds;
		loss = t.epochs_run > 0 ? t.losses[t.epochs_run - 1] : 0.0;
		model = t.model;
		if (ntg_training_save(&t, &bytes, &n_bytes, &err) != NTG_OK)
		{
			fprintf(stderr, "save: %s\n", err.msg);
			return 1;
		}
		fprintf(stderr, "trained %d epochs, %.2f s/epoch, best epoch %d, %lld parameters\n",
				t.epochs_run, s_epoch, t.best_epoch, (long long) model->n_params);
	}
	if (save != NULL && bytes != NULL)
	{
		FILE	   *f = fopen(save, "wb");

		if (f == NULL || fwrite(bytes, 1, n_bytes, f) != n_bytes || fclose(f) != 0)
		{
			perror(save);
			return 1;
		}
	}
	if (gen_out != NULL && write_generated(model, &set, gen_out) != 0)
		return 1;
	if (time_samples > 0)
		time_generation(model, time_samples, time_samples, &bw, &bc);
	if (time_single > 0)
		time_generation(model, time_single, 1, &sw, &sc);
	getrusage(RUSAGE_SELF, &ru);
	printf("{\"s_per_epoch\": %.4f, \"cpu_s_per_epoch\": %.4f, \"ms_per_sample_batched\": %.4f, "
		   "\"cpu_ms_per_sample_batched\": %.4f, \"ms_per_sample_single\": %.4f, "
		   "\"cpu_ms_per_sample_single\": %.4f, \"params\": %lld, \"model_bytes\": %zu, "
		   "\"final_loss\": %.5f, \"peak_rss_mb\": %.1f}\n",
		   s_epoch, cpu_epoch,
		   time_samples > 0 ? bw * 1e3 / (time_samples * model->n_classes) : 0.0,
		   time_samples > 0 ? bc * 1e3 / (time_samples * model->n_classes) : 0.0,
		   time_single > 0 ? sw * 1e3 / (time_single * model->n_classes) : 0.0,
		   time_single > 0 ? sc * 1e3 / (time_single * model->n_classes) : 0.0,
		   (long long) model->n_params, n_bytes, loss, ru.ru_maxrss / 1024.0);
	return 0;
}
