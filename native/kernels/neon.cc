// NEON (Advanced SIMD, baseline on armv8-a / aarch64): 4 floats per vector, cos/sin in 2 doubles.
// f16 through fcvtl/fcvtn (round to nearest even under the default FPCR), bf16 through the same
// integer rounding as dtype.h. Interleaved pairs are split with uzp1/uzp2 and rejoined with zip.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "cache_kernels.h"
#include "dtype.h"
#include "kernels.h"

#if defined(__aarch64__)

#include <arm_neon.h>

#include "sincos.h"
#include "loops.h"
#include "cache_rows.h"

namespace rope {
namespace {

struct Neon {
  static constexpr bool kFusedF32 = true;  // rotHalf is one f32 FMA (cache_rows.h)
  // Whether a lane of a or b has (bits & mask) == mid, or (tiny != 0) 0 < |bits| < tiny: the
  // cache write's midpoint test (cache_rows.h).
  static bool onGrid(float32x4_t a, float32x4_t b, int32_t mask, int32_t mid, int32_t tiny) {
    const uint32x4_t m = vdupq_n_u32(uint32_t(mask)), md = vdupq_n_u32(uint32_t(mid));
    const uint32x4_t ba = vreinterpretq_u32_f32(a), bb = vreinterpretq_u32_f32(b);
    uint32x4_t k = vorrq_u32(vceqq_u32(vandq_u32(ba, m), md), vceqq_u32(vandq_u32(bb, m), md));
    if (tiny != 0) {
      const uint32x4_t abs = vdupq_n_u32(0x7FFFFFFFu), zero = vdupq_n_u32(0), t = vdupq_n_u32(uint32_t(tiny));
      const uint32x4_t aa = vandq_u32(ba, abs), ab = vandq_u32(bb, abs);
      k = vorrq_u32(k, vandq_u32(vcgtq_u32(aa, zero), vcltq_u32(aa, t)));
      k = vorrq_u32(k, vandq_u32(vcgtq_u32(ab, zero), vcltq_u32(ab, t)));
    }
    return vmaxvq_u32(k) != 0;
  }
  using V = float32x4_t;
  static constexpr int kLanes = 4;
  static V zero() { return vdupq_n_f32(0.0f); }
  static V set1(float f) { return vdupq_n_f32(f); }
  static V mul(V a, V b) { return vmulq_f32(a, b); }
  static V loadF(const float* p) { return vld1q_f32(p); }
  static V loadFN(const float* p, int64_t n) {
    float tmp[4] = {};
    std::memcpy(tmp, p, size_t(n) * sizeof(float));
    return vld1q_f32(tmp);
  }
  // x' = fma(x, c, -(y*s)), y' = fma(y, c, x*s): the same roundings as the x86 kernels.
  static void rotHalf(V& x, V& y, V c, V s) {
    V ys = vmulq_f32(y, s), xs = vmulq_f32(x, s);
    x = vfmaq_f32(vnegq_f32(ys), x, c);
    y = vfmaq_f32(xs, y, c);
  }
  static void rotPairs(V& a, V& b, V c, V s) {
    V x = vuzp1q_f32(a, b), y = vuzp2q_f32(a, b);
    rotHalf(x, y, c, s);
    a = vzip1q_f32(x, y);
    b = vzip2q_f32(x, y);
  }

  // Fast exact 16-bit path (loops.h, Grid16): r2 = r -+ the product's exact error (vfmsq gives its
  // negation), and whether every lane is certain to round to 16 bits as the exact value does.
  template <const loops::Grid16& G>
  static bool rotHalfFast16(V& x, V& y, V c, V s) {
    if constexpr (G.mask == 0xFFFF) {
      // bf16 (loops.h, kSplitMask): y*sh and x*sh are exact, so three fused ops per output.
      const V sh = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(s), vdupq_n_u32(loops::kSplitMask)));
      const V sl = vsubq_f32(s, sh);
      const V p = vmulq_f32(y, sh), q = vmulq_f32(x, sh);
      const V x0 = x;
      x = vfmsq_f32(vfmaq_f32(vnegq_f32(p), x, c), y, sl);
      y = vfmaq_f32(vfmaq_f32(q, y, c), x0, sl);
    } else {
      V p = vmulq_f32(y, s), q = vmulq_f32(x, s);
      V nep = vfmsq_f32(p, y, s), neq = vfmsq_f32(q, x, s);  // p - y*s, q - x*s: -ep, -eq
      V rx = vfmaq_f32(vnegq_f32(p), x, c), ry = vfmaq_f32(q, y, c);
      x = vaddq_f32(rx, nep);
      y = vsubq_f32(ry, neq);
    }
    return vminvq_u32(vandq_u32(good16<G>(x), good16<G>(y))) == 0xFFFFFFFFu;
  }
  template <const loops::Grid16& G>
  static bool rotPairsFast16(V& a, V& b, V c, V s) {
    V x = vuzp1q_f32(a, b), y = vuzp2q_f32(a, b);
    const bool ok = rotHalfFast16<G>(x, y, c, s);
    a = vzip1q_f32(x, y);
    b = vzip2q_f32(x, y);
    return ok;
  }
  // All ones in the lanes that pass: loops.h's word test, one 16-bit add and a test per word.
  template <const loops::Grid16& G>
  static uint32x4_t good16(V r2) {
    const uint16x8_t t = vaddq_u16(vreinterpretq_u16_f32(r2), vreinterpretq_u16_u32(vdupq_n_u32(loops::wordAdd(G))));
    const uint32x4_t w = vreinterpretq_u32_u16(vtstq_u16(t, vreinterpretq_u16_u32(vdupq_n_u32(loops::wordTest(G)))));
    return vceqq_u32(w, vdupq_n_u32(0xFFFFFFFFu));  // both words passed
  }
  // The even and odd lanes of a:b (8 floats) as two vectors (loops.h, rotateGroupPacked).
  static void deinterleave(V a, V b, V& even, V& odd) {
    even = vuzp1q_f32(a, b);
    odd = vuzp2q_f32(a, b);
  }

  // Exact-product rotation (loops.h): each half of the vector as 2 doubles; fcvtxn narrows
  // rounding to odd.
  template <int N>
  static float32x2_t narrow(float64x2_t r) { return vcvtx_f32_f64(r); }
  template <int N>
  static void rotHalfExact(V& x, V& y, V c, V s) {
    float64x2_t xl = vcvt_f64_f32(vget_low_f32(x)), xh = vcvt_high_f64_f32(x);
    float64x2_t yl = vcvt_f64_f32(vget_low_f32(y)), yh = vcvt_high_f64_f32(y);
    float64x2_t cl = vcvt_f64_f32(vget_low_f32(c)), ch = vcvt_high_f64_f32(c);
    float64x2_t sl = vcvt_f64_f32(vget_low_f32(s)), sh = vcvt_high_f64_f32(s);
    x = vcombine_f32(narrow<N>(vfmaq_f64(vnegq_f64(vmulq_f64(yl, sl)), xl, cl)),
                     narrow<N>(vfmaq_f64(vnegq_f64(vmulq_f64(yh, sh)), xh, ch)));
    y = vcombine_f32(narrow<N>(vfmaq_f64(vmulq_f64(xl, sl), yl, cl)),
                     narrow<N>(vfmaq_f64(vmulq_f64(xh, sh), yh, ch)));
  }
  template <int N>
  static void rotPairsExact(V& a, V& b, V c, V s) {
    V x = vuzp1q_f32(a, b), y = vuzp2q_f32(a, b);
    rotHalfExact<N>(x, y, c, s);
    a = vzip1q_f32(x, y);
    b = vzip2q_f32(x, y);
  }

  struct D {
    using V = float64x2_t;
    using M = uint64x2_t;
    static constexpr int kLanes = 2;
    static V set(double d) { return vdupq_n_f64(d); }
    static V mul(V a, V b) { return vmulq_f64(a, b); }
    static V add(V a, V b) { return vaddq_f64(a, b); }
    static V fma(V a, V b, V c) { return vfmaq_f64(c, a, b); }
    static V neg(V a) { return vnegq_f64(a); }
    static V round(V a) { return vrndnq_f64(a); }
    static V floor(V a) { return vrndmq_f64(a); }
    static M eq(V a, V b) { return vceqq_f64(a, b); }
    static M ge(V a, V b) { return vcgeq_f64(a, b); }
    static M orm(M a, M b) { return vorrq_u64(a, b); }
    static V sel(M m, V a, V b) { return vbslq_f64(m, a, b); }
    static V load(const double* p) { return vld1q_f64(p); }
    static V loadN(const double* p, int64_t n) {
      double tmp[2] = {};
      std::memcpy(tmp, p, size_t(n) * sizeof(double));
      return vld1q_f64(tmp);
    }
    static void storeF32(float* p, V v) { vst1_f32(p, vcvt_f32_f64(v)); }
    static void storeF32N(float* p, V v, int64_t n) {
      float tmp[2];
      vst1_f32(tmp, vcvt_f32_f64(v));
      std::memcpy(p, tmp, size_t(n) * sizeof(float));
    }
  };
};


struct F32Base {
  using T = float;
  static float32x4_t load(const T* p) { return vld1q_f32(p); }
  static void store(T* p, float32x4_t v) { vst1q_f32(p, v); }
};
struct F16Base {
  using T = uint16_t;
  static constexpr bool kTinyIsZero = true;  // loops.h
  static constexpr const loops::Grid16& kGrid = loops::kGridF16;
  static float32x4_t load(const T* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
  static void store(T* p, float32x4_t v) { vst1_u16(p, vreinterpret_u16_f16(vcvt_f16_f32(v))); }
};
struct BF16Base {
  using T = uint16_t;
  static constexpr const loops::Grid16& kGrid = loops::kGridBF16;
  static float32x4_t load(const T* p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }
  // 8 elements as their even and odd ones (loops.h, HasPacked; as avx512.cc): a shift and a mask
  // in; out, the odd ones' rounded top halves with the even ones' shifted in (sri).
  static void load2(const T* p, float32x4_t& even, float32x4_t& odd) {
    const uint32x4_t w = vreinterpretq_u32_u16(vld1q_u16(p));
    even = vreinterpretq_f32_u32(vshlq_n_u32(w, 16));
    odd = vreinterpretq_f32_u32(vandq_u32(w, vdupq_n_u32(0xFFFF0000u)));
  }
  static void store2(T* p, float32x4_t even, float32x4_t odd) {
    vst1q_u16(p, vreinterpretq_u16_u32(vorrq_u32(bits(even), vshlq_n_u32(bits(odd), 16))));
  }
  // For vectors the fast 16-bit path proved finite, normal and off every tie: adding half a bf16
  // ulp and truncating is then nearest-even.
  static void storeSafe2(T* p, float32x4_t even, float32x4_t odd) {
    const uint32x4_t half = vdupq_n_u32(0x8000);
    const uint32x4_t lo = vaddq_u32(vreinterpretq_u32_f32(even), half);
    const uint32x4_t hi = vaddq_u32(vreinterpretq_u32_f32(odd), half);
    vst1q_u16(p, vreinterpretq_u16_u32(vsriq_n_u32(hi, lo, 16)));
  }
  // store() before its narrowing: each lane's bf16 in its low 16 bits.
  static uint32x4_t bits(float32x4_t v) {
    uint32x4_t b = vreinterpretq_u32_f32(v);
    uint32x4_t top = vshrq_n_u32(b, 16);
    uint32x4_t bias = vaddq_u32(vdupq_n_u32(0x7FFF), vandq_u32(top, vdupq_n_u32(1)));
    uint32x4_t rounded = vshrq_n_u32(vaddq_u32(b, bias), 16);
    uint32x4_t quiet = vorrq_u32(top, vdupq_n_u32(0x40));
    return vbslq_u32(vmvnq_u32(vceqq_f32(v, v)), quiet, rounded);
  }
  // Round to nearest even on the bits (as dtype.h); NaN: top half with the quiet bit set.
  static void store(T* p, float32x4_t v) {
    uint32x4_t bits = vreinterpretq_u32_f32(v);
    uint32x4_t top = vshrq_n_u32(bits, 16);
    uint32x4_t bias = vaddq_u32(vdupq_n_u32(0x7FFF), vandq_u32(top, vdupq_n_u32(1)));
    uint32x4_t rounded = vshrq_n_u32(vaddq_u32(bits, bias), 16);
    uint32x4_t quiet = vorrq_u32(top, vdupq_n_u32(0x40));
    uint32x4_t isNan = vmvnq_u32(vceqq_f32(v, v));
    vst1_u16(p, vmovn_u32(vbslq_u32(isNan, quiet, rounded)));
  }
};

// NEON has no masked loads: tails go through a stack buffer (loops::TempTail).
using F32Io = loops::TempTail<F32Base, 4>;
using F16Io = loops::TempTail<F16Base, 4>;
using BF16Io = loops::TempTail<BF16Base, 4>;
static_assert(loops::Op<Neon, F16Io>::kFast16 && loops::Op<Neon, BF16Io>::kFast16, "NEON 16-bit fast path");

constexpr KernelTable kNeon = ROPE_KERNEL_TABLE("neon", Neon, F32Io, F16Io, BF16Io);
using CacheFamily = cacherows::Family<F32Io, F16Io, BF16Io>;
constexpr CacheKernels kNeonCache = ROPE_CACHE_TABLE("neon", Neon, CacheFamily);

}  // namespace

const KernelTable& neonKernels() { return kNeon; }
const CacheKernels& neonCacheKernels() { return kNeonCache; }

}  // namespace rope

#else  // not aarch64: not compiled into this build

namespace rope {
const KernelTable& neonKernels() {
  static constexpr KernelTable t{nullptr, {}, nullptr, {}, {}};
  return t;
}
const CacheKernels& neonCacheKernels() {
  static constexpr CacheKernels t{nullptr, {}, {}};
  return t;
}
}  // namespace rope

#endif
