/*
 * token_sampling.h — the sampling options of token generators (llama, and every kind that draws
 * one value token after another): temperature, top-k and nucleus filtering, stratified
 * drawing (token_draw.c explains it), and the copy control that ntg_model_sample applies to every
 * generator kind that lists it (copy_guard, copy_budget; copy_guard.c).  Kinds list
 * ntg_token_sample_options as their spec and
 * read the resolved values through ntg_token_sampling().
 */
#ifndef NTG_TOKEN_SAMPLING_H
#define NTG_TOKEN_SAMPLING_H

#include "models/model.h"

enum
{
	NTG_TOKEN_OPT_TEMPERATURE = 0,
	NTG_TOKEN_OPT_TOP_K,
	NTG_TOKEN_OPT_TOP_P,
	NTG_TOKEN_OPT_STRATIFIED,
	NTG_TOKEN_OPT_COPY_GUARD,	/* generic: read by ntg_model_sample (copy_guard.c) */
	NTG_TOKEN_OPT_COPY_BUDGET,
	NTG_TOKEN_N_OPTIONS
};

extern const NtgOptionSpec ntg_token_sample_options[NTG_TOKEN_N_OPTIONS];
/* The same options with stratified draws by default (the default a kind validated: mamba). */
extern const NtgOptionSpec ntg_token_sample_options_stratified[NTG_TOKEN_N_OPTIONS];
/* Stratified, copy_guard on with copy_budget 2 (the defaults validated for llama). */
extern const NtgOptionSpec ntg_token_sample_options_guarded[NTG_TOKEN_N_OPTIONS];

typedef struct NtgTokenSampling
{
	double		temperature;	/* > 0; 1 = the model's distribution */
	int			top_k;			/* 0 = off */
	double		top_p;			/* 1 = off */
	int			stratified;		/* 1: the rows of a batch are one stratified sample of the
								 * model's distribution; 0: independent rows */
} NtgTokenSampling;

static inline NtgTokenSampling
ntg_token_sampling(const NtgSampleOptions *o)
{
	NtgTokenSampling s;

	s.temperature = o->value[NTG_TOKEN_OPT_TEMPERATURE];
	s.top_k = (int) o->value[NTG_TOKEN_OPT_TOP_K];
	s.top_p = o->value[NTG_TOKEN_OPT_TOP_P];
	s.stratified = o->value[NTG_TOKEN_OPT_STRATIFIED] != 0;
	return s;
}

#endif							/* NTG_TOKEN_SAMPLING_H */
