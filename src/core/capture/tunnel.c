/*
 * tunnel.c — decapsulation (NTG_DECODE_TUNNELS): the packet a tunnel carries is decoded in place
 * of the tunnel's own packet, so that biflows are those of the inner endpoints.
 *
 *   VXLAN (RFC 7348)   UDP to port 4789, the I flag set, then an Ethernet frame
 *   GTP-U (3GPP 29.281) UDP from or to port 2152, version 1, a G-PDU (type 255), then IPv4/IPv6
 *   GRE (RFC 2784/2890) IP protocol 47, version 0 with any EtherType ntg decodes (IPv4, IPv6,
 *                      MPLS, VLAN) or transparent Ethernet bridging (0x6558); version 1 (PPTP,
 *                      RFC 2637) carrying PPP
 *   IP-in-IP           IP protocol 4 (IPv4) and 41 (IPv6) in IPv4 or IPv6
 *
 * Bytes that do not parse as the tunnel header they claim to be (a VXLAN flag missing, a GTP-U
 * message that is not a G-PDU) leave the outer packet as it is.  Once a tunnel header parses, the
 * inner packet decides: an inner ARP frame is non_ip, inner ICMP is non_tcp_udp.  Inner IP
 * lengths come from the inner headers, as everywhere.
 */
#include "capture/decode_int.h"

#define VXLAN_PORT	4789
#define GTPU_PORT	2152

static bool
may_enter(const NtgPacket *out)
{
	return (out->flags & NTG_DECODE_TUNNELS) && out->tunnels < NTG_TUNNEL_MAX_DEPTH;
}

/* VXLAN header (8 bytes): flags with I (0x08), reserved, VNI, reserved; Ethernet follows. */
static int
vxlan(const uint8_t *p, uint32_t cap, uint32_t wire, NtgPacket *out)
{
	if (cap < 8 || !(p[0] & 0x08))
		return DEC_OK;
	out->tunnels++;
	return ntg_decode_ethernet(p + 8, cap - 8, wire > 8 ? wire - 8 : 0, 0, out);
}

/*
 * GTP-U: flags (version 3 bits, PT, reserved, E, S, PN), message type, length, TEID; with E, S or
 * PN set, sequence number (2), N-PDU number (1) and next extension header type (1), then a chain
 * of extension headers (length in 4-byte units, the last byte naming the next type).
 */
static int
gtpu(const uint8_t *p, uint32_t cap, uint32_t wire, NtgPacket *out)
{
	uint32_t	off = 8;

	/* other GTP-U messages (echo, error indication, end marker) stay outer UDP */
	if (cap < 8 || (p[0] >> 5) != 1 || !(p[0] & 0x10) || p[1] != 0xFF)
		return DEC_OK;
	out->tunnels++;
	if (p[0] & 0x07)
	{
		uint8_t		next;

		if (cap < 12)
			return NTG_SKIP_TRUNCATED;
		next = p[11];
		off = 12;
		while (next != 0)
		{
			uint32_t	len;

			if (cap < off + 1)
				return NTG_SKIP_TRUNCATED;
			if (p[off] == 0)
				return NTG_SKIP_BAD_HEADER;
			len = (uint32_t) p[off] * 4;
			if (cap < off + len)
				return NTG_SKIP_TRUNCATED;
			next = p[off + len - 1];
			off += len;
		}
	}
	if (cap < off + 1)
		return NTG_SKIP_TRUNCATED;
	if ((p[off] >> 4) != 4 && (p[off] >> 4) != 6)
		return NTG_SKIP_NON_IP;
	return ntg_decode_ip_any(p + off, cap - off, wire > off ? wire - off : 0, out);
}

int
ntg_decode_udp_tunnel(NtgPacket *out)
{
	const uint8_t *p = out->payload;
	uint32_t	cap = out->payload_caplen,
				wire = (uint32_t) out->pl;

	if (!may_enter(out))
		return DEC_OK;
	if (out->dport == VXLAN_PORT)
		return vxlan(p, cap, wire, out);
	if (out->sport == GTPU_PORT || out->dport == GTPU_PORT)
		return gtpu(p, cap, wire, out);
	return DEC_OK;
}

/* GRE: flags and version (C, R, K, S bits; version 0 or 1), protocol type, optional fields. */
static int
gre(const uint8_t *p, uint32_t cap, uint32_t wire, NtgPacket *out)
{
	uint16_t	flags,
				ptype;
	uint32_t	off = 4;

	if (cap < 4)
		return NTG_SKIP_TRUNCATED;
	flags = rd16(p);
	ptype = rd16(p + 2);
	if ((flags & 7) == 0)
	{
		if (flags & 0x4000)		/* source routing (RFC 1701), obsolete: not entered */
			return NTG_SKIP_NON_TCP_UDP;
		off += (flags & 0x8000) ? 4 : 0;
		off += (flags & 0x2000) ? 4 : 0;
		off += (flags & 0x1000) ? 4 : 0;
		if (cap < off)
			return NTG_SKIP_TRUNCATED;
		out->tunnels++;
		wire = wire > off ? wire - off : 0;
		if (ptype == 0x6558)
			return ntg_decode_ethernet(p + off, cap - off, wire, 0, out);
		return ntg_decode_ethertype(ptype, p + off, cap - off, wire, 0, out);
	}
	if ((flags & 7) == 1 && (flags & 0x2000) && ptype == 0x880B)
	{
		/* enhanced GRE (PPTP): key = payload length + call id, then sequence and ack numbers */
		off = 8 + ((flags & 0x1000) ? 4 : 0) + ((flags & 0x0080) ? 4 : 0);
		if (cap < off)
			return NTG_SKIP_TRUNCATED;
		if (rd16(p + 4) == 0)	/* an acknowledgement without payload */
			return NTG_SKIP_NON_TCP_UDP;
		out->tunnels++;
		return ntg_decode_ppp(p + off, cap - off, wire > off ? wire - off : 0, out);
	}
	return NTG_SKIP_NON_TCP_UDP;
}

int
ntg_decode_ip_tunnel(uint8_t protocol, const uint8_t *p, uint32_t cap, uint32_t wire,
					 NtgPacket *out)
{
	if (!may_enter(out))
		return NTG_SKIP_NON_TCP_UDP;
	switch (protocol)
	{
		case 4:
			out->tunnels++;
			return ntg_decode_ip_checked(p, cap, wire, 4, out);
		case 41:
			out->tunnels++;
			return ntg_decode_ip_checked(p, cap, wire, 6, out);
		case 47:
			return gre(p, cap, wire, out);
	}
	return NTG_SKIP_NON_TCP_UDP;
}
