/* half.c: float32 <-> float16 (IEEE binary16) and bfloat16 conversions.
 *
 * Integer-only, so results do not depend on the FPU rounding mode or on
 * F16C being present: round to nearest, ties to even; float32 values too
 * small for a float16 subnormal round to (signed) zero, values at or above
 * 65520 to infinity; NaN stays NaN with its payload's top bits kept (a
 * float16 NaN survives f16 -> f32 -> f16 bit for bit). */
#include <string.h>

#include "half.h"
#include "mambadna.h"

static uint32_t f32_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static float bits_f32(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

uint16_t md_f32_to_f16(float x)
{
    uint32_t u = f32_bits(x);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;

    if (a > 0x7f800000u) { /* NaN: keep the top 10 payload bits, never inf */
        uint16_t m = (uint16_t)((a >> 13) & 0x3ffu);
        return (uint16_t)(sign | 0x7c00u | (m ? m : 0x200u));
    }
    if (a >= 0x477ff000u) /* >= 65520 (incl. inf): ties to even go up to inf */
        return (uint16_t)(sign | 0x7c00u);
    if (a >= 0x38800000u) { /* normal float16: >= 2^-14 */
        a += 0xfffu + ((a >> 13) & 1u); /* round to nearest even at bit 13 */
        return (uint16_t)(sign | ((a - (112u << 23)) >> 13));
    }
    /* float16 subnormal (or zero): round(|x| / 2^-24) to nearest even. */
    uint32_t e = a >> 23;
    if (e < 102) return sign; /* |x| < 2^-25: rounds to zero */
    uint32_t m = (a & 0x7fffffu) | 0x800000u; /* |x| = m * 2^(e - 150) */
    uint32_t shift = 126 - e;                /* in [14, 24] */
    uint32_t q = m >> shift;
    uint32_t r = m & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (r > half || (r == half && (q & 1u))) q++; /* q may carry into 0x400: */
    return (uint16_t)(sign | q);                  /* the smallest normal */
}

float md_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu;
    uint32_t m = h & 0x3ffu;

    if (e == 0x1f) return bits_f32(sign | 0x7f800000u | (m << 13)); /* inf, NaN */
    if (e == 0) {
        if (m == 0) return bits_f32(sign);
        e = 113; /* normalize m * 2^-24: exponent 103 + top bit of m */
        while (!(m & 0x400u)) {
            m <<= 1;
            e--;
        }
        return bits_f32(sign | (e << 23) | ((m & 0x3ffu) << 13));
    }
    return bits_f32(sign | ((e + 112) << 23) | (m << 13));
}

uint16_t md_f32_to_bf16(float x)
{
    uint32_t u = f32_bits(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: quiet it so it stays NaN */
        return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even; may reach inf */
    return (uint16_t)(u >> 16);
}

float md_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }
