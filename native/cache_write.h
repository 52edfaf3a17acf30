// The walk's step for applyQK with a cache (walk.cc): one token's k heads rotated into their cache
// rows and its v heads converted into theirs, by the ISA's cache kernels (kernels/cache_rows.h).
// The plan was proven in bounds by the binding (cache_args.h) or the wasm entry's caller.
#pragma once
#include <cstdint>
#include <cstring>

#include "kernels/cache_kernels.h"
#include "rope.h"

namespace rope {

// A streamed write (cacheStreams) puts a token's rows together in a buffer of this size, then
// hands them to the StreamWriter; rows longer than it take ordinary stores.
constexpr int64_t kStreamBufferBytes = 8192;

// Whether a call writes enough cache rows to stream them (non-temporal stores, the kernels' stream
// and fence): past L2, where the rows would go to memory anyway, read for ownership first and push
// q, k and v out of the cache on their way. Smaller calls (decode) keep ordinary stores: attention
// reads those rows next, from the cache.
constexpr int64_t kStreamCacheBytes = int64_t(1) << 20;

inline bool cacheStreams(const Plan& p) {
  if (p.kv == nullptr || p.kv->kernels->stream == nullptr) return false;
  const CacheWrite& c = *p.kv;
  const int64_t row = p.geo.headDim * dtypeSize(c.dtype);
  if (row > kStreamBufferBytes) return false;
  const double bytes = double(p.tokens) * double(p.k.heads) * double(row) * (c.v != nullptr ? 2.0 : 1.0);
  return bytes > double(kStreamCacheBytes);
}

// Bytes to one cache array by whole 64-byte lines of non-temporal stores. Cache data is not
// line-aligned (an ArrayBuffer's is 8 or 16 bytes), so a piece's last partial line waits here
// for the next piece: when that one starts where this one ended (the next slot of a run in 'nhd',
// or the next head's row) the line is completed and streamed; else (and at flush) its bytes go
// by ordinary stores, as does a piece's first partial line when nothing waits before it. Every
// byte is written once, by this thread; a line two threads share has only ordinary stores.
class StreamWriter {
 public:
  explicit StreamWriter(StreamKernel stream) : stream_(stream) {}
  StreamWriter(const StreamWriter&) = delete;
  StreamWriter& operator=(const StreamWriter&) = delete;

  void put(char* dst, const char* src, int64_t n) {
    if (n <= 0) return;
    if (waiting_ > 0 && dst != end_) flush();
    if (waiting_ > 0) {
      const int64_t fill = 64 - waiting_ < n ? 64 - waiting_ : n;
      std::memcpy(line_ + waiting_, src, size_t(fill));
      waiting_ += fill;
      dst += fill;
      src += fill;
      n -= fill;
      end_ = dst;
      if (waiting_ < 64) return;
      stream_(dst - 64, line_, 64);
      waiting_ = 0;
    } else {
      int64_t head = int64_t((64 - (reinterpret_cast<uintptr_t>(dst) & 63)) & 63);
      if (head > n) head = n;
      std::memcpy(dst, src, size_t(head));
      dst += head;
      src += head;
      n -= head;
    }
    const int64_t whole = n & ~int64_t(63);
    if (whole > 0) stream_(dst, src, whole);
    waiting_ = n - whole;
    std::memcpy(line_, src + whole, size_t(waiting_));
    end_ = dst + n;
  }

  // The waiting partial line by ordinary stores (before the walk's fence).
  void flush() {
    if (waiting_ > 0) std::memcpy(end_ - waiting_, line_, size_t(waiting_));
    waiting_ = 0;
  }

 private:
  alignas(64) char line_[64];
  StreamKernel stream_;
  char* end_ = nullptr;  // where the waiting bytes end in the cache
  int64_t waiting_ = 0;  // bytes of line_ waiting: end_ - waiting_ is line-aligned
};

// A streamed call's writers, one per cache array, and the buffer a piece of rows is made in
// before it goes to its writer.
struct CacheStream {
  explicit CacheStream(StreamKernel stream) : k(stream), v(stream) {}
  CacheStream(const CacheStream&) = delete;
  CacheStream& operator=(const CacheStream&) = delete;
  void flush() {
    k.flush();
    v.flush();
  }
  StreamWriter k, v;
  alignas(64) char buf[kStreamBufferBytes];
};

namespace cachewrite {

// n rows of `row` bytes from the buffer (packed) to w, row h at dst + h * stride ('nhd': adjacent).
inline void putRows(StreamWriter& w, char* dst, int64_t stride, const char* buf, int64_t n, int64_t row) {
  if (stride == row) {
    w.put(dst, buf, n * row);
    return;
  }
  for (int64_t h = 0; h < n; h++) w.put(dst + h * stride, buf + h * row, row);
}

}  // namespace cachewrite

inline void writeCacheRows(const Plan& p, int64_t t, const float* cos, const float* sin, int64_t half, CacheStream* stream = nullptr) {
  const CacheWrite& c = *p.kv;
  const int64_t slot = c.slots != nullptr ? int64_t(c.slots[t]) : c.slotStart + t;
  if (slot < 0) return;  // a padding token: q is rotated, nothing is cached
  const CacheKernels& kernels = *c.kernels;
  const int64_t headDim = p.geo.headDim;
  const int64_t cs = dtypeSize(c.dtype);
  const int64_t rowBytes = c.headStride * cs;
  const CacheRowKernel rotate = kernels.rotateInto[p.geo.style][p.k.dtype][c.dtype];
  const int64_t ks = dtypeSize(p.k.dtype);
  const char* k = static_cast<const char*>(p.k.data) + (p.k.offset + t * p.k.tokenStride) * ks;
  char* kc = static_cast<char*>(c.k) + slot * c.slotStride * cs;
  const int64_t vs = dtypeSize(c.vIn.dtype);
  const char* v = c.v != nullptr ? static_cast<const char*>(c.vIn.data) + (c.vIn.offset + t * c.vIn.tokenStride) * vs : nullptr;
  char* vc = c.v != nullptr ? static_cast<char*>(c.v) + slot * c.slotStride * cs : nullptr;
  if (stream == nullptr) {
    rotate(k, p.k.headStride * ks, kc, rowBytes, p.k.heads, cos, sin, half, headDim);
    if (c.v == nullptr) return;
    const ConvertKernel convert = kernels.convert[c.vIn.dtype][c.dtype];
    if (c.vIn.headStride == headDim && c.headStride == headDim) {
      convert(v, vc, c.vIn.heads * headDim);  // (heads back to back on both sides: one run)
      return;
    }
    for (int64_t h = 0; h < c.vIn.heads; h++) convert(v + h * c.vIn.headStride * vs, vc + h * rowBytes, headDim);
    return;
  }
  // Streamed (cacheStreams: a row fits the buffer): as many rows at a time as the buffer holds.
  const int64_t row = headDim * cs;
  const int64_t per = kStreamBufferBytes / row;
  for (int64_t h0 = 0; h0 < p.k.heads; h0 += per) {
    const int64_t n = p.k.heads - h0 < per ? p.k.heads - h0 : per;
    rotate(k + h0 * p.k.headStride * ks, p.k.headStride * ks, stream->buf, row, n, cos, sin, half, headDim);
    cachewrite::putRows(stream->k, kc + h0 * rowBytes, rowBytes, stream->buf, n, row);
  }
  if (c.v == nullptr) return;
  if (c.vIn.dtype == c.dtype) {  // a copy: straight from v
    if (c.vIn.headStride * vs == row) {
      cachewrite::putRows(stream->v, vc, rowBytes, v, c.vIn.heads, row);
    } else {
      for (int64_t h = 0; h < c.vIn.heads; h++) stream->v.put(vc + h * rowBytes, v + h * c.vIn.headStride * vs, row);
    }
    return;
  }
  const ConvertKernel convert = kernels.convert[c.vIn.dtype][c.dtype];
  for (int64_t h0 = 0; h0 < c.vIn.heads; h0 += per) {
    const int64_t n = c.vIn.heads - h0 < per ? c.vIn.heads - h0 : per;
    for (int64_t h = 0; h < n; h++) convert(v + (h0 + h) * c.vIn.headStride * vs, stream->buf + h * row, headDim);
    cachewrite::putRows(stream->v, vc + h0 * rowBytes, rowBytes, stream->buf, n, row);
  }
}

}  // namespace rope
