/*
 * ntg_hooks.c — the core's allocator, interrupt and log hooks inside a backend, the argument checks
 * every SQL function shares, and the mapping
 * from core status codes to SQLSTATEs.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "jobs_progress.h"
#include "ntg_glue.h"

bool		ntg_progress = true;

void
ntg_pg_require_arg(FunctionCallInfo fcinfo, int i, const char *argname)
{
	if (PG_ARGISNULL(i))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", argname)));
}

char *
ntg_pg_text_arg(FunctionCallInfo fcinfo, int i, const char *argname)
{
	ntg_pg_require_arg(fcinfo, i, argname);
	return text_to_cstring(PG_GETARG_TEXT_PP(i));
}

int
ntg_pg_errcode(NtgStatus code)
{
	switch (code)
	{
		case NTG_OK:
			return ERRCODE_SUCCESSFUL_COMPLETION;
		case NTG_ERR_INVALID_ARG:
			return ERRCODE_INVALID_PARAMETER_VALUE;
		case NTG_ERR_CORRUPT:
			return ERRCODE_DATA_CORRUPTED;
		case NTG_ERR_NOMEM:
			return ERRCODE_OUT_OF_MEMORY;
		case NTG_ERR_IO:
			return ERRCODE_IO_ERROR;
		case NTG_ERR_UNSUPPORTED:
			return ERRCODE_FEATURE_NOT_SUPPORTED;
		case NTG_ERR_BAD_FORMAT:
			return ERRCODE_BAD_COPY_FILE_FORMAT;
		case NTG_ERR_INTERNAL:
			return ERRCODE_INTERNAL_ERROR;
		case NTG_ERR_LIMIT:
			return ERRCODE_PROGRAM_LIMIT_EXCEEDED;
	}
	return ERRCODE_INTERNAL_ERROR;
}

void
ntg_pg_raise(const NtgError *err)
{
	ereport(ERROR,
			(errcode(ntg_pg_errcode(err->code)),
			 errmsg_internal("%s", err->msg),
			 err->detail[0] ? errdetail_internal("%s", err->detail) : 0,
			 err->hint[0] ? errhint("%s", err->hint) : 0));
	pg_unreachable();
}

static void *
pg_alloc(size_t size, void *ctx)
{
	return MemoryContextAllocExtended(CurrentMemoryContext, size,
									  MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
}

static void *
pg_realloc(void *ptr, size_t size, void *ctx)
{
	return repalloc_huge(ptr, size);
}

static void
pg_free(void *ptr, void *ctx)
{
	pfree(ptr);
}

static size_t
pg_chunk_size(void *ptr, void *ctx)
{
	return GetMemoryChunkSpace(ptr);
}

static void
pg_check_interrupts(void)
{
	CHECK_FOR_INTERRUPTS();
}

static void
pg_log(int level, const char *msg)
{
	if (level == NTG_LOG_WARNING)
		ereport(WARNING, (errmsg_internal("%s", msg)));
	else if (level == NTG_LOG_NOTICE || level == NTG_LOG_INFO)
	{
		ntg_job_progress_message(msg);	/* a background job's progress, when in one */
		if (ntg_progress)
			ereport(NOTICE, (errmsg_internal("%s", msg)));
	}
	else
		elog(DEBUG1, "%s", msg);
}

void
ntg_pg_install_hooks(void)
{
	static const NtgAllocator allocator = {pg_alloc, pg_realloc, pg_free, NULL, pg_chunk_size};

	ntg_set_allocator(&allocator);
	ntg_set_interrupt_hook(pg_check_interrupts);
	ntg_set_log_hook(pg_log);
}
