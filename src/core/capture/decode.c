/*
 * decode.c — link layers (Ethernet with 802.1Q/QinQ, MPLS and PPPoE; Linux SLL/SLL2; raw IP;
 * NULL/LOOP; PPP; Cisco HDLC), IPv4, IPv6 with extension headers, and the TCP/UDP header fields
 * that define a biflow and its payload lengths.  Tunnels are entered only with
 * NTG_DECODE_TUNNELS (tunnel.c); otherwise the outer TCP/UDP (VXLAN, GTP-U) makes the biflow and
 * other tunnel protocols count as non-TCP/UDP.
 */
#include "capture/decode_int.h"

#include <string.h>

bool
ntg_linktype_supported(int lt)
{
	switch (lt)
	{
		case NTG_LT_NULL:
		case NTG_LT_ETHERNET:
		case NTG_LT_PPP:
		case NTG_LT_RAW12:
		case NTG_LT_RAW14:
		case NTG_LT_PPP_SERIAL:
		case NTG_LT_RAW:
		case NTG_LT_C_HDLC:
		case NTG_LT_LOOP:
		case NTG_LT_LINUX_SLL:
		case NTG_LT_IPV4:
		case NTG_LT_IPV6:
		case NTG_LT_LINUX_SLL2:
			return true;
	}
	return false;
}

/* TCP or UDP header at l4 (l4cap bytes captured); l4len = transport bytes per the IP header. */
static int
decode_l4(const uint8_t *l4, uint32_t l4cap, int64_t l4len, bool first_fragment, NtgPacket *out)
{
	if (out->protocol == 6)
	{
		uint32_t	doff;

		if (l4cap < 14)
			return NTG_SKIP_TRUNCATED;
		doff = (uint32_t) (l4[12] >> 4) * 4;
		if (doff < 20 || l4len < doff)
			return NTG_SKIP_BAD_HEADER;
		out->tcp_flags = l4[13];
		out->pl = (int32_t) (l4len - doff);
		out->payload = l4 + doff;
		out->payload_caplen = l4cap > doff ? l4cap - doff : 0;
	}
	else if (out->protocol == 17)
	{
		uint32_t	ulen;

		if (l4cap < 8)
			return NTG_SKIP_TRUNCATED;
		ulen = rd16(l4 + 4);
		/* The UDP length covers the whole datagram, also when the IP packet is its first
		 * fragment; it is 0 or inconsistent with GSO and jumbograms, then IP decides. */
		if (ulen >= 8 && (ulen <= l4len || first_fragment))
			out->pl = (int32_t) (ulen - 8);
		else if (l4len >= 8)
			out->pl = (int32_t) (l4len - 8);
		else
			return NTG_SKIP_BAD_HEADER;
		out->tcp_flags = 0;
		out->payload = l4 + 8;
		out->payload_caplen = l4cap - 8;
	}
	else
		return NTG_SKIP_NON_TCP_UDP;
	if (out->payload_caplen > (uint32_t) out->pl)
		out->payload_caplen = (uint32_t) out->pl;
	out->sport = rd16(l4);
	out->dport = rd16(l4 + 2);
	if (out->protocol == 17 && (out->flags & NTG_DECODE_TUNNELS))
		return ntg_decode_udp_tunnel(out);
	return DEC_OK;
}

static int
decode_ipv4(const uint8_t *p, uint32_t cap, uint32_t wire, NtgPacket *out)
{
	uint32_t	ihl,
				tot;
	uint16_t	frag;

	if (cap < 20)
		return NTG_SKIP_TRUNCATED;
	ihl = (uint32_t) (p[0] & 15) * 4;
	if (ihl < 20)
		return NTG_SKIP_BAD_HEADER;
	if (cap < ihl)
		return NTG_SKIP_TRUNCATED;
	tot = rd16(p + 2);
	/* Captured on the sender with segmentation offload, total length can be 0: the wire length
	 * (what the capturing kernel handed over) is then the only length there is. */
	if (tot == 0)
		tot = wire;
	if (tot < ihl)
		return NTG_SKIP_BAD_HEADER;
	frag = rd16(p + 6);
	out->family = 4;
	out->protocol = p[9];
	memset(out->src, 0, 16);
	memset(out->dst, 0, 16);
	memcpy(out->src, p + 12, 4);
	memcpy(out->dst, p + 16, 4);
	out->ip_bytes = tot;
	out->frag = NTG_FRAG_NONE;
	if ((frag & 0x3fff) != 0)
	{
		out->frag = (frag & 0x1fff) ? NTG_FRAG_LATER : NTG_FRAG_FIRST;
		out->frag_more = (frag & 0x2000) != 0;
		out->frag_id = rd16(p + 4);
		out->frag_offset = (uint32_t) (frag & 0x1fff) * 8;
		out->frag_len = tot - ihl;
		if (out->frag == NTG_FRAG_LATER)
			return NTG_SKIP_FRAGMENT;
	}
	if (out->protocol != 6 && out->protocol != 17)
		return ntg_decode_ip_tunnel(out->protocol, p + ihl, cap - ihl,
									wire > ihl ? wire - ihl : 0, out);
	return decode_l4(p + ihl, cap - ihl, (int64_t) tot - ihl, (frag & 0x2000) != 0, out);
}

/* Jumbo payload option (RFC 2675) in a hop-by-hop header of hl bytes at h. */
static uint32_t
ipv6_jumbo(const uint8_t *h, uint32_t hl)
{
	uint32_t	i = 2;

	while (i < hl)
	{
		if (h[i] == 0)			/* Pad1 */
		{
			i++;
			continue;
		}
		if (i + 1 >= hl || i + 2 + h[i + 1] > hl)
			break;
		if (h[i] == 0xC2 && h[i + 1] == 4)
			return rd32(h + i + 2);
		i += 2 + h[i + 1];
	}
	return 0;
}

static int
decode_ipv6(const uint8_t *p, uint32_t cap, uint32_t wire, NtgPacket *out)
{
	uint32_t	off = 40;
	int64_t		plen;
	uint8_t		nh;
	bool		first_fragment = false;

	if (cap < 40)
		return NTG_SKIP_TRUNCATED;
	plen = rd16(p + 4);
	nh = p[6];
	out->family = 6;
	out->frag = NTG_FRAG_NONE;
	memcpy(out->src, p + 8, 16);
	memcpy(out->dst, p + 24, 16);
	/* Every extension header is at least 8 bytes and must be captured: the loop ends. */
	for (;;)
	{
		uint32_t	hl;

		if (nh == 6 || nh == 17)
			break;
		if (nh != 0 && nh != 43 && nh != 44 && nh != 51 && nh != 60 && nh != 135 &&
			nh != 139 && nh != 140 && nh != 253 && nh != 254)
			break;
		if (cap < off + 8)
			return NTG_SKIP_TRUNCATED;
		if (nh == 44)
		{
			uint32_t	foff = rd16(p + off + 2) & 0xfff8;

			first_fragment = (p[off + 3] & 1) != 0;
			hl = 8;
			/* offset 0 without more fragments is an atomic fragment: a whole datagram */
			if (foff != 0 || first_fragment)
			{
				out->frag = foff ? NTG_FRAG_LATER : NTG_FRAG_FIRST;
				out->frag_more = first_fragment;
				out->frag_id = rd32(p + off + 4);
				out->frag_offset = foff;
				if (plen == 0 && wire > 40)
					plen = wire - 40;
				out->frag_len = plen > off + 8 - 40 ? (uint32_t) (plen - (off + 8 - 40)) : 0;
			}
			if (foff != 0)
			{
				out->protocol = p[off];
				out->ip_bytes = (uint32_t) (plen + 40);
				return NTG_SKIP_FRAGMENT;
			}
		}
		else if (nh == 51)
			hl = ((uint32_t) p[off + 1] + 2) * 4;
		else
			hl = ((uint32_t) p[off + 1] + 1) * 8;
		if (cap < off + hl)
			return NTG_SKIP_TRUNCATED;
		if (nh == 0 && off == 40 && plen == 0)
			plen = ipv6_jumbo(p + off, hl);
		nh = p[off];
		off += hl;
	}
	/* Payload length 0 without a jumbo option: offload again, the wire length decides. */
	if (plen == 0 && wire > 40)
		plen = wire - 40;
	out->protocol = nh;
	out->ip_bytes = (uint32_t) (plen + 40 > UINT32_MAX ? UINT32_MAX : plen + 40);
	if (nh != 6 && nh != 17)
		return ntg_decode_ip_tunnel(nh, p + off, cap - off, wire > off ? wire - off : 0, out);
	if (plen < off - 40)
		return NTG_SKIP_BAD_HEADER;
	return decode_l4(p + off, cap - off, plen - (off - 40), first_fragment, out);
}

int
ntg_decode_ip_any(const uint8_t *p, uint32_t cap, uint32_t wire, NtgPacket *out)
{
	if (cap < 1)
		return NTG_SKIP_TRUNCATED;
	switch (p[0] >> 4)
	{
		case 4:
			return decode_ipv4(p, cap, wire, out);
		case 6:
			return decode_ipv6(p, cap, wire, out);
	}
	return NTG_SKIP_BAD_HEADER;
}

int
ntg_decode_ip(const uint8_t *p, uint32_t cap, uint32_t wire, NtgPacket *out)
{
	out->flags = 0;
	out->tunnels = 0;
	out->flow_hash = 0;
	return ntg_decode_ip_any(p, cap, wire, out);
}

int
ntg_decode_ip_checked(const uint8_t *p, uint32_t cap, uint32_t wire, int want_version,
					  NtgPacket *out)
{
	if (cap >= 1 && want_version && (p[0] >> 4) != want_version)
		return NTG_SKIP_BAD_HEADER;
	return ntg_decode_ip_any(p, cap, wire, out);
}


int
ntg_ppp_protocol(uint16_t proto)
{
	if (proto == 0x0021)
		return 4;
	if (proto == 0x0057)
		return 6;
	return 0;
}

/* Follow an EtherType through VLAN tags, MPLS label stacks and PPPoE sessions to IP. */
int
ntg_decode_ethertype(uint16_t type, const uint8_t *p, uint32_t cap, uint32_t wire, int depth,
				 NtgPacket *out)
{
#define ADVANCE(n) do { p += (n); cap -= (n); wire = wire > (n) ? wire - (n) : 0; } while (0)
	for (int hops = 0; hops < 16; hops++)
	{
		switch (type)
		{
			case 0x0800:
				return ntg_decode_ip_checked(p, cap, wire, 4, out);
			case 0x86DD:
				return ntg_decode_ip_checked(p, cap, wire, 6, out);
			case 0x8100:		/* 802.1Q */
			case 0x88A8:		/* 802.1ad (QinQ outer) */
			case 0x9100:
			case 0x9200:
				if (cap < 4)
					return NTG_SKIP_TRUNCATED;
				type = rd16(p + 2);
				ADVANCE(4);
				continue;
			case 0x8847:		/* MPLS unicast / multicast */
			case 0x8848:
				{
					bool		bottom = false;

					while (!bottom)
					{
						if (cap < 4)
							return NTG_SKIP_TRUNCATED;
						bottom = (p[2] & 1) != 0;
						ADVANCE(4);
					}
					if (cap < 1)
						return NTG_SKIP_TRUNCATED;
					if ((p[0] >> 4) == 4 || (p[0] >> 4) == 6)
						return ntg_decode_ip_any(p, cap, wire, out);
					/* Ethernet pseudowire with its control word (first nibble 0). */
					if ((p[0] >> 4) == 0 && cap >= 4 && depth < 4)
					{
						ADVANCE(4);
						return ntg_decode_ethernet(p, cap, wire, depth + 1, out);
					}
					return NTG_SKIP_NON_IP;
				}
			case 0x8864:		/* PPPoE session: 6 bytes, then the PPP protocol */
				{
					int			v;

					if (cap < 8)
						return NTG_SKIP_TRUNCATED;
					v = ntg_ppp_protocol(rd16(p + 6));
					if (v == 0)
						return NTG_SKIP_NON_IP;
					ADVANCE(8);
					return ntg_decode_ip_checked(p, cap, wire, v, out);
				}
			default:
				return NTG_SKIP_NON_IP;
		}
	}
	return NTG_SKIP_BAD_HEADER;
#undef ADVANCE
}

int
ntg_decode_ethernet(const uint8_t *p, uint32_t cap, uint32_t wire, int depth, NtgPacket *out)
{
	uint16_t	type;

	if (cap < 14)
		return NTG_SKIP_TRUNCATED;
	type = rd16(p + 12);
	if (type < 0x0600)
	{
		/* 802.3 length field: only LLC/SNAP can carry an EtherType. */
		if (cap < 22)
			return NTG_SKIP_TRUNCATED;
		if (p[14] != 0xAA || p[15] != 0xAA || p[16] != 0x03)
			return NTG_SKIP_NON_IP;
		return ntg_decode_ethertype(rd16(p + 20), p + 22, cap - 22, wire > 22 ? wire - 22 : 0,
								depth, out);
	}
	return ntg_decode_ethertype(type, p + 14, cap - 14, wire > 14 ? wire - 14 : 0, depth, out);
}

/* BSD loopback: the address family in the capturing host's byte order (NULL) or big-endian
 * (LOOP); AF_INET6 differs between systems (10 Linux, 24 NetBSD/OpenBSD, 28 FreeBSD, 30 macOS). */
static int
decode_null(const uint8_t *p, uint32_t cap, uint32_t wire, bool big_endian, NtgPacket *out)
{
	uint32_t	fam;

	if (cap < 4)
		return NTG_SKIP_TRUNCATED;
	fam = big_endian ? rd32(p) : (uint32_t) (p[0] | (p[1] << 8) | (p[2] << 16) | ((uint32_t) p[3] << 24));
	if (!big_endian && fam > 0xffff)
		fam = rd32(p);
	wire = wire > 4 ? wire - 4 : 0;
	if (fam == 2)
		return ntg_decode_ip_checked(p + 4, cap - 4, wire, 4, out);
	if (fam == 10 || fam == 24 || fam == 28 || fam == 30)
		return ntg_decode_ip_checked(p + 4, cap - 4, wire, 6, out);
	return NTG_SKIP_NON_IP;
}

/* PPP, with or without the HDLC address/control bytes and protocol-field compression. */
int
ntg_decode_ppp(const uint8_t *p, uint32_t cap, uint32_t wire, NtgPacket *out)
{
	uint32_t	off = 0;
	uint16_t	proto;
	int			v;

	if (cap >= 2 && p[0] == 0xFF && p[1] == 0x03)
		off = 2;
	if (cap < off + 1)
		return NTG_SKIP_TRUNCATED;
	if (p[off] & 1)
		proto = p[off++];
	else
	{
		if (cap < off + 2)
			return NTG_SKIP_TRUNCATED;
		proto = rd16(p + off);
		off += 2;
	}
	v = ntg_ppp_protocol(proto);
	if (v == 0)
		return NTG_SKIP_NON_IP;
	return ntg_decode_ip_checked(p + off, cap - off, wire > off ? wire - off : 0, v, out);
}

int
ntg_decode_packet(int linktype, const uint8_t *p, uint32_t cap, uint32_t wire, NtgPacket *out)
{
	return ntg_decode_packet_ex(linktype, p, cap, wire, 0, out);
}

int
ntg_decode_packet_ex(int linktype, const uint8_t *p, uint32_t cap, uint32_t wire, int flags,
					 NtgPacket *out)
{
	out->flags = (uint8_t) flags;
	out->tunnels = 0;
	out->flow_hash = 0;
	switch (linktype)
	{
		case NTG_LT_ETHERNET:
			return ntg_decode_ethernet(p, cap, wire, 0, out);
		case NTG_LT_LINUX_SLL:
			if (cap < 16)
				return NTG_SKIP_TRUNCATED;
			return ntg_decode_ethertype(rd16(p + 14), p + 16, cap - 16, wire > 16 ? wire - 16 : 0, 0, out);
		case NTG_LT_LINUX_SLL2:
			if (cap < 20)
				return NTG_SKIP_TRUNCATED;
			return ntg_decode_ethertype(rd16(p), p + 20, cap - 20, wire > 20 ? wire - 20 : 0, 0, out);
		case NTG_LT_RAW12:
		case NTG_LT_RAW14:
		case NTG_LT_RAW:
			return ntg_decode_ip_any(p, cap, wire, out);
		case NTG_LT_IPV4:
			return ntg_decode_ip_checked(p, cap, wire, 4, out);
		case NTG_LT_IPV6:
			return ntg_decode_ip_checked(p, cap, wire, 6, out);
		case NTG_LT_NULL:
			return decode_null(p, cap, wire, false, out);
		case NTG_LT_LOOP:
			return decode_null(p, cap, wire, true, out);
		case NTG_LT_PPP:
		case NTG_LT_PPP_SERIAL:
			return ntg_decode_ppp(p, cap, wire, out);
		case NTG_LT_C_HDLC:
			if (cap < 4)
				return NTG_SKIP_TRUNCATED;
			return ntg_decode_ethertype(rd16(p + 2), p + 4, cap - 4, wire > 4 ? wire - 4 : 0, 0, out);
	}
	return NTG_SKIP_UNSUPPORTED_LINK;
}
