/*
 * core_bench.h — what the plain-C benchmarks of bench/ share: rows from a TSV file into sequence
 * sets, a stored model from a file, and a model trained through the training driver as ntg.train
 * trains it.  Included by one program each (static functions).
 */
#ifndef NTG_CORE_BENCH_H
#define NTG_CORE_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/seqset.h"
#include "models/train_driver.h"

/* Rows of the TSV into train (and test, when the file has a split column; else test = train). */
static int
read_rows(const char *path, NtgSeqSet *train, NtgSeqSet *test)
{
	FILE	   *f = fopen(path, "r");
	NtgSeqSetBuilder *b[2] = {ntg_seqset_builder_new(), ntg_seqset_builder_new()};
	char		line[65536];
	int32_t		vals[4096];
	int			split_file = 0;
	NtgError	err;

	if (f == NULL)
	{
		perror(path);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL)
	{
		char	   *label = line,
				   *p,
				   *tab = strchr(line, '\t');
		int			which = 0,
					n = 0;

		if (tab == NULL)
			continue;
		*tab = '\0';
		p = tab + 1;
		if ((tab = strchr(p, '\t')) != NULL)
		{
			split_file = 1;
			which = strcmp(line, "test") == 0;
			label = p;
			*tab = '\0';
			p = tab + 1;
		}
		while (*p != '\0' && *p != '\n' && n < 4096)
		{
			char	   *end;
			long		v;

			if (*p == '{' || *p == '}' || *p == ',')
			{
				p++;
				continue;
			}
			v = strtol(p, &end, 10);
			if (end == p)
				break;
			vals[n++] = (int32_t) v;
			p = end;
		}
		ntg_seqset_builder_add(b[which], label, vals, n, &err);
	}
	fclose(f);
	if (ntg_seqset_builder_finish(b[0], train, &err) != NTG_OK)
		return -1;
	if (!split_file)
	{
		int		   *all = malloc(sizeof(int) * (train->n_rows + 1));

		for (int i = 0; i < train->n_rows; i++)
			all[i] = i;
		ntg_seqset_free(test);
		ntg_seqset_builder_free(b[1]);
		return ntg_seqset_subset(train, all, train->n_rows, test, &err) == NTG_OK ? 0 : -1;
	}
	return ntg_seqset_builder_finish(b[1], test, &err) == NTG_OK ? 0 : -1;
}

static int
load_file(const char *path, uint8_t **buf, size_t *len)
{
	FILE	   *f = fopen(path, "rb");

	if (f == NULL)
		return -1;
	fseek(f, 0, SEEK_END);
	*len = (size_t) ftell(f);
	fseek(f, 0, SEEK_SET);
	*buf = malloc(*len);
	if (fread(*buf, 1, *len, f) != *len)
	{
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

/* A float model trained on train (through the training driver, as ntg.train does). */
static int
train_model(const NtgModelKind *kind, const NtgSeqSet *train, NtgParams *p, uint8_t **buf,
			size_t *len)
{
	NtgTraining t;
	NtgSeqSet	copy;
	NtgError	err;
	int		   *all = malloc(sizeof(int) * (train->n_rows + 1));
	NtgTrainHooks hooks = {0};

	for (int i = 0; i < train->n_rows; i++)
		all[i] = i;
	ntg_seqset_subset(train, all, train->n_rows, &copy, &err);
	free(all);
	hooks.quiet = 0;
	if (ntg_training_prepare(&t, kind, p, &copy, NULL, &err) != NTG_OK ||
		ntg_training_run(&t, &hooks, &err) != NTG_OK ||
		ntg_training_save(&t, buf, len, &err) != NTG_OK)
	{
		fprintf(stderr, "training: %s\n", err.msg);
		return -1;
	}
	fprintf(stderr, "trained %d epochs, final loss %.4f\n", t.epochs_run, t.losses[t.epochs_run - 1]);
	ntg_training_free(&t);
	return 0;
}

/* The stored model at path when the file exists (a float model of any kind: the caller checks),
 * else one trained on train with p, written to path (when not NULL). */
static int
load_or_train(const char *path, const NtgModelKind *kind, const NtgSeqSet *train, NtgParams *p,
			  uint8_t **buf, size_t *len)
{
	FILE	   *f;

	if (path != NULL && load_file(path, buf, len) == 0)
		return 0;
	if (train_model(kind, train, p, buf, len) != 0)
		return -1;
	if (path != NULL && (f = fopen(path, "wb")) != NULL)
	{
		fwrite(*buf, 1, *len, f);
		fclose(f);
	}
	return 0;
}

/* CPU time of this process, seconds. */
static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#endif							/* NTG_CORE_BENCH_H */
