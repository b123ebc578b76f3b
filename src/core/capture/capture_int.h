/*
 * capture_int.h — the reader's state, shared by capture.c (opening, the packet loop, filters),
 * pcapfile.c (classic pcap records) and pcapng.c (ntg's own pcapng block reader).
 */
#ifndef NTG_CAPTURE_INT_H
#define NTG_CAPTURE_INT_H

#include <pcap/pcap.h>

#include "capture/capture.h"

typedef struct NtgIface
{
	int			linktype;
	bool		pow2;			/* if_tsresol: 2^-k instead of 10^-k */
	int			tsres;			/* k */
	int64_t		tsoffset_ns;	/* if_tsoffset in nanoseconds */
} NtgIface;

typedef struct NtgRawPacket
{
	int			linktype;
	int64_t		ts_ns;
	uint32_t	caplen;
	uint32_t	wirelen;
	const uint8_t *data;
	const char *label;			/* text after NTG_CAP_LABEL_PREFIX in an opt_comment, or NULL */
	uint32_t	label_len;
} NtgRawPacket;

typedef struct NtgFilter
{
	int			linktype;
	pcap_t	   *dead;
	struct bpf_program prog;
	bool		compiled;
} NtgFilter;

#define NTG_MAX_FILTERS 8

struct NtgCaptureReader
{
	FILE	   *f;
	bool		pcapng;
	char		format[16];
	int			first_linktype;
	uint64_t	size;			/* bytes in the capture when known (0: unknown) */
	uint64_t	offset;			/* byte offset of the next record/block */
	uint64_t	block_offset;	/* byte offset of the last block read */
	/* classic pcap state (pcapfile.c): a window of the file, or the bytes in memory */
	const uint8_t *mem;			/* the capture in memory (not copied), or NULL: read f */
	size_t		memlen;
	const uint8_t *win;			/* bytes from offset on: win[0 .. win_len) */
	size_t		win_len;
	uint32_t	hdrlen;			/* record header: 16, or 24 in the modified format */
	uint32_t	snaplen;
	int			lengths_swapped;	/* 0 no, 1 when caplen > len (2.3), 2 always (< 2.3) */
	bool		nsec;
	bool		eof;
	/* pcapng state (and pcap's byte order) */
	bool		swap;
	int			section;
	int			nif;
	int			ifcap;
	NtgIface   *ifs;
	uint8_t    *buf;
	size_t		bufsize;
	/* filters, one per link type seen */
	int			nfilters;
	NtgFilter	filters[NTG_MAX_FILTERS];
};

/* pcapfile.c: check the 24-byte file header (hdr holds its first hdrlen bytes, the magic being
 * one of classic pcap's) with libpcap, then set up reading the records. */
int			ntg_pcapfile_open(NtgCaptureReader *r, const uint8_t *hdr, size_t hdrlen,
							  NtgError *err);

/* pcapfile.c: next packet.  1 = packet, 0 = end of file, -1 = damage (msg set). */
int			ntg_pcapfile_next(NtgCaptureReader *r, NtgRawPacket *pk, char *msg, size_t msgsize);

/* pcapfile.c: whether the next record lies whole in the window, so that reading it leaves the
 * bytes of the packets read before in place (always true in memory). */
bool		ntg_pcapfile_next_in_window(const NtgCaptureReader *r);

/* pcapng.c: read and check the first section header (open time). */
int			ntg_pcapng_open(NtgCaptureReader *r, NtgError *err);

/* pcapng.c: next packet.  1 = packet, 0 = end of file, -1 = damage (msg set, NUL-terminated). */
int			ntg_pcapng_next(NtgCaptureReader *r, NtgRawPacket *pk, char *msg, size_t msgsize);

#endif							/* NTG_CAPTURE_INT_H */
