/*
 * capture.h — pcap/pcapng import into biflows (plain C, no PostgreSQL headers).
 *
 * Usage: ntg_capture_open_file()/ntg_capture_open_memory() check the header and return a reader;
 * ntg_capture_run() streams every packet through the link/IP decoders (decode.h) into the biflow
 * table (flowtab.h) and calls `emit` once per finished biflow; ntg_capture_close() releases the
 * libpcap handles and the FILE (they live outside the core allocator, so a host that may unwind
 * must call it from a cleanup callback).  Definitions: docs/capture.md and docs/definitions.md.
 */
#ifndef NTG_CAPTURE_H
#define NTG_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/ntg_core.h"

#define NTG_CAP_DEFAULT_N		10
#define NTG_CAP_MAX_N			1000
#define NTG_CAP_SNI_MAX			255
/* A pcapng packet comment that starts with this names the class of the packet's biflow (the
 * capture writer, pcapout.h, puts one on the first packet of each biflow). */
#define NTG_CAP_LABEL_PREFIX	"ntg-label: "

/* Why a packet did not count towards a biflow. */
typedef enum NtgSkipReason
{
	NTG_SKIP_NON_IP = 0,		/* link layer carries something else (ARP, LLDP, ...) */
	NTG_SKIP_NON_TCP_UDP,		/* IP, but ICMP, ESP, GRE, tunnels ... */
	NTG_SKIP_TRUNCATED,			/* captured bytes end inside a link/IP/TCP/UDP header */
	NTG_SKIP_BAD_HEADER,		/* header fields impossible (version, lengths) */
	NTG_SKIP_FRAGMENT,			/* non-first IP fragment whose datagram's first fragment was not
								 * attributed (not seen within the fragment timeout) */
	NTG_SKIP_UNSUPPORTED_LINK,	/* pcapng interface with a link type we do not decode */
	NTG_SKIP_FILTERED,			/* rejected by the libpcap filter expression */
	NTG_SKIP_NREASONS
} NtgSkipReason;

extern const char *const ntg_skip_reason_names[NTG_SKIP_NREASONS];

/* How the client of a biflow is found (docs/capture.md, "Client"). */
typedef enum NtgClientRule
{
	NTG_CLIENT_PORT = 0,		/* SYN / SYN+ACK when seen, else the port rule, else first sender */
	NTG_CLIENT_FIRST			/* sender of the first packet (receiver of a first SYN+ACK) */
} NtgClientRule;

typedef struct NtgCaptureOptions
{
	int			n;					/* signed PLs kept per biflow, 0..NTG_CAP_MAX_N */
	double		idle_timeout;		/* seconds; <= 0 turns it off */
	double		active_timeout;		/* seconds; <= 0 turns it off */
	const char *filter;				/* libpcap expression or NULL */
	double		progress_seconds;	/* a progress line at most this often; <= 0 none */
	bool		split_on_syn;		/* a SYN on a closed TCP connection starts a new biflow */
	NtgClientRule client_rule;
	bool		decapsulate;		/* biflows of the packets inside tunnels (tunnel.c) */
	size_t		memory_limit;		/* bytes the biflow table may hold; 0 = no limit */
} NtgCaptureOptions;

/* Limits of the capture filter (a longer one would take libpcap minutes to compile). */
#define NTG_FILTER_MAX_LEN		4096
#define NTG_FILTER_MAX_TERMS	64

void		ntg_capture_default_options(NtgCaptureOptions *o);

/* One finished biflow.  Addresses are 4 (IPv4) or 16 bytes; pl holds npl signed values. */
typedef struct NtgBiflow
{
	uint8_t		family;				/* 4 or 6 */
	uint8_t		protocol;			/* 6 TCP, 17 UDP */
	uint16_t	cli_port;
	uint16_t	srv_port;
	uint8_t		cli_addr[16];
	uint8_t		srv_addr[16];
	int64_t		first_ns;			/* Unix time, nanoseconds */
	int64_t		last_ns;
	uint64_t	packets[2];			/* [0] client->server (up), [1] server->client (down) */
	uint64_t	bytes[2];			/* IP bytes from the IP length fields */
	uint64_t	payload_bytes[2];
	uint64_t	payload_packets;
	int			npl;
	const int32_t *pl;
	const char *sni;				/* NULL when no ClientHello with server_name was seen */
	const char *label;				/* from an NTG_CAP_LABEL_PREFIX comment, or NULL */
} NtgBiflow;

/* Returns 0 to go on; anything else stops the import (the status is passed back). */
typedef int (*NtgBiflowEmit) (const NtgBiflow *flow, void *arg);

typedef struct NtgCaptureStats
{
	uint64_t	packets;			/* packet records read */
	uint64_t	packets_attributed;	/* packets counted in a biflow */
	uint64_t	bytes_read;			/* capture bytes consumed */
	uint64_t	biflows;
	uint64_t	skipped[NTG_SKIP_NREASONS];
	uint64_t	pl_over_smallint;	/* PL values with |PL| > 32767 */
	uint64_t	fragments;			/* non-first IP fragments attributed to a biflow */
	uint64_t	ended_early;		/* biflows emitted early to stay within memory_limit */
	size_t		peak_memory;		/* the biflow table's largest size, bytes */
	bool		damaged;			/* reading stopped early at damaged/cut data */
	char		damage[NTG_ERRMSG_LEN];	/* where and why (for a WARNING) */
	char		format[16];			/* "pcap", "pcap-ns", "pcapng" */
	int			linktype;			/* first interface's link type */
} NtgCaptureStats;

typedef struct NtgCaptureReader NtgCaptureReader;

/* Open a capture file / a capture held in memory (bytes are not copied: keep them alive). */
int			ntg_capture_open_file(const char *path, NtgCaptureReader **out, NtgError *err);
int			ntg_capture_open_memory(const uint8_t *data, size_t len, NtgCaptureReader **out,
									NtgError *err);

/* Read everything; emit biflows as they finish.  Damage after the header is not an error: the
 * import stops there and stats->damaged / stats->damage say where. */
int			ntg_capture_run(NtgCaptureReader *r, const NtgCaptureOptions *opt,
							NtgBiflowEmit emit, void *arg, NtgCaptureStats *stats, NtgError *err);

/* Release libpcap handles, the FILE and the reader itself; NULL is fine. */
void		ntg_capture_close(NtgCaptureReader *r);

#endif							/* NTG_CAPTURE_H */
