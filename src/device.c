/* device.c: choosing where the forward and training run (.device of the
 * options): "cpu", "cuda", "cuda:N"; device 0 is the CPU, device k > 0 is
 * device k - 1 of the accelerator backend (backend.h), when one was built. */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "model.h"

int md_device_count(void)
{
    const md_backend *b = md_backend_accelerator();
    return b ? b->device_count() : 0;
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
    const md_backend *b = md_backend_accelerator();
    if (!b || strcmp(b->name, "cuda") != 0)
        return md_error(MD_ERR_ARG, "device '%s': this mambadna was built without the CUDA backend "
                        "(rebuild where nvcc is found, or use --device cpu)", name);
    int n = b->device_count();
    if (n == 0)
        return md_error(MD_ERR_ARG, "device '%s': no CUDA GPU is visible on this machine "
                        "(use --device cpu)", name);
    if (idx >= n)
        return md_error(MD_ERR_ARG, "device '%s': this machine has %d CUDA device%s "
                        "(cuda:0 to cuda:%d)", name, n, n > 1 ? "s" : "", n - 1);
    *device = (int)idx + 1;
    return 0;
}

int md_precision_parse(const char *name)
{
    if (name && !strcmp(name, "fp32")) return MD_PRECISION_FP32;
    if (name && !strcmp(name, "tf32")) return MD_PRECISION_TF32;
    if (name && !strcmp(name, "bf16")) return MD_PRECISION_BF16;
    return md_error(MD_ERR_ARG, "unknown precision '%s' (fp32, tf32 or bf16)", name ? name : "");
}

const md_backend *md_device_backend(int device)
{
    const md_backend *b = md_backend_accelerator();
    if (!b)
        md_error(MD_ERR_ARG, "device cuda:%d asked for, but this mambadna was built without "
                 "the CUDA backend", device - 1);
    return b;
}

int md_device_train_step(md_model *m, int device, int precision, int objective,
                         const md_batch *batch, md_adamw *a, double lr, double beta1,
                         double beta2, double eps, double weight_decay, double clip, double *loss,
                         double *grad_norm)
{
    const md_backend *b = md_device_backend(device + 1);
    if (!b) return MD_ERR_ARG;
    return b->train_step(m, device, precision, objective, batch, a, lr, beta1, beta2, eps,
                         weight_decay, clip, loss, grad_norm);
}

int md_device_sync_moments(md_model *m, md_adamw *a)
{
    const md_backend *b = md_backend_accelerator();
    return b ? b->sync_moments(m, a) : 0;
}
