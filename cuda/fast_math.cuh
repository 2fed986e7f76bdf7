/* fast_math.cuh: the special-function-unit math of the scan kernels
 * (cuda/scan.cu, cuda/grad_ops.cu): 2^x and log2 by MUFU with denormals
 * flushed, softplus and sigmoid built on them, accurate to a few 1e-7
 * relative where the CPU reference uses exp and log1p. */
#ifndef MD_CUDA_FAST_MATH_CUH
#define MD_CUDA_FAST_MATH_CUH

namespace md_fast {

constexpr float LOG2E = 1.4426950408889634f;
constexpr float LN2 = 0.6931471805599453f;

__device__ __forceinline__ float ex2_approx(float x)
{
    float r;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x));
    return r;
}

__device__ __forceinline__ float lg2_approx(float x)
{
    float r;
    asm("lg2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x));
    return r;
}

/* softplus(x) = log1p(e^x), to a few 1e-7 relative: a series for e^x < 1/16
 * (where 1 + e^x would lose the low bits), lg2 above, x itself above 20 (as
 * the CPU reference). */
__device__ __forceinline__ float softplus_f(float x)
{
    float w = ex2_approx(x * LOG2E);
    float p = fmaf(w, -1.0f / 6.0f, 0.2f);
    p = fmaf(p, w, -0.25f);
    p = fmaf(p, w, 1.0f / 3.0f);
    p = fmaf(p, w, -0.5f);
    p = fmaf(p, w, 1.0f);
    p *= w;
    float l = lg2_approx(1.0f + w) * LN2;
    float r = w < 0.0625f ? p : l;
    return x > 20.0f ? x : r;
}

/* sigmoid(x) = 1 / (1 + e^-x) with a fast divide (2 ulp). */
__device__ __forceinline__ float sigmoid_f(float x)
{
    return __fdividef(1.0f, 1.0f + ex2_approx(-x * LOG2E));
}

} /* namespace md_fast */

#endif
