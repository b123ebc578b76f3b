/*
 * pcapng_write.c — the pcapng blocks the writer needs (IETF draft-ietf-opsawg-pcapng): one
 * Section Header Block, one Interface Description Block (Ethernet, default microsecond
 * timestamps), and an Enhanced Packet Block per packet, with an opt_comment where asked.
 * Everything is in host byte order, which the section header's byte-order magic declares.
 */
#include "pcapout/pcapout_int.h"

#include <string.h>

#define BT_SHB		0x0A0D0D0AU
#define BT_IDB		1U
#define BT_EPB		6U
#define OPT_END		0
#define OPT_COMMENT 1
#define SHB_USERAPPL 4

static inline size_t
pad4(size_t n)
{
	return (n + 3) & ~(size_t) 3;
}

static inline uint8_t *
w32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
	return p + 4;
}

static inline uint8_t *
w16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
	return p + 2;
}

/* An option: code, length, value, zero padding to 4 bytes. */
static uint8_t *
option(uint8_t *p, uint16_t code, const void *a, size_t alen, const void *b, size_t blen)
{
	size_t		len = alen + blen;

	p = w16(p, code);
	p = w16(p, (uint16_t) len);
	if (alen)
		memcpy(p, a, alen);
	if (blen)
		memcpy(p + alen, b, blen);
	memset(p + len, 0, pad4(len) - len);
	return p + pad4(len);
}

size_t
ntg_pcapng_headers(uint8_t *out, const char *userappl)
{
	size_t		ulen = userappl ? strnlen(userappl, 1024) : 0;
	size_t		shb = 28 + (ulen ? 4 + pad4(ulen) + 4 : 0);
	size_t		idb = 20;
	uint8_t    *p = out;

	if (!out)
		return shb + idb;
	p = w32(p, BT_SHB);
	p = w32(p, (uint32_t) shb);
	p = w32(p, 0x1A2B3C4DU);
	p = w16(p, 1);				/* version 1.0 */
	p = w16(p, 0);
	p = w32(p, 0xFFFFFFFFU);	/* section length: not given */
	p = w32(p, 0xFFFFFFFFU);
	if (ulen)
	{
		p = option(p, SHB_USERAPPL, userappl, ulen, NULL, 0);
		p = option(p, OPT_END, NULL, 0, NULL, 0);
	}
	p = w32(p, (uint32_t) shb);

	p = w32(p, BT_IDB);
	p = w32(p, (uint32_t) idb);
	p = w16(p, NTG_LINKTYPE_ETHERNET);
	p = w16(p, 0);
	p = w32(p, NTG_PCAPNG_SNAPLEN);
	p = w32(p, (uint32_t) idb);
	return (size_t) (p - out);
}

size_t
ntg_pcapng_epb_size(uint32_t caplen, size_t comment_len)
{
	return 32 + pad4(caplen) + (comment_len ? 4 + pad4(comment_len) + 4 : 0);
}

uint8_t *
ntg_pcapng_epb_head(uint8_t *out, uint32_t total, uint64_t ts_us, uint32_t caplen)
{
	uint8_t    *p = out;

	p = w32(p, BT_EPB);
	p = w32(p, total);
	p = w32(p, 0);				/* interface 0 */
	p = w32(p, (uint32_t) (ts_us >> 32));
	p = w32(p, (uint32_t) ts_us);
	p = w32(p, caplen);
	p = w32(p, caplen);			/* original length: the whole frame is there */
	return p;
}

void
ntg_pcapng_epb_tail(uint8_t *out, uint32_t total, uint32_t caplen, const char *prefix,
					size_t prefix_len, const char *text, size_t text_len)
{
	uint8_t    *p = out + caplen;

	memset(p, 0, pad4(caplen) - caplen);
	p += pad4(caplen) - caplen;
	if (prefix)
	{
		p = option(p, OPT_COMMENT, prefix, prefix_len, text, text_len);
		p = option(p, OPT_END, NULL, 0, NULL, 0);
	}
	w32(p, total);
}
