// The numeric limits the binding re-checks: the same names and values as lib/limits.ts (MAX_THREADS
// here is kMaxThreads), which test/native/contracts.test.ts holds equal. (Not limits.h: with native/ on
// the include path that name would hide the C header from libc++'s <climits>.)
#pragma once
#include <cstdint>

namespace rope {

constexpr int64_t kMaxThreads = 1024;
constexpr int64_t kMaxHeadDim = int64_t(1) << 24;
constexpr int64_t kMaxHeads = int64_t(1) << 24;
constexpr int64_t kMaxRotaryDim = 8192;
constexpr int64_t kMaxInvFreq = int64_t(1) << 21;
constexpr int64_t kPositionLimit = int64_t(1) << 31;

}  // namespace rope
