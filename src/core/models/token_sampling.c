/*
 * token_sampling.c — the sampling-option spec of token generators (token_sampling.h).
 *
 * "legacy" is how models stored before sampling defaults existed sample: the plain model
 * distribution, independent rows, no copy control.
 */
#include "models/token_sampling.h"

/* The options, with the defaults a kind validated as parameters (the rest is shared). */
#define TOKEN_SAMPLE_OPTIONS(stratified_default, guard_default, budget_default) { \
	[NTG_TOKEN_OPT_TEMPERATURE] = { \
		.name = "temperature", .type = NTG_OPTION_NUMBER, .dflt = 1.0, .legacy = 1.0, \
		.min = 0.0, .max = 100.0, .min_open = 1, \
		.help = "divides the logits: below 1 sharper, above 1 flatter than the model" \
	}, \
	[NTG_TOKEN_OPT_TOP_K] = { \
		.name = "top_k", .type = NTG_OPTION_INTEGER, .dflt = 0, .legacy = 0, \
		.min = 0, .max = 1000000, \
		.help = "draw only among the k most probable tokens; 0 = off" \
	}, \
	[NTG_TOKEN_OPT_TOP_P] = { \
		.name = "top_p", .type = NTG_OPTION_NUMBER, .dflt = 1.0, .legacy = 1.0, \
		.min = 0.0, .max = 1.0, .min_open = 1, \
		.help = "draw only among the most probable tokens that hold this much mass; 1 = off" \
	}, \
	[NTG_TOKEN_OPT_STRATIFIED] = { \
		.name = "stratified", .type = NTG_OPTION_BOOL, .dflt = (stratified_default), .legacy = 0, \
		.min = 0, .max = 1, \
		.help = "each chunk of rows is one stratified sample of the model's distribution" \
	}, \
	[NTG_TOKEN_OPT_COPY_GUARD] = { \
		.name = "copy_guard", .type = NTG_OPTION_BOOL, .dflt = (guard_default), .legacy = 0, \
		.min = 0, .max = 1, \
		.help = "draw again a row that copies a training sequence seen once, unless fresh traffic would repeat it (Good-Turing)" \
	}, \
	[NTG_TOKEN_OPT_COPY_BUDGET] = { \
		.name = "copy_budget", .type = NTG_OPTION_NUMBER, .dflt = (budget_default), .legacy = 1.0, \
		.min = 0.0, .max = 100.0, \
		.help = "with copy_guard: copies of sequences seen once kept relative to fresh traffic's rate; 0 = none" \
	}, \
}

const NtgOptionSpec ntg_token_sample_options[NTG_TOKEN_N_OPTIONS] =
	TOKEN_SAMPLE_OPTIONS(0, 0, 1.0);

const NtgOptionSpec ntg_token_sample_options_stratified[NTG_TOKEN_N_OPTIONS] =
	TOKEN_SAMPLE_OPTIONS(1, 0, 1.0);

/*
 * Stratified, with copies of sequences seen once kept at twice fresh traffic's rate: the point of
 * the privacy-utility frontier chosen on validation data (docs/research/generator-quality.md).
 */
const NtgOptionSpec ntg_token_sample_options_guarded[NTG_TOKEN_N_OPTIONS] =
	TOKEN_SAMPLE_OPTIONS(1, 1, 2.0);
