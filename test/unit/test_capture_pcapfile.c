/*
 * test_capture_pcapfile.c — classic pcap records (pcapfile.c): both byte orders, nanoseconds,
 * the modified format's 24-byte record headers, lengths swapped by old writers, a captured
 * length above the snapshot length (cut to it) or above 262,144 (damage), records cut short,
 * and a file read through its 1 MB window the same as its bytes in memory.
 */
#include <unistd.h>

#include "capture_run.h"
#include "unit.h"

static Buf	pk;
static uint8_t big[4 << 20];

/* A UDP packet 10.0.0.1:1000 -> 10.0.0.2:53 with `pl` payload bytes (42 + pl bytes). */
static void
udp_packet(uint32_t pl)
{
	pk.n = 0;
	eth(&pk, 0x0800);
	ipv4(&pk, 17, 0x0a000001, 0x0a000002, 8 + pl, 0);
	udp(&pk, 1000, 53, (uint16_t) (8 + pl));
	zeros(&pk, pl);
}

/* A pcap header in big-endian order: magic, version, snaplen, link type 1. */
static void
header_be(Buf *c, uint32_t magic, uint16_t major, uint16_t minor, uint32_t snaplen)
{
	c->n = 0;
	put32(c, magic);
	put16(c, major);
	put16(c, minor);
	put32(c, 0);
	put32(c, 0);
	put32(c, snaplen);
	put32(c, 1);
}

static void
record_be(Buf *c, uint32_t sec, uint32_t frac, uint32_t caplen, uint32_t len, int extra)
{
	put32(c, sec);
	put32(c, frac);
	put32(c, caplen);
	put32(c, len);
	if (extra)
		zeros(c, 8);			/* modified format: ifindex, protocol, pkt_type, pad */
	put(c, pk.b, pk.n);
}

static void
test_formats(void)
{
	static Buf	c;
	static Seen s;
	NtgCaptureOptions o;
	NtgCaptureStats st;
	NtgError	err = {0};

	ntg_capture_default_options(&o);
	udp_packet(30);
	header_be(&c, 0xa1b2c3d4, 2, 4, 65535);
	record_be(&c, 1700000000, 250000, pk.n, pk.n, 0);
	is_int(run_buf(&c, &o, &s, &st, &err), NTG_OK, "big-endian pcap");
	ok(s.n == 1 && s.pl[0][0] == 30 && s.f[0].first_ns == 1700000000 * SEC + 250000000LL,
	   "big-endian: packet and microsecond timestamp");

	header_be(&c, 0xa1b23c4d, 2, 4, 65535);
	record_be(&c, 1700000000, 123456789, pk.n, pk.n, 0);
	is_int(run_buf(&c, &o, &s, &st, &err), NTG_OK, "nanosecond pcap");
	ok(s.n == 1 && s.f[0].first_ns == 1700000000 * SEC + 123456789, "nanosecond timestamp");
	ok(strcmp(st.format, "pcap-ns") == 0, "format pcap-ns");

	header_be(&c, 0xa1b2cd34, 2, 4, 65535);
	record_be(&c, 5, 0, pk.n, pk.n, 1);
	record_be(&c, 6, 0, pk.n, pk.n, 1);
	is_int(run_buf(&c, &o, &s, &st, &err), NTG_OK, "modified (Kuznetzov) pcap");
	ok(s.n == 1 && s.f[0].packets[0] == 2 && !st.damaged, "modified: 24-byte record headers");

	/* before version 2.3 writers swapped captured and original length */
	header_be(&c, 0xa1b2c3d4, 2, 2, 65535);
	record_be(&c, 5, 0, pk.n + 100, pk.n, 0);
	is_int(run_buf(&c, &o, &s, &st, &err), NTG_OK, "pcap 2.2");
	ok(s.n == 1 && !st.damaged, "pcap 2.2: lengths swapped back");

	/* a captured length above the snapshot length: the packet is cut to it */
	header_be(&c, 0xa1b2c3d4, 2, 4, 50);
	record_be(&c, 5, 0, pk.n, pk.n, 0);
	is_int(run_buf(&c, &o, &s, &st, &err), NTG_OK, "record longer than the snapshot length");
	ok(s.n == 1 && s.pl[0][0] == 30 && !st.damaged, "cut to the snapshot length, PL from the header");

	/* a captured length above 262,144 bytes is damage */
	header_be(&c, 0xa1b2c3d4, 2, 4, 65535);
	record_be(&c, 5, 0, pk.n, pk.n, 0);
	put32(&c, 6);
	put32(&c, 0);
	put32(&c, 300000);
	put32(&c, 300000);
	is_int(run_buf(&c, &o, &s, &st, &err), NTG_OK, "absurd captured length");
	ok(st.damaged && st.packets == 1 && strstr(st.damage, "captured length of 300000") &&
	   strstr(st.damage, "byte offset 112"), "damage after the first packet: %s", st.damage);

	/* cut inside a record header, and inside a record's data */
	header_be(&c, 0xa1b2c3d4, 2, 4, 65535);
	record_be(&c, 5, 0, pk.n, pk.n, 0);
	put32(&c, 6);
	is_int(run_buf(&c, &o, &s, &st, &err), NTG_OK, "cut inside a record header");
	ok(st.damaged && strstr(st.damage, "inside the record header at byte offset 112"),
	   "says so: %s", st.damage);
	header_be(&c, 0xa1b2c3d4, 2, 4, 65535);
	record_be(&c, 5, 0, pk.n, pk.n, 0);
	record_be(&c, 6, 0, pk.n, pk.n, 0);
	c.n -= 10;
	is_int(run_buf(&c, &o, &s, &st, &err), NTG_OK, "cut inside a record");
	ok(st.damaged && st.packets == 1 && strstr(st.damage, "cut short inside the record at byte offset 112"),
	   "says so: %s", st.damage);
}

/* More than the 1 MB window from a file, and the same bytes from memory. */
static void
test_file(void)
{
	static Seen s1,
				s2;
	NtgCaptureOptions o;
	NtgCaptureStats st1,
				st2;
	NtgError	err = {0};
	Buf		   *h = malloc(sizeof(Buf));
	size_t		n;
	char		path[] = "/tmp/ntg-pcapfile-XXXXXX";
	int			fd = mkstemp(path);
	NtgCaptureReader *r;

	h->n = 0;
	pcap_header(h, 1);
	memcpy(big, h->b, h->n);
	n = h->n;
	for (uint32_t i = 0; n + 16 + 1100 < sizeof(big); i++)
	{
		h->n = 0;
		udp_packet(200 + i % 900);
		pcap_record(h, 1000 + i / 1000, i % 1000, &pk, 0);
		memcpy(big + n, h->b, h->n);
		n += h->n;
	}
	ok(write(fd, big, n) == (ssize_t) n, "wrote a %.1f MB capture", n / 1048576.0);
	close(fd);
	ntg_capture_default_options(&o);
	o.idle_timeout = 0;
	is_int(run_bytes(big, n, &o, &s1, &st1, &err), NTG_OK, "from memory");
	memset(&s2, 0, sizeof(s2));
	ntg_error_clear(&err);
	is_int(ntg_capture_open_file(path, &r, &err), NTG_OK, "the file opens");
	is_int(ntg_capture_run(r, &o, seen_collect, &s2, &st2, &err), NTG_OK, "from the file");
	ntg_capture_close(r);
	unlink(path);
	ok(!st1.damaged && !st2.damaged && st1.packets > 3000, "%llu packets, no damage",
	   (unsigned long long) st1.packets);
	ok(st1.packets == st2.packets && st1.bytes_read == st2.bytes_read && st2.bytes_read == n,
	   "file and memory read the same records and bytes");
	ok(s1.n == 1 && s2.n == 1 && s1.f[0].payload_bytes[0] == s2.f[0].payload_bytes[0] &&
	   s1.f[0].last_ns == s2.f[0].last_ns, "and the same biflow");
	free(h);
}

int
main(void)
{
	test_formats();
	test_file();
	return done_testing();
}
