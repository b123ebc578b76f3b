/*
 * pcapout_int.h — the parts of the capture writer: frame building with checksums (pktbuild.c),
 * the per-biflow TCP/UDP conversation (tcpconv.c) and pcapng block encoding (pcapng_write.c).
 * pcapout.c drives them.
 */
#ifndef NTG_PCAPOUT_INT_H
#define NTG_PCAPOUT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- pktbuild.c: Ethernet + IPv4/IPv6 + TCP/UDP ------------------------------------------- */

#define NTG_TCP_FIN 0x01
#define NTG_TCP_SYN 0x02
#define NTG_TCP_RST 0x04
#define NTG_TCP_PSH 0x08
#define NTG_TCP_ACK 0x10

/* TCP options of a SYN: MSS (4 bytes), NOP, window scale (3 bytes). */
#define NTG_TCP_SYN_OPTLEN 8

typedef struct NtgPktHdr
{
	uint8_t		family;			/* 4 or 6 */
	uint8_t		protocol;		/* 6 or 17 */
	const uint8_t *src;			/* 4 or 16 bytes, network order */
	const uint8_t *dst;
	const uint8_t *src_mac;		/* 6 bytes */
	const uint8_t *dst_mac;
	uint16_t	sport;
	uint16_t	dport;
	uint16_t	ipid;			/* IPv4 identification */
	uint32_t	seq;			/* TCP only, from here */
	uint32_t	ack;
	uint8_t		flags;
	uint16_t	window;
	uint16_t	mss;			/* > 0: the SYN options (MSS, NOP, window scale) */
	uint8_t		wscale;
	uint32_t	payload_len;
} NtgPktHdr;

/* Bytes of the headers (Ethernet, IP, TCP/UDP) before the payload. */
uint32_t	ntg_pkt_header_len(const NtgPktHdr *h);

/*
 * Write the headers at frame[0 .. header_len) and the checksums.  The payload must already be at
 * frame + header_len (payload_len bytes); payload_zero says it is all zero bytes, which adds
 * nothing to the checksum and so is not read.
 */
void		ntg_pkt_build(uint8_t *frame, const NtgPktHdr *h, bool payload_zero);

/* RFC 1071 one's-complement sum of n bytes (n even unless this is the last piece), folded later. */
uint64_t	ntg_csum_add(uint64_t sum, const uint8_t *p, size_t n);
/* Fold a sum to 16 bits and complement it: the checksum as stored (host order of the memory). */
uint16_t	ntg_csum_fold(uint64_t sum);

/* ---- tcpconv.c: what packet comes next in a biflow ---------------------------------------- */

typedef struct NtgPktSpec
{
	int			dir;			/* 0 client -> server, 1 server -> client */
	uint8_t		flags;			/* TCP flags; 0 for UDP */
	uint32_t	seq;
	uint32_t	ack;
	uint32_t	len;			/* payload bytes */
	bool		syn;			/* carries the SYN options */
} NtgPktSpec;

typedef struct NtgConv
{
	const int32_t *pl;
	int			npl;
	int			idx;			/* next value */
	uint32_t	left;			/* bytes of pl[idx] not yet sent (TCP) */
	uint32_t	mss;
	uint8_t		protocol;
	uint8_t		stage;
	int8_t		ack_due;		/* side that owes a pure ACK now, or -1 */
	uint8_t		unacked[2];		/* data segments of each side not yet acknowledged */
	uint32_t	seq[2];			/* next sequence number of each side */
} NtgConv;

void		ntg_conv_init(NtgConv *c, int protocol, const int32_t *pl, int npl, uint32_t mss,
						  uint32_t isn_client, uint32_t isn_server);
/* The next packet; false when the conversation is over. */
bool		ntg_conv_next(NtgConv *c, NtgPktSpec *p);
/* Packets the conversation of these values has in all (for tests and sizing). */
uint64_t	ntg_conv_count(int protocol, const int32_t *pl, int npl, uint32_t mss);

/* ---- pcapng_write.c: blocks --------------------------------------------------------------- */

#define NTG_LINKTYPE_ETHERNET 1
#define NTG_PCAPNG_SNAPLEN 262144

/* Section header (byte-order magic, version 1.0, unknown section length, shb_userappl) and one
 * Ethernet interface with microsecond timestamps.  out == NULL: only the size. */
size_t		ntg_pcapng_headers(uint8_t *out, const char *userappl);

/* Size of an Enhanced Packet Block for caplen bytes and a comment of comment_len bytes (0: none). */
size_t		ntg_pcapng_epb_size(uint32_t caplen, size_t comment_len);

/* Write the block's head at out and return where the packet data goes (caplen bytes). */
uint8_t    *ntg_pcapng_epb_head(uint8_t *out, uint32_t total, uint64_t ts_us, uint32_t caplen);

/* After the packet data: padding, the comment (prefix + text, may be NULL) and the trailer. */
void		ntg_pcapng_epb_tail(uint8_t *out, uint32_t total, uint32_t caplen, const char *prefix,
								size_t prefix_len, const char *text, size_t text_len);

#endif							/* NTG_PCAPOUT_INT_H */
