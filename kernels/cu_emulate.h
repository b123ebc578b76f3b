/*
 * cu_emulate.h — the part of the CUDA runtime that the kernels use, for a plain C compiler: the
 * emulated library runs each launch as a loop over its threads on the host (cu_emulate.c), in
 * ascending order, or descending when NTG_CUDA_EMULATE_ORDER=reverse (a kernel whose threads
 * depend on each other then gives other bits).  Test builds only; never installed.
 */
#ifndef NTG_CU_EMULATE_H
#define NTG_CU_EMULATE_H

#include <stddef.h>

#define __global__
#define __device__
#define __host__

typedef struct dim3
{
	unsigned	x;
	unsigned	y;
	unsigned	z;
} dim3;

extern dim3 blockIdx __attribute__((visibility("hidden")));
extern dim3 threadIdx __attribute__((visibility("hidden")));
extern dim3 blockDim __attribute__((visibility("hidden")));
extern dim3 gridDim __attribute__((visibility("hidden")));

/* Start a launch of `threads` threads in blocks of `block`; cu_emu_next() sets blockIdx and
 * threadIdx to the next thread (every slot of the last block too, as on a GPU) until done. */
void		cu_emu_begin(size_t threads, unsigned block) __attribute__((visibility("hidden")));
int			cu_emu_next(void) __attribute__((visibility("hidden")));

#endif							/* NTG_CU_EMULATE_H */
