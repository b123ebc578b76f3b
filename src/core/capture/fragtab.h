/*
 * fragtab.h — IP fragments attributed to their datagram's biflow.
 *
 * Only a datagram's first fragment carries the transport header (ports, TCP flags); the later
 * fragments carry its identification (IPv4 identification with the addresses and protocol, IPv6
 * fragment identification with the addresses).  The table remembers, per datagram, where its
 * first fragment went (a biflow, a PL slot), so that every later fragment adds its packet and IP
 * bytes to that biflow — and, for TCP, its payload bytes to the datagram's one PL value (for UDP
 * the first fragment's UDP length already gives the whole datagram's payload).  Fragments that
 * come before their first fragment wait, as counts only.  A datagram is forgotten when all its
 * bytes were seen, after NTG_FRAG_TIMEOUT_NS of capture time, or when NTG_FRAG_MAX datagrams are
 * pending and a new one comes (the oldest goes); its fragments never attributed are then counted
 * in skipped.fragment.  No payload bytes are kept: memory is at most NTG_FRAG_MAX small entries.
 */
#ifndef NTG_CAPTURE_FRAGTAB_H
#define NTG_CAPTURE_FRAGTAB_H

#include "capture/flowtab.h"

#define NTG_FRAG_TIMEOUT_NS	(30LL * 1000000000LL)	/* Linux's ipfrag_time */
#define NTG_FRAG_MAX		16384

typedef struct NtgFragTable NtgFragTable;

/* Counts go to st: packets_attributed and fragments when attributed, skipped[FRAGMENT] if not. */
NtgFragTable *ntg_fragtab_create(NtgFlowTable *flows, NtgCaptureStats *st);

/* A first fragment p went to ref: attribute the fragments that came before it, remember it. */
int			ntg_fragtab_first(NtgFragTable *ft, const NtgPacket *p, int64_t ts_ns,
							  const NtgFlowRef *ref);

/* A later fragment (decode returned NTG_SKIP_FRAGMENT with frag == NTG_FRAG_LATER). */
int			ntg_fragtab_later(NtgFragTable *ft, const NtgPacket *p, int64_t ts_ns);

/* End of the capture: what still waits is counted as skipped.  Then destroy. */
void		ntg_fragtab_finish(NtgFragTable *ft);
void		ntg_fragtab_destroy(NtgFragTable *ft);

uint64_t	ntg_fragtab_pending(const NtgFragTable *ft);	/* datagrams remembered now */

#endif							/* NTG_CAPTURE_FRAGTAB_H */
