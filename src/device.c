/* device.c: choosing where the forward and training run (.device of the
 * options): "cpu", "cuda", "cuda:N"; and the calls into the CUDA backend
 * (cuda/forward.cu, cuda/train.cu), built into the library when nvcc is
 * found (MD_HAVE_CUDA). */
#include <stdlib.h>
#include <string.h>

#include "model.h"
#ifdef MD_HAVE_CUDA
#include "../cuda/backend.h"
#endif

int md_device_count(void)
{
#ifdef MD_HAVE_CUDA
    return md_cuda_device_count();
#else
    return 0;
#endif
}

int md_device_parse(const char *name, int *device)
{
    if (!name || !strcmp(name, "cpu")) {
        *device = 0;
        return 0;
    }
    long idx = 0;
    if (strncmp(name, "cuda", 4) != 0 || (name[4] != '\0' && name[4] != ':'))
        return md_error(MD_ERR_ARG, "unknown device '%s' (cpu, cuda or cuda:N)", name);
    if (name[4] == ':') {
        char *end;
        const char *s = name + 5;
        if (*s < '0' || *s > '9') return md_error(MD_ERR_ARG, "unknown device '%s' (cpu, cuda or cuda:N)", name);
        idx = strtol(s, &end, 10);
        if (*end || idx < 0 || idx > 1024)
            return md_error(MD_ERR_ARG, "unknown device '%s' (cpu, cuda or cuda:N)", name);
    }
#ifdef MD_HAVE_CUDA
    int n = md_cuda_device_count();
    if (n == 0)
        return md_error(MD_ERR_ARG, "device '%s': no CUDA GPU is visible on this machine "
                        "(use --device cpu)", name);
    if (idx >= n)
        return md_error(MD_ERR_ARG, "device '%s': this machine has %d CUDA device%s "
                        "(cuda:0 to cuda:%d)", name, n, n > 1 ? "s" : "", n - 1);
    *device = (int)idx + 1;
    return 0;
#else
    return md_error(MD_ERR_ARG, "device '%s': this mambadna was built without the CUDA backend "
                    "(rebuild where nvcc is found, or use --device cpu)", name);
#endif
}

int md_device_set_precision(const char *name)
{
    int p = !name ? -1 : !strcmp(name, "fp32") ? 0 : !strcmp(name, "tf32") ? 1
                       : !strcmp(name, "bf16") ? 2 : -1;
    if (p < 0) return md_error(MD_ERR_ARG, "unknown precision '%s' (fp32, tf32 or bf16)", name ? name : "");
#ifdef MD_HAVE_CUDA
    return md_cuda_set_precision(p == 0 ? MD_CUDA_FP32 : p == 1 ? MD_CUDA_TF32 : MD_CUDA_BF16);
#else
    return 0;
#endif
}

int md_device_train_step(md_model *m, int device, int objective, const md_batch *batch,
                         md_adamw *a, double lr, double beta1, double beta2, double eps,
                         double weight_decay, double clip, double *loss, double *grad_norm)
{
#ifdef MD_HAVE_CUDA
    return md_cuda_train_step(m, device, objective, batch, a, lr, beta1, beta2, eps, weight_decay,
                              clip, loss, grad_norm);
#else
    (void)m; (void)objective; (void)batch; (void)a; (void)lr; (void)beta1; (void)beta2;
    (void)eps; (void)weight_decay; (void)clip; (void)loss; (void)grad_norm;
    return md_error(MD_ERR_ARG, "device cuda:%d asked for, but this mambadna was built without "
                    "the CUDA backend", device);
#endif
}

int md_device_sync_moments(md_model *m, md_adamw *a)
{
#ifdef MD_HAVE_CUDA
    return md_cuda_train_sync_moments(m, a);
#else
    (void)m; (void)a;
    return 0;
#endif
}
