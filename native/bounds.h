// Pure bounds and overlap arithmetic for the binding's safety net (no N-API here, so the C++ tests
// can use it too). Every input is already known to be an integer in [0, 2^53); products and sums
// are overflow-checked in int64 so a hostile stride cannot wrap around into range.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>

#include "rope.h"

namespace rope {
namespace bounds {

constexpr int64_t kInt64Max = INT64_MAX;

// Byte spans [a, a + an) and [b, b + bn) share a byte (an empty span meets nothing).
inline bool spansMeet(const void* a, int64_t an, const void* b, int64_t bn) {
  const char* pa = static_cast<const char*>(a);
  const char* pb = static_cast<const char*>(b);
  return an > 0 && bn > 0 && pa < pb + bn && pb < pa + an;
}

// acc += a * b; false if the result would pass INT64_MAX. a, b, acc >= 0.
inline bool addMul(int64_t& acc, int64_t a, int64_t b) {
#if defined(__GNUC__)
  // (overflow flags instead of a 64-bit division: this runs ~10 times per call)
  int64_t prod = 0;
  if (__builtin_mul_overflow(a, b, &prod) || __builtin_add_overflow(acc, prod, &acc)) return false;
  return true;
#else
  if (a != 0 && b > kInt64Max / a) return false;
  const int64_t prod = a * b;
  if (prod > kInt64Max - acc) return false;
  acc += prod;
  return true;
#endif
}

// One index dimension of a tensor's row lattice: `count` rows `stride` elements apart.
struct Dim {
  int64_t count;
  int64_t stride;
  const char* name;
};

inline int sortedDims(const TensorRef& x, int64_t batch, int64_t tokens, Dim* out) {
  const Dim all[3] = {{x.heads, x.headStride, "headStride"},
                      {tokens, x.tokenStride, "tokenStride"},
                      {batch, x.batchStride, "batchStride"}};
  int n = 0;
  for (const Dim& d : all) {
    if (d.count <= 1) continue;  // a dimension of one row places nothing
    int i = n++;
    for (; i > 0 && out[i - 1].stride > d.stride; i--) out[i] = out[i - 1];  // stable insertion
    out[i] = d;
  }
  return n;
}

// One past the last element a tensor's rows touch: offset + sum((count-1)*stride) + rowLen.
// False on int64 overflow.
inline bool tensorEnd(const TensorRef& x, int64_t batch, int64_t tokens, int64_t rowLen, int64_t* end) {
  int64_t acc = x.offset;
  if (!addMul(acc, batch - 1, x.batchStride) || !addMul(acc, tokens - 1, x.tokenStride) ||
      !addMul(acc, x.heads - 1, x.headStride) || !addMul(acc, 1, rowLen))
    return false;
  *end = acc;
  return true;
}

// Rows (their rotated first rowLen = rotaryDim elements: the kernels touch nothing past them) of
// one tensor are disjoint when, with dimensions sorted by stride, each stride is at least
// the extent of everything inside it ("nested" lattice: every layout and tokenStride the facade
// produces). Exotic interleavings that happen to be disjoint are refused too; that is the safe
// side. Call after tensorEnd succeeded (extents then cannot overflow). No strings: this runs on
// every call; rowsOverlap says why only once it has failed.
inline bool rowsNested(const TensorRef& x, int64_t batch, int64_t tokens, int64_t rowLen) {
  // sortedDims' order (stable by stride), on plain integers: no struct copies through memory.
  int64_t count[3], stride[3];
  int n = 0;
  const int64_t c[3] = {x.heads, tokens, batch}, st[3] = {x.headStride, x.tokenStride, x.batchStride};
  for (int d = 0; d < 3; d++) {
    if (c[d] <= 1) continue;
    int i = n++;
    for (; i > 0 && stride[i - 1] > st[d]; i--) {
      count[i] = count[i - 1];
      stride[i] = stride[i - 1];
    }
    count[i] = c[d];
    stride[i] = st[d];
  }
  int64_t extent = rowLen;
  for (int i = 0; i < n; i++) {
    if (stride[i] < extent) return false;
    extent += (count[i] - 1) * stride[i];
  }
  return true;
}

// "" when rowsNested, else why not (for the error message).
inline std::string rowsOverlap(const char* name, const TensorRef& x, int64_t batch, int64_t tokens,
                               int64_t rowLen) {
  Dim dims[3];
  const int n = sortedDims(x, batch, tokens, dims);
  int64_t extent = rowLen;
  std::string inside = "rotated row of " + std::to_string(rowLen);
  for (int i = 0; i < n; i++) {
    if (dims[i].stride < extent)
      return std::string(name) + " rows overlap: " + dims[i].name + " " + std::to_string(dims[i].stride) +
             " is less than the " + std::to_string(extent) + " elements spanned inside it (" + inside + ")";
    extent += (dims[i].count - 1) * dims[i].stride;
    inside = std::to_string(dims[i].count) + " x " + dims[i].name + " " + std::to_string(dims[i].stride);
  }
  return std::string();
}

// A tensor's rows in BYTES from a common origin, in increasing address order (valid for a nested
// lattice, which rowsOverlap has proven): an odometer with the smallest stride innermost.
class RowCursor {
 public:
  RowCursor(const TensorRef& x, int64_t batch, int64_t tokens, int64_t origin, int64_t rowLen) {
    const int64_t size = dtypeSize(x.dtype);
    n_ = sortedDims(x, batch, tokens, dims_);
    for (int i = 0; i < n_; i++) dims_[i].stride *= size;
    start_ = origin + x.offset * size;
    rowBytes_ = rowLen * size;
  }
  bool done() const { return done_; }
  int64_t begin() const { return start_ + at_; }
  int64_t end() const { return start_ + at_ + rowBytes_; }
  void next() {
    for (int i = 0; i < n_; i++) {
      if (++idx_[i] < dims_[i].count) {
        at_ += dims_[i].stride;
        return;
      }
      at_ -= (dims_[i].count - 1) * dims_[i].stride;
      idx_[i] = 0;
    }
    done_ = true;
  }

 private:
  Dim dims_[3];
  int64_t idx_[3] = {0, 0, 0};
  int n_ = 0;
  int64_t start_ = 0, at_ = 0, rowBytes_ = 0;
  bool done_ = false;
};

// Exact: does any row of q share a byte with any row of k? qOrigin/kOrigin are the byte addresses
// of q.data/k.data relative to a common origin. Both lattices must be nested (rowsNested).
inline bool qkRowsOverlap(const TensorRef& q, int64_t qOrigin, const TensorRef& k, int64_t kOrigin, int64_t batch,
                          int64_t tokens, int64_t rowLen) {
  const int64_t qs = dtypeSize(q.dtype), ks = dtypeSize(k.dtype);
  // Fast path (fused QKV): equal batch and token strides in bytes. If q's and k's head blocks of
  // one token are disjoint and the union block is nested in the (batch, token) lattice, no row of
  // q can meet a row of k.
  if (q.batchStride * qs == k.batchStride * ks && q.tokenStride * qs == k.tokenStride * ks) {
    const int64_t qb = qOrigin + q.offset * qs, qe = qb + ((q.heads - 1) * q.headStride + rowLen) * qs;
    const int64_t kb = kOrigin + k.offset * ks, ke = kb + ((k.heads - 1) * k.headStride + rowLen) * ks;
    if (qe <= kb || ke <= qb) {
      TensorRef block;  // the union block as a one-head "tensor" in bytes
      block.dtype = kF32;
      block.heads = 1;
      block.batchStride = q.batchStride * qs;
      block.tokenStride = q.tokenStride * qs;
      const int64_t width = std::max(qe, ke) - std::min(qb, kb);
      if (rowsNested(block, batch, tokens, width)) return false;
    }
  }
  // General case: merge the two sorted row sequences; O(rows of q + rows of k).
  RowCursor a(q, batch, tokens, qOrigin, rowLen), b(k, batch, tokens, kOrigin, rowLen);
  while (!a.done() && !b.done()) {
    if (a.end() <= b.begin())
      a.next();
    else if (b.end() <= a.begin())
      b.next();
    else
      return true;
  }
  return false;
}

}  // namespace bounds
}  // namespace rope
