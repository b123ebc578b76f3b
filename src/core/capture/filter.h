/*
 * filter.h — checks on a capture filter before libpcap compiles it (see filter.c): no names that
 * libpcap would resolve, at most NTG_FILTER_MAX_TERMS primitives and NTG_FILTER_MAX_LEN bytes.
 */
#ifndef NTG_CAPTURE_FILTER_H
#define NTG_CAPTURE_FILTER_H

#include "capture/capture.h"

/* NTG_OK, or NTG_ERR_INVALID_ARG with a message that says what to change. */
int			ntg_filter_check(const char *expr, NtgError *err);

#endif							/* NTG_CAPTURE_FILTER_H */
