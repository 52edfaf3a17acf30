// The KV-cache write's row operations (applyQK with cache: docs/guide/kv-cache.md), one table per ISA
// next to its KernelTable. Written once in cache_rows.h over the same per-ISA ops as loops.h.
#pragma once
#include <cstdint>

#include "kernels.h"

namespace rope {

// One head of k into its cache row: the first 2*half elements of src (dtype S) rotated with
// cos/sin into dst (dtype D), the remaining headDim - 2*half elements converted; src is only read.
// Rounding (docs/guide/kv-cache.md, lib/engine-js-cache.ts), per pair with first x, second y:
//   D f32:            round32(x*c - round32(y*s)) (one f32 FMA after one product), any S
//   D, S both 16-bit: round16(round64(x*c - y*s))  (the in-place 16-bit contract)
//   D 16-bit, S f32:  round16(x*c - y*s), once from the exact value
using CacheRowKernel = void (*)(const void* src, void* dst, const float* cos, const float* sin, int64_t half,
                                int64_t headDim);

// n elements from src (dtype S) to dst (dtype D): f32 -> 16-bit rounded once to nearest-even,
// 16-bit -> f32 exact, the same dtype copied bit for bit.
using ConvertKernel = void (*)(const void* src, void* dst, int64_t n);

struct CacheKernels {
  const char* isa;  // as its KernelTable's; nullptr: not compiled into this build
  CacheRowKernel rotateInto[kStyleCount][kDTypeCount][kDTypeCount];  // [style][src][dst]
  ConvertKernel convert[kDTypeCount][kDTypeCount];                   // [src][dst]
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
