/*
 * flowtab.h — the biflow table: a hash table of live biflows keyed by protocol and the unordered
 * pair of endpoints, with two intrusive lists (by last packet, by creation) so that idle and
 * active timeouts expire flows in O(1) per packet and memory stays bounded by the live flows.
 */
#ifndef NTG_CAPTURE_FLOWTAB_H
#define NTG_CAPTURE_FLOWTAB_H

#include "capture/capture.h"
#include "capture/decode.h"

typedef struct NtgFlowTable NtgFlowTable;

NtgFlowTable *ntg_flowtab_create(const NtgCaptureOptions *opt, NtgBiflowEmit emit, void *arg);

/* Account one decoded packet at time ts_ns; expired flows are emitted first.  Returns 0, or the
 * non-zero value of emit, or NTG_ERR_NOMEM. */
int			ntg_flowtab_add(NtgFlowTable *t, const NtgPacket *pkt, int64_t ts_ns);

/* Give the flow of the packet last added this label, unless it has one (copied; len bytes,
 * cut at a NUL).  Returns 0 or NTG_ERR_NOMEM. */
int			ntg_flowtab_label(NtgFlowTable *t, const char *label, size_t len);

/* Emit every remaining flow in the order the flows began. */
int			ntg_flowtab_flush(NtgFlowTable *t);

uint64_t	ntg_flowtab_emitted(const NtgFlowTable *t);
uint64_t	ntg_flowtab_live(const NtgFlowTable *t);
uint64_t	ntg_flowtab_pl_over_smallint(const NtgFlowTable *t);

void		ntg_flowtab_destroy(NtgFlowTable *t);

#endif							/* NTG_CAPTURE_FLOWTAB_H */
