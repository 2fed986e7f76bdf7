/* ops.cu: the small kernels of the GPU inference forward (cuda/forward.cu):
 * embedding gather, PS strand swap (with the residual add), RMSNorm /
 * LayerNorm (with the residual add), depthwise causal conv1d + SiLU in either
 * time direction with carried state, A = -exp(A_log), the multiplicative
 * combine, and fp32 -> bf16.
 *
 * Layouts are the CPU's (src/cpu/ops.h): time-major, channels contiguous.
 * Row-wise kernels give one warp to a position and let lane j own channels
 * j, j+32, ...: loads are coalesced and a lane only ever reads back what it
 * wrote itself (so out may alias h in md_cuda_norm). Activations are float32
 * or bf16 (`act`); statistics, states and the residual stream are float32.
 */
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <stdint.h>

#include "mambadna.h"
#include "cuda_backend.h"
#include "kernel_common.cuh"

namespace {

using namespace md_kernel;

__device__ __forceinline__ float ldf(const float *p) { return *p; }
__device__ __forceinline__ float ldf(const __nv_bfloat16 *p) { return __bfloat162float(*p); }
__device__ __forceinline__ void stf(float *p, float v) { *p = v; }
__device__ __forceinline__ void stf(__nv_bfloat16 *p, float v) { *p = __float2bfloat16(v); }

constexpr int WARPS = 8; /* warps (positions) per block of the row kernels */

/* ------------------------------------------------------------ gather */

__global__ void gather_kernel(const uint8_t *tok, const float *emb, long long T, int D, float *out)
{
    long long p = (long long)blockIdx.x * WARPS + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (p >= T) return;
    const float *src = emb + (long long)tok[p] * D;
    float *dst = out + p * D;
    for (int d = lane; d < D; d += 32) dst[d] = src[d];
}

/* ------------------------------------------------------- add + swap */

__global__ void add_swap_kernel(float *x, const float *h, int P, long long L, int D)
{
    long long p = (long long)blockIdx.x * WARPS + threadIdx.x / 32; /* position of rows < P */
    int lane = threadIdx.x % 32;
    if (p >= (long long)P * L) return;
    long long r = p / L, t = p % L;
    long long a = p * D, b = ((r + P) * L + (L - 1 - t)) * D;
    for (int d = lane; d < D; d += 32) {
        long long ia = a + d, ib = b + (D - 1 - d);
        float va = x[ia], vb = x[ib];
        if (h) {
            va += h[ia];
            vb += h[ib];
        }
        x[ia] = vb;
        x[ib] = va;
    }
}

/* ---------------------------------------------------------------- norm */

template <typename TO>
__global__ void norm_kernel(float *x, const float *h, const float *w, const float *bias,
                            int rms, float eps, long long n, long long L, long long t0,
                            long long Lc, int D, TO *out)
{
    long long p = (long long)blockIdx.x * WARPS + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (p >= n) return;
    long long r = p / Lc, t = t0 + p % Lc, off = (r * L + t) * D;
    float *xr = x + off;
    const float *hr = h ? h + off : nullptr;
    float s = 0.0f;
    for (int d = lane; d < D; d += 32) {
        float v = xr[d];
        if (hr) {
            v += hr[d];
            xr[d] = v;
        }
        s += rms ? v * v : v;
    }
    s = warp_sum(s);
    float mean = 0.0f, inv;
    if (rms) {
        inv = 1.0f / sqrtf(s / (float)D + eps);
    } else {
        mean = s / (float)D;
        float q = 0.0f;
        for (int d = lane; d < D; d += 32) {
            float dv = xr[d] - mean;
            q += dv * dv;
        }
        q = warp_sum(q);
        inv = 1.0f / sqrtf(q / (float)D + eps);
    }
    TO *o = out + p * D;
    for (int d = lane; d < D; d += 32) {
        float v = xr[d];
        float y = rms ? v * inv * w[d] : (v - mean) * inv * w[d] + (bias ? bias[d] : 0.0f);
        stf(o + d, y);
    }
}

/* ---------------------------------------------------------------- conv */

constexpr int CONV_CH = 128; /* channels per block */
constexpr int CONV_TS = 64;  /* steps per thread */

__device__ __forceinline__ float silu_acc(float x) { return x / (1.0f + expf(-x)); }

/* One thread: one channel of one row over CONV_TS processing steps. The
 * K-1 inputs before the first step come from the chunk itself or from the
 * carried state. */
template <typename T, int K>
__global__ void conv_kernel(const T *x, long long ldx, const float *w, const float *bias,
                            long long Ls, int E, int dir, const float *state, T *out,
                            int n_ctiles)
{
    int ctile = blockIdx.x % n_ctiles;
    long long ttile = blockIdx.x / n_ctiles;
    int e = ctile * CONV_CH + threadIdx.x;
    int r = blockIdx.y;
    if (e >= E) return;
    long long s0 = ttile * CONV_TS, s1 = s0 + CONV_TS < Ls ? s0 + CONV_TS : Ls;
    const T *xr = x + (long long)r * Ls * ldx + e;
    T *orow = out + (long long)r * Ls * E + e;
    const float *st = state + (long long)r * (K - 1) * E + e;
    float wk[K], win[K];
#pragma unroll
    for (int k = 0; k < K; k++) wk[k] = w[(long long)e * K + k];
    float b = bias[e];
#pragma unroll
    for (int j = 0; j < K - 1; j++) {
        long long q = s0 - (K - 1) + j;
        long long t = dir > 0 ? q : Ls - 1 - q;
        win[j] = q >= 0 ? ldf(xr + t * ldx) : st[(long long)(K - 1 + q) * E];
    }
    for (long long s = s0; s < s1; s++) {
        long long t = dir > 0 ? s : Ls - 1 - s;
        win[K - 1] = ldf(xr + t * ldx);
        float acc = b;
#pragma unroll
        for (int k = 0; k < K; k++) acc = __fadd_rn(acc, __fmul_rn(wk[k], win[k]));
        stf(orow + t * E, silu_acc(acc));
#pragma unroll
        for (int k = 0; k < K - 1; k++) win[k] = win[k + 1];
    }
}

/* The state after the chunk: the last K-1 inputs in processing order. In
 * place: new[j] reads old[j + Ls] (j + Ls > j) or the chunk. */
template <typename T>
__global__ void conv_state_kernel(const T *x, long long ldx, int rows, long long Ls, int E,
                                  int K, int dir, float *state)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long)rows * E) return;
    long long r = i / E;
    int e = (int)(i % E);
    float *st = state + r * (K - 1) * E + e;
    const T *xr = x + r * Ls * ldx + e;
    for (int j = 0; j < K - 1; j++) {
        long long q = Ls - (K - 1) + j;
        long long t = dir > 0 ? q : Ls - 1 - q;
        st[(long long)j * E] = q >= 0 ? ldf(xr + t * ldx) : st[(long long)(j + Ls) * E];
    }
}

template <typename T, int K>
int conv_launch(const T *x, long long ldx, const float *w, const float *b, int rows,
                long long Ls, int E, int dir, float *state, T *out, cudaStream_t st)
{
    int n_ctiles = (E + CONV_CH - 1) / CONV_CH;
    long long n_ttiles = (Ls + CONV_TS - 1) / CONV_TS;
    long long gx = n_ttiles * n_ctiles;
    if (gx > 2147483647LL || rows > 65535)
        return md_error(MD_ERR_ARG, "CUDA conv1d: chunk too large (%d rows x %lld steps)", rows, Ls);
    conv_kernel<T, K><<<dim3((unsigned)gx, (unsigned)rows), CONV_CH, 0, st>>>(
        x, ldx, w, b, Ls, E, dir, state, out, n_ctiles);
    int ret = launched("conv1d");
    if (ret) return ret;
    if (K > 1) {
        long long n = (long long)rows * E;
        conv_state_kernel<T><<<blocks_for(n, 256), 256, 0, st>>>(x, ldx, rows, Ls, E, K, dir, state);
        ret = launched("conv1d state");
    }
    return ret;
}

template <typename T>
int conv_dispatch(const T *x, long long ldx, const float *w, const float *b, int rows,
                  long long Ls, int E, int K, int dir, float *state, T *out, cudaStream_t st)
{
    switch (K) {
    case 1: return conv_launch<T, 1>(x, ldx, w, b, rows, Ls, E, dir, state, out, st);
    case 2: return conv_launch<T, 2>(x, ldx, w, b, rows, Ls, E, dir, state, out, st);
    case 3: return conv_launch<T, 3>(x, ldx, w, b, rows, Ls, E, dir, state, out, st);
    case 4: return conv_launch<T, 4>(x, ldx, w, b, rows, Ls, E, dir, state, out, st);
    case 5: return conv_launch<T, 5>(x, ldx, w, b, rows, Ls, E, dir, state, out, st);
    case 6: return conv_launch<T, 6>(x, ldx, w, b, rows, Ls, E, dir, state, out, st);
    case 7: return conv_launch<T, 7>(x, ldx, w, b, rows, Ls, E, dir, state, out, st);
    case 8: return conv_launch<T, 8>(x, ldx, w, b, rows, Ls, E, dir, state, out, st);
    default: return md_error(MD_ERR_ARG, "CUDA conv1d: d_conv %d not in 1..8", K);
    }
}

/* --------------------------------------------------------- elementwise */

__global__ void neg_exp_kernel(const float *a, float *o, long long n)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) o[i] = -expf(a[i]);
}

__global__ void mul_chunk_kernel(float *y, const float *o, long long n, long long L,
                                 long long t0, long long Lc, int D)
{
    long long p = (long long)blockIdx.x * WARPS + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (p >= n) return;
    long long r = p / Lc, t = t0 + p % Lc;
    float *yr = y + (r * L + t) * D;
    const float *orow = o + p * D;
    for (int d = lane; d < D; d += 32) yr[d] *= orow[d];
}

__global__ void to_bf16_kernel(const float *x, __nv_bfloat16 *y, long long n)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = __float2bfloat16(x[i]);
}

} /* namespace */

extern "C" {

int md_cuda_embed_gather(const unsigned char *tokens, const float *emb, long long T, int D,
                         float *out, void *stream)
{
    if (T <= 0) return 0;
    gather_kernel<<<blocks_for(T, WARPS), 32 * WARPS, 0, (cudaStream_t)stream>>>(tokens, emb, T, D, out);
    return launched("embedding gather");
}

int md_cuda_add_swap(float *x, const float *h, int P, long long L, int D, void *stream)
{
    long long n = (long long)P * L;
    if (n <= 0) return 0;
    add_swap_kernel<<<blocks_for(n, WARPS), 32 * WARPS, 0, (cudaStream_t)stream>>>(x, h, P, L, D);
    return launched("strand swap");
}

int md_cuda_norm(float *x, const float *h, const float *w, const float *bias, int rms,
                 float eps, int rows, long long L, long long t0, long long Lc, int D,
                 void *out, int act, void *stream)
{
    long long n = (long long)rows * Lc;
    if (n <= 0) return 0;
    cudaStream_t st = (cudaStream_t)stream;
    unsigned g = blocks_for(n, WARPS);
    if (act == MD_BF16)
        norm_kernel<__nv_bfloat16><<<g, 32 * WARPS, 0, st>>>(x, h, w, bias, rms, eps, n, L, t0, Lc,
                                                            D, (__nv_bfloat16 *)out);
    else
        norm_kernel<float><<<g, 32 * WARPS, 0, st>>>(x, h, w, bias, rms, eps, n, L, t0, Lc, D,
                                                    (float *)out);
    return launched("norm");
}

int md_cuda_conv1d_silu(const void *x, long long ldx, const float *w, const float *b,
                        int rows, long long Ls, int E, int K, int dir, float *state,
                        void *out, int act, void *stream)
{
    if (rows <= 0 || Ls <= 0) return 0;
    cudaStream_t st = (cudaStream_t)stream;
    if (act == MD_BF16)
        return conv_dispatch<__nv_bfloat16>((const __nv_bfloat16 *)x, ldx, w, b, rows, Ls, E, K,
                                            dir, state, (__nv_bfloat16 *)out, st);
    return conv_dispatch<float>((const float *)x, ldx, w, b, rows, Ls, E, K, dir, state,
                                (float *)out, st);
}

int md_cuda_neg_exp(const float *A_log, float *A, long long n, void *stream)
{
    if (n <= 0) return 0;
    neg_exp_kernel<<<blocks_for(n, 256), 256, 0, (cudaStream_t)stream>>>(A_log, A, n);
    return launched("-exp(A_log)");
}

int md_cuda_mul_chunk(float *y, const float *o, int rows, long long L, long long t0,
                      long long Lc, int D, void *stream)
{
    long long n = (long long)rows * Lc;
    if (n <= 0) return 0;
    mul_chunk_kernel<<<blocks_for(n, WARPS), 32 * WARPS, 0, (cudaStream_t)stream>>>(y, o, n, L, t0,
                                                                                  Lc, D);
    return launched("combine (mul)");
}

int md_cuda_to_bf16(const float *x, void *y, long long n, void *stream)
{
    if (n <= 0) return 0;
    to_bf16_kernel<<<blocks_for(n, 256), 256, 0, (cudaStream_t)stream>>>(x, (__nv_bfloat16 *)y, n);
    return launched("to bf16");
}

} /* extern "C" */
