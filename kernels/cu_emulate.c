/*
 * cu_emulate.c — launches for the emulated library (cu_emulate.h): a launch of n threads runs
 * the kernel once per thread slot of its blocks, one after the other, ascending, or descending
 * when the environment variable NTG_CUDA_EMULATE_ORDER is "reverse".  Kernels whose threads are
 * independent (all of ntg's: cu_common.h) give the same bits either way; the unit tests run both.
 */
#include "cu_emulate.h"

#include <stdlib.h>
#include <string.h>

dim3		blockIdx;
dim3		threadIdx;
dim3		blockDim;
dim3		gridDim;

static size_t slots;			/* threads of the launch, whole blocks */
static size_t done;				/* slots run so far */
static int	reverse;

void
cu_emu_begin(size_t threads, unsigned block)
{
	const char *order = getenv("NTG_CUDA_EMULATE_ORDER");
	size_t		blocks = (threads + block - 1) / block;

	blockDim.x = block;
	blockDim.y = blockDim.z = 1;
	gridDim.x = (unsigned) blocks;
	gridDim.y = gridDim.z = 1;
	blockIdx.y = blockIdx.z = threadIdx.y = threadIdx.z = 0;
	slots = blocks * block;
	done = 0;
	reverse = order != NULL && strcmp(order, "reverse") == 0;
}

int
cu_emu_next(void)
{
	size_t		k;

	if (done == slots)
		return 0;
	k = reverse ? slots - 1 - done : done;
	done++;
	blockIdx.x = (unsigned) (k / blockDim.x);
	threadIdx.x = (unsigned) (k % blockDim.x);
	return 1;
}
