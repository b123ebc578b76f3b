#!/usr/bin/env python3
"""Mutation score of the unit tests: plant each meaningful bug of MUTANTS below, one at a time, in
a copy of the tree, rebuild, run the unit test that should catch it, and report whether it did.

    test/mutation.py            # every mutant; exit status 1 when one survives or cannot be planted
    test/mutation.py --list     # the table without running anything
    test/mutation.py ID ...     # only these mutants

A mutant is (id, file, exact original text, replacement, unit test binary, what it breaks).  The
original text must occur exactly `count` times (1 unless given): when the code changes so that a
pattern no longer matches, the mutant is reported as an error instead of silently testing nothing.
Before the mutants, every test named here must pass on the unchanged copy.  A mutant is killed when
its test exits non-zero (a failed check, a crash, or a timeout); one that no longer compiles is an
error, not a kill.  Mutants of an AVX2 kernel are skipped on a CPU without AVX2+FMA, and those of
an AVX-512 (VNNI) kernel on a CPU without it (the kernel does not run there).  Plain Python 3 standard library; needs make and a C compiler, no server.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

OPT = "src/core/nn/nn_optim.c"
SIMD = "src/core/nn/nn_simd.c"
FOREST = "src/core/forest/forest_train.c"

# (id, file, original, replacement, test, what it breaks[, count])
MUTANTS = [
    ("pl-sign", "src/core/capture/flowtab.c",
     "seq_of(f)[f->npl++] = dir == 0 ? pl : -pl;", "seq_of(f)[f->npl++] = dir == 0 ? -pl : pl;",
     "test_capture_flows", "direction sign of payload lengths swapped"),
    ("capture-empty-payload", "src/core/capture/flowtab.c",
     "if (p->pl <= 0)\n\t\treturn 0;", "if (p->pl < 0)\n\t\treturn 0;",
     "test_capture_flows", "packets without payload (pure ACKs) enter the PL sequence"),
    ("capture-fragments", "src/core/capture/capture.c",
     "\tif (d == NTG_SKIP_FRAGMENT && p->frag == NTG_FRAG_LATER)\n\t\treturn ntg_fragtab_later(ft, p, ts);\n", "",
     "test_capture_fragments", "later IP fragments skipped instead of counted in their datagram's biflow"),
    ("capture-tcp-reuse", "src/core/capture/flowtab.c",
     "return (f->tcp & TCP_RST) || (f->tcp & (TCP_FIN_A | TCP_FIN_B)) == (TCP_FIN_A | TCP_FIN_B);",
     "return false;",
     "test_capture_tcp", "a SYN after a closed TCP connection merges with the old biflow"),
    ("capture-port-rule", "src/core/capture/flowtab.c",
     "return cd < cs ? 1 : cd > cs ? -1 : 0;", "return 0;",
     "test_capture_tcp", "a TCP biflow seen mid-connection takes the first sender as client, even port 80"),
    ("capture-tunnels", "src/core/capture/tunnel.c",
     "return (out->flags & NTG_DECODE_TUNNELS) && out->tunnels < NTG_TUNNEL_MAX_DEPTH;", "return false;",
     "test_capture_tunnels", "decapsulate enters no tunnel"),
    ("capture-memory-limit", "src/core/capture/flowtab.c",
     "return t->opt.memory_limit && t->mem + more > t->opt.memory_limit;", "return false;",
     "test_capture_memory", "the biflow table grows past memory_limit"),
    ("capture-filter-terms", "src/core/capture/filter.c",
     "if (terms > NTG_FILTER_MAX_TERMS)", "if (terms > 100 * NTG_FILTER_MAX_TERMS)",
     "test_capture_filter", "a filter of any number of terms reaches libpcap's compiler"),
    ("jsd-log-base", "src/core/metrics/fidelity.c",
     "sum->a += (double) a * log2(2.0 * p / (p + q));", "sum->a += (double) a * log(2.0 * p / (p + q));",
     "test_metrics", "JSD in nats on one side instead of bits"),
    ("adamw-bias-swapped", OPT,
     "pow(opt->beta1, t)));\n\ta.c2 = (float) (1.0 / (1.0 - pow(opt->beta2, t)));",
     "pow(opt->beta2, t)));\n\ta.c2 = (float) (1.0 / (1.0 - pow(opt->beta1, t)));",
     "test_ref_adamw", "AdamW bias corrections of m and v swapped"),
    ("adamw-bias-frozen", OPT,
     "double\t\tt = (double) (opt->step + 1);", "double\t\tt = 1.0;",
     "test_ref_adamw", "AdamW bias correction frozen at step 1"),
    ("adamw-avx2-bias", SIMD,
     "_mm256_sqrt_ps(_mm256_mul_ps(vi, c2))", "_mm256_sqrt_ps(vi)",
     "test_ref_adamw", "AVX2 AdamW kernel without the bias correction of v"),
    ("swiglu-avx2-grad", SIMD,
     "_mm256_mul_ps(sg, _mm256_fmadd_ps(va, _mm256_sub_ps(one, sg), one))", "sg",
     "test_ref_llama", "AVX2 SwiGLU backward uses sigmoid(a) for silu'(a)"),
    ("blob-align-ignored", "src/core/common/blob.c",
     "\t\tif (t->aligned)\n", "\t\tif (0)\n",
     "test_common", "the writer ignores ntg_blob_align_last: marked tensors start anywhere"),
    ("params-save-unaligned", "src/core/nn/nn_store.c",
     "\t\t\tif (first_float)\n\t\t\t\tntg_blob_align_last(blob);", "",
     "test_quant", "a model's float weights are stored without starting on a cache line"),
    ("mamba-kept-after-training", "src/core/models/mamba_pass.c",
     "\t\tnn_adamw_step(&m->opt, &m->params);\n\t\tmamba_forget_sampled(m);", "\t\tnn_adamw_step(&m->opt, &m->params);",
     "test_mamba", "the sampler keeps A and the class nodes of the weights before a training step"),
    ("mamba-prefix-not-kept", "src/core/models/mamba_sample.c",
     "\tprefix_store(s, m->cfg.n_layers, kept);\n", "",
     "test_mamba", "a class node is marked kept without its state and logits being copied"),
    ("mamba-kept-states-unread", "src/core/models/mamba_sample.c",
     "\t\ts->kept = kept;\n", "",
     "test_mamba", "a one-row call steps from the buffer's stale states, not the kept class node's"),
    ("conv3x3-avx512-tail-row", "src/core/nn/nn_conv3x3.c",
     "\tfor (int r = 0; r < rows; r++) \\\n\t\tfor (int q = 0; q < PANELS; q++) \\\n\t\t{",
     "\tfor (int r = 0; r < rows - (rows < ROWS); r++) \\\n\t\tfor (int q = 0; q < PANELS; q++) \\\n\t\t{",
     "test_nn_conv3x3", "the AVX-512 convolution drops the last position of a short block"),
    ("conv3x3-avx2-tail-row", "src/core/nn/nn_conv3x3.c",
     "\t\t\tif (r < rows)\n\t\t\t\t_mm256_storeu_ps(dst,",
     "\t\t\tif (r < rows - (rows < ROWS_AVX2))\n\t\t\t\t_mm256_storeu_ps(dst,",
     "test_nn_conv3x3", "the AVX2 convolution drops the last position of a short block"),
    ("conv3x3-avx2-halves-swapped", "src/core/nn/nn_conv3x3.c",
     "float\t   *dst = out + (size_t) r * OC + h * 8;",
     "float\t   *dst = out + (size_t) r * OC + (1 - h) * 8;",
     "test_nn_conv3x3", "the AVX2 convolution stores a panel's two halves in each other's channels"),
    ("conv3x3-avx2-gradient-overwrites", "src/core/nn/nn_conv3x3.c",
     "_mm256_storeu_ps(dst, add ? _mm256_add_ps(_mm256_loadu_ps(dst), acc[r][h]) : acc[r][h]);",
     "_mm256_storeu_ps(dst, acc[r][h]);",
     "test_nn_conv3x3", "the AVX2 kernel overwrites the input gradient instead of adding to it"),
    ("conv3x3-edge-not-zero", "src/core/nn/nn_conv3x3.c",
     "iy < 0 || iy >= H || ix < 0 || ix >= W ? zero_row :", "iy < 0 || iy >= H || ix < 0 ? zero_row :",
     "test_nn_conv3x3", "the right edge of the image reads the next row's first pixel instead of zeros"),
    ("conv3x3-pack-transposed", "src/core/nn/nn_conv3x3.c",
     "wp[((size_t) p * KKC + k) * LANES + j] = w[(size_t) (p * LANES + j) * KKC + k];",
     "wp[((size_t) p * KKC + k) * LANES + j] = w[(size_t) (p * LANES + j) + k * OC];",
     "test_nn_conv3x3", "the weights are packed as if stored [k, OC]"),
    ("conv3x3-gradient-kernel-not-turned", "src/core/nn/nn_conv3x3.c",
     "w[((size_t) o * 9 + (8 - t)) * C + p * LANES + j];", "w[((size_t) o * 9 + t) * C + p * LANES + j];",
     "test_nn_conv3x3", "the input gradient convolves with the kernel as it is, not turned"),
    ("conv3x3-avx512-gradient-overwrites", "src/core/nn/nn_conv3x3.c",
     "_mm512_storeu_ps(dst, add ? _mm512_add_ps(_mm512_loadu_ps(dst), acc[r][q]) : acc[r][q]);",
     "_mm512_storeu_ps(dst, acc[r][q]);",
     "test_nn_conv3x3", "the AVX-512 kernel overwrites the input gradient instead of adding to it"),
    ("netdiffus-packed-kept-after-training", "src/core/models/netdiffus_train.c",
     "\tnetdiffus_unpack_convs(m);\t/* packed by", "\t/* packed by",
     "test_netdiffus", "training keeps the packing an earlier sampling call left: later calls sample the old weights"),
    ("aligned-alloc-unaligned", "src/core/common/ntg_core.c",
     "\tat = ((uintptr_t) raw + sizeof(void *) + NTG_ALIGN - 1) & ~(uintptr_t) (NTG_ALIGN - 1);",
     "\tat = (uintptr_t) raw + sizeof(void *);",
     "test_common", "ntg_malloc_aligned returns a block just past its header, not aligned"),
    ("matvec-avx2-tail", SIMD,
     "\t\ta3 = _mm256_fmadd_ps(xl, wload8(w, o3 + i, half), a3);\n\t}\n\tr0",
     "\t\tb3 = _mm256_fmadd_ps(xl, wload8(w, o3 + i, half), b3);\n\t}\n\tr0",
     "test_nn", "AVX2 one-row product sums a row's 8-float tail in another order than nn_dot"),
    ("device-driver-check", "src/core/nn/nn_device.c",
     "if (driver_soname[0] != '\\0' && dlopen(", "if (0 && dlopen(",
     "test_cuda_emu", "the kernels library is loaded even where the driver library is missing"),
    ("axpy-unfused-fma", SIMD,
     '__attribute__((target("avx2")))\nstatic void\naxpy_unfused_avx2',
     '__attribute__((target("avx2,fma")))\nstatic void\naxpy_unfused_avx2',
     "test_nn", "the unfused axpy compiled where FMA is allowed: GCC fuses it and the bits change"),
    ("vmax-avx2-tail", SIMD,
     "\tfor (; i < n; i++)\n\t\tif (x[i] > mx)\n\t\t\tmx = x[i];\n\treturn mx;\n}\n\n/* a subtraction",
     "\treturn mx;\n}\n\n/* a subtraction",
     "test_nn", "AVX2 max ignores the values past the last full vector"),
    ("scan-avx2-sums-order", "src/core/nn/nn_simd_x86.h",
     "_mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));\n}", "_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));\n}",
     "test_nn_ssm", "the 8 channels' sums of the AVX2 scan step written in the reduction's lane order"),
    ("scan-avx512-sum-order", "src/core/nn/nn_scan.c",
     "\t\t\tacc = _mm256_fmadd_ps(_mm256_loadu_ps(C + s), _mm512_castps512_ps256(hv), acc);\n"
     "\t\t\tacc = _mm256_fmadd_ps(_mm256_loadu_ps(C + s + 8), nn_high8(hv), acc);",
     "\t\t\tacc = _mm256_fmadd_ps(_mm256_loadu_ps(C + s + 8), nn_high8(hv), acc);\n"
     "\t\t\tacc = _mm256_fmadd_ps(_mm256_loadu_ps(C + s), _mm512_castps512_ps256(hv), acc);",
     "test_nn_ssm", "the 16-lane scan sums C . h in another order than the 8-lane one: other bits"),
    ("softplus-avx512-tail", "src/core/nn/nn_ssm_act.c",
     "\tsoftplus_avx2(out + i, inp + i, n - i);\n}\n\n__attribute__((target(\"avx512f,avx2,fma\")))",
     "\tsoftplus_plain(out + i, inp + i, n - i);\n}\n\n__attribute__((target(\"avx512f,avx2,fma\")))",
     "test_nn_ssm", "the 16-lane softplus leaves its last 8-float block to libm's loop: other bits"),
    ("conv-step-avx2-fused", "src/core/nn/nn_conv1d.c",
     "__attribute__((target(\"avx2,fma\"), optimize(\"fp-contract=off\")))\nstatic int\nstep_k4_avx2",
     "__attribute__((target(\"avx2,fma\")))\nstatic int\nstep_k4_avx2",
     "test_nn_ssm", "the AVX2 convolution step lets GCC fuse its products and sums: other bits"),
    ("conv-step-avx2-channel-order", "src/core/nn/nn_conv1d.c",
     "const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);\n\tint\t\t\tc0 = 0;",
     "const __m256i order = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);\n\tint\t\t\tc0 = 0;",
     "test_nn_ssm", "the AVX2 convolution step leaves its taps in the unpacks' channel order"),
    ("conv-step-avx512-fused", "src/core/nn/nn_conv1d.c",
     'target("avx512f"), optimize("fp-contract=off")', 'target("avx512f"), optimize("fp-contract=fast")',
     "test_nn_ssm", "the 16-lane convolution step lets GCC fuse its products and sums: other bits"),
    ("conv-step-avx512-taps", "src/core/nn/nn_conv1d.c",
     "_mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28,", "_mm512_setr_epi32(0, 4, 8, 12, 16, 20, 28, 24,",
     "test_nn_ssm", "the 16-lane convolution step gives channels 6 and 7 each other's taps"),
    ("blas-opened-eagerly", "src/core/nn/nn_blas.c",
     "\tif (blas_state == 1)\n\t\tapply_threads();\n}",
     "\tif (blas_state == 0)\n\t\tnn_blas_open();\n\tapply_threads();\n}",
     "test_nn", "nn_blas_init opens the CBLAS: every model's setup would load it, one-row sampling too"),
    ("blas-portable-transpose", "src/core/nn/nn_blas.c",
     "(tb ? B[(size_t) j * ldb + k] : B[(size_t) k * ldb + j])",
     "(tb ? B[(size_t) j * ldb + k] : B[(size_t) j * ldb + k])",
     "test_nn", "the portable sgemm reads an untransposed B as if it were transposed"),
    ("unit-worst-fmax", "test/unit/unit.h",
     "return isnan(worst) || err <= worst ? worst : err;", "return fmax(worst, err);",
     "test_nn", "the unit tests' worst-error tracking skips NaNs, as fmax does"),
    ("attention-score-position", "src/core/models/llama_sample.c",
     "\t\t\td1 += q[i] * k1[i];", "\t\t\td1 += q[i] * k0[i];",
     "test_llama", "the sampler's attention scores the second of four positions with the first's key"),
    ("forest-min-samples-leaf", FOREST,
     "const int\tmsl = g->cfg->min_samples_leaf;", "const int\tmsl = 2;",
     "test_ref_forest", "min_samples_leaf hard-wired to 2 in the split search"),
    ("forest-bootstrap", FOREST,
     "if (cfg->bootstrap)", "if (0)",
     "test_ref_forest", "trees ignore bootstrap: every tree sees every row once"),
    ("forest-max-features", FOREST,
     "(n_visited < g->cfg->max_features ||", "(n_visited < g->N ||",
     "test_ref_forest", "every split considers all features"),
    ("forest-default-min-samples-leaf", "src/core/forest/forest.c",
     'GET_INT("min_samples_leaf", 1, 1,', 'GET_INT("min_samples_leaf", 2, 1,',
     "test_ref_forest", "default min_samples_leaf 2 instead of sklearn's 1"),
    ("forest-default-bootstrap", "src/core/forest/forest.c",
     'ntg_params_bool(p, "bootstrap", 1,', 'ntg_params_bool(p, "bootstrap", 0,',
     "test_ref_forest", "bootstrap off by default"),
    ("forest-default-criterion", "src/core/forest/forest.c",
     'ntg_params_string(p, "criterion", "gini",', 'ntg_params_string(p, "criterion", "entropy",',
     "test_ref_forest", "entropy by default instead of gini"),
    ("forest-default-trees", "src/core/forest/forest.c",
     'GET_INT("n_estimators", 100,', 'GET_INT("n_estimators", 10,',
     "test_ref_forest", "10 trees by default instead of 100"),
    ("eos-tokenizer", "src/core/models/tokenizer.c",
     "if (len > max_len)\n\t\treturn k;", "if (len >= max_len)\n\t\treturn k;",
     "test_ref_llama", "a row of exactly max_len values gets no <EOS>"),
    ("eos-sampler", "src/core/models/llama_sample.c",
     "K = m->tok.n_values + 1,", "K = m->tok.n_values,",
     "test_llama", "the sampler cannot draw <EOS>: every row runs to max_len"),
    ("rope-base", "src/core/models/llama.c",
     ".rope_theta = 10000.0,", ".rope_theta = 100.0,",
     "test_ref_llama", "rotary base 100 instead of 10000"),
    ("attention-scale", "src/core/nn/nn_attention.c",
     "float\t\tscale = 1.0f / sqrtf((float) HS);", "float\t\tscale = 1.0f / (float) HS;",
     "test_ref_llama", "attention scores scaled by 1/d instead of 1/sqrt(d) (forward and backward)", 2),
    ("sample-temperature", "src/core/models/token_draw.c",
     "fmin(1.0 / o->temperature, FLT_MAX)", "fmin(o->temperature, FLT_MAX)",
     "test_llama", "sampling multiplies logits by the temperature instead of dividing"),
    ("sample-top-k", "src/core/models/token_draw.c",
     "keep = o->top_k;", "keep = o->top_k + 1;",
     "test_llama", "top_k keeps one token too many"),
    ("sample-stratified-offset", "src/core/models/token_draw.c",
     "run[k] = token_at(s, j, (k + v) / m);", "run[k] = token_at(s, j, (k + 0.5) / m);",
     "test_llama", "stratified draws at fixed points (no random offset): rare tokens never drawn"),
    ("metrics-leakage", "src/core/metrics/fidelity.c",
     "both / (distinct[0] + distinct[1] - both);", "both / (distinct[0] + distinct[1]);",
     "test_metrics", "leakage divides by the sum of distinct sequences, not by their union"),
    ("driver-best-epoch", "src/core/models/train_driver.c",
     "if (t->best == NULL || t->best_epoch == t->epochs_run)", "if (1)",
     "test_train_driver", "validation never puts the best epoch's weights back"),
    ("driver-nan-loss", "src/core/models/train_driver.c",
     "int			bad = (t->kind->caps & NTG_CAP_EPOCHS) && !isfinite(t->losses[e]);", "int			bad = 0;",
     "test_train_driver", "a diverged training (NaN loss) is stored"),
    ("llama-estimate-optimizer", "src/core/models/llama.c",
     "plan->bytes = n * (16 + 8)", "plan->bytes = n * 8",
     "test_conformance", "the memory estimate leaves out gradients and the optimizer's moments"),
    ("stored-sampling-defaults", "src/core/models/model_io.c",
     "model->sampling.value[k] = values[i];", "(void) values;",
     "test_conformance", "sampling defaults stored with a model are ignored on load"),
    ("mamba-scan-b", "src/core/nn/nn_scan.c",
     "float\t\tdu = delta[e] * u[e];", "float\t\tdu = u[e];",
     "test_ref_mamba", "portable selective scan: B discretized without delta (u B instead of delta u B)"),
    ("mamba-scan-avx2-b", "src/core/nn/nn_scan.c",
     "__m256\t\tdu = _mm256_set1_ps(delta[e] * u[e]);", "__m256\t\tdu = _mm256_set1_ps(u[e]);",
     "test_ref_mamba", "AVX2 selective scan: B discretized without delta"),
    ("mamba-scan-carry", "src/core/nn/nn_scan.c",
     "g[o + s] = gs * a[o + s];", "g[o + s] = gs;",
     "test_nn_ssm", "scan backward carries dL/dh to the previous token without exp(delta A)"),
    ("mamba-conv-taps", "src/core/nn/nn_conv1d.c",
     "o[c] += w[(size_t) c * K + k] * x[c];", "o[c] += w[(size_t) c * K + (K - 1 - k)] * x[c];",
     "test_ref_mamba", "causal convolution with its taps reversed (newest input on the oldest weight)"),
    ("mamba-sampler-fork", "src/core/models/mamba_sample.c",
     "const int  *parent = s->forked ? s->draw.child_parent : NULL;", "const int  *parent = NULL;",
     "test_mamba", "batched sampling: each next node starts from the stale state in its own row, not its parent's"),
    ("scan-step-fork-ignored", "src/core/nn/nn_scan.c",
     "h_prev + (parent != NULL ? parent[j] : j) * EN", "h_prev + j * EN",
     "test_nn_ssm", "a forked scan step starts each node from the state in its own row, not its parent's"),
    ("conv-step-fork-window", "src/core/nn/nn_conv1d.c",
     "memmove(wn, wp + C,", "memmove(wn, wn + C,",
     "test_nn_ssm", "a forked convolution step shifts the child's stale window instead of its parent's"),
    ("half-copy-stale", "src/core/models/llama_train.c",
     "nn_params_half_drop(&m->params);	/* the weights are about to change */", ";",
     "test_llama", "training keeps the float16 copy of the weights it changes: one-row sampling reads stale weights"),
    ("half-round-ties-up", "src/core/nn/nn_simd.c",
     "(a + 0xfffu + ((a >> 13) & 1)) >> 13", "(a + 0x1000u) >> 13",
     "test_nn_half", "float32 to float16 rounds ties up instead of to even"),
    ("half-load-offset", "src/core/nn/nn_simd.c",
     "((const uint16_t *) w + i)))", "((const uint16_t *) w + i + 1)))",
     "test_nn_half", "the float16 product loads its weights one column off"),
    ("half-not-rounded", "src/core/models/llama.c",
     "	nn_params_round_half(&m->params);\n", "\n",
     "test_llama", "the end of llama training leaves the weights float32 (half_weights ignored)"),
    ("half-not-stored", "src/core/models/llama_io.c",
     "hp[10] = c->half_weights ? 1.0 : 0.0;", "hp[10] = 0.0;",
     "test_llama", "half_weights is lost on save: a best epoch put back from its saved copy is never rounded"),
    ("half-copy-unused", "src/core/nn/nn_qparams.c",
     "if (N == 1 && p->half != NULL &&", "if (0 && p->half != NULL &&",
     "test_nn_half", "one-row products never read the float16 copy"),
    ("half-copy-of-float32", "src/core/nn/nn_half.c",
     "		if (!nn_to_half(half + t->offset, NULL, p->data + t->offset, t->count))\n",
     "		nn_to_half(half + t->offset, NULL, p->data + t->offset, t->count);\n		if (0)\n",
     "test_nn_half", "a float16 copy is built of weights that are not float16 values"),
    ("int8-trains", "src/core/models/model_weights.c",
     "if (p->quant != NN_QUANT_NONE)", "if (0)",
     "test_mamba", "a quantized model does not refuse further training"),
    ("train-borrowed-in-place", "src/core/models/model_weights.c",
     "if (p->borrowed)", "if (0)",
     "test_conformance", "a model loaded borrowing its stored bytes trains in them"),
    ("cvae-draw-group-skip", "src/core/models/cvae_sample.c",
     "if (u < acc + s)", "if (u <= acc)",
     "test_cvae", "the draw's search skips every group of four and draws from the tail"),
    ("cvae-draw-total-lane", "src/core/models/cvae_sample.c",
     "total = (part[0] + part[1]) + (part[2] + part[3]);", "total = (part[0] + part[1]) + part[2];",
     "test_cvae", "the draw's total leaves out one of its four running sums"),
    ("cvae-draw-temperature", "src/core/models/cvae_sample.c",
     "nn_vshift_scale(z, K, nn_vmax(z, K), inv_t);", "nn_vshift_scale(z, K, nn_vmax(z, K), 1.0f);",
     "test_cvae", "the draws ignore the temperature"),
    ("vrelu-avx2-operand-order", "src/core/nn/nn_simd.c",
     "_mm256_max_ps(_mm256_loadu_ps(x + i), zero)", "_mm256_max_ps(zero, _mm256_loadu_ps(x + i))",
     "test_nn", "AVX2 ReLU keeps NaN and -0 (max's operands swapped)"),
    ("cvae-int8-embedding-float", "src/core/models/cvae.c",
     "nn_params_mark_quantizable(&m->params, t->emb_in, NN_QUANTIZE_ROWS);", "(void) t;",
     "test_cvae", "a quantized cvae keeps its input embedding in float32"),
    ("cuda-linear-forward", "kernels/cu_linear.cu",
     "gemm(1, 0, OC, N, C, 1.0f, w, C, inp, C, 0.0f, out, OC);",
     "gemm(0, 0, OC, N, C, 1.0f, w, OC, inp, C, 0.0f, out, OC);",
     "test_cuda_emu", "device linear_forward multiplies by w instead of its transpose"),
    ("cuda-linear-dw-overwrites", "kernels/cu_linear.cu",
     "inp, C, dout, OC, 1.0f, dw, C);", "inp, C, dout, OC, 0.0f, dw, C);",
     "test_cuda_emu", "device linear_backward overwrites dw instead of accumulating"),
    ("cuda-attention-dk-diagonal", "kernels/cu_attention.cu",
     "for (int t = u; t < L; t++)", "for (int t = u + 1; t < L; t++)",
     "test_cuda_emu", "device attention backward leaves out each key's own query"),
    ("cuda-adamw-decay-mask", "kernels/cu_optim.cu",
     "decay = decay_mask[i] ? a.decay : 0.0f;", "decay = a.decay;",
     "test_cuda_emu", "device AdamW decays the norms' weights too"),
    ("cuda-linear-set-accumulates", "kernels/cu_linear.cu",
     "linear_backward_beta(dinp, dw, dout, inp, w, N, C, OC, 0.0f);", "linear_backward_beta(dinp, dw, dout, inp, w, N, C, OC, 1.0f);",
     "test_cuda_emu", "device linear_backward_set adds to dinp instead of writing it"),
    ("cuda-rope-q-only", "src/core/models/llama_device.c",
     "api->rope_forward(a->qkv[l], pos, m->gpu->rope_cs, N, 2 * NH, HS, 3 * C);",
     "api->rope_forward(a->qkv[l], pos, m->gpu->rope_cs, N, NH, HS, 3 * C);",
     "test_cuda_emu", "the device pass rotates q but not k"),
    ("cuda-sumsq-fold", "kernels/cu_optim.cu",
     "for (int r = 0; r < NN_DEVICE_NORM_SPLIT; r++)", "for (int r = 0; r < NN_DEVICE_NORM_SPLIT - 1; r++)",
     "test_cuda_emu", "the gradient norm's fold leaves out the last slice of each part"),
    ("cuda-decode-chain", "kernels/cu_attention.cu",
     "kcache + u * pos_stride + (size_t) ch[u] * C", "kcache + u * pos_stride + (size_t) j * C",
     "test_cuda_emu", "device decode attends to the keys of node j at every position, not its ancestors'"),
    ("cuda-embedding-race", "kernels/cu_dense.cu",
     "if (c >= (size_t) C)\n\t\treturn;\n\tfor (int n = 0; n < N; n++)\n\t\tdwte[(size_t) tok[n] * C + c] += dout[(size_t) n * C + c];\n}\n\n"
     "/* CPU twin: embedding_backward (nn_dense.c) */\nvoid\nembedding_backward(float *dwte, const float *dout, const int32_t *tok, int N, int C)\n{\n"
     "\tCU_LAUNCH(embedding_backward_kernel, (size_t) C,",
     "if (c >= (size_t) N * C)\n\t\treturn;\n\tdwte[(size_t) tok[c / C] * C + c % C] += dout[c];\n}\n\n"
     "/* CPU twin: embedding_backward (nn_dense.c) */\nvoid\nembedding_backward(float *dwte, const float *dout, const int32_t *tok, int N, int C)\n{\n"
     "\tCU_LAUNCH(embedding_backward_kernel, (size_t) N * C,",
     "test_cuda_emu", "device embedding backward with a thread per element: threads of one token race"),
    ("cuda-dropout-order", "src/core/models/llama_device.c",
     "llama_dropout_scales(m, a->host_drop + 2 * l * NC, NC);\n\t\tllama_dropout_scales(m, a->host_drop + (2 * l + 1) * NC, NC);",
     "llama_dropout_scales(m, a->host_drop + (2 * l + 1) * NC, NC);\n\t\tllama_dropout_scales(m, a->host_drop + 2 * l * NC, NC);",
     "test_cuda_emu", "the device pass draws its dropout masks in another order than the CPU"),
    ("cuda-sampler-chain", "src/core/models/llama_device_sample.c",
     "a = parent[(size_t) u * d->scap + a];", "a = parent[(size_t) (u - 1) * d->scap + a];",
     "test_cuda_emu", "the device sampler walks a node's ancestors one position off"),
    ("device-auto-fallback", "src/core/models/model_device.c",
     "if (rc == NTG_OK || mode == NTG_DEVICE_AUTO)", "if (rc == NTG_OK)",
     "test_device", "auto without a device is an error instead of the CPU"),
    ("quant-round", "src/core/nn/nn_quant.c",
     "return (int8_t) lrintf(v);", "return (int8_t) v;",
     "test_quant", "int8 weights truncated toward zero instead of rounded"),
    ("quant-vnni-bias", "src/core/nn/nn_qgemm_x86.c",
     "_mm512_slli_epi32(_mm512_loadu_si512(pk->rowsum + o), 7)",
     "_mm512_slli_epi32(_mm512_loadu_si512(pk->rowsum + o), 6)",
     "test_quant", "the VNNI kernel takes off 64 instead of 128 times the row sums of its biased operand"),
    ("quant-avx2-unsigned-acts", "src/core/nn/nn_qgemm_x86.c",
     "_mm256_maddubs_epi16(ax, _mm256_sign_epi8(w, xv))", "_mm256_maddubs_epi16(xv, w)",
     "test_quant", "the AVX2 dynamic kernel reads the signed activations as unsigned bytes"),
    ("quant-vnni-unbiased-acts", "src/core/nn/nn_quant.c",
     "if (level == NN_QSIMD_VNNI && !x->biased)", "if (0)",
     "test_quant", "activations quantized without their biased copy go to the VNNI kernel"),
    ("quant-wo-avx2-row-order", "src/core/nn/nn_qgemm_x86.c",
     "_mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)", "_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)",
     "test_quant", "the one-row AVX2 weight-only kernel stores its sums in the hadd lanes' order"),
    ("quant-wo-avx2-few-rows", "src/core/nn/nn_qgemm_x86.c",
     "row_wo_avx2(out + (size_t) n * ldo, x + (size_t) n * pk->C, pk, b);",
     "row_wo_avx2(out + (size_t) n * ldo, x, pk, b);",
     "test_quant", "rows of a call with fewer than 4 rows all read the first one's inputs"),
    ("quant-wo-panel-carry", "src/core/nn/nn_qgemm_x86.c",
     "first = c0 == 0,", "first = 1,",
     "test_quant", "weight-only sums over more inputs than one panel forget the earlier panels"),
    ("quant-wo-panel-tail-rows", "src/core/nn/nn_qgemm_x86.c",
     "\t\t\tcase 1:\n\t\t\t\ttile_wo_avx2(out, ldo, x, pk, P, n, b, c0, c1, first, last, 1);",
     "\t\t\tcase 1:",
     "test_quant", "a lone row after the blocks of 6 is never computed"),
    ("quant-store-zero-scale", "src/core/nn/nn_store.c",
     "if (!(isfinite(s[r]) && s[r] > 0.0f))", "if (!isfinite(s[r]))",
     "test_quant", "a stored quantization scale of zero or below is accepted"),
    ("quant-head-rows", "src/core/nn/nn_qparams.c",
     "part.OC = OC - r0 < part.OC ? OC - r0 : part.OC;", "(void) 0;",
     "test_quant", "an int8 product asked for the first rows of a matrix computes (and writes) all of them"),
    ("quant-max-in", "src/core/nn/nn_qparams.c",
     "p->tensors[i].dims[1] <= NN_QMAX_IN)", "1)",
     "test_quant", "a matrix too wide for exact int32 sums is marked quantizable"),
    ("quant-stored-not-dequantized", "src/core/nn/nn_store.c",
     "if (t->quantizable == NN_QUANTIZE_STORED && !nn_params_dequantize_stored(p, i))", "if (0)",
     "test_quant", "a matrix stored as int8 and read as floats loads without its floats (left zero)"),
    ("nd-cosine-offset", "src/core/models/netdiffus_sample.c",
     "double\t\ts = 0.008;", "double\t\ts = 0.08;",
     "test_netdiffus_golden", "netdiffus cosine schedule with offset 0.08 instead of 0.008"),
    ("nd-step-embedding", "src/core/models/netdiffus_unet.c",
     "o[i] = (float) cos(t[b] * f);", "o[i] = (float) sin(t[b] * f);",
     "test_netdiffus_golden", "netdiffus step embedding without its cosine half"),
    ("nd-x0-clip", "src/core/models/netdiffus_sample.c",
     "x0 = x0 < lo ? lo : x0 > hi ? hi : x0;", "(void) 0;",
     "test_netdiffus_golden", "netdiffus sampling does not clip x0 to [-1, 1] (option clip ignored)"),
    ("nd-clip-bounds", "src/core/models/netdiffus_sample.c",
     "hi = (1.0 - m->img_mean[i * N + j]) / m->img_std[i * N + j];", "hi = 1.0;",
     "test_netdiffus_golden", "netdiffus clips x0 at 1 instead of the standardized image of G = 1"),
    ("nd-ddpm-variance", "src/core/models/netdiffus_sample.c",
     "sigma = k > 0 ? sqrt(beta * (1.0 - abp) / (1.0 - ab)) : 0.0;", "sigma = k > 0 ? sqrt(beta) : 0.0;",
     "test_netdiffus_golden", "netdiffus DDPM steps with variance beta instead of the posterior's"),
    ("nd-guidance", "src/core/models/netdiffus_sample.c",
     "(1.0f + w) * ec[i] - w * eu[i]", "w * ec[i] + (1.0f - w) * eu[i]",
     "test_netdiffus_golden", "netdiffus classifier-free guidance mixes instead of extrapolating"),
    ("image-attention-scale", "src/core/nn/nn_image_attention.c",
     "float\t\tscale = 1.0f / sqrtf((float) HS);", "float\t\tscale = 1.0f / (float) HS;",
     "test_netdiffus_golden", "image attention scaled by 1/d instead of 1/sqrt(d) (forward and backward)", 2),
    ("image-attention-dk", "src/core/nn/nn_image_attention.c",
     "nn_axpy(dk, g, q, HS);", "nn_axpy(dk, g, k, HS);",
     "test_nn_image", "image attention's key gradient takes the key for the query"),
    ("image-attention-unnormalised", "src/core/nn/nn_image_attention.c",
     "\t\t\t\t\trow[u] *= inv;\n", "",
     "test_nn_image", "image attention weighs the values by unnormalised exponentials"),
    ("nd-image-scale", "src/core/models/netdiffus_sample.c",
     "x[r * SS + i * S + j] * m->img_std[i * N + j] + m->img_mean[i * N + j];", "x[r * SS + i * S + j];",
     "test_netdiffus_golden", "netdiffus samples are decoded without undoing the image standardization"),
    ("nd-skip-gradient", "src/core/models/netdiffus_unet.c",
     "residual_add(*X, lv->dskip, (size_t) B * P * s->ch[l]);", "(void) 0;",
     "test_netdiffus", "the U-Net's skip connections pass no gradient back"),
    ("gasf-sum", "src/core/models/gasf.c",
     "cos(phi[i] + phi[j])", "cos(phi[i] - phi[j])",
     "test_netdiffus", "a difference field (GADF-like) instead of the summation field"),
    ("gasf-log-scale", "src/core/models/gasf.c",
     "copysign(log1p(fabs(v)), v) : v", "v : v",
     "test_netdiffus", "value_scale log maps values linearly"),
    ("gasf-fit-offdiagonal", "src/core/models/gasf.c",
     "sum = phi[i] + phi[j],\n\t\t\t\t\t\t\tr = cos(sum)", "sum = phi[i] + phi[j],\n\t\t\t\t\t\t\tr = i != j ? 0.0 : cos(sum)",
     "test_netdiffus", "the least-squares read-back ignores the off-diagonal pixels"),
    ("gasf-fit-weights", "src/core/models/gasf.c",
     "w = std != NULL ? 1.0 / ((double) std[i * N + j] * std[i * N + j]) : 1.0,", "w = 1.0,",
     "test_netdiffus", "the least-squares read-back weighs every pixel alike whatever its std", 2),
    ("gasf-refine-scope", "src/core/models/gasf.c",
     "if (refine == GASF_REFINE_POSITION)", "if (refine == GASF_REFINE_ALL)",
     "test_netdiffus", "refine 2 draws on all values instead of the class's at the position"),
    ("nd-validation-seed", "src/core/models/netdiffus_train.c",
     "ntg_rng_seed(&rng, UINT64_C(0x6e6476616c) + (uint64_t) r);", "static uint64_t calls; ntg_rng_seed(&rng, (uint64_t) r + calls++);",
     "test_netdiffus", "the validation loss draws its steps and noise afresh each time"),
    ("nd-spacing-power", "src/core/models/netdiffus_sample.c",
     "pow((double) k / (steps - 1), power)", "((double) k / (steps - 1))",
     "test_netdiffus_golden", "netdiffus option spacing ignored: steps always evenly spaced"),
    ("nd-ema-warmup", "src/core/models/netdiffus_train.c",
     "double\t\td = (1.0 + m->ema_steps) / (10.0 + m->ema_steps);", "double\t\td = 1.0;",
     "test_netdiffus", "the weights' moving average without its warm-up (d = ema from the first step)"),
    ("groupnorm-backward", "src/core/nn/nn_groupnorm.c",
     "cb[c] = -r * r * k;", "cb[c] = 0.0f;",
     "test_nn_image", "group norm backward without the variance term"),
    ("col2im-overwrite", "src/core/nn/nn_conv.c",
     "nn_vadd(dinp + (((size_t) b * H + iy) * W + ix) * C, src, C);",
     "memcpy(dinp + (((size_t) b * H + iy) * W + ix) * C, src, C * sizeof(float));",
     "test_nn_image", "convolution backward overwrites the input gradient of overlapping windows"),
    ("image-avx2-silu", "src/core/nn/nn_ssm_act.c",
     "_mm256_mul_ps(s, _mm256_fmadd_ps(v, _mm256_sub_ps(one, s), one))", "s",
     "test_nn_image", "AVX2 SiLU backward (the image layers' too) uses sigmoid(x) for silu'(x)"),
    ("crc32c-sse42", "src/core/common/crc32c.c",
     "c = __builtin_ia32_crc32di(c, v);", "c = __builtin_ia32_crc32di(c, v ^ 1);",
     "test_common", "the CRC instruction path differs from the reference"),
]


def cpu_has_vnni():
    try:
        flags = open("/proc/cpuinfo").read().split()
    except OSError:
        return False
    return all(f in flags for f in ("avx512f", "avx512bw", "avx512_vnni"))


def cpu_has_avx512():
    try:
        flags = open("/proc/cpuinfo").read().split()
    except OSError:
        return False
    return "avx512f" in flags


def cpu_has_avx2():
    try:
        flags = open("/proc/cpuinfo").read().split()
    except OSError:
        return False
    return "avx2" in flags and "fma" in flags


def copy_tree(src, dst):
    """The files git knows (tracked and untracked, not ignored), or the whole tree without .git."""
    try:
        names = subprocess.run(["git", "-C", src, "ls-files", "-z", "-co", "--exclude-standard"],
                               check=True, capture_output=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        names = None
    if names is None:
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".git", "tmp_*"))
        return
    for name in filter(None, names):
        if not os.path.isfile(os.path.join(src, name)):
            continue
        os.makedirs(os.path.join(dst, os.path.dirname(name)), exist_ok=True)
        shutil.copy2(os.path.join(src, name), os.path.join(dst, name))


def make(tree, *targets):
    return subprocess.run(["make", "-s", "-C", tree, *targets], capture_output=True, text=True,
                          errors="replace")


def run_test(tree, test, timeout=300):
    """0 when the test passes, else the reason it failed."""
    try:
        # errors="replace": a mutant may make its test print bytes that are not UTF-8
        r = subprocess.run(["test/unit/bin/" + test], cwd=tree, capture_output=True, text=True,
                           errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout"
    if r.returncode == 0 and "\nnot ok" not in "\n" + r.stdout:
        return 0
    failed = [line for line in r.stdout.splitlines() if line.startswith("not ok")]
    return failed[0] if failed else "exit status %d" % r.returncode


def plant(tree, m):
    path = os.path.join(tree, m[1])
    text = open(path).read()
    want = m[6] if len(m) > 6 else 1
    found = text.count(m[2])
    if found != want:
        return "the original text occurs %d times in %s, not %d" % (found, m[1], want)
    os.unlink(path)  # a new file (and a new mtime), so make rebuilds it
    with open(path, "w") as f:
        f.write(text.replace(m[2], m[3]))
    return None


def main(argv):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    mutants = [m for m in MUTANTS if not argv or m[0] in argv or "--list" in argv]
    if "--list" in argv:
        for m in mutants:
            print("%-24s %-34s %-20s %s" % (m[0], m[1], m[4], m[5]))
        return 0
    avx2 = cpu_has_avx2()
    t0 = time.time()
    work = tempfile.mkdtemp(prefix="ntg-mutation.")
    base = os.path.join(work, "base")
    copy_tree(repo, base)
    tests = sorted({m[4] for m in mutants})
    r = make(base, "-j2", *["test/unit/bin/" + t for t in tests])
    if r.returncode != 0:
        print(r.stdout + r.stderr)
        print("mutation: the unchanged tree does not build")
        return 1
    for t in tests:
        why = run_test(base, t)
        if why:
            print("mutation: %s fails on the unchanged tree (%s): no mutant can be judged" % (t, why))
            return 1
    results = []
    print("| mutant | file | test | result | seconds |")
    print("|---|---|---|---|---|")
    for m in mutants:
        t1 = time.time()
        if "avx2" in m[0] and not avx2:
            result = "skipped (no AVX2+FMA on this CPU)"
        elif "vnni" in m[0] and not cpu_has_vnni():
            result = "skipped (no AVX-512 VNNI on this CPU)"
        elif "avx512" in m[0] and not cpu_has_avx512():
            result = "skipped (no AVX-512 on this CPU)"
        else:
            tree = os.path.join(work, m[0])
            shutil.copytree(base, tree, symlinks=True)
            error = plant(tree, m)
            if error:
                result = "ERROR: " + error
            else:
                r = make(tree, "test/unit/bin/" + m[4])
                if r.returncode != 0:
                    result = "ERROR: does not compile"
                else:
                    why = run_test(tree, m[4])
                    result = "killed (%s)" % why if why else "SURVIVED"
            shutil.rmtree(tree, ignore_errors=True)
        results.append(result)
        print("| %s: %s | %s | %s | %s | %.0f |" % (m[0], m[5], m[1], m[4], result, time.time() - t1),
              flush=True)
    shutil.rmtree(work, ignore_errors=True)
    killed = sum(r.startswith("killed") for r in results)
    skipped = sum(r.startswith("skipped") for r in results)
    bad = len(results) - killed - skipped
    print("mutation: %d killed, %d survived or not planted, %d skipped, of %d mutants (%.0f s)"
          % (killed, bad, skipped, len(results), time.time() - t0))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
