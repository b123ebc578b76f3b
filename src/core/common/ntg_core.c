/*
 * ntg_core.c — error records and the allocator / interrupt / log hooks (see ntg_core.h).
 */
#include "common/ntg_core.h"

#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

int
ntg_error(NtgError *err, NtgStatus code, const char *fmt,...)
{
	if (err != NULL)
	{
		va_list		ap;

		err->code = code;
		err->detail[0] = '\0';
		err->hint[0] = '\0';
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

void
ntg_error_detail(NtgError *err, const char *fmt,...)
{
	va_list		ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
}

void
ntg_error_hint(NtgError *err, const char *fmt,...)
{
	va_list		ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->hint, sizeof(err->hint), fmt, ap);
	va_end(ap);
}

void
ntg_error_clear(NtgError *err)
{
	if (err != NULL)
	{
		err->code = NTG_OK;
		err->msg[0] = '\0';
		err->detail[0] = '\0';
		err->hint[0] = '\0';
	}
}

const char *
ntg_status_name(NtgStatus code)
{
	switch (code)
	{
		case NTG_OK:
			return "ok";
		case NTG_ERR_INVALID_ARG:
			return "invalid argument";
		case NTG_ERR_CORRUPT:
			return "corrupt data";
		case NTG_ERR_NOMEM:
			return "out of memory";
		case NTG_ERR_IO:
			return "i/o error";
		case NTG_ERR_UNSUPPORTED:
			return "unsupported";
		case NTG_ERR_BAD_FORMAT:
			return "bad format";
		case NTG_ERR_INTERNAL:
			return "internal error";
		case NTG_ERR_LIMIT:
			return "limit exceeded";
		case NTG_ERR_NO_DEVICE:
			return "no device";
		case NTG_ERR_DEVICE:
			return "device error";
	}
	return "unknown status";
}

/* ---- memory -------------------------------------------------------------------------------- */

static void *
default_alloc(size_t size, void *ctx)
{
	return malloc(size);
}

static void *
default_realloc(void *ptr, size_t size, void *ctx)
{
	return realloc(ptr, size);
}

static void
default_free(void *ptr, void *ctx)
{
	free(ptr);
}

static size_t
default_size(void *ptr, void *ctx)
{
	return malloc_usable_size(ptr);
}

static const NtgAllocator default_allocator = {default_alloc, default_realloc, default_free, NULL,
default_size};
static NtgAllocator current_allocator = {default_alloc, default_realloc, default_free, NULL,
default_size};

/* Bytes held through ntg_malloc & co. (see ntg_mem_live); signed, because memory allocated
 * before a reset may be freed after it. */
static int64_t mem_live = 0;
static int64_t mem_peak = 0;

static void
mem_add(void *ptr)
{
	if (ptr == NULL || current_allocator.size == NULL)
		return;
	mem_live += (int64_t) current_allocator.size(ptr, current_allocator.ctx);
	if (mem_live > mem_peak)
		mem_peak = mem_live;
}

static void
mem_sub(void *ptr)
{
	if (ptr != NULL && current_allocator.size != NULL)
		mem_live -= (int64_t) current_allocator.size(ptr, current_allocator.ctx);
}

void
ntg_set_allocator(const NtgAllocator *a)
{
	current_allocator = (a != NULL) ? *a : default_allocator;
	mem_live = mem_peak = 0;
}

void
ntg_mem_reset_peak(void)
{
	mem_peak = mem_live;
}

int64_t
ntg_mem_live(void)
{
	return mem_live;
}

int64_t
ntg_mem_peak(void)
{
	return mem_peak;
}

void *
ntg_malloc(size_t size)
{
	void	   *p = current_allocator.alloc(size == 0 ? 1 : size, current_allocator.ctx);

	mem_add(p);
	return p;
}

void *
ntg_calloc(size_t n, size_t size)
{
	void	   *p;

	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	p = ntg_malloc(n * size);
	if (p != NULL)
		memset(p, 0, n * size);
	return p;
}

void *
ntg_realloc(void *ptr, size_t size)
{
	void	   *p;
	int64_t		before;

	if (ptr == NULL)
		return ntg_malloc(size);
	before = mem_live;
	mem_sub(ptr);
	p = current_allocator.realloc(ptr, size == 0 ? 1 : size, current_allocator.ctx);
	if (p == NULL)
	{
		mem_live = before;		/* the old block is still there */
		return NULL;
	}
	mem_add(p);
	return p;
}

void
ntg_free(void *ptr)
{
	if (ptr != NULL)
	{
		mem_sub(ptr);
		current_allocator.free(ptr, current_allocator.ctx);
	}
}

/* The block ntg_malloc returned is kept in the pointer-sized slot just below the aligned
 * address. */
void *
ntg_malloc_aligned(size_t size)
{
	uint8_t    *raw;
	uintptr_t	at;

	if (size > SIZE_MAX - NTG_ALIGN - sizeof(void *))
		return NULL;
	raw = ntg_malloc(size + NTG_ALIGN + sizeof(void *));
	if (raw == NULL)
		return NULL;
	at = ((uintptr_t) raw + sizeof(void *) + NTG_ALIGN - 1) & ~(uintptr_t) (NTG_ALIGN - 1);
	((void **) at)[-1] = raw;
	return (void *) at;
}

void *
ntg_calloc_aligned(size_t n, size_t size)
{
	void	   *p;

	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	p = ntg_malloc_aligned(n * size);
	if (p != NULL)
		memset(p, 0, n * size);
	return p;
}

void
ntg_free_aligned(void *ptr)
{
	if (ptr != NULL)
		ntg_free(((void **) ptr)[-1]);
}

char *
ntg_strdup(const char *s)
{
	size_t		n = strlen(s) + 1;
	char	   *p = ntg_malloc(n);

	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

/* ---- cleanup of resources other than memory ------------------------------------------------ */

static NtgCleanupHook cleanup_hook = NULL;

void
ntg_set_cleanup_hook(NtgCleanupHook hook)
{
	cleanup_hook = hook;
}

NtgCleanup *
ntg_cleanup_register(void (*fn) (void *arg), void *arg)
{
	return cleanup_hook != NULL ? cleanup_hook(fn, arg) : NULL;
}

void
ntg_cleanup_cancel(NtgCleanup *guard)
{
	if (guard != NULL)
		guard->fn = NULL;
}

/* ---- interrupts and log lines -------------------------------------------------------------- */

static NtgInterruptHook interrupt_hook = NULL;
static NtgLogHook log_hook = NULL;

void
ntg_set_interrupt_hook(NtgInterruptHook hook)
{
	interrupt_hook = hook;
}

void
ntg_check_interrupts(void)
{
	if (interrupt_hook != NULL)
		interrupt_hook();
}

void
ntg_set_log_hook(NtgLogHook hook)
{
	log_hook = hook;
}

void
ntg_log(int level, const char *fmt,...)
{
	char		buf[1024];
	va_list		ap;

	if (log_hook == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_hook(level, buf);
}

void
ntg_mem_populate(void *ptr, size_t len)
{
#if defined(__linux__)
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
	uintptr_t	pg = 4096;
	uintptr_t	lo = ((uintptr_t) ptr + pg - 1) & ~(pg - 1);
	uintptr_t	hi = ((uintptr_t) ptr + len) & ~(pg - 1);

	if (ptr != NULL && hi > lo)
		(void) madvise((void *) lo, hi - lo, MADV_POPULATE_WRITE);
#endif
}
