/* train_check.c: the GPU training ops and steps (cuda/grad_ops.cu,
 * cuda/train.cu) against the CPU (src/cpu/grad_fast.c, src/train_grad.c,
 * src/optim.c).
 *
 * 1. Ops: causal conv1d + SiLU and the selective scan, forward and
 *    backward, on fresh random inputs: outputs the op writes are poisoned
 *    with NaN beforehand, outputs it accumulates into start from the same
 *    random values on both sides. Shapes: the Caduceus-131k size (E 512),
 *    a mamba-130m-like size (E 1536), the small default size; odd lengths,
 *    L = 1, lengths around the state-saving chunk, E not a multiple of 32,
 *    N 4 to 64, both directions, batches wide enough for the scan backward
 *    to walk the chunks in one thread.
 * 2. Whole models: loss and every parameter's gradient of
 *    md_cuda_loss_grad against md_model_loss_grad, per tensor, for the
 *    three architectures and every objective and pooling.
 * 3. Training steps: two md_cuda_train_step calls (clipping, AdamW on the
 *    device) against md_model_loss_grad + md_clip_grad_norm + md_adamw_step.
 * 4. Layers run in time chunks (md_cuda_set_train_chunk): 2. and 3. again
 *    with chunk lengths that split the scan's own chunks and the conv1d's
 *    context, down to 1.
 *
 *   train_check [--seed N] [--quick]
 * Exit status 0 when every check passes. Built by tests/gpu/run-gpu-tests.sh.
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cuda_runtime.h>

#include "model.h"
#include "cpu/grad_fast.h"
#include "../cuda/cuda_backend.h"

#include "check_common.h"

static int failures;

static void die_cuda(cudaError_t e, const char *what)
{
    if (e == cudaSuccess) return;
    fprintf(stderr, "CUDA %s: %s\n", what, cudaGetErrorString(e));
    exit(2);
}

static float *rand_buf(int64_t n, double lo, double hi)
{
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * urand());
    return x;
}

static float *dup_buf(const float *x, int64_t n)
{
    float *y = malloc((size_t)n * sizeof *y);
    memcpy(y, x, (size_t)n * sizeof *y);
    return y;
}

static float *to_dev(const float *x, int64_t n)
{
    float *d;
    die_cuda(cudaMalloc((void **)&d, (size_t)n * sizeof *d), "malloc");
    die_cuda(cudaMemcpy(d, x, (size_t)n * sizeof *d, cudaMemcpyHostToDevice), "upload");
    return d;
}

/* A device buffer of n floats, NaN-poisoned. */
static float *dev_poisoned(int64_t n)
{
    float *h = malloc((size_t)n * sizeof *h);
    poison(h, n);
    float *d = to_dev(h, n);
    free(h);
    return d;
}

static float *to_host(const float *d, int64_t n)
{
    float *h = malloc((size_t)n * sizeof *h);
    die_cuda(cudaDeviceSynchronize(), "kernel");
    die_cuda(cudaMemcpy(h, d, (size_t)n * sizeof *h, cudaMemcpyDeviceToHost), "download");
    return h;
}

/* Relative L2 error of g against c over n elements; non-finite g counted. */
static double rel_err(const float *g, const float *c, int64_t n, int64_t *nonfinite)
{
    double se = 0, sr = 0;
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(g[i])) {
            bad++;
            continue;
        }
        double d = (double)g[i] - c[i];
        se += d * d;
        sr += (double)c[i] * c[i];
    }
    if (nonfinite) *nonfinite += bad;
    return sr > 0 ? sqrt(se / sr) : sqrt(se);
}

/* Compare a device result with the CPU's; prints one line. */
static void expect(const char *op, const char *shape, const char *what, const float *dev,
                   const float *cpu, int64_t n, double bound)
{
    float *g = to_host(dev, n);
    int64_t bad = 0;
    double e = rel_err(g, cpu, n, &bad);
    int ok = bad == 0 && e < bound;
    if (!ok) failures++;
    printf("  %-14s %-34s %-9s rel %9.2e  nan %6lld  %s\n", op, shape, what, e, (long long)bad,
           ok ? "ok" : "FAIL");
    free(g);
}

/* ---- ops -------------------------------------------------------------------- */

static void check_conv(int rows, int64_t Ls, int E, int K, int dir)
{
    int64_t ldx = 2 * E, T = rows * Ls;
    char shape[64];
    snprintf(shape, sizeof shape, "rows %d L %lld E %d K %d dir %+d", rows, (long long)Ls, E, K, dir);
    float *x = rand_buf(T * ldx, -2, 2), *w = rand_buf((int64_t)E * K, -0.5, 0.5),
          *b = rand_buf(E, -0.5, 0.5), *gu = rand_buf(T * E, -1, 1);
    float *gx = rand_buf(T * ldx, -1, 1), *gw = rand_buf((int64_t)E * K, -1, 1),
          *gb = rand_buf(E, -1, 1);
    float *d_x = to_dev(x, T * ldx), *d_w = to_dev(w, (int64_t)E * K), *d_b = to_dev(b, E),
          *d_gu = to_dev(gu, T * E), *d_gx = to_dev(gx, T * ldx), *d_gw = to_dev(gw, (int64_t)E * K),
          *d_gb = to_dev(gb, E), *d_out = dev_poisoned(T * E);
    float *out = malloc((size_t)(T * E) * sizeof *out);
    md_grad_conv_fwd(x, ldx, w, b, rows, Ls, E, K, dir, out);
    md_grad_conv_bwd(x, ldx, w, b, rows, Ls, E, K, dir, gu, gx, gw, gb);
    if (md_cuda_conv_fwd(d_x, ldx, d_w, d_b, rows, Ls, E, K, dir, d_out, NULL) < 0 ||
        md_cuda_conv_bwd(d_x, ldx, d_w, d_b, rows, Ls, E, K, dir, d_gu, d_gx, d_gw, d_gb,
                         NULL) < 0) {
        printf("  conv1d: %s FAIL\n", md_last_error());
        failures++;
    }
    expect("conv1d fwd", shape, "out", d_out, out, T * E, 1e-5);
    expect("conv1d bwd", shape, "g_x", d_gx, gx, T * ldx, 1e-5);
    expect("conv1d bwd", shape, "g_w", d_gw, gw, (int64_t)E * K, 1e-4);
    expect("conv1d bwd", shape, "g_b", d_gb, gb, E, 1e-4);
    float *all[] = {x, w, b, gu, gx, gw, gb, out};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) free(all[i]);
    float *dall[] = {d_x, d_w, d_b, d_gu, d_gx, d_gw, d_gb, d_out};
    for (size_t i = 0; i < sizeof dall / sizeof *dall; i++) cudaFree(dall[i]);
}

static void check_scan(int rows, int64_t Ls, int E, int N, int dir)
{
    int R = 8, X = R + 2 * N;
    int64_t T = rows * Ls, chunks = (Ls + MD_SCAN_CHUNK - 1) / MD_SCAN_CHUNK;
    int64_t n_save = rows * chunks * N * E, ldz = 2 * E;
    char shape[64];
    snprintf(shape, sizeof shape, "rows %d L %lld E %d N %d dir %+d", rows, (long long)Ls, E, N, dir);
    float *u = rand_buf(T * E, -1, 1), *dtr = rand_buf(T * E, -3, 1), *bias = rand_buf(E, -1, 0.5),
          *A_log = rand_buf((int64_t)E * N, -1, 1.5), *xdbl = rand_buf(T * X, -1, 1),
          *Dv = rand_buf(E, 0.5, 1.5), *z = rand_buf(T * ldz, -2, 2), *gy = rand_buf(T * E, -1, 1);
    float *gz = rand_buf(T * ldz, -1, 1), *gbc = rand_buf(T * X, -1, 1),
          *gA = rand_buf((int64_t)E * N, -1, 1), *gD = rand_buf(E, -1, 1), *gbias = rand_buf(E, -1, 1);
    float *y = malloc((size_t)(T * E) * sizeof *y), *hsave = malloc((size_t)n_save * sizeof *hsave),
          *gu = malloc((size_t)(T * E) * sizeof *gu), *gdtr = malloc((size_t)(T * E) * sizeof *gdtr),
          *y2 = malloc((size_t)(T * E) * sizeof *y2);
    float *partial = malloc((size_t)omp_get_max_threads() * (size_t)(T * 2 * N) * sizeof *partial);
    float *d_u = to_dev(u, T * E), *d_dtr = to_dev(dtr, T * E), *d_bias = to_dev(bias, E),
          *d_A = to_dev(A_log, (int64_t)E * N), *d_xdbl = to_dev(xdbl, T * X), *d_D = to_dev(Dv, E),
          *d_z = to_dev(z, T * ldz), *d_gy = to_dev(gy, T * E), *d_gz = to_dev(gz, T * ldz),
          *d_gbc = to_dev(gbc, T * X), *d_gA = to_dev(gA, (int64_t)E * N), *d_gD = to_dev(gD, E),
          *d_gbias = to_dev(gbias, E), *d_y = dev_poisoned(T * E), *d_hs = dev_poisoned(n_save),
          *d_y2 = dev_poisoned(T * E), *d_gu = dev_poisoned(T * E), *d_gdtr = dev_poisoned(T * E),
          *d_work = dev_poisoned((int64_t)(md_cuda_train_scan_workspace(rows, Ls, E, N) / 4)),
          *d_Aneg = dev_poisoned((int64_t)E * N);
    size_t fwd_bytes = md_cuda_selective_scan_workspace(rows, (long)Ls, E, N);
    float *d_fwd_work = dev_poisoned((int64_t)(fwd_bytes / 4) + 1);
    md_cuda_neg_exp(d_A, d_Aneg, (long long)E * N, NULL);
    md_grad_scan_fwd(u, dtr, bias, A_log, xdbl + R, xdbl + R + N, X, Dv, z + E, ldz, rows, Ls, E, N,
                     dir, y, hsave);
    md_grad_scan_bwd(u, dtr, bias, A_log, xdbl + R, xdbl + R + N, X, Dv, z + E, ldz, rows, Ls, E, N,
                     dir, hsave, gy, y2, gu, gdtr, gz + E, gbc + R, X, gA, gD, gbias, partial);
    if (md_cuda_scan_fwd_save(d_u, d_dtr, d_bias, d_Aneg, d_xdbl + R, d_xdbl + R + N, X, d_D,
                              d_z + E, ldz, rows, Ls, E, N, dir, NULL, NULL, d_y, d_hs, d_fwd_work,
                              fwd_bytes, NULL) < 0 ||
        md_cuda_scan_bwd(d_u, d_dtr, d_bias, d_A, d_xdbl + R, d_xdbl + R + N, X, d_D, d_z + E, ldz,
                         rows, Ls, E, N, dir, d_hs, NULL, NULL, d_gy, d_y2, d_gu, d_gdtr, d_gz + E, d_gbc + R,
                         X, d_gA, d_gD, d_gbias, d_work, NULL) < 0) {
        printf("  scan: %s FAIL\n", md_last_error());
        failures++;
    }
    expect("scan fwd", shape, "y", d_y, y, T * E, 1e-5);
    expect("scan fwd", shape, "hsave", d_hs, hsave, n_save, 1e-5);
    expect("scan bwd", shape, "y", d_y2, y2, T * E, 1e-5);
    expect("scan bwd", shape, "g_u", d_gu, gu, T * E, 1e-5);
    expect("scan bwd", shape, "g_dtr", d_gdtr, gdtr, T * E, 1e-5);
    expect("scan bwd", shape, "g_z", d_gz, gz, T * ldz, 1e-5);
    expect("scan bwd", shape, "g_B,g_C", d_gbc, gbc, T * X, 1e-5);
    expect("scan bwd", shape, "g_A_log", d_gA, gA, (int64_t)E * N, 1e-4);
    expect("scan bwd", shape, "g_D", d_gD, gD, E, 1e-4);
    expect("scan bwd", shape, "g_bias", d_gbias, gbias, E, 1e-4);
    float *all[] = {u, dtr, bias, A_log, xdbl, Dv, z, gy, gz, gbc, gA, gD, gbias, y, hsave, gu,
                    gdtr, y2, partial};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) free(all[i]);
    float *dall[] = {d_u, d_dtr, d_bias, d_A, d_xdbl, d_D, d_z, d_gy, d_gz, d_gbc, d_gA, d_gD,
                     d_gbias, d_y, d_hs, d_y2, d_gu, d_gdtr, d_work, d_Aneg, d_fwd_work};
    for (size_t i = 0; i < sizeof dall / sizeof *dall; i++) cudaFree(dall[i]);
}

/* ---- whole models ----------------------------------------------------------- */

typedef struct spec {
    const char *name;
    int arch, D, layers, B;
    int64_t L;
    int objective, pool, mul, layernorm;
} spec;

static md_model *make_model(const spec *s)
{
    md_config c;
    md_config_init(&c, s->arch, s->D, s->layers);
    if (s->mul) c.combine = MD_COMBINE_MUL;
    if (s->layernorm) c.rms_norm = 0;
    if (s->objective == MD_OBJ_CLASSIFY) {
        c.n_classes = 3;
        c.pool = s->pool;
    }
    md_model *m = md_model_init(&c, (uint64_t)(urand() * 1e15));
    if (!m) {
        fprintf(stderr, "md_model_init: %s\n", md_last_error());
        exit(2);
    }
    perturb(m);
    return m;
}

typedef struct batch_buf {
    md_batch b;
    uint8_t *tok, *tgt;
    int32_t *labels;
    float cw[3];
} batch_buf;

/* Random DNA tokens (with a [PAD] tail on row 0 for classification), LM
 * targets with some [PAD], labels of 3 classes with weights. */
static void make_batch(const spec *s, batch_buf *bb)
{
    int64_t n = (int64_t)s->B * s->L;
    bb->tok = malloc((size_t)n);
    bb->tgt = malloc((size_t)n);
    bb->labels = malloc((size_t)s->B * sizeof *bb->labels);
    const uint8_t dna[4] = {MD_TOK_A, MD_TOK_C, MD_TOK_G, MD_TOK_T};
    for (int64_t i = 0; i < n; i++) {
        bb->tok[i] = dna[(int)(urand() * 4)];
        bb->tgt[i] = urand() < 0.2 ? MD_TOK_PAD : dna[(int)(urand() * 4)];
    }
    if (s->objective == MD_OBJ_CLASSIFY && s->L > 4)
        for (int64_t t = s->L - s->L / 4; t < s->L; t++) bb->tok[t] = MD_TOK_PAD;
    for (int b = 0; b < s->B; b++) bb->labels[b] = (int32_t)(urand() * 3);
    bb->cw[0] = 1.0f;
    bb->cw[1] = 2.0f;
    bb->cw[2] = 0.5f;
    bb->b = (md_batch){.B = s->B, .L = s->L, .tokens = bb->tok,
                       .targets = s->objective == MD_OBJ_CLASSIFY ? NULL : bb->tgt,
                       .labels = bb->labels,
                       .class_weights = s->objective == MD_OBJ_CLASSIFY ? bb->cw : NULL};
}

static void free_batch(batch_buf *bb)
{
    free(bb->tok);
    free(bb->tgt);
    free(bb->labels);
}

static const char *obj_name(int o)
{
    return o == MD_OBJ_NEXT_TOKEN ? "next" : o == MD_OBJ_MLM ? "mlm" : "class";
}

static void check_model_bound(const spec *s, int precision, double bound);

static void check_model(const spec *s) { check_model_bound(s, MD_PRECISION_FP32, 1e-4); }

/* bound: on the relative L2 error of all gradients together (per tensor
 * 10x that, the loss bound/10); precision: the GPU's arithmetic. */
static void check_model_bound(const spec *s, int precision, double bound)
{
    md_model *m = make_model(s);
    batch_buf bb;
    make_batch(s, &bb);
    int64_t n = m->n_params;
    float *gc = calloc((size_t)n, sizeof *gc), *gg = calloc((size_t)n, sizeof *gg);
    double lc = 0, lg = 0, tc = omp_get_wtime();
    int rc = md_model_loss_grad(m, s->objective, &bb.b, 0, gc, &lc);
    tc = omp_get_wtime() - tc;
    double tg = omp_get_wtime();
    int rg = md_cuda_loss_grad(m, 0, precision, s->objective, &bb.b, gg, &lg);
    tg = omp_get_wtime() - tg;
    if (rc < 0 || rg < 0) {
        printf("%-26s %s\n", s->name, md_last_error());
        failures++;
    } else {
        double worst = 0, se = 0, sr = 0;
        int64_t bad = 0;
        const char *worst_name = "";
        for (int i = 0; i < m->n_table; i++) {
            const md_param_entry *e = &m->table[i];
            double er = rel_err(gg + e->offset, gc + e->offset, e->numel, &bad);
            if (er > worst) {
                worst = er;
                worst_name = e->name;
            }
        }
        for (int64_t i = 0; i < n; i++) {
            double d = (double)gg[i] - gc[i];
            se += d * d;
            sr += (double)gc[i] * gc[i];
        }
        double all = sqrt(se / (sr > 0 ? sr : 1)), lrel = fabs(lg - lc) / fabs(lc);
        int ok = bad == 0 && all < bound && worst < 10 * bound && lrel < bound / 10;
        if (!ok) failures++;
        printf("%-26s %-12s %-5s %3dx%-2d %4dx%-6lld loss %.6f rel %8.1e  grads rel %8.1e  "
               "worst %8.1e (%s)  nan %lld  gpu %.3f s cpu %.3f s  %s\n",
               s->name, md_arch_name(s->arch), obj_name(s->objective), s->D, s->layers, s->B,
               (long long)s->L, lc, lrel, all, worst, worst_name, (long long)bad, tg, tc,
               ok ? "ok" : "FAIL");
    }
    fflush(stdout);
    free(gc);
    free(gg);
    free_batch(&bb);
    md_model_free(m);
}

/* Two steps of training on the GPU and on the CPU from the same weights. */
static void check_train_step(const spec *s)
{
    md_model *m = make_model(s);
    md_model *mc = md_model_alloc(&m->cfg);
    memcpy(mc->params, m->params, (size_t)m->n_params * sizeof *m->params);
    float *p0 = dup_buf(m->params, m->n_params);
    md_adamw ag, ac;
    md_adamw_init(&ag, m->n_params);
    md_adamw_init(&ac, m->n_params);
    float *g = malloc((size_t)m->n_params * sizeof *g);
    double lr = 1e-3, clip = 0.5, worst_loss = 0;
    int ok = 1;
    for (int step = 0; step < 2 && ok; step++) {
        batch_buf bb;
        make_batch(s, &bb);
        double lc = 0, lg = 0, ng = 0;
        memset(g, 0, (size_t)m->n_params * sizeof *g);
        ok = md_model_loss_grad(mc, s->objective, &bb.b, 0, g, &lc) == 0;
        md_clip_grad_norm(g, m->n_params, clip);
        ok = ok && md_adamw_step(&ac, mc, g, lr, 0.9, 0.95, 1e-8, 0.1) == 0;
        ok = ok && md_cuda_train_step(m, 0, MD_PRECISION_FP32, s->objective, &bb.b, &ag, lr, 0.9,
                                      0.95, 1e-8, 0.1, clip, &lg, &ng) == 0;
        if (!ok) printf("train step: %s\n", md_last_error());
        double lrel = fabs(lg - lc) / fabs(lc);
        if (lrel > worst_loss) worst_loss = lrel;
        free_batch(&bb);
    }
    /* the updates (not the weights, which barely move) against each other */
    double se = 0, sr = 0;
    for (int64_t i = 0; i < m->n_params; i++) {
        double dg = (double)m->params[i] - p0[i], dc = (double)mc->params[i] - p0[i];
        se += (dg - dc) * (dg - dc);
        sr += dc * dc;
    }
    double upd = sqrt(se / (sr > 0 ? sr : 1));
    /* the moments copied back */
    ok = ok && md_cuda_train_sync_moments(m, &ag) == 0 && ag.t == ac.t;
    double mrel = rel_err(ag.m, ac.m, m->n_params, NULL), vrel = rel_err(ag.v, ac.v, m->n_params, NULL);
    ok = ok && worst_loss < 1e-5 && upd < 1e-3 && mrel < 1e-3 && vrel < 1e-3;
    if (!ok) failures++;
    printf("%-26s %-12s %-5s 2 AdamW steps, clip %.1f: loss rel %8.1e  update rel %8.1e  "
           "moments rel %8.1e %8.1e  %s\n",
           s->name, md_arch_name(s->arch), obj_name(s->objective), clip, worst_loss, upd, mrel,
           vrel, ok ? "ok" : "FAIL");
    free(g);
    free(p0);
    md_adamw_free(&ag);
    md_adamw_free(&ac);
    md_model_free(m);
    md_model_free(mc);
}

int main(int argc, char **argv)
{
    int quick, status = check_start("train_check", argc, argv, &quick);
    if (status >= 0) return status;
    uint64_t seed = rng_state;
    double t0 = omp_get_wtime();

    printf("ops (relative L2 error against the CPU; written outputs NaN-poisoned first)\n");
    /* rows, L, E, K, dir */
    check_conv(3, 1000, 40, 4, 1);
    check_conv(3, 1000, 40, 4, -1);
    check_conv(2, 1, 64, 4, 1);
    check_conv(1, 3, 33, 4, -1);
    check_conv(2, 777, 37, 2, 1);
    check_conv(2, 4097, 512, 4, -1);
    check_conv(2, 130, 64, 8, -1); /* around the kernels' 64-step blocks, d_conv 1 to 8 */
    check_conv(1, 65, 40, 1, 1);
    check_conv(3, 64, 96, 3, 1);
    if (!quick) check_conv(1, 2048, 1536, 4, 1);
    /* rows, L, E, N, dir */
    check_scan(3, 1000, 40, 16, 1);
    check_scan(3, 1000, 40, 16, -1);
    check_scan(2, 1, 64, 16, 1);
    check_scan(2, 64, 33, 16, -1);
    check_scan(2, 65, 32, 4, 1);
    check_scan(1, 129, 48, 8, -1);
    check_scan(2, 300, 64, 32, 1);
    check_scan(1, 200, 40, 64, -1);
    check_scan(2, 4097, 512, 16, 1);
    /* rows x channels that fill an H100 alone: one thread walks all chunks */
    check_scan(136, 300, 512, 16, 1);
    check_scan(136, 130, 512, 32, -1);
    check_scan(140, 200, 512, 8, -1);
    if (!quick) check_scan(1, 2048, 1536, 16, -1);

    printf("whole models: loss and every gradient, GPU against CPU\n");
    const int MB = MD_ARCH_MAMBA, PH = MD_ARCH_CADUCEUS_PH, PS = MD_ARCH_CADUCEUS_PS;
    const int NT = MD_OBJ_NEXT_TOKEN, ML = MD_OBJ_MLM, CL = MD_OBJ_CLASSIFY;
    const spec cases[] = {
        /* name, arch, D, layers, B, L, objective, pool, mul, layernorm */
        {"small", MB, 64, 2, 3, 300, NT, 0, 0, 0},
        {"small", PH, 64, 2, 3, 300, ML, 0, 0, 0},
        {"small", PS, 64, 2, 3, 300, ML, 0, 0, 0},
        {"small classify mean", PS, 64, 2, 4, 300, CL, MD_POOL_MEAN, 0, 0},
        {"small classify max", PH, 64, 2, 4, 129, CL, MD_POOL_MAX, 0, 0},
        {"small classify first", MB, 64, 2, 4, 77, CL, MD_POOL_FIRST, 0, 0},
        {"small classify last", PS, 64, 2, 4, 77, CL, MD_POOL_LAST, 0, 0},
        {"mul combine, LayerNorm", PH, 48, 2, 2, 99, ML, 0, 1, 1},
        {"L 1", PS, 64, 2, 2, 1, ML, 0, 0, 0},
        {"default 128x4", PS, 128, 4, 8, 300, CL, MD_POOL_MEAN, 0, 0},
        {"Caduceus-131k size", PS, 256, 16, 1, 4096, ML, 0, 0, 0},
        {"mamba-130m-like", MB, 768, 4, 2, 512, NT, 0, 0, 0},
        {"wide batch", PS, 128, 2, 140, 100, CL, MD_POOL_MEAN, 0, 0},
    };
    int n_cases = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n_cases; i++) {
        if (quick && cases[i].D >= 256) continue;
        check_model(&cases[i]);
    }

    /* bf16 tensor-core products: loose bounds, only to catch wrong wiring */
    check_model_bound(&cases[3], MD_PRECISION_BF16, 5e-2);

    printf("training steps\n");
    check_train_step(&cases[2]);
    check_train_step(&cases[3]);
    check_train_step(&cases[0]);

    printf("layers in time chunks (states and adjoints carried between chunks), against the "
           "CPU\n");
    /* case, chunk length: partial last chunks, lengths off the scan's
     * 64-step chunks, chunks shorter than the conv1d's context, one chunk */
    const struct { int i; long long chunk; } chunked[] = {
        {0, 64}, {1, 100}, {2, 128}, {3, 77}, {4, 50}, {5, 2}, {6, 300}, {7, 40}, {8, 1},
        {9, 128}, {10, 1024}, {11, 200},
    };
    for (size_t k = 0; k < sizeof chunked / sizeof chunked[0]; k++) {
        spec c = cases[chunked[k].i];
        if (quick && c.D >= 256) continue;
        char name[64];
        snprintf(name, sizeof name, "%s, chunks %lld", c.name, chunked[k].chunk);
        c.name = name;
        md_cuda_set_train_chunk(chunked[k].chunk);
        check_model(&c);
    }
    md_cuda_set_train_chunk(130);
    check_train_step(&cases[2]);
    md_cuda_set_train_chunk(0);

    printf("train_check: %s (%d failure%s, %.1f s, seed %llu)\n", failures ? "FAILED" : "passed",
           failures, failures == 1 ? "" : "s", omp_get_wtime() - t0, (unsigned long long)seed);
    return failures ? 1 : 0;
}
