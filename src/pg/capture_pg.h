/*
 * capture_pg.h — what the capture glue files share: the import options from SQL arguments and
 * GUCs, biflow rows as datums, reading captures with the reader closed on error or cancel
 * (in the backend, or in background workers: capture_workers.c), and the outcome warnings.
 */
#ifndef NTG_CAPTURE_PG_H
#define NTG_CAPTURE_PG_H

#include "postgres.h"

#include "fmgr.h"

#include "capture/capture.h"

/* read_pcap's columns: the 16 of a biflow (pl integer[]), then the label of its packet comment.
 * 0.1.0's read_pcap (a database not yet updated) has 17 others: pl smallint[] (clipped),
 * pl_full integer[], sni, no label. */
#define CAPTURE_ROW_COLS 17
#define CAPTURE_ROW_COLS_V010 17

/* import_pcap reads a capture file at least this large in a background worker. */
#define CAPTURE_WORKER_MIN_BYTES (16 * 1024 * 1024)

/* GUCs: ntg.import_memory (kB, -1 = maintenance_work_mem), ntg.import_workers. */
extern int	ntg_import_memory;
extern int	ntg_import_workers;
void		capture_define_gucs(void);

/* The biflow table's memory limit in bytes, from ntg.import_memory. */
size_t		capture_memory_limit(void);

/*
 * Options from the arguments of a capture function: n, idle_timeout, active_timeout and filter
 * from argument n_arg on, split_on_syn, client_rule and decapsulate from argument split_arg on;
 * the memory limit from the GUC.  Checks them (ereport on a bad value).
 */
void		capture_options_from_args(FunctionCallInfo fcinfo, int n_arg, int split_arg,
									  NtgCaptureOptions *opt);

/* ERROR 42501 unless the caller may read server files (pg_read_server_files, as COPY). */
void		capture_check_read_privilege(const char *path);

/* read_pcap's columns of one biflow, allocated in the current memory context. */
void		capture_row_values(const NtgBiflow *f, Datum *values, bool *nulls);

/* The same as 0.1.0's read_pcap returned them, for a database not yet updated. */
void		capture_row_values_v010(const NtgBiflow *f, Datum *values, bool *nulls);

/* {"non_ip": 3, ...}: packets not in a biflow, by reason. */
Datum		capture_skipped_jsonb(const NtgCaptureStats *st);

/* WARNINGs after reading `what`: damage, biflows ended early. */
void		capture_report_outcome(const char *what, const NtgCaptureStats *st);

/* 0.1.0's WARNING about PLs beyond smallint, clipped in its pl column. */
void		capture_report_clipped_v010(const char *what, const NtgCaptureStats *st);

/* A biflow read from file number `file` of a multi-file read. */
typedef void (*CaptureRowSink) (int file, const NtgBiflow *f, void *arg);

/*
 * Read one capture in this backend (data != NULL: its bytes; else path), handing each biflow to
 * sink (as file 0).  Core errors are raised (ERROR); damage is left in *st for the caller.
 */
void		capture_read_one(const char *path, const uint8_t *data, size_t len,
							 const NtgCaptureOptions *opt, CaptureRowSink sink, void *arg,
							 NtgCaptureStats *st);

/* The same, but a core error is returned in *err instead of raised; NTG_OK or its code. */
int			capture_try_read_one(const char *path, const NtgCaptureOptions *opt,
								 CaptureRowSink sink, int file, void *arg, NtgCaptureStats *st,
								 NtgError *err);

/*
 * Read files 0 .. nfiles-1 in up to `workers` background workers, handing every biflow to sink
 * (in this backend, in the order they arrive) and each file's figures or error to done.  Returns
 * the number of workers that ran; 0 when none could be started (then nothing was read and the
 * caller reads the files itself).
 */
typedef void (*CaptureFileDone) (int file, const NtgCaptureStats *st, const NtgError *err,
								 void *arg);
int			capture_read_parallel(char **paths, int nfiles, const NtgCaptureOptions *opt,
								  int workers, CaptureRowSink sink, CaptureFileDone done,
								  void *arg);

#endif							/* NTG_CAPTURE_PG_H */
