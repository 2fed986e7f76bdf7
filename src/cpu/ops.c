/* ops.c: CPU kernels of the forward pass. Channels are contiguous (time-major
 * layouts) so the inner loops vectorise across channels. */
#include <math.h>
#include <string.h>
#include <cblas.h>

#include "cpu/ops.h"

/* Rows per GEMM block. Blocks are fixed by the row count alone and run on
 * OpenMP threads, each a single-threaded SGEMM, so results do not depend on
 * the number of threads (OpenBLAS's own threading changes the rounding). */
enum { GEMM_ROWS = 128 };

void md_cpu_gemm_nt(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                    const float *W, float *C, int64_t ldc, float beta)
{
    if (M == 0 || N == 0) return;
    #pragma omp parallel for schedule(static) if (M > GEMM_ROWS)
    for (int64_t r0 = 0; r0 < M; r0 += GEMM_ROWS) {
        int64_t m = M - r0 < GEMM_ROWS ? M - r0 : GEMM_ROWS;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)m, (blasint)N, (blasint)K,
                    1.0f, A + r0 * lda, (blasint)lda, W, (blasint)K, beta, C + r0 * ldc,
                    (blasint)ldc);
    }
}

void md_cpu_rmsnorm(const float *x, const float *w, int64_t T, int D, float eps, float *out)
{
    #pragma omp parallel for schedule(static) if (T * D > 65536)
    for (int64_t t = 0; t < T; t++) {
        const float *xt = x + t * D;
        float *ot = out + t * D;
        double ss = 0;
        for (int d = 0; d < D; d++) ss += (double)xt[d] * xt[d];
        float inv = (float)(1.0 / sqrt(ss / D + eps));
        for (int d = 0; d < D; d++) ot[d] = xt[d] * inv * w[d];
    }
}

void md_cpu_layernorm(const float *x, const float *w, const float *b, int64_t T,
                      int D, float eps, float *out)
{
    #pragma omp parallel for schedule(static) if (T * D > 65536)
    for (int64_t t = 0; t < T; t++) {
        const float *xt = x + t * D;
        float *ot = out + t * D;
        double mean = 0, var = 0;
        for (int d = 0; d < D; d++) mean += xt[d];
        mean /= D;
        for (int d = 0; d < D; d++) var += (xt[d] - mean) * (xt[d] - mean);
        float inv = (float)(1.0 / sqrt(var / D + eps));
        for (int d = 0; d < D; d++)
            ot[d] = (float)(xt[d] - mean) * inv * w[d] + (b ? b[d] : 0.0f);
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

void md_cpu_conv1d_silu(const float *x, int64_t ldx, const float *w, const float *b,
                        int64_t S, int E, int K, int e0, int e1, int dir,
                        float *state, float *out)
{
    for (int c0 = e0; c0 < e1; c0 += EB) {
        int nc = e1 - c0 < EB ? e1 - c0 : EB;
        md_v16f win[8], wk[8], bias = {0}; /* last K inputs, oldest first (K <= 8) */
        for (int k = 0; k < K; k++) win[k] = wk[k] = (md_v16f){0};
        for (int j = 0; j < nc; j++) {
            for (int k = 0; k < K; k++) wk[k][j] = w[(int64_t)(c0 + j) * K + k];
            for (int k = 0; k < K - 1; k++) win[k][j] = state[(int64_t)k * E + c0 + j];
            bias[j] = b[c0 + j];
        }
        for (int64_t s = 0; s < S; s++) {
            int64_t t = dir > 0 ? s : S - 1 - s;
            const float *xt = x + t * ldx + c0;
            float *ot = out + t * E + c0;
            win[K - 1] = load_block(xt, nc);
            md_v16f acc = bias;
            for (int k = 0; k < K; k++) acc += wk[k] * win[k];
            store_block(ot, md_siluv(acc), nc);
            for (int k = 0; k < K - 1; k++) win[k] = win[k + 1];
        }
        for (int k = 0; k < K - 1; k++)
            for (int j = 0; j < nc; j++) state[(int64_t)k * E + c0 + j] = win[k][j];
    }
}

/* The scan with the state size as an argument; called with a constant N
 * for the common size so that the loop over states unrolls into registers. */
static inline __attribute__((always_inline)) void
scan_blocks(const float *u, const float *dt, const float *dt_bias, const float *A,
            const float *Bm, const float *Cm, int64_t ldbc, const float *Dv, const float *z,
            int64_t ldz, int64_t S, int E, const int N, int e0, int e1, int dir, float *state,
            float *y)
{
    for (int c0 = e0; c0 < e1; c0 += EB) {
        int nc = e1 - c0 < EB ? e1 - c0 : EB;
        md_v16f h[64], a[64]; /* (N, EB), N <= 64 */
        md_v16f bias = {0}, dskip = {0};
        for (int n = 0; n < N; n++) {
            h[n] = (md_v16f){0};
            a[n] = (md_v16f){0};
        }
        for (int j = 0; j < nc; j++) {
            for (int n = 0; n < N; n++) {
                h[n][j] = state[(int64_t)n * E + c0 + j];
                a[n][j] = A[(int64_t)(c0 + j) * N + n];
            }
            bias[j] = dt_bias[c0 + j];
            dskip[j] = Dv[c0 + j];
        }
        for (int64_t s = 0; s < S; s++) {
            int64_t t = dir > 0 ? s : S - 1 - s;
            const float *ut = u + t * E + c0, *dtt = dt + t * E + c0;
            const float *Bt = Bm + t * ldbc, *Ct = Cm + t * ldbc;
            md_v16f uv = load_block(ut, nc), delta = load_block(dtt, nc);
            delta = md_softplusv(delta + bias);
            md_v16f du = delta * uv, acc = dskip * uv;
            #pragma GCC unroll 16
            for (int n = 0; n < N; n++) {
                h[n] = md_fast_expv(delta * a[n]) * h[n] + du * Bt[n];
                acc += h[n] * Ct[n];
            }
            float *yt = y + t * E + c0;
            if (z) acc *= md_siluv(load_block(z + t * ldz + c0, nc));
            store_block(yt, acc, nc);
        }
        for (int j = 0; j < nc; j++)
            for (int n = 0; n < N; n++) state[(int64_t)n * E + c0 + j] = h[n][j];
    }
}

void md_cpu_selective_scan(const float *u, const float *dt, const float *dt_bias,
                           const float *A, const float *Bm, const float *Cm,
                           int64_t ldbc, const float *Dv, const float *z,
                           int64_t ldz, int64_t S, int E, int N, int e0, int e1,
                           int dir, float *state, float *y)
{
    if (N == 16)
        scan_blocks(u, dt, dt_bias, A, Bm, Cm, ldbc, Dv, z, ldz, S, E, 16, e0, e1, dir, state, y);
    else
        scan_blocks(u, dt, dt_bias, A, Bm, Cm, ldbc, Dv, z, ldz, S, E, N, e0, e1, dir, state, y);
}
