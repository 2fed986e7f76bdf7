/* scan.cu: the selective scan forward on the GPU (Mamba-1, diagonal A).
 *
 * One thread owns CPT (1 or 2) channels and their N states in fp32 registers.
 * A CTA of 128 threads owns 128*CPT consecutive channels of one sequence over
 * one segment of time and walks it in tiles of TT steps: u, dt (and z) tiles
 * come in through 16-byte cp.async into a two-stage shared-memory ring, B and
 * C rows are read into registers one tile ahead and stored to shared memory as
 * fp32 (every thread then reads them as broadcasts). Per step a thread computes
 *   delta = softplus(dt + dt_bias), a_n = 2^(delta * A_n log2 e),
 *   h_n = a_n h_n + delta u B_n,  y = (sum_n C_n h_n + D u) * silu(z)
 * and stores y; nothing of size L x N reaches device memory. The softplus of
 * step t+1 is computed while step t's states update (software pipelining).
 *
 * When the channels alone cannot fill the GPU (B = 1, E = 512, L = 2^20, or
 * B = 8, E = 1536, L = 4096) time is split into nseg segments:
 *   pass 1  each segment but the last scans from h = 0 and writes its end
 *           state H_k (N, E) and sum of delta S_k (E) to the workspace;
 *   carry   h_in(0) = h0; h_in(k+1) = exp(A S_k) h_in(k) + H_k (one thread per
 *           state, sequential over segments, in place in the workspace);
 *   pass 3  every segment scans again from h_in(k) and writes y; the last one
 *           writes h_last.
 * Pass 1 repeats the exponentials of (nseg-1)/nseg of the steps: an exact
 * carry into a segment needs the decay of every earlier step, and those
 * cannot be kept (L x N values) nor waited for (that serialises the
 * segments). bench/NOTES.md has the measurements and what limits them.
 *
 * scan_split_kernel is the alternative for mid-size shapes: each channel's
 * 16 states spread over SPL = 2, 4 or 8 threads, no segments, no second pass
 * (planner switch PLAN_USE_SPLIT; it measured slower on the H100, being
 * latency-bound at ~3 warps per scheduler).
 *
 * exp2: ex2.approx (MUFU) by default; exp2_poly is an FMA-pipe polynomial that
 * can take NPOLY of the exponentials per step to unload the MUFU unit (the
 * harness variants). Measured on the H100 the kernels are issue-bound, not
 * MUFU-bound, so the defaults use none.
 */
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <stdint.h>

#include "model.h"
#include "cuda_backend.h"
#include "scan_tuning.h"
#include "fast_math.cuh"

namespace {

using namespace md_fast;

constexpr int TT = 16;               /* time steps per tile */

struct ScanParams {
    const void *u, *dt, *z, *Bm, *Cm;    /* (B, L, E), (B, L, ldz), (B, L, ldbc) */
    const float *dt_bias, *A, *Dv;       /* (E), (E, N), (E) */
    const float *h0;                     /* (B, N, E) or NULL */
    float *h_last;                       /* (B, N, E) or NULL */
    float *hsave;                        /* (B, ceil(L / MD_SCAN_CHUNK), N, E) or NULL */
    void *y;                             /* (B, L, E) */
    float *ws_h;                         /* (nseg, B, N, E) */
    float *ws_s;                         /* (nseg, B, E) */
    long long *dbg;
    long long L, ldbc, ldz, seg_len;
    int E, N, batch, dir, nseg, vec;
};

/* ---------------------------------------------------------------- math */

__device__ __forceinline__ float tanh_approx(float x)
{
    float r;
    asm("tanh.approx.f32 %0, %1;" : "=f"(r) : "f"(x));
    return r;
}

/* 2^x for x <= 0 on the FMA pipe: round-to-nearest split through the 1.5*2^23
 * trick, 2^f = 1 + f q(f) on [-1/2, 1/2] with q of degree 4 (relative error
 * 2.5e-7, exactly 1 at f = 0 so that decays near 1 carry no bias: a constant
 * term above 1 would add up over long recurrences), the integer part added
 * to the exponent bits. Results under 2^-126 flush to about zero. */
__device__ __forceinline__ float exp2_poly(float x)
{
    x = fmaxf(x, -126.0f);
    float t = x + 12582912.0f;
    float j = t - 12582912.0f;
    float f = x - j;
    float q = 1.3381302124e-3f;
    q = fmaf(q, f, 9.6663683653e-3f);
    q = fmaf(q, f, 5.5503811687e-2f);
    q = fmaf(q, f, 2.4022349715e-1f);
    q = fmaf(q, f, 6.9314718246e-1f);
    float p = fmaf(q, f, 1.0f);
    return __int_as_float((int)((unsigned)__float_as_int(p) + ((unsigned)__float_as_int(t) << 23)));
}

/* silu(z) = z sigmoid(z). fp32 outputs: exp and a fast divide (2 ulp);
 * bf16 outputs: tanh.approx (2^-11 relative, under bf16's 2^-9 rounding). */
template <typename T> __device__ __forceinline__ float silu_f(float z);
template <> __device__ __forceinline__ float silu_f<float>(float z)
{
    return __fdividef(z, 1.0f + ex2_approx(-z * LOG2E));
}
template <> __device__ __forceinline__ float silu_f<__nv_bfloat16>(float z)
{
    float hz = 0.5f * z;
    return fmaf(hz, tanh_approx(hz), hz);
}

__device__ __forceinline__ float to_f(float x) { return x; }
__device__ __forceinline__ float to_f(__nv_bfloat16 x) { return __bfloat162float(x); }
template <typename T> __device__ __forceinline__ T from_f(float x);
template <> __device__ __forceinline__ float from_f<float>(float x) { return x; }
template <> __device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float x)
{
    return __float2bfloat16_rn(x);
}

/* ---------------------------------------------------------------- copies */

__device__ __forceinline__ void cp_async16(void *smem, const void *gmem)
{
    unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cp_async_wait1() { asm volatile("cp.async.wait_group 1;\n" ::); }

__device__ __forceinline__ long long globaltimer()
{
    long long t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

/* One (TT, CW) tile of a (L, ld) tensor, rows in processing order: smem row r
 * holds time row t0 + r*tstep. Channels at or past nch read as 0. */
template <typename T, int NT, int CW>
__device__ __forceinline__ void load_x_tile(T *sdst, const T *gsrc, long long ld, long long t0,
                                            int tstep, int nrows, int nch, bool vec)
{
    constexpr int EPC = 16 / (int)sizeof(T); /* elements per 16-byte chunk */
    constexpr int CPR = CW / EPC;            /* chunks per row */
    for (int i = threadIdx.x; i < nrows * CPR; i += NT) {
        int r = i / CPR, c = (i % CPR) * EPC;
        T *d = sdst + r * CW + c;
        const T *s = gsrc + (t0 + (long long)r * tstep) * ld + c;
        if (vec && c + EPC <= nch) {
            cp_async16(d, s);
        } else {
            #pragma unroll
            for (int j = 0; j < EPC; j++) d[j] = c + j < nch ? s[j] : from_f<T>(0.0f);
        }
    }
}

/* CPT consecutive elements from shared memory as floats. */
template <int CPT> __device__ __forceinline__ void lds_f(const float *p, float *v)
{
    if (CPT == 1) {
        v[0] = p[0];
    } else {
        float2 x = *(const float2 *)p;
        v[0] = x.x;
        v[1] = x.y;
    }
}
template <int CPT> __device__ __forceinline__ void lds_f(const __nv_bfloat16 *p, float *v)
{
    if (CPT == 1) {
        v[0] = __bfloat162float(p[0]);
    } else {
        __nv_bfloat162 x = *(const __nv_bfloat162 *)p;
        v[0] = __low2float(x);
        v[1] = __high2float(x);
    }
}
/* ---------------------------------------------------------------- kernels */

/* A CTA of NT threads owns CW = NT*CPT channels; a thread CPT of them.
 * FULL: the output pass (y, h_last); else pass 1 (segment end states).
 * GATE: z present (FULL only). NPOLY: exponentials on the FMA pipe. SAVE
 * (FULL only): also write the state entering every MD_SCAN_CHUNK-th step to
 * p.hsave (training; a separate instance, so inference pays nothing). */
template <typename T, int NP, int NT, int CPT, int NPOLY, bool FULL, bool GATE, bool SAVE = false>
__global__ void __launch_bounds__(NT) scan_kernel(const ScanParams p)
{
    extern __shared__ __align__(16) unsigned char smem[];
    constexpr int CW = NT * CPT;
    constexpr int NX = FULL && GATE ? 3 : 2;          /* u, dt (, z) tiles */
    constexpr int NBC = FULL ? 2 : 1;                 /* B (, C) */
    constexpr int XELEM = TT * CW;                    /* elements of one x tile */
    constexpr int BCN = TT * NBC * NP;                /* floats of one B/C tile */
    constexpr int STAGE = NX * XELEM * (int)sizeof(T) + BCN * 4;
    constexpr int BCR = (BCN + NT - 1) / NT;          /* B/C values per thread */

    const int tid = threadIdx.x;
    const int c0 = blockIdx.x * CW;
    const int seg = blockIdx.y;
    const int b = blockIdx.z;
    const int E = p.E, N = p.N, dir = p.dir;
    const long long L = p.L;
    const int nch = min(CW, E - c0);                  /* channels of this CTA */
    const int nact = max(0, min(CPT, nch - tid * CPT)); /* of this thread */
    int ec[CPT];                                      /* clamped channel ids */
    #pragma unroll
    for (int j = 0; j < CPT; j++) ec[j] = c0 + (j < nact ? tid * CPT + j : 0);

    const bool timer = FULL && p.dbg && blockIdx.x == 0 && seg == 0 && b == 0 && tid == 0;
    if (timer) {
        p.dbg[0] = clock64();
        p.dbg[2] = globaltimer();
    }

    const long long s_begin = (long long)seg * p.seg_len;
    const long long s_end = min(L, s_begin + p.seg_len);

    float A2[CPT][NP], h[CPT][NP], bias[CPT], dskip[CPT], sum_delta[CPT];
    const float *hin = nullptr;
    if (FULL) {
        if (p.nseg > 1) hin = p.ws_h + ((long long)seg * p.batch + b) * N * E;
        else if (p.h0) hin = p.h0 + (long long)b * N * E;
    }
    #pragma unroll
    for (int j = 0; j < CPT; j++) {
        #pragma unroll
        for (int n = 0; n < NP; n++) {
            A2[j][n] = n < N ? p.A[(long long)ec[j] * N + n] * LOG2E : 0.0f;
            h[j][n] = hin && n < N ? hin[(long long)n * E + ec[j]] : 0.0f;
        }
        bias[j] = p.dt_bias[ec[j]];
        dskip[j] = FULL ? p.Dv[ec[j]] : 0.0f;
        sum_delta[j] = 0.0f;
    }

    const T *ub = (const T *)p.u + (long long)b * L * E + c0;
    const T *dtb = (const T *)p.dt + (long long)b * L * E + c0;
    const T *zb = GATE ? (const T *)p.z + (long long)b * L * p.ldz + c0 : nullptr;
    const T *Bb = (const T *)p.Bm + (long long)b * L * p.ldbc;
    const T *Cb = (const T *)p.Cm + (long long)b * L * p.ldbc;
    T *yb = FULL ? (T *)p.y + (long long)b * L * E + c0 + tid * CPT : nullptr;

    const long long nsteps = s_end - s_begin;
    const int ntiles = (int)((nsteps + TT - 1) / TT);
    const bool vec = p.vec != 0;

    /* Issue the x tiles of tile i into stage st (cp.async group). */
    auto issue_x = [&](int i, int st) {
        long long s0 = s_begin + (long long)i * TT;
        int nrows = (int)min((long long)TT, s_end - s0);
        long long t0 = dir > 0 ? s0 : L - 1 - s0;
        T *sx = (T *)(smem + st * STAGE);
        load_x_tile<T, NT, CW>(sx, ub, E, t0, dir, nrows, nch, vec);
        load_x_tile<T, NT, CW>(sx + XELEM, dtb, E, t0, dir, nrows, nch, vec);
        if (GATE) load_x_tile<T, NT, CW>(sx + 2 * XELEM, zb, p.ldz, t0, dir, nrows, nch, vec);
    };
    /* B/C values of tile i into registers (0 past the tile or past N). */
    auto load_bc = [&](int i, float *r) {
        long long s0 = s_begin + (long long)i * TT;
        int nrows = (int)min((long long)TT, s_end - s0);
        #pragma unroll
        for (int j = 0; j < BCR; j++) {
            int idx = tid + j * NT;
            int row = idx / (NBC * NP), q = idx % (NBC * NP);
            int which = q / NP, n = q % NP;
            float v = 0.0f;
            if (idx < BCN && row < nrows && n < N) {
                long long t = dir > 0 ? s0 + row : L - 1 - s0 - row;
                const T *src = which ? Cb : Bb;
                v = to_f(src[t * p.ldbc + n]);
            }
            r[j] = v;
        }
    };
    auto store_bc = [&](int st, const float *r) {
        float *sbc = (float *)(smem + st * STAGE + NX * XELEM * sizeof(T));
        #pragma unroll
        for (int j = 0; j < BCR; j++) {
            int idx = tid + j * NT;
            if (idx < BCN) sbc[idx] = r[j];
        }
    };

    float bcr[BCR];
    if (ntiles > 0) {
        issue_x(0, 0);
        cp_async_commit();
        load_bc(0, bcr);
        store_bc(0, bcr);
    }

    for (int i = 0; i < ntiles; i++) {
        const int st = i & 1;
        const long long s0 = s_begin + (long long)i * TT;
        const int nrows = (int)min((long long)TT, s_end - s0);
        if (SAVE && s0 % MD_SCAN_CHUNK == 0) { /* the state entering step s0 */
            float *hs = p.hsave +
                        ((long long)b * ((L + MD_SCAN_CHUNK - 1) / MD_SCAN_CHUNK) + s0 / MD_SCAN_CHUNK) * N * E;
            #pragma unroll
            for (int j = 0; j < CPT; j++)
                #pragma unroll
                for (int n = 0; n < NP; n++)
                    if (j < nact && n < N) hs[(long long)n * E + ec[j]] = h[j][n];
        }
        if (i + 1 < ntiles) {
            issue_x(i + 1, st ^ 1);
            load_bc(i + 1, bcr);
        }
        cp_async_commit(); /* possibly empty: keeps wait_group 1 exact */
        cp_async_wait1();
        __syncthreads();

        const T *su = (const T *)(smem + st * STAGE) + tid * CPT;
        const T *sdt = su + XELEM;
        const T *sz = su + 2 * XELEM;
        const float *sbc = (const float *)(smem + st * STAGE + NX * XELEM * sizeof(T));
        T *yp = FULL ? yb + (dir > 0 ? s0 : L - 1 - s0) * E : nullptr;
        const long long ystep = (long long)dir * E;

        /* Software-pipelined: softplus of row r+1 (and the gate of row r)
         * are independent of the state updates of row r; the loop body is one
         * basic block (predicated stores) so the scheduler can interleave. */
        float uu[CPT], delta[CPT];
        lds_f<CPT>(su, uu);
        lds_f<CPT>(sdt, delta);
        #pragma unroll
        for (int j = 0; j < CPT; j++) delta[j] = softplus_f(delta[j] + bias[j]);
        #pragma unroll 2
        for (int r = 0; r < nrows; r++) {
            const int rn = r + 1 < TT ? r + 1 : r; /* rows past nrows: unused */
            float un[CPT], dn[CPT], du[CPT], acc[CPT][4], gate[CPT];
            lds_f<CPT>(su + rn * CW, un);
            lds_f<CPT>(sdt + rn * CW, dn);
            if (FULL && GATE) lds_f<CPT>(sz + r * CW, gate);
            #pragma unroll
            for (int j = 0; j < CPT; j++) {
                dn[j] = softplus_f(dn[j] + bias[j]);
                du[j] = delta[j] * uu[j];
                if (FULL && GATE) gate[j] = silu_f<T>(gate[j]);
                acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;
            }
            const float4 *bv = (const float4 *)(sbc + r * NBC * NP);
            #pragma unroll
            for (int q = 0; q < NP / 4; q++) {
                const float4 b4 = bv[q];
                float4 c4 = make_float4(0.f, 0.f, 0.f, 0.f);
                if (FULL) c4 = bv[NP / 4 + q];
                const float bb[4] = {b4.x, b4.y, b4.z, b4.w};
                const float cc[4] = {c4.x, c4.y, c4.z, c4.w};
                #pragma unroll
                for (int k = 0; k < 4; k++) {
                    const int n = 4 * q + k;
                    #pragma unroll
                    for (int j = 0; j < CPT; j++) {
                        const float x = delta[j] * A2[j][n];
                        const float a = n >= NP - NPOLY ? exp2_poly(x) : ex2_approx(x);
                        h[j][n] = fmaf(a, h[j][n], du[j] * bb[k]);
                        if (FULL) acc[j][k] = fmaf(cc[k], h[j][n], acc[j][k]);
                    }
                }
            }
            if (FULL) {
                #pragma unroll
                for (int j = 0; j < CPT; j++) {
                    float yv = fmaf(dskip[j], uu[j], (acc[j][0] + acc[j][1]) + (acc[j][2] + acc[j][3]));
                    if (GATE) yv *= gate[j];
                    if (j < nact) yp[j] = from_f<T>(yv); /* predicated, no branch */
                }
                yp += ystep;
            } else {
                #pragma unroll
                for (int j = 0; j < CPT; j++) sum_delta[j] += delta[j];
            }
            #pragma unroll
            for (int j = 0; j < CPT; j++) {
                uu[j] = un[j];
                delta[j] = dn[j];
            }
        }

        if (i + 1 < ntiles) store_bc(st ^ 1, bcr);
        __syncthreads();
    }

    #pragma unroll
    for (int j = 0; j < CPT; j++) {
        if (j >= nact) break;
        if (FULL) {
            if (p.h_last && seg == p.nseg - 1) {
                float *hl = p.h_last + (long long)b * N * E + ec[j];
                #pragma unroll
                for (int n = 0; n < NP; n++)
                    if (n < N) hl[(long long)n * E] = h[j][n];
            }
        } else {
            float *hs = p.ws_h + ((long long)seg * p.batch + b) * N * E + ec[j];
            #pragma unroll
            for (int n = 0; n < NP; n++)
                if (n < N) hs[(long long)n * E] = h[j][n];
            p.ws_s[((long long)seg * p.batch + b) * E + ec[j]] = sum_delta[j];
        }
    }
    if (timer) {
        p.dbg[1] = clock64();
        p.dbg[3] = globaltimer();
    }
}

/* State-split variant for shapes with channels enough to fill the GPU only
 * when each channel's N = 16 states are spread over SPL threads (B = 8,
 * E = 1536): no segments, so no second pass. A channel's SPL lanes are
 * consecutive in a warp; lane j owns states [j*NPT, (j+1)*NPT) and, in each
 * group of SPL steps, step j's per-step work (softplus, gate, store). Per
 * group: lane j computes delta, du of its step and the lanes exchange them
 * through shared memory; every lane updates its states over the SPL steps,
 * keeping one partial C.h per step; a shared-memory transpose sums the
 * partials so that lane j holds the whole C.h of its step. */
template <typename T, int SPL, int NPOLY, bool FULL, bool GATE>
__global__ void __launch_bounds__(128) scan_split_kernel(const ScanParams p)
{
    extern __shared__ __align__(16) unsigned char smem[];
    constexpr int NT = 128, NP = 16, NPT = NP / SPL, CW = NT / SPL;
    constexpr int NX = FULL && GATE ? 3 : 2;
    constexpr int NBC = FULL ? 2 : 1;
    constexpr int XELEM = TT * CW;
    constexpr int BCN = TT * NBC * NP;
    constexpr int STAGE = NX * XELEM * (int)sizeof(T) + BCN * 4;
    constexpr int BCR = (BCN + NT - 1) / NT;
    constexpr int RSTRIDE = SPL * SPL + 4; /* floats per channel, padded for banks */
    static_assert(TT % SPL == 0, "tile rows must be whole groups");

    float *xch = (float *)(smem + 2 * STAGE);     /* (NT, 2): delta, du */
    float *red = xch + 2 * NT;                     /* (CW, RSTRIDE) partial C.h */

    const int tid = threadIdx.x;
    const int lj = tid % SPL, ch = tid / SPL;
    const int c0 = blockIdx.x * CW;
    const int seg = blockIdx.y;
    const int b = blockIdx.z;
    const int E = p.E, N = p.N, dir = p.dir;
    const long long L = p.L;
    const int nch = min(CW, E - c0);
    const bool active = ch < nch;
    const int ec = c0 + (active ? ch : 0);
    const int n0 = lj * NPT;

    const bool timer = FULL && p.dbg && blockIdx.x == 0 && seg == 0 && b == 0 && tid == 0;
    if (timer) {
        p.dbg[0] = clock64();
        p.dbg[2] = globaltimer();
    }
    const long long s_begin = (long long)seg * p.seg_len;
    const long long s_end = min(L, s_begin + p.seg_len);

    float A2[NPT], h[NPT];
    const float *hin = nullptr;
    if (FULL) {
        if (p.nseg > 1) hin = p.ws_h + ((long long)seg * p.batch + b) * N * E;
        else if (p.h0) hin = p.h0 + (long long)b * N * E;
    }
    #pragma unroll
    for (int k = 0; k < NPT; k++) {
        const int n = n0 + k;
        A2[k] = n < N ? p.A[(long long)ec * N + n] * LOG2E : 0.0f;
        h[k] = hin && n < N ? hin[(long long)n * E + ec] : 0.0f;
    }
    const float bias = p.dt_bias[ec];
    const float dskip = FULL ? p.Dv[ec] : 0.0f;
    float sum_delta = 0.0f;

    const T *ub = (const T *)p.u + (long long)b * L * E + c0;
    const T *dtb = (const T *)p.dt + (long long)b * L * E + c0;
    const T *zb = GATE ? (const T *)p.z + (long long)b * L * p.ldz + c0 : nullptr;
    const T *Bb = (const T *)p.Bm + (long long)b * L * p.ldbc;
    const T *Cb = (const T *)p.Cm + (long long)b * L * p.ldbc;
    T *yb = FULL ? (T *)p.y + (long long)b * L * E + ec : nullptr;

    const long long nsteps = s_end - s_begin;
    const int ntiles = (int)((nsteps + TT - 1) / TT);
    const bool vec = p.vec != 0;

    auto issue_x = [&](int i, int st) {
        long long s0 = s_begin + (long long)i * TT;
        int nrows = (int)min((long long)TT, s_end - s0);
        long long t0 = dir > 0 ? s0 : L - 1 - s0;
        T *sx = (T *)(smem + st * STAGE);
        load_x_tile<T, NT, CW>(sx, ub, E, t0, dir, nrows, nch, vec);
        load_x_tile<T, NT, CW>(sx + XELEM, dtb, E, t0, dir, nrows, nch, vec);
        if (GATE) load_x_tile<T, NT, CW>(sx + 2 * XELEM, zb, p.ldz, t0, dir, nrows, nch, vec);
    };
    auto load_bc = [&](int i, float *r) {
        long long s0 = s_begin + (long long)i * TT;
        int nrows = (int)min((long long)TT, s_end - s0);
        #pragma unroll
        for (int j = 0; j < BCR; j++) {
            int idx = tid + j * NT;
            int row = idx / (NBC * NP), q = idx % (NBC * NP);
            int which = q / NP, n = q % NP;
            float v = 0.0f;
            if (idx < BCN && row < nrows && n < N) {
                long long t = dir > 0 ? s0 + row : L - 1 - s0 - row;
                v = to_f((which ? Cb : Bb)[t * p.ldbc + n]);
            }
            r[j] = v;
        }
    };
    auto store_bc = [&](int st, const float *r) {
        float *sbc = (float *)(smem + st * STAGE + NX * XELEM * sizeof(T));
        #pragma unroll
        for (int j = 0; j < BCR; j++) {
            int idx = tid + j * NT;
            if (idx < BCN) sbc[idx] = r[j];
        }
    };

    float bcr[BCR];
    if (ntiles > 0) {
        issue_x(0, 0);
        cp_async_commit();
        load_bc(0, bcr);
        store_bc(0, bcr);
    }
    float *myx = xch + (tid - lj) * 2;            /* this channel's (SPL, 2) */
    float *myred = red + ch * RSTRIDE;             /* this channel's (SPL, SPL) */

    for (int i = 0; i < ntiles; i++) {
        const int st = i & 1;
        const long long s0 = s_begin + (long long)i * TT;
        const int nrows = (int)min((long long)TT, s_end - s0);
        if (i + 1 < ntiles) {
            issue_x(i + 1, st ^ 1);
            load_bc(i + 1, bcr);
        }
        cp_async_commit();
        cp_async_wait1();
        __syncthreads();

        const T *su = (const T *)(smem + st * STAGE) + ch;
        const T *sdt = su + XELEM;
        const T *sz = su + 2 * XELEM;
        const float *sbc = (const float *)(smem + st * STAGE + NX * XELEM * sizeof(T));

        for (int g = 0; g * SPL < nrows; g++) {
            const int r = g * SPL + lj;           /* this lane's step */
            const bool valid = r < nrows;
            /* rows past nrows hold stale data: read anyway, select zeros */
            const float uu = valid ? to_f(su[r * CW]) : 0.0f;
            const float sp = softplus_f(to_f(sdt[r * CW]) + bias);
            const float dl = valid ? sp : 0.0f;
            float gate = 1.0f;
            if (FULL && GATE) gate = silu_f<T>(to_f(sz[r * CW]));
            sum_delta += dl;
            *(float2 *)(myx + 2 * lj) = make_float2(dl, dl * uu);
            __syncwarp();
            float dls[SPL], dus[SPL];
            #pragma unroll
            for (int s2 = 0; s2 < SPL; s2 += 2) {
                float4 v = *(const float4 *)(myx + 2 * s2);
                dls[s2] = v.x;
                dus[s2] = v.y;
                dls[s2 + 1] = v.z;
                dus[s2 + 1] = v.w;
            }
            float part[SPL];
            #pragma unroll
            for (int s = 0; s < SPL; s++) {
                const float *brow = sbc + (g * SPL + s) * NBC * NP + n0;
                float bb[NPT], cc[NPT];
                if (NPT % 4 == 0) {
                    #pragma unroll
                    for (int k = 0; k < NPT; k += 4) {
                        float4 bv = *(const float4 *)(brow + k);
                        bb[k] = bv.x, bb[k + 1] = bv.y, bb[k + 2] = bv.z, bb[k + 3] = bv.w;
                        if (FULL) {
                            float4 cv = *(const float4 *)(brow + NP + k);
                            cc[k] = cv.x, cc[k + 1] = cv.y, cc[k + 2] = cv.z, cc[k + 3] = cv.w;
                        }
                    }
                } else {
                    #pragma unroll
                    for (int k = 0; k < NPT; k += 2) {
                        float2 bv = *(const float2 *)(brow + k);
                        bb[k] = bv.x, bb[k + 1] = bv.y;
                        if (FULL) {
                            float2 cv = *(const float2 *)(brow + NP + k);
                            cc[k] = cv.x, cc[k + 1] = cv.y;
                        }
                    }
                }
                float acc = 0.0f;
                #pragma unroll
                for (int k = 0; k < NPT; k++) {
                    const float x = dls[s] * A2[k];
                    const float a = k >= NPT - NPOLY ? exp2_poly(x) : ex2_approx(x);
                    h[k] = fmaf(a, h[k], dus[s] * bb[k]);
                    if (FULL) acc = fmaf(cc[k], h[k], acc);
                }
                part[s] = acc;
            }
            if (FULL) {
                /* transpose-sum: lane lj writes its partials of the SPL steps as
                 * a row, then sums column lj (its own step) over the lanes */
                #pragma unroll
                for (int s = 0; s < SPL; s += 2)
                    *(float2 *)(myred + lj * SPL + s) = make_float2(part[s], part[s + 1]);
                __syncwarp();
                float yv = 0.0f;
                #pragma unroll
                for (int l = 0; l < SPL; l++) yv += myred[l * SPL + lj];
                yv = fmaf(dskip, uu, yv) * gate;
                if (valid && active) {
                    const long long t = dir > 0 ? s0 + r : L - 1 - s0 - r;
                    yb[t * E] = from_f<T>(yv);
                }
            }
            __syncwarp();
        }

        if (i + 1 < ntiles) store_bc(st ^ 1, bcr);
        __syncthreads();
    }

    if (active) {
        if (FULL) {
            if (p.h_last && seg == p.nseg - 1) {
                float *hl = p.h_last + (long long)b * N * E + ec;
                #pragma unroll
                for (int k = 0; k < NPT; k++)
                    if (n0 + k < N) hl[(long long)(n0 + k) * E] = h[k];
            }
        } else {
            float *hs = p.ws_h + ((long long)seg * p.batch + b) * N * E + ec;
            #pragma unroll
            for (int k = 0; k < NPT; k++)
                if (n0 + k < N) hs[(long long)(n0 + k) * E] = h[k];
        }
    }
    if (!FULL) { /* sum of delta over the channel's lanes */
        #pragma unroll
        for (int m = 1; m < SPL; m *= 2) sum_delta += __shfl_xor_sync(0xffffffffu, sum_delta, m);
        if (active && lj == 0) p.ws_s[((long long)seg * p.batch + b) * E + ec] = sum_delta;
    }
    if (timer) {
        p.dbg[1] = clock64();
        p.dbg[3] = globaltimer();
    }
}

/* Carry pass: one thread per (b, n, e) state, sequential over segments.
 * ws_h[k] holds segment k's end state from h = 0 on entry, and the state
 * entering segment k on exit. */
__global__ void scan_carry_kernel(const ScanParams p)
{
    const long long NE = (long long)p.N * p.E;
    const long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= p.batch * NE) return;
    const int e = (int)(idx % p.E);
    const int n = (int)((idx / p.E) % p.N);
    const int b = (int)(idx / NE);
    const float a = p.A[(long long)e * p.N + n];
    const long long sstride = (long long)p.batch * NE;
    float h = p.h0 ? p.h0[idx] : 0.0f;
    float *hs = p.ws_h + idx;
    const float *ss = p.ws_s + (long long)b * p.E + e;
    int k = 0;
    for (; k + 16 <= p.nseg - 1; k += 16) { /* loads of 16 segments in flight */
        float H[16], S[16];
        #pragma unroll
        for (int j = 0; j < 16; j++) {
            H[j] = hs[(k + j) * sstride];
            S[j] = ss[(long long)(k + j) * p.batch * p.E];
        }
        #pragma unroll
        for (int j = 0; j < 16; j++) {
            hs[(k + j) * sstride] = h;
            h = fmaf(expf(a * S[j]), h, H[j]);
        }
    }
    for (; k < p.nseg - 1; k++) {
        float H = hs[k * sstride], S = ss[(long long)k * p.batch * p.E];
        hs[k * sstride] = h;
        h = fmaf(expf(a * S), h, H);
    }
    hs[(long long)(p.nseg - 1) * sstride] = h;
}

/* Accuracy probe of the two exp2 paths (harness). */
__global__ void exp_probe_kernel(const float *x, float *mufu, float *poly, long n)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        mufu[i] = ex2_approx(x[i]);
        poly[i] = exp2_poly(x[i]);
    }
}

/* ---------------------------------------------------------------- launch */

int cuda_fail(cudaError_t err, const char *what)
{
    return md_error(MD_ERR, "CUDA selective scan: %s: %s", what, cudaGetErrorString(err));
}

int launch_carry(const ScanParams &p, cudaStream_t stream)
{
    long long nthreads = (long long)p.batch * p.N * p.E;
    scan_carry_kernel<<<(unsigned)((nthreads + 255) / 256), 256, 0, stream>>>(p);
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return cuda_fail(err, "carry pass launch");
    return 0;
}

template <typename T, int NP, int NT, int CPT, int NPOLY, bool FULL, bool GATE, bool SAVE = false>
int launch_pass(const ScanParams &p, cudaStream_t stream, int nseg_launch)
{
    constexpr int CW = NT * CPT;
    constexpr int NX = FULL && GATE ? 3 : 2;
    constexpr int NBC = FULL ? 2 : 1;
    constexpr int STAGE = NX * TT * CW * (int)sizeof(T) + TT * NBC * NP * 4;
    constexpr int SMEM = 2 * STAGE;
    auto kern = scan_kernel<T, NP, NT, CPT, NPOLY, FULL, GATE, SAVE>;
    if (SMEM > 48 * 1024) { /* per device, so on every launch (fp32 CPT2 only) */
        cudaError_t err =
            cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM);
        if (err != cudaSuccess) return cuda_fail(err, "cudaFuncSetAttribute");
    }
    dim3 grid((unsigned)((p.E + CW - 1) / CW), (unsigned)nseg_launch, (unsigned)p.batch);
    kern<<<grid, NT, SMEM, stream>>>(p);
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return cuda_fail(err, FULL ? "output pass launch" : "pass 1 launch");
    return 0;
}

template <typename T, int NP, int NT, int CPT, int NPOLY3, int NPOLY1, bool SAVE = false>
int launch_scan(const ScanParams &p, cudaStream_t stream, int passes)
{
    int rc;
    if (p.nseg > 1 && passes != 3) {
        rc = launch_pass<T, NP, NT, CPT, NPOLY1, false, false>(p, stream, p.nseg - 1);
        if (rc) return rc;
        if (passes == 1) return 0;
        if ((rc = launch_carry(p, stream))) return rc;
    }
    if (passes == 1) return 0;
    if (SAVE && !p.z)
        return md_error(MD_ERR_ARG, "CUDA selective scan: saved states need the gate z");
    if (p.z) return launch_pass<T, NP, NT, CPT, NPOLY3, true, true, SAVE>(p, stream, p.nseg);
    return launch_pass<T, NP, NT, CPT, NPOLY3, true, false>(p, stream, p.nseg);
}

template <typename T, int SPL, int NPOLY, bool FULL, bool GATE>
int launch_split_pass(const ScanParams &p, cudaStream_t stream, int nseg_launch)
{
    constexpr int NT = 128, NP = 16, CW = NT / SPL;
    constexpr int NX = FULL && GATE ? 3 : 2;
    constexpr int NBC = FULL ? 2 : 1;
    constexpr int STAGE = NX * TT * CW * (int)sizeof(T) + TT * NBC * NP * 4;
    constexpr int SMEM = 2 * STAGE + (2 * NT + CW * (SPL * SPL + 4)) * 4;
    static_assert(SMEM <= 48 * 1024, "split kernel shared memory");
    dim3 grid((unsigned)((p.E + CW - 1) / CW), (unsigned)nseg_launch, (unsigned)p.batch);
    scan_split_kernel<T, SPL, NPOLY, FULL, GATE><<<grid, NT, SMEM, stream>>>(p);
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return cuda_fail(err, FULL ? "output pass launch" : "pass 1 launch");
    return 0;
}

template <typename T, int SPL, int NPOLY3, int NPOLY1>
int launch_split(const ScanParams &p, cudaStream_t stream, int passes)
{
    int rc;
    if (p.nseg > 1 && passes != 3) {
        if ((rc = launch_split_pass<T, SPL, NPOLY1, false, false>(p, stream, p.nseg - 1)))
            return rc;
        if (passes == 1) return 0;
        if ((rc = launch_carry(p, stream))) return rc;
    }
    if (passes == 1) return 0;
    if (p.z) return launch_split_pass<T, SPL, NPOLY3, true, true>(p, stream, p.nseg);
    return launch_split_pass<T, SPL, NPOLY3, true, false>(p, stream, p.nseg);
}

/* Kernel variants (8 < N <= 16): threads per CTA, channels per thread (CPT)
 * or threads per channel (SPL), polynomial exponentials in the output pass
 * and in pass 1 (per thread). Variant 0 lets the planner choose; the others
 * are for the harness (bf16 only). */
struct Variant {
    int cpt, spl, npoly3, npoly1;
    const char *name;
};
const Variant variants[] = {
    {0, 0, 0, 0, "auto"},
    {1, 1, 0, 0, "CPT1 poly 0/0"},
    {1, 1, 2, 3, "CPT1 poly 2/3"},
    {2, 1, 0, 0, "CPT2 poly 0/0"},
    {2, 1, 1, 2, "CPT2 poly 1/2"},
    {2, 1, 2, 3, "CPT2 poly 2/3"},
    {1, 2, 0, 0, "SPL2 poly 0"},
    {1, 4, 0, 0, "SPL4 poly 0"},
    {1, 8, 0, 0, "SPL8 poly 0"},
};
constexpr int NVARIANTS = (int)(sizeof variants / sizeof variants[0]);

template <typename T>
int dispatch(const ScanParams &p, cudaStream_t stream, int variant, int cpt, int spl,
             int passes)
{
    if (p.hsave) { /* training: float32, the planner's default kernels */
        if constexpr (sizeof(T) == 4) {
            if (p.N <= 8) return launch_scan<T, 8, 128, 1, 0, 0, true>(p, stream, passes);
            if (p.N > 32) return launch_scan<T, 64, 128, 1, 0, 0, true>(p, stream, passes);
            if (p.N > 16) return launch_scan<T, 32, 128, 1, 0, 0, true>(p, stream, passes);
            if (cpt == 2) return launch_scan<T, 16, 128, 2, 0, 0, true>(p, stream, passes);
            return launch_scan<T, 16, 128, 1, 0, 0, true>(p, stream, passes);
        }
        return md_error(MD_ERR_ARG, "CUDA selective scan: saved states need float32");
    }
    if (p.N <= 8) return launch_scan<T, 8, 128, 1, 0, 0>(p, stream, passes);
    if (p.N > 32) return launch_scan<T, 64, 128, 1, 0, 0>(p, stream, passes);
    if (p.N > 16) return launch_scan<T, 32, 128, 1, 0, 0>(p, stream, passes);
    if (sizeof(T) == 2) {
        switch (variant) {
        case 2: return launch_scan<T, 16, 128, 1, 2, 3>(p, stream, passes);
        case 4: return launch_scan<T, 16, 128, 2, 1, 2>(p, stream, passes);
        case 5: return launch_scan<T, 16, 128, 2, 2, 3>(p, stream, passes);
        default: break;
        }
    }
    if (spl == 8) return launch_split<T, 8, 0, 0>(p, stream, passes);
    if (spl == 4) return launch_split<T, 4, 0, 0>(p, stream, passes);
    if (spl == 2) return launch_split<T, 2, 0, 0>(p, stream, passes);
    if (cpt == 2) return launch_scan<T, 16, 128, 2, 0, 0>(p, stream, passes);
    return launch_scan<T, 16, 128, 1, 0, 0>(p, stream, passes);
}

/* Resident CTAs of 128 threads per SM the planner aims at (16 warps; the
 * kernels' registers allow 4 of CPT2, 5 of CPT1). */
constexpr int PLAN_CTAS_PER_SM = 4;
/* Shortest segment worth a split. */
constexpr long PLAN_MIN_SEG = 512;
/* At or above this many segments the second pass covers nearly all steps
 * anyway: double the segments (two waves of CTAs balance better; measured
 * 6.25 against 6.54 ms at B=1, E=512, L=2^20). */
constexpr long PLAN_LONG_K = 64;
/* The state split (SPL threads per channel, no segments) is planned only when
 * enabled: on the H100 it lost to CPT2 + segments at B=8, E=1536, L=4096
 * (0.71 against 0.68 ms), being latency-bound at 3 warps per scheduler. */
constexpr bool PLAN_USE_SPLIT = false;

int device_sms()
{
    int dev = 0, sms = 0;
    if (cudaGetDevice(&dev) != cudaSuccess) return 132;
    if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess)
        return 132;
    return sms > 0 ? sms : 132;
}

struct Plan {
    int cpt, spl, nseg;
    long seg_len;
};

/* Segments for CTAs of cw channels to fill the GPU: one wave of CTAs when
 * the channels give a few segments' worth, two waves in the long-sequence
 * regime. */
long plan_k(int batch, long L, int E, int cw)
{
    long ctas = (long)((E + cw - 1) / cw) * batch;
    long target = (long)device_sms() * PLAN_CTAS_PER_SM;
    long k = ctas < target ? target / ctas : 1;
    if (k >= PLAN_LONG_K) k *= 2;
    long kmax = L / PLAN_MIN_SEG;
    if (k > kmax) k = kmax;
    return k < 1 ? 1 : k;
}

/* How to run a shape (N <= 16 has the choices; other N: CPT 1 + segments):
 *  - channels alone fill the GPU (B*E >= half the target threads): one
 *    channel per thread, no split;
 *  - else two channels per thread and segments with the second pass
 *    (or, when enabled, the state split over SPL threads per channel). */
Plan plan(int batch, long L, int E, int N, int variant, int nseg_req, bool save = false)
{
    Plan pl;
    pl.cpt = 1;
    pl.spl = 1;
    const bool n16 = N > 8 && N <= 16;
    if (n16 && variant > 0 && variant < NVARIANTS) {
        pl.cpt = variants[variant].cpt;
        pl.spl = variants[variant].spl;
    } else if (n16) {
        long thr = (long)batch * E;
        long target = (long)device_sms() * PLAN_CTAS_PER_SM * 128;
        if (thr * 2 >= target) pl.spl = 1;
        else if (PLAN_USE_SPLIT && thr * 4 >= target) pl.spl = 2;
        else if (PLAN_USE_SPLIT && thr * 8 >= target) pl.spl = 4;
        else pl.cpt = 2;
    }
    long k = plan_k(batch, L, E, pl.spl > 1 ? 128 / pl.spl : 128 * pl.cpt);
    if (pl.spl > 1) k = 1; /* the state split exists to avoid segments */
    if (nseg_req > 0) k = nseg_req;
    if (k > 65535) k = 65535;
    if (L <= 0) {
        pl.nseg = 1;
        pl.seg_len = 0;
        return pl;
    }
    if (k > L) k = L;
    /* planned segments: a multiple of the tile long; then as few as cover L */
    long len = (L + k - 1) / k;
    if (nseg_req <= 0) len = (len + TT - 1) / TT * TT;
    if (save) len = (len + MD_SCAN_CHUNK - 1) / MD_SCAN_CHUNK * MD_SCAN_CHUNK; /* tile-aligned saves */
    pl.seg_len = len;
    pl.nseg = (int)((L + len - 1) / len);
    return pl;
}

size_t ws_bytes(int batch, int E, int N, int nseg)
{
    if (nseg <= 1) return 0;
    return (size_t)nseg * batch * E * (N + 1) * sizeof(float) + 256;
}

} /* namespace */

extern "C" {

void md_cuda_selective_scan_plan(int batch, long L, int E, int N, int variant, int nseg_req,
                                 int *nseg, long *seg_len, int *cpt)
{
    Plan pl = plan(batch, L, E, N, variant, nseg_req);
    *nseg = pl.nseg;
    *seg_len = pl.seg_len;
    *cpt = pl.spl > 1 ? -pl.spl : pl.cpt;
}

size_t md_cuda_selective_scan_workspace(int batch, long L, int E, int N)
{
    if (batch <= 0 || L <= 0 || E <= 0 || N <= 0) return 0;
    Plan pl = plan(batch, L, E, N, 0, 0);
    return ws_bytes(batch, E, N, pl.nseg);
}

int md_cuda_scan_nvariants(void) { return NVARIANTS; }

int md_cuda_scan_exp_probe(const float *x, float *mufu, float *poly, long n)
{
    if (n <= 0) return 0;
    exp_probe_kernel<<<(unsigned)((n + 255) / 256), 256>>>(x, mufu, poly, n);
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return cuda_fail(err, "exp probe launch");
    return 0;
}

const char *md_cuda_scan_variant_name(int variant)
{
    return variant >= 0 && variant < NVARIANTS ? variants[variant].name : NULL;
}

} /* extern "C" */

namespace {

int scan_fwd(const void *u, const void *dt, const float *dt_bias, const float *A, const void *Bm,
             const void *Cm, long ldbc, const float *Dv, const void *z, long ldz, int batch, long L,
             int E, int N, int dir, int dtype, const float *h0, float *h_last, void *y,
             float *hsave, void *workspace, size_t workspace_bytes, void *stream,
             const md_cuda_scan_tuning *tun)
{
    if (batch < 1 || L < 0 || E < 1 || N < 1 || N > 64)
        return md_error(MD_ERR_ARG, "CUDA selective scan: bad shape batch=%d L=%ld E=%d N=%d "
                        "(need batch >= 1, L >= 0, E >= 1, 1 <= N <= 64)", batch, L, E, N);
    if (dir != 1 && dir != -1)
        return md_error(MD_ERR_ARG, "CUDA selective scan: dir must be +1 or -1, not %d", dir);
    if (dtype != MD_F32 && dtype != MD_BF16)
        return md_error(MD_ERR_ARG, "CUDA selective scan: dtype %d not supported "
                        "(MD_F32 or MD_BF16)", dtype);
    if (ldbc < N || (z && ldz < E))
        return md_error(MD_ERR_ARG, "CUDA selective scan: ldbc=%ld < N=%d or ldz=%ld < E=%d",
                        ldbc, N, ldz, E);
    if (batch > 65535)
        return md_error(MD_ERR_ARG, "CUDA selective scan: batch=%d > 65535", batch);
    if (L == 0) return 0;
    if (!u || !dt || !dt_bias || !A || !Bm || !Cm || !Dv || !y)
        return md_error(MD_ERR_ARG, "CUDA selective scan: NULL tensor pointer");

    int variant = tun ? tun->variant : 0;
    if (variant < 0 || variant >= NVARIANTS) variant = 0;
    int passes = tun ? tun->passes : 0;
    Plan pl = plan(batch, L, E, N, variant, tun ? tun->nseg : 0, hsave != nullptr);
    if (hsave && pl.spl > 1)
        return md_error(MD_ERR_ARG, "CUDA selective scan: saved states need a plan without the "
                        "state split");
    int nseg = pl.nseg;
    long seg_len = pl.seg_len;
    size_t need = ws_bytes(batch, E, N, nseg);
    if (workspace_bytes < need || (need && !workspace))
        return md_error(MD_ERR_ARG, "CUDA selective scan: workspace of %zu bytes, %zu needed "
                        "(md_cuda_selective_scan_workspace)", workspace_bytes, need);

    ScanParams p;
    p.u = u;
    p.dt = dt;
    p.z = z;
    p.Bm = Bm;
    p.Cm = Cm;
    p.dt_bias = dt_bias;
    p.A = A;
    p.Dv = Dv;
    p.h0 = h0;
    p.h_last = h_last;
    p.hsave = hsave;
    p.y = y;
    p.ws_h = nullptr;
    p.ws_s = nullptr;
    if (nseg > 1) {
        uintptr_t w = ((uintptr_t)workspace + 255) & ~(uintptr_t)255;
        p.ws_h = (float *)w;
        p.ws_s = p.ws_h + (size_t)nseg * batch * N * E;
    }
    p.dbg = tun ? tun->dbg : nullptr;
    p.L = L;
    p.ldbc = ldbc;
    p.ldz = z ? ldz : 0;
    p.seg_len = seg_len;
    p.E = E;
    p.N = N;
    p.batch = batch;
    p.dir = dir;
    p.nseg = nseg;
    size_t esz = dtype == MD_F32 ? 4 : 2;
    p.vec = ((uintptr_t)u % 16 == 0) && ((uintptr_t)dt % 16 == 0) && ((uintptr_t)y % 16 == 0) &&
            (E * esz % 16 == 0) &&
            (!z || (((uintptr_t)z % 16 == 0) && (ldz * esz % 16 == 0)));

    cudaStream_t st = (cudaStream_t)stream;
    if (dtype == MD_F32) return dispatch<float>(p, st, variant, pl.cpt, pl.spl, passes);
    return dispatch<__nv_bfloat16>(p, st, variant, pl.cpt, pl.spl, passes);
}

} /* namespace */

extern "C" {

int md_cuda_selective_scan_fwd_tuned(const void *u, const void *dt, const float *dt_bias,
                                     const float *A, const void *Bm, const void *Cm,
                                     long ldbc, const float *Dv, const void *z, long ldz,
                                     int batch, long L, int E, int N, int dir, int dtype,
                                     const float *h0, float *h_last, void *y,
                                     void *workspace, size_t workspace_bytes, void *stream,
                                     const md_cuda_scan_tuning *tun)
{
    return scan_fwd(u, dt, dt_bias, A, Bm, Cm, ldbc, Dv, z, ldz, batch, L, E, N, dir, dtype, h0,
                    h_last, y, nullptr, workspace, workspace_bytes, stream, tun);
}

int md_cuda_scan_fwd_save(const float *u, const float *dtr, const float *bias, const float *A,
                          const float *Bm, const float *Cm, long long ldbc, const float *Dv,
                          const float *z, long long ldz, int rows, long long Ls, int E, int N,
                          int dir, const float *h_first, float *h_last, float *y, float *hsave,
                          void *work, size_t work_bytes, void *stream)
{
    if (!hsave) return md_error(MD_ERR_ARG, "CUDA scan forward of training: no state buffer");
    return scan_fwd(u, dtr, bias, A, Bm, Cm, (long)ldbc, Dv, z, (long)ldz, rows, (long)Ls, E, N,
                    dir, MD_F32, h_first, h_last, y, hsave, work, work_bytes, stream, nullptr);
}

int md_cuda_selective_scan_fwd(const void *u, const void *dt, const float *dt_bias,
                               const float *A, const void *Bm, const void *Cm,
                               long ldbc, const float *Dv, const void *z, long ldz,
                               int batch, long L, int E, int N, int dir, int dtype,
                               const float *h0, float *h_last, void *y,
                               void *workspace, size_t workspace_bytes, void *stream)
{
    return md_cuda_selective_scan_fwd_tuned(u, dt, dt_bias, A, Bm, Cm, ldbc, Dv, z, ldz, batch,
                                            L, E, N, dir, dtype, h0, h_last, y, workspace,
                                            workspace_bytes, stream, NULL);
}

} /* extern "C" */
