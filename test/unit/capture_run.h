/*
 * capture_run.h — run a capture built in memory (capture_build.h) through the reader and keep
 * the biflows it emits, for the capture unit tests.
 */
#ifndef NTG_CAPTURE_RUN_H
#define NTG_CAPTURE_RUN_H

#include <stdio.h>
#include <stdlib.h>

#include "capture/capture.h"
#include "capture_build.h"

#define SEEN_MAX 64
#define SEC 1000000000LL

typedef struct Seen
{
	int			n;
	NtgBiflow	f[SEEN_MAX];
	int32_t		pl[SEEN_MAX][16];
} Seen;

static inline int
seen_collect(const NtgBiflow *f, void *arg)
{
	Seen	   *s = arg;

	if (s->n < SEEN_MAX)
	{
		s->f[s->n] = *f;
		memcpy(s->pl[s->n], f->pl, sizeof(int32_t) * (f->npl < 16 ? f->npl : 16));
		s->f[s->n].pl = s->pl[s->n];
		s->f[s->n].sni = NULL;
	}
	s->n++;
	return 0;
}

/* Read len bytes of capture with options o; NTG_OK or the error. */
static inline int
run_bytes(const uint8_t *b, size_t len, const NtgCaptureOptions *o, Seen *s,
		  NtgCaptureStats *st, NtgError *err)
{
	NtgCaptureReader *r;
	int			rc;

	memset(s, 0, sizeof(*s));
	ntg_error_clear(err);
	rc = ntg_capture_open_memory(b, len, &r, err);
	if (rc == NTG_OK)
		rc = ntg_capture_run(r, o, seen_collect, s, st, err);
	ntg_capture_close(r);
	return rc;
}

static inline int
run_buf(const Buf *b, const NtgCaptureOptions *o, Seen *s, NtgCaptureStats *st, NtgError *err)
{
	return run_bytes(b->b, b->n, o, s, st, err);
}

/* Every packet read is in a biflow or skipped for one reason. */
static inline int
accounted(const NtgCaptureStats *st)
{
	uint64_t	sum = st->packets_attributed;

	for (int i = 0; i < NTG_SKIP_NREASONS; i++)
		sum += st->skipped[i];
	return sum == st->packets;
}

/* Record packet p at sec + usec into capture c. */
static inline void
rec(Buf *c, uint32_t sec, uint32_t usec, const Buf *p)
{
	pcap_record(c, sec, usec, p, 0);
}

#endif							/* NTG_CAPTURE_RUN_H */
