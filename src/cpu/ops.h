/* ops.h: CPU kernels of the forward pass (float32, time-major layouts). */
#ifndef MD_CPU_OPS_H
#define MD_CPU_OPS_H

#include <stdint.h>
#if defined(__AVX512F__) || defined(__FMA__)
#include <immintrin.h>
#endif

/* C (M, N) = A (M, K, row stride lda) @ W^T, W (N, K); C += when beta = 1.
 * A holds sequences of seq rows each (seq <= 0: one of M): each sequence's
 * result is the same whatever the others. Threads over fixed blocks of
 * rows: call with OpenBLAS set to one thread. */
void md_cpu_gemm_nt(int64_t M, int64_t seq, int64_t N, int64_t K, const float *A,
                    int64_t lda, const float *W, float *C, int64_t ldc, float beta);

/* out (T, D) = norm(x (T, D)) * w (+ b for LayerNorm when b != NULL). */
void md_cpu_rmsnorm(const float *x, const float *w, int64_t T, int D, float eps, float *out);
void md_cpu_layernorm(const float *x, const float *w, const float *b, int64_t T,
                      int D, float eps, float *out);

/* residual (T, D) = h (first) or residual + h, then out = its RMSNorm (rms)
 * or LayerNorm, row by row in one parallel pass; out may be h. */
void md_cpu_add_norm(float *residual, const float *h, int first, const float *w,
                     const float *b, int rms, int64_t T, int D, float eps, float *out);

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

/* The selective scan of one Mamba mixer direction with dt_proj folded in,
 * over S steps of one sequence:
 *   delta = softplus(xdt[t] . dtw[e] + dt_bias)  (or dt[t] + dt_bias)
 *   h = 2^(delta A2) h + delta B u;  y = C.h + D u;  y *= silu(z)
 * walking time in tiles of MD_SCAN_TILE steps and, inside a tile, channel
 * block after channel block, the states of all blocks kept in `state`. */
typedef struct md_scan_args {
    const float *u;       /* (S, E) conv + SiLU output */
    const float *dt;      /* (S, E) delta before the bias, or NULL: from xdt */
    const float *xdt;     /* (S, ldbc) the R dt_proj inputs of each step */
    const float *dtw_t;   /* (R, E) dt_proj weight, transposed */
    const float *Bm, *Cm; /* (S, ldbc) B and C of each step (N each) */
    const float *dt_bias; /* (E) */
    const float *A2t;     /* (N, E) A log2(e) = -exp(A_log) log2(e), transposed */
    const float *Dv;      /* (E) */
    const float *z;       /* (S, ldz) gate input, or NULL: no gate */
    int64_t ldbc, ldz, S;
    int E, N, R, dir;     /* dir +1 time ascending, -1 descending */
    int accumulate;       /* 1: y += the output (the second direction) */
    float *state;         /* (N, E) read and updated */
    float *y;             /* (S, E) */
} md_scan_args;

enum { MD_SCAN_TILE = 64 };
#define MD_LOG2E 1.44269504088896341f

/* Channels [e0, e1) of the scan; e0 a multiple of 16. */
void md_cpu_mixer_scan(const md_scan_args *a, int e0, int e1);

/* The conv of the mixer with the same tiling: like md_cpu_conv1d_silu, but
 * the weight transposed, wt (K, E). */
void md_cpu_conv1d_silu_tiled(const float *x, int64_t ldx, const float *wt, const float *b,
                              int64_t S, int E, int K, int e0, int e1, int dir,
                              float *state, float *out);

/* Scalar exp, the polynomial of md_fast_expv (relative error < 2e-7 on
 * [-87, 88]). */
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
typedef uint32_t md_v16u __attribute__((vector_size(64)));

/* a * b + c rounded once where the target has FMA instructions. ISO C mode
 * (-std=c11) keeps GCC from contracting a * b + c by itself, so the hot
 * polynomials and recurrences call this explicitly; without FMA it is the
 * plain expression. */
static inline md_v16f md_fmav(md_v16f a, md_v16f b, md_v16f c)
{
#if defined(__AVX512F__)
    return (md_v16f)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#elif defined(__FMA__)
    union { md_v16f v; __m256 h[2]; } ua = {a}, ub = {b}, uc = {c}, r;
    r.h[0] = _mm256_fmadd_ps(ua.h[0], ub.h[0], uc.h[0]);
    r.h[1] = _mm256_fmadd_ps(ua.h[1], ub.h[1], uc.h[1]);
    return r.v;
#else
    return a * b + c;
#endif
}

/* x in every lane (x + (md_v16f){0} would be a scalar add, as 0 + -0 = +0). */
static inline md_v16f md_splatv(float x)
{
    return (md_v16f){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x};
}

/* Lane-wise select: m ? a : b, m a comparison result (-1 or 0 lanes). */
static inline md_v16f md_selectv(md_v16i m, md_v16f a, md_v16f b)
{
    return (md_v16f)(((md_v16i)a & m) | ((md_v16i)b & ~m));
}

/* max(x, lo) and min(x, hi) lane-wise; a NaN in x stays NaN. */
static inline md_v16f md_maxv(md_v16f x, md_v16f lo)
{
#if defined(__AVX512F__)
    return (md_v16f)_mm512_max_ps((__m512)lo, (__m512)x); /* NaN: second operand */
#else
    return md_selectv(x < lo, lo, x);
#endif
}

static inline md_v16f md_minv(md_v16f x, md_v16f hi)
{
#if defined(__AVX512F__)
    return (md_v16f)_mm512_min_ps((__m512)hi, (__m512)x);
#else
    return md_selectv(x > hi, hi, x);
#endif
}

static inline md_v16f md_fast_expv(md_v16f x)
{
    x = md_minv(md_maxv(x, (md_v16f){0} - 87.0f), (md_v16f){0} + 88.0f);
    /* k = x log2 e rounded to the nearest integer by adding 1.5 * 2^23: the
     * sum's low mantissa bits are k, and k - 127 << 23 wraps to the bits of
     * 2^k */
    const md_v16f magic = (md_v16f){0} + 12582912.0f;
    md_v16f t = md_fmav(x, (md_v16f){0} + 1.44269504088896341f, magic);
    md_v16f kf = t - magic;
    md_v16f r = md_fmav(kf, (md_v16f){0} - 0.693359375f, x);
    r = md_fmav(kf, (md_v16f){0} + 2.12194440e-4f, r);
    md_v16f p = md_fmav((md_v16f){0} + 1.9875691500e-4f, r, (md_v16f){0} + 1.3981999507e-3f);
    p = md_fmav(p, r, (md_v16f){0} + 8.3334519073e-3f);
    p = md_fmav(p, r, (md_v16f){0} + 4.1665795894e-2f);
    p = md_fmav(p, r, (md_v16f){0} + 1.6666665459e-1f);
    p = md_fmav(p, r, (md_v16f){0} + 5.0000001201e-1f);
    p = md_fmav(p, r * r, r) + 1.0f;
    md_v16u bits = ((md_v16u)t << 23) + (127u << 23);
    return p * (md_v16f)bits;
}

/* 2^x for x <= 0 (the scan's decays exp(delta A) = 2^(delta A log2 e)):
 * relative error < 2e-7 down to x = -125, 2^-125 below; exactly 1 at 0.
 * 2^x = 2^k 2^f with k = x rounded to the nearest integer (adding 1.5 * 2^23
 * leaves k in the low mantissa bits), f = x - k in [-1/2, 1/2] exactly, and
 * 2^f = 1 + f q(f), q of degree 4 fitted for relative error on [-1/2, 1/2].
 * 2^k goes into the exponent field by an integer add, exact while the result
 * is a normal float (x >= -125). */
static inline md_v16f md_exp2_nonposv(md_v16f x)
{
#define MD_C_(c) ((md_v16f){0} + (c))
    x = md_maxv(x, MD_C_(-125.0f));
    md_v16f t = x + 12582912.0f;
    md_v16f f = x - (t - 12582912.0f);
    md_v16f q = md_fmav(MD_C_(1.3264726149e-3f), f, MD_C_(9.6715129912e-3f));
    q = md_fmav(q, f, MD_C_(5.5507335812e-2f));
    q = md_fmav(q, f, MD_C_(2.4022242427e-1f));
    q = md_fmav(q, f, MD_C_(6.9314700365e-1f));
    md_v16f p = md_fmav(q, f, MD_C_(1.0f));
    return (md_v16f)((md_v16u)p + ((md_v16u)t << 23));
#undef MD_C_
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
#define MD_C_(c) ((md_v16f){0} + (c))
    md_v16f p = md_fmav(MD_C_(7.0376836292e-2f), m, MD_C_(-1.1514610310e-1f));
    p = md_fmav(p, m, MD_C_(1.1676998740e-1f));
    p = md_fmav(p, m, MD_C_(-1.2420140846e-1f));
    p = md_fmav(p, m, MD_C_(1.4249322787e-1f));
    p = md_fmav(p, m, MD_C_(-1.6668057665e-1f));
    p = md_fmav(p, m, MD_C_(2.0000714765e-1f));
    p = md_fmav(p, m, MD_C_(-2.4999993993e-1f));
    p = md_fmav(p, m, MD_C_(3.3333331174e-1f));
    p = p * m * z;
    md_v16f ef = __builtin_convertvector(e, md_v16f);
    p = md_fmav(ef, MD_C_(-2.12194440e-4f), p);
    p = md_fmav(z, MD_C_(-0.5f), p);
    return md_fmav(ef, MD_C_(0.693359375f), m + p);
#undef MD_C_
}

/* softplus and SiLU of 16 floats. softplus(x) = max(x, 0) + log1p(e) with
 * e = exp(-|x|) in (0, 1], log1p(e) = e P(e), P of degree 8 fitted for
 * relative error on [0, 1] (P(0) = 1): full relative precision for negative
 * x, where softplus(x) ~ e; above ~17, x itself (torch: x above 20). */
static inline md_v16f md_softplusv(md_v16f x)
{
#define MD_C_(c) ((md_v16f){0} + (c))
    md_v16f e = md_fast_expv((md_v16f)((md_v16u)x | 0x80000000u)); /* exp(-|x|) */
    md_v16f p = md_fmav(MD_C_(5.3648110479e-03f), e, MD_C_(-3.0065741390e-02f));
    p = md_fmav(p, e, MD_C_(7.9204455018e-02f));
    p = md_fmav(p, e, MD_C_(-1.3753795624e-01f));
    p = md_fmav(p, e, MD_C_(1.9153651595e-01f));
    p = md_fmav(p, e, MD_C_(-2.4857163429e-01f));
    p = md_fmav(p, e, MD_C_(3.3321323991e-01f));
    p = md_fmav(p, e, MD_C_(-4.9999648333e-01f));
    p = md_fmav(p, e, MD_C_(1.0f));
    return md_fmav(e, p, md_maxv(x, (md_v16f){0}));
#undef MD_C_
}

static inline md_v16f md_siluv(md_v16f x) { return x / (1.0f + md_fast_expv(-x)); }

static inline float md_softplusf(float x)
{
    return x > 20.0f ? x : __builtin_log1pf(__builtin_expf(x));
}

static inline float md_siluf(float x) { return x / (1.0f + __builtin_expf(-x)); }

#endif
