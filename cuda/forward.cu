/* forward.cu: md_model_forward_rows on the GPU, the same network as the CPU
 * forward of src/forward.c in the same time-major layouts.
 *
 * Parameters: one cudaMalloc copy of the model's parameter buffer, made at
 * the first call and kept on the model (md_model.gpu); device pointers are
 * the host pointers' offsets into it, so tied tensors stay tied. A = -exp(A_log)
 * of every mixer is computed once at upload; with MD_PRECISION_BF16 a bf16 copy
 * of the buffer serves as GEMM operands. A sampled fingerprint of the host
 * buffer is checked at every call and a change uploads again.
 *
 * Memory: one arena per call (kept and grown between calls, never allocated
 * in the layer loop): the residual stream (B, L, D) and the mixer output
 * (B, L, D) for the whole batch, plus the activations of one step of
 * P = B x Ls positions (Ls = --chunk, or L for whole sequences): normed,
 * xz, u, x_proj out, dt, y, the carried conv and scan states, and the scan
 * workspace. A 1,048,576-base PS pair (B = 2) at d_model 256 needs 4 GiB of
 * stream plus ~11.5 KiB per position of a chunk step (fp32).
 *
 * Each layer: (PS with fused add+norm: x += h and the strand swap in one
 * pass) then per direction and chunk, in the direction's time order:
 *   norm (fused with x += h in the first direction) -> normed
 *   in_proj GEMM -> xz; conv1d + SiLU (carried state) -> u
 *   x_proj GEMM -> (dt_r, B, C); dt_proj GEMM -> dt
 *   selective scan (h0 = the carried state, h_last = the next one) -> y
 *   out_proj GEMM -> h (forward: beta 0; reverse: beta 1 for add, or a
 *   product for mul), exactly the CPU's chunked mode with every row of the
 *   batch in one step. Whole sequences are the one-chunk case.
 * Final: x += h, norm_f -> h, copied to the host through two pinned buffers
 * (the host copy out of the pinned buffer runs on several threads while the
 * next piece crosses PCIe).
 *
 * GEMMs: cuBLAS, row-major C (M, N) = A (M, K) W^T as the column-major
 * C^T = W A^T (op(W) = T); fp32 (CUBLAS_COMPUTE_32F), TF32 or bf16 operands
 * with fp32 accumulation (md_forward_opt.precision of the call).
 */
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cublas_v2.h>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "model.h"
#include "cuda_backend.h"
#include "gpu_model.h"

namespace md_gpu {

int cu(cudaError_t e, const char *what)
{
    if (e == cudaSuccess) return 0;
    cudaGetLastError(); /* clear a non-sticky error */
    return md_error(e == cudaErrorMemoryAllocation ? MD_ERR_NOMEM : MD_ERR, "CUDA %s: %s", what,
                    cudaGetErrorString(e));
}

int cb(cublasStatus_t s, const char *what)
{
    if (s == CUBLAS_STATUS_SUCCESS) return 0;
    return md_error(s == CUBLAS_STATUS_ALLOC_FAILED ? MD_ERR_NOMEM : MD_ERR, "cuBLAS %s: %s",
                    what, cublasGetStatusString(s));
}

} /* namespace md_gpu */

using namespace md_gpu;

namespace {

constexpr size_t BLAS_WS = 32u << 20; /* cuBLAS workspace */
constexpr size_t PIN = 32u << 20;     /* bytes per pinned staging buffer */

double g_compute_s = 0, g_copy_s = 0;

/* Optional per-kind timing (md_cuda_set_profiling): an event after every
 * operation, tagged with its kind; the gaps between consecutive events are
 * summed per kind after the call. */
enum { K_INPROJ, K_XDT, K_OUTPROJ, K_CONV, K_SCAN, K_NORM, K_OTHER, K_COPY, NKIND };
const char *const kind_names[NKIND] = {"in_proj GEMM", "x_proj+dt_proj GEMMs", "out_proj GEMM",
                                       "conv1d+SiLU", "selective scan", "norm (+add, swap)",
                                       "gather, memset, combine", "copy back to host"};
int g_profiling = 0;
double g_prof[NKIND];
std::vector<cudaEvent_t> g_events;
std::vector<int> g_event_kind;
size_t g_n_events = 0;

int mark(cudaStream_t st, int kind)
{
    if (!g_profiling) return 0;
    if (g_n_events == g_events.size()) {
        cudaEvent_t e;
        if (cudaEventCreate(&e) != cudaSuccess) {
            cudaGetLastError();
            return md_error(MD_ERR, "CUDA profiling: cannot create an event");
        }
        g_events.push_back(e);
        g_event_kind.push_back(0);
    }
    g_event_kind[g_n_events] = kind;
    cudaError_t e = cudaEventRecord(g_events[g_n_events++], st);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return md_error(MD_ERR, "CUDA profiling: %s", cudaGetErrorString(e));
    }
    return 0;
}

void profile_collect(void)
{
    for (int k = 0; k < NKIND; k++) g_prof[k] = 0;
    for (size_t i = 1; i < g_n_events; i++) {
        float ms = 0;
        if (cudaEventElapsedTime(&ms, g_events[i - 1], g_events[i]) == cudaSuccess)
            g_prof[g_event_kind[i]] += ms / 1e3;
    }
    cudaGetLastError();
}

uint64_t fingerprint(const md_model *m)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)m->n_params;
    int64_t n = m->n_params, step = n / 16384 + 1;
    for (int64_t i = 0; i < n; i += step) {
        uint32_t b;
        memcpy(&b, m->params + i, 4);
        h = (h ^ b) * 1099511628211ULL;
    }
    if (n > 0) {
        uint32_t b;
        memcpy(&b, m->params + n - 1, 4);
        h = (h ^ b) * 1099511628211ULL;
    }
    return h;
}

void release(GpuModel *g)
{
    if (!g) return;
    int cur = -1;
    cudaGetDevice(&cur);
    cudaSetDevice(g->device);
    if (g->stream) cudaStreamSynchronize(g->stream);
    if (g->train) g->train_release(g->train);
    if (g->have_blas) cublasDestroy(g->blas);
    for (int i = 0; i < g->n_ev; i++) {
        cudaEventDestroy(g->ev[i]);
        cudaEventDestroy(g->pev[i]);
    }
    if (g->have_stream) cudaStreamDestroy(g->stream);
    cudaFree(g->params);
    cudaFree(g->A);
    cudaFree(g->wbf);
    cudaFree(g->blas_ws);
    cudaFree(g->arena);
    cudaFreeHost(g->pin[0]);
    cudaFreeHost(g->pin[1]);
    cudaGetLastError();
    if (cur >= 0) cudaSetDevice(cur);
    free(g);
}

int create(md_model *m, int dev, GpuModel **out)
{
    const md_config *c = &m->cfg;
    GpuModel *g = (GpuModel *)calloc(1, sizeof *g);
    if (!g) return md_error(MD_ERR_NOMEM, "out of memory");
    g->device = dev;
    int ndir = c->arch == MD_ARCH_MAMBA ? 1 : 2;
    size_t E = (size_t)c->expand * c->d_model, nA = (size_t)c->n_layer * ndir * E * c->d_state;
    int ret = cu(cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking), "stream");
    if (!ret) g->have_stream = 1;
    if (!ret) ret = cb(cublasCreate(&g->blas), "create");
    if (!ret) g->have_blas = 1;
    if (!ret) ret = cb(cublasSetStream(g->blas, g->stream), "set stream");
    if (!ret) ret = cu(cudaMalloc(&g->blas_ws, BLAS_WS), "cuBLAS workspace");
    if (!ret) ret = cb(cublasSetWorkspace(g->blas, g->blas_ws, BLAS_WS), "set workspace");
    for (int i = 0; !ret && i < 2; i++) {
        ret = cu(cudaEventCreate(&g->ev[i]), "event");
        if (!ret) ret = cu(cudaEventCreateWithFlags(&g->pev[i], cudaEventDisableTiming), "event");
        if (!ret) g->n_ev = i + 1;
    }
    if (!ret) ret = cu(cudaMalloc((void **)&g->params, (size_t)m->n_params * sizeof(float)),
                       "parameters");
    if (!ret) ret = cu(cudaMalloc((void **)&g->A, nA * sizeof(float)), "A");
    if (ret) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", md_last_error());
        release(g);
        return md_error(ret, "cannot set up the model on cuda:%d: %s", dev, msg);
    }
    *out = g;
    return 0;
}

/* Weight operand of a GEMM: the fp32 copy or the bf16 one. */
inline const void *wop(const GpuModel *g, const md_model *m, const float *p, int bf)
{
    return bf ? (const void *)((const __nv_bfloat16 *)g->wbf + (p - m->params))
              : (const void *)dp(g, m, p);
}

/* What is derived from the device parameters: A = -exp(A_log) of every
 * mixer and the bf16 copy; then the copy is recorded as that of the host
 * parameters with fingerprint fp. */
int derive(md_model *m, GpuModel *g, uint64_t fp)
{
    const md_config *c = &m->cfg;
    int ndir = c->arch == MD_ARCH_MAMBA ? 1 : 2;
    long long EN = (long long)c->expand * c->d_model * c->d_state;
    for (int li = 0; li < c->n_layer; li++)
        for (int d = 0; d < ndir; d++) {
            const md_mixer_params *p = d ? &m->layers[li].rev : &m->layers[li].fwd;
            TRY(md_cuda_neg_exp(dp(g, m, p->A_log), g->A + ((long long)li * ndir + d) * EN, EN,
                                g->stream));
        }
    if (g->wbf) TRY(md_cuda_to_bf16(g->params, g->wbf, m->n_params, g->stream));
    TRY(cu(cudaStreamSynchronize(g->stream), "parameter upload"));
    g->host_params = m->params;
    g->n_params = m->n_params;
    g->fp = fp;
    g->uploaded = 1;
    return 0;
}

int upload(md_model *m, GpuModel *g, uint64_t fp)
{
    g->uploaded = 0;
    TRY(cu(cudaMemcpyAsync(g->params, m->params, (size_t)m->n_params * sizeof(float),
                           cudaMemcpyHostToDevice, g->stream), "parameter upload"));
    return derive(m, g, fp);
}

} /* namespace */

bool md_gpu::profiling() { return g_profiling != 0; }

int md_gpu::params_updated(md_model *m, GpuModel *g)
{
    return derive(m, g, fingerprint(m));
}

int md_gpu::get_model(md_model *m, int dev, int bf, GpuModel **out)
{
    GpuModel *g = (GpuModel *)m->gpu;
    if (g && g->device != dev) {
        release(g);
        m->gpu = g = nullptr;
    }
    TRY(cu(cudaSetDevice(dev), "set device"));
    if (!g) {
        TRY(create(m, dev, &g));
        m->gpu = g;
    }
    if (bf && !g->wbf) {
        TRY(cu(cudaMalloc(&g->wbf, (size_t)m->n_params * 2), "bf16 parameters"));
        if (g->uploaded) {
            TRY(md_cuda_to_bf16(g->params, g->wbf, m->n_params, g->stream));
            TRY(cu(cudaStreamSynchronize(g->stream), "bf16 parameters"));
        }
    }
    uint64_t fp = fingerprint(m);
    if (!g->uploaded || g->fp != fp || g->host_params != m->params || g->n_params != m->n_params)
        TRY(upload(m, g, fp));
    *out = g;
    return 0;
}

namespace {

/* Row-major C (M, N) [ldc] = A (M, K) [lda] W^T (W (N, K) row-major), batch
 * times with strides sA, sC (elements); beta 0 or 1. */
int gemm(GpuModel *g, long long M, int N, int K, const void *A, cudaDataType at, long long lda,
         long long sA, const void *W, cudaDataType wt, void *C, cudaDataType ct, long long ldc,
         long long sC, float beta, int batch, cublasComputeType_t cmp, const char *what)
{
    if (M <= 0) return 0;
    if (M > INT_MAX)
        return md_error(MD_ERR_ARG, "GPU forward: %lld positions in one step (at most %d): "
                        "lower --batch or --chunk", M, INT_MAX);
    float alpha = 1.0f;
    cublasStatus_t s;
    if (batch == 1)
        s = cublasGemmEx(g->blas, CUBLAS_OP_T, CUBLAS_OP_N, N, (int)M, K, &alpha, W, wt, K, A, at,
                         (int)lda, &beta, C, ct, (int)ldc, cmp, CUBLAS_GEMM_DEFAULT);
    else
        s = cublasGemmStridedBatchedEx(g->blas, CUBLAS_OP_T, CUBLAS_OP_N, N, (int)M, K, &alpha, W,
                                       wt, K, 0, A, at, (int)lda, sA, &beta, C, ct, (int)ldc, sC,
                                       batch, cmp, CUBLAS_GEMM_DEFAULT);
    return cb(s, what);
}

/* Host copy on several threads (the pinned piece into pageable memory). */
void host_copy(void *dst, const void *src, size_t n, int threads)
{
    size_t per = (n + threads - 1) / threads;
    if (threads <= 1 || n < (4u << 20)) {
        memcpy(dst, src, n);
        return;
    }
    std::vector<std::thread> th;
    for (int i = 0; i < threads; i++) {
        size_t o = (size_t)i * per;
        if (o >= n) break;
        size_t k = n - o < per ? n - o : per;
        th.emplace_back([=] { memcpy((char *)dst + o, (const char *)src + o, k); });
    }
    for (auto &t : th) t.join();
}

int copy_back(GpuModel *g, float *out, const float *src, size_t bytes, int threads)
{
    if (!g->pin[0]) {
        if (cudaMallocHost(&g->pin[0], PIN) != cudaSuccess ||
            cudaMallocHost(&g->pin[1], PIN) != cudaSuccess) {
            cudaGetLastError();
            cudaFreeHost(g->pin[0]);
            g->pin[0] = g->pin[1] = nullptr;
        }
    }
    if (!g->pin[0]) { /* no pinned memory: one pageable copy */
        TRY(cu(cudaMemcpyAsync(out, src, bytes, cudaMemcpyDeviceToHost, g->stream), "copy back"));
        return cu(cudaStreamSynchronize(g->stream), "copy back");
    }
    size_t n = (bytes + PIN - 1) / PIN;
    for (size_t i = 0; i <= n; i++) {
        if (i < n) {
            size_t o = i * PIN, k = bytes - o < PIN ? bytes - o : PIN;
            TRY(cu(cudaMemcpyAsync(g->pin[i % 2], (const char *)src + o, k,
                                   cudaMemcpyDeviceToHost, g->stream), "copy back"));
            TRY(cu(cudaEventRecord(g->pev[i % 2], g->stream), "event"));
        }
        if (i > 0) {
            size_t j = i - 1, o = j * PIN, k = bytes - o < PIN ? bytes - o : PIN;
            TRY(cu(cudaEventSynchronize(g->pev[j % 2]), "copy back"));
            host_copy((char *)out + o, g->pin[j % 2], k, threads);
        }
    }
    return 0;
}

/* The forward of B rows; out: the hidden states (B, L, D), or with
 * pool >= 0 (enum md_pool) the rows pooled on the device over their
 * non-[PAD] tokens, (B, D). */
int forward(md_model *m, const uint8_t *tokens, int B, long long L, const md_forward_opt *opt,
            float *out, int pool)
{
    const md_config *c = &m->cfg;
    const int dev = opt->device - 1, prec = opt->precision;
    const int bf = prec == MD_PRECISION_BF16, act = bf ? MD_BF16 : MD_F32;
    const size_t esz = bf ? 2 : 4;
    const cudaDataType adt = bf ? CUDA_R_16BF : CUDA_R_32F;
    const cublasComputeType_t cmp =
        prec == MD_PRECISION_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    const int D = c->d_model, E = c->expand * c->d_model, N = c->d_state, R = c->dt_rank,
              K = c->d_conv, ldx = R + 2 * N;
    const int bidir = c->arch != MD_ARCH_MAMBA, ndir = bidir ? 2 : 1;
    const int swap = c->arch == MD_ARCH_CADUCEUS_PS && c->fused_add_norm;
    const int rms = c->rms_norm;
    if (B > 65535)
        return md_error(MD_ERR_ARG, "GPU forward: %d rows in one batch, at most 65535: lower --batch", B);
    if (K > 8) return md_error(MD_ERR_ARG, "GPU forward: d_conv %d > 8", K);
    if (N > 64) return md_error(MD_ERR_ARG, "GPU forward: d_state %d > 64", N);
    long long chunk = opt->chunk;
    int whole = chunk <= 0 || chunk >= L;
    long long Ls = whole ? L : chunk, nch = (L + Ls - 1) / Ls, Llast = L - (nch - 1) * Ls;
    long long T = (long long)B * L, P = (long long)B * Ls;

    GpuModel *g;
    TRY(get_model(m, dev, bf, &g)); /* also makes dev the current device */

    /* arena */
    size_t ws = md_cuda_selective_scan_workspace(B, (long)Ls, E, N);
    size_t ws2 = md_cuda_selective_scan_workspace(B, (long)Llast, E, N);
    if (ws2 > ws) ws = ws2;
    size_t stream_bytes = 2 * up256((size_t)T * D * 4) + up256((size_t)T);
    size_t sz[] = {
        (size_t)T,                                   /* 0 tokens */
        (size_t)T * D * 4,                           /* 1 residual x */
        (size_t)T * D * 4,                           /* 2 mixer output h */
        (size_t)P * D * esz,                         /* 3 normed */
        (size_t)P * 2 * E * esz,                     /* 4 xz */
        (size_t)P * E * esz,                         /* 5 u */
        (size_t)P * ldx * esz,                       /* 6 x_proj out */
        (size_t)P * E * esz,                         /* 7 dt */
        (size_t)P * E * esz,                         /* 8 y */
        c->combine == MD_COMBINE_MUL && bidir ? (size_t)P * D * 4 : 0, /* 9 o */
        (size_t)B * (K > 1 ? K - 1 : 1) * E * 4,     /* 10 conv state */
        (size_t)B * N * E * 4,                       /* 11 scan state a */
        (size_t)B * N * E * 4,                       /* 12 scan state b */
        ws,                                          /* 13 scan workspace */
        pool >= 0 ? (size_t)B * D * 4 : 0,           /* 14 pooled rows */
    };
    const int NB = (int)(sizeof sz / sizeof sz[0]);
    size_t need = 0;
    for (int i = 0; i < NB; i++) need += up256(sz[i]);

    if (g->arena_bytes < need) {
        cudaFree(g->arena);
        g->arena = nullptr;
        g->arena_bytes = 0;
        if (cudaMalloc(&g->arena, need) != cudaSuccess) {
            cudaGetLastError();
            g->arena = nullptr;
            size_t fr = 0, tot = 0;
            cudaMemGetInfo(&fr, &tot);
            return md_error(MD_ERR_NOMEM,
                            "GPU out of memory on cuda:%d: a forward pass over %d x %lld "
                            "positions needs %.2f GB (%.2f GB for the residual stream of the "
                            "batch, %.2f GB for steps of %lld positions), %.2f GB free: lower "
                            "--batch or --chunk",
                            dev, B, L, need / 1e9, stream_bytes / 1e9, (need - stream_bytes) / 1e9,
                            Ls, fr / 1e9);
        }
        g->arena_bytes = need;
    }
    char *base = (char *)g->arena;
    void *buf[16];
    for (int i = 0; i < NB; i++) {
        buf[i] = sz[i] ? base : nullptr;
        base += up256(sz[i]);
    }
    uint8_t *tok = (uint8_t *)buf[0];
    float *x = (float *)buf[1], *h = (float *)buf[2], *o = (float *)buf[9];
    char *normed = (char *)buf[3], *xz = (char *)buf[4], *u = (char *)buf[5],
         *xdbl = (char *)buf[6], *dtb = (char *)buf[7], *y = (char *)buf[8];
    float *cst = (float *)buf[10], *hst[2] = {(float *)buf[11], (float *)buf[12]};
    cudaStream_t st = g->stream;

    g_n_events = 0;
    TRY(cu(cudaEventRecord(g->ev[0], st), "event"));
    TRY(mark(st, K_OTHER));
    TRY(cu(cudaMemcpyAsync(tok, tokens, (size_t)T, cudaMemcpyHostToDevice, st), "token upload"));
    TRY(md_cuda_embed_gather(tok, dp(g, m, m->embedding), T, D, x, st));
    TRY(mark(st, K_OTHER));
    for (int li = 0; li < c->n_layer; li++) {
        const md_layer_params *l = &m->layers[li];
        if (swap) {
            TRY(md_cuda_add_swap(x, li ? h : nullptr, B / 2, L, D, st));
            TRY(mark(st, K_NORM));
        }
        const float *addh = !swap && li ? h : nullptr;
        for (int d = 0; d < ndir; d++) {
            const md_mixer_params *p = d ? &l->rev : &l->fwd;
            const int dir = d ? -1 : 1;
            const float *A = g->A + ((long long)li * ndir + d) * E * N;
            TRY(cu(cudaMemsetAsync(cst, 0, sz[10], st), "memset"));
            TRY(mark(st, K_OTHER));
            int cur = 0;
            for (long long k = 0; k < nch; k++) {
                long long ci = d ? nch - 1 - k : k, t0 = ci * Ls;
                long long Lc = ci == nch - 1 ? Llast : Ls, Pc = (long long)B * Lc;
                TRY(md_cuda_norm(x, d == 0 ? addh : nullptr, dp(g, m, l->norm_w),
                                 dp(g, m, l->norm_b), rms, c->norm_eps, B, L, t0, Lc, D, normed,
                                 act, st));
                TRY(mark(st, K_NORM));
                TRY(gemm(g, Pc, 2 * E, D, normed, adt, D, 0, wop(g, m, p->in_proj, bf), adt, xz,
                         adt, 2 * E, 0, 0.0f, 1, cmp, "in_proj"));
                TRY(mark(st, K_INPROJ));
                TRY(md_cuda_conv1d_silu(xz, 2 * E, dp(g, m, p->conv_w), dp(g, m, p->conv_b), B, Lc,
                                        E, K, dir, cst, u, act, st));
                TRY(mark(st, K_CONV));
                TRY(gemm(g, Pc, ldx, E, u, adt, E, 0, wop(g, m, p->x_proj, bf), adt, xdbl, adt, ldx,
                         0, 0.0f, 1, cmp, "x_proj"));
                TRY(gemm(g, Pc, E, R, xdbl, adt, ldx, 0, wop(g, m, p->dt_proj_w, bf), adt, dtb, adt,
                         E, 0, 0.0f, 1, cmp, "dt_proj"));
                TRY(mark(st, K_XDT));
                TRY(md_cuda_selective_scan_fwd(
                    u, dtb, dp(g, m, p->dt_proj_b), A, xdbl + (size_t)R * esz,
                    xdbl + (size_t)(R + N) * esz, ldx, dp(g, m, p->D), xz + (size_t)E * esz, 2 * E,
                    B, (long)Lc, E, N, dir, act, k ? hst[cur] : nullptr,
                    nch > 1 ? hst[1 - cur] : nullptr, y, buf[13], sz[13], st));
                TRY(mark(st, K_SCAN));
                cur ^= 1;
                const void *W = wop(g, m, p->out_proj, bf);
                if (d == 1 && c->combine == MD_COMBINE_MUL) {
                    TRY(gemm(g, Pc, D, E, y, adt, E, 0, W, adt, o, CUDA_R_32F, D, 0, 0.0f, 1, cmp,
                             "out_proj"));
                    TRY(mark(st, K_OUTPROJ));
                    TRY(md_cuda_mul_chunk(h, o, B, L, t0, Lc, D, st));
                    TRY(mark(st, K_OTHER));
                } else if (Lc == L) { /* whole rows: one GEMM over the batch */
                    TRY(gemm(g, Pc, D, E, y, adt, E, 0, W, adt, h, CUDA_R_32F, D, 0,
                             d ? 1.0f : 0.0f, 1, cmp, "out_proj"));
                } else {
                    TRY(gemm(g, Lc, D, E, y, adt, E, Lc * E, W, adt, h + t0 * D, CUDA_R_32F, D,
                             L * D, d ? 1.0f : 0.0f, B, cmp, "out_proj"));
                }
                if (!(d == 1 && c->combine == MD_COMBINE_MUL)) TRY(mark(st, K_OUTPROJ));
            }
        }
    }
    TRY(md_cuda_norm(x, h, dp(g, m, m->norm_f_w), dp(g, m, m->norm_f_b), rms, c->norm_eps, B, L,
                     0, L, D, h, MD_F32, st));
    TRY(mark(st, K_NORM));
    TRY(cu(cudaEventRecord(g->ev[1], st), "event"));
    TRY(cu(cudaEventSynchronize(g->ev[1]), "forward"));
    TRY(cu(cudaGetLastError(), "forward"));
    float ms = 0;
    TRY(cu(cudaEventElapsedTime(&ms, g->ev[0], g->ev[1]), "event time"));
    auto t0 = std::chrono::steady_clock::now();
    int threads = opt->threads > 0 ? opt->threads : (int)std::thread::hardware_concurrency();
    if (threads > 8) threads = 8;
    if (threads < 1) threads = 1;
    if (pool >= 0) {
        float *f = (float *)buf[14];
        TRY(md_cuda_pool(pool, h, tok, B, L, D, f, nullptr, nullptr, st));
        TRY(cu(cudaMemcpyAsync(out, f, (size_t)B * D * sizeof(float), cudaMemcpyDeviceToHost, st),
               "copy back"));
        TRY(cu(cudaStreamSynchronize(st), "pooling"));
    } else {
        TRY(copy_back(g, out, h, (size_t)T * D * sizeof(float), threads));
    }
    g_compute_s = ms / 1e3;
    g_copy_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (g_profiling) {
        profile_collect();
        g_prof[K_COPY] = g_copy_s;
    }
    if (opt->profile) opt->profile->other += g_compute_s + g_copy_s;
    return 0;
}

} /* namespace */

extern "C" {

int md_cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n;
}

int md_cuda_forward_rows(struct md_model *m, const unsigned char *tokens, int B, long long L,
                         const struct md_forward_opt *opt, float *out)
{
    if (!opt || opt->device < 1)
        return md_error(MD_ERR_ARG, "md_cuda_forward_rows: no CUDA device in the options");
    int n = md_cuda_device_count();
    if (opt->device - 1 >= n)
        return md_error(MD_ERR_ARG, "device cuda:%d asked for, %d CUDA device(s) found",
                        opt->device - 1, n);
    return forward(m, tokens, B, L, opt, out, -1);
}

int md_cuda_forward_pooled(struct md_model *m, const unsigned char *tokens, int B, long long L,
                           const struct md_forward_opt *opt, int pool, float *out)
{
    if (!opt || opt->device < 1)
        return md_error(MD_ERR_ARG, "md_cuda_forward_pooled: no CUDA device in the options");
    int n = md_cuda_device_count();
    if (opt->device - 1 >= n)
        return md_error(MD_ERR_ARG, "device cuda:%d asked for, %d CUDA device(s) found",
                        opt->device - 1, n);
    if (pool < MD_POOL_MEAN || pool > MD_POOL_LAST)
        return md_error(MD_ERR_ARG, "unknown pooling %d", pool);
    return forward(m, tokens, B, L, opt, out, pool);
}

void md_cuda_model_release(struct md_model *m)
{
    if (!m || !m->gpu) return;
    release((GpuModel *)m->gpu);
    m->gpu = nullptr;
}

size_t md_cuda_model_device_bytes(const struct md_model *m)
{
    const GpuModel *g = m ? (const GpuModel *)m->gpu : nullptr;
    if (!g) return 0;
    const md_config *c = &m->cfg;
    int ndir = c->arch == MD_ARCH_MAMBA ? 1 : 2;
    size_t nA = (size_t)c->n_layer * ndir * c->expand * c->d_model * c->d_state;
    return (size_t)m->n_params * 4 + (g->wbf ? (size_t)m->n_params * 2 : 0) + nA * 4 + BLAS_WS +
           g->arena_bytes;
}

int md_cuda_mem_info(int device, size_t *free_bytes, size_t *total_bytes)
{
    int cur = 0;
    TRY(cu(cudaGetDevice(&cur), "get device"));
    TRY(cu(cudaSetDevice(device), "set device"));
    int ret = cu(cudaMemGetInfo(free_bytes, total_bytes), "memory info");
    cudaSetDevice(cur);
    return ret;
}

void md_cuda_set_profiling(int on) { g_profiling = on != 0; }

int md_cuda_last_profile(double *seconds, const char **names, int n)
{
    for (int k = 0; k < n && k < NKIND; k++) {
        if (seconds) seconds[k] = g_prof[k];
        if (names) names[k] = kind_names[k];
    }
    return NKIND;
}

void md_cuda_last_times(double *compute_s, double *copy_s)
{
    if (compute_s) *compute_s = g_compute_s;
    if (copy_s) *copy_s = g_copy_s;
}

} /* extern "C" */
