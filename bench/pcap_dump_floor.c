/*
 * pcap_dump_floor.c — bench/pcap_write_bench.sh's floor: the packets of a capture, already built
 * and held in memory, written to a pcap file with libpcap's pcap_dump (what a C program that
 * builds packets would call last).  Usage: pcap_dump_floor IN OUT.pcap
 * Prints: packets bytes seconds (of the writing loop alone, flush and close included).
 */
#include <pcap/pcap.h>
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
	char		errbuf[PCAP_ERRBUF_SIZE];
	pcap_t	   *in;
	pcap_dumper_t *d;
	struct pcap_pkthdr *h,
			   *hdrs = NULL;
	const u_char *data;
	u_char	  **pkts = NULL;
	size_t		n = 0,
				cap = 0;
	unsigned long long bytes = 0;
	double		t0;

	if (argc != 3 || !(in = pcap_open_offline(argv[1], errbuf)))
	{
		fprintf(stderr, "usage: pcap_dump_floor IN OUT.pcap (%s)\n", argc == 3 ? errbuf : "");
		return 2;
	}
	while (pcap_next_ex(in, &h, &data) == 1)
	{
		if (n == cap)
		{
			cap = cap ? cap * 2 : 65536;
			hdrs = realloc(hdrs, sizeof(*hdrs) * cap);
			pkts = realloc(pkts, sizeof(*pkts) * cap);
		}
		hdrs[n] = *h;
		pkts[n] = malloc(h->caplen);
		memcpy(pkts[n], data, h->caplen);
		bytes += 16 + h->caplen;
		n++;
	}
	t0 = now();
	if (!(d = pcap_dump_open(in, argv[2])))
	{
		fprintf(stderr, "%s\n", pcap_geterr(in));
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		pcap_dump((u_char *) d, &hdrs[i], pkts[i]);
	pcap_dump_close(d);
	printf("%zu %llu %.3f\n", n, bytes + 24, now() - t0);
	pcap_close(in);
	return 0;
}
