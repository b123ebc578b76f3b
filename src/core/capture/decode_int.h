/*
 * decode_int.h — what decode.c (link layers, IP, TCP/UDP) and tunnel.c (VXLAN, GTP-U, GRE,
 * IP-in-IP) share: big-endian reads and the decoders a tunnel's inner packet goes back through.
 * All of them take the bytes captured (cap) and the original length left (wire), and return
 * NTG_DEC_OK or an NtgSkipReason, as ntg_decode_packet_ex() does.
 */
#ifndef NTG_CAPTURE_DECODE_INT_H
#define NTG_CAPTURE_DECODE_INT_H

#include "capture/decode.h"

#define DEC_OK (-1)

static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t) ((p[0] << 8) | p[1]);
}

static inline uint32_t
rd32(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

/* decode.c */
int			ntg_decode_ip_any(const uint8_t *p, uint32_t cap, uint32_t wire, NtgPacket *out);
int			ntg_decode_ip_checked(const uint8_t *p, uint32_t cap, uint32_t wire, int want_version,
								  NtgPacket *out);
int			ntg_decode_ethernet(const uint8_t *p, uint32_t cap, uint32_t wire, int depth,
								NtgPacket *out);
int			ntg_decode_ethertype(uint16_t type, const uint8_t *p, uint32_t cap, uint32_t wire,
								 int depth, NtgPacket *out);
int			ntg_decode_ppp(const uint8_t *p, uint32_t cap, uint32_t wire, NtgPacket *out);
int			ntg_ppp_protocol(uint16_t proto);	/* 4, 6, or 0 for not IP */

/*
 * tunnel.c.  Called for a UDP packet once its header is decoded (out->payload points at the UDP
 * payload), and for an IP packet whose protocol is neither TCP nor UDP (p at the IP payload).
 * Without NTG_DECODE_TUNNELS, beyond NTG_TUNNEL_MAX_DEPTH, or when the bytes are no tunnel
 * header, they leave the packet as it is: DEC_OK for UDP, NTG_SKIP_NON_TCP_UDP for IP.
 */
int			ntg_decode_udp_tunnel(NtgPacket *out);
int			ntg_decode_ip_tunnel(uint8_t protocol, const uint8_t *p, uint32_t cap, uint32_t wire,
								 NtgPacket *out);

#endif							/* NTG_CAPTURE_DECODE_INT_H */
