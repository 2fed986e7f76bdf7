/* grad_ops.cu: the training ops on the GPU, forward and backward, float32,
 * with the semantics and layouts of the CPU ones (src/cpu/grad_ops.inc,
 * src/cpu/grad_fast.h): norms with saved statistics, causal conv1d + SiLU,
 * the selective scan's backward recomputing the states chunk by chunk from
 * those its forward (md_cuda_scan_fwd_save, cuda/scan.cu) saved at every
 * MD_SCAN_CHUNK-th step, the PS strand swap, embedding scatter, pooling,
 * the language-model cross-entropy, AdamW.
 *
 * Sums over positions (weight gradients) are reduced per thread or per
 * block and then added with atomics: results agree with the CPU within
 * float32 rounding but are not bit-reproducible from run to run.
 */
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "model.h"
#include "cuda_backend.h"
#include "fast_math.cuh"
#include "kernel_common.cuh"

namespace {

using namespace md_kernel;
using namespace md_fast;

/* The current device's multiprocessor count. */
int device_sms(int *sms)
{
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess)
        return md_error(MD_ERR, "CUDA: the device's multiprocessor count");
    return 0;
}

constexpr int WARPS = 8;     /* warps per block of the row kernels */
constexpr int MAXD_LANE = 32; /* channels per lane of the norm kernels: D <= 1024 */

/* ------------------------------------------------------------ norms */

__global__ void norm_fwd_kernel(int rms, const float *x, const float *w, const float *b,
                                long long T, int D, float eps, float *out, float *mean,
                                float *rstd)
{
    long long t = (long long)blockIdx.x * WARPS + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (t >= T) return;
    const float *xt = x + t * D;
    float mu = 0;
    if (!rms) {
        for (int d = lane; d < D; d += 32) mu += xt[d];
        mu = warp_sum(mu) / D;
    }
    float var = 0;
    for (int d = lane; d < D; d += 32) var += (xt[d] - mu) * (xt[d] - mu);
    float r = rsqrtf(warp_sum(var) / D + eps);
    for (int d = lane; d < D; d += 32) out[t * D + d] = (xt[d] - mu) * r * w[d] + (b ? b[d] : 0.0f);
    if (lane == 0) {
        if (mean) mean[t] = mu;
        rstd[t] = r;
    }
}

/* One warp per position (grid-stride); each lane keeps the weight-gradient
 * partial sums of its channels and adds them once at the end. */
__global__ void norm_bwd_kernel(int rms, const float *x, const float *w, const float *mean,
                                const float *rstd, const float *g_y, long long T, int D, float *g_x,
                                int accumulate, float *g_w, float *g_b)
{
    int lane = threadIdx.x % 32;
    long long warp = (long long)blockIdx.x * WARPS + threadIdx.x / 32;
    long long n_warps = (long long)gridDim.x * WARPS;
    float pw[MAXD_LANE], pb[MAXD_LANE];
#pragma unroll
    for (int j = 0; j < MAXD_LANE; j++) pw[j] = pb[j] = 0;
    for (long long t = warp; t < T; t += n_warps) {
        const float *xt = x + t * D, *gt = g_y + t * D;
        float r = rstd[t], mu = rms ? 0.0f : mean[t], s1 = 0, s2 = 0;
#pragma unroll
        for (int j = 0; j < MAXD_LANE; j++) {
            int d = lane + 32 * j;
            if (d >= D) break;
            float xh = (xt[d] - mu) * r, gh = gt[d] * w[d];
            s1 += gh;
            s2 += gh * xh;
            pw[j] += gt[d] * xh;
            pb[j] += gt[d];
        }
        s1 = warp_sum(s1) / D;
        s2 = warp_sum(s2) / D;
        for (int d = lane; d < D; d += 32) {
            float xh = (xt[d] - mu) * r, gh = gt[d] * w[d];
            float gx = rms ? r * (gh - xh * s2) : r * (gh - s1 - xh * s2);
            g_x[t * D + d] = accumulate ? g_x[t * D + d] + gx : gx;
        }
    }
#pragma unroll
    for (int j = 0; j < MAXD_LANE; j++) {
        int d = lane + 32 * j;
        if (d >= D) break;
        atomicAdd(&g_w[d], pw[j]);
        if (g_b) atomicAdd(&g_b[d], pb[j]);
    }
}

/* ------------------------------------------------------------ conv1d */

/* Position of processing step s of a row (time descending when dir < 0). */
__device__ __forceinline__ long long at_step(long long s, long long Ls, int dir)
{
    return dir > 0 ? s : Ls - 1 - s;
}

/* The conv1d kernels: a thread owns one channel of one row over CONV_STEPS
 * consecutive steps, the taps in registers, each input read once (coalesced
 * over the channels of a warp): grid (E / 128, steps / CONV_STEPS, rows). */
constexpr int CONV_STEPS = 64;
constexpr int CONV_KMAX = 8;

struct ConvThread {
    int e;
    long long r, s0, s1;
    bool on;
    __device__ ConvThread(int E, long long Ls)
    {
        e = blockIdx.x * blockDim.x + threadIdx.x;
        r = blockIdx.z;
        s0 = (long long)blockIdx.y * CONV_STEPS;
        s1 = s0 + CONV_STEPS < Ls ? s0 + CONV_STEPS : Ls;
        on = e < E;
    }
};

/* Per thread: wr[j] = w[K-1-j], the taps from the newest input back, and a
 * window back[j] = the input j steps before the current one (KMAX of them,
 * the extra ones times zero taps), so that every register index is a
 * constant. */
__device__ __forceinline__ void load_taps(const float *w, int e, int K, float *wr)
{
#pragma unroll
    for (int j = 0; j < CONV_KMAX; j++) wr[j] = j < K ? w[(long long)e * K + K - 1 - j] : 0.0f;
}

/* out = SiLU(conv) of steps s0 .. s1. */
__global__ void conv_fwd_kernel(const float *x, long long ldx, const float *w, const float *b,
                                long long Ls, int E, int K, int dir, float *out)
{
    ConvThread th(E, Ls);
    if (!th.on) return;
    const float *xr = x + th.r * Ls * ldx + th.e;
    float *orow = out + th.r * Ls * E + th.e;
    float wr[CONV_KMAX], back[CONV_KMAX]; /* back[j]: the input of step s - 1 - j, then s - j */
    load_taps(w, th.e, K, wr);
#pragma unroll
    for (int j = 0; j < CONV_KMAX; j++) {
        long long src = th.s0 - 1 - j;
        back[j] = j < K - 1 && src >= 0 ? xr[at_step(src, Ls, dir) * ldx] : 0.0f;
    }
    const float be = b[th.e];
    for (long long s = th.s0; s < th.s1; s++) {
        long long t = at_step(s, Ls, dir);
#pragma unroll
        for (int j = CONV_KMAX - 1; j > 0; j--) back[j] = back[j - 1];
        back[0] = xr[t * ldx];
        float c = be;
#pragma unroll
        for (int j = 0; j < CONV_KMAX; j++) c = fmaf(wr[j], back[j], c);
        orow[t * E] = c * sigmoid_f(c);
    }
}

/* The backward, steps descending: gc = g_u silu'(c) of steps s0 .. s1 +
 * K - 2 (the look-ahead ones recomputed: they feed this block's inputs),
 * g_x of the block's steps from the last K gc, the partial sums of g_w and
 * g_b over the block's steps added with atomics. */
__global__ void conv_bwd_kernel(const float *x, long long ldx, const float *w, const float *b,
                                long long Ls, int E, int K, int dir, const float *g_u, float *g_x,
                                float *g_w, float *g_b)
{
    ConvThread th(E, Ls);
    if (!th.on) return;
    const float *xr = x + th.r * Ls * ldx + th.e;
    const float *gur = g_u + th.r * Ls * E + th.e;
    float *gxr = g_x + th.r * Ls * ldx + th.e;
    long long top = th.s1 + K - 2 < Ls ? th.s1 + K - 2 : Ls - 1;
    /* back[j]: the input of step s - j; gcw[j]: gc of step s + j; gwr[j]: the
     * partial sum of g_w[K-1-j] */
    float wr[CONV_KMAX], back[CONV_KMAX], gcw[CONV_KMAX], gwr[CONV_KMAX];
    load_taps(w, th.e, K, wr);
#pragma unroll
    for (int j = 0; j < CONV_KMAX; j++) {
        long long src = top - j;
        back[j] = src >= 0 ? xr[at_step(src, Ls, dir) * ldx] : 0.0f;
        gcw[j] = 0.0f;
        gwr[j] = 0.0f;
    }
    const float be = b[th.e];
    float gb = 0.0f;
    for (long long s = top; s >= th.s0; s--) {
        float c = be;
#pragma unroll
        for (int j = 0; j < CONV_KMAX; j++) c = fmaf(wr[j], back[j], c);
        float sg = sigmoid_f(c);
        float gc = gur[at_step(s, Ls, dir) * E] * sg * (1.0f + c * (1.0f - sg));
#pragma unroll
        for (int j = CONV_KMAX - 1; j > 0; j--) gcw[j] = gcw[j - 1];
        gcw[0] = gc;
        if (s < th.s1) {
            float gx = 0.0f;
#pragma unroll
            for (int j = 0; j < CONV_KMAX; j++) {
                gwr[j] = fmaf(gc, back[j], gwr[j]);
                gx = fmaf(wr[j], gcw[j], gx);
            }
            gb += gc;
            gxr[at_step(s, Ls, dir) * ldx] += gx;
        }
        /* one step back: the window takes the input KMAX steps before s */
#pragma unroll
        for (int j = 0; j + 1 < CONV_KMAX; j++) back[j] = back[j + 1];
        long long src = s - CONV_KMAX;
        back[CONV_KMAX - 1] = src >= 0 ? xr[at_step(src, Ls, dir) * ldx] : 0.0f;
    }
#pragma unroll
    for (int j = 0; j < CONV_KMAX; j++)
        if (j < K) atomicAdd(&g_w[(long long)th.e * K + K - 1 - j], gwr[j]);
    atomicAdd(&g_b[th.e], gb);
}

/* ------------------------------------------------------ selective scan */

/* The scan backward. Its forward (md_cuda_scan_fwd_save, cuda/scan.cu) is
 * the inference scan writing the state entering every chunk of CH steps
 * (hsave) as it passes. The adjoint of the state runs backwards in time and
 * is linear in itself, so chunks run in parallel: (A') each chunk from a
 * zero adjoint gives the adjoint leaving it and the product of its decays,
 * (B') one sequential pass over chunks per (row, state, channel) chains
 * them from the last chunk, (C') each chunk with its true incoming adjoint,
 * the states of the chunk recomputed from hsave, writes every gradient.
 * Per-channel parameter gradients are summed per chunk into a buffer and
 * reduced over chunks afterwards. */
constexpr int CH = MD_SCAN_CHUNK;

struct ScanArgs {
    const float *u, *dtr, *bias, *A_log, *Bm, *Cm, *Dv, *z;
    long long ldbc, ldz;
    int rows, E, N, dir;
    long long Ls, chunks;
};

/* Thread (row r, chunk c, channel e) of the chunk kernels: grid (E/64,
 * chunks, rows), block 64. */
struct ChunkThread {
    int e, lane;
    bool on;
    long long r, c, s0, s1;
    __device__ ChunkThread(const ScanArgs &a)
    {
        int e0 = blockIdx.x * blockDim.x + threadIdx.x;
        lane = threadIdx.x % 32;
        on = e0 < a.E;
        e = on ? e0 : a.E - 1;
        r = blockIdx.z;
        at_chunk(a, blockIdx.y);
    }
    __device__ void at_chunk(const ScanArgs &a, long long chunk)
    {
        c = chunk;
        s0 = c * CH;
        s1 = s0 + CH < a.Ls ? s0 + CH : a.Ls;
    }
    __device__ long long t(const ScanArgs &a, long long s) const
    {
        return r * a.Ls + at_step(s, a.Ls, a.dir);
    }
    /* index of (n, e) in a (rows, chunks, N, E) buffer */
    __device__ long long slot(const ScanArgs &a, int n) const
    {
        return ((r * a.chunks + c) * a.N + n) * a.E + e;
    }
};

/* v[2 HALF] of every lane summed over the warp, lane l ending with the sum
 * of v[l] in v[0] (a butterfly reduce-scatter: 31 shuffles for 32 sums;
 * call with HALF = 16). */
template <int HALF>
__device__ __forceinline__ void warp_reduce_scatter(float *v, int lane)
{
    bool up = lane & HALF;
#pragma unroll
    for (int k = 0; k < HALF; k++) {
        float send = up ? v[k] : v[k + HALF];
        float keep = up ? v[k + HALF] : v[k];
        v[k] = keep + __shfl_xor_sync(0xffffffffu, send, HALF);
    }
    if constexpr (HALF > 1) warp_reduce_scatter<HALF / 2>(v, lane);
}

/* A log2(e), A = -exp(A_log): exp(delta A) = 2^(delta A log2(e)). */
template <int NM>
__device__ __forceinline__ void load_A(const ScanArgs &a, int e, float *A)
{
#pragma unroll
    for (int n = 0; n < NM; n++)
        A[n] = n < a.N ? -expf(a.A_log[(long long)e * a.N + n]) * LOG2E : 0.0f;
}

/* The state after step s from hin (hout may be hin): h = exp(delta A) h +
 * delta B u, delta = softplus(dt + bias); states past N stay 0. */
template <int NM>
__device__ __forceinline__ void state_step(const ScanArgs &a, const ChunkThread &th,
                                           const float *A, float bias, long long s,
                                           const float *hin, float *hout)
{
    long long t = th.t(a, s);
    float dl = softplus_f(a.dtr[t * a.E + th.e] + bias), du = dl * a.u[t * a.E + th.e];
    const float *Bt = a.Bm + t * a.ldbc;
#pragma unroll
    for (int n = 0; n < NM; n++) hout[n] = n < a.N ? ex2_approx(dl * A[n]) * hin[n] + du * Bt[n] : 0.0f;
}

/* A chunk's (A') result: its adjoint v and decay product P, (N, E). */
template <int NM>
__device__ __forceinline__ void store_chunk(const ScanArgs &a, const ChunkThread &th,
                                            const float *v, const float *P, float *out_v,
                                            float *out_P)
{
#pragma unroll
    for (int n = 0; n < NM; n++)
        if (n < a.N) {
            out_v[th.slot(a, n)] = v[n];
            out_P[th.slot(a, n)] = P[n];
        }
}

/* (B'): chain the chunks of one (row, state, channel) from the last down:
 * out[c] = the adjoint entering chunk c from later steps, out[last chunk]
 * = g_last (0 when NULL), out[c-1] = P[c] out[c] + loc[c]; the adjoint
 * leaving chunk 0 goes to g_first (when not NULL; it may be g_last). g_last
 * and g_first are (rows, N, E). */
__global__ void scan_chain_kernel(const float *loc, const float *decay, int rows, long long chunks,
                                  int N, int E, const float *g_last, float *out, float *g_first)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long)rows * N * E) return;
    long long r = i / ((long long)N * E), ne = i % ((long long)N * E);
    const long long stride = (long long)N * E;
    const float *lr = loc + r * chunks * stride + ne, *pr = decay + r * chunks * stride + ne;
    float *orow = out + r * chunks * stride + ne;
    float v = g_last ? g_last[i] : 0.0f;
    for (long long c = chunks - 1; c >= 0; c--) {
        orow[c * stride] = v;
        v = pr[c * stride] * v + lr[c * stride];
    }
    if (g_first) g_first[i] = v;
}

/* (A'): the adjoint leaving each chunk (towards earlier steps) from a zero
 * incoming one, and the product of the chunk's decays. */
template <int NM>
__global__ void scan_bwd_local_kernel(ScanArgs a, const float *g_y, float *g_loc, float *decay)
{
    ChunkThread th(a);
    if (!th.on) return;
    float A[NM], gh[NM], P[NM];
    load_A<NM>(a, th.e, A);
#pragma unroll
    for (int n = 0; n < NM; n++) gh[n] = 0, P[n] = 1;
    float bi = a.bias[th.e];
    for (long long s = th.s1 - 1; s >= th.s0; s--) {
        long long t = th.t(a, s);
        float dl = softplus_f(a.dtr[t * a.E + th.e] + bi), zt = a.z[t * a.ldz + th.e];
        float gacc = g_y[t * a.E + th.e] * zt * sigmoid_f(zt);
        const float *Ct = a.Cm + t * a.ldbc;
#pragma unroll
        for (int n = 0; n < NM; n++)
            if (n < a.N) {
                float da = ex2_approx(dl * A[n]);
                gh[n] = (gh[n] + gacc * Ct[n]) * da;
                P[n] *= da;
            }
    }
    store_chunk<NM>(a, th, gh, P, g_loc, decay);
}

/* (C'): every gradient of one chunk. The states entering each sub-chunk of
 * SUB steps are recomputed from hsave into hb (local memory, N floats per
 * SUB steps), then sub-chunks from the last: the SUB + 1 states of one are
 * recomputed in registers and its steps run backwards, gh starting from
 * the incoming adjoint. g_B and g_C of a step are summed over the warp's
 * channels: for N <= 16 by a reduce-scatter then one atomic per lane (2N <=
 * 32 values), otherwise a warp sum per value and atomics from lane 0.
 * g_A_log, g_D and g_bias go to part (rows, chunks, N + 2, E). Measured on
 * an H100 (bench/NOTES.md): as fast as a local-memory copy of the chunk's
 * states with warp sums (1-3% ahead); either change alone was 1.3x slower.
 *
 * seq: one thread walks all the chunks of its (row, channel) from the last
 * down, carrying the adjoint from g_last (NULL: 0) and leaving it in
 * g_first (when not NULL), with no (A') or (B') pass; part is then (rows,
 * N + 2, E). For batches whose rows and channels fill the GPU by
 * themselves. */
template <int NM, int SUB>
__global__ void scan_bwd_kernel(ScanArgs a, const float *hsave, const float *g_in, bool seq,
                                const float *g_last, float *g_first, const float *g_y, float *y,
                                float *g_u, float *g_dtr, float *g_z, float *g_bc, long long ldg,
                                float *part)
{
    constexpr bool RS = NM <= 16;
    ChunkThread th(a);
    const int N = a.N, e = th.e;
    float A[NM], gA[NM], gh[NM], h[NM];
    float hb[(CH / SUB) * NM]; /* states entering each sub-chunk: (CH / SUB, N) */
    load_A<NM>(a, e, A);
    const long long rne = (th.r * N) * (long long)a.E + e; /* (r, 0, e) of a (rows, N, E) buffer */
    if (seq) th.at_chunk(a, a.chunks - 1);
#pragma unroll
    for (int n = 0; n < NM; n++) {
        gA[n] = 0;
        gh[n] = n >= N || !th.on ? 0.0f
                : seq            ? (g_last ? g_last[rne + (long long)n * a.E] : 0.0f)
                                 : g_in[th.slot(a, n)];
    }
    float bi = a.bias[e], De = a.Dv[e], gD = 0, gbias = 0;
    for (;;) { /* the chunk th.c */
#pragma unroll
        for (int n = 0; n < NM; n++) h[n] = n < N ? hsave[th.slot(a, n)] : 0.0f;
        int nsub = (int)((th.s1 - th.s0 + SUB - 1) / SUB);
        for (int j = 0; j < nsub; j++) {
#pragma unroll
            for (int n = 0; n < NM; n++) hb[j * NM + n] = h[n];
#pragma unroll
            for (int k = 0; k < SUB; k++) {
                long long s = th.s0 + j * SUB + k;
                if (s >= th.s1) break;
                state_step<NM>(a, th, A, bi, s, h, h);
            }
        }
        for (int j = nsub - 1; j >= 0; j--) {
            float hr[SUB + 1][NM];
#pragma unroll
            for (int n = 0; n < NM; n++) hr[0][n] = hb[j * NM + n];
#pragma unroll
            for (int k = 0; k < SUB; k++) {
                long long s = th.s0 + j * SUB + k;
                if (s < th.s1) state_step<NM>(a, th, A, bi, s, hr[k], hr[k + 1]);
            }
#pragma unroll
            for (int k = SUB - 1; k >= 0; k--) {
                long long s = th.s0 + j * SUB + k;
                if (s >= th.s1) continue;
                long long t = th.t(a, s);
                float pre = a.dtr[t * a.E + e] + bi, dl = softplus_f(pre), ut = a.u[t * a.E + e];
                const float *Bt = a.Bm + t * a.ldbc, *Ct = a.Cm + t * a.ldbc;
                float acc = De * ut;
#pragma unroll
                for (int n = 0; n < NM; n++)
                    if (n < N) acc += hr[k + 1][n] * Ct[n];
                float zt = a.z[t * a.ldz + e], sz = sigmoid_f(zt), gy = th.on ? g_y[t * a.E + e] : 0.0f;
                float gacc = gy * zt * sz;
                float gdl = 0, gu = gacc * De;
                gD += gacc * ut;
                float gbc[RS ? 32 : 1]; /* g_B then g_C of this step, for the reduce-scatter */
#pragma unroll
                for (int n = 0; n < NM; n++) {
                    if (n >= N) continue;
                    float bn = Bt[n], cn = Ct[n], da = ex2_approx(dl * A[n]), hp = hr[k][n];
                    gh[n] += gacc * cn;
                    if constexpr (RS) {
                        gbc[n] = gh[n] * dl * ut;
                        gbc[16 + n] = gacc * hr[k + 1][n];
                    } else {
                        float gC = warp_sum(gacc * hr[k + 1][n]);
                        float gB = warp_sum(gh[n] * dl * ut);
                        if (th.lane == 0) {
                            atomicAdd(&g_bc[t * ldg + n], gB);
                            atomicAdd(&g_bc[t * ldg + N + n], gC);
                        }
                    }
                    gdl += gh[n] * (LN2 * A[n] * da * hp + bn * ut);
                    gA[n] += gh[n] * dl * da * hp;
                    gu += gh[n] * dl * bn;
                    gh[n] *= da;
                }
                if constexpr (RS) { /* lane l adds g_B[l] (l < 16) or g_C[l - 16] */
#pragma unroll
                    for (int n = 0; n < 16; n++)
                        if (n >= N || n >= NM) gbc[n] = gbc[16 + n] = 0.0f;
                    warp_reduce_scatter<16>(gbc, th.lane);
                    int jn = th.lane & 15;
                    if (jn < N) atomicAdd(&g_bc[t * ldg + (th.lane < 16 ? jn : N + jn)], gbc[0]);
                }
                if (th.on) {
                    y[t * a.E + e] = acc * zt * sz;
                    g_z[t * a.ldz + e] += gy * acc * sz * (1.0f + zt * (1.0f - sz));
                    g_u[t * a.E + e] = gu;
                    float gpre = gdl * sigmoid_f(pre);
                    g_dtr[t * a.E + e] = gpre;
                    gbias += gpre;
                }
            }
        }
        if (!seq || th.c == 0) break;
    th.at_chunk(a, th.c - 1);
    }
    if (!th.on) return;
    if (seq && g_first)
#pragma unroll
        for (int n = 0; n < NM; n++)
            if (n < N) g_first[rne + (long long)n * a.E] = gh[n];
    float *pc = part + (seq ? th.r : th.r * a.chunks + th.c) * (long long)(N + 2) * a.E + e;
#pragma unroll
    for (int n = 0; n < NM; n++)
        if (n < N) pc[(long long)n * a.E] = gA[n] * A[n] * LN2;
    pc[(long long)N * a.E] = gD;
    pc[(long long)(N + 1) * a.E] = gbias;
}

/* The per-chunk parameter gradients summed over rows and chunks, in order. */
__global__ void scan_param_grad_kernel(const float *part, long long n_chunks, int N, int E,
                                       float *g_A_log, float *g_D, float *g_bias)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long)(N + 2) * E) return;
    int j = (int)(i / E), e = (int)(i % E);
    float acc = 0;
    for (long long k = 0; k < n_chunks; k++) acc += part[k * (N + 2) * (long long)E + i];
    if (j < N) g_A_log[(long long)e * N + j] += acc;
    else if (j == N) g_D[e] += acc;
    else g_bias[e] += acc;
}

/* ------------------------------------------------------ elementwise */

/* One block per position p of rows < P... and of rows >= P: grid.x = 2P L. */
__global__ void swap_kernel(const float *src, int P, long long L, int D, float *dst)
{
    long long p = blockIdx.x, row = p / L, t = p - row * L, partner = row < P ? row + P : row - P;
    const float *s = src + (partner * L + (L - 1 - t)) * D;
    float *d = dst + p * D;
    for (int i = threadIdx.x; i < D; i += blockDim.x) d[i] = s[D - 1 - i];
}

__global__ void add_kernel(const float *a, const float *b, long long n, float *out)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a[i] + b[i];
}

__global__ void mul_kernel(const float *a, const float *b, long long n, float *out)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a[i] * b[i];
}

/* ------------------------------------------------------ embedding */

/* Rows of the (V, D) gradient summed in shared memory per block, then added
 * to g_emb. */
__global__ void embed_bwd_kernel(const uint8_t *tok, const float *g, long long T, int D, int V,
                                 float *g_emb)
{
    extern __shared__ float acc[]; /* (V, D) */
    for (int i = threadIdx.x; i < V * D; i += blockDim.x) acc[i] = 0;
    __syncthreads();
    int lane = threadIdx.x % 32;
    long long warp = (long long)blockIdx.x * WARPS + threadIdx.x / 32;
    for (long long t = warp; t < T; t += (long long)gridDim.x * WARPS) {
        float *row = acc + (int)tok[t] * D;
        for (int d = lane; d < D; d += 32) atomicAdd(&row[d], g[t * D + d]);
    }
    __syncthreads();
    for (int i = threadIdx.x; i < V * D; i += blockDim.x)
        if (acc[i] != 0) atomicAdd(&g_emb[i], acc[i]);
}

/* ------------------------------------------------------ pooling */

/* One thread per (row, channel): mean / max / first / last over the
 * positions whose token is not [PAD]. With g_f (backward) the gradient is
 * added into g_x instead of writing f. */
__global__ void pool_kernel(int mode, const float *x, const uint8_t *tok, int rows, long long L,
                            int D, float *f, const float *g_f, float *g_x)
{
    int d = blockIdx.x * blockDim.x + threadIdx.x;
    long long r = blockIdx.y;
    if (d >= D) return;
    const uint8_t *tr = tok + r * L;
    long long first = -1, last = -1, n = 0, best = -1;
    float acc = 0;
    for (long long t = 0; t < L; t++) {
        if (tr[t] == MD_TOK_PAD) continue;
        if (first < 0) first = t;
        last = t;
        n++;
        float v = x[(r * L + t) * D + d];
        acc += v;
        if (best < 0 || v > x[(r * L + best) * D + d]) best = t;
    }
    if (n == 0) {
        if (f) f[r * D + d] = 0;
        return;
    }
    if (mode == MD_POOL_FIRST) best = first;
    if (mode == MD_POOL_LAST) best = last;
    if (!g_f) {
        f[r * D + d] = mode == MD_POOL_MEAN ? acc / (float)n : x[(r * L + best) * D + d];
        return;
    }
    float g = g_f[r * D + d];
    if (mode != MD_POOL_MEAN) {
        g_x[(r * L + best) * D + d] += g;
        return;
    }
    for (long long t = 0; t < L; t++)
        if (tr[t] != MD_TOK_PAD) g_x[(r * L + t) * D + d] += g / (float)n;
}

/* ------------------------------------------------------ LM cross-entropy */

constexpr int MAXV = 32;

/* Position p = (b, t) of B x L: logits z = Z[p] (+ Z of its reverse-
 * complement partner (B + b, L-1-t) for PS). Writes dloss/dz scaled by
 * `scale` over both (zero where the target is [PAD]) and adds the loss. */
__global__ void lm_xent_kernel(float *Z, const uint8_t *targets, int B, long long L, int V, int ps,
                               float scale, double *loss)
{
    __shared__ double part[256];
    long long p = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    double l = 0;
    if (p < (long long)B * L) {
        long long b = p / L, t = p % L;
        float *zf = Z + p * V, *zr = ps ? Z + (((long long)B + b) * L + (L - 1 - t)) * V : nullptr;
        int y = targets[p];
        float z[MAXV];
        float mx = -INFINITY;
        for (int v = 0; v < V; v++) {
            z[v] = zf[v] + (zr ? zr[v] : 0.0f);
            mx = fmaxf(mx, z[v]);
        }
        float sum = 0;
        for (int v = 0; v < V; v++) sum += expf(z[v] - mx);
        if (y != MD_TOK_PAD) l = (double)logf(sum) + mx - z[y];
        for (int v = 0; v < V; v++) {
            float gz = y == MD_TOK_PAD ? 0.0f : (expf(z[v] - mx) / sum - (v == y ? 1.0f : 0.0f)) * scale;
            zf[v] = gz;
            if (zr) zr[v] = gz;
        }
    }
    part[threadIdx.x] = l;
    __syncthreads();
    for (int o = blockDim.x / 2; o > 0; o >>= 1) {
        if ((int)threadIdx.x < o) part[threadIdx.x] += part[threadIdx.x + o];
        __syncthreads();
    }
    if (threadIdx.x == 0) atomicAdd(loss, part[0]);
}

/* g_W[comp[v]] += g_Wc[v]: the gradient of the complemented-row copy. */
__global__ void unpermute_add_kernel(const float *g_Wc, const uint8_t *comp, int V, int D,
                                     float *g_W)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= V * D) return;
    g_W[(long long)comp[i / D] * D + i % D] += g_Wc[i];
}

__global__ void permute_rows_kernel(const float *W, const uint8_t *comp, int V, int D, float *Wc)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= V * D) return;
    Wc[i] = W[(long long)comp[i / D] * D + i % D];
}

/* ------------------------------------------------------ optimizer */

__global__ void sumsq_kernel(const float *x, long long n, double *out)
{
    __shared__ double part[256];
    double s = 0;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x)
        s += (double)x[i] * x[i];
    part[threadIdx.x] = s;
    __syncthreads();
    for (int o = blockDim.x / 2; o > 0; o >>= 1) {
        if ((int)threadIdx.x < o) part[threadIdx.x] += part[threadIdx.x + o];
        __syncthreads();
    }
    if (threadIdx.x == 0) atomicAdd(out, part[0]);
}

/* One launch over the flat parameter buffer; decay[i] says whether
 * parameter i takes weight decay. The gradient is scaled by g_scale first
 * (clipping). Same arithmetic as md_adamw_step. */
__global__ void adamw_kernel(float *p, const float *g, float *m, float *v, const uint8_t *decay,
                             long long n, float g_scale, float lr, float b1, float b2, float eps,
                             float wd, float c1, float c2)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float gi = g[i] * g_scale;
    float mi = b1 * m[i] + (1.0f - b1) * gi;
    float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    float mhat = mi / c1, vhat = vi / c2;
    float decay_f = decay[i] ? 1.0f - lr * wd : 1.0f;
    p[i] = p[i] * decay_f - lr * mhat / (sqrtf(vhat) + eps);
}

} /* namespace */

extern "C" {

int md_cuda_norm_fwd_stats(int rms, const float *x, const float *w, const float *b, long long T,
                           int D, float eps, float *out, float *mean, float *rstd, void *stream)
{
    if (T <= 0) return 0;
    norm_fwd_kernel<<<blocks_for(T, WARPS), WARPS * 32, 0, (cudaStream_t)stream>>>(
        rms, x, w, b, T, D, eps, out, mean, rstd);
    return launched("norm forward");
}

int md_cuda_norm_bwd(int rms, const float *x, const float *w, const float *mean,
                     const float *rstd, const float *g_y, long long T, int D, float *g_x,
                     int accumulate, float *g_w, float *g_b, void *stream)
{
    if (T <= 0) return 0;
    if (D > 32 * MAXD_LANE) return md_error(MD_ERR_ARG, "GPU norm backward: d_model %d > %d", D, 32 * MAXD_LANE);
    /* up to 64 positions a warp (fewer atomics for g_w, g_b), but blocks
     * enough for 4 a multiprocessor (chunks of long sequences) */
    int sms = 0;
    if (int ret = device_sms(&sms)) return ret;
    unsigned grid = blocks_for(T, WARPS * 64), most = blocks_for(T, WARPS);
    if (grid < 4u * sms) grid = most < 4u * sms ? most : 4u * sms;
    norm_bwd_kernel<<<grid, WARPS * 32, 0, (cudaStream_t)stream>>>(
        rms, x, w, mean, rstd, g_y, T, D, g_x, accumulate, g_w, g_b);
    return launched("norm backward");
}

/* The conv1d kernels' grid, or an error for shapes past its limits. */
static int conv_grid(int rows, long long Ls, int E, int K, dim3 *grid)
{
    long long blocks = (Ls + CONV_STEPS - 1) / CONV_STEPS;
    if (K > CONV_KMAX) return md_error(MD_ERR_ARG, "GPU conv1d: d_conv %d > %d", K, CONV_KMAX);
    if (rows > 65535) return md_error(MD_ERR_ARG, "GPU conv1d: %d rows > 65535", rows);
    if (blocks > 65535)
        return md_error(MD_ERR_ARG, "GPU conv1d: %lld steps > %d", Ls, 65535 * CONV_STEPS);
    *grid = dim3(blocks_for(E, 128), (unsigned)blocks, (unsigned)rows);
    return 0;
}

int md_cuda_conv_fwd(const float *x, long long ldx, const float *w, const float *b, int rows,
                     long long Ls, int E, int K, int dir, float *out, void *stream)
{
    if (rows <= 0 || Ls <= 0) return 0;
    dim3 grid;
    int ret = conv_grid(rows, Ls, E, K, &grid);
    if (ret) return ret;
    conv_fwd_kernel<<<grid, 128, 0, (cudaStream_t)stream>>>(x, ldx, w, b, Ls, E, K, dir, out);
    return launched("conv1d forward");
}

int md_cuda_conv_bwd(const float *x, long long ldx, const float *w, const float *b, int rows,
                     long long Ls, int E, int K, int dir, const float *g_u, float *g_x, float *g_w,
                     float *g_b, void *stream)
{
    if (rows <= 0 || Ls <= 0) return 0;
    dim3 grid;
    int ret = conv_grid(rows, Ls, E, K, &grid);
    if (ret) return ret;
    conv_bwd_kernel<<<grid, 128, 0, (cudaStream_t)stream>>>(x, ldx, w, b, Ls, E, K, dir, g_u, g_x,
                                                            g_w, g_b);
    return launched("conv1d backward");
}

size_t md_cuda_train_scan_workspace(int rows, long long Ls, int E, int N)
{
    long long chunks = (Ls + CH - 1) / CH, S = (long long)rows * chunks * E;
    return (size_t)(S * (4LL * N + 2)) * sizeof(float); /* 3 (rows, chunks, N, E) + part */
}

static int scan_args(ScanArgs *a, const float *u, const float *dtr, const float *bias,
                     const float *A_log, const float *Bm, const float *Cm, long long ldbc,
                     const float *Dv, const float *z, long long ldz, int rows, long long Ls, int E,
                     int N, int dir)
{
    *a = ScanArgs{u, dtr, bias, A_log, Bm, Cm, Dv, z, ldbc, ldz, rows, E, N, dir, Ls,
                  (Ls + CH - 1) / CH};
    if (N > 64) return md_error(MD_ERR_ARG, "GPU scan: d_state %d > 64", N);
    if (rows > 65535) return md_error(MD_ERR_ARG, "GPU scan: %d rows > 65535", rows);
    if (a->chunks > 65535)
        return md_error(MD_ERR_ARG, "GPU scan: %lld steps > %d: lower --length", Ls, 65535 * CH);
    return 0;
}

/* NM: the state-size bound of the kernel instance for N. */
#define SCAN_DISPATCH(N, LAUNCH)        \
    do {                                \
        if ((N) <= 4) LAUNCH(4);        \
        else if ((N) <= 8) LAUNCH(8);   \
        else if ((N) <= 16) LAUNCH(16); \
        else if ((N) <= 32) LAUNCH(32); \
        else LAUNCH(64);                \
    } while (0)

int md_cuda_scan_bwd(const float *u, const float *dtr, const float *bias, const float *A_log,
                     const float *Bm, const float *Cm, long long ldbc, const float *Dv,
                     const float *z, long long ldz, int rows, long long Ls, int E, int N, int dir,
                     const float *hsave, const float *g_last, float *g_first, const float *g_y,
                     float *y, float *g_u, float *g_dtr, float *g_z, float *g_bc, long long ldg,
                     float *g_A_log, float *g_D, float *g_bias, float *work, void *stream)
{
    if (rows <= 0 || Ls <= 0) return 0;
    ScanArgs a;
    int ret = scan_args(&a, u, dtr, bias, A_log, Bm, Cm, ldbc, Dv, z, ldz, rows, Ls, E, N, dir);
    if (ret) return ret;
    cudaStream_t st = (cudaStream_t)stream;
    long long S = (long long)rows * a.chunks * N * E;
    float *g_loc = work, *decay = work + S, *g_in = work + 2 * S, *part = work + 3 * S;
    /* Sequential over the chunks when there is one, or when the rows and
     * channels alone give two waves of resident threads (8 warps an SM at
     * the kernel's registers): the chunk-parallel passes would only add work. */
    int sms = 0;
    if ((ret = device_sms(&sms))) return ret;
    bool seq = a.chunks == 1 || (long long)rows * E >= 2LL * sms * 8 * 32;
    dim3 grid(blocks_for(E, 64), seq ? 1u : (unsigned)a.chunks, (unsigned)rows);
    if (!seq) {
#define LAUNCH(NM) scan_bwd_local_kernel<NM><<<grid, 64, 0, st>>>(a, g_y, g_loc, decay)
        SCAN_DISPATCH(N, LAUNCH);
#undef LAUNCH
        if ((ret = launched("selective scan backward, chunk pass"))) return ret;
        scan_chain_kernel<<<blocks_for((long long)rows * N * E, 256), 256, 0, st>>>(
            g_loc, decay, rows, a.chunks, N, E, g_last, g_in, g_first);
        if ((ret = launched("selective scan backward, chain pass"))) return ret;
    }
    /* N <= 16: sub-chunks of 4 steps in registers and the reduce-scatter;
     * larger N: one step at a time and warp sums (register budget) */
#define LAUNCH(NM)                                                                                 \
    scan_bwd_kernel<NM, (NM <= 16 ? 4 : 1)><<<grid, 64, 0, st>>>(                                   \
        a, hsave, g_in, seq, g_last, g_first, g_y, y, g_u, g_dtr, g_z, g_bc, ldg, part)
    SCAN_DISPATCH(N, LAUNCH);
#undef LAUNCH
    if ((ret = launched("selective scan backward"))) return ret;
    scan_param_grad_kernel<<<blocks_for((long long)(N + 2) * E, 256), 256, 0, st>>>(
        part, (long long)rows * (seq ? 1 : a.chunks), N, E, g_A_log, g_D, g_bias);
    return launched("selective scan backward, parameter sums");
}

int md_cuda_swap_strands(const float *src, int P, long long L, int D, float *dst, void *stream)
{
    long long n = 2LL * P * L;
    if (n <= 0) return 0;
    if (n > 0x7fffffffLL) return md_error(MD_ERR_ARG, "GPU strand swap: %lld positions", n);
    swap_kernel<<<(unsigned)n, D < 256 ? 32 * ((D + 31) / 32) : 256, 0, (cudaStream_t)stream>>>(
        src, P, L, D, dst);
    return launched("strand swap");
}

int md_cuda_add(const float *a, const float *b, long long n, float *out, void *stream)
{
    if (n <= 0) return 0;
    add_kernel<<<blocks_for(n, 256), 256, 0, (cudaStream_t)stream>>>(a, b, n, out);
    return launched("add");
}

int md_cuda_mul(const float *a, const float *b, long long n, float *out, void *stream)
{
    if (n <= 0) return 0;
    mul_kernel<<<blocks_for(n, 256), 256, 0, (cudaStream_t)stream>>>(a, b, n, out);
    return launched("multiply");
}

int md_cuda_embed_bwd(const unsigned char *tok, const float *g, long long T, int D, int V,
                      float *g_emb, void *stream)
{
    if (T <= 0) return 0;
    size_t shm = (size_t)V * D * sizeof(float);
    if (shm > 200u * 1024)
        return md_error(MD_ERR_ARG, "GPU embedding backward: vocabulary x d_model too large");
    cudaError_t e = cudaFuncSetAttribute(embed_bwd_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         (int)shm);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return md_error(MD_ERR, "CUDA embedding backward: %s", cudaGetErrorString(e));
    }
    unsigned grid = blocks_for(T, WARPS * 256);
    if (grid > 264) grid = 264;
    embed_bwd_kernel<<<grid, WARPS * 32, shm, (cudaStream_t)stream>>>(tok, g, T, D, V, g_emb);
    return launched("embedding backward");
}

int md_cuda_pool(int mode, const float *x, const unsigned char *tok, int rows, long long L, int D,
                 float *f, const float *g_f, float *g_x, void *stream)
{
    if (rows <= 0) return 0;
    if (rows > 65535) return md_error(MD_ERR_ARG, "GPU pooling: %d rows > 65535", rows);
    dim3 grid(blocks_for(D, 128), (unsigned)rows);
    pool_kernel<<<grid, 128, 0, (cudaStream_t)stream>>>(mode, x, tok, rows, L, D, f, g_f, g_x);
    return launched(g_f ? "pooling backward" : "pooling");
}

int md_cuda_lm_xent(float *Z, const unsigned char *targets, int B, long long L, int V, int ps,
                    float scale, double *loss, void *stream)
{
    if (V > MAXV) return md_error(MD_ERR_ARG, "GPU LM loss: vocabulary %d > %d", V, MAXV);
    long long n = (long long)B * L;
    if (n <= 0) return 0;
    lm_xent_kernel<<<blocks_for(n, 256), 256, 0, (cudaStream_t)stream>>>(Z, targets, B, L, V, ps,
                                                                         scale, loss);
    return launched("LM cross-entropy");
}

int md_cuda_permute_rows(const float *W, const unsigned char *comp, int V, int D, float *Wc,
                         int add_back, void *stream)
{
    unsigned grid = blocks_for((long long)V * D, 256);
    if (add_back)
        unpermute_add_kernel<<<grid, 256, 0, (cudaStream_t)stream>>>(W, comp, V, D, Wc);
    else
        permute_rows_kernel<<<grid, 256, 0, (cudaStream_t)stream>>>(W, comp, V, D, Wc);
    return launched("row permutation");
}

int md_cuda_sumsq(const float *x, long long n, double *out, void *stream)
{
    if (n <= 0) return 0;
    unsigned grid = blocks_for(n, 256 * 16);
    if (grid > 1024) grid = 1024;
    sumsq_kernel<<<grid, 256, 0, (cudaStream_t)stream>>>(x, n, out);
    return launched("sum of squares");
}

int md_cuda_adamw(float *p, const float *g, float *m, float *v, const unsigned char *decay,
                  long long n, float g_scale, float lr, float beta1, float beta2, float eps,
                  float weight_decay, long long step, void *stream)
{
    if (n <= 0) return 0;
    float c1 = (float)(1.0 - pow((double)beta1, (double)step));
    float c2 = (float)(1.0 - pow((double)beta2, (double)step));
    adamw_kernel<<<blocks_for(n, 256), 256, 0, (cudaStream_t)stream>>>(
        p, g, m, v, decay, n, g_scale, lr, beta1, beta2, eps, weight_decay, c1, c2);
    return launched("AdamW");
}

} /* extern "C" */
