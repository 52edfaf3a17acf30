// The walk's step for applyQK with a cache (walk.cc): one token's k heads rotated into their cache
// rows and its v heads converted into theirs, by the ISA's cache kernels (kernels/cache_rows.h).
// The plan was proven in bounds by the binding (cache_args.h) or the wasm entry's caller.
#pragma once
#include <cstdint>

#include "kernels/cache_kernels.h"
#include "rope.h"

namespace rope {

inline void writeCacheRows(const Plan& p, int64_t t, const float* cos, const float* sin, int64_t half) {
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
  for (int64_t h = 0; h < p.k.heads; h++) rotate(k + h * p.k.headStride * ks, kc + h * rowBytes, cos, sin, half, headDim);
  if (c.v == nullptr) return;
  const ConvertKernel convert = kernels.convert[c.vIn.dtype][c.dtype];
  const int64_t vs = dtypeSize(c.vIn.dtype);
  const char* v = static_cast<const char*>(c.vIn.data) + (c.vIn.offset + t * c.vIn.tokenStride) * vs;
  char* vc = static_cast<char*>(c.v) + slot * c.slotStride * cs;
  if (c.vIn.headStride == headDim && c.headStride == headDim) {
    convert(v, vc, c.vIn.heads * headDim);  // (heads back to back on both sides: one run)
    return;
  }
  for (int64_t h = 0; h < c.vIn.heads; h++) convert(v + h * c.vIn.headStride * vs, vc + h * rowBytes, headDim);
}

}  // namespace rope
