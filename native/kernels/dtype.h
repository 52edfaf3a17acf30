// Scalar f16/bf16 <-> f32, bit exact and round-to-nearest-even. The scalar kernels use these; the
// SIMD kernels use their ISA's converts (F16C, AVX-512, NEON fcvt) and the same integer bf16 trick,
// and kernels_test checks that every ISA agrees with these bit for bit.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace rope {

inline uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float bitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// d rounded to f32 by truncation toward zero, with the lsb set when that was inexact ("round to
// odd"). Rounding this to a format with at least 2 fewer significand bits (f16, bf16) gives the
// same as rounding d there directly: the odd lsb keeps "above/below the tie" that truncation
// would lose. NaN passes through as float(d).
inline float toOddF32(double d) {
  float f = float(d);
  double back = f;
  if (back == d || d != d) return f;
  uint32_t u = floatBits(f);
  if (std::fabs(back) > std::fabs(d)) u -= 1;  // rounded away from zero: step back (also from inf)
  return bitsFloat(u | 1u);
}

inline float bf16ToF32(uint16_t h) { return bitsFloat(uint32_t(h) << 16); }

// RNE by adding 0x7FFF plus the kept lsb; NaN keeps sign and top payload, forced quiet (adding
// could otherwise carry a NaN into infinity).
inline uint16_t f32ToBF16(float f) {
  uint32_t u = floatBits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((u >> 16) | 0x0040u);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

// NaNs come out quiet with their payload, as F16C's vcvtph2ps and NEON's fcvt produce them.
inline float f16ToF32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t man = h & 0x3FFu;
  if (exp == 0x1F) return bitsFloat(sign | 0x7F800000u | (man << 13) | (man ? 0x00400000u : 0u));
  if (exp == 0) {
    float v = float(man) * 5.9604644775390625e-08f;  // man * 2^-24, exact
    return sign ? -v : v;
  }
  return bitsFloat(sign | ((exp + 112u) << 23) | (man << 13));
}

inline uint16_t f32ToF16(float f) {
  uint32_t u = floatBits(f);
  uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return uint16_t(sign | 0x7E00u | ((a >> 13) & 0x3FFu));  // quiet NaN
  if (a >= 0x477FF000u) return uint16_t(sign | 0x7C00u);  // >= 65520 rounds to infinity
  if (a >= 0x38800000u) {                                  // normal f16 (>= 2^-14)
    uint32_t b = a - (112u << 23);
    b += 0xFFFu + ((b >> 13) & 1u);
    return uint16_t(sign | (b >> 13));
  }
  uint32_t exp = a >> 23;
  if (exp < 102) return sign;  // below 2^-25 (or exactly it: ties to even 0)
  uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
  uint32_t shift = 126 - exp;  // 14..24: value / 2^-24 = m >> shift
  uint32_t r = m >> shift;
  uint32_t rem = m & ((1u << shift) - 1u);
  uint32_t halfway = 1u << (shift - 1);
  if (rem > halfway || (rem == halfway && (r & 1u))) ++r;  // may carry into the smallest normal
  return uint16_t(sign | r);
}

}  // namespace rope
