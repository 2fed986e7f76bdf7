/* half.h: f16 and bf16 conversions (private). */
#ifndef MD_HALF_H
#define MD_HALF_H

#include <stdint.h>

/** Half-precision conversions (round to nearest even). */
uint16_t md_f32_to_f16(float x);
float md_f16_to_f32(uint16_t h);
uint16_t md_f32_to_bf16(float x);
float md_bf16_to_f32(uint16_t h);

#endif
