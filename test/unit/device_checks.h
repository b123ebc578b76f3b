/*
 * device_checks.h — the checks of a device library (nn_device.h) against the CPU, shared by
 * test_cuda.c (the real kernels, ntg_cuda.so, on a GPU) and test_cuda_emu.c (the same kernel
 * sources emulated on the host).  Header-only, like the other fixtures.
 *
 *   device_check_ops       every op against its CPU twin on random inputs
 *   device_check_step      a whole llama training step (loss, every tensor's gradient, with and
 *                          without dropout) and three AdamW steps against the CPU
 *   device_check_sampling  next-token probabilities and sampled batches (one at a time, batched,
 *                          stratified) against the CPU from the same weights
 *   device_check_driver    training through the driver on the device, the stored bytes, and
 *                          sampling a device-trained model on the CPU and a CPU-trained one on
 *                          the device
 *
 * Tolerances, as the largest error relative to the largest value of the output tensor (so that
 * they read the same for every op):
 *   elementwise ops and row reductions (embedding, RMSNorm, rotary, SwiGLU, residual, softmax,
 *   attention, cross-entropy, AdamW, norm)                                      1e-5
 *   matrix products (cuBLAS against OpenBLAS: another summation order)           1e-5
 *   a whole training step: loss 1e-5 relative; gradients 1e-4 of each tensor's largest
 * The device rounds expf and sqrtf to within 2 ulp and fuses multiply-adds, so its results are
 * not the CPU's bits; the emulated build (the CPU's own arithmetic, summed in the kernels' order)
 * measures below 1e-6 on all of them.  Sampled rows must be the CPU's rows exactly (a draw only
 * changes when a uniform falls within the logits' rounding of a boundary).
 */
#ifndef NTG_DEVICE_CHECKS_H
#define NTG_DEVICE_CHECKS_H

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "models/llama.h"
#include "models/train_driver.h"
#include "nn/nn.h"
#include "nn/nn_device.h"
#include "sampling_fixture.h"
#include "unit.h"

#define DC_TOL 1e-5
#define DC_TOL_GRAD 1e-4

static uint64_t dc_digest = 1469598103934665603u;	/* FNV-1a of every device output */

/* Path of a file relative to this test binary's directory (test/unit/bin). */
static inline void
dc_path(char *buf, size_t size, const char *rel)
{
	char		exe[1024];
	ssize_t		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char	   *slash;

	exe[n > 0 ? n : 0] = '\0';
	slash = strrchr(exe, '/');
	if (slash != NULL)
		*slash = '\0';
	snprintf(buf, size, "%s/%s", exe, rel);
}

static inline void
dc_random(NtgRng *rng, float *x, size_t n, float scale)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (float) (ntg_rng_normal(rng) * scale);
}

static inline float *
dc_up(const NnDeviceApi *api, const void *host, size_t bytes)
{
	void	   *d = api->alloc(bytes);

	if (d != NULL && host != NULL)
		api->to_device(d, host, bytes);
	return d;
}

/* Download n floats and fold their bits into the digest. */
static inline void
dc_down(const NnDeviceApi *api, float *host, const float *dev, size_t n)
{
	const unsigned char *b = (const unsigned char *) host;

	if (api->to_host(host, dev, n * sizeof(float)) != 0)
		printf("# to_host: %s\n", api->last_error());
	for (size_t i = 0; i < n * sizeof(float); i++)
		dc_digest = (dc_digest ^ b[i]) * 1099511628211u;
}

/* max |got - want| / max |want| */
static inline double
dc_err(const float *got, const float *want, size_t n)
{
	double		scale = 0.0,
				diff = 0.0;

	for (size_t i = 0; i < n; i++)
		scale = fmax(scale, fabs(want[i]));
	for (size_t i = 0; i < n; i++)
		diff = isnan(got[i]) ? INFINITY : fmax(diff, fabs((double) got[i] - want[i]));
	return scale > 0.0 ? diff / scale : diff;
}

/* Compare n device floats with the CPU's. */
static inline void
dc_same(const NnDeviceApi *api, const float *dev, const float *cpu, size_t n, double tol,
		const char *tag, const char *what)
{
	float	   *h = ntg_malloc(n * sizeof(float));
	double		e;

	dc_down(api, h, dev, n);
	e = dc_err(h, cpu, n);
	ok(e <= tol, "%s: %s matches the CPU (error %.2g, tolerance %.0e)", tag, what, e, tol);
	ntg_free(h);
}

static inline float *
dc_copy(const float *x, size_t n)
{
	float	   *c = ntg_malloc(n * sizeof(float));

	memcpy(c, x, n * sizeof(float));
	return c;
}

/* ---- ops -------------------------------------------------------------------------------- */

static inline void
dc_embedding(const NnDeviceApi *api, NtgRng *rng, const char *tag)
{
	enum {N = 37, C = 24, V = 50};
	int32_t		tok[N];
	float		wte[V * C], out[N * C], dout[N * C], dwte[V * C];
	float	   *d_wte, *d_out, *d_dout, *d_dwte;
	int32_t    *d_tok;

	for (int n = 0; n < N; n++)
		tok[n] = (int32_t) ntg_rng_below(rng, 12);	/* repeats: rows add up */
	dc_random(rng, wte, V * C, 1.0f);
	dc_random(rng, dout, N * C, 1.0f);
	dc_random(rng, dwte, V * C, 1.0f);
	d_tok = (int32_t *) dc_up(api, tok, sizeof(tok));
	d_wte = dc_up(api, wte, sizeof(wte));
	d_out = dc_up(api, NULL, sizeof(out));
	d_dout = dc_up(api, dout, sizeof(dout));
	d_dwte = dc_up(api, dwte, sizeof(dwte));
	embedding_forward(out, tok, wte, N, C);
	api->embedding_forward(d_out, d_tok, d_wte, N, C);
	dc_same(api, d_out, out, N * C, DC_TOL, tag, "embedding_forward");
	embedding_backward(dwte, dout, tok, N, C);
	api->embedding_backward(d_dwte, d_dout, d_tok, N, C);
	dc_same(api, d_dwte, dwte, V * C, DC_TOL, tag, "embedding_backward (accumulating)");
	api->free(d_tok), api->free(d_wte), api->free(d_out), api->free(d_dout), api->free(d_dwte);
}

static inline void
dc_rmsnorm(const NnDeviceApi *api, NtgRng *rng, const char *tag)
{
	enum {N = 37, C = 24};
	float		inp[N * C], w[C], out[N * C], rstd[N], dout[N * C], dinp[N * C], dw[C];
	float	   *d_inp = dc_up(api, NULL, sizeof(inp)), *d_w, *d_out, *d_rstd, *d_dout, *d_dinp, *d_dw;

	dc_random(rng, inp, N * C, 2.0f);
	dc_random(rng, w, C, 1.0f);
	dc_random(rng, dout, N * C, 1.0f);
	dc_random(rng, dinp, N * C, 1.0f);
	dc_random(rng, dw, C, 1.0f);
	api->to_device(d_inp, inp, sizeof(inp));
	d_w = dc_up(api, w, sizeof(w));
	d_out = dc_up(api, NULL, sizeof(out));
	d_rstd = dc_up(api, NULL, sizeof(rstd));
	d_dout = dc_up(api, dout, sizeof(dout));
	d_dinp = dc_up(api, dinp, sizeof(dinp));
	d_dw = dc_up(api, dw, sizeof(dw));
	rmsnorm_forward(out, rstd, inp, w, N, C, 1e-5f);
	api->rmsnorm_forward(d_out, d_rstd, d_inp, d_w, N, C, 1e-5f);
	dc_same(api, d_out, out, N * C, DC_TOL, tag, "rmsnorm_forward out");
	dc_same(api, d_rstd, rstd, N, DC_TOL, tag, "rmsnorm_forward rstd");
	rmsnorm_backward(dinp, dw, dout, inp, w, rstd, N, C);
	api->rmsnorm_backward(d_dinp, d_dw, d_dout, d_inp, d_w, d_rstd, N, C);
	dc_same(api, d_dinp, dinp, N * C, DC_TOL, tag, "rmsnorm_backward dinp (accumulating)");
	dc_same(api, d_dw, dw, C, DC_TOL, tag, "rmsnorm_backward dw (accumulating)");
	api->free(d_inp), api->free(d_w), api->free(d_out), api->free(d_rstd);
	api->free(d_dout), api->free(d_dinp), api->free(d_dw);
}

static inline void
dc_linear(const NnDeviceApi *api, NtgRng *rng, const char *tag, int N, int with_dinp)
{
	enum {C = 24, OC = 40};
	float	   *inp = ntg_malloc(N * C * sizeof(float)), *out = ntg_malloc(N * OC * sizeof(float)),
			   *dout = ntg_malloc(N * OC * sizeof(float)), *dinp = ntg_malloc(N * C * sizeof(float));
	float		w[OC * C], dw[OC * C];
	float	   *d_inp, *d_out, *d_dout, *d_dinp, *d_w, *d_dw;
	char		what[96];

	dc_random(rng, inp, N * C, 1.0f);
	dc_random(rng, w, OC * C, 0.3f);
	dc_random(rng, dout, N * OC, 1.0f);
	dc_random(rng, dinp, N * C, 1.0f);
	dc_random(rng, dw, OC * C, 1.0f);
	d_inp = dc_up(api, inp, N * C * sizeof(float));
	d_out = dc_up(api, NULL, N * OC * sizeof(float));
	d_dout = dc_up(api, dout, N * OC * sizeof(float));
	d_dinp = dc_up(api, dinp, N * C * sizeof(float));
	d_w = dc_up(api, w, sizeof(w));
	d_dw = dc_up(api, dw, sizeof(dw));
	linear_forward(out, inp, w, N, C, OC);
	api->linear_forward(d_out, d_inp, d_w, N, C, OC);
	snprintf(what, sizeof(what), "linear_forward, %d rows", N);
	dc_same(api, d_out, out, (size_t) N * OC, DC_TOL, tag, what);
	linear_backward(with_dinp ? dinp : NULL, dw, dout, inp, w, N, C, OC);
	api->linear_backward(with_dinp ? d_dinp : NULL, d_dw, d_dout, d_inp, d_w, N, C, OC);
	snprintf(what, sizeof(what), "linear_backward dw, %d rows%s", N, with_dinp ? "" : ", no dinp");
	dc_same(api, d_dw, dw, OC * C, DC_TOL, tag, what);
	snprintf(what, sizeof(what), "linear_backward dinp, %d rows%s", N,
			 with_dinp ? "" : " (NULL: left alone)");
	dc_same(api, d_dinp, dinp, (size_t) N * C, DC_TOL, tag, what);
	if (with_dinp)
	{
		/* written over what the device's dinp holds, as the twin into a cleared dinp */
		memset(dinp, 0, (size_t) N * C * sizeof(float));
		linear_backward(dinp, NULL, dout, inp, w, N, C, OC);
		api->linear_backward_set(d_dinp, NULL, d_dout, d_inp, d_w, N, C, OC);
		snprintf(what, sizeof(what), "linear_backward_set dinp (written), %d rows", N);
		dc_same(api, d_dinp, dinp, (size_t) N * C, DC_TOL, tag, what);
	}
	api->free(d_inp), api->free(d_out), api->free(d_dout), api->free(d_dinp);
	api->free(d_w), api->free(d_dw);
	ntg_free(inp), ntg_free(out), ntg_free(dout), ntg_free(dinp);
}

/* packed sequences for the attention checks */
enum {DC_S = 4, DC_C = 24, DC_NH = 2, DC_T = 11};
static const int dc_len[DC_S] = {1, 11, 6, 3};

static inline void
dc_rope(const NnDeviceApi *api, NtgRng *rng, const char *tag)
{
	enum {N = 21, C = DC_C, HS = DC_C / DC_NH};
	float		cs[DC_T * HS], x[N * 3 * C];
	int			pos[N];
	float	   *d_cs, *d_x;
	int		   *d_pos;

	rope_table(cs, DC_T, HS, 10000.0);
	for (int n = 0; n < N; n++)
		pos[n] = (int) ntg_rng_below(rng, DC_T);
	dc_random(rng, x, N * 3 * C, 1.0f);
	d_cs = dc_up(api, cs, sizeof(cs));
	d_x = dc_up(api, x, sizeof(x));
	d_pos = (int *) dc_up(api, pos, sizeof(pos));
	rope_forward(x, pos, cs, N, DC_NH, HS, 3 * C);
	rope_forward(x + C, pos, cs, N, DC_NH, HS, 3 * C);
	api->rope_forward(d_x, d_pos, d_cs, N, DC_NH, HS, 3 * C);
	api->rope_forward(d_x + C, d_pos, d_cs, N, DC_NH, HS, 3 * C);
	dc_same(api, d_x, x, N * 3 * C, DC_TOL, tag, "rope_forward on q and k of qkv rows");
	rope_backward(x + C, pos, cs, N, DC_NH, HS, 3 * C);
	api->rope_backward(d_x + C, d_pos, d_cs, N, DC_NH, HS, 3 * C);
	dc_same(api, d_x, x, N * 3 * C, DC_TOL, tag, "rope_backward");
	api->free(d_cs), api->free(d_x), api->free(d_pos);
}

static inline void
dc_attention(const NnDeviceApi *api, NtgRng *rng, const char *tag)
{
	int			start[DC_S], N = 0;
	size_t		att_off[DC_S], natt;
	float	   *qkv, *out, *att, *dout, *dqkv, scratch[DC_T];
	float	   *d_qkv, *d_out, *d_att, *d_dout, *d_dqkv, *d_scr;
	int		   *d_start, *d_len;
	size_t	   *d_off;

	for (int s = 0; s < DC_S; s++)
		start[s] = N, N += dc_len[s];
	natt = attention_offsets(att_off, dc_len, DC_S, DC_NH);
	qkv = ntg_malloc(N * 3 * DC_C * sizeof(float));
	out = ntg_malloc(N * DC_C * sizeof(float));
	dout = ntg_malloc(N * DC_C * sizeof(float));
	dqkv = ntg_malloc(N * 3 * DC_C * sizeof(float));
	att = ntg_malloc(natt * sizeof(float));
	dc_random(rng, qkv, N * 3 * DC_C, 1.0f);
	dc_random(rng, dout, N * DC_C, 1.0f);
	dc_random(rng, dqkv, N * 3 * DC_C, 1.0f);
	d_qkv = dc_up(api, qkv, N * 3 * DC_C * sizeof(float));
	d_out = dc_up(api, NULL, N * DC_C * sizeof(float));
	d_att = dc_up(api, NULL, natt * sizeof(float));
	d_dout = dc_up(api, dout, N * DC_C * sizeof(float));
	d_dqkv = dc_up(api, dqkv, N * 3 * DC_C * sizeof(float));
	d_scr = dc_up(api, NULL, natt * sizeof(float));
	d_start = (int *) dc_up(api, start, sizeof(start));
	d_len = (int *) dc_up(api, dc_len, sizeof(dc_len));
	d_off = (size_t *) dc_up(api, att_off, sizeof(att_off));
	attention_forward(out, att, qkv, start, dc_len, att_off, DC_S, DC_C, DC_NH);
	api->attention_forward(d_out, d_att, d_qkv, d_start, d_len, d_off, DC_S, DC_C, DC_NH, DC_T);
	dc_same(api, d_out, out, N * DC_C, DC_TOL, tag, "attention_forward out (lengths 1, 11, 6, 3)");
	dc_same(api, d_att, att, natt, DC_TOL, tag, "attention_forward probabilities");
	attention_backward(dqkv, dout, qkv, att, start, dc_len, att_off, DC_S, DC_C, DC_NH, scratch);
	api->attention_backward(d_dqkv, d_dout, d_qkv, d_att, d_start, d_len, d_off, DC_S, DC_C, DC_NH,
							DC_T, d_scr);
	dc_same(api, d_dqkv, dqkv, N * 3 * DC_C, DC_TOL, tag,
			"attention_backward dq, dk, dv (accumulating)");
	api->free(d_qkv), api->free(d_out), api->free(d_att), api->free(d_dout), api->free(d_dqkv);
	api->free(d_scr), api->free(d_start), api->free(d_len), api->free(d_off);
	ntg_free(qkv), ntg_free(out), ntg_free(dout), ntg_free(dqkv), ntg_free(att);
}

static inline void
dc_elementwise(const NnDeviceApi *api, NtgRng *rng, const char *tag)
{
	enum {N = 37, H = 20, E = 1000};
	float		h13[N * 2 * H], out[N * H], dout[N * H], dh13[N * 2 * H];
	float		a[E], b[E], sc[E];
	float	   *d_h13 = dc_up(api, NULL, sizeof(h13)), *d_out, *d_dout, *d_dh13, *d_a, *d_b, *d_sc;

	dc_random(rng, h13, N * 2 * H, 3.0f);
	dc_random(rng, dout, N * H, 1.0f);
	dc_random(rng, dh13, N * 2 * H, 1.0f);
	dc_random(rng, a, E, 1.0f);
	dc_random(rng, b, E, 1.0f);
	for (int i = 0; i < E; i++)
		sc[i] = ntg_rng_below(rng, 4) == 0 ? 0.0f : 1.25f;
	api->to_device(d_h13, h13, sizeof(h13));
	d_out = dc_up(api, NULL, sizeof(out));
	d_dout = dc_up(api, dout, sizeof(dout));
	d_dh13 = dc_up(api, dh13, sizeof(dh13));
	d_a = dc_up(api, a, sizeof(a));
	d_b = dc_up(api, b, sizeof(b));
	d_sc = dc_up(api, sc, sizeof(sc));
	swiglu_forward(out, h13, N, H);
	api->swiglu_forward(d_out, d_h13, N, H);
	dc_same(api, d_out, out, N * H, DC_TOL, tag, "swiglu_forward");
	swiglu_backward(dh13, dout, h13, N, H);
	api->swiglu_backward(d_dh13, d_dout, d_h13, N, H);
	dc_same(api, d_dh13, dh13, N * 2 * H, DC_TOL, tag, "swiglu_backward (accumulating)");
	residual_add(a, b, E);
	api->residual_add(d_a, d_b, E);
	dc_same(api, d_a, a, E, DC_TOL, tag, "residual_add");
	for (int i = 0; i < E; i++)
		b[i] *= sc[i];
	api->scale_mul(d_b, d_b, d_sc, E);
	dc_same(api, d_b, b, E, DC_TOL, tag, "scale_mul (dropout) in place");
	api->free(d_h13), api->free(d_out), api->free(d_dout), api->free(d_dh13);
	api->free(d_a), api->free(d_b), api->free(d_sc);
}

static inline void
dc_crossentropy(const NnDeviceApi *api, NtgRng *rng, const char *tag)
{
	enum {N = 37, V = 50};
	float		logits[N * V];
	int32_t		targets[N];
	double		losses[N], loss, dev_loss = 0.0;
	int			count, dev_count = 0;
	float	   *d_logits;
	double	   *d_losses;
	int32_t    *d_targets;

	dc_random(rng, logits, N * V, 4.0f);
	for (int n = 0; n < N; n++)
		targets[n] = n % 5 == 3 ? -1 : (int32_t) ntg_rng_below(rng, V);
	d_logits = dc_up(api, logits, sizeof(logits));
	d_targets = (int32_t *) dc_up(api, targets, sizeof(targets));
	d_losses = (double *) dc_up(api, NULL, sizeof(losses));
	loss = crossentropy_forward(logits, targets, N, V, &count);
	api->crossentropy_forward(d_logits, d_losses, d_targets, N, V);
	api->to_host(losses, d_losses, sizeof(losses));
	for (int n = 0; n < N; n++)
		if (targets[n] >= 0)
			dev_loss += losses[n], dev_count++;
		else if (losses[n] != 0.0)
			dev_count = -1000;
	dc_same(api, d_logits, logits, N * V, DC_TOL, tag, "crossentropy_forward probabilities");
	ok(dev_count == count && fabs(dev_loss - loss) <= DC_TOL * fabs(loss),
	   "%s: crossentropy_forward losses add up to the CPU's (%.9g, CPU %.9g; %d counted, ignored rows 0)",
	   tag, dev_loss, loss, dev_count);
	crossentropy_backward(logits, logits, targets, N, V, 1.0f / count);
	api->crossentropy_backward(d_logits, d_logits, d_targets, N, V, 1.0f / count);
	dc_same(api, d_logits, logits, N * V, DC_TOL, tag, "crossentropy_backward (in place)");
	api->free(d_logits), api->free(d_targets), api->free(d_losses);
}

static inline void
dc_adamw(const NnDeviceApi *api, NtgRng *rng, const char *tag)
{
	NnParams	p = {0};
	NnAdamW		opt = {0}, opt2;
	NnAdamWArgs a;
	float	   *g;
	uint8_t    *mask;
	float	   *d_w, *d_g, *d_m, *d_v;
	uint8_t    *d_mask;
	double	   *d_part;
	double		norm, dnorm = -1.0;
	NtgError	err;
	size_t		n;

	nn_params_declare(&p, "a", 2, 30, 20, 1);
	nn_params_declare(&p, "b", 1, 20, 0, 0);
	nn_params_declare(&p, "c", 2, 10, 5000, 1);
	nn_params_alloc(&p, 1);
	n = p.count;
	dc_random(rng, p.data, n, 0.1f);
	dc_random(rng, p.grad, n, 0.01f);
	dc_random(rng, p.m, n, 0.001f);
	for (size_t i = 0; i < n; i++)
		p.v[i] = (float) fabs(ntg_rng_normal(rng)) * 1e-5f;
	opt.lr = 1e-3, opt.min_lr_ratio = 0.1, opt.warmup = 2, opt.total_steps = 10, opt.cosine = 1;
	opt.beta1 = 0.9, opt.beta2 = 0.999, opt.eps = 1e-8, opt.weight_decay = 0.1;
	opt.grad_clip = 0.5, opt.step = 3;
	opt2 = opt;
	mask = ntg_malloc(n);
	for (int k = 0; k < p.n_tensors; k++)
		memset(mask + p.tensors[k].offset, p.tensors[k].decay, p.tensors[k].count);
	d_w = dc_up(api, p.data, n * 4), d_g = dc_up(api, p.grad, n * 4);
	d_m = dc_up(api, p.m, n * 4), d_v = dc_up(api, p.v, n * 4);
	d_mask = (uint8_t *) dc_up(api, mask, n);
	d_part = (double *) dc_up(api, NULL, NN_DEVICE_NORM_SCRATCH * sizeof(double));
	norm = nn_grad_norm(&p);
	if (nn_device_norm(api, d_part, d_g, n, &dnorm, &err) != NTG_OK)
		dnorm = -1.0;
	ok(fabs(dnorm - norm) <= DC_TOL * norm, "%s: gradient norm over %zu floats (%.9g, CPU %.9g)",
	   tag, n, dnorm, norm);
	nn_adamw_step(&opt, &p);
	nn_adamw_next(&opt2, dnorm, &a);
	api->adamw_update(d_w, d_g, d_m, d_v, d_mask, n, a);
	ok(opt2.step == opt.step && norm > opt.grad_clip, "%s: AdamW step with clipping", tag);
	dc_same(api, d_w, p.data, n, DC_TOL, tag, "adamw_update weights (decay on 2 of 3 tensors)");
	dc_same(api, d_m, p.m, n, DC_TOL, tag, "adamw_update first moments");
	dc_same(api, d_v, p.v, n, DC_TOL, tag, "adamw_update second moments");
	g = dc_copy(p.grad, n);		/* zeroed by the CPU's step */
	dc_same(api, d_g, g, n, 0.0, tag, "adamw_update zeroes the gradient");
	ntg_free(g), ntg_free(mask);
	nn_params_free(&p);
	api->free(d_w), api->free(d_g), api->free(d_m), api->free(d_v), api->free(d_mask);
	api->free(d_part);
}

/* the gradient norm over more floats than sumsq has slice threads (each thread sums several) */
static inline void
dc_norm(const NnDeviceApi *api, NtgRng *rng, const char *tag)
{
	size_t		n = (size_t) NN_DEVICE_NORM_PARTS * NN_DEVICE_NORM_SPLIT * 3 + 12345;
	float	   *g = ntg_malloc(n * sizeof(float));
	float	   *d_g;
	double	   *d_part;
	double		want = 0.0,
				got = -1.0;
	NtgError	err;

	dc_random(rng, g, n, 0.01f);
	for (size_t i = 0; i < n; i++)
		want += (double) g[i] * g[i];
	want = sqrt(want);
	d_g = dc_up(api, g, n * sizeof(float));
	d_part = (double *) dc_up(api, NULL, NN_DEVICE_NORM_SCRATCH * sizeof(double));
	if (nn_device_norm(api, d_part, d_g, n, &got, &err) != NTG_OK)
		got = -1.0;
	ok(fabs(got - want) <= 1e-12 * want, "%s: gradient norm over %zu floats, several per thread (%.12g, CPU %.12g)",
	   tag, n, got, want);
	api->free(d_g), api->free(d_part);
	ntg_free(g);
}

/* kv_store and attention_decode against a plain reference of attend_chain (llama_sample.c) */
static inline void
dc_decode(const NnDeviceApi *api, NtgRng *rng, const char *tag)
{
	enum {U = 5, P = 3, CAP = 8, T = 6, C = DC_C, NH = DC_NH, HS = DC_C / DC_NH};
	float		kc[T * CAP * C], vc[T * CAP * C], qkv[U * 3 * C], out[U * C];
	int			chain[U * (P + 1)];
	float	   *d_kc, *d_vc, *d_qkv, *d_out, *d_scr;
	int		   *d_chain;

	dc_random(rng, kc, T * CAP * C, 1.0f);
	dc_random(rng, vc, T * CAP * C, 1.0f);
	dc_random(rng, qkv, U * 3 * C, 1.0f);
	for (int j = 0; j < U; j++)
		for (int u = 0; u <= P; u++)
			chain[j * (P + 1) + u] = u == P ? j : (int) ntg_rng_below(rng, CAP);
	d_kc = dc_up(api, kc, sizeof(kc)), d_vc = dc_up(api, vc, sizeof(vc));
	d_qkv = dc_up(api, qkv, sizeof(qkv)), d_out = dc_up(api, NULL, sizeof(out));
	d_scr = dc_up(api, NULL, U * NH * (P + 1) * sizeof(float));
	d_chain = (int *) dc_up(api, chain, sizeof(chain));
	for (int j = 0; j < U; j++)
		for (int i = 0; i < C; i++)
		{
			kc[(P * CAP + j) * C + i] = qkv[j * 3 * C + C + i];
			vc[(P * CAP + j) * C + i] = qkv[j * 3 * C + 2 * C + i];
		}
	for (int j = 0; j < U; j++)
		for (int h = 0; h < NH; h++)
		{
			float		sc[P + 1], mx = -INFINITY, sum = 0.0f;
			float	   *o = out + j * C + h * HS;

			for (int u = 0; u <= P; u++)
			{
				const float *k = kc + ((size_t) u * CAP + chain[j * (P + 1) + u]) * C + h * HS;
				float		d = 0.0f;

				for (int i = 0; i < HS; i++)
					d += qkv[j * 3 * C + h * HS + i] * k[i];
				sc[u] = d / sqrtf((float) HS);
				mx = fmaxf(mx, sc[u]);
			}
			for (int u = 0; u <= P; u++)
				sum += sc[u] = expf(sc[u] - mx);
			for (int i = 0; i < HS; i++)
				o[i] = 0.0f;
			for (int u = 0; u <= P; u++)
			{
				const float *vv = vc + ((size_t) u * CAP + chain[j * (P + 1) + u]) * C + h * HS;

				for (int i = 0; i < HS; i++)
					o[i] += sc[u] / sum * vv[i];
			}
		}
	api->kv_store(d_kc + P * CAP * C, d_vc + P * CAP * C, d_qkv, U, C);
	api->attention_decode(d_out, d_qkv, d_kc, d_vc, d_chain, CAP * C, U, P, C, NH, d_scr);
	dc_same(api, d_kc, kc, T * CAP * C, 0.0, tag, "kv_store keys (exactly)");
	dc_same(api, d_vc, vc, T * CAP * C, 0.0, tag, "kv_store values (exactly)");
	dc_same(api, d_out, out, U * C, DC_TOL, tag, "attention_decode over each node's chain");
	api->free(d_kc), api->free(d_vc), api->free(d_qkv), api->free(d_out), api->free(d_scr);
	api->free(d_chain);
}

static inline void
device_check_ops(const NnDeviceApi *api, const char *tag)
{
	NtgRng		rng;

	ntg_rng_seed(&rng, 2024);
	dc_embedding(api, &rng, tag);
	dc_rmsnorm(api, &rng, tag);
	dc_linear(api, &rng, tag, 1, 1);
	dc_linear(api, &rng, tag, 5, 0);
	dc_linear(api, &rng, tag, 37, 1);
	dc_rope(api, &rng, tag);
	dc_attention(api, &rng, tag);
	dc_elementwise(api, &rng, tag);
	dc_crossentropy(api, &rng, tag);
	dc_adamw(api, &rng, tag);
	dc_norm(api, &rng, tag);
	dc_decode(api, &rng, tag);
	ok(api->sync() == 0, "%s: no device error after every op (%s)", tag,
	   api->sync() == 0 ? "none" : api->last_error());
}

/* ---- the llama model ---------------------------------------------------------------------- */

static inline void
dc_rows(NtgSeqSet *s)
{
	static const int32_t rows[][6] = {
		{100, -200, 300, -40, 52, 0}, {100, -200, 0, 0, 0, 0}, {100, -200, 300, 0, 0, 0},
		{-5, 7, 7, -5, 0, 0}, {-5, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0},
		{1448, -1448, 1448, -1448, 1448, -1448}, {1448, 52, 0, 0, 0, 0}, {52, -52, 0, 0, 0, 0}};
	static const int lens[] = {5, 2, 3, 4, 1, 0, 6, 2, 2};
	static const char *labels[] = {"alpha", "alpha", "alpha", "beta", "beta", "beta", "gamma",
	"gamma", "gamma"};
	NtgSeqSetBuilder *b = ntg_seqset_builder_new();
	NtgError	err;

	for (int rep = 0; rep < 2; rep++)
		for (int i = 0; i < 9; i++)
			ntg_seqset_builder_add(b, labels[i], rows[i], lens[i], &err);
	ntg_seqset_builder_finish(b, s, &err);
}

static inline LlamaModel *
dc_model(const NtgSeqSet *s, double dropout)
{
	NtgParams	p = {0};
	NtgModel   *m = NULL;
	NtgTrainPlan plan;
	NtgError	err;

	ntg_params_add_number(&p, "dim", 16, &err);
	ntg_params_add_number(&p, "hidden_dim", 24, &err);
	ntg_params_add_number(&p, "n_layers", 2, &err);
	ntg_params_add_number(&p, "n_heads", 2, &err);
	ntg_params_add_number(&p, "batch_size", 6, &err);
	ntg_params_add_number(&p, "lr", 0.01, &err);
	ntg_params_add_number(&p, "seed", 3, &err);
	ntg_params_add_number(&p, "dropout", dropout, &err);
	if (ntg_llama_kind.create(&p, s, &m, &plan, &err) != NTG_OK)
		printf("# create: %s\n", err.msg);
	ntg_params_free(&p);
	return (LlamaModel *) m;
}

/* every row of s, encoded and packed */
static inline int
dc_pack(const LlamaModel *m, const NtgSeqSet *s, int32_t *tok, int32_t *tgt, int *len)
{
	int			off = 0;

	for (int r = 0; r < s->n_rows; r++)
	{
		int			rl;
		const int32_t *row = ntg_seqset_row(s, r, &rl);

		len[r] = ntg_tok_encode_row(&m->tok, s->row_class[r], row, rl, m->cfg.max_len, tok + off,
									tgt + off);
		off += len[r];
	}
	return s->n_rows;
}

/* worst gradient error over tensors, relative to each tensor's largest */
static inline double
dc_grad_err(const LlamaModel *a, const LlamaModel *b, const char **worst_name)
{
	double		worst = 0.0;

	for (int i = 0; i < a->params.n_tensors; i++)
	{
		const NnTensor *t = &a->params.tensors[i];
		double		e = dc_err(b->params.grad + t->offset, a->params.grad + t->offset, t->count);

		if (e > worst)
			worst = e, *worst_name = t->name;
	}
	return worst;
}

static inline void
device_check_step(const NnDeviceApi *api, const char *tag)
{
	NtgSeqSet	s;
	int32_t		tok[256], tgt[256];
	int			len[32], S, c1, c2, r1, r2;
	double		l1, l2, worst;
	const char *name = "";
	NtgError	err;

	dc_rows(&s);
	for (int drop = 0; drop <= 1; drop++)
	{
		LlamaModel *cpu = dc_model(&s, drop ? 0.2 : 0.0),
				   *dev = dc_model(&s, drop ? 0.2 : 0.0);
		const char *what = drop ? "with dropout 0.2" : "without dropout";
		size_t		diff = 0;
		double		maxd = 0.0;

		S = dc_pack(cpu, &s, tok, tgt, len);
		ntg_rng_seed(&cpu->drop_rng, 11);
		ntg_rng_seed(&dev->drop_rng, 11);
		r1 = llama_set_device(&dev->base, api, &err);
		if (!ok(r1 == NTG_OK && dev->base.device == api, "%s: the model moves onto the device (%s)",
				tag, r1 == NTG_OK ? "ok" : err.msg))
			return;
		r1 = llama_step(cpu, tok, tgt, len, S, 0, &l1, &c1, &err);
		r2 = llama_step(dev, tok, tgt, len, S, 0, &l2, &c2, &err);
		ok(r1 == NTG_OK && r2 == NTG_OK && c1 == c2 && fabs(l1 - l2) <= DC_TOL * l1,
		   "%s: forward pass over %d packed rows, loss %.9g (CPU %.9g)", tag, S, l2, l1);
		r1 = llama_step(cpu, tok, tgt, len, S, 2, &l1, &c1, &err);
		r2 = llama_step(dev, tok, tgt, len, S, 2, &l2, &c2, &err);
		ok(r1 == NTG_OK && r2 == NTG_OK && fabs(l1 - l2) <= DC_TOL * l1,
		   "%s: forward and backward %s (loss %.9g, CPU %.9g)", tag, what, l2, l1);
		worst = dc_grad_err(cpu, dev, &name);
		ok(worst <= DC_TOL_GRAD, "%s: the gradient of every tensor %s (worst %.2g, %s)", tag, what,
		   worst, name);
		for (int k = 0; k < 3; k++)
		{
			r1 = llama_step(cpu, tok, tgt, len, S, 1, &l1, &c1, &err);
			r2 = llama_step(dev, tok, tgt, len, S, 1, &l2, &c2, &err);
			ok(r1 == NTG_OK && r2 == NTG_OK && fabs(l1 - l2) <= DC_TOL_GRAD * l1,
			   "%s: training step %d %s, loss %.9g (CPU %.9g)", tag, k + 1, what, l2, l1);
		}
		ok(llama_device_weights_to_host(dev, &err) == NTG_OK, "%s: weights copied back", tag);
		for (size_t i = 0; i < cpu->params.count; i++)
		{
			double		d = fabs(dev->params.data[i] - cpu->params.data[i]);

			diff += d > 1e-5;
			maxd = fmax(maxd, d);
		}
		/* AdamW's first steps move each weight by about lr whatever the gradient's size, so a
		 * gradient within rounding of 0 may step the other way: allow a few of those */
		ok(diff * 1000 <= cpu->params.count && maxd <= 3 * cpu->cfg.lr,
		   "%s: weights after 3 AdamW steps %s (%zu of %zu differ by more than 1e-5, at most %.2g)",
		   tag, what, diff, cpu->params.count, maxd);
		ntg_model_destroy(&cpu->base);
		ntg_model_destroy(&dev->base);
	}
	ntg_seqset_free(&s);
}

/* the weights of `from` into `to` (on whatever device `to` is) */
static inline void
dc_same_weights(LlamaModel *to, const LlamaModel *from)
{
	const NnDeviceApi *dev = to->base.device;
	NtgError	err;

	llama_set_device(&to->base, NULL, &err);
	memcpy(to->params.data, from->params.data, from->params.count * sizeof(float));
	llama_set_device(&to->base, dev, &err);
}

static inline void
dc_sample_both(LlamaModel *cpu, LlamaModel *dev, int cls, int n, int batch, int stratified,
			   const char *tag, const char *what)
{
	NtgSampleOptions o = token_opts(1.0, 0, 1.0, stratified);
	NtgTokenSampling ts = ntg_token_sampling(&o);
	int			N = cpu->cfg.max_len;
	int32_t    *a = ntg_calloc((size_t) n * N, sizeof(int32_t)),
			   *b = ntg_calloc((size_t) n * N, sizeof(int32_t));
	int		   *la = ntg_calloc(n, sizeof(int)),
			   *lb = ntg_calloc(n, sizeof(int));
	NtgRng		r1, r2;
	NtgError	err;
	int			same = 0, rc1, rc2, lens = 0;

	ntg_rng_seed(&r1, 99);
	ntg_rng_seed(&r2, 99);
	rc1 = llama_sample_batched(cpu, cls, n, batch, &ts, &r1, a, la, &err);
	rc2 = llama_sample_batched(dev, cls, n, batch, &ts, &r2, b, lb, &err);
	for (int r = 0; r < n; r++)
	{
		same += la[r] == lb[r] && memcmp(a + (size_t) r * N, b + (size_t) r * N, N * 4) == 0;
		lens += la[r];
	}
	ok(rc1 == NTG_OK && rc2 == NTG_OK && same == n,
	   "%s: %d rows %s are the CPU's rows (%d the same, %d values; %s)", tag, n, what, same, lens,
	   rc2 == NTG_OK ? "ok" : err.msg);
	ntg_free(a), ntg_free(b), ntg_free(la), ntg_free(lb);
}

static inline void
device_check_sampling(const NnDeviceApi *api, const char *tag)
{
	NtgSeqSet	s;
	LlamaModel *cpu, *dev;
	int32_t		tok[256], tgt[256];
	int			len[32], S, c;
	double		l;
	float		pc[64], pd[64];
	int32_t		hist[3];
	NtgError	err;

	dc_rows(&s);
	cpu = dc_model(&s, 0.0);
	dev = dc_model(&s, 0.0);
	S = dc_pack(cpu, &s, tok, tgt, len);
	/* a trained model: peaked distributions, as real ones are */
	for (int k = 0; k < 40; k++)
		llama_step(cpu, tok, tgt, len, S, 1, &l, &c, &err);
	llama_set_device(&dev->base, api, &err);
	dc_same_weights(dev, cpu);
	hist[0] = ntg_tok_class(&cpu->tok, 0);
	hist[1] = ntg_tok_value_token(&cpu->tok, 100);
	hist[2] = ntg_tok_value_token(&cpu->tok, -200);
	if (llama_next_probs(cpu, hist, 3, pc, &err) == NTG_OK &&
		llama_next_probs(dev, hist, 3, pd, &err) == NTG_OK)
		l = dc_err(pd, pc, cpu->tok.n_values + 1);
	else
		l = INFINITY;
	ok(l <= DC_TOL, "%s: next-token probabilities after <alpha> 100 -200 (error %.2g)", tag, l);
	dc_sample_both(cpu, dev, 0, 12, 1, 0, tag, "one at a time (kept histories)");
	dc_sample_both(cpu, dev, 1, 200, 64, 0, tag, "in batches of 64");
	dc_sample_both(cpu, dev, 2, 200, 200, 1, tag, "stratified, one batch");
	dc_sample_both(cpu, dev, 0, 30, 7, 0, tag, "in batches of 7, again (kept <CLASS> nodes)");
	ntg_model_destroy(&cpu->base);
	ntg_model_destroy(&dev->base);
	ntg_seqset_free(&s);
}

/* Train with the driver on mode; the stored bytes in *bytes. */
static inline int
dc_train(NtgDeviceMode mode, uint8_t **bytes, size_t *n, double *loss, int *on_device,
		 NtgError *err)
{
	NtgSeqSet	s;
	NtgParams	p = {0};
	NtgTraining t;
	NtgTrainHooks hooks = {0};
	int			rc;

	dc_rows(&s);
	ntg_params_add_number(&p, "dim", 16, err);
	ntg_params_add_number(&p, "hidden_dim", 24, err);
	ntg_params_add_number(&p, "n_layers", 2, err);
	ntg_params_add_number(&p, "n_heads", 2, err);
	ntg_params_add_number(&p, "batch_size", 4, err);
	ntg_params_add_number(&p, "epochs", 3, err);
	ntg_params_add_number(&p, "validation", 0.25, err);
	ntg_params_add_number(&p, "seed", 5, err);
	hooks.device = mode;
	hooks.quiet = 1;
	if ((rc = ntg_training_prepare(&t, &ntg_llama_kind, &p, &s, NULL, err)) != NTG_OK)
	{
		ntg_params_free(&p);
		return rc;
	}
	rc = ntg_training_run(&t, &hooks, err);
	if (rc == NTG_OK)
		rc = ntg_training_save(&t, bytes, n, err);
	if (rc == NTG_OK)
	{
		*loss = t.losses[t.epochs_run - 1];
		*on_device = t.on_device;
	}
	ntg_training_free(&t);
	ntg_params_free(&p);
	return rc;
}

static inline void
device_check_driver(const NnDeviceApi *api, const char *tag)
{
	uint8_t    *bc = NULL, *bd = NULL;
	size_t		nc = 0, nd = 0;
	double		lc = 0, ld = 0;
	int			oc = -1, od = -1;
	NtgModel   *mc = NULL, *md = NULL, *mc2 = NULL, *md2 = NULL;
	NtgError	err;

	int			rc;

	rc = dc_train(NTG_DEVICE_CPU, &bc, &nc, &lc, &oc, &err);
	ok(rc == NTG_OK && oc == 0, "%s: the driver trains on the CPU (%s)", tag,
	   rc == NTG_OK ? "ok" : err.msg);
	rc = dc_train(NTG_DEVICE_CUDA, &bd, &nd, &ld, &od, &err);
	ok(rc == NTG_OK && od == 1, "%s: the driver trains on the device, with validation (%s)", tag,
	   rc == NTG_OK ? "ok" : err.msg);
	ok(fabs(ld - lc) <= DC_TOL_GRAD * lc, "%s: last epoch's loss %.9g (CPU %.9g)", tag, ld, lc);
	ok(nd == nc && nd > 0, "%s: the stored value has the CPU-trained one's size (%zu bytes)", tag,
	   nd);
	if (!ok(ntg_model_from_bytes(bd, nd, &md, &err) == NTG_OK &&
			ntg_model_from_bytes(bd, nd, &md2, &err) == NTG_OK &&
			ntg_model_from_bytes(bc, nc, &mc, &err) == NTG_OK &&
			ntg_model_from_bytes(bc, nc, &mc2, &err) == NTG_OK,
			"%s: both stored values load", tag))
		return;
	{
		char	   *jd = md->kind->config_json(md),
				   *jc = mc->kind->config_json(mc);

		ok(strcmp(jd, jc) == 0, "%s: the same configuration either way", tag);
		ntg_free(jd), ntg_free(jc);
	}
	/* the weights come back from the device to be rounded (half_weights, the default) */
	ok(nn_params_are_half(&((LlamaModel *) md)->params) &&
	   nn_params_are_half(&((LlamaModel *) mc)->params),
	   "%s: trained on the device or the CPU, the stored matrices are float16 values", tag);
	ok(ntg_model_set_device(md2, NTG_DEVICE_CUDA, &err) == NTG_OK && md2->device == api &&
	   ntg_model_set_device(mc2, NTG_DEVICE_AUTO, &err) == NTG_OK && mc2->device == api,
	   "%s: ntg_model_set_device puts loaded models on the device (cuda, auto)", tag);
	dc_sample_both((LlamaModel *) md, (LlamaModel *) md2, 1, 100, 32, 0, tag,
				   "of a device-trained model, CPU against device");
	dc_sample_both((LlamaModel *) mc, (LlamaModel *) mc2, 2, 100, 100, 1, tag,
				   "of a CPU-trained model, CPU against device");
	ok(ntg_model_set_device(md2, NTG_DEVICE_CPU, &err) == NTG_OK && md2->device == NULL,
	   "%s: and back to the CPU", tag);
	dc_sample_both((LlamaModel *) md, (LlamaModel *) md2, 0, 50, 16, 0, tag,
				   "after the way back");
	ntg_model_destroy(mc), ntg_model_destroy(md), ntg_model_destroy(mc2), ntg_model_destroy(md2);
	ntg_free(bc), ntg_free(bd);
}

#endif							/* NTG_DEVICE_CHECKS_H */
