/*
 * netdiffus_unet.c — forward and backward of the netdiffus U-Net (netdiffus.h draws it) over a
 * batch of B single-channel S x S images, channels-last, with the layers of nn_image.h.
 *
 * Every activation backward needs is kept in one block carved at first use (netdiffus_ensure_acts)
 * by the same walk over the architecture that counts it for the memory estimate (acts_layout), so
 * the two cannot disagree.  Backward runs on two "stream" gradient buffers that take turns (each
 * op reads one and writes the other), two scratch buffers inside a block, and one buffer per level
 * for the gradient of its skip connection, which the up path fills before the down path needs it.
 */
#include "models/netdiffus.h"
#include "nn/nn_conv3x3.h"
#include "nn/nn_image.h"

#include <math.h>
#include <string.h>

#define W(m, i) nn_params_ptr(&(m)->params, (i))
#define G(m, i) ((m)->params.grad + (m)->params.tensors[(i)].offset)
#define GN_SCRATCH ((m)->acts->gn_scratch)

typedef struct ResActs
{
	float	   *n1,				/* [BP, C] GN1(x) */
			   *mean1,			/* [B, G] */
			   *rstd1,
			   *a1,				/* [BP, C] SiLU */
			   *h1,				/* [BP, OC] conv1 + emb */
			   *e,				/* [B, OC] the embedding's projection */
			   *n2,				/* [BP, OC] */
			   *mean2,
			   *rstd2,
			   *a2,				/* [BP, OC] */
			   *out;			/* [BP, OC] conv2 + skip(x) */
} ResActs;

typedef struct AttnActs
{
	float	   *n,				/* [BP, C] */
			   *mean,
			   *rstd,
			   *qkv,			/* [BP, 3C] */
			   *att,			/* [B, NH, P, P] */
			   *y,				/* [BP, C] attention output */
			   *out;			/* [BP, C] x + proj(y) */
} AttnActs;

typedef struct LevelActs
{
	float	   *pool;			/* [B, P_l, ch[l-1]] (l > 0) */
	ResActs		down;
	AttnActs	down_attn;
	float	   *cat;			/* [B, P_l, h + ch[l]] */
	ResActs		up;
	AttnActs	up_attn;
	float	   *upsampled;		/* [B, P_{l-1}, ch[l]] (l > 0) */
	float	   *dskip;			/* [B, P_l, ch[l]] gradient of the skip */
} LevelActs;

struct NetdiffusActs
{
	int			B;
	float	   *x;				/* [B, S*S] the input images */
	int		   *t;				/* [B] */
	int		   *cls;			/* [B] */
	float	   *tsin,			/* [B, base] sinusoid of t */
			   *t1,				/* [B, E] */
			   *t1a,			/* [B, E] */
			   *emb,			/* [B, E] time MLP + class embedding */
			   *semb;			/* [B, E] SiLU(emb), what every ResBlock projects */
	float	   *hin;			/* [B, P_0, base] conv_in */
	LevelActs	lv[ND_MAX_LEVELS];
	ResActs		mid1;
	AttnActs	mid_attn;
	ResActs		mid2;
	float	   *on,				/* [B, P_0, base] output GN */
			   *omean,
			   *orstd,
			   *oa;				/* SiLU */
	/* backward */
	float	   *gx,
			   *gy,				/* stream gradients [cap] */
			   *s1,
			   *s2,				/* block scratch [cap] */
			   *de,				/* [B, max channels] */
			   *dsemb,
			   *demb,
			   *dt1a,
			   *dt1;			/* [B, E] */
	float	   *col;			/* im2col scratch */
	float	   *gn_scratch;		/* group norm scratch */
	float	   *att_scratch;	/* [S*S] */
	float	   *block;
};

/* ---- layout ------------------------------------------------------------------------------- */

typedef struct Bump
{
	float	   *p;				/* NULL: count only */
	size_t		n;
} Bump;

static float *
take(Bump *b, size_t n)
{
	float	   *r = b->p != NULL ? b->p + b->n : NULL;

	b->n += (n + 15) & ~(size_t) 15;	/* 64-byte steps keep every buffer aligned alike */
	return r;
}

static void
res_layout(Bump *b, ResActs *a, int B, int P, int C, int OC, int G)
{
	size_t		BP = (size_t) B * P;

	a->n1 = take(b, BP * C);
	a->mean1 = take(b, (size_t) B * G);
	a->rstd1 = take(b, (size_t) B * G);
	a->a1 = take(b, BP * C);
	a->h1 = take(b, BP * OC);
	a->e = take(b, (size_t) B * OC);
	a->n2 = take(b, BP * OC);
	a->mean2 = take(b, (size_t) B * G);
	a->rstd2 = take(b, (size_t) B * G);
	a->a2 = take(b, BP * OC);
	a->out = take(b, BP * OC);
}

static void
attn_layout(Bump *b, AttnActs *a, int B, int P, int C, int NH, int G)
{
	size_t		BP = (size_t) B * P;

	a->n = take(b, BP * C);
	a->mean = take(b, (size_t) B * G);
	a->rstd = take(b, (size_t) B * G);
	a->qkv = take(b, BP * 3 * C);
	a->att = take(b, (size_t) B * NH * P * P);
	a->y = take(b, BP * C);
	a->out = take(b, BP * C);
}

static size_t
max_sz(size_t a, size_t b)
{
	return a > b ? a : b;
}

/* Walk the architecture for B images: carve (b->p set) or count (b->p NULL) every buffer. */
static void
acts_layout(const NetdiffusModel *m, NetdiffusActs *a, Bump *b, int B)
{
	const NetdiffusConfig *c = &m->cfg;
	const NetdiffusShape *s = &m->shape;
	int			L = c->levels,
				G = c->norm_groups,
				NH = c->n_heads,
				E = s->E,
				base = c->base_channels;
	size_t		P0 = (size_t) s->S * s->S;
	size_t		cap = (size_t) B * P0 * base,
				maxc = base,
				maxcin = base;
	int			h = base;

	a->x = take(b, (size_t) B * P0);
	a->tsin = take(b, (size_t) B * base);
	a->t1 = take(b, (size_t) B * E);
	a->t1a = take(b, (size_t) B * E);
	a->emb = take(b, (size_t) B * E);
	a->semb = take(b, (size_t) B * E);
	a->hin = take(b, (size_t) B * P0 * base);
	for (int l = 0; l < L; l++)
	{
		LevelActs  *lv = &a->lv[l];
		int			P = s->side[l] * s->side[l];

		lv->pool = l > 0 ? take(b, (size_t) B * P * h) : NULL;
		res_layout(b, &lv->down, B, P, h, s->ch[l], G);
		if (m->level[l].has_attn)
			attn_layout(b, &lv->down_attn, B, P, s->ch[l], NH, G);
		lv->dskip = take(b, (size_t) B * P * s->ch[l]);
		cap = max_sz(cap, (size_t) B * P * max_sz(h, 3 * s->ch[l]));
		maxcin = max_sz(maxcin, h);
		h = s->ch[l];
	}
	{
		int			P = s->side[L - 1] * s->side[L - 1];

		res_layout(b, &a->mid1, B, P, h, h, G);
		attn_layout(b, &a->mid_attn, B, P, h, NH, G);
		res_layout(b, &a->mid2, B, P, h, h, G);
	}
	for (int l = L - 1; l >= 0; l--)
	{
		LevelActs  *lv = &a->lv[l];
		int			P = s->side[l] * s->side[l];
		int			cin = h + s->ch[l];

		lv->cat = take(b, (size_t) B * P * cin);
		res_layout(b, &lv->up, B, P, cin, s->ch[l], G);
		if (m->level[l].has_attn)
			attn_layout(b, &lv->up_attn, B, P, s->ch[l], NH, G);
		lv->upsampled = l > 0 ? take(b, (size_t) B * s->side[l - 1] * s->side[l - 1] * s->ch[l]) : NULL;
		cap = max_sz(cap, (size_t) B * P * max_sz(cin, 3 * s->ch[l]));
		maxc = max_sz(maxc, s->ch[l]);
		maxcin = max_sz(maxcin, cin);
		h = s->ch[l];
	}
	a->on = take(b, (size_t) B * P0 * base);
	a->omean = take(b, (size_t) B * G);
	a->orstd = take(b, (size_t) B * G);
	a->oa = take(b, (size_t) B * P0 * base);
	a->gx = take(b, cap);
	a->gy = take(b, cap);
	a->s1 = take(b, cap);
	a->s2 = take(b, cap);
	a->de = take(b, (size_t) B * maxc);
	a->dsemb = take(b, (size_t) B * E);
	a->demb = take(b, (size_t) B * E);
	a->dt1a = take(b, (size_t) B * E);
	a->dt1 = take(b, (size_t) B * E);
	a->col = take(b, conv2d_col_floats((int) maxcin, 3));
	a->gn_scratch = take(b, groupnorm_scratch_floats((int) maxcin));
	a->att_scratch = take(b, P0);
}

size_t
netdiffus_acts_floats(const NetdiffusModel *m, int B)
{
	NetdiffusActs a;
	Bump		b = {NULL, 0};

	acts_layout(m, &a, &b, B);
	return b.n + 16;
}

void
netdiffus_free_acts(NetdiffusModel *m)
{
	if (m->acts == NULL)
		return;
	ntg_free(m->acts->block);
	ntg_free(m->acts->t);
	ntg_free(m->acts->cls);
	ntg_free(m->acts);
	m->acts = NULL;
	m->acts_images = 0;
}

int
netdiffus_ensure_acts(NetdiffusModel *m, int B)
{
	NetdiffusActs *a;
	Bump		b = {NULL, 0};

	if (m->acts != NULL && m->acts_images >= B)
		return NTG_OK;
	netdiffus_free_acts(m);
	a = ntg_calloc(1, sizeof(NetdiffusActs));
	if (a == NULL)
		return NTG_ERR_NOMEM;
	m->acts = a;
	a->block = ntg_malloc(netdiffus_acts_floats(m, B) * sizeof(float));
	a->t = ntg_malloc((size_t) B * sizeof(int));
	a->cls = ntg_malloc((size_t) B * sizeof(int));
	if (a->block == NULL || a->t == NULL || a->cls == NULL)
	{
		netdiffus_free_acts(m);
		return NTG_ERR_NOMEM;
	}
	/* start on a 64-byte boundary */
	b.p = (float *) (((uintptr_t) a->block + 63) & ~(uintptr_t) 63);
	acts_layout(m, a, &b, B);
	a->B = B;
	m->acts_images = B;
	return NTG_OK;
}

/* ---- forward ------------------------------------------------------------------------------ */

/*
 * A 3 x 3 convolution of the network: from the weights packed for the vector kernel once
 * sampling has asked for them (netdiffus_pack_convs), each packed on first use and kept with the
 * model until its weights change (a training epoch drops them: netdiffus_unpack_convs) or it is
 * freed; else through conv2d_forward, which packs them for each call.  The same bits either way.
 * Kept across calls because packing 3 MB again cost a one-row call up to ~3 ms of its ~50: the
 * packing itself, and ~720 page faults whenever malloc handed out fresh memory for it.
 */
static void
conv3(NetdiffusModel *m, float *out, const float *inp, int wi, int bi, int B, int side, int C,
	  int OC)
{
	const float *w = W(m, wi);

	if (m->packed != NULL && conv3x3_direct_fits(C, OC) && conv3x3_direct_supported())
	{
		if (m->packed[wi] == NULL && (m->packed[wi] = ntg_malloc((size_t) 9 * C * OC *
																  sizeof(float))) != NULL)
			conv3x3_pack(m->packed[wi], w, C, OC);
		if (m->packed[wi] != NULL)
		{
			conv3x3_direct(out, inp, m->packed[wi], B, side, side, C, OC, 0);
			img_bias_forward(out, W(m, bi), B * side * side, OC);
			return;
		}
	}
	conv2d_forward(out, inp, w, W(m, bi), B, side, side, C, OC, 3, m->acts->col);
}

void
netdiffus_pack_convs(NetdiffusModel *m)
{
	if (m->packed == NULL && conv3x3_direct_supported())
		m->packed = ntg_calloc(m->params.n_tensors, sizeof(float *));
}

void
netdiffus_unpack_convs(NetdiffusModel *m)
{
	if (m->packed == NULL)
		return;
	for (int i = 0; i < m->params.n_tensors; i++)
		ntg_free(m->packed[i]);
	ntg_free(m->packed);
	m->packed = NULL;
}

static void
res_forward(NetdiffusModel *m, const NdResBlock *r, ResActs *a, const float *x, int B, int side)
{
	NetdiffusActs *A = m->acts;
	int			P = side * side,
				C = r->C,
				OC = r->OC,
				G = m->cfg.norm_groups;
	size_t		BP = (size_t) B * P;

	groupnorm_forward(a->n1, a->mean1, a->rstd1, x, W(m, r->gn1_w), W(m, r->gn1_b), B, P, C, G,
					  ND_NORM_EPS, GN_SCRATCH);
	img_silu_forward(a->a1, a->n1, BP * C);
	conv3(m, a->h1, a->a1, r->conv1_w, r->conv1_b, B, side, C, OC);
	linear_forward(a->e, A->semb, W(m, r->emb_w), B, m->shape.E, OC);
	img_bias_forward(a->e, W(m, r->emb_b), B, OC);
	channel_add_forward(a->h1, a->e, B, P, OC);
	groupnorm_forward(a->n2, a->mean2, a->rstd2, a->h1, W(m, r->gn2_w), W(m, r->gn2_b), B, P, OC,
					  G, ND_NORM_EPS, GN_SCRATCH);
	img_silu_forward(a->a2, a->n2, BP * OC);
	conv3(m, a->out, a->a2, r->conv2_w, r->conv2_b, B, side, OC, OC);
	if (r->skip_w >= 0)
	{
		conv2d_forward(A->s1, x, W(m, r->skip_w), W(m, r->skip_b), B, side, side, C, OC, 1, NULL);
		residual_add(a->out, A->s1, BP * OC);
	}
	else
		residual_add(a->out, x, BP * OC);
}

static void
attn_forward(NetdiffusModel *m, const NdAttnBlock *ab, AttnActs *a, const float *x, int B, int P)
{
	int			C = ab->C;
	size_t		BP = (size_t) B * P;

	groupnorm_forward(a->n, a->mean, a->rstd, x, W(m, ab->gn_w), W(m, ab->gn_b), B, P, C,
					  m->cfg.norm_groups, ND_NORM_EPS, GN_SCRATCH);
	linear_forward(a->qkv, a->n, W(m, ab->qkv_w), (int) BP, C, 3 * C);
	img_bias_forward(a->qkv, W(m, ab->qkv_b), (int) BP, 3 * C);
	image_attention_forward(a->y, a->att, a->qkv, B, P, C, m->cfg.n_heads);
	linear_forward(a->out, a->y, W(m, ab->proj_w), (int) BP, C, C);
	img_bias_forward(a->out, W(m, ab->proj_b), (int) BP, C);
	residual_add(a->out, x, BP * C);
}

/* The sinusoidal embedding of each step (cos | sin, as guided-diffusion's timestep_embedding). */
static void
time_sinusoid(float *out, const int *t, int B, int dim)
{
	int			half = dim / 2;

	for (int b = 0; b < B; b++)
	{
		float	   *o = out + (size_t) b * dim;

		for (int i = 0; i < half; i++)
		{
			double		f = exp(-log(10000.0) * i / half);

			o[i] = (float) cos(t[b] * f);
			o[half + i] = (float) sin(t[b] * f);
		}
		if (dim % 2)
			o[dim - 1] = 0.0f;
	}
}

static void
embed_forward(NetdiffusModel *m, int B)
{
	NetdiffusActs *a = m->acts;
	int			E = m->shape.E,
				base = m->cfg.base_channels;
	const float *cemb = W(m, m->t_class_emb);

	time_sinusoid(a->tsin, a->t, B, base);
	linear_forward(a->t1, a->tsin, W(m, m->t_time_w1), B, base, E);
	img_bias_forward(a->t1, W(m, m->t_time_b1), B, E);
	img_silu_forward(a->t1a, a->t1, (size_t) B * E);
	linear_forward(a->emb, a->t1a, W(m, m->t_time_w2), B, E, E);
	img_bias_forward(a->emb, W(m, m->t_time_b2), B, E);
	for (int b = 0; b < B; b++)
		residual_add(a->emb + (size_t) b * E, cemb + (size_t) a->cls[b] * E, E);
	img_silu_forward(a->semb, a->emb, (size_t) B * E);
}

/* The input of level l's down ResBlock, and the output of its down and up paths. */
static const float *
down_input(const NetdiffusActs *a, int l)
{
	return l == 0 ? a->hin : a->lv[l].pool;
}

static const float *
skip_of(const NetdiffusModel *m, int l)
{
	return m->level[l].has_attn ? m->acts->lv[l].down_attn.out : m->acts->lv[l].down.out;
}

static const float *
up_output(const NetdiffusModel *m, int l)
{
	return m->level[l].has_attn ? m->acts->lv[l].up_attn.out : m->acts->lv[l].up.out;
}

void
netdiffus_forward(NetdiffusModel *m, const float *x, const int *t, const int *cls, int B,
				  float *eps)
{
	NetdiffusActs *a = m->acts;
	const NetdiffusShape *s = &m->shape;
	int			L = m->cfg.levels,
				S = s->S,
				base = m->cfg.base_channels;
	const float *h;
	int			hc;

	memcpy(a->x, x, (size_t) B * S * S * sizeof(float));
	memcpy(a->t, t, B * sizeof(int));
	memcpy(a->cls, cls, B * sizeof(int));
	embed_forward(m, B);
	conv3(m, a->hin, a->x, m->t_in_w, m->t_in_b, B, S, 1, base);
	h = a->hin;
	hc = base;
	for (int l = 0; l < L; l++)
	{
		LevelActs  *lv = &a->lv[l];
		int			side = s->side[l];

		if (l > 0)
		{
			avgpool2_forward(lv->pool, h, B, s->side[l - 1], s->side[l - 1], hc);
			h = lv->pool;
		}
		res_forward(m, &m->level[l].down, &lv->down, h, B, side);
		if (m->level[l].has_attn)
			attn_forward(m, &m->level[l].down_attn, &lv->down_attn, lv->down.out, B, side * side);
		h = skip_of(m, l);
		hc = s->ch[l];
	}
	{
		int			side = s->side[L - 1];

		res_forward(m, &m->mid1, &a->mid1, h, B, side);
		attn_forward(m, &m->mid_attn, &a->mid_attn, a->mid1.out, B, side * side);
		res_forward(m, &m->mid2, &a->mid2, a->mid_attn.out, B, side);
		h = a->mid2.out;
	}
	for (int l = L - 1; l >= 0; l--)
	{
		LevelActs  *lv = &a->lv[l];
		int			side = s->side[l],
					P = side * side;

		concat_forward(lv->cat, h, skip_of(m, l), B * P, hc, s->ch[l]);
		res_forward(m, &m->level[l].up, &lv->up, lv->cat, B, side);
		if (m->level[l].has_attn)
			attn_forward(m, &m->level[l].up_attn, &lv->up_attn, lv->up.out, B, P);
		h = up_output(m, l);
		hc = s->ch[l];
		if (l > 0)
		{
			upsample2_forward(lv->upsampled, h, B, side, side, hc);
			h = lv->upsampled;
		}
	}
	groupnorm_forward(a->on, a->omean, a->orstd, h, W(m, m->t_out_gn_w), W(m, m->t_out_gn_b), B,
					  S * S, base, m->cfg.norm_groups, ND_NORM_EPS, GN_SCRATCH);
	img_silu_forward(a->oa, a->on, (size_t) B * S * S * base);
	conv3(m, eps, a->oa, m->t_out_w, m->t_out_b, B, S, base, 1);
}

/* ---- backward ----------------------------------------------------------------------------- */

static void
zero(float *x, size_t n)
{
	memset(x, 0, n * sizeof(float));
}

/* dinp[B, P, C] += the gradient of the block's input, from dout[B, P, OC]. */
static void
res_backward(NetdiffusModel *m, const NdResBlock *r, const ResActs *a, const float *x,
			 const float *dout, float *dinp, int B, int side)
{
	NetdiffusActs *A = m->acts;
	int			P = side * side,
				C = r->C,
				OC = r->OC,
				G = m->cfg.norm_groups,
				E = m->shape.E;
	size_t		BP = (size_t) B * P;
	float	   *s1 = A->s1,
			   *s2 = A->s2;

	if (r->skip_w >= 0)
		conv2d_backward(dinp, G(m, r->skip_w), G(m, r->skip_b), dout, x, W(m, r->skip_w), B,
						side, side, C, OC, 1, NULL);
	else
		residual_add(dinp, dout, BP * OC);
	zero(s1, BP * OC);
	conv2d_backward(s1, G(m, r->conv2_w), G(m, r->conv2_b), dout, a->a2, W(m, r->conv2_w), B,
					side, side, OC, OC, 3, A->col);
	zero(s2, BP * OC);
	img_silu_backward(s2, s1, a->n2, BP * OC);
	zero(s1, BP * OC);
	groupnorm_backward(s1, G(m, r->gn2_w), G(m, r->gn2_b), s2, a->h1, W(m, r->gn2_w), a->mean2,
					   a->rstd2, B, P, OC, G, GN_SCRATCH);
	/* h1 = conv1(a1) + e broadcast: s1 is the gradient of both */
	zero(A->de, (size_t) B * OC);
	channel_add_backward(A->de, s1, B, P, OC);
	img_bias_backward(G(m, r->emb_b), A->de, B, OC);
	linear_backward(A->dsemb, G(m, r->emb_w), A->de, A->semb, W(m, r->emb_w), B, E, OC);
	zero(s2, BP * C);
	conv2d_backward(s2, G(m, r->conv1_w), G(m, r->conv1_b), s1, a->a1, W(m, r->conv1_w), B,
					side, side, C, OC, 3, A->col);
	zero(s1, BP * C);
	img_silu_backward(s1, s2, a->n1, BP * C);
	groupnorm_backward(dinp, G(m, r->gn1_w), G(m, r->gn1_b), s1, x, W(m, r->gn1_w), a->mean1,
					   a->rstd1, B, P, C, G, GN_SCRATCH);
}

static void
attn_backward(NetdiffusModel *m, const NdAttnBlock *ab, const AttnActs *a, const float *x,
			  const float *dout, float *dinp, int B, int P)
{
	NetdiffusActs *A = m->acts;
	int			C = ab->C;
	size_t		BP = (size_t) B * P;

	residual_add(dinp, dout, BP * C);
	zero(A->s1, BP * C);
	linear_backward(A->s1, G(m, ab->proj_w), dout, a->y, W(m, ab->proj_w), (int) BP, C, C);
	img_bias_backward(G(m, ab->proj_b), dout, (int) BP, C);
	zero(A->s2, BP * 3 * C);
	image_attention_backward(A->s2, A->s1, a->qkv, a->att, B, P, C, m->cfg.n_heads,
							 A->att_scratch);
	zero(A->s1, BP * C);
	linear_backward(A->s1, G(m, ab->qkv_w), A->s2, a->n, W(m, ab->qkv_w), (int) BP, C, 3 * C);
	img_bias_backward(G(m, ab->qkv_b), A->s2, (int) BP, 3 * C);
	groupnorm_backward(dinp, G(m, ab->gn_w), G(m, ab->gn_b), A->s1, x, W(m, ab->gn_w), a->mean,
					   a->rstd, B, P, C, m->cfg.norm_groups, GN_SCRATCH);
}

static void
embed_backward(NetdiffusModel *m, int B)
{
	NetdiffusActs *a = m->acts;
	int			E = m->shape.E,
				base = m->cfg.base_channels;
	float	   *dcemb = G(m, m->t_class_emb);

	zero(a->demb, (size_t) B * E);
	img_silu_backward(a->demb, a->dsemb, a->emb, (size_t) B * E);
	for (int b = 0; b < B; b++)
		residual_add(dcemb + (size_t) a->cls[b] * E, a->demb + (size_t) b * E, E);
	img_bias_backward(G(m, m->t_time_b2), a->demb, B, E);
	zero(a->dt1a, (size_t) B * E);
	linear_backward(a->dt1a, G(m, m->t_time_w2), a->demb, a->t1a, W(m, m->t_time_w2), B, E, E);
	zero(a->dt1, (size_t) B * E);
	img_silu_backward(a->dt1, a->dt1a, a->t1, (size_t) B * E);
	img_bias_backward(G(m, m->t_time_b1), a->dt1, B, E);
	linear_backward(NULL, G(m, m->t_time_w1), a->dt1, a->tsin, W(m, m->t_time_w1), B, base, E);
}

#define SWAP(x, y) do { float *t_ = (x); (x) = (y); (y) = t_; } while (0)

/* The up path from the gradient of level 0's output in *X down to the middle's output. */
static void
up_backward(NetdiffusModel *m, float **X, float **Y, int B)
{
	NetdiffusActs *a = m->acts;
	const NetdiffusShape *s = &m->shape;
	int			L = m->cfg.levels;

	for (int l = 0; l < L; l++)
	{
		LevelActs  *lv = &a->lv[l];
		const NdLevel *nl = &m->level[l];
		int			side = s->side[l],
					P = side * side;
		int			hc = nl->up.C - s->ch[l];

		if (nl->has_attn)
		{
			zero(*Y, (size_t) B * P * s->ch[l]);
			attn_backward(m, &nl->up_attn, &lv->up_attn, lv->up.out, *X, *Y, B, P);
			SWAP(*X, *Y);
		}
		zero(*Y, (size_t) B * P * nl->up.C);
		res_backward(m, &nl->up, &lv->up, lv->cat, *X, *Y, B, side);
		SWAP(*X, *Y);
		zero(*Y, (size_t) B * P * hc);
		concat_backward(*Y, lv->dskip, *X, B * P, hc, s->ch[l]);
		SWAP(*X, *Y);
		if (l < L - 1)
		{
			zero(*Y, (size_t) B * s->side[l + 1] * s->side[l + 1] * hc);
			upsample2_backward(*Y, *X, B, s->side[l + 1], s->side[l + 1], hc);
			SWAP(*X, *Y);
		}
	}
}

/* The middle and the down path, from the gradient of the middle's output in *X. */
static void
down_backward(NetdiffusModel *m, float **X, float **Y, int B)
{
	NetdiffusActs *a = m->acts;
	const NetdiffusShape *s = &m->shape;
	int			L = m->cfg.levels;
	int			side = s->side[L - 1],
				P = side * side,
				C = s->ch[L - 1];

	zero(*Y, (size_t) B * P * C);
	res_backward(m, &m->mid2, &a->mid2, a->mid_attn.out, *X, *Y, B, side);
	SWAP(*X, *Y);
	zero(*Y, (size_t) B * P * C);
	attn_backward(m, &m->mid_attn, &a->mid_attn, a->mid1.out, *X, *Y, B, P);
	SWAP(*X, *Y);
	zero(*Y, (size_t) B * P * C);
	res_backward(m, &m->mid1, &a->mid1, skip_of(m, L - 1), *X, *Y, B, side);
	SWAP(*X, *Y);
	for (int l = L - 1; l >= 0; l--)
	{
		LevelActs  *lv = &a->lv[l];
		const NdLevel *nl = &m->level[l];

		side = s->side[l];
		P = side * side;
		residual_add(*X, lv->dskip, (size_t) B * P * s->ch[l]);
		if (nl->has_attn)
		{
			zero(*Y, (size_t) B * P * s->ch[l]);
			attn_backward(m, &nl->down_attn, &lv->down_attn, lv->down.out, *X, *Y, B, P);
			SWAP(*X, *Y);
		}
		zero(*Y, (size_t) B * P * nl->down.C);
		res_backward(m, &nl->down, &lv->down, down_input(a, l), *X, *Y, B, side);
		SWAP(*X, *Y);
		if (l > 0)
		{
			int			ps = s->side[l - 1];

			zero(*Y, (size_t) B * ps * ps * nl->down.C);
			avgpool2_backward(*Y, *X, B, ps, ps, nl->down.C);
			SWAP(*X, *Y);
		}
	}
}

void
netdiffus_backward(NetdiffusModel *m, const float *deps, int B)
{
	NetdiffusActs *a = m->acts;
	const NetdiffusShape *s = &m->shape;
	int			S = s->S,
				base = m->cfg.base_channels,
				L = m->cfg.levels;
	size_t		n0 = (size_t) B * S * S * base;
	float	   *X = a->gx,
			   *Y = a->gy;

	for (int l = 0; l < L; l++)
		zero(a->lv[l].dskip, (size_t) B * s->side[l] * s->side[l] * s->ch[l]);
	zero(a->dsemb, (size_t) B * s->E);
	/* output head */
	zero(Y, n0);
	conv2d_backward(Y, G(m, m->t_out_w), G(m, m->t_out_b), deps, a->oa, W(m, m->t_out_w), B, S,
					S, base, 1, 3, a->col);
	zero(X, n0);
	img_silu_backward(X, Y, a->on, n0);
	zero(Y, n0);
	groupnorm_backward(Y, G(m, m->t_out_gn_w), G(m, m->t_out_gn_b), X, up_output(m, 0),
					   W(m, m->t_out_gn_w), a->omean, a->orstd, B, S * S, base,
					   m->cfg.norm_groups, GN_SCRATCH);
	SWAP(X, Y);
	up_backward(m, &X, &Y, B);
	down_backward(m, &X, &Y, B);
	conv2d_backward(NULL, G(m, m->t_in_w), G(m, m->t_in_b), X, a->x, W(m, m->t_in_w), B, S, S,
					1, base, 3, a->col);
	embed_backward(m, B);
}
