// WebAssembly SIMD128: 4 floats per vector, cos/sin in 2 doubles. Only compiled into the wasm
// module (scripts/build/build-wasm.sh); the addon gets an empty table.
//
// SIMD128 has no fused multiply-add (relaxed-simd's madd may or may not fuse, by machine), so:
// - f32 (wasm_rows.h) rotates in f32 with separate roundings: round(round(x*c) - round(y*s)),
//   within 2 ulp of the row's max |value| of the contract's value (loops.h; at most one of |x*c|,
//   |y*s| can lie in a binade above the row's max, since (x*c)^2 + (y*s)^2 <= x'^2 + y'^2 < 2
//   max^2) and of its sign. Blocks with a lane where that may not hold (|result| < 2^-100: a
//   zero's sign or an underflowed product; >= 2^127, inf or NaN: an overflow the double result
//   need not have) are redone with rotHalf, the contract in double as the JS engine computes it
//   (bit for bit): see kTiny, kHuge;
// - 16-bit types compute x*c - y*s in double (products exact: the JS engine's value d), round it
//   to f32 to nearest, and store that (rotHalfFast16) unless some lane's f32 lies on a 16-bit
//   rounding midpoint (or below the grid, or NaN), where the double rounding could differ: those
//   vectors take the round-to-odd path (rotHalfExact<kOdd>);
// - sincos.h's fma is emulated exactly enough for the two reductions that must be exact
//   (Dekker's product: a*b = p + e exactly, then (p + c) + e), see D::fma.
// f16 and bf16 go through integer code (no f16 conversions in SIMD128) doing what dtype.h does.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "cache_kernels.h"
#include "dtype.h"
#include "kernels.h"

#if defined(__wasm_simd128__)

#include <wasm_simd128.h>

#include "sincos.h"
#include "loops.h"
#include "cache_rows.h"

namespace rope {
namespace {

using v128 = v128_t;

// f32x4 -> two f64x2 (lanes 0-1, lanes 2-3) and back.
inline v128 lo64(v128 v) { return wasm_f64x2_promote_low_f32x4(v); }
inline v128 hi64(v128 v) { return wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 2, 3)); }
inline v128 join32(v128 lo, v128 hi) {
  return wasm_i32x4_shuffle(wasm_f32x4_demote_f64x2_zero(lo), wasm_f32x4_demote_f64x2_zero(hi), 0, 1, 4, 5);
}

struct WasmSimd {
  using V = v128;
  static constexpr int kLanes = 4;
  static V zero() { return wasm_f32x4_splat(0.0f); }
  static V set1(float f) { return wasm_f32x4_splat(f); }
  static V mul(V a, V b) { return wasm_f32x4_mul(a, b); }
  static V loadF(const float* p) { return wasm_v128_load(p); }
  static V loadFN(const float* p, int64_t n) {
    float tmp[4] = {};
    std::memcpy(tmp, p, size_t(n) * sizeof(float));
    return wasm_v128_load(tmp);
  }
  // The f32 contract (loops.h) as the JS engine computes it: y*s and x*s rounded to f32, x*c and
  // y*c exact in double, one rounding to double, one to f32. What loops.h's Op runs (row tails,
  // odd sizes) and what wasm_rows.h redoes a block with.
  static void rotHalf(V& x, V& y, V c, V s) {
    const v128 ys = wasm_f32x4_mul(y, s), xs = wasm_f32x4_mul(x, s);
    const v128 xl = lo64(x), xh = hi64(x), yl = lo64(y), yh = hi64(y);
    const v128 cl = lo64(c), ch = hi64(c);
    x = join32(wasm_f64x2_sub(wasm_f64x2_mul(xl, cl), lo64(ys)), wasm_f64x2_sub(wasm_f64x2_mul(xh, ch), hi64(ys)));
    y = join32(wasm_f64x2_add(wasm_f64x2_mul(yl, cl), lo64(xs)), wasm_f64x2_add(wasm_f64x2_mul(yh, ch), hi64(xs)));
  }
  // The f32 fast path of wasm_rows.h (see the top): all in f32, x*c rounded too. Wherever the
  // result is not +-0, round(x*c) != round(y*s), and monotone rounding then gives the difference
  // the sign of x*c - round(y*s): the contract's sign. Zeros, tiny and huge results are redone
  // with rotHalf (kTiny, kHuge below).
  static void rotHalfF32(V& x, V& y, V c, V s) {
    const v128 xc = wasm_f32x4_mul(x, c), ys = wasm_f32x4_mul(y, s);
    const v128 yc = wasm_f32x4_mul(y, c), xs = wasm_f32x4_mul(x, s);
    x = wasm_f32x4_sub(xc, ys);
    y = wasm_f32x4_add(yc, xs);
  }
  // Pairs: de-interleave into x and y lanes, rotate, interleave back (4 shuffles per 4 pairs; the
  // swap-and-addsub form needs as many plus the sign flips).
  template <void (*Rot)(V&, V&, V, V)>
  static void pairsWith(V& a, V& b, V c, V s) {
    V x = wasm_i32x4_shuffle(a, b, 0, 2, 4, 6), y = wasm_i32x4_shuffle(a, b, 1, 3, 5, 7);
    Rot(x, y, c, s);
    a = wasm_i32x4_shuffle(x, y, 0, 4, 1, 5);
    b = wasm_i32x4_shuffle(x, y, 2, 6, 3, 7);
  }
  static void rotPairs(V& a, V& b, V c, V s) { pairsWith<rotHalf>(a, b, c, s); }
  static void rotPairsF32(V& a, V& b, V c, V s) { pairsWith<rotHalfF32>(a, b, c, s); }
  // Lanes whose f32 result must come from the double path: |r| < 2^-100 (zeros included) or
  // >= 2^127, inf, NaN. Tested in wasm_rows.h as one signed compare (SIMD128's unsigned ones cost
  // several instructions in V8): |bits| + (2^31 - tiny) maps [tiny, huge) to [INT_MIN, INT_MIN +
  // huge - tiny) and everything else above it; of several vectors, their lanes' max.
  static constexpr int32_t kTiny = 0x0D800000;  // 2^-100
  static constexpr int32_t kHuge = 0x7F000000;  // 2^127

  // Fast exact 16-bit path (loops.h's HasFast16): d = x*c - y*s in double is the JS engine's value
  // (products exact, one rounding); f = f32(d) to nearest. Nearest rounding is monotone and every
  // 16-bit midpoint m (|m| >= G.lo) is an f32, so d < m gives f <= m and d > m gives f >= m: unless
  // f is itself a midpoint, f and d lie between the same two midpoints and round to the same
  // 16-bit value (Io::store rounds f to nearest even). Fails (the caller takes rotHalfExact<kOdd>)
  // where some lane is a midpoint, below G.lo (zeros: their sign, and f16's coarser grid) or NaN.
  // Lanes failing that: |f| outside [G.lo, inf] (signed compare after the offset, as for kTiny),
  // or on a midpoint.
  template <const loops::Grid16& G>
  static v128 unsafe16(v128 f) {
    const v128 a = wasm_v128_and(f, wasm_i32x4_splat(0x7FFFFFFF));
    const v128 off = wasm_i32x4_add(a, wasm_i32x4_splat(int32_t(0x80000000u - uint32_t(G.lo))));
    const v128 outRange = wasm_i32x4_gt(off, wasm_i32x4_splat(int32_t(0x80000000u + (0x7F800000u - uint32_t(G.lo)))));
    const v128 onMid = wasm_i32x4_eq(wasm_v128_and(a, wasm_i32x4_splat(G.mask)), wasm_i32x4_splat(G.mid));
    return wasm_v128_or(outRange, onMid);
  }
  template <const loops::Grid16& G>
  static bool rotHalfFast16(V& x, V& y, V c, V s) {
    const v128 xl = lo64(x), xh = hi64(x), yl = lo64(y), yh = hi64(y);
    const v128 cl = lo64(c), ch = hi64(c), sl = lo64(s), sh = hi64(s);
    x = join32(wasm_f64x2_sub(wasm_f64x2_mul(xl, cl), wasm_f64x2_mul(yl, sl)),
               wasm_f64x2_sub(wasm_f64x2_mul(xh, ch), wasm_f64x2_mul(yh, sh)));
    y = join32(wasm_f64x2_add(wasm_f64x2_mul(yl, cl), wasm_f64x2_mul(xl, sl)),
               wasm_f64x2_add(wasm_f64x2_mul(yh, ch), wasm_f64x2_mul(xh, sh)));
    return !wasm_v128_any_true(wasm_v128_or(unsafe16<G>(x), unsafe16<G>(y)));
  }
  template <const loops::Grid16& G>
  static bool rotPairsFast16(V& a, V& b, V c, V s) {
    V x = wasm_i32x4_shuffle(a, b, 0, 2, 4, 6), y = wasm_i32x4_shuffle(a, b, 1, 3, 5, 7);
    const bool ok = rotHalfFast16<G>(x, y, c, s);
    a = wasm_i32x4_shuffle(x, y, 0, 4, 1, 5);
    b = wasm_i32x4_shuffle(x, y, 2, 6, 3, 7);
    return ok;
  }

  // Exact-product rotation (loops.h): the double sums above, narrowed to f32 by mode N. Round to
  // odd (16-bit types; no rounding-mode operand in SIMD128): round to nearest, step one ulp toward
  // zero where that went away from zero, set the lsb where inexact (avx2.cc's general case).
  template <int N>
  static v128 narrow(v128 r) {
    const v128 f = wasm_f32x4_demote_f64x2_zero(r);
    const v128 back = wasm_f64x2_promote_low_f32x4(f);
    const v128 away = wasm_f64x2_gt(wasm_f64x2_abs(back), wasm_f64x2_abs(r));
    const v128 inexact = wasm_v128_and(wasm_f64x2_ne(back, r), wasm_f64x2_eq(r, r));  // NaN as is
    // 64-bit lane masks -> the two low 32-bit lanes.
    const v128 away32 = wasm_i32x4_shuffle(away, away, 0, 2, 0, 2);
    const v128 inexact32 = wasm_i32x4_shuffle(inexact, inexact, 0, 2, 0, 2);
    const v128 bits = wasm_i32x4_add(f, away32);  // -1: one step toward zero
    return wasm_v128_or(bits, wasm_v128_and(inexact32, wasm_i32x4_splat(1)));
  }
  template <int N>
  static v128 join(v128 lo, v128 hi) {
    return wasm_i32x4_shuffle(narrow<N>(lo), narrow<N>(hi), 0, 1, 4, 5);
  }
  template <int N>
  static void rotHalfExact(V& x, V& y, V c, V s) {
    const v128 xl = lo64(x), xh = hi64(x), yl = lo64(y), yh = hi64(y);
    const v128 cl = lo64(c), ch = hi64(c), sl = lo64(s), sh = hi64(s);
    x = join<N>(wasm_f64x2_sub(wasm_f64x2_mul(xl, cl), wasm_f64x2_mul(yl, sl)),
                wasm_f64x2_sub(wasm_f64x2_mul(xh, ch), wasm_f64x2_mul(yh, sh)));
    y = join<N>(wasm_f64x2_add(wasm_f64x2_mul(yl, cl), wasm_f64x2_mul(xl, sl)),
                wasm_f64x2_add(wasm_f64x2_mul(yh, ch), wasm_f64x2_mul(xh, sh)));
  }
  template <int N>
  static void rotPairsExact(V& a, V& b, V c, V s) {
    V x = wasm_i32x4_shuffle(a, b, 0, 2, 4, 6), y = wasm_i32x4_shuffle(a, b, 1, 3, 5, 7);
    rotHalfExact<N>(x, y, c, s);
    a = wasm_i32x4_shuffle(x, y, 0, 4, 1, 5);
    b = wasm_i32x4_shuffle(x, y, 2, 6, 3, 7);
  }

  struct D {
    using V = v128;
    using M = v128;
    static constexpr int kLanes = 2;
    static V set(double d) { return wasm_f64x2_splat(d); }
    static V mul(V a, V b) { return wasm_f64x2_mul(a, b); }
    static V add(V a, V b) { return wasm_f64x2_add(a, b); }
    // a*b + c without a fused instruction: a*b = p + e exactly (Veltkamp split, Dekker product),
    // then (p + c) + e. Exact where sincos.h needs it: lo = fma(p, f, -hi) gives e itself, and
    // r = fma(-k, pi/2 hi part, hi) has p + c exact (Sterbenz: hi is within pi/4 of k*pi/2) and
    // a representable result. Elsewhere (polynomials) it is as accurate as a fused one, or
    // within an ulp of it, far below what the f32 result keeps.
    static void split(V a, V* hi, V* lo) {
      V t = wasm_f64x2_mul(a, wasm_f64x2_splat(134217729.0));  // 2^27 + 1
      *hi = wasm_f64x2_sub(t, wasm_f64x2_sub(t, a));
      *lo = wasm_f64x2_sub(a, *hi);
    }
    static V fma(V a, V b, V c) {
      V p = wasm_f64x2_mul(a, b);
      V ah, al, bh, bl;
      split(a, &ah, &al);
      split(b, &bh, &bl);
      V e = wasm_f64x2_sub(wasm_f64x2_mul(ah, bh), p);
      e = wasm_f64x2_add(e, wasm_f64x2_mul(ah, bl));
      e = wasm_f64x2_add(e, wasm_f64x2_mul(al, bh));
      e = wasm_f64x2_add(e, wasm_f64x2_mul(al, bl));
      return wasm_f64x2_add(wasm_f64x2_add(p, c), e);
    }
    static V neg(V a) { return wasm_f64x2_neg(a); }
    static V round(V a) { return wasm_f64x2_nearest(a); }
    static V floor(V a) { return wasm_f64x2_floor(a); }
    static M eq(V a, V b) { return wasm_f64x2_eq(a, b); }
    static M ge(V a, V b) { return wasm_f64x2_ge(a, b); }
    static M orm(M a, M b) { return wasm_v128_or(a, b); }
    static V sel(M m, V a, V b) { return wasm_v128_bitselect(a, b, m); }
    static V load(const double* p) { return wasm_v128_load(p); }
    static V loadN(const double* p, int64_t n) {
      double tmp[2] = {};
      std::memcpy(tmp, p, size_t(n) * sizeof(double));
      return wasm_v128_load(tmp);
    }
    static void storeF32(float* p, V v) { wasm_v128_store64_lane(p, wasm_f32x4_demote_f64x2_zero(v), 0); }
    static void storeF32N(float* p, V v, int64_t n) {
      float tmp[4];
      wasm_v128_store(tmp, wasm_f32x4_demote_f64x2_zero(v));
      std::memcpy(p, tmp, size_t(n) * sizeof(float));
    }
  };
};

// Four u32 lanes (each <= 0xFFFF) -> four u16 at p.
inline void store4x16(uint16_t* p, v128 u32) { wasm_v128_store64_lane(p, wasm_u16x8_narrow_i32x4(u32, u32), 0); }

struct F32Base {
  using T = float;
  static v128 load(const T* p) { return wasm_v128_load(p); }
  static void store(T* p, v128 v) { wasm_v128_store(p, v); }
};

struct BF16Base {
  using T = uint16_t;
  static constexpr const loops::Grid16& kGrid = loops::kGridBF16;
  // rows16's fast path: lanes that may not be stored with storeFinite (NaN; and on a midpoint, see
  // unsafe16). No range test: bf16 has f32's exponent range, and its midpoints are f32 numbers
  // down through the subnormals, so f32(d) rounds as d does there too (zeros keep d's sign).
  static v128 unsafeFast(v128 f) {
    const v128 onMid = wasm_i32x4_eq(wasm_v128_and(f, wasm_i32x4_splat(0xFFFF)), wasm_i32x4_splat(0x8000));
    return wasm_v128_or(onMid, wasm_f32x4_ne(f, f));
  }
  // store() for lanes that are not NaN (inf included: the bias carries nothing into it).
  static void storeFinite(T* p, v128 v) {
    const v128 bias = wasm_i32x4_add(wasm_i32x4_splat(0x7FFF), wasm_v128_and(wasm_u32x4_shr(v, 16), wasm_i32x4_splat(1)));
    store4x16(p, wasm_u32x4_shr(wasm_i32x4_add(v, bias), 16));
  }
  static v128 load(const T* p) { return wasm_i32x4_shl(wasm_u32x4_load16x4(p), 16); }
  // Round to nearest even on the bits (as dtype.h); NaN: top half with the quiet bit set.
  static void store(T* p, v128 v) {
    const v128 top = wasm_u32x4_shr(v, 16);
    const v128 bias = wasm_i32x4_add(wasm_i32x4_splat(0x7FFF), wasm_v128_and(top, wasm_i32x4_splat(1)));
    const v128 rounded = wasm_u32x4_shr(wasm_i32x4_add(v, bias), 16);
    const v128 quiet = wasm_v128_or(top, wasm_i32x4_splat(0x40));
    const v128 isNan = wasm_f32x4_ne(v, v);  // (one instruction; an unsigned compare is several)
    store4x16(p, wasm_v128_bitselect(quiet, rounded, isNan));
  }
};

struct F16Base {
  using T = uint16_t;
  static constexpr const loops::Grid16& kGrid = loops::kGridF16;
  static v128 unsafeFast(v128 f) { return WasmSimd::unsafe16<kGrid>(f); }
  // store() for lanes with |v| >= 2^-14, not NaN: the normal rounding, which carries 65520 and up
  // to 0x7C00 and beyond (clamped to it: infinity).
  static void storeFinite(T* p, v128 v) {
    const v128 sign = wasm_v128_and(wasm_u32x4_shr(v, 16), wasm_i32x4_splat(0x8000));
    const v128 b = wasm_i32x4_sub(wasm_v128_and(v, wasm_i32x4_splat(0x7FFFFFFF)), wasm_i32x4_splat(112 << 23));
    const v128 normal = wasm_u32x4_shr(
        wasm_i32x4_add(b, wasm_i32x4_add(wasm_i32x4_splat(0xFFF), wasm_v128_and(wasm_u32x4_shr(b, 13), wasm_i32x4_splat(1)))), 13);
    store4x16(p, wasm_v128_or(wasm_i32x4_min(normal, wasm_i32x4_splat(0x7C00)), sign));
  }
  // dtype.h's f16ToF32: finite values are exact as (bits << 13) * 2^112 (subnormals included);
  // exponent 31 becomes inf / a quiet NaN with the payload.
  static v128 load(const T* p) {
    const v128 h = wasm_u32x4_load16x4(p);
    const v128 sign = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x8000)), 16);
    const v128 em = wasm_v128_and(h, wasm_i32x4_splat(0x7FFF));
    const v128 finite = wasm_f32x4_mul(wasm_i32x4_shl(em, 13), wasm_f32x4_splat(5.192296858534828e33f));  // 2^112
    const v128 quietBit = wasm_v128_and(wasm_i32x4_gt(em, wasm_i32x4_splat(0x7C00)), wasm_i32x4_splat(0x00400000));
    const v128 special = wasm_v128_or(wasm_v128_or(wasm_i32x4_shl(em, 13), wasm_i32x4_splat(0x7F800000)), quietBit);
    const v128 isSpecial = wasm_i32x4_ge(em, wasm_i32x4_splat(0x7C00));
    return wasm_v128_or(sign, wasm_v128_bitselect(special, finite, isSpecial));
  }
  // dtype.h's f32ToF16, branch-free: normal results by integer rounding, subnormal ones by adding
  // 0.5f (its ulp, 2^-24, is the f16 subnormal step: the FPU rounds to nearest even).
  static void store(T* p, v128 v) {
    const v128 sign = wasm_v128_and(wasm_u32x4_shr(v, 16), wasm_i32x4_splat(0x8000));
    const v128 a = wasm_v128_and(v, wasm_i32x4_splat(0x7FFFFFFF));
    const v128 b = wasm_i32x4_sub(a, wasm_i32x4_splat(112 << 23));
    const v128 normal = wasm_u32x4_shr(
        wasm_i32x4_add(b, wasm_i32x4_add(wasm_i32x4_splat(0xFFF), wasm_v128_and(wasm_u32x4_shr(b, 13), wasm_i32x4_splat(1)))), 13);
    const v128 sub = wasm_i32x4_sub(wasm_f32x4_add(a, wasm_f32x4_splat(0.5f)), wasm_i32x4_splat(0x3F000000));
    const v128 nan = wasm_v128_or(wasm_i32x4_splat(0x7E00), wasm_v128_and(wasm_u32x4_shr(a, 13), wasm_i32x4_splat(0x3FF)));
    v128 r = wasm_v128_bitselect(normal, sub, wasm_i32x4_ge(a, wasm_i32x4_splat(0x38800000)));
    r = wasm_v128_bitselect(wasm_i32x4_splat(0x7C00), r, wasm_i32x4_ge(a, wasm_i32x4_splat(0x477FF000)));
    r = wasm_v128_bitselect(nan, r, wasm_i32x4_gt(a, wasm_i32x4_splat(0x7F800000)));
    store4x16(p, wasm_v128_or(r, sign));
  }
};

// SIMD128 has no masked loads: tails go through a stack buffer (loops::TempTail).
using F32Io = loops::TempTail<F32Base, 4>;
using F16Io = loops::TempTail<F16Base, 4>;
using BF16Io = loops::TempTail<BF16Base, 4>;

#include "wasm_rows.h"  // rowsF32, rows16

// loops.h's table, with the rows kernels above.
constexpr KernelTable makeTable() {
  KernelTable t = ROPE_KERNEL_TABLE("wasm-simd128", WasmSimd, F32Io, F16Io, BF16Io);
  t.rotateRows[kHalf][kF32] = &rowsF32<kHalf>;
  t.rotateRows[kInterleaved][kF32] = &rowsF32<kInterleaved>;
  t.rotateRows[kHalf][kF16] = &rows16<F16Io, kHalf>;
  t.rotateRows[kInterleaved][kF16] = &rows16<F16Io, kInterleaved>;
  t.rotateRows[kHalf][kBF16] = &rows16<BF16Io, kHalf>;
  t.rotateRows[kInterleaved][kBF16] = &rows16<BF16Io, kInterleaved>;
  return t;
}
constexpr KernelTable kWasm = makeTable();
// (no kFusedF32: SIMD128 has no FMA, so an f32 cache row takes cache_rows.h's exact method)
using CacheFamily = cacherows::Family<F32Io, F16Io, BF16Io>;
constexpr CacheKernels kWasmCache = ROPE_CACHE_TABLE("wasm-simd128", WasmSimd, CacheFamily);

}  // namespace

const KernelTable& wasmSimd128Kernels();  // declared where used: native/wasm/entry.cc
const KernelTable& wasmSimd128Kernels() { return kWasm; }
const CacheKernels& wasmSimd128CacheKernels();
const CacheKernels& wasmSimd128CacheKernels() { return kWasmCache; }

}  // namespace rope

#else  // not wasm32 with SIMD128: not compiled into this build

namespace rope {
const KernelTable& wasmSimd128Kernels();
const KernelTable& wasmSimd128Kernels() {
  static constexpr KernelTable t{nullptr, {}, nullptr, {}, {}};
  return t;
}
const CacheKernels& wasmSimd128CacheKernels();
const CacheKernels& wasmSimd128CacheKernels() {
  static constexpr CacheKernels t{nullptr, {}, {}};
  return t;
}
}  // namespace rope

#endif
