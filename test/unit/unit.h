/*
 * unit.h — a minimal TAP producer for the core's unit tests (run by `prove`, see Makefile `unit`).
 *
 *   int main(void) { ok(1 + 1 == 2, "adds"); is_double(x, 0.5, 1e-9, "half"); return done_testing(); }
 *
 * Each binary prints "ok N - name" / "not ok N - name" lines and its plan at the end; a failed
 * check also prints a diagnostic with file and line.  skip_all() reports a whole file as skipped,
 * skip() some checks.
 */
#ifndef NTG_UNIT_H
#define NTG_UNIT_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int	unit_run = 0;
static int	unit_failed = 0;

static inline int
unit_ok(int cond, const char *file, int line, const char *fmt,...)
{
	va_list		ap;

	unit_run++;
	printf("%sok %d - ", cond ? "" : "not ", unit_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
	{
		unit_failed++;
		printf("#   Failed at %s line %d\n", file, line);
	}
	fflush(stdout);
	return cond;
}

#define ok(cond, ...) unit_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/*
 * The larger of a running worst error and a new one, where a NaN is the worst of all: fmax()
 * returns the other argument when one is a NaN, so a check that kept its worst error with fmax
 * would pass a result full of NaNs.
 */
static inline double
unit_worst(double worst, double err)
{
	return isnan(worst) || err <= worst ? worst : err;
}

#define is_int(got, want, ...) do { \
	long long g_ = (long long) (got), w_ = (long long) (want); \
	if (!unit_ok(g_ == w_, __FILE__, __LINE__, __VA_ARGS__)) \
		printf("#          got: %lld\n#     expected: %lld\n", g_, w_); \
} while (0)

#define is_double(got, want, tol, ...) do { \
	double g_ = (double) (got), w_ = (double) (want); \
	if (!unit_ok(fabs(g_ - w_) <= (tol) && !isnan(g_), __FILE__, __LINE__, __VA_ARGS__)) \
		printf("#          got: %.17g\n#     expected: %.17g (tolerance %g)\n", g_, w_, (double) (tol)); \
} while (0)

static inline void
skip_all(const char *reason)
{
	printf("1..0 # SKIP %s\n", reason);
	exit(0);
}

/* n checks that cannot run here, reported as skipped (TAP "ok N # SKIP reason") */
static inline void
skip(int n, const char *reason)
{
	for (int i = 0; i < n; i++)
		printf("ok %d # SKIP %s\n", ++unit_run, reason);
	fflush(stdout);
}

static inline int
done_testing(void)
{
	printf("1..%d\n", unit_run);
	return unit_failed == 0 ? 0 : 1;
}

#endif							/* NTG_UNIT_H */
