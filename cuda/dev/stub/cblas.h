/* Stub of cblas.h for building src/cpu/ops.c into the CUDA dev harnesses on
 * machines without OpenBLAS (the GPU machine). The harness only calls the
 * scan reference; cblas_sgemm here aborts if anything reaches it. */
#ifndef MD_STUB_CBLAS_H
#define MD_STUB_CBLAS_H
#include <stdio.h>
#include <stdlib.h>
typedef int blasint;
enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 };
enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112 };
static inline void cblas_sgemm(enum CBLAS_ORDER o, enum CBLAS_TRANSPOSE ta,
                               enum CBLAS_TRANSPOSE tb, blasint m, blasint n, blasint k,
                               float alpha, const float *a, blasint lda, const float *b,
                               blasint ldb, float beta, float *c, blasint ldc)
{
    (void)o; (void)ta; (void)tb; (void)m; (void)n; (void)k; (void)alpha; (void)a;
    (void)lda; (void)b; (void)ldb; (void)beta; (void)c; (void)ldc;
    fprintf(stderr, "cblas_sgemm stub called in a harness build\n");
    abort();
}
#endif
