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

#ifdef __cplusplus
}
#endif

#endif
