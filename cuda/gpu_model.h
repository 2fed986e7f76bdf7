/* gpu_model.h: the device copy of a model shared by the CUDA files
 * (internal, C++): parameters, stream, cuBLAS handle and the error helpers.
 * Made and kept by cuda/forward.cu (get_model); the training context of
 * cuda/train.cu hangs off it and is freed with it. */
#ifndef MD_CUDA_GPU_MODEL_H
#define MD_CUDA_GPU_MODEL_H

#include <cuda_runtime.h>
#include <cublas_v2.h>
#include <cstdint>

#include "model.h"

namespace md_gpu {

struct GpuModel {
    int device;
    const float *host_params;
    int64_t n_params;
    uint64_t fp;          /* fingerprint of the uploaded parameters */
    int uploaded;
    float *params;        /* (n_params) */
    float *A;             /* (n_layer, ndir, E, N) */
    void *wbf;            /* (n_params) bf16, or NULL */
    cudaStream_t stream;
    cublasHandle_t blas;
    void *blas_ws;
    void *arena;
    size_t arena_bytes;
    void *pin[2];
    cudaEvent_t ev[2], pev[2];
    int have_stream, have_blas, n_ev;
    int precision;                  /* enum md_precision of the running training step */
    void *train;                    /* training context (cuda/train.cu), or NULL */
    void (*train_release)(void *);  /* frees it */
};

/* 0, or the md_status of a failed CUDA / cuBLAS call with a message. */
int cu(cudaError_t e, const char *what);
int cb(cublasStatus_t s, const char *what);

#define TRY(x)                    \
    do {                          \
        int r_ = (x);             \
        if (r_) return r_;        \
    } while (0)

/* The device copy of m on device dev (made current), uploaded again when
 * the host parameters changed; bf: also keep a bf16 copy of them. */
int get_model(md_model *m, int dev, int bf, GpuModel **out);

/* The device parameters were changed in place (a training step) and copied
 * into the host buffer: refresh what derives from them and record the copy
 * as current. */
int params_updated(md_model *m, GpuModel *g);

/* Whether md_cuda_set_profiling asked for per-operation timing. */
bool profiling();

/* Device pointer of a host parameter pointer (NULL stays NULL). */
inline float *dp(const GpuModel *g, const md_model *m, const float *p)
{
    return p ? g->params + (p - m->params) : nullptr;
}

inline size_t up256(size_t x) { return (x + 255) & ~(size_t)255; }

} /* namespace md_gpu */

#endif
