/*
 * capture_bulk.h — batched insertion of imported biflows into a plain table, the way COPY FROM
 * does it (table_multi_insert + per-tuple index insertion), for ntg.import_pcap.
 */
#ifndef NTG_CAPTURE_BULK_H
#define NTG_CAPTURE_BULK_H

#include "postgres.h"

/* The columns import_pcap fills: dataset, label, source, then read_pcap's first 16 columns
 * (its 17th, the label of a packet comment, fills label where the import gives none). */
#define CAPTURE_BULK_FIXED 3
#define CAPTURE_BULK_READ_COLS 16
#define CAPTURE_BULK_COLS (CAPTURE_BULK_FIXED + CAPTURE_BULK_READ_COLS)

typedef struct CaptureBulk CaptureBulk;

extern const char *const capture_bulk_column_names[CAPTURE_BULK_COLS];

/*
 * Prepare batched insertion into target, checking INSERT privilege as the caller.  Returns NULL
 * (and *why) when the target needs the generic INSERT path: not a plain table, a partition, rules,
 * triggers, row-level security, a column missing or of another type, a volatile default.
 * fixed/fixednull: dataset, label, source, the same in every row.
 */
extern CaptureBulk *capture_bulk_begin(Oid target, const Datum *fixed, const bool *fixednull,
									   const char **why);

/* Dataset, label and source of the rows added from now on (they are copied into each row). */
extern void capture_bulk_set_fixed(CaptureBulk *bulk, const Datum *fixed, const bool *fixednull);

/* Add one biflow (read_pcap's 17 columns); flushes a full batch. */
extern void capture_bulk_add(CaptureBulk *bulk, const Datum *values, const bool *nulls);

/* Flush the last batch, release everything; returns the number of rows inserted. */
extern uint64 capture_bulk_end(CaptureBulk *bulk);

#endif
