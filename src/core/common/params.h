/*
 * params.h — hyperparameters as a flat key/value list (from a jsonb object in SQL).  Each model kind
 * reads the keys it knows with a default and a range; ntg_params_check_used() then refuses any key
 * nobody read, so that a misspelt hyperparameter is an error instead of a silent default.
 */
#ifndef NTG_PARAMS_H
#define NTG_PARAMS_H

#include <stdint.h>

#include "common/ntg_core.h"

typedef enum NtgParamType
{
	NTG_PARAM_NUMBER,
	NTG_PARAM_BOOL,
	NTG_PARAM_STRING
} NtgParamType;

typedef struct NtgParam
{
	char	   *key;
	NtgParamType type;
	double		number;			/* NUMBER, and BOOL as 0/1 */
	int			is_integer;		/* NUMBER given as an integer: exact value in `integer` */
	int64_t		integer;
	char	   *string;			/* STRING */
	int			used;
} NtgParam;

typedef struct NtgParams
{
	int			n;
	NtgParam   *items;
} NtgParams;

/* Append a parameter (key and string are copied). */
int			ntg_params_add_number(NtgParams *p, const char *key, double v, NtgError *err);
/* An integer, kept exactly (a seed above 2^53 must not lose its low bits in a double). */
int			ntg_params_add_integer(NtgParams *p, const char *key, int64_t v, NtgError *err);
int			ntg_params_add_bool(NtgParams *p, const char *key, int v, NtgError *err);
int			ntg_params_add_string(NtgParams *p, const char *key, const char *v, NtgError *err);

/* Read a parameter with a default and an inclusive range; marks it used. */
int			ntg_params_int(NtgParams *p, const char *key, int64_t dflt, int64_t min, int64_t max,
						   int64_t *out, NtgError *err);
int			ntg_params_double(NtgParams *p, const char *key, double dflt, double min, double max,
							  double *out, NtgError *err);
int			ntg_params_bool(NtgParams *p, const char *key, int dflt, int *out, NtgError *err);
/* String parameter; when allowed is not NULL it is a NULL-terminated list of accepted values. */
int			ntg_params_string(NtgParams *p, const char *key, const char *dflt,
							  const char *const *allowed, const char **out, NtgError *err);

/*
 * Move the parameters whose key starts with prefix (a nested object "sampling": {...} arrives as
 * keys "sampling.x") into *out with the prefix cut off; they count as used in p.  *out starts
 * empty and is freed with ntg_params_free.
 */
int			ntg_params_take_prefix(NtgParams *p, const char *prefix, NtgParams *out,
								   NtgError *err);

/* NTG_ERR_INVALID_ARG naming the first key that was never read. */
int			ntg_params_check_used(const NtgParams *p, const char *what, NtgError *err);
void		ntg_params_free(NtgParams *p);

#endif							/* NTG_PARAMS_H */
