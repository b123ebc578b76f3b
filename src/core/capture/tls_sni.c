/*
 * tls_sni.c — the server_name of a TLS ClientHello at the start of a TCP payload.
 *
 * Only the bytes of one segment are looked at: a ClientHello whose server_name extension lies
 * beyond the first captured segment (large post-quantum key shares, snaplen) gives no SNI.
 * Every length is checked against both its enclosing structure and the captured bytes.
 */
#include "capture/decode.h"

#include <string.h>

/* A bounded cursor over untrusted bytes. */
typedef struct Cur
{
	const uint8_t *p;
	uint32_t	left;
} Cur;

static bool
take(Cur *c, uint32_t n, Cur *sub)
{
	if (c->left < n)
		return false;
	if (sub)
	{
		sub->p = c->p;
		sub->left = n;
	}
	c->p += n;
	c->left -= n;
	return true;
}

static bool
take_u(Cur *c, int bytes, uint32_t *v)
{
	uint32_t	x = 0;

	if (c->left < (uint32_t) bytes)
		return false;
	for (int i = 0; i < bytes; i++)
		x = (x << 8) | c->p[i];
	c->p += bytes;
	c->left -= bytes;
	*v = x;
	return true;
}

/* Skip a vector whose length prefix is `bytes` long. */
static bool
skip_vec(Cur *c, int bytes)
{
	uint32_t	n;

	return take_u(c, bytes, &n) && take(c, n, NULL);
}

/* Take a vector that may run past the captured bytes: clip it to what there is. */
static bool
take_vec_clipped(Cur *c, int bytes, Cur *sub)
{
	uint32_t	n;

	if (!take_u(c, bytes, &n))
		return false;
	if (n > c->left)
		n = c->left;
	return take(c, n, sub);
}

static int
copy_name(Cur name, char *out, int outsize)
{
	if (name.left == 0 || name.left >= (uint32_t) outsize)
		return 0;
	for (uint32_t i = 0; i < name.left; i++)
		if (name.p[i] < 0x21 || name.p[i] > 0x7e)
			return 0;
	memcpy(out, name.p, name.left);
	out[name.left] = '\0';
	return (int) name.left;
}

int
ntg_tls_sni(const uint8_t *p, uint32_t len, char *out, int outsize)
{
	Cur			c = {p, len},
				rec,
				hs,
				exts;
	uint32_t	v;

	/* Record header: handshake (22), version 3.x, length (clipped to the segment). */
	if (len < 6 || p[0] != 22 || p[1] != 3)
		return 0;
	take(&c, 3, NULL);
	if (!take_vec_clipped(&c, 2, &rec))
		return 0;
	/* Handshake header: ClientHello (1), 24-bit length. */
	if (!take_u(&rec, 1, &v) || v != 1 || !take_vec_clipped(&rec, 3, &hs))
		return 0;
	/* version, random, session id, cipher suites, compression methods */
	if (!take(&hs, 2 + 32, NULL) || !skip_vec(&hs, 1) || !skip_vec(&hs, 2) || !skip_vec(&hs, 1))
		return 0;
	if (!take_vec_clipped(&hs, 2, &exts))
		return 0;
	while (exts.left >= 4)
	{
		uint32_t	type;
		Cur			ext,
					list,
					name;

		take_u(&exts, 2, &type);
		if (!take_vec_clipped(&exts, 2, &ext))
			return 0;
		if (type != 0)
			continue;
		if (!take_vec_clipped(&ext, 2, &list))
			return 0;
		while (list.left >= 3)
		{
			uint32_t	name_type;

			take_u(&list, 1, &name_type);
			if (!take_u(&list, 2, &v) || !take(&list, v, &name))
				return 0;
			if (name_type == 0)
				return copy_name(name, out, outsize);
		}
		return 0;
	}
	return 0;
}
