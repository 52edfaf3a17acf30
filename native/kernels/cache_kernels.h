// The KV-cache write's row operations (applyQK with cache: docs/guide/kv-cache.md), one table per ISA
// next to its KernelTable. Written once in cache_rows.h over the same per-ISA ops as loops.h.
#pragma once
#include <cstdint>

#include "kernels.h"

namespace rope {

// A token's heads of k into their cache rows (head h from src + h * srcHeadBytes to dst + h *
// dstHeadBytes; one call for all of them, as the in-place rows kernel takes a token's heads): the
// first 2*half elements of each rotated with cos/sin into dst (dtype D), the remaining
// headDim - 2*half converted; src is only read.
// Rounding (docs/guide/kv-cache.md, lib/engine-js-cache.ts), per pair with first x, second y:
//   D f32:            round32(x*c - round32(y*s)) (one f32 FMA after one product), any S
//   D, S both 16-bit: round16(round64(x*c - y*s))  (the in-place 16-bit contract)
//   D 16-bit, S f32:  round16(x*c - y*s), once from the exact value
using CacheRowKernel = void (*)(const void* src, int64_t srcHeadBytes, void* dst, int64_t dstHeadBytes, int64_t heads,
                                const float* cos, const float* sin, int64_t half, int64_t headDim);

// n elements from src (dtype S) to dst (dtype D): f32 -> 16-bit rounded once to nearest-even,
// 16-bit -> f32 exact, the same dtype copied bit for bit.
using ConvertKernel = void (*)(const void* src, void* dst, int64_t n);

// bytes (a multiple of 64) from src (any alignment) to dst (64-byte aligned) by non-temporal
// stores: a large call's cache rows go to memory without being read for ownership first and
// without evicting q, k and v (cache_write.h's StreamWriter makes whole lines of the rows). The
// stores are ordered only by the `fence` that follows them (the walk's end, on each thread that
// streamed).
using StreamKernel = void (*)(void* dst, const void* src, int64_t bytes);
using FenceKernel = void (*)();

struct CacheKernels {
  const char* isa;  // as its KernelTable's; nullptr: not compiled into this build
  CacheRowKernel rotateInto[kStyleCount][kDTypeCount][kDTypeCount];  // [style][src][dst]
  ConvertKernel convert[kDTypeCount][kDTypeCount];                   // [src][dst]
  StreamKernel stream = nullptr;  // nullptr: this ISA has no non-temporal store (ordinary stores only)
  FenceKernel fence = nullptr;    // with stream: makes its stores visible before the walk returns
};

// One per ISA file (isas.def: NAME's table is NAMECacheKernels()), next to its KernelTable.
#define ROPE_ISA(name, table, cpu) const CacheKernels& name##CacheKernels();
#include "isas.def"
#undef ROPE_ISA

// The cache table of the ISA whose KernelTable a plan runs.
inline const CacheKernels& cacheKernelsFor(const KernelTable& kt) {
#define ROPE_ISA(name, table, cpu) \
  if (&kt == &table()) return name##CacheKernels();
#include "isas.def"
#undef ROPE_ISA
  return scalarCacheKernels();
}

}  // namespace rope
