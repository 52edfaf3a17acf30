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
}  // namespace abi
}  // namespace rope
