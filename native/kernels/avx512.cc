// AVX-512 F/BW/DQ/VL: 16 floats per vector, cos/sin in 8 doubles, tails by mask (masked-off
// lanes neither fault nor touch memory). Same source-level targeting as avx2.cc. f16 goes through
// vcvtph2ps/vcvtps2ph; bf16 rows are packed (a shift or a mask per element in, integer rounding
// and a ternlog out: loops.h HasPacked), so AVX512_BF16's converts would add nothing (measured:
// vcvtne2ps2bf16 + vpermw for the store, the same speed) and one table serves every AVX-512 CPU.
// kernels_test checks every path bit for bit against dtype.h and the exact formula.
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
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c"))), \
                             apply_to = function)
#else
// GCC 12 flags the self-initialised _mm512_undefined_*() inside its own intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")
#include <immintrin.h>
#endif

#include "sincos.h"
#include "loops.h"
#include "cache_rows.h"

namespace rope {
namespace {

inline __mmask16 mask16(int64_t n) { return __mmask16((1u << n) - 1u); }  // n < 16
inline __mmask8 mask8(int64_t n) { return __mmask8((1u << n) - 1u); }     // n < 8

struct Avx512 {
  static constexpr bool kFusedF32 = true;  // rotHalf is one f32 FMA (cache_rows.h)
  // Whether a lane of a or b has (bits & mask) == mid, or (tiny != 0) 0 < |bits| < tiny: the
  // cache write's midpoint test (cache_rows.h).
  static bool onGrid(__m512 a, __m512 b, int32_t mask, int32_t mid, int32_t tiny) {
    const __m512i m = _mm512_set1_epi32(mask), md = _mm512_set1_epi32(mid);
    const __m512i ba = _mm512_castps_si512(a), bb = _mm512_castps_si512(b);
    __mmask16 k = _mm512_cmpeq_epi32_mask(_mm512_and_si512(ba, m), md) | _mm512_cmpeq_epi32_mask(_mm512_and_si512(bb, m), md);
    if (tiny != 0) {
      const __m512i abs = _mm512_set1_epi32(0x7FFFFFFF), one = _mm512_set1_epi32(1), t = _mm512_set1_epi32(tiny - 1);
      k |= _mm512_cmplt_epu32_mask(_mm512_sub_epi32(_mm512_and_si512(ba, abs), one), t);
      k |= _mm512_cmplt_epu32_mask(_mm512_sub_epi32(_mm512_and_si512(bb, abs), one), t);
    }
    return k != 0;
  }
  // The cache write's non-temporal line (cache_rows.h Stream): dst 64-byte aligned.
  static void stream64(char* dst, const char* src) {
    _mm512_stream_si512(reinterpret_cast<__m512i*>(dst), _mm512_loadu_si512(src));
  }
  static void fence() { _mm_sfence(); }
  using V = __m512;
  static constexpr int kLanes = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float f) { return _mm512_set1_ps(f); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V loadF(const float* p) { return _mm512_loadu_ps(p); }
  static V loadFN(const float* p, int64_t n) { return _mm512_maskz_loadu_ps(mask16(n), p); }
  static void rotHalf(V& x, V& y, V c, V s) {
    V ys = _mm512_mul_ps(y, s), xs = _mm512_mul_ps(x, s);
    x = _mm512_fmsub_ps(x, c, ys);
    y = _mm512_fmadd_ps(y, c, xs);
  }
  // As avx2.cc: duplicated cos/sin per pair, swapped pair lanes, fmaddsub.
  static void rotPairs(V& a, V& b, V c, V s) {
    const __m512i lo = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    const __m512i hi = _mm512_setr_epi32(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
    a = pairStep(a, _mm512_permutexvar_ps(lo, c), _mm512_permutexvar_ps(lo, s));
    b = pairStep(b, _mm512_permutexvar_ps(hi, c), _mm512_permutexvar_ps(hi, s));
  }
  static V pairStep(V v, V c, V s) {
    V swapped = _mm512_permute_ps(v, 0xB1);
    return _mm512_fmaddsub_ps(v, c, _mm512_mul_ps(swapped, s));
  }

  // The even and odd lanes of a:b (32 floats) as two vectors (loops.h, rotateGroupPacked).
  static void deinterleave(V a, V b, V& even, V& odd) {
    const __m512i e = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i o = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    even = _mm512_permutex2var_ps(a, e, b);
    odd = _mm512_permutex2var_ps(a, o, b);
  }

  // Exact-product rotation (loops.h): each half of the vector as 8 doubles.
  static __m512d lo(V v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
  static __m512d hi(V v) { return _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)); }
  static V join(__m256 a, __m256 b) { return _mm512_insertf32x8(_mm512_castps256_ps512(a), b, 1); }
  // To f32 rounded to odd (truncate by the embedded rounding mode, set the lsb where inexact).
  template <int N>
  static __m256 narrow(__m512d r) {
    __m256 t = _mm512_cvt_roundpd_ps(r, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __mmask8 inexact = _mm512_cmp_pd_mask(_mm512_cvtps_pd(t), r, _CMP_NEQ_OQ);
    __m256i bits = _mm256_castps_si256(t);
    return _mm256_castsi256_ps(_mm256_mask_or_epi32(bits, inexact, bits, _mm256_set1_epi32(1)));
  }
  template <int N>
  static void rotHalfExact(V& x, V& y, V c, V s) {
    __m512d xl = lo(x), xh = hi(x), yl = lo(y), yh = hi(y);
    __m512d cl = lo(c), ch = hi(c), sl = lo(s), sh = hi(s);
    x = join(narrow<N>(_mm512_fmsub_pd(xl, cl, _mm512_mul_pd(yl, sl))),
             narrow<N>(_mm512_fmsub_pd(xh, ch, _mm512_mul_pd(yh, sh))));
    y = join(narrow<N>(_mm512_fmadd_pd(yl, cl, _mm512_mul_pd(xl, sl))),
             narrow<N>(_mm512_fmadd_pd(yh, ch, _mm512_mul_pd(xh, sh))));
  }
  template <int N>
  static void rotPairsExact(V& a, V& b, V c, V s) {
    const __m512i lo16 = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    const __m512i hi16 = _mm512_setr_epi32(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
    a = pairExact<N>(a, _mm512_permutexvar_ps(lo16, c), _mm512_permutexvar_ps(lo16, s));
    b = pairExact<N>(b, _mm512_permutexvar_ps(hi16, c), _mm512_permutexvar_ps(hi16, s));
  }
  template <int N>
  static V pairExact(V v, V c, V s) {
    __m512d vl = lo(v), vh = hi(v);
    __m512d rl = _mm512_fmaddsub_pd(vl, lo(c), _mm512_mul_pd(_mm512_permute_pd(vl, 0x55), lo(s)));
    __m512d rh = _mm512_fmaddsub_pd(vh, hi(c), _mm512_mul_pd(_mm512_permute_pd(vh, 0x55), hi(s)));
    return join(narrow<N>(rl), narrow<N>(rh));
  }

  // Fast exact 16-bit path (loops.h, Grid16): r2 = r -+ the product's exact error, and which lanes
  // are certain to round to 16 bits as the exact value does, as a mask (k: lanes still in the
  // running, so x's test is the write mask of y's): loops.h's word test, one vpaddw and one
  // vptestmw, two mask bits per lane.
  template <const loops::Grid16& G>
  using Mask = __mmask32;  // two bits per lane
  template <const loops::Grid16& G>
  static Mask<G> safe16(Mask<G> k, V r2) {
    const __m512i t = _mm512_add_epi16(_mm512_castps_si512(r2), _mm512_set1_epi32(int32_t(loops::wordAdd(G))));
    return _mm512_mask_test_epi16_mask(k, t, _mm512_set1_epi32(int32_t(loops::wordTest(G))));
  }
  template <const loops::Grid16& G>
  static constexpr Mask<G> kAll = Mask<G>(~Mask<G>(0));
  template <const loops::Grid16& G>
  static bool rotHalfFast16(V& x, V& y, V c, V s) {
    if constexpr (G.mask == 0xFFFF) {
      // bf16 (loops.h, kSplit): y*sh and x*sh are exact, so three fused ops per output.
      const V sh = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(s), _mm512_set1_epi32(int32_t(loops::kSplitMask))));
      const V sl = _mm512_sub_ps(s, sh);
      const V p = _mm512_mul_ps(y, sh), q = _mm512_mul_ps(x, sh);
      const V x0 = x;
      x = _mm512_fnmadd_ps(y, sl, _mm512_fmsub_ps(x, c, p));
      y = _mm512_fmadd_ps(x0, sl, _mm512_fmadd_ps(y, c, q));
    } else {
      V p = _mm512_mul_ps(y, s), q = _mm512_mul_ps(x, s);
      V ep = _mm512_fmsub_ps(y, s, p), eq = _mm512_fmsub_ps(x, s, q);
      V rx = _mm512_fmsub_ps(x, c, p), ry = _mm512_fmadd_ps(y, c, q);
      x = _mm512_sub_ps(rx, ep);
      y = _mm512_add_ps(ry, eq);
    }
    return safe16<G>(safe16<G>(kAll<G>, x), y) == kAll<G>;
  }
  // The cache write's f32 k -> 16-bit rows (cache_rows.h), half style: r2 = fma(x, c, -p) - ep as
  // rotHalfFast16's f16 branch computes it (p = round32(y*s), ep its exact error), kept where
  // |r| < 2|r2| (r = fma(x, c, -p)): then ulp(r) <= 2 ulp(r2), so |r2 - e| <= ulp(r)/2 + ulp(r2)/2
  // (+ 2^-150 for an underflowed ep) for the exact e, which is what loops.h's Grid16
  // bound needs (there x's 16-bit precision proves it; an f32 x needs the test), and where the
  // midpoint test passes. False: the caller redoes the vector exactly.
  template <const loops::Grid16& G>
  static bool rotHalfF32To16(V& x, V& y, V c, V s) {
    const V p = _mm512_mul_ps(y, s), q = _mm512_mul_ps(x, s);
    const V ep = _mm512_fmsub_ps(y, s, p), eq = _mm512_fmsub_ps(x, s, q);
    const V rx = _mm512_fmsub_ps(x, c, p), ry = _mm512_fmadd_ps(y, c, q);
    x = _mm512_sub_ps(rx, ep);
    y = _mm512_add_ps(ry, eq);
    const __m512i abs = _mm512_set1_epi32(0x7FFFFFFF), twice = _mm512_set1_epi32(0x00800000);
    auto bits = [&](V v) { return _mm512_and_si512(_mm512_castps_si512(v), abs); };
    // (|r| < 2|r2| as bits: adding 2^23 doubles a normal; past the top it wraps negative: refused)
    const __mmask16 near = _mm512_cmplt_epi32_mask(bits(rx), _mm512_add_epi32(bits(x), twice)) &
                           _mm512_cmplt_epi32_mask(bits(ry), _mm512_add_epi32(bits(y), twice));
    return near == 0xFFFF && safe16<G>(safe16<G>(kAll<G>, x), y) == kAll<G>;
  }
  template <const loops::Grid16& G>
  static bool rotPairsFast16(V& a, V& b, V c, V s) {
    const __m512i lo16 = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    const __m512i hi16 = _mm512_setr_epi32(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
    Mask<G> k = pairFast16<G>(kAll<G>, a, _mm512_permutexvar_ps(lo16, c), _mm512_permutexvar_ps(lo16, s));
    return pairFast16<G>(k, b, _mm512_permutexvar_ps(hi16, c), _mm512_permutexvar_ps(hi16, s)) == kAll<G>;
  }
  // Even lanes x*c - y*s, odd lanes y*c + x*s (pairStep); fmaddsub(r, 1, err) applies the error
  // with that sign (r*1 is exact: one rounding).
  template <const loops::Grid16& G>
  static Mask<G> pairFast16(Mask<G> k, V& v, V c, V s) {
    V swapped = _mm512_permute_ps(v, 0xB1);
    V p = _mm512_mul_ps(swapped, s);
    V ep = _mm512_fmsub_ps(swapped, s, p);
    V r = _mm512_fmaddsub_ps(v, c, p);
    v = _mm512_fmaddsub_ps(r, _mm512_set1_ps(1.0f), ep);
    return safe16<G>(k, v);
  }

  struct D {
    using V = __m512d;
    using M = __mmask8;
    static constexpr int kLanes = 8;
    static V set(double d) { return _mm512_set1_pd(d); }
    static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
    static V add(V a, V b) { return _mm512_add_pd(a, b); }
    static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
    static V neg(V a) { return _mm512_xor_pd(a, _mm512_set1_pd(-0.0)); }
    static V round(V a) {
      return _mm512_roundscale_pd(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    }
    static V floor(V a) { return _mm512_roundscale_pd(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); }
    static M eq(V a, V b) { return _mm512_cmp_pd_mask(a, b, _CMP_EQ_OQ); }
    static M ge(V a, V b) { return _mm512_cmp_pd_mask(a, b, _CMP_GE_OQ); }
    static M orm(M a, M b) { return M(a | b); }
    static V sel(M m, V a, V b) { return _mm512_mask_blend_pd(m, b, a); }
    static V load(const double* p) { return _mm512_loadu_pd(p); }
    static V loadN(const double* p, int64_t n) { return _mm512_maskz_loadu_pd(mask8(n), p); }
    static void storeF32(float* p, V v) { _mm256_storeu_ps(p, _mm512_cvtpd_ps(v)); }
    static void storeF32N(float* p, V v, int64_t n) {
      _mm256_mask_storeu_ps(p, mask8(n), _mm512_cvtpd_ps(v));
    }
  };
};

struct F32Io {
  using T = float;
  static __m512 load(const T* p) { return _mm512_loadu_ps(p); }
  static void store(T* p, __m512 v) { _mm512_storeu_ps(p, v); }
  static __m512 loadN(const T* p, int64_t n) { return _mm512_maskz_loadu_ps(mask16(n), p); }
  static void storeN(T* p, __m512 v, int64_t n) { _mm512_mask_storeu_ps(p, mask16(n), v); }
};

struct F16Io {
  using T = uint16_t;
  static constexpr bool kTinyIsZero = true;  // loops.h
  static constexpr const loops::Grid16& kGrid = loops::kGridF16;
  static __m512 load(const T* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static void store(T* p, __m512 v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), toHalf(v));
  }
  static __m512 loadN(const T* p, int64_t n) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask16(n), p));
  }
  static void storeN(T* p, __m512 v, int64_t n) {
    _mm256_mask_storeu_epi16(p, mask16(n), toHalf(v));
  }
  static __m256i toHalf(__m512 v) {
    return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
};

struct BF16Io {
  using T = uint16_t;
  static constexpr const loops::Grid16& kGrid = loops::kGridBF16;
  static __m512 load(const T* p) {
    return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static void store(T* p, __m512 v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), narrow(v));
  }
  static __m512 loadN(const T* p, int64_t n) {
    return widen(_mm256_maskz_loadu_epi16(mask16(n), p));
  }
  static void storeN(T* p, __m512 v, int64_t n) {
    _mm256_mask_storeu_epi16(p, mask16(n), narrow(v));
  }
  static __m512 widen(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  // Round to nearest even on the bits (as dtype.h); NaN: top half with the quiet bit set.
  static __m256i narrow(__m512 v) { return _mm512_cvtepi32_epi16(_mm512_srli_epi32(roundedHigh(v), 16)); }
  // 32 elements, a's then b's, rounded as narrow rounds: one vpermt2w takes the top halves of both
  // vectors (two vpmovdw cost ~40% more per element).
  static void storeWide(T* p, __m512 a, __m512 b) {
    _mm512_storeu_si512(p, _mm512_permutex2var_epi16(roundedHigh(a), oddWords(), roundedHigh(b)));
  }
  // Each word's bf16 in its top half: nearest-even by the bias; a NaN not rounded, its quiet bit set.
  static __m512i roundedHigh(__m512 v) {
    const __m512i bits = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    const __m512i r = _mm512_add_epi32(_mm512_add_epi32(bits, _mm512_set1_epi32(0x7FFF)), lsb);
    return _mm512_mask_or_epi32(r, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), bits, _mm512_set1_epi32(0x00400000));
  }
  // A vector the fast 16-bit path proved finite, normal and off every tie (loops.h): adding half a
  // bf16 ulp and truncating is then nearest-even.
  static void storeSafe(T* p, __m512 v) {
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_castps_si512(v), _mm512_set1_epi32(0x8000)), 16);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(r));
  }
  // storeSafe of a's 16 elements then b's: both rounded in their words' top halves, one vpermt2w.
  static void storeSafeWide(T* p, __m512 a, __m512 b) {
    const __m512i half = _mm512_set1_epi32(0x8000);
    _mm512_storeu_si512(p, _mm512_permutex2var_epi16(_mm512_add_epi32(_mm512_castps_si512(a), half), oddWords(),
                                                     _mm512_add_epi32(_mm512_castps_si512(b), half)));
  }
  static __m512i oddWords() {
    return _mm512_set_epi16(63, 61, 59, 57, 55, 53, 51, 49, 47, 45, 43, 41, 39, 37, 35, 33, 31, 29, 27, 25, 23, 21, 19, 17,
                            15, 13, 11, 9, 7, 5, 3, 1);
  }
  // 32 elements as their even and odd ones (loops.h, HasPacked): a bf16 is the top half of its
  // f32, so each 32-bit word holds an even element in its low half (shift it up) and an odd one
  // in its high half (mask the low one off); no widening shuffle in or narrowing one out.
  static void load2(const T* p, __m512& even, __m512& odd) {
    const __m512i w = _mm512_loadu_si512(p);
    even = _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
    odd = _mm512_castsi512_ps(_mm512_and_si512(w, _mm512_set1_epi32(int32_t(0xFFFF0000u))));
  }
  static void store2(T* p, __m512 even, __m512 odd) {
    _mm512_storeu_si512(p, _mm512_or_si512(bits(even), _mm512_slli_epi32(bits(odd), 16)));
  }
  static void storeSafe2(T* p, __m512 even, __m512 odd) {
    const __m512i half = _mm512_set1_epi32(0x8000);
    const __m512i lo = _mm512_srli_epi32(_mm512_add_epi32(_mm512_castps_si512(even), half), 16);
    const __m512i hi = _mm512_add_epi32(_mm512_castps_si512(odd), half);
    // (hi & 0xFFFF0000) | lo
    _mm512_storeu_si512(p, _mm512_ternarylogic_epi32(hi, lo, _mm512_set1_epi32(int32_t(0xFFFF0000u)), 0xEC));
  }
  // narrow() before its pack: each lane's bf16 in its low 16 bits.
  static __m512i bits(__m512 v) {
    __m512i b = _mm512_castps_si512(v);
    __m512i top = _mm512_srli_epi32(b, 16);
    __m512i bias = _mm512_add_epi32(_mm512_set1_epi32(0x7FFF), _mm512_and_si512(top, _mm512_set1_epi32(1)));
    __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(b, bias), 16);
    __m512i quiet = _mm512_or_si512(top, _mm512_set1_epi32(0x40));
    return _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), rounded, quiet);
  }
};
static_assert(loops::Op<Avx512, F16Io>::kFast16 && loops::Op<Avx512, BF16Io>::kFast16, "AVX-512 16-bit fast path");

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
constexpr KernelTable kAvx512 = ROPE_KERNEL_TABLE("avx512", Avx512, F32Io, F16Io, BF16Io);
constexpr CacheKernels kAvx512Cache = ROPE_CACHE_TABLE("avx512", Avx512, CacheFamily);
}  // namespace
const KernelTable& avx512Kernels() { return kAvx512; }
const CacheKernels& avx512CacheKernels() { return kAvx512Cache; }
}  // namespace rope

#else  // not x86-64: not compiled into this build

namespace rope {
const KernelTable& avx512Kernels() {
  static constexpr KernelTable t{nullptr, {}, nullptr, {}, {}};
  return t;
}
const CacheKernels& avx512CacheKernels() {
  static constexpr CacheKernels t{nullptr, {}, {}};
  return t;
}
}  // namespace rope

#endif
