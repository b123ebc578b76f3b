/*
 * tcpconv.c — the packets of one biflow, in order, from its signed payload lengths.
 *
 * TCP: SYN (client) / SYN+ACK / ACK, then one segment per value, or several when a value is
 * larger than the MSS: full MSS-sized segments and the remainder, PSH on the last, as a TCP stack
 * sends one large write.  Every segment after the SYN carries ACK with everything the other side
 * has sent so far.  A side that has received two data segments it has not acknowledged sends a
 * pure ACK at once (RFC 1122 4.2.3.2 / RFC 5681 4.2: at least every second full-sized segment),
 * which also keeps the bytes in flight within the window.  Then the client closes: FIN+ACK,
 * the server's FIN+ACK, the client's last ACK.
 *
 * UDP: one datagram per value.  The client of a biflow is the sender of its first packet, so a
 * biflow that has no values, or whose first value goes from the server, starts with an empty
 * datagram from the client, as such a biflow must have begun in a capture; a reader then sees the
 * same client and the same values.
 */
#include "pcapout/pcapout_int.h"

enum
{
	ST_SYN = 0,
	ST_SYNACK,
	ST_ACK,
	ST_DATA,
	ST_FIN_CLIENT,
	ST_FIN_SERVER,
	ST_LAST_ACK,
	ST_UDP_OPEN,
	ST_DONE
};

void
ntg_conv_init(NtgConv *c, int protocol, const int32_t *pl, int npl, uint32_t mss,
			  uint32_t isn_client, uint32_t isn_server)
{
	c->pl = pl;
	c->npl = npl;
	c->idx = 0;
	c->left = 0;
	c->mss = mss;
	c->protocol = (uint8_t) protocol;
	c->stage = protocol == 6 ? ST_SYN : (npl == 0 || pl[0] < 0) ? ST_UDP_OPEN : ST_DATA;
	c->ack_due = -1;
	c->unacked[0] = c->unacked[1] = 0;
	c->seq[0] = isn_client;
	c->seq[1] = isn_server;
}

static uint32_t
magnitude(int32_t v)
{
	return v < 0 ? (uint32_t) (-(int64_t) v) : (uint32_t) v;
}

static bool
udp_next(NtgConv *c, NtgPktSpec *p)
{
	p->flags = 0;
	p->seq = p->ack = 0;
	p->syn = false;
	if (c->stage == ST_DONE)
		return false;
	if (c->stage == ST_UDP_OPEN)
	{
		p->dir = 0;
		p->len = 0;
		c->stage = c->npl == 0 ? ST_DONE : ST_DATA;
		return true;
	}
	p->dir = c->pl[c->idx] > 0 ? 0 : 1;
	p->len = magnitude(c->pl[c->idx]);
	if (++c->idx == c->npl)
		c->stage = ST_DONE;
	return true;
}

/* A pure ACK or control segment from side d. */
static void
control(NtgConv *c, NtgPktSpec *p, int d, uint8_t flags)
{
	p->dir = d;
	p->flags = flags;
	p->seq = c->seq[d];
	p->ack = c->seq[1 - d];
	p->len = 0;
	p->syn = false;
	c->unacked[1 - d] = 0;
}

/* The next data segment: a whole value, or its next MSS-sized piece. */
static void
data_segment(NtgConv *c, NtgPktSpec *p)
{
	int32_t		v = c->pl[c->idx];
	int			d = v > 0 ? 0 : 1;
	uint32_t	seg;

	if (c->left == 0)
		c->left = magnitude(v);
	seg = c->left < c->mss ? c->left : c->mss;
	control(c, p, d, NTG_TCP_ACK);
	p->len = seg;
	c->seq[d] += seg;
	c->left -= seg;
	if (c->left == 0)
	{
		p->flags |= NTG_TCP_PSH;
		c->idx++;
	}
	if (++c->unacked[d] >= 2)
		c->ack_due = (int8_t) (1 - d);
}

bool
ntg_conv_next(NtgConv *c, NtgPktSpec *p)
{
	if (c->protocol == 17)
		return udp_next(c, p);
	switch (c->stage)
	{
		case ST_SYN:
			control(c, p, 0, NTG_TCP_SYN);
			p->ack = 0;
			p->syn = true;
			c->seq[0]++;
			c->stage = ST_SYNACK;
			return true;
		case ST_SYNACK:
			control(c, p, 1, NTG_TCP_SYN | NTG_TCP_ACK);
			p->syn = true;
			c->seq[1]++;
			c->stage = ST_ACK;
			return true;
		case ST_ACK:
			control(c, p, 0, NTG_TCP_ACK);
			c->stage = ST_DATA;
			return true;
		case ST_DATA:
			if (c->ack_due >= 0)
			{
				control(c, p, c->ack_due, NTG_TCP_ACK);
				c->ack_due = -1;
				return true;
			}
			if (c->idx < c->npl)
			{
				data_segment(c, p);
				return true;
			}
			/* fall through: no data left */
			c->stage = ST_FIN_CLIENT;
			/* FALLTHROUGH */
		case ST_FIN_CLIENT:
			control(c, p, 0, NTG_TCP_FIN | NTG_TCP_ACK);
			c->seq[0]++;
			c->stage = ST_FIN_SERVER;
			return true;
		case ST_FIN_SERVER:
			control(c, p, 1, NTG_TCP_FIN | NTG_TCP_ACK);
			c->seq[1]++;
			c->stage = ST_LAST_ACK;
			return true;
		case ST_LAST_ACK:
			control(c, p, 0, NTG_TCP_ACK);
			c->stage = ST_DONE;
			return true;
		default:
			return false;
	}
}

uint64_t
ntg_conv_count(int protocol, const int32_t *pl, int npl, uint32_t mss)
{
	NtgConv		c;
	NtgPktSpec	p;
	uint64_t	n = 0;

	ntg_conv_init(&c, protocol, pl, npl, mss, 0, 0);
	while (ntg_conv_next(&c, &p))
		n++;
	return n;
}
