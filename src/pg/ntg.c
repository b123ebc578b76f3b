/*
 * ntg.c — module entry: PG_MODULE_MAGIC, _PG_init (GUCs, core hooks) and small informational
 * functions.  Each subsystem's SQL functions live in their own src/pg/<subsystem>_sql.c file.
 */
#include "postgres.h"

#include <pcap/pcap.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "capture_pg.h"
#include "ntg_glue.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomBoolVariable("ntg.progress",
							 "Shows NOTICE progress lines from long ntg operations.",
							 "Epoch losses while training, packet counts while importing.",
							 &ntg_progress, true, PGC_USERSET, 0, NULL, NULL, NULL);
	capture_define_gucs();
	MarkGUCPrefixReserved("ntg");
	ntg_pg_install_hooks();
}

PG_FUNCTION_INFO_V1(ntg_library_versions);
Datum
ntg_library_versions(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(pcap_lib_version()));
}
