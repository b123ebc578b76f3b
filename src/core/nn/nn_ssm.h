/*
 * nn_ssm.h — the ops of a selective state-space model (Mamba, Gu & Dao 2023), in the style of
 * nn.h: free forward / backward functions, shapes in the comments, backward ACCUMULATES (+=)
 * into its gradient outputs, and the same inputs give the same bits.
 *
 * Sequences are packed without padding as in nn.h: row r of a batch occupies tokens start[r] ..
 * start[r] + len[r] - 1, and the sequence ops (the causal convolution, the scan) never mix rows.
 *
 *   nn_conv1d.c   causal depthwise convolution along time
 *   nn_scan.c     the selective scan (input-dependent delta, B, C; exp(delta A) discretization)
 *   nn_ssm_act.c  softplus, SiLU, the SiLU gate y * silu(z), a bias add
 */
#ifndef NTG_NN_SSM_H
#define NTG_NN_SSM_H

#include <stddef.h>

/* ---- elementwise ------------------------------------------------------------------------- */

/* out[n] = softplus(inp[n]) = log(1 + exp(inp[n])), over n floats. */
void		softplus_forward(float *out, const float *inp, size_t n);
/* dinp += dout * sigmoid(inp) */
void		softplus_backward(float *dinp, const float *dout, const float *inp, size_t n);

/* out = silu(inp) = inp * sigmoid(inp), over N rows of C floats; inp rows are istride apart. */
void		silu_forward(float *out, const float *inp, int N, int C, int istride);
/* dinp (rows istride apart) += dout * silu'(inp) */
void		silu_backward(float *dinp, const float *dout, const float *inp, int N, int C,
						  int istride);

/* The SiLU gate of a Mamba block: out[N, C] = y[N, C] * silu(z), z rows zstride apart. */
void		silu_gate_forward(float *out, const float *y, const float *z, int N, int C,
							  int zstride);
/* dy += dout * silu(z), dz (rows zstride apart) += dout * y * silu'(z) */
void		silu_gate_backward(float *dy, float *dz, const float *dout, const float *y,
							   const float *z, int N, int C, int zstride);

/* ---- causal depthwise convolution (nn_conv1d.c) ------------------------------------------- */

/*
 * out[t, c] = b[c] + sum_k w[c, k] * inp[t - (K-1) + k, c], inputs before the row's first token
 * being 0 (PyTorch's Conv1d(C, C, K, groups=C, padding=K-1) cut to the row's length).
 * inp rows are istride floats apart (the first C floats of each row are read); out is [N, C].
 */
void		conv1d_causal_forward(float *out, const float *inp, const float *w, const float *b,
								  const int *start, const int *len, int S, int C, int K,
								  int istride);
/* dinp (rows istride apart) += ..., dw[C, K] += ..., db[C] += ... */
void		conv1d_causal_backward(float *dinp, float *dw, float *db, const float *dout,
								   const float *inp, const float *w, const int *start,
								   const int *len, int S, int C, int K, int istride);

/*
 * One token of the convolution for U independent rows (sampling): a window [(K-1) * C] holds a
 * row's last K-1 inputs, oldest first (zeros at a row's start).  Row j's window before the token
 * is win_prev's row parent[j] (row j when parent is NULL); out[U, C] is the convolution at the
 * new inputs inp (rows istride apart), and win[U, (K-1) * C] receives the windows after them.
 * win may be win_prev only when parent is NULL (in place).  The sum runs in the order of
 * conv1d_causal_forward, so a row stepped token by token gets the forward's bits.
 */
void		conv1d_causal_step(float *out, float *win, const float *win_prev, const int *parent,
							   const float *inp, const float *w, const float *b, int U, int C,
							   int K, int istride);

/* ---- selective scan (nn_scan.c) ----------------------------------------------------------- */

/*
 * For each row, channel e < E and state s < NS, over the row's tokens t:
 *
 *   h_t[e, s] = exp(delta_t[e] A[e, s]) h_{t-1}[e, s] + delta_t[e] B_t[s] u_t[e],   h_{-1} = 0
 *   y_t[e]    = sum_s C_t[s] h_t[e, s] + Dp[e] u_t[e]
 *
 * u, delta, y: [N, E]; A: [E, NS] (negative for a stable scan); B_t = bc + t * bc_stride and
 * C_t = B_t + NS (the B and C columns of the x_proj output); Dp: [E].
 * scratch: 2 * E * NS floats.  Nothing but y is kept: backward recomputes the states row by row.
 */
void		selective_scan_forward(float *y, const float *u, const float *delta, const float *A,
								   const float *bc, int bc_stride, const float *Dp,
								   const int *start, const int *len, int S, int E, int NS,
								   float *scratch);

/* Floats of scratch that selective_scan_backward needs for rows of up to max_len tokens. */
size_t		selective_scan_scratch(int max_len, int E, int NS);

/*
 * du, ddelta [N, E], dA [E, NS], dbc (the B and C columns, rows bc_stride apart), dDp [E]
 * += the gradients of sum(dy * y).  Runs each row backwards in time with the state gradient
 * dL/dh_t carried from t + 1 through exp(delta A), after recomputing the row's states.
 */
void		selective_scan_backward(float *du, float *ddelta, float *dA, float *dbc, float *dDp,
									const float *dy, const float *u, const float *delta,
									const float *A, const float *bc, int bc_stride,
									const float *Dp, const int *start, const int *len, int S,
									int E, int NS, float *scratch);

/*
 * One step of the scan for U independent states (sampling: one per distinct history): h[U,
 * E * NS] receives each state after the token inputs u, delta [U, E] and bc rows bc_stride
 * apart, and y[U, E] is written.  Row j starts from h_prev's row parent[j] (row j when parent is
 * NULL), so a history that forks needs no copy of its state; h may be h_prev only when parent
 * is NULL (in place).  The training forward runs exactly this per token, so the recurrent
 * sampler computes the same bits.  scratch: E * NS floats.
 */
void		selective_scan_step(float *y, float *h, const float *h_prev, const int *parent,
								const float *u, const float *delta, const float *A,
								const float *bc, int bc_stride, const float *Dp, int U, int E,
								int NS, float *scratch);

#endif							/* NTG_NN_SSM_H */
