/*
 * sampling_fixture.h — sampling options of a token generator (token_sampling.h) as the generic
 * NtgSampleOptions that kind->sample takes, for the unit tests.
 */
#ifndef NTG_SAMPLING_FIXTURE_H
#define NTG_SAMPLING_FIXTURE_H

#include "models/token_sampling.h"

static inline NtgSampleOptions
token_opts(double temperature, int top_k, double top_p, int stratified)
{
	NtgSampleOptions o = {0};

	o.n = NTG_TOKEN_N_OPTIONS;
	o.value[NTG_TOKEN_OPT_TEMPERATURE] = temperature;
	o.value[NTG_TOKEN_OPT_TOP_K] = top_k;
	o.value[NTG_TOKEN_OPT_TOP_P] = top_p;
	o.value[NTG_TOKEN_OPT_STRATIFIED] = stratified;
	return o;
}

#endif							/* NTG_SAMPLING_FIXTURE_H */
