/*
 * models_generate_support.c — the planner's row estimate for ntg.generate (a support function,
 * as PostgreSQL's own generate_series has).
 *
 * Without it the planner takes the declared ROWS 1000 for every call: a query that calls
 * ntg.generate(model, label, 1, seed) once per input row (LATERAL) is estimated at 1000 times
 * its real size, so its cost passes jit_above_cost from ~4,500 input rows on (and the inlining
 * and optimizing thresholds from ~22,000) and every such statement pays a JIT compilation (~20
 * ms, more with inlining) for nothing, and joins above it are planned for the wrong size.  The
 * estimate is n rows when n and the label are constants (n per class, GENERATE_CLASSES_GUESS
 * classes when the label is NULL: how many a model has is not known without loading it);
 * otherwise the declared ROWS stands.
 */
#include "postgres.h"

#include "fmgr.h"
#include "nodes/nodeFuncs.h"
#include "nodes/supportnodes.h"

#define GENERATE_ARG_LABEL 1
#define GENERATE_ARG_N 2
#define GENERATE_CLASSES_GUESS 10

/* The constant value of argument i, or false when it is not a constant. */
static bool
const_arg(List *args, int i, Const **out)
{
	Node	   *arg;

	if (list_length(args) <= i)
		return false;
	arg = (Node *) list_nth(args, i);
	if (!IsA(arg, Const))
		return false;
	*out = (Const *) arg;
	return true;
}

PG_FUNCTION_INFO_V1(ntg_generate_support);
Datum
ntg_generate_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);
	SupportRequestRows *req;
	List	   *args;
	Const	   *n,
			   *label;
	double		rows;

	if (rawreq == NULL || !IsA(rawreq, SupportRequestRows))
		PG_RETURN_POINTER(NULL);
	req = (SupportRequestRows *) rawreq;
	if (req->node == NULL || !is_funcclause(req->node))
		PG_RETURN_POINTER(NULL);
	/* defaults and named arguments are already expanded into positional ones here */
	args = ((FuncExpr *) req->node)->args;
	if (!const_arg(args, GENERATE_ARG_N, &n) || !const_arg(args, GENERATE_ARG_LABEL, &label))
		PG_RETURN_POINTER(NULL);
	/* a NULL n is an error at run time; estimate the one row the planner needs at least */
	rows = n->constisnull ? 1.0 : Max((double) DatumGetInt32(n->constvalue), 1.0);
	if (label->constisnull)
		rows *= GENERATE_CLASSES_GUESS;
	req->rows = rows;
	PG_RETURN_POINTER(req);
}
