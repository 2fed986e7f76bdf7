/* backend.c: the registry of accelerator backends: the one file of the
 * library that knows which were built (MD_HAVE_CUDA: the CUDA backend of
 * cuda/, built when nvcc is found). */
#include "backend.h"

#ifdef MD_HAVE_CUDA
extern const md_backend md_backend_cuda; /* cuda/backend.cu */
#endif

const md_backend *md_backend_accelerator(void)
{
#ifdef MD_HAVE_CUDA
    return &md_backend_cuda;
#else
    return NULL;
#endif
}
