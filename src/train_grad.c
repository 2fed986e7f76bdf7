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
    return loss_grad_f32(m, m->params, grads, objective, batch, loss, NULL);
}

int md_model_loss_grad_f64(const md_model *m, const double *params, int objective,
                           const md_batch *batch, double *grads, double *loss)
{
    openblas_set_num_threads(1);
    return loss_grad_f64(m, params, grads, objective, batch, loss, NULL);
}

int md_model_input_grad(md_model *m, const uint8_t *tokens, int B, int64_t L, int cls,
                        int threads, float *prob, float *grad)
{
    const md_config *c = &m->cfg;
    int ps = c->arch == MD_ARCH_CADUCEUS_PS, rows = ps ? 2 * B : B, V = c->vocab_size;
    int64_t D = c->d_model, T = rows * L;
    if (cls < 0 || cls >= c->n_classes)
        return md_error(MD_ERR_ARG, "class %d outside the model's %d classes", cls, c->n_classes);
    md_forward_opt fwd;
    md_forward_opt_init(&fwd);
    fwd.threads = threads;
    int ret = md_model_classify(m, tokens, B, L, &fwd, prob);
    if (ret < 0) return ret;
    if (threads > 0) omp_set_num_threads(threads);
    openblas_set_num_threads(1);
    int32_t *labels = malloc((size_t)B * sizeof *labels);
    float *g_params = calloc((size_t)m->n_params, sizeof *g_params); /* [n_params], unused */
    float *g_in = malloc((size_t)(T * D) * sizeof *g_in);             /* (rows, L, D) */
    if (!labels || !g_params || !g_in) {
        ret = md_error(MD_ERR_NOMEM, "out of memory for the gradient of %d x %lld", B, (long long)L);
        goto out;
    }
    for (int b = 0; b < B; b++) labels[b] = cls;
    md_batch batch = {.B = B, .L = L, .tokens = tokens, .labels = labels};
    double loss;
    if ((ret = loss_grad_f32(m, m->params, g_params, MD_OBJ_CLASSIFY, &batch, &loss, g_in)) < 0)
        goto out;
    /* the loss is the mean of -log p over the rows: d p_b = -B p_b d loss */
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < (int64_t)B * L; i++) {
        int64_t b = i / L, t = i % L;
        float scale = -(float)B * prob[b * c->n_classes + cls];
        const float *gf = g_in + i * D;
        const float *gr = ps ? g_in + ((B + b) * L + (L - 1 - t)) * D : NULL;
        for (int v = 0; v < V; v++) {
            const float *ev = m->embedding + (int64_t)v * D;
            const float *ec = m->embedding + (int64_t)md_complement_token(v) * D;
            float acc = 0;
            for (int64_t d = 0; d < D; d++) acc += gf[d] * ev[d] + (gr ? gr[d] * ec[d] : 0);
            grad[i * V + v] = scale * acc;
        }
    }
out:
    free(labels);
    free(g_params);
    free(g_in);
    return ret;
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
