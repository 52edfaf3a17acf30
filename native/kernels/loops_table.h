// The rest of an ISA's table, written once for every ISA (included by loops.h, inside the ISA's
// target region): the limit pass (scaleRow), the cos/sin row, and the table macro itself.
#pragma once
#include <cstdint>

namespace rope {
namespace loops {

template <class Isa, class Io>
void scaleRow(void* data, int64_t n, float factor) {
  using V = typename Isa::V;
  using T = typename Io::T;
  constexpr int64_t L = Isa::kLanes;
  T* p = static_cast<T*>(data);
  V f = Isa::set1(factor);
  // The bench's limit pass: it must be the floor no rotation kernel can beat, so it moves the bytes
  // as rotateRows does: vectors aligned to their size (a typed array is often 16 bytes off a
  // 32-byte boundary, where every other access splits a cache line) and the unaligned ends as one
  // overlapping vector each, loaded before anything is stored and stored last (the overlap gets
  // x*factor of the original x twice: the same bits), rather than element by element.
  constexpr int64_t kVecBytes = L * int64_t(sizeof(T));
  const int64_t mis = int64_t(reinterpret_cast<uintptr_t>(p) % uintptr_t(kVecBytes));
  if (L > 1 && n > L && mis % int64_t(sizeof(T)) == 0) {
    const int64_t first = mis == 0 ? 0 : (kVecBytes - mis) / int64_t(sizeof(T));
    const int64_t end = first + (n - first) / L * L;  // aligned vectors: [first, end)
    const V head = Io::load(p), tail = Io::load(p + n - L);
    int64_t i = first;
    for (; i + 4 * L <= end; i += 4 * L) {  // unrolled x4
      V a = Io::load(p + i), b = Io::load(p + i + L), c = Io::load(p + i + 2 * L), d = Io::load(p + i + 3 * L);
      Io::store(p + i, Isa::mul(a, f));
      Io::store(p + i + L, Isa::mul(b, f));
      Io::store(p + i + 2 * L, Isa::mul(c, f));
      Io::store(p + i + 3 * L, Isa::mul(d, f));
    }
    for (; i < end; i += L) Io::store(p + i, Isa::mul(Io::load(p + i), f));
    if (end < n) Io::store(p + n - L, Isa::mul(tail, f));
    if (first > 0) Io::store(p, Isa::mul(head, f));
    return;
  }
  int64_t i = 0;
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
