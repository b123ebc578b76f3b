/*
 * fresh_memory.c — bench/pcap_write_bench.sh's memory floor: the time to write N MB into memory
 * the process has not touched before (malloc + memset), which any result of that size held in
 * memory (a bytea) pays at least once.  On virtual machines the first touch of a page can cost
 * far more than writing it again; both are printed.
 * Usage: fresh_memory MB   Prints: bytes seconds_again seconds_first_touch
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int
main(int argc, char **argv)
{
	size_t		n = argc == 2 ? (size_t) atol(argv[1]) << 20 : 0;
	double		t0,
				first,
				again;
	char	   *p;

	if (n == 0)
	{
		fprintf(stderr, "usage: fresh_memory MB\n");
		return 2;
	}
	t0 = now();
	if (!(p = malloc(n)))
		return 1;
	memset(p, 1, n);
	first = now() - t0;
	t0 = now();
	memset(p, 2, n);
	again = now() - t0;
	printf("%zu %.3f %.3f\n", n, again, first);
	return p[n - 1] == 3;
}
