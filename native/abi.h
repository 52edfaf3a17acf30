// Mirrors lib/abi.ts: the layout of the Float64Array descriptor a call passes (the same names,
// DESC_POS_OFFSET here kPosOffset; test/native/contracts.test.ts parses both and fails when they differ).
#pragma once

namespace rope {
namespace abi {
enum : int {
  kBatch = 0,
  kTokens = 1,
  kInverse = 2,
  kPosOffset = 3,
  kPosBatchStride = 4,
  kPosRowStride = 5,
  kThreads = 6,
  kAttentionScaling = 7,
  kQ = 8,
  kK = 14,
  // offsets inside a tensor block
  kDtype = 0,
  kHeads = 1,
  kOffset = 2,
  kBatchStride = 3,
  kTokenStride = 4,
  kHeadStride = 5,
  kLen = 20,
};
// The cache descriptor of applyCache (a second Float64Array): the cache's dtype, its layout (0:
// [slots, kvHeads, headDim], 1: [kvHeads, slots, headDim]), the first slot of a run (-1: the
// slots array gives one per token), whether v is written, and v's tensor block (offsets above).
enum : int {
  kCacheDtype = 0,
  kCacheLayout = 1,
  kCacheSlotStart = 2,
  kCacheHasV = 3,
  kCacheV = 4,
  kCacheLen = 10,
};
}  // namespace abi
}  // namespace rope
