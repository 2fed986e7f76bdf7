/* backend.cu: the CUDA backend's entry in the library's table of backends
 * (src/backend.h): the inference forward of forward.cu and the training
 * step of train.cu behind the table's plain-C signatures. */
#include "backend.h"
#include "cuda_backend.h"

static int forward_rows(md_model *m, const uint8_t *tokens, int B, int64_t L,
                        const md_forward_opt *opt, float *out)
{
    return md_cuda_forward_rows(m, tokens, B, (long long)L, opt, out);
}

static int forward_pooled(md_model *m, const uint8_t *tokens, int B, int64_t L,
                          const md_forward_opt *opt, int pool, float *out)
{
    return md_cuda_forward_pooled(m, tokens, B, (long long)L, opt, pool, out);
}

extern "C" const md_backend md_backend_cuda = {
    "cuda",
    md_cuda_device_count,
    forward_rows,
    forward_pooled,
    md_cuda_model_release,
    md_cuda_train_step,
    md_cuda_train_sync_moments,
};
