// AVX2 + FMA + F16C: 8 floats per vector, cos/sin in 4 doubles. The target is set in the source so
// the build compiles every file for baseline x86-64; dispatch.cc runs this only after cpuid/xgetbv.
// Standard headers come before the target region so no inline library code is compiled for AVX2
// (an ODR-merged copy could otherwise run on a CPU without it).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "cache_kernels.h"
#include "dtype.h"
#include "kernels.h"

#if defined(__x86_64__)

#if defined(__clang__)
#include <immintrin.h>
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#include <immintrin.h>
#endif

#include "sincos.h"
#include "loops.h"
#include "cache_rows.h"

namespace rope {
namespace {

struct Avx2 {
  static constexpr bool kFusedF32 = true;  // rotHalf is one f32 FMA (cache_rows.h)
  // Whether a lane of a or b has (bits & mask) == mid, or (tiny != 0) 0 < |bits| < tiny: the
  // cache write's midpoint test (cache_rows.h).
  static bool onGrid(__m256 a, __m256 b, int32_t mask, int32_t mid, int32_t tiny) {
    const __m256i m = _mm256_set1_epi32(mask), md = _mm256_set1_epi32(mid);
    const __m256i ba = _mm256_castps_si256(a), bb = _mm256_castps_si256(b);
    __m256i k = _mm256_or_si256(_mm256_cmpeq_epi32(_mm256_and_si256(ba, m), md), _mm256_cmpeq_epi32(_mm256_and_si256(bb, m), md));
    if (tiny != 0) {
      const __m256i abs = _mm256_set1_epi32(0x7FFFFFFF), zero = _mm256_setzero_si256(), t = _mm256_set1_epi32(tiny);
      const __m256i aa = _mm256_and_si256(ba, abs), ab = _mm256_and_si256(bb, abs);  // (signed compares: both >= 0)
      k = _mm256_or_si256(k, _mm256_and_si256(_mm256_cmpgt_epi32(aa, zero), _mm256_cmpgt_epi32(t, aa)));
      k = _mm256_or_si256(k, _mm256_and_si256(_mm256_cmpgt_epi32(ab, zero), _mm256_cmpgt_epi32(t, ab)));
    }
    return _mm256_testz_si256(k, k) == 0;
  }
  // The cache write's non-temporal line (cache_rows.h Stream): dst 64-byte aligned.
  static void stream64(char* dst, const char* src) {
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src)));
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + 32), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 32)));
  }
  static void fence() { _mm_sfence(); }
  using V = __m256;
  static constexpr int kLanes = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float f) { return _mm256_set1_ps(f); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V loadF(const float* p) { return _mm256_loadu_ps(p); }
  static V loadFN(const float* p, int64_t n) {
    float tmp[8] = {};
    std::memcpy(tmp, p, size_t(n) * sizeof(float));
    return _mm256_loadu_ps(tmp);
  }
  static void rotHalf(V& x, V& y, V c, V s) {
    V ys = _mm256_mul_ps(y, s), xs = _mm256_mul_ps(x, s);
    x = _mm256_fmsub_ps(x, c, ys);
    y = _mm256_fmadd_ps(y, c, xs);
  }
  // Pairs sit in adjacent lanes: duplicate cos/sin per pair, swap each pair's lanes, and let
  // fmaddsub subtract in even lanes (x*c - y*s) and add in odd ones (y*c + x*s).
  static void rotPairs(V& a, V& b, V c, V s) {
    const __m256i lo = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    const __m256i hi = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
    a = pairStep(a, _mm256_permutevar8x32_ps(c, lo), _mm256_permutevar8x32_ps(s, lo));
    b = pairStep(b, _mm256_permutevar8x32_ps(c, hi), _mm256_permutevar8x32_ps(s, hi));
  }
  static V pairStep(V v, V c, V s) {
    V swapped = _mm256_permute_ps(v, 0xB1);
    return _mm256_fmaddsub_ps(v, c, _mm256_mul_ps(swapped, s));
  }

  // The even and odd lanes of a:b (16 floats) as two vectors (loops.h, rotateGroupPacked).
  static void deinterleave(V a, V b, V& even, V& odd) {
    even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))), 0xD8));
    odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))), 0xD8));
  }

  // Exact-product rotation (loops.h): each half of the vector as 4 doubles.
  static __m256d lo(V v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
  static __m256d hi(V v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }
  static V join(__m128 a, __m128 b) { return _mm256_insertf128_ps(_mm256_castps128_ps256(a), b, 1); }
  // 64-bit lane masks -> 32-bit lane masks.
  static __m128i mask32(__m256d m) {
    __m256 f = _mm256_castpd_ps(m);
    return _mm_castps_si128(_mm_shuffle_ps(_mm256_castps256_ps128(f), _mm256_extractf128_ps(f, 1),
                                           _MM_SHUFFLE(2, 0, 2, 0)));
  }
  // To f32 rounded to odd (no rounding-mode operand on AVX2: round to nearest, step back
  // toward zero where that went away from it, set the lsb where inexact).
  template <int N>
  static __m128 narrow(__m256d r) {
    if (N == loops::kOddNormal) {
      // Cut the double to f32's 24 significant bits, setting the lowest kept bit if anything was
      // cut: then exact in f32 from 2^-126 up (half the instructions of the general case below).
      const __m256i cut = _mm256_set1_epi64x(0x1FFFFFFF);
      __m256i b = _mm256_castpd_si256(r);
      __m256i exact = _mm256_cmpeq_epi64(_mm256_and_si256(b, cut), _mm256_setzero_si256());
      __m256i sticky = _mm256_andnot_si256(exact, _mm256_set1_epi64x(0x20000000));
      return _mm256_cvtpd_ps(_mm256_castsi256_pd(_mm256_or_si256(_mm256_andnot_si256(cut, b), sticky)));
    }
    __m128 f = _mm256_cvtpd_ps(r);
    __m256d back = _mm256_cvtps_pd(f);
    const __m256d sign = _mm256_set1_pd(-0.0);
    __m256d away = _mm256_cmp_pd(_mm256_andnot_pd(sign, back), _mm256_andnot_pd(sign, r), _CMP_GT_OQ);
    __m256d inexact = _mm256_cmp_pd(back, r, _CMP_NEQ_OQ);
    __m128i bits = _mm_add_epi32(_mm_castps_si128(f), mask32(away));  // -1: one step toward zero
    bits = _mm_or_si128(bits, _mm_and_si128(mask32(inexact), _mm_set1_epi32(1)));
    return _mm_castsi128_ps(bits);
  }
  template <int N>
  static void rotHalfExact(V& x, V& y, V c, V s) {
    __m256d xl = lo(x), xh = hi(x), yl = lo(y), yh = hi(y);
    __m256d cl = lo(c), ch = hi(c), sl = lo(s), sh = hi(s);
    x = join(narrow<N>(_mm256_fmsub_pd(xl, cl, _mm256_mul_pd(yl, sl))),
             narrow<N>(_mm256_fmsub_pd(xh, ch, _mm256_mul_pd(yh, sh))));
    y = join(narrow<N>(_mm256_fmadd_pd(yl, cl, _mm256_mul_pd(xl, sl))),
             narrow<N>(_mm256_fmadd_pd(yh, ch, _mm256_mul_pd(xh, sh))));
  }
  template <int N>
  static void rotPairsExact(V& a, V& b, V c, V s) {
    const __m256i lo8 = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    const __m256i hi8 = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
    a = pairExact<N>(a, _mm256_permutevar8x32_ps(c, lo8), _mm256_permutevar8x32_ps(s, lo8));
    b = pairExact<N>(b, _mm256_permutevar8x32_ps(c, hi8), _mm256_permutevar8x32_ps(s, hi8));
  }
  template <int N>
  static V pairExact(V v, V c, V s) {
    __m256d vl = lo(v), vh = hi(v);
    __m256d rl = _mm256_fmaddsub_pd(vl, lo(c), _mm256_mul_pd(_mm256_permute_pd(vl, 0x5), lo(s)));
    __m256d rh = _mm256_fmaddsub_pd(vh, hi(c), _mm256_mul_pd(_mm256_permute_pd(vh, 0x5), hi(s)));
    return join(narrow<N>(rl), narrow<N>(rh));
  }
  // Fast exact 16-bit path (loops.h, Grid16): r2 = r -+ the product's exact error, and the lanes
  // that must take the exact path (all bits set): loops.h's word test, one 16-bit add and a zero
  // test per word.
  template <const loops::Grid16& G>
  static __m256i bad16(V r2) {
    const __m256i t = _mm256_add_epi16(_mm256_castps_si256(r2), _mm256_set1_epi32(int32_t(loops::wordAdd(G))));
    return _mm256_cmpeq_epi16(_mm256_and_si256(t, _mm256_set1_epi32(int32_t(loops::wordTest(G)))), _mm256_setzero_si256());
  }
  static bool noneSet(__m256i m1, __m256i m2) {
    const __m256i m = _mm256_or_si256(m1, m2);
    return _mm256_testz_si256(m, m) != 0;
  }
  template <const loops::Grid16& G>
  static bool rotHalfFast16(V& x, V& y, V c, V s) {
    if constexpr (G.mask == 0xFFFF) {
      // bf16 (loops.h, kSplitMask): y*sh and x*sh are exact, so three fused ops per output.
      const V sh = _mm256_castsi256_ps(_mm256_and_si256(_mm256_castps_si256(s), _mm256_set1_epi32(int32_t(loops::kSplitMask))));
      const V sl = _mm256_sub_ps(s, sh);
      const V p = _mm256_mul_ps(y, sh), q = _mm256_mul_ps(x, sh);
      const V x0 = x;
      x = _mm256_fnmadd_ps(y, sl, _mm256_fmsub_ps(x, c, p));
      y = _mm256_fmadd_ps(x0, sl, _mm256_fmadd_ps(y, c, q));
    } else {
      V p = _mm256_mul_ps(y, s), q = _mm256_mul_ps(x, s);
      V ep = _mm256_fmsub_ps(y, s, p), eq = _mm256_fmsub_ps(x, s, q);
      V rx = _mm256_fmsub_ps(x, c, p), ry = _mm256_fmadd_ps(y, c, q);
      x = _mm256_sub_ps(rx, ep);
      y = _mm256_add_ps(ry, eq);
    }
    return noneSet(bad16<G>(x), bad16<G>(y));
  }
  // The cache write's f32 k -> 16-bit rows (cache_rows.h), half style: r2 = fma(x, c, -p) - ep as
  // rotHalfFast16's f16 branch computes it (p = round32(y*s), ep its exact error), kept where
  // |r| < 2|r2| (r = fma(x, c, -p)): then ulp(r) <= 2 ulp(r2), so |r2 - e| <= ulp(r)/2 + ulp(r2)/2
  // (+ 2^-150 for an underflowed ep) for the exact e, which is what loops.h's Grid16
  // bound needs (there x's 16-bit precision proves it; an f32 x needs the test), and where the
  // midpoint test passes. False: the caller redoes the vector exactly.
  template <const loops::Grid16& G>
  static bool rotHalfF32To16(V& x, V& y, V c, V s) {
    const V p = _mm256_mul_ps(y, s), q = _mm256_mul_ps(x, s);
    const V ep = _mm256_fmsub_ps(y, s, p), eq = _mm256_fmsub_ps(x, s, q);
    const V rx = _mm256_fmsub_ps(x, c, p), ry = _mm256_fmadd_ps(y, c, q);
    x = _mm256_sub_ps(rx, ep);
    y = _mm256_add_ps(ry, eq);
    const __m256i abs = _mm256_set1_epi32(0x7FFFFFFF), twice = _mm256_set1_epi32(0x00800000);
    auto bits = [&](V v) { return _mm256_and_si256(_mm256_castps_si256(v), abs); };
    // far: |r| >= 2|r2| as bits (adding 2^23 doubles a normal; past the top it wraps negative)
    const __m256i far = _mm256_or_si256(_mm256_cmpgt_epi32(bits(rx), _mm256_sub_epi32(_mm256_add_epi32(bits(x), twice), _mm256_set1_epi32(1))),
                                        _mm256_cmpgt_epi32(bits(ry), _mm256_sub_epi32(_mm256_add_epi32(bits(y), twice), _mm256_set1_epi32(1))));
    return noneSet(far, _mm256_or_si256(bad16<G>(x), bad16<G>(y)));
  }
  template <const loops::Grid16& G>
  static bool rotPairsFast16(V& a, V& b, V c, V s) {
    const __m256i lo8 = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    const __m256i hi8 = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
    __m256i ma = pairFast16<G>(a, _mm256_permutevar8x32_ps(c, lo8), _mm256_permutevar8x32_ps(s, lo8));
    __m256i mb = pairFast16<G>(b, _mm256_permutevar8x32_ps(c, hi8), _mm256_permutevar8x32_ps(s, hi8));
    return noneSet(ma, mb);
  }
  // Even lanes x*c - y*s, odd lanes y*c + x*s (pairStep); addsub applies the error with that sign.
  template <const loops::Grid16& G>
  static __m256i pairFast16(V& v, V c, V s) {
    V swapped = _mm256_permute_ps(v, 0xB1);
    V p = _mm256_mul_ps(swapped, s);
    V ep = _mm256_fmsub_ps(swapped, s, p);
    V r = _mm256_fmaddsub_ps(v, c, p);
    v = _mm256_addsub_ps(r, ep);
    return bad16<G>(v);
  }
  struct D {
    using V = __m256d;
    using M = __m256d;
    static constexpr int kLanes = 4;
    static V set(double d) { return _mm256_set1_pd(d); }
    static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
    static V add(V a, V b) { return _mm256_add_pd(a, b); }
    static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
    static V neg(V a) { return _mm256_xor_pd(a, _mm256_set1_pd(-0.0)); }
    static V round(V a) { return _mm256_round_pd(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
    static V floor(V a) { return _mm256_round_pd(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); }
    static M eq(V a, V b) { return _mm256_cmp_pd(a, b, _CMP_EQ_OQ); }
    static M ge(V a, V b) { return _mm256_cmp_pd(a, b, _CMP_GE_OQ); }
    static M orm(M a, M b) { return _mm256_or_pd(a, b); }
    static V sel(M m, V a, V b) { return _mm256_blendv_pd(b, a, m); }
    static V load(const double* p) { return _mm256_loadu_pd(p); }
    static V loadN(const double* p, int64_t n) {
      double tmp[4] = {};
      std::memcpy(tmp, p, size_t(n) * sizeof(double));
      return _mm256_loadu_pd(tmp);
    }
    static void storeF32(float* p, V v) { _mm_storeu_ps(p, _mm256_cvtpd_ps(v)); }
    static void storeF32N(float* p, V v, int64_t n) {
      float tmp[4];
      _mm_storeu_ps(tmp, _mm256_cvtpd_ps(v));
      std::memcpy(p, tmp, size_t(n) * sizeof(float));
    }
  };
};


struct F32Base {
  using T = float;
  static __m256 load(const T* p) { return _mm256_loadu_ps(p); }
  static void store(T* p, __m256 v) { _mm256_storeu_ps(p, v); }
};
struct F16Base {
  using T = uint16_t;
  static constexpr bool kTinyIsZero = true;  // loops.h
  static constexpr const loops::Grid16& kGrid = loops::kGridF16;
  static __m256 load(const T* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static void store(T* p, __m256 v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p),
                     _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
};
struct BF16Base {
  using T = uint16_t;
  static constexpr const loops::Grid16& kGrid = loops::kGridBF16;
  static __m256 load(const T* p) {
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  }
  // Round to nearest even on the bits (as dtype.h); NaN: top half with the quiet bit set.
  static void store(T* p, __m256 v) {
    __m256i bits = _mm256_castps_si256(v);
    __m256i top = _mm256_srli_epi32(bits, 16);
    __m256i bias = _mm256_add_epi32(_mm256_set1_epi32(0x7FFF),
                                    _mm256_and_si256(top, _mm256_set1_epi32(1)));
    __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(bits, bias), 16);
    __m256i quiet = _mm256_or_si256(top, _mm256_set1_epi32(0x40));
    __m256i isNan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    __m256i r = _mm256_blendv_epi8(rounded, quiet, isNan);
    // Values are <= 0xFFFF, so unsigned saturation keeps them; the 128-bit halves stay in order.
    __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), packed);
  }
  // A vector the fast 16-bit path proved finite, normal and off every tie (loops.h): adding half a
  // bf16 ulp and truncating is then nearest-even.
  static void storeSafe(T* p, __m256 v) {
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_castps_si256(v), _mm256_set1_epi32(0x8000)), 16);
    __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), packed);
  }
  // 16 elements as their even and odd ones (loops.h, HasPacked; as avx512.cc): a shift and a
  // mask in, a word blend out, no widening or packing shuffle.
  static void load2(const T* p, __m256& even, __m256& odd) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    even = _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
    odd = _mm256_castsi256_ps(_mm256_and_si256(w, _mm256_set1_epi32(int32_t(0xFFFF0000u))));
  }
  static void store2(T* p, __m256 even, __m256 odd) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm256_or_si256(bits(even), _mm256_slli_epi32(bits(odd), 16)));
  }
  static void storeSafe2(T* p, __m256 even, __m256 odd) {
    const __m256i half = _mm256_set1_epi32(0x8000);
    const __m256i lo = _mm256_srli_epi32(_mm256_add_epi32(_mm256_castps_si256(even), half), 16);
    const __m256i hi = _mm256_add_epi32(_mm256_castps_si256(odd), half);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm256_blend_epi16(lo, hi, 0xAA));
  }
  // store() before its pack: each lane's bf16 in its low 16 bits.
  static __m256i bits(__m256 v) {
    __m256i b = _mm256_castps_si256(v);
    __m256i top = _mm256_srli_epi32(b, 16);
    __m256i bias = _mm256_add_epi32(_mm256_set1_epi32(0x7FFF), _mm256_and_si256(top, _mm256_set1_epi32(1)));
    __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(b, bias), 16);
    __m256i quiet = _mm256_or_si256(top, _mm256_set1_epi32(0x40));
    return _mm256_blendv_epi8(rounded, quiet, _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
  }
};

// AVX2 has no 16-bit masked load/store: tails go through a stack buffer (loops::TempTail).
using F32Io = loops::TempTail<F32Base, 8>;
using F16Io = loops::TempTail<F16Base, 8>;
using BF16Io = loops::TempTail<BF16Base, 8>;
static_assert(loops::Op<Avx2, F16Io>::kFast16 && loops::Op<Avx2, BF16Io>::kFast16, "AVX2 16-bit fast path");
static_assert(loops::HasStoreSafe<BF16Io>::value, "AVX2 bf16 store after the fast path");
using CacheFamily = cacherows::Family<F32Io, F16Io, BF16Io>;

}  // namespace
}  // namespace rope

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace rope {
namespace {
constexpr KernelTable kAvx2 = ROPE_KERNEL_TABLE("avx2", Avx2, F32Io, F16Io, BF16Io);
constexpr CacheKernels kAvx2Cache = ROPE_CACHE_TABLE("avx2", Avx2, CacheFamily);
}  // namespace
const KernelTable& avx2Kernels() { return kAvx2; }
const CacheKernels& avx2CacheKernels() { return kAvx2Cache; }
}  // namespace rope

#else  // not x86-64: not compiled into this build

namespace rope {
const KernelTable& avx2Kernels() {
  static constexpr KernelTable t{nullptr, {}, nullptr, {}, {}};
  return t;
}
const CacheKernels& avx2CacheKernels() {
  static constexpr CacheKernels t{nullptr, {}, {}};
  return t;
}
}  // namespace rope

#endif
