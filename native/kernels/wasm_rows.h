// The wasm rows kernels (native/kernels/wasm_simd128.cc includes this inside its namespace, after
// WasmSimd and the Io types): loops.h's rotateRows with the per-ISA costs V8 showed taken out.
#pragma once

// The rows kernels (one token's heads), with the same bits as loops::rotateRow row by row, and
// two costs taken out of the generic loop for V8: the redo test runs once per 8 pairs instead of
// per 4 (a test per vector made the f32 kernel ~2x slower than none), and for 16-bit types cos/sin
// are widened to double once per token instead of once per row. A block of 8 pairs that fails the
// test is redone by loops::Op on its inputs, exactly what rotateRow does for each of its vectors;
// rows whose pairs are not whole blocks (half % 8) take loops::rotateRows.
constexpr int64_t kBlock = 8;

// V8 materializes every v128.const where it is used (several instructions, inside the loop), and
// clang rematerializes constants rather than keep them in locals; read from this (mutable, so
// opaque to clang) table once per call, they stay in registers.
struct RedoConsts {
  v128 abs, off, lim;
};
extern RedoConsts gRedoConsts;
RedoConsts gRedoConsts = {wasm_i32x4_const_splat(0x7FFFFFFF),
                          wasm_i32x4_const_splat(int32_t(0x80000000u - uint32_t(WasmSimd::kTiny))),
                          wasm_i32x4_const_splat(int32_t(0x80000000u + uint32_t(WasmSimd::kHuge - WasmSimd::kTiny) - 1u))};

template <Style S>
inline void loadBlock(const float* row, int64_t j, int64_t half, v128* x) {
  if (S == kHalf) {
    x[0] = wasm_v128_load(row + j), x[1] = wasm_v128_load(row + j + 4);
    x[2] = wasm_v128_load(row + half + j), x[3] = wasm_v128_load(row + half + j + 4);
  } else {
    for (int i = 0; i < 4; i++) x[i] = wasm_v128_load(row + 2 * j + 4 * i);
  }
}

// A block whose test failed: loops::Op on each of its vectors, from memory (f32: the contract in
// double, WasmSimd::rotHalf; 16-bit: fast16, then exact), nothing staying live
// across the branch: V8 spilled the inputs on every block while they did).
template <class Io, Style S>
ROPE_NOINLINE void redoBlock(typename Io::T* row, int64_t j, int64_t half, const float* cos, const float* sin) {
  using Op = loops::Op<WasmSimd, Io>;
  for (int k = 0; k < 2; k++) {
    const int64_t p = j + 4 * k;
    const v128 c = wasm_v128_load(cos + p), s = wasm_v128_load(sin + p);
    if (S == kHalf) {
      v128 x = Io::load(row + p), y = Io::load(row + half + p);
      Op::template rot<S>(x, y, c, s);
      Io::store(row + p, x), Io::store(row + half + p, y);
    } else {
      v128 a = Io::load(row + 2 * p), b = Io::load(row + 2 * p + 4);
      Op::template rot<S>(a, b, c, s);
      Io::store(row + 2 * p, a), Io::store(row + 2 * p + 4, b);
    }
  }
}

template <Style S>
void rowsF32(void* row0, int64_t strideBytes, int64_t count, const float* cos, const float* sin, int64_t half, int64_t rowBlock) {
  // (row by row already: rowBlock matters only to the generic loop)
  if (half % kBlock != 0) return loops::rotateRows<WasmSimd, F32Io, S>(row0, strideBytes, count, cos, sin, half, rowBlock);
  const RedoConsts k = gRedoConsts;
  auto shifted = [&k](v128 v) { return wasm_i32x4_add(wasm_v128_and(v, k.abs), k.off); };
  for (int64_t r = 0; r < count; r++) {
    float* row = reinterpret_cast<float*>(static_cast<char*>(row0) + r * strideBytes);
    for (int64_t j = 0; j < half; j += kBlock) {
      const v128 c0 = wasm_v128_load(cos + j), c1 = wasm_v128_load(cos + j + 4);
      const v128 s0 = wasm_v128_load(sin + j), s1 = wasm_v128_load(sin + j + 4);
      v128 v[4];
      loadBlock<S>(row, j, half, v);
      // half: (v0, v2) and (v1, v3) are x/y of pairs j..j+3, j+4..j+7; interleaved: (v0, v1), (v2, v3).
      if (S == kHalf) {
        WasmSimd::rotHalfF32(v[0], v[2], c0, s0);
        WasmSimd::rotHalfF32(v[1], v[3], c1, s1);
      } else {
        WasmSimd::rotPairsF32(v[0], v[1], c0, s0);
        WasmSimd::rotPairsF32(v[2], v[3], c1, s1);
      }
      const v128 m = wasm_i32x4_max(wasm_i32x4_max(shifted(v[0]), shifted(v[1])), wasm_i32x4_max(shifted(v[2]), shifted(v[3])));
      if (ROPE_UNLIKELY(wasm_v128_any_true(wasm_i32x4_gt(m, k.lim)))) {
        redoBlock<F32Io, S>(row, j, half, cos, sin);
        continue;
      }
      if (S == kHalf) {
        wasm_v128_store(row + j, v[0]), wasm_v128_store(row + j + 4, v[1]);
        wasm_v128_store(row + half + j, v[2]), wasm_v128_store(row + half + j + 4, v[3]);
      } else {
        for (int i = 0; i < 4; i++) wasm_v128_store(row + 2 * j + 4 * i, v[i]);
      }
    }
  }
}

// 16-bit: x*c - y*s in double with cos/sin widened once (this call's rows share them), then
// rotHalfFast16's test over the block; a failing block goes through loops::Op (fast16, then exact).
template <class Io, Style S>
void rows16(void* row0, int64_t strideBytes, int64_t count, const float* cos, const float* sin, int64_t half, int64_t rowBlock) {
  constexpr int64_t kMax = 256;  // pairs widened on the stack (4 KiB); longer rows: the generic loop
  if (half % kBlock != 0 || half > kMax) return loops::rotateRows<WasmSimd, Io, S>(row0, strideBytes, count, cos, sin, half, rowBlock);
  using T = typename Io::T;
  alignas(16) double c64[kMax], s64[kMax];
  for (int64_t j = 0; j < half; j += 4) {
    const v128 c = wasm_v128_load(cos + j), s = wasm_v128_load(sin + j);
    wasm_v128_store(c64 + j, lo64(c)), wasm_v128_store(c64 + j + 2, hi64(c));
    wasm_v128_store(s64 + j, lo64(s)), wasm_v128_store(s64 + j + 2, hi64(s));
  }
  for (int64_t r = 0; r < count; r++) {
    T* row = reinterpret_cast<T*>(static_cast<char*>(row0) + r * strideBytes);
    for (int64_t j = 0; j < half; j += kBlock) {
      // Pairs j..j+3 (k = 0), j+4..j+7 (k = 1), loaded and computed one group at a time (fewer
      // values live at once: V8 spills beyond 16 registers).
      v128 out[4];
      v128 bad = wasm_i32x4_splat(0);
      for (int k = 0; k < 2; k++) {
        const int64_t p = j + 4 * k;
        v128 x, y;
        if (S == kHalf) {
          x = Io::load(row + p), y = Io::load(row + half + p);
        } else {
          const v128 a = Io::load(row + 2 * p), b = Io::load(row + 2 * p + 4);
          x = wasm_i32x4_shuffle(a, b, 0, 2, 4, 6), y = wasm_i32x4_shuffle(a, b, 1, 3, 5, 7);
        }
        const v128 xl = lo64(x), yl = lo64(y), cl = wasm_v128_load(c64 + p), sl = wasm_v128_load(s64 + p);
        const v128 rxl = wasm_f64x2_sub(wasm_f64x2_mul(xl, cl), wasm_f64x2_mul(yl, sl));
        const v128 ryl = wasm_f64x2_add(wasm_f64x2_mul(yl, cl), wasm_f64x2_mul(xl, sl));
        const v128 xh = hi64(x), yh = hi64(y), ch = wasm_v128_load(c64 + p + 2), sh = wasm_v128_load(s64 + p + 2);
        const v128 rxh = wasm_f64x2_sub(wasm_f64x2_mul(xh, ch), wasm_f64x2_mul(yh, sh));
        const v128 ryh = wasm_f64x2_add(wasm_f64x2_mul(yh, ch), wasm_f64x2_mul(xh, sh));
        const v128 rx = join32(rxl, rxh), ry = join32(ryl, ryh);
        bad = wasm_v128_or(bad, wasm_v128_or(Io::unsafeFast(rx), Io::unsafeFast(ry)));
        if (S == kHalf) {
          out[k] = rx, out[2 + k] = ry;
        } else {
          out[2 * k] = wasm_i32x4_shuffle(rx, ry, 0, 4, 1, 5), out[2 * k + 1] = wasm_i32x4_shuffle(rx, ry, 2, 6, 3, 7);
        }
      }
      if (ROPE_UNLIKELY(wasm_v128_any_true(bad))) {
        redoBlock<Io, S>(row, j, half, cos, sin);
        continue;
      }
      if (S == kHalf) {
        Io::storeFinite(row + j, out[0]), Io::storeFinite(row + j + 4, out[1]);
        Io::storeFinite(row + half + j, out[2]), Io::storeFinite(row + half + j + 4, out[3]);
      } else {
        for (int i = 0; i < 4; i++) Io::storeFinite(row + 2 * j + 4 * i, out[i]);
      }
    }
  }
}
