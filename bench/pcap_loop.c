/*
 * pcap_loop.c — the floor for bench/import_bench.sh: a bare libpcap read loop (pcap_open_offline,
 * pcap_next_ex) that only counts packets and bytes.  Usage: pcap_loop FILE...
 */
#include <pcap/pcap.h>
#include <stdio.h>

int
main(int argc, char **argv)
{
	unsigned long long packets = 0,
				bytes = 0;
	int			errors = 0;

	for (int i = 1; i < argc; i++)
	{
		char		errbuf[PCAP_ERRBUF_SIZE];
		pcap_t	   *p = pcap_open_offline_with_tstamp_precision(argv[i], PCAP_TSTAMP_PRECISION_NANO, errbuf);
		struct pcap_pkthdr *h;
		const u_char *d;

		if (!p)
		{
			errors++;
			continue;
		}
		while (pcap_next_ex(p, &h, &d) == 1)
		{
			packets++;
			bytes += h->caplen + d[0] * 0;	/* touch the data like a reader would */
		}
		pcap_close(p);
	}
	printf("%llu packets, %llu bytes, %d files not opened\n", packets, bytes, errors);
	return 0;
}
