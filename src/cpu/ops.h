/* ops.h: CPU kernels of the forward pass (float32, time-major layouts). */
#ifndef MD_CPU_OPS_H
#define MD_CPU_OPS_H

#include <stdint.h>

/* C (M, N) = A (M, K, row stride lda) @ W^T, W (N, K); C += when beta = 1.
 * Threads over fixed blocks of rows: call with OpenBLAS set to one thread. */
void md_cpu_gemm_nt(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                    const float *W, float *C, int64_t ldc, float beta);

/* out (T, D) = norm(x (T, D)) * w (+ b for LayerNorm when b != NULL). */
void md_cpu_rmsnorm(const float *x, const float *w, int64_t T, int D, float eps, float *out);
void md_cpu_layernorm(const float *x, const float *w, const float *b, int64_t T,
                      int D, float eps, float *out);

/* Depthwise causal conv1d + SiLU over S steps of one sequence, channels
 * [e0, e1). x (S, ldx) holds the inputs in time order; out (S, E). dir +1
 * processes time ascending, -1 descending (causal in reversed time).
 * state (K-1, E): the previous K-1 inputs in processing order, oldest first;
 * read and updated. */
void md_cpu_conv1d_silu(const float *x, int64_t ldx, const float *w /* (E, K) */,
                        const float *b /* (E) */, int64_t S, int E, int K, int e0,
                        int e1, int dir, float *state, float *out);

/* Selective scan over S steps of one sequence, channels [e0, e1):
 *   delta = softplus(dt + dt_bias); h = exp(delta*A) h + delta*B*u;
 *   y = C.h + D*u;  y *= silu(z)  (z may be NULL: no gate)
 * u, dt (S, E); z (S, ldz); Bm, Cm (S, ldbc) (B at Bm[t*ldbc + n]);
 * A (E, N) = -exp(A_log) precomputed; state (N, E) read and updated;
 * y (S, E) written. dir as for the conv. */
void md_cpu_selective_scan(const float *u, const float *dt, const float *dt_bias,
                           const float *A, const float *Bm, const float *Cm,
                           int64_t ldbc, const float *Dv, const float *z,
                           int64_t ldz, int64_t S, int E, int N, int e0, int e1,
                           int dir, float *state, float *y);

/* Vectorisable exp for the scan (relative error < 2e-7 on [-87, 88]). */
static inline float md_fast_expf(float x)
{
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    float kf = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - kf * 0.693359375f + kf * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { int32_t i; float f; } scale = {.i = ((int32_t)kf + 127) << 23};
    return p * scale.f;
}

/* The same on a vector of 16 floats (GCC/Clang vector extensions: AVX-512,
 * AVX2 or SSE code as the target allows). */
typedef float md_v16f __attribute__((vector_size(64)));
typedef int32_t md_v16i __attribute__((vector_size(64)));

static inline md_v16f md_fast_expv(md_v16f x)
{
    const md_v16f lo = (md_v16f){0} - 87.0f, hi = (md_v16f){0} + 88.0f;
    md_v16i below = x < lo, above = x > hi; /* lane masks: -1 or 0 */
    x = (md_v16f)(((md_v16i)x & ~below) | ((md_v16i)lo & below));
    x = (md_v16f)(((md_v16i)x & ~above) | ((md_v16i)hi & above));
    /* floor(x log2 e + 0.5) by truncating a value made positive */
    md_v16i ki = __builtin_convertvector(x * 1.44269504088896341f + 128.5f, md_v16i) - 128;
    md_v16f kf = __builtin_convertvector(ki, md_v16f);
    md_v16f r = x - kf * 0.693359375f + kf * 2.12194440e-4f;
    md_v16f p = 1.9875691500e-4f * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    md_v16i bits = (ki + 127) << 23;
    return p * (md_v16f)bits;
}

/* Natural log of 16 positive normal floats (Cephes-style polynomial,
 * relative error < 2e-7). */
static inline md_v16f md_fast_logv(md_v16f x)
{
    md_v16i bits = (md_v16i)x;
    md_v16i e = ((bits >> 23) & 0xff) - 126;
    md_v16f m = (md_v16f)((bits & 0x007fffff) | 0x3f000000); /* mantissa in [0.5, 1) */
    md_v16i small = m < 0.70710678f;                            /* lanes below sqrt(1/2) */
    e -= small & 1;
    m = (md_v16f)(((md_v16i)(m + m) & small) | ((md_v16i)m & ~small));
    m -= 1.0f;
    md_v16f z = m * m;
    md_v16f p = 7.0376836292e-2f * m - 1.1514610310e-1f;
    p = p * m + 1.1676998740e-1f;
    p = p * m - 1.2420140846e-1f;
    p = p * m + 1.4249322787e-1f;
    p = p * m - 1.6668057665e-1f;
    p = p * m + 2.0000714765e-1f;
    p = p * m - 2.4999993993e-1f;
    p = p * m + 3.3333331174e-1f;
    p = p * m * z;
    md_v16f ef = __builtin_convertvector(e, md_v16f);
    p += ef * -2.12194440e-4f;
    p -= 0.5f * z;
    return m + p + ef * 0.693359375f;
}

/* softplus and SiLU of 16 floats; softplus(x) = x above 20, as torch. */
static inline md_v16f md_softplusv(md_v16f x)
{
    /* log1p(e) = log(u) e / (u - 1) with u = 1 + e keeps full relative
     * precision for small e (Goldberg); u - 1 == 0 means log1p(e) = e */
    md_v16f e = md_fast_expv(x), u = 1.0f + e, d = u - 1.0f;
    md_v16i tiny = d == 0.0f;
    md_v16f dd = (md_v16f)(((md_v16i)d & ~tiny) | ((md_v16i)((md_v16f){0} + 1.0f) & tiny));
    md_v16f sp = md_fast_logv(u) * (e / dd);
    sp = (md_v16f)(((md_v16i)sp & ~tiny) | ((md_v16i)e & tiny));
    md_v16i big = x > 20.0f;
    return (md_v16f)(((md_v16i)x & big) | ((md_v16i)sp & ~big));
}

static inline md_v16f md_siluv(md_v16f x) { return x / (1.0f + md_fast_expv(-x)); }

static inline float md_softplusf(float x)
{
    return x > 20.0f ? x : __builtin_log1pf(__builtin_expf(x));
}

static inline float md_siluf(float x) { return x / (1.0f + __builtin_expf(-x)); }

#endif
