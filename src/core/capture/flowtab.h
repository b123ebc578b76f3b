/*
 * flowtab.h — the biflow table: a hash table of live biflows keyed by protocol and the unordered
 * pair of endpoints, with two intrusive lists (by last packet, by creation) so that idle and
 * active timeouts expire flows in O(1) per packet, and memory stays within a limit by emitting
 * the flows idle the longest early when the limit is reached.
 */
#ifndef NTG_CAPTURE_FLOWTAB_H
#define NTG_CAPTURE_FLOWTAB_H

#include "capture/capture.h"
#include "capture/decode.h"

typedef struct NtgFlowTable NtgFlowTable;

/*
 * Where a packet went: the flow's serial number (unique in the table's life), the packet's
 * side, and the index of its PL in the flow's sequence (-1: none).  The fragment tracker keeps it
 * to add a datagram's later fragments to the same biflow and its payload to the same PL value.
 */
typedef struct NtgFlowRef
{
	uint64_t	serial;
	bool		from_a;			/* sender is the key's endpoint a */
	bool		has_payload;	/* the datagram's payload is already counted */
	int32_t		slot;
} NtgFlowRef;

/* The smallest memory_limit the table honours (one chunk of flows and its hash buckets). */
#define NTG_FLOWTAB_MIN_MEMORY	(1024 * 1024)

NtgFlowTable *ntg_flowtab_create(const NtgCaptureOptions *opt, NtgBiflowEmit emit, void *arg);

/* Account one decoded packet at time ts_ns; expired flows are emitted first.  Returns 0, or the
 * non-zero value of emit, or NTG_ERR_NOMEM.  ref (may be NULL) receives where it went. */
int			ntg_flowtab_add(NtgFlowTable *t, const NtgPacket *pkt, int64_t ts_ns);
int			ntg_flowtab_add_ref(NtgFlowTable *t, const NtgPacket *pkt, int64_t ts_ns,
								NtgFlowRef *ref);

/*
 * Add `packets` later fragments (ip_bytes IP bytes, payload transport payload bytes) of a
 * datagram whose first fragment went to ref, seen from first_ns to last_ns.  pkt gives the
 * endpoints (those of the first fragment).  Returns 1 when added, 0 when that biflow has ended
 * meanwhile, or a negative status.  A payload that the first fragment did not carry becomes the
 * datagram's PL.
 */
int			ntg_flowtab_add_fragments(NtgFlowTable *t, const NtgPacket *pkt, NtgFlowRef *ref,
									  int64_t first_ns, int64_t last_ns, uint32_t packets,
									  uint64_t ip_bytes, uint32_t payload);

/*
 * Warm the caches for a packet that will be added soon (the caller decodes a few packets ahead):
 * stage 0 computes its hash (kept in pkt->flow_hash) and prefetches its hash bucket, stage 1,
 * issued some packets later, prefetches the flow the bucket points to.  Only a hint: adding works
 * the same without it.
 */
void		ntg_flowtab_prefetch(NtgFlowTable *t, NtgPacket *pkt, int stage);

/* Give the flow of the packet last added this label, unless it has one (copied; len bytes,
 * cut at a NUL).  Returns 0 or NTG_ERR_NOMEM. */
int			ntg_flowtab_label(NtgFlowTable *t, const char *label, size_t len);

/* Emit every remaining flow in the order the flows began. */
int			ntg_flowtab_flush(NtgFlowTable *t);

uint64_t	ntg_flowtab_emitted(const NtgFlowTable *t);
uint64_t	ntg_flowtab_live(const NtgFlowTable *t);
uint64_t	ntg_flowtab_pl_over_smallint(const NtgFlowTable *t);
uint64_t	ntg_flowtab_ended_early(const NtgFlowTable *t);
size_t		ntg_flowtab_memory(const NtgFlowTable *t);	/* bytes held now */
size_t		ntg_flowtab_peak_memory(const NtgFlowTable *t);

void		ntg_flowtab_destroy(NtgFlowTable *t);

#endif							/* NTG_CAPTURE_FLOWTAB_H */
