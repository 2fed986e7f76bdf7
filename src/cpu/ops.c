/* ops.c: CPU kernels of the forward pass. Channels are contiguous (time-major
 * layouts) so the inner loops vectorise across channels. */
#include <math.h>
#include <string.h>
#include <cblas.h>

#include "cpu/ops.h"

/* Rows per GEMM block, at most. Blocks are fixed by the row count alone and
 * run on OpenMP threads, each a single-threaded SGEMM, so results do not
 * depend on the number of threads (OpenBLAS's own threading changes the
 * rounding). Blocks also restart at every sequence, which is cut into equal
 * blocks: SGEMM kernels round a row differently depending on where it falls
 * in the call (edge kernels for the last rows, rows grouped by the
 * unrolling), so a sequence's rows must sit at the same places whatever else
 * is in the batch. */
enum { GEMM_ROWS = 320 };

void md_cpu_gemm_nt(int64_t M, int64_t seq, int64_t N, int64_t K, const float *A, int64_t lda,
                    const float *W, float *C, int64_t ldc, float beta)
{
    if (M == 0 || N == 0) return;
    if (seq <= 0 || seq > M) seq = M;
    int64_t per_seq = (seq + GEMM_ROWS - 1) / GEMM_ROWS, n_seq = (M + seq - 1) / seq;
    #pragma omp parallel for schedule(static) if (M > GEMM_ROWS)
    for (int64_t i = 0; i < n_seq * per_seq; i++) {
        int64_t q = i / per_seq, j = i % per_seq;
        int64_t r0 = q * seq + seq * j / per_seq, r1 = q * seq + seq * (j + 1) / per_seq;
        if (r1 > M) r1 = M; /* a last, shorter sequence */
        if (r0 >= r1) continue;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)(r1 - r0), (blasint)N,
                    (blasint)K, 1.0f, A + r0 * lda, (blasint)lda, W, (blasint)K, beta,
                    C + r0 * ldc, (blasint)ldc);
    }
}

static inline void rmsnorm_row(const float *xt, const float *w, int D, float eps, float *ot)
{
    double ss = 0;
    for (int d = 0; d < D; d++) ss += (double)xt[d] * xt[d];
    float inv = (float)(1.0 / sqrt(ss / D + eps));
    for (int d = 0; d < D; d++) ot[d] = xt[d] * inv * w[d];
}

static inline void layernorm_row(const float *xt, const float *w, const float *b, int D,
                                 float eps, float *ot)
{
    double mean = 0, var = 0;
    for (int d = 0; d < D; d++) mean += xt[d];
    mean /= D;
    for (int d = 0; d < D; d++) var += (xt[d] - mean) * (xt[d] - mean);
    float inv = (float)(1.0 / sqrt(var / D + eps));
    for (int d = 0; d < D; d++) ot[d] = (float)(xt[d] - mean) * inv * w[d] + (b ? b[d] : 0.0f);
}

void md_cpu_rmsnorm(const float *x, const float *w, int64_t T, int D, float eps, float *out)
{
    #pragma omp parallel for schedule(static) if (T * D > 65536)
    for (int64_t t = 0; t < T; t++) rmsnorm_row(x + t * D, w, D, eps, out + t * D);
}

void md_cpu_layernorm(const float *x, const float *w, const float *b, int64_t T,
                      int D, float eps, float *out)
{
    #pragma omp parallel for schedule(static) if (T * D > 65536)
    for (int64_t t = 0; t < T; t++) layernorm_row(x + t * D, w, b, D, eps, out + t * D);
}

void md_cpu_add_norm(float *residual, const float *h, int first, const float *w,
                     const float *b, int rms, int64_t T, int D, float eps, float *out)
{
    #pragma omp parallel for schedule(static) if (T * D > 65536)
    for (int64_t t = 0; t < T; t++) {
        float *rt = residual + t * D;
        const float *ht = h + t * D;
        if (first) memcpy(rt, ht, (size_t)D * sizeof(float));
        else for (int d = 0; d < D; d++) rt[d] += ht[d];
        if (rms) rmsnorm_row(rt, w, D, eps, out + t * D);
        else layernorm_row(rt, w, b, D, eps, out + t * D);
    }
}

/* Channel block processed together: 16 floats, two AVX2 or one AVX-512
 * vector. */
enum { EB = 16 };

/* Loads and stores of a channel block: a whole vector, or the first nc lanes
 * (constant-size copies compile to single vector moves). */
static inline md_v16f load_block(const float *p, int nc)
{
    md_v16f v = {0};
    if (nc == EB) memcpy(&v, p, sizeof v);
    else memcpy(&v, p, (size_t)nc * sizeof(float));
    return v;
}

static inline void store_block(float *p, md_v16f v, int nc)
{
    if (nc == EB) memcpy(p, &v, sizeof v);
    else memcpy(p, &v, (size_t)nc * sizeof(float));
}

/* ---- depthwise causal conv1d + SiLU ---------------------------------------- */

/* Steps s0..s1 (processing order) of one channel block; wk (K) weights, win
 * (K-1) the previous inputs, oldest first, read and updated. ahead != 0:
 * fetch the rows that many steps later into L2 (the next tile's). */
static inline __attribute__((always_inline)) void
conv_steps(const float *x, int64_t ldx, int64_t S, int E, const int K, int c0, int nc, int dir,
           int64_t s0, int64_t s1, const md_v16f *wk, md_v16f bias, md_v16f *win, float *out,
           int64_t ahead)
{
    md_v16f w[8], v[8]; /* K <= 8 */
    for (int k = 0; k < K; k++) w[k] = wk[k];
    for (int k = 0; k < K - 1; k++) v[k] = win[k];
    for (int64_t s = s0; s < s1; s++) {
        int64_t t = dir > 0 ? s : S - 1 - s;
        v[K - 1] = load_block(x + t * ldx + c0, nc);
        md_v16f acc = bias;
        for (int k = 0; k < K; k++) acc = md_fmav(w[k], v[k], acc);
        store_block(out + t * E + c0, md_siluv(acc), nc);
        for (int k = 0; k < K - 1; k++) v[k] = v[k + 1];
        if (ahead) {
            int64_t ta = dir > 0 ? t + ahead : t - ahead;
            __builtin_prefetch(x + ta * ldx + c0, 0, 2);
            __builtin_prefetch(out + ta * E + c0, 1, 2);
        }
    }
    for (int k = 0; k < K - 1; k++) win[k] = v[k];
}

static inline __attribute__((always_inline)) void
conv_block(const float *x, int64_t ldx, int64_t S, int E, const int K, int c0, int nc, int dir,
           int64_t s0, int64_t s1, const md_v16f *wk, md_v16f bias, float *state, float *out,
           int64_t ahead)
{
    md_v16f win[8];
    for (int k = 0; k < K - 1; k++) win[k] = load_block(state + (int64_t)k * E + c0, nc);
    if (nc == EB) conv_steps(x, ldx, S, E, K, c0, EB, dir, s0, s1, wk, bias, win, out, ahead);
    else conv_steps(x, ldx, S, E, K, c0, nc, dir, s0, s1, wk, bias, win, out, ahead);
    for (int k = 0; k < K - 1; k++) store_block(state + (int64_t)k * E + c0, win[k], nc);
}

void md_cpu_conv1d_silu(const float *x, int64_t ldx, const float *w, const float *b,
                        int64_t S, int E, int K, int e0, int e1, int dir,
                        float *state, float *out)
{
    for (int c0 = e0; c0 < e1; c0 += EB) {
        int nc = e1 - c0 < EB ? e1 - c0 : EB;
        md_v16f wk[8]; /* K <= 8 */
        for (int k = 0; k < K; k++) {
            wk[k] = (md_v16f){0};
            for (int j = 0; j < nc; j++) wk[k][j] = w[(int64_t)(c0 + j) * K + k];
        }
        md_v16f bias = load_block(b + c0, nc);
        if (K == 4) conv_block(x, ldx, S, E, 4, c0, nc, dir, 0, S, wk, bias, state, out, 0);
        else conv_block(x, ldx, S, E, K, c0, nc, dir, 0, S, wk, bias, state, out, 0);
    }
}

void md_cpu_conv1d_silu_tiled(const float *x, int64_t ldx, const float *wt, const float *b,
                              int64_t S, int E, int K, int e0, int e1, int dir,
                              float *state, float *out)
{
    for (int64_t s0 = 0; s0 < S; s0 += MD_SCAN_TILE) {
        int64_t s1 = s0 + MD_SCAN_TILE < S ? s0 + MD_SCAN_TILE : S;
        int64_t ahead = s1 + MD_SCAN_TILE <= S ? MD_SCAN_TILE : 0;
        for (int c0 = e0; c0 < e1; c0 += EB) {
            int nc = e1 - c0 < EB ? e1 - c0 : EB;
            md_v16f wk[8];
            for (int k = 0; k < K; k++) wk[k] = load_block(wt + (int64_t)k * E + c0, nc);
            md_v16f bias = load_block(b + c0, nc);
            if (K == 4) conv_block(x, ldx, S, E, 4, c0, nc, dir, s0, s1, wk, bias, state, out, ahead);
            else conv_block(x, ldx, S, E, K, c0, nc, dir, s0, s1, wk, bias, state, out, ahead);
        }
    }
}

/* ---- selective scan -------------------------------------------------------- */

/* The recurrence over n_s steps of one channel block, given the per-step
 * values (dl delta, du delta u, ds D u, gy the gate): h = 2^(delta A2) h +
 * delta u B; y = (C.h + D u) gy, with two partial sums of C.h (even and odd
 * states) to halve the chain. Bt, Ct, yt point at the first step's rows,
 * bstep and ystep go from one step's rows to the next. A function of its own:
 * inlined into the tile loop its states were kept in memory. */
static inline __attribute__((always_inline)) void
scan_recur(const md_v16f *dl, const md_v16f *du, const md_v16f *ds, const md_v16f *gy,
           int64_t n_s, const md_v16f *a2, const float *Bt, const float *Ct, int64_t bstep,
           float *yt, int64_t ystep, const int nc, int accumulate, md_v16f *h_io, const int N)
{
    md_v16f h[64]; /* N <= 64 */
    for (int n = 0; n < N; n++) h[n] = h_io[n];
    for (int64_t i = 0; i < n_s; i++, Bt += bstep, Ct += bstep, yt += ystep) {
        md_v16f d = dl[i], dB = du[i], acc0 = ds[i], acc1 = {0};
        #pragma GCC unroll 8
        for (int n = 0; n + 1 < N; n += 2) {
            md_v16f e0 = md_exp2_nonposv(d * a2[n]), e1 = md_exp2_nonposv(d * a2[n + 1]);
            h[n] = md_fmav(e0, h[n], dB * Bt[n]);
            h[n + 1] = md_fmav(e1, h[n + 1], dB * Bt[n + 1]);
            acc0 = md_fmav(h[n], md_splatv(Ct[n]), acc0);
            acc1 = md_fmav(h[n + 1], md_splatv(Ct[n + 1]), acc1);
        }
        if (N & 1) {
            h[N - 1] = md_fmav(md_exp2_nonposv(d * a2[N - 1]), h[N - 1], dB * Bt[N - 1]);
            acc0 = md_fmav(h[N - 1], md_splatv(Ct[N - 1]), acc0);
        }
        md_v16f yv = (acc0 + acc1) * gy[i];
        if (accumulate) yv += load_block(yt, nc);
        store_block(yt, yv, nc);
    }
    for (int n = 0; n < N; n++) h_io[n] = h[n];
}

static __attribute__((noinline)) void
scan_recur16(const md_v16f *dl, const md_v16f *du, const md_v16f *ds, const md_v16f *gy,
             int64_t n_s, const md_v16f *a2, const float *Bt, const float *Ct, int64_t bstep,
             float *yt, int64_t ystep, int accumulate, md_v16f *h_io)
{
    scan_recur(dl, du, ds, gy, n_s, a2, Bt, Ct, bstep, yt, ystep, EB, accumulate, h_io, 16);
}

static __attribute__((noinline)) void
scan_recur_any(const md_v16f *dl, const md_v16f *du, const md_v16f *ds, const md_v16f *gy,
               int64_t n_s, const md_v16f *a2, const float *Bt, const float *Ct, int64_t bstep,
               float *yt, int64_t ystep, int nc, int accumulate, md_v16f *h_io, int N)
{
    scan_recur(dl, du, ds, gy, n_s, a2, Bt, Ct, bstep, yt, ystep, nc, accumulate, h_io, N);
}

/* Steps s0..s1 (processing order, at most MD_SCAN_TILE) of one channel block.
 * First the per-step values that do not depend on the state (delta, delta u,
 * D u, the gate) for the whole tile, independent of each other; then the
 * recurrence, whose steps are only 16 exponentials and FMAs long. a2 (N) are
 * A log2(e) of the block, h (N) its states, read and updated. */
static inline __attribute__((always_inline)) void
scan_steps(const md_scan_args *p, int c0, const int nc, int64_t s0, int64_t s1,
           const md_v16f *a2, md_v16f *h_io, const int N)
{
    md_v16f dl[MD_SCAN_TILE], du[MD_SCAN_TILE], ds[MD_SCAN_TILE], gy[MD_SCAN_TILE];
    const int64_t E = p->E, ldbc = p->ldbc;
    const md_v16f bias = load_block(p->dt_bias + c0, nc), dsk = load_block(p->Dv + c0, nc);
    const int64_t n_s = s1 - s0;
    /* separate short loops, so that the out-of-order window holds many
     * independent steps of each (one long loop body was latency-bound) */
    for (int64_t i = 0; i < n_s; i++) {
        int64_t t = p->dir > 0 ? s0 + i : p->S - 1 - (s0 + i);
        if (p->dt) {
            dl[i] = load_block(p->dt + t * E + c0, nc) + bias;
        } else {
            const float *xr = p->xdt + t * ldbc;
            md_v16f acc = {0};
            for (int r = 0; r < p->R; r++)
                acc = md_fmav(md_splatv(xr[r]), load_block(p->dtw_t + r * E + c0, nc), acc);
            dl[i] = acc + bias;
        }
    }
    /* the rows of the next tile of this block, strided (one cache line of
     * each), are fetched into L2 ahead: the hardware prefetchers do not
     * follow a stride of a few KB for long */
    const int64_t ahead = p->dir > 0 ? MD_SCAN_TILE : -MD_SCAN_TILE;
    const int pf = s1 + MD_SCAN_TILE <= p->S;
    for (int64_t i = 0; i < n_s; i++) {
        int64_t t = p->dir > 0 ? s0 + i : p->S - 1 - (s0 + i);
        md_v16f d = md_softplusv(dl[i]), uv = load_block(p->u + t * E + c0, nc);
        dl[i] = d;
        du[i] = d * uv;
        ds[i] = dsk * uv;
        if (pf) {
            __builtin_prefetch(p->u + (t + ahead) * E + c0, 0, 2);
            __builtin_prefetch(p->y + (t + ahead) * E + c0, 1, 2);
        }
    }
    for (int64_t i = 0; i < n_s; i++) {
        int64_t t = p->dir > 0 ? s0 + i : p->S - 1 - (s0 + i);
        gy[i] = p->z ? md_siluv(load_block(p->z + t * p->ldz + c0, nc)) : md_splatv(1.0f);
        if (pf && p->z) __builtin_prefetch(p->z + (t + ahead) * p->ldz + c0, 0, 2);
    }
    int64_t t0 = p->dir > 0 ? s0 : p->S - 1 - s0, step = p->dir > 0 ? 1 : -1;
    if (N == 16 && nc == EB)
        scan_recur16(dl, du, ds, gy, n_s, a2, p->Bm + t0 * ldbc, p->Cm + t0 * ldbc, step * ldbc,
                     p->y + t0 * E + c0, step * E, p->accumulate, h_io);
    else
        scan_recur_any(dl, du, ds, gy, n_s, a2, p->Bm + t0 * ldbc, p->Cm + t0 * ldbc,
                       step * ldbc, p->y + t0 * E + c0, step * E, nc, p->accumulate, h_io, N);
}

/* One block over steps s0..s1 in tiles; the states in p->state. */
static inline __attribute__((always_inline)) void
scan_block(const md_scan_args *p, int c0, int nc, int64_t s0, int64_t s1, const md_v16f *a2,
           const int N)
{
    md_v16f h[64];
    for (int n = 0; n < N; n++) h[n] = load_block(p->state + (int64_t)n * p->E + c0, nc);
    for (int64_t b0 = s0; b0 < s1; b0 += MD_SCAN_TILE) {
        int64_t b1 = b0 + MD_SCAN_TILE < s1 ? b0 + MD_SCAN_TILE : s1;
        if (nc == EB) scan_steps(p, c0, EB, b0, b1, a2, h, N);
        else scan_steps(p, c0, nc, b0, b1, a2, h, N);
    }
    for (int n = 0; n < N; n++) store_block(p->state + (int64_t)n * p->E + c0, h[n], nc);
}

static inline __attribute__((always_inline)) void
mixer_scan(const md_scan_args *p, int e0, int e1, const int N)
{
    for (int64_t s0 = 0; s0 < p->S; s0 += MD_SCAN_TILE) {
        int64_t s1 = s0 + MD_SCAN_TILE < p->S ? s0 + MD_SCAN_TILE : p->S;
        for (int c0 = e0; c0 < e1; c0 += EB) {
            int nc = e1 - c0 < EB ? e1 - c0 : EB;
            md_v16f a2[64];
            for (int n = 0; n < N; n++) a2[n] = load_block(p->A2t + (int64_t)n * p->E + c0, nc);
            scan_block(p, c0, nc, s0, s1, a2, N);
        }
    }
}

void md_cpu_mixer_scan(const md_scan_args *p, int e0, int e1)
{
    if (p->N == 16) mixer_scan(p, e0, e1, 16);
    else mixer_scan(p, e0, e1, p->N);
}

void md_cpu_selective_scan(const float *u, const float *dt, const float *dt_bias,
                           const float *A, const float *Bm, const float *Cm,
                           int64_t ldbc, const float *Dv, const float *z,
                           int64_t ldz, int64_t S, int E, int N, int e0, int e1,
                           int dir, float *state, float *y)
{
    md_scan_args p = {.u = u, .dt = dt, .Bm = Bm, .Cm = Cm, .dt_bias = dt_bias, .Dv = Dv,
                      .z = z, .ldbc = ldbc, .ldz = ldz, .S = S, .E = E, .N = N, .dir = dir,
                      .state = state, .y = y};
    for (int c0 = e0; c0 < e1; c0 += EB) {
        int nc = e1 - c0 < EB ? e1 - c0 : EB;
        md_v16f a2[64]; /* (N, EB) */
        for (int n = 0; n < N; n++) {
            a2[n] = (md_v16f){0};
            for (int j = 0; j < nc; j++) a2[n][j] = A[(int64_t)(c0 + j) * N + n] * MD_LOG2E;
        }
        if (N == 16) scan_block(&p, c0, nc, 0, S, a2, 16);
        else scan_block(&p, c0, nc, 0, S, a2, N);
    }
}
