/*
 * ntg_core.h — what every part of the plain-C core shares: status codes, the error record,
 * and the allocator / interrupt hooks through which the host (a backend, a worker, a test binary)
 * gives the core its memory and its cancel checks.
 *
 * The core never includes postgres.h.  Inside PostgreSQL the glue (src/pg/ntg_hooks.c) points the
 * allocator at a memory context, so an error or a cancel that unwinds through core code leaks
 * nothing, and points the interrupt hook at CHECK_FOR_INTERRUPTS().
 */
#ifndef NTG_CORE_H
#define NTG_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

/* Status codes returned by core functions; the glue maps each to an SQLSTATE. */
typedef enum NtgStatus
{
	NTG_OK = 0,
	NTG_ERR_INVALID_ARG = -1,	/* caller's argument out of range -> 22023 */
	NTG_ERR_CORRUPT = -2,		/* damaged or foreign bytes -> XX001 data_corrupted */
	NTG_ERR_NOMEM = -3,			/* allocation failed -> 53200 */
	NTG_ERR_IO = -4,			/* file could not be opened or read -> 58030 */
	NTG_ERR_UNSUPPORTED = -5,	/* valid input we do not handle -> 0A000 */
	NTG_ERR_BAD_FORMAT = -6,	/* input is not what it claims to be -> 22P04 bad_copy_file_format */
	NTG_ERR_INTERNAL = -7,		/* cannot happen -> XX000 */
	NTG_ERR_LIMIT = -8,			/* beyond a configured limit -> 54000 program_limit_exceeded */
	NTG_ERR_NO_DEVICE = -9,		/* a CUDA device was asked for and none is usable -> 55000 */
	NTG_ERR_DEVICE = -10		/* the CUDA device failed during work -> 58000 system_error */
} NtgStatus;

#define NTG_ERRMSG_LEN 256

/* An error record: a status and a message in PostgreSQL's style (lowercase, no trailing period). */
typedef struct NtgError
{
	NtgStatus	code;
	char		msg[NTG_ERRMSG_LEN];
	char		detail[NTG_ERRMSG_LEN];
	char		hint[NTG_ERRMSG_LEN];
} NtgError;

/* Set *err (when not NULL) and return code, so that callers can write `return ntg_error(...)`. */
int			ntg_error(NtgError *err, NtgStatus code, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
/* Add a detail / a hint sentence to an error already set. */
void		ntg_error_detail(NtgError *err, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
void		ntg_error_hint(NtgError *err, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
void		ntg_error_clear(NtgError *err);
const char *ntg_status_name(NtgStatus code);

/* ---- memory -------------------------------------------------------------------------------- */

typedef struct NtgAllocator
{
	void	   *(*alloc) (size_t size, void *ctx);	/* may return NULL */
	void	   *(*realloc) (void *ptr, size_t size, void *ctx);
	void		(*free) (void *ptr, void *ctx);
	void	   *ctx;
	size_t		(*size) (void *ptr, void *ctx);	/* bytes a block takes; NULL: not counted */
} NtgAllocator;

/* Install an allocator; NULL restores malloc/realloc/free.  Not thread-safe: set once per process
 * or around a call.  Resets the byte counters below. */
void		ntg_set_allocator(const NtgAllocator *a);

/*
 * Bytes the core holds through ntg_malloc & co. (as the allocator's size() counts them), and the
 * highest value since ntg_mem_reset_peak(): the training driver reports the peak memory of a
 * training with it.  Memory released without ntg_free (a host deleting a memory context
 * wholesale) is not subtracted, so compare differences taken around one operation.
 */
void		ntg_mem_reset_peak(void);
int64_t		ntg_mem_live(void);
int64_t		ntg_mem_peak(void);

void	   *ntg_malloc(size_t size);			/* NULL on failure */
void	   *ntg_calloc(size_t n, size_t size);	/* zeroed; NULL on failure or overflow */
void	   *ntg_realloc(void *ptr, size_t size);
void		ntg_free(void *ptr);				/* NULL is fine */
char	   *ntg_strdup(const char *s);
/*
 * size bytes at an NTG_ALIGN-byte boundary (zeroed by the calloc form), released only with
 * ntg_free_aligned: weight buffers, whose rows the one-row products then read without
 * straddling cache lines (bench/aligned_rows.sh).
 */
#define NTG_ALIGN 64
void	   *ntg_malloc_aligned(size_t size);
void	   *ntg_calloc_aligned(size_t n, size_t size);
void		ntg_free_aligned(void *ptr);	/* NULL is fine */
/*
 * Fault in the whole pages of [ptr, ptr + len) for writing with one system call (Linux 5.14+,
 * MADV_POPULATE_WRITE; elsewhere, or when refused, nothing: the pages fault in one by one as they
 * are written).  For fresh memory about to be written piece by piece: on a virtual machine each
 * page fault costs several microseconds, far more than the copy into the page.
 */
void		ntg_mem_populate(void *ptr, size_t len);

/*
 * Resources other than memory (a CUDA device's buffers) that belong to an object allocated with
 * ntg_malloc.  A host that releases memory wholesale (a backend resetting or deleting a memory
 * context after an error or a cancel) runs the registered function first, so those resources go
 * with the memory; ntg_cleanup_register returns the guard of the registration, or NULL when the
 * host has no such hook (a test binary: only the explicit release frees them).  Whoever releases
 * the resources explicitly calls ntg_cleanup_cancel(guard) first, so that fn never runs twice.
 * The guard belongs to the host (a backend allocates it in the same memory context).
 */
typedef struct NtgCleanup
{
	void		(*fn) (void *arg);	/* NULL once cancelled */
	void	   *arg;
} NtgCleanup;
typedef NtgCleanup *(*NtgCleanupHook) (void (*fn) (void *arg), void *arg);
void		ntg_set_cleanup_hook(NtgCleanupHook hook);
NtgCleanup *ntg_cleanup_register(void (*fn) (void *arg), void *arg);
void		ntg_cleanup_cancel(NtgCleanup *guard);	/* NULL is fine */

/* ---- interrupts ---------------------------------------------------------------------------- */

/*
 * Long loops in the core call ntg_check_interrupts() often (at least every ~10 ms of work).
 * Inside a backend the hook runs CHECK_FOR_INTERRUPTS(), which may not return (it longjmps);
 * core code therefore keeps all its memory in the allocator above and holds no other resource
 * across the call except ones the glue registered for cleanup.
 */
typedef void (*NtgInterruptHook) (void);
void		ntg_set_interrupt_hook(NtgInterruptHook hook);
void		ntg_check_interrupts(void);

/* Progress / log lines from long operations (epoch losses, packets read); NULL drops them. */
typedef void (*NtgLogHook) (int level, const char *msg);
#define NTG_LOG_DEBUG	0
#define NTG_LOG_INFO	1
#define NTG_LOG_NOTICE	2
#define NTG_LOG_WARNING 3
void		ntg_set_log_hook(NtgLogHook hook);
void		ntg_log(int level, const char *fmt,...) __attribute__((format(printf, 2, 3)));

#endif							/* NTG_CORE_H */
