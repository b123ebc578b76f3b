/*
 * test_model_loader.c — the stored-model loader never crashes and never accepts damage silently.
 *
 * For every generator kind of the registry, a real saved tiny model is mutated every way we can afford (all truncations, every bit of every
 * byte, overwritten spans, edited config text, appended bytes) and fed to ntg_model_from_bytes.
 * Without a fixed checksum every mutation must give NTG_ERR_CORRUPT; with the checksum recomputed
 * (so the structural checks behind it are reached) the result must be OK or NTG_ERR_CORRUPT, and a
 * model that loads must sample rows of sane length.  Run it under ASan or valgrind to catch what
 * a wrong check would read out of bounds (docs/models.md says how); libFuzzer goes further
 * (test/fuzz/).
 */
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "model_fixture.h"
#include "unit.h"

typedef struct Tally
{
	int			loads;
	int			ok;
	int			corrupt;
	int			other;			/* any other status: a failure */
	int			bad_sample;		/* a loaded model that failed or returned bad lengths */
} Tally;

static void
fix_crc(uint8_t *buf, size_t len)
{
	uint32_t	crc;

	if (len < 4)
		return;
	crc = ntg_crc32c(0, buf, len - 4);
	for (int i = 0; i < 4; i++)
		buf[len - 4 + i] = (uint8_t) (crc >> (8 * i));
}

/* Sample a couple of rows of every class from a model that loaded. */
static int
sample_ok(NtgModel *m)
{
	NtgSampleOptions opts = m->sampling;
	NtgRng		rng;
	NtgError	err = {0};
	int32_t    *out;
	int			lens[2];
	int			good = 1;

	if (m->n_classes < 1 || m->max_len < 1 || m->max_len > 4096 || m->classes == NULL)
		return 0;
	out = malloc(sizeof(int32_t) * 2 * m->max_len);
	ntg_rng_seed(&rng, 3);
	for (int c = 0; c < m->n_classes && good; c++)
	{
		int			rc = m->kind->sample(m, c, 2, &opts, &rng, out, lens, &err);

		if (rc == NTG_OK)
			good = lens[0] >= 0 && lens[0] <= m->max_len && lens[1] >= 0 && lens[1] <= m->max_len;
		else
			good = rc == NTG_ERR_CORRUPT || rc == NTG_ERR_INVALID_ARG;
	}
	free(out);
	return good;
}

static int
try_load(const uint8_t *buf, size_t len, Tally *t)
{
	NtgModel *m = NULL;
	NtgError	err = {0};
	int			rc = ntg_model_from_bytes(buf, len, &m, &err);

	t->loads++;
	if (rc == NTG_OK)
	{
		/* Sampling checks that odd weights which load do no harm; a model over 64 kB (a
		 * diffusion model's: a whole chain per sample) samples after every (len / 16 kB)-th load. */
		if (t->ok++ % (len > 65536 ? len / 16384 : 1) == 0 && !sample_ok(m))
			t->bad_sample++;
		ntg_model_destroy(m);
	}
	else if (rc == NTG_ERR_CORRUPT && err.msg[0] != '\0')
		t->corrupt++;
	else
	{
		t->other++;
		printf("# unexpected status %d (%s) for a %zu-byte value\n", rc, err.msg, len);
	}
	return rc;
}

static const char *kind_name;	/* the kind under test */

static void
report(const char *what, const Tally *t, int must_be_corrupt)
{
	printf("# %s: %d loads, %d ok, %d corrupt\n", what, t->loads, t->ok, t->corrupt);
	ok(t->other == 0 && t->bad_sample == 0 && (!must_be_corrupt || t->ok == 0),
	   "%s: %s: every result is %s (other %d, bad samples %d, ok %d)", kind_name, what,
	   must_be_corrupt ? "NTG_ERR_CORRUPT" : "OK or NTG_ERR_CORRUPT", t->other, t->bad_sample, t->ok);
}

static void
test_truncations(const uint8_t *model, size_t len)
{
	Tally		t = {0};

	for (size_t n = 0; n < len; n++)
		try_load(model, n, &t);
	report("every truncation", &t, 1);
}

/*
 * The bytes whose bits are flipped: every byte of the first FLIP_ALL (magic, header, config, tensor
 * table and the start of the data of a small model), then FLIP_SPREAD bytes evenly over the rest.
 * A diffusion model's fixture is ~130 kB, and a flip in its weights that loads means a whole
 * sampling chain: every bit of it would take hours.
 */
#define FLIP_ALL	8192
#define FLIP_SPREAD 2048

static size_t
next_flip_pos(size_t pos, size_t len)
{
	size_t		step;

	if (pos + 1 < FLIP_ALL || len <= FLIP_ALL + FLIP_SPREAD)
		return pos + 1;
	step = (len - FLIP_ALL) / FLIP_SPREAD;
	return pos + (step > 1 ? step : 1);
}

static void
test_bit_flips(const uint8_t *model, size_t len, int with_crc)
{
	uint8_t    *buf = malloc(len);
	Tally		t = {0};

	for (size_t pos = 0; pos < len; pos = next_flip_pos(pos, len))
		for (int bit = 0; bit < 8; bit++)
		{
			memcpy(buf, model, len);
			buf[pos] ^= (uint8_t) (1u << bit);
			/* With the checksum recomputed, a flip in the checksum itself is a no-op. */
			if (with_crc && pos + 4 >= len)
				continue;
			if (with_crc)
				fix_crc(buf, len);
			try_load(buf, len, &t);
		}
	report(with_crc ? "every bit flipped, checksum recomputed" : "every bit flipped", &t, !with_crc);
	free(buf);
}

/* Random spans of random bytes over a real model, checksum recomputed. */
static void
test_overwrites(const uint8_t *model, size_t len, int rounds)
{
	uint8_t    *buf = malloc(len);
	NtgRng		rng;
	Tally		t = {0};

	ntg_rng_seed(&rng, 42);
	for (int r = 0; r < rounds; r++)
	{
		size_t		pos = ntg_rng_below(&rng, len - 4);
		size_t		span = 1 + ntg_rng_below(&rng, 16);

		memcpy(buf, model, len);
		for (size_t i = pos; i < pos + span && i < len - 4; i++)
			buf[i] = (uint8_t) ntg_rng_below(&rng, 256);
		/* Half the time, a plausible little-endian size instead of noise (dims, lengths). */
		if (r % 2 == 0 && pos + 4 <= len - 4)
		{
			uint32_t	v = (uint32_t) ntg_rng_below(&rng, 70000);

			for (int i = 0; i < 4; i++)
				buf[pos + i] = (uint8_t) (v >> (8 * i));
		}
		fix_crc(buf, len);
		try_load(buf, len, &t);
	}
	report("random spans overwritten, checksum recomputed", &t, 0);
	free(buf);
}

/* Edit the config JSON text character by character (its offset: after magic, version, flags and
 * the kind). */
static void
test_config_edits(const uint8_t *model, size_t len)
{
	static const char repl[] = "09-\"}.e ,x";
	size_t		kind_len = model[16] | model[17] << 8;
	size_t		cfg_at = 18 + kind_len + 4;
	size_t		cfg_len = (size_t) model[18 + kind_len] | (size_t) model[19 + kind_len] << 8 |
		(size_t) model[20 + kind_len] << 16 | (size_t) model[21 + kind_len] << 24;
	uint8_t    *buf = malloc(len);
	Tally		t = {0};

	for (size_t i = 0; i < cfg_len && cfg_at + i < len - 4; i++)
		for (const char *c = repl; *c; c++)
		{
			memcpy(buf, model, len);
			if (buf[cfg_at + i] == (uint8_t) *c)
				continue;
			buf[cfg_at + i] = (uint8_t) *c;
			fix_crc(buf, len);
			try_load(buf, len, &t);
		}
	report("config text edited, checksum recomputed", &t, 0);
	free(buf);
}

/* Pure noise after a valid magic and version, and bytes appended to a real model. */
static void
test_garbage(const uint8_t *model, size_t len, int rounds)
{
	uint8_t    *buf = malloc(len + 64);
	NtgRng		rng;
	Tally		t = {0};

	ntg_rng_seed(&rng, 7);
	for (int r = 0; r < rounds; r++)
	{
		size_t		n = 16 + ntg_rng_below(&rng, len);

		memcpy(buf, model, 12);
		for (size_t i = 12; i < n; i++)
			buf[i] = (uint8_t) ntg_rng_below(&rng, 256);
		fix_crc(buf, n);
		try_load(buf, n, &t);
	}
	for (size_t extra = 1; extra <= 64; extra++)
	{
		memcpy(buf, model, len);
		memset(buf + len, 0xab, extra);
		try_load(buf, len + extra, &t);
		fix_crc(buf, len + extra);
		try_load(buf, len + extra, &t);
	}
	report("noise and appended bytes", &t, 0);
	free(buf);
}

/* All the mutations of one kind's fixture model. */
static void
test_kind(const char *name)
{
	uint8_t    *model;
	size_t		len;
	NtgError	err = {0};
	Tally		t = {0};

	kind_name = name;
	if (fixture_model_bytes(name, &model, &len, &err) != NTG_OK)
	{
		ok(0, "%s: build the fixture model: %s", name, err.msg);
		return;
	}
	printf("# %s fixture model: %zu bytes\n", name, len);
	is_int(try_load(model, len, &t), NTG_OK, "%s: the unmodified model loads", name);
	ok(t.bad_sample == 0, "%s: and samples rows", name);
	test_truncations(model, len);
	test_bit_flips(model, len, 0);
	test_bit_flips(model, len, 1);
	test_overwrites(model, len, 20000);
	test_config_edits(model, len);
	test_garbage(model, len, 2000);
	ntg_free(model);
}

int
main(void)
{
	for (int i = 0; i < ntg_model_kind_count(); i++)
		if (ntg_model_kind_at(i)->caps & NTG_CAP_GENERATE)
			test_kind(ntg_model_kind_at(i)->name);
	return done_testing();
}
