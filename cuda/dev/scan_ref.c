/* scan_ref.c: host side of the CUDA scan harness (see scan_ref.h). */
#include <math.h>
#include <string.h>

#include "cpu/ops.h"
#include "scan_ref.h"

static inline uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* uniform in (0, 1): 24 random bits, never 0 */
static inline float unif(uint64_t seed, uint64_t i, int k)
{
    uint64_t r = mix64(seed * 0x2545f4914f6cdd1dULL + 4 * i + (uint64_t)k);
    return ((float)(r >> 40) + 0.5f) * (1.0f / 16777216.0f);
}

void ref_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi)
{
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * unif(seed, i, 0);
}

void ref_fill_normal(float *x, size_t n, uint64_t seed, float sd)
{
    size_t np = (n + 1) / 2;
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < np; i++) { /* Box-Muller, two values per pair */
        float r = sqrtf(-2.0f * logf(unif(seed, i, 0))) * sd;
        float th = 6.283185307179586f * unif(seed, i, 1);
        x[2 * i] = r * cosf(th);
        if (2 * i + 1 < n) x[2 * i + 1] = r * sinf(th);
    }
}

static inline uint16_t f2bf(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

void ref_round_bf16(float *x, size_t n, uint16_t *out)
{
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        uint16_t h = f2bf(x[i]);
        uint32_t b = (uint32_t)h << 16;
        memcpy(&x[i], &b, 4);
        if (out) out[i] = h;
    }
}

void ref_bf16_to_f32(const uint16_t *x, size_t n, float *out)
{
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        uint32_t b = (uint32_t)x[i] << 16;
        memcpy(&out[i], &b, 4);
    }
}

void ref_scan(int batch, long L, int E, int N, const float *u, const float *dt,
              const float *dt_bias, const float *A, const float *Bm, const float *Cm,
              long ldbc, const float *Dv, const float *z, long ldz, int dir,
              float *state, float *y)
{
    int nblk = (E + 15) / 16;
    #pragma omp parallel for collapse(2) schedule(dynamic, 1)
    for (int b = 0; b < batch; b++)
        for (int blk = 0; blk < nblk; blk++) {
            int e0 = blk * 16, e1 = e0 + 16 < E ? e0 + 16 : E;
            size_t off = (size_t)b * L * E;
            md_cpu_selective_scan(u + off, dt + off, dt_bias, A,
                                  Bm + (size_t)b * L * ldbc, Cm + (size_t)b * L * ldbc, ldbc,
                                  Dv, z ? z + (size_t)b * L * ldz : NULL, ldz, L, E, N, e0,
                                  e1, dir, state + (size_t)b * N * E, y + off);
        }
}

void ref_scan_f64(int batch, long L, int E, int N, const float *u, const float *dt,
                  const float *dt_bias, const float *A, const float *Bm, const float *Cm,
                  long ldbc, const float *Dv, const float *z, long ldz, int dir,
                  const float *h0, float *state_out, float *y)
{
    int nblk = (E + 15) / 16;
    #pragma omp parallel for collapse(2) schedule(dynamic, 1)
    for (int b = 0; b < batch; b++)
        for (int blk = 0; blk < nblk; blk++) {
            int e0 = blk * 16, e1 = e0 + 16 < E ? e0 + 16 : E;
            double h[16][64];
            for (int e = e0; e < e1; e++)
                for (int n = 0; n < N; n++)
                    h[e - e0][n] = h0 ? h0[((size_t)b * N + n) * E + e] : 0.0;
            for (long s = 0; s < L; s++) {
                long t = dir > 0 ? s : L - 1 - s;
                size_t row = (size_t)b * L + t;
                const float *Bt = Bm + row * ldbc, *Ct = Cm + row * ldbc;
                for (int e = e0; e < e1; e++) {
                    double x = (double)dt[row * E + e] + dt_bias[e];
                    double d = x > 20.0 ? x : log1p(exp(x));
                    double uu = u[row * E + e], acc = 0;
                    for (int n = 0; n < N; n++) {
                        double *hn = &h[e - e0][n];
                        *hn = exp(d * A[(size_t)e * N + n]) * *hn + d * uu * Bt[n];
                        acc += Ct[n] * *hn;
                    }
                    double yv = acc + Dv[e] * uu;
                    if (z) {
                        double zz = z[row * ldz + e];
                        yv *= zz / (1.0 + exp(-zz));
                    }
                    y[row * E + e] = (float)yv;
                }
            }
            for (int e = e0; e < e1; e++)
                for (int n = 0; n < N; n++)
                    state_out[((size_t)b * N + n) * E + e] = (float)h[e - e0][n];
        }
}

double ref_rel_err(const float *a, const float *ref, size_t n, size_t *nonfinite,
                   double *maxerr)
{
    double se = 0, sr = 0, me = 0;
    size_t bad = 0;
    #pragma omp parallel for reduction(+ : se, sr, bad) reduction(max : me)
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i])) {
            bad++;
            continue;
        }
        double d = (double)a[i] - ref[i];
        se += d * d;
        sr += (double)ref[i] * ref[i];
        if (fabs(d) > me) me = fabs(d);
    }
    *nonfinite = bad;
    double rms = n ? sqrt(sr / (double)n) : 0;
    *maxerr = rms > 0 ? me / rms : me;
    return sr > 0 ? sqrt(se / sr) : sqrt(se);
}
