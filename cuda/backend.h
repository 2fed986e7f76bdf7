/* backend.h: the CUDA backend's C API (no CUDA types: C code includes it).
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

/** Free the device copy of a model (parameters, arena, handles); no-op when
 *  there is none. md_model_free should call this. */
void md_cuda_model_release(struct md_model *m);

/** Arithmetic of the GPU forward (process-wide, default MD_CUDA_FP32):
 *  FP32: fp32 activations, fp32 GEMMs (CUBLAS_COMPUTE_32F): matches the CPU
 *        to ~1e-6 relative;
 *  TF32: as FP32 with TF32 tensor-core GEMMs (~1e-3 relative);
 *  BF16: bf16 activations and GEMM operands between the kernels, fp32
 *        accumulation, fp32 residual stream, norms and states (~1e-2). */
enum md_cuda_precision { MD_CUDA_FP32 = 0, MD_CUDA_TF32 = 1, MD_CUDA_BF16 = 2 };
int md_cuda_set_precision(int precision);

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

#ifdef __cplusplus
}
#endif

#endif
