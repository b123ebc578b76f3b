/*
 * test_pcapout.c — the capture writer (src/core/pcapout/): checksums against an independent
 * big-endian word sum, frames decoded back by the capture decoder, TCP sequence/acknowledgement
 * bookkeeping, pcapng blocks, the whole writer read back by the capture reader (labels and signed
 * payload lengths exactly, with biflows interleaved), determinism, the flush path, and errors.
 */
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "capture/decode.h"
#include "pcapout/pcapout.h"
#include "pcapout/pcapout_int.h"
#include "unit.h"

/* ---- an independent checksum: RFC 1071 over big-endian 16-bit words --------------------------- */

static uint32_t
be_sum(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t) (p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t) p[n - 1] << 8;
	return sum;
}

static uint16_t
be_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t) sum;
}

/* 0xffff when the transport checksum of this Ethernet frame verifies (sum over all = all ones). */
static uint16_t
l4_verify(const uint8_t *f, uint32_t len)
{
	int			v6 = f[12] == 0x86;
	const uint8_t *ip = f + 14;
	uint32_t	iphl = v6 ? 40 : (uint32_t) (ip[0] & 15) * 4;
	uint32_t	l4len = len - 14 - iphl;
	uint32_t	sum = 0;

	sum = be_sum(ip + (v6 ? 8 : 12), v6 ? 32 : 8, sum);
	sum += v6 ? ip[6] : ip[9];
	sum += l4len;
	sum = be_sum(ip + iphl, l4len, sum);
	return be_fold(sum);
}

static void
test_checksum(void)
{
	/* RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2, checksum 220d */
	const uint8_t d[8] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	uint16_t	c = ntg_csum_fold(ntg_csum_add(0, d, 8));
	uint8_t		b[2];
	uint8_t		odd[37];

	memcpy(b, &c, 2);
	ok(b[0] == 0x22 && b[1] == 0x0d, "RFC 1071 example: checksum bytes 22 0d (got %02x %02x)", b[0], b[1]);
	for (int i = 0; i < 37; i++)
		odd[i] = (uint8_t) (i * 37 + 11);
	c = ntg_csum_fold(ntg_csum_add(0, odd, 37));
	memcpy(b, &c, 2);
	is_int((b[0] << 8) | b[1], (uint16_t) ~be_fold(be_sum(odd, 37, 0)),
		   "odd length, 32-bit host-order sum equals the big-endian word sum");
}

/* ---- frames ------------------------------------------------------------------------------- */

static const uint8_t mac_a[6] = {2, 0, 1, 2, 3, 4},
			mac_b[6] = {2, 0, 5, 6, 7, 8};

static uint32_t
frame(uint8_t *buf, int family, int protocol, uint32_t len, bool random, uint16_t mss)
{
	static const uint8_t v4a[4] = {198, 18, 1, 2},
				v4b[4] = {198, 19, 3, 4};
	static const uint8_t v6a[16] = {0x20, 0x01, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9},
				v6b[16] = {0x20, 0x01, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7};
	NtgPktHdr	h = {0};
	uint32_t	hl;

	h.family = family;
	h.protocol = protocol;
	h.src = family == 4 ? v4a : v6a;
	h.dst = family == 4 ? v4b : v6b;
	h.src_mac = mac_a;
	h.dst_mac = mac_b;
	h.sport = 50000;
	h.dport = 443;
	h.ipid = 0x1234;
	h.seq = 0xfffffff0U;
	h.ack = 77;
	h.flags = NTG_TCP_ACK | NTG_TCP_PSH;
	h.window = 2048;
	h.mss = mss;
	h.wscale = 7;
	h.payload_len = len;
	hl = ntg_pkt_header_len(&h);
	for (uint32_t i = 0; i < len; i++)
		buf[hl + i] = random ? (uint8_t) (i * 131 + 7) : 0;
	ntg_pkt_build(buf, &h, !random);
	return hl + len;
}

static void
test_frames(void)
{
	static uint8_t buf[70000];
	const int	families[2] = {4, 6};
	const int	protos[2] = {6, 17};
	const uint32_t lens[4] = {0, 1, 1461, 65495};

	for (int fi = 0; fi < 2; fi++)
		for (int pi = 0; pi < 2; pi++)
			for (int li = 0; li < 4; li++)
				for (int r = 0; r < 2; r++)
				{
					uint32_t	n = frame(buf, families[fi], protos[pi], lens[li], r, 0);
					NtgPacket	p;
					int			d = ntg_decode_packet(NTG_LT_ETHERNET, buf, n, n, &p);
					char		what[96];

					snprintf(what, sizeof(what), "IPv%d %s payload %u %s", families[fi],
							 protos[pi] == 6 ? "TCP" : "UDP", lens[li], r ? "random" : "zero");
					ok(d == -1 && p.family == families[fi] && p.protocol == protos[pi] &&
					   p.sport == 50000 && p.dport == 443 && p.pl == (int32_t) lens[li],
					   "%s: the decoder reads family, protocol, ports and PL back", what);
					if (families[fi] == 4)
						is_int(be_fold(be_sum(buf + 14, 20, 0)), 0xffff, "%s: IPv4 header checksum verifies", what);
					is_int(l4_verify(buf, n), 0xffff, "%s: transport checksum verifies", what);
				}
	{
		uint32_t	n = frame(buf, 4, 6, 0, false, 1460);
		NtgPacket	p;

		ok(ntg_decode_packet(NTG_LT_ETHERNET, buf, n, n, &p) == -1 && p.pl == 0 &&
		   buf[14 + 20 + 12] >> 4 == 7 && buf[14 + 20 + 20] == 2 && buf[14 + 20 + 22] == 0x05 &&
		   buf[14 + 20 + 23] == 0xb4 && buf[14 + 20 + 25] == 3 && buf[14 + 20 + 27] == 7,
		   "SYN options: data offset 7 words, MSS 1460, window scale 7");
		is_int(l4_verify(buf, n), 0xffff, "SYN options are in the checksum");
	}
	/* a broken checksum must be seen by the verifier the tests rely on */
	{
		uint32_t	n = frame(buf, 4, 6, 100, true, 0);

		buf[n - 1] ^= 1;
		ok(l4_verify(buf, n) != 0xffff, "the verifier notices one flipped payload bit");
	}
}

/* ---- conversations ------------------------------------------------------------------------ */

/* Replay a conversation and check every sequence and acknowledgement number. */
static void
check_conversation(int protocol, const int32_t *pl, int npl, uint32_t mss, const char *what)
{
	NtgConv		c;
	NtgPktSpec	p;
	uint32_t	next[2] = {1000, 5000};
	uint64_t	sent[2] = {0, 0},
				want[2] = {0, 0};
	int			npk = 0,
				bad = 0,
				unacked[2] = {0, 0},
				maxunacked = 0,
				data = 0,
				fins = 0;
	uint32_t	maxseg = 0;

	for (int i = 0; i < npl; i++)
		want[pl[i] > 0 ? 0 : 1] += pl[i] > 0 ? pl[i] : -(int64_t) pl[i];
	ntg_conv_init(&c, protocol, pl, npl, mss, 1000, 5000);
	while (ntg_conv_next(&c, &p))
	{
		int			d = p.dir;

		npk++;
		sent[d] += p.len;
		if (protocol == 17)
			continue;
		if (npk == 1)
			bad += !(d == 0 && p.flags == NTG_TCP_SYN && p.seq == 1000 && p.syn);
		else if (npk == 2)
			bad += !(d == 1 && p.flags == (NTG_TCP_SYN | NTG_TCP_ACK) && p.seq == 5000 && p.ack == 1001 && p.syn);
		else
			bad += !(p.seq == next[d] && p.ack == next[1 - d] && (p.flags & NTG_TCP_ACK) && !p.syn);
		next[d] = p.seq + p.len + ((p.flags & (NTG_TCP_SYN | NTG_TCP_FIN)) ? 1 : 0);
		if (p.len)
		{
			data++;
			maxseg = p.len > maxseg ? p.len : maxseg;
			unacked[d]++;
			maxunacked = unacked[d] > maxunacked ? unacked[d] : maxunacked;
		}
		unacked[1 - d] = 0;
		fins += (p.flags & NTG_TCP_FIN) != 0;
	}
	ok(sent[0] == want[0] && sent[1] == want[1], "%s: payload bytes per direction as the values say", what);
	if (protocol == 6)
	{
		is_int(bad, 0, "%s: every sequence and acknowledgement number follows", what);
		ok(maxseg <= mss && maxunacked <= 2, "%s: segments <= MSS (%u), at most 2 unacknowledged (%d)",
		   what, maxseg, maxunacked);
		is_int(fins, 2, "%s: both sides send a FIN", what);
	}
	is_int(ntg_conv_count(protocol, pl, npl, mss), npk, "%s: ntg_conv_count agrees", what);
}

static void
test_conversations(void)
{
	const int32_t a[] = {100, -1500, 20, -3000};
	const int32_t b[] = {5000, 5000, 5000, -100};
	const int32_t big[] = {65495, -65495, 2000000};
	NtgConv		c;
	NtgPktSpec	p;
	int			n = 0,
				psh = 0;

	check_conversation(6, a, 4, 65495, "request/response");
	check_conversation(6, b, 4, 1460, "bulk upload, MSS 1460");
	check_conversation(6, big, 3, 65495, "values at and far above the largest segment");
	check_conversation(6, NULL, 0, 1460, "no payload");
	check_conversation(17, a, 4, 1460, "UDP");
	is_int(ntg_conv_count(6, a, 4, 65495), 3 + 4 + 3, "TCP: handshake, one segment per value, close");
	is_int(ntg_conv_count(17, NULL, 0, 1460), 1, "UDP without values: one empty datagram");
	is_int(ntg_conv_count(17, a + 1, 3, 1460), 4, "UDP whose first value is the server's: an empty datagram from the client first");
	is_int(ntg_conv_count(17, a, 4, 1460), 4, "UDP whose first value is the client's: one datagram per value");
	/* 5000 bytes at MSS 1460: 1460, 1460, 1460, 620 with PSH on the last only */
	ntg_conv_init(&c, 6, b, 1, 1460, 0, 0);
	while (ntg_conv_next(&c, &p))
		if (p.len)
		{
			n++;
			psh += (p.flags & NTG_TCP_PSH) != 0;
			if (n == 4)
				is_int(p.len, 620, "the last piece of 5000 bytes is 620");
		}
	ok(n == 4 && psh == 1, "5000 bytes at MSS 1460: four segments, PSH on the last (%d, %d)", n, psh);
}

/* ---- the whole writer ------------------------------------------------------------------------ */

typedef struct Got
{
	int			n;
	char		label[64][32];
	int32_t		pl[64][12];
	int			npl[64];
	int			proto[64];
	int			srv_port[64];
	uint8_t		cli[64][16];
	uint8_t		srv[64][16];
	int			family[64];
	int			labelled;
} Got;

static int
collect(const NtgBiflow *b, void *arg)
{
	Got		   *g = arg;
	int			i = g->n++;

	if (i >= 64)
		return 0;
	snprintf(g->label[i], 32, "%s", b->label ? b->label : "(null)");
	g->labelled += b->label != NULL;
	g->npl[i] = b->npl < 12 ? b->npl : 12;
	memcpy(g->pl[i], b->pl, sizeof(int32_t) * g->npl[i]);
	g->proto[i] = b->protocol;
	g->srv_port[i] = b->srv_port;
	memcpy(g->cli[i], b->cli_addr, 16);
	memcpy(g->srv[i], b->srv_addr, 16);
	g->family[i] = b->family;
	return 0;
}

static int
read_back(const uint8_t *data, size_t len, Got *g, uint64_t *packets)
{
	NtgCaptureReader *r;
	NtgCaptureOptions o;
	NtgCaptureStats st;
	NtgError	err = {0};
	int			rc;

	memset(g, 0, sizeof(*g));
	ntg_capture_default_options(&o);
	o.n = 12;
	o.progress_seconds = 0;
	if ((rc = ntg_capture_open_memory(data, len, &r, &err)) == NTG_OK)
		rc = ntg_capture_run(r, &o, collect, g, &st, &err);
	ntg_capture_close(r);
	if (rc != NTG_OK)
		printf("# read back: %s\n", err.msg);
	if (packets)
		*packets = st.packets;
	return rc == NTG_OK && !st.damaged ? 0 : -1;
}

/* Timestamps of the Enhanced Packet Blocks never decrease. */
static bool
timestamps_monotone(const uint8_t *d, size_t len, uint64_t *count)
{
	size_t		off = 0;
	uint64_t	last = 0;

	*count = 0;
	while (off + 12 <= len)
	{
		uint32_t	type,
					blen,
					hi,
					lo;

		memcpy(&type, d + off, 4);
		memcpy(&blen, d + off + 4, 4);
		if (type == 6)
		{
			uint64_t	ts;

			memcpy(&hi, d + off + 12, 4);
			memcpy(&lo, d + off + 16, 4);
			ts = ((uint64_t) hi << 32) | lo;
			if (ts < last)
				return false;
			last = ts;
			(*count)++;
		}
		off += blen;
	}
	return off == len;
}

static const char *const labels[6] = {"web", "dns", "bulk", "empty", "big", "ünïcode label"};
static const int32_t vals[6][6] = {
	{100, -1500, 20, -3000}, {-40, 120, -7}, {5000, 5000, 5000, -100}, {0}, {65495, -65495, 30000},
	{1, -1, 2, -2, 3, -3}
};
static const int nvals[6] = {4, 3, 4, 0, 3, 6};

static NtgPcapWriter *
write_rows(NtgPcapOutOptions *o, int rows, NtgError *err)
{
	NtgPcapWriter *w = ntg_pcapout_create(o, err);

	if (!w)
		return NULL;
	if (ntg_pcapout_class(w, "dns", 3, 17, 53, err) != NTG_OK)
		return w;
	for (int i = 0; i < rows; i++)
	{
		NtgPcapOutFlow f = {0};

		f.label = labels[i % 6];
		f.label_len = strlen(labels[i % 6]);
		f.pl = vals[i % 6];
		f.npl = nvals[i % 6];
		if (ntg_pcapout_add(w, &f, err) != NTG_OK)
			return w;
	}
	if (ntg_pcapout_finish(w, err) != NTG_OK)
		return w;
	err->code = NTG_OK;
	return w;
}

static void
test_round_trip(void)
{
	NtgPcapOutOptions o;
	NtgPcapWriter *w;
	NtgError	err = {0};
	Got			g;
	uint8_t    *d;
	size_t		len;
	uint64_t	count,
				packets;
	int			same = 1;

	ntg_pcapout_default_options(&o);
	o.progress_seconds = 0;
	o.packet_gap_us = 5000;		/* biflows overlap: packets interleave */
	o.flow_gap_us = 1000;
	w = write_rows(&o, 36, &err);
	ok(w && err.code == NTG_OK, "36 biflows written (%s)", err.msg);
	d = ntg_pcapout_buffer(w, &len);
	ok(read_back(d, len, &g, &packets) == 0, "the capture reader reads it without damage");
	is_int(g.n, 36, "36 biflows read back");
	is_int(g.labelled, 36, "every biflow has its label back");
	for (int i = 0; i < 36 && i < g.n; i++)
	{
		int			k = -1;

		/* rows come out as biflows finish; find the row by label and values */
		for (int j = 0; j < 6; j++)
			if (strcmp(g.label[i], labels[j]) == 0)
				k = j;
		if (k < 0 || g.npl[i] != nvals[k] || memcmp(g.pl[i], vals[k], sizeof(int32_t) * nvals[k]) != 0)
			same = 0;
		if (k == 1 && !(g.proto[i] == 17 && g.srv_port[i] == 53))
			same = 0;
		if (k != 1 && g.proto[i] != 6)
			same = 0;
		if (!(g.family[i] == 4 && g.cli[i][0] == 198 && g.cli[i][1] == 18 && g.srv[i][0] == 198 && g.srv[i][1] == 19))
			same = 0;
	}
	ok(same, "labels, values, class protocol and port, documented address ranges: all as written");
	ok(timestamps_monotone(d, len, &count), "block lengths chain and timestamps never decrease");
	is_int(count, packets, "as many packet blocks as the reader counted");
	{
		NtgPcapOutStats st;

		ntg_pcapout_stats(w, &st);
		ok(st.biflows == 36 && st.packets == packets && st.bytes == len, "stats: biflows, packets, bytes");
	}
	/* the same arguments give the same bytes; another seed other bytes */
	{
		NtgPcapWriter *w2 = write_rows(&o, 36, &err);
		size_t		len2;
		uint8_t    *d2 = ntg_pcapout_buffer(w2, &len2);

		ok(len2 == len && memcmp(d, d2, len) == 0, "the same seed writes the same bytes");
		ntg_pcapout_destroy(w2);
		o.seed = 99;
		w2 = write_rows(&o, 36, &err);
		d2 = ntg_pcapout_buffer(w2, &len2);
		ok(len2 != len || memcmp(d, d2, len) != 0, "another seed writes other bytes");
		ntg_pcapout_destroy(w2);
		o.seed = 0;
	}
	ntg_pcapout_destroy(w);
}

/* ---- flush path --------------------------------------------------------------------------- */

typedef struct Sink
{
	uint8_t    *d;
	size_t		n;
	int			calls;
} Sink;

static int
sink(const uint8_t *data, size_t len, void *arg, NtgError *err)
{
	Sink	   *s = arg;

	s->d = realloc(s->d, s->n + len);
	memcpy(s->d + s->n, data, len);
	s->n += len;
	s->calls++;
	return NTG_OK;
}

static void
test_flush(void)
{
	NtgPcapOutOptions o;
	NtgPcapWriter *w,
			   *w2;
	NtgError	err = {0};
	Sink		s = {0};
	size_t		len;
	uint8_t    *d;

	ntg_pcapout_default_options(&o);
	o.progress_seconds = 0;
	o.payload = NTG_FILL_RANDOM;
	w = write_rows(&o, 600, &err);
	d = ntg_pcapout_buffer(w, &len);
	o.flush = sink;
	o.flush_arg = &s;
	w2 = write_rows(&o, 600, &err);
	ok(err.code == NTG_OK && s.calls > 1, "flush path: %d pieces", s.calls);
	ok(s.n == len && memcmp(s.d, d, len) == 0, "flush path: the pieces are the same capture (%zu bytes)", s.n);
	{
		Got			g;

		ok(read_back(s.d, s.n, &g, NULL) == 0 && g.n == 600, "random payload capture reads back: %d biflows", g.n);
	}
	ntg_pcapout_destroy(w);
	ntg_pcapout_destroy(w2);
	free(s.d);
}

/* ---- many biflows at once: client endpoints stay apart ------------------------------------ */

static int
count_flows(const NtgBiflow *b, void *arg)
{
	(*(int *) arg)++;
	return 0;
}

static void
test_many_simultaneous(void)
{
	NtgPcapOutOptions o;
	NtgPcapWriter *w;
	NtgError	err = {0};
	const int32_t v[2] = {10, -10};
	int			n = 0;
	size_t		len;
	uint8_t    *d;
	NtgCaptureReader *r;
	NtgCaptureOptions co;
	NtgCaptureStats st;

	ntg_pcapout_default_options(&o);
	o.progress_seconds = 0;
	o.flow_gap_us = 0;			/* all 20000 start in the same microsecond */
	w = ntg_pcapout_create(&o, &err);
	for (int i = 0; i < 20000; i++)
	{
		NtgPcapOutFlow f = {0};

		f.label = "same";
		f.label_len = 4;
		f.pl = v;
		f.npl = 2;
		if (ntg_pcapout_add(w, &f, &err) != NTG_OK)
			break;
	}
	ok(ntg_pcapout_finish(w, &err) == NTG_OK, "20000 simultaneous biflows written");
	d = ntg_pcapout_buffer(w, &len);
	ntg_capture_default_options(&co);
	co.progress_seconds = 0;
	ntg_capture_open_memory(d, len, &r, &err);
	ntg_capture_run(r, &co, count_flows, &n, &st, &err);
	ntg_capture_close(r);
	is_int(n, 20000, "the reader finds 20000 biflows: drawn client endpoints never collide");
	ntg_pcapout_destroy(w);
}

/* ---- errors and limits -------------------------------------------------------------------- */

static int
add_one(NtgPcapOutOptions *o, NtgPcapOutFlow *f, NtgError *err, NtgPcapOutLimit *lim)
{
	NtgPcapWriter *w = ntg_pcapout_create(o, err);
	int			rc;

	if (!w)
		return err->code;
	rc = ntg_pcapout_add(w, f, err);
	if (rc == NTG_OK)
		rc = ntg_pcapout_finish(w, err);
	if (lim)
		*lim = ntg_pcapout_limit_hit(w);
	ntg_pcapout_destroy(w);
	return rc;
}

static void
test_errors(void)
{
	NtgPcapOutOptions o;
	NtgError	err = {0};
	const int32_t zero[3] = {10, 0, -5};
	const int32_t udp_big[1] = {-65508};
	const int32_t ok_v[1] = {10};
	NtgPcapOutFlow f;
	NtgPcapOutLimit lim;
	char	   *longlabel = malloc(NTG_PCAPOUT_MAX_LABEL + 2);

	ntg_pcapout_default_options(&o);
	o.progress_seconds = 0;

	memset(&f, 0, sizeof(f));
	f.pl = zero;
	f.npl = 3;
	ok(add_one(&o, &f, &err, NULL) == NTG_ERR_INVALID_ARG && strstr(err.msg, "payload length 0 at position 2"),
	   "a zero value is refused: %s", err.msg);
	f.pl = udp_big;
	f.npl = 1;
	f.protocol = 17;
	ok(add_one(&o, &f, &err, NULL) == NTG_ERR_INVALID_ARG && strstr(err.msg, "larger than one datagram"),
	   "a UDP value beyond one IPv4 datagram is refused: %s", err.msg);
	f.cli_family = 6;
	ok(add_one(&o, &f, &err, NULL) == NTG_OK, "the same value fits an IPv6 datagram");
	f.srv_family = 4;
	ok(add_one(&o, &f, &err, NULL) == NTG_ERR_INVALID_ARG && strstr(err.msg, "different address families"),
	   "client IPv6 and server IPv4 are refused: %s", err.msg);
	memset(&f, 0, sizeof(f));
	f.pl = ok_v;
	f.npl = 1;
	f.protocol = 1;
	ok(add_one(&o, &f, &err, NULL) == NTG_ERR_INVALID_ARG && strstr(err.msg, "protocol 1"), "protocol 1 is refused");
	f.protocol = 0;
	memset(longlabel, 'x', NTG_PCAPOUT_MAX_LABEL + 1);
	f.label = longlabel;
	f.label_len = NTG_PCAPOUT_MAX_LABEL + 1;
	ok(add_one(&o, &f, &err, NULL) == NTG_ERR_INVALID_ARG && strstr(err.msg, "too long"),
	   "a label beyond one pcapng comment is refused");
	f.label_len = NTG_PCAPOUT_MAX_LABEL;
	ok(add_one(&o, &f, &err, NULL) == NTG_OK, "a label of exactly the maximum is written");
	f.label = "x";
	f.label_len = 1;

	o.mss = 0;
	ok(ntg_pcapout_create(&o, &err) == NULL && strstr(err.msg, "mss"), "mss 0 is refused");
	o.mss = 1460;
	o.protocol = 8;
	ok(ntg_pcapout_create(&o, &err) == NULL && strstr(err.msg, "protocol 8"), "default protocol 8 is refused");
	o.protocol = 6;

	/* start times must not go back */
	{
		NtgPcapWriter *w = ntg_pcapout_create(&o, &err);

		f.start_given = true;
		f.start_us = 2000000;
		ntg_pcapout_add(w, &f, &err);
		f.start_us = 1999999;
		ok(ntg_pcapout_add(w, &f, &err) == NTG_ERR_INVALID_ARG && strstr(err.msg, "earlier"),
		   "a start time earlier than the previous one is refused: %s", err.msg);
		f.start_us = 2000000;
		ok(ntg_pcapout_add(w, &f, &err) == NTG_OK, "an equal start time is fine");
		ntg_pcapout_destroy(w);
		f.start_given = false;
	}

	/* the byte limit */
	{
		const int32_t huge[1] = {2000000000};

		o.max_bytes = 1 << 20;
		f.pl = huge;
		ok(add_one(&o, &f, &err, &lim) != NTG_OK && lim == NTG_PCAPOUT_LIMIT_BYTES,
		   "a capture beyond max_bytes stops with the byte limit: %s", err.msg);
		o.max_bytes = 0;
		f.pl = ok_v;
	}
	/* the memory limit of biflows in progress */
	{
		NtgPcapWriter *w;
		int			rc = NTG_OK,
					i;

		o.max_state_bytes = 64 * 1024;
		o.flow_gap_us = 0;
		w = ntg_pcapout_create(&o, &err);
		for (i = 0; i < 100000 && rc == NTG_OK; i++)
			rc = ntg_pcapout_add(w, &f, &err);
		ok(rc == NTG_ERR_NOMEM && ntg_pcapout_limit_hit(w) == NTG_PCAPOUT_LIMIT_STATE && i < 2000,
		   "simultaneous biflows beyond max_state_bytes stop with the memory limit after %d: %s", i, err.msg);
		ntg_pcapout_destroy(w);
		o.flow_gap_us = 1000;
		w = ntg_pcapout_create(&o, &err);
		for (i = 0, rc = NTG_OK; i < 10000 && rc == NTG_OK; i++)
			rc = ntg_pcapout_add(w, &f, &err);
		ok(rc == NTG_OK, "the same limit holds 10000 biflows that do not overlap");
		ntg_pcapout_destroy(w);
	}
	free(longlabel);
}

int
main(void)
{
	test_checksum();
	test_frames();
	test_conversations();
	test_round_trip();
	test_flush();
	test_many_simultaneous();
	test_errors();
	return done_testing();
}
