/*
 * crc32c.c — CRC-32C (Castagnoli), with the SSE 4.2 crc32 instruction where the CPU has it
 * (chosen once at run time) and a table-driven slicing-by-8 fallback.  Every stored model is
 * checked with it when it is loaded, so it is on the path of the first ntg.generate of a backend:
 * an 8 MB model takes well under a millisecond with the instruction, several with the tables.
 */
#include "common/crc32c.h"

#include <stddef.h>

static uint32_t table[8][256];
static int	table_ready = 0;

static void
crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++)
	{
		uint32_t	c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
	table_ready = 1;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_CRC32C_SSE42 1

__attribute__((target("sse4.2")))
static uint32_t
crc32c_sse42(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t	c = ~crc;

	while (len > 0 && ((uintptr_t) p & 7) != 0)
	{
		c = __builtin_ia32_crc32qi((uint32_t) c, *p++);
		len--;
	}
	while (len >= 8)
	{
		uint64_t	v;

		__builtin_memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t) c, *p++);
	return ~(uint32_t) c;
}
#endif

static uint32_t crc32c_table(uint32_t crc, const uint8_t *p, size_t len);

uint32_t
ntg_crc32c(uint32_t crc, const void *data, size_t len)
{
#ifdef HAVE_CRC32C_SSE42
	static int	sse42 = -1;

	if (sse42 < 0)
		sse42 = __builtin_cpu_supports("sse4.2") ? 1 : 0;
	if (sse42)
		return crc32c_sse42(crc, data, len);
#endif
	return crc32c_table(crc, data, len);
}

/* The portable version (and the reference the instruction is tested against). */
uint32_t
ntg_crc32c_portable(uint32_t crc, const void *data, size_t len)
{
	return crc32c_table(crc, data, len);
}

static uint32_t
crc32c_table(uint32_t crc, const uint8_t *p, size_t len)
{
	if (!table_ready)
		crc32c_init();
	crc = ~crc;
	while (len >= 8)
	{
		uint32_t	lo = crc ^ ((uint32_t) p[0] | (uint32_t) p[1] << 8 |
								(uint32_t) p[2] << 16 | (uint32_t) p[3] << 24);
		uint32_t	hi = (uint32_t) p[4] | (uint32_t) p[5] << 8 |
			(uint32_t) p[6] << 16 | (uint32_t) p[7] << 24;

		crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
			table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
			table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
			table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}
