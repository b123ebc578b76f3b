/*
 * pcapout.h — writing biflows, given as a label and signed payload lengths, as a replayable pcapng
 * capture (plain C, no PostgreSQL headers).
 *
 * Each biflow becomes a conversation on Ethernet over IPv4 or IPv6: TCP with a three-way handshake,
 * data segments whose sequence and acknowledgement numbers follow the payload lengths, delayed
 * ACKs and a FIN close (tcpconv.h), or UDP datagrams.  IPv4 header, TCP and UDP checksums are
 * computed (pktbuild.h).  The label travels as a pcapng comment on the biflow's first packet
 * ("ntg-label: <label>", NTG_CAP_LABEL_PREFIX), which the capture reader gives back.  Endpoints,
 * initial sequence numbers, start times and packet gaps not given by the caller are drawn from the
 * seed, reproducibly.  Packets of biflows that overlap in time are merged in timestamp order.
 * The definitions (address ranges, gap model, payload filling, splitting) are in
 * docs/pcap-export.md.
 *
 * Usage: ntg_pcapout_create(); ntg_pcapout_class() for classes with a known protocol or server
 * port; ntg_pcapout_add() per biflow, in order of start time; ntg_pcapout_finish(); then the
 * capture is in ntg_pcapout_buffer() or went to opt->flush piece by piece.
 */
#ifndef NTG_PCAPOUT_H
#define NTG_PCAPOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ntg_core.h"

/* Largest TCP payload one IPv4 packet carries (65535 - 20 - 20): the MSS of a Linux loopback. */
#define NTG_PCAPOUT_MAX_MSS		65495
#define NTG_PCAPOUT_DEFAULT_MSS	NTG_PCAPOUT_MAX_MSS
/* Largest UDP payload of one IPv4 / IPv6 packet. */
#define NTG_PCAPOUT_MAX_UDP4	65507
#define NTG_PCAPOUT_MAX_UDP6	65527
/* A pcapng option holds at most 65535 bytes; the comment is the prefix and the label. */
#define NTG_PCAPOUT_MAX_LABEL	(65535 - 11)

typedef enum NtgPayloadFill
{
	NTG_FILL_ZERO = 0,			/* payload bytes are 0 */
	NTG_FILL_RANDOM				/* payload bytes drawn from the seed */
} NtgPayloadFill;

/* Which limit stopped a writer (ntg_pcapout_limit_hit). */
typedef enum NtgPcapOutLimit
{
	NTG_PCAPOUT_NO_LIMIT = 0,
	NTG_PCAPOUT_LIMIT_BYTES,	/* the capture would exceed max_bytes */
	NTG_PCAPOUT_LIMIT_STATE		/* biflows in progress would exceed max_state_bytes */
} NtgPcapOutLimit;

/* Receives the capture piece by piece; returns 0, or a status that stops the writer. */
typedef int (*NtgPcapOutFlush) (const uint8_t *data, size_t len, void *arg, NtgError *err);

typedef struct NtgPcapOutOptions
{
	uint64_t	seed;
	int			protocol;			/* 6 or 17: for biflows whose row and class name none */
	int			mss;				/* 1 .. NTG_PCAPOUT_MAX_MSS: TCP payload per segment */
	int64_t		start_us;			/* start of the first drawn biflow, Unix microseconds, >= 0 */
	int64_t		flow_gap_us;		/* mean of the exponential gap between biflow starts, >= 0 */
	int64_t		packet_gap_us;		/* mean of the exponential gap between packets, >= 0 */
	NtgPayloadFill payload;
	uint64_t	max_bytes;			/* capture bytes at most; 0: no limit */
	uint64_t	max_state_bytes;	/* memory of the biflows in progress at most; 0: no limit */
	size_t		head_room;			/* bytes left free before the capture in the buffer */
	const char *userappl;			/* shb_userappl of the section header, or NULL */
	NtgPcapOutFlush flush;			/* NULL: the whole capture stays in the buffer */
	void	   *flush_arg;
	double		progress_seconds;	/* a progress line at most this often; <= 0 none */
} NtgPcapOutOptions;

void		ntg_pcapout_default_options(NtgPcapOutOptions *o);

/* One biflow (one input row).  Fields the row does not give are drawn or taken from its class. */
typedef struct NtgPcapOutFlow
{
	const char *label;				/* written as the comment; NULL: no comment */
	size_t		label_len;			/* bytes (UTF-8) */
	const int32_t *pl;				/* signed payload lengths: + client->server */
	int			npl;
	int			protocol;			/* 6, 17, or 0: class, then options */
	int			cli_family;			/* 4 or 6 when cli_addr is given, else 0 */
	int			srv_family;
	uint8_t		cli_addr[16];
	uint8_t		srv_addr[16];
	int			cli_port;			/* 1..65535, or 0: drawn */
	int			srv_port;			/* 1..65535, or 0: class, then drawn */
	bool		start_given;
	int64_t		start_us;			/* Unix microseconds, when start_given */
} NtgPcapOutFlow;

typedef struct NtgPcapOutStats
{
	uint64_t	biflows;
	uint64_t	packets;
	uint64_t	bytes;				/* capture bytes produced (headers included) */
} NtgPcapOutStats;

typedef struct NtgPcapWriter NtgPcapWriter;

/* Check the options and write the section and interface headers.  NULL with err set on failure. */
NtgPcapWriter *ntg_pcapout_create(const NtgPcapOutOptions *opt, NtgError *err);

/* Protocol (6, 17 or 0: not known) and server port (1..65535 or 0: not known) of a class. */
int			ntg_pcapout_class(NtgPcapWriter *w, const char *label, size_t label_len, int protocol,
							  int srv_port, NtgError *err);

/* Add one biflow (its values are copied).  Packets earlier than its start are written first. */
int			ntg_pcapout_add(NtgPcapWriter *w, const NtgPcapOutFlow *flow, NtgError *err);

/* Write the packets still pending and hand the rest of the capture to flush (if any). */
int			ntg_pcapout_finish(NtgPcapWriter *w, NtgError *err);

/* The capture (after head_room bytes); *len excludes head_room.  Without flush, all of it. */
uint8_t    *ntg_pcapout_buffer(NtgPcapWriter *w, size_t *len);

void		ntg_pcapout_stats(const NtgPcapWriter *w, NtgPcapOutStats *out);
NtgPcapOutLimit ntg_pcapout_limit_hit(const NtgPcapWriter *w);

/* Release everything, the buffer included unless taken by ntg_pcapout_take_buffer(). */
void		ntg_pcapout_destroy(NtgPcapWriter *w);

/* Hand the buffer (head_room included, as allocated by ntg_malloc) to the caller. */
uint8_t    *ntg_pcapout_take_buffer(NtgPcapWriter *w, size_t *len_with_head);

#endif							/* NTG_PCAPOUT_H */
