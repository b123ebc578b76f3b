/*
 * pcap_write_core.c — bench/pcap_write_bench.sh's ntg core run: the capture writer
 * (src/core/pcapout/) with no PostgreSQL, on the rows of a TSV file ("label\t{v1,v2,...}" per
 * line), writing to a file through the flush path as ntg.write_pcap_file() does.
 * Usage: pcap_write_core ROWS.tsv OUT.pcapng   Prints: biflows packets bytes seconds
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pcapout/pcapout.h"

typedef struct Row
{
	char	   *label;
	int32_t    *pl;
	int			npl;
} Row;

static int
flush_file(const uint8_t *data, size_t len, void *arg, NtgError *err)
{
	return fwrite(data, 1, len, (FILE *) arg) == len ? NTG_OK : ntg_error(err, NTG_ERR_IO, "write failed");
}

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
	FILE	   *in,
			   *out;
	char		line[65536];
	Row		   *rows = NULL;
	int			n = 0,
				cap = 0;
	NtgPcapOutOptions o;
	NtgPcapWriter *w;
	NtgPcapOutStats st;
	NtgError	err;
	double		t0;

	if (argc != 3 || !(in = fopen(argv[1], "r")) || !(out = fopen(argv[2], "wb")))
	{
		fprintf(stderr, "usage: pcap_write_core ROWS.tsv OUT.pcapng\n");
		return 2;
	}
	while (fgets(line, sizeof(line), in))
	{
		char	   *tab = strchr(line, '\t'),
				   *p;

		if (!tab)
			continue;
		if (n == cap)
			rows = realloc(rows, sizeof(Row) * (cap = cap ? cap * 2 : 1024));
		*tab = '\0';
		rows[n].label = strdup(line);
		rows[n].pl = malloc(sizeof(int32_t) * 1024);
		rows[n].npl = 0;
		for (p = tab + 2; *p && *p != '}';)
		{
			rows[n].pl[rows[n].npl++] = (int32_t) strtol(p, &p, 10);
			if (*p == ',')
				p++;
		}
		n++;
	}
	ntg_pcapout_default_options(&o);
	o.progress_seconds = 0;
	o.flush = flush_file;
	o.flush_arg = out;
	o.userappl = "ntg";
	t0 = now();
	w = ntg_pcapout_create(&o, &err);
	for (int i = 0; i < n && w; i++)
	{
		NtgPcapOutFlow f = {0};

		f.label = rows[i].label;
		f.label_len = strlen(rows[i].label);
		f.pl = rows[i].pl;
		f.npl = rows[i].npl;
		if (ntg_pcapout_add(w, &f, &err) != NTG_OK)
		{
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
	}
	if (!w || ntg_pcapout_finish(w, &err) != NTG_OK || fflush(out) != 0)
	{
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	ntg_pcapout_stats(w, &st);
	printf("%llu %llu %llu %.3f\n", (unsigned long long) st.biflows, (unsigned long long) st.packets,
		   (unsigned long long) st.bytes, now() - t0);
	ntg_pcapout_destroy(w);
	fclose(out);
	return 0;
}
