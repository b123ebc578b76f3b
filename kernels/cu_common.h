/*
 * cu_common.h — what every kernel file shares: one-dimensional launches, and the switch between
 * nvcc (the real kernels) and a plain C compiler (the emulation, cu_emulate.h).
 *
 * Kernels are written in the C subset of CUDA and never cooperate inside a block (no shared
 * memory, no __syncthreads, no warp shuffles, no atomics): each thread computes its own outputs
 * from inputs no other thread writes.  That keeps them deterministic, and it lets the emulation
 * run them one thread after the other on the host and check them against their CPU twins where
 * no GPU is.  Every launch is CU_LAUNCH(kernel, threads, args...): ceil(threads / CU_BLOCK)
 * blocks of CU_BLOCK threads, and each kernel returns at once for an index >= its thread count.
 */
#ifndef NTG_CU_COMMON_H
#define NTG_CU_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "nn/nn_device.h"

#define CU_BLOCK 256

/* Launches so far (cu_runtime.cu); counted by CU_LAUNCH and the matrix products. */
extern uint64_t cu_launches __attribute__((visibility("hidden")));

#ifdef __CUDACC__
#include <cuda_runtime.h>
#define CU_EXTERN extern "C"
#define CU_DEV __device__
#define CU_LAUNCH(kernel, threads, ...) \
	do { \
		size_t		n_ = (threads); \
		if (n_ > 0) \
		{ \
			kernel<<<(unsigned) ((n_ + CU_BLOCK - 1) / CU_BLOCK), CU_BLOCK>>>(__VA_ARGS__); \
			cu_launches++; \
		} \
	} while (0)
#else
#include "cu_emulate.h"
#define CU_EXTERN extern
#define CU_DEV
#define CU_LAUNCH(kernel, threads, ...) \
	do { \
		size_t		n_ = (threads); \
		if (n_ > 0) \
		{ \
			for (cu_emu_begin(n_, CU_BLOCK); cu_emu_next();) \
				kernel(__VA_ARGS__); \
			cu_launches++; \
		} \
	} while (0)
#endif

/* This thread's index in a one-dimensional launch. */
#define CU_INDEX() ((size_t) blockIdx.x * blockDim.x + threadIdx.x)

/* The library's symbols stay inside it (only the entry point is exported). */
#define CU_HIDDEN __attribute__((visibility("hidden")))

/* Record the first failure of a call that returns no status (cuBLAS); the next to_host or sync
 * reports it (cu_runtime.cu). */
CU_EXTERN void cu_fail(const char *what, const char *why) CU_HIDDEN;

#endif							/* NTG_CU_COMMON_H */
