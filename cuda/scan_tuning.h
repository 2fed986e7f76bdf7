/* scan_tuning.h: development entry of the CUDA selective scan (harness and
 * benchmarks only; the library calls md_cuda_selective_scan_fwd). */
#ifndef MD_CUDA_SCAN_TUNING_H
#define MD_CUDA_SCAN_TUNING_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct md_cuda_scan_tuning {
    int nseg;        /**< segments per sequence; 0: the planner's choice */
    int variant;     /**< kernel variant, 0 default (md_cuda_scan_variant_name) */
    int passes;      /**< 0 all; 1 segment-state pass only; 3 output pass only
                          (timing breakdowns: the result is then wrong) */
    long long *dbg;  /**< device buffer of 4, or NULL: clock64() and %globaltimer
                          at the start and end of CTA (0,0,0) of the output pass */
} md_cuda_scan_tuning;

/** md_cuda_selective_scan_fwd with tuning; tun may be NULL. The workspace
 *  must hold nseg * batch * E * (N + 1) floats when nseg > 1. */
int md_cuda_selective_scan_fwd_tuned(const void *u, const void *dt, const float *dt_bias,
                                     const float *A, const void *Bm, const void *Cm,
                                     long ldbc, const float *Dv, const void *z, long ldz,
                                     int batch, long L, int E, int N, int dir, int dtype,
                                     const float *h0, float *h_last, void *y,
                                     void *workspace, size_t workspace_bytes, void *stream,
                                     const md_cuda_scan_tuning *tun);

/** The plan for a shape and variant (nseg_req 0: planner's choice): segment
 *  count and length (in steps), channels per thread (> 0) or minus the
 *  threads per channel of the state-split kernel (< 0). */
void md_cuda_selective_scan_plan(int batch, long L, int E, int N, int variant, int nseg_req,
                                 int *nseg, long *seg_len, int *cpt);

/** Device arrays of n: mufu[i] = ex2.approx(x[i]), poly[i] = the FMA-pipe
 *  polynomial exp2 of the scan (accuracy probe). */
int md_cuda_scan_exp_probe(const float *x, float *mufu, float *poly, long n);

/** Number of kernel variants and a short name of each (NULL when out of range). */
int md_cuda_scan_nvariants(void);
const char *md_cuda_scan_variant_name(int variant);

#ifdef __cplusplus
}
#endif

#endif
