/*
 * gen_core_bench.c — train any generator kind of the registry on a TSV of labeled rows through the
 * training driver (train_driver.h), as ntg.train does, and write generated rows along the way:
 * the tuning program of bench/research/gen_tune.py.
 *
 * usage: gen_core_bench --kind KIND --tsv FILE [--held FILE] [--param KEY=VALUE]...
 *                       [--gen-out PREFIX --gen-every K [--sample NAME=V1,V2,...]] [--gen-seed S]
 *
 *   --param      a hyperparameter (a number, true/false, or a string), as in ntg.train's JSON
 *   --held       rows whose held-out loss (kind->eval_loss) is printed after every epoch
 *   --gen-every  every K epochs, as many rows per class as the training set has (times
 *                NTG_BENCH_GEN_FACTOR if set) are written to PREFIX.eEPOCH.vVALUE, one file per
 *                value of the sampling option --sample varies (the model's defaults otherwise,
 *                file PREFIX.eEPOCH.vdefault); each class from its own stream of --gen-seed (as
 *                ntg.generate draws them)
 * Prints "epoch E loss L held H seconds S" lines on stdout, and at the end the memory estimate,
 * the peak of the core's memory during training and the parameter count.
 * The TSV holds label<TAB>comma-separated signed PLs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/seqset.h"
#include "models/train_driver.h"

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

typedef struct Run
{
	NtgTraining *t;
	NtgSeqSet	held;
	int			has_held;
	const char *gen_out;
	int			every;
	const char *opt_name;		/* the sampling option --sample varies, or NULL */
	double		opt_values[32];
	int			n_opt;
	uint64_t	gen_seed;
	int		   *counts;			/* rows per class of the training set */
} Run;

static int
write_rows(Run *r, const char *path, const NtgSampleOptions *o)
{
	NtgModel   *m = r->t->model;
	const NtgSeqSet *set = &r->t->train;
	FILE	   *f = fopen(path, "w");
	NtgError	err;

	if (f == NULL)
	{
		perror(path);
		return -1;
	}
	for (int c = 0; c < set->n_classes; c++)
	{
		int32_t    *out = malloc(((size_t) r->counts[c] + 1) * m->max_len * sizeof(int32_t));
		int		   *len = malloc(((size_t) r->counts[c] + 1) * sizeof(int));
		NtgRng		base,
					rng;

		ntg_rng_seed(&base, r->gen_seed);
		ntg_rng_split(&base, (uint64_t) c, &rng);
		if (m->kind->sample(m, c, r->counts[c], o, &rng, out, len, &err) != NTG_OK)
		{
			fprintf(stderr, "sample: %s\n", err.msg);
			exit(1);
		}
		for (int i = 0; i < r->counts[c]; i++)
		{
			fprintf(f, "%s\t", set->classes[c]);
			for (int j = 0; j < len[i]; j++)
				fprintf(f, j ? ",%d" : "%d", out[(size_t) i * m->max_len + j]);
			fputc('\n', f);
		}
		free(out);
		free(len);
	}
	fclose(f);
	return 0;
}

static void
epoch_done(const NtgEpochReport *rep, void *arg)
{
	Run		   *r = arg;
	double		held = NAN;
	int64_t		scored;
	NtgError	err;
	char		path[4096];

	if (r->has_held && r->t->kind->eval_loss(r->t->model, &r->held, &held, &scored, &err) != NTG_OK)
		fprintf(stderr, "eval_loss: %s\n", err.msg);
	printf("epoch %d loss %.6f held %.6f seconds %.3f\n", rep->epoch, rep->loss, held, rep->seconds);
	fflush(stdout);
	if (r->gen_out == NULL || r->every <= 0 || rep->epoch % r->every != 0)
		return;
	if (r->opt_name == NULL)
	{
		snprintf(path, sizeof(path), "%s.e%d.vdefault", r->gen_out, rep->epoch);
		write_rows(r, path, &r->t->model->sampling);
		return;
	}
	for (int i = 0; i < r->n_opt; i++)
	{
		NtgSampleOptions o = r->t->model->sampling;

		o.value[ntg_sample_option_index(r->t->kind, r->opt_name)] = r->opt_values[i];
		snprintf(path, sizeof(path), "%s.e%d.v%g", r->gen_out, rep->epoch, r->opt_values[i]);
		write_rows(r, path, &o);
	}
}

/* KEY=VALUE into params: a number, true/false, or a string. */
static int
add_param(NtgParams *p, const char *kv)
{
	char		key[256];
	const char *eq = strchr(kv, '=');
	char	   *end;
	double		v;
	NtgError	err;

	if (eq == NULL || eq - kv >= (long) sizeof(key))
		return -1;
	memcpy(key, kv, eq - kv);
	key[eq - kv] = '\0';
	v = strtod(eq + 1, &end);
	if (strcmp(eq + 1, "true") == 0 || strcmp(eq + 1, "false") == 0)
		return ntg_params_add_bool(p, key, eq[1] == 't', &err);
	if (*end == '\0' && end != eq + 1)
		return v == floor(v) && fabs(v) < 9e15 ? ntg_params_add_integer(p, key, (int64_t) v, &err) :
			ntg_params_add_number(p, key, v, &err);
	return ntg_params_add_string(p, key, eq + 1, &err);
}

int
main(int argc, char **argv)
{
	const char *kind_name = NULL,
			   *tsv = NULL,
			   *held = NULL;
	NtgParams	params = {0};
	NtgSeqSet	rows;
	NtgTraining t;
	NtgTrainHooks hooks = {0};
	NtgError	err;
	Run			r = {0};
	const NtgModelKind *kind;

	r.gen_seed = 1;
	for (int i = 1; i < argc; i++)
	{
		const char *a = argv[i],
				   *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			break;
		if (strcmp(a, "--kind") == 0)
			kind_name = v;
		else if (strcmp(a, "--tsv") == 0)
			tsv = v;
		else if (strcmp(a, "--held") == 0)
			held = v;
		else if (strcmp(a, "--gen-out") == 0)
			r.gen_out = v;
		else if (strcmp(a, "--gen-every") == 0)
			r.every = atoi(v);
		else if (strcmp(a, "--gen-seed") == 0)
			r.gen_seed = strtoull(v, NULL, 10);
		else if (strcmp(a, "--param") == 0)
		{
			if (add_param(&params, v) != NTG_OK)
			{
				fprintf(stderr, "--param wants KEY=VALUE\n");
				return 2;
			}
		}
		else if (strcmp(a, "--sample") == 0)
		{
			static char name[256];
			const char *eq = strchr(v, '=');
			const char *p;

			if (eq == NULL || eq - v >= (long) sizeof(name))
				return 2;
			memcpy(name, v, eq - v);
			name[eq - v] = '\0';
			r.opt_name = name;
			for (p = eq + 1; *p && r.n_opt < 32; p += (*p == ','))
				r.opt_values[r.n_opt++] = strtod(p, (char **) &p);
		}
		else
		{
			fprintf(stderr, "unknown argument %s\n", a);
			return 2;
		}
		i++;
	}
	if (kind_name == NULL || tsv == NULL || (kind = ntg_model_kind_find(kind_name)) == NULL)
	{
		fprintf(stderr, "usage: gen_core_bench --kind KIND --tsv FILE [--held FILE] [--param K=V]...\n");
		return 2;
	}
	if (r.opt_name != NULL && ntg_sample_option_index(kind, r.opt_name) < 0)
	{
		fprintf(stderr, "%s has no sampling option %s\n", kind_name, r.opt_name);
		return 2;
	}
	if (read_tsv(tsv, &rows) != 0 || (held != NULL && read_tsv(held, &r.held) != 0))
		return 1;
	r.has_held = held != NULL;
	if (ntg_training_prepare(&t, kind, &params, &rows, NULL, &err) != NTG_OK)
	{
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	r.t = &t;
	r.counts = calloc(t.train.n_classes, sizeof(int));
	ntg_seqset_class_counts(&t.train, r.counts);
	for (int c = 0; getenv("NTG_BENCH_GEN_FACTOR") != NULL && c < t.train.n_classes; c++)
		r.counts[c] *= atoi(getenv("NTG_BENCH_GEN_FACTOR"));
	if (r.has_held)
	{
		/* the held-out rows must name the model's classes in its order (classes sorted by name) */
		NtgSeqSetBuilder *b = ntg_seqset_builder_new();
		NtgSeqSet	aligned;

		for (int c = 0; c < t.train.n_classes; c++)
			ntg_seqset_builder_add(b, t.train.classes[c], NULL, 0, &err);
		for (int i = 0; i < r.held.n_rows; i++)
		{
			int			len;
			const int32_t *row = ntg_seqset_row(&r.held, i, &len);

			ntg_seqset_builder_add(b, r.held.classes[r.held.row_class[i]], row, len, &err);
		}
		ntg_seqset_builder_finish(b, &aligned, &err);
		ntg_seqset_free(&r.held);
		/* drop the empty placeholder rows again */
		{
			int		   *keep = malloc(sizeof(int) * aligned.n_rows);

			for (int i = t.train.n_classes; i < aligned.n_rows; i++)
				keep[i - t.train.n_classes] = i;
			ntg_seqset_subset(&aligned, keep, aligned.n_rows - t.train.n_classes, &r.held, &err);
			free(keep);
			ntg_seqset_free(&aligned);
		}
		if (r.held.n_classes != t.train.n_classes)
		{
			fprintf(stderr, "the held-out rows have classes the training rows lack\n");
			return 1;
		}
	}
	hooks.epoch_done = epoch_done;
	hooks.arg = &r;
	hooks.quiet = 1;
	if (ntg_training_run(&t, &hooks, &err) != NTG_OK)
	{
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	printf("estimated_bytes %lld peak_bytes %lld params %lld\n", (long long) t.estimated_bytes,
		   (long long) t.peak_bytes, (long long) t.model->n_params);
	ntg_training_free(&t);
	ntg_params_free(&params);
	return 0;
}
