/*
 * cu_attention.cu — rotary positions and causal self-attention over packed sequences, for
 * training (forward, backward) and for sampling with a KV cache (kv_store, attention_decode).
 * CPU twins: src/core/nn/nn_attention.c and attend_chain in src/core/models/llama_sample.c.
 *
 * Sequences are short (max_len + 1 tokens, 11 by default), so a thread owns one (sequence, head,
 * position) and loops over the other positions of its sequence, in the twin's order: no thread
 * writes what another reads, and the backward pass needs no atomics (one kernel per query for dq,
 * one per key for dk and dv).
 */
#include "cu_common.h"
#include "cu_ops.h"

#include <math.h>

/* ---- rotary positions ---------------------------------------------------------------------- */

/* rotate the pair (2i, 2i+1) of head h in row n by sign * pos[n] * theta^(-2i/HS); thread per pair */
static __global__ void
rope_kernel(float *x, const int *pos, const float *cs, int N, int nh, int HS, int stride,
			float sign)
{
	size_t		idx = CU_INDEX();
	int			half = HS / 2;
	size_t		n = idx / ((size_t) nh * half);
	int			h = (int) (idx / half % nh),
				i = (int) (idx % half);
	const float *c;
	float	   *v;
	float		co,
				si,
				a,
				b;

	if (idx >= (size_t) N * nh * half)
		return;
	c = cs + (size_t) pos[n] * HS;
	v = x + n * stride + (size_t) h * HS;
	co = c[2 * i];
	si = sign * c[2 * i + 1];
	a = v[2 * i];
	b = v[2 * i + 1];
	v[2 * i] = a * co - b * si;
	v[2 * i + 1] = a * si + b * co;
}

/* CPU twin: rope_forward (nn_attention.c) */
void
rope_forward(float *x, const int *pos, const float *cs, int N, int nh, int HS, int stride)
{
	CU_LAUNCH(rope_kernel, (size_t) N * nh * (HS / 2), x, pos, cs, N, nh, HS, stride, 1.0f);
}

/* CPU twin: rope_backward (nn_attention.c) */
void
rope_backward(float *dx, const int *pos, const float *cs, int N, int nh, int HS, int stride)
{
	CU_LAUNCH(rope_kernel, (size_t) N * nh * (HS / 2), dx, pos, cs, N, nh, HS, stride, -1.0f);
}

/* ---- training ------------------------------------------------------------------------------ */

/* Thread index -> (sequence s, head h, position t) over S x NH x maxlen; 0 past len[s]. */
static CU_DEV int
seq_head_pos(size_t idx, const int *len, int S, int NH, int maxlen, int *s, int *h, int *t)
{
	if (idx >= (size_t) S * NH * maxlen)
		return 0;
	*s = (int) (idx / ((size_t) NH * maxlen));
	*h = (int) (idx / maxlen % NH);
	*t = (int) (idx % maxlen);
	return *t < len[*s];
}

/* query t of head h of sequence s: its softmax row att[t, :] (zeros after t) and out_t */
static __global__ void
attention_forward_kernel(float *out, float *att, const float *qkv, const int *start,
						 const int *len, const size_t *att_off, int S, int C, int NH, int maxlen)
{
	int			s,
				h,
				t,
				L,
				HS = C / NH,
				C3 = 3 * C;
	float		scale = 1.0f / sqrtf((float) HS);
	const float *base,
			   *q;
	float	   *row,
			   *o;
	float		mx = -INFINITY,
				sum = 0.0f,
				inv;

	if (!seq_head_pos(CU_INDEX(), len, S, NH, maxlen, &s, &h, &t))
		return;
	L = len[s];
	base = qkv + (size_t) start[s] * C3;
	q = base + (size_t) t * C3 + h * HS;
	row = att + att_off[s] + (size_t) h * L * L + (size_t) t * L;
	o = out + ((size_t) start[s] + t) * C + h * HS;
	for (int u = 0; u <= t; u++)
	{
		const float *k = base + (size_t) u * C3 + C + h * HS;
		float		d = 0.0f;

		for (int i = 0; i < HS; i++)
			d += q[i] * k[i];
		d *= scale;
		row[u] = d;
		if (d > mx)
			mx = d;
	}
	for (int u = 0; u <= t; u++)
	{
		row[u] = expf(row[u] - mx);
		sum += row[u];
	}
	inv = 1.0f / sum;
	for (int u = 0; u <= t; u++)
		row[u] *= inv;
	for (int u = t + 1; u < L; u++)
		row[u] = 0.0f;
	for (int i = 0; i < HS; i++)
		o[i] = 0.0f;
	for (int u = 0; u <= t; u++)
	{
		const float *v = base + (size_t) u * C3 + 2 * C + h * HS;
		float		p = row[u];

		for (int i = 0; i < HS; i++)
			o[i] += p * v[i];
	}
}

/* CPU twin: attention_forward (nn_attention.c) */
void
attention_forward(float *out, float *att, const float *qkv, const int *start, const int *len,
				  const size_t *att_off, int S, int C, int NH, int maxlen)
{
	CU_LAUNCH(attention_forward_kernel, (size_t) S * NH * maxlen, out, att, qkv, start, len,
			  att_off, S, C, NH, maxlen);
}

/*
 * Per query t: dp_u = dout_t . v_u, the score gradients g_u = p_u (dp_u - sum_j p_j dp_j) scale
 * (kept in datt, laid out as att, for the key kernel) and dq_t += sum_u g_u k_u.
 */
static __global__ void
attention_backward_query_kernel(float *dqkv, float *datt, const float *dout, const float *qkv,
								const float *att, const int *start, const int *len,
								const size_t *att_off, int S, int C, int NH, int maxlen)
{
	int			s,
				h,
				t,
				L,
				HS = C / NH,
				C3 = 3 * C;
	float		scale = 1.0f / sqrtf((float) HS);
	const float *base,
			   *row,
			   *dout_t;
	float	   *g,
			   *dq;
	float		dot = 0.0f;

	if (!seq_head_pos(CU_INDEX(), len, S, NH, maxlen, &s, &h, &t))
		return;
	L = len[s];
	base = qkv + (size_t) start[s] * C3;
	row = att + att_off[s] + (size_t) h * L * L + (size_t) t * L;
	g = datt + att_off[s] + (size_t) h * L * L + (size_t) t * L;
	dout_t = dout + ((size_t) start[s] + t) * C + h * HS;
	dq = dqkv + ((size_t) start[s] + t) * C3 + h * HS;
	for (int u = 0; u <= t; u++)
	{
		const float *v = base + (size_t) u * C3 + 2 * C + h * HS;
		float		d = 0.0f;

		for (int i = 0; i < HS; i++)
			d += dout_t[i] * v[i];
		g[u] = d;
		dot += d * row[u];
	}
	for (int u = 0; u <= t; u++)
	{
		const float *k = base + (size_t) u * C3 + C + h * HS;

		g[u] = row[u] * (g[u] - dot) * scale;
		for (int i = 0; i < HS; i++)
			dq[i] += g[u] * k[i];
	}
}

/* Per key u: dk_u += sum_{t >= u} g_tu q_t, dv_u += sum_{t >= u} p_tu dout_t (t ascending). */
static __global__ void
attention_backward_key_kernel(float *dqkv, const float *datt, const float *dout,
							  const float *qkv, const float *att, const int *start,
							  const int *len, const size_t *att_off, int S, int C, int NH,
							  int maxlen)
{
	int			s,
				h,
				u,
				L,
				HS = C / NH,
				C3 = 3 * C;
	const float *base;
	float	   *dk,
			   *dv;

	if (!seq_head_pos(CU_INDEX(), len, S, NH, maxlen, &s, &h, &u))
		return;
	L = len[s];
	base = qkv + (size_t) start[s] * C3;
	dk = dqkv + ((size_t) start[s] + u) * C3 + C + h * HS;
	dv = dqkv + ((size_t) start[s] + u) * C3 + 2 * C + h * HS;
	for (int t = u; t < L; t++)
	{
		size_t		at = att_off[s] + (size_t) h * L * L + (size_t) t * L + u;
		const float *q = base + (size_t) t * C3 + h * HS;
		const float *dout_t = dout + ((size_t) start[s] + t) * C + h * HS;
		float		p = att[at],
					g = datt[at];

		for (int i = 0; i < HS; i++)
		{
			dv[i] += p * dout_t[i];
			dk[i] += g * q[i];
		}
	}
}

/* CPU twin: attention_backward (nn_attention.c); scratch holds the score gradients */
void
attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
				   const int *start, const int *len, const size_t *att_off, int S, int C, int NH,
				   int maxlen, float *scratch)
{
	size_t		threads = (size_t) S * NH * maxlen;

	CU_LAUNCH(attention_backward_query_kernel, threads, dqkv, scratch, dout, qkv, att, start, len,
			  att_off, S, C, NH, maxlen);
	CU_LAUNCH(attention_backward_key_kernel, threads, dqkv, scratch, dout, qkv, att, start, len,
			  att_off, S, C, NH, maxlen);
}

/* ---- sampling with a KV cache ---------------------------------------------------------------- */

/* kc[j, i] = qkv[j, C + i], vc[j, i] = qkv[j, 2C + i]; thread per (j, i) */
static __global__ void
kv_store_kernel(float *kc, float *vc, const float *qkv, int U, int C)
{
	size_t		idx = CU_INDEX();
	size_t		j = idx / C,
				i = idx % C;

	if (idx >= (size_t) U * C)
		return;
	kc[idx] = qkv[j * 3 * C + C + i];
	vc[idx] = qkv[j * 3 * C + 2 * C + i];
}

/* CPU twin: the memcpy of keys and values into the cache in llama_decode_nodes (llama_sample.c) */
void
kv_store(float *kc, float *vc, const float *qkv, int U, int C)
{
	CU_LAUNCH(kv_store_kernel, (size_t) U * C, kc, vc, qkv, U, C);
}

/* node j's query, head h, over its chain of ancestors at positions 0 .. p; thread per (j, h) */
static __global__ void
attention_decode_kernel(float *out, const float *qkv, const float *kcache, const float *vcache,
						const int *chain, size_t pos_stride, int U, int p, int C, int NH,
						float *scratch)
{
	size_t		idx = CU_INDEX();
	int			j = (int) (idx / NH),
				h = (int) (idx % NH),
				HS = C / NH;
	float		scale = 1.0f / sqrtf((float) HS);
	const float *q;
	const int  *ch;
	float	   *o,
			   *sc;
	float		mx = -INFINITY,
				sum = 0.0f;

	if (idx >= (size_t) U * NH)
		return;
	q = qkv + (size_t) j * 3 * C + h * HS;
	o = out + (size_t) j * C + h * HS;
	ch = chain + (size_t) j * (p + 1);
	sc = scratch + idx * (p + 1);
	for (int u = 0; u <= p; u++)
	{
		const float *k = kcache + u * pos_stride + (size_t) ch[u] * C + h * HS;
		float		d = 0.0f;

		for (int i = 0; i < HS; i++)
			d += q[i] * k[i];
		d *= scale;
		sc[u] = d;
		if (d > mx)
			mx = d;
	}
	for (int u = 0; u <= p; u++)
	{
		sc[u] = expf(sc[u] - mx);
		sum += sc[u];
	}
	for (int i = 0; i < HS; i++)
		o[i] = 0.0f;
	for (int u = 0; u <= p; u++)
	{
		const float *v = vcache + u * pos_stride + (size_t) ch[u] * C + h * HS;
		float		w = sc[u] / sum;

		for (int i = 0; i < HS; i++)
			o[i] += w * v[i];
	}
}

/* CPU twin: attend_chain (models/llama_sample.c) */
void
attention_decode(float *out, const float *qkv, const float *kcache, const float *vcache,
				 const int *chain, size_t pos_stride, int U, int p, int C, int NH, float *scratch)
{
	CU_LAUNCH(attention_decode_kernel, (size_t) U * NH, out, qkv, kcache, vcache, chain,
			  pos_stride, U, p, C, NH, scratch);
}
