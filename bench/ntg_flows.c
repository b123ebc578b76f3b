/*
 * ntg_flows.c — the capture core without PostgreSQL: print the biflows of a capture as TSV
 * (for comparisons with other readers and for timing the core alone in bench/import_bench.sh).
 *   ntg_flows [-q] [-t idle active] [-n N] [-f filter] FILE...
 * -q prints only the totals.  Build and run: bench/import_bench.sh.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"

static int	quiet = 0;
static int	counters = 0;

static int
print_flow(const NtgBiflow *f, void *arg)
{
	char		a[64],
				b[64];
	int			af = f->family == 4 ? AF_INET : AF_INET6;

	if (quiet)
		return 0;
	inet_ntop(af, f->cli_addr, a, sizeof(a));
	inet_ntop(af, f->srv_addr, b, sizeof(b));
	printf("%s\t%s\t%s\t%u\t%s\t%u\t%llu\t%llu\t", (const char *) arg, f->protocol == 6 ? "TCP" : "UDP",
		   a, f->cli_port, b, f->srv_port,
		   (unsigned long long) (f->packets[0] + f->packets[1]), (unsigned long long) f->payload_packets);
	if (counters)
		printf("%llu\t%llu\t%llu\t%llu\t", (unsigned long long) f->packets[0],
			   (unsigned long long) f->packets[1], (unsigned long long) f->bytes[0],
			   (unsigned long long) f->bytes[1]);
	for (int i = 0; i < f->npl; i++)
		printf("%s%d", i ? "," : "", f->pl[i]);
	printf("\t%s\n", f->sni ? f->sni : "");
	return 0;
}

int
main(int argc, char **argv)
{
	NtgCaptureOptions opt;
	int			i = 1,
				bad = 0;
	unsigned long long packets = 0,
				flows = 0;

	ntg_capture_default_options(&opt);
	opt.progress_seconds = 0;
	for (; i < argc && argv[i][0] == '-'; i++)
	{
		if (strcmp(argv[i], "-q") == 0)
			quiet = 1;
		else if (strcmp(argv[i], "-c") == 0)
			counters = 1;
		else if (strcmp(argv[i], "-t") == 0 && i + 2 < argc)
		{
			opt.idle_timeout = atof(argv[++i]);
			opt.active_timeout = atof(argv[++i]);
		}
		else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			opt.n = atoi(argv[++i]);
		else if (strcmp(argv[i], "-f") == 0 && i + 1 < argc)
			opt.filter = argv[++i];
	}
	for (; i < argc; i++)
	{
		NtgCaptureReader *r;
		NtgCaptureStats st;
		NtgError	err;
		const char *base = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];

		ntg_error_clear(&err);
		if (ntg_capture_open_file(argv[i], &r, &err) != NTG_OK ||
			ntg_capture_run(r, &opt, print_flow, (void *) base, &st, &err) != NTG_OK)
		{
			fprintf(stderr, "%s: ERROR: %s (%s)\n", argv[i], err.msg, err.detail);
			ntg_capture_close(r);
			bad++;
			continue;
		}
		if (getenv("NTG_FLOWS_VERBOSE"))
		{
			fprintf(stderr, "%s: %llu packets, %llu attributed", argv[i], (unsigned long long) st.packets,
					(unsigned long long) st.packets_attributed);
			for (int k = 0; k < NTG_SKIP_NREASONS; k++)
				fprintf(stderr, ", %s %llu", ntg_skip_reason_names[k], (unsigned long long) st.skipped[k]);
			fprintf(stderr, "\n");
		}
		if (st.damaged)
			fprintf(stderr, "%s: WARNING: %s\n", argv[i], st.damage);
		packets += st.packets;
		flows += st.biflows;
		ntg_capture_close(r);
	}
	fprintf(stderr, "%llu packets, %llu biflows, %d errors\n", packets, flows, bad);
	return 0;
}
