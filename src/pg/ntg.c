/*
 * ntg.c — module entry: PG_MODULE_MAGIC, _PG_init (GUCs, core hooks) and small informational
 * functions.  Each subsystem's SQL functions live in their own src/pg/<subsystem>_sql.c file.
 */
#include "postgres.h"

#include <limits.h>
#include <pcap/pcap.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "capture_pg.h"
#include "jobs.h"
#include "models_sql.h"
#include "nn/nn.h"
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
	DefineCustomIntVariable("ntg.training_memory_limit",
							"Most memory a training may be estimated to need.",
							"ntg.train() refuses, before allocating anything, a model whose weights, "
							"optimizer state, activations and rows would need more.",
							&ntg_training_memory_limit_kb, 1024 * 1024, 1024, INT_MAX / 2,
							PGC_SUSET, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("ntg.model_cache_size",
							"Memory of loaded models each backend keeps for later calls.",
							"Least recently used models are dropped beyond it; a larger model is "
							"loaded for its statement alone.",
							&ntg_model_cache_kb, 256 * 1024, 0, INT_MAX / 2,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("ntg.model_file_cache",
							"Disk space of the model files that new backends map instead of reading models from the table.",
							"The files live in pg_stat_tmp, are written when a model is stored and kept across restarts; 0 turns them off.",
							&ntg_model_file_cache_kb, 1024 * 1024, 0, INT_MAX / 2,
							PGC_SIGHUP, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomEnumVariable("ntg.device",
							 "Where ntg trains and generates: auto, cpu or cuda.",
							 "auto uses a CUDA device when one is usable and the CPU otherwise; cuda "
							 "fails when there is none. Models are stored the same either way.",
							 &ntg_device_mode, NTG_DEVICE_AUTO, ntg_device_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	ntg_jobs_init();
	MarkGUCPrefixReserved("ntg");
	ntg_pg_install_hooks();
	/* preloaded: the postmaster opens the CBLAS, so that backends inherit it instead of each
	 * paying for it (~5 ms) at its first matrix product (nn_blas.c) */
	if (process_shared_preload_libraries_in_progress)
		nn_blas_open();
}

PG_FUNCTION_INFO_V1(ntg_library_versions);
Datum
ntg_library_versions(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(pcap_lib_version()));
}
