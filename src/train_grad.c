/* train_grad.c: losses and gradients of whole models on the CPU, in float32
 * for training and float64 for gradient checks, from one source
 * (cpu/grad_ops.inc, grad_model.inc). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include <omp.h>

#include "cpu/grad_fast.h"
#include "model.h"

#define REAL float
#define SUFFIX f32
#define GEMM cblas_sgemm
#define FAST_KERNELS /* conv and scan from cpu/grad_fast.c */
#include "cpu/grad_ops.inc"
#include "grad_model.inc"
#undef REAL
#undef SUFFIX
#undef GEMM
#undef FAST_KERNELS

#define REAL double
#define SUFFIX f64
#define GEMM cblas_dgemm
#include "cpu/grad_ops.inc"
#include "grad_model.inc"
#undef REAL
#undef SUFFIX
#undef GEMM

int md_model_loss_grad(md_model *m, int objective, const md_batch *batch, int threads,
                       float *grads, double *loss)
{
    if (threads > 0) omp_set_num_threads(threads);
    openblas_set_num_threads(1); /* the GEMMs run in OpenMP blocks (cpu/grad_ops.inc) */
    return loss_grad_f32(m, m->params, grads, objective, batch, loss);
}

int md_model_loss_grad_f64(const md_model *m, const double *params, int objective,
                           const md_batch *batch, double *grads, double *loss)
{
    openblas_set_num_threads(1);
    return loss_grad_f64(m, params, grads, objective, batch, loss);
}

/* The float64 kernels for tests (cpu/grad_fast.h). */
void md_grad_ref_conv_fwd(const double *x, int64_t ldx, const double *w, const double *b, int rows,
                          int64_t Ls, int E, int K, int dir, double *out)
{
    conv_fwd_f64(x, ldx, w, b, rows, Ls, E, K, dir, out);
}

void md_grad_ref_conv_bwd(const double *x, int64_t ldx, const double *w, const double *b, int rows,
                          int64_t Ls, int E, int K, int dir, const double *g_u, double *g_x,
                          double *g_w, double *g_b)
{
    conv_bwd_f64(x, ldx, w, b, rows, Ls, E, K, dir, g_u, g_x, g_w, g_b);
}

void md_grad_ref_scan_fwd(const double *u, const double *dtr, const double *bias,
                          const double *A_log, const double *Bm, const double *Cm, int64_t ldbc,
                          const double *Dv, const double *z, int64_t ldz, int rows, int64_t Ls,
                          int E, int N, int dir, double *y, double *hsave)
{
    scan_fwd_f64(u, dtr, bias, A_log, Bm, Cm, ldbc, Dv, z, ldz, rows, Ls, E, N, dir, y, hsave);
}

void md_grad_ref_scan_bwd(const double *u, const double *dtr, const double *bias,
                          const double *A_log, const double *Bm, const double *Cm, int64_t ldbc,
                          const double *Dv, const double *z, int64_t ldz, int rows, int64_t Ls,
                          int E, int N, int dir, const double *hsave, const double *g_y, double *y,
                          double *g_u, double *g_dtr, double *g_z, double *g_bc, int64_t ldg,
                          double *g_A_log, double *g_D, double *g_bias, double *partial)
{
    scan_bwd_f64(u, dtr, bias, A_log, Bm, Cm, ldbc, Dv, z, ldz, rows, Ls, E, N, dir, hsave, g_y, y,
                 g_u, g_dtr, g_z, g_bc, ldg, g_A_log, g_D, g_bias, partial);
}
