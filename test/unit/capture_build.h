/*
 * capture_build.h — build packets and whole captures in memory for the capture unit tests.
 */
#ifndef NTG_CAPTURE_BUILD_H
#define NTG_CAPTURE_BUILD_H

#include <stdint.h>
#include <string.h>

typedef struct Buf
{
	uint8_t		b[70000];
	uint32_t	n;
} Buf;

static inline void
put(Buf *b, const void *p, uint32_t n)
{
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static inline void
put8(Buf *b, uint8_t v)
{
	b->b[b->n++] = v;
}

static inline void
put16(Buf *b, uint16_t v)
{
	put8(b, v >> 8);
	put8(b, v & 0xff);
}

static inline void
put32(Buf *b, uint32_t v)
{
	put16(b, v >> 16);
	put16(b, v & 0xffff);
}

static inline void
put32le(Buf *b, uint32_t v)
{
	put8(b, v & 0xff);
	put8(b, (v >> 8) & 0xff);
	put8(b, (v >> 16) & 0xff);
	put8(b, v >> 24);
}

static inline void
put16le(Buf *b, uint16_t v)
{
	put8(b, v & 0xff);
	put8(b, v >> 8);
}

static inline void
zeros(Buf *b, uint32_t n)
{
	memset(b->b + b->n, 0, n);
	b->n += n;
}

/* Ethernet header with the given EtherType. */
static inline void
eth(Buf *b, uint16_t type)
{
	static const uint8_t macs[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};

	put(b, macs, 12);
	put16(b, type);
}

/* IPv4 header (20 bytes) for a payload of l4len bytes, with an identification. */
static inline void
ipv4_id(Buf *b, uint8_t proto, uint32_t src, uint32_t dst, uint32_t l4len, uint16_t id,
		uint16_t frag)
{
	put8(b, 0x45);
	put8(b, 0);
	put16(b, (uint16_t) (20 + l4len));
	put16(b, id);
	put16(b, frag);
	put8(b, 64);
	put8(b, proto);
	put16(b, 0);
	put32(b, src);
	put32(b, dst);
}

/* IPv4 header (20 bytes) for a payload of l4len bytes. */
static inline void
ipv4(Buf *b, uint8_t proto, uint32_t src, uint32_t dst, uint32_t l4len, uint16_t frag)
{
	ipv4_id(b, proto, src, dst, l4len, 0x1234, frag);
}

/* IPv4 fragment field: offset in bytes (a multiple of 8) and the more-fragments flag. */
static inline uint16_t
frag4(uint32_t offset, int more)
{
	return (uint16_t) ((offset / 8) | (more ? 0x2000 : 0));
}

/* IPv6 fragment header: next header, offset in bytes, more flag, identification. */
static inline void
frag6(Buf *b, uint8_t nh, uint32_t offset, int more, uint32_t id)
{
	put8(b, nh);
	put8(b, 0);
	put16(b, (uint16_t) (offset | (more ? 1 : 0)));
	put32(b, id);
}

static inline void
ipv6(Buf *b, uint8_t nh, uint8_t srclast, uint8_t dstlast, uint32_t plen)
{
	put32(b, 0x60000000);
	put16(b, (uint16_t) plen);
	put8(b, nh);
	put8(b, 64);
	put32(b, 0x20010db8);
	zeros(b, 11);
	put8(b, srclast);
	put32(b, 0x20010db8);
	zeros(b, 11);
	put8(b, dstlast);
}

static inline void
tcp(Buf *b, uint16_t sport, uint16_t dport, uint8_t flags)
{
	put16(b, sport);
	put16(b, dport);
	put32(b, 1);
	put32(b, 0);
	put8(b, 5 << 4);
	put8(b, flags);
	put16(b, 65535);
	put32(b, 0);
}

static inline void
udp(Buf *b, uint16_t sport, uint16_t dport, uint16_t len)
{
	put16(b, sport);
	put16(b, dport);
	put16(b, len);
	put16(b, 0);
}

/* Classic pcap, little-endian, microseconds. */
static inline void
pcap_header(Buf *b, uint32_t linktype)
{
	put32le(b, 0xa1b2c3d4);
	put16le(b, 2);
	put16le(b, 4);
	put32le(b, 0);
	put32le(b, 0);
	put32le(b, 65535);
	put32le(b, linktype);
}

static inline void
pcap_record(Buf *b, uint32_t sec, uint32_t usec, const Buf *pkt, uint32_t wirelen)
{
	put32le(b, sec);
	put32le(b, usec);
	put32le(b, pkt->n);
	put32le(b, wirelen ? wirelen : pkt->n);
	put(b, pkt->b, pkt->n);
}

/* pcapng, little-endian: section header, interface (with if_tsresol), enhanced packet. */
static inline void
pcapng_shb(Buf *b)
{
	put32le(b, 0x0A0D0D0A);
	put32le(b, 28);
	put32le(b, 0x1A2B3C4D);
	put16le(b, 1);
	put16le(b, 0);
	put32le(b, 0xffffffff);
	put32le(b, 0xffffffff);
	put32le(b, 28);
}

static inline void
pcapng_idb(Buf *b, uint16_t linktype, uint8_t tsresol)
{
	put32le(b, 1);
	put32le(b, 32);
	put16le(b, linktype);
	put16le(b, 0);
	put32le(b, 0);
	put16le(b, 9);				/* if_tsresol */
	put16le(b, 1);
	put8(b, tsresol);
	zeros(b, 3);
	put32le(b, 0);				/* opt_endofopt */
	put32le(b, 32);
}

static inline void
pcapng_epb(Buf *b, uint32_t ifid, uint64_t ts, const Buf *pkt)
{
	uint32_t	pad = (4 - pkt->n % 4) % 4;
	uint32_t	len = 32 + pkt->n + pad;

	put32le(b, 6);
	put32le(b, len);
	put32le(b, ifid);
	put32le(b, (uint32_t) (ts >> 32));
	put32le(b, (uint32_t) ts);
	put32le(b, pkt->n);
	put32le(b, pkt->n);
	put(b, pkt->b, pkt->n);
	zeros(b, pad);
	put32le(b, len);
}

#endif
