/*
 * fidelity_core_bench.c — time the plain-C metric code alone (no server, no SPI) on two TSV files
 * of `label<TAB>{v1,...}` rows: `fidelity_core_bench REAL.tsv SYNTHETIC.tsv REPEATS` prints the
 * best wall time and the best CPU time of this process in ms (they differ when the machine is
 * busy: CPU time is what the work costs, wall time what a user waits).  Built and run by bench/fidelity_bench.sh against the unit-test core
 * library (test/unit/bin/libntgcore.a).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/seqset.h"
#include "metrics/fidelity.h"

static int
load(const char *path, NtgSeqSet *out)
{
	FILE	   *f = fopen(path, "r");
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();
	NtgError	err;
	char		line[65536];
	int32_t		v[4096];

	if (f == NULL || b == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
	{
		char	   *tab = strchr(line, '\t'),
				   *p;
		int			n = 0;

		if (tab == NULL)
			continue;
		*tab = '\0';
		for (p = tab + 2; *p && *p != '}' && n < 4096;)
		{
			v[n++] = (int32_t) strtol(p, &p, 10);
			if (*p == ',')
				p++;
		}
		ntg_seqset_builder_add(b, line, v, n, &err);
	}
	fclose(f);
	return ntg_seqset_builder_finish(b, out, &err) == NTG_OK;
}

int
main(int argc, char **argv)
{
	NtgSeqSet	real,
				synth;
	double		best = 1e30,
				best_cpu = 1e30;
	int			repeats = argc > 3 ? atoi(argv[3]) : 3;

	if (argc < 3 || !load(argv[1], &real) || !load(argv[2], &synth))
	{
		fprintf(stderr, "usage: fidelity_core_bench REAL.tsv SYNTHETIC.tsv [REPEATS]\n");
		return 1;
	}
	for (int i = 0; i < repeats; i++)
	{
		struct timespec t0,
					t1,
					c0,
					c1;
		NtgFidelity f;
		NtgError	err;
		double		ms;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
		if (ntg_fidelity_compute(&real, &synth, &f, &err) != NTG_OK)
		{
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
		if (ms < best)
			best = ms;
		ms = (c1.tv_sec - c0.tv_sec) * 1e3 + (c1.tv_nsec - c0.tv_nsec) / 1e6;
		if (ms < best_cpu)
			best_cpu = ms;
		ntg_fidelity_free(&f);
	}
	printf("%.1f %.1f\n", best, best_cpu);
	return 0;
}
