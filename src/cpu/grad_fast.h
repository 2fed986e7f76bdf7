/* grad_fast.h: vectorised float32 kernels of the training ops (private).
 * Same arguments and semantics as conv_fwd, conv_bwd, scan_fwd and scan_bwd
 * of cpu/grad_ops.inc, whose float instantiation they replace; 16 channels
 * at a time with the vector math of cpu/ops.h. Layouts are time-major:
 * (rows * Ls, channels), channels contiguous; dir -1 runs time descending.
 * N (state size) <= 64, K (conv width) <= 8. OpenMP-parallel inside. */
#ifndef MD_CPU_GRAD_FAST_H
#define MD_CPU_GRAD_FAST_H

#include <stdint.h>

#include "model.h" /* MD_SCAN_CHUNK */

/* Depthwise causal conv1d + SiLU of rows of Ls steps from zero states:
 * out (rows*Ls, E) from x (rows*Ls, ldx), w (E, K), b (E). */
void md_grad_conv_fwd(const float *x, int64_t ldx, const float *w, const float *b, int rows,
                      int64_t Ls, int E, int K, int dir, float *out);

/* Its backward given g_u (rows*Ls, E): g_x (rows*Ls, ldx), g_w (E, K) and
 * g_b (E) accumulated (+=). */
void md_grad_conv_bwd(const float *x, int64_t ldx, const float *w, const float *b, int rows,
                      int64_t Ls, int E, int K, int dir, const float *g_u, float *g_x,
                      float *g_w, float *g_b);

/* Gated selective scan of rows of Ls steps from zero states:
 *   delta = softplus(dtr + bias), A = -exp(A_log) (E, N),
 *   h = exp(delta A) h + delta B u,  y = (C.h + D u) silu(z).
 * u, dtr (rows*Ls, E); B at Bm[t*ldbc + n], C at Cm[t*ldbc + n]; z (.., ldz);
 * y (rows*Ls, E) and hsave (rows, chunks, N, E), the states at chunk
 * starts, written. */
void md_grad_scan_fwd(const float *u, const float *dtr, const float *bias, const float *A_log,
                      const float *Bm, const float *Cm, int64_t ldbc, const float *Dv,
                      const float *z, int64_t ldz, int rows, int64_t Ls, int E, int N, int dir,
                      float *y, float *hsave);

/* Its backward given hsave from the forward on the same inputs and g_y
 * (rows*Ls, E): y (again), g_u, g_dtr (rows*Ls, E) written;
 * g_z (.., ldz), g_B / g_C into g_bc (rows*Ls, ldg) at columns [0, N) and
 * [N, 2N), g_A_log (E, N), g_D, g_bias (E) accumulated (+=). partial:
 * scratch of (threads, rows*Ls, 2N) floats, threads = omp_get_max_threads(),
 * used when there are too few rows to give each thread whole rows. */
void md_grad_scan_bwd(const float *u, const float *dtr, const float *bias, const float *A_log,
                      const float *Bm, const float *Cm, int64_t ldbc, const float *Dv,
                      const float *z, int64_t ldz, int rows, int64_t Ls, int E, int N, int dir,
                      const float *hsave, const float *g_y, float *y, float *g_u, float *g_dtr,
                      float *g_z, float *g_bc, int64_t ldg, float *g_A_log, float *g_D,
                      float *g_bias, float *partial);

/* The float64 template kernels of cpu/grad_ops.inc (train_grad.c), the
 * reference of the ones above in tests. */
void md_grad_ref_conv_fwd(const double *x, int64_t ldx, const double *w, const double *b, int rows,
                          int64_t Ls, int E, int K, int dir, double *out);
void md_grad_ref_conv_bwd(const double *x, int64_t ldx, const double *w, const double *b, int rows,
                          int64_t Ls, int E, int K, int dir, const double *g_u, double *g_x,
                          double *g_w, double *g_b);
void md_grad_ref_scan_fwd(const double *u, const double *dtr, const double *bias,
                          const double *A_log, const double *Bm, const double *Cm, int64_t ldbc,
                          const double *Dv, const double *z, int64_t ldz, int rows, int64_t Ls,
                          int E, int N, int dir, double *y, double *hsave);
void md_grad_ref_scan_bwd(const double *u, const double *dtr, const double *bias,
                          const double *A_log, const double *Bm, const double *Cm, int64_t ldbc,
                          const double *Dv, const double *z, int64_t ldz, int rows, int64_t Ls,
                          int E, int N, int dir, const double *hsave, const double *g_y, double *y,
                          double *g_u, double *g_dtr, double *g_z, double *g_bc, int64_t ldg,
                          double *g_A_log, double *g_D, double *g_bias, double *partial);

#endif
