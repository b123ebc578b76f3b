/*
 * capture_bulk.c — batched insertion of imported biflows, modelled on COPY FROM's multi-insert
 * (src/backend/commands/copyfrom.c): rows are built straight from the reader's callback, checked
 * (defaults, stored generated columns, NOT NULL and CHECK constraints) one by one, written to the
 * heap a batch at a time with table_multi_insert and a BulkInsertState, then indexed tuple by
 * tuple.  This skips the executor's per-row work of the generic INSERT ... SELECT path and writes
 * one WAL record per heap page instead of one per row.
 *
 * Only targets where that is the same as an INSERT take this path: a plain, non-partition table
 * without triggers (foreign keys and deferrable constraints are triggers too), rules or row-level
 * security, whose supplied columns have exactly the types read_pcap returns, and whose defaults
 * are not volatile (nextval excepted, as in COPY).  The caller falls back to INSERT otherwise.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_class_d.h"
#include "catalog/pg_type_d.h"
#include "executor/executor.h"
#include "executor/nodeModifyTable.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_relation.h"
#include "rewrite/rewriteHandler.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"

#include "capture_bulk.h"

/* COPY's batch limits: enough rows to fill many heap pages per WAL record, bounded memory. */
#define BULK_MAX_TUPLES 1000
#define BULK_MAX_BYTES 65535

const char *const capture_bulk_column_names[CAPTURE_BULK_COLS] = {
	"dataset", "label", "source",
	"protocol", "client_ip", "client_port", "server_ip", "server_port", "first_seen", "last_seen",
	"packets_up", "packets_down", "bytes_up", "bytes_down", "payload_bytes_up",
	"payload_bytes_down", "payload_packets", "pl", "sni"
};

static const Oid column_types[CAPTURE_BULK_COLS] = {
	TEXTOID, TEXTOID, TEXTOID,
	INT2OID, INETOID, INT4OID, INETOID, INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID,
	INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID,
	INT4ARRAYOID, TEXTOID
};

struct CaptureBulk
{
	EState	   *estate;
	ResultRelInfo *rri;
	BulkInsertState bistate;
	CommandId	cid;
	AttrNumber	attnum[CAPTURE_BULK_COLS];	/* target column of each supplied value */
	Datum		fixed[CAPTURE_BULK_FIXED];
	bool		fixednull[CAPTURE_BULK_FIXED];
	int			ndefaults;
	AttrNumber *defattnum;		/* columns not supplied that have a default */
	ExprState **defexpr;
	bool		generated;		/* has stored generated columns */
	TupleTableSlot *slots[BULK_MAX_TUPLES];
	int			nbuffered;
	Size		bytes;
	uint64		written;
};

/* Why the supplied columns rule out the batched path, or NULL when they fit. */
static const char *
columns_misfit(Relation rel, AttrNumber *attnum)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int i = 0; i < CAPTURE_BULK_COLS; i++)
	{
		Form_pg_attribute att;

		attnum[i] = attnameAttNum(rel, capture_bulk_column_names[i], false);
		if (attnum[i] <= 0)
			return psprintf("it has no column \"%s\"", capture_bulk_column_names[i]);
		att = TupleDescAttr(desc, attnum[i] - 1);
		if (att->atttypid != column_types[i] || att->atttypmod != -1)
			return psprintf("column \"%s\" needs a type conversion", capture_bulk_column_names[i]);
		if (att->attgenerated || att->attidentity == ATTRIBUTE_IDENTITY_ALWAYS)
			return psprintf("column \"%s\" is generated", capture_bulk_column_names[i]);
	}
	return NULL;
}

/* Why the table itself rules out the batched path, or NULL. */
static const char *
table_misfit(Relation rel)
{
	if (rel->rd_rel->relkind != RELKIND_RELATION)
		return "it is not a plain table";
	if (rel->rd_rel->relispartition)
		return "it is a partition";
	if (rel->rd_rel->relhasrules)
		return "it has rules";
	if (rel->trigdesc != NULL)
		return "it has triggers";
	if (check_enable_rls(RelationGetRelid(rel), InvalidOid, true) == RLS_ENABLED)
		return "it has row-level security";
	return NULL;
}

static bool
is_supplied(const CaptureBulk *bulk, AttrNumber a)
{
	for (int i = 0; i < CAPTURE_BULK_COLS; i++)
		if (bulk->attnum[i] == a)
			return true;
	return false;
}

/* Default expressions of the columns not supplied; false if one is volatile (as COPY decides). */
static bool
prepare_defaults(CaptureBulk *bulk, Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	List	   *exprs = NIL;
	List	   *atts = NIL;
	ListCell   *le,
			   *la;
	int			i = 0;

	for (AttrNumber a = 1; a <= desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a - 1);
		Node	   *def;

		if (att->attisdropped || att->attgenerated || is_supplied(bulk, a))
			continue;
		def = build_column_default(rel, a);
		if (def == NULL)
			continue;
		if (contain_volatile_functions_not_nextval(def))
			return false;
		exprs = lappend(exprs, expression_planner((Expr *) def));
		atts = lappend_int(atts, a);
	}
	bulk->ndefaults = list_length(exprs);
	bulk->defexpr = palloc(sizeof(ExprState *) * (bulk->ndefaults + 1));
	bulk->defattnum = palloc(sizeof(AttrNumber) * (bulk->ndefaults + 1));
	forboth(le, exprs, la, atts)
	{
		bulk->defexpr[i] = ExecInitExpr((Expr *) lfirst(le), NULL);
		bulk->defattnum[i++] = (AttrNumber) lfirst_int(la);
	}
	return true;
}

/* INSERT privilege on the supplied columns, checked as the caller by the executor's own check. */
static RangeTblEntry *
insert_rte(Relation rel, const AttrNumber *attnum)
{
	RangeTblEntry *rte = makeNode(RangeTblEntry);

	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	rte->requiredPerms = ACL_INSERT;
	for (int i = 0; i < CAPTURE_BULK_COLS; i++)
		rte->insertedCols = bms_add_member(rte->insertedCols,
										   attnum[i] - FirstLowInvalidHeapAttributeNumber);
	return rte;
}

/* What the generic path checks before it gets to the table: schema USAGE, read-only transaction. */
static void
check_like_insert(Oid target)
{
	Oid			nsp = get_rel_namespace(target);
	AclResult	aclresult = pg_namespace_aclcheck(nsp, GetUserId(), ACL_USAGE);

	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_SCHEMA, get_namespace_name(nsp));
	if (XactReadOnly && !isTempNamespace(nsp))
		PreventCommandIfReadOnly("INSERT");
	PreventCommandIfParallelMode("INSERT");
}

CaptureBulk *
capture_bulk_begin(Oid target, const Datum *fixed, const bool *fixednull, const char **why)
{
	CaptureBulk *bulk;
	Relation	rel;
	RangeTblEntry *rte;
	List	   *rtable;

	check_like_insert(target);
	rel = table_open(target, RowExclusiveLock);
	bulk = palloc0(sizeof(CaptureBulk));
	*why = table_misfit(rel);
	if (*why == NULL)
		*why = columns_misfit(rel, bulk->attnum);
	if (*why == NULL && !prepare_defaults(bulk, rel))
		*why = "a default of a column not imported is volatile";
	if (*why != NULL)
	{
		table_close(rel, NoLock);	/* keep the lock, as the INSERT would */
		pfree(bulk);
		return NULL;
	}

	rte = insert_rte(rel, bulk->attnum);
	rtable = list_make1(rte);
	ExecCheckRTPerms(rtable, true);

	bulk->estate = CreateExecutorState();
	ExecInitRangeTable(bulk->estate, rtable);
	bulk->rri = makeNode(ResultRelInfo);
	ExecInitResultRelation(bulk->estate, bulk->rri, 1);
	table_close(rel, NoLock);	/* the executor state holds its own reference now */
	CheckValidResultRel(bulk->rri, CMD_INSERT);
	ExecOpenIndices(bulk->rri, false);
	bulk->cid = GetCurrentCommandId(true);
	bulk->estate->es_output_cid = bulk->cid;
	bulk->bistate = GetBulkInsertState();
	bulk->generated = RelationGetDescr(bulk->rri->ri_RelationDesc)->constr &&
		RelationGetDescr(bulk->rri->ri_RelationDesc)->constr->has_generated_stored;
	memcpy(bulk->fixed, fixed, sizeof(bulk->fixed));
	memcpy(bulk->fixednull, fixednull, sizeof(bulk->fixednull));
	return bulk;
}

/* Write the buffered rows to the heap in one call, then index them one by one. */
static void
flush(CaptureBulk *bulk)
{
	EState	   *estate = bulk->estate;
	ResultRelInfo *rri = bulk->rri;
	MemoryContext old;

	if (bulk->nbuffered == 0)
		return;
	old = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
	table_multi_insert(rri->ri_RelationDesc, bulk->slots, bulk->nbuffered, bulk->cid, 0,
					   bulk->bistate);
	MemoryContextSwitchTo(old);
	for (int i = 0; i < bulk->nbuffered; i++)
	{
		if (rri->ri_NumIndices > 0)
		{
			List	   *recheck;

			old = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
			recheck = ExecInsertIndexTuples(rri, bulk->slots[i], estate, false, false, NULL, NIL);
			MemoryContextSwitchTo(old);
			/* deferred uniqueness needs a recheck trigger, and tables with triggers fall back */
			if (recheck != NIL)
				elog(ERROR, "unexpected deferred index recheck in ntg.import_pcap");
		}
		ExecClearTuple(bulk->slots[i]);
		ResetPerTupleExprContext(estate);
	}
	bulk->written += bulk->nbuffered;
	bulk->nbuffered = 0;
	bulk->bytes = 0;
}

/* Defaults of the columns not supplied, in per-tuple memory (the slot is materialized after). */
static void
fill_defaults(CaptureBulk *bulk, Datum *values, bool *isnull)
{
	ExprContext *econtext = GetPerTupleExprContext(bulk->estate);

	for (int i = 0; i < bulk->ndefaults; i++)
	{
		AttrNumber	a = bulk->defattnum[i] - 1;

		values[a] = ExecEvalExpr(bulk->defexpr[i], econtext, &isnull[a]);
	}
}

void
capture_bulk_add(CaptureBulk *bulk, const Datum *values, const bool *nulls)
{
	EState	   *estate = bulk->estate;
	Relation	rel = bulk->rri->ri_RelationDesc;
	TupleTableSlot *slot;
	MemoryContext old;

	if (bulk->slots[bulk->nbuffered] == NULL)
	{
		/* slots and their materialized tuples live as long as the import */
		old = MemoryContextSwitchTo(estate->es_query_cxt);
		bulk->slots[bulk->nbuffered] = table_slot_create(rel, &estate->es_tupleTable);
		MemoryContextSwitchTo(old);
	}
	slot = bulk->slots[bulk->nbuffered];
	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
	for (int i = 0; i < CAPTURE_BULK_COLS; i++)
	{
		AttrNumber	a = bulk->attnum[i] - 1;

		slot->tts_values[a] = i < CAPTURE_BULK_FIXED ? bulk->fixed[i] : values[i - CAPTURE_BULK_FIXED];
		slot->tts_isnull[a] = i < CAPTURE_BULK_FIXED ? bulk->fixednull[i] : nulls[i - CAPTURE_BULK_FIXED];
	}
	/* no label given to the import: the biflow's own, from its packet comment (or NULL) */
	if (bulk->fixednull[1])
	{
		AttrNumber	a = bulk->attnum[1] - 1;

		slot->tts_values[a] = values[CAPTURE_BULK_READ_COLS];
		slot->tts_isnull[a] = nulls[CAPTURE_BULK_READ_COLS];
	}
	old = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
	fill_defaults(bulk, slot->tts_values, slot->tts_isnull);
	ExecStoreVirtualTuple(slot);
	if (bulk->generated)
		ExecComputeStoredGenerated(bulk->rri, estate, slot, CMD_INSERT);
	if (rel->rd_att->constr)
		ExecConstraints(bulk->rri, slot, estate);
	MemoryContextSwitchTo(old);
	/* the values live in the caller's row memory and per-tuple memory: copy them into the slot */
	ExecMaterializeSlot(slot);
	if (TTS_IS_HEAPTUPLE(slot) || TTS_IS_BUFFERTUPLE(slot))
		bulk->bytes += ((HeapTupleTableSlot *) slot)->tuple->t_len;
	ResetPerTupleExprContext(estate);
	if (++bulk->nbuffered == BULK_MAX_TUPLES || bulk->bytes >= BULK_MAX_BYTES)
		flush(bulk);
}

void
capture_bulk_set_fixed(CaptureBulk *bulk, const Datum *fixed, const bool *fixednull)
{
	memcpy(bulk->fixed, fixed, sizeof(bulk->fixed));
	memcpy(bulk->fixednull, fixednull, sizeof(bulk->fixednull));
}

uint64
capture_bulk_end(CaptureBulk *bulk)
{
	uint64		written;

	flush(bulk);
	written = bulk->written;
	FreeBulkInsertState(bulk->bistate);
	table_finish_bulk_insert(bulk->rri->ri_RelationDesc, 0);
	ExecResetTupleTable(bulk->estate->es_tupleTable, false);
	ExecCloseResultRelations(bulk->estate);
	ExecCloseRangeTableRelations(bulk->estate);
	FreeExecutorState(bulk->estate);
	pfree(bulk);
	return written;
}
