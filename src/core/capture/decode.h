/*
 * decode.h — link-layer, IP and TCP/UDP header decoding of one captured packet.
 *
 * Every read is bounded by the captured length; lengths that define PL come from the header
 * fields (IPv4 total length, IPv6 payload length or jumbo option, TCP data offset, UDP length),
 * never from the captured length.
 */
#ifndef NTG_CAPTURE_DECODE_H
#define NTG_CAPTURE_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "capture/capture.h"

/* Link types we decode (LINKTYPE_/DLT_ values; 12 and 14 are DLT_RAW on different systems). */
#define NTG_LT_NULL			0
#define NTG_LT_ETHERNET		1
#define NTG_LT_PPP			9
#define NTG_LT_RAW12		12
#define NTG_LT_RAW14		14
#define NTG_LT_PPP_SERIAL	50
#define NTG_LT_RAW			101
#define NTG_LT_C_HDLC		104
#define NTG_LT_LOOP			108
#define NTG_LT_LINUX_SLL	113
#define NTG_LT_IPV4			228
#define NTG_LT_IPV6			229
#define NTG_LT_LINUX_SLL2	276

bool		ntg_linktype_supported(int linktype);

/* Decoding flags. */
#define NTG_DECODE_TUNNELS	1	/* enter VXLAN, GTP-U, GRE and IP-in-IP: report the inner packet */
#define NTG_TUNNEL_MAX_DEPTH 4	/* tunnels inside tunnels entered at most */

/* IP fragmentation of the packet's (innermost) IP header. */
#define NTG_FRAG_NONE		0
#define NTG_FRAG_FIRST		1	/* offset 0, more fragments follow: carries the ports */
#define NTG_FRAG_LATER		2	/* offset > 0: no transport header, no ports */

typedef struct NtgPacket
{
	uint8_t		family;			/* 4 or 6 */
	uint8_t		protocol;		/* 6 or 17 */
	uint8_t		tcp_flags;		/* 0 for UDP */
	uint16_t	sport;
	uint16_t	dport;
	uint8_t		src[16];
	uint8_t		dst[16];
	uint32_t	ip_bytes;		/* IP length from the header */
	int32_t		pl;				/* transport payload length from the headers (>= 0) */
	const uint8_t *payload;		/* captured payload bytes (may be fewer than pl) */
	uint32_t	payload_caplen;
	uint8_t		flags;			/* NTG_DECODE_* (input, set by the decoder's entry points) */
	uint8_t		tunnels;		/* tunnel headers entered */
	uint8_t		frag;			/* NTG_FRAG_* */
	bool		frag_more;		/* more fragments follow this one */
	uint32_t	frag_id;		/* IPv4 identification or IPv6 fragment identification */
	uint32_t	frag_offset;	/* offset of this fragment in the datagram, bytes */
	uint32_t	frag_len;		/* fragmentable bytes this fragment carries (from the IP length) */
	/* the biflow table's key of the packet, set by ntg_flowtab_prefetch() (flowtab.c) */
	uint64_t	flow_hash;		/* 0 = not computed */
	bool		flow_from_a;
	uint8_t		flow_key[40];
} NtgPacket;

/*
 * Decode one packet.  caplen = bytes captured, wirelen = original length (used only where the IP
 * length field is 0 because of segmentation offload).  Returns -1 on success (out filled), or the
 * NtgSkipReason that applies.  A non-first IP fragment returns NTG_SKIP_FRAGMENT with family,
 * protocol, addresses, ip_bytes and the frag_* fields filled, so that it can be matched with its
 * datagram's first fragment (fragtab.h).  flags: NTG_DECODE_*.
 */
int			ntg_decode_packet_ex(int linktype, const uint8_t *data, uint32_t caplen,
								 uint32_t wirelen, int flags, NtgPacket *out);

/* ntg_decode_packet_ex() without flags. */
int			ntg_decode_packet(int linktype, const uint8_t *data, uint32_t caplen, uint32_t wirelen,
							  NtgPacket *out);

/* Decode an IP packet (version from its first nibble); same return convention. */
int			ntg_decode_ip(const uint8_t *p, uint32_t caplen, uint32_t wirelen, NtgPacket *out);

/* TLS ClientHello server_name from the start of a TCP payload: length of the name copied into
 * out (NUL-terminated, printable ASCII only), or 0 when there is none.  out has outsize bytes. */
int			ntg_tls_sni(const uint8_t *p, uint32_t len, char *out, int outsize);

#endif							/* NTG_CAPTURE_DECODE_H */
