/* train_grad.c: losses and gradients of whole models on the CPU, in float32
 * for training and float64 for gradient checks, from one source
 * (cpu/grad_ops.inc, grad_model.inc). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include <omp.h>

#include "model.h"

#define REAL float
#define SUFFIX f32
#define GEMM cblas_sgemm
#include "cpu/grad_ops.inc"
#include "grad_model.inc"
#undef REAL
#undef SUFFIX
#undef GEMM

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
    openblas_set_num_threads(omp_get_max_threads()); /* inference passes set it to 1 */
    return loss_grad_f32(m, m->params, grads, objective, batch, loss);
}

int md_model_loss_grad_f64(const md_model *m, const double *params, int objective,
                           const md_batch *batch, double *grads, double *loss)
{
    return loss_grad_f64(m, params, grads, objective, batch, loss);
}
