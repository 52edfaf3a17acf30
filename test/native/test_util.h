// Helpers for the standalone kernel tests: guard-page buffers, an independent f16/bf16 decoder and
// nearest-even encoder (binary search over the ordered bit patterns, not dtype.h's method), ulps.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "../../native/kernels/kernels.h"

namespace test {

// A buffer whose last byte is followed by a PROT_NONE page: place<T>(n) returns n elements ending
// exactly at the guard, so any read or write past them faults.
class Guarded {
 public:
  explicit Guarded(size_t capacity) {
    page_ = size_t(sysconf(_SC_PAGESIZE));
    size_ = (capacity + page_ - 1) / page_ * page_;
    void* p = mmap(nullptr, size_ + page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED || mprotect(static_cast<uint8_t*>(p) + size_, page_, PROT_NONE) != 0) {
      std::perror("mmap/mprotect");
      std::exit(2);
    }
    base_ = static_cast<uint8_t*>(p);
  }
  ~Guarded() { munmap(base_, size_ + page_); }
  Guarded(const Guarded&) = delete;
  Guarded& operator=(const Guarded&) = delete;
  uint8_t* end() const { return base_ + size_; }
  size_t capacity() const { return size_; }
  template <class T>
  T* place(size_t n) const { return reinterpret_cast<T*>(end() - n * sizeof(T)); }

 private:
  uint8_t* base_;
  size_t size_, page_;
};

inline double decodeF16(uint16_t h) {
  int exp = (h >> 10) & 0x1F, man = h & 0x3FF;
  double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (exp == 0x1F) return man ? NAN : sign * INFINITY;
  if (exp == 0) return sign * std::ldexp(double(man), -24);
  return sign * std::ldexp(double(man | 0x400), exp - 25);
}

inline double decodeBF16(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline size_t dtypeSize(rope::DType t) { return t == rope::kF32 ? 4 : 2; }

inline double decode(rope::DType t, const void* p, size_t i) {
  if (t == rope::kF32) return static_cast<const float*>(p)[i];
  uint16_t h = static_cast<const uint16_t*>(p)[i];
  return t == rope::kF16 ? decodeF16(h) : decodeBF16(h);
}

// Nearest-even 16-bit encoding of v (already an f32 value) by searching the monotone positive
// patterns [0, maxFinite]; beyond max + half an ulp (ties go to the even pattern, i.e. infinity
// for both formats) the result is infinity.
inline uint16_t encode16(rope::DType t, double v) {
  uint16_t sign = std::signbit(v) ? 0x8000 : 0;
  if (std::isnan(v)) return uint16_t(sign | (t == rope::kF16 ? 0x7E00 : 0x7FC0));
  double a = std::fabs(v);
  uint16_t maxFinite = t == rope::kF16 ? 0x7BFF : 0x7F7F, inf = t == rope::kF16 ? 0x7C00 : 0x7F80;
  auto dec = [t](uint16_t h) { return t == rope::kF16 ? decodeF16(h) : decodeBF16(h); };
  double top = dec(maxFinite), ulpTop = top - dec(uint16_t(maxFinite - 1));
  if (a >= top + ulpTop / 2) return uint16_t(sign | inf);
  uint16_t lo = 0, hi = maxFinite;  // dec(lo) <= a < dec(hi + 1)
  while (lo < hi) {
    uint16_t mid = uint16_t((lo + hi + 1) / 2);
    if (dec(mid) <= a) lo = mid; else hi = uint16_t(mid - 1);
  }
  if (lo == maxFinite) return uint16_t(sign | lo);
  double d0 = a - dec(lo), d1 = dec(uint16_t(lo + 1)) - a;
  uint16_t r = (d1 < d0 || (d1 == d0 && (lo & 1))) ? uint16_t(lo + 1) : lo;
  return uint16_t(sign | r);
}

// Spacing of the format's values at magnitude |v| (the ulp of a value of that size).
inline double ulpOf(rope::DType t, double v) {
  int mant = t == rope::kF32 ? 23 : t == rope::kF16 ? 10 : 7;
  int minExp = t == rope::kF32 ? -126 : t == rope::kF16 ? -14 : -126;
  double a = std::fabs(v);
  int e = a > 0 ? std::ilogb(a) : minExp;
  if (e < minExp) e = minExp;
  return std::ldexp(1.0, e - mant);
}

}  // namespace test
