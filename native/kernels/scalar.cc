// Portable kernels: one pair per step. The rotation is computed in double (x*c and y*s are exact
// there), rounded once to f32 (f32 data) or to odd f32 and then once to f16/bf16: exactly what the
// JS engine computes, and the reference the SIMD ones are tested against; cos/sin run the same
// sincos.h arithmetic as the vector kernels.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "cache_kernels.h"
#include "dtype.h"
#include "kernels.h"
#include "sincos.h"
#include "loops.h"
#include "cache_rows.h"

namespace rope {
namespace {

struct ScalarIsa {
  using V = float;
  static constexpr int kLanes = 1;
  static V zero() { return 0.0f; }
  static V set1(float f) { return f; }
  static V mul(V a, V b) { return a * b; }
  static V loadF(const float* p) { return *p; }
  static V loadFN(const float* p, int64_t) { return *p; }  // never used: kLanes == 1 has no tail
  // The f32 contract (loops.h) as the JS engine computes it: x*c exact in double, y*s rounded to
  // f32 first, one rounding to double, one to f32.
  static void rotHalf(V& x, V& y, V c, V s) {
    double xd = x, yd = y;
    x = float(xd * c - double(float(yd * s)));
    y = float(yd * c + double(float(xd * s)));
  }
  static void rotPairs(V& a, V& b, V c, V s) { rotHalf(a, b, c, s); }  // one pair: (a, b)
  template <int N>
  static void rotHalfExact(V& x, V& y, V c, V s) {
    double xd = x, yd = y;
    double rx = xd * c - yd * s, ry = yd * c + xd * s;
    x = toOddF32(rx);
    y = toOddF32(ry);
  }
  template <int N>
  static void rotPairsExact(V& a, V& b, V c, V s) { rotHalfExact<N>(a, b, c, s); }

  struct D {
    using V = double;
    using M = bool;
    static constexpr int kLanes = 1;
    static V set(double d) { return d; }
    static V mul(V a, V b) { return a * b; }
    static V add(V a, V b) { return a + b; }
    static V fma(V a, V b, V c) { return std::fma(a, b, c); }
    static V neg(V a) { return -a; }
    static V round(V a) { return std::nearbyint(a); }
    static V floor(V a) { return std::floor(a); }
    static M eq(V a, V b) { return a == b; }
    static M ge(V a, V b) { return a >= b; }
    static M orm(M a, M b) { return a || b; }
    static V sel(M m, V a, V b) { return m ? a : b; }
    static V load(const double* p) { return *p; }
    static V loadN(const double* p, int64_t) { return *p; }
    static void storeF32(float* p, V v) { *p = float(v); }
    static void storeF32N(float* p, V v, int64_t) { *p = float(v); }
  };
};

template <class Self>
struct OneAtATime {  // scalar Io: loadN/storeN are only instantiated, never reached
  template <class T>
  static float loadN(const T* p, int64_t) { return Self::load(p); }
  template <class T>
  static void storeN(T* p, float v, int64_t) { Self::store(p, v); }
};

struct F32Io : OneAtATime<F32Io> {
  using T = float;
  static float load(const T* p) { return *p; }
  static void store(T* p, float v) { *p = v; }
};
struct F16Io : OneAtATime<F16Io> {
  using T = uint16_t;
  static constexpr bool kTinyIsZero = true;  // loops.h
  static float load(const T* p) { return f16ToF32(*p); }
  static void store(T* p, float v) { *p = f32ToF16(v); }
};
struct BF16Io : OneAtATime<BF16Io> {
  using T = uint16_t;
  static float load(const T* p) { return bf16ToF32(*p); }
  static void store(T* p, float v) { *p = f32ToBF16(v); }
};

constexpr KernelTable kScalar = ROPE_KERNEL_TABLE("scalar", ScalarIsa, F32Io, F16Io, BF16Io);
// (no kFusedF32: an f32 cache row takes cache_rows.h's exact scalar method)
using CacheFamily = cacherows::Family<F32Io, F16Io, BF16Io>;
constexpr CacheKernels kScalarCache = ROPE_CACHE_TABLE("scalar", ScalarIsa, CacheFamily);

}  // namespace

const KernelTable& scalarKernels() { return kScalar; }
const CacheKernels& scalarCacheKernels() { return kScalarCache; }

}  // namespace rope
