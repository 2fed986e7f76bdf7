/* kernel_common.cuh: what the kernel files of the backend (cuda/ops.cu,
 * cuda/grad_ops.cu) share: the warp sum, grid sizes and the check after a
 * launch. */
#ifndef MD_CUDA_KERNEL_COMMON_CUH
#define MD_CUDA_KERNEL_COMMON_CUH

#include <cuda_runtime.h>

#include "mambadna.h"

namespace md_kernel {

__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* Blocks of per_block items covering n (at least 1). */
inline unsigned blocks_for(long long n, long long per_block)
{
    long long b = (n + per_block - 1) / per_block;
    return (unsigned)(b < 1 ? 1 : b);
}

/* 0, or MD_ERR with a message when the last launch failed. */
inline int launched(const char *what)
{
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        return md_error(MD_ERR, "CUDA kernel %s: %s", what, cudaGetErrorString(e));
    return 0;
}

} /* namespace md_kernel */

#endif
