// The checked plan of one call, as the binding hands it to the walk: raw pointers, dims and strides
// in ELEMENTS of each tensor's own data (element (b, t, h, d) at data[offset + b*batchStride +
// t*tokenStride + h*headStride + d]). The binding fills it only after every bound has been proven;
// the walk trusts it and knows no JS.
#pragma once
#include <cstdint>

#include "kernels/kernels.h"
#include "call_limits.h"

namespace rope {

// rotaryDim/2 is capped (call_limits.h) so that the walk's per-token scratch (cos, sin: f32; positions:
// f64) fits on any thread's stack: 4096 pairs = 64 KiB.
constexpr int64_t kMaxHalf = kMaxRotaryDim / 2;
// M-RoPE section rows the binding accepts (lib asks for at most 4).
constexpr int64_t kMaxSectionRows = 16;

// What a NativeRope fixes once (RopeGeometry in lib/types.ts).
struct Geometry {
  int64_t headDim = 0;
  int64_t rotaryDim = 0;  // even, <= headDim; half = rotaryDim / 2 pairs
  Style style = kHalf;
  // For M-RoPE: pairSection[j] = positions row of pair j (length rotaryDim/2), else nullptr (row 0).
  const uint8_t* pairSection = nullptr;
  int64_t sectionRows = 1;
};

struct TensorRef {
  void* data = nullptr;  // first element of the typed array (byteOffset applied)
  int64_t length = 0;    // elements
  DType dtype = kF32;
  int64_t heads = 0;
  int64_t offset = 0;
  int64_t batchStride = 0;
  int64_t tokenStride = 0;
  int64_t headStride = 0;
};

class CosSinTable;  // cossin_cache.h
struct CacheKernels;  // kernels/cache_kernels.h

// applyQK's cache write (docs/guide/kv-cache.md): token t's rotated k and its v go to the cache rows of
// slot slots[t] (-1: none) or slotStart + t; k and v are only read. Batch 1 (the binding checks).
struct CacheWrite {
  const CacheKernels* kernels = nullptr;  // the same ISA as the plan's KernelTable
  void* k = nullptr;                      // the cache arrays' first elements, `length` each
  void* v = nullptr;                      // nullptr: a k-only cache
  int64_t length = 0;
  DType dtype = kF32;
  TensorRef vIn;                          // the step's values: k's heads and strides
  int64_t slotStride = 0;                 // elements from a head's row of one slot to the next slot's
  int64_t headStride = 0;                 // and to the next head's
  const int32_t* slots = nullptr;         // one per token, or nullptr: slotStart + t
  int64_t slotStart = 0;
};

struct Plan {
  const KernelTable* kernels = nullptr;  // snapshot at call time: selectIsa mid-walk cannot mix ISAs
  // Cached cos/sin rows for this call's kernels, invFreq and attentionScaling, or nullptr (M-RoPE,
  // inverse, no memory): the walk then computes every row. Kept alive by the caller.
  CosSinTable* cache = nullptr;
  Geometry geo;
  TensorRef q;
  TensorRef k;
  bool hasK = false;
  int64_t batch = 0;
  int64_t tokens = 0;
  bool inverse = false;
  // nullptr: position of (b, t) is positionOffset + t. Otherwise (row r, b, t) reads
  // positions[r*positionsRowStride + b*positionsBatchStride + t].
  const int32_t* positions = nullptr;
  int64_t positionOffset = 0;
  int64_t positionsBatchStride = 0;
  int64_t positionsRowStride = 0;
  const double* invFreq = nullptr;  // length rotaryDim/2, finite (a copy the caller or its cache table owns)
  double attentionScaling = 1.0;
  int64_t threads = 1;
  // Set: k is not rotated in place; its rotation and v are written into the cache (walk.cc).
  const CacheWrite* kv = nullptr;
};

inline int64_t dtypeSize(DType d) { return d == kF32 ? 4 : 2; }

}  // namespace rope
