/*
 * test_common.c — unit tests of the shared core: RNG, CRC-32C, the model container, faulting in
 * fresh memory.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/blob.h"
#include "common/crc32c.h"
#include "common/rng.h"
#include "unit.h"

static void
test_rng(void)
{
	NtgRng		a,
				b;
	int			same = 1;
	double		sum = 0,
				sumsq = 0;
	int			counts[7] = {0};

	ntg_rng_seed(&a, 42);
	ntg_rng_seed(&b, 42);
	for (int i = 0; i < 1000; i++)
		same &= ntg_rng_u64(&a) == ntg_rng_u64(&b);
	ok(same, "the same seed gives the same stream");
	ntg_rng_seed(&b, 43);
	ok(ntg_rng_u64(&a) != ntg_rng_u64(&b), "another seed gives another stream");

	/* xoshiro256** reference: seeding state directly with 1,2,3,4 gives 11520 first. */
	a.s[0] = 1; a.s[1] = 2; a.s[2] = 3; a.s[3] = 4;
	is_int(ntg_rng_u64(&a), 11520, "xoshiro256** matches its published first output");

	ntg_rng_seed(&a, 7);
	for (int i = 0; i < 100000; i++)
	{
		double		z = ntg_rng_normal(&a);

		sum += z;
		sumsq += z * z;
		counts[ntg_rng_below(&a, 7)]++;
	}
	is_double(sum / 100000, 0.0, 0.02, "normal mean is 0");
	is_double(sumsq / 100000, 1.0, 0.02, "normal variance is 1");
	for (int k = 0; k < 7; k++)
		if (abs(counts[k] - 100000 / 7) > 600)
			same = 0;
	ok(same, "below(7) is uniform");
}

static void
test_crc(void)
{
	/* The standard check value of CRC-32C. */
	is_int(ntg_crc32c(0, "123456789", 9), 0xe3069283u, "crc32c check value");
	is_int(ntg_crc32c(ntg_crc32c(0, "1234", 4), "56789", 5), 0xe3069283u, "crc32c is incremental");
	is_int(ntg_crc32c_portable(0, "123456789", 9), 0xe3069283u, "portable crc32c check value");
	{
		/* the instruction path (where the CPU has it) against the tables, every alignment and
		 * length around the 8-byte steps */
		static uint8_t data[4099];
		int			same = 1;

		for (size_t i = 0; i < sizeof(data); i++)
			data[i] = (uint8_t) (i * 2654435761u >> 13);
		for (size_t off = 0; off < 9; off++)
			for (size_t len = 0; len + off <= sizeof(data); len += len < 64 ? 1 : 509)
				same &= ntg_crc32c(7, data + off, len) == ntg_crc32c_portable(7, data + off, len);
		ok(same, "crc32c: the dispatched path equals the portable one at every offset and length");
	}
}

static void
test_blob_roundtrip(void)
{
	NtgBlob		w,
				r;
	NtgError	err = {0};
	float		weights[6] = {1, 2, 3, 4, 5, 6};
	int8_t		q[3] = {-1, 0, 127};
	float		back[6];
	uint32_t	d2[2] = {2, 3},
				d1[1] = {3};
	uint8_t    *buf;
	size_t		len;

	ntg_blob_init(&w, "llama", "{\"dim\": 160}");
	ok(ntg_blob_add(&w, "layers.0.wq", NTG_DTYPE_F32, 2, d2, weights, &err) == NTG_OK, "add f32");
	ok(ntg_blob_add(&w, "q", NTG_DTYPE_I8, 1, d1, q, &err) == NTG_OK, "add i8");
	ok(ntg_blob_add(&w, "bad name!", NTG_DTYPE_I8, 1, d1, q, &err) == NTG_ERR_INVALID_ARG,
	   "a bad tensor name is refused");
	ok(ntg_blob_serialize(&w, &buf, &len, &err) == NTG_OK, "serialize");
	ntg_blob_free(&w);

	ok(ntg_blob_parse(buf, len, &r, &err) == NTG_OK, "parse what was written");
	ok(strcmp(r.kind, "llama") == 0 && strcmp(r.config, "{\"dim\": 160}") == 0, "kind and config");
	ok(ntg_blob_read_tensor(&r, "layers.0.wq", NTG_DTYPE_F32, 6, back, &err) == NTG_OK &&
	   memcmp(back, weights, sizeof(back)) == 0, "tensor data round-trips");
	ok(ntg_blob_read_tensor(&r, "layers.0.wq", NTG_DTYPE_F32, 5, back, &err) == NTG_ERR_CORRUPT,
	   "a wrong element count is refused");
	ok(ntg_blob_read_tensor(&r, "missing", NTG_DTYPE_F32, 6, back, &err) == NTG_ERR_CORRUPT,
	   "a missing tensor is refused");
	ntg_blob_free(&r);

	/* Every truncation and every single-byte change must be refused, never crash. */
	{
		int			all_refused = 1;

		for (size_t cut = 0; cut < len; cut++)
			if (ntg_blob_parse(buf, cut, &r, &err) == NTG_OK)
				all_refused = 0;
		ok(all_refused, "every truncation is refused");
		for (size_t i = 0; i < len; i++)
		{
			buf[i] ^= 0x40;
			if (ntg_blob_parse(buf, len, &r, &err) == NTG_OK)
				all_refused = 0;
			buf[i] ^= 0x40;
		}
		ok(all_refused, "every flipped byte is refused");
		ok(ntg_blob_parse((const uint8_t *) "not a model at all", 18, &r, &err) == NTG_ERR_CORRUPT &&
		   strstr(err.msg, "not an ntg model") != NULL, "foreign bytes are named as such");
	}
	ntg_free(buf);
}

/*
 * A tensor marked with ntg_blob_align_last starts at an NTG_BLOB_ALIGN-byte boundary of the
 * serialized value, whatever the header's length (the config's length moves it); zeros fill the
 * gap, the tensors after it follow without one, and the reader takes the value back.
 */
static void
test_blob_alignment(void)
{
	float		a[5] = {1, 2, 3, 4, 5},
				b[16] = {0},
				c[3] = {7, 8, 9};
	uint32_t	d5[1] = {5},
				d16[1] = {16},
				d3[1] = {3};
	int			aligned = 1,
				packed = 1,
				zeros = 1,
				parsed = 1,
				gap_seen = 0;

	for (int k = 0; k < 80; k++)
	{
		char		config[96];
		NtgBlob		w,
					r;
		NtgError	err = {0};
		uint8_t    *buf;
		size_t		len;
		const uint8_t *pa,
				   *pb,
				   *pc;

		memset(config, 'x', k);
		config[k] = '\0';
		ntg_blob_init(&w, "llama", config);
		ntg_blob_add(&w, "a", NTG_DTYPE_F32, 1, d5, a, &err);
		ntg_blob_add(&w, "b", NTG_DTYPE_F32, 1, d16, b, &err);
		ntg_blob_align_last(&w);
		ntg_blob_add(&w, "c", NTG_DTYPE_F32, 1, d3, c, &err);
		if (ntg_blob_serialize(&w, &buf, &len, &err) != NTG_OK ||
			ntg_blob_parse(buf, len, &r, &err) != NTG_OK)
		{
			parsed = 0;
			ntg_blob_free(&w);
			continue;
		}
		pa = ntg_blob_find(&r, "a")->data;
		pb = ntg_blob_find(&r, "b")->data;
		pc = ntg_blob_find(&r, "c")->data;
		aligned &= (pb - buf) % NTG_BLOB_ALIGN == 0;
		packed &= pc == pb + sizeof(b) && (pa - buf) % 8 == 0;
		gap_seen |= pb > pa + 24;
		for (const uint8_t *z = pa + sizeof(a); z < pb; z++)
			zeros &= *z == 0;
		parsed &= memcmp(pa, a, sizeof(a)) == 0 && memcmp(pc, c, sizeof(c)) == 0;
		ntg_blob_free(&r);
		ntg_blob_free(&w);
		ntg_free(buf);
	}
	ok(parsed, "values with an aligned tensor parse back, with their data, for 80 header lengths");
	ok(aligned, "the marked tensor starts at a %d-byte boundary of the value", NTG_BLOB_ALIGN);
	ok(packed, "the tensor after it follows without a gap, the first at its 8-byte place");
	ok(zeros && gap_seen, "the gap before the marked tensor is zeros (and some headers need one)");
}

/* ntg_malloc_aligned: NTG_ALIGN-aligned blocks of any size, zeroed by the calloc form, and freed
 * exactly (the core's live bytes return to where they were); a parameter buffer is one. */
static void
test_aligned_alloc(void)
{
	int64_t		before = ntg_mem_live();
	int			aligned = 1,
				zeroed = 1;
	void	   *blocks[40];

	for (int i = 0; i < 40; i++)
	{
		size_t		n = (size_t) i * 37 + 1;
		uint8_t    *p = ntg_calloc_aligned(n, 1);

		blocks[i] = p;
		aligned &= p != NULL && (uintptr_t) p % NTG_ALIGN == 0;
		for (size_t k = 0; p != NULL && k < n; k++)
			zeroed &= p[k] == 0;
		if (p != NULL)
			memset(p, 0xAB, n);	/* the whole block is writable */
	}
	for (int i = 0; i < 40; i++)
		ntg_free_aligned(blocks[i]);
	ntg_free_aligned(NULL);
	ok(aligned && zeroed, "aligned blocks of 40 sizes start at %d-byte boundaries, zeroed", NTG_ALIGN);
	ok(ntg_mem_live() == before, "and are freed whole (live bytes back to %lld)", (long long) before);
	ok(ntg_calloc_aligned(SIZE_MAX / 2, 4) == NULL && ntg_malloc_aligned(SIZE_MAX - 8) == NULL,
	   "sizes that overflow are refused");
}

/* Pages resident among [p, p + n pages), by mincore(). */
static int
resident(const uint8_t *p, size_t pages, size_t pg)
{
	unsigned char vec[64];
	int			n = 0;

	if (pages > sizeof(vec) || mincore((void *) p, pages * pg, vec) != 0)
		return -1;
	for (size_t i = 0; i < pages; i++)
		n += vec[i] & 1;
	return n;
}

/*
 * ntg_mem_populate faults in exactly the whole pages inside the range it is given (the node store
 * of one-row sampling and the capture writer rely on it to fault fresh memory in one system
 * call); where the kernel refuses MADV_POPULATE_WRITE (before Linux 5.14) nothing is faulted in.
 */
static void
test_populate(void)
{
	size_t		pg = (size_t) sysconf(_SC_PAGESIZE);
	uint8_t    *p = mmap(NULL, 32 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int			before,
				after;

	if (p == MAP_FAILED)
	{
		ok(0, "mmap of 32 pages");
		return;
	}
	before = resident(p, 32, pg);
	/* from the middle of page 4 to the middle of page 20: whole pages 5 .. 19 */
	ntg_mem_populate(p + 4 * pg + pg / 2, 16 * pg);
	after = resident(p, 32, pg);
	if (before == 0 && after == 0)
		ok(1, "# SKIP this kernel does not fault in memory with MADV_POPULATE_WRITE");
	else
		ok(before == 0 && after == 15 && resident(p + 5 * pg, 15, pg) == 15,
		   "populate faults in the 15 whole pages of the range and no others (%d -> %d)",
		   before, after);
	ntg_mem_populate(NULL, 16 * pg);	/* nothing to do, no crash */
	ntg_mem_populate(p, pg / 2);		/* no whole page */
	ok(resident(p, 1, pg) == 0, "a range without a whole page faults in nothing");
	munmap(p, 32 * pg);
}

int
main(void)
{
	test_rng();
	test_crc();
	test_blob_roundtrip();
	test_blob_alignment();
	test_aligned_alloc();
	test_populate();
	return done_testing();
}
