// The cache write's rows (cache_kernels.h), written once for every ISA over loops.h's ops: an
// ISA file includes this after loops.h inside its target region, with <cmath>, <cstring>,
// dtype.h and cache_kernels.h included before it (so no inline code of theirs gets the target).
//
// Per pair, by (k dtype S, cache dtype D), as lib/engine-js-cache.ts computes it:
// - D f32: Isa::rotHalf / rotPairs (fma(x, c, -round32(y*s)): one rounding of the exact value
//   after one product) where the ISA fuses (Isa::kFusedF32); elsewhere (scalar, wasm) the exact
//   scalar method below.
// - S = D 16-bit: loops.h's Op, the in-place 16-bit contract and its fast path.
// - S, D different 16-bit types: rot*Exact<kOdd> (round to odd f32 of round64, then the store's
//   nearest-even: round16(round64(x*c - y*s))); no fast path (its bf16 split needs bf16 inputs).
// - S f32, D 16-bit: Isa::rotHalfF32To16 where the ISA has it (half style: a compensated f32
//   result, kept where it provably rounds as the exact value), else and for the vectors it
//   refuses rot*Exact<kOdd> as well, which is round16(round64(e)) for the exact e; that
//   differs from round16(e) only where round64(e) is a 16-bit midpoint and e is not (the proof in
//   lib/engine-js-cache.ts), and then the f32 rounded to odd is that midpoint itself (it is an f32
//   number, so round to odd keeps it). So a vector with a lane on a midpoint (f16: or below f16's
//   normal range, where the bit test does not apply) has its pairs redone by the exact scalar
//   method: TwoSum, and where hi is a midpoint with lo != 0, hi nudged to lo's side.
#pragma once
#include <type_traits>

namespace rope {
namespace cacherows {
namespace {

// --- The exact scalar method (lib/engine-js-cache.ts roundSumOnce; its proof applies) ---

inline uint64_t doubleBits(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}

// t (>= 0, below 2^25) an odd integer.
inline bool oddInt(double t) { return t == std::floor(t) && (int64_t(t) & 1) == 1; }

// Whether the double h lies exactly halfway between two neighbours of dtype d (finite range).
inline bool isMidpoint(double h, int d) {
  const double a = std::fabs(h);
  const uint64_t u = doubleBits(h);
  const uint32_t hi = uint32_t(u >> 32), lo = uint32_t(u);
  if (d == kF32) {
    if (a < 0x1p-126) return oddInt(a * 0x1p150);
    if (a >= 0x1p128) return false;
    return (lo & 0x1FFFFFFFu) == 0x10000000u;  // the 29 bits f32 drops: 1 then zeros
  }
  if (d == kF16) {
    if (a < 0x1p-14) return oddInt(a * 0x1p25);
    if (a >= 65536.0) return false;
    return (hi & 0x3FFu) == 0x200u && lo == 0;  // the 42 bits f16 drops
  }
  if (a < 0x1p-126) return oddInt(a * 0x1p134);
  if (a >= 0x1p128) return false;
  return (hi & 0x1FFFu) == 0x1000u && lo == 0;  // the 45 bits bf16 drops
}

// a + b (exact doubles) as a double that rounds to dtype d once exactly as a + b does.
inline double sumOnce(double a, double b, int d) {
  const double hi = a + b;
  const double bv = hi - a;
  const double lo = (a - (hi - bv)) + (b - bv);
  if (lo == 0 || !isMidpoint(hi, d)) return hi;
  const double p = d == kF32 ? 0x1p-27 : 0x1p-40;
  return hi * ((lo > 0) == (hi > 0) ? 1 + p : 1 - p);
}

template <int S>
inline double loadOne(const void* p, int64_t i) {
  if constexpr (S == kF32) return static_cast<const float*>(p)[i];
  else if constexpr (S == kF16) return f16ToF32(static_cast<const uint16_t*>(p)[i]);
  else return bf16ToF32(static_cast<const uint16_t*>(p)[i]);
}

// Stores h rounded once to D (16-bit: round to odd f32, then nearest-even: one rounding of h).
template <int D>
inline void storeOne(void* p, int64_t i, double h) {
  if constexpr (D == kF32) static_cast<float*>(p)[i] = float(h);
  else if constexpr (D == kF16) static_cast<uint16_t*>(p)[i] = f32ToF16(toOddF32(h));
  else static_cast<uint16_t*>(p)[i] = f32ToBF16(toOddF32(h));
}

// Pairs [j0, j1) of one head, exactly (the reference the vector paths equal bit for bit).
template <int S, int D, Style St>
void exactPairs(const void* src, void* dst, const float* cos, const float* sin, int64_t j0, int64_t j1, int64_t half) {
  for (int64_t j = j0; j < j1; j++) {
    const int64_t ix = St == kHalf ? j : 2 * j, iy = St == kHalf ? j + half : 2 * j + 1;
    const double x = loadOne<S>(src, ix), y = loadOne<S>(src, iy), c = cos[j], s = sin[j];
    if constexpr (D == kF32) {
      storeOne<D>(dst, ix, sumOnce(x * c, -double(float(y * s)), kF32));
      storeOne<D>(dst, iy, sumOnce(y * c, double(float(x * s)), kF32));
    } else if constexpr (S != kF32) {
      storeOne<D>(dst, ix, x * c - y * s);  // products exact: one rounding to double
      storeOne<D>(dst, iy, y * c + x * s);
    } else {
      storeOne<D>(dst, ix, sumOnce(x * c, -(y * s), D));
      storeOne<D>(dst, iy, sumOnce(y * c, x * s, D));
    }
  }
}

// --- The vector rows ---

template <class Isa, class = void>
struct FusedF32 { static constexpr bool value = false; };
template <class Isa>
struct FusedF32<Isa, decltype(void(Isa::kFusedF32))> { static constexpr bool value = Isa::kFusedF32; };

// Isa::onGrid (optional): onMidpoint's test on two vectors at once.
ROPE_HAS_MEMBER(HasOnGrid, &X::onGrid);

// Isa::rotHalfF32To16<Grid> (optional): the fast f32 k -> 16-bit rotation, false where a lane
// must be redone exactly.
ROPE_HAS_MEMBER(HasF32To16, &X::template rotHalfF32To16<loops::kGridF16>);

template <class F32Io, class F16Io, class BF16Io>
struct Family {
  template <int D>
  using Io = std::conditional_t<D == kF32, F32Io, std::conditional_t<D == kF16, F16Io, BF16Io>>;
};

// Whether a lane of an f32 rounded to odd may sit on a rounding midpoint of D (f16: also every
// nonzero value below 2^-14, f16's subnormal range, where the grid is not the bit pattern's).
template <int D>
inline bool onMidpoint(const float* r, int n) {
  bool bad = false;
  for (int i = 0; i < n; i++) {
    uint32_t b;
    std::memcpy(&b, r + i, sizeof b);
    if constexpr (D == kBF16) {
      bad |= (b & 0xFFFFu) == 0x8000u;
    } else {
      const uint32_t a = b & 0x7FFFFFFFu;
      bad |= (b & 0x1FFFu) == 0x1000u || (a != 0 && a < 0x38800000u);
    }
  }
  return bad;
}

template <class Isa, class Fam, int S, int D>
void convertRow(const void* srcV, void* dstV, int64_t n) {
  using SIo = typename Fam::template Io<S>;
  using DIo = typename Fam::template Io<D>;
  using ST = typename SIo::T;
  constexpr int64_t L = Isa::kLanes;
  if (n <= 0) return;
  if constexpr (S == D) {
    std::memcpy(dstV, srcV, size_t(n) * sizeof(ST));
  } else {
    const ST* src = static_cast<const ST*>(srcV);
    typename DIo::T* dst = static_cast<typename DIo::T*>(dstV);
    int64_t i = 0;
    if constexpr (loops::HasStoreWide<DIo>::value)
      for (; i + 2 * L <= n; i += 2 * L) DIo::storeWide(dst + i, SIo::load(src + i), SIo::load(src + i + L));
    for (; i + L <= n; i += L) DIo::store(dst + i, SIo::load(src + i));
    if (i < n) DIo::storeN(dst + i, SIo::loadN(src + i, n - i), n - i);
  }
}

template <class Isa, class Fam, int S, int D, Style St>
struct Rows {
  using V = typename Isa::V;
  using SIo = typename Fam::template Io<S>;
  using DIo = typename Fam::template Io<D>;
  using F32 = typename Fam::template Io<kF32>;
  using ST = typename SIo::T;
  using DT = typename DIo::T;
  static constexpr int64_t L = Isa::kLanes;
  static constexpr bool kCheck = S == kF32 && D != kF32;

  static void rot(V& a, V& b, V c, V s) {
    if constexpr (D == kF32) {
      if constexpr (St == kHalf) Isa::rotHalf(a, b, c, s);
      else Isa::rotPairs(a, b, c, s);
    } else if constexpr (S == D) {
      loops::Op<Isa, DIo>::template rot<St>(a, b, c, s);
    } else if constexpr (St == kHalf) {
      Isa::template rotHalfExact<loops::kOdd>(a, b, c, s);
    } else {
      Isa::template rotPairsExact<loops::kOdd>(a, b, c, s);
    }
  }

  static bool needsExact(V a, V b) {
    if constexpr (!kCheck) {
      (void)a;
      (void)b;
      return false;
    } else if constexpr (HasOnGrid<Isa>::value) {
      return ROPE_UNLIKELY(D == kBF16 ? Isa::onGrid(a, b, 0xFFFF, 0x8000, 0) : Isa::onGrid(a, b, 0x1FFF, 0x1000, 0x38800000));
    } else {
      float r[2 * L];
      F32::store(r, a);
      F32::store(r + L, b);
      return ROPE_UNLIKELY(onMidpoint<D>(r, int(2 * L)));
    }
  }

  // The row's last n < L pairs [j, j + n) of every head.
  static void partial(const char* s, int64_t srcHeadBytes, char* d, int64_t dstHeadBytes, int64_t heads, const float* cos,
                      const float* sin, int64_t j, int64_t n, int64_t half) {
    const V c = Isa::loadFN(cos + j, n), sn = Isa::loadFN(sin + j, n);
    for (int64_t h = 0; h < heads; h++) {
      const ST* src = reinterpret_cast<const ST*>(s + h * srcHeadBytes);
      DT* dst = reinterpret_cast<DT*>(d + h * dstHeadBytes);
      if constexpr (St == kHalf) {
        V x = SIo::loadN(src + j, n), y = SIo::loadN(src + half + j, n);
        rot(x, y, c, sn);
        DIo::storeN(dst + j, x, n);
        DIo::storeN(dst + half + j, y, n);
        if (needsExact(x, y)) exactPairs<S, D, St>(src, dst, cos, sin, j, j + n, half);
      } else {
        const int64_t na = 2 * n < L ? 2 * n : L, nb = 2 * n - na;
        V a = SIo::loadN(src + 2 * j, na);
        V b = nb > 0 ? SIo::loadN(src + 2 * j + L, nb) : Isa::zero();
        rot(a, b, c, sn);
        DIo::storeN(dst + 2 * j, a, na);
        if (nb > 0) DIo::storeN(dst + 2 * j + L, b, nb);
        if (needsExact(a, b)) exactPairs<S, D, St>(src, dst, cos, sin, j, j + n, half);
      }
    }
  }

  // G whole units (pairs [u, u + L) for u in units) of every head, as loops.h rotateGroup: their
  // cos and sin loaded once, and each head's G vector pairs loaded before any is stored. Heads go
  // downwards when `down`. An f32 -> 16-bit vector that misses the fast path has the group redone
  // by rot: both paths round exactly, so they give the same bits.
  template <int G>
  static void group(const char* s, int64_t srcHeadBytes, char* d, int64_t dstHeadBytes, int64_t heads, const float* cos,
                    const float* sin, const int64_t* units, int64_t half, bool down) {
    V c[G], sn[G];
    int64_t offA[G], offB[G];
#pragma GCC unroll 4
    for (int i = 0; i < G; i++) {
      c[i] = Isa::loadF(cos + units[i]);
      sn[i] = Isa::loadF(sin + units[i]);
      offA[i] = St == kHalf ? units[i] : 2 * units[i];
      offB[i] = St == kHalf ? offA[i] + half : offA[i] + L;
    }
    const bool adjacent = G == 2 && units[G - 1] == units[0] + L;  // (one wide store per half)
    for (int64_t n = 0; n < heads; n++) {
      const int64_t h = down ? heads - 1 - n : n;
      const ST* src = reinterpret_cast<const ST*>(s + h * srcHeadBytes);
      DT* dst = reinterpret_cast<DT*>(d + h * dstHeadBytes);
      V a[G], b[G];
      // (the loops unrolled, so the arrays stay in registers: GCC kept a loop's in memory)
#pragma GCC unroll 4
      for (int i = 0; i < G; i++) {
        a[i] = SIo::load(src + offA[i]);
        b[i] = SIo::load(src + offB[i]);
        loops::inRegister(a[i]);
        loops::inRegister(b[i]);
      }
      if constexpr (kCheck && HasF32To16<Isa>::value && St == kHalf) {
        V fa[G], fb[G];
        bool safe = true;
#pragma GCC unroll 4
        for (int i = 0; i < G; i++) {
          fa[i] = a[i];
          fb[i] = b[i];
          safe &= Isa::template rotHalfF32To16<D == kF16 ? loops::kGridF16 : loops::kGridBF16>(fa[i], fb[i], c[i], sn[i]);
        }
        if (ROPE_LIKELY(safe)) {
          // (proven finite, normal and off every midpoint: the Io's cheaper store where it has one)
          if constexpr (G == 2 && loops::HasStoreSafeWide<DIo>::value) {
            if (adjacent) {
              DIo::storeSafeWide(dst + offA[0], fa[0], fa[1]);
              DIo::storeSafeWide(dst + offB[0], fb[0], fb[1]);
              continue;
            }
          }
#pragma GCC unroll 4
          for (int i = 0; i < G; i++) {
            if constexpr (loops::HasStoreSafe<DIo>::value) {
              DIo::storeSafe(dst + offA[i], fa[i]);
              DIo::storeSafe(dst + offB[i], fb[i]);
            } else {
              DIo::store(dst + offA[i], fa[i]);
              DIo::store(dst + offB[i], fb[i]);
            }
          }
          continue;
        }
      }
#pragma GCC unroll 4
      for (int i = 0; i < G; i++) {
        rot(a[i], b[i], c[i], sn[i]);
        DIo::store(dst + offA[i], a[i]);
        DIo::store(dst + offB[i], b[i]);
        if (needsExact(a[i], b[i])) exactPairs<S, D, St>(src, dst, cos, sin, units[i], units[i] + L, half);
      }
    }
  }

  // Every head's row: whole units two at a time over all heads (rotateRows' grouping: the cos,
  // sin and data of two fit AVX2's registers), a last partial unit, then the unrotated tail past
  // 2 * half.
  static void rows(const void* srcV, int64_t srcHeadBytes, void* dstV, int64_t dstHeadBytes, int64_t heads,
                   const float* cos, const float* sin, int64_t half, int64_t headDim) {
    const char* s = static_cast<const char*>(srcV);
    char* d = static_cast<char*>(dstV);
    if constexpr (D == kF32 && !FusedF32<Isa>::value) {
      for (int64_t h = 0; h < heads; h++)
        exactPairs<S, D, St>(s + h * srcHeadBytes, d + h * dstHeadBytes, cos, sin, 0, half, half);
    } else {
      // An f32 cache: units start where the cache rows' vectors are aligned (as loops.h
      // rotateRows does for rows rotated in place; a cache's memory is usually 16 bytes off a
      // line), with one unaligned unit at each end overlapping its neighbour. Every unit reads
      // src and writes dst only, so a pair done twice is stored twice with the same bits.
      int64_t first = 0;
      if constexpr (D == kF32) {
        constexpr int64_t kVecBytes = L * 4;
        const int64_t mis = int64_t(reinterpret_cast<uintptr_t>(d) % uintptr_t(kVecBytes));
        if (half >= L && mis != 0 && mis % 4 == 0 && dstHeadBytes % kVecBytes == 0) {
          const int64_t elems = (kVecBytes - mis) / 4;
          first = St == kHalf ? ((half * 4) % kVecBytes == 0 ? elems : 0) : (elems % 2 == 0 ? elems / 2 : 0);
        }
      }
      // A load whose address matches an in-flight store's in bits 11:0 waits for that store (4K
      // aliasing: a decode call's k and cache rows took up to 2x as long at some distances). With
      // rows as far apart in src as in dst, heads go upwards when src is 0-2 KiB past dst modulo
      // 4 KiB and downwards otherwise, so the next head's loads move away from the stores just made.
      const bool down = srcHeadBytes == dstHeadBytes && ((reinterpret_cast<uintptr_t>(s) - reinterpret_cast<uintptr_t>(d)) & 4095) >= 2048;
      int64_t units[2];
      int n = 0;
      auto add = [&](int64_t u) {
        units[n++] = u;
        if (n == 2) {
          group<2>(s, srcHeadBytes, d, dstHeadBytes, heads, cos, sin, units, half, down);
          n = 0;
        }
      };
      if (first > 0) add(0);
      int64_t j = first;
      for (; j + L <= half; j += L) add(j);
      if (j < half && first > 0) add(half - L);
      if (n == 1) group<1>(s, srcHeadBytes, d, dstHeadBytes, heads, cos, sin, units, half, down);
      if (j < half && first == 0) partial(s, srcHeadBytes, d, dstHeadBytes, heads, cos, sin, j, half - j, half);
    }
    if (headDim > 2 * half)
      for (int64_t h = 0; h < heads; h++)
        convertRow<Isa, Fam, S, D>(reinterpret_cast<const ST*>(s + h * srcHeadBytes) + 2 * half,
                                   reinterpret_cast<DT*>(d + h * dstHeadBytes) + 2 * half, headDim - 2 * half);
  }
};

// Isa::stream64 and Isa::fence (optional, x86): one 64-byte line stored non-temporally to an
// aligned dst from any src, and the store fence that orders such stores.
template <class Isa, class = void>
struct Stream {
  static constexpr StreamKernel copy = nullptr;
  static constexpr FenceKernel fence = nullptr;
};
template <class Isa>
struct Stream<Isa, decltype(void(&Isa::stream64))> {
  static void lines(void* dstV, const void* srcV, int64_t bytes) {
    char* dst = static_cast<char*>(dstV);
    const char* src = static_cast<const char*>(srcV);
    for (int64_t i = 0; i < bytes; i += 64) Isa::stream64(dst + i, src + i);
  }
  static constexpr StreamKernel copy = &lines;
  static constexpr FenceKernel fence = &Isa::fence;
};

template <class Isa, class Fam, int S, int D, Style St>
void rotateInto(const void* src, int64_t srcHeadBytes, void* dst, int64_t dstHeadBytes, int64_t heads, const float* cos,
                const float* sin, int64_t half, int64_t headDim) {
  Rows<Isa, Fam, S, D, St>::rows(src, srcHeadBytes, dst, dstHeadBytes, heads, cos, sin, half, headDim);
}

}  // namespace
}  // namespace cacherows
}  // namespace rope

// The CacheKernels of an ISA from its Isa and the Family of its three Io (as ROPE_KERNEL_TABLE;
// FAM one name: `using CacheFamily = cacherows::Family<F32Io, F16Io, BF16Io>;`).
#define ROPE_CACHE_ROW(ISA, FAM, ST, S, D) &::rope::cacherows::rotateInto<ISA, FAM, ::rope::S, ::rope::D, ::rope::ST>
#define ROPE_CACHE_ROWS_FROM(ISA, FAM, ST, S) \
  { ROPE_CACHE_ROW(ISA, FAM, ST, S, kF32), ROPE_CACHE_ROW(ISA, FAM, ST, S, kF16), ROPE_CACHE_ROW(ISA, FAM, ST, S, kBF16) }
#define ROPE_CACHE_ROWS(ISA, FAM, ST) \
  { ROPE_CACHE_ROWS_FROM(ISA, FAM, ST, kF32), ROPE_CACHE_ROWS_FROM(ISA, FAM, ST, kF16), ROPE_CACHE_ROWS_FROM(ISA, FAM, ST, kBF16) }
#define ROPE_CACHE_CONVERT_FROM(ISA, FAM, S)                                                                   \
  {                                                                                                            \
    &::rope::cacherows::convertRow<ISA, FAM, ::rope::S, ::rope::kF32>,                                         \
        &::rope::cacherows::convertRow<ISA, FAM, ::rope::S, ::rope::kF16>,                                     \
        &::rope::cacherows::convertRow<ISA, FAM, ::rope::S, ::rope::kBF16>                                     \
  }
#define ROPE_CACHE_TABLE(NAME, ISA, FAM)                                                                       \
  {                                                                                                            \
    NAME, {ROPE_CACHE_ROWS(ISA, FAM, kHalf), ROPE_CACHE_ROWS(ISA, FAM, kInterleaved)},                         \
        {ROPE_CACHE_CONVERT_FROM(ISA, FAM, kF32), ROPE_CACHE_CONVERT_FROM(ISA, FAM, kF16),                     \
         ROPE_CACHE_CONVERT_FROM(ISA, FAM, kBF16)},                                                            \
        ::rope::cacherows::Stream<ISA>::copy, ::rope::cacherows::Stream<ISA>::fence                            \
  }
