/* train.cu: the loss and gradient of a whole model on the GPU, and a whole
 * training step (clipping and AdamW on the device). The same network,
 * losses and memory scheme as the CPU (src/grad_model.inc), op for op with
 * the kernels of cuda/grad_ops.cu and cuBLAS float32 GEMMs: the residual
 * stream entering each layer and the scan states at every MD_SCAN_CHUNK-th
 * step are kept; everything else inside a layer is recomputed during its
 * backward.
 *
 * Memory: one device arena per model (grown when a batch needs more, never
 * allocated inside the step), the gradient buffer and the AdamW moments
 * mirror the parameter buffer. The classification head (a few thousand
 * multiply-adds) runs on the host on the pooled features; everything of
 * size L runs on the device.
 */
#include <cuda_runtime.h>
#include <cublas_v2.h>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "model.h"
#include "backend.h"
#include "gpu_model.h"
#include "cpu/grad_fast.h"

using namespace md_gpu;

namespace {

/* Optional per-kind timing (md_cuda_set_profiling): an event after every
 * operation of a step, the gaps summed per kind (md_cuda_train_profile). */
enum { T_GEMM, T_SCAN_F, T_SCAN_B, T_CONV, T_NORM, T_HEAD, T_EMBED, T_OTHER, T_OPT, NTKIND };
const char *const tkind_names[NTKIND] = {"GEMMs", "scan forward", "scan backward",
                                         "conv1d + SiLU (fwd, bwd)", "norms (fwd, bwd)",
                                         "head + loss", "embedding (fwd, bwd)",
                                         "add, swap, memset, copy", "clip + AdamW + copy back"};
double g_tprof[NTKIND];
std::vector<cudaEvent_t> g_tev;
std::vector<int> g_tev_kind;
size_t g_n_tev = 0;

int tmark(cudaStream_t st, int kind)
{
    if (!profiling()) return 0;
    if (g_n_tev == g_tev.size()) {
        cudaEvent_t e;
        TRY(cu(cudaEventCreate(&e), "profiling event"));
        g_tev.push_back(e);
        g_tev_kind.push_back(0);
    }
    g_tev_kind[g_n_tev] = kind;
    return cu(cudaEventRecord(g_tev[g_n_tev++], st), "profiling event");
}

void tprofile_collect(void)
{
    for (int k = 0; k < NTKIND; k++) g_tprof[k] = 0;
    for (size_t i = 1; i < g_n_tev; i++) {
        float ms = 0;
        if (cudaEventElapsedTime(&ms, g_tev[i - 1], g_tev[i]) == cudaSuccess)
            g_tprof[g_tev_kind[i]] += ms / 1e3;
    }
    cudaGetLastError();
    g_n_tev = 0;
}

/* Run one operation and mark its end for the profile. */
#define OP(kind, x)                 \
    do {                            \
        TRY(x);                     \
        TRY(tmark(s.st, (kind)));   \
    } while (0)

struct TrainCtx {
    int64_t n_params;
    float *grads;     /* (n_params) */
    float *m, *v;     /* (n_params) AdamW moments, allocated at the first step */
    uint8_t *decay;   /* (n_params) 1 where weight decay applies */
    int64_t adam_t;   /* steps of the device moments; -1: not uploaded yet */
    double *dsum;     /* (2) device accumulators: loss, sum of squares */
    void *arena;
    size_t arena_bytes;
};

void ctx_release(void *p)
{
    TrainCtx *t = (TrainCtx *)p;
    if (!t) return;
    cudaFree(t->grads);
    cudaFree(t->m);
    cudaFree(t->v);
    cudaFree(t->decay);
    cudaFree(t->dsum);
    cudaFree(t->arena);
    cudaGetLastError();
    free(t);
}

int get_ctx(md_model *m, GpuModel *g, TrainCtx **out)
{
    TrainCtx *t = (TrainCtx *)g->train;
    if (t && t->n_params != m->n_params) {
        ctx_release(t);
        g->train = t = nullptr;
    }
    if (!t) {
        t = (TrainCtx *)calloc(1, sizeof *t);
        if (!t) return md_error(MD_ERR_NOMEM, "out of memory");
        t->n_params = m->n_params;
        t->adam_t = -1;
        g->train = t;
        g->train_release = ctx_release;
        TRY(cu(cudaMalloc((void **)&t->grads, (size_t)m->n_params * sizeof(float)), "gradients"));
        TRY(cu(cudaMalloc((void **)&t->dsum, 2 * sizeof(double)), "accumulators"));
    }
    *out = t;
    return 0;
}

/* ---- row-major GEMMs: the CPU's gemm_nt, gemm_nn, gemm_tn_acc ---------- */

int check_rows(long long M)
{
    if (M > INT_MAX)
        return md_error(MD_ERR_ARG, "GPU training: %lld positions in one batch (at most %d): "
                        "lower --batch or --length", M, INT_MAX);
    return 0;
}

/* Column-major C = op(A) op(B) on float32 storage, in the arithmetic of
 * md_cuda_set_precision: float32, or TF32 / bf16 tensor-core products with
 * float32 accumulation. */
int sgemm(GpuModel *g, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
          const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    const float one = 1.0f;
    int p = precision();
    cublasComputeType_t cmp = p == MD_CUDA_TF32   ? CUBLAS_COMPUTE_32F_FAST_TF32
                              : p == MD_CUDA_BF16 ? CUBLAS_COMPUTE_32F_FAST_16BF
                                                  : CUBLAS_COMPUTE_32F;
    return cb(cublasGemmEx(g->blas, ta, tb, m, n, k, &one, A, CUDA_R_32F, lda, B, CUDA_R_32F, ldb,
                           &beta, C, CUDA_R_32F, ldc, cmp, CUBLAS_GEMM_DEFAULT), "GEMM");
}

/* C (M, N) = A (M, K) W^T, W (N, K) [+ beta C] */
int gemm_nt(GpuModel *g, long long M, int N, int K, const float *A, int lda, const float *W,
            int ldw, float *C, int ldc, float beta)
{
    if (M <= 0 || N <= 0) return 0;
    TRY(check_rows(M));
    return sgemm(g, CUBLAS_OP_T, CUBLAS_OP_N, N, (int)M, K, W, ldw, A, lda, beta, C, ldc);
}

/* C (M, N) = A (M, K) W, W (K, N) [+ beta C] */
int gemm_nn(GpuModel *g, long long M, int N, int K, const float *A, int lda, const float *W,
            int ldw, float *C, int ldc, float beta)
{
    if (M <= 0 || N <= 0) return 0;
    TRY(check_rows(M));
    return sgemm(g, CUBLAS_OP_N, CUBLAS_OP_N, N, (int)M, K, W, ldw, A, lda, beta, C, ldc);
}

/* dW (N, K) += G^T X, G (S, N), X (S, K) */
int gemm_tn_acc(GpuModel *g, long long S, int N, int K, const float *G, int ldg, const float *X,
                int ldx, float *dW, int ldw)
{
    if (S <= 0 || N <= 0) return 0;
    TRY(check_rows(S));
    return sgemm(g, CUBLAS_OP_N, CUBLAS_OP_T, K, N, (int)S, X, ldx, G, ldg, 1.0f, dW, ldw);
}

/* ---- one step's buffers ------------------------------------------------- */

struct Step {
    md_model *m;
    GpuModel *g;
    TrainCtx *tc;
    cudaStream_t st;
    const md_config *c;
    int B, rows, dirs, want_grads;
    long long L, T;
    int D, E, N, R, X, K, V;
    /* whole step */
    uint8_t *tok;        /* (T) */
    uint8_t *tgt;        /* (B, L) LM targets */
    uint8_t *comp;       /* (V) complement of each token id */
    float *stream;       /* (n_layer, T, D) residual stream entering each layer */
    float *h, *sf, *out, *gout, *g_r; /* (T, D) */
    float *mean_f, *rstd_f;           /* (T) */
    float *hsave_all;    /* (n_layer or 1, dirs, n_save) */
    long long n_save;    /* rows x chunks x N x E */
    float *Z;            /* (T, V) LM logits, then their gradient */
    float *Wc, *gWc;     /* (V, D) complemented embedding rows, their gradient */
    float *f, *g_f;      /* (rows, D) pooled features, their gradient */
    /* one layer */
    float *normed, *mean, *rstd;       /* (T, D), (T), (T) */
    float *xz, *g_xz;                  /* (T, 2E) */
    float *u[2], *xdbl[2], *dtr[2], *y[2], *hsave[2]; /* (T, E) (T, X) (T, E) (T, E) */
    float *o[2], *g_o;                 /* (T, D), multiplicative combine */
    float *g_y, *g_u, *g_dtr;          /* (T, E) */
    float *g_xdbl;                     /* (T, X) */
    float *g_normed;                   /* (T, D) */
    float *scan_work;                  /* md_cuda_train_scan_workspace() */

    float *P(const float *hp) const { return dp(g, m, hp); }
    float *G(const float *hp) const { return hp ? tc->grads + (hp - m->params) : nullptr; }
};

/* Carve the arena (grown when needed). */
int step_alloc(Step &s, int objective)
{
    const md_config *c = s.c;
    long long T = s.T, D = s.D, E = s.E, X = s.X;
    int mul = s.dirs == 2 && c->combine == MD_COMBINE_MUL;
    int lm = objective != MD_OBJ_CLASSIFY;
    long long chunks = (s.L + MD_SCAN_CHUNK - 1) / MD_SCAN_CHUNK;
    s.n_save = (long long)s.rows * chunks * s.N * E;
    struct Item { void **p; size_t bytes; } items[] = {
        {(void **)&s.tok, (size_t)T},
        {(void **)&s.tgt, lm ? (size_t)s.B * s.L : 0},
        {(void **)&s.comp, (size_t)s.V},
        {(void **)&s.stream, (size_t)c->n_layer * T * D * 4},
        {(void **)&s.h, (size_t)T * D * 4},
        {(void **)&s.sf, (size_t)T * D * 4},
        {(void **)&s.out, (size_t)T * D * 4},
        {(void **)&s.gout, (size_t)T * D * 4},
        {(void **)&s.g_r, (size_t)T * D * 4},
        {(void **)&s.mean_f, (size_t)T * 4},
        {(void **)&s.rstd_f, (size_t)T * 4},
        {(void **)&s.hsave_all, (size_t)(s.want_grads ? c->n_layer : 1) * s.dirs * s.n_save * 4},
        {(void **)&s.Z, lm ? (size_t)T * s.V * 4 : 0},
        {(void **)&s.Wc, (size_t)s.V * D * 4},
        {(void **)&s.gWc, (size_t)s.V * D * 4},
        {(void **)&s.f, (size_t)s.rows * D * 4},
        {(void **)&s.g_f, (size_t)s.rows * D * 4},
        {(void **)&s.normed, (size_t)T * D * 4},
        {(void **)&s.mean, (size_t)T * 4},
        {(void **)&s.rstd, (size_t)T * 4},
        {(void **)&s.xz, (size_t)T * 2 * E * 4},
        {(void **)&s.g_xz, (size_t)T * 2 * E * 4},
        {(void **)&s.u[0], (size_t)T * E * 4},
        {(void **)&s.u[1], s.dirs == 2 ? (size_t)T * E * 4 : 0},
        {(void **)&s.xdbl[0], (size_t)T * X * 4},
        {(void **)&s.xdbl[1], s.dirs == 2 ? (size_t)T * X * 4 : 0},
        {(void **)&s.dtr[0], (size_t)T * E * 4},
        {(void **)&s.dtr[1], s.dirs == 2 ? (size_t)T * E * 4 : 0},
        {(void **)&s.y[0], (size_t)T * E * 4},
        {(void **)&s.y[1], s.dirs == 2 ? (size_t)T * E * 4 : 0},
        {(void **)&s.o[0], mul ? (size_t)T * D * 4 : 0},
        {(void **)&s.o[1], mul ? (size_t)T * D * 4 : 0},
        {(void **)&s.g_o, mul ? (size_t)T * D * 4 : 0},
        {(void **)&s.g_y, (size_t)T * E * 4},
        {(void **)&s.g_u, (size_t)T * E * 4},
        {(void **)&s.g_dtr, (size_t)T * E * 4},
        {(void **)&s.g_xdbl, (size_t)T * X * 4},
        {(void **)&s.g_normed, (size_t)T * D * 4},
        {(void **)&s.scan_work, md_cuda_train_scan_workspace(s.rows, s.L, s.E, s.N)},
    };
    size_t need = 0;
    for (const Item &it : items) need += up256(it.bytes);
    TrainCtx *tc = s.tc;
    if (tc->arena_bytes < need) {
        cudaFree(tc->arena);
        tc->arena = nullptr;
        tc->arena_bytes = 0;
        if (cudaMalloc(&tc->arena, need) != cudaSuccess) {
            cudaGetLastError();
            tc->arena = nullptr;
            size_t fr = 0, tot = 0;
            cudaMemGetInfo(&fr, &tot);
            return md_error(MD_ERR_NOMEM,
                            "GPU out of memory on cuda:%d: a training step over %d x %lld "
                            "positions needs %.2f GB of activations, %.2f GB free: lower --batch "
                            "or --length", s.g->device, s.B, s.L, need / 1e9, fr / 1e9);
        }
        tc->arena_bytes = need;
    }
    char *base = (char *)tc->arena;
    for (const Item &it : items) {
        *it.p = it.bytes ? base : nullptr;
        base += up256(it.bytes);
    }
    return 0;
}

/* ---- the network, as src/grad_model.inc ---------------------------------- */

int dir_fwd(Step &s, const md_mixer_params *p, int d, int scan)
{
    int E = s.E, N = s.N, R = s.R, X = s.X, dir = d ? -1 : 1;
    OP(T_CONV, md_cuda_conv_fwd(s.xz, 2 * E, s.P(p->conv_w), s.P(p->conv_b), s.rows, s.L, E, s.K, dir,
                         s.u[d], s.st));
    OP(T_GEMM, gemm_nt(s.g, s.T, X, E, s.u[d], E, s.P(p->x_proj), E, s.xdbl[d], X, 0));
    OP(T_GEMM, gemm_nt(s.g, s.T, E, R, s.xdbl[d], X, s.P(p->dt_proj_w), R, s.dtr[d], E, 0));
    if (scan)
        OP(T_SCAN_F, md_cuda_scan_fwd_save(s.u[d], s.dtr[d], s.P(p->dt_proj_b), s.P(p->A_log),
                                  s.xdbl[d] + R, s.xdbl[d] + R + N, X, s.P(p->D), s.xz + E, 2 * E,
                                  s.rows, s.L, E, N, dir, s.y[d], s.hsave[d], s.scan_work, s.st));
    return 0;
}

int dir_bwd(Step &s, const md_mixer_params *p, int d)
{
    int E = s.E, N = s.N, R = s.R, X = s.X, dir = d ? -1 : 1;
    long long T = s.T;
    OP(T_OTHER, cu(cudaMemsetAsync(s.g_xdbl, 0, (size_t)T * X * 4, s.st), "memset"));
    OP(T_SCAN_B, md_cuda_scan_bwd(s.u[d], s.dtr[d], s.P(p->dt_proj_b), s.P(p->A_log), s.xdbl[d] + R,
                         s.xdbl[d] + R + N, X, s.P(p->D), s.xz + E, 2 * E, s.rows, s.L, E, N, dir,
                         s.hsave[d], s.g_y, s.y[d], s.g_u, s.g_dtr, s.g_xz + E, s.g_xdbl + R, X,
                         s.G(p->A_log), s.G(p->D), s.G(p->dt_proj_b), s.scan_work, s.st));
    OP(T_GEMM, gemm_nn(s.g, T, R, E, s.g_dtr, E, s.P(p->dt_proj_w), R, s.g_xdbl, X, 0));
    OP(T_GEMM, gemm_tn_acc(s.g, T, E, R, s.g_dtr, E, s.xdbl[d], X, s.G(p->dt_proj_w), R));
    OP(T_GEMM, gemm_nn(s.g, T, E, X, s.g_xdbl, X, s.P(p->x_proj), E, s.g_u, E, 1));
    OP(T_GEMM, gemm_tn_acc(s.g, T, X, E, s.g_xdbl, X, s.u[d], E, s.G(p->x_proj), E));
    /* g_dtr is free again: the conv backward's scratch */
    return md_cuda_conv_bwd(s.xz, 2 * E, s.P(p->conv_w), s.P(p->conv_b), s.rows, s.L, E, s.K, dir,
                            s.g_u, s.g_dtr, s.g_xz, s.G(p->conv_w), s.G(p->conv_b), s.st);
}

/* Layer forward from r (T, D) into hidden; hidden NULL: the recomputation
 * of the backward (no scan unless the combine multiplies). */
int layer_fwd(Step &s, const md_layer_params *l, const float *r, float *hidden)
{
    const md_config *c = s.c;
    long long T = s.T;
    int D = s.D, E = s.E;
    int bidir = s.dirs == 2, mul = bidir && c->combine == MD_COMBINE_MUL, scan = hidden || mul;
    OP(T_NORM, md_cuda_norm_fwd_stats(c->rms_norm, r, s.P(l->norm_w), s.P(l->norm_b), T, D, c->norm_eps,
                               s.normed, s.mean, s.rstd, s.st));
    OP(T_GEMM, gemm_nt(s.g, T, 2 * E, D, s.normed, D, s.P(l->fwd.in_proj), D, s.xz, 2 * E, 0));
    TRY(dir_fwd(s, &l->fwd, 0, scan));
    if (bidir) TRY(dir_fwd(s, &l->rev, 1, scan));
    if (mul) {
        OP(T_GEMM, gemm_nt(s.g, T, D, E, s.y[0], E, s.P(l->fwd.out_proj), E, s.o[0], D, 0));
        OP(T_GEMM, gemm_nt(s.g, T, D, E, s.y[1], E, s.P(l->fwd.out_proj), E, s.o[1], D, 0));
        if (hidden) OP(T_OTHER, md_cuda_mul(s.o[0], s.o[1], T * D, hidden, s.st));
    } else if (hidden) {
        if (bidir) OP(T_OTHER, md_cuda_add(s.y[0], s.y[1], T * E, s.y[0], s.st));
        OP(T_GEMM, gemm_nt(s.g, T, D, E, s.y[0], E, s.P(l->fwd.out_proj), E, hidden, D, 0));
    }
    return 0;
}

int layer_bwd(Step &s, const md_layer_params *l, const float *r, const float *g_h, float *g_r)
{
    const md_config *c = s.c;
    long long T = s.T;
    int D = s.D, E = s.E, bidir = s.dirs == 2;
    TRY(layer_fwd(s, l, r, nullptr));
    OP(T_OTHER, cu(cudaMemsetAsync(s.g_xz, 0, (size_t)T * 2 * E * 4, s.st), "memset"));
    const float *W_out = s.P(l->fwd.out_proj);
    float *dW_out = s.G(l->fwd.out_proj);
    if (!bidir || c->combine == MD_COMBINE_ADD) {
        OP(T_GEMM, gemm_nn(s.g, T, E, D, g_h, D, W_out, E, s.g_y, E, 0));
        for (int d = 0; d < 1 + bidir; d++) TRY(dir_bwd(s, d ? &l->rev : &l->fwd, d));
        if (bidir) OP(T_OTHER, md_cuda_add(s.y[0], s.y[1], T * E, s.y[0], s.st));
        OP(T_GEMM, gemm_tn_acc(s.g, T, D, E, g_h, D, s.y[0], E, dW_out, E));
    } else {
        for (int d = 0; d < 2; d++) {
            OP(T_OTHER, md_cuda_mul(g_h, s.o[1 - d], T * D, s.g_o, s.st));
            OP(T_GEMM, gemm_nn(s.g, T, E, D, s.g_o, D, W_out, E, s.g_y, E, 0));
            OP(T_GEMM, gemm_tn_acc(s.g, T, D, E, s.g_o, D, s.y[d], E, dW_out, E));
            TRY(dir_bwd(s, d ? &l->rev : &l->fwd, d));
        }
    }
    OP(T_GEMM, gemm_nn(s.g, T, D, 2 * E, s.g_xz, 2 * E, s.P(l->fwd.in_proj), D, s.g_normed, D, 0));
    OP(T_GEMM, gemm_tn_acc(s.g, T, 2 * E, D, s.g_xz, 2 * E, s.normed, D, s.G(l->fwd.in_proj), D));
    return md_cuda_norm_bwd(c->rms_norm, r, s.P(l->norm_w), s.mean, s.rstd, s.g_normed, T, D, g_r,
                            1, s.G(l->norm_w), s.G(l->norm_b), s.st);
}

/* Softmax cross-entropy of z (C) against y: the loss, and g = (p - onehot)
 * scale. */
double xent(const double *z, int C, int y, double scale, double *g)
{
    double mx = z[0], sum = 0;
    for (int k = 1; k < C; k++) mx = z[k] > mx ? z[k] : mx;
    for (int k = 0; k < C; k++) sum += exp(z[k] - mx);
    for (int k = 0; g && k < C; k++) g[k] = exp(z[k] - mx) / sum * scale - (k == y ? scale : 0);
    return log(sum) + mx - z[y];
}

/* Classification head on the host over the pooled features: loss, and the
 * head's gradient and the features' gradient on the device. */
int classify_head(Step &s, const md_batch *bt, double *loss)
{
    const md_config *c = s.c;
    const md_model *m = s.m;
    int B = s.B, D = s.D, C = c->n_classes, ps = c->arch == MD_ARCH_CADUCEUS_PS;
    if (C < 1) return md_error(MD_ERR_ARG, "the model has no classification head");
    OP(T_HEAD, md_cuda_pool(c->pool, s.out, s.tok, s.rows, s.L, D, s.f, nullptr, nullptr, s.st));
    std::vector<float> f((size_t)s.rows * D), gf((size_t)s.rows * D, 0.0f);
    std::vector<float> gw((size_t)C * D, 0.0f), gb((size_t)C, 0.0f);
    OP(T_OTHER, cu(cudaMemcpyAsync(f.data(), s.f, f.size() * 4, cudaMemcpyDeviceToHost, s.st), "copy"));
    TRY(cu(cudaStreamSynchronize(s.st), "pooling"));
    if (ps)
        for (long long i = 0; i < (long long)B * D; i++) f[i] = (f[i] + f[(size_t)B * D + i]) / 2;
    double wsum = 0, total = 0;
    for (int b = 0; b < B; b++) {
        int y = bt->labels[b];
        if (y < 0 || y >= C) return md_error(MD_ERR_ARG, "label %d outside the %d classes", y, C);
        wsum += bt->class_weights ? bt->class_weights[y] : 1.0;
    }
    std::vector<double> z(C), gz(C);
    for (int b = 0; b < B; b++) {
        int y = bt->labels[b];
        double wb = bt->class_weights ? bt->class_weights[y] : 1.0;
        for (int k = 0; k < C; k++) {
            double acc = m->head_b[k];
            for (int d = 0; d < D; d++) acc += (double)m->head_w[(size_t)k * D + d] * f[(size_t)b * D + d];
            z[k] = acc;
        }
        total += wb * xent(z.data(), C, y, wb / wsum, s.want_grads ? gz.data() : nullptr);
        if (!s.want_grads) continue;
        for (int k = 0; k < C; k++) {
            gb[k] += (float)gz[k];
            for (int d = 0; d < D; d++) {
                gw[(size_t)k * D + d] += (float)(gz[k] * f[(size_t)b * D + d]);
                gf[(size_t)b * D + d] += (float)(gz[k] * m->head_w[(size_t)k * D + d]);
            }
        }
    }
    *loss = total / wsum;
    if (!s.want_grads) return 0;
    if (ps)
        for (long long i = 0; i < (long long)B * D; i++) gf[(size_t)B * D + i] = gf[i] = gf[i] / 2;
    OP(T_OTHER, cu(cudaMemcpyAsync(s.g_f, gf.data(), gf.size() * 4, cudaMemcpyHostToDevice, s.st), "copy"));
    OP(T_OTHER, cu(cudaMemcpyAsync(s.G(m->head_w), gw.data(), gw.size() * 4, cudaMemcpyHostToDevice, s.st),
           "copy"));
    OP(T_OTHER, cu(cudaMemcpyAsync(s.G(m->head_b), gb.data(), gb.size() * 4, cudaMemcpyHostToDevice, s.st),
           "copy"));
    OP(T_HEAD, md_cuda_pool(c->pool, s.out, s.tok, s.rows, s.L, D, nullptr, s.g_f, s.gout, s.st));
    /* the copies read host vectors that die with this function */
    return cu(cudaStreamSynchronize(s.st), "classification head");
}

/* Language-model heads tied to the embedding (PS: the reverse stream
 * against the complemented rows) as GEMMs around the cross-entropy. */
int lm_head(Step &s, const md_batch *bt, double *loss)
{
    const md_model *m = s.m;
    int B = s.B, D = s.D, V = s.V, ps = s.c->arch == MD_ARCH_CADUCEUS_PS;
    long long BL = (long long)B * s.L;
    long long count = 0;
    for (long long i = 0; i < BL; i++) {
        int y = bt->targets[i];
        if (y == MD_TOK_PAD) continue;
        if (y >= V) return md_error(MD_ERR_ARG, "target token %d outside the vocabulary", y);
        count++;
    }
    const float *W = s.P(m->embedding);
    OP(T_OTHER, cu(cudaMemcpyAsync(s.tgt, bt->targets, (size_t)BL, cudaMemcpyHostToDevice, s.st), "copy"));
    OP(T_GEMM, gemm_nt(s.g, BL, V, D, s.out, D, W, D, s.Z, V, 0));
    if (ps) {
        OP(T_HEAD, md_cuda_permute_rows(W, s.comp, V, D, s.Wc, 0, s.st));
        OP(T_GEMM, gemm_nt(s.g, BL, V, D, s.out + BL * D, D, s.Wc, D, s.Z + BL * V, V, 0));
    }
    OP(T_OTHER, cu(cudaMemsetAsync(s.tc->dsum, 0, sizeof(double), s.st), "memset"));
    OP(T_HEAD, md_cuda_lm_xent(s.Z, s.tgt, B, s.L, V, ps, count ? (float)(1.0 / count) : 0.0f,
                        s.tc->dsum, s.st));
    double total = 0;
    OP(T_OTHER, cu(cudaMemcpyAsync(&total, s.tc->dsum, sizeof total, cudaMemcpyDeviceToHost, s.st), "copy"));
    TRY(cu(cudaStreamSynchronize(s.st), "LM loss"));
    *loss = count ? total / count : 0;
    if (!s.want_grads) return 0;
    float *gW = s.G(m->embedding);
    OP(T_GEMM, gemm_nn(s.g, BL, D, V, s.Z, V, W, D, s.gout, D, 0));
    OP(T_GEMM, gemm_tn_acc(s.g, BL, V, D, s.Z, V, s.out, D, gW, D));
    if (ps) {
        OP(T_GEMM, gemm_nn(s.g, BL, D, V, s.Z + BL * V, V, s.Wc, D, s.gout + BL * D, D, 0));
        OP(T_OTHER, cu(cudaMemsetAsync(s.gWc, 0, (size_t)V * D * 4, s.st), "memset"));
        OP(T_GEMM, gemm_tn_acc(s.g, BL, V, D, s.Z + BL * V, V, s.out + BL * D, D, s.gWc, D));
        OP(T_HEAD, md_cuda_permute_rows(s.gWc, s.comp, V, D, gW, 1, s.st));
    }
    return 0;
}

/* Loss, and with want_grads the gradient into tc->grads (zeroed here). */
int loss_grad(md_model *m, int dev, int objective, const md_batch *bt, int want_grads,
              double *loss, GpuModel **gp, TrainCtx **tp)
{
    const md_config *c = &m->cfg;
    Step s = {};
    s.m = m;
    s.c = c;
    s.B = bt->B;
    s.L = bt->L;
    int ps = c->arch == MD_ARCH_CADUCEUS_PS, swap = ps && c->fused_add_norm;
    s.rows = ps ? 2 * s.B : s.B;
    s.dirs = c->arch == MD_ARCH_MAMBA ? 1 : 2;
    s.T = (long long)s.rows * s.L;
    s.D = c->d_model;
    s.E = c->expand * c->d_model;
    s.N = c->d_state;
    s.R = c->dt_rank;
    s.X = s.R + 2 * s.N;
    s.K = c->d_conv;
    s.V = c->vocab_size;
    s.want_grads = want_grads;
    if (s.B < 1 || s.L < 1) return md_error(MD_ERR_ARG, "empty batch");
    if (objective != MD_OBJ_CLASSIFY && !bt->targets)
        return md_error(MD_ERR_ARG, "language-model objectives need targets");
    if (objective == MD_OBJ_CLASSIFY && !bt->labels)
        return md_error(MD_ERR_ARG, "classification needs labels");
    if (s.rows > 65535) return md_error(MD_ERR_ARG, "GPU training: %d rows > 65535: lower --batch", s.rows);
    long long T = s.T, D = s.D;
    int B = s.B;
    std::vector<uint8_t> tok((size_t)T), comp((size_t)s.V);
    memcpy(tok.data(), bt->tokens, (size_t)B * s.L);
    if (ps) {
        memcpy(tok.data() + (size_t)B * s.L, bt->tokens, (size_t)B * s.L);
        for (int b = 0; b < B; b++) md_revcomp_tokens(tok.data() + (size_t)(B + b) * s.L, s.L);
    }
    for (long long i = 0; i < T; i++)
        if (tok[i] >= s.V)
            return md_error(MD_ERR_ARG, "token id %d outside the vocabulary", tok[i]);
    for (int v = 0; v < s.V; v++) comp[v] = (uint8_t)md_complement_token(v);

    TRY(get_model(m, dev, 0, &s.g));
    TRY(get_ctx(m, s.g, &s.tc));
    *gp = s.g;
    *tp = s.tc;
    s.st = s.g->stream;
    TRY(step_alloc(s, objective));
    cudaStream_t st = s.st;
    g_n_tev = 0;
    TRY(tmark(st, T_OTHER)); /* the start */
    OP(T_OTHER, cu(cudaMemcpyAsync(s.tok, tok.data(), (size_t)T, cudaMemcpyHostToDevice, st), "copy"));
    OP(T_OTHER, cu(cudaMemcpyAsync(s.comp, comp.data(), (size_t)s.V, cudaMemcpyHostToDevice, st), "copy"));
    if (want_grads)
        OP(T_OTHER, cu(cudaMemsetAsync(s.tc->grads, 0, (size_t)m->n_params * 4, st), "memset"));

    int nl = c->n_layer;
    OP(T_EMBED, md_cuda_embed_gather(s.tok, s.P(m->embedding), T, (int)D, s.h, st));
    if (swap) OP(T_OTHER, md_cuda_swap_strands(s.h, B, s.L, (int)D, s.stream, st));
    else OP(T_OTHER, cu(cudaMemcpyAsync(s.stream, s.h, (size_t)T * D * 4, cudaMemcpyDeviceToDevice, st), "copy"));
    for (int li = 0; li < nl; li++) {
        const float *r = s.stream + li * T * D;
        for (int d = 0; d < s.dirs; d++)
            s.hsave[d] = s.hsave_all + ((want_grads ? li : 0) * s.dirs + d) * s.n_save;
        TRY(layer_fwd(s, &m->layers[li], r, s.h));
        float *sum = li + 1 < nl ? (swap ? s.g_r : s.stream + (li + 1) * T * D) : s.sf;
        OP(T_OTHER, md_cuda_add(r, s.h, T * D, sum, st));
        if (li + 1 < nl && swap) OP(T_OTHER, md_cuda_swap_strands(s.g_r, B, s.L, (int)D, s.stream + (li + 1) * T * D, st));
    }
    OP(T_NORM, md_cuda_norm_fwd_stats(c->rms_norm, s.sf, s.P(m->norm_f_w), s.P(m->norm_f_b), T, (int)D,
                               c->norm_eps, s.out, s.mean_f, s.rstd_f, st));
    OP(T_OTHER, cu(cudaMemsetAsync(s.gout, 0, (size_t)T * D * 4, st), "memset"));
    OP(T_HEAD, objective == MD_OBJ_CLASSIFY ? classify_head(s, bt, loss) : lm_head(s, bt, loss));
    if (!want_grads) return 0;
    float *g_s = s.h; /* gradient of the sum entering the current layer's output */
    OP(T_NORM, md_cuda_norm_bwd(c->rms_norm, s.sf, s.P(m->norm_f_w), s.mean_f, s.rstd_f, s.gout, T,
                         (int)D, g_s, 0, s.G(m->norm_f_w), s.G(m->norm_f_b), st));
    for (int li = nl - 1; li >= 0; li--) {
        OP(T_OTHER, cu(cudaMemcpyAsync(s.g_r, g_s, (size_t)T * D * 4, cudaMemcpyDeviceToDevice, st), "copy"));
        for (int d = 0; d < s.dirs; d++) s.hsave[d] = s.hsave_all + (li * s.dirs + d) * s.n_save;
        TRY(layer_bwd(s, &m->layers[li], s.stream + li * T * D, g_s, s.g_r));
        if (swap) OP(T_OTHER, md_cuda_swap_strands(s.g_r, B, s.L, (int)D, g_s, st));
        else OP(T_OTHER, cu(cudaMemcpyAsync(g_s, s.g_r, (size_t)T * D * 4, cudaMemcpyDeviceToDevice, st), "copy"));
    }
    OP(T_EMBED, md_cuda_embed_bwd(s.tok, g_s, T, (int)D, s.V, s.G(m->embedding), st));
    return 0;
}

int check_device(int device)
{
    int n = md_cuda_device_count();
    if (device < 0 || device >= n)
        return md_error(MD_ERR_ARG, "device cuda:%d asked for, %d CUDA device(s) found", device, n);
    return 0;
}

} /* namespace */

extern "C" {

int md_cuda_loss_grad(struct md_model *m, int device, int objective, const struct md_batch *batch,
                      float *grads, double *loss)
{
    TRY(check_device(device));
    GpuModel *g = nullptr;
    TrainCtx *t = nullptr;
    TRY(loss_grad(m, device, objective, batch, grads != nullptr, loss, &g, &t));
    if (!grads) return cu(cudaStreamSynchronize(g->stream), "training step");
    std::vector<float> tmp((size_t)m->n_params);
    TRY(cu(cudaMemcpyAsync(tmp.data(), t->grads, tmp.size() * 4, cudaMemcpyDeviceToHost, g->stream),
           "gradient copy"));
    TRY(cu(cudaStreamSynchronize(g->stream), "training step"));
    if (profiling()) tprofile_collect();
    for (size_t i = 0; i < tmp.size(); i++) grads[i] += tmp[i];
    return 0;
}

int md_cuda_train_step(struct md_model *m, int device, int objective,
                       const struct md_batch *batch, struct md_adamw *a, double lr, double beta1,
                       double beta2, double eps, double weight_decay, double clip, double *loss,
                       double *grad_norm)
{
    TRY(check_device(device));
    if (a->n != m->n_params)
        return md_error(MD_ERR_ARG, "AdamW moments of %lld parameters for a model of %lld",
                        (long long)a->n, (long long)m->n_params);
    GpuModel *g = nullptr;
    TrainCtx *t = nullptr;
    TRY(loss_grad(m, device, objective, batch, 1, loss, &g, &t));
    cudaStream_t st = g->stream;
    size_t bytes = (size_t)m->n_params * 4;
    if (!t->m) {
        TRY(cu(cudaMalloc((void **)&t->m, bytes), "AdamW moments"));
        TRY(cu(cudaMalloc((void **)&t->v, bytes), "AdamW moments"));
        TRY(cu(cudaMalloc((void **)&t->decay, (size_t)m->n_params), "AdamW decay mask"));
        std::vector<uint8_t> mask((size_t)m->n_params, 0);
        for (int i = 0; i < m->n_table; i++)
            memset(mask.data() + m->table[i].offset, m->table[i].no_decay ? 0 : 1,
                   (size_t)m->table[i].numel);
        TRY(cu(cudaMemcpy(t->decay, mask.data(), mask.size(), cudaMemcpyHostToDevice), "copy"));
    }
    if (t->adam_t != a->t) { /* a fresh run or a resumed one: the host moments */
        TRY(cu(cudaMemcpyAsync(t->m, a->m, bytes, cudaMemcpyHostToDevice, st), "moment upload"));
        TRY(cu(cudaMemcpyAsync(t->v, a->v, bytes, cudaMemcpyHostToDevice, st), "moment upload"));
        t->adam_t = a->t;
    }
    TRY(cu(cudaMemsetAsync(t->dsum + 1, 0, sizeof(double), st), "memset"));
    TRY(md_cuda_sumsq(t->grads, m->n_params, t->dsum + 1, st));
    double ss = 0;
    TRY(cu(cudaMemcpyAsync(&ss, t->dsum + 1, sizeof ss, cudaMemcpyDeviceToHost, st), "copy"));
    TRY(cu(cudaStreamSynchronize(st), "gradient norm"));
    double norm = sqrt(ss);
    *grad_norm = norm;
    if (!std::isfinite(*loss) || !std::isfinite(norm)) return 0; /* the caller reports it */
    float scale = clip > 0 && norm > clip ? (float)(clip / (norm + 1e-6)) : 1.0f;
    a->t++;
    TRY(md_cuda_adamw(g->params, t->grads, t->m, t->v, t->decay, m->n_params, scale, (float)lr,
                      (float)beta1, (float)beta2, (float)eps, (float)weight_decay, a->t, st));
    t->adam_t = a->t;
    TRY(cu(cudaMemcpyAsync(m->params, g->params, bytes, cudaMemcpyDeviceToHost, st),
           "parameter copy"));
    TRY(tmark(st, T_OPT));
    TRY(cu(cudaStreamSynchronize(st), "training step"));
    if (profiling()) tprofile_collect();
    return params_updated(m, g);
}

int md_cuda_train_profile(double *seconds, const char **names, int n)
{
    for (int k = 0; k < n && k < NTKIND; k++) {
        if (seconds) seconds[k] = g_tprof[k];
        if (names) names[k] = tkind_names[k];
    }
    return NTKIND;
}

int md_cuda_train_sync_moments(struct md_model *m, struct md_adamw *a)
{
    GpuModel *g = (GpuModel *)m->gpu;
    TrainCtx *t = g ? (TrainCtx *)g->train : nullptr;
    if (!t || !t->m || t->adam_t != a->t) return 0; /* the host moments are current */
    size_t bytes = (size_t)m->n_params * 4;
    TRY(cu(cudaSetDevice(g->device), "set device"));
    TRY(cu(cudaMemcpyAsync(a->m, t->m, bytes, cudaMemcpyDeviceToHost, g->stream), "moment copy"));
    TRY(cu(cudaMemcpyAsync(a->v, t->v, bytes, cudaMemcpyDeviceToHost, g->stream), "moment copy"));
    return cu(cudaStreamSynchronize(g->stream), "moment copy");
}

} /* extern "C" */
