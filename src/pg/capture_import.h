/*
 * capture_import.h — what import_pcap (capture_sql.c) and import_pcaps (capture_files.c) share:
 * their argument positions, the target's name, and the generic INSERT ... SELECT path.
 */
#ifndef NTG_CAPTURE_IMPORT_H
#define NTG_CAPTURE_IMPORT_H

#include "postgres.h"

#include "fmgr.h"

#include "capture/capture.h"

/* (source, dataset, label, n, idle_timeout, active_timeout, filter, target, split_on_syn,
 *  client_rule, decapsulate) */
#define CAPTURE_IMPORT_N_ARG		3
#define CAPTURE_IMPORT_TARGET_ARG	7
#define CAPTURE_IMPORT_SPLIT_ARG	8

/* schema.table of a relation OID, quoted; ERROR 42P01 when it is gone. */
const char *capture_target_name(Oid target);

/* ERROR unless the caller may EXECUTE ntg.read_pcap (which the generic path calls). */
void		capture_check_read_pcap_execute(bool is_bytea);

/* import_pcap(s)'s arguments n ... decapsulate in read_pcap's order (7 of them). */
void		capture_read_options(FunctionCallInfo fcinfo, Datum *opts, bool *optsnull);

/*
 * INSERT INTO name (...) SELECT dataset, label, source, r.* FROM ntg.read_pcap(source, ...) r.
 * fixed: dataset, label, source (CAPTURE_BULK_FIXED); opts: read_pcap's 7 arguments after the
 * source.  Returns the rows inserted; *st gets read_pcap's figures.
 */
uint64		capture_import_generic(const char *name, bool is_bytea, Datum source,
								   const Datum *fixed, const bool *fixednull, const Datum *opts,
								   const bool *optsnull, NtgCaptureStats *st);

#endif							/* NTG_CAPTURE_IMPORT_H */
