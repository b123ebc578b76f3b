/*
 * pcapfile.c — the records of a classic pcap capture.
 *
 * libpcap checks the 24-byte file header (magic, version, link type, snapshot length: its error
 * messages are the ones users see); the records are then read here, from a window of the file
 * filled 1 MB at a time, or straight from the bytes of a capture held in memory.  libpcap's own
 * loop (pcap_next_ex) reads each record with two small freads and copies it into its buffer; on
 * the import benchmark that alone took longer than all of ntg's decoding and biflow accounting.
 * Record handling follows libpcap's (sf-pcap.c): both byte orders, micro- and nanosecond
 * timestamps, the modified (Kuznetzov) format's 24-byte record headers, the lengths swapped by
 * writers before version 2.3 (and maybe swapped in 2.3), a captured length above 262,144 bytes
 * refused as damage and one above the snapshot length cut to it.
 */
#include "capture/capture_int.h"

#include <errno.h>
#include <string.h>

#define WINDOW			(1024 * 1024)
#define MAX_CAPLEN		262144		/* libpcap's MAXIMUM_SNAPLEN */

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

int
ntg_pcapfile_open(NtgCaptureReader *r, const uint8_t *hdr, size_t hdrlen, NtgError *err)
{
	char		errbuf[PCAP_ERRBUF_SIZE] = "";
	uint8_t		copy[24];
	FILE	   *m;
	pcap_t	   *p;
	uint16_t	major,
				minor;

	memcpy(copy, hdr, hdrlen);
	if (!(m = fmemopen(copy, hdrlen, "rb")))
		return ntg_error(err, NTG_ERR_NOMEM, "out of memory");
	p = pcap_fopen_offline_with_tstamp_precision(m, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!p)
	{
		fclose(m);
		ntg_error(err, NTG_ERR_BAD_FORMAT, "invalid pcap file header");
		ntg_error_detail(err, "libpcap: %s.", errbuf);
		return NTG_ERR_BAD_FORMAT;
	}
	r->first_linktype = pcap_datalink(p);
	r->snaplen = (uint32_t) pcap_snapshot(p);
	pcap_close(p);				/* closes m */

	/* little-endian files start d4 c3 b2 a1 (µs), 4d 3c b2 a1 (ns) or 34 cd b2 a1 (modified) */
	r->swap = hdr[0] == 0xa1;
	r->nsec = (hdr[0] == 0x4d && hdr[1] == 0x3c) || (hdr[2] == 0x3c && hdr[3] == 0x4d);
	r->hdrlen = ((hdr[0] == 0x34 && hdr[1] == 0xcd) || (hdr[2] == 0xcd && hdr[3] == 0x34)) ? 24 : 16;
	major = get16(r, hdr + 4);
	minor = get16(r, hdr + 6);
	r->lengths_swapped = (major == 2 && minor < 3) ? 2 : (major == 2 && minor == 3) ? 1 : 0;
	strcpy(r->format, r->nsec ? "pcap-ns" : "pcap");
	r->offset = 24;
	if (r->mem)
	{
		r->win = r->mem + 24;
		r->win_len = r->memlen - 24;
		r->eof = true;
	}
	return NTG_OK;
}

/* Make at least `need` bytes from offset on available in the window if the capture has them;
 * returns how many are. */
static size_t
ensure(NtgCaptureReader *r, size_t need)
{
	if (r->win_len >= need || r->eof)
		return r->win_len;
	if (r->bufsize < WINDOW)
	{
		uint8_t    *b = ntg_malloc(WINDOW);

		if (!b)
			return r->win_len;
		if (r->win_len)
			memcpy(b, r->win, r->win_len);
		ntg_free(r->buf);
		r->buf = b;
		r->bufsize = WINDOW;
	}
	else if (r->win != r->buf && r->win_len)
		memmove(r->buf, r->win, r->win_len);
	r->win = r->buf;
	while (r->win_len < need && !r->eof)
	{
		size_t		got = fread(r->buf + r->win_len, 1, r->bufsize - r->win_len, r->f);

		r->win_len += got;
		if (got == 0)
			r->eof = true;
	}
	return r->win_len;
}

int
ntg_pcapfile_next(NtgCaptureReader *r, NtgRawPacket *pk, char *msg, size_t msgsize)
{
	const uint8_t *h;
	uint32_t	caplen,
				len,
				frac;
	size_t		have = ensure(r, r->hdrlen);

	if (have < r->hdrlen)
	{
		if (r->f && ferror(r->f))
			snprintf(msg, msgsize, "the capture could not be read at byte offset %llu: %s",
					 (unsigned long long) r->offset, strerror(errno));
		else if (have == 0)
			return 0;
		else
			snprintf(msg, msgsize, "the capture ends inside the record header at byte offset %llu (%zu of %u bytes)",
					 (unsigned long long) r->offset, have, r->hdrlen);
		return -1;
	}
	h = r->win;
	frac = get32(r, h + 4);
	caplen = get32(r, h + 8);
	len = get32(r, h + 12);
	if (r->lengths_swapped == 2 || (r->lengths_swapped == 1 && caplen > len))
	{
		uint32_t	t = caplen;

		caplen = len;
		len = t;
	}
	if (caplen > MAX_CAPLEN)
	{
		snprintf(msg, msgsize, "the record at byte offset %llu has a captured length of %u bytes, more than %s of %u",
				 (unsigned long long) r->offset, caplen,
				 caplen > r->snaplen ? "the capture's snapshot length" : "the maximum",
				 caplen > r->snaplen ? r->snaplen : MAX_CAPLEN);
		return -1;
	}
	if ((have = ensure(r, (size_t) r->hdrlen + caplen)) < (size_t) r->hdrlen + caplen)
	{
		snprintf(msg, msgsize, "the capture is cut short inside the record at byte offset %llu (%u captured bytes announced, %zu there)",
				 (unsigned long long) r->offset, caplen, have - r->hdrlen);
		return -1;
	}
	h = r->win;
	pk->linktype = r->first_linktype;
	pk->ts_ns = (int64_t) (int32_t) get32(r, h) * 1000000000LL + (r->nsec ? frac : (int64_t) frac * 1000);
	pk->caplen = caplen > r->snaplen ? r->snaplen : caplen;
	pk->wirelen = len;
	pk->data = h + r->hdrlen;
	pk->label = NULL;			/* classic pcap has no comments */
	pk->label_len = 0;
	r->win += r->hdrlen + caplen;
	r->win_len -= r->hdrlen + caplen;
	r->offset += r->hdrlen + caplen;
	return 1;
}

bool
ntg_pcapfile_next_in_window(const NtgCaptureReader *r)
{
	uint32_t	caplen,
				len;

	if (r->mem)
		return true;
	if (r->win_len < r->hdrlen)
		return false;
	caplen = get32(r, r->win + 8);
	len = get32(r, r->win + 12);
	if (r->lengths_swapped == 2 || (r->lengths_swapped == 1 && caplen > len))
		caplen = len;
	return (uint64_t) r->hdrlen + caplen <= r->win_len;
}
