/* scan_ref.h: host side of the CUDA scan harness (C, OpenMP): random inputs,
 * bf16 rounding, the CPU reference over all channels, error norms. */
#ifndef MD_SCAN_REF_H
#define MD_SCAN_REF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* x[i] uniform in [lo, hi) / normal(0, sd), from a counter-based hash of
 * (seed, i): the same seed gives the same values whatever the thread count. */
void ref_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi);
void ref_fill_normal(float *x, size_t n, uint64_t seed, float sd);

/* Round float32 values to bf16 in place (round to nearest even) and, when
 * out is not NULL, write the bf16 bit patterns. */
void ref_round_bf16(float *x, size_t n, uint16_t *out);
void ref_bf16_to_f32(const uint16_t *x, size_t n, float *out);

/* md_cpu_selective_scan over every sequence and channel (OpenMP over
 * sequences x 16-channel blocks). state (batch, N, E) in/out. */
void ref_scan(int batch, long L, int E, int N, const float *u, const float *dt,
              const float *dt_bias, const float *A, const float *Bm, const float *Cm,
              long ldbc, const float *Dv, const float *z, long ldz, int dir,
              float *state, float *y);

/* The same in float64 arithmetic with exact exp/log1p (the truth to judge
 * the fp32 reference and the GPU by); h0 (batch, N, E) or NULL; y and
 * state_out as float. */
void ref_scan_f64(int batch, long L, int E, int N, const float *u, const float *dt,
                  const float *dt_bias, const float *A, const float *Bm, const float *Cm,
                  long ldbc, const float *Dv, const float *z, long ldz, int dir,
                  const float *h0, float *state_out, float *y);

/* ||a - ref|| / ||ref|| (2-norms, double sums); *nonfinite counts non-finite
 * a[i]; *maxerr = max |a - ref| / rms(ref). */
double ref_rel_err(const float *a, const float *ref, size_t n, size_t *nonfinite,
                   double *maxerr);

#ifdef __cplusplus
}
#endif

#endif
