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
#include "cuda_backend.h"
#include "gpu_model.h"

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

/* Column-major C = op(A) op(B) on float32 storage, in the arithmetic of the
 * step (g->precision): float32, or TF32 / bf16 tensor-core products with
 * float32 accumulation. */
int sgemm(GpuModel *g, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
          const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    const float one = 1.0f;
    int p = g->precision;
    cublasComputeType_t cmp = p == MD_PRECISION_TF32   ? CUBLAS_COMPUTE_32F_FAST_TF32
                              : p == MD_PRECISION_BF16 ? CUBLAS_COMPUTE_32F_FAST_16BF
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

/* Two ways to run a layer. Whole: every position of the batch at once, the
 * layer's buffers sized for all of them, the scan states of the forward
 * kept for the backward. Time chunks: one sequence at a time in chunks of
 * C positions (each with d_conv - 1 positions of context either side), the
 * scans carrying their states (forward) and adjoints (backward) from chunk
 * to chunk; the forward keeps only the state leaving each chunk: the
 * layer's memory no longer grows with the length, only the residual
 * stream does. */
long long g_train_chunk = 0; /* md_cuda_set_train_chunk: 0 automatic */
constexpr long long AUTO_CHUNK = 65536;

struct Step {
    md_model *m;
    GpuModel *g;
    TrainCtx *tc;
    cudaStream_t st;
    const md_config *c;
    int B, rows, dirs, want_grads;
    long long L, T;
    int D, E, N, R, X, K, V;
    long long C;         /* time-chunk length; 0: whole layers */
    long long n_chunks;  /* time chunks of a sequence (L / C rounded up; 0: whole layers) */
    /* whole step */
    uint8_t *tok;        /* (T) */
    uint8_t *tgt;        /* (B, L) LM targets */
    uint8_t *comp;       /* (V) complement of each token id */
    float *stream;       /* (n_layer, T, D) residual stream entering each layer */
    float *h, *sf, *out, *gout, *g_r; /* (T, D) */
    float *mean_f, *rstd_f;           /* (T) */
    float *hsave_all;    /* whole: (n_layer or 1, dirs, n_save); chunks: (n_save) */
    long long n_save;    /* rows x chunks x N x E of one scan call */
    long long n_bounds;  /* rows x dirs x L / C x N x E: one layer's bounds */
    float *Z;            /* (T, V) LM logits, then their gradient */
    float *Wc, *gWc;     /* (V, D) complemented embedding rows, their gradient */
    float *f, *g_f;      /* (rows, D) pooled features, their gradient */
    /* time chunks */
    float *bounds;       /* (n_layer or 1, rows, dirs, L / C chunks, N, E) state leaving each chunk */
    float *layer_bounds; /* the current layer's part of bounds */
    float *carry;        /* (N, E) adjoint passed between chunks */
    float *o_row[2];     /* (L, D) each direction's output of one sequence, multiplicative combine */
    /* one layer: W = T positions (whole layers) or C + 2 (d_conv - 1) */
    float *normed, *mean, *rstd;       /* (W, D), (W), (W) */
    float *xz, *g_xz;                  /* (W, 2E) */
    float *u[2], *xdbl[2], *dtr[2], *y[2], *hsave[2]; /* (W, E) (W, X) (W, E) (W, E) */
    float *o[2], *g_o;                 /* (W, D), multiplicative combine */
    float *g_y, *g_u, *g_dtr;          /* (W, E) */
    float *g_xdbl;                     /* (W, X) */
    float *g_normed;                   /* (W, D) */
    float *scan_work;                  /* md_cuda_train_scan_workspace() */
    void *fwd_work;                    /* md_cuda_selective_scan_workspace() */
    size_t fwd_work_bytes;
    int layer;                         /* the layer running */

    float *P(const float *hp) const { return dp(g, m, hp); }
    float *G(const float *hp) const { return hp ? tc->grads + (hp - m->params) : nullptr; }
};

struct Item { void **p; size_t bytes; };

/* Set up s for time chunks of C (0: whole layers): the chunk count and the
 * sizes of the scan buffers, and the arena items of the step. */
std::vector<Item> plan_step(Step &s, int objective, long long C)
{
    const md_config *c = s.c;
    long long T = s.T, D = s.D, E = s.E, X = s.X;
    int mul = s.dirs == 2 && c->combine == MD_COMBINE_MUL, two = s.dirs == 2 && !C;
    int lm = objective != MD_OBJ_CLASSIFY;
    long long W = C ? C + 2 * (s.K - 1) : T, seg = C ? C : s.L, rows = C ? 1 : s.rows;
    s.C = C;
    s.n_chunks = C ? (s.L + C - 1) / C : 0;
    s.n_save = rows * ((seg + MD_SCAN_CHUNK - 1) / MD_SCAN_CHUNK) * s.N * E;
    s.n_bounds = s.rows * s.dirs * s.n_chunks * s.N * E;
    s.fwd_work_bytes = md_cuda_selective_scan_workspace((int)rows, (long)seg, s.E, s.N);
    size_t hsave_bytes = (size_t)(C ? 1 : (s.want_grads ? c->n_layer : 1) * s.dirs) * s.n_save * 4;
    return {
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
        {(void **)&s.hsave_all, hsave_bytes},
        {(void **)&s.Z, lm ? (size_t)T * s.V * 4 : 0},
        {(void **)&s.Wc, (size_t)s.V * D * 4},
        {(void **)&s.gWc, (size_t)s.V * D * 4},
        {(void **)&s.f, (size_t)s.rows * D * 4},
        {(void **)&s.g_f, (size_t)s.rows * D * 4},
        {(void **)&s.bounds, (size_t)((s.want_grads ? c->n_layer : 1) * s.n_bounds * 4)},
        {(void **)&s.carry, C ? (size_t)s.N * E * 4 : 0},
        {(void **)&s.o_row[0], C && mul ? (size_t)s.L * D * 4 : 0},
        {(void **)&s.o_row[1], C && mul ? (size_t)s.L * D * 4 : 0},
        {(void **)&s.normed, (size_t)W * D * 4},
        {(void **)&s.mean, (size_t)W * 4},
        {(void **)&s.rstd, (size_t)W * 4},
        {(void **)&s.xz, (size_t)W * 2 * E * 4},
        {(void **)&s.g_xz, (size_t)W * 2 * E * 4},
        {(void **)&s.u[0], (size_t)W * E * 4},
        {(void **)&s.u[1], two ? (size_t)W * E * 4 : 0},
        {(void **)&s.xdbl[0], (size_t)W * X * 4},
        {(void **)&s.xdbl[1], two ? (size_t)W * X * 4 : 0},
        {(void **)&s.dtr[0], (size_t)W * E * 4},
        {(void **)&s.dtr[1], two ? (size_t)W * E * 4 : 0},
        {(void **)&s.y[0], (size_t)W * E * 4},
        {(void **)&s.y[1], two ? (size_t)W * E * 4 : 0},
        {(void **)&s.o[0], mul ? (size_t)W * D * 4 : 0},
        {(void **)&s.o[1], mul && !C ? (size_t)W * D * 4 : 0},
        {(void **)&s.g_o, mul ? (size_t)W * D * 4 : 0},
        {(void **)&s.g_y, (size_t)W * E * 4},
        {(void **)&s.g_u, (size_t)W * E * 4},
        {(void **)&s.g_dtr, (size_t)W * E * 4},
        {(void **)&s.g_xdbl, (size_t)W * X * 4},
        {(void **)&s.g_normed, (size_t)W * D * 4},
        {(void **)&s.scan_work, md_cuda_train_scan_workspace((int)rows, seg, s.E, s.N)},
        {(void **)&s.fwd_work, s.fwd_work_bytes},
    };
}

size_t items_bytes(const std::vector<Item> &items)
{
    size_t need = 0;
    for (const Item &it : items) need += up256(it.bytes);
    return need;
}

/* Choose whole layers or time chunks (md_cuda_set_train_chunk, or whole
 * layers when they fit in the device's free memory, else the longest
 * chunks that fit) and carve the arena (grown when needed). */
int step_alloc(Step &s, int objective)
{
    TrainCtx *tc = s.tc;
    const size_t margin = (size_t)1 << 30; /* cuBLAS workspaces, the allocator's granularity */
    size_t fr = 0, tot = 0;
    TRY(cu(cudaMemGetInfo(&fr, &tot), "device memory"));
    size_t avail = fr + tc->arena_bytes > margin ? fr + tc->arena_bytes - margin : 0;
    long long C = g_train_chunk > 0 ? (g_train_chunk < s.L ? g_train_chunk : s.L) : 0;
    std::vector<Item> items = plan_step(s, objective, C);
    size_t need = items_bytes(items);
    for (long long c = s.L < AUTO_CHUNK ? s.L : AUTO_CHUNK; !g_train_chunk && need > avail && c >= 1024;
         c /= 2) {
        items = plan_step(s, objective, c);
        need = items_bytes(items);
    }
    if (tc->arena_bytes < need) {
        cudaFree(tc->arena);
        tc->arena = nullptr;
        tc->arena_bytes = 0;
        if (cudaMalloc(&tc->arena, need) != cudaSuccess) {
            cudaGetLastError();
            tc->arena = nullptr;
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

/* Where a direction's ops run in the layer buffers: `rows` sequences of Lw
 * positions (the conv1d runs over all of them), of which the `len` from
 * `off` on are computed (GEMMs, scan; rows is 1 unless they are all). w0:
 * the window's first position in its sequence. */
struct Span {
    int rows;
    long long w0, Lw, off, len;
};

Span whole_span(const Step &s) { return Span{s.rows, 0, s.L, 0, s.L}; }

/* Time chunk c of one sequence with d_conv - 1 positions of context either
 * side. */
Span chunk_span(const Step &s, long long c)
{
    long long t0 = c * s.C, t1 = t0 + s.C < s.L ? t0 + s.C : s.L, halo = s.K - 1;
    long long w0 = t0 > halo ? t0 - halo : 0, w1 = t1 + halo < s.L ? t1 + halo : s.L;
    return Span{1, w0, w1 - w0, t0 - w0, t1 - t0};
}

/* Direction d's conv1d, projections and (with scan) scan over buffer set b,
 * the scan starting from h_first and leaving its last state in h_last. */
int dir_fwd(Step &s, const md_mixer_params *p, int d, int b, const Span &sp, int scan,
            const float *h_first, float *h_last)
{
    int E = s.E, N = s.N, R = s.R, X = s.X, dir = d ? -1 : 1;
    long long n = sp.rows * sp.len, o = sp.off;
    OP(T_CONV, md_cuda_conv_fwd(s.xz, 2 * E, s.P(p->conv_w), s.P(p->conv_b), sp.rows, sp.Lw, E, s.K,
                                dir, s.u[b], s.st));
    OP(T_GEMM, gemm_nt(s.g, n, X, E, s.u[b] + o * E, E, s.P(p->x_proj), E, s.xdbl[b] + o * X, X, 0));
    OP(T_GEMM, gemm_nt(s.g, n, E, R, s.xdbl[b] + o * X, X, s.P(p->dt_proj_w), R, s.dtr[b] + o * E,
                       E, 0));
    const float *A = s.g->A + ((long long)s.layer * s.dirs + d) * E * N; /* -exp(A_log) */
    if (scan)
        OP(T_SCAN_F, md_cuda_scan_fwd_save(s.u[b] + o * E, s.dtr[b] + o * E, s.P(p->dt_proj_b), A,
                                           s.xdbl[b] + o * X + R, s.xdbl[b] + o * X + R + N, X,
                                           s.P(p->D), s.xz + o * 2 * E + E, 2 * E, sp.rows, sp.len,
                                           E, N, dir, h_first, h_last, s.y[b] + o * E, s.hsave[b],
                                           s.fwd_work, s.fwd_work_bytes, s.st));
    return 0;
}

/* Direction d's backward from g_y into g_xz (accumulated), the scan's
 * adjoint entering from the later steps g_last and leaving in g_first. */
int dir_bwd(Step &s, const md_mixer_params *p, int d, int b, const Span &sp, const float *g_last,
            float *g_first)
{
    int E = s.E, N = s.N, R = s.R, X = s.X, dir = d ? -1 : 1;
    long long n = sp.rows * sp.len, o = sp.off, all = sp.rows * sp.Lw;
    OP(T_OTHER, cu(cudaMemsetAsync(s.g_xdbl, 0, (size_t)all * X * 4, s.st), "memset"));
    if (sp.len < sp.Lw) /* the context positions feed the conv1d backward nothing */
        OP(T_OTHER, cu(cudaMemsetAsync(s.g_u, 0, (size_t)all * E * 4, s.st), "memset"));
    OP(T_SCAN_B, md_cuda_scan_bwd(s.u[b] + o * E, s.dtr[b] + o * E, s.P(p->dt_proj_b), s.P(p->A_log),
                                  s.xdbl[b] + o * X + R, s.xdbl[b] + o * X + R + N, X, s.P(p->D),
                                  s.xz + o * 2 * E + E, 2 * E, sp.rows, sp.len, E, N, dir,
                                  s.hsave[b], g_last, g_first, s.g_y + o * E, s.y[b] + o * E,
                                  s.g_u + o * E, s.g_dtr + o * E, s.g_xz + o * 2 * E + E,
                                  s.g_xdbl + o * X + R, X, s.G(p->A_log), s.G(p->D),
                                  s.G(p->dt_proj_b), s.scan_work, s.st));
    OP(T_GEMM, gemm_nn(s.g, n, R, E, s.g_dtr + o * E, E, s.P(p->dt_proj_w), R, s.g_xdbl + o * X, X, 0));
    OP(T_GEMM, gemm_tn_acc(s.g, n, E, R, s.g_dtr + o * E, E, s.xdbl[b] + o * X, X, s.G(p->dt_proj_w), R));
    OP(T_GEMM, gemm_nn(s.g, n, E, X, s.g_xdbl + o * X, X, s.P(p->x_proj), E, s.g_u + o * E, E, 1));
    OP(T_GEMM, gemm_tn_acc(s.g, n, X, E, s.g_xdbl + o * X, X, s.u[b] + o * E, E, s.G(p->x_proj), E));
    OP(T_CONV, md_cuda_conv_bwd(s.xz, 2 * E, s.P(p->conv_w), s.P(p->conv_b), sp.rows, sp.Lw, E, s.K,
                                dir, s.g_u, s.g_xz, s.G(p->conv_w), s.G(p->conv_b), s.st));
    return 0;
}

/* The norm and input projection of n positions of r (n, D) into xz. */
int layer_in(Step &s, const md_layer_params *l, const float *r, long long n)
{
    const md_config *c = s.c;
    OP(T_NORM, md_cuda_norm_fwd_stats(c->rms_norm, r, s.P(l->norm_w), s.P(l->norm_b), n, s.D,
                                      c->norm_eps, s.normed, s.mean, s.rstd, s.st));
    OP(T_GEMM, gemm_nt(s.g, n, 2 * s.E, s.D, s.normed, s.D, s.P(l->fwd.in_proj), s.D, s.xz, 2 * s.E, 0));
    return 0;
}

/* Backward of layer_in from g_xz: g_r (n, D) += the gradient of r. */
int layer_in_bwd(Step &s, const md_layer_params *l, const float *r, long long n, float *g_r)
{
    const md_config *c = s.c;
    int D = s.D, E = s.E;
    OP(T_GEMM, gemm_nn(s.g, n, D, 2 * E, s.g_xz, 2 * E, s.P(l->fwd.in_proj), D, s.g_normed, D, 0));
    OP(T_GEMM, gemm_tn_acc(s.g, n, 2 * E, D, s.g_xz, 2 * E, s.normed, D, s.G(l->fwd.in_proj), D));
    OP(T_NORM, md_cuda_norm_bwd(c->rms_norm, r, s.P(l->norm_w), s.mean, s.rstd, s.g_normed, n, D,
                                g_r, 1, s.G(l->norm_w), s.G(l->norm_b), s.st));
    return 0;
}

/* out (n, D) = y (n, E) out_proj^T [+ beta out] */
int out_proj(Step &s, const md_layer_params *l, const float *y, long long n, float *out, float beta)
{
    OP(T_GEMM, gemm_nt(s.g, n, s.D, s.E, y, s.E, s.P(l->fwd.out_proj), s.E, out, s.D, beta));
    return 0;
}

/* Whole layer forward from r (T, D) into hidden; hidden NULL: the
 * recomputation of the backward (no scan unless the combine multiplies). */
int layer_fwd(Step &s, const md_layer_params *l, const float *r, float *hidden)
{
    const md_config *c = s.c;
    long long T = s.T;
    int D = s.D, E = s.E;
    int bidir = s.dirs == 2, mul = bidir && c->combine == MD_COMBINE_MUL, scan = hidden || mul;
    Span sp = whole_span(s);
    TRY(layer_in(s, l, r, T));
    TRY(dir_fwd(s, &l->fwd, 0, 0, sp, scan, nullptr, nullptr));
    if (bidir) TRY(dir_fwd(s, &l->rev, 1, 1, sp, scan, nullptr, nullptr));
    if (mul) {
        TRY(out_proj(s, l, s.y[0], T, s.o[0], 0));
        TRY(out_proj(s, l, s.y[1], T, s.o[1], 0));
        if (hidden) OP(T_OTHER, md_cuda_mul(s.o[0], s.o[1], T * D, hidden, s.st));
    } else if (hidden) {
        if (bidir) OP(T_OTHER, md_cuda_add(s.y[0], s.y[1], T * E, s.y[0], s.st));
        TRY(out_proj(s, l, s.y[0], T, hidden, 0));
    }
    return 0;
}

/* Whole layer backward: g_r (T, D) += the gradient of r from g_h. */
int layer_bwd(Step &s, const md_layer_params *l, const float *r, const float *g_h, float *g_r)
{
    const md_config *c = s.c;
    long long T = s.T;
    int D = s.D, E = s.E, bidir = s.dirs == 2;
    Span sp = whole_span(s);
    TRY(layer_fwd(s, l, r, nullptr));
    OP(T_OTHER, cu(cudaMemsetAsync(s.g_xz, 0, (size_t)T * 2 * E * 4, s.st), "memset"));
    const float *W_out = s.P(l->fwd.out_proj);
    float *dW_out = s.G(l->fwd.out_proj);
    if (!bidir || c->combine == MD_COMBINE_ADD) {
        OP(T_GEMM, gemm_nn(s.g, T, E, D, g_h, D, W_out, E, s.g_y, E, 0));
        for (int d = 0; d < 1 + bidir; d++)
            TRY(dir_bwd(s, d ? &l->rev : &l->fwd, d, d, sp, nullptr, nullptr));
        if (bidir) OP(T_OTHER, md_cuda_add(s.y[0], s.y[1], T * E, s.y[0], s.st));
        OP(T_GEMM, gemm_tn_acc(s.g, T, D, E, g_h, D, s.y[0], E, dW_out, E));
    } else {
        for (int d = 0; d < 2; d++) {
            OP(T_OTHER, md_cuda_mul(g_h, s.o[1 - d], T * D, s.g_o, s.st));
            OP(T_GEMM, gemm_nn(s.g, T, E, D, s.g_o, D, W_out, E, s.g_y, E, 0));
            OP(T_GEMM, gemm_tn_acc(s.g, T, D, E, s.g_o, D, s.y[d], E, dW_out, E));
            TRY(dir_bwd(s, d ? &l->rev : &l->fwd, d, d, sp, nullptr, nullptr));
        }
    }
    return layer_in_bwd(s, l, r, T, g_r);
}

/* Time-chunk k of a direction in scan order: forwards for direction 0,
 * backwards for the reverse one. */
long long scan_order(const Step &s, int d, long long k)
{
    return d ? s.n_chunks - 1 - k : k;
}

/* The state leaving time chunk c of sequence row, direction d. */
float *bound(const Step &s, int row, int d, long long c)
{
    return s.layer_bounds + (((long long)row * s.dirs + d) * s.n_chunks + c) * s.N * s.E;
}

/* The state entering the k-th chunk of direction d in scan order. */
const float *entering(const Step &s, int row, int d, long long k)
{
    return k ? bound(s, row, d, scan_order(s, d, k - 1)) : nullptr;
}

/* Layer forward in time chunks, one sequence at a time: each direction's
 * chunks in its scan order, the state carried between them through
 * layer_bounds; hidden gets the first direction's output projection, then
 * the second's added (or multiplied). */
int layer_fwd_chunked(Step &s, const md_layer_params *l, const float *r_all, float *hidden_all)
{
    long long L = s.L, D = s.D, E = s.E, n_chunks = s.n_chunks;
    int mul = s.dirs == 2 && s.c->combine == MD_COMBINE_MUL;
    for (int row = 0; row < s.rows; row++) {
        const float *r = r_all + row * L * D;
        float *hidden = hidden_all + row * L * D;
        for (int d = 0; d < s.dirs; d++)
            for (long long k = 0; k < n_chunks; k++) {
                Span sp = chunk_span(s, scan_order(s, d, k));
                float *h = hidden + (sp.w0 + sp.off) * D;
                const float *y = s.y[0] + sp.off * E;
                TRY(layer_in(s, l, r + sp.w0 * D, sp.Lw));
                TRY(dir_fwd(s, d ? &l->rev : &l->fwd, d, 0, sp, 1, entering(s, row, d, k),
                            bound(s, row, d, scan_order(s, d, k))));
                if (!d || !mul) TRY(out_proj(s, l, y, sp.len, h, d ? 1.0f : 0.0f));
                else {
                    TRY(out_proj(s, l, y, sp.len, s.o[0], 0));
                    OP(T_OTHER, md_cuda_mul(h, s.o[0], sp.len * D, h, s.st));
                }
            }
    }
    return 0;
}

/* Layer backward in time chunks, one sequence at a time: each direction's
 * chunks against its scan order, each recomputed from the state entering
 * it (kept by the forward), the adjoint carried between chunks. When the
 * combine multiplies, a forward sweep first recomputes each direction's
 * output. The context positions' share of the conv1d backward reaches g_r
 * through their own norm backward. */
int layer_bwd_chunked(Step &s, const md_layer_params *l, const float *r_all, const float *g_h_all,
                      float *g_r_all)
{
    long long L = s.L, D = s.D, E = s.E, n_chunks = s.n_chunks;
    int mul = s.dirs == 2 && s.c->combine == MD_COMBINE_MUL;
    const float *W_out = s.P(l->fwd.out_proj);
    float *dW_out = s.G(l->fwd.out_proj);
    for (int row = 0; row < s.rows; row++) {
        const float *r = r_all + row * L * D, *g_h = g_h_all + row * L * D;
        float *g_r = g_r_all + row * L * D;
        for (int d = 0; d < s.dirs && mul; d++)
            for (long long k = 0; k < n_chunks; k++) {
                Span sp = chunk_span(s, scan_order(s, d, k));
                TRY(layer_in(s, l, r + sp.w0 * D, sp.Lw));
                TRY(dir_fwd(s, d ? &l->rev : &l->fwd, d, 0, sp, 1, entering(s, row, d, k), nullptr));
                TRY(out_proj(s, l, s.y[0] + sp.off * E, sp.len, s.o_row[d] + (sp.w0 + sp.off) * D, 0));
            }
        for (int d = 0; d < s.dirs; d++)
            for (long long k = n_chunks - 1; k >= 0; k--) {
                Span sp = chunk_span(s, scan_order(s, d, k));
                long long t0 = sp.w0 + sp.off;
                const float *y = s.y[0] + sp.off * E, *g_hc = g_h + t0 * D;
                TRY(layer_in(s, l, r + sp.w0 * D, sp.Lw));
                TRY(dir_fwd(s, d ? &l->rev : &l->fwd, d, 0, sp, 1, entering(s, row, d, k), nullptr));
                if (mul) {
                    OP(T_OTHER, md_cuda_mul(g_hc, s.o_row[1 - d] + t0 * D, sp.len * D, s.g_o, s.st));
                    g_hc = s.g_o;
                }
                OP(T_GEMM, gemm_nn(s.g, sp.len, E, D, g_hc, D, W_out, E, s.g_y + sp.off * E, E, 0));
                OP(T_GEMM, gemm_tn_acc(s.g, sp.len, D, E, g_hc, D, y, E, dW_out, E));
                OP(T_OTHER, cu(cudaMemsetAsync(s.g_xz, 0, (size_t)sp.Lw * 2 * E * 4, s.st), "memset"));
                TRY(dir_bwd(s, d ? &l->rev : &l->fwd, d, 0, sp, k + 1 < n_chunks ? s.carry : nullptr,
                            s.carry));
                TRY(layer_in_bwd(s, l, r + sp.w0 * D, sp.Lw, g_r + sp.w0 * D));
            }
    }
    return 0;
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
int loss_grad(md_model *m, int dev, int precision, int objective, const md_batch *bt,
              int want_grads, double *loss, GpuModel **gp, TrainCtx **tp)
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
    s.g->precision = precision;
    TRY(get_ctx(m, s.g, &s.tc));
    *gp = s.g;
    *tp = s.tc;
    s.st = s.g->stream;
    TRY(step_alloc(s, objective));
    s.hsave[0] = s.hsave_all; /* time chunks: the one scan call's */
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
        s.layer = li;
        if (s.C) {
            s.layer_bounds = s.bounds + (want_grads ? li : 0) * s.n_bounds;
            TRY(layer_fwd_chunked(s, &m->layers[li], r, s.h));
        } else {
            for (int d = 0; d < s.dirs; d++)
                s.hsave[d] = s.hsave_all + ((want_grads ? li : 0) * s.dirs + d) * s.n_save;
            TRY(layer_fwd(s, &m->layers[li], r, s.h));
        }
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
        s.layer = li;
        OP(T_OTHER, cu(cudaMemcpyAsync(s.g_r, g_s, (size_t)T * D * 4, cudaMemcpyDeviceToDevice, st), "copy"));
        if (s.C) {
            s.layer_bounds = s.bounds + li * s.n_bounds;
            TRY(layer_bwd_chunked(s, &m->layers[li], s.stream + li * T * D, g_s, s.g_r));
        } else {
            for (int d = 0; d < s.dirs; d++) s.hsave[d] = s.hsave_all + (li * s.dirs + d) * s.n_save;
            TRY(layer_bwd(s, &m->layers[li], s.stream + li * T * D, g_s, s.g_r));
        }
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

int md_cuda_loss_grad(struct md_model *m, int device, int precision, int objective,
                      const struct md_batch *batch, float *grads, double *loss)
{
    TRY(check_device(device));
    GpuModel *g = nullptr;
    TrainCtx *t = nullptr;
    TRY(loss_grad(m, device, precision, objective, batch, grads != nullptr, loss, &g, &t));
    if (!grads) return cu(cudaStreamSynchronize(g->stream), "training step");
    std::vector<float> tmp((size_t)m->n_params);
    TRY(cu(cudaMemcpyAsync(tmp.data(), t->grads, tmp.size() * 4, cudaMemcpyDeviceToHost, g->stream),
           "gradient copy"));
    TRY(cu(cudaStreamSynchronize(g->stream), "training step"));
    if (profiling()) tprofile_collect();
    for (size_t i = 0; i < tmp.size(); i++) grads[i] += tmp[i];
    return 0;
}

int md_cuda_train_step(struct md_model *m, int device, int precision, int objective,
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
    TRY(loss_grad(m, device, precision, objective, batch, 1, loss, &g, &t));
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

void md_cuda_set_train_chunk(long long positions) { g_train_chunk = positions > 0 ? positions : 0; }

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
