/* cuda_backend.h: the CUDA backend's C API (no CUDA types: C code includes it).
 *
 * All tensor pointers are device memory (cudaMalloc), in the time-major
 * layouts of the CPU ops (src/cpu/ops.h): element (b, t, e) of u at
 * u[(b*L + t)*E + e]; (b, t, n) of B and C at Bm[(b*L + t)*ldbc + n].
 * Functions return 0 or a negative enum md_status code with a message
 * through md_error() (src/mambadna.h). Every launch is on `stream`
 * (a cudaStream_t, NULL for the default stream) and is asynchronous.
 */
#ifndef MD_CUDA_BACKEND_H
#define MD_CUDA_BACKEND_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Bytes of device workspace md_cuda_selective_scan_fwd needs for this shape
 *  on the current device (0 when the sequence is not split into segments).
 *  @param batch  B, number of sequences
 *  @param L      sequence length
 *  @param E      channels (inner width)
 *  @param N      state size (1..64) */
size_t md_cuda_selective_scan_workspace(int batch, long L, int E, int N);

/** Selective scan forward over `batch` sequences of L steps, all E channels:
 *    delta = softplus(dt + dt_bias); h = exp(delta*A) h + delta*B*u;
 *    y = (C.h + D*u) * silu(z)            (no gate when z is NULL)
 *  One fused kernel; states stay in registers in fp32; nothing of size
 *  L x N touches device memory. Long sequences are split into segments
 *  scanned in parallel, with a carry pass between them (workspace).
 *
 * @param u, dt    (B, L, E) of dtype
 * @param dt_bias  (E) float32
 * @param A        (E, N) float32, A = -exp(A_log) (must be <= 0)
 * @param Bm, Cm   (B, L, ldbc) of dtype; B at Bm[(b*L+t)*ldbc + n]
 * @param Dv       (E) float32, skip
 * @param z        (B, L, ldz) of dtype, or NULL: no SiLU gate
 * @param dir      +1: time ascending; -1: descending (reverse mixer)
 * @param dtype    MD_F32 or MD_BF16 (enum md_dtype) for u, dt, B, C, z, y
 * @param h0       (B, N, E) float32 initial states, or NULL for zeros
 * @param h_last   (B, N, E) float32 final states out, or NULL
 * @param y        (B, L, E) of dtype, written
 * @param workspace, workspace_bytes  at least md_cuda_selective_scan_workspace()
 * @param stream   cudaStream_t or NULL
 * @return 0, MD_ERR_ARG for a bad argument, MD_ERR for a CUDA error */
int md_cuda_selective_scan_fwd(const void *u, const void *dt, const float *dt_bias,
                               const float *A, const void *Bm, const void *Cm,
                               long ldbc, const float *Dv, const void *z, long ldz,
                               int batch, long L, int E, int N, int dir, int dtype,
                               const float *h0, float *h_last, void *y,
                               void *workspace, size_t workspace_bytes, void *stream);


/* ---- inference forward on the GPU (cuda/forward.cu, cuda/ops.cu) ------- */

struct md_model;
struct md_forward_opt;

/** Number of CUDA devices usable by this process (0 when there is no driver
 *  or no GPU; never an error). */
int md_cuda_device_count(void);

/** md_model_forward_rows on CUDA device opt->device - 1: same contract and
 *  result (within float32 rounding) as the CPU path, including chunked mode
 *  (opt->chunk) with carried conv and scan states. The parameters are
 *  uploaded on the first call and cached on the model (re-uploaded when the
 *  host parameters change); activations live in one device arena sized per
 *  call (kept between calls, grown when a call needs more). out is host
 *  memory (B, L, d_model). */
int md_cuda_forward_rows(struct md_model *m, const unsigned char *tokens, int B, long long L,
                         const struct md_forward_opt *opt, float *out);

/** As md_cuda_forward_rows, but the final hidden states are pooled on the
 *  device over each row's non-[PAD] tokens (pool: enum md_pool) and only
 *  the pooled rows come back: out (B, d_model). */
int md_cuda_forward_pooled(struct md_model *m, const unsigned char *tokens, int B, long long L,
                           const struct md_forward_opt *opt, int pool, float *out);

/** Free the device copy of a model (parameters, arena, handles); no-op when
 *  there is none. md_model_free should call this. */
void md_cuda_model_release(struct md_model *m);

/* The arithmetic of a call is its options' precision (enum md_precision of
 * mambadna.h), for the forward md_forward_opt.precision, for training the
 * `precision` argument:
 *  FP32: fp32 activations, fp32 GEMMs (CUBLAS_COMPUTE_32F): matches the CPU
 *        to ~1e-6 relative;
 *  TF32: as FP32 with TF32 tensor-core GEMMs (~1e-3 relative);
 *  BF16: inference: bf16 activations and GEMM operands between the kernels,
 *        fp32 accumulation, fp32 residual stream, norms and states (~1e-2);
 *        training: bf16 tensor-core GEMMs (operands rounded to bf16, fp32
 *        accumulation) on fp32 activations, fp32 master weights, gradients
 *        and optimizer state. */

/** Device memory held by a model's GPU copy: parameters (and their bf16
 *  copy), the arena and the cuBLAS workspace, in bytes (0 when none). */
size_t md_cuda_model_device_bytes(const struct md_model *m);

/** Free and total memory of a device (cudaMemGetInfo): 0 or an error. */
int md_cuda_mem_info(int device, size_t *free_bytes, size_t *total_bytes);

/** Seconds of the last md_cuda_forward_rows: upload of the tokens + all
 *  layers + final norm (device events), and the copy of the result back to
 *  the host (host clock). */
void md_cuda_last_times(double *compute_s, double *copy_s);

/** Time every operation of the following md_cuda_forward_rows calls with
 *  device events (adds small gaps: for benchmarks only). */
void md_cuda_set_profiling(int on);
/** Seconds per kind of operation of the last profiled call: fills up to n
 *  entries of seconds[] and names[] (either may be NULL); returns the number
 *  of kinds. */
int md_cuda_last_profile(double *seconds, const char **names, int n);

/* Kernels of cuda/ops.cu (device pointers; all return 0 or an md_status
 * code after checking the launch; `act` is MD_F32 or MD_BF16). */
int md_cuda_embed_gather(const unsigned char *tokens, const float *emb, long long T, int D,
                         float *out, void *stream);
/** PS models: x += h (h may be NULL), then swap the strand halves: row r < P
 *  takes row r+P flipped over length and channels, and vice versa. */
int md_cuda_add_swap(float *x, const float *h, int P, long long L, int D, void *stream);
/** Norm of positions [t0, t0+Lc) of `rows` rows of x (row stride L
 *  positions): when h != NULL first x += h (written back); out (rows*Lc, D)
 *  of dtype act, contiguous. bias == NULL and rms: RMSNorm. out may be h. */
int md_cuda_norm(float *x, const float *h, const float *w, const float *bias, int rms,
                 float eps, int rows, long long L, long long t0, long long Lc, int D,
                 void *out, int act, void *stream);
/** Depthwise causal conv1d + SiLU over a chunk of `rows` sequences of Ls
 *  steps: x (rows, Ls, ldx) of act, w (E, K), state (rows, K-1, E) float32
 *  (read; the previous K-1 inputs in processing order, oldest first), out
 *  (rows, Ls, E) of act. dir -1: time descending. Then the state is advanced
 *  past the chunk. K <= 8. */
int md_cuda_conv1d_silu(const void *x, long long ldx, const float *w, const float *b,
                        int rows, long long Ls, int E, int K, int dir, float *state,
                        void *out, int act, void *stream);
/** A = -exp(A_log), n elements. */
int md_cuda_neg_exp(const float *A_log, float *A, long long n, void *stream);
/** y[(r*L + t0 + t)*D + d] *= o[(r*Lc + t)*D + d] for a chunk. */
int md_cuda_mul_chunk(float *y, const float *o, int rows, long long L, long long t0,
                      long long Lc, int D, void *stream);
/** float32 -> bf16, n elements. */
int md_cuda_to_bf16(const float *x, void *y, long long n, void *stream);

/* ---- training (cuda/grad_ops.cu, cuda/train.cu) ------------------------ */

/* Training ops: float32 device pointers, the arguments and semantics of the
 * CPU ops of src/cpu/grad_ops.inc and src/cpu/grad_fast.h (time-major
 * layouts, dir -1 runs time descending, states start at zero). Weight
 * gradients are accumulated (+=) with atomics. */
int md_cuda_norm_fwd_stats(int rms, const float *x, const float *w, const float *b, long long T,
                           int D, float eps, float *out, float *mean, float *rstd, void *stream);
int md_cuda_norm_bwd(int rms, const float *x, const float *w, const float *mean,
                     const float *rstd, const float *g_y, long long T, int D, float *g_x,
                     int accumulate, float *g_w, float *g_b, void *stream);
int md_cuda_conv_fwd(const float *x, long long ldx, const float *w, const float *b, int rows,
                     long long Ls, int E, int K, int dir, float *out, void *stream);
/** g_x (.., ldx) += d/dx. */
int md_cuda_conv_bwd(const float *x, long long ldx, const float *w, const float *b, int rows,
                     long long Ls, int E, int K, int dir, const float *g_u, float *g_x, float *g_w,
                     float *g_b, void *stream);
/** The scan forward of training (cuda/scan.cu): md_cuda_selective_scan_fwd
 *  in float32 (A = -exp(A_log), work: md_cuda_selective_scan_workspace()
 *  bytes) that also writes hsave (rows, ceil(Ls / MD_SCAN_CHUNK), N, E),
 *  the state entering every MD_SCAN_CHUNK-th step, for md_cuda_scan_bwd. A
 *  segment of a longer sequence: h_first (rows, N, E) is the state before
 *  its first step in scan order (NULL: zero), h_last receives the state
 *  after its last step (NULL: not wanted). */
int md_cuda_scan_fwd_save(const float *u, const float *dtr, const float *bias, const float *A,
                          const float *Bm, const float *Cm, long long ldbc, const float *Dv,
                          const float *z, long long ldz, int rows, long long Ls, int E, int N,
                          int dir, const float *h_first, float *h_last, float *y, float *hsave,
                          void *work, size_t work_bytes, void *stream);
/** Bytes of the work buffer of md_cuda_scan_bwd. */
size_t md_cuda_train_scan_workspace(int rows, long long Ls, int E, int N);
/** As md_grad_scan_bwd (no partial buffer: g_B / g_C summed with atomics,
 *  the per-channel sums over chunks in order), chunks in parallel. For a
 *  segment (hsave from md_cuda_scan_fwd_save with its h_first): g_last
 *  (rows, N, E) is the gradient of the state after its last step from the
 *  steps that follow (NULL: zero), g_first receives the gradient of
 *  h_first (NULL: not wanted; it may be g_last). */
int md_cuda_scan_bwd(const float *u, const float *dtr, const float *bias, const float *A_log,
                     const float *Bm, const float *Cm, long long ldbc, const float *Dv,
                     const float *z, long long ldz, int rows, long long Ls, int E, int N, int dir,
                     const float *hsave, const float *g_last, float *g_first, const float *g_y,
                     float *y, float *g_u, float *g_dtr, float *g_z, float *g_bc, long long ldg,
                     float *g_A_log, float *g_D, float *g_bias, float *work, void *stream);
/** dst = the PS strand swap of src (2P rows of L x D), out of place. */
int md_cuda_swap_strands(const float *src, int P, long long L, int D, float *dst, void *stream);
/** out = a + b and out = a * b, n elements (out may alias a or b). */
int md_cuda_add(const float *a, const float *b, long long n, float *out, void *stream);
int md_cuda_mul(const float *a, const float *b, long long n, float *out, void *stream);
/** g_emb (V, D) += the rows of g (T, D) gathered by token. */
int md_cuda_embed_bwd(const unsigned char *tok, const float *g, long long T, int D, int V,
                      float *g_emb, void *stream);
/** Pooling (enum md_pool) of rows of x (rows, L, D) over non-[PAD] tokens
 *  into f (rows, D); with g_f given (f NULL), its backward added into g_x. */
int md_cuda_pool(int mode, const float *x, const unsigned char *tok, int rows, long long L, int D,
                 float *f, const float *g_f, float *g_x, void *stream);
/** LM cross-entropy over B x L targets: Z (rows*L, V) logits in, dloss/dZ x
 *  scale out; PS (ps = 1): rows B + b hold the reverse-complement stream and
 *  position (b, t) sums the logits of (b, t) and (B + b, L-1-t). *loss (a
 *  device double) += the summed loss. V <= 32. */
int md_cuda_lm_xent(float *Z, const unsigned char *targets, int B, long long L, int V, int ps,
                    float scale, double *loss, void *stream);
/** add_back 0: Wc[v] = W[comp[v]] (rows of D); 1: Wc[comp[v]] += W[v]. */
int md_cuda_permute_rows(const float *W, const unsigned char *comp, int V, int D, float *Wc,
                         int add_back, void *stream);
/** *out (a device double) += the sum of squares of x[n]. */
int md_cuda_sumsq(const float *x, long long n, double *out, void *stream);
/** AdamW over a flat buffer, the arithmetic of md_adamw_step with the
 *  gradient scaled by g_scale; decay[i] != 0 where weight decay applies;
 *  step is the step number after this one (bias correction). */
int md_cuda_adamw(float *p, const float *g, float *m, float *v, const unsigned char *decay,
                  long long n, float g_scale, float lr, float beta1, float beta2, float eps,
                  float weight_decay, long long step, void *stream);

struct md_batch;
struct md_adamw;

/** md_model_loss_grad on CUDA device `device` (0-based): the loss and, with
 *  grads (host, n_params) given, the gradient added into it. Same network,
 *  losses and recomputation scheme as the CPU (float32 throughout; agrees
 *  with the CPU within float32 rounding, not bit for bit). */
int md_cuda_loss_grad(struct md_model *m, int device, int precision, int objective,
                      const struct md_batch *batch, float *grads, double *loss);

/** One training step on the GPU: loss and gradient, global-norm clipping
 *  (clip > 0), AdamW with moments kept on the device, and the updated
 *  parameters copied back into m. The moments start from a's (host) at the
 *  first step of a run and are copied back into a by
 *  md_cuda_train_sync_moments. *grad_norm: the norm before clipping. */
int md_cuda_train_step(struct md_model *m, int device, int precision, int objective,
                       const struct md_batch *batch, struct md_adamw *a, double lr, double beta1,
                       double beta2, double eps, double weight_decay, double clip, double *loss,
                       double *grad_norm);
/** Seconds per kind of operation of the last training step or gradient run
 *  while md_cuda_set_profiling(1) is on: fills up to n entries (either
 *  array may be NULL); returns the number of kinds. */
int md_cuda_train_profile(double *seconds, const char **names, int n);
/** Run the layers of later training steps in time chunks of `positions`
 *  (each sequence in turn, states carried between chunks: the layer's
 *  memory no longer grows with the length); 0, the default: whole layers
 *  when they fit in the device's free memory, else the longest chunks (of
 *  at most 65,536) that fit. */
void md_cuda_set_train_chunk(long long positions);

/** Copy the device AdamW moments (and step count) into a. */
int md_cuda_train_sync_moments(struct md_model *m, struct md_adamw *a);

#ifdef __cplusplus
}
#endif

#endif
