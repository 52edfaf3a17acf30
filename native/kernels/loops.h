// The row loops, written once for every ISA. An ISA file supplies:
//   Isa: V (f32 vector), kLanes, zero(), set1(float), mul(V,V), loadF(const float*),
//        loadFN(const float*, n) (zero-filled beyond n, never reads past p+n),
//        rotHalf(x, y, c, s):  x' = fma(x, c, -round32(y*s)), y' = fma(y, c, round32(x*s))
//                              (lane j = pair j): the f32 contract below
//        rotPairs(a, b, c, s): the same for kLanes interleaved pairs held in a (pairs 0..L/2-1)
//                              and b (pairs L/2..L-1)
//        rotHalfExact<N>(x, y, c, s), rotPairsExact<N>(a, b, c, s) (N: a loops::Narrow): the
//                              rotation with every lane widened to double, where x*c and y*s
//                              are exact, one rounding to double for the sum (fma or not: the
//                              same bits), then narrowed to f32: kOdd (round to odd: truncate,
//                              set the lsb when inexact; NEON fcvtxn), or kOddNormal (the same
//                              wherever |result| >= 2^-126 or it overflows f32; below, any f32
//                              of the same sign < 2^-125 will do: an ISA may treat it as kOdd)
//        D: the double ops of sincos.h plus kLanes, load, loadN, storeF32, storeF32N
//   Io (one per dtype): T, load(const T*), store(T*, V), loadN(const T*, n), storeN(T*, V, n)
//        load widens to f32 exactly; store rounds f32 to T to nearest-even. Optional:
//        `static constexpr bool kTinyIsZero = true` for a 16-bit type whose every value below
//        2^-125 rounds to +-0 (f16): its rows may use the cheaper kOddNormal. Optional for 16-bit
//        types: `kGrid` (a Grid16, below) and, in the Isa, rotHalfFast16 / rotPairsFast16: the
//        fast exact path (below, at Grid16); without them the double path runs for every vector.
//        With the fast path, optionally load2 / store2 / storeSafe2 (and Isa::deinterleave): rows
//        as packed even/odd elements (HasPacked, below).
// so a new dtype is one Io, a new ISA one Isa and three Io. Included inside the ISA's target
// region (see avx2.cc).
//
// Rounding contract: for c, s the f32 cos/sin row,
//   16-bit: round16(round64(x*c - y*s))   (f16 / bf16, nearest-even, no double rounding)
//   f32:    round32(x*c - round32(y*s))   (one f32 FMA after one f32 product)
// 16-bit types (sizeof(T) < 4) run rotHalfExact<kOdd> (f16: kOddNormal) and are bit for bit that
// value on every ISA: f32 rounded to odd keeps 13+ bits more than f16/bf16 hold, so Io::store's
// nearest-even rounding then equals rounding the double once. Where the ISA and Io have the fast
// path (AVX-512, AVX2, NEON), a compensated f32 result is stored instead wherever it provably
// rounds the same.
// f32 is what every FMA unit computes in one instruction after one product. The JS engine (and
// the scalar and wasm kernels) compute the same expression as round32(round64(x*c - round32(y*s)))
// in float64 (x*c is exact there): equal to the FMA value except where the float64 rounding lands
// on an f32 tie (then 1 ulp apart), and always of the same sign, zeros included: both round the
// same exact value, and an exact zero gets its sign from the same IEEE addition. (Rounding x*c - y*s
// with both products exact instead would make the FMA kernels redo every vector with a +-0 result
// in double to match its signs: a check per vector that costs decode ~1.5x.)
#pragma once
#include <cstdint>
#include <cstring>

#if defined(__GNUC__)
#define ROPE_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define ROPE_LIKELY(x) __builtin_expect(!!(x), 1)
#define ROPE_NOINLINE __attribute__((noinline))
#elif defined(_MSC_VER)
#define ROPE_UNLIKELY(x) (x)
#define ROPE_LIKELY(x) (x)
#define ROPE_NOINLINE __declspec(noinline)
#else
#define ROPE_UNLIKELY(x) (x)
#define ROPE_LIKELY(x) (x)
#define ROPE_NOINLINE
#endif

namespace rope {
namespace loops {

// Tails through a small stack buffer, for ISAs without masked loads and stores of every dtype
// (AVX2's 16-bit types, NEON): the tail then goes through the same arithmetic as a full vector.
template <class Io, int Lanes>
struct TempTail : Io {
  using T = typename Io::T;
  using V = decltype(Io::load(static_cast<const T*>(nullptr)));
  static V loadN(const T* p, int64_t n) {
    T tmp[Lanes] = {};
    std::memcpy(tmp, p, size_t(n) * sizeof(T));
    return Io::load(tmp);
  }
  static void storeN(T* p, V v, int64_t n) {
    T tmp[Lanes];
    Io::store(tmp, v);
    std::memcpy(p, tmp, size_t(n) * sizeof(T));
  }
};

// Keeps a loaded vector in a register. Left alone, GCC folds the row's loads into both
// multiplies that use each value (x*c and x*s), loading every element twice: in cache-resident
// rows (decode) that made the rotation ~1.3x slower than a plain pass over the same bytes.
template <class V>
inline void inRegister(V& v) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __asm__("" : "+v"(v));
#elif defined(__GNUC__) && defined(__aarch64__)
  __asm__("" : "+w"(v));
#else
  (void)v;
#endif
}

enum Narrow : int { kOdd = 1, kOddNormal = 2 };

template <class Io, class = void>
struct TinyIsZero { static constexpr bool value = false; };
template <class Io>
struct TinyIsZero<Io, decltype(void(Io::kTinyIsZero))> { static constexpr bool value = Io::kTinyIsZero; };

// The 16-bit grid as seen in an f32's bits (Io::kGrid, optional): |r| in [lo, inf) has its 16-bit
// rounding midpoints exactly where (bits & mask) == mid. f16: lo = 2^-14 (below, f16's grid is
// coarser), mask 0x1FFF, mid 0x1000 (65520, the overflow threshold, is one of them); bf16: lo =
// 2^-126, mask 0xFFFF, mid 0x8000. near: the fast path below needs every lane's bits outside
// [-near, near] patterns of a midpoint (the proof there). hiAdd, hiMask: the ISAs' range test
// (wordAdd below).
struct Grid16 {
  int32_t lo, mask, mid, near;
  uint32_t hiAdd, hiMask;
};
constexpr Grid16 kGridF16{0x38800000, 0x1FFF, 0x1000, 1, 0x0780, 0x4000};
constexpr Grid16 kGridBF16{0x00800000, 0xFFFF, 0x8000, 2, 0x0080, 0x7F00};

// Fast exact 16-bit rotation (optional, Isa::rotHalfFast16 / rotPairsFast16 with an Io::kGrid):
// computes the f32 result r = fma(x, c, -p) (p = f32(y*s)), the product's error ep = fma(y, s, -p)
// and r2 = r - ep (y': r + eq); returns false unless every lane passes
//   |r2| in [lo, inf)  and  d = (bits(r2) & mask) - mid  outside [-near, near]
// and then r2 rounds to 16 bits exactly as round64(x*c - y*s) does; otherwise the caller redoes the
// vector with rotHalfExact. Why: with X = x*c and Y = y*s (real), e = X - Y and u = ulp(r2),
//   e - r2 = ((X - p) - r) + ((r - ep) - r2) + (ep - (Y - p)),
// at most ulp(r)/2, u/2 and 2^-150 (ep is Y - p rounded; exact unless y*s is tiny), and
// ulp(r) <= 2u, so |e - r2| <= 1.5u + 2^-150:
//  - if |X - p| >= 2^-21 |X|: |ep| <= 2^-24 |p| <= 2^-24 (2^21 + 1) |X - p| < |X - p| / 7 (or
//    |ep| <= 2^-150 for a subnormal p: nothing beside |r2| >= 2^-126), so |r2| > |r| / 2;
//  - else r is exact: x has at most 11 significant bits and c 24, so X is a multiple of
//    2^(Ex + Ec - 33) (exponents of x and c), p (within 2^-21 of X) one of ulp(p) >= 2^(Ex + Ec - 24),
//    and |X - p| < 2^-21 * 2^(Ex + Ec + 2) = 2^(Ex + Ec - 19) is fewer than 2^24 of that step (an
//    f32 from 2^-149 up; a smaller step makes |r2| < 2^-126 <= lo).
// Every midpoint m is an f32 4096 (f16) or 32768 (bf16) patterns from the nearest power of two, so
// r2 within a few patterns of m lies in m's binade, where a pattern is u: r2 = m + d*u. For f16,
// |r2| >= 2^-14 makes u >= 2^-37 and |e - r2| < 1.5u + 2^-100 u, so |d| >= 2 leaves |e - m| >
// 0.49u; for bf16 (u >= 2^-149, |e - r2| <= 2u) |d| >= 3 leaves |e - m| >= u. Either way e lies
// strictly on r2's side of m, as does round64(e) (within 2^-29 u of e), and the next midpoints are
// thousands of patterns away: r2, e and round64(e) round to the same 16-bit value (beyond 65520,
// f16's overflow midpoint, all to the same infinity). |r2| >= lo keeps e's sign, so zeros and tiny
// results (the signed-zero rule) always take the exact path, as do inf and NaN. Tested by
// kernels_test's midpointCase (results aimed at midpoints, many by cancellation).
//
// How the SIMD ISAs test it (a lane may fail more than the above, never less): one 16-bit add of
// wordAdd to each word of bits(r2), then every word must have a bit of wordTest set (vptestmw,
// vtst; no carry crosses the words). The low word, bits + W - mid, has its top bits within `mask`
// all zero exactly within [-W, W) patterns of a midpoint (W = wordGuard, the power of two above
// near). The high word gets hiAdd in the exponent field, so hiMask sees a bit of the new exponent:
// bf16, exponent + 1 has a bit among its top 7 exactly for exponents 1..254 (not +-0, subnormals,
// inf, NaN); f16, exponent + 15 has its top bit exactly for exponents 113..240 (2^-14 <= |r2| <
// 2^114, where 2^16 and up round to infinity anyway). Both checked at compile time below.
constexpr int32_t wordGuard(const Grid16& g) {
  int32_t w = 1;
  while (w <= g.near) w *= 2;
  return w;
}
constexpr uint32_t wordAdd(const Grid16& g) { return (g.hiAdd << 16) | (uint32_t(wordGuard(g) - g.mid) & 0xFFFFu); }
constexpr uint32_t wordTest(const Grid16& g) { return (g.hiMask << 16) | (uint32_t(g.mask) & ~uint32_t(2 * wordGuard(g) - 1)); }
// The word test never passes a word it must fail. Carries only go up, so the low word's bits
// within `mask` depend on (bits & mask) alone (not on the kept bits above), and with hiAdd a
// multiple of 0x80 and hiMask within bits 7..14 the high word's verdict depends on the exponent
// alone: the window's 2*near + 1 values and the 256 exponents decide it.
constexpr bool wordTestSound(const Grid16& g) {
  if ((g.hiAdd & 0x7Fu) != 0 || (g.hiMask & ~0x7F80u) != 0 || (wordTest(g) & 0xFFFFu & ~uint32_t(g.mask)) != 0) return false;
  for (int32_t d = -g.near; d <= g.near; d++)
    if (((uint32_t(g.mid + d) + wordAdd(g)) & wordTest(g) & uint32_t(g.mask)) != 0) return false;
  const uint32_t loExp = uint32_t(g.lo) >> 23;
  for (uint32_t e = 0; e < 256; e++) {
    const bool pass = (((e << 7) + g.hiAdd) & g.hiMask) != 0;
    if (pass && (e < loExp || e == 0xFFu)) return false;
    if (!pass && e == loExp) return false;  // (and the range starts at lo)
  }
  return true;
}
static_assert(wordTestSound(kGridF16) && wordTestSound(kGridBF16), "the word test fails every lane the proof needs");
// bf16 (8 significant bits) may split s instead: sh = s with its low 8 significand bits cleared
// (kSplitMask), sl = s - sh (exact), so y*sh (8 + 16 bits) is exact in f32 and
//   x' = fma(-y, sl, fma(x, c, -f32(y*sh))),   y' = fma(x, sl, fma(y, c, f32(x*sh)))
// (three fused ops per output, where the error term takes two). The same bound holds, with
// sh's product in p's place and y*sl in ep's (exact inside the fma): if |x*c - p| >= 2^-12 |x*c|,
// |y*sl| <= 2^-15 |p| < |x*c - p| / 7; else x*c - p is exact, as x*c and p are multiples of
// 2^(Ex + Ec - 30) and |x*c - p| < 2^(Ex + Ec - 10). (f16's 11 bits leave too little of s to sh.)
constexpr uint32_t kSplitMask = 0xFFFFFF00u;

// NAME<X>::value: whether EXPR (naming X) is well formed, i.e. whether an Io or Isa X has the
// optional member EXPR names (the detection idiom).
#define ROPE_HAS_MEMBER(NAME, EXPR)           \
  template <class X, class = void>            \
  struct NAME {                               \
    static constexpr bool value = false;      \
  };                                          \
  template <class X>                          \
  struct NAME<X, decltype(void(EXPR))> {      \
    static constexpr bool value = true;       \
  }

ROPE_HAS_MEMBER(HasGrid, X::kGrid);
// Io::storeSafe (optional, 16-bit types with kGrid): store for a vector the fast path has proven
// finite, normal and away from every rounding midpoint, where nearest-even needs no tie or NaN
// handling (rotateGroup).
ROPE_HAS_MEMBER(HasStoreSafe, &X::storeSafe);

// Io::storeWide(p, a, b) (optional): 2 * kLanes elements, a's then b's, rounded as store rounds
// each, in one narrowing step (cache_rows.h convertRow).
ROPE_HAS_MEMBER(HasStoreWide, &X::storeWide);

// Io::storeSafeWide(p, a, b) (optional): storeSafe of 2 * kLanes elements, a's then b's, in one
// narrowing step (cache_rows.h).
ROPE_HAS_MEMBER(HasStoreSafeWide, &X::storeSafeWide);

ROPE_HAS_MEMBER(HasFast16, &X::template rotHalfFast16<kGridF16>);

// Io::load2 / store2 / storeSafe2 (optional, 16-bit types with the fast path): 2*kLanes elements
// in one vector's bytes, as the f32 vectors of the even and the odd ones (each element is one
// 32-bit lane's half: a shift or a mask, where widening 16 elements to 16 lanes is a shuffle);
// the Isa then provides deinterleave(a, b, even, odd) for the cos/sin of the half style. Rows of
// such an Io run rotateRowsPacked (below).
ROPE_HAS_MEMBER(HasPacked, &X::load2);

// The row op by storage type (see the rounding contract above).
template <class Isa, class Io>
struct Op {
  using V = typename Isa::V;
  using T = typename Io::T;
  static constexpr int kOddMode = TinyIsZero<Io>::value ? kOddNormal : kOdd;
  static constexpr bool kFast16 = HasGrid<Io>::value && HasFast16<Isa>::value;
  // One vector pair: x and y lanes (half) or kLanes interleaved pairs in a and b (interleaved).
  template <Style S>
  static void rot(V& a, V& b, V c, V s) {
    if constexpr (sizeof(T) < 4) {
      if constexpr (kFast16) {
        const V a0 = a, b0 = b;
        if (ROPE_UNLIKELY(!fast16<S>(a, b, c, s))) {
          const Pair r = exact16<S>(a0, b0, c, s);
          a = r.a;
          b = r.b;
        }
        return;
      }
      exactOdd<S>(a, b, c, s);
    } else if constexpr (S == kHalf) {
      Isa::rotHalf(a, b, c, s);
    } else {
      Isa::rotPairs(a, b, c, s);
    }
  }
  // The fast exact 16-bit path (Grid16 above): false where a lane must take exact16.
  template <Style S>
  static bool fast16(V& a, V& b, V c, V s) {
    if constexpr (S == kHalf)
      return Isa::template rotHalfFast16<Io::kGrid>(a, b, c, s);
    else
      return Isa::template rotPairsFast16<Io::kGrid>(a, b, c, s);
  }
  template <Style S>
  static void exactOdd(V& a, V& b, V c, V s) {
    if constexpr (S == kHalf)
      Isa::template rotHalfExact<kOddMode>(a, b, c, s);
    else
      Isa::template rotPairsExact<kOddMode>(a, b, c, s);
  }
  // The fast path's fallback, out of line so the loop around the fast path stays small. The
  // vectors go in by value (registers) and come back in memory, so only a failing vector pair
  // touches the stack: with the copies passed by address, GCC stored both to the stack on every
  // pass of the fast path (f16, AVX-512: 4 64-byte stores per row, ~5% of its time).
  struct Pair {
    V a, b;
  };
  template <Style S>
  static ROPE_NOINLINE Pair exact16(V a, V b, V c, V s) {
    exactOdd<S>(a, b, c, s);
    return Pair{a, b};
  }
};

template <class Isa, class Io, Style S>
void rotateRow(void* rowPtr, const float* cos, const float* sin, int64_t half) {
  using V = typename Isa::V;
  using T = typename Io::T;
  constexpr int64_t L = Isa::kLanes;
  T* row = static_cast<T*>(rowPtr);
  int64_t j = 0;
  if (S == kHalf) {
    T* yRow = row + half;
    for (; j + L <= half; j += L) {
      V x = Io::load(row + j), y = Io::load(yRow + j);
      inRegister(x);
      inRegister(y);
      Op<Isa, Io>::template rot<S>(x, y, Isa::loadF(cos + j), Isa::loadF(sin + j));
      Io::store(row + j, x);
      Io::store(yRow + j, y);
    }
    if (j < half) {
      int64_t n = half - j;
      V x = Io::loadN(row + j, n), y = Io::loadN(yRow + j, n);
      Op<Isa, Io>::template rot<S>(x, y, Isa::loadFN(cos + j, n), Isa::loadFN(sin + j, n));
      Io::storeN(row + j, x, n);
      Io::storeN(yRow + j, y, n);
    }
  } else {
    // kLanes pairs per step: 2*kLanes elements in two vectors.
    for (; j + L <= half; j += L) {
      T* p = row + 2 * j;
      V a = Io::load(p), b = Io::load(p + L);
      inRegister(a);
      inRegister(b);
      Op<Isa, Io>::template rot<S>(a, b, Isa::loadF(cos + j), Isa::loadF(sin + j));
      Io::store(p, a);
      Io::store(p + L, b);
    }
    if (j < half) {
      int64_t m = half - j;
      int64_t na = 2 * m < L ? 2 * m : L;
      int64_t nb = 2 * m - na;
      T* p = row + 2 * j;
      V a = Io::loadN(p, na);
      V b = nb > 0 ? Io::loadN(p + L, nb) : Isa::zero();
      Op<Isa, Io>::template rot<S>(a, b, Isa::loadFN(cos + j, m), Isa::loadFN(sin + j, m));
      Io::storeN(p, a, na);
      if (nb > 0) Io::storeN(p + L, b, nb);
    }
  }
}

// Several rows `strideBytes` apart (the heads of one token) with the same cos/sin, swept once per
// group of "units" (L pairs: an x and a y vector, or two interleaved vectors) with that group's
// cos/sin held in registers, so a row costs its own loads and stores only. f32 units start where
// the rows' vectors are aligned to the vector size (16-bit ones at pair 0: rotateRows): on AVX2 a decode call on rows 16 bytes off a 32-byte
// boundary ran at ~2x the time of aligned rows (every other access split a cache line), while the
// limit pass barely noticed. The unaligned pairs before the first aligned unit and after the last
// are covered by one unaligned unit at each end (H at pair 0, T at pair half - L) that overlaps its
// neighbour; both are loaded before either is stored and give the same bits on the shared pairs
// (every lane is computed from its own inputs only), so those elements are written twice with the
// same value, and nothing outside the row's 2*half elements is touched.
template <class Isa, class Io, Style S, int G>
void rotateGroup(char* row0, int64_t strideBytes, int64_t count, const float* cos, const float* sin,
                 int64_t half, const int64_t* units) {
  using V = typename Isa::V;
  using T = typename Io::T;
  constexpr int64_t L = Isa::kLanes;
  V c[G], s[G];
  int64_t offA[G], offB[G];  // element offsets in a row (locals: the stores below cannot alias them)
  for (int i = 0; i < G; i++) {
    c[i] = Isa::loadF(cos + units[i]);
    s[i] = Isa::loadF(sin + units[i]);
    offA[i] = S == kHalf ? units[i] : 2 * units[i];
    offB[i] = S == kHalf ? offA[i] + half : offA[i] + L;
  }
  for (int64_t r = 0; r < count; r++) {
    T* row = reinterpret_cast<T*>(row0 + r * strideBytes);
    V va[G], vb[G];
    for (int i = 0; i < G; i++) {
      va[i] = Io::load(row + offA[i]);
      vb[i] = Io::load(row + offB[i]);
      inRegister(va[i]);
      inRegister(vb[i]);
    }
    if constexpr (Op<Isa, Io>::kFast16 && HasStoreSafe<Io>::value) {
      // The fast exact 16-bit path for the whole group, one branch for all of it: where every lane
      // passed, every result is far from a 16-bit rounding midpoint, finite and normal, so the
      // Io may store it by its cheaper storeSafe; otherwise the group is redone through Op from
      // its inputs (nothing is stored yet), each vector taking the exact path where it must. (Only
      // for an Io with storeSafe: bf16's nearest-even store is ~11 instructions, f16's one; f16 ran
      // ~12% slower this way, its two fast paths' registers spilling.)
      bool safe = true;
      for (int i = 0; i < G; i++) {
        safe &= Op<Isa, Io>::template fast16<S>(va[i], vb[i], c[i], s[i]);
      }
      if (ROPE_LIKELY(safe)) {
        for (int i = 0; i < G; i++) {
          Io::storeSafe(row + offA[i], va[i]);
          Io::storeSafe(row + offB[i], vb[i]);
        }
        continue;
      }
      for (int i = 0; i < G; i++) {
        va[i] = Io::load(row + offA[i]);
        vb[i] = Io::load(row + offB[i]);
      }
    }
    for (int i = 0; i < G; i++) Op<Isa, Io>::template rot<S>(va[i], vb[i], c[i], s[i]);
    for (int i = 0; i < G; i++) {
      Io::store(row + offA[i], va[i]);
      Io::store(row + offB[i], vb[i]);
    }
  }
}

// rotateGroup for an Io with load2 (HasPacked): a unit is one vector's bytes of x (and one of y)
// in the half style, 2*kLanes pairs as their even and odd pairs; in the interleaved style kLanes
// pairs, whose even elements are the x and odd ones the y. Either way the rotation is the half
// style's on whole vectors (the same per-lane arithmetic, so the same bits as rotateRow).
template <class Isa, class Io, Style S, int G>
void rotateGroupPacked(char* row0, int64_t strideBytes, int64_t count, const float* cos, const float* sin,
                       int64_t half, const int64_t* units) {
  using V = typename Isa::V;
  using T = typename Io::T;
  using O = Op<Isa, Io>;
  constexpr int64_t L = Isa::kLanes;
  constexpr int N = S == kHalf ? 2 * G : G;  // vector pairs (x, y) per row: 2 per unit in half style
  // Flat arrays and no helper taking them by reference: GCC then keeps them in registers.
  V c[N], s[N];
  int64_t offA[G], offB[G];
  for (int i = 0; i < G; i++) {
    if constexpr (S == kHalf) {
      Isa::deinterleave(Isa::loadF(cos + units[i]), Isa::loadF(cos + units[i] + L), c[2 * i], c[2 * i + 1]);
      Isa::deinterleave(Isa::loadF(sin + units[i]), Isa::loadF(sin + units[i] + L), s[2 * i], s[2 * i + 1]);
      offA[i] = units[i];
      offB[i] = units[i] + half;
    } else {
      c[i] = Isa::loadF(cos + units[i]);
      s[i] = Isa::loadF(sin + units[i]);
      offA[i] = offB[i] = 2 * units[i];
    }
  }
  for (int64_t r = 0; r < count; r++) {
    T* row = reinterpret_cast<T*>(row0 + r * strideBytes);
    // Half style: x[2i], x[2i+1] the even and odd pairs' x of unit i (y alike); interleaved: x[i]
    // and y[i] the even and odd elements of unit i's vector.
    V x[N], y[N];
    for (int i = 0; i < G; i++) {
      if constexpr (S == kHalf) {
        Io::load2(row + offA[i], x[2 * i], x[2 * i + 1]);
        Io::load2(row + offB[i], y[2 * i], y[2 * i + 1]);
      } else {
        Io::load2(row + offA[i], x[i], y[i]);
      }
    }
    for (int k = 0; k < N; k++) {
      inRegister(x[k]);
      inRegister(y[k]);
    }
    bool safe = true;
    for (int k = 0; k < N; k++) safe &= O::template fast16<kHalf>(x[k], y[k], c[k], s[k]);
    if (ROPE_LIKELY(safe)) {
      for (int i = 0; i < G; i++) {
        if constexpr (S == kHalf) {
          Io::storeSafe2(row + offA[i], x[2 * i], x[2 * i + 1]);
          Io::storeSafe2(row + offB[i], y[2 * i], y[2 * i + 1]);
        } else {
          Io::storeSafe2(row + offA[i], x[i], y[i]);
        }
      }
      continue;
    }
    // Some lane must take the exact path: the whole group again from its inputs (nothing is
    // stored yet), each vector pair through Op (its fast path, or the exact one where it must).
    for (int i = 0; i < G; i++) {
      if constexpr (S == kHalf) {
        Io::load2(row + offA[i], x[2 * i], x[2 * i + 1]);
        Io::load2(row + offB[i], y[2 * i], y[2 * i + 1]);
      } else {
        Io::load2(row + offA[i], x[i], y[i]);
      }
    }
    for (int k = 0; k < N; k++) O::template rot<kHalf>(x[k], y[k], c[k], s[k]);
    for (int i = 0; i < G; i++) {
      if constexpr (S == kHalf) {
        Io::store2(row + offA[i], x[2 * i], x[2 * i + 1]);
        Io::store2(row + offB[i], y[2 * i], y[2 * i + 1]);
      } else {
        Io::store2(row + offA[i], x[i], y[i]);
      }
    }
  }
}

template <class Isa, class Io, Style S>
void rotateRowsPacked(char* base, int64_t strideBytes, int64_t count, const float* cos, const float* sin, int64_t half,
                      int64_t rowBlock, const int64_t* unit, int n) {
  if (rowBlock < 1) rowBlock = 1;
  for (int64_t r0 = 0; r0 < count; r0 += rowBlock) {
    const int64_t rows = count - r0 < rowBlock ? count - r0 : rowBlock;
    char* block = base + r0 * strideBytes;
    // Pairs of units; an odd count ends with the last three in one group (the last unit may
    // overlap the one before it: both are loaded before either is stored).
    for (int i = 0; i < n;) {
      const int g = n - i == 3 ? 3 : n - i == 1 ? 1 : 2;
      switch (g) {
        case 1: rotateGroupPacked<Isa, Io, S, 1>(block, strideBytes, rows, cos, sin, half, unit + i); break;
        case 2: rotateGroupPacked<Isa, Io, S, 2>(block, strideBytes, rows, cos, sin, half, unit + i); break;
        default: rotateGroupPacked<Isa, Io, S, 3>(block, strideBytes, rows, cos, sin, half, unit + i); break;
      }
      i += g;
    }
  }
}

template <class Isa, class Io, Style S>
void rotateRows(void* row0, int64_t strideBytes, int64_t count, const float* cos, const float* sin, int64_t half,
                int64_t rowBlock) {
  constexpr int64_t L = Isa::kLanes;
  constexpr int64_t kMaxUnits = 66;
  char* base = static_cast<char*>(row0);
  if constexpr (HasPacked<Io>::value && Op<Isa, Io>::kFast16) {
    // Units of one vector's bytes from pair 0, the last one overlapping its neighbour where half
    // is not a multiple (grouped with it). Not aligned as below: the unaligned units cost less
    // than the extra one (bench_rows, bf16 rows 16 bytes off a 64-byte boundary, AVX-512: decode
    // 0.114 -> 0.085 ns/element half style, 0.097 -> 0.082 interleaved).
    constexpr int64_t U = S == kHalf ? 2 * L : L;  // pairs per unit
    if (half >= U && half <= (kMaxUnits - 2) * U) {
      int64_t unit[kMaxUnits];
      int n = 0;
      int64_t j = 0;
      for (; j + U <= half; j += U) unit[n++] = j;
      if (j < half) unit[n++] = half - U;
      rotateRowsPacked<Isa, Io, S>(base, strideBytes, count, cos, sin, half, rowBlock, unit, n);
      return;
    }
  }
  if (half < L || half > (kMaxUnits - 2) * L) {
    for (int64_t r = 0; r < count; r++) rotateRow<Isa, Io, S>(base + r * strideBytes, cos, sin, half);
    return;
  }
  // The first pair whose vector is aligned, when every row's is (same offset in every row; in
  // half style x and y alike; in interleaved style a whole pair per element offset). f32 only: a
  // 16-bit unit (the fast exact path, its converts) costs far more than the split cache lines it
  // would save: on AVX-512 the extra unit (5 a row of 64 pairs instead of 4) made f16 rows 16
  // bytes off a 32-byte boundary ~1.25x slower (bench_rows, ns/element, half / interleaved:
  // decode 0.089 / 0.100 with it, 0.069 / 0.080 without; prefill 0.097 / 0.109, 0.085 / 0.097),
  // and AVX2 f16 rows 8 bytes off no faster (decode interleaved 0.18 with, 0.16 without).
  constexpr int64_t kVecBytes = L * int64_t(sizeof(typename Io::T));
  int64_t first = 0;
  const int64_t mis = int64_t(reinterpret_cast<uintptr_t>(base) % uintptr_t(kVecBytes));
  if (sizeof(typename Io::T) == 4 && mis != 0 && strideBytes % kVecBytes == 0 && mis % int64_t(sizeof(typename Io::T)) == 0) {
    const int64_t elems = (kVecBytes - mis) / int64_t(sizeof(typename Io::T));
    if (S == kHalf && (half * int64_t(sizeof(typename Io::T))) % kVecBytes == 0) first = elems;
    if (S == kInterleaved && elems % 2 == 0) first = elems / 2;
  }
  int64_t unit[kMaxUnits];
  int n = 0;
  if (first > 0) unit[n++] = 0;  // H
  int64_t j = first;
  for (; j + L <= half; j += L) unit[n++] = j;
  if (j < half) unit[n++] = half - L;  // T
  // Pairs of units (with their cos/sin, their data and the check, two fit AVX2's 16 registers;
  // three spilled), H in the first pair and T in the last, since each overlaps its neighbour; an
  // odd count leaves one unit alone in the middle, or makes n == 3 one group.
  const int single = n % 2 == 1 && n >= 5 ? 2 * ((n - 1) / 4) : -1;
  // Every group over a block of rows before the next block (kernels.h, rowBlock): measured at
  // 80 MiB (DRAM-bound) blocks of 2 rows reached 0.82 of the limit pass against 0.57 for whole
  // sweeps, which in turn are best for rows in cache (decode: 0.77 against 0.58).
  if (rowBlock < 1) rowBlock = 1;
  for (int64_t r0 = 0; r0 < count; r0 += rowBlock) {
    const int64_t rows = count - r0 < rowBlock ? count - r0 : rowBlock;
    char* block = base + r0 * strideBytes;
    for (int i = 0; i < n;) {
      const int g = n <= 3 ? n : i == single ? 1 : 2;
      switch (g) {
        case 1: rotateGroup<Isa, Io, S, 1>(block, strideBytes, rows, cos, sin, half, unit + i); break;
        case 2: rotateGroup<Isa, Io, S, 2>(block, strideBytes, rows, cos, sin, half, unit + i); break;
        default: rotateGroup<Isa, Io, S, 3>(block, strideBytes, rows, cos, sin, half, unit + i); break;
      }
      i += g;
    }
  }
}

}  // namespace loops
}  // namespace rope

#include "loops_table.h"
