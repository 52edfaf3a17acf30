// The row loops, written once for every ISA. An ISA file supplies:
//   Isa: V (f32 vector), kLanes, zero(), set1(float), mul(V,V), loadF(const float*),
//        loadFN(const float*, n) (zero-filled beyond n, never reads past p+n),
//        rotHalf(x, y, c, s):  x' = x*c - y*s, y' = y*c + x*s  (lane j = pair j)
//        rotPairs(a, b, c, s): the same for kLanes interleaved pairs held in a (pairs 0..L/2-1)
//                              and b (pairs L/2..L-1)
//        D: the double ops of sincos.h plus kLanes, load, loadN, storeF32, storeF32N
//   Io (one per dtype): T, load(const T*), store(T*, V), loadN(const T*, n), storeN(T*, V, n)
// so a new dtype is one Io, a new ISA one Isa and three Io. Included inside the ISA's target
// region (see avx2.cc).
#pragma once
#include <cstdint>
#include <cstring>

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
      Isa::rotHalf(x, y, Isa::loadF(cos + j), Isa::loadF(sin + j));
      Io::store(row + j, x);
      Io::store(yRow + j, y);
    }
    if (j < half) {
      int64_t n = half - j;
      V x = Io::loadN(row + j, n), y = Io::loadN(yRow + j, n);
      Isa::rotHalf(x, y, Isa::loadFN(cos + j, n), Isa::loadFN(sin + j, n));
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
      Isa::rotPairs(a, b, Isa::loadF(cos + j), Isa::loadF(sin + j));
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
      Isa::rotPairs(a, b, Isa::loadFN(cos + j, m), Isa::loadFN(sin + j, m));
      Io::storeN(p, a, na);
      if (nb > 0) Io::storeN(p + L, b, nb);
    }
  }
}

// Several rows `strideBytes` apart (the heads of one token) with the same cos/sin. When the row's
// pairs fill 1..4 whole vectors (headDim 64..128 in f32 on AVX-512), cos and sin are loaded into
// registers once for all rows (interleaved: their per-pair duplicates too, hoisted by the
// compiler), which halves the loads per row; otherwise rotateRow row by row. Same operations as
// rotateRow, so the same bits.
template <class Isa, class Io, Style S, int NV>
void rotateRowsInRegs(char* row0, int64_t strideBytes, int64_t count, const float* cos, const float* sin) {
  using V = typename Isa::V;
  using T = typename Io::T;
  constexpr int64_t L = Isa::kLanes;
  V c[NV], s[NV];
  for (int i = 0; i < NV; i++) {
    c[i] = Isa::loadF(cos + i * L);
    s[i] = Isa::loadF(sin + i * L);
  }
  for (int64_t r = 0; r < count; r++) {
    T* row = reinterpret_cast<T*>(row0 + r * strideBytes);
    if (S == kHalf) {
      T* yRow = row + NV * L;
      for (int i = 0; i < NV; i++) {
        V x = Io::load(row + i * L), y = Io::load(yRow + i * L);
        inRegister(x);
        inRegister(y);
        Isa::rotHalf(x, y, c[i], s[i]);
        Io::store(row + i * L, x);
        Io::store(yRow + i * L, y);
      }
    } else {
      for (int i = 0; i < NV; i++) {
        T* p = row + 2 * i * L;
        V a = Io::load(p), b = Io::load(p + L);
        inRegister(a);
        inRegister(b);
        Isa::rotPairs(a, b, c[i], s[i]);
        Io::store(p, a);
        Io::store(p + L, b);
      }
    }
  }
}

// Pairs [j0, j0 + 4*L) of several rows with cos/sin of those pairs held in registers: the same
// operations as rotateRow on those pairs, so the same bits. rotateRows sweeps the rows once per
// block when the row's pairs fill more than 4 vectors (headDim 128 in f32 on AVX2): cos/sin are
// then loaded once per block instead of once per row (a decode call was ~2x the limit pass).
template <class Isa, class Io, Style S>
void rotateRowsBlock4(char* row0, int64_t strideBytes, int64_t count, const float* cos, const float* sin, int64_t j0,
                      int64_t half) {
  using V = typename Isa::V;
  using T = typename Io::T;
  constexpr int64_t L = Isa::kLanes;
  V c[4], s[4];
  for (int i = 0; i < 4; i++) {
    c[i] = Isa::loadF(cos + j0 + i * L);
    s[i] = Isa::loadF(sin + j0 + i * L);
  }
  for (int64_t r = 0; r < count; r++) {
    T* row = reinterpret_cast<T*>(row0 + r * strideBytes);
    for (int i = 0; i < 4; i++) {
      if (S == kHalf) {
        T* xp = row + j0 + i * L;
        V x = Io::load(xp), y = Io::load(xp + half);
        inRegister(x);
        inRegister(y);
        Isa::rotHalf(x, y, c[i], s[i]);
        Io::store(xp, x);
        Io::store(xp + half, y);
      } else {
        T* p = row + 2 * (j0 + i * L);
        V a = Io::load(p), b = Io::load(p + L);
        inRegister(a);
        inRegister(b);
        Isa::rotPairs(a, b, c[i], s[i]);
        Io::store(p, a);
        Io::store(p + L, b);
      }
    }
  }
}

template <class Isa, class Io, Style S>
void rotateRows(void* row0, int64_t strideBytes, int64_t count, const float* cos, const float* sin, int64_t half) {
  constexpr int64_t L = Isa::kLanes;
  char* base = static_cast<char*>(row0);
  if (L >= 8 && half % L == 0) {
    switch (half / L) {
      case 1: return rotateRowsInRegs<Isa, Io, S, 1>(base, strideBytes, count, cos, sin);
      case 2: return rotateRowsInRegs<Isa, Io, S, 2>(base, strideBytes, count, cos, sin);
      case 3: return rotateRowsInRegs<Isa, Io, S, 3>(base, strideBytes, count, cos, sin);
      case 4: return rotateRowsInRegs<Isa, Io, S, 4>(base, strideBytes, count, cos, sin);
      default: break;
    }
    if (count > 1 && half % (4 * L) == 0) {
      for (int64_t j0 = 0; j0 < half; j0 += 4 * L) rotateRowsBlock4<Isa, Io, S>(base, strideBytes, count, cos, sin, j0, half);
      return;
    }
  }
  for (int64_t r = 0; r < count; r++) rotateRow<Isa, Io, S>(base + r * strideBytes, cos, sin, half);
}

template <class Isa, class Io>
void scaleRow(void* data, int64_t n, float factor) {
  using V = typename Isa::V;
  using T = typename Io::T;
  constexpr int64_t L = Isa::kLanes;
  T* p = static_cast<T*>(data);
  V f = Isa::set1(factor);
  int64_t i = 0;
  // Unrolled x4 (the bench's limit pass: it must be the floor no rotation kernel can beat).
  for (; i + 4 * L <= n; i += 4 * L) {
    V a = Io::load(p + i), b = Io::load(p + i + L), c = Io::load(p + i + 2 * L), d = Io::load(p + i + 3 * L);
    Io::store(p + i, Isa::mul(a, f));
    Io::store(p + i + L, Isa::mul(b, f));
    Io::store(p + i + 2 * L, Isa::mul(c, f));
    Io::store(p + i + 3 * L, Isa::mul(d, f));
  }
  for (; i + L <= n; i += L) Io::store(p + i, Isa::mul(Io::load(p + i), f));
  if (i < n) Io::storeN(p + i, Isa::mul(Io::loadN(p + i, n - i), f), n - i);
}

template <class D>
inline void cosSinStep(typename D::V p, typename D::V f, double scale, double sinScale,
                       typename D::V* c, typename D::V* s) {
  typename D::V hi = D::mul(p, f);
  typename D::V lo = D::fma(p, f, D::neg(hi));  // exact product error
  sincos::sinCos<D>(hi, lo, s, c);
  *c = D::mul(*c, D::set(scale));
  *s = D::mul(*s, D::set(sinScale));
}

template <class Isa>
void cosSinRow(const double* pos, const double* invFreq, int64_t n, double scale,
               double sinScale, float* cos, float* sin) {
  using D = typename Isa::D;
  using V = typename D::V;
  constexpr int64_t L = D::kLanes;
  int64_t j = 0;
  for (; j + L <= n; j += L) {
    V c, s;
    cosSinStep<D>(D::load(pos + j), D::load(invFreq + j), scale, sinScale, &c, &s);
    D::storeF32(cos + j, c);
    D::storeF32(sin + j, s);
  }
  if (j < n) {
    int64_t m = n - j;
    V c, s;
    cosSinStep<D>(D::loadN(pos + j, m), D::loadN(invFreq + j, m), scale, sinScale, &c, &s);
    D::storeF32N(cos + j, c, m);
    D::storeF32N(sin + j, s, m);
  }
}

// The table every ISA file builds from its Isa and three Io.
#define ROPE_KERNEL_TABLE(NAME, ISA, F32IO, F16IO, BF16IO)                                       \
  {                                                                                              \
    NAME,                                                                                        \
        {{&::rope::loops::rotateRow<ISA, F32IO, ::rope::kHalf>,                                  \
          &::rope::loops::rotateRow<ISA, F16IO, ::rope::kHalf>,                                  \
          &::rope::loops::rotateRow<ISA, BF16IO, ::rope::kHalf>},                                \
         {&::rope::loops::rotateRow<ISA, F32IO, ::rope::kInterleaved>,                           \
          &::rope::loops::rotateRow<ISA, F16IO, ::rope::kInterleaved>,                           \
          &::rope::loops::rotateRow<ISA, BF16IO, ::rope::kInterleaved>}},                        \
        &::rope::loops::cosSinRow<ISA>,                                                          \
        {&::rope::loops::scaleRow<ISA, F32IO>, &::rope::loops::scaleRow<ISA, F16IO>,             \
         &::rope::loops::scaleRow<ISA, BF16IO>},                                                 \
        {{&::rope::loops::rotateRows<ISA, F32IO, ::rope::kHalf>,                                 \
          &::rope::loops::rotateRows<ISA, F16IO, ::rope::kHalf>,                                 \
          &::rope::loops::rotateRows<ISA, BF16IO, ::rope::kHalf>},                               \
         {&::rope::loops::rotateRows<ISA, F32IO, ::rope::kInterleaved>,                          \
          &::rope::loops::rotateRows<ISA, F16IO, ::rope::kInterleaved>,                          \
          &::rope::loops::rotateRows<ISA, BF16IO, ::rope::kInterleaved>}}                        \
  }

}  // namespace loops
}  // namespace rope
