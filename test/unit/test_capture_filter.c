/*
 * test_capture_filter.c — the checks on a capture filter before libpcap compiles it: names that
 * libpcap would resolve (DNS, services, networks, ethers) are refused, numbers and addresses are
 * accepted, and the number of terms and the length are bounded.
 */
#include <time.h>

#include "capture/filter.h"
#include "capture_run.h"
#include "unit.h"

static int
check(const char *expr, NtgError *err)
{
	ntg_error_clear(err);
	return ntg_filter_check(expr, err);
}

static void
test_names(void)
{
	static const char *const accepted[] = {
		"tcp", "udp or port 18443", "tcp port 443 and host 10.0.0.1", "net 10.0.0.0/8",
		"net 192.168", "src host 192.0.2.1 and dst net 198.51.100.0 mask 255.255.255.0",
		"ip6 host ::1", "host 2001:db8::1 or host fe80::1:2", "ether host 00:11:22:33:44:55",
		"ether host 00-11-22-33-44-55", "ether src 0011.2233.4455", "portrange 1-1024",
		"tcp portrange 8000-8080", "ip proto \\tcp", "ip6 protochain 6", "ether proto 0x0800",
		"vlan 100 and (tcp[13] & 2 != 0)", "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0",
		"icmp[icmptype] == icmp-echo", "len <= 128 && !udp || greater 1000", "not port 53",
		"port 0x50", "host 10.1", NULL
	};
	static const char *const refused[] = {
		"host example.com", "host localhost", "tcp and example", "port http", "net loopback",
		"ether host gateway1", "gateway router", "host 10.0.0.1a", "dst deadbeef",
		"portrange http-https", "tcp port 80 or \\ftp", "udp and (src foo.invalid)", NULL
	};
	NtgError	err = {0};

	for (int i = 0; accepted[i]; i++)
		is_int(check(accepted[i], &err), NTG_OK, "accepted: %s %s", accepted[i], err.msg);
	for (int i = 0; refused[i]; i++)
	{
		is_int(check(refused[i], &err), NTG_ERR_INVALID_ARG, "refused: %s", refused[i]);
		ok(strstr(err.msg, "names a host, network or service") != NULL, "  says why: %s", err.msg);
	}
	check("tcp and host db.example.com", &err);
	ok(strstr(err.msg, "\"db.example.com\"") != NULL, "the message quotes the name");
}

/* A filter of `terms` primitives "tcp port N" joined with op. */
static char *
terms_filter(int terms, const char *op)
{
	char	   *s = malloc((size_t) terms * 24 + 1);

	s[0] = 0;
	for (int i = 1; i <= terms; i++)
		sprintf(s + strlen(s), "%stcp port %d", i > 1 ? op : "", i);
	return s;
}

static void
test_size(void)
{
	NtgError	err = {0};
	char	   *s;
	char		long_filter[NTG_FILTER_MAX_LEN + 2];

	s = terms_filter(NTG_FILTER_MAX_TERMS, " or ");
	is_int(check(s, &err), NTG_OK, "%d terms are accepted", NTG_FILTER_MAX_TERMS);
	free(s);
	s = terms_filter(NTG_FILTER_MAX_TERMS + 1, " or ");
	is_int(check(s, &err), NTG_ERR_INVALID_ARG, "%d terms are refused", NTG_FILTER_MAX_TERMS + 1);
	ok(strstr(err.msg, "too many terms") != NULL && strstr(err.detail, "65 primitives") != NULL,
	   "the message counts them: %s / %s", err.msg, err.detail);
	free(s);
	s = terms_filter(NTG_FILTER_MAX_TERMS + 1, "||");
	is_int(check(s, &err), NTG_ERR_INVALID_ARG, "|| counts like or");
	free(s);
	s = terms_filter(NTG_FILTER_MAX_TERMS + 1, " and ");
	is_int(check(s, &err), NTG_ERR_INVALID_ARG, "and counts too");
	free(s);
	memset(long_filter, ' ', sizeof(long_filter));
	memcpy(long_filter, "tcp", 3);
	long_filter[NTG_FILTER_MAX_LEN + 1] = 0;
	is_int(check(long_filter, &err), NTG_ERR_INVALID_ARG, "a filter over %d bytes is refused", NTG_FILTER_MAX_LEN);
	ok(strstr(err.msg, "too long") != NULL, "too long: %s", err.msg);
}

/* Through the reader: a refused filter fails before libpcap compiles anything, and the largest
 * accepted filter compiles quickly. */
static void
test_reader(void)
{
	static Buf	cap,
				pk;
	static Seen s;
	NtgCaptureOptions o;
	NtgCaptureStats st;
	NtgError	err = {0};
	struct timespec t0,
				t1;
	char	   *big = malloc(NTG_FILTER_MAX_TERMS * 24);

	cap.n = 0;
	pcap_header(&cap, 1);
	pk.n = 0;
	eth(&pk, 0x0800);
	ipv4(&pk, 17, 0x0a000001, 0x0a000002, 8, 0);
	udp(&pk, 1000, 53, 8);
	rec(&cap, 1, 0, &pk);
	ntg_capture_default_options(&o);
	o.filter = "udp and host ntg.invalid";
	is_int(run_buf(&cap, &o, &s, &st, &err), NTG_ERR_INVALID_ARG, "a filter with a name fails the import");
	ok(strstr(err.msg, "ntg.invalid") != NULL, "naming the name: %s", err.msg);
	/* the slowest kind of term measured (port N compiles for TCP, UDP and SCTP) */
	big[0] = 0;
	for (int i = 1; i <= NTG_FILTER_MAX_TERMS; i++)
		sprintf(big + strlen(big), "%sport %d", i > 1 ? " or " : "", 1000 + i);
	o.filter = big;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	is_int(run_buf(&cap, &o, &s, &st, &err), NTG_OK, "the largest accepted filter compiles");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# %d 'port N' terms compiled and applied in %.3f s\n", NTG_FILTER_MAX_TERMS,
		   (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
	is_int(st.skipped[NTG_SKIP_FILTERED], 1, "and filters (port 53 is not among 1001..1064)");
	free(big);
}

int
main(void)
{
	test_names();
	test_size();
	test_reader();
	return done_testing();
}
