/*
 * pktbuild.c — one Ethernet frame: Ethernet II, IPv4 (no options, DF, TTL 64) or IPv6 (hop limit
 * 64, no extension headers), then TCP (options only on SYNs) or UDP, with the IPv4 header checksum
 * and the TCP/UDP checksum over the pseudo-header, header and payload (RFC 1071, 768, 793, 8200),
 * so that tools that verify checksums find them right.
 *
 * Checksums are summed over 32-bit loads in host order and stored in host order: the one's
 * complement sum does not depend on byte order (RFC 1071 section 2), so this gives the same bytes
 * as summing big-endian 16-bit words, two times fewer additions.
 */
#include "pcapout/pcapout_int.h"

#include <string.h>

static inline void
put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

uint64_t
ntg_csum_add(uint64_t sum, const uint8_t *p, size_t n)
{
	while (n >= 32)
	{
		uint32_t	w[8];

		memcpy(w, p, 32);
		sum += (uint64_t) w[0] + w[1] + w[2] + w[3] + w[4] + w[5] + w[6] + w[7];
		p += 32;
		n -= 32;
	}
	while (n >= 4)
	{
		uint32_t	w;

		memcpy(&w, p, 4);
		sum += w;
		p += 4;
		n -= 4;
	}
	if (n >= 2)
	{
		uint16_t	w;

		memcpy(&w, p, 2);
		sum += w;
		p += 2;
		n -= 2;
	}
	if (n == 1)
	{
		/* a last odd byte is the high byte of a word whose low byte is 0 */
		uint8_t		b[2] = {p[0], 0};
		uint16_t	w;

		memcpy(&w, b, 2);
		sum += w;
	}
	return sum;
}

uint16_t
ntg_csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t) ~sum;
}

/* A 16-bit value in network order as the checksum's host-order word. */
static inline uint64_t
csum_be16(uint16_t v)
{
	uint8_t		b[2];
	uint16_t	w;

	put16(b, v);
	memcpy(&w, b, 2);
	return w;
}

static uint32_t
l4_header_len(const NtgPktHdr *h)
{
	if (h->protocol == 17)
		return 8;
	return 20 + (h->mss ? NTG_TCP_SYN_OPTLEN : 0);
}

uint32_t
ntg_pkt_header_len(const NtgPktHdr *h)
{
	return 14 + (h->family == 4 ? 20 : 40) + l4_header_len(h);
}

static uint8_t *
put_ethernet(uint8_t *p, const NtgPktHdr *h)
{
	memcpy(p, h->dst_mac, 6);
	memcpy(p + 6, h->src_mac, 6);
	put16(p + 12, h->family == 4 ? 0x0800 : 0x86DD);
	return p + 14;
}

static uint8_t *
put_ip(uint8_t *p, const NtgPktHdr *h, uint32_t l4_len)
{
	if (h->family == 4)
	{
		p[0] = 0x45;
		p[1] = 0;
		put16(p + 2, (uint16_t) (20 + l4_len));
		put16(p + 4, h->ipid);
		put16(p + 6, 0x4000);	/* don't fragment */
		p[8] = 64;
		p[9] = h->protocol;
		p[10] = p[11] = 0;
		memcpy(p + 12, h->src, 4);
		memcpy(p + 16, h->dst, 4);
		{
			uint16_t	c = ntg_csum_fold(ntg_csum_add(0, p, 20));

			memcpy(p + 10, &c, 2);
		}
		return p + 20;
	}
	put32(p, 0x60000000U);
	put16(p + 4, (uint16_t) l4_len);
	p[6] = h->protocol;
	p[7] = 64;
	memcpy(p + 8, h->src, 16);
	memcpy(p + 24, h->dst, 16);
	return p + 40;
}

static void
put_tcp(uint8_t *p, const NtgPktHdr *h)
{
	uint32_t	hl = l4_header_len(h);

	put16(p, h->sport);
	put16(p + 2, h->dport);
	put32(p + 4, h->seq);
	put32(p + 8, h->ack);
	p[12] = (uint8_t) ((hl / 4) << 4);
	p[13] = h->flags;
	put16(p + 14, h->window);
	p[16] = p[17] = 0;			/* checksum, below */
	p[18] = p[19] = 0;			/* urgent pointer */
	if (h->mss)
	{
		p[20] = 2;				/* MSS */
		p[21] = 4;
		put16(p + 22, h->mss);
		p[24] = 1;				/* NOP, so that the window scale option ends the header aligned */
		p[25] = 3;				/* window scale */
		p[26] = 3;
		p[27] = h->wscale;
	}
}

static void
put_udp(uint8_t *p, const NtgPktHdr *h)
{
	put16(p, h->sport);
	put16(p + 2, h->dport);
	put16(p + 4, (uint16_t) (8 + h->payload_len));
	p[6] = p[7] = 0;
}

void
ntg_pkt_build(uint8_t *frame, const NtgPktHdr *h, bool payload_zero)
{
	uint32_t	hl = l4_header_len(h),
				l4_len = hl + h->payload_len;
	int			alen = h->family == 4 ? 4 : 16;
	uint8_t    *l4 = put_ip(put_ethernet(frame, h), h, l4_len);
	uint64_t	sum;
	uint16_t	c;

	if (h->protocol == 17)
		put_udp(l4, h);
	else
		put_tcp(l4, h);
	/* pseudo-header: addresses, protocol, transport length (RFC 768/793; RFC 8200 8.1) */
	sum = ntg_csum_add(0, h->src, alen);
	sum = ntg_csum_add(sum, h->dst, alen);
	sum += csum_be16(h->protocol) + csum_be16((uint16_t) (l4_len & 0xffff)) +
		csum_be16((uint16_t) (l4_len >> 16));
	sum = ntg_csum_add(sum, l4, hl);
	if (!payload_zero)
		sum = ntg_csum_add(sum, l4 + hl, h->payload_len);
	c = ntg_csum_fold(sum);
	/* UDP: a computed 0 is sent as 0xffff, 0 meaning "no checksum" (RFC 768) */
	if (h->protocol == 17 && c == 0)
		c = 0xffff;
	memcpy(l4 + (h->protocol == 17 ? 6 : 16), &c, 2);
}
