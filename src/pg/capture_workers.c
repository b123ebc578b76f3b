/*
 * capture_workers.c — reading capture files in dynamic background workers, for imports of many
 * files (capture_files.c).
 *
 * The backend (the leader) puts the options, the file paths, one result slot per file and one
 * shared memory queue per worker into a DSM segment and starts up to N workers.  Each worker
 * takes the next file not yet taken (an atomic counter), reads it with the plain-C core and sends
 * every biflow to the leader through its queue as a compact binary message, then a "file done"
 * message after it wrote the file's figures (or its error) into the file's slot.  The leader
 * turns the messages into rows and inserts them (the workers only read files: they have no
 * database connection and write nothing), so the import stays one transaction of the caller.
 *
 * Workers run as the server's operating-system user, like every backend; the leader checked the
 * caller's right to read server files before it starts them.  A worker that hits a PostgreSQL
 * error stores it in its slot; the leader raises it.  When the leader ends early (error, cancel)
 * a memory-context callback terminates the workers, and their queues are detached with the DSM
 * segment, so no worker outlives the import.  Modelled on PostgreSQL's test_shm_mq module and
 * parallel.c's error handling.
 */
#include "postgres.h"

#include <unistd.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shm_mq.h"
#include "storage/shm_toc.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "capture_pg.h"
#include "ntg_glue.h"

#define CAPTURE_MAGIC		0x6e746763
#define CAPTURE_MQ_SIZE		(1024 * 1024)
#define KEY_SHARED			1
#define KEY_STRINGS			2
#define KEY_FILES			3
#define KEY_WORKERS			4
#define KEY_MQ				100

#define MSG_ROW				1
#define LABEL_MAX			65535	/* a packet comment's length fits in 16 bits */
#define MSG_FILE_DONE		2

typedef struct CaptureShared
{
	NtgCaptureOptions opt;		/* opt.filter is replaced by filter_off */
	Size		filter_off;		/* offset of the filter in the strings, 0 = none */
	int			nfiles;
	int			nworkers;
	pg_atomic_uint32 next_file;
	Size		path_off[FLEXIBLE_ARRAY_MEMBER];
} CaptureShared;

typedef struct FileSlot
{
	NtgCaptureStats st;
	NtgError	err;
} FileSlot;

typedef struct WorkerSlot
{
	bool		finished;		/* left its loop: every file it took is done */
	int			sqlerrcode;		/* a PostgreSQL error that stopped it, 0 = none */
	char		message[NTG_ERRMSG_LEN];
} WorkerSlot;

/* One biflow on the queue; npl int32 values, snilen bytes of SNI and labellen bytes of label
 * follow. */
typedef struct RowMsg
{
	uint8		kind;
	uint8		family;
	uint8		protocol;
	uint8		pad;
	int32		file;
	uint16		cli_port;
	uint16		srv_port;
	int32		npl;
	int32		snilen;			/* -1: no SNI */
	int32		labellen;		/* -1: no label */
	uint8		cli_addr[16];
	uint8		srv_addr[16];
	int64		first_ns;
	int64		last_ns;
	uint64		packets[2];
	uint64		bytes[2];
	uint64		payload_bytes[2];
	uint64		payload_packets;
} RowMsg;

#define ROW_MSG_MAX (sizeof(RowMsg) + sizeof(int32) * NTG_CAP_MAX_N + NTG_CAP_SNI_MAX + LABEL_MAX)

/* exported by name (the Makefile's export list takes PGDLLEXPORT mains): the postmaster finds it */
PGDLLEXPORT void ntg_capture_worker_main(Datum arg);

/* ---- worker side ------------------------------------------------------------------------- */

typedef struct WorkerState
{
	shm_mq_handle *mqh;
	int			file;
	char	   *buf;
	bool		leader_gone;
} WorkerState;

static int
send_row(const NtgBiflow *f, void *arg)
{
	WorkerState *w = (WorkerState *) arg;
	RowMsg	   *m = (RowMsg *) w->buf;
	int			snilen = f->sni ? (int) strlen(f->sni) : -1;
	int			labellen = f->label ? (int) Min(strlen(f->label), LABEL_MAX) : -1;
	Size		len = sizeof(RowMsg) + sizeof(int32) * f->npl + (snilen > 0 ? snilen : 0) +
		(labellen > 0 ? labellen : 0);
	char	   *tail;

	memset(m, 0, sizeof(RowMsg));
	m->kind = MSG_ROW;
	m->family = f->family;
	m->protocol = f->protocol;
	m->file = w->file;
	m->cli_port = f->cli_port;
	m->srv_port = f->srv_port;
	m->npl = f->npl;
	m->snilen = snilen;
	m->labellen = labellen;
	memcpy(m->cli_addr, f->cli_addr, 16);
	memcpy(m->srv_addr, f->srv_addr, 16);
	m->first_ns = f->first_ns;
	m->last_ns = f->last_ns;
	memcpy(m->packets, f->packets, sizeof(m->packets));
	memcpy(m->bytes, f->bytes, sizeof(m->bytes));
	memcpy(m->payload_bytes, f->payload_bytes, sizeof(m->payload_bytes));
	m->payload_packets = f->payload_packets;
	tail = w->buf + sizeof(RowMsg);
	memcpy(tail, f->pl, sizeof(int32) * f->npl);
	tail += sizeof(int32) * f->npl;
	if (snilen > 0)
		memcpy(tail, f->sni, snilen);
	tail += snilen > 0 ? snilen : 0;
	if (labellen > 0)
		memcpy(tail, f->label, labellen);
	if (shm_mq_send(w->mqh, len, w->buf, false, false) != SHM_MQ_SUCCESS)
	{
		w->leader_gone = true;
		return -1;
	}
	return 0;
}

/* Read one file into the queue; its figures or error into its slot. */
static void
worker_file(CaptureShared *sh, char *strings, FileSlot *slot, WorkerState *w)
{
	NtgCaptureReader *r = NULL;
	NtgCaptureOptions opt = sh->opt;
	const char *path = strings + sh->path_off[w->file];
	int			rc;

	opt.filter = sh->filter_off ? strings + sh->filter_off : NULL;
	opt.progress_seconds = 0;	/* nobody would see the lines */
	ntg_error_clear(&slot->err);
	rc = ntg_capture_open_file(path, &r, &slot->err);
	if (rc == NTG_OK)
		rc = ntg_capture_run(r, &opt, send_row, w, &slot->st, &slot->err);
	ntg_capture_close(r);
	if (rc != NTG_OK && slot->err.code == NTG_OK)
		ntg_error(&slot->err, rc, "capture could not be read");
}

void
ntg_capture_worker_main(Datum arg)
{
	dsm_segment *seg;
	shm_toc    *toc;
	CaptureShared *sh;
	char	   *strings;
	FileSlot   *files;
	WorkerSlot *me;
	shm_mq	   *mq;
	WorkerState w;
	int			index;
	MemoryContext ctx;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	memcpy(&index, MyBgworkerEntry->bgw_extra, sizeof(int));
	CurrentResourceOwner = ResourceOwnerCreate(NULL, "ntg capture worker");
	seg = dsm_attach(DatumGetUInt32(arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("could not map the shared memory segment of a capture import")));
	toc = shm_toc_attach(CAPTURE_MAGIC, dsm_segment_address(seg));
	if (toc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("invalid magic number in the shared memory segment of a capture import")));
	sh = shm_toc_lookup(toc, KEY_SHARED, false);
	strings = shm_toc_lookup(toc, KEY_STRINGS, false);
	files = shm_toc_lookup(toc, KEY_FILES, false);
	me = &((WorkerSlot *) shm_toc_lookup(toc, KEY_WORKERS, false))[index];
	mq = shm_toc_lookup(toc, KEY_MQ + index, false);
	shm_mq_set_sender(mq, MyProc);
	memset(&w, 0, sizeof(w));
	w.mqh = shm_mq_attach(mq, seg, NULL);
	ctx = AllocSetContextCreate(TopMemoryContext, "ntg capture worker", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(ctx);
	w.buf = palloc(ROW_MSG_MAX);

	PG_TRY();
	{
		for (;;)
		{
			RowMsg		done;

			w.file = (int) pg_atomic_fetch_add_u32(&sh->next_file, 1);
			if (w.file >= sh->nfiles)
				break;
			worker_file(sh, strings, &files[w.file], &w);
			if (w.leader_gone)
				break;
			memset(&done, 0, sizeof(done));
			done.kind = MSG_FILE_DONE;
			done.file = w.file;
			if (shm_mq_send(w.mqh, sizeof(done), &done, false, true) != SHM_MQ_SUCCESS)
				break;
			MemoryContextReset(ctx);
			w.buf = palloc(ROW_MSG_MAX);
		}
		me->finished = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(ctx);
		edata = CopyErrorData();
		me->sqlerrcode = edata->sqlerrcode;
		strlcpy(me->message, edata->message ? edata->message : "unknown error", sizeof(me->message));
		PG_RE_THROW();
	}
	PG_END_TRY();
	shm_mq_detach(w.mqh);
	dsm_detach(seg);
}

/* ---- leader side ------------------------------------------------------------------------- */

typedef struct Leader
{
	int			nworkers;
	BackgroundWorkerHandle *handle[64];
	MemoryContextCallback cb;
	bool		done;
} Leader;

/* The import ends (normally, or by an error or a cancel): no worker outlives it. */
static void
leader_cleanup(void *arg)
{
	Leader	   *l = (Leader *) arg;

	if (l->done)
		return;
	for (int i = 0; i < l->nworkers; i++)
		TerminateBackgroundWorker(l->handle[i]);
}

static Size
strings_size(char **paths, int nfiles, const NtgCaptureOptions *opt)
{
	Size		sz = 1 + (opt->filter ? strlen(opt->filter) + 1 : 0);

	for (int i = 0; i < nfiles; i++)
		sz = add_size(sz, strlen(paths[i]) + 1);
	return sz;
}

static dsm_segment *
setup_segment(char **paths, int nfiles, const NtgCaptureOptions *opt, int nworkers,
			  shm_toc **toc_out)
{
	shm_toc_estimator e;
	Size		shared = add_size(offsetof(CaptureShared, path_off), mul_size(nfiles, sizeof(Size)));
	Size		strsz = strings_size(paths, nfiles, opt);
	Size		off = 1;
	dsm_segment *seg;
	shm_toc    *toc;
	CaptureShared *sh;
	char	   *strings;

	shm_toc_initialize_estimator(&e);
	shm_toc_estimate_chunk(&e, shared);
	shm_toc_estimate_chunk(&e, strsz);
	shm_toc_estimate_chunk(&e, mul_size(nfiles, sizeof(FileSlot)));
	shm_toc_estimate_chunk(&e, mul_size(nworkers, sizeof(WorkerSlot)));
	for (int i = 0; i < nworkers; i++)
		shm_toc_estimate_chunk(&e, CAPTURE_MQ_SIZE);
	shm_toc_estimate_keys(&e, 4 + nworkers);
	seg = dsm_create(shm_toc_estimate(&e), 0);
	toc = shm_toc_create(CAPTURE_MAGIC, dsm_segment_address(seg), shm_toc_estimate(&e));

	sh = shm_toc_allocate(toc, shared);
	sh->opt = *opt;
	sh->opt.filter = NULL;
	sh->nfiles = nfiles;
	sh->nworkers = nworkers;
	pg_atomic_init_u32(&sh->next_file, 0);
	strings = shm_toc_allocate(toc, strsz);
	strings[0] = '\0';
	sh->filter_off = 0;
	if (opt->filter)
	{
		strcpy(strings + off, opt->filter);
		sh->filter_off = off;
		off += strlen(opt->filter) + 1;
	}
	for (int i = 0; i < nfiles; i++)
	{
		strcpy(strings + off, paths[i]);
		sh->path_off[i] = off;
		off += strlen(paths[i]) + 1;
	}
	shm_toc_insert(toc, KEY_SHARED, sh);
	shm_toc_insert(toc, KEY_STRINGS, strings);
	shm_toc_insert(toc, KEY_FILES, memset(shm_toc_allocate(toc, mul_size(nfiles, sizeof(FileSlot))),
										  0, mul_size(nfiles, sizeof(FileSlot))));
	shm_toc_insert(toc, KEY_WORKERS, memset(shm_toc_allocate(toc, mul_size(nworkers, sizeof(WorkerSlot))),
											0, mul_size(nworkers, sizeof(WorkerSlot))));
	for (int i = 0; i < nworkers; i++)
	{
		shm_mq	   *mq = shm_mq_create(shm_toc_allocate(toc, CAPTURE_MQ_SIZE), CAPTURE_MQ_SIZE);

		shm_mq_set_receiver(mq, MyProc);
		shm_toc_insert(toc, KEY_MQ + i, mq);
	}
	*toc_out = toc;
	return seg;
}

static bool
start_worker(dsm_segment *seg, int index, BackgroundWorkerHandle **handle)
{
	BackgroundWorker w;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS;
	w.bgw_start_time = BgWorkerStart_ConsistentState;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "ntg");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "ntg_capture_worker_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "ntg capture reader %d for PID %d", index, MyProcPid);
	snprintf(w.bgw_type, BGW_MAXLEN, "ntg capture reader");
	w.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	w.bgw_notify_pid = MyProcPid;
	memcpy(w.bgw_extra, &index, sizeof(int));
	return RegisterDynamicBackgroundWorker(&w, handle);
}

/* A row message back into a biflow for the sink. */
static void
handle_row(const char *data, Size len, int nfiles, CaptureRowSink sink, void *arg,
		   MemoryContext rowctx)
{
	RowMsg		m;
	NtgBiflow	f;
	int32		pl[NTG_CAP_MAX_N];
	char		sni[NTG_CAP_SNI_MAX + 1];
	char	   *label = NULL;
	const char *tail;
	MemoryContext old;

	memcpy(&m, data, sizeof(m));
	if (m.file < 0 || m.file >= nfiles || m.npl < 0 || m.npl > NTG_CAP_MAX_N ||
		m.snilen > NTG_CAP_SNI_MAX || m.labellen > LABEL_MAX ||
		len != sizeof(RowMsg) + sizeof(int32) * m.npl + (m.snilen > 0 ? m.snilen : 0) +
		(m.labellen > 0 ? m.labellen : 0))
		elog(ERROR, "malformed message from a capture import worker");
	memset(&f, 0, sizeof(f));
	f.family = m.family;
	f.protocol = m.protocol;
	f.cli_port = m.cli_port;
	f.srv_port = m.srv_port;
	memcpy(f.cli_addr, m.cli_addr, 16);
	memcpy(f.srv_addr, m.srv_addr, 16);
	f.first_ns = m.first_ns;
	f.last_ns = m.last_ns;
	memcpy(f.packets, m.packets, sizeof(f.packets));
	memcpy(f.bytes, m.bytes, sizeof(f.bytes));
	memcpy(f.payload_bytes, m.payload_bytes, sizeof(f.payload_bytes));
	f.payload_packets = m.payload_packets;
	tail = data + sizeof(RowMsg);
	memcpy(pl, tail, sizeof(int32) * m.npl);
	tail += sizeof(int32) * m.npl;
	f.npl = m.npl;
	f.pl = pl;
	if (m.snilen >= 0)
	{
		memcpy(sni, tail, m.snilen);
		sni[m.snilen] = '\0';
		f.sni = sni;
		tail += m.snilen;
	}
	old = MemoryContextSwitchTo(rowctx);
	if (m.labellen >= 0)
	{
		label = palloc(m.labellen + 1);
		memcpy(label, tail, m.labellen);
		label[m.labellen] = '\0';
		f.label = label;
	}
	sink(m.file, &f, arg);
	MemoryContextSwitchTo(old);
	MemoryContextReset(rowctx);
}

/* A worker's queue was detached: fine if it finished, else raise what stopped it. */
static void
worker_gone(const WorkerSlot *ws)
{
	if (ws->finished)
		return;
	if (ws->sqlerrcode != 0)
		ereport(ERROR,
				(errcode(ws->sqlerrcode),
				 errmsg("capture import worker failed: %s", ws->message)));
	ereport(ERROR,
			(errcode(ERRCODE_INTERNAL_ERROR),
			 errmsg("capture import worker exited unexpectedly"),
			 errhint("The server log may say why.")));
}

int
capture_read_parallel(char **paths, int nfiles, const NtgCaptureOptions *opt, int workers,
					  CaptureRowSink sink, CaptureFileDone done, void *arg)
{
	int			nworkers = Min(Min(workers, nfiles), 64);
	dsm_segment *seg;
	shm_toc    *toc;
	FileSlot   *files;
	WorkerSlot *wslots;
	shm_mq_handle **mqh;
	bool	   *gone;
	int			active,
				ndone = 0;
	uint64		rows = 0;
	TimestampTz last;
	Leader	   *l;
	MemoryContext ctx,
				rowctx,
				old;

	if (nworkers <= 0)
		return 0;
	ctx = AllocSetContextCreate(CurrentMemoryContext, "ntg capture leader", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(ctx);
	rowctx = AllocSetContextCreate(ctx, "ntg capture row", ALLOCSET_SMALL_SIZES);
	seg = setup_segment(paths, nfiles, opt, nworkers, &toc);
	files = shm_toc_lookup(toc, KEY_FILES, false);
	wslots = shm_toc_lookup(toc, KEY_WORKERS, false);
	l = palloc0(sizeof(Leader));
	l->cb.func = leader_cleanup;
	l->cb.arg = l;
	MemoryContextRegisterResetCallback(ctx, &l->cb);
	for (int i = 0; i < nworkers; i++)
	{
		if (!start_worker(seg, i, &l->handle[i]))
			break;
		l->nworkers++;
	}
	if (l->nworkers == 0)
	{
		MemoryContextSwitchTo(old);
		dsm_detach(seg);
		MemoryContextDelete(ctx);
		return 0;
	}
	mqh = palloc(sizeof(shm_mq_handle *) * l->nworkers);
	gone = palloc0(sizeof(bool) * l->nworkers);
	for (int i = 0; i < l->nworkers; i++)
		mqh[i] = shm_mq_attach(shm_toc_lookup(toc, KEY_MQ + i, false), seg, l->handle[i]);
	MemoryContextSwitchTo(old);

	active = l->nworkers;
	last = GetCurrentTimestamp();
	while (active > 0)
	{
		bool		got = false;

		for (int i = 0; i < l->nworkers; i++)
		{
			for (int k = 0; !gone[i] && k < 256; k++)
			{
				Size		len;
				void	   *data;
				shm_mq_result res = shm_mq_receive(mqh[i], &len, &data, true);

				if (res == SHM_MQ_WOULD_BLOCK)
					break;
				if (res == SHM_MQ_DETACHED)
				{
					gone[i] = true;
					active--;
					worker_gone(&wslots[i]);
					break;
				}
				got = true;
				if (len >= sizeof(RowMsg) && ((const RowMsg *) data)->kind == MSG_ROW)
				{
					handle_row(data, len, nfiles, sink, arg, rowctx);
					rows++;
				}
				else if (len == sizeof(RowMsg) && ((const RowMsg *) data)->kind == MSG_FILE_DONE)
				{
					int			f = ((const RowMsg *) data)->file;

					if (f < 0 || f >= nfiles)
						elog(ERROR, "malformed message from a capture import worker");
					done(f, &files[f].st, &files[f].err, arg);
					ndone++;
				}
				else
					elog(ERROR, "malformed message from a capture import worker");
			}
		}
		if (!got && active > 0)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 100,
							 PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
		CHECK_FOR_INTERRUPTS();
		if (ntg_progress && TimestampDifferenceExceeds(last, GetCurrentTimestamp(), 5000))
		{
			last = GetCurrentTimestamp();
			ereport(NOTICE,
					(errmsg("read %d of %d capture files in %d workers, %llu biflows so far",
							ndone, nfiles, l->nworkers, (unsigned long long) rows)));
		}
	}
	for (int i = 0; i < l->nworkers; i++)
		WaitForBackgroundWorkerShutdown(l->handle[i]);
	l->done = true;
	dsm_detach(seg);
	MemoryContextDelete(ctx);
	return l->nworkers;
}
