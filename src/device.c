/* device.c: choosing where the forward runs (md_forward_opt.device):
 * "cpu", "cuda", "cuda:N". The GPU forward itself is cuda/forward.cu, built
 * into the library when nvcc is found (MD_HAVE_CUDA). */
#include <stdlib.h>
#include <string.h>

#include "mambadna.h"
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
