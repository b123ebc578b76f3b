/*
 * pcapng.c — ntg's own pcapng block reader.
 *
 * libpcap 1.10 reads pcapng but stops with "an interface has a type N different from the type of
 * the first interface" as soon as a file's interfaces have different link types, and it does not
 * report which interface a packet came from.  Captures with several interfaces (tcpdump -i any on
 * some systems, Wireshark, pcapng files merged by mergecap) need the link type per packet, so
 * pcapng is read here: every section (each with its own byte order and interfaces), each
 * interface's link type, if_tsresol and if_tsoffset; Enhanced, Simple and obsolete Packet Blocks.
 * Every length is checked against the block that holds it.
 */
#include "capture/capture_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define BT_SHB		0x0A0D0D0AU
#define BT_IDB		1U
#define BT_PB		2U
#define BT_SPB		3U
#define BT_EPB		6U
#define BOM			0x1A2B3C4DU
#define MAX_BLOCK	(64U * 1024 * 1024)

static inline uint32_t
get32(const NtgCaptureReader *r, const uint8_t *p)
{
	uint32_t	v;

	memcpy(&v, p, 4);
	return r->swap ? __builtin_bswap32(v) : v;
}

static inline uint16_t
get16(const NtgCaptureReader *r, const uint8_t *p)
{
	uint16_t	v;

	memcpy(&v, p, 2);
	return r->swap ? __builtin_bswap16(v) : v;
}

static bool
ensure_buf(NtgCaptureReader *r, size_t n)
{
	uint8_t    *b;
	size_t		sz = r->bufsize ? r->bufsize : 65536;

	if (n <= r->bufsize)
		return true;
	while (sz < n)
		sz *= 2;
	b = ntg_realloc(r->buf, sz);
	if (!b)
		return false;
	r->buf = b;
	r->bufsize = sz;
	return true;
}

/*
 * Read one block: *type, *blen and its body (blen - 12 bytes, without the trailing length) in
 * r->buf.  Returns 1, 0 at a clean end of file, -1 with msg on damage.
 */
static int
read_block(NtgCaptureReader *r, uint32_t *type, uint32_t *blen, char *msg, size_t msgsize)
{
	uint8_t		hdr[12];
	size_t		got = fread(hdr, 1, 8, r->f);
	uint32_t	trailer;

	if (got == 0 && feof(r->f))
		return 0;
	if (got < 8)
	{
		snprintf(msg, msgsize, "the capture ends inside a block header at byte offset %llu",
				 (unsigned long long) r->offset);
		return -1;
	}
	*type = get32(r, hdr);
	if (*type == BT_SHB)
	{
		/* A section header carries its own byte order: look at it before the length. */
		uint32_t	bom;

		if (fread(hdr + 8, 1, 4, r->f) < 4)
		{
			snprintf(msg, msgsize, "the capture ends inside a section header at byte offset %llu",
					 (unsigned long long) r->offset);
			return -1;
		}
		memcpy(&bom, hdr + 8, 4);
		if (bom == BOM)
			r->swap = false;
		else if (bom == __builtin_bswap32(BOM))
			r->swap = true;
		else
		{
			snprintf(msg, msgsize, "bad byte-order magic in the section header at byte offset %llu",
					 (unsigned long long) r->offset);
			return -1;
		}
	}
	*blen = get32(r, hdr + 4);
	if (*blen < 12 + (*type == BT_SHB ? 16 : 0) || *blen % 4 != 0 || *blen > MAX_BLOCK)
	{
		snprintf(msg, msgsize, "invalid block length %u at byte offset %llu",
				 *blen, (unsigned long long) r->offset);
		return -1;
	}
	/* A length beyond the end of the capture is a cut, not a reason to allocate it. */
	if (r->size && r->offset + *blen > r->size)
	{
		snprintf(msg, msgsize,
				 "the capture is cut short inside a block of %u bytes at byte offset %llu",
				 *blen, (unsigned long long) r->offset);
		return -1;
	}
	if (!ensure_buf(r, *blen))
	{
		snprintf(msg, msgsize, "out of memory for a block of %u bytes", *blen);
		return -1;
	}
	if (*type == BT_SHB)
		memcpy(r->buf, hdr + 8, 4);
	{
		size_t		want = *blen - 8 - (*type == BT_SHB ? 4 : 0);
		uint8_t    *dst = r->buf + (*type == BT_SHB ? 4 : 0);

		got = fread(dst, 1, want, r->f);
		if (got < want)
		{
			snprintf(msg, msgsize,
					 "the capture is cut short inside a block of %u bytes at byte offset %llu",
					 *blen, (unsigned long long) r->offset);
			return -1;
		}
	}
	trailer = get32(r, r->buf + *blen - 12);
	if (trailer != *blen)
	{
		snprintf(msg, msgsize,
				 "block at byte offset %llu has length %u in its header and %u in its trailer",
				 (unsigned long long) r->offset, *blen, trailer);
		return -1;
	}
	r->block_offset = r->offset;
	r->offset += *blen;
	return 1;
}

/* Section header body (after the BOM): version; a new section forgets the interfaces. */
static int
section_header(NtgCaptureReader *r, uint32_t blen, char *msg, size_t msgsize)
{
	uint16_t	major = get16(r, r->buf + 4),
				minor = get16(r, r->buf + 6);

	if (major != 1)
	{
		snprintf(msg, msgsize, "unsupported pcapng version %u.%u in the section at byte offset %llu",
				 major, minor, (unsigned long long) (r->offset - blen));
		return -1;
	}
	r->section++;
	r->nif = 0;
	return 1;
}

static int
interface_block(NtgCaptureReader *r, uint32_t blen, char *msg, size_t msgsize)
{
	NtgIface   *ifc;
	uint32_t	body = blen - 12,
				off = 8;

	if (body < 8)
	{
		snprintf(msg, msgsize, "interface description block too short at byte offset %llu",
				 (unsigned long long) (r->offset - blen));
		return -1;
	}
	if (r->nif == r->ifcap)
	{
		int			cap = r->ifcap ? r->ifcap * 2 : 8;
		NtgIface   *n = ntg_realloc(r->ifs, sizeof(NtgIface) * cap);

		if (!n)
		{
			snprintf(msg, msgsize, "out of memory for interfaces");
			return -1;
		}
		r->ifs = n;
		r->ifcap = cap;
	}
	ifc = &r->ifs[r->nif++];
	memset(ifc, 0, sizeof(*ifc));
	ifc->linktype = get16(r, r->buf);
	ifc->tsres = 6;
	/* Options: code, length, value padded to 4; malformed options end the list quietly. */
	while (off + 4 <= body)
	{
		uint16_t	code = get16(r, r->buf + off),
					len = get16(r, r->buf + off + 2);

		off += 4;
		if (code == 0 || off + len > body)
			break;
		if (code == 9 && len >= 1)
		{
			ifc->pow2 = (r->buf[off] & 0x80) != 0;
			ifc->tsres = r->buf[off] & 0x7f;
		}
		else if (code == 14 && len == 8)
		{
			uint64_t	v = ((uint64_t) get32(r, r->buf + off + (r->swap ? 0 : 4)) << 32) |
				get32(r, r->buf + off + (r->swap ? 4 : 0));

			int64_t		secs = (int64_t) v;

			if (__builtin_mul_overflow(secs, (int64_t) 1000000000, &ifc->tsoffset_ns))
				ifc->tsoffset_ns = secs > 0 ? INT64_MAX : INT64_MIN;
		}
		off += (len + 3) & ~3U;
	}
	if (r->first_linktype < 0)
		r->first_linktype = ifc->linktype;
	return 1;
}

/* Interface timestamp units -> nanoseconds, saturating (fuzzed files carry absurd values). */
static int64_t
to_ns(const NtgIface *ifc, uint64_t ts)
{
	unsigned __int128 v;

	if (ifc->pow2)
		v = ((unsigned __int128) ts * 1000000000U) >> (ifc->tsres > 63 ? 63 : ifc->tsres);
	else if (ifc->tsres <= 9)
	{
		uint64_t	mul = 1;

		for (int i = ifc->tsres; i < 9; i++)
			mul *= 10;
		v = (unsigned __int128) ts * mul;
	}
	else
	{
		uint64_t	div = 1;

		for (int i = 9; i < ifc->tsres && i < 28; i++)
			div *= 10;
		v = ts / div;
	}
	return v > INT64_MAX ? INT64_MAX : (int64_t) v;
}

static int64_t
add_sat(int64_t a, int64_t b)
{
	int64_t		r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

int
ntg_pcapng_open(NtgCaptureReader *r, NtgError *err)
{
	uint32_t	type,
				blen;
	char		msg[NTG_ERRMSG_LEN];
	int			rc = read_block(r, &type, &blen, msg, sizeof(msg));

	r->first_linktype = -1;
	if (rc == 1 && type == BT_SHB)
		rc = section_header(r, blen, msg, sizeof(msg));
	if (rc != 1)
	{
		ntg_error(err, NTG_ERR_BAD_FORMAT, "invalid pcapng section header");
		if (rc == 0)
			ntg_error_detail(err, "The file ends before its first block.");
		else
		{
			msg[0] = (char) toupper((unsigned char) msg[0]);
			ntg_error_detail(err, "%s.", msg);
		}
		return NTG_ERR_BAD_FORMAT;
	}
	strcpy(r->format, "pcapng");
	return NTG_OK;
}

/*
 * The label of an Enhanced Packet Block: the text of its first opt_comment that starts with
 * NTG_CAP_LABEL_PREFIX.  Options follow the packet data padded to 4 bytes; a malformed option
 * list ends the search quietly, as in interface_block().
 */
static void
epb_label(const NtgCaptureReader *r, uint32_t body, uint32_t caplen, NtgRawPacket *pk)
{
	static const char prefix[] = NTG_CAP_LABEL_PREFIX;
	const uint32_t plen = sizeof(prefix) - 1;
	uint64_t	off = 20 + (((uint64_t) caplen + 3) & ~(uint64_t) 3);

	pk->label = NULL;
	pk->label_len = 0;
	while (off + 4 <= body)
	{
		uint16_t	code = get16(r, r->buf + off),
					len = get16(r, r->buf + off + 2);

		off += 4;
		if (code == 0 || off + len > body)
			return;
		if (code == 1 && len >= plen && memcmp(r->buf + off, prefix, plen) == 0)
		{
			pk->label = (const char *) r->buf + off + plen;
			pk->label_len = len - plen;
			return;
		}
		off += (len + 3) & ~3U;
	}
}

int
ntg_pcapng_next(NtgCaptureReader *r, NtgRawPacket *pk, char *msg, size_t msgsize)
{
	for (;;)
	{
		uint32_t	type,
					blen,
					body,
					ifid,
					hdrlen;
		uint64_t	ts = 0;
		int			rc = read_block(r, &type, &blen, msg, msgsize);

		if (rc != 1)
			return rc;
		body = blen - 12;
		switch (type)
		{
			case BT_SHB:
				if (section_header(r, blen, msg, msgsize) < 0)
					return -1;
				continue;
			case BT_IDB:
				if (interface_block(r, blen, msg, msgsize) < 0)
					return -1;
				continue;
			case BT_EPB:
				hdrlen = 20;
				if (body < hdrlen)
					goto short_block;
				ifid = get32(r, r->buf);
				ts = ((uint64_t) get32(r, r->buf + 4) << 32) | get32(r, r->buf + 8);
				pk->caplen = get32(r, r->buf + 12);
				pk->wirelen = get32(r, r->buf + 16);
				break;
			case BT_PB:
				hdrlen = 20;
				if (body < hdrlen)
					goto short_block;
				ifid = get16(r, r->buf);
				ts = ((uint64_t) get32(r, r->buf + 4) << 32) | get32(r, r->buf + 8);
				pk->caplen = get32(r, r->buf + 12);
				pk->wirelen = get32(r, r->buf + 16);
				break;
			case BT_SPB:
				hdrlen = 4;
				if (body < hdrlen)
					goto short_block;
				ifid = 0;
				pk->wirelen = get32(r, r->buf);
				pk->caplen = pk->wirelen < body - 4 ? pk->wirelen : body - 4;
				break;
			default:
				continue;		/* name resolution, statistics, custom blocks ... */
		}
		if (ifid >= (uint32_t) r->nif)
		{
			snprintf(msg, msgsize, "packet block at byte offset %llu names interface %u, but the section has %d",
					 (unsigned long long) r->block_offset, ifid, r->nif);
			return -1;
		}
		if (pk->caplen > body - hdrlen)
			goto short_block;
		pk->linktype = r->ifs[ifid].linktype;
		pk->ts_ns = add_sat(to_ns(&r->ifs[ifid], ts), r->ifs[ifid].tsoffset_ns);
		pk->data = r->buf + hdrlen;
		if (type == BT_EPB)
			epb_label(r, body, pk->caplen, pk);
		else
			pk->label = NULL;
		return 1;
	}
short_block:
	snprintf(msg, msgsize, "packet block at byte offset %llu is shorter than the packet it holds",
			 (unsigned long long) r->block_offset);
	return -1;
}
