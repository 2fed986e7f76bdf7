/* backend.h: the accelerator backends, as one table of entry points each
 * (private). The CPU path is the library's own code; an accelerator backend
 * fills an md_backend in its own directory (cuda/backend.cu for CUDA) and
 * the registry, backend.c, is the only file of the library that knows which
 * backends were built. Plain C: no type of any backend's toolkit. */
#ifndef MD_BACKEND_H
#define MD_BACKEND_H

#include "model.h"

typedef struct md_backend {
    const char *name; /* the device kind of --device: "cuda" for "cuda:N" */

    /* Devices usable by this process; 0 when none (never an error). */
    int (*device_count)(void);

    /* md_model_forward_rows on device opt->device - 1 in the arithmetic of
     * opt->precision: tokens (B, L), out (B, L, d_model) in host memory; the
     * model's parameters are copied to the device on the first call and
     * kept on the model (m->gpu). */
    int (*forward_rows)(md_model *m, const uint8_t *tokens, int B, int64_t L,
                        const md_forward_opt *opt, float *out);

    /* The same, the final hidden states pooled on the device over each
     * row's non-[PAD] tokens (pool: enum md_pool): out (B, d_model). */
    int (*forward_pooled)(md_model *m, const uint8_t *tokens, int B, int64_t L,
                          const md_forward_opt *opt, int pool, float *out);

    /* Free the model's device copy (m->gpu); no-op when there is none. */
    void (*model_release)(md_model *m);

    /* One training step on device `device` (0-based) in the arithmetic of
     * `precision` (enum md_precision): loss, gradient, clipping (clip > 0)
     * and AdamW with the moments kept on the device; the updated parameters
     * copied back into m. */
    int (*train_step)(md_model *m, int device, int precision, int objective,
                      const md_batch *batch, md_adamw *a, double lr, double beta1, double beta2, double eps,
                      double weight_decay, double clip, double *loss, double *grad_norm);

    /* Copy the device's AdamW moments (and step count) into a. */
    int (*sync_moments)(md_model *m, md_adamw *a);
} md_backend;

/* The accelerator backend built into this library, or NULL when there is
 * none (a CPU-only build). */
const md_backend *md_backend_accelerator(void);

/* The backend that runs device `device` (as md_forward_opt.device: k > 0 is
 * accelerator device k - 1), or NULL with the error reported (md_error)
 * when this library has no accelerator backend (device.c). */
const md_backend *md_device_backend(int device);

#endif
